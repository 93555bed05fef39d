//! Incremental frame decoding from a growing byte buffer.
//!
//! The decoder never trusts a length it has not received: the buffer grows only
//! as bytes arrive (at most one read's worth beyond them), a claimed length is
//! checked against the limit before any payload is accepted, and a dropped
//! message's payload is discarded as it streams in rather than buffered.

use crate::checksum::checksum;
use crate::command::Command;
use crate::frame::{Frame, Header, Magic, HEADER_SIZE};
use crate::reject::{Action, Reject, RejectPolicy};
use bytes::{Buf, Bytes, BytesMut};

/// Bitcoin Core's MAX_PROTOCOL_MESSAGE_LENGTH.
pub const DEFAULT_MAX_PAYLOAD: u32 = 4_000_000;

/// Until the handshake completes a peer has shown nothing, so it may not make us
/// buffer large messages. A `version` is a few hundred bytes even on forks.
pub const DEFAULT_PRE_HANDSHAKE_MAX_PAYLOAD: u32 = 32 * 1024;

/// Most bytes read at once into a large payload (see `next_read_size`).
pub const LARGE_READ: usize = 1024 * 1024;
/// Size of each arena small payloads are copied into.
const SMALL_ARENA: usize = 16 * 1024;

/// What the decoder enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    pub magic: Magic,
    pub max_payload: u32,
    pub pre_handshake_max_payload: u32,
    /// Lift the pre-handshake limit once the peer's `version` and `verack` have
    /// arrived and we have sent our own `verack` (which the application sends only
    /// after accepting the peer's version): see [`FrameDecoder::on_our_verack_sent`].
    /// Without this, frames a peer sends as soon as it has our verack could meet
    /// the small limit before the application gets round to marking the handshake
    /// complete.
    pub lift_on_version_and_verack: bool,
    pub policy: RejectPolicy,
}

impl DecodeLimits {
    pub fn new(magic: Magic) -> Self {
        Self {
            magic,
            max_payload: DEFAULT_MAX_PAYLOAD,
            pre_handshake_max_payload: DEFAULT_PRE_HANDSHAKE_MAX_PAYLOAD,
            lift_on_version_and_verack: true,
            policy: RejectPolicy::default(),
        }
    }
}

/// One result from [`FrameDecoder::next_frame`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    Frame(Frame),
    /// Input was refused. With [`Action::Drop`] decoding continues after the
    /// offending message; with [`Action::Disconnect`] the decoder stops for good.
    Rejected {
        reason: Reject,
        action: Action,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Waiting for a complete 24-byte header.
    Header,
    /// Header accepted; waiting for `length` payload bytes.
    Payload {
        command: Command,
        length: usize,
        checksum: [u8; 4],
    },
    /// Discarding a dropped message's payload as it arrives.
    Skip { remaining: u64 },
    /// A disconnecting reject was returned; nothing more is decoded.
    Failed,
}

/// Incremental decoder for one peer's inbound byte stream.
#[derive(Debug)]
pub struct FrameDecoder {
    limits: DecodeLimits,
    buf: BytesMut,
    state: State,
    /// Where small payloads are copied to (see `copy_small`).
    small: BytesMut,
    handshake_complete: bool,
    seen_version: bool,
    seen_verack: bool,
    sent_verack: bool,
}

impl FrameDecoder {
    pub fn new(limits: DecodeLimits) -> Self {
        Self {
            limits,
            buf: BytesMut::new(),
            state: State::Header,
            small: BytesMut::new(),
            handshake_complete: false,
            seen_version: false,
            seen_verack: false,
            sent_verack: false,
        }
    }

    pub fn limits(&self) -> &DecodeLimits {
        &self.limits
    }

    /// Applies new limits; they govern every header not yet accepted.
    pub fn set_limits(&mut self, limits: DecodeLimits) {
        self.limits = limits;
    }

    /// Lifts the pre-handshake payload limit.
    pub fn complete_handshake(&mut self) {
        self.handshake_complete = true;
    }

    /// Records that our `verack` went out: we accepted the peer's version.
    pub fn on_our_verack_sent(&mut self) {
        self.sent_verack = true;
        self.maybe_lift();
    }

    pub fn handshake_complete(&self) -> bool {
        self.handshake_complete
    }

    /// The payload limit in force for the next header.
    pub fn payload_limit(&self) -> u32 {
        if self.handshake_complete {
            self.limits.max_payload
        } else {
            self.limits
                .pre_handshake_max_payload
                .min(self.limits.max_payload)
        }
    }

    /// The buffer to read into, with room for at most `max_read` more bytes.
    /// Growth follows received bytes only, never a claimed length.
    ///
    /// After a disconnecting reject the decoder keeps nothing: it hands out an
    /// empty buffer with no room reserved, and whatever is read into it is
    /// discarded by the next call to this, [`feed`](Self::feed) or
    /// [`next_frame`](Self::next_frame).
    pub fn read_buffer(&mut self, max_read: usize) -> &mut BytesMut {
        if self.is_failed() {
            self.buf = BytesMut::new();
        } else {
            let wanted = self.next_read_size(max_read);
            self.buf.reserve(wanted);
        }
        &mut self.buf
    }

    /// How many bytes to read next, for a caller that reads `max_read` at a
    /// time. Inside a large payload of which a quarter has arrived, it is the
    /// rest of that payload (up to [`LARGE_READ`]): [`read_buffer`] then
    /// reserves room for exactly that, so a megabyte frame takes a few reads
    /// and one allocation instead of sixteen reads and a chain of regrowths,
    /// and still nothing is reserved beyond four times what was received.
    ///
    /// [`read_buffer`]: Self::read_buffer
    pub fn next_read_size(&self, max_read: usize) -> usize {
        match self.state {
            State::Payload { length, .. } if length > max_read => {
                let have = self.buf.len();
                if have >= length || have < length / 4 {
                    max_read
                } else {
                    (length - have).min(LARGE_READ).max(max_read)
                }
            }
            _ => max_read,
        }
    }

    /// Appends received bytes (for callers that do not read in place). After a
    /// disconnecting reject the bytes are discarded: a caller that keeps feeding
    /// a failed decoder must not make it hold them.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.is_failed() {
            self.buf = BytesMut::new();
            return;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes received but not yet decoded into frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Bytes the read buffer has allocated.
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Frees the buffer's memory when it holds nothing, so idle peers cost little.
    pub fn release_idle_buffer(&mut self) {
        if self.buf.is_empty() && self.buf.capacity() > 0 {
            self.buf = BytesMut::new();
        }
        // The small-payload arena too: its unused room would otherwise stay
        // allocated for the life of an idle connection.
        if self.small.capacity() > 0 {
            self.small = BytesMut::new();
        }
    }

    /// Whether the decoder has stopped after a disconnecting reject.
    pub fn is_failed(&self) -> bool {
        self.state == State::Failed
    }

    /// Decodes the next frame or reject, or `None` when more bytes are needed.
    pub fn next_frame(&mut self) -> Option<Decoded> {
        loop {
            match self.state {
                State::Failed => {
                    // Bytes read in place after the failure are never decoded.
                    self.buf = BytesMut::new();
                    return None;
                }
                State::Skip { remaining } => {
                    let n = remaining.min(self.buf.len() as u64);
                    self.buf.advance(n as usize);
                    if n < remaining {
                        self.state = State::Skip {
                            remaining: remaining - n,
                        };
                        return None;
                    }
                    self.state = State::Header;
                }
                State::Header => {
                    if self.buf.len() < HEADER_SIZE {
                        return None;
                    }
                    let header = Header::parse(self.buf[..HEADER_SIZE].try_into().ok()?);
                    self.buf.advance(HEADER_SIZE);
                    if let Some(rejected) = self.accept_header(&header) {
                        return Some(rejected);
                    }
                }
                State::Payload {
                    command,
                    length,
                    checksum: expected,
                } => {
                    if self.buf.len() < length {
                        return None;
                    }
                    let payload = if length < self.buf.capacity() / 4 {
                        self.copy_small(length)
                    } else {
                        self.split_large(length)
                    };
                    self.state = State::Header;
                    if checksum(&payload) != expected {
                        let reason = Reject::BadChecksum {
                            command: command.as_str().to_owned(),
                        };
                        // The payload is already consumed, so a drop needs no skip.
                        return Some(self.reject(reason, 0));
                    }
                    self.note_handshake_command(&command);
                    return Some(Decoded::Frame(Frame { command, payload }));
                }
            }
        }
    }

    /// Checks a header against the limits; sets the next state. Returns the reject,
    /// if any.
    fn accept_header(&mut self, header: &Header) -> Option<Decoded> {
        let skip = header.length as u64;
        if header.magic != self.limits.magic {
            return Some(self.reject(Reject::BadMagic { got: header.magic }, skip));
        }
        let limit = self.payload_limit();
        if header.length > limit {
            let reason = Reject::Oversized {
                length: header.length,
                limit,
            };
            return Some(self.reject(reason, skip));
        }
        let command = match Command::from_wire(header.command) {
            Ok(command) => command,
            Err(_) => {
                let reason = Reject::BadCommand {
                    raw: header.command,
                };
                return Some(self.reject(reason, skip));
            }
        };
        self.state = State::Payload {
            command,
            length: header.length as usize,
            checksum: header.checksum,
        };
        None
    }

    /// Copies a small payload out of the read buffer into a shared arena. Split off
    /// the read buffer, it would pin a whole 64 KiB read until the application
    /// takes it, while budgets count only its bytes; in the arena, memory held
    /// follows the bytes delivered, one allocation serves many payloads, and the
    /// read buffer stays free to be reused in place.
    fn copy_small(&mut self, length: usize) -> Bytes {
        if self.small.capacity() - self.small.len() < length {
            self.small = BytesMut::with_capacity(SMALL_ARENA.max(length));
        }
        self.small.extend_from_slice(&self.buf[..length]);
        self.buf.advance(length);
        self.small.split().freeze()
    }

    /// Splits a large payload off the read buffer without a copy, and moves
    /// what follows it (at most one read) to a fresh buffer: otherwise the
    /// next frames would be read into the same allocation, and a small
    /// payload kept later would pin a large one's memory with it.
    fn split_large(&mut self, length: usize) -> Bytes {
        let payload = self.buf.split_to(length).freeze();
        self.buf = if self.buf.is_empty() {
            BytesMut::new()
        } else {
            BytesMut::from(&self.buf[..])
        };
        payload
    }

    fn reject(&mut self, reason: Reject, skip: u64) -> Decoded {
        let action = self.limits.policy.action(reason.kind());
        self.state = match action {
            Action::Disconnect => {
                self.buf = BytesMut::new();
                State::Failed
            }
            Action::Drop if skip > 0 => State::Skip { remaining: skip },
            Action::Drop => State::Header,
        };
        Decoded::Rejected { reason, action }
    }

    fn note_handshake_command(&mut self, command: &Command) {
        if self.handshake_complete {
            return;
        }
        match command.as_bytes() {
            b"version" => self.seen_version = true,
            b"verack" => self.seen_verack = true,
            _ => return,
        }
        self.maybe_lift();
    }

    fn maybe_lift(&mut self) {
        if self.limits.lift_on_version_and_verack
            && self.seen_version
            && self.seen_verack
            && self.sent_verack
        {
            self.handshake_complete = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::encode_frame;
    use crate::reject::RejectKind;

    const MAGIC: Magic = [0xfa, 0xbf, 0xb5, 0xda];

    fn limits() -> DecodeLimits {
        DecodeLimits::new(MAGIC)
    }

    fn frame(command: &str, payload: &[u8]) -> Vec<u8> {
        encode_frame(MAGIC, &Command::new(command).unwrap(), payload).to_vec()
    }

    #[test]
    fn an_idle_decoder_holds_no_buffers() {
        let mut dec = FrameDecoder::new(limits());
        dec.feed(&frame("ping", &[7; 8]));
        assert!(matches!(dec.next_frame(), Some(Decoded::Frame(_))));
        dec.release_idle_buffer();
        assert_eq!(dec.capacity(), 0);
        assert_eq!(dec.small.capacity(), 0, "the arena's spare room is let go");
    }

    #[test]
    fn a_kept_payload_never_shares_memory_with_a_large_one_before_it() {
        let mut dec = FrameDecoder::new(limits());
        dec.complete_handshake();
        let big = vec![1u8; 3_000_000];
        let small = vec![2u8; 70_000];
        let mut wire = frame("block", &big);
        wire.extend(frame("block", &small));
        dec.feed(&wire);
        let payloads: Vec<Bytes> = decode_all(&mut dec)
            .into_iter()
            .map(|d| match d {
                Decoded::Frame(f) => f.payload,
                other => panic!("{other:?}"),
            })
            .collect();
        let (first, second) = (&payloads[0], &payloads[1]);
        let first_range = first.as_ptr() as usize..first.as_ptr() as usize + 4_000_000;
        assert!(
            !first_range.contains(&(second.as_ptr() as usize)),
            "the 70 KB payload would keep the 3 MB allocation alive"
        );
        assert_eq!(&second[..], &small[..]);
    }

    fn decode_all(dec: &mut FrameDecoder) -> Vec<Decoded> {
        std::iter::from_fn(|| dec.next_frame()).collect()
    }

    fn frames_of(results: &[Decoded]) -> Vec<(String, Vec<u8>)> {
        results
            .iter()
            .filter_map(|d| match d {
                Decoded::Frame(f) => Some((f.command.to_string(), f.payload.to_vec())),
                _ => None,
            })
            .collect()
    }

    fn reject_kinds(results: &[Decoded]) -> Vec<(RejectKind, Action)> {
        results
            .iter()
            .filter_map(|d| match d {
                Decoded::Rejected { reason, action } => Some((reason.kind(), *action)),
                _ => None,
            })
            .collect()
    }

    fn stream() -> (Vec<u8>, Vec<(String, Vec<u8>)>) {
        let msgs: Vec<(String, Vec<u8>)> = vec![
            ("version".into(), vec![7; 100]),
            ("verack".into(), vec![]),
            ("ping".into(), 42u64.to_le_bytes().to_vec()),
            ("headers".into(), (0..=255u8).cycle().take(20_000).collect()),
            ("pong".into(), 42u64.to_le_bytes().to_vec()),
        ];
        let bytes = msgs.iter().flat_map(|(c, p)| frame(c, p)).collect();
        (bytes, msgs)
    }

    #[test]
    fn decodes_a_whole_stream() {
        let (bytes, msgs) = stream();
        let mut dec = FrameDecoder::new(limits());
        dec.feed(&bytes);
        assert_eq!(frames_of(&decode_all(&mut dec)), msgs);
        assert_eq!(dec.buffered(), 0);
    }

    #[test]
    fn one_byte_at_a_time_gives_the_same_frames() {
        let (bytes, msgs) = stream();
        let mut dec = FrameDecoder::new(limits());
        let mut got = Vec::new();
        for b in &bytes {
            dec.feed(std::slice::from_ref(b));
            got.extend(decode_all(&mut dec));
        }
        assert_eq!(frames_of(&got), msgs);
    }

    #[test]
    fn every_split_point_gives_the_same_frames() {
        let (bytes, msgs) = stream();
        for split in (0..bytes.len()).step_by(37) {
            let mut dec = FrameDecoder::new(limits());
            dec.feed(&bytes[..split]);
            let mut got = decode_all(&mut dec);
            dec.feed(&bytes[split..]);
            got.extend(decode_all(&mut dec));
            assert_eq!(frames_of(&got), msgs, "split at {split}");
        }
    }

    #[test]
    fn bad_magic_disconnects_and_stops() {
        let mut bytes = frame("ping", &[0; 8]);
        bytes[0] = 0xf9;
        bytes.extend(frame("pong", &[0; 8]));
        let mut dec = FrameDecoder::new(limits());
        dec.feed(&bytes);
        let got = decode_all(&mut dec);
        assert_eq!(
            reject_kinds(&got),
            vec![(RejectKind::BadMagic, Action::Disconnect)]
        );
        assert!(frames_of(&got).is_empty());
        assert!(dec.is_failed());
        assert_eq!(dec.buffered(), 0, "a failed decoder keeps no input");
    }

    #[test]
    fn a_failed_decoder_discards_whatever_it_is_given_next() {
        let mut bad = frame("ping", &[0; 8]);
        bad[0] = 0xf9;
        let mut dec = FrameDecoder::new(limits());
        dec.feed(&bad);
        assert_eq!(
            reject_kinds(&decode_all(&mut dec)),
            vec![(RejectKind::BadMagic, Action::Disconnect)]
        );
        // A caller that carries on feeding (without decoding, as a driver that
        // is slow to close might) must not make the decoder hold the bytes.
        for _ in 0..64 {
            dec.feed(&[0u8; 4096]);
            assert_eq!(dec.buffered(), 0);
            assert!(dec.capacity() < 4096, "capacity {}", dec.capacity());
        }
        // Reading in place: the buffer handed out reserves nothing, and what is
        // read into it is gone by the next call.
        for _ in 0..64 {
            dec.read_buffer(64 * 1024).extend_from_slice(&[0u8; 100]);
            assert!(dec.next_frame().is_none());
            assert_eq!(dec.buffered(), 0);
        }
        assert!(dec.read_buffer(64 * 1024).capacity() < 64 * 1024);
        assert!(dec.is_failed());
    }

    #[test]
    fn bad_checksum_drops_only_that_message() {
        let mut bad = frame("ping", &[1; 8]);
        bad[20] ^= 0xff;
        let mut bytes = bad;
        bytes.extend(frame("pong", &[2; 8]));
        let mut dec = FrameDecoder::new(limits());
        dec.feed(&bytes);
        let got = decode_all(&mut dec);
        assert_eq!(
            reject_kinds(&got),
            vec![(RejectKind::BadChecksum, Action::Drop)]
        );
        assert_eq!(frames_of(&got), vec![("pong".to_string(), vec![2; 8])]);
    }

    #[test]
    fn bad_command_drops_and_skips_its_payload() {
        let mut bad = frame("ping", &[1; 8]);
        bad[4 + 5] = b'x'; // a byte after the NUL padding began
        let mut bytes = bad;
        bytes.extend(frame("pong", &[2; 8]));
        let mut dec = FrameDecoder::new(limits());
        for b in &bytes {
            dec.feed(std::slice::from_ref(b));
        }
        let got = decode_all(&mut dec);
        assert_eq!(
            reject_kinds(&got),
            vec![(RejectKind::BadCommand, Action::Drop)]
        );
        assert_eq!(frames_of(&got), vec![("pong".to_string(), vec![2; 8])]);
    }

    #[test]
    fn oversized_claim_is_refused_from_the_header_alone() {
        let mut header = frame("block", &[]);
        header[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut dec = FrameDecoder::new(limits());
        dec.complete_handshake();
        dec.feed(&header);
        let got = decode_all(&mut dec);
        assert_eq!(
            got,
            vec![Decoded::Rejected {
                reason: Reject::Oversized {
                    length: u32::MAX,
                    limit: DEFAULT_MAX_PAYLOAD
                },
                action: Action::Disconnect
            }]
        );
    }

    #[test]
    fn a_claimed_length_never_allocates() {
        // A header claiming 3.9 MB followed by a trickle: capacity follows the trickle.
        let mut header = frame("block", &[]);
        header[16..20].copy_from_slice(&3_900_000u32.to_le_bytes());
        let mut dec = FrameDecoder::new(limits());
        dec.complete_handshake();
        dec.feed(&header);
        assert!(decode_all(&mut dec).is_empty());
        for _ in 0..10 {
            dec.read_buffer(1024).extend_from_slice(&[0u8; 1024]);
            assert!(dec.next_frame().is_none());
        }
        assert!(dec.read_buffer(1024).capacity() < 64 * 1024);
    }

    #[test]
    fn dropped_oversized_payload_is_skipped_without_buffering() {
        let mut lim = limits();
        lim.policy.oversized = Action::Drop;
        lim.max_payload = 1000;
        let mut dec = FrameDecoder::new(lim);
        dec.complete_handshake();
        let mut bytes = frame("big", &[9; 5000]);
        bytes.extend(frame("ping", &[3; 8]));
        let mut got = Vec::new();
        for chunk in bytes.chunks(512) {
            dec.feed(chunk);
            got.extend(decode_all(&mut dec));
            assert!(dec.buffered() <= 512 + HEADER_SIZE);
        }
        assert_eq!(
            reject_kinds(&got),
            vec![(RejectKind::Oversized, Action::Drop)]
        );
        assert_eq!(frames_of(&got), vec![("ping".to_string(), vec![3; 8])]);
    }

    #[test]
    fn pre_handshake_limit_applies_until_lifted() {
        let big = frame("addr", &vec![0; 40_000]);
        let mut dec = FrameDecoder::new(limits());
        dec.feed(&big);
        let got = decode_all(&mut dec);
        assert_eq!(
            reject_kinds(&got),
            vec![(RejectKind::Oversized, Action::Disconnect)]
        );

        let mut dec = FrameDecoder::new(limits());
        dec.complete_handshake();
        dec.feed(&big);
        assert_eq!(frames_of(&decode_all(&mut dec)).len(), 1);
    }

    #[test]
    fn version_and_verack_lift_the_limit_in_either_order_once_ours_is_sent() {
        for order in [["version", "verack"], ["verack", "version"]] {
            let mut dec = FrameDecoder::new(limits());
            for c in order {
                dec.feed(&frame(c, &[]));
            }
            assert_eq!(frames_of(&decode_all(&mut dec)).len(), 2);
            assert!(!dec.handshake_complete(), "the peer alone cannot lift it");
            dec.on_our_verack_sent();
            dec.feed(&frame("addr", &vec![0; 40_000]));
            assert_eq!(frames_of(&decode_all(&mut dec)).len(), 1, "{order:?}");
            assert!(dec.handshake_complete());
        }
    }

    #[test]
    fn without_our_verack_the_peer_cannot_lift_the_limit() {
        let mut dec = FrameDecoder::new(limits());
        dec.feed(&frame("version", &[]));
        dec.feed(&frame("verack", &[]));
        dec.feed(&frame("addr", &vec![0; 40_000]));
        let got = decode_all(&mut dec);
        assert_eq!(
            reject_kinds(&got),
            vec![(RejectKind::Oversized, Action::Disconnect)]
        );
    }

    #[test]
    fn small_payloads_do_not_pin_the_read_buffer() {
        let mut dec = FrameDecoder::new(limits());
        dec.complete_handshake();
        let buf = dec.read_buffer(64 * 1024);
        let (start, cap) = (buf.as_ptr() as usize, buf.capacity());
        buf.extend_from_slice(&frame("ping", &7u64.to_le_bytes()));
        let Some(Decoded::Frame(small)) = dec.next_frame() else {
            panic!("no frame")
        };
        let at = small.payload.as_ptr() as usize;
        assert!(
            at < start || at >= start + cap,
            "an 8-byte payload was split off a 64 KiB buffer instead of copied"
        );

        // A payload that fills most of its buffer is split off, not copied.
        let big = frame("block", &vec![1u8; 60_000]);
        let buf = dec.read_buffer(big.len());
        let (start, cap) = (buf.as_ptr() as usize, buf.capacity());
        buf.extend_from_slice(&big);
        let Some(Decoded::Frame(large)) = dec.next_frame() else {
            panic!("no frame")
        };
        let at = large.payload.as_ptr() as usize;
        assert!(at >= start && at < start + cap);
    }

    #[test]
    fn lift_on_verack_can_be_turned_off() {
        let mut lim = limits();
        lim.lift_on_version_and_verack = false;
        let mut dec = FrameDecoder::new(lim);
        dec.feed(&frame("version", &[]));
        dec.feed(&frame("verack", &[]));
        dec.on_our_verack_sent();
        decode_all(&mut dec);
        assert!(!dec.handshake_complete());
    }

    #[test]
    fn adversarial_headers_never_panic() {
        // Deterministic pseudo-random garbage, header-sized and beyond, with every
        // policy set to drop so the decoder keeps going as long as it can.
        let mut lim = limits();
        lim.policy = RejectPolicy {
            bad_magic: Action::Drop,
            oversized: Action::Drop,
            bad_checksum: Action::Drop,
            bad_command: Action::Drop,
        };
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..2_000 {
            let mut dec = FrameDecoder::new(lim);
            let mut bytes = frame("ping", &[0; 8]);
            for b in bytes.iter_mut() {
                if next() % 4 == 0 {
                    *b = next() as u8;
                }
            }
            bytes[16..20].copy_from_slice(&((next() % 64) as u32).to_le_bytes());
            bytes.extend((0..next() % 200).map(|_| next() as u8));
            for chunk in bytes.chunks(1 + (next() % 30) as usize) {
                dec.feed(chunk);
                while dec.next_frame().is_some() {}
            }
        }
    }
}
