import { describe, expect, it } from 'vitest';
import { ManualClock, systemClock } from '../../ts/engine/clock.js';

function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {}
}

describe('systemClock.coarseNow', () => {
  it('keeps one reading for the rest of the turn, and reads again in the next', async () => {
    const coarse = systemClock.coarseNow as () => number;
    const first = coarse();
    expect(Math.abs(first - systemClock.now())).toBeLessThan(50);
    spin(3);
    // Same turn: the reading taken first, though time has moved on.
    expect(coarse()).toBe(first);
    expect(systemClock.now()).toBeGreaterThan(first);
    await new Promise((r) => setTimeout(r, 3));
    const next = coarse();
    expect(next).toBeGreaterThan(first);
    expect(next).toBeLessThanOrEqual(systemClock.now());
  });

  it('is not on a manual clock, whose time moves inside a turn (the engine reads now())', () => {
    expect((new ManualClock() as { coarseNow?: unknown }).coarseNow).toBeUndefined();
  });
});
