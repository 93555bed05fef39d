//! The part of a peer's state that both its socket side and the application
//! touch: outbound queue, receive budget and counters. A driver guards it with
//! one lock; the decoder lives with the reader alone.

use crate::budget::RecvBudget;
use crate::frame::Frame;
use crate::limits::PeerLimits;
use crate::outbox::{Outbox, SendStatus};
use bytes::Bytes;

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
}

impl PeerState {
    pub fn new(limits: &PeerLimits) -> Self {
        Self {
            outbox: Outbox::new(limits.outbox),
            budget: RecvBudget::new(limits.recv_budget),
            stats: PeerStats::default(),
        }
    }

    pub fn set_limits(&mut self, limits: &PeerLimits) {
        self.outbox.set_limits(limits.outbox);
        self.budget.set_limit(limits.recv_budget);
    }

    /// Queues an encoded frame for this peer.
    pub fn send(&mut self, frame: Bytes) -> SendStatus {
        self.outbox.push(frame)
    }

    /// Records frames handed to the application. Returns whether reading should
    /// now pause.
    pub fn on_frames_delivered<'a>(&mut self, frames: impl Iterator<Item = &'a Frame>) -> bool {
        for frame in frames {
            let n = frame.wire_len();
            self.stats.messages_in += 1;
            self.stats.bytes_in += n as u64;
            self.budget.on_delivered(n);
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
    fn delivered_frames_count_and_fill_the_budget() {
        let mut limits = PeerLimits::new([1, 2, 3, 4]);
        limits.recv_budget = 100;
        let mut peer = PeerState::new(&limits);
        let frame = Frame {
            command: Command::new("ping").unwrap(),
            payload: Bytes::from_static(&[0; 40]),
        };
        assert!(!peer.on_frames_delivered(std::iter::once(&frame)));
        assert!(peer.on_frames_delivered(std::iter::once(&frame)));
        assert_eq!(peer.stats.messages_in, 2);
        assert_eq!(peer.stats.bytes_in, 128);
    }
}
