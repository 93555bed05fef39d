//! The driver: a tokio runtime running peerwire-core over real sockets.

use crate::admission;
use crate::config::{ConnectionLimits, DriverConfig};
use crate::connection::{self, DROPPED_EVENT_COST};
use crate::event::{DisconnectReason, Event, PeerId};
use crate::inbox::{lock, BatchLimits, Drained, Inbox, Waker};
use crate::link::{CloseRequest, Corked, Direction, PeerLink};
use crate::listener;
use crate::proxy::{self, CredentialSource, Proxy};
use crate::refused::RefusedHosts;
use crate::tasks::TaskCounter;
use peerwire_core::socks5::{self, Credentials};
use peerwire_core::{
    encode_frame, encode_frames, held_cost, Command, Magic, PeerLimits, PeerStats, SendStatus,
};
use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};
use tokio::net::{TcpSocket, TcpStream};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::{watch, Notify};

/// Pending connections a listener queues before accepting; large enough for a
/// burst of thousands of peers dialling at once.
const LISTEN_BACKLOG: u32 = 4096;

/// The send target does not exist (never connected, or already disconnected).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownPeer(pub PeerId);

/// How one dial reaches its target.
enum Route {
    Direct,
    Proxy {
        proxy: String,
        target: socks5::Address,
        credentials: Option<Credentials>,
    },
}

impl Route {
    /// How long the whole dial may take.
    fn timeout(&self, connect_timeout: Duration, proxy: Option<&Proxy>) -> Duration {
        match (self, proxy.and_then(|p| p.timeout)) {
            (Route::Proxy { .. }, Some(timeout)) => timeout,
            _ => connect_timeout,
        }
    }
}

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
    /// Its input waits unprocessed because our send queue to it is past its
    /// pause point (fPauseSend).
    pub held: bool,
    /// Lowest ping round trip the driver has seen, in microseconds.
    pub min_ping_us: Option<u64>,
}

/// Counters for the whole driver.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct DriverStats {
    /// Inbound sockets closed at accept: no slot, and nobody could be evicted.
    pub inbound_refused: u64,
    /// Inbound connections closed to make room for a newer one.
    pub inbound_evicted: u64,
    /// Inbound sockets closed at accept: their host is refused (banned).
    pub inbound_banned: u64,
    /// Connections dropped because the peer read none of our bytes for too long.
    pub send_stalled: u64,
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
    connections: Mutex<ConnectionLimits>,
    batch: Mutex<BatchLimits>,
    /// Receive budget charged for events handed to the application in the last
    /// batch, credited when it says it has finished with them.
    unreleased: Mutex<Vec<(PeerId, usize)>>,
    /// Peers with corked sends waiting for [`Driver::flush`].
    corked: Mutex<Vec<Arc<PeerLink>>>,
    /// Receive budget charged across all peers, and the cap on it.
    recv_held: AtomicUsize,
    total_recv_budget: usize,
    /// Signalled when the total drops back under its cap.
    pub total_resume: Notify,
    connect_timeout: Duration,
    flush_timeout: Duration,
    send_stall_timeout: Duration,
    started: Instant,
    /// Keys netgroups for eviction, so an attacker cannot aim for protection.
    secret: u64,
    draws: AtomicU64,
    /// Random credentials for proxied dials (stream isolation).
    credentials: CredentialSource,
    next_id: AtomicU32,
    closing: AtomicBool,
    shutdown: watch::Sender<bool>,
    pub inbound_refused: AtomicU64,
    pub inbound_evicted: AtomicU64,
    pub inbound_banned: AtomicU64,
    /// Hosts whose inbound sockets are closed at accept (see refused.rs).
    refused: Mutex<RefusedHosts>,
    pub send_stalled: AtomicU64,
    /// Bumped whenever a peer's send queue closes, whoever closed it: a sender
    /// keeping its own tally of queue credit (see `Outbox::credit`) drops it
    /// when this moves.
    closes: Arc<AtomicU32>,
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

    pub fn send_stall_timeout(&self) -> Duration {
        self.send_stall_timeout
    }

    /// Charges received input to the total across peers.
    pub fn charge_total(&self, bytes: usize) {
        self.recv_held.fetch_add(bytes, Ordering::AcqRel);
    }

    /// Credits the total; wakes every paused reader when it drops under its cap.
    pub fn credit_total(&self, bytes: usize) {
        let before = self
            .recv_held
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |v| {
                Some(v.saturating_sub(bytes))
            })
            .unwrap_or(0);
        if before >= self.total_recv_budget && before.saturating_sub(bytes) < self.total_recv_budget
        {
            self.total_resume.notify_waiters();
        }
    }

    /// Whether the total across peers has reached its cap.
    pub fn total_recv_full(&self) -> bool {
        self.recv_held.load(Ordering::Acquire) >= self.total_recv_budget
    }

    /// Milliseconds since the driver started (never 0 for a real event).
    pub fn now_ms(&self) -> u64 {
        self.now_us() / 1000 + 1
    }

    pub fn now_us(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// A fresh id: never 0, and never one a live connection or a waiting event
    /// still carries (ids wrap after 2^32 connections).
    pub fn next_peer_id(&self) -> PeerId {
        loop {
            let id = self.next_id.fetch_add(1, Ordering::Relaxed);
            if id != 0 && !read(&self.peers).contains_key(&id) && !self.inbox.knows(id) {
                return id;
            }
        }
    }

    /// Whether inbound sockets from `ip` are closed at accept now.
    pub fn is_refused(&self, ip: IpAddr) -> bool {
        let refused = lock(&self.refused).is_refused(ip, self.now_ms());
        if refused {
            self.inbound_banned.fetch_add(1, Ordering::Relaxed);
        }
        refused
    }

    /// Decides whether a just-accepted socket may stay (see admission.rs);
    /// makes room by evicting when that is the decision.
    pub fn admit_inbound(&self) -> bool {
        let limits = *lock(&self.connections);
        let draw = self.draws.fetch_add(1, Ordering::Relaxed);
        let decision = {
            let peers = read(&self.peers);
            admission::admit_inbound(&peers, &limits, self.secret, draw, self.now_ms())
        };
        match decision {
            admission::Admission::Admit => true,
            admission::Admission::Evict(link) => {
                self.inbound_evicted.fetch_add(1, Ordering::Relaxed);
                self.close_link(&link, DisconnectReason::Evicted, false);
                true
            }
            admission::Admission::Refuse => {
                self.inbound_refused.fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Asks a connection to end and drops the input still waiting for the
    /// application (it has let the peer go). False if it was already closing.
    pub fn close_link(&self, link: &PeerLink, reason: DisconnectReason, flush: bool) -> bool {
        if !link.request_close(CloseRequest { reason, flush }) {
            return false;
        }
        self.closes.fetch_add(1, Ordering::Release);
        let discarded: usize = self
            .inbox
            .discard_input(link.id)
            .iter()
            .map(event_cost)
            .sum();
        if discarded > 0 {
            lock(&link.state).budget.on_consumed(discarded);
            self.credit_total(discarded);
            link.reader_resume.notify_one();
        }
        true
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
        let mut peers = write(&self.peers);
        peers.remove(&id);
        // Under the lock: whoever finds the peer gone sees the count moved.
        self.closes.fetch_add(1, Ordering::Release);
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
        let secret = RandomState::new().hash_one(std::process::id());
        let shared = Arc::new(Shared {
            inbox: Inbox::new(waker),
            handle: runtime.handle().clone(),
            tasks: Arc::new(TaskCounter::default()),
            magic: config.limits.decode.magic,
            peers: RwLock::new(HashMap::new()),
            limits: RwLock::new(config.limits),
            limits_epoch: AtomicU64::new(0),
            write_bytes_per_wake: AtomicUsize::new(config.limits.wake.write_bytes),
            connections: Mutex::new(config.connections),
            batch: Mutex::new(config.batch),
            unreleased: Mutex::new(Vec::new()),
            corked: Mutex::new(Vec::new()),
            recv_held: AtomicUsize::new(0),
            total_recv_budget: config.total_recv_budget,
            total_resume: Notify::new(),
            connect_timeout: config.connect_timeout,
            flush_timeout: config.flush_timeout,
            send_stall_timeout: config.send_stall_timeout,
            started: Instant::now(),
            secret,
            draws: AtomicU64::new(0),
            credentials: CredentialSource::new(),
            next_id: AtomicU32::new(1),
            closing: AtomicBool::new(false),
            shutdown,
            inbound_refused: AtomicU64::new(0),
            inbound_evicted: AtomicU64::new(0),
            inbound_banned: AtomicU64::new(0),
            refused: Mutex::new(RefusedHosts::default()),
            send_stalled: AtomicU64::new(0),
            closes: Arc::new(AtomicU32::new(0)),
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

    /// Dials `address` ("host:port"), directly or through a SOCKS5 `proxy`,
    /// within the connect timeout (for a proxy: the TCP connection to it and
    /// the whole SOCKS5 exchange). Returns the peer id that the later
    /// `Connected` or `ConnectFailed` event carries. Through a proxy, the
    /// connection's remote address is the proxy's; the target travels to the
    /// proxy as a name unless it is an IP literal, so nothing is resolved here.
    /// A Tor (.onion) or I2P (.i2p) name without a proxy fails at once: the
    /// system resolver is never asked for one.
    pub fn connect(&self, address: &str, proxy: Option<&Proxy>) -> PeerId {
        let shared = self.shared.clone();
        let id = shared.next_peer_id();
        let address = address.to_owned();
        let fail = |address: String, error: String| {
            shared.inbox.push(Event::ConnectFailed {
                peer: id,
                address,
                error,
            });
            id
        };
        if shared.closing.load(Ordering::SeqCst) {
            return fail(address, "engine is closing".into());
        }
        let max = lock(&shared.connections).max_connections;
        if admission::occupancy(&read(&shared.peers)).total >= max {
            return fail(
                address,
                format!("connection limit reached ({max} connections)"),
            );
        }
        let route = match proxy {
            None => {
                if let Some(kind) = proxy::proxy_only(&address) {
                    let error = format!(
                        "{address} is {kind}: it is dialled only through a SOCKS5 proxy, and none was given"
                    );
                    return fail(address, error);
                }
                Route::Direct
            }
            Some(proxy) => match socks5::Address::parse(&address) {
                Ok(target) => Route::Proxy {
                    proxy: proxy.address.clone(),
                    target,
                    credentials: proxy
                        .randomize_credentials
                        .then(|| shared.credentials.fresh()),
                },
                Err(e) => {
                    let error = format!("cannot dial through a SOCKS5 proxy: {e}");
                    return fail(address, error);
                }
            },
        };
        let timeout = route.timeout(shared.connect_timeout, proxy);
        let guard = shared.tasks.enter();
        let mut shutdown = shared.shutdown_signal();
        self.shared.handle.spawn(async move {
            let _guard = guard;
            let stage = AtomicU8::new(0);
            let dial = async {
                match &route {
                    Route::Direct => TcpStream::connect(&address).await.map_err(|e| e.to_string()),
                    Route::Proxy {
                        proxy,
                        target,
                        credentials,
                    } => proxy::dial(proxy, target, credentials.as_ref(), &stage)
                        .await
                        .map_err(|e| e.message(proxy, target)),
                }
            };
            let attempt = tokio::time::timeout(timeout, dial);
            let outcome = tokio::select! {
                outcome = attempt => outcome,
                _ = shutdown.wait_for(|closing| *closing) => {
                    shared.inbox.push(Event::ConnectFailed { peer: id, address, error: "engine is closing".into() });
                    return;
                }
            };
            let error = match outcome {
                Ok(Ok(stream)) => {
                    connection::start(&shared, stream, id, Direction::Outbound, None);
                    return;
                }
                Ok(Err(error)) => error,
                Err(_) => {
                    let ms = timeout.as_millis();
                    match &route {
                        Route::Direct => format!("connect timed out after {ms} ms"),
                        Route::Proxy { proxy, .. } => format!(
                            "connect timed out after {ms} ms through SOCKS5 proxy {proxy}, waiting for {}",
                            proxy::Stage::load(&stage).waiting_for()
                        ),
                    }
                }
            };
            shared.inbox.push(Event::ConnectFailed {
                peer: id,
                address,
                error,
            });
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
        let link = self.sending_to(peer, command, payload)?;
        let frame = encode_frame(self.shared.magic, command, payload);
        Ok(link.send_chunk(&self.shared.inbox, frame, 1))
    }

    /// The link a message goes out on, told what it is about to carry.
    fn sending_to(
        &self,
        peer: PeerId,
        command: &Command,
        payload: &[u8],
    ) -> Result<Arc<PeerLink>, UnknownPeer> {
        let link = self.shared.link(peer).ok_or(UnknownPeer(peer))?;
        self.note_sending(&link, command, payload);
        Ok(link)
    }

    /// Tells `link` what it is about to carry: our verack, a ping's send time.
    fn note_sending(&self, link: &PeerLink, command: &Command, payload: &[u8]) {
        link.note_sent(command);
        link.standing
            .note_sent(command, payload, || self.shared.now_us());
    }

    /// Frames and queues one message without writing it yet: call
    /// [`Driver::flush`] at the end of the caller's turn. Many small sends
    /// then cost one write (a per-message write is a syscall each), and a
    /// quiet peer's message still goes out as soon as the turn ends. Returns
    /// the status and the queue's credit after it (see `Outbox::credit`).
    pub fn send_corked(
        &self,
        peer: PeerId,
        command: &Command,
        payload: &[u8],
    ) -> Result<(SendStatus, usize), UnknownPeer> {
        let corked = self.send_corked_run(peer, [(command, payload)])?;
        Ok((corked.status, corked.credit))
    }

    /// [`Driver::send_corked`] for a run of messages to one peer, under one
    /// lock: it stops at the first message the queue refuses. What a message
    /// tells the driver (a ping's send time, our verack) is noted here, as it
    /// reaches the queue: for sends staged in JavaScript, at the end of the
    /// turn, which is also when they are written.
    pub fn send_corked_run<'a>(
        &self,
        peer: PeerId,
        sends: impl IntoIterator<Item = (&'a Command, &'a [u8])>,
    ) -> Result<Corked, UnknownPeer> {
        let link = self.shared.link(peer).ok_or(UnknownPeer(peer))?;
        let sends = sends
            .into_iter()
            .inspect(|&(command, payload)| self.note_sending(&link, command, payload));
        let corked = link.queue_frames(&self.shared.inbox, self.shared.magic, sends);
        if corked.first {
            lock(&self.shared.corked).push(link);
        }
        Ok(corked)
    }

    /// The counter bumped whenever any peer's send queue closes (see
    /// `Shared::closes`): credit reported before it moved may be stale.
    pub fn close_counter(&self) -> Arc<AtomicU32> {
        self.shared.closes.clone()
    }

    /// Writes what corked sends queued, for every peer that has some.
    pub fn flush(&self) {
        let links = std::mem::take(&mut *lock(&self.shared.corked));
        for link in links {
            link.flush(&self.shared.inbox);
        }
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
        let inbox = &self.shared.inbox;
        let mut status = link.send_chunk(inbox, run, payloads.len());
        let mut sent = if status.is_queued() {
            payloads.len()
        } else {
            0
        };
        if matches!(status, SendStatus::Full | SendStatus::TooLarge) {
            // The run as a whole does not fit: queue what fits, in order.
            for payload in payloads {
                status =
                    link.send_chunk(inbox, encode_frame(self.shared.magic, command, payload), 1);
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
            let status = link.send_chunk(&self.shared.inbox, frame.clone(), 1);
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

    /// Lifts the pre-handshake payload limit and receive budget for `peer`,
    /// and stops counting it against the handshaking slots.
    pub fn mark_handshake_complete(&self, peer: PeerId) -> Result<(), UnknownPeer> {
        let link = self.shared.link(peer).ok_or(UnknownPeer(peer))?;
        link.handshake_complete.store(true, Ordering::Release);
        lock(&link.state).complete_handshake();
        link.reader_resume.notify_one();
        Ok(())
    }

    /// Ends a connection. With `flush`, what is already queued is written first
    /// (bounded by the flush timeout). Returns false if it was already closing.
    pub fn disconnect(&self, peer: PeerId, reason: &str, flush: bool) -> Result<bool, UnknownPeer> {
        let link = self.shared.link(peer).ok_or(UnknownPeer(peer))?;
        Ok(self
            .shared
            .close_link(&link, DisconnectReason::Requested(reason.to_owned()), flush))
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
            lock(&link.state).set_limits(&limits);
            // Its reader decides whether the new budget lets it resume.
            link.reader_resume.notify_one();
        }
    }

    pub fn limits(&self) -> PeerLimits {
        self.shared.limits()
    }

    pub fn connection_limits(&self) -> ConnectionLimits {
        *lock(&self.shared.connections)
    }

    /// New slot counts apply to the next accepted socket; nobody is closed
    /// for them.
    pub fn set_connection_limits(&self, limits: ConnectionLimits) {
        *lock(&self.shared.connections) = limits;
    }

    pub fn batch_limits(&self) -> BatchLimits {
        *lock(&self.shared.batch)
    }

    pub fn set_batch_limits(&self, limits: BatchLimits) {
        *lock(&self.shared.batch) = limits;
    }

    /// Closes inbound sockets from `ip` at accept for the next `for_ms`
    /// (the application's ban; 0 lifts it). Connections already up are the
    /// application's to close.
    pub fn refuse_host(&self, ip: IpAddr, for_ms: u64) {
        let now = self.shared.now_ms();
        lock(&self.shared.refused).refuse(ip, now.saturating_add(for_ms), now);
    }

    /// Accepts inbound sockets from `ip` again; whether it was refused.
    pub fn allow_host(&self, ip: IpAddr) -> bool {
        lock(&self.shared.refused).allow(ip)
    }

    pub fn stats(&self) -> DriverStats {
        DriverStats {
            inbound_refused: self.shared.inbound_refused.load(Ordering::Relaxed),
            inbound_evicted: self.shared.inbound_evicted.load(Ordering::Relaxed),
            inbound_banned: self.shared.inbound_banned.load(Ordering::Relaxed),
            send_stalled: self.shared.send_stalled.load(Ordering::Relaxed),
        }
    }

    /// Takes one batch of events (bounded by the batch limits, fair across
    /// peers). The receive budget of what it carries stays charged until
    /// [`Driver::release`], so a peer's input counts against it until the
    /// application has finished with it. A batch not yet released is released
    /// first. `more` says whether to come back without waiting for a wake-up.
    pub fn poll(&self) -> Drained {
        self.release();
        let limits = self.batch_limits();
        let drained = self.shared.inbox.drain(&limits);
        let mut unreleased = lock(&self.shared.unreleased);
        for event in &drained.events {
            let (peer, bytes) = match event {
                Event::Frame { peer, frame } => (*peer, held_cost(frame)),
                Event::Dropped { peer, .. } => (*peer, DROPPED_EVENT_COST),
                _ => continue,
            };
            match unreleased.last_mut() {
                Some((last, total)) if *last == peer => *total += bytes,
                _ => unreleased.push((peer, bytes)),
            }
        }
        drained
    }

    /// Takes everything deliverable now, batch after batch, releasing each at
    /// once: for callers that are finished with events as soon as they have
    /// them (tests, tools). Held peers' input stays held.
    pub fn drain(&self) -> Vec<Event> {
        let mut events = Vec::new();
        loop {
            let batch = self.poll();
            self.release();
            events.extend(batch.events);
            if !batch.more {
                return events;
            }
        }
    }

    /// The application has finished with the last batch: credit the receive
    /// budgets it was charged to (waking readers that were paused on them).
    pub fn release(&self) {
        let mut credit = std::mem::take(&mut *lock(&self.shared.unreleased));
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
                    lock(&link.state).budget.on_consumed(bytes);
                    // Its reader decides whether this is enough to resume.
                    link.reader_resume.notify_one();
                }
                // Counted for peers already gone too: their input was charged.
                self.shared.credit_total(bytes);
            }
        }
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
            held: self.shared.inbox.is_held(peer),
            min_ping_us: link.standing.min_ping_us(),
        })
    }

    pub fn peer_ids(&self) -> Vec<PeerId> {
        let mut ids: Vec<PeerId> = read(&self.shared.peers).keys().copied().collect();
        ids.sort_unstable();
        ids
    }

    #[cfg(feature = "test-hooks")]
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
            self.shared
                .close_link(&link, DisconnectReason::Shutdown, true);
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

/// What an event was charged against its peer's receive budget.
fn event_cost(event: &Event) -> usize {
    match event {
        Event::Frame { frame, .. } => held_cost(frame),
        Event::Dropped { .. } => DROPPED_EVENT_COST,
        _ => 0,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DriverConfig;
    use std::time::Instant;

    #[test]
    fn peer_ids_wrap_past_zero_and_skip_live_ones() {
        let driver = Driver::new(DriverConfig::new([1, 2, 3, 4]), Box::new(|| {})).unwrap();
        let (_, addr) = driver.listen("127.0.0.1:0").unwrap();
        driver.shared.next_id.store(u32::MAX, Ordering::Relaxed);
        assert_eq!(driver.connect(&addr.to_string(), None), u32::MAX);
        let deadline = Instant::now() + Duration::from_secs(5);
        // The outbound side is u32::MAX; the accepted side wrapped to 1 (0 is never used).
        while driver.peer_ids() != vec![1, u32::MAX] {
            assert!(Instant::now() < deadline, "{:?}", driver.peer_ids());
            std::thread::sleep(Duration::from_millis(5));
        }
        driver.shared.next_id.store(u32::MAX, Ordering::Relaxed);
        assert_eq!(
            driver.shared.next_peer_id(),
            2,
            "u32::MAX and 1 are live, 0 is never used"
        );
    }
}
