//! Invariants that must hold at every step, whatever was injected. Each
//! check counts how often it ran, so a run that checked nothing shows it.

use crate::net::read_overshoot;
use crate::node::NodeId;
use crate::world::World;
use peerwire_core::PeerId;

/// How often (virtual µs) every node's slots are swept.
const FULL_CHECK_EVERY_US: u64 = 1_000_000;

impl World {
    /// Every node's slots, at most once per virtual second: a node's counts
    /// only grow when a connection opens, which checks that node at once, so
    /// this sweep is a backstop, and sweeping all nodes at every step made a
    /// 1,000-node run quadratic.
    pub(crate) fn check_all(&mut self) {
        if self.now_us < self.next_full_check_us {
            return;
        }
        self.next_full_check_us = self.now_us.saturating_add(FULL_CHECK_EVERY_US);
        for n in 0..self.nodes.len() as NodeId {
            self.check_slots(n);
        }
    }

    /// Connection slots never exceed their limits.
    pub(crate) fn check_slots(&mut self, n: NodeId) {
        let node = &self.nodes[n as usize];
        if !node.up {
            return;
        }
        let (inbound, outbound, handshaking) = node.slot_counts();
        let c = node.config.connections;
        self.counters.bump("check.slots");
        // Outbound connections are the application's to limit; inbound ones
        // are admitted only while the total has room.
        if inbound > c.max_inbound
            || handshaking > c.max_handshaking.max(1)
            || inbound > c.max_connections
        {
            self.violate(format!(
                "node {n}: {inbound} inbound ({handshaking} handshaking), {outbound} outbound \
                 exceed limits {c:?}"
            ));
        }
    }

    /// A peer's charged input stays within its receive budget, give or take
    /// what one read can complete.
    pub(crate) fn check_budget(&mut self, n: NodeId, p: PeerId) {
        let node = &self.nodes[n as usize];
        let Some(conn) = node.conns.get(&p) else {
            return;
        };
        let limits = &node.config.limits;
        let bound = conn.state.budget.limit()
            + read_overshoot(limits.wake.read_bytes, limits.decode.max_payload as usize);
        let pending = conn.state.budget.pending();
        self.counters.bump("check.budget");
        if pending > bound {
            self.violate(format!(
                "node {n} peer {p}: {pending} bytes charged, over the bound {bound}"
            ));
        }
    }
}
