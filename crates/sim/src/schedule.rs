//! The virtual clock's agenda: actions ordered by time, then by the order in
//! which they were scheduled, so equal times replay identically.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

struct Entry<A> {
    at_us: u64,
    seq: u64,
    action: A,
}

impl<A> PartialEq for Entry<A> {
    fn eq(&self, other: &Self) -> bool {
        (self.at_us, self.seq) == (other.at_us, other.seq)
    }
}
impl<A> Eq for Entry<A> {}
impl<A> PartialOrd for Entry<A> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<A> Ord for Entry<A> {
    // Reversed: BinaryHeap is a max-heap and the earliest entry must come first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at_us, other.seq).cmp(&(self.at_us, self.seq))
    }
}

pub struct Agenda<A> {
    heap: BinaryHeap<Entry<A>>,
    seq: u64,
}

impl<A> Default for Agenda<A> {
    fn default() -> Self {
        Self {
            heap: BinaryHeap::new(),
            seq: 0,
        }
    }
}

impl<A> Agenda<A> {
    pub fn push(&mut self, at_us: u64, action: A) {
        self.seq += 1;
        self.heap.push(Entry {
            at_us,
            seq: self.seq,
            action,
        });
    }

    pub fn next_at(&self) -> Option<u64> {
        self.heap.peek().map(|e| e.at_us)
    }

    /// The earliest action due at or before `until_us`.
    pub fn pop_due(&mut self, until_us: u64) -> Option<(u64, A)> {
        if self.heap.peek()?.at_us > until_us {
            return None;
        }
        self.heap.pop().map(|e| (e.at_us, e.action))
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_then_in_scheduling_order() {
        let mut a = Agenda::default();
        a.push(20, "late");
        a.push(10, "first");
        a.push(10, "second");
        assert_eq!(a.next_at(), Some(10));
        assert_eq!(a.pop_due(5), None);
        assert_eq!(a.pop_due(100), Some((10, "first")));
        assert_eq!(a.pop_due(100), Some((10, "second")));
        assert_eq!(a.pop_due(100), Some((20, "late")));
        assert!(a.is_empty());
    }
}
