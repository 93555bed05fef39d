// Core's adaptive stalling timeout: 2 s, doubling to 64 s, decaying by ×0.85.
import { describe, expect, it } from 'vitest';
import { StallingTimeout } from '../../ts/block/stall.js';

describe('the stalling timeout', () => {
  it('doubles when it fires, up to 64 s', () => {
    const t = new StallingTimeout();
    const seen = [t.ms];
    for (let i = 0; i < 7; i++) {
      t.fired();
      seen.push(t.ms);
    }
    expect(seen).toEqual([2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 64_000, 64_000]);
  });

  it('decays by ×0.85 in whole ms back to the initial value, never below', () => {
    const t = new StallingTimeout();
    t.fired();
    t.fired();
    t.progressed();
    expect(t.ms).toBe(6_800);
    t.progressed();
    expect(t.ms).toBe(5_780);
    for (let i = 0; i < 20; i++) t.progressed();
    expect(t.ms).toBe(2_000);
  });

  it('refuses a ceiling below the start', () => {
    expect(() => new StallingTimeout(2_000, 1_000)).toThrow(RangeError);
    expect(() => new StallingTimeout(0)).toThrow(RangeError);
  });
});
