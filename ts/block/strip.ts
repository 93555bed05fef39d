// A block without its witness data: what a peer that asks with MSG_BLOCK
// rather than MSG_WITNESS_BLOCK gets (Core serves such a peer the block
// serialized without witnesses, TX_NO_WITNESS). Each transaction in BIP 144's
// extended form (marker 0x00, flag 0x01, witness stacks before the lock time)
// is cut back to the legacy form; the txids, the merkle root and the header
// are unchanged. The block's transactions are found by blockTxRanges (native);
// the rest is byte copying.
import { blockTxRanges } from './check.js';

/** The block header plus the transaction count's varint: where transactions start. */
function txCountEnd(raw: Uint8Array): number {
  const first = raw[80] as number;
  return 81 + (first < 0xfd ? 0 : first === 0xfd ? 2 : first === 0xfe ? 4 : 8);
}

/** Reads a CompactSize at `at`; returns [value, offset after it]. */
function varint(raw: Uint8Array, at: number): [number, number] {
  const first = raw[at] as number;
  if (first < 0xfd) return [first, at + 1];
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (first === 0xfd) return [view.getUint16(at + 1, true), at + 3];
  if (first === 0xfe) return [view.getUint32(at + 1, true), at + 5];
  return [Number(view.getBigUint64(at + 1, true)), at + 9];
}

/** Whether the transaction at `start` is in the extended (witness) form. */
function extended(raw: Uint8Array, start: number): boolean {
  return raw[start + 4] === 0 && raw[start + 5] !== 0;
}

/**
 * The end of the outputs of the extended transaction at `start` (the witness
 * stacks follow). The ranges come from a parse that already succeeded, so the
 * bytes are well formed.
 */
function outputsEnd(raw: Uint8Array, start: number): number {
  let at = start + 6;
  let inputs: number;
  [inputs, at] = varint(raw, at);
  for (let i = 0; i < inputs; i++) {
    at += 36;
    let scriptLength: number;
    [scriptLength, at] = varint(raw, at);
    at += scriptLength + 4;
  }
  let outputs: number;
  [outputs, at] = varint(raw, at);
  for (let i = 0; i < outputs; i++) {
    at += 8;
    let scriptLength: number;
    [scriptLength, at] = varint(raw, at);
    at += scriptLength;
  }
  return at;
}

/**
 * `raw` serialized without witness data: `raw` itself when no transaction has
 * any, else a new buffer. Throws BlockError (`malformed-block`) for bytes that
 * are not a block.
 */
export function stripWitness(raw: Uint8Array): Uint8Array {
  const ranges = blockTxRanges(raw);
  let any = false;
  for (let i = 0; i < ranges.length; i += 2) {
    if (extended(raw, ranges[i] as number)) {
      any = true;
      break;
    }
  }
  if (!any) return raw;
  const parts: Uint8Array[] = [raw.subarray(0, txCountEnd(raw))];
  for (let i = 0; i < ranges.length; i += 2) {
    const start = ranges[i] as number;
    const end = ranges[i + 1] as number;
    if (!extended(raw, start)) {
      parts.push(raw.subarray(start, end));
      continue;
    }
    parts.push(raw.subarray(start, start + 4)); // version
    parts.push(raw.subarray(start + 6, outputsEnd(raw, start))); // inputs and outputs
    parts.push(raw.subarray(end - 4, end)); // lock time
  }
  return Buffer.concat(parts);
}
