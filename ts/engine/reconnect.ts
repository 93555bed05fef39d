// Redial policy for outbound peers: exponential backoff with jitter, and a
// restart limit inside a sliding time window so a flapping peer is given up.

export interface ReconnectPolicy {
  baseDelayMs: number;
  maxDelayMs: number;
  jitter: number;
  maxRestarts: number;
  windowMs: number;
}

export class Backoff {
  private failures = 0;
  private restarts: number[] = [];

  constructor(private readonly policy: ReconnectPolicy) {}

  /** A connection attempt or session ended; `now` from the engine's clock. */
  recordFailure(now: number): void {
    this.failures++;
    this.restarts.push(now);
  }

  /** A handshake completed: the next failure starts from the base delay again. */
  recordSuccess(): void {
    this.failures = 0;
  }

  /** Whether the restart limit inside the window allows another attempt. */
  mayRetry(now: number): boolean {
    this.restarts = this.restarts.filter((t) => now - t < this.policy.windowMs);
    return this.restarts.length <= this.policy.maxRestarts;
  }

  /** Delay before the next attempt: base · 2^(failures-1), capped, with ±jitter. */
  nextDelay(random: () => number): number {
    const exp = Math.min(this.failures - 1, 30);
    const raw = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** Math.max(0, exp));
    const spread = raw * this.policy.jitter * (2 * random() - 1);
    return Math.max(0, Math.round(raw + spread));
  }
}
