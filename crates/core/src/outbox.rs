//! A peer's outbound FIFO: bounded in bytes and messages, with backpressure.
//!
//! Each peer has its own queue so a stalled peer never holds up the others
//! (seed 000: no head-of-line blocking). Frames are shared `Bytes`, so a
//! broadcast queues the same encoded bytes everywhere.
//!
//! Small frames are copied into one contiguous tail buffer instead of being
//! queued one entry each: a queue entry and its allocation cost several times
//! the 32 bytes of a pong, so 250,000 queued pongs counted as 8 MB used to hold
//! 20 MB. Coalesced, what the queue holds is what it counts (plus one partly
//! filled tail), and the writer gets them as one write.

use crate::command::Command;
use crate::frame::{encode_frame, put_frame, Magic, HEADER_SIZE};
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;

/// Frames up to this size are copied into the tail buffer rather than queued
/// as their own entry.
pub const COALESCE_MAX: usize = 1024;
/// The tail buffer is sealed into the queue once it holds this much, so one
/// entry never grows without bound and the writer can start on it.
const TAIL_CHUNK: usize = 64 * 1024;

/// Bitcoin Core's send buffer (DEFAULT_MAXSENDBUFFER): past it, stop generating work.
pub const DEFAULT_PAUSE_BYTES: usize = 1_000_000;
/// Hard ceiling on queued bytes; room for a couple of maximum-size messages past
/// the pause point so a single large send is not refused outright.
pub const DEFAULT_MAX_BYTES: usize = 10_000_000;
/// Hard ceiling on queued messages, so tiny frames cannot cost unbounded overhead.
pub const DEFAULT_MAX_MESSAGES: usize = 250_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxLimits {
    /// At or above this many queued bytes the sender is told to wait.
    pub pause_bytes: usize,
    /// A frame that would take the queue past this is refused.
    pub max_bytes: usize,
    /// A frame that would take the queue past this many messages is refused.
    pub max_messages: usize,
}

impl Default for OutboxLimits {
    fn default() -> Self {
        Self {
            pause_bytes: DEFAULT_PAUSE_BYTES,
            max_bytes: DEFAULT_MAX_BYTES,
            max_messages: DEFAULT_MAX_MESSAGES,
        }
    }
}

/// The outcome of queueing one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStatus {
    /// Queued; keep sending.
    Queued,
    /// Queued, but the queue is at or past its pause point: wait for writable.
    Backpressure,
    /// Not queued: the queue is at its hard limit; wait for writable.
    Full,
    /// Not queued, and never will be: larger than the queue's hard limit on its own.
    TooLarge,
    /// Not queued: the peer is closing or gone.
    Closed,
}

impl SendStatus {
    pub fn is_queued(self) -> bool {
        matches!(self, SendStatus::Queued | SendStatus::Backpressure)
    }
}

/// Encoded bytes in the queue: one frame, or a run of frames encoded back to
/// back (many small messages cost one allocation and one queue entry).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    pub bytes: Bytes,
    pub messages: usize,
}

#[derive(Debug, Default)]
pub struct Outbox {
    limits: OutboxLimits,
    queue: VecDeque<Chunk>,
    /// Small frames written after the last queued chunk, back to back.
    tail: BytesMut,
    tail_messages: usize,
    /// Bytes queued plus bytes handed to the writer and not yet written.
    pending_bytes: usize,
    /// Of those, the bytes still in the queue (not handed to a writer).
    queued_bytes: usize,
    /// Frames queued plus frames handed to the writer and not yet written.
    pending_messages: usize,
    /// Backpressure was reported and writable has not been signalled since.
    waiting_for_writable: bool,
    closed: bool,
}

impl Outbox {
    pub fn new(limits: OutboxLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    pub fn set_limits(&mut self, limits: OutboxLimits) {
        self.limits = limits;
    }

    /// Queues one encoded frame.
    pub fn push(&mut self, frame: Bytes) -> SendStatus {
        self.push_run(frame, 1)
    }

    /// Whether `bytes` in `messages` frames may be queued now: `Queued` when they
    /// fit, else why not. Sets the writable flag when waiting will help.
    pub fn admit(&mut self, bytes: usize, messages: usize) -> SendStatus {
        if self.closed {
            return SendStatus::Closed;
        }
        if bytes > self.limits.max_bytes || messages > self.limits.max_messages {
            return SendStatus::TooLarge;
        }
        if self.pending_bytes + bytes > self.limits.max_bytes
            || self.pending_messages + messages > self.limits.max_messages
        {
            self.waiting_for_writable = true;
            return SendStatus::Full;
        }
        SendStatus::Queued
    }

    /// Queues `messages` frames encoded back to back in `bytes`: all or nothing.
    pub fn push_run(&mut self, bytes: Bytes, messages: usize) -> SendStatus {
        let admitted = self.admit(bytes.len(), messages);
        if admitted != SendStatus::Queued {
            return admitted;
        }
        self.enqueue(bytes, messages)
    }

    /// Queues without the admission check: for the rest of a frame whose start
    /// already went out (it was admitted whole before that).
    pub fn enqueue(&mut self, bytes: Bytes, messages: usize) -> SendStatus {
        self.pending_bytes += bytes.len();
        self.queued_bytes += bytes.len();
        self.pending_messages += messages;
        if bytes.len() <= COALESCE_MAX {
            self.tail.extend_from_slice(&bytes);
            self.tail_messages += messages;
            if self.tail.len() >= TAIL_CHUNK {
                self.seal_tail();
            }
        } else {
            self.seal_tail();
            self.queue.push_back(Chunk { bytes, messages });
        }
        self.status_after_enqueue()
    }

    fn status_after_enqueue(&mut self) -> SendStatus {
        if self.pending_bytes >= self.limits.pause_bytes {
            self.waiting_for_writable = true;
            SendStatus::Backpressure
        } else {
            SendStatus::Queued
        }
    }

    /// Frames `payload` and queues it (one message): a small frame is encoded
    /// straight into the tail buffer, with no allocation of its own. The caller
    /// has admitted `HEADER_SIZE + payload.len()` bytes.
    pub fn enqueue_frame(&mut self, magic: Magic, command: &Command, payload: &[u8]) -> SendStatus {
        let len = HEADER_SIZE + payload.len();
        if len > COALESCE_MAX {
            return self.enqueue(encode_frame(magic, command, payload), 1);
        }
        put_frame(&mut self.tail, magic, command, payload);
        self.tail_messages += 1;
        self.pending_bytes += len;
        self.queued_bytes += len;
        self.pending_messages += 1;
        if self.tail.len() >= TAIL_CHUNK {
            self.seal_tail();
        }
        self.status_after_enqueue()
    }

    /// Moves chunks to the writer, up to `max_bytes` (at least one chunk).
    /// They stay counted as pending until [`Outbox::on_written`] reports them.
    pub fn take_batch(&mut self, max_bytes: usize, into: &mut VecDeque<Chunk>) {
        if self.queue.is_empty() {
            self.seal_tail();
        }
        let mut taken = 0;
        while let Some(chunk) = self.queue.front() {
            if taken > 0 && taken + chunk.bytes.len() > max_bytes {
                break;
            }
            taken += chunk.bytes.len();
            self.queued_bytes -= chunk.bytes.len();
            if let Some(chunk) = self.queue.pop_front() {
                into.push_back(chunk);
            }
        }
    }

    /// Records bytes and whole frames the writer has put on the wire. Returns true
    /// when a sender that was told to wait may now send again (below half the pause
    /// point, so writable does not flap).
    pub fn on_written(&mut self, bytes: usize, frames: usize) -> bool {
        self.pending_bytes = self.pending_bytes.saturating_sub(bytes);
        self.pending_messages = self.pending_messages.saturating_sub(frames);
        if self.waiting_for_writable && self.pending_bytes <= self.limits.pause_bytes / 2 {
            self.waiting_for_writable = false;
            return true;
        }
        false
    }

    /// Bytes handed to a writer and not yet written: while this is not zero,
    /// only that writer may write.
    pub fn in_flight_bytes(&self) -> usize {
        self.pending_bytes - self.queued_bytes
    }

    /// Bytes waiting in the queue, not yet handed to a writer.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// Gives back what a writer took but could not write, to go first next
    /// time (`written` bytes of `chunks` went out; they are accounted by the
    /// caller through [`Outbox::on_written`]).
    pub fn return_unwritten(&mut self, mut chunks: VecDeque<Chunk>, mut written: usize) {
        while let Some(head) = chunks.front() {
            if written < head.bytes.len() {
                break;
            }
            written -= head.bytes.len();
            chunks.pop_front();
        }
        if let Some(head) = chunks.front_mut() {
            head.bytes = head.bytes.slice(written..);
        }
        for chunk in chunks.into_iter().rev() {
            self.queued_bytes += chunk.bytes.len();
            self.queue.push_front(chunk);
        }
    }

    /// Moves the coalesced small frames into the queue as one chunk.
    fn seal_tail(&mut self) {
        if self.tail.is_empty() {
            return;
        }
        let bytes = self.tail.split().freeze();
        let messages = std::mem::take(&mut self.tail_messages);
        self.queue.push_back(Chunk { bytes, messages });
        if self.tail.capacity() < COALESCE_MAX {
            // Too little left to be worth reusing: let the allocation go with the
            // sealed chunk, so an idle peer holds no buffer.
            self.tail = BytesMut::new();
        }
    }

    /// Refuses further frames; what is queued may still be flushed.
    pub fn close(&mut self) {
        self.closed = true;
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Chunks waiting in the queue (not yet handed to the writer), counting
    /// the coalesced tail as one.
    pub fn queued_frames(&self) -> usize {
        self.queue.len() + usize::from(!self.tail.is_empty())
    }

    /// Frame bytes that may still be queued, in frames of any sizes, each
    /// sure to be `Queued` (not past the pause point, not refused), with every
    /// frame counted as at least [`HEADER_SIZE`] bytes so the message limit
    /// holds too. A sender that keeps its own tally against this can report
    /// `Queued` without asking; the queue only drains meanwhile.
    pub fn credit(&self) -> usize {
        if self.closed {
            return 0;
        }
        let below_pause = self
            .limits
            .pause_bytes
            .saturating_sub(self.pending_bytes + 1);
        let below_max = self.limits.max_bytes.saturating_sub(self.pending_bytes);
        let messages = self
            .limits
            .max_messages
            .saturating_sub(self.pending_messages)
            .saturating_mul(HEADER_SIZE);
        below_pause.min(below_max).min(messages)
    }

    /// Bytes not yet written, including those handed to the writer.
    pub fn pending_bytes(&self) -> usize {
        self.pending_bytes
    }

    pub fn is_drained(&self) -> bool {
        self.pending_bytes == 0 && self.queue.is_empty() && self.tail.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(pause: usize, max: usize, msgs: usize) -> OutboxLimits {
        OutboxLimits {
            pause_bytes: pause,
            max_bytes: max,
            max_messages: msgs,
        }
    }

    fn frame(n: usize) -> Bytes {
        Bytes::from(vec![0u8; n])
    }

    #[test]
    fn frames_within_credit_are_queued_and_one_past_it_is_not() {
        let mut seed = 7u64;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        // Pause point binding, message count binding, pause above the hard
        // limit; whether a byte limit binds (then the credit is exact).
        let cases = [
            (1_000, 5_000, 1_000, true),
            (1_000_000, 10_000_000, 40, false),
            (900, 600, 100, true),
        ];
        for (pause, max, msgs, exact) in cases {
            for _ in 0..50 {
                let mut out = Outbox::new(limits(pause, max, msgs));
                out.push(frame(HEADER_SIZE + next(200)));
                let mut credit = out.credit();
                loop {
                    let len = HEADER_SIZE + next(300);
                    if len > credit {
                        break;
                    }
                    assert_eq!(out.push(frame(len)), SendStatus::Queued);
                    credit -= len;
                    assert!(
                        out.credit() >= credit,
                        "the credit only grows as the queue drains"
                    );
                }
                if exact {
                    // One byte past the credit is not plainly queued.
                    let status = out.push(frame((out.credit() + 1).max(HEADER_SIZE)));
                    assert_ne!(status, SendStatus::Queued, "{pause} {max} {msgs}");
                }
            }
        }
        let mut closed = Outbox::new(OutboxLimits::default());
        closed.close();
        assert_eq!(closed.credit(), 0);
    }

    #[test]
    fn reports_backpressure_then_full() {
        let mut out = Outbox::new(limits(100, 250, 100));
        assert_eq!(out.push(frame(60)), SendStatus::Queued);
        assert_eq!(out.push(frame(60)), SendStatus::Backpressure);
        assert_eq!(out.push(frame(100)), SendStatus::Backpressure);
        assert_eq!(out.push(frame(100)), SendStatus::Full);
        assert_eq!(out.pending_bytes(), 220, "a refused frame is not counted");
        assert_eq!(out.push(frame(251)), SendStatus::TooLarge, "can never fit");
    }

    #[test]
    fn message_count_is_bounded() {
        let mut out = Outbox::new(limits(1000, 1000, 2));
        assert!(out.push(frame(1)).is_queued());
        assert!(out.push(frame(1)).is_queued());
        assert_eq!(out.push(frame(1)), SendStatus::Full);
    }

    #[test]
    fn fifo_order_and_writable_edge() {
        let big = COALESCE_MAX + 1;
        let mut out = Outbox::new(limits(3 * big, 10 * big, 100));
        for i in 0..3u8 {
            out.push(Bytes::from(vec![i; big]));
        }
        let mut writer = VecDeque::new();
        out.take_batch(2 * big, &mut writer);
        assert_eq!(writer.len(), 2);
        assert_eq!(writer[0].bytes[0], 0);
        assert_eq!(writer[1].bytes[0], 1);
        out.push(Bytes::from(vec![3; big])); // 4 pending: past the pause point
                                             // 4 -> 2 pending: above half the pause point (1.5), no writable yet.
        assert!(!out.on_written(2 * big, 2));
        // 2 -> 1 pending: below half, writable fires once.
        assert!(out.on_written(big, 1));
        assert!(!out.on_written(0, 0));
        writer.clear();
        out.take_batch(1, &mut writer);
        assert_eq!(writer.len(), 1, "at least one frame per batch");
        assert_eq!(writer[0].bytes[0], 2);
    }

    #[test]
    fn small_frames_coalesce_in_order_with_large_ones() {
        let mut out = Outbox::new(OutboxLimits::default());
        out.push(Bytes::from_static(b"aa"));
        out.push(Bytes::from_static(b"bb"));
        out.push(Bytes::from(vec![b'L'; COALESCE_MAX + 1]));
        out.push(Bytes::from_static(b"cc"));
        assert_eq!(out.queued_frames(), 3, "two small ones share an entry");
        let mut writer = VecDeque::new();
        out.take_batch(usize::MAX, &mut writer);
        out.take_batch(usize::MAX, &mut writer);
        let chunks: Vec<(&[u8], usize)> =
            writer.iter().map(|c| (&c.bytes[..2], c.messages)).collect();
        assert_eq!(
            chunks,
            vec![(&b"aa"[..], 2), (&b"LL"[..], 1), (&b"cc"[..], 1)]
        );
        assert_eq!(writer[0].bytes.len(), 4);
    }

    #[test]
    fn a_quarter_million_pongs_hold_about_what_they_count() {
        let pong = Bytes::from(vec![0u8; 32]);
        let mut out = Outbox::new(OutboxLimits::default());
        for _ in 0..250_000 {
            assert!(out.push(pong.clone()).is_queued() || out.pending_bytes() > 0);
        }
        // 8 MB of frames in 64 KiB chunks: about 123 entries, not 250,000.
        assert!(out.queued_frames() < 130, "{} entries", out.queued_frames());
        assert_eq!(out.pending_bytes(), 8_000_000);
    }

    #[test]
    fn what_a_direct_write_did_not_take_goes_first_next_time() {
        let big = COALESCE_MAX + 1;
        let mut out = Outbox::new(OutboxLimits::default());
        out.push(Bytes::from(vec![1; big]));
        out.push(Bytes::from(vec![2; big]));
        let mut taken = VecDeque::new();
        out.take_batch(usize::MAX, &mut taken);
        assert_eq!(out.in_flight_bytes(), 2 * big);
        // The socket took the first chunk and 10 bytes of the second.
        out.return_unwritten(taken, big + 10);
        out.on_written(big + 10, 1);
        assert_eq!(out.in_flight_bytes(), 0, "nothing is left with a writer");
        assert_eq!(out.queued_bytes(), big - 10);
        let mut again = VecDeque::new();
        out.take_batch(usize::MAX, &mut again);
        assert_eq!(again.len(), 1);
        assert_eq!(again[0].bytes.len(), big - 10);
        assert_eq!(again[0].bytes[0], 2);
    }

    #[test]
    fn closed_outbox_refuses_but_keeps_what_is_queued() {
        let mut out = Outbox::new(OutboxLimits::default());
        out.push(frame(10));
        out.close();
        assert_eq!(out.push(frame(10)), SendStatus::Closed);
        assert_eq!(out.pending_bytes(), 10);
        assert!(!out.is_drained());
    }

    #[test]
    fn shared_frames_are_not_copied() {
        let shared = frame(COALESCE_MAX * 4);
        let mut a = Outbox::new(OutboxLimits::default());
        let mut b = Outbox::new(OutboxLimits::default());
        a.push(shared.clone());
        b.push(shared.clone());
        let (mut wa, mut wb) = (VecDeque::new(), VecDeque::new());
        a.take_batch(usize::MAX, &mut wa);
        b.take_batch(usize::MAX, &mut wb);
        assert_eq!(wa[0].bytes.as_ptr(), shared.as_ptr());
        assert_eq!(wb[0].bytes.as_ptr(), shared.as_ptr());
    }

    #[test]
    fn a_run_counts_every_message_and_is_all_or_nothing() {
        let mut out = Outbox::new(limits(1000, 1000, 10));
        assert_eq!(out.push_run(frame(100), 8), SendStatus::Queued);
        assert_eq!(
            out.push_run(frame(10), 3),
            SendStatus::Full,
            "11 messages > 10"
        );
        assert_eq!(out.pending_bytes(), 100);
        assert_eq!(out.push_run(frame(10), 2), SendStatus::Queued);
    }
}
