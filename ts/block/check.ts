// Raw blocks checked against their headers, split and hashed, in Rust
// (peerwire-core's block module through the addon). Blocks stay raw bytes on
// this side: nothing here decodes scripts into objects.
import type { BlockCheck } from '../native/binding.js';
import { native } from '../native/binding.js';

/**
 * Every reason a block check can fail with: Bitcoin Core's reject reasons
 * (CheckBlock, CheckTransaction, ContextualCheckBlock's BIP 34 and witness
 * rules) and two of ours, `malformed-block` (the bytes do not deserialize) and
 * `block-hash-mismatch` (another header than the one asked for).
 */
export const BLOCK_ERROR_CODES = [
  'malformed-block',
  'block-hash-mismatch',
  'bad-txnmrklroot',
  'bad-txns-duplicate',
  'bad-blk-length',
  'bad-cb-missing',
  'bad-cb-multiple',
  'bad-txns-vin-empty',
  'bad-txns-vout-empty',
  'bad-txns-oversize',
  'bad-txns-vout-negative',
  'bad-txns-vout-toolarge',
  'bad-txns-txouttotal-toolarge',
  'bad-txns-inputs-duplicate',
  'bad-cb-length',
  'bad-txns-prevout-null',
  'bad-blk-sigops',
  'bad-cb-height',
  'bad-witness-nonce-size',
  'bad-witness-merkle-match',
  'unexpected-witness',
  'bad-blk-weight',
] as const;

export type BlockErrorCode = (typeof BLOCK_ERROR_CODES)[number];

const CODES: ReadonlySet<string> = new Set(BLOCK_ERROR_CODES);

/** A block that failed its check, or bytes that are not a block. */
export class BlockError extends Error {
  override readonly name = 'BlockError';
  constructor(
    /** The reject reason (see BLOCK_ERROR_CODES). */
    readonly code: BlockErrorCode,
    message: string,
    /**
     * True when these bytes are not the block the header commits to, so the
     * block itself may still be valid: blame the peer that sent them and ask
     * another, but do not mark the block invalid. Core's BLOCK_MUTATED (merkle
     * root, duplicates, witness commitment, a 64-byte transaction in a block
     * without coinbase), plus malformed bytes and a wrong header. False: any
     * copy of this block fails the same way; the block is invalid.
     */
    readonly mutated: boolean,
    /** For `malformed-block`: the byte offset where parsing failed. */
    readonly offset?: number,
  ) {
    super(message);
  }
}

/** The native error's properties (set by crates/napi/src/block.rs). */
interface NativeBlockFailure {
  code?: unknown;
  message?: unknown;
  mutated?: unknown;
  offset?: unknown;
}

function blockError(failure: NativeBlockFailure): BlockError | undefined {
  const { code, message, mutated, offset } = failure;
  if (typeof code !== 'string' || !CODES.has(code)) return undefined;
  return new BlockError(
    code as BlockErrorCode,
    typeof message === 'string' ? message : code,
    mutated === true,
    typeof offset === 'number' ? offset : undefined,
  );
}

/** Runs a native block call, turning its block failures into BlockError. */
function rethrowing<T>(call: () => T): T {
  try {
    return call();
  } catch (err) {
    throw (err !== null && typeof err === 'object' && blockError(err)) || err;
  }
}

/** What the caller knows of the block it expects. */
export interface BlockCheckOptions {
  /** The block hash the header chain has for it (wire order): another header is refused. */
  expectedHash?: Uint8Array;
  /**
   * The block's height, when BIP 34 applies there (the network's
   * `versionHeights.bip34` onwards): the coinbase must start with it.
   */
  bip34Height?: number;
  /**
   * Segwit active at the block (default true; on mainnet from 481,824). When
   * active, a witness commitment in the coinbase is checked; either way
   * witness data without a checked commitment is refused.
   */
  segwitActive?: boolean;
}

/** A block that passed its check. */
export interface CheckedBlock {
  /** Block hash, wire order. */
  hash: Buffer;
  txCount: number;
  /** Serialized size with witness data. */
  size: number;
  /** Serialized size without witness data. */
  strippedSize: number;
  /** BIP 141 weight: strippedSize × 3 + size (at most 4,000,000). */
  weight: number;
  /** Some transaction carries witness data. */
  hasWitness: boolean;
  /** The coinbase has a witness commitment, and it matched. */
  witnessCommitment: boolean;
  /** Legacy signature operations (at most 20,000). */
  sigops: number;
  /** The txids in block order, wire order (views of one buffer). */
  txids: Buffer[];
}

function hashes(all: Buffer): Buffer[] {
  const out: Buffer[] = new Array(all.length / 32);
  for (let i = 0; i < out.length; i++) out[i] = all.subarray(i * 32, i * 32 + 32);
  return out;
}

function checked(check: BlockCheck): CheckedBlock {
  return { ...check, txids: hashes(check.txids) };
}

function nativeOptions(options: BlockCheckOptions) {
  return { bip34Height: options.bip34Height, segwitActive: options.segwitActive };
}

/**
 * Checks a raw block as Bitcoin Core's CheckBlock does (merkle root, the
 * duplicated-transaction mutation CVE-2012-2459, size limits, coinbase, each
 * transaction's context-free checks, sigops), plus the BIP 34 height, the
 * witness commitment and the weight limit. Not checked: proof of work and
 * the header's own rules (the header chain's job: pass `expectedHash`),
 * lock-time finality, scripts and spent coins.
 *
 * Synchronous: a few milliseconds per MB (7 ms for a 1.4 MB block on the
 * debug addon here). For blocks arriving in bulk prefer checkBlockAsync,
 * which leaves the event loop free. Throws BlockError.
 */
export function checkBlock(raw: Uint8Array, options: BlockCheckOptions = {}): CheckedBlock {
  return checked(
    rethrowing(() => native.checkBlock(raw, options.expectedHash, nativeOptions(options))),
  );
}

/**
 * checkBlock on the libuv thread pool, on a copy of `raw` (so the caller may
 * reuse it at once). Rejects with BlockError.
 */
export async function checkBlockAsync(
  raw: Uint8Array,
  options: BlockCheckOptions = {},
): Promise<CheckedBlock> {
  const buffer = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.length);
  const outcome = await rethrowing(() =>
    native.checkBlockAsync(buffer, options.expectedHash, nativeOptions(options)),
  );
  if (outcome.check) return checked(outcome.check);
  throw blockError(outcome) ?? new Error(`checkBlockAsync: ${String(outcome.message)}`);
}

/**
 * Each transaction's byte range in a raw block, `[start0, end0, start1, end1, …]`.
 * Parses only (no hashing, no checks: ~0.3 ms for 1.4 MB). Throws BlockError
 * (`malformed-block`).
 */
export function blockTxRanges(raw: Uint8Array): Uint32Array {
  return rethrowing(() => native.blockTxRanges(raw));
}

/** A raw block's transactions, as views of `raw` (no copies). Throws BlockError. */
export function blockTransactions(raw: Uint8Array): Uint8Array[] {
  const ranges = blockTxRanges(raw);
  const txs: Uint8Array[] = new Array(ranges.length / 2);
  for (let i = 0; i < txs.length; i++) {
    txs[i] = raw.subarray(ranges[2 * i] as number, ranges[2 * i + 1] as number);
  }
  return txs;
}

/** The txids of a raw block's transactions, wire order. Parses and hashes only. Throws BlockError. */
export function blockTxids(raw: Uint8Array): Buffer[] {
  return hashes(rethrowing(() => native.blockTxids(raw)));
}

/**
 * The wtxids (BIP 141) of a raw block's transactions; the txid for one
 * without witness data. The coinbase's is its own (the witness merkle tree
 * uses zeros in its place). Throws BlockError.
 */
export function blockWtxids(raw: Uint8Array): Buffer[] {
  return hashes(rethrowing(() => native.blockWtxids(raw)));
}

/**
 * Bitcoin's merkle root of 32-byte hashes (an odd level pairs its last hash
 * with itself; no hashes give zeros), and whether a level had two identical
 * hashes as a pair: the mutation of CVE-2012-2459.
 */
export function merkleRoot(leaves: readonly Uint8Array[]): { root: Buffer; mutated: boolean } {
  for (const leaf of leaves) {
    if (leaf.length !== 32) throw new TypeError(`merkle leaves are 32 bytes, got ${leaf.length}`);
  }
  return native.merkleRoot(Buffer.concat(leaves));
}
