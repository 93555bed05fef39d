// The crawler on the simulated network: nodes that answer getaddr from a small
// address book, some not listening, some not there at all, some that stall;
// the crawler must find every listening node, dial each address once, and say
// for each failure what went wrong and at which stage.
import { describe, expect, it } from 'vitest';
import { formatAddress } from '../../ts/addr/address.js';
import {
  Crawler,
  type CrawlResult,
  type CrawlStats,
  CrawlTally,
  failureLabel,
  MAX_AGENT_KEYS,
  MAX_VERSION_KEYS,
  OTHER_AGENTS,
  OTHER_VERSIONS,
} from '../../ts/crawl/crawler.js';
import type { Engine } from '../../ts/engine/engine.js';
import { runAddrBookNode } from '../../ts/sim/apps/addr-book-node.js';
import { SimNetwork } from '../../ts/sim/index.js';
import {
  engineNode,
  QUIET_LATENCY_MS,
  quietNetwork,
  RawPeer,
  type RawPeerOptions,
  settle,
} from '../helpers/sim.js';

const PORT = 18444;
/** Node i's address: unique for i below 65,280. */
const nodeIp = (i: number) => `10.${(i >> 8) + 1}.${i & 255}.1`;
const at = (i: number) => `${nodeIp(i)}:${PORT}`;
/** A Tor v3 address: learnt, never dialled. */
const ONION = formatAddress({ network: 'onion', bytes: new Uint8Array(32).fill(7), port: 8333 });

/** A scripted peer listening at node i's address. */
function rawNodeAt(net: SimNetwork, i: number, options: RawPeerOptions) {
  return net.addNode({
    ip: nodeIp(i),
    options: { clockDriftPpm: 0, clockOffsetMs: 0 },
    create: (ctx) => {
      const raw = new RawPeer(net, ctx.transport, options);
      ctx.transport.listen(ctx.ip, PORT);
      return raw;
    },
  });
}

/** A crawler on its own node; results by address. */
function crawlerNode(
  net: SimNetwork,
  ip: string,
  options: ConstructorParameters<typeof Crawler>[1] = {},
) {
  const results = new Map<string, CrawlResult>();
  const dials = new Map<string, number>();
  const tally = new CrawlTally();
  const concurrency = options.concurrency ?? 8;
  let crawler: Crawler | undefined;
  const node = engineNode(net, {
    ip,
    limits: { maxOutbound: concurrency },
    setup: (engine) => {
      crawler = new Crawler(engine, {
        ...options,
        concurrency,
        onResult: (r) => {
          expect(results.has(r.address), `${r.address} reported twice`).toBe(false);
          results.set(r.address, r);
          tally.add(r);
        },
      });
      engine.on('connected', (p) => {
        const target = p.state.target ?? p.address;
        dials.set(target, (dials.get(target) ?? 0) + 1);
      });
    },
  });
  return { node, results, dials, tally, crawler: () => crawler as Crawler };
}

describe('Crawler on the simulator', () => {
  it('finds every listening node and says why each other one failed, and where', async () => {
    const net = quietNetwork(3);
    const N = 24;
    const silent = new Set([5, 11, 17]);
    const books: string[][] = [];
    for (let i = 0; i < N; i++) books.push([at((i + 1) % N), at((i + 5) % N), at((i + 9) % N)]);
    // Node 2 answers in messages of two addresses, 100 ms apart; node 23 is only in its last one.
    books[2] = [at(3), at(7), at(13), at(4), at(23)];
    for (const b of books) {
      const i = b.indexOf(at(23));
      if (b !== books[2] && i >= 0) b[i] = at(0);
    }
    // Addresses of a host with no node at all, a node that never speaks,
    // one that handshakes but never answers getaddr, and a Tor node.
    books[0]?.push('10.200.0.1:18444', at(N), at(N + 1), ONION);
    for (let i = 0; i < N; i++) {
      engineNode(net, {
        ip: nodeIp(i),
        setup: (engine) => {
          if (!silent.has(i)) engine.listen();
          runAddrBookNode(engine, books[i] as string[], {
            // Node 2 answers in pieces; odd nodes answer with legacy addr.
            ...(i === 2 ? { perMessage: 2, intervalMs: 100 } : {}),
            legacy: i % 2 === 1,
          });
        },
      });
    }
    rawNodeAt(net, N, {}); // listens, never sends a byte
    rawNodeAt(net, N + 1, { handshake: true, answerPings: true });
    const c = crawlerNode(net, '10.100.0.1', {
      connectTimeoutMs: 3_000,
      handshakeTimeoutMs: 4_000,
      getaddrTimeoutMs: 5_000,
      addrWindowMs: 300,
    });
    const stats = await settle(net, () => c.crawler().run([at(0)]));

    for (let i = 0; i < N; i++) {
      const r = c.results.get(at(i));
      expect(r, `node ${i}`).toBeDefined();
      if (silent.has(i)) {
        expect(r).toMatchObject({
          reachable: false,
          failure: { reason: 'refused', stage: 'connect' },
        });
        continue;
      }
      expect(r, `node ${i}`).toMatchObject({
        reachable: true,
        protocolVersion: 70016,
        userAgent: '/peerwire:0.1.0/',
        services: 0n,
        startHeight: 0,
        answeredGetaddr: true,
        addresses: (books[i] as string[]).length,
        // Two latencies to connect (SYN, SYN-ACK); two for version out, version+verack back.
        connectMs: 2 * QUIET_LATENCY_MS,
        handshakeMs: 2 * QUIET_LATENCY_MS,
        pingMs: 2 * QUIET_LATENCY_MS,
      });
      expect(r?.failure).toBeUndefined();
    }
    // Only node 2's second message of three named node 23.
    expect(c.results.get(at(23))?.source).toBe(at(2));
    // Timeouts are tried twice (retries: 1 by default), refusals once.
    expect(c.results.get('10.200.0.1:18444')).toMatchObject({
      attempts: 2,
      failure: { reason: 'timeout', stage: 'connect', detail: 'no connection in 3000 ms' },
    });
    expect(c.results.get(at(N))).toMatchObject({
      attempts: 2,
      failure: { reason: 'timeout', stage: 'handshake' },
    });
    expect(c.results.get(at(N + 1))).toMatchObject({
      attempts: 2,
      reachable: true,
      userAgent: '/raw/',
      answeredGetaddr: false,
      addresses: 0,
      failure: { reason: 'timeout', stage: 'getaddr' },
    });
    expect(c.results.get(at(silent.values().next().value as number))?.attempts).toBe(1);
    expect(c.results.get(ONION)).toMatchObject({
      dialled: false,
      network: 'onion',
      failure: { reason: 'not-dialled' },
    });
    // Every address once: N nodes, the empty host, two raw nodes, the onion.
    expect(c.results.size).toBe(N + 4);
    for (const [address, n] of c.dials) {
      expect(n, address).toBe(address === at(N) || address === at(N + 1) ? 2 : 1);
    }
    expect(stats).toMatchObject({
      dialled: N + 3,
      reachable: N - silent.size + 1,
      notDialled: 1,
      inFlight: 0,
      queued: 0,
      retried: 3,
    });
    expect(c.tally.reachable).toBe(N - silent.size + 1);
    expect(Object.fromEntries(c.tally.failures)).toEqual({
      'refused (connect)': 3,
      'timeout (connect)': 1,
      'timeout (handshake)': 1,
      'timeout (getaddr)': 1,
    });
    expect(failureLabel({ reason: 'not-dialled', detail: '' })).toBe('not-dialled');
    // The crawl closed every connection it opened.
    expect(c.node.current.peers).toHaveLength(0);
  });

  it('does not dial the loopback and private addresses a public node hands out', async () => {
    const net = quietNetwork(8);
    const pub = (i: number) => `${20 + i}.0.0.1`;
    // A public node that points the crawler at the operator's own network, and one real peer.
    engineNode(net, {
      ip: pub(0),
      setup: (engine) => {
        engine.listen();
        runAddrBookNode(engine, [
          '127.0.0.1:22',
          '10.1.2.3:8333',
          '192.168.1.1:80',
          '169.254.169.254:80',
          `${pub(1)}:${PORT}`,
        ]);
      },
    });
    engineNode(net, {
      ip: pub(1),
      setup: (engine) => {
        engine.listen();
        runAddrBookNode(engine, [`${pub(0)}:${PORT}`]);
      },
    });
    const c = crawlerNode(net, pub(9));
    const stats = await settle(net, () => c.crawler().run([`${pub(0)}:${PORT}`]));
    expect([...c.results.keys()].sort()).toEqual([`${pub(0)}:${PORT}`, `${pub(1)}:${PORT}`]);
    expect(stats.unroutable).toBe(4);
    expect([...c.dials.keys()].sort()).toEqual([`${pub(0)}:${PORT}`, `${pub(1)}:${PORT}`]);
  });

  it('leaves alone a connection someone else holds on its Engine', async () => {
    const net = quietNetwork(9);
    engineNode(net, {
      ip: nodeIp(0),
      setup: (engine) => {
        engine.listen();
        runAddrBookNode(engine, []);
      },
    });
    const c = crawlerNode(net, '10.100.0.2');
    const engine = c.node.current;
    engine.connect(at(0), { persistent: true });
    await net.runUntil(() => engine.readyPeers.length === 1, { maxTimeMs: 10_000 });
    await settle(net, () => c.crawler().run([at(0)]));
    expect(c.results.get(at(0))?.failure).toMatchObject({ reason: 'local', stage: 'connect' });
    await net.runFor(5_000);
    expect(engine.readyPeers.map((p) => p.address)).toEqual([at(0)]);
  });

  it('keeps to its concurrency and its node bound', async () => {
    const net = quietNetwork(4);
    const N = 40;
    for (let i = 0; i < N; i++) {
      const book = [1, 2, 3, 4, 5, 6].map((k) => at((i + k * 7) % N));
      engineNode(net, {
        ip: nodeIp(i),
        setup: (engine) => {
          engine.listen();
          runAddrBookNode(engine, book);
        },
      });
    }
    let busiest = 0;
    const c = crawlerNode(net, '10.100.0.1', { concurrency: 3, maxNodes: 25, addrWindowMs: 50 });
    c.node.current.on('connected', () => {
      busiest = Math.max(busiest, c.crawler().stats.inFlight);
    });
    const stats = await settle(net, () => c.crawler().run([at(0)]));
    expect(busiest).toBe(3);
    expect(stats.dialled).toBe(25);
    expect(stats.reachable).toBe(25);
    expect(stats.overLimit).toBeGreaterThan(0);
    expect(c.results.size).toBe(25);
  });

  it('takes at most maxAddressesPerNode from one node, and skips port 0', async () => {
    const net = quietNetwork(7);
    const book = ['10.50.0.1:0', ...Array.from({ length: 30 }, (_, k) => at(k + 1))];
    for (let i = 0; i <= 30; i++) {
      engineNode(net, {
        ip: nodeIp(i),
        setup: (engine) => {
          engine.listen();
          runAddrBookNode(engine, i === 0 ? book : []);
        },
      });
    }
    const c = crawlerNode(net, '10.100.0.1', { maxAddressesPerNode: 11, addrWindowMs: 50 });
    const stats = await settle(net, () => c.crawler().run([at(0)]));
    expect(c.results.get(at(0))).toMatchObject({ addresses: 11, newAddresses: 10 });
    expect(stats).toMatchObject({ dialled: 11, invalid: 1, learnt: 10 });
    expect([...c.results.keys()].sort()).toEqual(
      Array.from({ length: 11 }, (_, k) => at(k)).sort(),
    );
  });

  it('stop() ends the crawl at once, every node in flight reported as stopped', async () => {
    const net = quietNetwork(5);
    for (let i = 0; i < 4; i++) {
      engineNode(net, { ip: nodeIp(i), setup: (engine) => engine.listen() });
    }
    const c = crawlerNode(net, '10.100.0.1', { concurrency: 2 });
    let done = false;
    void c
      .crawler()
      .run([0, 1, 2, 3].map(at))
      .then(() => {
        done = true;
      });
    // Nobody answers getaddr here: both first nodes wait in that stage.
    await net.runFor(1_000);
    // Reachable counts finished nodes: these two are still in flight.
    expect(c.crawler().stats).toMatchObject({ inFlight: 2, queued: 2, reachable: 0 });
    c.crawler().stop();
    await net.runUntil(() => done, { maxTimeMs: 1 });
    expect([...c.results.values()].every((r) => r.reachable)).toBe(true);
    expect([...c.results.values()].map((r) => r.failure)).toEqual([
      { reason: 'stopped', stage: 'getaddr', detail: 'the crawl was stopped' },
      { reason: 'stopped', stage: 'getaddr', detail: 'the crawl was stopped' },
    ]);
  });

  it('ends when its engine closes mid-crawl', async () => {
    const net = quietNetwork(6);
    for (let i = 0; i < 4; i++) {
      engineNode(net, { ip: nodeIp(i), setup: (engine) => engine.listen() });
    }
    const c = crawlerNode(net, '10.100.0.1', { concurrency: 2 });
    let stats: CrawlStats | undefined;
    void c
      .crawler()
      .run([0, 1, 2, 3].map(at))
      .then((s) => {
        stats = s;
      });
    await net.runFor(1_000);
    void c.node.current.close();
    await net.runUntil(() => stats !== undefined, { maxTimeMs: 10_000 });
    expect(stats).toMatchObject({ dialled: 2, reachable: 2, inFlight: 0, queued: 0 });
    expect(c.results.size).toBe(2);
    for (const r of c.results.values()) expect(r.failure?.stage).toBe('getaddr');
  });

  it('maps a 1,000-node network where each node knows six others: ≥ 99 % of listening nodes', async () => {
    const started = performance.now();
    const net = new SimNetwork({
      seed: 11,
      profile: 'none',
      faults: { latencyMinMs: 5, latencyMaxMs: 80 },
    });
    const { listening, results, stats } = await crawlThousand(net);
    const found = [...listening].filter((i) => results.get(at(i))?.reachable).length;
    expect(found / listening.size).toBeGreaterThanOrEqual(0.99);
    expect(stats.reachable).toBe(found);
    for (const r of results.values()) {
      const [, hi, lo] = r.address.split('.').map(Number);
      if (!listening.has(((hi as number) - 1) * 256 + (lo as number)))
        expect(r.failure).toMatchObject({ reason: 'refused', stage: 'connect' });
    }
    console.log(
      `crawl of 1,000 nodes: ${found}/${listening.size} listening nodes found in ` +
        `${(net.now() / 1000).toFixed(1)} virtual s, ${((performance.now() - started) / 1000).toFixed(1)} s wall`,
    );
  }, 300_000);

  it('under the default faults, one retry keeps the map ≥ 95 % complete', async () => {
    // Refused and hanging connects, resets, FINs, half-open links, bit flips,
    // partitions, clogs; not crashes (a crashed crawler has nothing to report).
    const net = new SimNetwork({ seed: 11, profile: 'default', faults: { crashPerSecondP: 0 } });
    const { listening, results, stats } = await crawlThousand(net);
    const found = [...listening].filter((i) => results.get(at(i))?.reachable).length;
    expect(stats.retried).toBeGreaterThan(0);
    expect(found / listening.size).toBeGreaterThanOrEqual(0.95);
    const counters = net.counters();
    expect(counters['fault.connect-refused']).toBeGreaterThan(0);
    expect(counters['fault.connect-hang']).toBeGreaterThan(0);
    console.log(
      `under faults: ${found}/${listening.size} listening nodes, ${stats.retried} retries`,
    );
  }, 300_000);
});

/**
 * 1,000 address-book nodes, one in twenty not listening, each knowing six
 * random others, crawled from the first listening one.
 */
async function crawlThousand(net: SimNetwork) {
  const N = 1_000;
  const listening = new Set<number>();
  for (let i = 0; i < N; i++) {
    const listens = net.world.randomU32('listens') % 20 !== 0;
    if (listens) listening.add(i);
    const book: string[] = [];
    while (book.length < 6) {
      const p = net.world.randomU32('books') % N;
      if (p !== i && !book.includes(at(p))) book.push(at(p));
    }
    net.addEngine({
      network: 'regtest',
      ip: nodeIp(i),
      setup: (engine: Engine) => {
        if (listens) engine.listen();
        runAddrBookNode(engine, book);
      },
    });
  }
  const seed = [...listening][0] as number;
  const c = crawlerNode(net, '10.100.0.1', { concurrency: 32, addrWindowMs: 200 });
  const stats = await settle(net, () => c.crawler().run([at(seed)]));
  return { listening, results: c.results, stats };
}

describe('CrawlTally', () => {
  it('bounds its user agents and protocol versions, whatever the peers claim', () => {
    const tally = new CrawlTally();
    const n = MAX_VERSION_KEYS + MAX_AGENT_KEYS + 500;
    for (let i = 0; i < n; i++) {
      tally.add({
        address: `10.0.0.1:${i + 1}`,
        network: 'ipv4',
        source: 'seed',
        dialled: true,
        reachable: true,
        protocolVersion: 70_016 + (i % (MAX_VERSION_KEYS + 700)),
        userAgent: `/agent:${i}/`,
      } as CrawlResult);
    }
    expect(tally.reachable).toBe(n);
    expect(tally.versions.size).toBe(MAX_VERSION_KEYS + 1);
    expect(tally.userAgents.size).toBe(MAX_AGENT_KEYS + 1);
    // Every node counted once; known versions still counted by name after the cap.
    const sum = (m: Map<unknown, number>) => [...m.values()].reduce((a, b) => a + b, 0);
    expect(sum(tally.versions)).toBe(n);
    expect(sum(tally.userAgents)).toBe(n);
    expect(tally.versions.get(70_016)).toBe(2);
    // Versions cycle through MAX + 700 values: the 700 past the cap, once each.
    expect(tally.versions.get(OTHER_VERSIONS)).toBe(700);
    expect(tally.userAgents.get(OTHER_AGENTS)).toBe(n - MAX_AGENT_KEYS);
  });
});
