// The block index: an append-only log of fixed-size, checksummed records
// (format.ts), replayed on open. Appends are the only writes while the store
// runs; a record is written (and fsync'd) only after the block it names is
// durable in its data file, so any whole record names whole bytes. A kill -9
// or power cut can leave only a torn last record, which replay drops.
// Compaction (dropping dead records) rewrites the file atomically.
import { type FileHandle, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StoreError } from '../atomic-file.js';
import {
  encodeIndexHeader,
  encodeIndexRecords,
  INDEX_FORMAT,
  INDEX_HEADER_BYTES,
  INDEX_MAGIC,
  INDEX_RECORD_BYTES,
  type IndexRecord,
  keyOf,
  readIndexRecord,
} from './format.js';

export interface ReplayedIndex {
  /** Live entries by hash key, in the order they were last written. */
  entries: Map<string, IndexRecord>;
  /** Whole records read, dead ones (replaced, tombstones, bad) included. */
  records: number;
  /** Bytes up to the end of the last whole record (what the file is cut to). */
  validBytes: number;
  /** False when the file is missing or unusable and must be started afresh. */
  usable: boolean;
  problems: StoreError[];
}

/**
 * Reads and replays the index at `path`. Throws StoreError only for an index
 * this version must not touch: another network's ('wrong-kind') or a newer
 * format ('unsupported-version'). Everything else is a problem and a recovery.
 */
export async function replayIndex(path: string, magic: Uint8Array): Promise<ReplayedIndex> {
  const entries = new Map<string, IndexRecord>();
  const problems: StoreError[] = [];
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      return { entries, records: 0, validBytes: 0, usable: false, problems };
    }
    throw new StoreError('io', path, `cannot read the block index: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (bytes.length < INDEX_HEADER_BYTES || !bytes.subarray(0, 4).equals(INDEX_MAGIC)) {
    const torn =
      bytes.length < INDEX_HEADER_BYTES &&
      INDEX_MAGIC.subarray(0, bytes.length).equals(bytes.subarray(0, 4));
    problems.push(
      new StoreError(
        torn ? 'truncated' : 'corrupt',
        path,
        torn
          ? 'block index header is torn; rebuilding it'
          : 'not a block index (bad magic); rebuilding it',
      ),
    );
    return { entries, records: 0, validBytes: 0, usable: false, problems };
  }
  const format = bytes.readUInt32LE(4);
  if (format !== INDEX_FORMAT) {
    throw new StoreError(
      'unsupported-version',
      path,
      `block index format ${format}, this version reads ${INDEX_FORMAT}`,
    );
  }
  if (!bytes.subarray(8, 12).equals(Buffer.from(magic))) {
    throw new StoreError(
      'wrong-kind',
      path,
      `block index of network magic ${bytes.subarray(8, 12).toString('hex')}, not ${Buffer.from(magic).toString('hex')}`,
    );
  }
  const whole = Math.floor((bytes.length - INDEX_HEADER_BYTES) / INDEX_RECORD_BYTES);
  const validBytes = INDEX_HEADER_BYTES + whole * INDEX_RECORD_BYTES;
  if (validBytes < bytes.length) {
    problems.push(
      new StoreError(
        'truncated',
        path,
        `torn last index record (${bytes.length - validBytes} bytes) dropped`,
      ),
    );
  }
  for (let i = 0; i < whole; i++) {
    const record = readIndexRecord(bytes, INDEX_HEADER_BYTES + i * INDEX_RECORD_BYTES);
    if (!record) {
      problems.push(
        new StoreError('corrupt', path, `index record ${i} fails its checksum; skipped`),
      );
      continue;
    }
    const key = keyOf(record.hash);
    entries.delete(key);
    if (record.length > 0) entries.set(key, record);
  }
  return { entries, records: whole, validBytes, usable: true, problems };
}

/** fsync of a directory, so a created or renamed entry in it survives a power cut. */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Replaces the index with a header and `records`, atomically (temporary file,
 * fsync, rename, directory fsync), and returns it open for appending.
 */
export async function rewriteIndex(
  path: string,
  magic: Uint8Array,
  records: Iterable<IndexRecord>,
): Promise<{ handle: FileHandle; size: number }> {
  const tmp = `${path}.tmp`;
  const body = Buffer.concat([encodeIndexHeader(magic), encodeIndexRecords([...records])]);
  const out = await open(tmp, 'w');
  try {
    await out.writeFile(body);
    await out.sync();
  } finally {
    await out.close();
  }
  await rename(tmp, path);
  await syncDir(dirname(path));
  return { handle: await open(path, 'r+'), size: body.length };
}

/** Opens an index that replayed cleanly for appending, cut to its whole records. */
export async function openIndexForAppend(
  path: string,
  validBytes: number,
): Promise<{ handle: FileHandle; size: number }> {
  const handle = await open(path, 'r+');
  const { size } = await handle.stat();
  if (size !== validBytes) {
    await handle.truncate(validBytes);
    await handle.sync();
  }
  return { handle, size: validBytes };
}
