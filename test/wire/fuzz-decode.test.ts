// Fuzzing the message decoders: arbitrary bytes for every command and mutations
// of the wire vectors. Whatever a peer sends, decodeMessage throws nothing but
// DecodeError, does work in proportion to the bytes present (never to a claimed
// count or length), and what decodes re-encodes to a fixed point.
//
// The normal run does a bounded number of cases; `npm run fuzz` sets
// PEERWIRE_FUZZ_SECONDS and each property runs for that long instead.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeMessage, encodeMessage } from '../../ts/wire/codec.js';
import { DecodeError } from '../../ts/wire/errors.js';
import { MESSAGE_LIMITS } from '../../ts/wire/limits.js';
import { Reader } from '../../ts/wire/reader.js';
import type { Command } from '../../ts/wire/types.js';
import vectors from '../vectors/wire-vectors.json' with { type: 'json' };

const fuzzSeconds = Number(process.env.PEERWIRE_FUZZ_SECONDS ?? 0);
/** Bounded runs normally; with a time budget, as many as fit in it. */
const budget: { numRuns: number; interruptAfterTimeLimit?: number } =
  fuzzSeconds > 0
    ? { numRuns: Number.MAX_SAFE_INTEGER, interruptAfterTimeLimit: fuzzSeconds * 1000 }
    : { numRuns: 3_000 };
const timeout = fuzzSeconds > 0 ? fuzzSeconds * 1000 + 60_000 : undefined;

// Listing every command as a key makes the type checker fail here when a
// command is added without being fuzzed.
const COMMANDS = Object.keys({
  version: 1,
  verack: 1,
  ping: 1,
  pong: 1,
  getaddr: 1,
  addr: 1,
  addrv2: 1,
  sendaddrv2: 1,
  inv: 1,
  getdata: 1,
  notfound: 1,
  getheaders: 1,
  getblocks: 1,
  headers: 1,
  block: 1,
  tx: 1,
  merkleblock: 1,
  cmpctblock: 1,
  sendheaders: 1,
  sendcmpct: 1,
  feefilter: 1,
  wtxidrelay: 1,
  mempool: 1,
  reject: 1,
} satisfies Record<Command, 1>) as Command[];

// ---- measuring the decoder's work ---------------------------------------------

// Every read the decoder makes goes through Reader's private `need`: count its
// calls. Each call consumes at least one byte or ends decoding, except a
// zero-length read (an empty byte string, which follows a length byte, or the
// empty rest of a block), so a decoder whose work follows the bytes present
// makes at most 2 × length + 2 of them, whatever count a payload claims.
type NeedFn = (n: number, field: string) => number;
const readerProto = Reader.prototype as unknown as { need: NeedFn };
const originalNeed = readerProto.need;
let reads = 0;
beforeAll(() => {
  expect(typeof originalNeed).toBe('function');
  readerProto.need = function (this: Reader, n, field) {
    reads++;
    return originalNeed.call(this, n, field);
  };
});
afterAll(() => {
  readerProto.need = originalNeed;
});

/** Decoded values in a comparable form: bytes as hex, bigints tagged. */
function canonical(value: unknown): unknown {
  if (typeof value === 'bigint') return `${value}n`;
  if (value instanceof Uint8Array) return `0x${Buffer.from(value).toString('hex')}`;
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, canonical(v)]));
  }
  return value;
}

/**
 * The fuzz property for one payload: decoding throws only DecodeError and reads
 * in proportion to the payload; what decodes encodes, and that encoding is a
 * fixed point of decode then encode.
 */
function checkPayload(command: Command, payload: Uint8Array): void {
  reads = 0;
  let message: ReturnType<typeof decodeMessage>;
  try {
    message = decodeMessage(command, payload);
  } catch (err) {
    if (!(err instanceof DecodeError)) throw err;
    expect(reads).toBeLessThanOrEqual(2 * payload.length + 2);
    return;
  }
  expect(reads).toBeLessThanOrEqual(2 * payload.length + 2);
  expect(message?.command).toBe(command);
  if (!message) return;
  const encoded = encodeMessage(message);
  const again = decodeMessage(command, encoded);
  expect(canonical(again)).toEqual(canonical(message));
  if (!again) return;
  expect(Buffer.from(encodeMessage(again)).equals(encoded)).toBe(true);
}

// ---- inputs --------------------------------------------------------------------

/** Values that sit on CompactSize and limit boundaries. */
const edgeByte = fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xfc, 0xfd, 0xfe, 0xff);
const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), edgeByte);

/** A CompactSize claiming `n`, in its shortest form or a longer one. */
function compactSize(n: bigint, form: number): number[] {
  const le = (v: bigint, width: number) =>
    Array.from({ length: width }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));
  if (form === 0 && n < 0xfdn) return [Number(n)];
  if (form <= 1 && n <= 0xffffn) return [0xfd, ...le(n, 2)];
  if (form <= 2 && n <= 0xffff_ffffn) return [0xfe, ...le(n, 4)];
  return [0xff, ...le(n, 8)];
}

const claimedCount = fc
  .tuple(
    fc.oneof(
      fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
      fc.constantFrom(
        0n,
        1n,
        BigInt(MESSAGE_LIMITS.locator),
        BigInt(MESSAGE_LIMITS.addresses),
        BigInt(MESSAGE_LIMITS.headers),
        BigInt(MESSAGE_LIMITS.inventory),
        BigInt(MESSAGE_LIMITS.inventory + 1),
        2n ** 32n - 1n,
        2n ** 32n,
        2n ** 64n - 1n,
      ),
    ),
    fc.integer({ min: 0, max: 3 }),
  )
  .map(([n, form]) => compactSize(n, form));

type Mutation =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'insert'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'count'; at: number; claim: number[] }
  | { kind: 'truncate'; at: number }
  | { kind: 'duplicate'; at: number; length: number };

const position = fc.nat();
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: position, value: byte }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: position,
    bytes: fc.array(byte, { maxLength: 40 }),
  }),
  fc.record({
    kind: fc.constant('delete' as const),
    at: position,
    length: fc.integer({ min: 1, max: 40 }),
  }),
  fc.record({ kind: fc.constant('count' as const), at: position, claim: claimedCount }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({
    kind: fc.constant('duplicate' as const),
    at: position,
    length: fc.integer({ min: 1, max: 120 }),
  }),
);

/** Applies mutations; positions wrap around the current length. */
function mutate(original: Uint8Array, mutations: Mutation[]): Uint8Array {
  let bytes = [...original];
  for (const m of mutations) {
    const at = m.at % (bytes.length + 1);
    switch (m.kind) {
      case 'set':
        if (at < bytes.length) bytes[at] = m.value;
        break;
      case 'insert':
        bytes.splice(at, 0, ...m.bytes);
        break;
      case 'delete':
        bytes.splice(at, m.length);
        break;
      case 'count':
        // Overwrite what sits at `at` with a claim, as a lying count or length.
        bytes.splice(at, m.claim.length, ...m.claim);
        break;
      case 'truncate':
        bytes = bytes.slice(0, at);
        break;
      case 'duplicate':
        bytes.splice(at, 0, ...bytes.slice(at, at + m.length));
        break;
    }
  }
  return Uint8Array.from(bytes);
}

const knownVectors = vectors.filter((v) => (COMMANDS as string[]).includes(v.command));

// ---- properties ------------------------------------------------------------------

describe('fuzzing decodeMessage', () => {
  it(
    'arbitrary bytes for every command',
    () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...COMMANDS),
          fc.uint8Array({ maxLength: 600 }),
          (command, payload) => checkPayload(command, payload),
        ),
        budget,
      );
    },
    timeout,
  );

  it(
    'arbitrary bytes behind a claimed count or length, for every command',
    () => {
      fc.assert(
        fc.property(
          fc.constantFrom(...COMMANDS),
          fc.uint8Array({ maxLength: 120 }),
          claimedCount,
          fc.uint8Array({ maxLength: 120 }),
          (command, before, claim, after) =>
            checkPayload(command, Uint8Array.from([...before, ...claim, ...after])),
        ),
        budget,
      );
    },
    timeout,
  );

  it(
    'mutations of the wire vectors',
    () => {
      expect(knownVectors.length).toBeGreaterThan(20);
      fc.assert(
        fc.property(
          fc.constantFrom(...knownVectors),
          fc.array(mutation, { minLength: 1, maxLength: 6 }),
          (vector, mutations) => {
            const payload = mutate(Buffer.from(vector.hex, 'hex'), mutations);
            checkPayload(vector.command as Command, payload);
          },
        ),
        budget,
      );
    },
    timeout,
  );
});

describe('claimed counts cost nothing before their bytes arrive', () => {
  // Every count or length a payload carries, with the bytes that come before it.
  const zeros = (n: number) => Array<number>(n).fill(0);
  const claims: { command: Command; prefix: number[]; field: string }[] = [
    { command: 'inv', prefix: [], field: 'inventory.count' },
    { command: 'getdata', prefix: [], field: 'inventory.count' },
    { command: 'notfound', prefix: [], field: 'inventory.count' },
    { command: 'getheaders', prefix: zeros(4), field: 'locator.count' },
    { command: 'getblocks', prefix: zeros(4), field: 'locator.count' },
    { command: 'headers', prefix: [], field: 'headers.count' },
    { command: 'addr', prefix: [], field: 'addresses.count' },
    { command: 'addrv2', prefix: [], field: 'addresses.count' },
    // one addrv2 entry: time, services 0, network 1, then the address length
    { command: 'addrv2', prefix: [1, ...zeros(4), 0, 1], field: 'addresses.address' },
    { command: 'version', prefix: zeros(80), field: 'userAgent' },
    { command: 'reject', prefix: [], field: 'message' },
    { command: 'reject', prefix: [0, 0], field: 'reason' },
  ];
  const huge = [
    ['2^32 - 1', compactSize(2n ** 32n - 1n, 0)],
    ['2^32', compactSize(2n ** 32n, 0)],
    ['2^64 - 1', compactSize(2n ** 64n - 1n, 0)],
    ['50,000', compactSize(50_000n, 0)],
  ] as const;

  it.each(
    claims.flatMap((c) =>
      huge.map(([name, claim]) => [c.command, c.field, name, c, claim] as const),
    ),
  )('%s %s claiming %s, with 10 bytes after it', (_c, _f, _n, c, claim) => {
    const payload = Uint8Array.from([...c.prefix, ...claim, ...zeros(10)]);
    reads = 0;
    let thrown: unknown;
    try {
      decodeMessage(c.command, payload);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(DecodeError);
    const error = thrown as DecodeError;
    // Refused at the claim itself: over the limit, or more than the bytes left.
    expect(error.field).toBe(c.field);
    expect(['too-many', 'truncated']).toContain(error.code);
    expect(reads).toBeLessThanOrEqual(c.prefix.length + 3);
  });
});
