// StagedSends on its own, with a fake addon: what is staged, and when the
// credit is dropped.
import { describe, expect, it } from 'vitest';
import { StagedSends } from '../../ts/native/staged.js';

function staging(closes: Uint32Array | null) {
  const handed: Array<{ meta: number[]; data: number[] }> = [];
  const staged = new StagedSends((meta, data) => {
    handed.push({ meta: [...meta], data: [...data] });
    return 0;
  }, closes);
  return { staged, handed };
}

describe('StagedSends', () => {
  it('stages nothing without the close counter (a runtime that refuses external buffers)', () => {
    const { staged, handed } = staging(null);
    staged.setCredit(1, 1_000_000, staged.closesNow());
    expect(staged.tryStage(1, 0, new Uint8Array(8))).toBe(false);
    staged.flush();
    expect(handed).toEqual([]);
  });

  it('spends the credit frame by frame, header included, and hands over in order', () => {
    const { staged, handed } = staging(new Uint32Array(1));
    staged.setCredit(7, 3 * 32, staged.closesNow());
    expect(staged.tryStage(7, 2, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8))).toBe(true);
    expect(staged.tryStage(7, 2, Uint8Array.of(9, 9, 9, 9, 9, 9, 9, 9))).toBe(true);
    expect(staged.tryStage(7, 3, Uint8Array.of(5, 5, 5, 5, 5, 5, 5, 5))).toBe(true);
    // 96 bytes of credit were three 32-byte frames: the fourth asks the addon.
    expect(staged.tryStage(7, 2, new Uint8Array(8))).toBe(false);
    expect(staged.tryStage(8, 2, new Uint8Array(0))).toBe(false); // no credit for peer 8
    staged.flush();
    expect(handed).toEqual([
      {
        meta: [7, 2, 8, 7, 2, 8, 7, 3, 8],
        data: [1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9, 9, 9, 9, 9, 5, 5, 5, 5, 5, 5, 5, 5],
      },
    ]);
    staged.flush();
    expect(handed).toHaveLength(1);
  });

  it('drops every credit when a queue closes anywhere, until the addon gives new ones', () => {
    const closes = new Uint32Array(1);
    const { staged } = staging(closes);
    staged.setCredit(1, 10_000, staged.closesNow());
    staged.setCredit(2, 10_000, staged.closesNow());
    expect(staged.tryStage(1, 0, new Uint8Array(8))).toBe(true);
    closes[0] = 1; // the I/O side closed some queue
    expect(staged.tryStage(2, 0, new Uint8Array(8))).toBe(false);
    expect(staged.tryStage(1, 0, new Uint8Array(8))).toBe(false);
    // Credit reported after the close counts again; credit from before it does not.
    staged.setCredit(2, 10_000, 0);
    expect(staged.tryStage(2, 0, new Uint8Array(8))).toBe(false);
    staged.setCredit(2, 10_000, staged.closesNow());
    expect(staged.tryStage(2, 0, new Uint8Array(8))).toBe(true);
    expect(staged.tryStage(1, 0, new Uint8Array(8))).toBe(false);
  });

  it('hands over when its buffers fill, keeping order, and never stages a large payload', () => {
    const { staged, handed } = staging(new Uint32Array(1));
    staged.setCredit(1, 100_000_000, staged.closesNow());
    expect(staged.tryStage(1, 0, new Uint8Array(4097))).toBe(false);
    for (let i = 0; i < 5000; i++)
      expect(staged.tryStage(1, 0, Uint8Array.of(i & 0xff))).toBe(true);
    staged.flush();
    const sizes = handed.map((h) => h.meta.length / 3);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(5000);
    expect(sizes[0]).toBe(4096);
    const all = handed.flatMap((h) => h.data);
    expect(all).toEqual(Array.from({ length: 5000 }, (_, i) => i & 0xff));
  });
});
