//! The simulated world: nodes, the links between them, and the agenda that
//! moves virtual time. The application drives it: it calls the per-node
//! transport operations, takes each node's event batches, and advances time.
//!
//! This file holds the state and the application-facing calls; how bytes move
//! is in net.rs, what goes wrong in chaos.rs, what must always hold in checks.rs.

use crate::conn::Conn;
use crate::faults::Faults;
use crate::node::{event_peer, Node, NodeConfig, NodeId};
use crate::pipe::{fingerprint, Pipe, PipeId};
use crate::rng::Streams;
use crate::schedule::Agenda;
use crate::trace::{Counters, Trace};
use peerwire_core::{
    encode_frame, Command, ConnectionLimits, DisconnectReason, Event, Magic, PeerId, PeerLimits,
    PeerStats, SendStatus, HEADER_SIZE,
};
use std::collections::{BTreeMap, BTreeSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// What node clocks read at virtual time zero (ms since the Unix epoch).
pub const EPOCH_MS: f64 = 1_700_000_000_000.0;

/// Work scheduled on the agenda.
#[derive(Debug)]
pub(crate) enum Action {
    /// The head segment of a pipe reaches its receiver.
    Arrive(PipeId),
    /// A connect's SYN reaches the node that owns `to`.
    Syn {
        from: NodeId,
        generation: u32,
        peer: PeerId,
        to: std::net::SocketAddrV4,
    },
    /// The answer to a connect reaches the dialler.
    SynAck {
        node: NodeId,
        generation: u32,
        peer: PeerId,
        accepted: Option<(PipeId, PipeId)>,
    },
    ConnectTimeout {
        node: NodeId,
        generation: u32,
        peer: PeerId,
    },
    Write {
        node: NodeId,
        generation: u32,
        peer: PeerId,
    },
    StallCheck {
        node: NodeId,
        generation: u32,
        peer: PeerId,
    },
    FlushDeadline {
        node: NodeId,
        generation: u32,
        peer: PeerId,
    },
    /// A fault roll for one kind; `epoch` voids ticks from older knobs.
    Chaos {
        kind: crate::chaos::FaultKind,
        epoch: u32,
    },
    Heal(u32),
    /// A chaos crash's restart: only of the generation that crash ended, and
    /// only if the node is still down (a later crash by hand keeps it down).
    Restart {
        node: NodeId,
        generation: u32,
    },
}

/// A split of the world: traffic from `a` to `b` (and back, unless one-way) is held.
#[derive(Debug, Clone)]
pub struct Partition {
    pub a: BTreeSet<NodeId>,
    pub b: BTreeSet<NodeId>,
    pub one_way: bool,
}

/// A node went down or came back (the application rebuilds what ran on it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    Crashed(NodeId),
    Restarted(NodeId),
}

/// A connection as the application may inspect it.
#[derive(Debug, Clone)]
pub struct PeerInfo {
    pub id: PeerId,
    pub inbound: bool,
    pub remote: SocketAddr,
    pub local: SocketAddr,
    pub stats: PeerStats,
    pub send_queue_bytes: usize,
    pub recv_pending_bytes: usize,
    pub read_buffered_bytes: usize,
    pub read_buffer_capacity: usize,
    pub handshake_complete: bool,
    pub closing: bool,
    pub held: bool,
    pub min_ping_us: Option<u64>,
}

/// What a broadcast did, per peer.
#[derive(Debug, Default, Clone)]
pub struct BroadcastReport {
    pub queued: Vec<PeerId>,
    pub backpressure: Vec<PeerId>,
    pub refused: Vec<PeerId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimError {
    UnknownNode(NodeId),
    UnknownPeer(PeerId),
    Invalid(String),
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::UnknownNode(n) => write!(f, "unknown node {n}"),
            SimError::UnknownPeer(p) => write!(f, "unknown peer {p}"),
            SimError::Invalid(msg) => f.write_str(msg),
        }
    }
}

pub struct World {
    pub(crate) now_us: u64,
    pub(crate) agenda: Agenda<Action>,
    pub(crate) nodes: Vec<Node>,
    pub(crate) pipes: BTreeMap<PipeId, Pipe>,
    pub(crate) next_pipe: PipeId,
    /// Latency (µs) and bandwidth (bytes/s) per node pair, drawn on first use.
    pub(crate) links: BTreeMap<(NodeId, NodeId), (u64, f64)>,
    pub(crate) partitions: BTreeMap<u32, Partition>,
    pub(crate) next_partition: u32,
    pub(crate) faults: Faults,
    pub(crate) chaos_epoch: u32,
    pub(crate) rng: Streams,
    pub(crate) trace: Trace,
    pub(crate) counters: Counters,
    pub(crate) violations: Vec<String>,
    pub(crate) notices: Vec<Notice>,
    pub(crate) magic: Magic,
    pub(crate) seed: u64,
    /// When check_all next sweeps every node.
    pub(crate) next_full_check_us: u64,
}

impl World {
    pub fn new(seed: u64, magic: Magic, faults: Faults) -> Result<Self, SimError> {
        faults.validate().map_err(SimError::Invalid)?;
        let mut world = Self {
            now_us: 0,
            agenda: Agenda::default(),
            nodes: Vec::new(),
            pipes: BTreeMap::new(),
            next_pipe: 1,
            links: BTreeMap::new(),
            partitions: BTreeMap::new(),
            next_partition: 1,
            faults,
            chaos_epoch: 0,
            rng: Streams::new(seed),
            trace: Trace::default(),
            counters: Counters::default(),
            violations: Vec::new(),
            next_full_check_us: 0,
            notices: Vec::new(),
            magic,
            seed,
        };
        world.record(format!("world seed={seed}"), &[]);
        world.start_chaos();
        Ok(world)
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    pub(crate) fn record(&mut self, line: String, bytes: &[u8]) {
        let line = format!("{} {line}", self.now_us);
        self.trace.record(&line, bytes);
    }

    pub(crate) fn schedule(&mut self, at_us: u64, action: Action) {
        self.agenda.push(at_us.max(self.now_us), action);
    }

    pub(crate) fn node(&self, n: NodeId) -> Result<&Node, SimError> {
        self.nodes.get(n as usize).ok_or(SimError::UnknownNode(n))
    }

    pub(crate) fn node_mut(&mut self, n: NodeId) -> Result<&mut Node, SimError> {
        self.nodes
            .get_mut(n as usize)
            .ok_or(SimError::UnknownNode(n))
    }

    pub(crate) fn conn_mut(&mut self, n: NodeId, p: PeerId) -> Option<&mut Conn> {
        let node = self.nodes.get_mut(n as usize)?;
        if !node.up {
            return None;
        }
        node.conns.get_mut(&p)
    }

    /// Queues an event for the node's application. `cost` is what it is
    /// charged against the node's total receive budget (the caller has
    /// charged the peer's own budget).
    pub(crate) fn emit(&mut self, n: NodeId, event: Event, cost: usize) {
        let print = match &event {
            Event::Frame { frame, .. } => {
                fingerprint(frame.command.as_str().as_bytes(), &frame.payload)
            }
            _ => 0,
        };
        self.emit_with(n, event, cost, print);
    }

    /// `emit` for a frame whose fingerprint the caller already has (`print`,
    /// recorded in the trace for the payload; ignored for other events).
    pub(crate) fn emit_with(&mut self, n: NodeId, event: Event, cost: usize, print: u64) {
        self.counters.bump("events");
        let line = match &event {
            Event::Frame { peer, frame } => {
                self.counters.bump("frames");
                let line = format!("n{n} frame p{peer} {}", frame.command.as_str());
                self.trace
                    .record(&format!("{} {line}", self.now_us), &print.to_le_bytes());
                None
            }
            Event::Dropped { peer, reason } => {
                self.counters
                    .bump(&format!("drop.{}", reason.kind().as_str()));
                Some(format!("n{n} dropped p{peer} {}", reason.kind().as_str()))
            }
            Event::Disconnected { peer, reason, .. } => {
                self.counters.bump(&format!("disconnect.{}", reason.code()));
                Some(format!("n{n} disconnected p{peer} {}", reason.code()))
            }
            other => Some(format!("n{n} {other:?}")),
        };
        if let Some(line) = line {
            self.record(line, &[]);
        }
        // No event for a peer after its end: only its last event may find it gone.
        if let Some(peer) = event_peer(&event) {
            let terminal = matches!(
                event,
                Event::Disconnected { .. } | Event::ConnectFailed { .. }
            );
            self.counters.bump("check.world-event-after-close");
            let known = self.nodes[n as usize].conns.contains_key(&peer);
            if !terminal && !known {
                self.violate(format!(
                    "node {n}: {event:?} for peer {peer}, which is gone"
                ));
            }
        }
        let node = &mut self.nodes[n as usize];
        node.total_pending += cost;
        node.inbox.push_back((event, cost));
    }

    pub(crate) fn violate(&mut self, what: String) {
        let line = format!("t={}us seed={}: {what}", self.now_us, self.seed);
        self.counters.bump("violations");
        if self.violations.len() < 100 {
            self.violations.push(line);
        }
    }

    // ---- nodes ----

    /// Adds a node at `ip`; returns its id.
    pub fn add_node(&mut self, ip: Ipv4Addr, config: NodeConfig) -> Result<NodeId, SimError> {
        if self.nodes.iter().any(|n| n.ip == ip) {
            return Err(SimError::Invalid(format!(
                "a node already has address {ip}"
            )));
        }
        if let Some(d) = config.clock_drift_ppm {
            // Node time must run forwards: a drift of -1e6 ppm stops the clock.
            if !(d.is_finite() && d.abs() < 100_000.0) {
                return Err(SimError::Invalid(format!(
                    "clockDriftPpm must be a finite number between -100000 and 100000, got {d}"
                )));
            }
        }
        if !(config.clock_offset_ms.is_finite() && config.clock_offset_ms.abs() <= 1e12) {
            return Err(SimError::Invalid(format!(
                "clockOffsetMs must be a finite number of ms within ±1e12, got {}",
                config.clock_offset_ms
            )));
        }
        let max = self.faults.clock_drift_max_ppm;
        let rng = self.rng.get("clock");
        let drift = config
            .clock_drift_ppm
            .unwrap_or_else(|| (rng.unit() * 2.0 - 1.0) * max);
        let secret = self.rng.get("secrets").next_u64();
        let id = self.nodes.len() as NodeId;
        self.nodes.push(Node::new(ip, config, drift, secret));
        self.record(format!("add n{id} {ip} drift={drift:.3}"), &[]);
        Ok(id)
    }

    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn node_ip(&self, n: NodeId) -> Result<Ipv4Addr, SimError> {
        Ok(self.node(n)?.ip)
    }

    pub fn is_up(&self, n: NodeId) -> Result<bool, SimError> {
        Ok(self.node(n)?.up)
    }

    pub fn limits(&self, n: NodeId) -> Result<(PeerLimits, ConnectionLimits), SimError> {
        let node = self.node(n)?;
        Ok((node.config.limits, node.config.connections))
    }

    pub fn batch_limits(&self, n: NodeId) -> Result<(usize, usize), SimError> {
        let node = self.node(n)?;
        Ok((node.config.batch_max_events, node.config.batch_max_bytes))
    }

    // ---- the per-node transport ----

    /// Starts listening on `port` (0 picks one); returns the listener id and port.
    pub fn listen(&mut self, n: NodeId, port: u16) -> Result<(u32, u16), SimError> {
        let node = self.node_mut(n)?;
        if !node.up || node.closing {
            return Err(SimError::Invalid(format!("node {n} is not running")));
        }
        let port = if port == 0 {
            node.ephemeral_port()
        } else {
            port
        };
        if node.listeners.contains_key(&port) {
            return Err(SimError::Invalid(format!(
                "cannot listen on {}:{port}: address in use",
                node.ip
            )));
        }
        let id = node.next_listener;
        node.next_listener += 1;
        node.listeners.insert(port, id);
        self.record(format!("n{n} listen {port} l{id}"), &[]);
        Ok((id, port))
    }

    /// Queues one message for a peer.
    pub fn send(
        &mut self,
        n: NodeId,
        p: PeerId,
        command: &Command,
        payload: &[u8],
    ) -> Result<SendStatus, SimError> {
        let now = self.now_us;
        let magic = self.magic;
        let node = self.node_mut(n)?;
        if !node.up {
            return Err(SimError::UnknownPeer(p));
        }
        let Some(conn) = node.conns.get_mut(&p) else {
            return Err(SimError::UnknownPeer(p));
        };
        if !conn.is_open() {
            return Ok(SendStatus::Closed);
        }
        let admitted = conn.state.outbox.admit(HEADER_SIZE + payload.len(), 1);
        let status = if admitted == SendStatus::Queued {
            conn.state.outbox.enqueue_frame(magic, command, payload)
        } else {
            admitted
        };
        let print = fingerprint(command.as_str().as_bytes(), payload);
        if status.is_queued() {
            self.on_queued(n, p, command, payload, print, status, now);
        }
        self.record(
            format!("n{n} send p{p} {} {status:?}", command.as_str()),
            &print.to_le_bytes(),
        );
        Ok(status)
    }

    /// Bookkeeping after a frame entered a peer's queue; `print` is its fingerprint.
    #[allow(clippy::too_many_arguments)]
    fn on_queued(
        &mut self,
        n: NodeId,
        p: PeerId,
        command: &Command,
        payload: &[u8],
        print: u64,
        status: SendStatus,
        now: u64,
    ) {
        let Some(conn) = self.conn_mut(n, p) else {
            return;
        };
        if command.as_str() == "verack" {
            conn.verack_sent = true;
        }
        conn.standing.note_sent(command, payload, now);
        if status == SendStatus::Backpressure {
            conn.held = true;
        }
        let tx = conn.tx;
        if let Some(pipe) = self.pipes.get_mut(&tx) {
            pipe.sent.push_back(print);
        }
        self.wake_writer(n, p);
    }

    /// Encodes once and queues the same bytes for each peer (every live one by default).
    pub fn broadcast(
        &mut self,
        n: NodeId,
        peers: Option<&[PeerId]>,
        command: &Command,
        payload: &[u8],
    ) -> Result<BroadcastReport, SimError> {
        let now = self.now_us;
        let frame = encode_frame(self.magic, command, payload);
        let print = fingerprint(command.as_str().as_bytes(), payload);
        let node = self.node_mut(n)?;
        let targets: Vec<PeerId> = match peers {
            Some(list) => list.to_vec(),
            None if node.up => node
                .conns
                .values()
                .filter(|c| c.is_open())
                .map(|c| c.id)
                .collect(),
            None => Vec::new(),
        };
        let mut report = BroadcastReport::default();
        for p in targets {
            let status = match self.conn_mut(n, p) {
                Some(conn) if conn.is_open() => conn.state.send(frame.clone()),
                Some(_) => SendStatus::Closed,
                None => {
                    report.refused.push(p);
                    continue;
                }
            };
            match status {
                SendStatus::Queued => report.queued.push(p),
                SendStatus::Backpressure => {
                    report.queued.push(p);
                    report.backpressure.push(p);
                }
                _ => report.refused.push(p),
            }
            if status.is_queued() {
                self.on_queued(n, p, command, payload, print, status, now);
            }
        }
        self.record(
            format!(
                "n{n} broadcast {} queued={:?} refused={:?}",
                command.as_str(),
                report.queued,
                report.refused
            ),
            &print.to_le_bytes(),
        );
        Ok(report)
    }

    /// The application accepted the peer: full payload limit and receive budget.
    pub fn mark_handshake_complete(&mut self, n: NodeId, p: PeerId) -> Result<(), SimError> {
        self.node(n)?;
        let Some(conn) = self.conn_mut(n, p) else {
            return Err(SimError::UnknownPeer(p));
        };
        conn.state.complete_handshake();
        self.record(format!("n{n} handshake-complete p{p}"), &[]);
        self.read(n, p);
        Ok(())
    }

    /// Ends a connection; with `flush`, what is queued is written first
    /// (bounded by the flush timeout). False when unknown or already closing.
    pub fn disconnect(&mut self, n: NodeId, p: PeerId, reason: &str, flush: bool) -> bool {
        self.record(format!("n{n} disconnect p{p} {reason} flush={flush}"), &[]);
        let now = self.now_us;
        let Some(node) = self.nodes.get(n as usize) else {
            return false;
        };
        let timeout = node.config.flush_timeout;
        let Some(conn) = self.conn_mut(n, p) else {
            return false;
        };
        if !conn.is_open() {
            return false;
        }
        let reason = DisconnectReason::Requested(reason.to_owned());
        if flush {
            self.begin_flush_close(n, p, reason, now, timeout);
        } else {
            self.end_conn(n, p, reason, crate::net::Goodbye::Fin);
        }
        true
    }

    pub fn set_limits(&mut self, n: NodeId, limits: PeerLimits) -> Result<(), SimError> {
        let node = self.node_mut(n)?;
        node.config.limits = limits;
        let peers: Vec<PeerId> = node.conns.keys().copied().collect();
        for conn in node.conns.values_mut() {
            conn.state.set_limits(&limits);
            conn.decoder.set_limits(limits.decode);
        }
        self.record(format!("n{n} set-limits"), &[]);
        for p in peers {
            self.read(n, p);
        }
        Ok(())
    }

    pub fn set_connection_limits(
        &mut self,
        n: NodeId,
        limits: ConnectionLimits,
        batch_max_events: usize,
        batch_max_bytes: usize,
    ) -> Result<(), SimError> {
        let node = self.node_mut(n)?;
        node.config.connections = limits;
        node.config.batch_max_events = batch_max_events.max(1);
        node.config.batch_max_bytes = batch_max_bytes.max(1);
        self.record(format!("n{n} set-connection-limits"), &[]);
        Ok(())
    }

    pub fn peer_info(&self, n: NodeId, p: PeerId) -> Option<PeerInfo> {
        let node = self.nodes.get(n as usize)?;
        let c = node.conns.get(&p)?;
        Some(PeerInfo {
            id: c.id,
            inbound: c.inbound,
            remote: c.remote,
            local: c.local,
            stats: c.state.stats,
            send_queue_bytes: c.state.outbox.pending_bytes(),
            recv_pending_bytes: c.state.budget.pending(),
            read_buffered_bytes: c.decoder.buffered(),
            read_buffer_capacity: c.decoder.capacity(),
            handshake_complete: c.state.handshake_complete(),
            closing: !c.is_open(),
            held: c.held,
            min_ping_us: c.standing.min_ping_us,
        })
    }

    /// Live (not closing) connections of a running node: (inbound, outbound,
    /// inbound still handshaking); zeros for an unknown or crashed node.
    pub fn slot_counts(&self, n: NodeId) -> (usize, usize, usize) {
        match self.nodes.get(n as usize) {
            Some(node) if node.up => node.slot_counts(),
            _ => (0, 0, 0),
        }
    }

    pub fn peer_ids(&self, n: NodeId) -> Vec<PeerId> {
        self.nodes
            .get(n as usize)
            .map(|node| node.conns.keys().copied().collect())
            .unwrap_or_default()
    }

    pub fn stats(&self, n: NodeId) -> Result<crate::node::NodeStats, SimError> {
        Ok(self.node(n)?.stats)
    }

    /// Graceful close of a node's transport: every connection is flushed and
    /// ended ("shutdown"), then `Closed` is its last event.
    pub fn close_node(&mut self, n: NodeId) -> Result<(), SimError> {
        let now = self.now_us;
        let node = self.node_mut(n)?;
        if node.closing || node.closed || !node.up {
            return Ok(());
        }
        node.closing = true;
        node.listeners.clear();
        let timeout = node.config.flush_timeout;
        let dials: Vec<(PeerId, String)> = std::mem::take(&mut node.dialing)
            .into_iter()
            .map(|(p, d)| (p, d.address))
            .collect();
        let open: Vec<PeerId> = node
            .conns
            .values()
            .filter(|c| c.is_open())
            .map(|c| c.id)
            .collect();
        self.record(format!("n{n} close"), &[]);
        for (peer, address) in dials {
            self.emit(
                n,
                Event::ConnectFailed {
                    peer,
                    address,
                    error: "engine is closing".into(),
                },
                0,
            );
        }
        for p in open {
            self.begin_flush_close(n, p, DisconnectReason::Shutdown, now, timeout);
        }
        self.maybe_closed(n);
        Ok(())
    }

    pub(crate) fn maybe_closed(&mut self, n: NodeId) {
        let node = &mut self.nodes[n as usize];
        if node.closing && !node.closed && node.conns.is_empty() {
            node.closed = true;
            self.emit(n, Event::Closed, 0);
        }
    }

    // ---- events ----

    /// Nodes with events waiting, ascending.
    pub fn ready_nodes(&self) -> Vec<NodeId> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, node)| node.up && !node.inbox.is_empty())
            .map(|(i, _)| i as NodeId)
            .collect()
    }

    /// Takes a batch of the node's events (releasing the previous one first).
    /// Returns the events and whether more are waiting.
    pub fn poll(&mut self, n: NodeId) -> Result<(Vec<Event>, bool), SimError> {
        self.release(n)?;
        let node = self.node_mut(n)?;
        let (events, charges) = node.take_batch();
        node.in_hand = charges;
        let more = !node.inbox.is_empty();
        Ok((events, more))
    }

    /// The node's application has finished with its batch: its input stops
    /// counting against budgets, and paused readers resume.
    pub fn release(&mut self, n: NodeId) -> Result<(), SimError> {
        let node = self.node_mut(n)?;
        if node.in_hand.is_empty() {
            return Ok(());
        }
        let charges = std::mem::take(&mut node.in_hand);
        for (peer, cost) in charges {
            node.total_pending = node.total_pending.saturating_sub(cost);
            if let Some(conn) = node.conns.get_mut(&peer) {
                conn.state.budget.on_consumed(cost);
            }
        }
        // Readers that waited for room (their own or the total) try again, in order.
        let waiting: Vec<PeerId> = node
            .conns
            .values()
            .filter(|c| !c.rx_buf.is_empty() || c.rx_fin)
            .map(|c| c.id)
            .collect();
        for p in waiting {
            self.read(n, p);
        }
        Ok(())
    }

    // ---- time ----

    pub fn now_us(&self) -> u64 {
        self.now_us
    }

    pub fn next_event_at(&self) -> Option<u64> {
        self.agenda.next_at()
    }

    /// Runs every action due at or before `until_us`, then moves the clock
    /// there. Returns how many actions ran.
    pub fn advance_to(&mut self, until_us: u64) -> usize {
        let mut ran = 0;
        while let Some((at, action)) = self.agenda.pop_due(until_us) {
            self.now_us = self.now_us.max(at);
            self.run(action);
            ran += 1;
        }
        self.now_us = self.now_us.max(until_us);
        self.check_all();
        ran
    }

    /// Runs actions in time order up to `until_us` (inclusive), stopping right
    /// after the first one that leaves events for a node the application
    /// polls: the application must see them before time moves on. Returns
    /// whether it stopped for events (the clock is at that action's time);
    /// otherwise the clock is at `until_us`.
    pub fn advance_until_ready(&mut self, until_us: u64) -> bool {
        let mut stopped = self.any_ready();
        while !stopped {
            let Some((at, action)) = self.agenda.pop_due(until_us) else {
                break;
            };
            self.now_us = self.now_us.max(at);
            self.run(action);
            stopped = self.any_ready();
        }
        if !stopped {
            self.now_us = self.now_us.max(until_us);
        }
        self.check_all();
        stopped
    }

    fn any_ready(&self) -> bool {
        self.nodes
            .iter()
            .any(|n| n.up && n.polled && !n.inbox.is_empty())
    }

    /// Whether the application takes this node's events (a stalled reader
    /// does not, and must not stop `advance_until_ready`).
    pub fn set_polled(&mut self, n: NodeId, polled: bool) -> Result<(), SimError> {
        self.node_mut(n)?.polled = polled;
        self.record(format!("n{n} polled={polled}"), &[]);
        Ok(())
    }

    fn run(&mut self, action: Action) {
        match action {
            Action::Arrive(pipe) => self.arrive(pipe),
            Action::Syn {
                from,
                generation,
                peer,
                to,
            } => self.on_syn(from, generation, peer, to),
            Action::SynAck {
                node,
                generation,
                peer,
                accepted,
            } => self.on_syn_ack(node, generation, peer, accepted),
            Action::ConnectTimeout {
                node,
                generation,
                peer,
            } => self.on_connect_timeout(node, generation, peer),
            Action::Write {
                node,
                generation,
                peer,
            } => {
                if self.current(node, generation) {
                    self.write(node, peer);
                }
            }
            Action::StallCheck {
                node,
                generation,
                peer,
            } => {
                if self.current(node, generation) {
                    self.stall_check(node, peer);
                }
            }
            Action::FlushDeadline {
                node,
                generation,
                peer,
            } => {
                if self.current(node, generation) {
                    self.flush_deadline(node, peer);
                }
            }
            Action::Chaos { kind, epoch } => self.chaos_tick(kind, epoch),
            Action::Heal(id) => self.heal(Some(id)),
            Action::Restart { node, generation } => {
                let down_since_that_crash = self
                    .nodes
                    .get(node as usize)
                    .is_some_and(|n| !n.up && n.generation == generation);
                if down_since_that_crash {
                    let _ = self.restart(node);
                }
            }
        }
    }

    /// Whether work scheduled for `generation` of node `n` still applies.
    pub(crate) fn current(&self, n: NodeId, generation: u32) -> bool {
        self.nodes
            .get(n as usize)
            .is_some_and(|node| node.up && node.generation == generation)
    }

    /// The node's clock as `(base_ms, rate)`: it reads
    /// `base_ms + virtual_ms * rate`, and a duration `d` on it is `d / rate`
    /// virtual ms. Both are fixed for the node's life, so the application may
    /// compute its clock itself (the same operations give the same bits)
    /// instead of asking.
    pub fn node_clock(&self, n: NodeId) -> Result<(f64, f64), SimError> {
        let node = self.node(n)?;
        Ok((
            EPOCH_MS + node.config.clock_offset_ms,
            1.0 + node.drift_ppm / 1e6,
        ))
    }

    /// The node's clock, in ms: the epoch, its offset, and virtual time run
    /// through its drift.
    pub fn node_time_ms(&self, n: NodeId) -> Result<f64, SimError> {
        let (base, rate) = self.node_clock(n)?;
        let virtual_ms = self.now_us as f64 / 1000.0;
        Ok(base + virtual_ms * rate)
    }

    /// A duration on the node's clock, in virtual ms.
    pub fn node_delay_ms(&self, n: NodeId, ms: f64) -> Result<f64, SimError> {
        let (_, rate) = self.node_clock(n)?;
        Ok(ms / rate)
    }

    // ---- determinism and coverage ----

    /// A number from the named stream, for the application's own randomness.
    pub fn random_u32(&mut self, stream: &str) -> u32 {
        let v = (self.rng.get(&format!("app:{stream}")).next_u64() >> 32) as u32;
        self.record(format!("random {stream} {v}"), &[]);
        v
    }

    pub fn trace_hash(&self) -> String {
        self.trace.hash_hex()
    }

    /// A record of the application's own.
    pub fn note(&mut self, line: &str) {
        self.record(format!("note {line}"), &[]);
    }

    pub fn set_trace_log(&mut self, on: bool) {
        self.trace.set_log(on);
    }

    pub fn take_trace(&mut self) -> Vec<String> {
        self.trace.take_lines()
    }

    pub fn counters(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> =
            self.counters.iter().map(|(k, v)| (k.clone(), *v)).collect();
        out.push(("trace.records".into(), self.trace.records()));
        out
    }

    pub fn violations(&self) -> &[String] {
        &self.violations
    }

    pub fn take_notices(&mut self) -> Vec<Notice> {
        std::mem::take(&mut self.notices)
    }

    pub(crate) fn duration_us(d: Duration) -> u64 {
        u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 4)
    }
}
