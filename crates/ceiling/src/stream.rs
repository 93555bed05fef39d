//! One-way streams (many small messages, typed `inv`s, 1 MB payloads) and a
//! broadcast: the sender times from its first byte to the receiver's
//! acknowledgement of the last frame, so no clock crosses a process.

use crate::net::{command, Conn};
use crate::{listen, Result, Server, MAGIC};
use peerwire_core::{checksums_computed, encode_frame, encode_frames};
use std::hint::black_box;
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Messages framed per write for small payloads (as the JS side's sendMany batch).
const BATCH: usize = 8_192;

/// One `inv` entry: count 1, MSG_TX, a 32-byte hash.
fn inv_payload() -> Vec<u8> {
    let mut p = vec![1u8, 1, 0, 0, 0];
    p.extend((0..32).map(|i| i as u8));
    p
}

/// What a stream carries: (command, payload).
fn stream_of(kind: &str) -> Result<(&'static str, Vec<u8>)> {
    match kind {
        "small" => Ok(("tx", vec![7u8; 8])),
        "typed" => Ok(("inv", inv_payload())),
        "large" => Ok(("block", vec![7u8; 1_000_000])),
        _ => Err(format!("unknown stream {kind:?}: small, typed or large")),
    }
}

pub fn measure(kind: &str, count: usize) -> Result<String> {
    let (command_name, payload) = stream_of(kind)?;
    let cmd = command(command_name)?;
    let (mut server, port) = Server::start(&["stream", kind, &count.to_string()])?;
    let mut conn = Conn::connect(port)?;
    let t0 = Instant::now();
    if payload.len() <= 64 {
        let mut sent = 0;
        while sent < count {
            let n = BATCH.min(count - sent);
            let frames = encode_frames(MAGIC, &cmd, std::iter::repeat_n(&payload[..], n));
            conn.write(&frames)?;
            sent += n;
        }
    } else {
        for _ in 0..count {
            conn.write(&encode_frame(MAGIC, &cmd, &payload))?;
        }
    }
    let mut ack = [0u8; 1];
    conn.stream
        .read_exact(&mut ack)
        .map_err(|e| format!("waiting for the receiver: {e}"))?;
    let seconds = t0.elapsed().as_secs_f64();
    let _ = server.line();
    let bytes = (count * payload.len()) as f64;
    Ok(format!(
        "{{\"messages\":{count},\"seconds\":{seconds},\"perSecond\":{},\"mbPerSecond\":{}}}",
        count as f64 / seconds,
        bytes / 1e6 / seconds
    ))
}

/// Receives `count` frames, decoding `inv`s and handing each entry to a handler.
pub fn serve(kind: &str, count: usize) -> Result<Option<String>> {
    stream_of(kind)?;
    let listener = listen()?;
    let (stream, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    let mut conn = Conn::new(stream)?;
    let typed = kind == "typed";
    let mut handled = 0u64;
    let mut handler = |kind: u32, hash: &[u8]| handled += u64::from(kind) + u64::from(hash[0]);
    for _ in 0..count {
        let frame = conn.next_frame()?.ok_or("the sender closed early")?;
        if typed {
            decode_inv(&frame.payload, &mut handler)?;
        }
        black_box(&frame);
    }
    black_box(handled);
    conn.write(&[1])?;
    println!("done");
    Ok(None)
}

/// A minimal `inv` decoder (counts below 0xfd): entries go to `handler`.
fn decode_inv(p: &[u8], handler: &mut impl FnMut(u32, &[u8])) -> Result<()> {
    let count = *p.first().ok_or("empty inv")? as usize;
    if count >= 0xfd || p.len() != 1 + count * 36 {
        return Err(format!("malformed inv of {} bytes", p.len()));
    }
    for entry in p[1..].chunks_exact(36) {
        let kind = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]);
        handler(kind, &entry[4..]);
    }
    Ok(())
}

pub fn measure_broadcast(peers: usize, size: usize) -> Result<String> {
    let (mut server, port) = Server::start(&["broadcast", &peers.to_string()])?;
    let mut conns = (0..peers)
        .map(|_| Conn::connect(port))
        .collect::<Result<Vec<_>>>()?;
    if server.line()? != "ready" {
        return Err("the receivers did not get ready".into());
    }
    let payload = vec![3u8; size];
    let before = checksums_computed();
    let t0 = Instant::now();
    let frame = encode_frame(MAGIC, &command("block")?, &payload);
    let checksums = checksums_computed() - before;
    for conn in &mut conns {
        conn.write(&frame)?;
    }
    let mut ack = [0u8; 1];
    conns[0]
        .stream
        .read_exact(&mut ack)
        .map_err(|e| format!("waiting for the receivers: {e}"))?;
    let seconds = t0.elapsed().as_secs_f64();
    Ok(format!(
        "{{\"peers\":{peers},\"ms\":{},\"checksums\":{checksums}}}",
        seconds * 1e3
    ))
}

/// Accepts `peers` connections, one thread each; once every one has its
/// frame, acknowledges on all of them.
pub fn serve_broadcast(peers: usize) -> Result<Option<String>> {
    let listener = listen()?;
    let mut conns = Vec::with_capacity(peers);
    for _ in 0..peers {
        let (stream, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
        conns.push(Conn::new(stream)?);
    }
    let writers = conns
        .iter()
        .map(|c| c.stream.try_clone().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>>>()?;
    let writers = Arc::new(Mutex::new(writers));
    let received = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let (received, writers) = (received.clone(), writers.clone());
            std::thread::spawn(move || -> Result<()> {
                conn.next_frame()?.ok_or("the sender closed early")?;
                if received.fetch_add(1, Ordering::AcqRel) + 1 == peers {
                    for w in writers.lock().map_err(|_| "poisoned")?.iter_mut() {
                        std::io::Write::write_all(w, &[1]).map_err(|e| e.to_string())?;
                    }
                }
                Ok(())
            })
        })
        .collect();
    println!("ready");
    use std::io::Write;
    std::io::stdout().flush().map_err(|e| e.to_string())?;
    for t in threads {
        t.join().map_err(|_| "a receiver thread panicked")??;
    }
    Ok(None)
}
