// Time and randomness for an Engine on the simulated network. Every node's
// clock reads the world's virtual time through that node's drift and offset;
// every node's timers go into one queue shared by the whole network, so the
// network can run them in one global order: (virtual due time, creation).
import type { Clock, TimerHandle } from '../engine/clock.js';

/** What a SimClock needs from the world: its time, per node. */
export interface SimTimeSource {
  /** Virtual ms since the world began. */
  now(): number;
  /** The node's own clock reading, in ms. */
  nodeTime(node: number): number;
  /** A duration on the node's clock, in virtual ms. */
  nodeDelay(node: number, ms: number): number;
}

/**
 * xoshiro128** (Blackman and Vigna): a small, fast 32-bit generator whose
 * output is the same on every platform, seeded through splitmix32 so that
 * nearby seeds give unrelated streams.
 */
export class Xoshiro128 {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** The generator whose state splitmix32 expands from `seed`. */
  static fromSeed(seed: number): Xoshiro128 {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    return new Xoshiro128(next(), next(), next(), next());
  }

  /** A generator in a given state (the reference vectors start from one). */
  constructor(a: number, b: number, c: number, d: number) {
    this.a = a | 0;
    this.b = b | 0;
    this.c = c | 0;
    this.d = d | 0;
    // The all-zero state is the one xoshiro cannot leave.
    if ((this.a | this.b | this.c | this.d) === 0) this.a = 1;
  }

  /** A uniform u32. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }

  /** Uniform in [0, 1), with 32 bits of randomness. */
  nextFloat(): number {
    return this.nextU32() / 2 ** 32;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** One pending timer. The object itself is the handle the Engine holds. */
interface TimerEntry {
  /** Virtual ms. */
  readonly due: number;
  /** Creation order across the whole network: breaks ties between equal due times. */
  readonly seq: number;
  readonly fn: () => void;
  readonly owner: SimClock;
  cancelled: boolean;
}

function before(x: TimerEntry, y: TimerEntry): boolean {
  return x.due < y.due || (x.due === y.due && x.seq < y.seq);
}

/**
 * Every node's timers in one binary min-heap ordered by (due, seq). A cancelled
 * timer stays in the heap, marked, until it reaches the top: clearTimer is
 * O(1), and nothing but the order of the heap decides which timer runs next.
 */
export class TimerQueue {
  private readonly heap: TimerEntry[] = [];
  private seq = 0;

  /** Timers in the heap, cancelled ones not yet discarded included. */
  get size(): number {
    return this.heap.length;
  }

  add(due: number, fn: () => void, owner: SimClock): TimerEntry {
    const entry: TimerEntry = { due, seq: this.seq++, fn, owner, cancelled: false };
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent] as TimerEntry;
      if (!before(entry, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = entry;
    return entry;
  }

  /** When the next live timer is due (virtual ms), or null when none is waiting. */
  nextDue(): number | null {
    this.discardDead();
    return this.heap[0]?.due ?? null;
  }

  /** The creation number the next timer will get. */
  get nextSeq(): number {
    return this.seq;
  }

  /** Takes the next live timer if it is due at or before `time` and was created before `beforeSeq`. */
  popDue(time: number, beforeSeq = Number.POSITIVE_INFINITY): TimerEntry | undefined {
    this.discardDead();
    const top = this.heap[0];
    if (top === undefined || top.due > time || top.seq >= beforeSeq) return undefined;
    this.pop();
    return top;
  }

  private discardDead(): void {
    for (let top = this.heap[0]; top && (top.cancelled || top.owner.stopped); top = this.heap[0]) {
      this.pop();
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop() as TimerEntry;
    if (heap.length === 0) return;
    let i = 0;
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const child = r < n && before(heap[r] as TimerEntry, heap[l] as TimerEntry) ? r : l;
      const c = heap[child] as TimerEntry;
      if (!before(c, last)) break;
      heap[i] = c;
      i = child;
    }
    heap[i] = last;
  }
}

/**
 * When a timer set `delay` virtual ms from `now` is due, to the microsecond as
 * the world keeps time. A positive delay is rounded up, never down and never
 * to nothing: rounded down, a timer could fire before its node's clock had
 * advanced by the delay, and code that re-arms itself for "the time still
 * left" (the Engine's inactivity check) would re-arm at the same instant
 * forever.
 */
function dueAfter(now: number, delay: number): number {
  const nowUs = Math.round(now * 1000);
  const delayUs = delay * 1000;
  return (nowUs + (delayUs > 0 ? Math.max(1, Math.ceil(delayUs)) : 0)) / 1000;
}

/**
 * The Clock of one node (one generation of it: a node that crashes and
 * restarts gets a new SimClock, and the old one's timers never run).
 */
export class SimClock implements Clock {
  private readonly rng: Xoshiro128;
  private stoppedFlag = false;

  constructor(
    private readonly world: SimTimeSource,
    readonly node: number,
    private readonly timers: TimerQueue,
    /** Seed of this clock's random() stream (from the world's PRNG). */
    seed: number,
  ) {
    this.rng = Xoshiro128.fromSeed(seed);
  }

  now(): number {
    return this.world.nodeTime(this.node);
  }

  setTimer(delayMs: number, fn: () => void): TimerHandle {
    // A crashed node's leftover promise callbacks may still ask for timers:
    // they get a handle that never runs, and the queue never sees it.
    if (this.stoppedFlag) return { cancelled: true, owner: this } as unknown as TimerHandle;
    const delay = this.world.nodeDelay(this.node, Math.max(0, delayMs));
    const due = dueAfter(this.world.now(), delay);
    return this.timers.add(due, fn, this) as unknown as TimerHandle;
  }

  clearTimer(handle: TimerHandle): void {
    const entry = handle as unknown as TimerEntry;
    if (entry && entry.owner === this) entry.cancelled = true;
  }

  random(): number {
    return this.rng.nextFloat();
  }

  /** Whether the node this clock served has crashed: its timers are dead. */
  get stopped(): boolean {
    return this.stoppedFlag;
  }

  /** Cancels every timer of this clock, now and later (the node crashed). */
  stop(): void {
    this.stoppedFlag = true;
  }
}
