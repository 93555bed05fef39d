// A block index of validated headers, every valid branch kept, and the best
// chain: the branch with the most cumulative work (first seen wins a tie), as
// in Bitcoin Core. Each header is checked against its own branch: linkage,
// proof of work, difficulty (the retarget, testnet's minimum-difficulty rule,
// regtest's fixed bits), median-time-past, BIP 94's timewarp rule, time-too-new
// and the BIP 34/66/65 version floors. It also builds locators and answers
// getheaders from the best chain.
//
// Memory: one small entry per header (its 80 bytes live in a HeaderStore), and
// headers off the best chain are capped (`maxSideHeaders`): past the cap, the
// side branches with the least work are dropped whole.
import type { Network } from '../config/schema.js';
import { type Clock, systemClock } from '../engine/clock.js';
import { HEADER_BYTES } from '../wire/codec.js';
import {
  allocHeadersWire,
  HEADER_RECORD_BYTES,
  type HeadersPayload,
  headerRecords,
  headersFromWire,
} from '../wire/headers.js';
import type { BlockHeader } from '../wire/types.js';
import { headerHash } from './block.js';
import { hashToHex, hexToHash, sha256dEach } from './hash.js';
import { HeaderStore, writeHeaderBytes } from './headerstore.js';
import { bitsToTarget, TargetCache, targetToBits } from './pow.js';

/** Why a `headers` payload is invalid on its face (see checkPayloadPow). */
export interface PayloadPowFault {
  kind: 'non-continuous' | 'invalid-pow';
  detail: string;
}

/** Headers a single `headers` message carries at most. */
export const MAX_HEADERS_PER_MESSAGE = 2_000;
/** Blocks in the median-time-past window. */
const MTP_WINDOW = 11;
/** Bitcoin's block spacing; testnet's min-difficulty rule triggers after twice it. */
const TARGET_SPACING_SECONDS = 600;
/** Core's MAX_FUTURE_BLOCK_TIME: how far past our clock a header may be. */
export const MAX_FUTURE_BLOCK_TIME_SECONDS = 2 * 60 * 60;
/** Default cap on headers kept off the best chain (~300 bytes each). */
export const DEFAULT_MAX_SIDE_HEADERS = 50_000;

export type HeaderErrorCode =
  /** Its parent is unknown (the first header of a message: see `connects`). */
  | 'unconnected'
  /** A header in a message that does not follow the one before it. */
  | 'non-continuous'
  | 'high-hash'
  | 'bad-target'
  | 'above-limit'
  | 'bad-diffbits'
  | 'time-too-old'
  | 'time-timewarp-attack'
  | 'time-too-new'
  | 'bad-version';

/** A header that broke a rule; `height` is where it would have gone (unknown when unconnected). */
export class HeaderError extends Error {
  override readonly name = 'HeaderError';
  /**
   * False when the header may become valid later (time-too-new: Core's
   * BLOCK_TIME_FUTURE) or its parent may still arrive (unconnected): such a
   * header is not invalid and the peer that sent it is not misbehaving.
   */
  readonly permanent: boolean;
  constructor(
    readonly code: HeaderErrorCode,
    readonly height: number | undefined,
    detail: string,
  ) {
    super(
      `header ${height === undefined ? 'of unknown height' : `at height ${height}`}: ${code}: ${detail}`,
    );
    this.permanent = code !== 'time-too-new' && code !== 'unconnected';
  }
}

/** One header in the block index. */
export class ChainEntry {
  /** Children in the index: a side entry without any is a branch tip. */
  children = 0;
  constructor(
    /** The block hash's bytes as a latin1 string: the index key. */
    readonly key: string,
    /** Its slot in the HeaderStore; -1 for a genesis known by hash alone. */
    readonly slot: number,
    readonly height: number,
    /** Cumulative proof of work up to and including this block. */
    readonly chainWork: bigint,
    readonly prev: ChainEntry | undefined,
  ) {}

  /** The block hash, wire order. */
  get hash(): Buffer {
    return Buffer.from(this.key, 'latin1');
  }
}

export interface HeaderChainOptions {
  /** The genesis header, when known (its hash must be the network's genesisHash). */
  genesis?: BlockHeader;
  /** Time for the time-too-new rule (default: the system clock). */
  clock?: Pick<Clock, 'now'>;
  /** Headers kept off the best chain before the least-work branches are dropped. */
  maxSideHeaders?: number;
}

/** What `accept` did with a message's headers. */
export interface AcceptResult {
  /** Headers new to the index. */
  added: number;
  /** The entry of the message's last header (new or already known). */
  last: ChainEntry | undefined;
}

const keyOf = (hash: Uint8Array): string =>
  Buffer.from(hash.buffer, hash.byteOffset, 32).toString('latin1');

/** Whether the 32 bytes at `a` of `x` equal those at `b` of `y` (in JS: Buffer#compare's native call costs more). */
function sameHash(x: Uint8Array, a: number, y: Uint8Array, b: number): boolean {
  for (let i = 0; i < 32; i++) if (x[a + i] !== y[b + i]) return false;
  return true;
}

/** Reused by every median-time-past computation (no allocation per header). */
const mtpScratch = new Float64Array(MTP_WINDOW);

export class HeaderChain {
  private readonly index = new Map<string, ChainEntry>();
  /** The best chain by height. */
  private readonly best: ChainEntry[] = [];
  /** Side entries with no children: where pruning starts. */
  private readonly sideTips = new Set<ChainEntry>();
  private readonly store = new HeaderStore();
  private readonly targets: TargetCache;
  private readonly powLimit: bigint;
  private readonly powLimitBits: number;
  private readonly clock: Pick<Clock, 'now'>;
  private readonly maxSideHeaders: number;
  /** Serializes each candidate header before it is hashed (and stored if valid). */
  private readonly scratch = Buffer.alloc(HEADER_BYTES);
  private raw = Buffer.alloc(0);
  private readonly genesisBits: number;

  constructor(
    readonly network: Network,
    options: HeaderChainOptions = {},
  ) {
    const { genesis, clock = systemClock, maxSideHeaders = DEFAULT_MAX_SIDE_HEADERS } = options;
    this.powLimit = BigInt(`0x${network.pow.limit}`);
    this.powLimitBits = targetToBits(this.powLimit);
    this.targets = new TargetCache(this.powLimit);
    this.clock = clock;
    this.maxSideHeaders = maxSideHeaders;
    const hash = hexToHash(network.genesisHash);
    if (genesis && !headerHash(genesis).equals(hash)) {
      throw new Error(`the genesis header does not hash to ${network.genesisHash}`);
    }
    let slot = -1;
    if (genesis) {
      writeHeaderBytes(this.scratch, 0, genesis);
      slot = this.store.add(this.scratch);
    }
    this.genesisBits = genesis?.bits ?? this.powLimitBits;
    const entry = new ChainEntry(
      hash.toString('latin1'),
      slot,
      0,
      this.targets.work(this.genesisBits),
      undefined,
    );
    this.index.set(entry.key, entry);
    this.best.push(entry);
  }

  // ---- the best chain -------------------------------------------------------

  /** Height of the best tip (the genesis is height 0). */
  get height(): number {
    return this.best.length - 1;
  }

  get tip(): ChainEntry {
    return this.best[this.best.length - 1] as ChainEntry;
  }

  get tipHash(): Buffer {
    return this.tip.hash;
  }

  /** Cumulative work of the best chain. */
  get chainWork(): bigint {
    return this.tip.chainWork;
  }

  /** Headers in the index, every branch and the genesis included. */
  get size(): number {
    return this.index.size;
  }

  /** Headers kept off the best chain. */
  get sideHeaders(): number {
    return this.index.size - this.best.length;
  }

  /** The best chain's hash at `height`. */
  hashAt(height: number): Buffer | undefined {
    return this.best[height]?.hash;
  }

  /** The best chain's header at `height` (a copy), if its header is known. */
  headerAt(height: number): BlockHeader | undefined {
    const e = this.best[height];
    return e && e.slot >= 0 ? this.store.decode(e.slot, true) : undefined;
  }

  /** Height of `hash` if it is on the best chain. */
  heightOf(hash: Uint8Array): number | undefined {
    const e = this.index.get(keyOf(hash));
    return e && this.isBest(e) ? e.height : undefined;
  }

  /** The index entry of `hash`, on any branch. */
  entry(hash: Uint8Array): ChainEntry | undefined {
    return this.index.get(keyOf(hash));
  }

  /** Whether a header whose parent is `prevBlock` would connect to the index. */
  connects(prevBlock: Uint8Array): boolean {
    return this.index.has(keyOf(prevBlock));
  }

  isBest(e: ChainEntry): boolean {
    return this.best[e.height] === e;
  }

  // ---- adding headers -------------------------------------------------------

  /**
   * Validates and adds a message's headers, in order (each must follow the one
   * before it). Throws a HeaderError at the first invalid one; those before it
   * stay added. Returns the best height.
   */
  append(headers: readonly BlockHeader[]): number {
    this.accept(headers);
    return this.height;
  }

  /** As `append`, returning what was added and where the message ended. */
  accept(headers: readonly BlockHeader[]): AcceptResult {
    // Every header encoded, then hashed and checked in place.
    return this.acceptRecords(this.encodeScratch(headers), 0, headers.length, HEADER_BYTES);
  }

  /**
   * Core's CheckHeadersPoW, for headers that are not being added: why the
   * payload is invalid on its face (its headers do not follow one another, or
   * one's hash does not meet its own bits), or undefined. Nothing is stored.
   */
  checkPayloadPow(payload: HeadersPayload): PayloadPowFault | undefined {
    const records = headerRecords(payload);
    const {
      wire: raw,
      start,
      count,
    } = records ?? {
      wire: this.encodeScratch(payload.headers),
      start: 0,
      count: payload.headers.length,
    };
    const stride = records ? HEADER_RECORD_BYTES : HEADER_BYTES;
    const hashes = sha256dEach(raw.subarray(start, start + count * stride), stride, HEADER_BYTES);
    for (let i = 0, at = start; i < count; i++, at += stride) {
      if (i > 0 && !sameHash(hashes, (i - 1) * 32, raw, at + 4)) {
        return {
          kind: 'non-continuous',
          detail: `header ${i} of ${count} does not follow the one before it`,
        };
      }
      const pow = this.targets.check(hashes, raw.readUInt32LE(at + 72), i * 32);
      if (pow !== 'ok') return { kind: 'invalid-pow', detail: `header ${i} of ${count}: ${pow}` };
    }
    return undefined;
  }

  /**
   * As `accept`, for a `headers` message's payload: its wire records, when it
   * still has them, are validated and stored without decoding a header.
   */
  acceptPayload(payload: HeadersPayload): AcceptResult {
    const records = headerRecords(payload);
    if (!records) return this.accept(payload.headers);
    const { wire, start, count } = records;
    return this.acceptRecords(wire, start, count, HEADER_RECORD_BYTES);
  }

  /**
   * Adds `count` headers, each the first 80 bytes of a `stride`-byte record of
   * `raw` from `start`.
   */
  private acceptRecords(raw: Buffer, start: number, count: number, stride: number): AcceptResult {
    const nowSeconds = Math.floor(this.clock.now() / 1000);
    let added = 0;
    let last: ChainEntry | undefined;
    const hashes = sha256dEach(raw.subarray(start, start + count * stride), stride, HEADER_BYTES);
    const known = this.allKnown(raw, start, count, stride, hashes);
    if (known) return { added: 0, last: known };
    try {
      for (let i = 0, at = start; i < count; i++, at += stride) {
        let prev: ChainEntry | undefined;
        if (last === undefined) {
          prev = this.index.get(raw.toString('latin1', at + 4, at + 36));
          if (!prev) {
            throw new HeaderError(
              'unconnected',
              undefined,
              `previous block ${hashToHex(raw.subarray(at + 4, at + 36))} is unknown`,
            );
          }
        } else {
          // The previous block must be the header before it (its hash, just computed).
          if (!sameHash(hashes, (i - 1) * 32, raw, at + 4)) {
            throw new HeaderError(
              'non-continuous',
              last.height + 1,
              `previous block ${hashToHex(raw.subarray(at + 4, at + 36))} is not the header before it`,
            );
          }
          prev = last;
        }
        const key = hashes.toString('latin1', i * 32, i * 32 + 32);
        let entry = this.index.get(key);
        if (entry === undefined) {
          const fields = readFields(raw, at);
          this.validate(fields, hashes, i * 32, prev, nowSeconds);
          entry = this.insert(key, prev, fields.bits, raw, at);
          added++;
        }
        last = entry;
      }
    } finally {
      if (this.sideHeaders > this.maxSideHeaders) this.prune(last);
    }
    return { added, last };
  }

  /**
   * The entry of the last header, when every header of the message is already
   * in the index: its last one is, and each links to the one before it (an
   * entry's ancestors are always in the index), the first to a known block.
   * A peer that sends what we have, as several do in a sync, then costs a
   * hash and a comparison per header, not a lookup. Undefined otherwise: the
   * caller's walk then adds, and reports, exactly as without this check.
   */
  private allKnown(
    raw: Buffer,
    start: number,
    count: number,
    stride: number,
    hashes: Buffer,
  ): ChainEntry | undefined {
    if (count === 0) return undefined;
    const last = this.index.get(hashes.toString('latin1', (count - 1) * 32, count * 32));
    if (last === undefined) return undefined;
    for (let i = 1, at = start + stride; i < count; i++, at += stride) {
      if (!sameHash(hashes, (i - 1) * 32, raw, at + 4)) return undefined;
    }
    return this.index.has(raw.toString('latin1', start + 4, start + 36)) ? last : undefined;
  }

  /** Bitcoin Core's CheckBlockHeader and ContextualCheckBlockHeader. */
  private validate(
    h: HeaderFields,
    hashes: Buffer,
    hashAt: number,
    prev: ChainEntry,
    nowSeconds: number,
  ): void {
    const height = prev.height + 1;
    const { pow, versionHeights } = this.network;
    if (pow.check) {
      const result = this.targets.check(hashes, h.bits, hashAt);
      if (result !== 'ok') {
        const hash = hashes.subarray(hashAt, hashAt + 32);
        throw new HeaderError(result, height, `hash ${hashToHex(hash)} bits ${hex(h.bits)}`);
      }
      const expected = this.expectedBits(prev, h.time);
      if (expected !== undefined && h.bits !== expected) {
        throw new HeaderError(
          'bad-diffbits',
          height,
          `bits ${hex(h.bits)}, expected ${hex(expected)}`,
        );
      }
    }
    const mtp = this.medianTimePast(prev);
    if (h.time <= mtp) {
      throw new HeaderError(
        'time-too-old',
        height,
        `time ${h.time} is not after the median ${mtp}`,
      );
    }
    const prevTime = this.timeOf(prev);
    if (pow.bip94 && pow.retarget && height % pow.retarget.interval === 0) {
      if (h.time < prevTime - 600) {
        throw new HeaderError(
          'time-timewarp-attack',
          height,
          `a period's first block at ${h.time} is over 600 s before its parent at ${prevTime}`,
        );
      }
    }
    if (h.time > nowSeconds + MAX_FUTURE_BLOCK_TIME_SECONDS) {
      throw new HeaderError(
        'time-too-new',
        height,
        `time ${h.time} is over ${MAX_FUTURE_BLOCK_TIME_SECONDS} s past now (${nowSeconds})`,
      );
    }
    const floor = minVersion(versionHeights, height);
    if (h.version < floor) {
      throw new HeaderError('bad-version', height, `version ${h.version} is below ${floor}`);
    }
  }

  /** A reusable buffer for `count` encoded headers. */
  private rawScratch(count: number): Buffer {
    if (this.raw.length < count * HEADER_BYTES) this.raw = Buffer.alloc(count * HEADER_BYTES);
    return this.raw;
  }

  /** `headers` encoded back to back into the scratch buffer (valid until its next use). */
  private encodeScratch(headers: readonly BlockHeader[]): Buffer {
    const raw = this.rawScratch(headers.length);
    for (let i = 0; i < headers.length; i++) {
      writeHeaderBytes(raw, i * HEADER_BYTES, headers[i] as BlockHeader);
    }
    return raw;
  }

  /** Adds a validated header (its 80 encoded bytes at `at` of `raw`). */
  private insert(key: string, prev: ChainEntry, bits: number, raw: Buffer, at: number): ChainEntry {
    const slot = this.store.add(raw, at);
    const entry = new ChainEntry(
      key,
      slot,
      prev.height + 1,
      prev.chainWork + this.targets.work(bits),
      prev,
    );
    this.index.set(key, entry);
    if (prev.children++ === 0) this.sideTips.delete(prev);
    const tip = this.tip;
    if (entry.chainWork <= tip.chainWork) {
      this.sideTips.add(entry);
    } else if (prev === tip) {
      this.best.push(entry);
    } else {
      this.reorganize(entry);
    }
    return entry;
  }

  /** Makes `entry` (more work than the tip, off the best chain) the best tip. */
  private reorganize(entry: ChainEntry): void {
    const oldTip = this.tip;
    const branch: ChainEntry[] = [];
    let e: ChainEntry = entry;
    while (!this.isBest(e)) {
      branch.push(e);
      e = e.prev as ChainEntry; // the genesis is always on the best chain
    }
    this.best.length = e.height + 1;
    for (let i = branch.length - 1; i >= 0; i--) this.best.push(branch[i] as ChainEntry);
    this.sideTips.delete(entry);
    if (oldTip.children === 0) this.sideTips.add(oldTip);
  }

  /**
   * Drops whole side branches, least work first, until the side headers are
   * back to 90 % of the cap. `keep`'s branch (the one a peer is extending) goes
   * last. Amortised: each prune frees at least a tenth of the cap.
   */
  private prune(keep: ChainEntry | undefined): void {
    const goal = Math.floor(this.maxSideHeaders * 0.9);
    const tips = [...this.sideTips].sort((a, b) =>
      a === keep
        ? 1
        : b === keep
          ? -1
          : a.chainWork < b.chainWork
            ? -1
            : a.chainWork > b.chainWork
              ? 1
              : 0,
    );
    for (const tip of tips) {
      if (this.sideHeaders <= goal) break;
      let e: ChainEntry | undefined = tip;
      while (e && e.children === 0 && !this.isBest(e)) {
        this.index.delete(e.key);
        this.sideTips.delete(e);
        if (e.slot >= 0) this.store.release(e.slot);
        const parent: ChainEntry | undefined = e.prev;
        if (parent) parent.children--;
        e = parent;
      }
    }
  }

  // ---- consensus helpers ----------------------------------------------------

  private timeOf(e: ChainEntry): number {
    // A genesis known by hash alone: no valid block's time can be at or before
    // it (each is after a median that includes it), so it sorts first in every
    // window, exactly as its real time would; only block 1's "after genesis"
    // check is lost.
    return e.slot >= 0 ? this.store.time(e.slot) : Number.NEGATIVE_INFINITY;
  }

  private bitsOf(e: ChainEntry): number {
    return e.slot >= 0 ? this.store.bits(e.slot) : this.genesisBits;
  }

  /** `e`'s ancestor at `height` (on `e`'s own branch). */
  private ancestor(e: ChainEntry, height: number): ChainEntry {
    let at = e;
    while (at.height > height && !this.isBest(at)) at = at.prev as ChainEntry;
    return at.height === height ? at : (this.best[height] as ChainEntry);
  }

  /**
   * Core's GetMedianTimePast: the median of the last eleven blocks' times up to
   * `e`, genesis included; with an even count early on, the upper middle one.
   */
  private medianTimePast(e: ChainEntry): number {
    // As Core fills its array: from the back, newest first. Times mostly rise
    // with height, so the window is then nearly sorted already, and the
    // insertion sort below does a comparison per time instead of shifting
    // every earlier one (which filling from the front did).
    let begin = MTP_WINDOW;
    for (let at: ChainEntry | undefined = e; at && begin > 0; at = at.prev) {
      mtpScratch[--begin] = this.timeOf(at);
    }
    for (let j = begin + 1; j < MTP_WINDOW; j++) {
      const t = mtpScratch[j] as number;
      let i = j;
      while (i > begin && (mtpScratch[i - 1] as number) > t) {
        mtpScratch[i] = mtpScratch[i - 1] as number;
        i--;
      }
      mtpScratch[i] = t;
    }
    return mtpScratch[begin + ((MTP_WINDOW - begin) >> 1)] as number;
  }

  /** Core's GetNextWorkRequired for the block after `prev`, or undefined when unknowable. */
  private expectedBits(prev: ChainEntry, time: number): number | undefined {
    const { retarget, allowMinDifficulty, bip94 } = this.network.pow;
    const prevBits = this.bitsOf(prev);
    // No retargeting (regtest's fPowNoRetargeting): the bits never change.
    if (!retarget) return prevBits;
    const height = prev.height + 1;
    if (height % retarget.interval !== 0) {
      if (!allowMinDifficulty) return prevBits;
      // testnet: a block 20 minutes after its parent may use the minimum difficulty;
      // otherwise it carries the last bits that were not a min-difficulty exception.
      if (time > this.timeOf(prev) + 2 * TARGET_SPACING_SECONDS) return this.powLimitBits;
      let at = prev;
      while (
        at.prev &&
        at.height % retarget.interval !== 0 &&
        this.bitsOf(at) === this.powLimitBits
      ) {
        at = at.prev;
      }
      return this.bitsOf(at);
    }
    const first = this.ancestor(prev, height - retarget.interval);
    if (first.slot < 0) return undefined; // genesis known by hash only: its time is unknown
    // Integer arithmetic throughout, as Core: the clamp divides by 4 rounding down.
    const span = retarget.targetTimespanSeconds;
    const actual = Math.min(
      Math.max(this.timeOf(prev) - this.timeOf(first), Math.floor(span / 4)),
      span * 4,
    );
    // BIP 94 scales the period's first block: its last may be a min-difficulty one.
    const base = bip94 ? this.bitsOf(first) : prevBits;
    let target = ((bitsToTarget(base) ?? 0n) * BigInt(actual)) / BigInt(span);
    if (target > this.powLimit) target = this.powLimit;
    return targetToBits(target);
  }

  // ---- serving --------------------------------------------------------------

  /**
   * A getheaders locator from `from` (default: the best tip) back along its own
   * branch: ten hashes, then exponentially sparser, then the genesis.
   */
  locator(from: ChainEntry = this.tip): Buffer[] {
    const out: Buffer[] = [];
    let step = 1;
    let e = from;
    while (e.height > 0) {
      out.push(e.hash);
      if (out.length >= 10) step *= 2;
      e = this.ancestor(e, Math.max(0, e.height - step));
    }
    out.push((this.best[0] as ChainEntry).hash);
    return out;
  }

  /**
   * Answers a getheaders from the best chain: the headers after the first
   * locator hash on it (or after genesis), up to 2,000 or `hashStop`. The
   * payload is built from the stored bytes and is encoded without decoding a
   * header; it is the caller's own.
   */
  headersPayloadAfter(locator: readonly Uint8Array[], hashStop: Uint8Array): HeadersPayload {
    const slots = this.slotsAfter(locator, hashStop);
    // Each record: the stored header, then a zero transaction count.
    const { wire, start } = allocHeadersWire(slots.length);
    this.store.copyRecordsTo(slots, wire, start);
    return headersFromWire(wire, start, slots.length);
  }

  /**
   * As `headersPayloadAfter`, decoded. The hashes in the returned headers are
   * views into the chain's storage: encode them at once, do not keep or modify them.
   */
  headersAfter(locator: readonly Uint8Array[], hashStop: Uint8Array): BlockHeader[] {
    return this.slotsAfter(locator, hashStop).map((slot) => this.store.decode(slot, false));
  }

  /** The store slots of a getheaders answer (see `headersPayloadAfter`). */
  private slotsAfter(locator: readonly Uint8Array[], hashStop: Uint8Array): number[] {
    const slots: number[] = [];
    if (locator.length === 0) {
      // Core: an empty locator asks for the hashStop header alone.
      const e = this.index.get(keyOf(hashStop));
      if (e && e.slot >= 0) slots.push(e.slot);
      return slots;
    }
    let start = 0;
    for (const hash of locator) {
      const h = this.heightOf(hash);
      if (h !== undefined) {
        start = h;
        break;
      }
    }
    const stop = keyOf(hashStop);
    const end = Math.min(this.height, start + MAX_HEADERS_PER_MESSAGE);
    for (let h = start + 1; h <= end; h++) {
      const e = this.best[h] as ChainEntry;
      slots.push(e.slot);
      if (e.key === stop) break;
    }
    return slots;
  }

  /** Every best-chain header after genesis, 80 bytes each (views: copy to keep). */
  *serialized(): Generator<Buffer> {
    for (let h = 1; h <= this.height; h++) {
      yield this.store.view((this.best[h] as ChainEntry).slot);
    }
  }
}

/** The header fields validation reads, straight from its bytes. */
interface HeaderFields {
  version: number;
  time: number;
  bits: number;
}

function readFields(raw: Buffer, at: number): HeaderFields {
  return {
    version: raw.readInt32LE(at),
    time: raw.readUInt32LE(at + 68),
    bits: raw.readUInt32LE(at + 72),
  };
}

function hex(n: number): string {
  return n.toString(16);
}

/** The lowest version allowed at `height` (Core's bad-version rule). */
function minVersion(heights: Network['versionHeights'], height: number): number {
  const { bip34, bip66, bip65 } = heights;
  if (bip65 !== null && height >= bip65) return 4;
  if (bip66 !== null && height >= bip66) return 3;
  if (bip34 !== null && height >= bip34) return 2;
  return Number.NEGATIVE_INFINITY;
}

/** The network's genesis header as a BlockHeader, when the network defines it. */
export function genesisHeaderOf(network: Network): BlockHeader | undefined {
  const g = network.genesisHeader;
  if (!g) return undefined;
  return {
    version: g.version,
    prevBlock: new Uint8Array(32),
    merkleRoot: hexToHash(g.merkleRoot),
    time: g.time,
    bits: g.bits,
    nonce: g.nonce,
  };
}

/** A chain starting at the network's genesis (its header when the network defines it). */
export function chainFor(
  network: Network,
  options: Omit<HeaderChainOptions, 'genesis'> = {},
): HeaderChain {
  return new HeaderChain(network, { ...options, genesis: genesisHeaderOf(network) });
}
