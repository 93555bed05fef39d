// The benchmark's workloads. Each has a parent side (this process) and a child
// side (a second process), so every number crosses real loopback TCP between
// two processes. Both implementations run the same code through BenchNet.
import { checksumsComputed } from '../native/transport.js';
import { baselineChecksums } from './baseline.js';
import { type BenchNet, boundPort, type Impl } from './nets.js';

/** Message passing with the other process. */
export interface Channel {
  send(message: Record<string, unknown>): void;
  next(): Promise<Record<string, unknown>>;
}

export interface Sizes {
  smallMessages: number;
  largeMessages: number;
  broadcastPeers: number;
  pings: number;
  peers: number;
}

export type Measurement = Record<string, number>;

const now = () => process.hrtime.bigint();
const ns = (v: unknown) => BigInt(v as string);
const LARGE = 1_000_000;

export interface Workload {
  parent(net: BenchNet, ch: Channel, sizes: Sizes, impl: Impl): Promise<Measurement>;
  child(net: BenchNet, ch: Channel, sizes: Sizes): Promise<void>;
}

/** Receives `count` frames, then reports the monotonic time of the last one. */
async function receiveAndReport(net: BenchNet, ch: Channel, count: number, listen: boolean) {
  let seen = 0;
  const done = new Promise<bigint>((resolve) => {
    net.onFrame(() => {
      if (++seen === count) resolve(now());
    });
  });
  if (listen) ch.send({ port: await boundPort(net, net.listen()) });
  ch.send({ t1: (await done).toString() });
}

function throughput(
  size: number,
  count: (s: Sizes, impl: Impl) => number,
  command: string,
): Workload {
  return {
    async parent(net, ch, sizes, impl) {
      const n = count(sizes, impl);
      const { port } = await ch.next();
      const [conn] = await net.connect(port as number, 1);
      ch.send({ count: n });
      const payload = Buffer.alloc(size, 7);
      const t0 = now();
      if (size <= 64) {
        const all = Buffer.alloc(n * size, 7);
        await net.sendBulk(conn as number, command, all, size);
      } else {
        for (let i = 0; i < n; i++) await net.send(conn as number, command, payload);
      }
      const { t1 } = await ch.next();
      const seconds = Number(ns(t1) - t0) / 1e9;
      return {
        messages: n,
        seconds,
        perSecond: n / seconds,
        mbPerSecond: (n * size) / 1e6 / seconds,
      };
    },
    async child(net, ch) {
      // Count from the first frame on: frames can arrive before the parent's
      // message saying how many to expect.
      let seen = 0;
      let expected = Number.POSITIVE_INFINITY;
      let finish: (t: bigint) => void = () => {};
      const done = new Promise<bigint>((resolve) => {
        finish = resolve;
      });
      net.onFrame(() => {
        if (++seen === expected) finish(now());
      });
      ch.send({ port: await boundPort(net, net.listen()) });
      expected = (await ch.next()).count as number;
      if (seen >= expected) finish(now());
      ch.send({ t1: (await done).toString() });
    },
  };
}

export const WORKLOADS: Record<string, Workload> = {
  small: throughput(
    8,
    (s, impl) => (impl === 'peerwire' ? s.smallMessages : Math.ceil(s.smallMessages / 5)),
    'inv',
  ),
  large: throughput(
    LARGE,
    (s, impl) => (impl === 'peerwire' ? s.largeMessages : Math.ceil(s.largeMessages / 2)),
    'block',
  ),

  broadcast: {
    async parent(net, ch, sizes, impl) {
      const accepted: number[] = [];
      const all = new Promise<void>((resolve) =>
        net.onAccept((c) => {
          accepted.push(c);
          if (accepted.length === sizes.broadcastPeers) resolve();
        }),
      );
      ch.send({ port: await boundPort(net, net.listen()) });
      await all;
      const payload = Buffer.alloc(LARGE, 3);
      const sums = () => (impl === 'peerwire' ? checksumsComputed() : baselineChecksums());
      const before = sums();
      const t0 = now();
      net.broadcast(accepted, 'block', payload);
      const checksums = sums() - before;
      const { t1 } = await ch.next();
      return { peers: accepted.length, seconds: Number(ns(t1) - t0) / 1e9, checksums };
    },
    async child(net, ch, sizes) {
      const { port } = await ch.next();
      await net.connect(port as number, sizes.broadcastPeers);
      await receiveAndReport(net, ch, sizes.broadcastPeers, false);
    },
  },

  ping: {
    async parent(net, ch, sizes) {
      const { port } = await ch.next();
      const [conn] = await net.connect(port as number, 1);
      let answered: () => void = () => {};
      net.onFrame((_c, command) => {
        if (command === 'pong') answered();
      });
      const rtts: number[] = [];
      const nonce = Buffer.alloc(8);
      for (let i = 0; i < sizes.pings; i++) {
        nonce.writeUInt32LE(i);
        const t0 = now();
        const pong = new Promise<void>((r) => {
          answered = r;
        });
        await net.send(conn as number, 'ping', nonce);
        await pong;
        rtts.push(Number(now() - t0) / 1000);
      }
      ch.send({ stop: true });
      rtts.sort((a, b) => a - b);
      const pct = (p: number) =>
        rtts[Math.min(rtts.length - 1, Math.floor(p * rtts.length))] as number;
      return { pings: rtts.length, p50us: pct(0.5), p99us: pct(0.99) };
    },
    async child(net, ch) {
      net.onFrame((conn, command, payload) => {
        if (command === 'ping') void net.send(conn, 'pong', payload);
      });
      ch.send({ port: await boundPort(net, net.listen()) });
      await ch.next();
    },
  },

  peers: {
    async parent(net, ch, sizes) {
      const rssBefore = process.memoryUsage().rss;
      net.onFrame((conn, command) => {
        if (command === 'version') void net.send(conn, 'verack', Buffer.alloc(0));
      });
      ch.send({ port: await boundPort(net, net.listen()) });
      const { seconds } = await ch.next();
      const rssAfter = process.memoryUsage().rss;
      return {
        peers: sizes.peers,
        seconds: seconds as number,
        rssPerPeerKiB: Math.max(0, rssAfter - rssBefore) / 1024 / sizes.peers,
      };
    },
    async child(net, ch, sizes) {
      const { port } = await ch.next();
      let veracks = 0;
      const t0 = now();
      const all = new Promise<void>((resolve) =>
        net.onFrame((_c, command) => {
          if (command === 'verack' && ++veracks === sizes.peers) resolve();
        }),
      );
      const version = Buffer.alloc(100, 1);
      // Dial in waves so the kernel's accept queue is not the thing measured.
      for (let done = 0; done < sizes.peers; done += 250) {
        const conns = await net.connect(port as number, Math.min(250, sizes.peers - done));
        for (const c of conns) void net.send(c, 'version', version);
      }
      await all;
      ch.send({ seconds: Number(now() - t0) / 1e9 });
    },
  },
};
