//! Driver settings.

use crate::inbox::BatchLimits;
pub use peerwire_core::ConnectionLimits;
use peerwire_core::{Magic, PeerLimits};
use std::time::Duration;

pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a flushing disconnect or a shutdown waits for a slow peer to take its
/// queued bytes before giving up on them.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);
/// A peer that takes none of our queued bytes for this long is dropped,
/// whatever it keeps sending us.
pub const DEFAULT_SEND_STALL_TIMEOUT: Duration = Duration::from_secs(120);
/// Received input waiting for the application across all peers before every
/// reader pauses: one cap however many peers there are. Under floods a counted
/// byte costs about 2.5 resident (allocator, the batch's copy in JavaScript,
/// the handlers' garbage before a collection): 64 MiB took a default node to
/// ~370 MB with 50 busy peers, 32 MiB to ~290 MB.
pub const DEFAULT_TOTAL_RECV_BUDGET: usize = 32 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct DriverConfig {
    pub limits: PeerLimits,
    pub connections: ConnectionLimits,
    pub batch: BatchLimits,
    pub connect_timeout: Duration,
    pub flush_timeout: Duration,
    pub send_stall_timeout: Duration,
    /// See [`DEFAULT_TOTAL_RECV_BUDGET`].
    pub total_recv_budget: usize,
    /// tokio worker threads; one keeps a core free for JavaScript on small machines.
    pub worker_threads: usize,
}

impl DriverConfig {
    pub fn new(magic: Magic) -> Self {
        Self {
            limits: PeerLimits::new(magic),
            connections: ConnectionLimits::default(),
            batch: BatchLimits::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            flush_timeout: DEFAULT_FLUSH_TIMEOUT,
            send_stall_timeout: DEFAULT_SEND_STALL_TIMEOUT,
            total_recv_budget: DEFAULT_TOTAL_RECV_BUDGET,
            worker_threads: 1,
        }
    }
}
