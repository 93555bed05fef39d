//! Driver settings.

use peerwire_core::{Magic, PeerLimits};
use std::time::Duration;

pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a flushing disconnect or a shutdown waits for a slow peer to take its
/// queued bytes before giving up on them.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub struct DriverConfig {
    pub limits: PeerLimits,
    pub connect_timeout: Duration,
    pub flush_timeout: Duration,
    /// tokio worker threads; one keeps a core free for JavaScript on small machines.
    pub worker_threads: usize,
}

impl DriverConfig {
    pub fn new(magic: Magic) -> Self {
        Self {
            limits: PeerLimits::new(magic),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            flush_timeout: DEFAULT_FLUSH_TIMEOUT,
            worker_threads: 1,
        }
    }
}
