// HeaderChain.checkPayloadPow (Core's CheckHeadersPoW): headers checked on
// their face without being added, from wire records and from decoded headers.
import { describe, expect, it } from 'vitest';
import { encodeHeader } from '../../ts/chain/block.js';
import { generateHeaders } from '../../ts/chain/generate.js';
import { chainFor } from '../../ts/chain/headerchain.js';
import { networkPreset } from '../../ts/config/schema.js';
import { allocHeadersWire, HEADER_RECORD_BYTES, headersFromWire } from '../../ts/wire/headers.js';
import type { BlockHeader } from '../../ts/wire/types.js';

const REGTEST = networkPreset('regtest');
const HEADERS = generateHeaders(REGTEST, 10);

/** A payload over wire records, as a received `headers` message has. */
function recordsPayload(headers: BlockHeader[]) {
  const { wire, start } = allocHeadersWire(headers.length);
  headers.forEach((h, i) => {
    encodeHeader(h).copy(wire, start + i * HEADER_RECORD_BYTES);
    wire[start + i * HEADER_RECORD_BYTES + 80] = 0;
  });
  return headersFromWire(wire, start, headers.length);
}
const decodedPayload = (headers: BlockHeader[]) => ({ headers });

describe.each([
  ['wire records', recordsPayload],
  ['decoded headers', decodedPayload],
])('checkPayloadPow, from %s', (_, payloadOf) => {
  const chain = chainFor(REGTEST);

  it('passes headers that follow one another and meet their bits, adding nothing', () => {
    expect(chain.checkPayloadPow(payloadOf(HEADERS.slice(3, 8)))).toBeUndefined();
    expect(chain.height).toBe(0);
  });

  it('names a header that does not follow the one before it', () => {
    const fault = chain.checkPayloadPow(payloadOf([HEADERS[3], HEADERS[5]] as BlockHeader[]));
    expect(fault).toEqual({
      kind: 'non-continuous',
      detail: 'header 1 of 2 does not follow the one before it',
    });
  });

  it('names a header whose hash misses its bits', () => {
    // The hardest target there is: no generated header's hash is below it.
    const hard = { ...(HEADERS[4] as BlockHeader), bits: 0x03000001 };
    const fault = chain.checkPayloadPow(payloadOf([HEADERS[3] as BlockHeader, hard]));
    expect(fault?.kind).toBe('invalid-pow');
    expect(fault?.detail).toMatch(/^header 1 of 2: /);
  });
});
