// A validated chain of block headers: linkage, proof of work, difficulty
// transitions (the 2016-block retarget and testnet's minimum-difficulty rule),
// median-time-past. It also answers getheaders locators for serving peers.
import type { Network } from '../config/schema.js';
import type { BlockHeader } from '../wire/types.js';
import { encodeHeader, headerHash } from './block.js';
import { hashToHex, hexToHash } from './hash.js';
import { bitsToTarget, checkProofOfWork, targetToBits } from './pow.js';

/** Headers a single `headers` message carries at most. */
export const MAX_HEADERS_PER_MESSAGE = 2_000;
/** Blocks in the median-time-past window. */
const MTP_WINDOW = 11;
/** Bitcoin's block spacing; testnet's min-difficulty rule triggers after twice it. */
const TARGET_SPACING_SECONDS = 600;

export type HeaderErrorCode =
  | 'unconnected'
  | 'high-hash'
  | 'bad-target'
  | 'above-limit'
  | 'bad-diffbits'
  | 'time-too-old'
  | 'time-timewarp-attack';

/** A header that broke a rule; `height` is where it would have gone. */
export class HeaderError extends Error {
  override readonly name = 'HeaderError';
  constructor(
    readonly code: HeaderErrorCode,
    readonly height: number,
    detail: string,
  ) {
    super(`header at height ${height}: ${code}: ${detail}`);
  }
}

interface Entry {
  hash: Buffer;
  /** Undefined only for a genesis known by hash alone. */
  header?: BlockHeader;
  time: number;
  bits: number;
}

export class HeaderChain {
  private readonly entries: Entry[] = [];
  private readonly heights = new Map<string, number>();
  private readonly powLimit: bigint;
  private readonly powLimitBits: number;

  /**
   * Starts at the network's genesis. Pass its header when known (needed to
   * validate the first retarget period); otherwise the genesis is known by hash.
   */
  constructor(
    readonly network: Network,
    genesis?: BlockHeader,
  ) {
    this.powLimit = BigInt(`0x${network.pow.limit}`);
    this.powLimitBits = targetToBits(this.powLimit);
    const hash = hexToHash(network.genesisHash);
    if (genesis && !headerHash(genesis).equals(hash)) {
      throw new Error(`the genesis header does not hash to ${network.genesisHash}`);
    }
    this.push({
      hash,
      header: genesis,
      time: genesis?.time ?? 0,
      bits: genesis?.bits ?? this.powLimitBits,
    });
  }

  /** Height of the tip (the genesis is height 0). */
  get height(): number {
    return this.entries.length - 1;
  }

  get tipHash(): Buffer {
    return (this.entries.at(-1) as Entry).hash;
  }

  hashAt(height: number): Buffer | undefined {
    return this.entries[height]?.hash;
  }

  headerAt(height: number): BlockHeader | undefined {
    return this.entries[height]?.header;
  }

  heightOf(hash: Uint8Array): number | undefined {
    return this.heights.get(Buffer.from(hash).toString('hex'));
  }

  /**
   * Validates and appends headers in order. Stops at the first invalid one and
   * throws a HeaderError; the valid ones before it stay appended.
   */
  append(headers: readonly BlockHeader[]): number {
    for (const header of headers) this.appendOne(header);
    return this.height;
  }

  private appendOne(h: BlockHeader): void {
    const height = this.entries.length;
    const prev = this.entries[height - 1] as Entry;
    if (!prev.hash.equals(Buffer.from(h.prevBlock))) {
      throw new HeaderError(
        'unconnected',
        height,
        `previous block ${hashToHex(h.prevBlock)} is not the tip ${hashToHex(prev.hash)}`,
      );
    }
    const hash = headerHash(h);
    const pow = this.network.pow;
    if (pow.check) {
      const result = checkProofOfWork(hash, h.bits, this.powLimit);
      if (result !== 'ok') {
        throw new HeaderError(
          result,
          height,
          `hash ${hashToHex(hash)} bits ${h.bits.toString(16)}`,
        );
      }
      const expected = this.expectedBits(height, h.time);
      if (expected !== undefined && h.bits !== expected) {
        throw new HeaderError(
          'bad-diffbits',
          height,
          `bits ${h.bits.toString(16)}, expected ${expected.toString(16)}`,
        );
      }
    }
    const { retarget, bip94 } = this.network.pow;
    if (bip94 && retarget && height % retarget.interval === 0 && h.time < prev.time - 600) {
      throw new HeaderError(
        'time-timewarp-attack',
        height,
        `a period's first block at ${h.time} is over 600 s before its parent at ${prev.time}`,
      );
    }
    const mtp = this.medianTimePast();
    if (mtp !== undefined && h.time <= mtp) {
      throw new HeaderError(
        'time-too-old',
        height,
        `time ${h.time} is not after the median ${mtp}`,
      );
    }
    this.push({ hash, header: h, time: h.time, bits: h.bits });
  }

  /** Bitcoin Core's GetNextWorkRequired, or undefined when no rule applies. */
  private expectedBits(height: number, time: number): number | undefined {
    const { retarget, allowMinDifficulty } = this.network.pow;
    if (!retarget) return undefined;
    const prev = this.entries[height - 1] as Entry;
    if (height % retarget.interval !== 0) {
      if (!allowMinDifficulty) return prev.bits;
      // testnet: a block 20 minutes after its parent may use the minimum difficulty;
      // otherwise it carries the last bits that were not a min-difficulty exception.
      if (time > prev.time + 2 * TARGET_SPACING_SECONDS) return this.powLimitBits;
      for (let i = height - 1; i > 0; i--) {
        const e = this.entries[i] as Entry;
        if (i % retarget.interval === 0 || e.bits !== this.powLimitBits) return e.bits;
      }
      return (this.entries[0] as Entry).bits;
    }
    const first = this.entries[height - retarget.interval] as Entry;
    if (!first.header && height - retarget.interval === 0 && first.time === 0) {
      return undefined; // genesis known by hash only: its time is unknown
    }
    const span = retarget.targetTimespanSeconds;
    const actual = Math.min(Math.max(prev.time - first.time, span / 4), span * 4);
    // BIP 94 scales the period's first block: its last may be a min-difficulty one.
    const base = this.network.pow.bip94 ? first.bits : prev.bits;
    let target = ((bitsToTarget(base) ?? 0n) * BigInt(actual)) / BigInt(span);
    if (target > this.powLimit) target = this.powLimit;
    return targetToBits(target);
  }

  private medianTimePast(): number | undefined {
    const times = this.entries
      .slice(-MTP_WINDOW)
      .filter((e) => e.header !== undefined)
      .map((e) => e.time);
    if (times.length === 0) return undefined;
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)];
  }

  private push(entry: Entry): void {
    this.heights.set(entry.hash.toString('hex'), this.entries.length);
    this.entries.push(entry);
  }

  /** A getheaders locator: the last ten hashes, then exponentially sparser, then genesis. */
  locator(): Buffer[] {
    const out: Buffer[] = [];
    let step = 1;
    for (let h = this.height; h > 0; h -= step) {
      out.push((this.entries[h] as Entry).hash);
      if (out.length >= 10) step *= 2;
    }
    out.push((this.entries[0] as Entry).hash);
    return out;
  }

  /**
   * Answers a getheaders: the headers after the first locator hash we know (or
   * after genesis), up to 2,000 or `hashStop`.
   */
  headersAfter(locator: readonly Uint8Array[], hashStop: Uint8Array): BlockHeader[] {
    if (locator.length === 0) {
      // Core: an empty locator asks for the hashStop header alone.
      const at = this.heightOf(hashStop);
      const header = at === undefined ? undefined : this.entries[at]?.header;
      return header ? [header] : [];
    }
    let start = 0;
    for (const hash of locator) {
      const h = this.heightOf(hash);
      if (h !== undefined) {
        start = h;
        break;
      }
    }
    const stop = Buffer.from(hashStop);
    const out: BlockHeader[] = [];
    for (let h = start + 1; h <= this.height && out.length < MAX_HEADERS_PER_MESSAGE; h++) {
      const e = this.entries[h] as Entry;
      if (!e.header) break;
      out.push(e.header);
      if (e.hash.equals(stop)) break;
    }
    return out;
  }

  /** Every header after genesis, 80 bytes each, for a headers file. */
  *serialized(): Generator<Buffer> {
    for (let h = 1; h <= this.height; h++) {
      const header = this.entries[h]?.header;
      if (header) yield encodeHeader(header);
    }
  }
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

/** A chain starting at the network's genesis (its header when known). */
export function chainFor(network: Network): HeaderChain {
  return new HeaderChain(network, genesisHeaderOf(network));
}
