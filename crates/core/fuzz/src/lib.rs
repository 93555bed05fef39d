//! The properties the fuzz targets check, shared with the corpus replay test
//! (`crates/core/tests/fuzz_corpus.rs` includes this file as a module), so a
//! fuzzer's finding and its regression test run the same code on stable.
//!
//! Decoder inputs start with a fixed [`HEAD_LEN`]-byte head that sets the
//! decoder up (limits, reject policy, when the handshake advances, how the
//! stream is cut into reads); the rest is the byte stream a peer sent.

use peerwire_core::block::{check_block, Block, CheckOptions};
use peerwire_core::{
    checksum, double_sha256, encode_frame, encode_frames, Action, Command, DecodeLimits, Decoded,
    FrameDecoder, Header, Magic, RejectPolicy, HEADER_SIZE,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Regtest's magic: what the decoder inputs' streams are checked against.
pub const MAGIC: Magic = [0xfa, 0xbf, 0xb5, 0xda];

/// Bytes of set-up before the stream in a decoder input.
pub const HEAD_LEN: usize = 16;

/// The decoder's arena for small payloads (`SMALL_ARENA` in decoder.rs): a fixed
/// allowance in the memory bound, whatever was sent.
const SMALL_ARENA: usize = 16 * 1024;

/// A target's check: panics when the input breaks a property.
pub type Check = fn(&[u8]);

/// Every target: its name (the cargo-fuzz binary and corpus directory) and check.
pub const TARGETS: [(&str, Check); 5] = [
    ("decoder_split", check_split),
    ("decoder_memory", check_memory),
    ("frame_roundtrip", check_roundtrip),
    ("block_parse", check_block_parse),
    ("block_mutation", check_block_mutation),
];

// ---- decoder set-up -------------------------------------------------------

/// One decoder run's set-up, read from the head of an input.
#[derive(Debug, Clone)]
pub struct Setup<'a> {
    pub limits: DecodeLimits,
    /// Limits swapped in by [`FrameDecoder::set_limits`] mid-stream.
    pub alt_limits: DecodeLimits,
    /// Hooks fire once this many items (frames or rejects) have come out; 0 is
    /// before any input, `None` never.
    pub verack_sent_after: Option<usize>,
    pub complete_after: Option<usize>,
    pub swap_limits_after: Option<usize>,
    /// Read sizes, cycled over the stream.
    pub chunks: Vec<usize>,
    /// Read in place through `read_buffer` (as the driver does) instead of `feed`.
    pub read_in_place: bool,
    /// Room asked of `read_buffer`, at least the chunk read into it.
    pub max_read: usize,
    pub stream: &'a [u8],
}

/// A payload limit from 16 bits: small values as they are, or up to ~4 MB in
/// steps of 128 when the top bit is set.
fn scaled_limit(v: u16) -> u32 {
    if v & 0x8000 != 0 {
        u32::from(v & 0x7fff) * 128
    } else {
        u32::from(v)
    }
}

/// The inverse of `scaled_limit` for seeds (rounded down to a step of 128).
pub fn limit_field(limit: u32) -> [u8; 2] {
    let v = if limit < 0x8000 {
        limit as u16
    } else {
        0x8000 | (limit / 128).min(0x7fff) as u16
    };
    v.to_le_bytes()
}

/// Bit `i` set means reject kind `i` (bad magic, oversized, bad checksum, bad
/// command) is dropped rather than disconnected.
fn policy(bits: u8) -> RejectPolicy {
    let action = |bit: u8| {
        if bits & (1 << bit) != 0 {
            Action::Drop
        } else {
            Action::Disconnect
        }
    };
    RejectPolicy {
        bad_magic: action(0),
        oversized: action(1),
        bad_checksum: action(2),
        bad_command: action(3),
    }
}

/// The policy bits of Bitcoin Core's defaults (checksum and command dropped).
pub const CORE_POLICY_BITS: u8 = 0b1100;

fn hook(b: u8) -> Option<usize> {
    (b != 0xff).then_some(b as usize)
}

/// A read size from one byte: up to 127 as is, beyond that in steps of 256.
fn chunk_len(b: u8) -> usize {
    if b < 128 {
        b as usize
    } else {
        (b as usize - 127) * 256
    }
}

impl<'a> Setup<'a> {
    pub fn parse(data: &'a [u8]) -> Self {
        let mut head = [0u8; HEAD_LEN];
        let n = data.len().min(HEAD_LEN);
        head[..n].copy_from_slice(&data[..n]);
        let u16_at = |i: usize| u16::from_le_bytes([head[i], head[i + 1]]);

        let mut limits = DecodeLimits::new(MAGIC);
        limits.policy = policy(head[0]);
        limits.lift_on_version_and_verack = head[0] & 0x10 != 0;
        limits.max_payload = scaled_limit(u16_at(1));
        limits.pre_handshake_max_payload = scaled_limit(u16_at(3));
        let mut alt_limits = limits;
        alt_limits.policy = policy(head[8]);
        alt_limits.max_payload = scaled_limit(u16_at(9));

        let mut chunks: Vec<usize> = head[12..16].iter().map(|b| chunk_len(*b)).collect();
        if chunks.iter().all(|c| *c == 0) {
            chunks = vec![usize::MAX]; // the whole stream at once
        }
        Self {
            limits,
            alt_limits,
            verack_sent_after: hook(head[5]),
            complete_after: hook(head[6]),
            swap_limits_after: hook(head[7]),
            chunks,
            read_in_place: head[0] & 0x20 != 0,
            max_read: head[11] as usize * 256,
            stream: &data[n..],
        }
    }

    /// The stream cut by the cycled read sizes (a zero size is an empty read).
    pub fn reads(&self) -> Vec<&'a [u8]> {
        let mut rest = self.stream;
        let mut out = Vec::new();
        for len in self.chunks.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (read, tail) = rest.split_at((*len).min(rest.len()));
            out.push(read);
            rest = tail;
        }
        out
    }

    /// The largest payload either set of limits ever allows.
    fn largest_limit(&self) -> usize {
        [self.limits, self.alt_limits]
            .iter()
            .map(|l| l.max_payload.max(l.pre_handshake_max_payload) as usize)
            .max()
            .unwrap_or(0)
    }

    /// Applies the hooks due once `items` items have come out.
    fn run_hooks(&self, dec: &mut FrameDecoder, items: usize) {
        if self.verack_sent_after == Some(items) {
            dec.on_our_verack_sent();
        }
        if self.complete_after == Some(items) {
            dec.complete_handshake();
        }
        if self.swap_limits_after == Some(items) {
            dec.set_limits(self.alt_limits);
        }
    }
}

/// A head for seeds: Core's defaults, reads of `chunk` bytes.
pub fn default_head(chunk: u8) -> [u8; HEAD_LEN] {
    let mut head = [0u8; HEAD_LEN];
    head[0] = CORE_POLICY_BITS | 0x10;
    head[1..3].copy_from_slice(&limit_field(4_000_000));
    head[3..5].copy_from_slice(&limit_field(32 * 1024));
    head[5] = 0xff;
    head[6] = 0xff;
    head[7] = 0xff;
    head[8] = CORE_POLICY_BITS;
    head[9..11].copy_from_slice(&limit_field(4_000_000));
    head[11] = 0;
    head[12..16].fill(chunk);
    head
}

// ---- target: decoder_split ------------------------------------------------

/// What a decoder run produced, to compare runs with.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    items: Vec<Decoded>,
    buffered: usize,
    failed: bool,
    handshake_complete: bool,
}

fn decode_in_reads(setup: &Setup, reads: &[&[u8]]) -> Outcome {
    let mut dec = FrameDecoder::new(setup.limits);
    let mut items = Vec::new();
    setup.run_hooks(&mut dec, 0);
    for read in reads {
        dec.feed(read);
        while let Some(item) = dec.next_frame() {
            assert!(
                !matches!(
                    items.last(),
                    Some(Decoded::Rejected {
                        action: Action::Disconnect,
                        ..
                    })
                ),
                "an item came out after a disconnecting reject"
            );
            items.push(item);
            setup.run_hooks(&mut dec, items.len());
        }
    }
    Outcome {
        items,
        buffered: dec.buffered(),
        failed: dec.is_failed(),
        handshake_complete: dec.handshake_complete(),
    }
}

/// Any split of the input into `feed` calls gives the frames and rejects (and
/// the final state) of feeding it whole, and so does one byte at a time.
pub fn check_split(data: &[u8]) {
    let setup = Setup::parse(data);
    let whole = decode_in_reads(&setup, &[setup.stream]);
    let split = decode_in_reads(&setup, &setup.reads());
    assert_eq!(whole, split, "split into reads of {:?}", setup.chunks);
    let bytes: Vec<&[u8]> = setup.stream.chunks(1).collect();
    assert_eq!(whole, decode_in_reads(&setup, &bytes), "one byte at a time");
}

// ---- target: decoder_memory -----------------------------------------------

/// Counts this thread's live heap bytes, so a check can see what the decoder
/// holds (not only what `capacity()` admits to). Install it as the binary's
/// `#[global_allocator]`.
pub struct CountingAlloc;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    // Const-initialised thread locals without destructors: no allocation, and
    // usable at any point of a thread's life.
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

/// Heap bytes this thread has allocated and not freed.
pub fn live_bytes() -> isize {
    LIVE.try_with(Cell::get).unwrap_or(0)
}

/// The most heap bytes this thread held since the last [`reset_peak`].
pub fn peak_bytes() -> isize {
    PEAK.try_with(Cell::get).unwrap_or(0)
}

/// Starts a new peak from what is live now.
pub fn reset_peak() {
    let _ = PEAK.try_with(|peak| peak.set(live_bytes()));
}

// SAFETY: every call forwards to the system allocator unchanged; only a
// thread-local counter is updated besides.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        new
    }
}

/// The decoder holds memory in proportion to what it was given, never to what
/// a header claims: after each read is decoded,
/// - what stays buffered is less than one header or one payload the limits allow;
/// - `capacity()` and the heap the decoder holds stay within a small multiple of
///   the largest (buffered + read) so far, plus the fixed small-payload arena;
/// - after a disconnecting reject it buffers nothing and holds no more heap,
///   whatever it is given next.
pub fn check_memory(data: &[u8]) {
    assert_counting_allocator();
    let setup = Setup::parse(data);
    let largest_limit = setup.largest_limit();
    let reads = setup.reads();
    let base = live_bytes();
    let mut dec = FrameDecoder::new(setup.limits);
    let mut items = 0;
    let mut fed = 0usize;
    let mut peak = 0usize;
    let mut live_when_failed = None;
    setup.run_hooks(&mut dec, 0);
    for read in reads {
        let before = dec.buffered();
        let room = if setup.read_in_place {
            let room = setup.max_read.max(read.len());
            dec.read_buffer(room).extend_from_slice(read);
            room
        } else {
            dec.feed(read);
            if dec.is_failed() {
                assert_eq!(dec.buffered(), 0, "a failed decoder kept fed bytes");
            }
            read.len()
        };
        fed += read.len();
        peak = peak.max(before + room);
        while let Some(item) = dec.next_frame() {
            drop(item);
            items += 1;
            setup.run_hooks(&mut dec, items);
        }

        let buffered = dec.buffered();
        assert!(buffered <= fed, "buffered {buffered} of {fed} bytes fed");
        assert!(
            buffered < HEADER_SIZE.max(largest_limit),
            "buffered {buffered}: more than a header or a {largest_limit}-byte payload"
        );
        let capacity = dec.capacity();
        assert!(
            capacity <= 4 * peak + 64,
            "capacity {capacity} after at most {peak} bytes buffered and read at once"
        );
        let held = live_bytes() - base;
        let allowed = (5 * peak + SMALL_ARENA + 4096) as isize;
        assert!(
            held <= allowed,
            "decoder holds {held} heap bytes; allowed {allowed} for at most {peak} bytes at once"
        );
        if dec.is_failed() {
            assert_eq!(
                (buffered, capacity),
                (0, 0),
                "a failed decoder kept a buffer"
            );
            let at_failure = *live_when_failed.get_or_insert(held);
            assert!(
                held <= at_failure,
                "a failed decoder grew from {at_failure} to {held} heap bytes"
            );
        }
    }
}

/// Without the counting allocator the heap bound would hold vacuously.
fn assert_counting_allocator() {
    let before = live_bytes();
    let probe = std::hint::black_box(vec![0u8; 1024]);
    let counted = live_bytes() - before;
    drop(probe);
    assert!(
        counted >= 1024,
        "install fuzzcheck's CountingAlloc as the #[global_allocator]"
    );
}

// ---- target: frame_roundtrip ----------------------------------------------

/// Frames built by `encode_frame` and `encode_frames` agree with each other and
/// with the header layout, and decode back to the same commands and payloads
/// however the stream is cut.
///
/// Input: magic[4], command length (mod 13) and bytes, payload count (mod 9),
/// then each payload as a u16 LE length (clamped to what is left) and bytes;
/// the bytes left over cut the stream (see [`Setup`]'s read sizes).
pub fn check_roundtrip(data: &[u8]) {
    let mut input = Input(data);
    let magic = [input.u8(), input.u8(), input.u8(), input.u8()];
    let name_len = input.u8() as usize % 13;
    let name: String = input
        .take(name_len)
        .iter()
        .map(|b| (b & 0x7f) as char)
        .collect();
    let command = match Command::new(&name) {
        Ok(command) => command,
        Err(_) => {
            assert!(name.bytes().any(|b| !(0x20..=0x7e).contains(&b)));
            return;
        }
    };
    let payloads: Vec<&[u8]> = (0..input.u8() % 9)
        .map(|_| {
            let len = u16::from_le_bytes([input.u8(), input.u8()]) as usize;
            input.take(len)
        })
        .collect();
    let cuts: Vec<usize> = input.0.iter().map(|b| chunk_len(*b).max(1)).collect();

    let frames: Vec<u8> = payloads
        .iter()
        .flat_map(|p| encode_frame(magic, &command, p).to_vec())
        .collect();
    let run = encode_frames(magic, &command, payloads.iter().copied());
    assert_eq!(
        &run[..],
        &frames[..],
        "encode_frames differs from encode_frame"
    );

    let mut at = 0;
    for payload in &payloads {
        let header = Header::parse(frames[at..at + HEADER_SIZE].try_into().unwrap());
        assert_eq!(header.magic, magic);
        assert_eq!(&header.command, command.wire_bytes());
        assert_eq!(header.length as usize, payload.len());
        assert_eq!(header.checksum, checksum(payload));
        at += HEADER_SIZE + payload.len();
    }
    assert_eq!(at, frames.len());

    let mut limits = DecodeLimits::new(magic);
    limits.max_payload = payloads.iter().map(|p| p.len() as u32).max().unwrap_or(0);
    let mut dec = FrameDecoder::new(limits);
    dec.complete_handshake();
    let mut decoded = Vec::new();
    let mut rest = &frames[..];
    for cut in cuts.iter().copied().chain(std::iter::repeat(usize::MAX)) {
        if rest.is_empty() {
            break;
        }
        let (read, tail) = rest.split_at(cut.min(rest.len()));
        dec.feed(read);
        rest = tail;
        while let Some(item) = dec.next_frame() {
            match item {
                Decoded::Frame(frame) => decoded.push(frame),
                Decoded::Rejected { reason, .. } => panic!("own frame rejected: {reason}"),
            }
        }
    }
    assert_eq!(dec.buffered(), 0);
    assert_eq!(decoded.len(), payloads.len());
    for (frame, payload) in decoded.iter().zip(&payloads) {
        assert_eq!(frame.command, command);
        assert_eq!(&frame.payload[..], *payload);
    }
}

/// Reads bytes off the front of an input, zeros once it runs out.
struct Input<'a>(&'a [u8]);

impl<'a> Input<'a> {
    fn u8(&mut self) -> u8 {
        self.take(1).first().copied().unwrap_or(0)
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, tail) = self.0.split_at(n.min(self.0.len()));
        self.0 = tail;
        head
    }
}

// ---- target: block_parse ----------------------------------------------------

/// Real blocks the block targets start from (and mutate).
const GENESIS_BLOCK: &[u8] = include_bytes!("../../tests/data/genesis-mainnet.raw");
const TESTNET_BLOCK: &[u8] = include_bytes!(
    "../../tests/data/testnet3-924634-000000000000045e0b1660b6445b5e5c5ab63c9a4f956be7e1e69be04fa4497b.raw"
);

/// Any bytes, as a block: no panic; memory in proportion to the input, never
/// to a claimed count; what parses is consistent (the transactions tile the
/// bytes after the header and count, every view agrees with the layout);
/// what passes the check is consistent with the parse.
pub fn check_block_parse(data: &[u8]) {
    assert_counting_allocator();
    let base = live_bytes();
    reset_peak();
    let result = check_block(data, &CheckOptions::default());
    let parsed = Block::parse(data);
    let peak = peak_bytes() - base;
    // Layouts (28 bytes per transaction of at least 10 bytes), txids and the
    // merkle scratch (32 each) and the witness tree: well under 16 per byte.
    let allowed = (16 * data.len() + 64 * 1024) as isize;
    assert!(
        peak <= allowed,
        "{peak} heap bytes for {} bytes of input",
        data.len()
    );
    let Ok(block) = parsed else {
        assert!(result.is_err(), "check passed what does not parse");
        return;
    };
    let layouts = block.layouts();
    let mut at = layouts.first().map_or(data.len(), |t| t.start as usize);
    assert!(at > 80, "transactions start inside the header");
    for (tx, layout) in block.txs().zip(layouts) {
        assert_eq!(
            layout.start as usize, at,
            "transactions do not tile the block"
        );
        at = layout.end as usize;
        assert!(layout.start < layout.body_start && layout.body_start <= layout.body_end);
        assert!(layout.body_end < layout.end);
        assert!(tx.stripped_size() <= tx.size());
        assert_eq!(tx.inputs().count(), tx.input_count());
        assert_eq!(tx.outputs().count(), tx.output_count());
        let stacks = if tx.has_witness() {
            tx.input_count()
        } else {
            0
        };
        assert_eq!(tx.witnesses().count(), stacks);
        for stack in tx.witnesses() {
            assert_eq!(stack.items().count(), stack.len());
        }
        if !tx.has_witness() {
            assert_eq!(tx.txid(), tx.wtxid());
        }
    }
    assert_eq!(at, data.len(), "bytes left after the last transaction");
    if let Ok(summary) = result {
        assert_eq!(summary.size, data.len());
        assert_eq!(summary.tx_count, block.tx_count());
        assert_eq!(summary.hash, double_sha256(&data[..80]));
        assert_eq!(summary.weight, block.weight());
        assert!(summary.weight <= 4_000_000);
        let txids: Vec<[u8; 32]> = block.txs().map(|t| t.txid()).collect();
        assert_eq!(summary.txids, txids);
    }
}

// ---- target: block_mutation -------------------------------------------------

/// Edits of a real block never pass as that block: with its hash expected,
/// any bytes other than the original fail the check (and nothing panics).
///
/// Input: a byte choosing the block (genesis or testnet3), then edits of four
/// bytes each: kind, two bytes of position (scaled to the block), value.
pub fn check_block_mutation(data: &[u8]) {
    let mut input = Input(data);
    let original = if input.u8() & 1 == 0 {
        GENESIS_BLOCK
    } else {
        TESTNET_BLOCK
    };
    let hash = double_sha256(&original[..80]);
    let mut block = original.to_vec();
    while !input.0.is_empty() {
        let kind = input.u8();
        let pos = u16::from_le_bytes([input.u8(), input.u8()]) as usize;
        let value = input.u8();
        if block.is_empty() {
            break;
        }
        let at = pos * block.len() / 0x1_0000;
        match kind % 5 {
            0 => block[at] ^= value.max(1),
            1 => block[at] = value,
            2 => block.insert(at, value),
            3 => {
                block.remove(at);
            }
            _ => block.truncate(at),
        }
    }
    let options = CheckOptions {
        expected_hash: Some(hash),
        ..CheckOptions::default()
    };
    let result = check_block(&block, &options);
    if block != original {
        assert!(result.is_err(), "an edited block passed as the original");
    } else {
        assert!(result.is_ok(), "the original failed: {result:?}");
    }
}

// ---- seeds ----------------------------------------------------------------

fn frame(command: &str, payload: &[u8]) -> Vec<u8> {
    encode_frame(MAGIC, &Command::new(command).unwrap(), payload).to_vec()
}

/// A handshake and some traffic, as a peer would send it.
fn conversation() -> Vec<u8> {
    let headers: Vec<u8> = std::iter::once(3u8)
        .chain((0..3 * 81).map(|i| (i % 251) as u8))
        .collect();
    [
        frame("version", &[7; 102]),
        frame("verack", &[]),
        frame("sendheaders", &[]),
        frame("ping", &42u64.to_le_bytes()),
        frame("headers", &headers),
        frame("pong", &42u64.to_le_bytes()),
    ]
    .concat()
}

fn with_head(head: [u8; HEAD_LEN], stream: &[u8]) -> Vec<u8> {
    [&head[..], stream].concat()
}

/// The seed inputs of each target, by name. `cargo run --example make_seeds`
/// in crates/core/fuzz writes them into the corpus; the replay test runs them
/// too.
pub fn seeds(target: &str) -> Vec<(&'static str, Vec<u8>)> {
    let talk = conversation();
    let mut bad_magic = frame("ping", &[1; 8]);
    bad_magic[0] = 0xf9;
    let mut bad_checksum = frame("ping", &[1; 8]);
    bad_checksum[20] ^= 0xff;
    let mut bad_command = frame("ping", &[1; 8]);
    bad_command[9] = b'x';
    let mut claims_4mb = frame("block", &[]);
    claims_4mb[16..20].copy_from_slice(&3_999_999u32.to_le_bytes());
    let mut claims_max = frame("block", &[]);
    claims_max[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
    let pong = frame("pong", &[2; 8]);

    let mut drop_all = default_head(13);
    drop_all[0] = 0x0f | 0x10;
    let mut in_place = default_head(0x90);
    in_place[0] |= 0x20;
    in_place[11] = 64; // read_buffer(16 KiB)
    let mut in_place_small = in_place;
    in_place_small[12..16].copy_from_slice(&[13, 1, 0, 40]);
    let mut handshake_hooks = default_head(5);
    handshake_hooks[5] = 2; // our verack goes out after version and verack
    handshake_hooks[7] = 4; // then the limits change
    handshake_hooks[9..11].copy_from_slice(&limit_field(100));
    let mut lifted = default_head(200);
    lifted[6] = 0;

    match target {
        "decoder_split" | "decoder_memory" => vec![
            ("conversation", with_head(default_head(7), &talk)),
            ("conversation-in-place", with_head(in_place, &talk)),
            ("handshake-hooks", with_head(handshake_hooks, &talk)),
            (
                "bad-magic-then-more",
                with_head(default_head(3), &[&bad_magic[..], &talk].concat()),
            ),
            (
                "bad-magic-read-in-place",
                with_head(in_place_small, &[&bad_magic[..], &talk].concat()),
            ),
            (
                "drops-then-pong",
                with_head(
                    drop_all,
                    &[&bad_magic[..], &bad_checksum, &bad_command, &pong].concat(),
                ),
            ),
            (
                "checksum-and-command-dropped",
                with_head(
                    default_head(1),
                    &[&bad_checksum[..], &bad_command, &pong].concat(),
                ),
            ),
            (
                "claims-4mb-then-trickle",
                with_head(lifted, &[&claims_4mb[..], &[0; 300]].concat()),
            ),
            (
                "claims-4mb-read-in-place",
                with_head(
                    {
                        let mut h = in_place;
                        h[6] = 0;
                        h
                    },
                    &[&claims_4mb[..], &[0; 300]].concat(),
                ),
            ),
            (
                "claims-u32-max-dropped",
                with_head(drop_all, &[&claims_max[..], &pong].concat()),
            ),
        ],
        "frame_roundtrip" => {
            let mut one = MAGIC.to_vec();
            one.push(4);
            one.extend(b"ping");
            one.push(1);
            one.extend(8u16.to_le_bytes());
            one.extend(7u64.to_le_bytes());
            let mut many = [0xf9, 0xbe, 0xb4, 0xd9].to_vec();
            many.push(7);
            many.extend(b"headers");
            many.push(3);
            for len in [0u16, 81, 300] {
                many.extend(len.to_le_bytes());
                many.extend((0..len).map(|i| i as u8));
            }
            many.extend([1, 23, 200, 5]);
            let mut empty_command = MAGIC.to_vec();
            empty_command.extend([0, 2, 0, 0, 0, 0]);
            vec![
                ("ping", one),
                ("headers-cut", many),
                ("empty-command", empty_command),
            ]
        }
        "block_parse" => {
            let mut cut = TESTNET_BLOCK.to_vec();
            cut.truncate(1000);
            let mut claims = GENESIS_BLOCK[..80].to_vec();
            claims.extend([0xfe, 0x00, 0x00, 0x00, 0x02]);
            vec![
                ("genesis", GENESIS_BLOCK.to_vec()),
                ("testnet3-segwit", TESTNET_BLOCK.to_vec()),
                ("testnet3-cut", cut),
                ("claims-33554432-txs", claims),
            ]
        }
        "block_mutation" => vec![
            ("genesis-unchanged", vec![0]),
            ("testnet3-unchanged", vec![1]),
            // Flip a bit in the middle; set the tx count; cut the witness.
            ("genesis-flip", vec![0, 0, 0x00, 0x80, 0x01]),
            ("testnet3-count", vec![1, 1, 0xbe, 0x04, 0x10]),
            ("testnet3-cut", vec![1, 4, 0x00, 0xf0, 0x00]),
        ],
        _ => Vec::new(),
    }
}
