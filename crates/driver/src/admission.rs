//! Whether an accepted socket may stay: decided before a byte is read from it.
//!
//! Inbound sockets are counted against the inbound and total slots and, until
//! the application marks their handshake complete, against the handshaking
//! slots. When a newcomer finds no slot, an existing inbound connection may
//! give up its own; otherwise the newcomer is closed at once:
//! - a socket that has sat in the handshake past `stale_handshake` goes first,
//!   so idle sockets cannot hold slots for the whole handshake timeout;
//! - when only the handshaking slots are full, a random handshaking socket
//!   of the netgroup holding the most of them goes: under a churning socket
//!   flood from one netgroup the attacker mostly evicts its own sockets, and
//!   even from many an honest peer mid-handshake survives each arrival with
//!   odds (n-1)/n, where "oldest first" would kill it after n arrivals and
//!   "refuse" would lock it out;
//! - when inbound is full, Bitcoin Core's eviction (peerwire_core::evict).

use crate::config::ConnectionLimits;
use crate::link::{Direction, PeerLink};
use peerwire_core::{keyed_netgroup, select_to_evict, EvictionCandidate};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::event::PeerId;

/// What to do with a new inbound socket.
pub(crate) enum Admission {
    Admit,
    /// Admit it, and close this connection to make room.
    Evict(Arc<PeerLink>),
    /// Close it: every slot is taken and nobody may be evicted.
    Refuse,
}

/// Counts of live connections (those not already closing).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Occupancy {
    pub total: usize,
    pub inbound: usize,
    pub handshaking_inbound: usize,
}

pub(crate) fn occupancy(peers: &HashMap<PeerId, Arc<PeerLink>>) -> Occupancy {
    let mut o = Occupancy::default();
    for link in peers.values().filter(|l| !l.is_closing()) {
        o.total += 1;
        if link.direction == Direction::Inbound {
            o.inbound += 1;
            if !link.handshake_complete() {
                o.handshaking_inbound += 1;
            }
        }
    }
    o
}

/// Decides for one new inbound socket at `now_ms` (driver clock).
/// `secret` keys netgroups; `draw` is a fresh number for the random choice.
pub(crate) fn admit_inbound(
    peers: &HashMap<PeerId, Arc<PeerLink>>,
    limits: &ConnectionLimits,
    secret: u64,
    draw: u64,
    now_ms: u64,
) -> Admission {
    let o = occupancy(peers);
    let full = o.inbound >= limits.max_inbound || o.total >= limits.max_connections;
    if !full && o.handshaking_inbound < limits.max_handshaking {
        return Admission::Admit;
    }
    let inbound = || {
        peers
            .values()
            .filter(|l| l.direction == Direction::Inbound && !l.is_closing())
    };
    // A socket that has sat in the handshake too long is the cheapest to lose.
    let stale_after = duration_ms(limits.stale_handshake);
    let stalest = inbound()
        .filter(|l| !l.handshake_complete())
        .min_by_key(|l| (l.standing.connected_at_ms, l.id));
    if let Some(link) = stalest {
        if now_ms.saturating_sub(link.standing.connected_at_ms) >= stale_after {
            return Admission::Evict(link.clone());
        }
    }
    if !full {
        // Only the handshaking slots are taken, by sockets still within their time.
        // At random, from the netgroup holding the most of them: an attacker's
        // churn then mostly evicts its own sockets.
        let mut handshaking: Vec<&Arc<PeerLink>> =
            inbound().filter(|l| !l.handshake_complete()).collect();
        let mut counts: HashMap<u64, usize> = HashMap::new();
        for link in &handshaking {
            *counts.entry(link.standing.netgroup).or_default() += 1;
        }
        let Some((&crowd, _)) = counts.iter().max_by_key(|(group, n)| (**n, **group)) else {
            return Admission::Refuse;
        };
        handshaking.retain(|l| l.standing.netgroup == crowd);
        handshaking.sort_unstable_by_key(|l| l.id);
        let pick = keyed_netgroup(draw, secret) % handshaking.len() as u64;
        return Admission::Evict(handshaking[pick as usize].clone());
    }
    let candidates: Vec<EvictionCandidate> = inbound()
        .map(|l| EvictionCandidate {
            id: u64::from(l.id),
            keyed_netgroup: keyed_netgroup(l.standing.netgroup, secret),
            // Young handshaking sockets compete as Core's candidates do: they
            // are usually the youngest of their group, so they go first.
            connected_at_ms: l.standing.connected_at_ms,
            min_ping_us: l.standing.min_ping_us(),
            last_block_at_ms: l.standing.last_block_at_ms(),
            last_tx_at_ms: l.standing.last_tx_at_ms(),
        })
        .collect();
    match select_to_evict(&candidates).and_then(|id| peers.get(&(id as PeerId))) {
        Some(link) => Admission::Evict(link.clone()),
        None => Admission::Refuse,
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
