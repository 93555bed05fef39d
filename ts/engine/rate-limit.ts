// Token buckets on the engine's clock, for answering requests within a budget
// (a getheaders flood, for one). Core keeps such a bucket per peer for addr
// processing; peers that ask faster than the rate get nothing more, without
// penalty, until tokens come back.
import type { Clock } from './clock.js';
import type { Peer } from './peer.js';

/** `ratePerSecond` tokens a second, holding at most `burst` (full at start). */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
    now: number,
  ) {
    if (!(ratePerSecond >= 0 && Number.isFinite(ratePerSecond))) {
      throw new RangeError(`ratePerSecond must be a finite number >= 0, got ${ratePerSecond}`);
    }
    if (!(burst > 0 && Number.isFinite(burst))) {
      throw new RangeError(`burst must be a finite number > 0, got ${burst}`);
    }
    this.tokens = burst;
    this.last = now;
  }

  /** Takes `cost` tokens if there are that many; false (and nothing taken) otherwise. */
  take(now: number, cost = 1): boolean {
    this.refill(now);
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }

  /** Tokens available at `now`. */
  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }

  /** Milliseconds from `now` until `cost` tokens are available (0 if they are). */
  waitMs(now: number, cost = 1): number {
    this.refill(now);
    if (this.tokens >= cost) return 0;
    return this.ratePerSecond === 0
      ? Number.POSITIVE_INFINITY
      : Math.ceil(((cost - this.tokens) * 1000) / this.ratePerSecond);
  }

  private refill(now: number): void {
    // A clock that steps back adds nothing.
    const elapsed = Math.max(0, now - this.last);
    this.last = Math.max(this.last, now);
    this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSecond) / 1000);
  }
}

/**
 * One TokenBucket per peer, made on first use; it goes with the peer handle
 * (held weakly), so nothing needs cleaning up on disconnect.
 *
 *   const getheaders = new PeerRateLimiter(engine.clock, { ratePerSecond: 1, burst: 10 });
 *   engine.on('getheaders', (peer, req) => { if (getheaders.allow(peer)) answer(peer, req); });
 */
export class PeerRateLimiter {
  private readonly buckets = new WeakMap<Peer, TokenBucket>();

  constructor(
    private readonly clock: Clock,
    readonly options: { ratePerSecond: number; burst: number },
  ) {
    // Checks the options now rather than at the first peer.
    new TokenBucket(options.ratePerSecond, options.burst, 0);
  }

  /** Whether `peer` may spend `cost` now (and spends it if so). */
  allow(peer: Peer, cost = 1): boolean {
    const now = this.clock.now();
    let bucket = this.buckets.get(peer);
    if (!bucket) {
      bucket = new TokenBucket(this.options.ratePerSecond, this.options.burst, now);
      this.buckets.set(peer, bucket);
    }
    return bucket.take(now, cost);
  }
}
