//! The part of a peer's state that both its socket side and the application
//! touch: outbound queue, receive budget and counters. A driver guards it with
//! one lock; the decoder lives with the reader alone.

use crate::budget::RecvBudget;
use crate::frame::Frame;
use crate::limits::PeerLimits;
use crate::outbox::{Outbox, SendStatus};
use bytes::Bytes;

/// What holding a received frame costs besides its wire bytes (the event that
/// carries it, its queue slot): charged to the receive budget with them, so a
/// flood of empty frames is bounded by what it really holds.
pub const FRAME_HOLD_OVERHEAD: usize = 64;

/// What a received frame is charged against its peer's receive budget.
pub fn held_cost(frame: &Frame) -> usize {
    frame.wire_len() + FRAME_HOLD_OVERHEAD
}

/// Byte and message counts, each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerStats {
    pub bytes_in: u64,
    pub messages_in: u64,
    pub bytes_out: u64,
    pub messages_out: u64,
    /// Messages refused by the decoder but not fatal to the connection.
    pub messages_dropped: u64,
}

#[derive(Debug)]
pub struct PeerState {
    pub outbox: Outbox,
    pub budget: RecvBudget,
    pub stats: PeerStats,
    limits: PeerLimits,
    handshake_complete: bool,
}

impl PeerState {
    pub fn new(limits: &PeerLimits) -> Self {
        let mut state = Self {
            outbox: Outbox::new(limits.outbox),
            budget: RecvBudget::new(limits.recv_budget),
            stats: PeerStats::default(),
            limits: *limits,
            handshake_complete: false,
        };
        state.set_limits(limits);
        state
    }

    pub fn set_limits(&mut self, limits: &PeerLimits) {
        self.limits = *limits;
        self.outbox.set_limits(limits.outbox);
        let budget = if self.handshake_complete {
            limits.recv_budget
        } else {
            limits.pre_handshake_recv_budget.min(limits.recv_budget)
        };
        self.budget.set_limit(budget);
    }

    /// The application accepted the peer: it gets the full receive budget.
    /// Returns true when this lifts a pause (the reader should be woken).
    pub fn complete_handshake(&mut self) -> bool {
        let was_paused = self.budget.is_paused();
        self.handshake_complete = true;
        let limits = self.limits;
        self.set_limits(&limits);
        was_paused && !self.budget.is_paused()
    }

    pub fn handshake_complete(&self) -> bool {
        self.handshake_complete
    }

    /// Queues an encoded frame for this peer.
    pub fn send(&mut self, frame: Bytes) -> SendStatus {
        self.outbox.push(frame)
    }

    /// Records frames handed to the application. Returns whether reading should
    /// now pause.
    pub fn on_frames_delivered<'a>(&mut self, frames: impl Iterator<Item = &'a Frame>) -> bool {
        for frame in frames {
            self.stats.messages_in += 1;
            self.stats.bytes_in += frame.wire_len() as u64;
            self.budget.on_delivered(held_cost(frame));
        }
        self.budget.is_paused()
    }

    /// Records bytes and whole frames written. Returns whether a waiting sender
    /// should hear "writable".
    pub fn on_written(&mut self, bytes: usize, frames: usize) -> bool {
        self.stats.bytes_out += bytes as u64;
        self.stats.messages_out += frames as u64;
        self.outbox.on_written(bytes, frames)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::Command;

    #[test]
    fn the_full_budget_waits_for_the_handshake() {
        let mut limits = PeerLimits::new([1, 2, 3, 4]);
        limits.recv_budget = 1000;
        limits.pre_handshake_recv_budget = 100;
        let mut peer = PeerState::new(&limits);
        peer.budget.on_delivered(100);
        assert!(peer.budget.is_paused(), "the small budget applies first");
        assert!(peer.complete_handshake(), "completing lifts the pause");
        assert_eq!(peer.budget.limit(), 1000);
        peer.set_limits(&limits);
        assert_eq!(
            peer.budget.limit(),
            1000,
            "new limits keep the handshake state"
        );
    }

    #[test]
    fn delivered_frames_count_and_fill_the_budget() {
        let mut limits = PeerLimits::new([1, 2, 3, 4]);
        limits.recv_budget = 200;
        let mut peer = PeerState::new(&limits);
        let frame = Frame {
            command: Command::new("ping").unwrap(),
            payload: Bytes::from_static(&[0; 40]),
        };
        assert_eq!(held_cost(&frame), 128);
        assert!(!peer.on_frames_delivered(std::iter::once(&frame)));
        assert!(peer.on_frames_delivered(std::iter::once(&frame)));
        assert_eq!(peer.stats.messages_in, 2);
        assert_eq!(peer.stats.bytes_in, 128);
    }
}
