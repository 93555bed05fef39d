// Headers-first sync of a generated mainnet-sized chain from a local node,
// validated as it arrives. peerwire: a `peerwire node --headers FILE` serves,
// an Engine syncs with the CLI's syncFromPeer into a HeaderChain. Plain Node:
// the baseline framing, a hand-written getheaders/headers exchange and the same
// HeaderChain (the validation is the application's, not the transport's).
import { hash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { chainFor, type HeaderChain } from '../chain/headerchain.js';
import { syncFromPeer } from '../cli/headers-service.js';
import { networkPreset } from '../config/schema.js';
import { Engine } from '../engine/engine.js';
import type { Peer } from '../engine/peer.js';
import { readHeader } from '../wire/codec.js';
import { Reader } from '../wire/reader.js';
import type { BlockHeader } from '../wire/types.js';
import { type Context, type Measurement, now, type Workload, withNet } from './context.js';
import type { BenchNet } from './nets.js';
import { startPeerwireNode } from './node-child.js';

const PREAMBLE = 48;
const PER_MESSAGE = 2_000;

function headersFileOf(ctx: Context): string {
  const file = ctx.sizes.headersFile;
  if (!file) throw new Error('sync needs a generated headers file (sizes.headersFile)');
  return file;
}

function measured(chain: HeaderChain, expected: number, t0: bigint): Measurement {
  if (chain.height !== expected) {
    throw new Error(`synced ${chain.height} headers, expected ${expected}`);
  }
  const seconds = Number(now() - t0) / 1e9;
  return { headers: chain.height, seconds, perSecond: chain.height / seconds };
}

async function syncWithEngine(ctx: Context): Promise<Measurement> {
  const expected = ctx.sizes.syncHeaders;
  const chain = chainFor(networkPreset('regtest'));
  const engine = new Engine({ network: 'regtest', startHeight: () => chain.height });
  try {
    const handshake = new Promise<Peer>((resolve, reject) => {
      engine.once('handshake', resolve);
      engine.once('failed', (f) => reject(new Error(`cannot reach the node: ${f.error}`)));
    });
    const { port } = await ctx.ch.next();
    engine.connect(`127.0.0.1:${port}`);
    const peer = await handshake;
    const t0 = now();
    const outcome = await syncFromPeer(peer, chain);
    if (outcome !== 'synced') throw new Error(`the sync ended ${outcome}`);
    return measured(chain, expected, t0);
  } finally {
    ctx.ch.send({ stop: true });
    await Promise.race([engine.close(), new Promise((r) => setTimeout(r, 5_000).unref())]);
  }
}

/** Runs `peerwire node` on the headers file until the measuring side is done. */
async function serveWithPeerwireNode(ctx: Context): Promise<void> {
  const node = await startPeerwireNode(['--headers', headersFileOf(ctx)]);
  try {
    ctx.ch.send({ port: node.port });
    await ctx.ch.next();
  } finally {
    await node.stop();
  }
}

function getheaders(tip: Buffer): Buffer {
  const p = Buffer.alloc(4 + 1 + 32 + 32);
  p.writeUInt32LE(70016, 0);
  p[4] = 1;
  tip.copy(p, 5);
  return p;
}

function parseHeaders(p: Buffer): BlockHeader[] {
  let count = p[0] as number;
  let off = 1;
  if (count === 0xfd) {
    count = p.readUInt16LE(1);
    off = 3;
  }
  if (p.length !== off + count * 81) throw new Error(`malformed headers of ${p.length} bytes`);
  const r = new Reader(p.subarray(off), 'headers');
  const out: BlockHeader[] = new Array(count);
  for (let i = 0; i < count; i++) {
    out[i] = readHeader(r);
    r.u8('transaction count');
  }
  return out;
}

async function syncPlain(ctx: Context): Promise<Measurement> {
  const expected = ctx.sizes.syncHeaders;
  const chain = chainFor(networkPreset('regtest'));
  return withNet(ctx, async (net) => {
    let answer: (headers: BlockHeader[]) => void = () => {};
    net.onFrame((_c, command, payload) => {
      if (command === 'headers') answer(parseHeaders(payload));
    });
    const { port } = await ctx.ch.next();
    const [conn] = (await net.connect(port as number, 1)) as [number];
    const t0 = now();
    try {
      while (chain.height < expected) {
        const got = new Promise<BlockHeader[]>((r) => {
          answer = r;
        });
        const wait = net.send(conn, 'getheaders', getheaders(chain.tipHash));
        if (wait) await wait;
        const headers = await got;
        if (headers.length === 0) break;
        chain.append(headers);
      }
      return measured(chain, expected, t0);
    } finally {
      ctx.ch.send({ stop: true });
    }
  });
}

const sha256d = (b: Uint8Array) => hash('sha256', hash('sha256', b, 'buffer'), 'buffer');

/** Serves getheaders from the file's raw bytes, as a plain-Node node would. */
function servePlain(ctx: Context): Promise<void> {
  const bytes = readFileSync(headersFileOf(ctx));
  const count = bytes.readUInt32LE(44);
  const heights = new Map<string, number>([[bytes.toString('latin1', 12, 44), 0]]);
  for (let i = 0; i < count; i++) {
    const at = PREAMBLE + i * 80;
    heights.set(sha256d(bytes.subarray(at, at + 80)).toString('latin1'), i + 1);
  }
  return withNet(ctx, async (net: BenchNet) => {
    net.onFrame((conn, command, p) => {
      if (command !== 'getheaders') return;
      const locators = p[4] as number;
      let from = 0;
      for (let i = 0; i < locators; i++) {
        const h = heights.get(p.toString('latin1', 5 + i * 32, 37 + i * 32));
        if (h !== undefined) {
          from = h;
          break;
        }
      }
      const n = Math.min(PER_MESSAGE, count - from);
      const out = Buffer.alloc(3 + n * 81);
      out[0] = 0xfd;
      out.writeUInt16LE(n, 1);
      for (let i = 0; i < n; i++) {
        const at = PREAMBLE + (from + i) * 80;
        bytes.copy(out, 3 + i * 81, at, at + 80);
      }
      void net.send(conn, 'headers', out);
    });
    ctx.ch.send({ port: await net.listen() });
    await ctx.ch.next();
  });
}

export const syncWorkload: Workload = {
  describe: 'headers-first sync of a generated chain from a local node, validated',
  metrics: [
    {
      metric: 'headers synced',
      unit: 'headers/s',
      key: 'perSecond',
      higherIsBetter: true,
      target: '-',
    },
    { metric: 'total', unit: 's', key: 'seconds', higherIsBetter: false, target: '≤ 5 s' },
  ],
  ceiling: (s) => ['sync', s.headersFile ?? ''],
  parent: (ctx) => (ctx.impl === 'peerwire' ? syncWithEngine(ctx) : syncPlain(ctx)),
  child: (ctx) => (ctx.impl === 'peerwire' ? serveWithPeerwireNode(ctx) : servePlain(ctx)),
};
