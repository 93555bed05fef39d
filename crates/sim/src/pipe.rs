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

/// A frame's identity for the in-order, exactly-once check (FNV-1a over
/// command and payload).
pub fn fingerprint(command: &[u8], payload: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in command.iter().chain([0xffu8].iter()).chain(payload) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}
