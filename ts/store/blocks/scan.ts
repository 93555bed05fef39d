// Recovery scan of a data file: the blocks written after the last one the
// index names (a kill -9 between the data fsync and the index append, or a
// lost index). Each record must have the network magic, a length that fits
// the file, and a body whose transactions hash to the header's merkle root;
// the scan stops at the first record that does not (a torn tail).
import type { FileHandle } from 'node:fs/promises';
import { blockTxids, merkleRoot } from '../../block/check.js';
import { blockHash } from '../../chain/block.js';
import { blockCrc, DATA_PREFIX_BYTES, MIN_BLOCK_BYTES } from './format.js';

export interface ScannedBlock {
  hash: Buffer;
  offset: number;
  length: number;
  crc: number;
}

export interface ScanResult {
  blocks: ScannedBlock[];
  /** Offset after the last good record: bytes from here on are a torn tail. */
  end: number;
  /** Why the scan stopped before the end of the file. */
  stoppedBecause?: string;
}

/** True when `raw`'s transactions hash to the merkle root in its header. */
export function bodyMatchesHeader(raw: Buffer): boolean {
  try {
    const { root } = merkleRoot(blockTxids(raw));
    return root.equals(raw.subarray(36, 68));
  } catch {
    return false;
  }
}

/** Scans `handle` (a data file of `size` bytes) from `from`. */
export async function scanDataFile(
  handle: FileHandle,
  from: number,
  size: number,
  magic: Uint8Array,
): Promise<ScanResult> {
  const blocks: ScannedBlock[] = [];
  const prefix = Buffer.alloc(DATA_PREFIX_BYTES);
  const wantMagic = Buffer.from(magic);
  let at = from;
  while (at < size) {
    if (size - at < DATA_PREFIX_BYTES) {
      return { blocks, end: at, stoppedBecause: `${size - at} bytes too few for a record` };
    }
    await handle.read(prefix, 0, DATA_PREFIX_BYTES, at);
    if (!prefix.subarray(0, 4).equals(wantMagic)) {
      return { blocks, end: at, stoppedBecause: 'no network magic' };
    }
    const length = prefix.readUInt32LE(4);
    if (length < MIN_BLOCK_BYTES || at + DATA_PREFIX_BYTES + length > size) {
      return { blocks, end: at, stoppedBecause: `record length ${length} does not fit` };
    }
    const raw = Buffer.allocUnsafe(length);
    await handle.read(raw, 0, length, at + DATA_PREFIX_BYTES);
    if (!bodyMatchesHeader(raw)) {
      return { blocks, end: at, stoppedBecause: 'block body does not match its merkle root' };
    }
    blocks.push({ hash: blockHash(raw), offset: at, length, crc: blockCrc(raw) });
    at += DATA_PREFIX_BYTES + length;
  }
  return { blocks, end: at };
}
