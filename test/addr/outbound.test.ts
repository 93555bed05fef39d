// Outbound management on the simulated network: ~30 Engine nodes in distinct and
// shared /16s, and one Engine whose OutboundManager fills its slots from an
// address manager, DNS seeds (a fake resolver) or fixed seeds. Virtual time is
// exact: dials happen on the manager's 500 ms ticks, fixed seeds at exactly
// one minute. Then the data directory: round trips and corrupt files.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AddressError, internalHost, peerAddress } from '../../ts/addr/address.js';
import { AddressManager } from '../../ts/addr/addrman.js';
import { DataDir } from '../../ts/addr/datadir.js';
import { netGroupKey } from '../../ts/addr/netgroup.js';
import {
  type ConnectionKind,
  OutboundManager,
  type OutboundOptions,
} from '../../ts/addr/outbound.js';
import {
  parseSeedAddress,
  querySeed,
  SEEDED_SERVICES,
  type SeedResolver,
} from '../../ts/addr/seeds.js';
import { Engine } from '../../ts/engine/engine.js';
import type { SimNetwork, SimNode } from '../../ts/sim/index.js';
import { StoreError } from '../../ts/store/atomic-file.js';
import { FakeTransport } from '../helpers/fake-transport.js';
import { engineNode, quietNetwork, settle } from '../helpers/sim.js';

const PORT = 18444;
const TICK = 500;

/**
 * 16 nodes each in its own /16, and 14 in two shared ones (10 and 4): 18
 * netgroups. With a third of all addresses in one /16 (each from its own
 * source, so in its own bucket), ten picks without the one-per-netgroup rule
 * would all but surely take two from it.
 */
const DISTINCT = Array.from({ length: 16 }, (_, i) => `11.${i + 1}.0.1`);
const SHARED = [
  ...Array.from({ length: 10 }, (_, i) => `12.1.0.${i + 1}`),
  ...Array.from({ length: 4 }, (_, i) => `12.2.0.${i + 1}`),
];
/** Addresses nobody listens on: dials to them time out. */
const DEAD = ['13.1.0.1', '13.2.0.1', '13.3.0.1'];

const addr = (ip: string) => `${ip}:${PORT}`;
const groupOf = (address: string) => netGroupKey(parseSeedAddress(address, PORT));

interface Managed {
  node: SimNode<Engine>;
  mgr: () => OutboundManager;
  am: () => AddressManager;
  dials: { at: number; address: string }[];
  feelers: { at: number; address: string; ok: boolean }[];
  lost: { at: number; address: string; kind: ConnectionKind; ready: boolean }[];
  fixed: { at: number; added: number }[];
}

function world(seed: number) {
  const net = quietNetwork(seed);
  const peers = new Map<string, SimNode<Engine>>();
  for (const ip of [...DISTINCT, ...SHARED]) {
    peers.set(ip, engineNode(net, { ip, setup: (e) => e.listen() }));
  }
  return { net, peers };
}

/** An Engine node with an OutboundManager; `known` go into its address manager first. */
function managed(
  net: SimNetwork,
  ip: string,
  known: readonly string[],
  options: OutboundOptions & { before?: (engine: Engine) => void } = {},
): Managed {
  const { before, ...outbound } = options;
  let mgr: OutboundManager | undefined;
  let am: AddressManager | undefined;
  const m: Managed = {
    node: undefined as unknown as SimNode<Engine>,
    mgr: () => mgr as OutboundManager,
    am: () => am as AddressManager,
    dials: [],
    feelers: [],
    lost: [],
    fixed: [],
  };
  m.node = engineNode(net, {
    ip,
    setup: (engine, ctx) => {
      const connect = ctx.transport.connect.bind(ctx.transport);
      ctx.transport.connect = (address: string) => {
        m.dials.push({ at: net.now(), address });
        return connect(address);
      };
      am = new AddressManager({ clock: engine.clock });
      const time = Math.floor(engine.clock.now() / 1000) - 600;
      // Each heard of from its own source group, so each sits in its own new
      // bucket: a crowded /16 is then as likely to be picked as it is large.
      known.forEach((k, i) => {
        am?.add(
          [{ ...peerAddress(k, PORT), time, services: 1n }],
          peerAddress(`99.${i}.0.1`, PORT),
        );
      });
      before?.(engine);
      mgr = new OutboundManager(engine, am, outbound);
      mgr.on('feeler', (f) => m.feelers.push({ at: net.now(), address: f.address, ok: f.ok }));
      mgr.on('lost', (l) => m.lost.push({ at: net.now(), ...l }));
      mgr.on('fixed-seeds', (f) => m.fixed.push({ at: net.now(), added: f.added }));
      mgr.start();
    },
  });
  return m;
}

/** Managed outbound peers that completed their handshake, by kind. */
function readyPeers(m: Managed, kind: ConnectionKind) {
  return m.node.current.readyPeers.filter((p) => m.mgr().kindOf(p) === kind);
}

const full =
  (m: Managed, n = 8, b = 2) =>
  () => {
    const c = m.mgr().counts();
    return c['full-relay'].ready === n && c['block-relay'].ready === b;
  };

/** What the remote end saw in our version: its relay flag. */
function relayFlagSeenBy(remote: SimNode<Engine>, ourIp: string): boolean | undefined {
  const p = remote.current.peers.find((x) => x.inbound && x.address.startsWith(`${ourIp}:`));
  return p?.version?.relay;
}

describe('outbound connections from the address manager', () => {
  it('fills 8 full-relay and 2 block-relay-only slots, one per netgroup, never a banned host', async () => {
    const { net, peers } = world(101);
    const resolverCalls: string[] = [];
    const resolver: SeedResolver = async (host) => {
      resolverCalls.push(host);
      return [];
    };
    const banned = DISTINCT[15] as string;
    const m = managed(net, '14.1.0.1', [...DISTINCT, ...SHARED, ...DEAD], {
      dnsSeeds: ['seed.example'],
      resolver,
      before: (e) => e.ban(banned, 'test'),
    });
    await net.runUntil(full(m), { maxTimeMs: 5 * 60_000 });

    const outbound = [...readyPeers(m, 'full-relay'), ...readyPeers(m, 'block-relay')];
    expect(outbound).toHaveLength(10);
    // One per netgroup: ten peers, ten groups.
    expect(new Set(outbound.map((p) => groupOf(p.address))).size).toBe(10);
    expect(m.dials.some((d) => d.address.startsWith(`${banned}:`))).toBe(false);
    // Every dial on a tick of the manager's clock, one per tick, the first at start.
    expect(m.dials[0]?.at).toBe(0);
    for (const d of m.dials) expect(d.at % TICK).toBe(0);
    expect(new Set(m.dials.map((d) => d.at)).size).toBe(m.dials.length);
    // Block-relay-only peers were asked not to relay transactions; the others were not.
    for (const p of readyPeers(m, 'block-relay')) {
      const ip = p.address.split(':')[0] as string;
      expect(relayFlagSeenBy(peers.get(ip) as SimNode<Engine>, '14.1.0.1')).toBe(false);
      expect(p.relayRequested).toBe(false);
    }
    for (const p of readyPeers(m, 'full-relay')) {
      const ip = p.address.split(':')[0] as string;
      expect(relayFlagSeenBy(peers.get(ip) as SimNode<Engine>, '14.1.0.1')).toBe(true);
    }
    // Handshaken peers moved to tried (good); failed dials were recorded (attempt).
    for (const p of outbound) {
      const info = m.am().info(parseSeedAddress(p.address, PORT));
      expect(info?.inTried).toBe(true);
      expect(info?.lastSuccess).toBeGreaterThan(0);
    }
    await net.runFor(30_000);
    for (const d of m.dials.filter((x) => DEAD.some((ip) => x.address.startsWith(`${ip}:`)))) {
      if (d.at > net.now() - 10_000) continue;
      expect(m.am().info(parseSeedAddress(d.address, PORT))?.lastTry).toBeGreaterThan(0);
    }
    // Two full-relay peers were up within 11 s: the DNS seed was never needed.
    expect(resolverCalls).toEqual([]);
    m.am().checkConsistency();
  });

  it('replaces a lost full-relay peer with another in a free netgroup', async () => {
    const { net, peers } = world(102);
    const m = managed(net, '14.1.0.1', [...DISTINCT, ...SHARED]);
    await net.runUntil(full(m), { maxTimeMs: 5 * 60_000 });
    const victim = readyPeers(m, 'full-relay')[0]?.address as string;
    const remote = peers.get(victim.split(':')[0] as string) as SimNode<Engine>;
    await settle(net, () => remote.current.close());
    await net.runUntil(() => m.lost.some((l) => l.address === victim && l.ready), {
      maxTimeMs: 60_000,
    });
    const lostAt = m.lost.find((l) => l.address === victim)?.at as number;
    await net.runUntil(full(m), { maxTimeMs: 5 * 60_000 });
    const now = [...readyPeers(m, 'full-relay'), ...readyPeers(m, 'block-relay')];
    expect(now.map((p) => p.address)).not.toContain(victim);
    expect(new Set(now.map((p) => groupOf(p.address))).size).toBe(10);
    // The replacement was dialled on a tick after the loss.
    const next = m.dials.find((d) => d.at > lostAt);
    expect(next?.at).toBeDefined();
    expect((next?.at as number) % TICK).toBe(0);
    expect((next?.at as number) - lostAt).toBeLessThanOrEqual(TICK);
  });

  it('makes feelers about every 2 minutes that mark new addresses good and then disconnect', async () => {
    const run = async () => {
      const { net } = world(103);
      const m = managed(net, '14.1.0.1', [...DISTINCT, ...SHARED, ...DEAD]);
      await net.runUntil(full(m), { maxTimeMs: 5 * 60_000 });
      await net.runUntil(30 * 60_000);
      return { net, m };
    };
    const { m } = await run();
    const ok = m.feelers.filter((f) => f.ok);
    // 30 minutes at a mean gap of 2 minutes: 15 expected; exponential gaps spread it.
    expect(m.feelers.length).toBeGreaterThanOrEqual(5);
    expect(m.feelers.length).toBeLessThanOrEqual(30);
    expect(ok.length).toBeGreaterThanOrEqual(3);
    for (const f of ok) {
      const info = m.am().info(parseSeedAddress(f.address, PORT));
      expect(info?.lastSuccess).toBeGreaterThan(0);
      expect(info?.attempts).toBe(0);
      // Disconnected right after the handshake: no connection to it is left
      // over, unless a later full-relay or block-relay slot took it.
      const leftover = m.node.current.peers.some(
        (p) => !p.inbound && p.address === f.address && m.mgr().kindOf(p) === undefined,
      );
      expect(leftover).toBe(false);
    }
    expect(m.node.current.peers.filter((p) => !p.inbound).length).toBeLessThanOrEqual(11);
    // Most tested addresses made it into tried.
    const tried = ok.filter((f) => m.am().info(parseSeedAddress(f.address, PORT))?.inTried);
    expect(tried.length).toBeGreaterThanOrEqual(ok.length - 1);
    // Feeler dials land on ticks and never crowd the outbound slots.
    const feelerDials = m.dials.filter((d) => m.feelers.some((f) => f.address === d.address));
    for (const d of feelerDials) expect(d.at % TICK).toBe(0);
    expect(m.mgr().counts()['full-relay'].ready).toBe(8);
    // The gaps come from the simulation's randomness: the same seed, the same feelers.
    const again = await run();
    expect(again.m.feelers).toEqual(m.feelers);
  });

  it('does not tick while every slot is full: it wakes for feelers and on the beat after a loss', async () => {
    const { net, peers } = world(111);
    const m = managed(net, '14.1.0.1', [...DISTINCT, ...SHARED, ...DEAD]);
    await net.runUntil(full(m), { maxTimeMs: 5 * 60_000 });
    const ticks: number[] = [];
    const proto = OutboundManager.prototype as unknown as { tick: () => void };
    const tick = proto.tick;
    const spy = vi.spyOn(proto, 'tick').mockImplementation(function (this: unknown) {
      ticks.push(net.now());
      tick.call(this);
    });
    try {
      const from = net.now();
      const feelersBefore = m.feelers.length;
      await net.runFor(30 * 60_000);
      const feelers = m.feelers.length - feelersBefore;
      // Ticking all along would be 3,600 ticks; parked, a few per feeler
      // (the one that dials it, the one after it ends) and per lost peer.
      expect(feelers).toBeGreaterThanOrEqual(5);
      expect(ticks.length).toBeLessThanOrEqual(4 * feelers + 2 * m.lost.length + 4);
      // Still on the 500 ms beat of the loop.
      for (const at of ticks) expect((at - from) % TICK === 0 || at % TICK === 0).toBe(true);
      expect(m.mgr().counts()['full-relay'].ready).toBe(8);

      // A loss wakes it: the replacement is dialled on the next beat.
      const victim = readyPeers(m, 'full-relay')[0]?.address as string;
      const remote = peers.get(victim.split(':')[0] as string) as SimNode<Engine>;
      await settle(net, () => remote.current.close());
      await net.runUntil(() => m.lost.some((l) => l.address === victim && l.ready), {
        maxTimeMs: 60_000,
      });
      const lostAt = m.lost.find((l) => l.address === victim)?.at as number;
      await net.runUntil(full(m), { maxTimeMs: 60_000 });
      const next = m.dials.find((d) => d.at > lostAt);
      expect((next?.at as number) % TICK).toBe(0);
      expect((next?.at as number) - lostAt).toBeLessThanOrEqual(TICK);
    } finally {
      spy.mockRestore();
    }
  });

  it('at shutdown marks its live outbound peers connected, block-relay-only ones excepted', async () => {
    const { net } = world(112);
    const m = managed(net, '14.1.0.1', [...DISTINCT, ...SHARED]);
    await net.runUntil(full(m), { maxTimeMs: 5 * 60_000 });
    await net.runFor(30 * 60_000);
    const fullRelay = readyPeers(m, 'full-relay').map((p) => parseSeedAddress(p.address, PORT));
    const blockRelay = readyPeers(m, 'block-relay').map((p) => parseSeedAddress(p.address, PORT));
    const timeOf = (a: ReturnType<typeof parseSeedAddress>) => m.am().info(a)?.time as number;
    const blockBefore = blockRelay.map(timeOf);
    const nowS = Math.floor(m.node.current.clock.now() / 1000);
    // Heard of 10 minutes before the start, over 30 minutes ago: stale.
    for (const a of fullRelay) expect(nowS - timeOf(a)).toBeGreaterThan(30 * 60);
    await settle(net, () => m.mgr().close());
    for (const a of fullRelay) expect(nowS - timeOf(a)).toBeLessThanOrEqual(1);
    // Their times would tell who we were connected to.
    expect(blockRelay.map(timeOf)).toEqual(blockBefore);
  });

  it('dials the saved anchors first, as block-relay-only, after a restart', async () => {
    const { net, peers } = world(104);
    const first = managed(net, '14.1.0.1', [...DISTINCT, ...SHARED]);
    await net.runUntil(full(first), { maxTimeMs: 5 * 60_000 });
    const anchors = await settle(net, () => first.mgr().close());
    expect(anchors).toHaveLength(2);

    const start = net.now();
    const second = managed(net, '14.2.0.1', [...DISTINCT, ...SHARED], { anchors });
    await net.runUntil(full(second), { maxTimeMs: 5 * 60_000 });
    // Exactly the anchors, on the first two ticks.
    expect(second.dials.slice(0, 2)).toEqual([
      { at: start, address: anchors[0] },
      { at: start + TICK, address: anchors[1] },
    ]);
    const block = readyPeers(second, 'block-relay').map((p) => p.address);
    expect(block.sort()).toEqual([...anchors].sort());
    for (const a of anchors) {
      const remote = peers.get(a.split(':')[0] as string) as SimNode<Engine>;
      expect(relayFlagSeenBy(remote, '14.2.0.1')).toBe(false);
    }
  });

  it('connect mode dials only the manual peers, and keeps them', async () => {
    const { net, peers } = world(105);
    const manual = [addr(DISTINCT[0] as string), addr(DISTINCT[1] as string)];
    const m = managed(net, '14.1.0.1', [...DISTINCT, ...SHARED], {
      connect: manual,
      fixedSeeds: [addr(DISTINCT[2] as string)],
      dnsSeeds: ['seed.example'],
      resolver: async () => {
        throw new Error('connect mode must not seed');
      },
    });
    await net.runUntil(() => m.mgr().counts().manual.ready === 2, { maxTimeMs: 60_000 });
    await net.runFor(5 * 60_000);
    expect(new Set(m.dials.map((d) => d.address))).toEqual(new Set(manual));
    expect(m.feelers).toEqual([]);
    expect(m.fixed).toEqual([]);
    const out = m.node.current.peers.filter((p) => !p.inbound).map((p) => p.address);
    expect(out.sort()).toEqual([...manual].sort());
    // A manual peer that drops is dialled again.
    const remote = peers.get(DISTINCT[0] as string) as SimNode<Engine>;
    for (const p of remote.current.peers) p.disconnect('go away');
    await net.runUntil(() => m.dials.filter((d) => d.address === manual[0]).length === 2, {
      maxTimeMs: 60_000,
    });
    await net.runUntil(() => m.mgr().counts().manual.ready === 2, { maxTimeMs: 60_000 });
  });

  it('addnode peers are kept besides the automatic ones', async () => {
    const { net } = world(106);
    const extra = addr(SHARED[0] as string);
    const m = managed(net, '14.1.0.1', [...DISTINCT], { addnode: [extra] });
    await net.runUntil(() => full(m)() && m.mgr().counts().manual.ready === 1, {
      maxTimeMs: 5 * 60_000,
    });
    expect(m.dials[0]).toEqual({ at: 0, address: extra });
    expect(m.node.current.config.limits.maxOutbound).toBeGreaterThanOrEqual(12);
    // The manual peer's netgroup is taken: no automatic peer shares it.
    const auto = [...readyPeers(m, 'full-relay'), ...readyPeers(m, 'block-relay')];
    expect(auto.map((p) => groupOf(p.address))).not.toContain(groupOf(extra));
  });
});

describe('seeding', () => {
  it('asks the DNS seeds at once when the address manager is empty, then connects', async () => {
    const { net } = world(107);
    const calls: { at: number; host: string }[] = [];
    const answers: Record<string, string[]> = {
      'seed-a.example': DISTINCT.slice(0, 10),
      'seed-b.example': [...DISTINCT.slice(10), 'not-an-ip'],
    };
    const resolver: SeedResolver = async (host) => {
      calls.push({ at: net.now(), host });
      return answers[host] ?? [];
    };
    const m = managed(net, '14.1.0.1', [], {
      dnsSeeds: Object.keys(answers),
      resolver,
      fixedSeeds: [addr(SHARED[0] as string)],
    });
    await net.runUntil(full(m), { maxTimeMs: 5 * 60_000 });
    expect(calls.map((c) => c.at)).toEqual([0, 0]);
    expect(calls.map((c) => c.host).sort()).toEqual(Object.keys(answers).sort());
    expect(m.am().size()).toBe(16);
    const info = m.am().info(peerAddress(DISTINCT[0] as string, PORT));
    expect(info?.source).toEqual(internalHost('seed-a.example'));
    // A seed's answer is dated 3 to 7 days back.
    const nowS = Math.floor(m.node.current.clock.now() / 1000);
    expect(nowS - (info?.time as number)).toBeGreaterThanOrEqual(3 * 86_400);
    expect(nowS - (info?.time as number)).toBeLessThanOrEqual(7 * 86_400);
    // DNS filled it: the fixed seeds were never needed.
    await net.runFor(2 * 60_000);
    expect(m.fixed).toEqual([]);
  });

  it('falls back to the fixed seeds a minute in when DNS gives nothing', async () => {
    const { net } = world(108);
    const m = managed(net, '14.1.0.1', [], {
      dnsSeeds: ['seed-a.example'],
      resolver: async () => {
        throw new Error('SERVFAIL');
      },
      fixedSeeds: DISTINCT.slice(0, 12).map(addr),
    });
    await net.runUntil(() => m.fixed.length === 1, { maxTimeMs: 2 * 60_000 });
    expect(m.fixed[0]).toEqual({ at: 60_000, added: 12 });
    expect(m.dials[0]?.at).toBe(60_000);
    await net.runUntil(full(m), { maxTimeMs: 5 * 60_000 });
    expect(m.am().info(peerAddress(DISTINCT[0] as string, PORT))?.source).toEqual(
      internalHost('fixedseeds'),
    );
  });
});

describe('data directory', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'peerwire-datadir-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('round-trips the address manager, the bans and the anchors', async () => {
    const { net } = world(109);
    const m = managed(net, '14.1.0.1', [...DISTINCT, ...SHARED]);
    await net.runUntil(full(m), { maxTimeMs: 5 * 60_000 });
    const engine = m.node.current;
    engine.ban('11.5.0.1', 'misbehaving', 3_600_000);
    engine.ban('2001:4860::1', 'test', 7_200_000);
    const anchors = m.mgr().anchors();
    const data = await DataDir.open(join(dir, 'node'));
    await data.saveAll({ addrman: m.am(), engine, anchors });

    const fresh = engineNode(net, { ip: '14.3.0.1' }).current;
    const problems: StoreError[] = [];
    const again = await DataDir.open(join(dir, 'node'), { onProblem: (p) => problems.push(p) });
    const loaded = await again.loadAddressManager(fresh.clock);
    expect(loaded.manager.exportState()).toEqual(m.am().exportState());
    const bans = await again.restoreBans(fresh);
    expect(bans.applied).toBe(2);
    expect(fresh.bans()).toEqual(engine.bans());
    const back = await again.loadAnchors();
    expect(back.value).toEqual(anchors);
    // Anchors are for one start only.
    expect((await again.loadAnchors()).value).toEqual([]);
    expect(problems).toEqual([]);
  });

  it('reports a corrupt file, moves it aside, starts empty and replaces it on the next save', async () => {
    const data0 = await DataDir.open(join(dir, 'corrupt'));
    const { net } = world(110);
    const engine = engineNode(net, { ip: '14.4.0.1' }).current;
    const am = new AddressManager({ clock: engine.clock });
    am.add([{ ...peerAddress('11.1.0.1', PORT), time: 1_700_000_000, services: 1n }], {
      ...peerAddress('99.1.0.1', PORT),
    });
    engine.ban('11.9.0.1', 'x', 60_000);
    await data0.saveAll({ addrman: am, engine, anchors: ['11.2.0.1:18444'] });
    // Flip a byte in each file's payload; write garbage over one.
    for (const file of ['peers.dat', 'banlist.dat']) {
      const path = join(dir, 'corrupt', file);
      const bytes = await readFile(path);
      const at = bytes.length - 3;
      bytes[at] = (bytes[at] as number) ^ 0x20;
      await writeFile(path, bytes);
    }
    await writeFile(join(dir, 'corrupt', 'anchors.dat'), 'not a store file at all');

    const reported: { code: string; movedTo?: string }[] = [];
    const data = await DataDir.open(join(dir, 'corrupt'), {
      onProblem: (p, movedTo) => reported.push({ code: p.code, movedTo }),
    });
    const loadedAm = await data.loadAddressManager(engine.clock);
    const loadedBans = await data.loadBans();
    const loadedAnchors = await data.loadAnchors();
    expect(loadedAm.manager.size()).toBe(0);
    expect(loadedBans.value).toEqual([]);
    expect(loadedAnchors.value).toEqual([]);
    for (const l of [loadedAm, loadedBans, loadedAnchors]) {
      expect(l.problem).toBeInstanceOf(StoreError);
      expect(l.problem?.code).toBe('corrupt');
      expect(l.problem?.message).toContain(dir);
    }
    expect(reported.map((r) => r.movedTo?.split('/').at(-1)).sort()).toEqual([
      'anchors.dat.bad',
      'banlist.dat.bad',
      'peers.dat.bad',
    ]);
    // The bad copies are kept for a look; the next save writes good files.
    await readFile(join(dir, 'corrupt', 'banlist.dat.bad'));
    await data.saveAll({ addrman: am, engine, anchors: ['11.2.0.1:18444'] });
    const clean = await DataDir.open(join(dir, 'corrupt'), {
      onProblem: () => {
        throw new Error('no problem expected');
      },
    });
    expect((await clean.loadAddressManager(engine.clock)).manager.size()).toBe(1);
    expect((await clean.loadBans()).value.map((b) => b.host)).toEqual(['11.9.0.1']);
    expect((await clean.loadAnchors()).value).toEqual(['11.2.0.1:18444']);
  });
});

describe('seed text and seed answers', () => {
  it('a port is decimal digits or the address is refused', () => {
    expect(parseSeedAddress('1.2.3.4:8333', 1)).toMatchObject({ port: 8333 });
    expect(parseSeedAddress('1.2.3.4', 18444)).toMatchObject({ port: 18444 });
    for (const bad of ['1.2.3.4:', '1.2.3.4:0x1f', '1.2.3.4:1e3', '[::1]:', '1.2.3.4:99999']) {
      expect(() => parseSeedAddress(bad, 1), bad).toThrow(AddressError);
    }
  });

  it('a resolver that fails oddly or an empty seed name is that seed’s failure, never a throw', async () => {
    const addrman = new AddressManager({
      clock: { now: () => 1_700_000_000_000, random: () => 0.5 },
    });
    const clock = { now: () => 1_700_000_000_000, random: () => 0.5 };
    const weird: SeedResolver = () => Promise.reject(undefined);
    await expect(
      querySeed('seed.example', { resolver: weird, addrman, port: 8333, clock }),
    ).resolves.toMatchObject({ found: 0, added: 0, error: 'undefined' });
    const never: SeedResolver = async () => ['1.2.3.4'];
    await expect(
      querySeed('', { resolver: never, addrman, port: 8333, clock }),
    ).resolves.toMatchObject({ found: 0, error: 'empty seed name' });
    // A good answer is filed as full nodes with witness, so it is selected and relayed.
    const good: SeedResolver = async () => ['1.2.3.4', 'not an ip'];
    await expect(
      querySeed('seed.example', { resolver: good, addrman, port: 8333, clock }),
    ).resolves.toMatchObject({ found: 1, added: 1 });
    expect(addrman.info(peerAddress('1.2.3.4', 8333))?.services).toBe(SEEDED_SERVICES);
  });
});

describe('Engine.ban', () => {
  it('refuses a ban without an end, which could not be saved with the others', () => {
    const engine = new Engine({ network: 'regtest', transport: new FakeTransport() });
    expect(() => engine.ban('1.2.3.4', 'forever', Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(() => engine.ban('1.2.3.4', 'nan', Number.NaN)).toThrow(RangeError);
    engine.ban('1.2.3.4', 'a day', 86_400_000);
    expect(engine.isBanned('1.2.3.4')).toBe(true);
    expect(engine.isBanned('1.2.3.5')).toBe(false);
  });
});
