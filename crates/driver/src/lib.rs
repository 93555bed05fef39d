//! peerwire-driver: runs peerwire-core over tokio sockets.
//!
//! One task per connection runs a reader and a writer side by side; parsed
//! frames wait in per-peer queues that the application pulls in fair, bounded
//! batches and releases when done (end-to-end flow control, see inbox.rs);
//! each peer's outbound queue is its own, so a stalled peer never blocks
//! another; sockets are admitted or refused before anything is read
//! (admission.rs). Outbound dials may go through a SOCKS5 proxy (proxy.rs).

mod admission;
mod config;
mod connection;
mod driver;
// Events are the core's, shared with the simulated driver.
use peerwire_core::event;
mod inbox;
mod link;
mod listener;
mod proxy;
mod refused;
mod tasks;

pub use config::{
    ConnectionLimits, DriverConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_FLUSH_TIMEOUT,
    DEFAULT_SEND_STALL_TIMEOUT,
};
pub use driver::{BroadcastReport, Driver, DriverStats, PeerInfo, UnknownPeer};
pub use event::{DisconnectReason, Event, PeerId};
pub use inbox::{BatchLimits, Drained, Waker};
pub use link::{Corked, Direction};
pub use peerwire_core;
pub use proxy::Proxy;
