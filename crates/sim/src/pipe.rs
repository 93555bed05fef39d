//! One direction of a simulated TCP connection: an ordered byte stream with
//! latency, bandwidth and a receive window, cut into segments that arrive in
//! order (or not at all, when the stream is reset).

use crate::node::NodeId;
use bytes::Bytes;
use peerwire_core::PeerId;
use std::collections::VecDeque;

pub type PipeId = u64;

/// Bytes a sender may have in flight or unread at the receiver (the
/// receiver's socket buffer): what bounds a slow reader's kernel memory, and
/// what makes a sender to it feel backpressure.
pub const WINDOW: usize = 256 * 1024;

#[derive(Debug, Clone)]
pub enum Payload {
    Data(Bytes),
    Fin,
    Rst,
}

#[derive(Debug, Clone)]
pub struct Segment {
    /// Virtual µs at which it reaches the receiver.
    pub at_us: u64,
    pub payload: Payload,
}

/// One end of a connection: a node and its peer id for the connection.
pub type End = (NodeId, PeerId);

#[derive(Debug)]
pub struct Pipe {
    pub from: End,
    pub to: End,
    /// The other direction of the same connection.
    pub reverse: PipeId,
    pub latency_us: u64,
    pub bandwidth_bps: f64,
    /// When the link has finished putting earlier bytes on the wire.
    pub next_free_us: u64,
    pub segments: VecDeque<Segment>,
    /// An arrival is scheduled for the head segment.
    pub arrive_scheduled: bool,
    /// A partition holds the head segment until it heals.
    pub stalled: bool,
    /// Bytes sent whose receiver has not read them yet.
    pub unacked: usize,
    /// FIN or RST sent: nothing more goes in.
    pub closed: bool,
    pub rst_sent: bool,
    /// Fingerprints of the frames sent and not yet delivered, in order.
    pub sent: VecDeque<u64>,
    /// A bit was flipped in this stream: later frames may be lost or altered.
    pub corrupted: bool,
}

impl Pipe {
    pub fn new(from: End, to: End, reverse: PipeId, latency_us: u64, bandwidth_bps: f64) -> Self {
        Self {
            from,
            to,
            reverse,
            latency_us,
            bandwidth_bps,
            next_free_us: 0,
            segments: VecDeque::new(),
            arrive_scheduled: false,
            stalled: false,
            unacked: 0,
            closed: false,
            rst_sent: false,
            sent: VecDeque::new(),
            corrupted: false,
        }
    }

    /// Room left in the window.
    pub fn room(&self) -> usize {
        WINDOW.saturating_sub(self.unacked)
    }

    /// When `len` bytes written at `now_us` have crossed the link, given what
    /// went before them; advances the link's clock.
    pub fn transmit(&mut self, now_us: u64, len: usize) -> u64 {
        let start = self.next_free_us.max(now_us);
        let on_wire = (len as f64 * 1e6 / self.bandwidth_bps) as u64;
        self.next_free_us = start + on_wire;
        self.next_free_us + self.latency_us
    }
}

/// A frame's identity for the in-order, exactly-once check and the trace:
/// command, length and payload, eight bytes per step in four lanes. Each step
/// is a bijection of the lane and of the word, so frames of one length that
/// differ in a single word never share a print; byte-wise FNV was a tenth of
/// the simulator's time on header payloads.
pub fn fingerprint(command: &[u8], payload: &[u8]) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    fn step(h: u64, word: u64) -> u64 {
        (h.rotate_left(29) ^ word).wrapping_mul(K)
    }
    fn word(bytes: &[u8]) -> u64 {
        let mut w = [0u8; 8];
        w[..bytes.len()].copy_from_slice(bytes);
        u64::from_le_bytes(w)
    }
    let mut lanes = [K, K ^ 1, K ^ 2, K ^ 3];
    let mut blocks = payload.chunks_exact(32);
    for block in &mut blocks {
        for (lane, bytes) in lanes.iter_mut().zip(block.chunks_exact(8)) {
            *lane = step(*lane, word(bytes));
        }
    }
    let mut h = step(K, payload.len() as u64);
    for lane in lanes {
        h = step(h, lane);
    }
    for bytes in blocks.remainder().chunks(8).chain(command.chunks(8)) {
        h = step(h, word(bytes));
    }
    // Command lengths differ ("ping" vs "ping\0"): fold it in too.
    h = step(h, command.len() as u64);
    // Final avalanche (murmur3's fmix64), so that every bit of the print depends on every word.
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

#[cfg(test)]
mod tests {
    use super::fingerprint;

    #[test]
    fn every_byte_command_and_length_count() {
        let payload: Vec<u8> = (0..200u32).map(|i| (i * 7) as u8).collect();
        let base = fingerprint(b"headers", &payload);
        assert_eq!(base, fingerprint(b"headers", &payload));
        for at in 0..payload.len() {
            let mut p = payload.clone();
            p[at] ^= 1;
            assert_ne!(fingerprint(b"headers", &p), base, "byte {at}");
        }
        assert_ne!(fingerprint(b"headerz", &payload), base);
        assert_ne!(fingerprint(b"headers", &payload[..199]), base);
        // A trailing zero is not the same as nothing.
        let mut longer = payload.clone();
        longer.push(0);
        assert_ne!(fingerprint(b"headers", &longer), base);
        assert_ne!(fingerprint(b"ping", b""), fingerprint(b"ping\0", b""));
        assert_ne!(fingerprint(b"ping", b"\0"), fingerprint(b"ping", b""));
    }
}
