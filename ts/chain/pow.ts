// Proof of work: compact targets, the hash check and chain work.

/** Decodes a compact "bits" target. Returns undefined for negative or overflowing ones. */
export function bitsToTarget(bits: number): bigint | undefined {
  const exponent = bits >>> 24;
  const mantissa = bits & 0x007fffff;
  const negative = (bits & 0x00800000) !== 0;
  if (mantissa === 0) return 0n;
  if (negative) return undefined;
  const target =
    exponent <= 3
      ? BigInt(mantissa) >> BigInt(8 * (3 - exponent))
      : BigInt(mantissa) << BigInt(8 * (exponent - 3));
  if (target >= 1n << 256n) return undefined;
  return target;
}

/** Encodes a target as compact bits (the inverse of bitsToTarget, normalised). */
export function targetToBits(target: bigint): number {
  let size = 0;
  for (let t = target; t > 0n; t >>= 8n) size++;
  let mantissa =
    size <= 3 ? Number(target << BigInt(8 * (3 - size))) : Number(target >> BigInt(8 * (size - 3)));
  if (mantissa & 0x00800000) {
    mantissa >>= 8;
    size++;
  }
  return ((size << 24) | mantissa) >>> 0;
}

/** A wire-order hash as the 256-bit little-endian number it is. */
export function hashToNumber(hash: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(hash).reverse().toString('hex')}`);
}

export type PowResult = 'ok' | 'bad-target' | 'above-limit' | 'high-hash';

/** A target as 32 big-endian bytes, for comparing against byte-reversed hashes. */
function targetBytes(target: bigint): Buffer {
  return Buffer.from(target.toString(16).padStart(64, '0'), 'hex');
}

/** A TargetCache per proof-of-work limit seen (networks have one each). */
const targetCaches = new Map<bigint, TargetCache>();

/** Bitcoin Core's CheckProofOfWork: the target is sane and the hash meets it. */
export function checkProofOfWork(hash: Uint8Array, bits: number, powLimit: bigint): PowResult {
  // Keyed by the bigint itself: a string key meant printing a 256-bit number per call.
  let cache = targetCaches.get(powLimit);
  if (cache === undefined) {
    if (targetCaches.size >= 16) targetCaches.clear();
    cache = new TargetCache(powLimit);
    targetCaches.set(powLimit, cache);
  }
  return cache.check(hash, bits);
}

/** The hash (at `at`) is a little-endian number: compare its bytes from the top down. */
function hashMeetsTarget(hash: Uint8Array, at: number, target: Uint8Array): PowResult {
  for (let i = 0; i < 32; i++) {
    const h = hash[at + 31 - i] as number;
    const t = target[i] as number;
    if (h !== t) return h < t ? 'ok' : 'high-hash';
  }
  return 'ok';
}

/** Expected hashes to find a block at `bits`: 2^256 / (target + 1). */
export function blockWork(bits: number): bigint {
  const target = bitsToTarget(bits);
  if (target === undefined || target === 0n) return 0n;
  return (1n << 256n) / (target + 1n);
}

interface TargetInfo {
  /** The target as 32 big-endian bytes, or why the bits are unusable. */
  target: Buffer | Exclude<PowResult, 'ok' | 'high-hash'>;
  work: bigint;
}

/**
 * checkProofOfWork and blockWork for one proof-of-work limit, remembering the
 * last few bits seen: a chain keeps one target for a whole retarget period, so
 * header validation almost never decodes a target or divides a bigint.
 */
export class TargetCache {
  private readonly byBits = new Map<number, TargetInfo>();
  private lastBits = -1;
  private last: TargetInfo = { target: 'bad-target', work: 0n };

  constructor(private readonly powLimit: bigint) {}

  private info(bits: number): TargetInfo {
    if (bits === this.lastBits) return this.last;
    let info = this.byBits.get(bits);
    if (info === undefined) {
      const t = bitsToTarget(bits);
      info = {
        target:
          t === undefined || t === 0n
            ? 'bad-target'
            : t > this.powLimit
              ? 'above-limit'
              : targetBytes(t),
        work: blockWork(bits),
      };
      if (this.byBits.size >= 64) this.byBits.clear();
      this.byBits.set(bits, info);
    }
    this.lastBits = bits;
    this.last = info;
    return info;
  }

  /** Whether the 32-byte hash at `at` of `hash` meets `bits`. */
  check(hash: Uint8Array, bits: number, at = 0): PowResult {
    const target = this.info(bits).target;
    if (typeof target === 'string') return target;
    return hashMeetsTarget(hash, at, target);
  }

  work(bits: number): bigint {
    return this.info(bits).work;
  }
}
