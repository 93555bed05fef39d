//! What a driver (tokio or simulated) tells the application, in the order it happened.

use crate::frame::Frame;
use crate::reject::Reject;
use std::net::SocketAddr;

/// A connection's id. Never shared by two live connections, nor reused while
/// events for it may still be waiting; after 2^32 connections ids wrap and
/// skip any still in use.
pub type PeerId = u32;

/// One thing that happened on the network side.
#[derive(Debug)]
pub enum Event {
    /// An outbound connection asked for with `connect` is established.
    Connected {
        peer: PeerId,
        remote: SocketAddr,
        local: SocketAddr,
    },
    /// An outbound connection could not be made; `peer` is the id `connect` returned.
    ConnectFailed {
        peer: PeerId,
        address: String,
        error: String,
    },
    /// A listener accepted an inbound connection.
    Accepted {
        peer: PeerId,
        listener: u32,
        remote: SocketAddr,
        local: SocketAddr,
    },
    /// A verified frame from a peer; per peer, in wire order.
    Frame { peer: PeerId, frame: Frame },
    /// A message from a peer was refused and dropped; the connection stays.
    Dropped { peer: PeerId, reason: Reject },
    /// A peer whose sends reported backpressure has drained: send again.
    Writable { peer: PeerId },
    /// A connection ended. `unflushed_bytes` is what was queued but never written.
    Disconnected {
        peer: PeerId,
        reason: DisconnectReason,
        unflushed_bytes: u64,
    },
    /// A listener hit an accept error (it keeps listening).
    ListenerError { listener: u32, error: String },
    /// `close` finished: every connection is gone and nothing more will arrive.
    Closed,
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DisconnectReason {
    /// The application asked, with its own reason.
    Requested(String),
    /// The peer closed the connection.
    PeerClosed,
    /// The socket failed.
    Io(String),
    /// The peer sent input whose policy is to disconnect.
    Protocol(Reject),
    /// The driver is shutting down.
    Shutdown,
    /// Inbound was full and a newer connection took this one's slot.
    Evicted,
    /// We had bytes to send and the peer took none of them for this long
    /// (milliseconds): it does not read.
    SendStalled(u64),
    /// A bug inside peerwire (a caught panic); other peers are unaffected.
    Internal(String),
}

impl DisconnectReason {
    /// Stable kebab-case code: what applications match on.
    pub fn code(&self) -> &'static str {
        match self {
            DisconnectReason::Requested(_) => "requested",
            DisconnectReason::PeerClosed => "peer-closed",
            DisconnectReason::Io(_) => "io-error",
            DisconnectReason::Protocol(reject) => reject.kind().as_str(),
            DisconnectReason::Shutdown => "shutdown",
            DisconnectReason::Evicted => "evicted",
            DisconnectReason::SendStalled(_) => "send-stalled",
            DisconnectReason::Internal(_) => "internal",
        }
    }

    /// Human-readable detail.
    pub fn detail(&self) -> String {
        match self {
            DisconnectReason::Requested(why) => why.clone(),
            DisconnectReason::PeerClosed => "connection closed by peer".into(),
            DisconnectReason::Io(err) => err.clone(),
            DisconnectReason::Protocol(reject) => reject.to_string(),
            DisconnectReason::Shutdown => "engine shutting down".into(),
            DisconnectReason::Evicted => {
                "inbound slots full: evicted for a newer connection".into()
            }
            DisconnectReason::SendStalled(ms) => {
                format!("peer read none of our queued bytes for {ms} ms")
            }
            DisconnectReason::Internal(msg) => msg.clone(),
        }
    }
}
