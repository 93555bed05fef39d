//! Faults injected over time: every kind rolls on a fixed tick, with a
//! Poisson count of hits from its rate and the population it applies to
//! (connections, nodes, or the world), targets drawn from its own stream.

use crate::net::Goodbye;
use crate::node::NodeId;
use crate::world::{Action, Notice, Partition, SimError, World};
use peerwire_core::{DisconnectReason, PeerId};
use std::collections::BTreeSet;

/// How often each fault kind rolls (virtual µs).
const TICK_US: u64 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    Reset,
    Fin,
    HalfOpen,
    Partition,
    Clog,
    Crash,
}

const KINDS: [FaultKind; 6] = [
    FaultKind::Reset,
    FaultKind::Fin,
    FaultKind::HalfOpen,
    FaultKind::Partition,
    FaultKind::Clog,
    FaultKind::Crash,
];

impl FaultKind {
    fn name(self) -> &'static str {
        match self {
            FaultKind::Reset => "reset",
            FaultKind::Fin => "fin",
            FaultKind::HalfOpen => "half-open",
            FaultKind::Partition => "partition",
            FaultKind::Clog => "clog",
            FaultKind::Crash => "crash",
        }
    }
}

impl World {
    /// Schedules the first roll of every kind whose rate is not zero.
    pub(crate) fn start_chaos(&mut self) {
        self.chaos_epoch += 1;
        let epoch = self.chaos_epoch;
        for kind in KINDS {
            if self.rate(kind) > 0.0 {
                self.schedule(self.now_us + TICK_US, Action::Chaos { kind, epoch });
            }
        }
    }

    fn rate(&self, kind: FaultKind) -> f64 {
        let f = &self.faults;
        match kind {
            FaultKind::Reset => f.reset_per_second_p,
            FaultKind::Fin => f.fin_per_second_p,
            FaultKind::HalfOpen => f.half_open_per_second_p,
            FaultKind::Partition => f.partition_per_second_p,
            FaultKind::Clog => f.clog_per_second_p,
            FaultKind::Crash => f.crash_per_second_p,
        }
    }

    /// Replaces every fault knob (link latency and bandwidth already drawn stay).
    pub fn set_faults(&mut self, faults: crate::faults::Faults) -> Result<(), SimError> {
        faults.validate().map_err(SimError::Invalid)?;
        self.faults = faults;
        self.record("set-faults".into(), &[]);
        self.start_chaos();
        Ok(())
    }

    /// Live, unfrozen connection ends on running nodes, in a fixed order.
    fn live_ends(&self) -> impl Iterator<Item = (NodeId, PeerId)> + '_ {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, node)| node.up)
            .flat_map(|(i, node)| {
                node.conns
                    .values()
                    .filter(|conn| conn.is_open() && !conn.frozen)
                    .map(move |conn| (i as NodeId, conn.id))
            })
    }

    fn up_nodes(&self) -> Vec<NodeId> {
        (0..self.nodes.len() as NodeId)
            .filter(|&n| self.nodes[n as usize].up)
            .collect()
    }

    pub(crate) fn chaos_tick(&mut self, kind: FaultKind, epoch: u32) {
        if epoch != self.chaos_epoch {
            return;
        }
        self.schedule(self.now_us + TICK_US, Action::Chaos { kind, epoch });
        let population = match kind {
            FaultKind::Reset | FaultKind::Fin | FaultKind::HalfOpen => self.live_ends().count(),
            FaultKind::Clog | FaultKind::Crash => self.nodes.iter().filter(|n| n.up).count(),
            FaultKind::Partition => {
                usize::from(self.nodes.len() >= 2 && self.partitions.is_empty())
            }
        };
        if population == 0 {
            return;
        }
        let lambda = self.rate(kind) * population as f64 * (TICK_US as f64 / 1e6);
        let hits = poisson(self.rng.get(kind.name()), lambda);
        for _ in 0..hits {
            self.inject(kind);
        }
    }

    fn inject(&mut self, kind: FaultKind) {
        let f = self.faults;
        match kind {
            FaultKind::Reset | FaultKind::Fin | FaultKind::HalfOpen => {
                let ends: Vec<_> = self.live_ends().collect();
                if ends.is_empty() {
                    return;
                }
                let (n, p) = ends[self.rng.get(kind.name()).below(ends.len() as u64) as usize];
                self.counters.bump(&format!("fault.{}", kind.name()));
                self.record(format!("fault {} n{n} p{p}", kind.name()), &[]);
                match kind {
                    FaultKind::Reset => self.end_conn(
                        n,
                        p,
                        DisconnectReason::Io("connection reset (injected)".into()),
                        Goodbye::Rst,
                    ),
                    FaultKind::Fin => self.end_conn(
                        n,
                        p,
                        DisconnectReason::Io("connection closed (injected)".into()),
                        Goodbye::Fin,
                    ),
                    _ => {
                        if let Some(conn) = self.conn_mut(n, p) {
                            conn.frozen = true;
                        }
                    }
                }
            }
            FaultKind::Partition => {
                let mut nodes: Vec<NodeId> = (0..self.nodes.len() as NodeId).collect();
                let rng = self.rng.get("partition");
                // Fisher-Yates, then the first k on one side.
                for i in (1..nodes.len()).rev() {
                    let j = rng.below(i as u64 + 1) as usize;
                    nodes.swap(i, j);
                }
                let k = rng.between(1, (nodes.len() / 2).max(1) as u64) as usize;
                let one_way = rng.chance(f.one_way_p);
                let ms = rng.between(f.partition_min_ms as u64, f.partition_max_ms as u64);
                let a: Vec<NodeId> = nodes[..k].to_vec();
                let b: Vec<NodeId> = nodes[k..].to_vec();
                let id = self.partition(&a, &b, one_way);
                self.schedule(
                    self.now_us.saturating_add(ms.saturating_mul(1000)),
                    Action::Heal(id),
                );
            }
            FaultKind::Clog => {
                let up = self.up_nodes();
                if up.is_empty() {
                    return;
                }
                let rng = self.rng.get("clog");
                let n = up[rng.below(up.len() as u64) as usize];
                let ms = rng.between(f.clog_min_ms as u64, f.clog_max_ms as u64);
                let _ = self.clog(n, ms as f64);
            }
            FaultKind::Crash => {
                let up = self.up_nodes();
                // Every node may be down already: several hits in one tick.
                if up.is_empty() {
                    return;
                }
                let rng = self.rng.get("crash");
                let n = up[rng.below(up.len() as u64) as usize];
                let ms = rng.between(f.restart_min_ms as u64, f.restart_max_ms as u64);
                let _ = self.crash(n);
                let generation = self.nodes[n as usize].generation;
                self.schedule(
                    self.now_us.saturating_add(ms.saturating_mul(1000)),
                    Action::Restart {
                        node: n,
                        generation,
                    },
                );
            }
        }
    }

    /// Holds traffic from every node in `a` to every node in `b` (and back,
    /// unless one-way) until healed. Returns the partition's id.
    pub fn partition(&mut self, a: &[NodeId], b: &[NodeId], one_way: bool) -> u32 {
        let id = self.next_partition;
        self.next_partition += 1;
        self.counters.bump("fault.partition");
        if one_way {
            self.counters.bump("fault.partition-one-way");
        }
        self.record(
            format!("partition {id} {a:?} | {b:?} one_way={one_way}"),
            &[],
        );
        self.partitions.insert(
            id,
            Partition {
                a: a.iter().copied().collect::<BTreeSet<_>>(),
                b: b.iter().copied().collect::<BTreeSet<_>>(),
                one_way,
            },
        );
        id
    }

    /// Ends one partition, or all. Held streams resume, as TCP retransmits.
    pub fn heal(&mut self, id: Option<u32>) {
        match id {
            Some(id) => {
                if self.partitions.remove(&id).is_none() {
                    return;
                }
            }
            None => self.partitions.clear(),
        }
        self.record(format!("heal {id:?}"), &[]);
        self.resume_stalled();
    }

    /// Streams held by a partition or a crashed receiver that may flow again
    /// resume, their held bytes retransmitted after the link's latency.
    fn resume_stalled(&mut self) {
        let stalled: Vec<u64> = self
            .pipes
            .iter()
            .filter(|(_, p)| {
                p.stalled && !self.blocked(p.from.0, p.to.0) && self.nodes[p.to.0 as usize].up
            })
            .map(|(id, _)| *id)
            .collect();
        let now = self.now_us;
        for id in stalled {
            let pipe = self.pipes.get_mut(&id).expect("listed");
            pipe.stalled = false;
            if pipe.segments.is_empty() {
                continue;
            }
            pipe.arrive_scheduled = true;
            let at = now + pipe.latency_us;
            self.schedule(at, Action::Arrive(id));
        }
    }

    /// Holds all traffic to and from a node for `ms`, then delivers it in order.
    pub fn clog(&mut self, n: NodeId, ms: f64) -> Result<(), SimError> {
        // `as` saturates: an infinite or huge clog holds the node for good.
        let until = self.now_us.saturating_add((ms.max(0.0) * 1000.0) as u64);
        let node = self.node_mut(n)?;
        node.clogged_until_us = node.clogged_until_us.max(until);
        self.counters.bump("fault.clog");
        self.record(format!("clog n{n} {ms}"), &[]);
        Ok(())
    }

    /// The node dies: its connections vanish without a word, its listeners and
    /// pending events with them.
    pub fn crash(&mut self, n: NodeId) -> Result<(), SimError> {
        let node = self.node_mut(n)?;
        if !node.up {
            return Ok(());
        }
        node.up = false;
        node.generation += 1;
        node.conns.clear();
        node.dialing.clear();
        node.inbox.clear();
        node.in_hand.clear();
        node.total_pending = 0;
        node.listeners.clear();
        node.closing = false;
        node.closed = false;
        self.counters.bump("fault.crash");
        self.notices.push(Notice::Crashed(n));
        self.record(format!("crash n{n}"), &[]);
        let orphans: Vec<u64> = self
            .pipes
            .iter()
            .filter(|(_, p)| p.from.0 == n || p.to.0 == n)
            .map(|(id, _)| *id)
            .collect();
        for id in orphans {
            self.maybe_drop_pipe(id);
        }
        Ok(())
    }

    /// A crashed node comes back empty: no connections, no listeners.
    pub fn restart(&mut self, n: NodeId) -> Result<(), SimError> {
        let node = self.node_mut(n)?;
        if node.up {
            return Ok(());
        }
        node.up = true;
        node.clogged_until_us = 0;
        self.counters.bump("fault.restart");
        self.notices.push(Notice::Restarted(n));
        self.record(format!("restart n{n}"), &[]);
        self.resume_stalled();
        Ok(())
    }
}

/// A Poisson-distributed count with mean `lambda` (inversion; lambda is small).
fn poisson(rng: &mut crate::rng::Rng, lambda: f64) -> u32 {
    if lambda <= 0.0 {
        return 0;
    }
    let mut k = 0;
    let mut p = (-lambda).exp();
    let mut cdf = p;
    let u = rng.unit();
    while u > cdf && k < 1000 {
        k += 1;
        p *= lambda / f64::from(k);
        cdf += p;
    }
    k
}
