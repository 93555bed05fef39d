// Block download on the simulated network, where its timeouts are exact: a
// staller is dropped exactly the stalling timeout after it was found holding
// back the window, the timeout doubles when it fires and decays as blocks
// arrive in order, and the download finishes from the other peers.
import { describe, expect, it } from 'vitest';
import { checkBlock } from '../../ts/block/check.js';
import { DownloadStateError, downloadBlocks } from '../../ts/block/download.js';
import { generateBlocks } from '../../ts/block/generate.js';
import { MemoryBlockSink } from '../../ts/block/sink.js';
import { stripWitness } from '../../ts/block/strip.js';
import { hashToHex } from '../../ts/chain/hash.js';
import { chainFor } from '../../ts/chain/headerchain.js';
import { networkPreset } from '../../ts/config/schema.js';
import type { Engine } from '../../ts/engine/engine.js';
import type { Peer } from '../../ts/engine/peer.js';
import type { SimNetwork, SimNode } from '../../ts/sim/index.js';
import type { InvVector } from '../../ts/wire/types.js';
import { addressOf, engineNode, quietNetwork } from '../helpers/sim.js';

const REGTEST = networkPreset('regtest');
const COUNT = 200;
const BLOCKS = generateBlocks(REGTEST, COUNT);
// Another chain from genesis with more work: a reorg of every height.
const OTHER = generateBlocks(REGTEST, COUNT + 10, { seed: 'reorg' });
const BY_HASH = new Map([...BLOCKS, ...OTHER].map((b) => [hashToHex(b.hash), b]));

/**
 * A serving node at height COUNT; a staller takes getdata and never answers;
 * with `delayMs`, each getdata is answered that long after it came.
 */
function server(
  net: SimNetwork,
  stall: boolean,
  delayMs = 0,
  stats: { pending: number; busyUntil?: number } = { pending: 0 },
): SimNode<Engine> {
  const node = engineNode(net, {
    network: { ...REGTEST, services: 9n },
    startHeight: () => COUNT,
    setup: (engine) => {
      engine.on('getdata', (peer, payload) => {
        if (stall) return;
        stats.pending += payload.inventory.length;
        const answer = () => {
          stats.pending -= payload.inventory.length;
          if (!peer.active) return;
          const missing: InvVector[] = [];
          for (const inv of payload.inventory) {
            const block = BY_HASH.get(hashToHex(inv.hash));
            if (block) peer.send({ command: 'block', payload: { raw: block.raw } });
            else missing.push(inv);
          }
          if (missing.length > 0) {
            peer.send({ command: 'notfound', payload: { inventory: missing } });
          }
        };
        if (delayMs > 0) {
          // One answer at a time, each delayMs after the last: a slow link.
          const at = Math.max(engine.clock.now(), stats.busyUntil ?? 0) + delayMs;
          stats.busyUntil = at;
          engine.clock.setTimer(at - engine.clock.now(), answer);
        } else {
          answer();
        }
      });
    },
  });
  node.current.listen();
  return node;
}

/** Checks on the simulator's turn: no thread pool, so virtual time stands still meanwhile. */
const syncVerify = async (raw: Uint8Array, options: Parameters<typeof checkBlock>[1]) =>
  checkBlock(raw, options);

describe('block download, simulated', () => {
  it('drops stallers exactly on their timeout, doubling it, and finishes from the rest', async () => {
    const net = quietNetwork(31);
    const servers = [server(net, false), server(net, true), server(net, false), server(net, true)];
    const client = engineNode(net);
    const engine = client.current;
    const peers: Peer[] = [];
    engine.on('handshake', (p) => peers.push(p));
    for (const s of servers) engine.connect(addressOf(s));
    await net.runUntil(() => peers.length === 4, { maxTimeMs: 10_000 });

    const chain = chainFor(REGTEST, { clock: engine.clock });
    chain.append(BLOCKS.map((b) => b.header));
    const sink = new MemoryBlockSink();
    const dl = downloadBlocks(engine, chain, sink, {
      window: 32,
      maxInFlightPerPeer: 4,
      verify: syncVerify,
    });
    const marks: Array<{ peer: number; at: number; timeoutMs: number }> = [];
    const drops: Array<{ peer: number; at: number; reason: string; timeoutAfter: number }> = [];
    dl.on('stalling', (peer, timeoutMs) =>
      marks.push({ peer: peer.id, at: engine.clock.now(), timeoutMs }),
    );
    dl.on('peer-dropped', (peer, reason) =>
      drops.push({
        peer: peer.id,
        at: engine.clock.now(),
        reason,
        timeoutAfter: dl.progress().stallingTimeoutMs,
      }),
    );
    const heights: number[] = [];
    const iterating = (async () => {
      for await (const b of dl.blocks()) heights.push(b.height);
    })();
    let summary: Awaited<typeof dl.done> | undefined;
    dl.done.then((s) => {
      summary = s;
    });
    await net.runUntil(() => summary !== undefined, { maxTimeMs: 600_000 });
    await iterating;

    const stallerIds = [servers[1], servers[3]].map(
      (s) => peers.find((p) => p.address.startsWith(`${s?.ip}:`))?.id,
    );
    expect(summary?.complete).toBe(true);
    expect(heights).toEqual(Array.from({ length: COUNT }, (_, i) => i + 1));
    expect(sink.puts).toHaveLength(COUNT);
    // Both stallers, and only they, were dropped, each exactly on its timeout.
    expect(drops.map((d) => d.reason)).toEqual(['stalling', 'stalling']);
    expect(drops.map((d) => d.peer).sort()).toEqual([...stallerIds].sort());
    for (const drop of drops) {
      const mark = marks.filter((m) => m.peer === drop.peer).at(-1);
      expect(mark).toBeDefined();
      expect(drop.at - (mark?.at as number)).toBe(mark?.timeoutMs);
    }
    // The first fired at the 2 s default and doubled the timeout.
    expect(marks[0]?.timeoutMs).toBe(2_000);
    expect(drops[0]?.timeoutAfter).toBe(4_000);
    // Blocks arriving in order since brought it back down.
    expect(summary?.stallingTimeoutMs).toBeLessThan(drops[1]?.timeoutAfter as number);
    expect(summary?.stallingTimeoutMs).toBeGreaterThanOrEqual(2_000);
  });

  it('drops a peer whose oldest request goes unanswered for the download timeout (no window stall)', async () => {
    const net = quietNetwork(32);
    const servers = [server(net, false), server(net, true)];
    const client = engineNode(net);
    const engine = client.current;
    const peers: Peer[] = [];
    engine.on('handshake', (p) => peers.push(p));
    for (const s of servers) engine.connect(addressOf(s));
    await net.runUntil(() => peers.length === 2, { maxTimeMs: 10_000 });

    const chain = chainFor(REGTEST, { clock: engine.clock });
    chain.append(BLOCKS.map((b) => b.header));
    const sink = new MemoryBlockSink();
    // The window holds the whole chain: nothing is ever held back by it.
    const dl = downloadBlocks(engine, chain, sink, { verify: syncVerify });
    const startedAt = engine.clock.now();
    const stalls: number[] = [];
    dl.on('stalling', (peer) => stalls.push(peer.id));
    const drops: Array<{ at: number; reason: string }> = [];
    dl.on('peer-dropped', (_peer, reason) => drops.push({ at: engine.clock.now(), reason }));
    let summary: Awaited<typeof dl.done> | undefined;
    dl.done.then((s) => {
      summary = s;
    });
    await net.runUntil(() => summary !== undefined, { maxTimeMs: 3_600_000 });

    expect(summary?.complete).toBe(true);
    expect(sink.puts).toHaveLength(COUNT);
    expect(stalls).toEqual([]);
    // Requested at the start; once the other peer is done it alone downloads:
    // the base timeout, 10 minutes, with nothing per other peer.
    expect(drops).toEqual([{ at: startedAt + 600_000, reason: 'block-download-timeout' }]);
  });

  it('does not blame a peer for a window the iterator is holding back', async () => {
    const net = quietNetwork(34);
    const fast = server(net, false);
    const slow = server(net, false, 3_000);
    const client = engineNode(net);
    const engine = client.current;
    const peers: Peer[] = [];
    engine.on('handshake', (p) => peers.push(p));
    // The fast one first: it is asked for the first blocks.
    engine.connect(addressOf(fast));
    await net.runUntil(() => peers.length === 1, { maxTimeMs: 10_000 });
    engine.connect(addressOf(slow));
    await net.runUntil(() => peers.length === 2, { maxTimeMs: 10_000 });

    const chain = chainFor(REGTEST, { clock: engine.clock });
    chain.append(BLOCKS.map((b) => b.header));
    const dl = downloadBlocks(engine, chain, new MemoryBlockSink(), {
      window: 32,
      maxInFlightPerPeer: 4,
      verify: syncVerify,
    });
    const stalls: number[] = [];
    const drops: string[] = [];
    dl.on('stalling', (peer) => stalls.push(peer.id));
    dl.on('peer-dropped', (_peer, reason) => drops.push(reason));
    // The reader has not read yet: the window waits at height 1 for it, while
    // the first block not stored (height 5) is the slow peer's.
    const iterator = dl.blocks();
    await net.runFor(20_000);
    expect(dl.progress().height).toBeGreaterThanOrEqual(4);
    expect(stalls).toEqual([]);
    expect(drops).toEqual([]);
    // Read on: every block comes.
    const heights: number[] = [];
    const reading = (async () => {
      for await (const b of { [Symbol.asyncIterator]: () => iterator }) heights.push(b.height);
    })();
    let summary: Awaited<typeof dl.done> | undefined;
    dl.done.then((s) => {
      summary = s;
    });
    await net.runUntil(() => summary !== undefined, { maxTimeMs: 600_000 });
    await reading;
    expect(summary?.complete).toBe(true);
    expect(heights).toEqual(Array.from({ length: COUNT }, (_, i) => i + 1));
  });

  it('names a staller only once another peer has nothing in flight and nothing to ask (Core)', async () => {
    const net = quietNetwork(36);
    // A slow link to the first: it has blocks in flight for a while after it
    // was asked, which is not the window's fault. The second is slower still.
    const first = { pending: 0 };
    const servers = [server(net, false, 600, first), server(net, false, 2_500)];
    const client = engineNode(net);
    const engine = client.current;
    const peers: Peer[] = [];
    engine.on('handshake', (p) => peers.push(p));
    engine.connect(addressOf(servers[0] as SimNode<Engine>));
    await net.runUntil(() => peers.length === 1, { maxTimeMs: 10_000 });
    engine.connect(addressOf(servers[1] as SimNode<Engine>));
    await net.runUntil(() => peers.length === 2, { maxTimeMs: 10_000 });

    const chain = chainFor(REGTEST, { clock: engine.clock });
    chain.append(BLOCKS.map((b) => b.header));
    const dl = downloadBlocks(engine, chain, new MemoryBlockSink(), {
      window: 16,
      maxInFlightPerPeer: 4,
      verify: syncVerify,
      stallTimeoutMs: 60_000,
      maxStallTimeoutMs: 60_000,
    });
    const firstId = peers[0]?.id;
    // What the first peer still had to answer when the second was named.
    const pendingAtMark: number[] = [];
    dl.on('stalling', (peer) => {
      if (peer.id !== firstId) pendingAtMark.push(first.pending);
    });
    let summary: Awaited<typeof dl.done> | undefined;
    dl.done.then((s) => {
      summary = s;
    });
    await net.runUntil(() => summary !== undefined, { maxTimeMs: 600_000 });
    expect(summary?.complete).toBe(true);
    expect(pendingAtMark.length).toBeGreaterThan(0);
    expect(pendingAtMark).toEqual(pendingAtMark.map(() => 0));
  });

  it('rejects, rather than reporting a mix of branches complete, when the chain reorgs under it', async () => {
    const net = quietNetwork(35);
    // Serves both chains, one getdata per 200 ms.
    const servers = [server(net, false, 200), server(net, false, 200)];
    const client = engineNode(net);
    const engine = client.current;
    const peers: Peer[] = [];
    engine.on('handshake', (p) => peers.push(p));
    for (const s of servers) engine.connect(addressOf(s));
    await net.runUntil(() => peers.length === 2, { maxTimeMs: 10_000 });

    const chain = chainFor(REGTEST, { clock: engine.clock });
    chain.append(BLOCKS.map((b) => b.header));
    const sink = new MemoryBlockSink();
    const dl = downloadBlocks(engine, chain, sink, {
      window: 32,
      maxInFlightPerPeer: 4,
      verify: syncVerify,
      peerHeight: () => COUNT + 10,
    });
    let outcome: unknown;
    dl.done.then(
      (s) => {
        outcome = s;
      },
      (err) => {
        outcome = err;
      },
    );
    await net.runUntil(() => dl.progress().height >= 20, { maxTimeMs: 60_000 });
    chain.append(OTHER.map((b) => b.header));
    expect(chain.hashAt(COUNT)?.equals(OTHER[COUNT - 1]?.hash as Buffer)).toBe(true);
    await net.runUntil(() => outcome !== undefined, { maxTimeMs: 600_000 });
    expect(outcome).toBeInstanceOf(DownloadStateError);
    expect((outcome as Error).message).toMatch(/reorg/);
  });

  it("checks blocks below the network's segwit height as Core does: a commitment there is not checked", async () => {
    // Coinbase-only blocks with a witness commitment but no coinbase witness:
    // what miners produced before segwit activated on mainnet (Core's
    // GenerateCoinbaseCommitment added the output as soon as the deployment
    // was defined; the reserved value only once it was active). Core checks
    // a commitment only from the activation height.
    const early = generateBlocks(REGTEST, 30, { seed: 'pre-segwit', witnessCommitment: true }).map(
      (b) => ({ ...b, raw: Buffer.from(stripWitness(b.raw)) }),
    );
    for (const b of early) expect(checkBlock(b.raw, { segwitActive: false }).hash).toEqual(b.hash);
    const byHash = new Map(early.map((b) => [hashToHex(b.hash), b]));
    const net = quietNetwork(37);
    const node = engineNode(net, {
      network: { ...REGTEST, services: 9n },
      startHeight: () => early.length,
      setup: (engine) => {
        engine.on('getdata', (peer, payload) => {
          for (const inv of payload.inventory) {
            const block = byHash.get(hashToHex(inv.hash));
            if (block) peer.send({ command: 'block', payload: { raw: block.raw } });
          }
        });
      },
    });
    node.current.listen();
    const network = { ...REGTEST, segwitHeight: 1_000 };
    const client = engineNode(net, { network });
    const engine = client.current;
    const peers: Peer[] = [];
    engine.on('handshake', (p) => peers.push(p));
    engine.connect(addressOf(node));
    await net.runUntil(() => peers.length === 1, { maxTimeMs: 10_000 });
    const chain = chainFor(engine.config.network, { clock: engine.clock });
    chain.append(early.map((b) => b.header));
    const dl = downloadBlocks(engine, chain, new MemoryBlockSink(), { verify: syncVerify });
    let summary: Awaited<typeof dl.done> | undefined;
    dl.done.then((s) => {
      summary = s;
    });
    await net.runUntil(() => summary !== undefined, { maxTimeMs: 60_000 });
    expect(summary).toMatchObject({ complete: true, downloaded: early.length, dropped: [] });
  });

  it('stop() resolves done as incomplete and ends the iterator', async () => {
    const net = quietNetwork(33);
    const staller = server(net, true);
    const client = engineNode(net);
    const engine = client.current;
    const peers: Peer[] = [];
    engine.on('handshake', (p) => peers.push(p));
    engine.connect(addressOf(staller));
    await net.runUntil(() => peers.length === 1, { maxTimeMs: 10_000 });
    const chain = chainFor(REGTEST, { clock: engine.clock });
    chain.append(BLOCKS.map((b) => b.header));
    const dl = downloadBlocks(engine, chain, new MemoryBlockSink(), { verify: syncVerify });
    const iterator = dl.blocks();
    const first = iterator.next();
    await net.runFor(1_000);
    expect(dl.progress()).toMatchObject({ height: 0, inFlight: 16, peers: 1 });
    dl.stop();
    expect(await first).toEqual({ done: true, value: undefined });
    expect(await dl.done).toMatchObject({ complete: false, height: 0, dropped: [] });
  });
});
