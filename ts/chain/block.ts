// Raw blocks and transactions: headers, hashes and splitting, without keeping a
// decoded copy of every script. Checking a whole block against its header, and
// splitting and hashing it in Rust, is ts/block/check.ts.
import { HEADER_BYTES, readHeader, writeHeader } from '../wire/codec.js';
import { Reader } from '../wire/reader.js';
import type { BlockHeader } from '../wire/types.js';
import { Writer } from '../wire/writer.js';
import { sha256d } from './hash.js';

export function encodeHeader(header: BlockHeader): Buffer {
  const w = new Writer(HEADER_BYTES);
  writeHeader(w, header);
  return w.finish();
}

/** The block hash (wire order) of a header. */
export function headerHash(header: BlockHeader): Buffer {
  // Written by hand: this runs for every header a sync validates.
  const b = Buffer.allocUnsafe(HEADER_BYTES);
  b.writeInt32LE(header.version, 0);
  b.set(header.prevBlock, 4);
  b.set(header.merkleRoot, 36);
  b.writeUInt32LE(header.time >>> 0, 68);
  b.writeUInt32LE(header.bits >>> 0, 72);
  b.writeUInt32LE(header.nonce >>> 0, 76);
  return sha256d(b);
}

/** The header at the start of a raw block. */
export function blockHeader(rawBlock: Uint8Array): BlockHeader {
  return readHeader(new Reader(rawBlock, 'block'));
}

/** The block hash of a raw block: the hash of its first 80 bytes. */
export function blockHash(rawBlock: Uint8Array): Buffer {
  if (rawBlock.length < HEADER_BYTES) {
    new Reader(rawBlock, 'block').bytesView(HEADER_BYTES, 'header');
  }
  return sha256d(rawBlock.subarray(0, HEADER_BYTES));
}

/** Where one transaction's parts sit in its serialization. */
interface TxLayout {
  /** Total serialized length. */
  length: number;
  /** Offsets of the non-witness parts, for the txid: [version, ins+outs, locktime]. */
  hasWitness: boolean;
  bodyStart: number;
  bodyEnd: number;
}

/** Walks one transaction at `r`'s position, checking every length against the bytes. */
function walkTx(r: Reader, start: number): TxLayout {
  const begin = r.offsetFrom(start);
  r.bytesView(4, 'tx.version');
  let hasWitness = false;
  let inputs = r.count('tx.inputs', Number.MAX_SAFE_INTEGER, 41);
  if (inputs === 0) {
    // BIP 144: marker 0x00 then flag 0x01, and the real input count follows.
    const flag = r.u8('tx.flag');
    if (flag !== 1) r.fail('invalid', 'tx.flag', `witness flag must be 1, got ${flag}`);
    hasWitness = true;
    inputs = r.count('tx.inputs', Number.MAX_SAFE_INTEGER, 41);
  }
  const bodyStart = hasWitness ? begin + 6 : begin + 4;
  for (let i = 0; i < inputs; i++) {
    r.bytesView(36, 'tx.input.prevout');
    r.bytesView(Number(r.varint('tx.input.script')), 'tx.input.script');
    r.bytesView(4, 'tx.input.sequence');
  }
  const outputs = r.count('tx.outputs', Number.MAX_SAFE_INTEGER, 9);
  for (let i = 0; i < outputs; i++) {
    r.bytesView(8, 'tx.output.value');
    r.bytesView(Number(r.varint('tx.output.script')), 'tx.output.script');
  }
  const bodyEnd = r.offsetFrom(start);
  if (hasWitness) {
    for (let i = 0; i < inputs; i++) {
      const items = r.count('tx.witness.items', Number.MAX_SAFE_INTEGER, 1);
      for (let j = 0; j < items; j++)
        r.bytesView(Number(r.varint('tx.witness.item')), 'tx.witness');
    }
  }
  r.bytesView(4, 'tx.locktime');
  return { length: r.offsetFrom(start) - begin, hasWitness, bodyStart, bodyEnd };
}

/** Splits a raw block into its header and raw transactions (views, not copies). */
export function splitBlock(rawBlock: Uint8Array): { header: BlockHeader; txs: Uint8Array[] } {
  const r = new Reader(rawBlock, 'block');
  const header = readHeader(r);
  const count = r.count('block.txCount', Number.MAX_SAFE_INTEGER, 60);
  const txs: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const at = r.offsetFrom(0);
    const layout = walkTx(r, 0);
    txs.push(rawBlock.subarray(at, at + layout.length));
  }
  return { header, txs };
}

function layoutOf(rawTx: Uint8Array): TxLayout {
  const r = new Reader(rawTx, 'tx');
  const layout = walkTx(r, 0);
  if (layout.length !== rawTx.length) {
    r.fail('invalid', 'tx', `${rawTx.length - layout.length} bytes after the transaction`);
  }
  return layout;
}

/** The txid: the hash of the serialization without witness data. */
export function txid(rawTx: Uint8Array): Buffer {
  const layout = layoutOf(rawTx);
  if (!layout.hasWitness) return sha256d(rawTx);
  const stripped = Buffer.concat([
    rawTx.subarray(0, 4),
    rawTx.subarray(layout.bodyStart, layout.bodyEnd),
    rawTx.subarray(rawTx.length - 4),
  ]);
  return sha256d(stripped);
}

/** The wtxid (BIP 141): the hash of the full serialization. */
export function wtxid(rawTx: Uint8Array): Buffer {
  layoutOf(rawTx);
  return sha256d(rawTx);
}
