// Token buckets on the engine clock.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../ts/engine/clock.js';
import type { Peer } from '../../ts/engine/peer.js';
import { PeerRateLimiter, TokenBucket } from '../../ts/engine/rate-limit.js';

describe('TokenBucket', () => {
  it('allows a burst, then refills at its rate, never past the burst', () => {
    const bucket = new TokenBucket(2, 3, 0);
    expect([1, 2, 3, 4].map(() => bucket.take(0))).toEqual([true, true, true, false]);
    expect(bucket.take(499)).toBe(false);
    expect(bucket.take(500)).toBe(true); // 2 a second: one token per 500 ms
    expect(bucket.available(100_000)).toBe(3);
    expect(bucket.take(100_000, 4)).toBe(false);
    expect(bucket.available(100_000)).toBe(3);
  });

  it('says how long until tokens come back', () => {
    const bucket = new TokenBucket(2, 3, 0);
    expect(bucket.waitMs(0)).toBe(0);
    for (let i = 0; i < 3; i++) bucket.take(0);
    expect(bucket.waitMs(0)).toBe(500);
    expect(bucket.waitMs(200)).toBe(300);
    expect(bucket.waitMs(200, 2)).toBe(800);
    expect(bucket.take(500)).toBe(true);
    expect(new TokenBucket(0, 1, 0).waitMs(0, 2)).toBe(Number.POSITIVE_INFINITY);
  });

  it('a clock that steps back adds nothing; bad settings are refused', () => {
    const bucket = new TokenBucket(1, 1, 10_000);
    expect(bucket.take(10_000)).toBe(true);
    expect(bucket.take(0)).toBe(false);
    expect(bucket.take(10_999)).toBe(false);
    expect(bucket.take(11_000)).toBe(true);
    expect(() => new TokenBucket(-1, 1, 0)).toThrow(RangeError);
    expect(() => new TokenBucket(1, 0, 0)).toThrow(RangeError);
    expect(() => new TokenBucket(Number.NaN, 1, 0)).toThrow(RangeError);
  });
});

describe('PeerRateLimiter', () => {
  it('keeps one budget per peer', () => {
    const clock = new ManualClock();
    const limiter = new PeerRateLimiter(clock, { ratePerSecond: 1, burst: 2 });
    const [a, b] = [{} as Peer, {} as Peer];
    expect([limiter.allow(a), limiter.allow(a), limiter.allow(a)]).toEqual([true, true, false]);
    expect(limiter.allow(b)).toBe(true);
    clock.advance(1_000);
    expect(limiter.allow(a)).toBe(true);
    expect(limiter.allow(a)).toBe(false);
    expect(() => new PeerRateLimiter(clock, { ratePerSecond: 1, burst: -1 })).toThrow(RangeError);
  });
});
