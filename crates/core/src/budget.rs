//! The receive budget: how much of a peer's parsed input may wait for the
//! application before we stop reading that peer (Bitcoin Core's fPauseRecv).

/// Bitcoin Core's receive flood size (DEFAULT_MAXRECEIVEBUFFER, 5,000 KB).
pub const DEFAULT_RECV_BUDGET: usize = 5_000_000;
/// The receive budget before the handshake: room for a handshake's few small
/// messages and one maximum pre-handshake frame (32 KiB), not for a flood.
pub const DEFAULT_PRE_HANDSHAKE_RECV_BUDGET: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvBudget {
    limit: usize,
    pending: usize,
}

impl RecvBudget {
    pub fn new(limit: usize) -> Self {
        Self { limit, pending: 0 }
    }

    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Parsed bytes handed to the application's inbox.
    pub fn on_delivered(&mut self, bytes: usize) {
        self.pending += bytes;
    }

    /// Bytes the application has finished with. Returns true when this lifts a
    /// pause, i.e. the reader should be woken.
    pub fn on_consumed(&mut self, bytes: usize) -> bool {
        let was_paused = self.is_paused();
        self.pending = self.pending.saturating_sub(bytes);
        was_paused && !self.is_paused()
    }

    /// Whether reading this peer should wait.
    pub fn is_paused(&self) -> bool {
        self.pending >= self.limit
    }

    pub fn pending(&self) -> usize {
        self.pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_at_the_limit_and_resumes_below_it() {
        let mut b = RecvBudget::new(100);
        b.on_delivered(60);
        assert!(!b.is_paused());
        b.on_delivered(40);
        assert!(b.is_paused());
        assert!(!b.on_consumed(0));
        assert!(b.on_consumed(1), "the first byte below the limit resumes");
        assert!(!b.on_consumed(50), "resume is reported once");
        assert_eq!(b.pending(), 49);
    }

    #[test]
    fn lowering_the_limit_pauses_at_once() {
        let mut b = RecvBudget::new(100);
        b.on_delivered(50);
        b.set_limit(40);
        assert!(b.is_paused());
    }
}
