//! Admission for the tokio driver: describes the live connections to the
//! core's decision (peerwire_core::admission) and maps its answer back to a
//! connection.

use crate::event::PeerId;
use crate::link::{Direction, PeerLink};
use peerwire_core::admission::{self, Admission as Decision, Occupancy, Occupant};
use peerwire_core::ConnectionLimits;
use std::collections::HashMap;
use std::sync::Arc;

pub(crate) enum Admission {
    Admit,
    /// Admit the newcomer once this connection is gone.
    Evict(Arc<PeerLink>),
    Refuse,
}

fn occupants(peers: &HashMap<PeerId, Arc<PeerLink>>) -> Vec<Occupant> {
    peers
        .values()
        .filter(|l| !l.is_closing())
        .map(|l| Occupant {
            id: l.id,
            inbound: l.direction == Direction::Inbound,
            handshake_complete: l.handshake_complete(),
            netgroup: l.standing.netgroup,
            connected_at_ms: l.standing.connected_at_ms,
            min_ping_us: l.standing.min_ping_us(),
            last_block_at_ms: l.standing.last_block_at_ms(),
            last_tx_at_ms: l.standing.last_tx_at_ms(),
        })
        .collect()
}

pub(crate) fn occupancy(peers: &HashMap<PeerId, Arc<PeerLink>>) -> Occupancy {
    admission::occupancy(&occupants(peers))
}

pub(crate) fn admit_inbound(
    peers: &HashMap<PeerId, Arc<PeerLink>>,
    limits: &ConnectionLimits,
    secret: u64,
    draw: u64,
    now_ms: u64,
) -> Admission {
    match admission::admit_inbound(&occupants(peers), limits, secret, draw, now_ms) {
        Decision::Admit => Admission::Admit,
        Decision::Evict(id) => match peers.get(&id) {
            Some(link) => Admission::Evict(link.clone()),
            None => Admission::Refuse,
        },
        Decision::Refuse => Admission::Refuse,
    }
}
