//! The simulated network as JavaScript sees it: one `SimWorld` hosting many
//! nodes, each with the same transport calls, codes and event batches as a
//! `NativeEngine`, stepped synchronously (no threads, virtual time).

use crate::batch::{pack, EventBatch};
use crate::engine::{
    command, status_code, BroadcastResult, ListenInfo, NativePeerInfo, NativeStats,
    SEND_UNKNOWN_PEER,
};
use crate::options::{
    apply_connection_limits, apply_limits, driver_config, parse_magic, NativeConnectionLimits,
    NativeEngineOptions, NativeLimits,
};
use napi::bindgen_prelude::Object;
use napi::{Env, Error, Result, Status};
use napi_derive::napi;
use peerwire_driver::BatchLimits;
use peerwire_sim::{Faults, NodeConfig, Notice, SimError, World};
use std::net::Ipv4Addr;

/// Every fault knob; omitted fields keep the profile's value.
#[napi(object)]
#[derive(Default)]
pub struct SimFaults {
    pub latency_min_ms: Option<f64>,
    pub latency_max_ms: Option<f64>,
    pub bandwidth_min_bps: Option<f64>,
    pub bandwidth_max_bps: Option<f64>,
    pub max_segment_bytes: Option<u32>,
    pub connect_refuse_p: Option<f64>,
    pub connect_hang_p: Option<f64>,
    pub reset_per_second_p: Option<f64>,
    pub fin_per_second_p: Option<f64>,
    pub half_open_per_second_p: Option<f64>,
    pub bit_flip_p: Option<f64>,
    pub partition_per_second_p: Option<f64>,
    pub partition_min_ms: Option<f64>,
    pub partition_max_ms: Option<f64>,
    pub one_way_p: Option<f64>,
    pub clog_per_second_p: Option<f64>,
    pub clog_min_ms: Option<f64>,
    pub clog_max_ms: Option<f64>,
    pub crash_per_second_p: Option<f64>,
    pub restart_min_ms: Option<f64>,
    pub restart_max_ms: Option<f64>,
    pub clock_drift_max_ppm: Option<f64>,
}

#[napi(object)]
pub struct SimWorldOptions {
    /// The seed, as a decimal u64 ("7").
    pub seed: String,
    /// Network magic, 8 hex digits in wire order.
    pub magic: String,
    /// "none", "default" (the default) or "harsh".
    pub profile: Option<String>,
    pub faults: Option<SimFaults>,
}

#[napi(object)]
#[derive(Default)]
pub struct SimNodeOptions {
    pub limits: Option<NativeLimits>,
    pub connections: Option<NativeConnectionLimits>,
    pub connect_timeout_ms: Option<u32>,
    pub flush_timeout_ms: Option<u32>,
    pub send_stall_timeout_ms: Option<u32>,
    pub total_recv_budget_bytes: Option<u32>,
    /// Parts per million the node's clock runs fast (default: drawn from the profile).
    pub clock_drift_ppm: Option<f64>,
    pub clock_offset_ms: Option<f64>,
}

/// A node's clock: it reads `baseMs + now() * rate`, and a duration `d` on it
/// is `d / rate` virtual ms (what nodeTime and nodeDelay compute).
#[napi(object)]
pub struct SimNodeClock {
    pub base_ms: f64,
    pub rate: f64,
}

/// A node's live (not closing) connections, as its slots count them.
#[napi(object)]
pub struct SimSlotCounts {
    pub inbound: u32,
    /// Inbound connections whose handshake is not complete.
    pub handshaking: u32,
    pub total: u32,
}

/// A node went down ("crashed") or came back ("restarted").
#[napi(object)]
pub struct SimNodeNotice {
    pub node: u32,
    pub kind: String,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(Status::InvalidArg, msg.into())
}

fn sim_error(e: SimError) -> Error {
    invalid(e.to_string())
}

fn apply_faults(mut f: Faults, js: &SimFaults) -> Faults {
    macro_rules! set {
        ($($field:ident),*) => {$(
            if let Some(v) = js.$field {
                f.$field = v;
            }
        )*};
    }
    set!(
        latency_min_ms,
        latency_max_ms,
        bandwidth_min_bps,
        bandwidth_max_bps,
        connect_refuse_p,
        connect_hang_p,
        reset_per_second_p,
        fin_per_second_p,
        half_open_per_second_p,
        bit_flip_p,
        partition_per_second_p,
        partition_min_ms,
        partition_max_ms,
        one_way_p,
        clog_per_second_p,
        clog_min_ms,
        clog_max_ms,
        crash_per_second_p,
        restart_min_ms,
        restart_max_ms,
        clock_drift_max_ppm
    );
    if let Some(v) = js.max_segment_bytes {
        f.max_segment_bytes = v as usize;
    }
    f
}

fn profile(name: Option<&str>) -> Result<Faults> {
    let name = name.unwrap_or("default");
    Faults::profile(name).ok_or_else(|| {
        invalid(format!(
            "unknown fault profile \"{name}\": expected one of {}",
            peerwire_sim::PROFILES.join(", ")
        ))
    })
}

fn ms_to_us(ms: f64) -> Result<u64> {
    if !ms.is_finite() || ms < 0.0 {
        return Err(invalid(format!(
            "a time must be a finite number >= 0, got {ms}"
        )));
    }
    Ok((ms * 1000.0).round() as u64)
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

#[napi]
pub struct SimWorld {
    world: World,
    magic: String,
}

#[napi]
impl SimWorld {
    #[napi(constructor, catch_unwind)]
    pub fn new(options: SimWorldOptions) -> Result<Self> {
        let seed: u64 = options.seed.trim().parse().map_err(|_| {
            invalid(format!(
                "seed must be a decimal integer from 0 to 18446744073709551615, got \"{}\"",
                options.seed
            ))
        })?;
        let magic = parse_magic(&options.magic)?;
        let mut faults = profile(options.profile.as_deref())?;
        if let Some(js) = &options.faults {
            faults = apply_faults(faults, js);
        }
        let world = World::new(seed, magic, faults).map_err(sim_error)?;
        Ok(Self {
            world,
            magic: options.magic,
        })
    }

    /// Adds a node at IPv4 `ip`; returns its id (0, 1, 2...).
    #[napi(catch_unwind)]
    pub fn add_node(&mut self, ip: String, options: Option<SimNodeOptions>) -> Result<u32> {
        let ip: Ipv4Addr = ip.parse().map_err(|_| {
            invalid(format!(
                "a simulated node needs an IPv4 address, got \"{ip}\""
            ))
        })?;
        let o = options.unwrap_or_default();
        let driver = driver_config(&NativeEngineOptions {
            magic: self.magic.clone(),
            limits: o.limits,
            connect_timeout_ms: o.connect_timeout_ms,
            flush_timeout_ms: o.flush_timeout_ms,
            send_stall_timeout_ms: o.send_stall_timeout_ms,
            connections: o.connections,
            total_recv_budget_bytes: o.total_recv_budget_bytes,
            worker_threads: None,
        })?;
        let mut config = NodeConfig::new(driver.limits);
        config.connections = driver.connections;
        config.batch_max_events = driver.batch.max_events;
        config.batch_max_bytes = driver.batch.max_bytes;
        config.connect_timeout = driver.connect_timeout;
        config.flush_timeout = driver.flush_timeout;
        config.send_stall_timeout = driver.send_stall_timeout;
        config.total_recv_budget = driver.total_recv_budget;
        config.clock_drift_ppm = o.clock_drift_ppm;
        config.clock_offset_ms = o.clock_offset_ms.unwrap_or(0.0);
        self.world.add_node(ip, config).map_err(sim_error)
    }

    #[napi(catch_unwind)]
    pub fn node_count(&self) -> u32 {
        self.world.node_count() as u32
    }

    #[napi(catch_unwind)]
    pub fn node_ip(&self, node: u32) -> Result<String> {
        Ok(self.world.node_ip(node).map_err(sim_error)?.to_string())
    }

    /// Listens on `port` (0 picks one). `host` is accepted for symmetry with
    /// `NativeEngine.listen`; a node has one address.
    #[napi(catch_unwind)]
    pub fn listen(&mut self, node: u32, host: String, port: u32) -> Result<ListenInfo> {
        let _ = host;
        let port =
            u16::try_from(port).map_err(|_| invalid(format!("port {port} is out of range")))?;
        let (id, port) = self.world.listen(node, port).map_err(sim_error)?;
        Ok(ListenInfo {
            id,
            host: self.world.node_ip(node).map_err(sim_error)?.to_string(),
            port: u32::from(port),
        })
    }

    #[napi(catch_unwind)]
    pub fn connect(&mut self, node: u32, address: String) -> Result<u32> {
        self.world.connect(node, &address).map_err(sim_error)
    }

    #[napi(catch_unwind)]
    pub fn send(
        &mut self,
        node: u32,
        peer: u32,
        command_name: String,
        payload: &[u8],
    ) -> Result<u32> {
        let command = command(&command_name)?;
        Ok(match self.world.send(node, peer, &command, payload) {
            Ok(status) => status_code(status),
            Err(SimError::UnknownPeer(_)) => SEND_UNKNOWN_PEER,
            Err(e) => return Err(sim_error(e)),
        })
    }

    #[napi(catch_unwind)]
    pub fn broadcast(
        &mut self,
        node: u32,
        command_name: String,
        payload: &[u8],
        peers: Option<Vec<u32>>,
    ) -> Result<BroadcastResult> {
        let command = command(&command_name)?;
        let report = self
            .world
            .broadcast(node, peers.as_deref(), &command, payload)
            .map_err(sim_error)?;
        Ok(BroadcastResult {
            queued: report.queued.len() as u32,
            backpressure: report.backpressure,
            refused: report.refused,
        })
    }

    #[napi(catch_unwind)]
    pub fn mark_handshake_complete(&mut self, node: u32, peer: u32) -> Result<()> {
        self.world
            .mark_handshake_complete(node, peer)
            .map_err(sim_error)
    }

    #[napi(catch_unwind)]
    pub fn disconnect(
        &mut self,
        node: u32,
        peer: u32,
        reason: String,
        flush: Option<bool>,
    ) -> bool {
        self.world
            .disconnect(node, peer, &reason, flush.unwrap_or(false))
    }

    #[napi(catch_unwind)]
    pub fn set_limits(&mut self, node: u32, limits: NativeLimits) -> Result<()> {
        let (current, _) = self.world.limits(node).map_err(sim_error)?;
        let next = apply_limits(current, &limits)?;
        self.world.set_limits(node, next).map_err(sim_error)
    }

    #[napi(catch_unwind)]
    pub fn set_connection_limits(
        &mut self,
        node: u32,
        limits: NativeConnectionLimits,
    ) -> Result<()> {
        let (_, connections) = self.world.limits(node).map_err(sim_error)?;
        let (max_events, max_bytes) = self.world.batch_limits(node).map_err(sim_error)?;
        let batch = BatchLimits {
            max_events,
            max_bytes,
            ..BatchLimits::default()
        };
        let (connections, batch) = apply_connection_limits(connections, batch, &limits)?;
        self.world
            .set_connection_limits(node, connections, batch.max_events, batch.max_bytes)
            .map_err(sim_error)
    }

    #[napi(catch_unwind)]
    pub fn peer_info(&self, node: u32, peer: u32) -> Option<NativePeerInfo> {
        let info = self.world.peer_info(node, peer)?;
        Some(NativePeerInfo {
            id: info.id,
            inbound: info.inbound,
            remote: info.remote.to_string(),
            local: info.local.to_string(),
            bytes_in: info.stats.bytes_in as f64,
            messages_in: info.stats.messages_in as f64,
            bytes_out: info.stats.bytes_out as f64,
            messages_out: info.stats.messages_out as f64,
            messages_dropped: info.stats.messages_dropped as f64,
            send_queue_bytes: info.send_queue_bytes as f64,
            recv_pending_bytes: info.recv_pending_bytes as f64,
            read_buffered_bytes: info.read_buffered_bytes as f64,
            read_buffer_capacity: info.read_buffer_capacity as f64,
            handshake_complete: info.handshake_complete,
            closing: info.closing,
            held: info.held,
            min_ping_us: info.min_ping_us.map(|us| us as f64),
        })
    }

    /// The node's slot counts in one call (what peerIds and a peerInfo per
    /// peer would add up to).
    #[napi(catch_unwind)]
    pub fn slot_counts(&self, node: u32) -> SimSlotCounts {
        let (inbound, outbound, handshaking) = self.world.slot_counts(node);
        SimSlotCounts {
            inbound: inbound as u32,
            handshaking: handshaking as u32,
            total: (inbound + outbound) as u32,
        }
    }

    #[napi(catch_unwind)]
    pub fn peer_ids(&self, node: u32) -> Vec<u32> {
        self.world.peer_ids(node)
    }

    #[napi(catch_unwind)]
    pub fn stats(&self, node: u32) -> Result<NativeStats> {
        let s = self.world.stats(node).map_err(sim_error)?;
        Ok(NativeStats {
            inbound_refused: s.inbound_refused as f64,
            inbound_evicted: s.inbound_evicted as f64,
            // The simulated driver keeps no ban list of its own.
            inbound_banned: 0.0,
            send_stalled: s.send_stalled as f64,
        })
    }

    /// Graceful close of a node's transport; `closed` is its last event.
    #[napi(catch_unwind)]
    pub fn close_node(&mut self, node: u32) -> Result<()> {
        self.world.close_node(node).map_err(sim_error)
    }

    /// Node ids with events waiting, ascending.
    #[napi(catch_unwind)]
    pub fn ready_nodes(&self) -> Vec<u32> {
        self.world.ready_nodes()
    }

    /// Takes a batch of the node's events (the same format as
    /// `NativeEngine.poll`); `null` when none wait.
    #[napi(catch_unwind)]
    pub fn poll(&mut self, env: Env, node: u32) -> Result<Option<EventBatch>> {
        let (events, more) = self.world.poll(node).map_err(sim_error)?;
        if events.is_empty() {
            return Ok(None);
        }
        Ok(Some(pack(&env, events, more, None).0))
    }

    /// The node's last batch is handled: its input stops counting against
    /// budgets and paused readers resume, at the current virtual time.
    #[napi(catch_unwind)]
    pub fn release(&mut self, node: u32) -> Result<()> {
        self.world.release(node).map_err(sim_error)
    }

    /// Virtual time, ms.
    #[napi(catch_unwind)]
    pub fn now(&self) -> f64 {
        us_to_ms(self.world.now_us())
    }

    /// Virtual ms of the next scheduled network action, or null when none is.
    #[napi(catch_unwind)]
    pub fn next_event_at(&self) -> Option<f64> {
        self.world.next_event_at().map(us_to_ms)
    }

    /// Runs every network action due at or before `time` (virtual ms), then
    /// moves the clock there. Returns how many ran.
    #[napi(catch_unwind)]
    pub fn advance_to(&mut self, time: f64) -> Result<u32> {
        let until = ms_to_us(time)?;
        if until < self.world.now_us() {
            return Err(invalid(format!(
                "cannot go back in time: now is {} ms, asked for {time}",
                self.now()
            )));
        }
        Ok(self.world.advance_to(until) as u32)
    }

    /// Runs network actions up to `time` (inclusive) but stops right after the
    /// first that leaves events for a polled node. Returns true when it
    /// stopped for events (now() is that action's time), false when it
    /// reached `time`.
    #[napi(catch_unwind)]
    pub fn advance_until_ready(&mut self, time: f64) -> Result<bool> {
        let until = ms_to_us(time)?;
        if until < self.world.now_us() {
            return Err(invalid(format!(
                "cannot go back in time: now is {} ms, asked for {time}",
                self.now()
            )));
        }
        Ok(self.world.advance_until_ready(until))
    }

    /// Whether the application takes `node`'s events: a node whose reading
    /// is stalled is not polled, and must not stop `advanceUntilReady`.
    #[napi(catch_unwind)]
    pub fn set_polled(&mut self, node: u32, polled: bool) -> Result<()> {
        self.world.set_polled(node, polled).map_err(sim_error)
    }

    /// The node's own clock (epoch, offset and drift applied), ms.
    #[napi(catch_unwind)]
    pub fn node_time(&self, node: u32) -> Result<f64> {
        self.world.node_time_ms(node).map_err(sim_error)
    }

    /// The node's clock as numbers, fixed for its life: a caller that knows
    /// now() computes nodeTime and nodeDelay without a call per reading.
    #[napi(catch_unwind)]
    pub fn node_clock(&self, node: u32) -> Result<SimNodeClock> {
        let (base_ms, rate) = self.world.node_clock(node).map_err(sim_error)?;
        Ok(SimNodeClock { base_ms, rate })
    }

    /// A duration on the node's clock, in virtual ms.
    #[napi(catch_unwind)]
    pub fn node_delay(&self, node: u32, ms: f64) -> Result<f64> {
        self.world.node_delay_ms(node, ms).map_err(sim_error)
    }

    #[napi(catch_unwind)]
    pub fn crash(&mut self, node: u32) -> Result<()> {
        self.world.crash(node).map_err(sim_error)
    }

    #[napi(catch_unwind)]
    pub fn restart(&mut self, node: u32) -> Result<()> {
        self.world.restart(node).map_err(sim_error)
    }

    #[napi(catch_unwind)]
    pub fn is_up(&self, node: u32) -> Result<bool> {
        self.world.is_up(node).map_err(sim_error)
    }

    /// Crashes and restarts since the last call, in order.
    #[napi(catch_unwind)]
    pub fn take_node_notices(&mut self) -> Vec<SimNodeNotice> {
        self.world
            .take_notices()
            .into_iter()
            .map(|notice| match notice {
                Notice::Crashed(node) => SimNodeNotice {
                    node,
                    kind: "crashed".into(),
                },
                Notice::Restarted(node) => SimNodeNotice {
                    node,
                    kind: "restarted".into(),
                },
            })
            .collect()
    }

    /// Holds traffic from every node in `a` to every node in `b` (and back
    /// unless `oneWay`); returns the partition's id.
    #[napi(catch_unwind)]
    pub fn partition(&mut self, a: Vec<u32>, b: Vec<u32>, one_way: Option<bool>) -> Result<u32> {
        let n = self.world.node_count() as u32;
        if let Some(bad) = a.iter().chain(&b).find(|&&x| x >= n) {
            return Err(invalid(format!("unknown node {bad}")));
        }
        Ok(self.world.partition(&a, &b, one_way.unwrap_or(false)))
    }

    /// Heals one partition, or every one.
    #[napi(catch_unwind)]
    pub fn heal(&mut self, partition: Option<u32>) {
        self.world.heal(partition);
    }

    #[napi(catch_unwind)]
    pub fn clog(&mut self, node: u32, ms: f64) -> Result<()> {
        self.world.clog(node, ms).map_err(sim_error)
    }

    /// Replaces the fault knobs: a profile's, with overrides.
    #[napi(catch_unwind)]
    pub fn set_faults(
        &mut self,
        profile_name: Option<String>,
        faults: Option<SimFaults>,
    ) -> Result<()> {
        let mut f = profile(profile_name.as_deref())?;
        if let Some(js) = &faults {
            f = apply_faults(f, js);
        }
        self.world.set_faults(f).map_err(sim_error)
    }

    /// A u32 from the world's stream named `stream`.
    #[napi(catch_unwind)]
    pub fn random_u32(&mut self, stream: String) -> u32 {
        self.world.random_u32(&stream)
    }

    /// Hex SHA-256 of every trace record so far.
    #[napi(catch_unwind)]
    pub fn trace_hash(&self) -> String {
        self.world.trace_hash()
    }

    /// Adds a record of the application's own to the trace (so that what the
    /// application decides is part of the run's fingerprint).
    #[napi(catch_unwind)]
    pub fn trace_note(&mut self, line: String) {
        self.world.note(&line);
    }

    #[napi(catch_unwind)]
    pub fn set_trace_log(&mut self, on: bool) {
        self.world.set_trace_log(on);
    }

    #[napi(catch_unwind)]
    pub fn take_trace(&mut self) -> Vec<String> {
        self.world.take_trace()
    }

    /// Counters by name, in name order.
    #[napi(catch_unwind)]
    pub fn counters<'a>(&self, env: &'a Env) -> Result<Object<'a>> {
        let mut out = Object::new(env)?;
        for (name, value) in self.world.counters() {
            out.set(&name, value as f64)?;
        }
        Ok(out)
    }

    /// Invariant violations seen so far (empty while everything holds).
    #[napi(catch_unwind)]
    pub fn violations(&self) -> Vec<String> {
        self.world.violations().to_vec()
    }
}
