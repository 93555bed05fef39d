//! The driver: a tokio runtime running peerwire-core over real sockets.

use crate::config::DriverConfig;
use crate::connection::{self, DROPPED_EVENT_COST};
use crate::event::{DisconnectReason, Event, PeerId};
use crate::inbox::{lock, Inbox, Waker};
use crate::link::{CloseRequest, Direction, PeerLink};
use crate::listener;
use crate::tasks::TaskCounter;
use peerwire_core::{
    encode_frame, encode_frames, Command, Magic, PeerLimits, PeerStats, SendStatus,
};
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;
use tokio::net::{TcpSocket, TcpStream};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::watch;

/// Pending connections a listener queues before accepting; large enough for a
/// burst of thousands of peers dialling at once.
const LISTEN_BACKLOG: u32 = 4096;

/// Payload bytes one drain hands over at most; the rest waits for the next.
/// Keeps a batch's offsets well inside 32 bits however many peers are busy.
pub const MAX_PAYLOAD_PER_DRAIN: usize = 256 * 1024 * 1024;

/// The send target does not exist (never connected, or already disconnected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownPeer(pub PeerId);

/// Where a broadcast went.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BroadcastReport {
    /// Peers whose queue took the frame.
    pub queued: Vec<PeerId>,
    /// Of those, the ones now past their pause point.
    pub backpressure: Vec<PeerId>,
    /// Peers that did not take it: full, closing or unknown.
    pub refused: Vec<PeerId>,
}

/// A snapshot of one connection.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub id: PeerId,
    pub direction: Direction,
    pub remote: SocketAddr,
    pub local: SocketAddr,
    pub stats: PeerStats,
    /// Outbound bytes queued or in flight.
    pub send_queue_bytes: usize,
    /// Inbound bytes delivered to the application's inbox but not yet taken.
    pub recv_pending_bytes: usize,
    /// Received bytes not yet decoded (a partial frame).
    pub read_buffered_bytes: usize,
    /// What the read buffer has allocated.
    pub read_buffer_capacity: usize,
    pub handshake_complete: bool,
    pub closing: bool,
}

/// State shared by the application thread and every task.
pub(crate) struct Shared {
    pub inbox: Inbox,
    pub handle: Handle,
    pub tasks: Arc<TaskCounter>,
    magic: Magic,
    peers: RwLock<HashMap<PeerId, Arc<PeerLink>>>,
    limits: RwLock<PeerLimits>,
    limits_epoch: AtomicU64,
    write_bytes_per_wake: AtomicUsize,
    connect_timeout: Duration,
    flush_timeout: Duration,
    next_id: AtomicU32,
    closing: AtomicBool,
    shutdown: watch::Sender<bool>,
}

impl Shared {
    pub fn limits(&self) -> PeerLimits {
        *read(&self.limits)
    }

    pub fn limits_epoch(&self) -> u64 {
        self.limits_epoch.load(Ordering::Acquire)
    }

    pub fn limits_with_epoch(&self) -> (u64, PeerLimits) {
        let guard = read(&self.limits);
        (self.limits_epoch(), *guard)
    }

    pub fn write_bytes_per_wake(&self) -> usize {
        self.write_bytes_per_wake.load(Ordering::Relaxed)
    }

    pub fn flush_timeout(&self) -> Duration {
        self.flush_timeout
    }

    pub fn next_peer_id(&self) -> PeerId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Adds a connection unless the driver is closing. Checked under the same
    /// lock `close` takes, so no connection slips past a shutdown.
    pub fn register(&self, link: Arc<PeerLink>) -> bool {
        let mut peers = write(&self.peers);
        if self.closing.load(Ordering::SeqCst) {
            return false;
        }
        peers.insert(link.id, link);
        true
    }

    pub fn unregister(&self, id: PeerId) {
        write(&self.peers).remove(&id);
    }

    fn link(&self, id: PeerId) -> Option<Arc<PeerLink>> {
        read(&self.peers).get(&id).cloned()
    }
}

/// The tokio driver. Create one per engine; call [`Driver::close`] and then
/// [`Driver::finish`] once [`Event::Closed`] has been drained.
pub struct Driver {
    shared: Arc<Shared>,
    runtime: Mutex<Option<Runtime>>,
    next_listener: AtomicU32,
}

impl Driver {
    /// Starts the runtime. `waker` is called from driver threads whenever events
    /// are waiting; the application then calls [`Driver::drain`].
    pub fn new(config: DriverConfig, waker: Waker) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(config.worker_threads.max(1))
            .thread_name("peerwire-io")
            .enable_io()
            .enable_time()
            .build()?;
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            inbox: Inbox::new(waker),
            handle: runtime.handle().clone(),
            tasks: Arc::new(TaskCounter::default()),
            magic: config.limits.decode.magic,
            peers: RwLock::new(HashMap::new()),
            limits: RwLock::new(config.limits),
            limits_epoch: AtomicU64::new(0),
            write_bytes_per_wake: AtomicUsize::new(config.limits.wake.write_bytes),
            connect_timeout: config.connect_timeout,
            flush_timeout: config.flush_timeout,
            next_id: AtomicU32::new(1),
            closing: AtomicBool::new(false),
            shutdown,
        });
        Ok(Self {
            shared,
            runtime: Mutex::new(Some(runtime)),
            next_listener: AtomicU32::new(1),
        })
    }

    /// Binds `address` ("host:port"; port 0 picks a free one) and starts accepting.
    /// Returns the listener's id and the bound address.
    pub fn listen(&self, address: &str) -> io::Result<(u32, SocketAddr)> {
        if self.shared.closing.load(Ordering::SeqCst) {
            return Err(io::Error::other("engine is closing"));
        }
        let addr = resolve(address)?;
        let socket = if addr.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        let _enter = self.shared.handle.enter();
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(LISTEN_BACKLOG)?;
        let bound = listener.local_addr()?;
        let id = self.next_listener.fetch_add(1, Ordering::Relaxed);
        let guard = self.shared.tasks.enter();
        self.shared.handle.spawn(listener::accept_loop(
            self.shared.clone(),
            id,
            listener,
            guard,
        ));
        Ok((id, bound))
    }

    /// Dials `address` ("host:port") with the connect timeout. Returns the peer id
    /// that the later `Connected` or `ConnectFailed` event carries.
    pub fn connect(&self, address: &str) -> PeerId {
        let shared = self.shared.clone();
        let id = shared.next_peer_id();
        let address = address.to_owned();
        if shared.closing.load(Ordering::SeqCst) {
            shared.inbox.push(Event::ConnectFailed {
                peer: id,
                address,
                error: "engine is closing".into(),
            });
            return id;
        }
        let guard = shared.tasks.enter();
        let mut shutdown = shared.shutdown_signal();
        self.shared.handle.spawn(async move {
            let _guard = guard;
            let attempt = tokio::time::timeout(shared.connect_timeout, TcpStream::connect(&address));
            let outcome = tokio::select! {
                outcome = attempt => outcome,
                _ = shutdown.wait_for(|closing| *closing) => {
                    shared.inbox.push(Event::ConnectFailed { peer: id, address, error: "engine is closing".into() });
                    return;
                }
            };
            match outcome {
                Ok(Ok(stream)) => {
                    connection::start(&shared, stream, id, Direction::Outbound, None)
                }
                Ok(Err(e)) => shared.inbox.push(Event::ConnectFailed {
                    peer: id,
                    address,
                    error: e.to_string(),
                }),
                Err(_) => shared.inbox.push(Event::ConnectFailed {
                    peer: id,
                    error: format!(
                        "connect timed out after {} ms",
                        shared.connect_timeout.as_millis()
                    ),
                    address,
                }),
            }
        });
        id
    }

    /// Frames and queues one message for one peer.
    pub fn send(
        &self,
        peer: PeerId,
        command: &Command,
        payload: &[u8],
    ) -> Result<SendStatus, UnknownPeer> {
        let link = self.shared.link(peer).ok_or(UnknownPeer(peer))?;
        link.note_sent(command);
        let frame = encode_frame(self.shared.magic, command, payload);
        Ok(link.send_chunk(frame, 1))
    }

    /// Frames many payloads with one command into one buffer and queues it as a
    /// single entry (one allocation, one lock, one wake-up). If the queue cannot
    /// take them all, queues them one by one until it is full. Returns how many
    /// were queued and the status of the last attempt.
    pub fn send_many(
        &self,
        peer: PeerId,
        command: &Command,
        payloads: &[&[u8]],
    ) -> Result<(usize, SendStatus), UnknownPeer> {
        let link = self.shared.link(peer).ok_or(UnknownPeer(peer))?;
        if payloads.is_empty() {
            return Ok((0, SendStatus::Queued));
        }
        link.note_sent(command);
        let run = encode_frames(self.shared.magic, command, payloads.iter().copied());
        let mut status = link.send_chunk(run, payloads.len());
        let mut sent = if status.is_queued() {
            payloads.len()
        } else {
            0
        };
        if matches!(status, SendStatus::Full | SendStatus::TooLarge) {
            // The run as a whole does not fit: queue what fits, in order.
            for payload in payloads {
                status = link.send_chunk(encode_frame(self.shared.magic, command, payload), 1);
                if !status.is_queued() {
                    break;
                }
                sent += 1;
            }
        }
        Ok((sent, status))
    }

    /// Frames once, checksums once, and queues the same bytes for every target
    /// (`None`: every connected peer).
    pub fn broadcast(
        &self,
        targets: Option<&[PeerId]>,
        command: &Command,
        payload: &[u8],
    ) -> BroadcastReport {
        let frame = encode_frame(self.shared.magic, command, payload);
        let links: Vec<(PeerId, Option<Arc<PeerLink>>)> = {
            let peers = read(&self.shared.peers);
            match targets {
                Some(ids) => ids.iter().map(|id| (*id, peers.get(id).cloned())).collect(),
                None => peers.iter().map(|(id, l)| (*id, Some(l.clone()))).collect(),
            }
        };
        let mut report = BroadcastReport::default();
        for (id, link) in links {
            let Some(link) = link else {
                report.refused.push(id);
                continue;
            };
            link.note_sent(command);
            let status = link.send_chunk(frame.clone(), 1);
            match status {
                SendStatus::Queued => report.queued.push(id),
                SendStatus::Backpressure => {
                    report.queued.push(id);
                    report.backpressure.push(id);
                }
                SendStatus::Full | SendStatus::TooLarge | SendStatus::Closed => {
                    report.refused.push(id)
                }
            }
        }
        report
    }

    /// Lifts the pre-handshake payload limit for `peer`.
    pub fn mark_handshake_complete(&self, peer: PeerId) -> Result<(), UnknownPeer> {
        let link = self.shared.link(peer).ok_or(UnknownPeer(peer))?;
        link.handshake_complete.store(true, Ordering::Release);
        Ok(())
    }

    /// Ends a connection. With `flush`, what is already queued is written first
    /// (bounded by the flush timeout). Returns false if it was already closing.
    pub fn disconnect(&self, peer: PeerId, reason: &str, flush: bool) -> Result<bool, UnknownPeer> {
        let link = self.shared.link(peer).ok_or(UnknownPeer(peer))?;
        Ok(link.request_close(CloseRequest {
            reason: DisconnectReason::Requested(reason.to_owned()),
            flush,
        }))
    }

    /// Applies new limits to every connection, live ones included. The magic
    /// cannot change: it is kept from the driver's configuration.
    pub fn set_limits(&self, mut limits: PeerLimits) {
        limits.decode.magic = self.shared.magic;
        {
            let mut current = write(&self.shared.limits);
            *current = limits;
            self.shared
                .write_bytes_per_wake
                .store(limits.wake.write_bytes, Ordering::Relaxed);
            self.shared.limits_epoch.fetch_add(1, Ordering::AcqRel);
        }
        let links: Vec<Arc<PeerLink>> = read(&self.shared.peers).values().cloned().collect();
        for link in links {
            let resume = {
                let mut state = lock(&link.state);
                state.set_limits(&limits);
                !state.budget.is_paused()
            };
            if resume {
                link.reader_resume.notify_one();
            }
        }
    }

    pub fn limits(&self) -> PeerLimits {
        self.shared.limits()
    }

    /// Takes every waiting event, crediting the receive budgets of the peers whose
    /// frames it takes (waking readers that were paused on them).
    pub fn drain(&self) -> Vec<Event> {
        let events = self.shared.inbox.drain(MAX_PAYLOAD_PER_DRAIN);
        let mut credit: Vec<(PeerId, usize)> = Vec::new();
        for event in &events {
            let (peer, bytes) = match event {
                Event::Frame { peer, frame } => (*peer, frame.wire_len()),
                Event::Dropped { peer, .. } => (*peer, DROPPED_EVENT_COST),
                _ => continue,
            };
            match credit.last_mut() {
                Some((last, total)) if *last == peer => *total += bytes,
                _ => credit.push((peer, bytes)),
            }
        }
        if !credit.is_empty() {
            credit.sort_unstable_by_key(|(peer, _)| *peer);
            let peers = read(&self.shared.peers);
            let mut i = 0;
            while i < credit.len() {
                let peer = credit[i].0;
                let mut bytes = 0;
                while i < credit.len() && credit[i].0 == peer {
                    bytes += credit[i].1;
                    i += 1;
                }
                if let Some(link) = peers.get(&peer) {
                    if lock(&link.state).budget.on_consumed(bytes) {
                        link.reader_resume.notify_one();
                    }
                }
            }
        }
        events
    }

    pub fn peer_info(&self, peer: PeerId) -> Option<PeerInfo> {
        let link = self.shared.link(peer)?;
        let state = lock(&link.state);
        Some(PeerInfo {
            id: link.id,
            direction: link.direction,
            remote: link.remote,
            local: link.local,
            stats: state.stats,
            send_queue_bytes: state.outbox.pending_bytes(),
            recv_pending_bytes: state.budget.pending(),
            read_buffered_bytes: link.read_buffered.load(Ordering::Relaxed),
            read_buffer_capacity: link.read_capacity.load(Ordering::Relaxed),
            handshake_complete: link.handshake_complete(),
            closing: link.is_closing(),
        })
    }

    pub fn peer_ids(&self) -> Vec<PeerId> {
        let mut ids: Vec<PeerId> = read(&self.shared.peers).keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    /// Test hook: makes `peer`'s connection task panic. The panic is contained:
    /// that peer disconnects with reason `internal`, everything else carries on.
    pub fn inject_panic(&self, peer: PeerId) -> Result<(), UnknownPeer> {
        let link = self.shared.link(peer).ok_or(UnknownPeer(peer))?;
        link.panic_requested.store(true, Ordering::SeqCst);
        link.writer_wake.notify_one();
        Ok(())
    }

    /// Starts a graceful shutdown: stop accepting and dialling, flush every peer's
    /// queue (bounded by the flush timeout), close every connection, then queue
    /// [`Event::Closed`]. Idempotent.
    pub fn close(&self) {
        let links: Vec<Arc<PeerLink>> = {
            let peers = write(&self.shared.peers);
            if self.shared.closing.swap(true, Ordering::SeqCst) {
                return;
            }
            peers.values().cloned().collect()
        };
        self.shared.shutdown.send_replace(true);
        for link in links {
            link.request_close(CloseRequest {
                reason: DisconnectReason::Shutdown,
                flush: true,
            });
        }
        let shared = self.shared.clone();
        self.shared.handle.spawn(async move {
            shared.tasks.wait_idle().await;
            shared.inbox.push(Event::Closed);
        });
    }

    pub fn is_closing(&self) -> bool {
        self.shared.closing.load(Ordering::SeqCst)
    }

    /// Releases the waker and stops the runtime's threads. Call after
    /// [`Event::Closed`]; must not be called from inside the runtime.
    pub fn finish(&self) {
        self.shared.inbox.disable_waker();
        if let Some(runtime) = lock(&self.runtime).take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.close();
        self.finish();
    }
}

fn resolve(address: &str) -> io::Result<SocketAddr> {
    address.to_socket_addrs()?.next().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("'{address}' resolves to no address"),
        )
    })
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
