//! peerwire-core: the sans-IO heart of peerwire.
//!
//! Bytes in, frames and rejects out; frames in, shared bytes out; raw blocks
//! in, hashes and a verdict out ([`block`]). No sockets, threads, clocks or
//! randomness live here, so the same code runs under the tokio driver in
//! production and under a deterministic simulator in tests. The SOCKS5
//! client's messages (socks5.rs) are here for the same reason: the driver
//! only moves their bytes.

pub mod admission;
pub mod block;
pub mod budget;
pub mod checksum;
pub mod command;
pub mod decoder;
pub mod event;
pub mod evict;
pub mod frame;
pub mod limits;
pub mod netgroup;
pub mod outbox;
pub mod peer;
pub mod reject;
pub mod socks5;

pub use admission::ConnectionLimits;
pub use budget::RecvBudget;
pub use checksum::{checksum, checksums_computed, double_sha256};
pub use command::{Command, CommandError};
pub use decoder::{DecodeLimits, Decoded, FrameDecoder};
pub use event::{DisconnectReason, Event, PeerId};
pub use evict::{keyed_netgroup, select_to_evict, EvictionCandidate};
pub use frame::{encode_frame, encode_frames, put_frame, Frame, Header, Magic, HEADER_SIZE};
pub use limits::{PeerLimits, WakeLimits};
pub use netgroup::{netgroup, NetGroup};
pub use outbox::{Chunk, Outbox, OutboxLimits, SendStatus};
pub use peer::{held_cost, PeerState, PeerStats, FRAME_HOLD_OVERHEAD};
pub use reject::{Action, Reject, RejectKind, RejectPolicy};
