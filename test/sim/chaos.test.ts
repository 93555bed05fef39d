// Hostile and broken peers on the simulated network, each with a bounded
// outcome: a reader that stops reading, a flood, a peer that vanishes without a
// FIN, and a partition that heals. The invariants run at every step besides
// what each test asserts.
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../ts/engine/engine.js';
import type { Peer } from '../../ts/engine/peer.js';
import type { SimNetwork, SimNode } from '../../ts/sim/index.js';
import { addressOf, EngineLog, engineNode, quietNetwork, settle } from '../helpers/sim.js';

const TX = { command: 'tx' as const, payload: { raw: new Uint8Array(50_000).fill(7) } };
/** A frame's header, and what the receive budget charges on top of its wire size. */
const FRAME_OVERHEAD = 24 + 64;

function only<T>(list: T[], what: string): T {
  if (list.length !== 1) throw new Error(`expected one ${what}, got ${list.length}`);
  return list[0] as T;
}

/** Dials `to` from `from` and runs until both ends have handshaken. */
async function link(net: SimNetwork, from: SimNode<Engine>, to: SimNode<Engine>): Promise<Peer> {
  let peer: Peer | undefined;
  let inbound = false;
  const offOut = from.current.on('handshake', (p) => {
    if (p.address === addressOf(to)) peer = p;
  });
  const offIn = to.current.on('handshake', (p) => {
    if (p.inbound && p.address.startsWith(`${from.ip}:`)) inbound = true;
  });
  from.current.connect(addressOf(to));
  await net.runUntil(() => peer !== undefined && inbound, { maxTimeMs: 10_000 });
  offOut();
  offIn();
  return peer as Peer;
}

/** The inbound peer on `at` that is `from`. */
function peerFrom(at: SimNode<Engine>, from: SimNode<Engine>): Peer {
  return only(
    at.current.peers.filter((p) => p.address.startsWith(`${from.ip}:`)),
    `peer from ${from.ip}`,
  );
}

/**
 * Sends `message` to `peer` until the queue pushes back (or, `untilFull`, until
 * it refuses outright), and again each time it drains.
 */
function flood(
  engine: Engine,
  peer: Peer,
  message: typeof TX,
  untilFull = false,
): { sent: number; pushedBack: number; refused: number } {
  const stats = { sent: 0, pushedBack: 0, refused: 0 };
  const pump = () => {
    while (peer.active) {
      const result = peer.send(message);
      if (result === 'queued') {
        stats.sent++;
        continue;
      }
      if (result === 'backpressure') {
        stats.sent++;
        stats.pushedBack++;
        if (untilFull) continue;
        return;
      }
      stats.refused++;
      return;
    }
  };
  engine.on('writable', (p) => {
    if (p === peer) pump();
  });
  pump();
  return stats;
}

describe('a reader that stops reading', () => {
  it('costs its sender a bounded queue, never its other peers, and is dropped as send-stalled', async () => {
    const net = quietNetwork(31);
    const victim = engineNode(net, {
      limits: {
        sendBudgetBytes: 200_000,
        sendMaxBytes: 1_000_000,
        sendStallTimeoutMs: 30_000,
        pingIntervalMs: 5_000,
      },
      setup: (e) => e.listen(),
    });
    const reader = engineNode(net, { limits: { recvBudgetBytes: 300_000 } });
    const honest = engineNode(net);
    const toVictim = await link(net, reader, victim);
    const honestPeer = await link(net, honest, victim);
    const victimLog = new EngineLog(net, victim.current);
    const readerAtVictim = peerFrom(victim, reader);

    reader.stallReading();
    const stalledAt = net.now();
    // The application ignores backpressure and sends until the queue refuses.
    const sending = flood(victim.current, readerAtVictim, TX, true);
    let maxQueue = 0;
    let maxHeld = 0;
    const watch = () => {
      const out = victim.transport.peerInfo(readerAtVictim.id);
      if (out) maxQueue = Math.max(maxQueue, out.sendQueueBytes);
      const held = reader.transport.peerInfo(toVictim.id);
      if (held) maxHeld = Math.max(maxHeld, held.recvPendingBytes);
      return victimLog.disconnects.length > 0;
    };
    watch();

    // The honest peer is served the whole time.
    for (let i = 0; i < 5; i++) {
      const started = net.now();
      const pong = await settle(net, () =>
        honestPeer.request({ command: 'ping', payload: { nonce: BigInt(i) } }),
      );
      expect(pong.payload.nonce).toBe(BigInt(i));
      expect(net.now() - started).toBeLessThan(1_000);
      watch();
    }
    await net.runUntil(watch, { maxTimeMs: 120_000 });

    const frame = TX.payload.raw.length + FRAME_OVERHEAD;
    const gone = only(victimLog.disconnects, 'disconnect');
    expect(gone.value.peer).toBe(readerAtVictim);
    expect(gone.value.info.reason).toBe('send-stalled');
    expect(gone.at - stalledAt).toBeLessThanOrEqual(30_000 + 5_000);
    expect(victim.transport.stats().sendStalled).toBe(1);
    // Bounded: the queue never passed its hard limit, the reader never held more than its budget.
    expect(sending.refused).toBeGreaterThan(0);
    expect(maxQueue).toBeGreaterThan(1_000_000 - frame);
    expect(maxQueue).toBeLessThanOrEqual(1_000_000 + frame);
    expect(maxHeld).toBeGreaterThan(300_000 - frame);
    expect(maxHeld).toBeLessThanOrEqual(300_000 + frame);
    expect(honestPeer.connected).toBe(true);
  });
});

describe('a flood from one node', () => {
  it('is held to its receive budget while the victim keeps serving its other peers', async () => {
    // Handlers take no virtual time, so the victim falls behind only when it
    // stops reading: it does, for two seconds at a time, while the flooder
    // sends at the link's full rate.
    const net = quietNetwork(32, { bandwidthMinBps: 1_000_000, bandwidthMaxBps: 1_000_000 });
    const budget = 400_000;
    const victim = engineNode(net, {
      limits: { recvBudgetBytes: budget },
      setup: (e) => e.listen(),
    });
    const flooder = engineNode(net);
    const honest = engineNode(net);
    const toVictim = await link(net, flooder, victim);
    const honestPeer = await link(net, honest, victim);
    const flooderAtVictim = peerFrom(victim, flooder);
    let received = 0;
    victim.current.on('tx', (p) => {
      if (p === flooderAtVictim) received++;
    });
    const sending = flood(flooder.current, toVictim, TX);

    const pending: number[] = [];
    for (let round = 0; round < 10; round++) {
      victim.stallReading();
      await net.runFor(2_000);
      pending.push(victim.transport.peerInfo(flooderAtVictim.id)?.recvPendingBytes ?? 0);
      victim.resumeReading();
      const started = net.now();
      const pong = await settle(net, () =>
        honestPeer.request({ command: 'ping', payload: { nonce: BigInt(round) } }),
      );
      expect(pong.payload.nonce).toBe(BigInt(round));
      expect(net.now() - started).toBeLessThan(1_000);
    }
    // Each stall filled the flooder's budget and went no further.
    const frame = TX.payload.raw.length + FRAME_OVERHEAD;
    for (const held of pending) {
      expect(held).toBeGreaterThanOrEqual(budget - frame);
      expect(held).toBeLessThanOrEqual(budget + frame);
    }
    // The flood got through at the link's rate, and the flooder was pushed back.
    expect(received).toBeGreaterThan(100);
    expect(sending.pushedBack).toBeGreaterThan(0);
    expect(flooderAtVictim.connected).toBe(true);
    expect(honestPeer.connected).toBe(true);
  });
});

describe('a peer that vanishes without a FIN', () => {
  it('is dropped within a ping interval plus the ping timeout; the others carry on; a restart reconnects', async () => {
    const net = quietNetwork(33);
    const limits = { pingIntervalMs: 10_000, pingTimeoutMs: 30_000 };
    const hub = engineNode(net, { limits, setup: (e) => e.listen() });
    const other = engineNode(net, { limits });
    let generations = 0;
    const crashing = engineNode(net, {
      limits,
      setup: (e) => {
        generations++;
        e.connect(addressOf(hub), { persistent: true });
      },
    });
    const otherPeer = await link(net, other, hub);
    const hubLog = new EngineLog(net, hub.current);
    await net.runUntil(() => hub.current.readyPeers.length === 2, { maxTimeMs: 10_000 });
    await net.runFor(25_000);

    const oldEngine = crashing.current;
    const oldLog = new EngineLog(net, oldEngine);
    const crashedAt = net.now();
    net.crash(crashing.id);
    expect(crashing.up).toBe(false);
    await net.runUntil(() => hubLog.disconnects.length > 0, { maxTimeMs: 120_000 });
    const gone = only(hubLog.disconnects, 'disconnect');
    expect(gone.value.peer.address.startsWith(`${crashing.ip}:`)).toBe(true);
    expect(['ping-timeout', 'send-stalled', 'io-error']).toContain(gone.value.info.reason);
    expect(gone.at - crashedAt).toBeLessThanOrEqual(10_000 + 30_000);
    expect(otherPeer.connected).toBe(true);

    // The crashed Engine is gone for good: none of its timers ran, nothing reached it.
    await net.runFor(60_000);
    expect(oldLog.disconnects).toHaveLength(0);
    expect(oldLog.failures).toHaveLength(0);
    expect(oldLog.pongs).toHaveLength(0);

    net.restart(crashing.id);
    expect(generations).toBe(2);
    expect(crashing.generation).toBe(1);
    expect(crashing.current).not.toBe(oldEngine);
    const fresh = new EngineLog(net, crashing.current);
    await net.runUntil(() => fresh.handshakes.length === 1 && hub.current.readyPeers.length === 2, {
      maxTimeMs: 10_000,
    });
    expect(fresh.handshakes[0]?.value.address).toBe(addressOf(hub));
  });
});

describe('a partition that heals', () => {
  it('drops the links across it, keeps those inside, and every node reconnects after the heal', async () => {
    const net = quietNetwork(34);
    const nodes: SimNode<Engine>[] = [];
    for (let i = 0; i < 4; i++) {
      nodes.push(
        engineNode(net, {
          limits: { pingIntervalMs: 5_000, pingTimeoutMs: 15_000, connectTimeoutMs: 5_000 },
          reconnect: { baseDelayMs: 1_000, maxDelayMs: 5_000, maxRestarts: 10_000 },
          setup: (engine, ctx) => {
            engine.listen();
            // Each node dials every node after it: six links in all.
            for (let j = ctx.node + 1; j < 4; j++) {
              engine.connect(`10.0.0.${j + 1}:18444`, { persistent: true });
            }
          },
        }),
      );
    }
    const linked = () => nodes.every((n) => n.current.readyPeers.length === 3);
    await net.runUntil(linked, { maxTimeMs: 10_000 });
    const [a, b, c, d] = nodes as [
      SimNode<Engine>,
      SimNode<Engine>,
      SimNode<Engine>,
      SimNode<Engine>,
    ];
    const inside = [peerFrom(b, a), peerFrom(d, c)];

    const partition = net.world.partition([a.id, b.id], [c.id, d.id]);
    await net.runFor(60_000);
    // Across: gone (ping timeout, and redials that cannot get through). Inside: untouched.
    for (const n of nodes) expect(n.current.readyPeers).toHaveLength(1);
    for (const p of inside) expect(p.connected).toBe(true);

    net.world.heal(partition);
    const healedAt = net.now();
    await net.runUntil(linked, { maxTimeMs: 60_000 });
    // Back within two rounds of the longest backoff delay and a connect timeout.
    expect(net.now() - healedAt).toBeLessThanOrEqual(2 * (5_000 * 1.2 + 5_000));
    for (const p of inside) expect(p.connected).toBe(true);
  });
});
