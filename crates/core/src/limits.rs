//! Every per-peer limit in one place, with Bitcoin Core's defaults.

use crate::budget::{DEFAULT_PRE_HANDSHAKE_RECV_BUDGET, DEFAULT_RECV_BUDGET};
use crate::decoder::DecodeLimits;
use crate::frame::Magic;
use crate::outbox::OutboxLimits;

/// Bytes read from one peer per wake before others get a turn (the seeds'
/// kMaxReadBytesPerFrame; Core also reads 64 KiB per recv).
pub const DEFAULT_READ_BYTES_PER_WAKE: usize = 64 * 1024;
/// Messages parsed for one peer per wake before others get a turn.
pub const DEFAULT_MESSAGES_PER_WAKE: usize = 1024;
/// Bytes handed to the socket per write call.
pub const DEFAULT_WRITE_BYTES_PER_WAKE: usize = 256 * 1024;

/// Fairness limits for one wake of one peer's reader or writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WakeLimits {
    pub read_bytes: usize,
    pub messages: usize,
    pub write_bytes: usize,
}

impl Default for WakeLimits {
    fn default() -> Self {
        Self {
            read_bytes: DEFAULT_READ_BYTES_PER_WAKE,
            messages: DEFAULT_MESSAGES_PER_WAKE,
            write_bytes: DEFAULT_WRITE_BYTES_PER_WAKE,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerLimits {
    pub decode: DecodeLimits,
    pub outbox: OutboxLimits,
    /// Parsed input that may wait for the application before reading pauses.
    pub recv_budget: usize,
    /// The same until the application marks the handshake complete: a socket
    /// that has not said who it is gets little of our memory.
    pub pre_handshake_recv_budget: usize,
    pub wake: WakeLimits,
}

impl PeerLimits {
    pub fn new(magic: Magic) -> Self {
        Self {
            decode: DecodeLimits::new(magic),
            outbox: OutboxLimits::default(),
            recv_budget: DEFAULT_RECV_BUDGET,
            pre_handshake_recv_budget: DEFAULT_PRE_HANDSHAKE_RECV_BUDGET,
            wake: WakeLimits::default(),
        }
    }
}
