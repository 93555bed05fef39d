// The header store's slots as wire records: whatever order slots come in
// (reused after a prune, across a chunk boundary), a run of records copied out
// must equal the headers copied one by one, each with a zero transaction count.
import { describe, expect, it } from 'vitest';
import { HeaderStore } from '../../ts/chain/headerstore.js';
import { HEADER_BYTES, HEADER_RECORD_BYTES } from '../../ts/wire/headers.js';

/** 80 recognisable bytes for header `n`, behind a junk byte (as in an 81-byte record). */
function rawHeader(n: number): Buffer {
  const raw = Buffer.alloc(1 + HEADER_BYTES, 0xaa);
  for (let i = 0; i < HEADER_BYTES; i++) raw[1 + i] = (n * 31 + i) & 0xff;
  raw.writeUInt32LE(n, 1);
  return raw;
}

/** The records for `slots`, built one slot at a time. */
function oneByOne(store: HeaderStore, slots: number[]): Buffer {
  const out = Buffer.alloc(slots.length * HEADER_RECORD_BYTES, 0xee);
  slots.forEach((slot, i) => {
    store.copyTo(slot, out, i * HEADER_RECORD_BYTES);
    out[i * HEADER_RECORD_BYTES + HEADER_BYTES] = 0;
  });
  return out;
}

describe('HeaderStore records', () => {
  it('copies runs and scattered slots alike, across chunks and after reuse', () => {
    const store = new HeaderStore();
    const count = (1 << 14) + 40; // past the first chunk
    const slots: number[] = [];
    for (let n = 0; n < count; n++) slots.push(store.add(rawHeader(n), 1));
    // Free a few and take them again: reused slots come back out of order.
    for (const slot of [5, 9, 7, 16_390]) store.release(slot);
    const reused = [1, 2, 3, 4].map((k) => store.add(rawHeader(100_000 + k), 1));
    expect(new Set(reused)).toEqual(new Set([5, 9, 7, 16_390]));
    const orders = [
      slots.slice(0, 2_000),
      slots.slice(16_300, 16_424), // straddles the chunk boundary
      [...reused, 3, 4, 10, 11, 12, 6],
      [16_383, 16_384, 16_385, 0, 1],
      [],
    ];
    for (const order of orders) {
      const out = Buffer.alloc(order.length * HEADER_RECORD_BYTES + 3, 0xee);
      store.copyRecordsTo(order, out, 3);
      expect(out.subarray(3)).toEqual(oneByOne(store, order));
      expect(out.subarray(0, 3)).toEqual(Buffer.alloc(3, 0xee));
    }
    expect(store.view(slots[20] as number)).toEqual(rawHeader(20).subarray(1));
    expect(store.time(slots[20] as number)).toBe(rawHeader(20).readUInt32LE(1 + 68));
  });

  it('writes a zero transaction count into a reused slot whatever its memory held', () => {
    const store = new HeaderStore();
    const slot = store.add(rawHeader(1), 1);
    store.add(rawHeader(2), 1);
    // Dirty the byte after the header, as junk in fresh memory would be.
    const view = store.view(slot);
    new Uint8Array(view.buffer, view.byteOffset + HEADER_BYTES, 1)[0] = 0xff;
    store.release(slot);
    expect(store.add(rawHeader(3), 1)).toBe(slot);
    const out = Buffer.alloc(HEADER_RECORD_BYTES);
    store.copyRecordsTo([slot], out, 0);
    expect(out[HEADER_BYTES]).toBe(0);
    expect(out.subarray(0, HEADER_BYTES)).toEqual(rawHeader(3).subarray(1));
  });
});
