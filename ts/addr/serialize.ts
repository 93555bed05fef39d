// The address manager as bytes: the secret key and both tables' entries, each new
// entry with the buckets it sits in. Positions are not stored: they follow from the
// key, and restoring recomputes and checks them.
//
// Binary rather than JSON: a full manager holds up to 81,920 entries; as JSON (hex
// bytes, bigint services as strings) that is several times larger and slower to
// parse, and a compact format bounds every count before anything is allocated.
//
//   u8 format (1) · key (32) · u48 lastGood
//   u32 nNew   · nNew × (entry · u8 bucket count · that many u16 buckets)
//   u32 nTried · nTried × entry
//   entry = u8 network tag · address bytes · u16 BE port · u64 services ·
//           u48 time · u8 source network tag · source bytes ·
//           u48 lastTry · u48 lastCountAttempt · u48 lastSuccess · u32 attempts
// Integers are little-endian unless marked BE; times are Unix seconds in 48 bits.
// Fixed widths: one buffer sized up front and no bigint per field, so saving a
// full manager costs milliseconds, not a stalled event loop.
//
// The file around it (checksum, atomic replace) is ts/store/atomic-file.ts.
import type { Clock } from '../engine/clock.js';
import { StoreError } from '../store/atomic-file.js';
import { DecodeError } from '../wire/errors.js';
import { Reader } from '../wire/reader.js';
import { HOST_BYTES, type Host, NETWORK_TAG, networkOfTag } from './address.js';
import { AddressManager, type AddressManagerState } from './addrman.js';
import type { AddressEntry } from './entry.js';
import { TABLES } from './placement.js';

const FORMAT = 1;
const KEY_BYTES = 32;
const U48_MAX = 2 ** 48 - 1;
/** An entry's bytes besides its address's and its source's. */
const ENTRY_FIXED_BYTES = 1 + 2 + 8 + 6 + 1 + 6 * 3 + 4;
/** The smallest entry (IPv4 from IPv4). */
const MIN_ENTRY_BYTES = ENTRY_FIXED_BYTES + 4 + 4;

const entryBytes = (e: AddressEntry) =>
  ENTRY_FIXED_BYTES + HOST_BYTES[e.address.network] + HOST_BYTES[e.source.network];

/** Writes at a moving offset into a buffer sized exactly beforehand. */
class Out {
  at = 0;
  constructor(readonly buf: Buffer) {}
  u8(v: number) {
    this.buf[this.at++] = v;
  }
  u16(v: number) {
    this.at = this.buf.writeUInt16LE(v, this.at);
  }
  u16be(v: number) {
    this.at = this.buf.writeUInt16BE(v, this.at);
  }
  u32(v: number) {
    this.at = this.buf.writeUInt32LE(v, this.at);
  }
  u48(v: number) {
    this.at = this.buf.writeUIntLE(Math.min(Math.max(0, v), U48_MAX), this.at, 6);
  }
  u64(v: bigint) {
    this.at = this.buf.writeBigUInt64LE(v, this.at);
  }
  bytes(v: Uint8Array) {
    this.buf.set(v, this.at);
    this.at += v.length;
  }
}

export function serializeAddressManager(manager: AddressManager): Buffer {
  const state = manager.exportState();
  let size = 1 + KEY_BYTES + 6 + 4 + 4;
  for (const { entry, buckets } of state.newEntries)
    size += entryBytes(entry) + 1 + 2 * buckets.length;
  for (const entry of state.triedEntries) size += entryBytes(entry);
  const out = new Out(Buffer.allocUnsafe(size));
  out.u8(FORMAT);
  out.bytes(state.key);
  out.u48(state.lastGood);
  out.u32(state.newEntries.length);
  for (const { entry, buckets } of state.newEntries) {
    writeEntry(out, entry);
    out.u8(buckets.length);
    for (const b of buckets) out.u16(b);
  }
  out.u32(state.triedEntries.length);
  for (const entry of state.triedEntries) writeEntry(out, entry);
  return out.buf;
}

function writeHost(out: Out, h: Host): void {
  out.u8(NETWORK_TAG[h.network]);
  out.bytes(h.bytes);
}

function writeEntry(out: Out, e: AddressEntry): void {
  writeHost(out, e.address);
  out.u16be(e.address.port);
  out.u64(e.services);
  out.u48(e.time);
  writeHost(out, e.source);
  out.u48(e.lastTry);
  out.u48(e.lastCountAttempt);
  out.u48(e.lastSuccess);
  out.u32(Math.min(e.attempts, 0xffff_ffff));
}

/**
 * A manager from bytes made by serializeAddressManager. Anything malformed throws
 * StoreError ('corrupt', or 'unsupported-version' for a newer format) naming
 * `label`. Entries that no longer fit are dropped and counted in `lost`.
 */
export function deserializeAddressManager(
  bytes: Uint8Array,
  options: { clock: Pick<Clock, 'now' | 'random'>; allowLocal?: boolean },
  label = 'address manager',
): { manager: AddressManager; lost: number } {
  let state: AddressManagerState;
  try {
    state = readState(new Reader(bytes, 'addrman'), label);
  } catch (err) {
    if (err instanceof DecodeError)
      throw new StoreError('corrupt', label, err.message, { cause: err });
    throw err;
  }
  try {
    return AddressManager.fromState(state, options);
  } catch (err) {
    if (err instanceof StoreError) throw err;
    throw new StoreError('corrupt', label, `does not restore: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function readState(r: Reader, label: string): AddressManagerState {
  const format = r.u8('format');
  if (format !== FORMAT) {
    const code = format > FORMAT ? 'unsupported-version' : 'corrupt';
    throw new StoreError(
      code,
      label,
      `address manager format ${format} (this version reads ${FORMAT})`,
    );
  }
  const key = r.bytesView(KEY_BYTES, 'key').slice();
  const lastGood = u48(r, 'lastGood');
  const newCount = readCount(
    r,
    'new.count',
    TABLES.newBuckets * TABLES.bucketSize,
    MIN_ENTRY_BYTES + 1,
  );
  const newEntries: AddressManagerState['newEntries'] = [];
  for (let i = 0; i < newCount; i++) {
    const entry = readEntry(r);
    const n = r.u8('new.buckets.count');
    if (n > TABLES.newBucketsPerAddress) r.fail('too-many', 'new.buckets.count', `${n} buckets`);
    const buckets: number[] = [];
    for (let j = 0; j < n; j++) {
      const b = u16(r, 'new.buckets');
      if (b >= TABLES.newBuckets) r.fail('invalid', 'new.buckets', `bucket ${b} does not exist`);
      buckets.push(b);
    }
    newEntries.push({ entry, buckets });
  }
  const triedCount = readCount(
    r,
    'tried.count',
    TABLES.triedBuckets * TABLES.bucketSize,
    MIN_ENTRY_BYTES,
  );
  const triedEntries: AddressEntry[] = [];
  for (let i = 0; i < triedCount; i++) triedEntries.push(readEntry(r));
  if (r.remaining !== 0) r.fail('invalid', 'end', `${r.remaining} bytes after the tables`);
  return { key, lastGood, newEntries, triedEntries };
}

function u16(r: Reader, field: string): number {
  const b = r.bytesView(2, field);
  return (b[0] as number) | ((b[1] as number) << 8);
}

function u48(r: Reader, field: string): number {
  const b = r.bytesView(6, field);
  return Buffer.from(b.buffer, b.byteOffset, 6).readUIntLE(0, 6);
}

/** A count of at most `max` items of at least `minBytes` each, checked before any allocation. */
function readCount(r: Reader, field: string, max: number, minBytes: number): number {
  const n = r.u32(field);
  if (n > max) r.fail('too-many', field, `${n} exceeds ${max}`);
  if (n * minBytes > r.remaining) r.fail('truncated', field, `${n} entries cannot fit`);
  return n;
}

function readHost(r: Reader, field: string): Host {
  const tag = r.u8(`${field}.network`);
  const network = networkOfTag(tag);
  if (!network) return r.fail('invalid', `${field}.network`, `unknown network tag ${tag}`);
  return { network, bytes: r.bytesView(HOST_BYTES[network], `${field}.bytes`).slice() };
}

function readEntry(r: Reader): AddressEntry {
  const host = readHost(r, 'address');
  const port = r.u16be('address.port');
  const services = r.u64('services');
  const time = u48(r, 'time');
  const source = readHost(r, 'source');
  return {
    address: { ...host, port },
    services,
    time,
    source,
    lastTry: u48(r, 'lastTry'),
    lastCountAttempt: u48(r, 'lastCountAttempt'),
    lastSuccess: u48(r, 'lastSuccess'),
    attempts: r.u32('attempts'),
  };
}
