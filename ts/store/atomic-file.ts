// Files that are either the old version or the new one, never half of each, and
// that say so when they are damaged.
//
// Writing: a temporary file in the same directory, fsync'd, renamed over the
// target, then the directory fsync'd so the rename itself survives a power cut.
// A process killed at any point leaves the previous file or the new one.
//
// Every file starts with a header the reader checks before trusting a byte:
//   magic "PWST" · format version (u8) · kind (4 ASCII bytes, e.g. "addr") ·
//   payload length (u32 LE) · SHA-256 of the header's fields and the payload
// so a truncated, corrupt, foreign or wrong-kind file gets a typed StoreError.
import { hash } from 'node:crypto';
import { open, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

const MAGIC = Buffer.from('PWST', 'ascii');
const FORMAT_VERSION = 1;
const FIELDS_BYTES = 4 + 1 + 4 + 4;
const CHECKSUM_BYTES = 32;
/** Bytes before the payload. */
export const HEADER_BYTES = FIELDS_BYTES + CHECKSUM_BYTES;
const MAX_PAYLOAD = 0xffff_ffff;

export type StoreErrorCode =
  /** There is no file. */
  | 'missing'
  /** The file ends before its header or its declared payload does. */
  | 'truncated'
  /** Bytes that do not check out: a bad magic, checksum or payload structure. */
  | 'corrupt'
  /** A newer format than this version reads. */
  | 'unsupported-version'
  /** A good file of another kind (a ban list where an address file was expected). */
  | 'wrong-kind'
  /** The file system refused (permissions, a full disk, ...). */
  | 'io';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    readonly path: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${detail}`, options);
  }
}

function checkKind(kind: string): Buffer {
  const bytes = Buffer.from(kind, 'ascii');
  if (bytes.length !== 4 || !/^[\x21-\x7e]{4}$/.test(kind)) {
    throw new TypeError(`a store kind is 4 printable ASCII characters, not "${kind}"`);
  }
  return bytes;
}

/** The header and payload as one buffer (what writeFileAtomic writes). */
export function encodeChecked(kind: string, payload: Uint8Array): Buffer {
  const kindBytes = checkKind(kind);
  if (payload.length > MAX_PAYLOAD)
    throw new RangeError(`payload of ${payload.length} bytes is too large`);
  const out = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  MAGIC.copy(out, 0);
  out[4] = FORMAT_VERSION;
  kindBytes.copy(out, 5);
  out.writeUInt32LE(payload.length, 9);
  out.set(payload, HEADER_BYTES);
  checksumOf(out, payload.length).copy(out, FIELDS_BYTES);
  return out;
}

function checksumOf(file: Buffer, payloadLength: number): Buffer {
  const fields = file.subarray(0, FIELDS_BYTES);
  const payload = file.subarray(HEADER_BYTES, HEADER_BYTES + payloadLength);
  return hash('sha256', Buffer.concat([fields, payload]), 'buffer');
}

/**
 * The payload of a file's bytes after checking its header and checksum; throws a
 * StoreError naming what is wrong. `path` is only for the message.
 */
export function decodeChecked(file: Buffer, kind: string, path: string): Buffer {
  const kindBytes = checkKind(kind);
  if (file.length < HEADER_BYTES) {
    if (file.length >= MAGIC.length && !file.subarray(0, MAGIC.length).equals(MAGIC)) {
      throw new StoreError('corrupt', path, 'not a peerwire store file (bad magic)');
    }
    throw new StoreError(
      'truncated',
      path,
      `${file.length} bytes, shorter than the ${HEADER_BYTES}-byte header`,
    );
  }
  if (!file.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new StoreError('corrupt', path, 'not a peerwire store file (bad magic)');
  }
  const version = file[4] as number;
  if (version !== FORMAT_VERSION) {
    if (version > FORMAT_VERSION) {
      throw new StoreError(
        'unsupported-version',
        path,
        `store format ${version} is newer than ${FORMAT_VERSION}`,
      );
    }
    throw new StoreError('corrupt', path, `store format ${version} does not exist`);
  }
  const length = file.readUInt32LE(9);
  const present = file.length - HEADER_BYTES;
  if (present < length) {
    throw new StoreError('truncated', path, `payload has ${present} of its ${length} bytes`);
  }
  if (present > length) {
    throw new StoreError('corrupt', path, `${present - length} bytes after the payload`);
  }
  if (!checksumOf(file, length).equals(file.subarray(FIELDS_BYTES, HEADER_BYTES))) {
    throw new StoreError('corrupt', path, 'checksum mismatch');
  }
  const fileKind = file.subarray(5, 9);
  if (!fileKind.equals(kindBytes)) {
    throw new StoreError(
      'wrong-kind',
      path,
      `holds "${fileKind.toString('latin1')}", not "${kind}"`,
    );
  }
  return file.subarray(HEADER_BYTES);
}

let tempCounter = 0;

function tempNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${++tempCounter}.tmp`);
}

/** Whether `name` is a temporary file writeFileAtomic made for `path`. */
function isTempOf(name: string, path: string): boolean {
  const prefix = `.${basename(path)}.`;
  return name.startsWith(prefix) && /^\d+\.\d+\.tmp$/.test(name.slice(prefix.length));
}

/**
 * Writes `payload` under a checked header to `path`, atomically and durably.
 * Throws StoreError('io') when the file system refuses; the old file is intact.
 */
export async function writeFileAtomic(
  path: string,
  kind: string,
  payload: Uint8Array,
): Promise<void> {
  const bytes = encodeChecked(kind, payload);
  const temp = tempNameFor(path);
  try {
    const file = await open(temp, 'wx', 0o600);
    try {
      await file.writeFile(bytes);
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => {});
    throw new StoreError('io', path, `could not write: ${(err as Error).message}`, { cause: err });
  }
  await syncDirectory(dirname(path));
}

/** Makes a rename in `dir` durable. Some platforms (Windows) cannot open a directory to sync it. */
async function syncDirectory(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EBADF') {
      throw new StoreError('io', dir, `could not sync the directory: ${(err as Error).message}`, {
        cause: err,
      });
    }
  } finally {
    await handle?.close();
  }
}

/** The checked payload of the file at `path`; throws StoreError ('missing' when there is none). */
export async function readFileChecked(path: string, kind: string): Promise<Buffer> {
  let file: Buffer;
  try {
    file = await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new StoreError('missing', path, 'no such file', { cause: err });
    }
    throw new StoreError('io', path, `could not read: ${(err as Error).message}`, { cause: err });
  }
  return decodeChecked(file, kind, path);
}

/**
 * Removes temporary files a killed writer left beside `path`. Only for the data
 * directory's single owner at startup, before it writes: another writer's
 * temporary file would go too. Returns how many were removed.
 */
export async function removeStaleTemps(path: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dirname(path));
  } catch {
    return 0;
  }
  let removed = 0;
  for (const name of names) {
    if (!isTempOf(name, path)) continue;
    try {
      await unlink(join(dirname(path), name));
      removed++;
    } catch {
      // Gone already, or not ours to remove: either way nothing to do.
    }
  }
  return removed;
}
