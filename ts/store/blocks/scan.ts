// Recovery scan of a data file: the blocks written after the last one the
// index names (a kill -9 between the data fsync and the index append, or a
// lost index). Each record must have the network magic, a length that fits
// the file, and a body whose transactions hash to the header's merkle root.
// Bytes that are not such a record are skipped up to the next network magic
// that starts one (as Core's reindex does), so damage in the middle of a file
// costs only the records it touches; what follows the last good record is a
// torn tail.
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

export interface SkippedRange {
  offset: number;
  bytes: number;
  why: string;
}

export interface ScanResult {
  blocks: ScannedBlock[];
  /** Offset after the last good record (or the start): bytes from here on are a torn tail. */
  end: number;
  /** Unusable bytes between good records (not the tail). */
  skipped: SkippedRange[];
  /** Why the bytes from `end` on are not records, when there are any. */
  tailWhy?: string;
}

/** True when `raw`'s transactions hash to the merkle root in its header. */
export function bodyMatchesHeader(raw: Uint8Array): boolean {
  try {
    const { root } = merkleRoot(blockTxids(raw));
    return root.equals(raw.subarray(36, 68));
  } catch {
    return false;
  }
}

/** Why the record at `at` of `bytes` is not a block, or undefined when it is one. */
function whyNotRecord(bytes: Buffer, at: number, magic: Buffer): string | undefined {
  if (bytes.length - at < DATA_PREFIX_BYTES)
    return `${bytes.length - at} bytes too few for a record`;
  if (!bytes.subarray(at, at + 4).equals(magic)) return 'no network magic';
  const length = bytes.readUInt32LE(at + 4);
  if (length < MIN_BLOCK_BYTES || at + DATA_PREFIX_BYTES + length > bytes.length) {
    return `record length ${length} does not fit`;
  }
  const raw = bytes.subarray(at + DATA_PREFIX_BYTES, at + DATA_PREFIX_BYTES + length);
  if (!bodyMatchesHeader(raw)) return 'block body does not match its merkle root';
  return undefined;
}

/**
 * Scans `handle` (a data file of `size` bytes) from `from`. Reads that part of
 * the file at once: at most one data file's worth (128 MiB by default), and only
 * when recovering.
 */
export async function scanDataFile(
  handle: FileHandle,
  from: number,
  size: number,
  magic: Uint8Array,
): Promise<ScanResult> {
  const wantMagic = Buffer.from(magic);
  const region = Buffer.allocUnsafe(size - from);
  const { bytesRead } = await handle.read(region, 0, region.length, from);
  const bytes = region.subarray(0, bytesRead);
  const blocks: ScannedBlock[] = [];
  const skipped: SkippedRange[] = [];
  let at = 0;
  let end = 0;
  let tailWhy: string | undefined;
  while (at < bytes.length) {
    const why = whyNotRecord(bytes, at, wantMagic);
    if (why === undefined) {
      if (at > end) skipped.push({ offset: from + end, bytes: at - end, why: tailWhy as string });
      tailWhy = undefined;
      const length = bytes.readUInt32LE(at + 4);
      const raw = bytes.subarray(at + DATA_PREFIX_BYTES, at + DATA_PREFIX_BYTES + length);
      blocks.push({ hash: blockHash(raw), offset: from + at, length, crc: blockCrc(raw) });
      at += DATA_PREFIX_BYTES + length;
      end = at;
      continue;
    }
    tailWhy ??= why;
    const next = bytes.indexOf(wantMagic, at + 1);
    if (next < 0) break;
    at = next;
  }
  return tailWhy === undefined && end === bytes.length
    ? { blocks, end: from + end, skipped }
    : { blocks, end: from + end, skipped, tailWhy: tailWhy ?? 'unreadable' };
}
