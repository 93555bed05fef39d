//! What a connection's task shares with the application thread.

use crate::event::{DisconnectReason, PeerId};
use crate::inbox::{lock, Inbox};
use bytes::Bytes;
use peerwire_core::{Chunk, Command, Magic, NetGroup, PeerState, SendStatus, HEADER_SIZE};
use std::collections::VecDeque;
use std::io::IoSlice;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::sync::Mutex;
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Corked bytes past which the writer task starts on them at once rather
/// than waiting for the end of the application's turn: a long burst is
/// written in parallel with the code producing it.
const CORK_LIMIT: usize = 64 * 1024;
/// Chunks handed to one direct write.
const DIRECT_IOV: usize = 64;

/// What inbound eviction weighs about a peer (see peerwire_core::evict),
/// kept up to date from the frames that pass through the driver. Times are
/// milliseconds since the driver started; 0 means never.
#[derive(Default)]
pub struct Standing {
    pub connected_at_ms: u64,
    pub netgroup: NetGroup,
    /// Our last ping: its nonce and when it went out (µs since the driver started).
    ping: Mutex<Option<(u64, u64)>>,
    pub min_ping_us: AtomicU64,
    pub last_block_at_ms: AtomicU64,
    pub last_tx_at_ms: AtomicU64,
}

impl Standing {
    pub fn new(connected_at_ms: u64, netgroup: NetGroup) -> Self {
        Self {
            connected_at_ms,
            netgroup,
            min_ping_us: AtomicU64::new(u64::MAX),
            ..Self::default()
        }
    }

    /// We are sending `command` with `payload`; `now_us` reads the clock.
    pub fn note_sent(&self, command: &Command, payload: &[u8], now_us: impl FnOnce() -> u64) {
        if command.as_bytes() == b"ping" {
            if let Ok(nonce) = <[u8; 8]>::try_from(payload) {
                *lock(&self.ping) = Some((u64::from_le_bytes(nonce), now_us()));
            }
        }
    }

    /// The peer sent `command` with `payload`; `now_us` reads the clock.
    pub fn note_received(&self, command: &Command, payload: &[u8], now_us: impl FnOnce() -> u64) {
        let command = command.as_bytes();
        if !matches!(command, b"pong" | b"block" | b"cmpctblock" | b"tx") {
            return;
        }
        let now_us = now_us();
        match command {
            b"pong" => {
                let Ok(nonce) = <[u8; 8]>::try_from(payload) else {
                    return;
                };
                let mut ping = lock(&self.ping);
                if let Some((sent_nonce, at)) = *ping {
                    if sent_nonce == u64::from_le_bytes(nonce) {
                        *ping = None;
                        self.min_ping_us
                            .fetch_min(now_us.saturating_sub(at).max(1), Ordering::Relaxed);
                    }
                }
            }
            // Core protects peers that recently sent novel blocks and transactions;
            // the driver cannot judge novelty, so any block or transaction counts.
            b"block" | b"cmpctblock" => self
                .last_block_at_ms
                .store((now_us / 1000).max(1), Ordering::Relaxed),
            b"tx" => self
                .last_tx_at_ms
                .store((now_us / 1000).max(1), Ordering::Relaxed),
            _ => {}
        }
    }

    pub fn min_ping_us(&self) -> Option<u64> {
        let v = self.min_ping_us.load(Ordering::Relaxed);
        (v != u64::MAX).then_some(v)
    }
}

fn nonzero(v: u64) -> Option<u64> {
    (v != 0).then_some(v)
}

impl Standing {
    pub fn last_block_at_ms(&self) -> Option<u64> {
        nonzero(self.last_block_at_ms.load(Ordering::Relaxed))
    }

    pub fn last_tx_at_ms(&self) -> Option<u64> {
        nonzero(self.last_tx_at_ms.load(Ordering::Relaxed))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Inbound,
    Outbound,
}

/// A request to end a connection.
#[derive(Debug, Clone)]
pub struct CloseRequest {
    pub reason: DisconnectReason,
    /// Write out what is queued first (bounded by the flush timeout).
    pub flush: bool,
}

/// What [`PeerLink::queue_frames`] did.
#[derive(Debug, Clone, Copy)]
pub struct Corked {
    /// The status of the last message tried.
    pub status: SendStatus,
    /// Messages queued (the ones before a refusal).
    pub queued: usize,
    /// What the queue can still take, all `Queued` (see `Outbox::credit`).
    pub credit: usize,
    /// The first corked send since the last flush: the peer must be listed for flushing.
    pub first: bool,
}

pub struct PeerLink {
    pub id: PeerId,
    pub direction: Direction,
    pub remote: SocketAddr,
    pub local: SocketAddr,
    pub state: Mutex<PeerState>,
    pub standing: Standing,
    stream: Arc<TcpStream>,
    /// Work was queued for the writer.
    pub writer_wake: Notify,
    /// The receive budget has room again.
    pub reader_resume: Notify,
    /// Set by the application; the reader lifts the pre-handshake limit on its next wake.
    pub handshake_complete: AtomicBool,
    /// We sent our `verack` (see [`PeerLink::note_sent`]).
    verack_sent: AtomicBool,
    close: Mutex<Option<CloseRequest>>,
    closing: AtomicBool,
    pub close_wake: Notify,
    /// The peer closed its side (the reader saw end of stream).
    pub peer_eof: Notify,
    /// Sends are corked: queued, waiting for [`PeerLink::flush`].
    pub corked: AtomicBool,
    /// Test hook: make this connection's task panic, to prove panics are contained.
    #[cfg(feature = "test-hooks")]
    pub panic_requested: AtomicBool,
    /// Received bytes not yet decoded, and the read buffer's allocation, as the
    /// reader last saw them: proof that memory follows bytes actually received.
    pub read_buffered: AtomicUsize,
    pub read_capacity: AtomicUsize,
}

impl PeerLink {
    pub fn new(
        id: PeerId,
        direction: Direction,
        remote: SocketAddr,
        local: SocketAddr,
        state: PeerState,
        standing: Standing,
        stream: Arc<TcpStream>,
    ) -> Self {
        Self {
            id,
            direction,
            remote,
            local,
            state: Mutex::new(state),
            standing,
            stream,
            writer_wake: Notify::new(),
            reader_resume: Notify::new(),
            handshake_complete: AtomicBool::new(false),
            verack_sent: AtomicBool::new(false),
            close: Mutex::new(None),
            closing: AtomicBool::new(false),
            close_wake: Notify::new(),
            corked: AtomicBool::new(false),
            peer_eof: Notify::new(),
            #[cfg(feature = "test-hooks")]
            panic_requested: AtomicBool::new(false),
            read_buffered: AtomicUsize::new(0),
            read_capacity: AtomicUsize::new(0),
        }
    }

    /// Asks the connection to end. The first request wins; returns whether this
    /// one was accepted. New sends are refused from now on.
    pub fn request_close(&self, request: CloseRequest) -> bool {
        if self.closing.swap(true, Ordering::SeqCst) {
            return false;
        }
        lock(&self.state).outbox.close();
        *lock(&self.close) = Some(request);
        self.close_wake.notify_one();
        // A reader paused on its budget must keep draining the socket while we close.
        self.reader_resume.notify_one();
        true
    }

    /// Frames and queues messages without writing them: the application
    /// flushes once per turn (see [`PeerLink::flush`]), so a burst of small
    /// sends costs one write, not one each. Past [`CORK_LIMIT`] queued bytes
    /// it writes at once, so a long burst streams into the socket as it is
    /// produced. Stops at the first message the queue refuses.
    pub fn queue_frames<'a>(
        &self,
        inbox: &Inbox,
        magic: Magic,
        sends: impl IntoIterator<Item = (&'a Command, &'a [u8])>,
    ) -> Corked {
        let (status, queued, credit) = {
            let mut state = lock(&self.state);
            let mut status = SendStatus::Queued;
            let mut queued = 0;
            for (command, payload) in sends {
                status = state.outbox.admit(HEADER_SIZE + payload.len(), 1);
                if status != SendStatus::Queued {
                    break;
                }
                status = state.outbox.enqueue_frame(magic, command, payload);
                queued += 1;
            }
            let writable = queued > 0
                && state.outbox.queued_bytes() >= CORK_LIMIT
                && self.write_queued(&mut state);
            self.settle(&state, inbox, status, writable);
            (status, queued, state.outbox.credit())
        };
        let first = queued > 0 && !self.corked.swap(true, Ordering::AcqRel);
        Corked {
            status,
            queued,
            credit,
            first,
        }
    }

    /// fPauseSend, decided under the state lock so that it cannot interleave
    /// with the writer's own verdict: a peer whose queue is past its pause
    /// point has its input held (see inbox.rs); one whose queue has drained
    /// is released, with a `writable` event after what it sent before.
    fn settle(&self, state: &PeerState, inbox: &Inbox, status: SendStatus, writable: bool) {
        if writable {
            inbox.writable(self.id);
        } else if matches!(status, SendStatus::Backpressure | SendStatus::Full)
            && !state.outbox.is_closed()
        {
            inbox.hold(self.id);
        }
    }

    /// Writes what corked sends queued. When no writer is busy on this peer,
    /// from the calling thread, in one vectored write (the latency of a pong
    /// is one syscall after its handler returns); what the socket does not
    /// take goes to the writer task.
    pub fn flush(&self, inbox: &Inbox) {
        self.corked.store(false, Ordering::Release);
        let mut state = lock(&self.state);
        if self.write_queued(&mut state) {
            self.settle(&state, inbox, SendStatus::Queued, true);
        }
    }

    /// Writes queued chunks straight to the socket if no writer task holds
    /// any (the state lock keeps one from starting meanwhile); hands what is
    /// left to the writer task. Returns the writable edge.
    fn write_queued(&self, state: &mut PeerState) -> bool {
        if state.outbox.in_flight_bytes() > 0 {
            // The writer task is on it, and takes the rest in order.
            self.writer_wake.notify_one();
            return false;
        }
        let mut chunks: VecDeque<Chunk> = VecDeque::new();
        state.outbox.take_batch(usize::MAX, &mut chunks);
        if chunks.is_empty() {
            return false;
        }
        let written = {
            let mut iov = [IoSlice::new(&[]); DIRECT_IOV];
            let count = chunks.len().min(DIRECT_IOV);
            for (slot, chunk) in iov.iter_mut().zip(chunks.iter()) {
                *slot = IoSlice::new(&chunk.bytes);
            }
            // Would block, or an error the writer task will meet and report.
            self.stream.try_write_vectored(&iov[..count]).unwrap_or(0)
        };
        let mut frames = 0;
        let mut left = written;
        let mut total = 0;
        for chunk in &chunks {
            total += chunk.bytes.len();
            if left >= chunk.bytes.len() {
                left -= chunk.bytes.len();
                frames += chunk.messages;
            } else {
                left = 0;
            }
        }
        state.outbox.return_unwritten(chunks, written);
        if written < total {
            self.writer_wake.notify_one();
        }
        state.on_written(written, frames)
    }

    /// Queues `messages` encoded frames for this peer. When nothing is queued or
    /// in flight, they are first written straight to the socket from the calling
    /// thread, which saves a thread hop on every quiet connection (the latency of
    /// a ping). Whatever the socket does not take goes to the writer task.
    pub fn send_chunk(&self, inbox: &Inbox, bytes: Bytes, messages: usize) -> SendStatus {
        let mut state = lock(&self.state);
        // Admit the whole chunk before any of it touches the socket: a chunk
        // refused after a partial write would leave half a frame on the wire.
        let admitted = state.outbox.admit(bytes.len(), messages);
        if admitted != SendStatus::Queued {
            self.settle(&state, inbox, admitted, false);
            return admitted;
        }
        let mut rest = bytes;
        if state.outbox.is_drained() {
            // Holding the state lock keeps the writer task from starting a write.
            match self.stream.try_write(&rest) {
                Ok(n) if n == rest.len() => {
                    state.stats.bytes_out += n as u64;
                    state.stats.messages_out += messages as u64;
                    return SendStatus::Queued;
                }
                Ok(n) => {
                    state.stats.bytes_out += n as u64;
                    rest = rest.slice(n..);
                }
                // Would block, or an error the writer task will meet and report.
                Err(_) => {}
            }
        }
        let status = state.outbox.enqueue(rest, messages);
        self.settle(&state, inbox, status, false);
        drop(state);
        self.writer_wake.notify_one();
        status
    }

    /// The writer put `bytes` (`frames` whole frames) on the wire.
    pub fn on_written(&self, inbox: &Inbox, bytes: usize, frames: usize) {
        let mut state = lock(&self.state);
        if state.on_written(bytes, frames) {
            self.settle(&state, inbox, SendStatus::Queued, true);
        }
    }

    /// Notes a command we are sending; our `verack` means we accepted the peer's
    /// version, which lets the reader lift the pre-handshake limit.
    pub fn note_sent(&self, command: &Command) {
        if command.as_bytes() == b"verack" {
            self.verack_sent.store(true, Ordering::Release);
        }
    }

    pub fn verack_sent(&self) -> bool {
        self.verack_sent.load(Ordering::Acquire)
    }

    pub fn take_close_request(&self) -> Option<CloseRequest> {
        lock(&self.close).take()
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    pub fn handshake_complete(&self) -> bool {
        self.handshake_complete.load(Ordering::Acquire)
    }

    #[cfg(feature = "test-hooks")]
    pub fn take_panic_request(&self) -> bool {
        self.panic_requested.swap(false, Ordering::SeqCst)
    }
}
