// What every workload shares: the message channel to the other process, the
// sizes, the shape of a workload and its measurements, and the helpers that
// open a net and count frames.
import { type BenchNet, createNet, type Impl, type Payloads } from './nets.js';

/** Message passing with the other process. */
export interface Channel {
  send(message: Record<string, unknown>): void;
  next(): Promise<Record<string, unknown>>;
}

export interface Sizes {
  smallMessages: number;
  sendEachMessages: number;
  typedMessages: number;
  largeMessages: number;
  broadcastPeers: number;
  pings: number;
  /** Round trips before timing starts (JIT and CPU wake-up). */
  pingWarmup: number;
  peers: number;
  syncHeaders: number;
  /** The generated chain to sync (set by the bench before sync runs). */
  headersFile?: string;
  /** Filled blocks to download (after the 100 coinbase-only ones). */
  blocksFull: number;
  /** Their size: filled to at most this many bytes (generate.ts, blockBytes). */
  blockBytes: number;
  /** Serving nodes. */
  blockPeers: number;
  /** One data directory per serving node (set by the bench before blocks runs). */
  blocksDirs?: string[];
  /** Their chain's headers in the `sync --out` layout (set with blocksDirs). */
  blocksHeadersFile?: string;
}

export type Measurement = Record<string, number>;

export interface Context {
  impl: Impl;
  ch: Channel;
  sizes: Sizes;
  /** Makes the net a workload runs on (tests substitute one; default: `createNet(impl)`). */
  makeNet?: () => BenchNet;
}

export interface Metric {
  metric: string;
  unit: string;
  /** The Measurement field it reads. */
  key: string;
  higherIsBetter: boolean;
  target: string;
}

export interface Workload {
  describe: string;
  metrics: Metric[];
  /** The measuring side: returns the numbers. */
  parent(ctx: Context): Promise<Measurement>;
  /** The other side: returns once the measuring side is done with it. */
  child(ctx: Context): Promise<void>;
  /** peerwire-ceiling arguments for the same workload. */
  ceiling(sizes: Sizes): string[];
}

export const now = () => process.hrtime.bigint();
export const ns = (v: unknown) => BigInt(v as string);

/** Runs `fn` with a fresh net, closing it afterwards (bounded: a close never hangs a run). */
export async function withNet<T>(
  ctx: Context,
  fn: (net: BenchNet) => Promise<T>,
  payloads: Payloads = 'owned',
): Promise<T> {
  const net = ctx.makeNet ? ctx.makeNet() : createNet(ctx.impl, payloads);
  try {
    return await fn(net);
  } finally {
    await Promise.race([net.close(), new Promise((r) => setTimeout(r, 5_000).unref())]);
  }
}

/**
 * The receiving side of a one-way stream: counts frames from the first one
 * (they can arrive before the message saying how many to expect) and reports
 * the monotonic time of the last, which the sender's clock can read too.
 */
export async function receiveCounted(
  ctx: Context,
  net: BenchNet,
  count: number,
  onFrame: (payload: Buffer) => number = () => 1,
  open: (net: BenchNet) => Promise<void> = listenAndTell(ctx),
): Promise<void> {
  let seen = 0;
  let finish: (t: bigint) => void = () => {};
  const done = new Promise<bigint>((resolve) => {
    finish = resolve;
  });
  net.onFrame((_c, _command, payload) => {
    seen += onFrame(payload);
    if (seen === count) finish(now());
  });
  await open(net);
  ctx.ch.send({ t1: (await done).toString() });
  await ctx.ch.next();
}

/** Listens and sends the port to the other side, which dials. */
export const listenAndTell =
  (ctx: Context) =>
  async (net: BenchNet): Promise<void> => {
    ctx.ch.send({ port: await net.listen() });
  };

/** Dials the port the other side sends, once. */
export const dialTold =
  (ctx: Context) =>
  async (net: BenchNet): Promise<void> => {
    const { port } = await ctx.ch.next();
    await net.connect(port as number, 1);
  };

/** Throughput from the sender's first byte to the receiver's last frame. */
export function throughputOf(count: number, bytes: number, t0: bigint, t1: unknown): Measurement {
  const seconds = Number(ns(t1) - t0) / 1e9;
  return {
    messages: count,
    seconds,
    perSecond: count / seconds,
    mbPerSecond: bytes / 1e6 / seconds,
  };
}
