// Time and randomness for the engine, injected so a simulated transport can drive
// the same engine deterministically. Nothing in the engine calls setTimeout,
// Date.now or Math.random directly.
import { getRandomValues } from 'node:crypto';

export type TimerHandle = { readonly __timer: unique symbol };

export interface Clock {
  /** Milliseconds on a monotonic-enough timeline. */
  now(): number;
  /** Runs `fn` once after `delayMs`. */
  setTimer(delayMs: number, fn: () => void): TimerHandle;
  clearTimer(handle: TimerHandle): void;
  /** Uniform in [0, 1): jitter and nonces. */
  random(): number;
  /**
   * `now()`, or a reading taken earlier in the same turn of the event loop:
   * for bookkeeping on the per-message path (a peer's last receive, which
   * only a timeout of minutes reads). Without it the engine calls `now()`.
   */
  coarseNow?(): number;
}

/** Real time. Timers do not keep Node alive on their own (the transport does). */
// Read once: `performance.timeOrigin` is a getter that costs more than `now()`.
const timeOrigin = performance.timeOrigin;

// A turn's reading: taken on first use, forgotten once the turn's synchronous
// code is done (a microtask). A clock read per message was ~5 % of the JS
// thread's time receiving small messages.
let turnReading = -1;
const forgetTurnReading = () => {
  turnReading = -1;
};

// Randomness peers can observe (version and ping nonces) must not reveal
// what comes next: three outputs of V8's Math.random give away its state,
// and with it every later nonce, outbound pick and address-table secret.
// So the system clock draws from the OS's CSPRNG, a block at a time.
const randomPool = new Uint32Array(512);
let randomNext = randomPool.length;

/** Uniform in [0, 1), 53 bits from the CSPRNG. */
function secureRandom(): number {
  if (randomNext > randomPool.length - 2) {
    getRandomValues(randomPool);
    randomNext = 0;
  }
  const hi = (randomPool[randomNext++] as number) >>> 5; // 27 bits
  const lo = (randomPool[randomNext++] as number) >>> 6; // 26 bits
  return (hi * 2 ** 26 + lo) / 2 ** 53;
}

export const systemClock: Clock = {
  now: () => timeOrigin + performance.now(),
  coarseNow: () => {
    if (turnReading < 0) {
      turnReading = timeOrigin + performance.now();
      queueMicrotask(forgetTurnReading);
    }
    return turnReading;
  },
  setTimer: (delayMs, fn) => {
    const t = setTimeout(fn, delayMs);
    t.unref();
    return t as unknown as TimerHandle;
  },
  clearTimer: (handle) => clearTimeout(handle as unknown as NodeJS.Timeout),
  random: secureRandom,
};

/**
 * Time that moves only when told to, with a seeded random source: for unit tests
 * and simulations.
 */
export class ManualClock implements Clock {
  private time: number;
  private seq = 0;
  private seed: number;
  private timers = new Map<number, { at: number; fn: () => void }>();

  constructor(options: { start?: number; seed?: number } = {}) {
    this.time = options.start ?? 1_700_000_000_000;
    this.seed = (options.seed ?? 1) >>> 0 || 1;
  }

  now(): number {
    return this.time;
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { at: this.time + Math.max(0, delayMs), fn });
    return id as unknown as TimerHandle;
  }

  clearTimer(handle: TimerHandle): void {
    this.timers.delete(handle as unknown as number);
  }

  /** xorshift32: deterministic for a given seed. */
  random(): number {
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    return this.seed / 2 ** 32;
  }

  /** Timers still waiting. */
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time forward, firing due timers in time order (then creation order). */
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const entry of this.timers) {
        if (entry[1].at <= end && (!next || entry[1].at < next[1].at)) next = entry;
      }
      if (!next) break;
      this.timers.delete(next[0]);
      this.time = Math.max(this.time, next[1].at);
      next[1].fn();
    }
    this.time = end;
  }
}
