//! `peerwire-ceiling`: what the hardware gives with peerwire's own framing and
//! nothing else. Each workload runs as two processes over loopback: this one
//! measures, a copy of it started with `--serve` plays the other side. Both use
//! peerwire-core's `encode_frame(s)` and `FrameDecoder` (checksums verified on
//! receipt), blocking std sockets and threads: no JavaScript, no N-API, no tokio.
//!
//! Usage (one JSON line on stdout):
//!   peerwire-ceiling stream small|typed|large COUNT
//!   peerwire-ceiling broadcast PEERS PAYLOAD_BYTES
//!   peerwire-ceiling ping COUNT WARMUP
//!   peerwire-ceiling peers COUNT
//!   peerwire-ceiling sync HEADERS_FILE

mod net;
mod peers;
mod ping;
mod stream;
mod sync;

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};

/// The magic both sides frame with (regtest, as the JavaScript bench uses).
pub const MAGIC: [u8; 4] = [0xfa, 0xbf, 0xb5, 0xda];

pub type Result<T> = std::result::Result<T, String>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = if args.first().map(String::as_str) == Some("--serve") {
        exit_with_parent();
        serve(&args[1..])
    } else {
        measure(&args)
    };
    match outcome {
        Ok(Some(json)) => println!("{json}"),
        Ok(None) => {}
        Err(e) => {
            eprintln!("peerwire-ceiling: {e}");
            std::process::exit(1);
        }
    }
}

/// The serving process ends when the measuring one does, however that ends
/// (a deadline's SIGTERM skips its clean-up): its stdin is a pipe only the
/// measuring process holds, so end of input means it is gone.
fn exit_with_parent() {
    std::thread::spawn(|| {
        let mut sink = [0u8; 64];
        let mut stdin = std::io::stdin();
        while matches!(std::io::Read::read(&mut stdin, &mut sink), Ok(n) if n > 0) {}
        std::process::exit(0);
    });
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, name: &str) -> Result<T> {
    args.get(i)
        .ok_or_else(|| format!("missing {name}"))?
        .parse()
        .map_err(|_| format!("{name} must be a number, got {:?}", args[i]))
}

fn measure(args: &[String]) -> Result<Option<String>> {
    let workload = args.first().map(String::as_str).unwrap_or("");
    let json = match workload {
        "stream" => {
            let kind = args.get(1).ok_or("missing KIND")?;
            stream::measure(kind, arg(args, 2, "COUNT")?)?
        }
        "broadcast" => {
            stream::measure_broadcast(arg(args, 1, "PEERS")?, arg(args, 2, "PAYLOAD_BYTES")?)?
        }
        "ping" => ping::measure(arg(args, 1, "COUNT")?, arg(args, 2, "WARMUP")?)?,
        "peers" => peers::measure(arg(args, 1, "COUNT")?)?,
        "sync" => sync::measure(args.get(1).ok_or("missing HEADERS_FILE")?)?,
        _ => {
            return Err(format!(
                "unknown workload {workload:?}: stream, broadcast, ping, peers or sync"
            ))
        }
    };
    Ok(Some(json))
}

fn serve(args: &[String]) -> Result<Option<String>> {
    match args.first().map(String::as_str).unwrap_or("") {
        "stream" => stream::serve(args.get(1).ok_or("missing KIND")?, arg(args, 2, "COUNT")?),
        "broadcast" => stream::serve_broadcast(arg(args, 1, "PEERS")?),
        "ping" => ping::serve(),
        "peers" => peers::serve(arg(args, 1, "COUNT")?),
        "sync" => sync::serve(args.get(1).ok_or("missing HEADERS_FILE")?),
        other => Err(format!("unknown serve role {other:?}")),
    }
}

/// The other side of a workload: a copy of this binary, and its stdout lines.
pub struct Server {
    child: Child,
    lines: BufReader<ChildStdout>,
}

impl Server {
    /// Starts `--serve ARGS…` and waits for the port it listens on.
    pub fn start(args: &[&str]) -> Result<(Server, u16)> {
        let exe = std::env::current_exe().map_err(|e| format!("cannot find own binary: {e}"))?;
        let mut child = Command::new(exe)
            .arg("--serve")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the serving process: {e}"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or("no stdout from the serving process")?;
        let mut server = Server {
            child,
            lines: BufReader::new(stdout),
        };
        let line = server.line()?;
        let port = line
            .strip_prefix("port ")
            .and_then(|p| p.trim().parse().ok())
            .ok_or_else(|| format!("the serving process said {line:?}, not its port"))?;
        Ok((server, port))
    }

    /// The next line the serving process prints.
    pub fn line(&mut self) -> Result<String> {
        let mut line = String::new();
        match self.lines.read_line(&mut line) {
            Ok(0) => Err("the serving process exited early".into()),
            Ok(_) => Ok(line.trim_end().to_owned()),
            Err(e) => Err(format!("reading from the serving process: {e}")),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // It exits on its own once its sockets close; this is for error paths.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Binds a loopback listener and tells the measuring process its port.
pub fn listen() -> Result<std::net::TcpListener> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    println!("port {port}");
    use std::io::Write;
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    Ok(listener)
}
