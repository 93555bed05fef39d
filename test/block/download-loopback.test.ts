// Block download over real loopback sockets: four serving Engines answer
// getdata from a map of generated blocks; one of them never answers, one sends
// a mutated copy, one lacks some blocks. The downloader must finish from the
// others and deliver every block once, in height order through blocks().
import { afterEach, describe, expect, it } from 'vitest';
import { BlockError, checkBlock } from '../../ts/block/check.js';
import { downloadBlocks } from '../../ts/block/download.js';
import { generateBlocks } from '../../ts/block/generate.js';
import { BlockNotFoundError, requestBlock } from '../../ts/block/request.js';
import { MemoryBlockSink } from '../../ts/block/sink.js';
import { hashToHex } from '../../ts/chain/hash.js';
import { chainFor } from '../../ts/chain/headerchain.js';
import { networkPreset } from '../../ts/config/schema.js';
import { Engine } from '../../ts/engine/engine.js';
import type { Peer } from '../../ts/engine/peer.js';
import { INV_TYPE, type InvVector } from '../../ts/wire/types.js';
import { invalidBlockAt } from '../helpers/blocks.js';
import { waitUntil } from '../helpers/wait.js';

const REGTEST = networkPreset('regtest');
const COUNT = 240;
// Some transactions from height 101, so merkle trees have more than one leaf.
const BLOCKS = generateBlocks(REGTEST, COUNT, { txsPerBlock: 3 });
const BY_HASH = new Map(BLOCKS.map((b) => [hashToHex(b.hash), b]));

const INVALID = invalidBlockAt(BLOCKS, COUNT);
BY_HASH.set(hashToHex(INVALID.hash), INVALID);

const engines: Engine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
});

type Behaviour =
  | 'serve'
  /** Takes getdata and never answers. */
  | 'stall'
  /** Sends every block with one byte of its coinbase changed (header intact). */
  | 'mutate'
  /** notfound for odd heights. */
  | 'odd-notfound';

/** A NODE_NETWORK | NODE_WITNESS Engine at height COUNT answering getdata its way. */
function server(behaviour: Behaviour, getdatas: InvVector[][] = []): { port: number } {
  const e = new Engine({
    network: { ...REGTEST, services: 9n },
    startHeight: () => COUNT,
  });
  engines.push(e);
  e.on('getdata', (peer, payload) => {
    getdatas.push(payload.inventory);
    if (behaviour === 'stall') return;
    const missing: InvVector[] = [];
    for (const inv of payload.inventory) {
      const block = BY_HASH.get(hashToHex(inv.hash));
      if (!block || (behaviour === 'odd-notfound' && block.height % 2 === 1)) {
        missing.push(inv);
        continue;
      }
      let raw: Uint8Array = block.raw;
      if (behaviour === 'mutate') {
        const copy = Buffer.from(block.raw);
        copy[copy.length - 10] = (copy[copy.length - 10] as number) ^ 0xff;
        raw = copy;
      }
      peer.send({ command: 'block', payload: { raw } });
    }
    if (missing.length > 0) peer.send({ command: 'notfound', payload: { inventory: missing } });
  });
  return e.listen('127.0.0.1', 0);
}

async function client(ports: number[]): Promise<{ engine: Engine; peers: Peer[] }> {
  const engine = new Engine({ network: 'regtest' });
  engines.push(engine);
  const peers: Peer[] = [];
  engine.on('handshake', (p) => peers.push(p));
  for (const port of ports) engine.connect(`127.0.0.1:${port}`);
  await waitUntil('handshakes', () => peers.length === ports.length);
  return { engine, peers };
}

function headerChain() {
  const chain = chainFor(REGTEST);
  chain.append(BLOCKS.map((b) => b.header));
  expect(chain.height).toBe(COUNT);
  return chain;
}

async function collect(dl: ReturnType<typeof downloadBlocks>) {
  const heights: number[] = [];
  const iterating = (async () => {
    for await (const block of dl.blocks()) {
      expect(hashToHex(block.hash)).toBe(hashToHex(BLOCKS[block.height - 1]?.hash as Buffer));
      heights.push(block.height);
    }
  })();
  const summary = await dl.done;
  await iterating;
  return { summary, heights };
}

const ALL = Array.from({ length: COUNT }, (_, i) => i + 1);

function expectEachOnce(sink: MemoryBlockSink) {
  expect(sink.size).toBe(COUNT);
  expect(sink.puts).toHaveLength(COUNT);
  expect(new Set(sink.puts.map((p) => p.hash)).size).toBe(COUNT);
  for (const b of BLOCKS) expect(Buffer.from(sink.get(b.hash) ?? []).equals(b.raw)).toBe(true);
}

describe('block download over loopback', () => {
  it('finishes from the others when one peer never answers, and drops the staller', async () => {
    const stalled: InvVector[][] = [];
    const ports = [server('serve'), server('stall', stalled), server('serve'), server('serve')];
    const { engine, peers } = await client(ports.map((p) => p.port));
    const sink = new MemoryBlockSink();
    const dl = downloadBlocks(engine, headerChain(), sink, {
      window: 64,
      maxInFlightPerPeer: 8,
      stallTimeoutMs: 300,
    });
    const dropped: string[] = [];
    dl.on('peer-dropped', (p, reason) => dropped.push(`${p.address}:${reason}`));
    const { summary, heights } = await collect(dl);

    expect(summary.complete).toBe(true);
    expect(summary.height).toBe(COUNT);
    expect(summary.downloaded).toBe(COUNT);
    expect(heights).toEqual(ALL);
    expectEachOnce(sink);
    const staller = peers.find((p) => p.address.endsWith(`:${ports[1]?.port}`)) as Peer;
    expect(stalled.length).toBeGreaterThan(0);
    expect(summary.dropped).toEqual([{ peer: staller.id, reason: 'stalling' }]);
    expect(dropped).toEqual([`${staller.address}:stalling`]);
    expect(staller.connected && staller.active).toBe(false);
    // It fired once: the timeout doubled, then decayed as blocks came in order.
    expect(summary.stallingTimeoutMs).toBeGreaterThanOrEqual(300);
    expect(summary.stallingTimeoutMs).toBeLessThan(600);
    // Witness peers are asked for witness blocks.
    expect(stalled[0]?.[0]?.type).toBe(INV_TYPE.witnessBlock);
  }, 30_000);

  it('drops a peer that sends mutated blocks and fetches them elsewhere; notfound goes elsewhere at once', async () => {
    const ports = [server('mutate'), server('odd-notfound'), server('serve')];
    const { engine, peers } = await client(ports.map((p) => p.port));
    const sink = new MemoryBlockSink();
    const progress: number[] = [];
    const dl = downloadBlocks(engine, headerChain(), sink, {
      progressIntervalMs: 0,
      onProgress: (p) => progress.push(p.height),
    });
    const { summary, heights } = await collect(dl);

    expect(summary.complete).toBe(true);
    expect(heights).toEqual(ALL);
    expectEachOnce(sink);
    const mutator = peers.find((p) => p.address.endsWith(`:${ports[0]?.port}`)) as Peer;
    expect(summary.dropped).toEqual([{ peer: mutator.id, reason: 'mutated-block' }]);
    expect(mutator.active).toBe(false);
    // The notfound peer stays.
    expect(peers.filter((p) => p.active)).toHaveLength(2);
    expect(progress.at(-1)).toBe(COUNT);
    for (let i = 1; i < progress.length; i++) {
      expect(progress[i] as number).toBeGreaterThanOrEqual(progress[i - 1] as number);
    }
  }, 30_000);

  it('skips blocks the sink already has, and the iterator skips them too', async () => {
    const ports = [server('serve'), server('serve')];
    const { engine } = await client(ports.map((p) => p.port));
    const sink = new MemoryBlockSink();
    for (const b of BLOCKS.slice(0, 50)) await sink.put(b.hash, b.raw, b.height);
    await sink.put(BLOCKS[99]?.hash as Buffer, BLOCKS[99]?.raw as Buffer, 100);
    const dl = downloadBlocks(engine, headerChain(), sink);
    const { summary, heights } = await collect(dl);
    expect(summary.complete).toBe(true);
    expect(summary.downloaded).toBe(COUNT - 51);
    expect(heights).toEqual(ALL.filter((h) => h > 50 && h !== 100));
    expectEachOnce(sink);
  }, 30_000);

  it('moves past stored blocks that span more than one window (a rerun after most of a sync)', async () => {
    const ports = [server('serve'), server('serve')];
    const { engine } = await client(ports.map((p) => p.port));
    const sink = new MemoryBlockSink();
    // Held blocks answer `has` at once: a window of 16 is all stored a dozen
    // times over, with no event from the (already handshaken) peers to move it.
    for (const b of BLOCKS.slice(0, 200)) await sink.put(b.hash, b.raw, b.height);
    const dl = downloadBlocks(engine, headerChain(), sink, { window: 16 });
    // A few windows per turn of the event loop, not the whole walk at once.
    expect(dl.progress().height).toBeLessThan(200);
    const summary = await dl.done;
    expect(summary.complete).toBe(true);
    expect(summary.downloaded).toBe(COUNT - 200);
    expectEachOnce(sink);
  }, 30_000);

  it('requestBlock resolves with a checked block, and rejects notfound and mutations', async () => {
    const ports = [server('serve'), server('odd-notfound'), server('mutate')];
    const { peers } = await client(ports.map((p) => p.port));
    const [good, holes, bad] = ports.map(
      (port) => peers.find((p) => p.address.endsWith(`:${port.port}`)) as Peer,
    );
    const block = BLOCKS[150] as (typeof BLOCKS)[number];
    const raw = await requestBlock(good as Peer, block.hash, { check: { bip34Height: 151 } });
    expect(Buffer.from(raw)).toEqual(block.raw);
    expect(checkBlock(raw).txCount).toBe(4);
    await expect(requestBlock(holes as Peer, block.hash)).rejects.toBeInstanceOf(
      BlockNotFoundError,
    );
    await expect(requestBlock(bad as Peer, block.hash)).rejects.toMatchObject({
      name: 'BlockError',
      mutated: true,
    });
  }, 30_000);

  it('penalises the sender of an invalid block and stops with its BlockError', async () => {
    const ports = [server('serve'), server('serve')];
    const { engine, peers } = await client(ports.map((p) => p.port));
    const chain = chainFor(REGTEST);
    chain.append([...BLOCKS.slice(0, COUNT - 1).map((b) => b.header), INVALID.header]);
    const dropped: string[] = [];
    const dl = downloadBlocks(engine, chain, new MemoryBlockSink(), { fromHeight: COUNT - 5 });
    dl.on('peer-dropped', (_p, reason) => dropped.push(reason));
    const iterated: number[] = [];
    const iterating = (async () => {
      for await (const b of dl.blocks()) iterated.push(b.height);
    })().catch((e: unknown) => e);
    const err = await dl.done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BlockError);
    expect(err).toMatchObject({ code: 'bad-cb-height', mutated: false });
    expect(dropped).toEqual(['invalid-block']);
    await waitUntil('sender gone', () => peers.filter((p) => p.connected).length === 1);
    // The iterator gives the stored blocks before the bad one, in order, then throws its error.
    expect(await iterating).toBe(err);
    const before = [COUNT - 5, COUNT - 4, COUNT - 3, COUNT - 2, COUNT - 1];
    expect(iterated).toEqual(before.slice(0, iterated.length));
  }, 30_000);
});
