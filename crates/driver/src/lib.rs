//! peerwire-driver: runs peerwire-core over tokio sockets.
//!
//! One task per connection runs a reader and a writer side by side; parsed
//! frames go into one flat inbox that the application drains in batches; each
//! peer's outbound queue is its own, so a stalled peer never blocks another.

mod config;
mod connection;
mod driver;
mod event;
mod inbox;
mod link;
mod listener;
mod tasks;

pub use config::{DriverConfig, DEFAULT_CONNECT_TIMEOUT, DEFAULT_FLUSH_TIMEOUT};
pub use driver::{BroadcastReport, Driver, PeerInfo, UnknownPeer, MAX_PAYLOAD_PER_DRAIN};
pub use event::{DisconnectReason, Event, PeerId};
pub use inbox::Waker;
pub use link::Direction;
pub use peerwire_core;
