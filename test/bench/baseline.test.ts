// The plain-Node baseline's decoder, fed the way `onread` feeds it: every
// chunk is a view of one buffer that the next read overwrites.
import { describe, expect, it } from 'vitest';
import { BaselineDecoder, baselineFrame } from '../../ts/bench/baseline.js';

const MAGIC = Buffer.from('fabfb5da', 'hex');

function frames(sizes: number[]): { payloads: Buffer[]; wire: Buffer } {
  const payloads = sizes.map((size, i) => Buffer.alloc(size, i + 1));
  return { payloads, wire: Buffer.concat(payloads.map((p) => baselineFrame(MAGIC, 'block', p))) };
}

/** Pushes `wire` in `chunk`-byte pieces, each copied into the same static buffer. */
function feedStatic(decoder: BaselineDecoder, wire: Buffer, chunk: number): void {
  const reused = Buffer.alloc(chunk);
  for (let at = 0; at < wire.length; at += chunk) {
    const n = wire.copy(reused, 0, at, Math.min(wire.length, at + chunk));
    decoder.push(reused.subarray(0, n));
    reused.fill(0xee); // what the next read would do to it
  }
}

describe('BaselineDecoder', () => {
  for (const reusePayload of [false, true]) {
    it(`verifies and delivers frames split across reads of one static buffer (reusePayload ${reusePayload})`, () => {
      const { payloads, wire } = frames([0, 8, 5_000, 70_000, 1_000_000, 3, 200_000]);
      const got: Buffer[] = [];
      const decoder = new BaselineDecoder(
        MAGIC,
        (_command, payload) => got.push(Buffer.from(payload)),
        4_000_000,
        reusePayload,
      );
      feedStatic(decoder, wire, 65_536);
      expect(got.length).toBe(payloads.length);
      for (let i = 0; i < payloads.length; i++) {
        expect(got[i]?.equals(payloads[i] as Buffer), `payload ${i}`).toBe(true);
      }
    });
  }

  it('drops a frame whose checksum does not match, and goes on', () => {
    const { wire } = frames([100, 100]);
    wire.writeUInt8((wire[24 + 50] as number) ^ 1, 24 + 50); // first payload
    const got: number[] = [];
    const decoder = new BaselineDecoder(MAGIC, (_c, payload) => got.push(payload[0] as number));
    feedStatic(decoder, wire, 37);
    expect(got).toEqual([2]);
  });
});
