// The benchmark's workloads. Each has a measuring side and an other side, each
// run in a fresh process, so every number crosses real loopback TCP between two
// processes and no workload inherits another's heap. Both implementations run
// the same code through BenchNet; the ceiling runs the same workload in Rust
// (crates/ceiling), named by `ceiling`.
//
// Every handler is installed before the socket it listens on exists: a frame
// can arrive in the same batch as the event announcing its connection.
import { checksumsComputed } from '../native/transport.js';
import { baselineChecksums } from './baseline.js';
import { blocksWorkload } from './blocks.js';
import {
  dialTold,
  type Metric,
  now,
  ns,
  receiveCounted,
  type Sizes,
  throughputOf,
  type Workload,
  withNet,
} from './context.js';
import { syncWorkload } from './sync.js';
import { typedWorkload } from './typed.js';

export type { Channel, Context, Measurement, Metric, Sizes, Workload } from './context.js';

const LARGE = 1_000_000;

type SendStyle = 'bulk' | 'each';

function stream(
  describe: string,
  size: number,
  count: (s: Sizes) => number,
  style: SendStyle,
  ceilingKind: string,
  metric: Metric,
): Workload {
  const command = size >= LARGE ? 'block' : 'tx';
  return {
    describe,
    metrics: [metric],
    ceiling: (s) => ['stream', ceilingKind, String(count(s))],
    parent: (ctx) =>
      withNet(
        ctx,
        async (net) => {
          const n = count(ctx.sizes);
          // The receiver dials: a socket Node dials can read into one static
          // buffer (the baseline's borrowed payloads), one it accepts cannot.
          const accepted = new Promise<number>((resolve) => net.onAccept(resolve));
          ctx.ch.send({ port: await net.listen() });
          const conn = await accepted;
          const t0 = now();
          if (style === 'bulk') {
            await net.sendBulk(conn, command, Buffer.alloc(n * size, 7), size);
          } else {
            const payload = Buffer.alloc(size, 7);
            for (let i = 0; i < n; i++) {
              const wait = net.send(conn, command, payload);
              if (wait) await wait;
            }
          }
          const { t1 } = await ctx.ch.next();
          ctx.ch.send({ stop: true });
          return throughputOf(n, n * size, t0, t1);
        },
        'borrowed',
      ),
    child: (ctx) =>
      withNet(
        ctx,
        (net) => receiveCounted(ctx, net, count(ctx.sizes), undefined, dialTold(ctx)),
        'borrowed',
      ),
  };
}

const broadcast: Workload = {
  describe: 'one 1 MB message to every peer',
  metrics: [
    { metric: 'time to all peers', unit: 'ms', key: 'ms', higherIsBetter: false, target: '-' },
    {
      metric: 'checksums computed',
      unit: 'count',
      key: 'checksums',
      higherIsBetter: false,
      target: 'one encode, one checksum',
    },
  ],
  ceiling: (s) => ['broadcast', String(s.broadcastPeers), String(LARGE)],
  parent: (ctx) =>
    withNet(
      ctx,
      async (net) => {
        const peers = ctx.sizes.broadcastPeers;
        const accepted: number[] = [];
        const all = new Promise<void>((resolve) =>
          net.onAccept((c) => {
            accepted.push(c);
            if (accepted.length === peers) resolve();
          }),
        );
        ctx.ch.send({ port: await net.listen() });
        await all;
        // The dialling side has its handlers on every connection too.
        await ctx.ch.next();
        const payload = Buffer.alloc(LARGE, 3);
        const sums = () => (ctx.impl === 'peerwire' ? checksumsComputed() : baselineChecksums());
        const before = sums();
        const t0 = now();
        net.broadcast(accepted, 'block', payload);
        const checksums = sums() - before;
        const { t1 } = await ctx.ch.next();
        ctx.ch.send({ stop: true });
        return { peers, ms: Number(ns(t1) - t0) / 1e6, checksums };
      },
      'borrowed',
    ),
  child: (ctx) =>
    withNet(
      ctx,
      async (net) => {
        const peers = ctx.sizes.broadcastPeers;
        let seen = 0;
        let finish: (t: bigint) => void = () => {};
        const done = new Promise<bigint>((resolve) => {
          finish = resolve;
        });
        // Installed before connecting: the frame may share a batch with `connected`.
        net.onFrame(() => {
          if (++seen === peers) finish(now());
        });
        const { port } = await ctx.ch.next();
        await net.connect(port as number, peers);
        ctx.ch.send({ ready: true });
        ctx.ch.send({ t1: (await done).toString() });
        await ctx.ch.next();
      },
      'borrowed',
    ),
};

const ping: Workload = {
  describe: 'ping round trips, JS handler to JS handler',
  metrics: [
    {
      metric: 'round trip p50',
      unit: 'µs',
      key: 'p50us',
      higherIsBetter: false,
      target: '≤ plain Node',
    },
    {
      metric: 'round trip p99',
      unit: 'µs',
      key: 'p99us',
      higherIsBetter: false,
      target: '≤ ½ plain Node',
    },
  ],
  ceiling: (s) => ['ping', String(s.pings), String(s.pingWarmup)],
  parent: (ctx) =>
    withNet(
      ctx,
      async (net) => {
        const { pings, pingWarmup } = ctx.sizes;
        let answered: () => void = () => {};
        net.onFrame((_c, command) => {
          if (command === 'pong') answered();
        });
        const { port } = await ctx.ch.next();
        const [conn] = (await net.connect(port as number, 1)) as [number];
        const rtts: number[] = [];
        const nonce = Buffer.alloc(8);
        for (let i = 0; i < pingWarmup + pings; i++) {
          nonce.writeUInt32LE(i);
          const pong = new Promise<void>((r) => {
            answered = r;
          });
          const t0 = now();
          const wait = net.send(conn, 'ping', nonce);
          if (wait) await wait;
          await pong;
          if (i >= pingWarmup) rtts.push(Number(now() - t0) / 1000);
        }
        ctx.ch.send({ stop: true });
        rtts.sort((a, b) => a - b);
        const pct = (p: number) =>
          rtts[Math.min(rtts.length - 1, Math.floor(p * rtts.length))] as number;
        return { pings: rtts.length, p50us: pct(0.5), p99us: pct(0.99) };
      },
      'borrowed',
    ),
  child: (ctx) =>
    withNet(
      ctx,
      async (net) => {
        net.onFrame((conn, command, payload) => {
          if (command === 'ping') void net.send(conn, 'pong', payload);
        });
        ctx.ch.send({ port: await net.listen() });
        await ctx.ch.next();
      },
      'borrowed',
    ),
};

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function rss(): number {
  gc();
  return process.memoryUsage().rss;
}

const peers: Workload = {
  describe: 'idle handshaken peers held by one process',
  metrics: [
    {
      metric: 'connect + handshake all',
      unit: 's',
      key: 'seconds',
      higherIsBetter: false,
      target: '-',
    },
    {
      metric: 'resident memory per peer',
      unit: 'KiB',
      key: 'rssPerPeerKiB',
      higherIsBetter: false,
      target: '≤ 8 KiB',
    },
  ],
  ceiling: (s) => ['peers', String(s.peers)],
  parent: (ctx) =>
    withNet(ctx, async (net) => {
      // A fresh process: what it holds after minus before is the peers' cost.
      net.onFrame((conn, command) => {
        if (command === 'version') void net.send(conn, 'verack', Buffer.alloc(0));
      });
      const lost = new Promise<never>((_, reject) => {
        net.onClosed((conn, reason) =>
          reject(new Error(`peer ${conn} was disconnected: ${reason}`)),
        );
      });
      // Observed by the race below; closing the net later disconnects everyone.
      lost.catch(() => {});
      const port = await net.listen();
      const before = rss();
      ctx.ch.send({ port });
      const { seconds } = await Promise.race([ctx.ch.next(), lost]);
      const after = rss();
      ctx.ch.send({ stop: true });
      return {
        peers: ctx.sizes.peers,
        seconds: seconds as number,
        rssPerPeerKiB: Math.max(0, after - before) / 1024 / ctx.sizes.peers,
      };
    }),
  child: (ctx) =>
    withNet(ctx, async (net) => {
      const count = ctx.sizes.peers;
      let veracks = 0;
      let allDone: () => void = () => {};
      const all = new Promise<void>((resolve) => {
        allDone = resolve;
      });
      let fail: (err: Error) => void = () => {};
      const lost = new Promise<never>((_, reject) => {
        fail = reject;
      });
      lost.catch(() => {});
      net.onFrame((_c, command) => {
        if (command === 'verack' && ++veracks === count) allDone();
      });
      net.onClosed((conn, reason) =>
        fail(new Error(`connection ${conn} was closed by the listener: ${reason}`)),
      );
      const { port } = await ctx.ch.next();
      const version = Buffer.alloc(100, 1);
      const t0 = now();
      // Dial in waves so the kernel's accept queue is not the thing measured.
      for (let done = 0; done < count; done += 250) {
        const conns = await net.connect(port as number, Math.min(250, count - done));
        for (const c of conns) void net.send(c, 'version', version);
      }
      await Promise.race([all, lost]);
      ctx.ch.send({ seconds: Number(now() - t0) / 1e9 });
      await ctx.ch.next();
    }),
};

const perSecond = (target: string): Metric => ({
  metric: 'delivered',
  unit: 'msgs/s',
  key: 'perSecond',
  higherIsBetter: true,
  target,
});

export const WORKLOADS: Record<string, Workload> = {
  small: stream(
    '8-byte messages, batched sends (sendMany)',
    8,
    (s) => s.smallMessages,
    'bulk',
    'small',
    perSecond('≥ 90 % of the ceiling'),
  ),
  'send-each': stream(
    "8-byte messages, one send() each (the Engine's path)",
    8,
    (s) => s.sendEachMessages,
    'each',
    'small',
    perSecond('≥ 1,500,000 msgs/s'),
  ),
  typed: typedWorkload,
  large: stream('1 MB payloads', LARGE, (s) => s.largeMessages, 'each', 'large', {
    metric: 'delivered',
    unit: 'MB/s',
    key: 'mbPerSecond',
    higherIsBetter: true,
    target: '≥ 90 % of the ceiling',
  }),
  broadcast,
  ping,
  peers,
  sync: syncWorkload,
  blocks: blocksWorkload('count'),
  'blocks-store': blocksWorkload('store'),
};
