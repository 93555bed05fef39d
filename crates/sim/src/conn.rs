//! One end of a simulated connection on a node: the same core state the tokio
//! driver keeps per connection (decoder, outbox, receive budget), with the
//! socket replaced by two pipes.

use crate::pipe::PipeId;
use bytes::Bytes;
use peerwire_core::{Command, DisconnectReason, FrameDecoder, NetGroup, PeerId, PeerState};
use std::collections::VecDeque;
use std::net::SocketAddr;

/// A flushing close in progress.
#[derive(Debug, Clone)]
pub struct Closing {
    pub reason: DisconnectReason,
    pub deadline_us: u64,
}

/// What inbound eviction weighs about a peer, as the tokio driver measures it.
#[derive(Debug, Default, Clone)]
pub struct Standing {
    pub connected_at_ms: u64,
    pub netgroup: NetGroup,
    /// Our last ping's nonce and when it went out (µs).
    ping: Option<(u64, u64)>,
    pub min_ping_us: Option<u64>,
    pub last_block_at_ms: Option<u64>,
    pub last_tx_at_ms: Option<u64>,
}

impl Standing {
    pub fn new(connected_at_ms: u64, netgroup: NetGroup) -> Self {
        Self {
            connected_at_ms,
            netgroup,
            ..Self::default()
        }
    }

    pub fn note_sent(&mut self, command: &Command, payload: &[u8], now_us: u64) {
        if command.as_str() == "ping" {
            if let Ok(nonce) = <[u8; 8]>::try_from(payload) {
                self.ping = Some((u64::from_le_bytes(nonce), now_us));
            }
        }
    }

    pub fn note_received(&mut self, command: &Command, payload: &[u8], now_us: u64) {
        match command.as_str() {
            "pong" => {
                let (Ok(nonce), Some((sent, at))) = (<[u8; 8]>::try_from(payload), self.ping)
                else {
                    return;
                };
                if sent == u64::from_le_bytes(nonce) {
                    self.ping = None;
                    let rtt = now_us.saturating_sub(at).max(1);
                    self.min_ping_us = Some(self.min_ping_us.map_or(rtt, |m| m.min(rtt)));
                }
            }
            "block" | "cmpctblock" => self.last_block_at_ms = Some((now_us / 1000).max(1)),
            "tx" => self.last_tx_at_ms = Some((now_us / 1000).max(1)),
            _ => {}
        }
    }
}

#[derive(Debug)]
pub struct Conn {
    pub id: PeerId,
    pub inbound: bool,
    pub remote: SocketAddr,
    pub local: SocketAddr,
    /// Our bytes to the peer, and the peer's to us.
    pub tx: PipeId,
    pub rx: PipeId,
    pub state: PeerState,
    pub decoder: FrameDecoder,
    /// Arrived and not yet read: the socket's receive buffer.
    pub rx_buf: VecDeque<Bytes>,
    /// The peer's FIN arrived behind `rx_buf`.
    pub rx_fin: bool,
    pub closing: Option<Closing>,
    /// Half-open: this end neither sends nor receives any more, and is not told.
    pub frozen: bool,
    /// The send queue is past its pause point: the peer's input waits (fPauseSend).
    pub held: bool,
    pub verack_sent: bool,
    pub write_scheduled: bool,
    pub stall_check_scheduled: bool,
    /// When the peer last took bytes from us, or we last had none to send.
    pub last_progress_us: u64,
    pub standing: Standing,
}

impl Conn {
    pub fn is_open(&self) -> bool {
        self.closing.is_none()
    }
}
