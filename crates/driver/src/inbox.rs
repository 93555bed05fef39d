//! The inbound queue between the connection tasks and the application.
//!
//! Each peer's events wait in its own FIFO; the application *pulls* batches,
//! and a batch takes a small quantum from each ready peer in turn (round
//! robin), within limits on events and bytes. So:
//! - one flooding peer delays a quiet peer's ping by one quantum at most, not
//!   by everything it managed to send;
//! - a batch is bounded in bytes and work, and the application goes back to
//!   its event loop (timers, signals, I/O) between batches;
//! - a peer whose send queue is past its pause point is *held*: its requests
//!   wait here, unprocessed, until it reads what we already owe it (Bitcoin
//!   Core's fPauseSend), and its receive budget stays charged, so its reader
//!   pauses too.
//!
//! Events that belong to no peer (listener errors) go first; `Closed` goes
//! last, once every peer's queue is empty.
//!
//! The consumer is woken (through the waker) only when it has nothing
//! outstanding: after a batch that left more behind, it is the consumer's job
//! to come back (the bridge does so from `setImmediate`, after the event loop
//! has had a turn).

use crate::event::{Event, PeerId};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Called (from a driver thread) when events are waiting; must not block.
pub type Waker = Box<dyn Fn() + Send + Sync>;

/// How much one batch may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchLimits {
    /// Events in one batch (at least one is always taken).
    pub max_events: usize,
    /// Frame payload bytes in one batch (a larger single frame still goes alone).
    pub max_bytes: usize,
    /// Events one peer contributes before the next ready peer's turn.
    pub peer_events: usize,
    /// Payload bytes one peer contributes before the next ready peer's turn.
    pub peer_bytes: usize,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_events: 2048,
            max_bytes: 1024 * 1024,
            peer_events: 64,
            peer_bytes: 64 * 1024,
        }
    }
}

/// One batch taken from the inbox.
#[derive(Debug, Default)]
pub struct Drained {
    pub events: Vec<Event>,
    /// More is deliverable now: the consumer should come back soon.
    pub more: bool,
}

#[derive(Default)]
struct PeerQueue {
    events: VecDeque<Event>,
    /// Listed in `ready`.
    listed: bool,
    /// Not served until our send queue to it drains (fPauseSend).
    held: bool,
    /// Its final event (disconnected, connect failed) is queued.
    ended: bool,
}

impl PeerQueue {
    fn deliverable(&self) -> bool {
        !self.held && !self.events.is_empty()
    }
}

#[derive(Default)]
struct State {
    peers: HashMap<PeerId, PeerQueue>,
    /// Peers with deliverable events, in turn order.
    ready: VecDeque<PeerId>,
    global: VecDeque<Event>,
    closed: bool,
}

impl State {
    fn list(&mut self, peer: PeerId) {
        if let Some(q) = self.peers.get_mut(&peer) {
            if !q.listed && q.deliverable() {
                q.listed = true;
                self.ready.push_back(peer);
            }
        }
    }

    fn has_deliverable(&self) -> bool {
        !self.global.is_empty() || !self.ready.is_empty() || (self.closed && self.peers.is_empty())
    }
}

pub struct Inbox {
    state: Mutex<State>,
    /// The consumer has been woken (or told to come back) and has not yet
    /// found the inbox empty.
    wake_pending: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

fn peer_of(event: &Event) -> Option<PeerId> {
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

/// Whether nothing follows this event for its peer.
fn is_terminal(event: &Event) -> bool {
    matches!(
        event,
        Event::Disconnected { .. } | Event::ConnectFailed { .. }
    )
}

impl Inbox {
    pub fn new(waker: Waker) -> Self {
        Self {
            state: Mutex::new(State::default()),
            wake_pending: AtomicBool::new(false),
            waker: Mutex::new(Some(waker)),
        }
    }

    pub fn push(&self, event: Event) {
        let wake = {
            let mut state = lock(&self.state);
            match peer_of(&event) {
                None if matches!(event, Event::Closed) => state.closed = true,
                None => state.global.push_back(event),
                Some(peer) => {
                    let queue = state.peers.entry(peer).or_default();
                    if is_terminal(&event) {
                        // Nothing is owed to a peer that is gone: serve what it sent.
                        queue.held = false;
                        queue.ended = true;
                    }
                    queue.events.push_back(event);
                    state.list(peer);
                }
            }
            state.has_deliverable()
        };
        if wake {
            self.wake();
        }
    }

    /// Appends all of `batch` (one peer's events), leaving it empty (its
    /// capacity is kept for reuse).
    pub fn push_batch(&self, peer: PeerId, batch: &mut Vec<Event>) {
        if batch.is_empty() {
            return;
        }
        let wake = {
            let mut state = lock(&self.state);
            let queue = state.peers.entry(peer).or_default();
            queue.events.extend(batch.drain(..));
            state.list(peer);
            state.has_deliverable()
        };
        if wake {
            self.wake();
        }
    }

    /// Holds a peer's queue (fPauseSend): our send queue to it is past its
    /// pause point.
    pub fn hold(&self, peer: PeerId) {
        if let Some(queue) = lock(&self.state).peers.get_mut(&peer) {
            // A peer that is gone owes nothing: holding it would keep its
            // last events, and `Closed`, from ever being delivered.
            queue.held = !queue.ended;
        }
    }

    /// Our send queue to `peer` has drained: release its queue and tell the
    /// application, in order after what the peer sent before.
    pub fn writable(&self, peer: PeerId) {
        let wake = {
            let mut state = lock(&self.state);
            let Some(queue) = state.peers.get_mut(&peer) else {
                return;
            };
            queue.held = false;
            queue.events.push_back(Event::Writable { peer });
            state.list(peer);
            state.has_deliverable()
        };
        if wake {
            self.wake();
        }
    }

    /// Whether events for `peer` may still be waiting (its id is in use).
    pub fn knows(&self, peer: PeerId) -> bool {
        lock(&self.state).peers.contains_key(&peer)
    }

    /// Whether `peer`'s queue is held.
    pub fn is_held(&self, peer: PeerId) -> bool {
        lock(&self.state).peers.get(&peer).is_some_and(|q| q.held)
    }

    /// Drops the frames and drop notices still waiting for `peer` (the
    /// application has let it go) and returns them, so their receive budget
    /// can be credited. Connection events stay.
    pub fn discard_input(&self, peer: PeerId) -> Vec<Event> {
        let mut state = lock(&self.state);
        let Some(queue) = state.peers.get_mut(&peer) else {
            return Vec::new();
        };
        let mut discarded = Vec::new();
        let mut kept = VecDeque::with_capacity(queue.events.len().min(4));
        for event in queue.events.drain(..) {
            match event {
                Event::Frame { .. } | Event::Dropped { .. } => discarded.push(event),
                other => kept.push_back(other),
            }
        }
        queue.events = kept;
        discarded
    }

    /// Takes one batch: each ready peer in turn contributes up to its quantum,
    /// until the batch is full or nothing deliverable is left.
    pub fn drain(&self, limits: &BatchLimits) -> Drained {
        let mut state = lock(&self.state);
        let mut out = Vec::new();
        out.extend(state.global.drain(..));
        let mut bytes = 0usize;
        let mut full = false;
        while !full && out.len() < limits.max_events.max(1) && bytes < limits.max_bytes {
            let Some(peer) = state.ready.pop_front() else {
                break;
            };
            let Some(queue) = state.peers.get_mut(&peer) else {
                continue;
            };
            queue.listed = false;
            let (mut events, mut peer_bytes, mut ended) = (0usize, 0usize, false);
            while !queue.held && events < limits.peer_events.max(1) {
                let size = match queue.events.front() {
                    None => break,
                    Some(Event::Frame { frame, .. }) => frame.payload.len(),
                    Some(_) => 0,
                };
                // A large frame waits for the next batch unless this one is empty.
                if bytes > 0 && bytes + size > limits.max_bytes {
                    full = true;
                    break;
                }
                let Some(event) = queue.events.pop_front() else {
                    break;
                };
                ended = is_terminal(&event);
                out.push(event);
                events += 1;
                bytes += size;
                peer_bytes += size;
                if ended
                    || peer_bytes >= limits.peer_bytes
                    || out.len() >= limits.max_events.max(1)
                    || bytes >= limits.max_bytes
                {
                    break;
                }
            }
            if !ended && queue.events.is_empty() && queue.events.capacity() > 0 {
                // Slots are not kept for the life of the peer: most peers idle,
                // and a busy one's next batch allocates once (push_batch).
                queue.events = VecDeque::new();
            }
            if ended {
                state.peers.remove(&peer);
            } else if events == 0 && full {
                // Its frame did not fit: it keeps its turn for the next batch.
                queue.listed = true;
                state.ready.push_front(peer);
            } else {
                // Back of the line, if it still has something to give.
                state.list(peer);
            }
        }
        if state.closed && state.peers.is_empty() && state.global.is_empty() {
            state.closed = false;
            out.push(Event::Closed);
        }
        let more = state.has_deliverable();
        if !more {
            // Cleared under the lock: a push after this sees it clear and wakes.
            self.wake_pending.store(false, Ordering::SeqCst);
        }
        Drained { events: out, more }
    }

    /// Drops the waker: nothing will be signalled again. Releasing it is what
    /// lets a Node process exit after close.
    pub fn disable_waker(&self) {
        lock(&self.waker).take();
    }

    fn wake(&self) {
        if !self.wake_pending.swap(true, Ordering::SeqCst) {
            if let Some(waker) = lock(&self.waker).as_ref() {
                waker();
            }
        }
    }
}

/// Locks a mutex, recovering from poisoning: every critical section in the driver
/// leaves its data consistent, so a panic elsewhere must not wedge the others.
pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use peerwire_core::{Command, Frame};
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    fn frame(peer: PeerId, len: usize) -> Event {
        Event::Frame {
            peer,
            frame: Frame {
                command: Command::new("x").unwrap(),
                payload: Bytes::from(vec![0; len]),
            },
        }
    }

    fn peers_of(events: &[Event]) -> Vec<PeerId> {
        events.iter().filter_map(peer_of).collect()
    }

    fn counting_inbox() -> (Inbox, Arc<AtomicUsize>) {
        let wakes = Arc::new(AtomicUsize::new(0));
        let w = wakes.clone();
        let inbox = Inbox::new(Box::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }));
        (inbox, wakes)
    }

    #[test]
    fn wakes_once_until_the_consumer_finds_it_empty() {
        let (inbox, wakes) = counting_inbox();
        inbox.push(Event::Writable { peer: 1 });
        inbox.push(Event::Writable { peer: 2 });
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        let limits = BatchLimits {
            max_events: 1,
            ..BatchLimits::default()
        };
        let first = inbox.drain(&limits);
        assert!(first.more, "one left: the consumer must come back");
        inbox.push(Event::Writable { peer: 3 });
        assert_eq!(
            wakes.load(Ordering::SeqCst),
            1,
            "no wake while it owes a visit"
        );
        assert!(inbox.drain(&limits).more);
        assert!(!inbox.drain(&limits).more);
        inbox.push_batch(4, &mut vec![frame(4, 1)]);
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
        inbox.disable_waker();
        inbox.drain(&limits);
        inbox.push(Event::Closed);
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn a_flooding_peer_shares_each_batch_with_a_quiet_one() {
        let (inbox, _) = counting_inbox();
        let mut flood: Vec<Event> = (0..10_000).map(|_| frame(1, 100)).collect();
        inbox.push_batch(1, &mut flood);
        inbox.push_batch(2, &mut vec![frame(2, 8)]);
        let limits = BatchLimits::default();
        let batch = inbox.drain(&limits);
        let from_quiet = peers_of(&batch.events).iter().filter(|p| **p == 2).count();
        assert_eq!(
            from_quiet, 1,
            "the quiet peer's frame is in the first batch"
        );
        let position = peers_of(&batch.events).iter().position(|p| *p == 2);
        assert!(
            position.unwrap() <= limits.peer_events,
            "after one quantum at most"
        );
        assert!(batch.events.len() <= limits.max_events);
    }

    #[test]
    fn batches_are_bounded_in_bytes_but_a_big_frame_still_goes() {
        let (inbox, _) = counting_inbox();
        inbox.push_batch(1, &mut vec![frame(1, 600_000), frame(1, 600_000)]);
        inbox.push_batch(2, &mut vec![frame(2, 3_000_000)]);
        let limits = BatchLimits::default();
        let sizes = |d: Drained| -> Vec<usize> {
            d.events
                .iter()
                .map(|e| match e {
                    Event::Frame { frame, .. } => frame.payload.len(),
                    _ => 0,
                })
                .collect()
        };
        assert_eq!(sizes(inbox.drain(&limits)), vec![600_000]);
        assert_eq!(sizes(inbox.drain(&limits)), vec![3_000_000]);
        assert_eq!(sizes(inbox.drain(&limits)), vec![600_000]);
    }

    #[test]
    fn a_held_peer_waits_and_resumes_with_writable() {
        let (inbox, _) = counting_inbox();
        inbox.push_batch(1, &mut vec![frame(1, 10)]);
        inbox.hold(1);
        inbox.push_batch(1, &mut vec![frame(1, 10)]);
        let limits = BatchLimits::default();
        assert!(inbox.drain(&limits).events.is_empty());
        assert!(inbox.is_held(1));
        inbox.writable(1);
        let events = inbox.drain(&limits).events;
        assert_eq!(events.len(), 3);
        assert!(matches!(events[2], Event::Writable { peer: 1 }));
    }

    #[test]
    fn a_disconnect_releases_a_held_peer_and_ends_its_queue() {
        let (inbox, _) = counting_inbox();
        inbox.push_batch(1, &mut vec![frame(1, 10)]);
        inbox.hold(1);
        inbox.push(Event::Disconnected {
            peer: 1,
            reason: crate::event::DisconnectReason::PeerClosed,
            unflushed_bytes: 0,
        });
        inbox.push(Event::Closed);
        let events = inbox.drain(&BatchLimits::default()).events;
        assert!(matches!(events[0], Event::Frame { .. }));
        assert!(matches!(events[1], Event::Disconnected { .. }));
        assert!(matches!(events[2], Event::Closed), "closed comes last");
        assert!(!inbox.is_held(1));
    }

    #[test]
    fn a_hold_after_the_last_event_cannot_keep_it_or_closed_back() {
        let (inbox, _) = counting_inbox();
        inbox.push_batch(1, &mut vec![frame(1, 10)]);
        inbox.push(Event::Disconnected {
            peer: 1,
            reason: crate::event::DisconnectReason::PeerClosed,
            unflushed_bytes: 0,
        });
        inbox.hold(1); // a send that saw backpressure just before the end
        inbox.push(Event::Closed);
        let events = inbox.drain(&BatchLimits::default()).events;
        assert_eq!(events.len(), 3);
        assert!(matches!(events[2], Event::Closed));
    }

    #[test]
    fn a_drained_queue_gives_back_a_burst_worth_of_slots() {
        let (inbox, _) = counting_inbox();
        let mut burst: Vec<Event> = (0..10_000).map(|_| frame(1, 0)).collect();
        inbox.push_batch(1, &mut burst);
        while inbox.drain(&BatchLimits::default()).more {}
        assert_eq!(lock(&inbox.state).peers[&1].events.capacity(), 0);
        // A small batch too: an idle peer keeps no slots at all.
        inbox.push_batch(1, &mut vec![frame(1, 10)]);
        while inbox.drain(&BatchLimits::default()).more {}
        assert_eq!(lock(&inbox.state).peers[&1].events.capacity(), 0);
    }

    #[test]
    fn discarding_keeps_connection_events() {
        let (inbox, _) = counting_inbox();
        inbox.push(Event::Writable { peer: 1 });
        inbox.push_batch(1, &mut vec![frame(1, 10), frame(1, 20)]);
        assert_eq!(inbox.discard_input(1).len(), 2);
        let events = inbox.drain(&BatchLimits::default()).events;
        assert_eq!(events.len(), 1);
    }
}
