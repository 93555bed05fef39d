//! The single flat inbound queue (seed 000) and its wake-up signal.
//!
//! Producers append whole batches under one short lock. The consumer is woken at
//! most once per batch it has not yet drained, so a busy network costs one
//! wake-up per drain, not one per frame.

use crate::event::Event;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Called (from a driver thread) when events are waiting; must not block.
pub type Waker = Box<dyn Fn() + Send + Sync>;

pub struct Inbox {
    events: Mutex<Vec<Event>>,
    wake_pending: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Inbox {
    pub fn new(waker: Waker) -> Self {
        Self {
            events: Mutex::new(Vec::new()),
            wake_pending: AtomicBool::new(false),
            waker: Mutex::new(Some(waker)),
        }
    }

    pub fn push(&self, event: Event) {
        lock(&self.events).push(event);
        self.wake();
    }

    /// Appends all of `batch`, leaving it empty (its capacity is kept for reuse).
    pub fn push_batch(&self, batch: &mut Vec<Event>) {
        if batch.is_empty() {
            return;
        }
        lock(&self.events).append(batch);
        self.wake();
    }

    /// Takes what is waiting, in order, up to `max_payload` frame payload bytes
    /// (at least one event). If some are left, the consumer is woken again.
    pub fn drain(&self, max_payload: usize) -> Vec<Event> {
        // Cleared before taking, so a push that lands after the take wakes again.
        self.wake_pending.store(false, Ordering::SeqCst);
        let mut events = lock(&self.events);
        let mut payload = 0;
        let cut = events
            .iter()
            .position(|e| {
                if let Event::Frame { frame, .. } = e {
                    payload += frame.payload.len();
                }
                payload > max_payload
            })
            .map_or(events.len(), |i| i.max(1));
        let rest = events.split_off(cut);
        let taken = std::mem::replace(&mut *events, rest);
        let more = !events.is_empty();
        drop(events);
        if more {
            self.wake();
        }
        taken
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
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[test]
    fn wakes_once_per_undrained_batch() {
        let wakes = Arc::new(AtomicUsize::new(0));
        let w = wakes.clone();
        let inbox = Inbox::new(Box::new(move || {
            w.fetch_add(1, Ordering::SeqCst);
        }));
        inbox.push(Event::Writable { peer: 1 });
        inbox.push(Event::Writable { peer: 2 });
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        assert_eq!(inbox.drain(usize::MAX).len(), 2);
        inbox.push_batch(&mut vec![Event::Writable { peer: 3 }]);
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
        inbox.disable_waker();
        inbox.drain(usize::MAX);
        inbox.push(Event::Closed);
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
    }
}
