//! Whether an arriving inbound socket may stay: decided before a byte is read.
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
//! - when inbound is full, Bitcoin Core's eviction ([`crate::evict`]).
//!
//! Pure, like the rest of the core: the tokio driver and the simulated driver
//! describe their connections as [`Occupant`]s and act on the answer.

use crate::event::PeerId;
use crate::evict::{keyed_netgroup, select_to_evict, EvictionCandidate};
use crate::netgroup::NetGroup;
use std::collections::BTreeMap;
use std::time::Duration;

/// Socket counts enforced when a connection arrives, before anything is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Inbound connections (Core leaves 125 less its outbound slots).
    pub max_inbound: usize,
    /// Inbound sockets that have not completed the handshake.
    pub max_handshaking: usize,
    /// Every connection, both directions (Core's -maxconnections, 125).
    pub max_connections: usize,
    /// A handshaking socket older than this may lose its slot to a newcomer
    /// even when inbound is not full.
    pub stale_handshake: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            max_inbound: 117,
            max_handshaking: 64,
            max_connections: 125,
            stale_handshake: Duration::from_secs(5),
        }
    }
}

/// A live (not closing) connection as admission sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Occupant {
    pub id: PeerId,
    pub inbound: bool,
    pub handshake_complete: bool,
    pub netgroup: NetGroup,
    pub connected_at_ms: u64,
    pub min_ping_us: Option<u64>,
    pub last_block_at_ms: Option<u64>,
    pub last_tx_at_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Admit,
    /// Admit the newcomer once this connection is gone.
    Evict(PeerId),
    Refuse,
}

/// How many slots of each kind are in use.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Occupancy {
    pub total: usize,
    pub inbound: usize,
    pub handshaking_inbound: usize,
}

pub fn occupancy(occupants: &[Occupant]) -> Occupancy {
    let mut o = Occupancy::default();
    for c in occupants {
        o.total += 1;
        if c.inbound {
            o.inbound += 1;
            if !c.handshake_complete {
                o.handshaking_inbound += 1;
            }
        }
    }
    o
}

/// Decides for one arriving socket. `secret` keys the netgroups (so an
/// attacker cannot aim for the protected ones), `draw` is a fresh random
/// number, `now_ms` is on the same clock as the occupants' times.
pub fn admit_inbound(
    occupants: &[Occupant],
    limits: &ConnectionLimits,
    secret: u64,
    draw: u64,
    now_ms: u64,
) -> Admission {
    let o = occupancy(occupants);
    let full = o.inbound >= limits.max_inbound || o.total >= limits.max_connections;
    if !full && o.handshaking_inbound < limits.max_handshaking {
        return Admission::Admit;
    }
    let inbound = || occupants.iter().filter(|c| c.inbound);
    let stale_after = u64::try_from(limits.stale_handshake.as_millis()).unwrap_or(u64::MAX);
    let stalest = inbound()
        .filter(|c| !c.handshake_complete)
        .min_by_key(|c| (c.connected_at_ms, c.id));
    if let Some(c) = stalest {
        if now_ms.saturating_sub(c.connected_at_ms) >= stale_after {
            return Admission::Evict(c.id);
        }
    }
    if !full {
        let mut handshaking: Vec<&Occupant> = inbound().filter(|c| !c.handshake_complete).collect();
        let mut counts: BTreeMap<NetGroup, usize> = BTreeMap::new();
        for c in &handshaking {
            *counts.entry(c.netgroup).or_default() += 1;
        }
        let Some((&crowd, _)) = counts.iter().max_by_key(|(group, n)| (**n, **group)) else {
            return Admission::Refuse;
        };
        handshaking.retain(|c| c.netgroup == crowd);
        handshaking.sort_unstable_by_key(|c| c.id);
        let pick = keyed_netgroup(draw, secret) % handshaking.len() as u64;
        return Admission::Evict(handshaking[pick as usize].id);
    }
    let candidates: Vec<EvictionCandidate> = inbound()
        .map(|c| EvictionCandidate {
            id: u64::from(c.id),
            keyed_netgroup: keyed_netgroup(c.netgroup, secret),
            connected_at_ms: c.connected_at_ms,
            min_ping_us: c.min_ping_us,
            last_block_at_ms: c.last_block_at_ms,
            last_tx_at_ms: c.last_tx_at_ms,
        })
        .collect();
    match select_to_evict(&candidates) {
        Some(id) => Admission::Evict(id as PeerId),
        None => Admission::Refuse,
    }
}
