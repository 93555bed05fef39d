// A `headers` payload kept as its wire records until someone reads `headers`.
// Header sync moves millions of headers: decoding each into an object with two
// 32-byte arrays, then writing it back to bytes to hash and store it, cost more
// than validating it. A payload whose records are the usual fixed 81 bytes (an
// 80-byte header and a one-byte transaction count) keeps those bytes; the
// header chain hashes, validates and stores them in place, and serving copies
// stored headers into records that are sent as they are. Reading `headers`
// decodes them once and drops the records, so a caller that changes the list
// is what gets encoded.
import type { BlockHeader } from './types.js';

/** An 80-byte header followed by its transaction count, when that fits one byte. */
export const HEADER_RECORD_BYTES = 81;
/** A serialized block header. */
export const HEADER_BYTES = 80;

/** A `headers` payload (the message's `payload`). */
export interface HeadersPayload {
  headers: BlockHeader[];
}

/**
 * A whole `headers` payload on the wire: its count, then `count` records of
 * HEADER_RECORD_BYTES from `start`. Owned by the payload object (never a view
 * of a receive batch).
 */
export interface HeaderRecords {
  readonly wire: Buffer;
  readonly start: number;
  readonly count: number;
}

/** Records of payloads whose `headers` nobody has read yet. */
const recordsOf = new WeakMap<HeadersPayload, HeaderRecords>();

/** Bytes of the CompactSize for `n`. */
function countBytes(n: number): number {
  return n < 0xfd ? 1 : n <= 0xffff ? 3 : 5;
}

/**
 * An empty wire payload for `count` headers, its count written: the caller
 * fills each record from `start` (and must write each transaction count).
 */
export function allocHeadersWire(count: number): { wire: Buffer; start: number } {
  const start = countBytes(count);
  const wire = Buffer.allocUnsafe(start + count * HEADER_RECORD_BYTES);
  if (start === 1) wire[0] = count;
  else if (start === 3) {
    wire[0] = 0xfd;
    wire.writeUInt16LE(count, 1);
  } else {
    wire[0] = 0xfe;
    wire.writeUInt32LE(count, 1);
  }
  return { wire, start };
}

/**
 * A payload over `wire`: a count, then `count` records from `start`, each
 * transaction count byte below 0xfd (not checked here). The payload owns `wire`:
 * do not change it afterwards.
 */
export function headersFromWire(wire: Buffer, start: number, count: number): HeadersPayload {
  if (wire.length < start + count * HEADER_RECORD_BYTES) {
    throw new RangeError(`${wire.length} bytes cannot hold ${count} header records`);
  }
  const records: HeaderRecords = { wire, start, count };
  // From the first read or write on, the list is the payload: what a caller
  // changes or assigns is what is sent.
  const become = (list: BlockHeader[]): BlockHeader[] => {
    Object.defineProperty(payload, 'headers', {
      value: list,
      writable: true,
      enumerable: true,
      configurable: true,
    });
    recordsOf.delete(payload);
    return list;
  };
  const payload = {
    get headers(): BlockHeader[] {
      return become(decodeRecords(records));
    },
    set headers(list: BlockHeader[]) {
      become(list);
    },
  } as HeadersPayload;
  recordsOf.set(payload, records);
  return payload;
}

/** The payload's wire records, if its `headers` were never read. */
export function headerRecords(payload: HeadersPayload): HeaderRecords | undefined {
  return recordsOf.get(payload);
}

/** How many headers the payload carries, without decoding them. */
export function headerCount(payload: HeadersPayload): number {
  return recordsOf.get(payload)?.count ?? payload.headers.length;
}

/** The first header's previous-block hash (a view: do not keep), without decoding the rest. */
export function firstPrevBlock(payload: HeadersPayload): Uint8Array | undefined {
  const records = recordsOf.get(payload);
  if (!records) return payload.headers[0]?.prevBlock;
  const at = records.start;
  return records.count > 0 ? records.wire.subarray(at + 4, at + 36) : undefined;
}

/** The first header's 80 bytes (a view: do not keep), when the payload still has its records. */
export function firstHeaderBytes(payload: HeadersPayload): Uint8Array | undefined {
  const records = recordsOf.get(payload);
  if (!records || records.count === 0) return undefined;
  return records.wire.subarray(records.start, records.start + HEADER_BYTES);
}

/** The payload's encoding when it still has its records (nothing to encode). */
export function encodedHeaders(payload: HeadersPayload): Buffer | undefined {
  const records = recordsOf.get(payload);
  return records?.wire.subarray(0, records.start + records.count * HEADER_RECORD_BYTES);
}

function decodeRecords({ wire, start, count }: HeaderRecords): BlockHeader[] {
  const list: BlockHeader[] = new Array(count);
  for (let i = 0; i < count; i++) list[i] = readHeaderAt(wire, start + i * HEADER_RECORD_BYTES);
  return list;
}

/** The header at `at` of `bytes`, its hashes copied. */
export function readHeaderAt(bytes: Buffer, at: number): BlockHeader {
  return {
    version: bytes.readInt32LE(at),
    prevBlock: new Uint8Array(bytes.subarray(at + 4, at + 36)),
    merkleRoot: new Uint8Array(bytes.subarray(at + 36, at + 68)),
    time: bytes.readUInt32LE(at + 68),
    bits: bytes.readUInt32LE(at + 72),
    nonce: bytes.readUInt32LE(at + 76),
  };
}

/**
 * A received payload (`count` read, records from `start`) as records, when
 * every transaction count is one byte; undefined otherwise (the caller decodes
 * field by field). The bytes are copied, so the payload pins no receive batch,
 * unless the caller `owns` the payload, the records are all of it, it is the
 * whole of its memory (a large frame gets a buffer of its own) and every count
 * is already 0: then the records are a view of it, and a headers message costs
 * no copy.
 */
export function headersFromPayload(
  payload: Uint8Array,
  start: number,
  count: number,
  owned = false,
): HeadersPayload | undefined {
  const end = start + count * HEADER_RECORD_BYTES;
  if (payload.length < end) return undefined;
  let zeros = true;
  for (let at = start + HEADER_BYTES; at < end; at += HEADER_RECORD_BYTES) {
    const txCount = payload[at] as number;
    if (txCount >= 0xfd) return undefined;
    if (txCount !== 0) zeros = false;
  }
  // Only when the records are the whole payload: a view of a few records
  // followed by megabytes a peer appended (ignored, as Core ignores them)
  // would keep those megabytes alive with the message.
  if (
    owned &&
    zeros &&
    end === payload.byteLength &&
    payload.byteOffset === 0 &&
    payload.byteLength === payload.buffer.byteLength
  ) {
    return headersFromWire(Buffer.from(payload.buffer, 0, end), start, count);
  }
  const wire = Buffer.from(payload.subarray(0, end));
  // Core ignores the counts; they are sent as 0, so a payload re-encodes the same either way.
  if (!zeros) for (let at = start + HEADER_BYTES; at < end; at += HEADER_RECORD_BYTES) wire[at] = 0;
  return headersFromWire(wire, start, count);
}
