// Message codecs: byte-exact vectors from btcd, Bitcoin Core and rust-bitcoin
// tests, property-based round trips, and hostile payloads.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMessage,
  encodeMessage,
  encodePayload,
  isKnownCommand,
} from '../../ts/wire/codec.js';
import { DecodeError } from '../../ts/wire/errors.js';
import { ipFromBytes, ipToBytes } from '../../ts/wire/ip.js';
import { MESSAGE_LIMITS } from '../../ts/wire/limits.js';
import type { Command, Message } from '../../ts/wire/types.js';
import { versionPayload } from '../helpers/messages.js';
import vectors from '../vectors/wire-vectors.json' with { type: 'json' };

/** The vectors' JSON form: bigint as decimal strings, bytes as hex. */
function plain(value: unknown): unknown {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('hex');
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

const ALL_COMMANDS: Command[] = [
  'version',
  'verack',
  'ping',
  'pong',
  'getaddr',
  'addr',
  'addrv2',
  'sendaddrv2',
  'inv',
  'getdata',
  'notfound',
  'getheaders',
  'getblocks',
  'headers',
  'block',
  'tx',
  'merkleblock',
  'cmpctblock',
  'sendheaders',
  'sendcmpct',
  'feefilter',
  'wtxidrelay',
  'mempool',
  'reject',
];

describe('wire vectors', () => {
  it.each(vectors.map((v) => [`${v.command}: ${v.source}`, v] as const))('%s', (_name, v) => {
    const payload = Buffer.from(v.hex, 'hex');
    const message = decodeMessage(v.command, payload);
    expect(message?.command).toBe(v.command);
    const decoded = plain(message?.payload) as Record<string, unknown>;
    if (message?.command === 'version') {
      // The vectors predate the raw user agent bytes: they are the display string's UTF-8.
      expect(Buffer.from(message.payload.userAgentBytes ?? [])).toEqual(
        Buffer.from(message.payload.userAgent),
      );
      delete decoded.userAgentBytes;
    }
    expect(decoded).toEqual(v.decoded);
    // Re-encoding gives the same bytes. The one exception: a version from a peer
    // too old to send the relay byte; peerwire always writes it (as true).
    const reencoded = encodeMessage(message as Message).toString('hex');
    const expected =
      v.command === 'version' && reencoded.length === v.hex.length + 2 ? `${v.hex}01` : v.hex;
    expect(reencoded).toBe(expected);
  });

  it('covers every command with a vector (sendcmpct from the BIP 152 layout)', () => {
    const covered = new Set(vectors.map((v) => v.command));
    // No upstream test suite carries a sendcmpct byte vector; BIP 152 defines it
    // as a 1-byte bool then a uint64 version.
    const sendcmpct = decodeMessage('sendcmpct', Buffer.from('010200000000000000', 'hex'));
    expect(sendcmpct).toEqual({ command: 'sendcmpct', payload: { announce: true, version: 2n } });
    covered.add('sendcmpct');
    expect(ALL_COMMANDS.filter((c) => !covered.has(c))).toEqual([
      'block',
      'tx',
      'merkleblock',
      'cmpctblock',
    ]);
  });

  it('block, tx, merkleblock and cmpctblock stay raw bytes', () => {
    const raw = Buffer.from('0102030405', 'hex');
    // Decoded raw bytes are a copy (the input is a view into a larger buffer).
    const copy = new Uint8Array(raw);
    expect(decodeMessage('block', raw)).toEqual({ command: 'block', payload: { raw: copy } });
    expect(encodePayload('tx', { raw })).toEqual(raw);
    for (const command of ['merkleblock', 'cmpctblock'] as const) {
      expect(decodeMessage(command, raw)).toEqual({ command, payload: { raw: copy } });
      expect(encodePayload(command, { raw })).toEqual(raw);
    }
  });

  it('unknown commands pass through as undefined (the caller keeps the raw bytes)', () => {
    expect(decodeMessage('getcfilters', Buffer.alloc(3))).toBeUndefined();
    expect(isKnownCommand('getcfilters')).toBe(false);
    expect(isKnownCommand('headers')).toBe(true);
  });
});

// ---- property-based round trips --------------------------------------------

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const i32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
const i64 = fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n });
const hash = fc.uint8Array({ minLength: 32, maxLength: 32 });
const port = fc.integer({ min: 0, max: 65_535 });
const ip = fc.oneof(
  fc.ipV4(),
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => ipFromBytes(b)),
);
const netAddr = fc.record({ services: u64, ip, port });
const inventory = fc.array(fc.record({ type: u32, hash }), { maxLength: 20 });
const header = fc.record({
  version: i32,
  prevBlock: hash,
  merkleRoot: hash,
  time: u32,
  bits: u32,
  nonce: u32,
});
const locator = fc.record({
  version: u32,
  locator: fc.array(hash, { maxLength: MESSAGE_LIMITS.locator }),
  hashStop: hash,
});
const text = (max: number) =>
  fc.string({ maxLength: max }).filter((s) => Buffer.byteLength(s) <= max);

const message: fc.Arbitrary<Message> = fc.oneof(
  fc.record({
    command: fc.constant('version' as const),
    payload: fc
      .record({
        version: i32,
        services: u64,
        timestamp: i64,
        receiver: netAddr,
        sender: netAddr,
        nonce: u64,
        userAgent: text(MESSAGE_LIMITS.userAgent),
        startHeight: i32,
        relay: fc.boolean(),
      })
      // A decoded version carries its user agent's wire bytes too.
      .map((p) => ({ ...p, userAgentBytes: new Uint8Array(Buffer.from(p.userAgent)) })),
  }),
  ...(['verack', 'getaddr', 'sendaddrv2', 'sendheaders', 'wtxidrelay', 'mempool'] as const).map(
    (command) => fc.constant({ command, payload: {} } as Message),
  ),
  fc.record({
    command: fc.constantFrom('ping' as const, 'pong' as const),
    payload: fc.record({ nonce: u64 }),
  }),
  fc.record({
    command: fc.constant('addr' as const),
    payload: fc.record({
      addresses: fc.array(fc.record({ time: u32, services: u64, ip, port }), { maxLength: 20 }),
    }),
  }),
  fc.record({
    command: fc.constant('addrv2' as const),
    payload: fc.record({
      addresses: fc.array(
        fc.record({
          time: u32,
          services: u64,
          networkId: fc.integer({ min: 0, max: 255 }),
          address: fc.uint8Array({ maxLength: 64 }),
          port,
        }),
        { maxLength: 20 },
      ),
    }),
  }),
  fc.record({
    command: fc.constantFrom('inv' as const, 'getdata' as const, 'notfound' as const),
    payload: fc.record({ inventory }),
  }),
  fc.record({
    command: fc.constantFrom('getheaders' as const, 'getblocks' as const),
    payload: locator,
  }),
  fc.record({
    command: fc.constant('headers' as const),
    payload: fc.record({ headers: fc.array(header, { maxLength: 30 }) }),
  }),
  fc.record({
    command: fc.constantFrom(
      'block' as const,
      'tx' as const,
      'merkleblock' as const,
      'cmpctblock' as const,
    ),
    payload: fc.record({ raw: fc.uint8Array({ maxLength: 300 }) }),
  }),
  fc.record({
    command: fc.constant('sendcmpct' as const),
    payload: fc.record({ announce: fc.boolean(), version: u64 }),
  }),
  fc.record({ command: fc.constant('feefilter' as const), payload: fc.record({ feeRate: i64 }) }),
  fc.record({
    command: fc.constant('reject' as const),
    payload: fc.oneof(
      fc.record({
        message: fc.constant('version'),
        code: fc.integer({ min: 0, max: 255 }),
        reason: text(50),
      }),
      fc.record({
        message: fc.constantFrom('block', 'tx'),
        code: fc.integer({ min: 0, max: 255 }),
        reason: text(50),
        data: hash,
      }),
    ),
  }),
) as fc.Arbitrary<Message>;

describe('round trips', () => {
  it('decode(encode(m)) = m for every message kind', () => {
    fc.assert(
      fc.property(message, (m) => {
        const bytes = encodeMessage(m);
        expect(plain(decodeMessage(m.command, bytes))).toEqual(plain(m));
      }),
      { numRuns: 2_000 },
    );
  });

  it('IP text survives the 16-byte form', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (b) => {
        expect(Buffer.from(ipToBytes(ipFromBytes(b)))).toEqual(Buffer.from(b));
      }),
    );
    expect(ipFromBytes(ipToBytes('2001:db8::1'))).toBe('2001:db8::1');
    expect(ipFromBytes(ipToBytes('::ffff:10.1.2.3'))).toBe('10.1.2.3');
    expect(ipFromBytes(ipToBytes('::'))).toBe('::');
    expect(() => ipToBytes('not-an-ip')).toThrow(/not an IP address/);
  });
});

// ---- hostile payloads ----------------------------------------------------

describe('malformed payloads', () => {
  it('every truncation of every vector is a DecodeError or a shorter valid message, never another exception', () => {
    for (const v of vectors) {
      const payload = Buffer.from(v.hex, 'hex');
      for (let cut = 0; cut < payload.length; cut++) {
        try {
          decodeMessage(v.command, payload.subarray(0, cut));
        } catch (err) {
          expect(err, `${v.command} cut at ${cut}`).toBeInstanceOf(DecodeError);
        }
      }
    }
  });

  it('random bytes never throw anything but DecodeError', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ALL_COMMANDS),
        fc.uint8Array({ maxLength: 200 }),
        (c, bytes) => {
          try {
            decodeMessage(c, bytes);
          } catch (err) {
            if (!(err instanceof DecodeError)) throw err;
          }
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it('a huge claimed count fails before allocating: too many, or not enough bytes', () => {
    const maxCount = Buffer.from('ff' + 'ff'.repeat(8), 'hex');
    expect(() => decodeMessage('inv', maxCount)).toThrow(/exceeds the limit of 50000/);
    const inLimit = Buffer.from('fd50c3', 'hex'); // 50,000 entries, no bytes
    try {
      decodeMessage('inv', inLimit);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(DecodeError);
      expect((err as DecodeError).code).toBe('truncated');
      expect((err as DecodeError).field).toBe('inventory.count');
    }
  });

  it('enforces the protocol limits of each list', () => {
    const addrs = Array.from({ length: MESSAGE_LIMITS.addresses + 1 }, () => ({
      time: 0,
      services: 0n,
      ip: '1.2.3.4',
      port: 8333,
    }));
    expect(() => decodeMessage('addr', encodePayload('addr', { addresses: addrs }))).toThrow(
      /addresses.count: 1001 exceeds the limit of 1000/,
    );
    const headers = Array.from({ length: MESSAGE_LIMITS.headers + 1 }, () => ({
      version: 1,
      prevBlock: new Uint8Array(32),
      merkleRoot: new Uint8Array(32),
      time: 0,
      bits: 0,
      nonce: 0,
    }));
    expect(() => decodeMessage('headers', encodePayload('headers', { headers }))).toThrow(
      /2001 exceeds/,
    );
  });

  it('rejects non-canonical CompactSize and bad UTF-8 in reject; tolerates what Core tolerates', () => {
    expect(() => decodeMessage('inv', Buffer.from('fd0100', 'hex'))).toThrow(/non-canonical/);
    // A non-zero tx count after a header is read and ignored, as Core does.
    const header = Buffer.alloc(81);
    header[80] = 1;
    const headers = decodeMessage('headers', Buffer.concat([Buffer.from([1]), header]));
    expect(headers?.command === 'headers' && headers.payload.headers).toHaveLength(1);
    // A user agent that is not UTF-8 is shown cleaned up, not refused.
    const version = encodePayload('version', versionPayload({ userAgent: 'ab' }));
    version[81] = 0xff; // inside the user agent
    const decoded = decodeMessage('version', version);
    expect(decoded?.command === 'version' && decoded.payload.userAgent).toBe('\ufffdb');
    const reject = Buffer.from([2, 0xff, 0xfe, 0x01, 0]);
    expect(() => decodeMessage('reject', reject)).toThrow(/not valid UTF-8/);
  });
});

// ---- user agents: raw bytes survive ----------------------------------------

/** A version payload with `userAgent` as raw bytes, built by hand (not by the codec). */
function versionWithUserAgent(userAgent: Uint8Array): Buffer {
  const base = encodePayload('version', versionPayload({ userAgent: '' }));
  const head = base.subarray(0, 80); // version..nonce; then the empty user agent's 1-byte length
  const tail = base.subarray(81); // startHeight, relay
  const length =
    userAgent.length < 0xfd
      ? Buffer.from([userAgent.length])
      : Buffer.from([0xfd, userAgent.length & 0xff, userAgent.length >> 8]);
  return Buffer.concat([head, length, userAgent, tail]);
}

describe('version user agent', () => {
  it('any user agent bytes decode and re-encode byte for byte', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: MESSAGE_LIMITS.userAgent }), (userAgent) => {
        const payload = versionWithUserAgent(userAgent);
        const decoded = decodeMessage('version', payload) as Message;
        const again = encodeMessage(decoded);
        expect(again.toString('hex')).toBe(payload.toString('hex'));
        // And what we write, our own decoder takes back.
        expect(plain(decodeMessage('version', again))).toEqual(plain(decoded));
      }),
      { numRuns: 2_000 },
    );
  });

  it('256 bytes that are not UTF-8 stay 256 bytes (not 768 of U+FFFD)', () => {
    const payload = versionWithUserAgent(new Uint8Array(256).fill(0xff));
    const decoded = decodeMessage('version', payload);
    if (decoded?.command !== 'version') throw new Error('not a version');
    expect(decoded.payload.userAgent).toBe('\ufffd'.repeat(256));
    expect(Buffer.from(decoded.payload.userAgentBytes ?? [])).toEqual(Buffer.alloc(256, 0xff));
    expect(encodeMessage(decoded)).toEqual(payload);
  });

  it('a changed display string wins over stale bytes; an oversized one is refused', () => {
    const decoded = decodeMessage('version', versionWithUserAgent(Buffer.from([0xff])));
    if (decoded?.command !== 'version') throw new Error('not a version');
    const renamed = encodeMessage({
      command: 'version',
      payload: { ...decoded.payload, userAgent: '/new:1.0/' },
    });
    const back = decodeMessage('version', renamed);
    expect(back?.command === 'version' && back.payload.userAgent).toBe('/new:1.0/');
    // 86 three-byte characters: 86 characters, 258 bytes.
    const tooLong = versionPayload({ userAgent: '\u20ac'.repeat(86) });
    expect(() => encodePayload('version', tooLong)).toThrow(RangeError);
  });
});

// ---- protocol limits on every list -----------------------------------------

describe('protocol limits', () => {
  /** A payload whose count field claims `count` items, with `prefix` before it. */
  const claim = (count: number, prefix: Uint8Array = Buffer.alloc(0)) => {
    const varint =
      count < 0xfd
        ? Buffer.from([count])
        : count <= 0xffff
          ? Buffer.from([0xfd, count & 0xff, count >> 8])
          : Buffer.from([0xfe, ...new Uint8Array(new Uint32Array([count]).buffer)]);
    return Buffer.concat([prefix, varint]);
  };
  const locatorPrefix = Buffer.alloc(4); // the locator's protocol version
  // Core's limits. getdata shares inv's MAX_INV_SZ: Core's MAX_GETDATA_SZ (1,000)
  // limits what it sends and is "not used in processing incoming GETDATA".
  const cases: Array<[Command, string, number, Uint8Array?]> = [
    ['inv', 'inventory.count', MESSAGE_LIMITS.inventory],
    ['getdata', 'inventory.count', MESSAGE_LIMITS.inventory],
    ['notfound', 'inventory.count', MESSAGE_LIMITS.inventory],
    ['headers', 'headers.count', MESSAGE_LIMITS.headers],
    ['addr', 'addresses.count', MESSAGE_LIMITS.addresses],
    ['addrv2', 'addresses.count', MESSAGE_LIMITS.addresses],
    ['getheaders', 'locator.count', MESSAGE_LIMITS.locator, locatorPrefix],
    ['getblocks', 'locator.count', MESSAGE_LIMITS.locator, locatorPrefix],
  ];

  it.each(cases)(
    '%s: a count over the limit is too-many; at the limit with no bytes, truncated',
    (command, field, limit, prefix) => {
      const decodeError = (payload: Buffer) => {
        try {
          decodeMessage(command, payload);
        } catch (err) {
          if (err instanceof DecodeError) return `${err.code} ${err.field}`;
          throw err;
        }
        return 'decoded';
      };
      expect(decodeError(claim(limit + 1, prefix))).toBe(`too-many ${field}`);
      // Claiming the most allowed, with nothing behind it, fails before any list is built.
      expect(decodeError(claim(limit, prefix))).toBe(`truncated ${field}`);
    },
  );

  it('the limits are Core values', () => {
    expect(MESSAGE_LIMITS).toMatchObject({
      inventory: 50_000,
      headers: 2_000,
      addresses: 1_000,
      locator: 101,
      userAgent: 256,
    });
  });
});
