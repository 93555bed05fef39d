//! peerwire-sim: a deterministic simulated network for peerwire-core.
//!
//! A second driver beside the tokio one, running the same sans-IO core
//! (framing, decoder limits, outbox, receive budgets, admission) over
//! simulated TCP: virtual time, one seeded generator in named streams, no
//! threads and no wall clock. Faults (refused and hanging connects, latency,
//! bandwidth, random segmentation, FIN, RST, half-open connections,
//! partitions, clogs, bit flips, crashes and restarts, clock drift) each have
//! a knob and come in named profiles. Every event, call and fault is hashed
//! into a trace: the same seed and the same calls give the same hash.
//!
//! The application (JavaScript, through the N-API bridge, or Rust tests)
//! drives it: per-node transport calls, per-node event batches taken and
//! released as from the tokio driver, and `advance_to` to move time.

mod chaos;
mod checks;
mod conn;
mod faults;
mod net;
mod node;
mod pipe;
mod rng;
mod schedule;
mod trace;
mod world;

pub use faults::{Faults, PROFILES};
pub use node::{NodeConfig, NodeId, NodeStats};
pub use rng::Rng;
pub use world::{BroadcastReport, Notice, PeerInfo, SimError, World, EPOCH_MS};
