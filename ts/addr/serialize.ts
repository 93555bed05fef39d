// The address manager as bytes: the secret key and both tables' entries, each new
// entry with the buckets it sits in. Positions are not stored: they follow from the
// key, and restoring recomputes and checks them.
//
// Binary rather than JSON: a full manager holds up to 81,920 entries; as JSON (hex
// bytes, bigint services as strings) that is several times larger and slower to
// parse, and a compact format bounds every count before anything is allocated.
//
//   u8 format (1) · key (32) · varint lastGood
//   varint nNew   · nNew × (entry · u8 bucket count · that many u16 BE buckets)
//   varint nTried · nTried × entry
//   entry = u8 network tag · address bytes · u16 BE port · u64 LE services ·
//           varint time · u8 source network tag · source bytes ·
//           varint lastTry · varint lastCountAttempt · varint lastSuccess · varint attempts
//
// The file around it (checksum, atomic replace) is ts/store/atomic-file.ts.
import type { Clock } from '../engine/clock.js';
import { StoreError } from '../store/atomic-file.js';
import { DecodeError } from '../wire/errors.js';
import { Reader } from '../wire/reader.js';
import { Writer } from '../wire/writer.js';
import { HOST_BYTES, type Host, NETWORK_TAG, networkOfTag } from './address.js';
import { AddressManager, type AddressManagerState } from './addrman.js';
import type { AddressEntry } from './entry.js';
import { TABLES } from './placement.js';

const FORMAT = 1;
const KEY_BYTES = 32;
/** The smallest entry: tags, 4 IPv4 bytes, port, services and one-byte varints. */
const MIN_ENTRY_BYTES = 1 + 4 + 2 + 8 + 1 + 1 + 4 + 4;

export function serializeAddressManager(manager: AddressManager): Buffer {
  const state = manager.exportState();
  const w = new Writer(1024);
  w.u8(FORMAT).bytes(state.key).varint(state.lastGood);
  w.varint(state.newEntries.length);
  for (const { entry, buckets } of state.newEntries) {
    writeEntry(w, entry);
    w.u8(buckets.length);
    for (const b of buckets) w.u16be(b);
  }
  w.varint(state.triedEntries.length);
  for (const entry of state.triedEntries) writeEntry(w, entry);
  return w.finish();
}

function writeHost(w: Writer, h: Host): void {
  w.u8(NETWORK_TAG[h.network]).bytes(h.bytes);
}

function writeEntry(w: Writer, e: AddressEntry): void {
  writeHost(w, e.address);
  w.u16be(e.address.port).u64(e.services).varint(e.time);
  writeHost(w, e.source);
  w.varint(e.lastTry).varint(e.lastCountAttempt).varint(e.lastSuccess).varint(e.attempts);
}

/**
 * A manager from bytes made by serializeAddressManager. Anything malformed throws
 * StoreError ('corrupt', or 'unsupported-version' for a newer format) naming
 * `label`. Entries that no longer fit are dropped and counted in `lost`.
 */
export function deserializeAddressManager(
  bytes: Uint8Array,
  options: { clock: Pick<Clock, 'now' | 'random'> },
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
  const lastGood = readNumber(r, 'lastGood');
  const newCount = r.count('new.count', TABLES.newBuckets * TABLES.bucketSize, MIN_ENTRY_BYTES + 1);
  const newEntries: AddressManagerState['newEntries'] = [];
  for (let i = 0; i < newCount; i++) {
    const entry = readEntry(r);
    const n = r.u8('new.buckets.count');
    if (n > TABLES.newBucketsPerAddress) r.fail('too-many', 'new.buckets.count', `${n} buckets`);
    const buckets: number[] = [];
    for (let j = 0; j < n; j++) {
      const b = r.u16be('new.buckets');
      if (b >= TABLES.newBuckets) r.fail('invalid', 'new.buckets', `bucket ${b} does not exist`);
      buckets.push(b);
    }
    newEntries.push({ entry, buckets });
  }
  const triedCount = r.count(
    'tried.count',
    TABLES.triedBuckets * TABLES.bucketSize,
    MIN_ENTRY_BYTES,
  );
  const triedEntries: AddressEntry[] = [];
  for (let i = 0; i < triedCount; i++) triedEntries.push(readEntry(r));
  if (r.remaining !== 0) r.fail('invalid', 'end', `${r.remaining} bytes after the tables`);
  return { key, lastGood, newEntries, triedEntries };
}

function readNumber(r: Reader, field: string): number {
  const v = r.varint(field);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) r.fail('invalid', field, `${v} is out of range`);
  return Number(v);
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
  const time = readNumber(r, 'time');
  const source = readHost(r, 'source');
  return {
    address: { ...host, port },
    services,
    time,
    source,
    lastTry: readNumber(r, 'lastTry'),
    lastCountAttempt: readNumber(r, 'lastCountAttempt'),
    lastSuccess: readNumber(r, 'lastSuccess'),
    attempts: readNumber(r, 'attempts'),
  };
}
