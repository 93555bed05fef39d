//! Which inbound connection to drop when a new one arrives and inbound is full.
//!
//! The shape of Bitcoin Core's `SelectNodeToEvict`: a few peers are protected
//! for each property an attacker finds hard to fake (a distinct netgroup, a low
//! ping, recently useful messages, a long uptime); of the rest, the youngest
//! peer of the most crowded netgroup goes.
//!
//! Pure: the driver gathers the candidates and their clocks, and deals with
//! sockets stuck in the handshake before asking; this decides.

use crate::netgroup::NetGroup;

/// Protected for netgroup diversity (Core: 4).
const PROTECT_BY_NETGROUP: usize = 4;
/// Protected for the lowest minimum ping (Core: 8).
const PROTECT_BY_PING: usize = 8;
/// Protected for the most recent transaction (Core: 4).
const PROTECT_BY_TX: usize = 4;
/// Protected for the most recent block (Core: 4).
const PROTECT_BY_BLOCK: usize = 4;

/// One inbound connection as eviction sees it. Times are milliseconds on any
/// monotonic clock the caller likes; larger is later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvictionCandidate {
    pub id: u64,
    /// The peer's netgroup, mixed with a per-node secret (see
    /// [`keyed_netgroup`]) so an attacker cannot aim for the protected ones.
    pub keyed_netgroup: u64,
    pub connected_at_ms: u64,
    /// Lowest ping round trip seen, in microseconds.
    pub min_ping_us: Option<u64>,
    pub last_block_at_ms: Option<u64>,
    pub last_tx_at_ms: Option<u64>,
}

/// Mixes a netgroup with a secret (SplitMix64 finaliser: cheap, well spread).
pub fn keyed_netgroup(group: NetGroup, secret: u64) -> u64 {
    let mut z = group ^ secret;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The connection to evict, or `None` when every candidate is protected.
pub fn select_to_evict(candidates: &[EvictionCandidate]) -> Option<u64> {
    let mut rest: Vec<EvictionCandidate> = candidates.to_vec();
    protect(&mut rest, PROTECT_BY_NETGROUP, |c| c.keyed_netgroup);
    // Lowest ping protected: sort descending, the last ones are the lowest.
    protect(&mut rest, PROTECT_BY_PING, |c| {
        u64::MAX - c.min_ping_us.unwrap_or(u64::MAX)
    });
    protect(&mut rest, PROTECT_BY_TX, |c| c.last_tx_at_ms.unwrap_or(0));
    protect(&mut rest, PROTECT_BY_BLOCK, |c| {
        c.last_block_at_ms.unwrap_or(0)
    });
    // Half of what is left, by longest uptime.
    let half = rest.len() / 2;
    protect(&mut rest, half, |c| u64::MAX - c.connected_at_ms);
    if rest.is_empty() {
        return None;
    }
    // The most crowded netgroup; on a tie, the one with the youngest member.
    rest.sort_by_key(|c| (c.keyed_netgroup, c.connected_at_ms, c.id));
    let mut best: Option<(usize, u64, u64)> = None; // (size, youngest time, youngest id)
    let mut i = 0;
    while i < rest.len() {
        let group = rest[i].keyed_netgroup;
        let start = i;
        while i < rest.len() && rest[i].keyed_netgroup == group {
            i += 1;
        }
        let youngest = rest[i - 1];
        let size = i - start;
        let better = match best {
            None => true,
            Some((s, t, _)) => size > s || (size == s && youngest.connected_at_ms > t),
        };
        if better {
            best = Some((size, youngest.connected_at_ms, youngest.id));
        }
    }
    best.map(|(_, _, id)| id)
}

/// Removes the `k` candidates with the largest `key` (they are protected).
/// Ties go to the longer-connected peer (as Core's comparators), then by id,
/// so the choice does not depend on input order.
fn protect(list: &mut Vec<EvictionCandidate>, k: usize, key: impl Fn(&EvictionCandidate) -> u64) {
    list.sort_by_key(|c| (key(c), u64::MAX - c.connected_at_ms, u64::MAX - c.id));
    let keep = list.len().saturating_sub(k);
    list.truncate(keep);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(id: u64, group: u64, at: u64) -> EvictionCandidate {
        EvictionCandidate {
            id,
            keyed_netgroup: group,
            connected_at_ms: at,
            min_ping_us: None,
            last_block_at_ms: None,
            last_tx_at_ms: None,
        }
    }

    #[test]
    fn too_few_candidates_means_nobody_is_evicted() {
        let list: Vec<_> = (0..4).map(|i| peer(i, i, i)).collect();
        assert_eq!(select_to_evict(&list), None);
    }

    #[test]
    fn the_youngest_of_the_most_crowded_netgroup_goes() {
        // 30 honest peers in distinct groups, then 20 attackers from group 999.
        let mut list: Vec<_> = (0..30).map(|i| peer(i, i, i)).collect();
        list.extend((0..20).map(|i| peer(100 + i, 999, 1000 + i)));
        assert_eq!(select_to_evict(&list), Some(119));
    }

    #[test]
    fn low_ping_and_useful_peers_are_protected() {
        // Everyone in one group: the youngest would go, unless protected.
        let mut list: Vec<_> = (0..40).map(|i| peer(i, 7, i)).collect();
        list[39].min_ping_us = Some(50);
        for p in &mut list[..39] {
            p.min_ping_us.get_or_insert(10_000);
        }
        assert_ne!(select_to_evict(&list), Some(39), "lowest ping is protected");
        list[38].last_block_at_ms = Some(5);
        let victim = select_to_evict(&list).unwrap();
        assert!(victim != 38 && victim != 39, "a recent block protects too");
    }

    #[test]
    fn long_lived_peers_are_protected_whatever_their_group() {
        let list: Vec<_> = (0..40).map(|i| peer(i, i % 2, i)).collect();
        let victim = select_to_evict(&list).unwrap();
        assert!(victim >= 20, "the oldest half survives, got {victim}");
    }

    #[test]
    fn keyed_netgroups_differ_by_secret() {
        assert_ne!(keyed_netgroup(5, 1), keyed_netgroup(5, 2));
        assert_eq!(keyed_netgroup(5, 1), keyed_netgroup(5, 1));
    }
}
