//! Many idle handshaken peers in one process: what each costs in resident
//! memory when a peer is a socket and a decoder and nothing else.

use crate::net::{command, rss_bytes, Conn};
use crate::{listen, Result, Server, MAGIC};
use peerwire_core::encode_frame;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Connections dialled before waiting for their handshakes.
const WAVE: usize = 100;

pub fn measure(count: usize) -> Result<String> {
    let (mut server, port) = Server::start(&["peers", &count.to_string()])?;
    let version = encode_frame(MAGIC, &command("version")?, &[1u8; 100]);
    let t0 = Instant::now();
    let mut conns = Vec::with_capacity(count);
    // Dial in waves, each finished before the next, so the listen backlog
    // (128) never overflows into SYN retries: that would time the kernel.
    while conns.len() < count {
        let wave = WAVE.min(count - conns.len());
        let start = conns.len();
        for _ in 0..wave {
            let mut conn = Conn::connect(port)?;
            conn.write(&version)?;
            conns.push(conn);
        }
        for conn in &mut conns[start..] {
            let frame = conn
                .next_frame()?
                .ok_or("a peer closed before its verack")?;
            if frame.command.as_str() != "verack" {
                return Err(format!("expected verack, got {}", frame.command.as_str()));
            }
        }
    }
    let seconds = t0.elapsed().as_secs_f64();
    let rss_per_peer_kib: f64 = server
        .line()?
        .strip_prefix("rss-per-peer ")
        .and_then(|v| v.parse().ok())
        .ok_or("the listener did not report its memory")?;
    Ok(format!(
        "{{\"peers\":{count},\"seconds\":{seconds},\"rssPerPeerKiB\":{rss_per_peer_kib}}}"
    ))
}

/// Accepts `count` peers (an accept thread keeps the backlog short), answers
/// each `version` with a `verack` from one polling loop, then reports memory.
pub fn serve(count: usize) -> Result<Option<String>> {
    let listener = listen()?;
    let before = rss_bytes()?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(count) {
            if tx.send(stream).is_err() {
                return;
            }
        }
    });
    let verack = encode_frame(MAGIC, &command("verack")?, &[]);
    let mut waiting: Vec<Conn> = Vec::with_capacity(count);
    let mut idle: Vec<Conn> = Vec::with_capacity(count);
    while idle.len() < count {
        let mut progress = false;
        while let Ok(stream) = rx.try_recv() {
            let stream = stream.map_err(|e| format!("accept: {e}"))?;
            stream.set_nonblocking(true).map_err(|e| e.to_string())?;
            waiting.push(Conn::new(stream)?.with_read_bytes(4096));
            progress = true;
        }
        let mut i = 0;
        while i < waiting.len() {
            match waiting[i].poll_frame()? {
                Some(frame) if frame.command.as_str() == "version" => {
                    let mut conn = waiting.swap_remove(i);
                    conn.write(&verack)?;
                    idle.push(conn);
                    progress = true;
                }
                Some(_) => i += 1,
                None => i += 1,
            }
        }
        if !progress {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    let after = rss_bytes()?;
    let per_peer = after.saturating_sub(before) as f64 / 1024.0 / count as f64;
    println!("rss-per-peer {per_peer}");
    Ok(None)
}
