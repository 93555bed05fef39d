//! Ping round trips: a frame each way per round trip, p50 and p99.

use crate::net::{command, Conn};
use crate::{listen, Result, Server, MAGIC};
use peerwire_core::encode_frame;
use std::time::Instant;

pub fn measure(count: usize, warmup: usize) -> Result<String> {
    let (_server, port) = Server::start(&["ping"])?;
    let mut conn = Conn::connect(port)?;
    let ping = command("ping")?;
    let mut rtts = Vec::with_capacity(count);
    for i in 0..warmup + count {
        let t0 = Instant::now();
        conn.write(&encode_frame(MAGIC, &ping, &(i as u64).to_le_bytes()))?;
        let pong = conn.next_frame()?.ok_or("the ponger closed early")?;
        if pong.command.as_str() != "pong" || pong.payload[..] != (i as u64).to_le_bytes() {
            return Err(format!(
                "unexpected answer to ping {i}: {}",
                pong.command.as_str()
            ));
        }
        if i >= warmup {
            rtts.push(t0.elapsed().as_secs_f64() * 1e6);
        }
    }
    rtts.sort_by(f64::total_cmp);
    let pct = |p: f64| rtts[((p * rtts.len() as f64) as usize).min(rtts.len() - 1)];
    Ok(format!(
        "{{\"pings\":{count},\"p50us\":{},\"p99us\":{}}}",
        pct(0.5),
        pct(0.99)
    ))
}

/// Answers every ping with a pong carrying its nonce, until the pinger leaves.
pub fn serve() -> Result<Option<String>> {
    let listener = listen()?;
    let (stream, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
    let mut conn = Conn::new(stream)?;
    let pong = command("pong")?;
    while let Some(frame) = conn.next_frame()? {
        if frame.command.as_str() == "ping" {
            conn.write(&encode_frame(MAGIC, &pong, &frame.payload))?;
        }
    }
    Ok(None)
}
