// Block download from four local nodes: a generated regtest chain whose
// blocks from height 101 are filled with real transactions to ~1 MB each
// (blocksdir.ts), served by four `peerwire node --datadir` children, each
// holding the whole chain. The other side runs the four nodes for both
// implementations; what is measured is the downloading side, from its first
// request to its last block verified, after the handshakes and (for peerwire)
// a headers sync that are not timed. Only the filled blocks are downloaded.
//
// peerwire: an Engine, downloadBlocks (Core's window, 16 blocks in flight per
// peer) with checkBlockAsync (native CheckBlock: merkle root, witness
// commitment, weight, each transaction's context-free checks) into a sink:
// either one that counts (nothing written) or a BlockStore in a fresh
// temporary directory (each block and its index record fsync'd before it
// counts as stored: fsync is in the measured path).
//
// Plain Node: `net` with the baseline framing, a hand-written version
// handshake, getdata for MSG_WITNESS_BLOCK, 16 in flight per node; each
// block's header hash must be one of the chain's, then a JavaScript check
// with crypto.hash on four worker threads (plaincheck.ts): its merkle root
// (txids of the transactions without witness data) and its witness
// commitment (wtxids). Not the rest of CheckBlock (sizes, per-transaction
// checks, sigops, BIP 34). Its store variant appends
// the verified blocks to one file and fdatasyncs each batch of them before
// they count, as the BlockStore groups its fsyncs.
import { hash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { downloadBlocks } from '../block/download.js';
import type { BlockSink } from '../block/sink.js';
import { chainFor } from '../chain/headerchain.js';
import { syncFromPeer } from '../cli/headers-service.js';
import { networkPreset } from '../config/schema.js';
import { Engine } from '../engine/engine.js';
import type { Peer } from '../engine/peer.js';
import { BlockStore } from '../store/blocks/store.js';
import { FIRST_FULL_HEIGHT } from './blocksdir.js';
import { type Context, type Measurement, now, type Workload, withNet } from './context.js';
import { type RunningNode, startPeerwireNode } from './node-child.js';
import { PlainCheckPool } from './plaincheck.js';

/** The headers file's preamble (headersfile.ts): its headers start at height 1. */
const PREAMBLE = 48;
/** Core's MAX_BLOCKS_IN_TRANSIT_PER_PEER, for the plain-Node side too. */
const IN_FLIGHT = 16;
const MSG_WITNESS_BLOCK = 0x4000_0002;
/** Threads checking blocks on the plain-Node side: libuv's default pool, which peerwire's checks use. */
const CHECK_THREADS = 4;

export type BlockSinkKind = 'count' | 'store';

function dirsOf(ctx: Context): string[] {
  const dirs = ctx.sizes.blocksDirs;
  if (!dirs?.length)
    throw new Error('the blocks workload needs its data directories (sizes.blocksDirs)');
  return dirs;
}

const fullBlocks = (ctx: Context) => ctx.sizes.blocksFull;
const tipHeight = (ctx: Context) => FIRST_FULL_HEIGHT - 1 + fullBlocks(ctx);

function measured(blocks: number, bytes: number, peers: number, t0: bigint): Measurement {
  const seconds = Number(now() - t0) / 1e9;
  return {
    blocks,
    bytes,
    peers,
    seconds,
    perSecond: blocks / seconds,
    mbPerSecond: bytes / 1e6 / seconds,
  };
}

// ---------------------------------------------------------------- serving side

/** Runs one node per data directory until the measuring side is done. */
async function serveWithNodes(ctx: Context): Promise<void> {
  const nodes: RunningNode[] = [];
  try {
    for (const node of await Promise.allSettled(
      dirsOf(ctx).map((dir) => startPeerwireNode(['--datadir', dir])),
    )) {
      if (node.status === 'fulfilled') nodes.push(node.value);
    }
    if (nodes.length !== dirsOf(ctx).length) throw new Error('a serving node did not start');
    ctx.ch.send({ ports: nodes.map((n) => n.port) });
    await ctx.ch.next();
  } finally {
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

// ---------------------------------------------------------------- peerwire

/** Counts what it is given and keeps nothing. */
class CountingSink implements BlockSink {
  blocks = 0;
  bytes = 0;
  has(): boolean {
    return false;
  }
  async put(_hash: Uint8Array, raw: Uint8Array): Promise<void> {
    this.blocks++;
    this.bytes += raw.length;
  }
}

async function downloadWithEngine(ctx: Context, kind: BlockSinkKind): Promise<Measurement> {
  const network = networkPreset('regtest');
  const chain = chainFor(network);
  const engine = new Engine({ network: 'regtest', startHeight: () => chain.height });
  const storeDir = kind === 'store' ? mkdtempSync(join(tmpdir(), 'peerwire-bench-blocks-')) : '';
  let store: BlockStore | undefined;
  try {
    const { ports } = (await ctx.ch.next()) as unknown as { ports: number[] };
    // Installed before the first dial.
    const handshaken = new Promise<Peer[]>((resolve, reject) => {
      const peers: Peer[] = [];
      engine.on('handshake', (peer) => {
        peers.push(peer);
        if (peers.length === ports.length) resolve(peers);
      });
      engine.once('failed', (f) => reject(new Error(`cannot reach a node: ${f.error}`)));
    });
    for (const port of ports) engine.connect(`127.0.0.1:${port}`);
    const peers = await handshaken;
    const outcome = await syncFromPeer(peers[0] as Peer, chain);
    if (outcome !== 'synced' || chain.height !== tipHeight(ctx)) {
      throw new Error(
        `the headers sync ended ${outcome} at ${chain.height}, not ${tipHeight(ctx)}`,
      );
    }
    let sink: BlockSink = new CountingSink();
    if (kind === 'store') {
      const opened = await BlockStore.open(storeDir, { magic: network.magic });
      store = opened;
      sink = {
        has: (hash) => opened.has(hash),
        put: async (hash, raw) => {
          await opened.put(hash, raw);
        },
      };
    }
    const t0 = now();
    const download = downloadBlocks(engine, chain, sink, {
      fromHeight: FIRST_FULL_HEIGHT,
      progressIntervalMs: 3_600_000,
    });
    const summary = await download.done;
    if (!summary.complete || summary.downloaded !== fullBlocks(ctx)) {
      throw new Error(`downloaded ${summary.downloaded} of ${fullBlocks(ctx)} blocks`);
    }
    if (summary.dropped.length > 0) {
      throw new Error(`peers were dropped: ${JSON.stringify(summary.dropped)}`);
    }
    return measured(summary.downloaded, summary.bytes, peers.length, t0);
  } finally {
    ctx.ch.send({ stop: true });
    await Promise.race([engine.close(), new Promise((r) => setTimeout(r, 5_000).unref())]);
    await store?.close();
    if (storeDir) rmSync(storeDir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- plain Node

const sha256d = (b: Uint8Array): Buffer => hash('sha256', hash('sha256', b, 'buffer'), 'buffer');

/** A version message from the plain-Node side (protocol 70016, no services, relay off). */
function versionPayload(height: number): Buffer {
  const p = Buffer.alloc(4 + 8 + 8 + 26 + 26 + 8 + 1 + 4 + 1);
  let at = p.writeInt32LE(70016, 0);
  at = p.writeBigUInt64LE(0n, at);
  at = p.writeBigInt64LE(BigInt(Math.floor(Date.now() / 1000)), at);
  at += 52; // addr_recv and addr_from: services, IPv6, port, all zero
  at = p.writeBigUInt64LE(BigInt(Math.floor(Math.random() * 2 ** 52)), at);
  at = p.writeUInt8(0, at); // user agent ""
  p.writeInt32LE(height, at);
  return p;
}

/** Appends blocks to one file; each batch is fdatasync'd before its blocks count. */
class PlainFileSink {
  private queue: Array<{ raw: Buffer; done: () => void }> = [];
  private writing = false;
  constructor(private readonly file: FileHandle) {}
  put(raw: Buffer): Promise<void> {
    return new Promise((done) => {
      this.queue.push({ raw, done });
      if (!this.writing) void this.flush();
    });
  }
  private async flush(): Promise<void> {
    this.writing = true;
    while (this.queue.length > 0) {
      const batch = this.queue.splice(0);
      await this.file.writev(batch.map((b) => b.raw));
      await this.file.datasync();
      for (const b of batch) b.done();
    }
    this.writing = false;
  }
}

async function downloadPlain(ctx: Context, kind: BlockSinkKind): Promise<Measurement> {
  // The chain's hashes from its headers file, as a headers sync would have left them.
  const headersFile = ctx.sizes.blocksHeadersFile;
  if (!headersFile) throw new Error('the blocks workload needs its headers file');
  const file = readFileSync(headersFile);
  const first = FIRST_FULL_HEIGHT;
  const last = tipHeight(ctx);
  const heightOf = new Map<string, number>();
  for (let h = first; h <= last; h++) {
    const at = PREAMBLE + (h - 1) * 80;
    heightOf.set(sha256d(file.subarray(at, at + 80)).toString('latin1'), h);
  }
  if (heightOf.size !== last - first + 1) throw new Error('the headers file is short');
  const storeDir = kind === 'store' ? mkdtempSync(join(tmpdir(), 'peerwire-bench-blocks-')) : '';
  const out = kind === 'store' ? await open(join(storeDir, 'blocks.dat'), 'a') : undefined;
  const sink = out ? new PlainFileSink(out) : undefined;
  const pool = new PlainCheckPool(CHECK_THREADS);
  try {
    await pool.ready;
    return await withNet(ctx, async (net) => {
      const inFlight = new Map<number, number>();
      const ready: number[] = [];
      const wanted: Buffer[] = [];
      for (let h = first; h <= last; h++) {
        const at = PREAMBLE + (h - 1) * 80;
        wanted.push(sha256d(file.subarray(at, at + 80)));
      }
      let next = 0;
      let received = 0;
      let bytes = 0;
      let stored = 0;
      let handshakes = 0;
      let allReady: () => void = () => {};
      const handshaken = new Promise<void>((r) => {
        allReady = r;
      });
      let finish: () => void = () => {};
      let fail: (err: Error) => void = () => {};
      const done = new Promise<void>((resolve, reject) => {
        finish = resolve;
        fail = reject;
      });
      done.catch(() => {});
      const request = (conn: number) => {
        const room = IN_FLIGHT - (inFlight.get(conn) ?? 0);
        const n = Math.min(room, wanted.length - next);
        if (n <= 0) return;
        const p = Buffer.alloc(1 + n * 36);
        p[0] = n;
        for (let i = 0; i < n; i++) {
          p.writeUInt32LE(MSG_WITNESS_BLOCK, 1 + i * 36);
          (wanted[next + i] as Buffer).copy(p, 5 + i * 36);
        }
        next += n;
        inFlight.set(conn, (inFlight.get(conn) ?? 0) + n);
        void net.send(conn, 'getdata', p);
      };
      let peers = 0;
      // Installed before the first connection.
      net.onFrame((conn, command, payload) => {
        if (command === 'version') {
          void net.send(conn, 'verack', Buffer.alloc(0));
        } else if (command === 'verack') {
          ready.push(conn);
          if (++handshakes === peers) allReady();
        } else if (command === 'ping') {
          void net.send(conn, 'pong', payload);
        } else if (command === 'notfound') {
          fail(new Error(`node ${conn} answered notfound`));
        } else if (command === 'block') {
          const height = heightOf.get(sha256d(payload.subarray(0, 80)).toString('latin1'));
          if (height === undefined) {
            fail(new Error('a block that was not asked for'));
            return;
          }
          received++;
          bytes += payload.length;
          inFlight.set(conn, (inFlight.get(conn) ?? 1) - 1);
          request(conn);
          pool
            .check(payload)
            .then(() => sink?.put(payload))
            .then(() => {
              if (++stored === wanted.length) finish();
            }, fail);
        }
      });
      let closedIsFailure = false;
      net.onClosed((conn, reason) => {
        if (closedIsFailure && stored < wanted.length) {
          fail(new Error(`node ${conn} disconnected: ${reason}`));
        }
      });
      const { ports } = (await ctx.ch.next()) as unknown as { ports: number[] };
      peers = ports.length;
      closedIsFailure = true;
      for (const port of ports) {
        const [conn] = (await net.connect(port, 1)) as [number];
        void net.send(conn, 'version', versionPayload(0));
      }
      try {
        await Promise.race([handshaken, done]);
        const t0 = now();
        for (const conn of ready) request(conn);
        await done;
        if (received !== stored) throw new Error(`received ${received} blocks, stored ${stored}`);
        return measured(received, bytes, ready.length, t0);
      } finally {
        ctx.ch.send({ stop: true });
      }
    });
  } finally {
    await pool.close();
    await out?.close();
    if (storeDir) rmSync(storeDir, { recursive: true, force: true });
  }
}

export function blocksWorkload(kind: BlockSinkKind): Workload {
  const where =
    kind === 'count'
      ? 'into a sink that counts'
      : 'into a block store (fsync before a block counts)';
  return {
    describe: `~1 MB generated blocks downloaded from four local nodes, verified, ${where}`,
    metrics: [
      {
        metric: 'blocks downloaded',
        unit: 'blocks/s',
        key: 'perSecond',
        higherIsBetter: true,
        target: '-',
      },
      {
        metric: 'bytes downloaded',
        unit: 'MB/s',
        key: 'mbPerSecond',
        higherIsBetter: true,
        target: '-',
      },
      { metric: 'total', unit: 's', key: 'seconds', higherIsBetter: false, target: '-' },
    ],
    // The ceiling is the single-stream framing one: as many 1 MB payloads over one connection.
    ceiling: (s) => ['stream', 'large', String(s.blocksFull)],
    parent: (ctx) =>
      ctx.impl === 'peerwire' ? downloadWithEngine(ctx, kind) : downloadPlain(ctx, kind),
    child: serveWithNodes,
  };
}
