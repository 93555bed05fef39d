//! A simulated node: its listeners, connections and event inbox. The inbox
//! keeps the tokio driver's contract: the application takes a batch, handles
//! it and releases it, and a peer's input counts against its receive budget
//! until then.

use crate::conn::Conn;
use peerwire_core::{ConnectionLimits, Event, PeerId, PeerLimits};
use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

pub type NodeId = u32;

/// What a dropped-message event is charged (as the tokio driver charges it).
pub const DROPPED_EVENT_COST: usize = 128;

/// A node's settings: the tokio driver's, plus its clock's error.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub limits: PeerLimits,
    pub connections: ConnectionLimits,
    pub batch_max_events: usize,
    pub batch_max_bytes: usize,
    pub connect_timeout: Duration,
    pub flush_timeout: Duration,
    pub send_stall_timeout: Duration,
    pub total_recv_budget: usize,
    /// Parts per million the node's clock runs fast (negative: slow); `None`
    /// draws it from the fault profile.
    pub clock_drift_ppm: Option<f64>,
    pub clock_offset_ms: f64,
}

impl NodeConfig {
    pub fn new(limits: PeerLimits) -> Self {
        Self {
            limits,
            connections: ConnectionLimits::default(),
            batch_max_events: 2048,
            batch_max_bytes: 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            flush_timeout: Duration::from_secs(5),
            send_stall_timeout: Duration::from_secs(120),
            total_recv_budget: 32 * 1024 * 1024,
            clock_drift_ppm: None,
            clock_offset_ms: 0.0,
        }
    }
}

/// An outbound connect waiting for its answer.
#[derive(Debug, Clone)]
pub struct Dial {
    pub address: String,
    pub local: SocketAddrV4,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct NodeStats {
    pub inbound_refused: u64,
    pub inbound_evicted: u64,
    pub send_stalled: u64,
}

#[derive(Debug)]
pub struct Node {
    pub ip: Ipv4Addr,
    pub up: bool,
    /// Bumped by every crash: scheduled work for an older generation is void.
    pub generation: u32,
    pub config: NodeConfig,
    pub drift_ppm: f64,
    /// Port to listener id.
    pub listeners: BTreeMap<u16, u32>,
    pub next_listener: u32,
    pub next_port: u16,
    pub conns: BTreeMap<PeerId, Conn>,
    pub dialing: BTreeMap<PeerId, Dial>,
    /// Never reset, so ids are not reused across a restart.
    pub next_peer: PeerId,
    /// Events waiting for the application, each with what it is charged.
    pub inbox: VecDeque<(Event, usize)>,
    /// The charges of the batch the application holds.
    pub in_hand: Vec<(PeerId, usize)>,
    /// Input charged across all peers (waiting or in hand).
    pub total_pending: usize,
    pub closing: bool,
    pub closed: bool,
    pub stats: NodeStats,
    pub clogged_until_us: u64,
    /// Keys the netgroups for eviction.
    pub secret: u64,
    /// The application takes this node's events (see World::set_polled).
    pub polled: bool,
}

impl Node {
    pub fn new(ip: Ipv4Addr, config: NodeConfig, drift_ppm: f64, secret: u64) -> Self {
        Self {
            ip,
            up: true,
            generation: 0,
            config,
            drift_ppm,
            listeners: BTreeMap::new(),
            next_listener: 1,
            next_port: 49152,
            conns: BTreeMap::new(),
            dialing: BTreeMap::new(),
            next_peer: 1,
            inbox: VecDeque::new(),
            in_hand: Vec::new(),
            total_pending: 0,
            closing: false,
            closed: false,
            stats: NodeStats::default(),
            clogged_until_us: 0,
            secret,
            polled: true,
        }
    }

    pub fn new_peer_id(&mut self) -> PeerId {
        let id = self.next_peer;
        self.next_peer = self.next_peer.wrapping_add(1).max(1);
        id
    }

    pub fn ephemeral_port(&mut self) -> u16 {
        loop {
            let port = self.next_port;
            self.next_port = if port == u16::MAX { 49152 } else { port + 1 };
            if !self.listeners.contains_key(&port) {
                return port;
            }
        }
    }

    /// Takes a batch, bounded in events and payload bytes (at least one event).
    /// The previous batch is released first if it was not.
    pub fn take_batch(&mut self) -> (Vec<Event>, Vec<(PeerId, usize)>) {
        let mut events = Vec::new();
        let mut charges = Vec::new();
        let mut bytes = 0usize;
        while let Some((event, cost)) = self.inbox.front() {
            let size = match event {
                Event::Frame { frame, .. } => frame.payload.len(),
                _ => 0,
            };
            if !events.is_empty()
                && (events.len() >= self.config.batch_max_events
                    || bytes + size > self.config.batch_max_bytes)
            {
                break;
            }
            bytes += size;
            if *cost > 0 {
                if let Some(peer) = event_peer(event) {
                    charges.push((peer, *cost));
                }
            }
            let (event, _) = self.inbox.pop_front().expect("front exists");
            events.push(event);
        }
        (events, charges)
    }

    /// Live connections (not closing) by direction, and handshaking inbound.
    pub fn slot_counts(&self) -> (usize, usize, usize) {
        let mut inbound = 0;
        let mut outbound = 0;
        let mut handshaking = 0;
        for c in self.conns.values().filter(|c| c.is_open()) {
            if c.inbound {
                inbound += 1;
                if !c.state.handshake_complete() {
                    handshaking += 1;
                }
            } else {
                outbound += 1;
            }
        }
        (inbound, outbound, handshaking)
    }
}

/// The peer an event is about, if any.
pub fn event_peer(event: &Event) -> Option<PeerId> {
    match event {
        Event::Connected { peer, .. }
        | Event::ConnectFailed { peer, .. }
        | Event::Accepted { peer, .. }
        | Event::Frame { peer, .. }
        | Event::Dropped { peer, .. }
        | Event::Writable { peer }
        | Event::Disconnected { peer, .. } => Some(*peer),
        Event::ListenerError { .. } | Event::Closed => None,
    }
}
