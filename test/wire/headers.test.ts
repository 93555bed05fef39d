// `headers` payloads kept as wire records: they must decode, re-encode and be
// validated exactly as the decoded form, and never pin the bytes they came from.
import { describe, expect, it } from 'vitest';
import { generateHeaders } from '../../ts/chain/generate.js';
import { chainFor } from '../../ts/chain/headerchain.js';
import { networkPreset } from '../../ts/config/schema.js';
import { decodeMessage, encodeMessage, encodePayload } from '../../ts/wire/codec.js';
import {
  firstPrevBlock,
  type HeadersPayload,
  headerCount,
  headerRecords,
} from '../../ts/wire/headers.js';
import type { BlockHeader } from '../../ts/wire/types.js';

const regtest = networkPreset('regtest');
const HEADERS = generateHeaders(regtest, 5);

function decodeHeaders(payload: Uint8Array): HeadersPayload {
  const message = decodeMessage('headers', payload);
  if (message?.command !== 'headers') throw new Error('not a headers message');
  return message.payload;
}

/** The payload with the first header's transaction count as a 3-byte CompactSize. */
function withWideTxCount(payload: Buffer): Buffer {
  return Buffer.concat([
    payload.subarray(0, 81),
    Buffer.from([0xfd, 0x00, 0x01]),
    payload.subarray(82),
  ]);
}

describe('headers payloads', () => {
  const encoded = encodePayload('headers', { headers: HEADERS });

  it('keeps the usual payload as records and decodes them on demand', () => {
    const payload = decodeHeaders(encoded);
    expect(headerRecords(payload)).toBeDefined();
    expect(headerCount(payload)).toBe(5);
    expect(Buffer.from(firstPrevBlock(payload) as Uint8Array)).toEqual(
      Buffer.from((HEADERS[0] as BlockHeader).prevBlock),
    );
    expect(encodePayload('headers', payload)).toEqual(encoded);
    // Reading the headers gives the decoded form and drops the records.
    expect(
      payload.headers.map((h) => ({
        ...h,
        prevBlock: [...h.prevBlock],
        merkleRoot: [...h.merkleRoot],
      })),
    ).toEqual(
      HEADERS.map((h) => ({ ...h, prevBlock: [...h.prevBlock], merkleRoot: [...h.merkleRoot] })),
    );
    expect(headerRecords(payload)).toBeUndefined();
    expect(headerCount(payload)).toBe(5);
  });

  it('encodes what a caller changed once it has read the headers', () => {
    const payload = decodeHeaders(encoded);
    payload.headers.pop();
    expect(encodePayload('headers', payload)).toEqual(
      encodePayload('headers', { headers: HEADERS.slice(0, 4) }),
    );
  });

  it('encodes a list assigned before anything read the headers', () => {
    const payload = decodeHeaders(encoded);
    payload.headers = HEADERS.slice(0, 2);
    expect(headerRecords(payload)).toBeUndefined();
    expect(encodePayload('headers', payload)).toEqual(
      encodePayload('headers', { headers: HEADERS.slice(0, 2) }),
    );
  });

  it('copies its records: later writes to the received bytes change nothing', () => {
    const received = Buffer.from(encoded);
    const payload = decodeHeaders(received);
    received.fill(0xee);
    expect(encodePayload('headers', payload)).toEqual(encoded);
  });

  it('keeps an owned payload that is all of its memory as it is, and copies any other', () => {
    const own = () => {
      const bytes = new Uint8Array(new ArrayBuffer(encoded.length));
      bytes.set(encoded);
      return bytes;
    };
    const decode = (bytes: Uint8Array, owned: boolean) => {
      const message = decodeMessage('headers', bytes, { owned });
      if (message?.command !== 'headers') throw new Error('not a headers message');
      return message.payload;
    };
    /** Whether the decoded payload is a copy: overwriting the received bytes changes nothing. */
    const copied = (bytes: Uint8Array, owned: boolean) => {
      const payload = decode(bytes, owned);
      bytes.fill(0xee);
      return encodePayload('headers', payload).equals(encoded);
    };
    // Handed over and alone in its memory: a view, no copy.
    const whole = own();
    expect(headerRecords(decode(whole, true))?.wire.buffer).toBe(whole.buffer);
    expect(copied(own(), true)).toBe(false);
    // Not handed over, or a view into a larger buffer (a receive batch): copied.
    expect(copied(own(), false)).toBe(true);
    const batch = Buffer.concat([Buffer.alloc(7), encoded]);
    expect(copied(batch.subarray(7), true)).toBe(true);
    // Records followed by bytes a peer appended: copied, or the view would
    // keep the appended bytes alive with the message.
    const padded = new Uint8Array(new ArrayBuffer(encoded.length + 100_000));
    padded.set(encoded);
    const paddedRecords = headerRecords(decode(padded, true))?.wire;
    expect(paddedRecords?.buffer).not.toBe(padded.buffer);
    expect(paddedRecords?.buffer.byteLength).toBeLessThan(100_000);
    // A count to rewrite: copied, so the sender's bytes are left as they were.
    const odd = own();
    odd[1 + 80] = 7;
    const payload = decode(odd, true);
    expect(odd[1 + 80]).toBe(7);
    expect(encodePayload('headers', payload)).toEqual(encoded);
    expect(copied(odd, true)).toBe(true);
  });

  it('sends a non-zero transaction count as 0, as the decoded form does', () => {
    const odd = Buffer.from(encoded);
    odd[1 + 80] = 7;
    const payload = decodeHeaders(odd);
    expect(headerRecords(payload)).toBeDefined();
    expect(encodePayload('headers', payload)).toEqual(encoded);
  });

  it('decodes a wide transaction count field by field, to the same headers', () => {
    const payload = decodeHeaders(withWideTxCount(encoded));
    expect(headerRecords(payload)).toBeUndefined();
    expect(headerCount(payload)).toBe(5);
    expect(encodePayload('headers', payload)).toEqual(encoded);
  });

  it('validates records exactly as decoded headers', () => {
    const fromRecords = chainFor(regtest);
    const fromHeaders = chainFor(regtest);
    const a = fromRecords.acceptPayload(decodeHeaders(encoded));
    const b = fromHeaders.accept(HEADERS);
    expect(a.added).toBe(5);
    expect(b.added).toBe(5);
    expect(fromRecords.tipHash).toEqual(fromHeaders.tipHash);
    // Known headers are recognised, not added again.
    expect(fromRecords.acceptPayload(decodeHeaders(encoded)).added).toBe(0);
    // A broken link is refused from records as from headers.
    const broken = Buffer.from(encoded);
    broken.writeUInt8((broken.readUInt8(1 + 81 * 2 + 4) ^ 1) & 0xff, 1 + 81 * 2 + 4);
    expect(() => chainFor(regtest).acceptPayload(decodeHeaders(broken))).toThrow(/non-continuous/);
  });

  it('serves a getheaders answer as records that encode like the decoded answer', () => {
    const chain = chainFor(regtest);
    chain.accept(HEADERS);
    const locator = [chain.hashAt(1) as Buffer];
    const stop = new Uint8Array(32);
    const payload = chain.headersPayloadAfter(locator, stop);
    expect(headerCount(payload)).toBe(4);
    expect(encodeMessage({ command: 'headers', payload })).toEqual(
      encodePayload('headers', { headers: chain.headersAfter(locator, stop) }),
    );
    expect(headerCount(chain.headersPayloadAfter([], chain.hashAt(3) as Buffer))).toBe(1);
    expect(headerCount(chain.headersPayloadAfter([chain.tipHash], stop))).toBe(0);
  });
});
