// Building transactions and blocks byte by byte: what the block generator
// (and tests that need a particular block) are made of. Serialization per
// BIP 144; txid and wtxid per BIP 141; the witness commitment per BIP 141.
import { encodeHeader, headerHash } from '../chain/block.js';
import { sha256d } from '../chain/hash.js';
import type { BlockHeader } from '../wire/types.js';
import { Writer } from '../wire/writer.js';
import { merkleRoot } from './check.js';

/** One input: the output it spends, its scriptSig, and its witness stack. */
export interface TxInput {
  /** Txid of the spent transaction, wire order (zeros for a coinbase). */
  prevTxid: Uint8Array;
  /** Index of the spent output (0xffffffff for a coinbase). */
  index: number;
  scriptSig?: Uint8Array;
  /** Default 0xffffffff. */
  sequence?: number;
  /** Witness stack items, bottom first; none when absent or empty. */
  witness?: Uint8Array[];
}

export interface TxOutput {
  /** Satoshis. */
  value: bigint;
  script: Uint8Array;
}

export interface Transaction {
  /** Default 2. */
  version?: number;
  inputs: TxInput[];
  outputs: TxOutput[];
  /** Default 0. */
  locktime?: number;
}

/** A serialized transaction and its hashes (wire order). */
export interface BuiltTx {
  tx: Transaction;
  /** Serialization with witness data when it has any. */
  raw: Buffer;
  txid: Buffer;
  wtxid: Buffer;
}

/** The txid a coinbase input names: none. */
export const NULL_TXID = new Uint8Array(32);
/** The output index a coinbase input names. */
export const COINBASE_INDEX = 0xffff_ffff;
/** How a witness commitment output's script starts: OP_RETURN, push 36, aa21a9ed. */
export const WITNESS_COMMITMENT_HEADER = Uint8Array.from([0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed]);
/** Blocks before a coinbase's outputs may be spent (Core's COINBASE_MATURITY). */
export const COINBASE_MATURITY = 100;

function hasWitness(tx: Transaction): boolean {
  return tx.inputs.some((i) => (i.witness?.length ?? 0) > 0);
}

/** The serialization: BIP 144's extended form when `witness` and some input has a stack. */
export function encodeTx(tx: Transaction, options: { witness?: boolean } = {}): Buffer {
  const extended = (options.witness ?? true) && hasWitness(tx);
  const w = new Writer(128);
  w.i32(tx.version ?? 2);
  if (extended) w.u8(0).u8(1);
  w.varint(tx.inputs.length);
  for (const input of tx.inputs) {
    if (input.prevTxid.length !== 32) throw new TypeError('prevTxid must be 32 bytes');
    w.bytes(input.prevTxid).u32(input.index);
    w.varBytes(input.scriptSig ?? new Uint8Array(0));
    w.u32(input.sequence ?? 0xffff_ffff);
  }
  w.varint(tx.outputs.length);
  for (const output of tx.outputs) w.i64(output.value).varBytes(output.script);
  if (extended) {
    for (const input of tx.inputs) {
      const stack = input.witness ?? [];
      w.varint(stack.length);
      for (const item of stack) w.varBytes(item);
    }
  }
  w.u32(tx.locktime ?? 0);
  return w.finish();
}

/** Serializes `tx` and hashes it. */
export function buildTx(tx: Transaction): BuiltTx {
  const raw = encodeTx(tx);
  const wtxid = sha256d(raw);
  const txid = hasWitness(tx) ? sha256d(encodeTx(tx, { witness: false })) : wtxid;
  return { tx, raw, txid, wtxid };
}

/**
 * BIP 34's height script, as Core pushes it (`CScript() << height`): OP_0,
 * OP_1..OP_16, or the minimal little-endian number with a sign byte when needed.
 */
export function bip34HeightScript(height: number): Buffer {
  if (!Number.isInteger(height) || height < 0 || height > 0xffff_ffff) {
    throw new RangeError(`height ${height} out of range`);
  }
  if (height === 0) return Buffer.from([0x00]);
  if (height <= 16) return Buffer.from([0x50 + height]);
  const num: number[] = [];
  for (let n = height; n > 0; n = Math.floor(n / 256)) num.push(n % 256);
  if (((num[num.length - 1] as number) & 0x80) !== 0) num.push(0);
  return Buffer.from([num.length, ...num]);
}

/** Satoshis a coinbase may claim at `height` before fees: 50 coins, halved every `halvingInterval`. */
export function blockSubsidy(height: number, halvingInterval: number): bigint {
  const halvings = Math.floor(height / halvingInterval);
  return halvings >= 64 ? 0n : 50_0000_0000n >> BigInt(halvings);
}

/** A push of `data` (up to 75 bytes) as a script fragment. */
function push(data: Uint8Array): Buffer {
  if (data.length > 75) throw new RangeError('pushes here are at most 75 bytes');
  return Buffer.concat([Buffer.from([data.length]), data]);
}

export interface CoinbaseOptions {
  height: number;
  /** Outputs paying the block's reward (the commitment output is added after them). */
  outputs: TxOutput[];
  /** Pushed after the height in the scriptSig (up to 75 bytes; the scriptSig must total 2–100). */
  tag?: Uint8Array;
  /**
   * The witness commitment (32 bytes) to add as the last output, with the
   * coinbase's witness set to `reservedValue` (default 32 zero bytes, as Core mines).
   */
  commitment?: Uint8Array;
  reservedValue?: Uint8Array;
}

/** A coinbase: one input spending nothing, the BIP 34 height first in its scriptSig. */
export function coinbaseTx(options: CoinbaseOptions): Transaction {
  // Heights 0-16 are one opcode: with no tag, an OP_0 pads the scriptSig to
  // the 2 bytes a coinbase needs, as Core's miner does.
  const scriptSig = Buffer.concat([
    bip34HeightScript(options.height),
    options.tag ? push(options.tag) : Buffer.of(0x00),
  ]);
  const outputs = [...options.outputs];
  let witness: Uint8Array[] | undefined;
  if (options.commitment) {
    outputs.push({ value: 0n, script: witnessCommitmentScript(options.commitment) });
    witness = [options.reservedValue ?? new Uint8Array(32)];
  }
  return {
    version: 2,
    inputs: [{ prevTxid: NULL_TXID, index: COINBASE_INDEX, scriptSig, witness }],
    outputs,
  };
}

/** The commitment output's script for a 32-byte commitment. */
export function witnessCommitmentScript(commitment: Uint8Array): Buffer {
  if (commitment.length !== 32) throw new TypeError('a witness commitment is 32 bytes');
  return Buffer.concat([WITNESS_COMMITMENT_HEADER, commitment]);
}

/**
 * BIP 141's commitment for a block's transactions other than the coinbase
 * (whose wtxid counts as zero): SHA256d(witness merkle root ‖ reserved value).
 */
export function witnessCommitment(
  others: readonly BuiltTx[],
  reservedValue: Uint8Array = new Uint8Array(32),
): Buffer {
  const { root } = merkleRoot([new Uint8Array(32), ...others.map((t) => t.wtxid)]);
  return sha256d(Buffer.concat([root, reservedValue]));
}

/** A block: its header (merkle root filled in), hash and serialization. */
export interface BuiltBlock {
  header: BlockHeader;
  hash: Buffer;
  raw: Buffer;
}

/** Header fields other than the merkle root, which assembleBlock computes. */
export type HeaderFields = Omit<BlockHeader, 'merkleRoot'>;

/** The serialization of a block with these header fields and transactions (no mining). */
export function assembleBlock(
  fields: HeaderFields,
  txs: readonly Pick<BuiltTx, 'raw' | 'txid'>[],
): BuiltBlock {
  const header: BlockHeader = { ...fields, merkleRoot: merkleRoot(txs.map((t) => t.txid)).root };
  const w = new Writer(81 + txs.reduce((n, t) => n + t.raw.length, 0));
  w.bytes(encodeHeader(header)).varint(txs.length);
  for (const t of txs) w.bytes(t.raw);
  return { header, hash: headerHash(header), raw: w.finish() };
}
