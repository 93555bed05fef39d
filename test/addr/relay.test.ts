// Address relay (ts/addr/relay.ts) on the simulated network, with exact virtual
// times where timing matters, and on a fake transport where the simulator cannot
// go (IPv6 peers, peers without addrv2).
import { describe, expect, it } from 'vitest';
import {
  type AdvertisedAddress,
  formatAddress,
  fromAddrEntry,
  fromAddrV2Entry,
  toAddrV2Entry,
} from '../../ts/addr/address.js';
import { AddressManager } from '../../ts/addr/addrman.js';
import {
  ADDR_RELAY_DEFAULTS,
  AddressRelay,
  type AddressRelayOptions,
  KnownAddressFilter,
} from '../../ts/addr/relay.js';
import { ManualClock } from '../../ts/engine/clock.js';
import { Engine } from '../../ts/engine/engine.js';
import type { Peer } from '../../ts/engine/peer.js';
import type { SimNetwork, SimNode } from '../../ts/sim/index.js';
import type { AddrV2Entry, Message } from '../../ts/wire/types.js';
import { FakeTransport } from '../helpers/fake-transport.js';
import { versionMessage } from '../helpers/messages.js';
import { addressOf, engineNode, quietNetwork } from '../helpers/sim.js';

const HOUR = 3_600_000;

/** Virtual ms, at the simulator's microsecond resolution. */
const micros = (ms: number) => Math.round(ms * 1000) / 1000;

interface Subject {
  node: SimNode<Engine>;
  relay: () => AddressRelay;
  addrman: () => AddressManager;
}

/** A listening Engine with an AddressManager and an AddressRelay on its clock. */
function relayNode(net: SimNetwork, options: AddressRelayOptions = {}): Subject {
  let relay: AddressRelay | undefined;
  let addrman: AddressManager | undefined;
  const node = engineNode(net, {
    setup: (engine) => {
      engine.listen();
      addrman = new AddressManager({ clock: engine.clock });
      relay = new AddressRelay(engine, addrman, options);
    },
  });
  return {
    node,
    relay: () => relay as AddressRelay,
    addrman: () => addrman as AddressManager,
  };
}

interface Received {
  at: number;
  peer: Peer;
  command: 'addr' | 'addrv2';
  addresses: string[];
}

/** Every addr/addrv2 and getaddr an Engine receives, stamped with virtual time. */
function inbox(net: SimNetwork, engine: Engine) {
  const addrs: Received[] = [];
  const getaddrs: { at: number; peer: Peer }[] = [];
  engine.on('addr', (peer, p) =>
    addrs.push({
      at: net.now(),
      peer,
      command: 'addr',
      addresses: p.addresses.map((e) => formatAddress(fromAddrEntry(e))),
    }),
  );
  engine.on('addrv2', (peer, p) =>
    addrs.push({
      at: net.now(),
      peer,
      command: 'addrv2',
      addresses: p.addresses.map((e) => formatAddress(fromAddrV2Entry(e))),
    }),
  );
  engine.on('getaddr', (peer) => getaddrs.push({ at: net.now(), peer }));
  const seen = (address: string) => addrs.filter((r) => r.addresses.includes(address));
  return { addrs, getaddrs, seen };
}

/** What a node's transport sent, by command, with virtual times. */
function sendLog(net: SimNetwork, node: SimNode<Engine>) {
  const sent: { at: number; peer: number; command: string }[] = [];
  const transport = node.transport;
  const send = transport.send.bind(transport);
  transport.send = (peer, command, payload) => {
    sent.push({ at: net.now(), peer, command });
    return send(peer, command, payload);
  };
  return sent;
}

/** `from` dials `to`; resolves with the peer handle on each side once both are ready. */
async function link(
  net: SimNetwork,
  from: SimNode<Engine>,
  to: SimNode<Engine>,
  options: { relay?: boolean } = {},
): Promise<{ out: Peer; in: Peer }> {
  const target = addressOf(to);
  from.current.connect(target, options);
  let out: Peer | undefined;
  let back: Peer | undefined;
  await net.runUntil(
    () => {
      out = from.current.readyPeers.find((p) => p.address === target);
      back = to.current.readyPeers.find((p) => p.address.startsWith(`${from.ip}:`));
      return out !== undefined && back !== undefined;
    },
    { maxTimeMs: 10_000 },
  );
  return { out: out as Peer, in: back as Peer };
}

/** Unix seconds on an engine's clock. */
const nowSeconds = (engine: Engine) => Math.floor(engine.clock.now() / 1000);

/** A routable IPv4 address as an addrv2 entry (a full node's services). */
function v4(a: number, b: number, c: number, d: number, time: number): AddrV2Entry {
  return {
    time,
    services: 9n,
    networkId: 1,
    address: Uint8Array.of(a, b, c, d),
    port: 8333,
  };
}

/** The i-th of many routable addresses, each in its own /16. */
function spread(i: number, time: number): AdvertisedAddress {
  return {
    network: 'ipv4',
    bytes: Uint8Array.of(20 + (i >> 8), i & 0xff, 7, 7),
    port: 8333,
    time,
    services: 9n,
  };
}

/** Fills an address manager with `n` addresses, each from its own source group. */
function fill(addrman: AddressManager, n: number, time: number, from = 0): void {
  for (let i = from; i < from + n; i++) {
    addrman.add([spread(i, time)], {
      network: 'ipv4',
      bytes: Uint8Array.of(120 + (i >> 8), i & 0xff, 1, 1),
    });
  }
}

const addrv2 = (addresses: AddrV2Entry[]): Message => ({
  command: 'addrv2',
  payload: { addresses },
});
const GETADDR: Message = { command: 'getaddr', payload: {} };

describe('getaddr answers', () => {
  it('are sent once per connection, at once, to inbound peers only, with 23 % of the table', async () => {
    const net = quietNetwork(301);
    const a = relayNode(net);
    fill(a.addrman(), 100, nowSeconds(a.node.current));
    const size = a.addrman().size();
    expect(size).toBeGreaterThan(90);
    const aSent = sendLog(net, a.node);
    const aGetaddrAt: number[] = [];
    a.node.current.on('getaddr', () => aGetaddrAt.push(net.now()));

    const b = engineNode(net);
    const bIn = inbox(net, b.current);
    const ab = await link(net, b, a.node);
    ab.out.send(GETADDR);
    ab.out.send(GETADDR);
    await net.runFor(1_000);

    expect(bIn.addrs).toHaveLength(1);
    expect(bIn.addrs[0]?.command).toBe('addrv2');
    expect(bIn.addrs[0]?.addresses).toHaveLength(Math.floor((size * 23) / 100));
    expect(new Set(bIn.addrs[0]?.addresses).size).toBe(Math.floor((size * 23) / 100));
    // Answered in the same instant the request arrived (the peer's first addr round).
    const answer = aSent.find((s) => s.peer === ab.in.id && s.command === 'addrv2');
    expect(aGetaddrAt).toHaveLength(1);
    expect(answer?.at).toBe(aGetaddrAt[0]);
    // An inbound peer is never asked.
    expect(bIn.getaddrs).toHaveLength(0);
    expect(a.relay().stats()).toMatchObject({ answered: 1, getaddrIgnored: 0, getaddrSent: 0 });

    // Outbound: we ask once, and ignore its getaddr.
    const c = engineNode(net, { setup: (e) => e.listen() });
    const cIn = inbox(net, c.current);
    const ac = await link(net, a.node, c);
    await net.runFor(1_000);
    expect(cIn.getaddrs.map((g) => g.peer.id)).toEqual([ac.in.id]);
    ac.in.send(GETADDR);
    await net.runFor(60_000);
    expect(cIn.addrs).toHaveLength(0);
    expect(a.relay().stats()).toMatchObject({ answered: 1, getaddrIgnored: 1, getaddrSent: 1 });

    // Block-relay-only: not asked, and its addresses are ignored.
    const d = engineNode(net, { setup: (e) => e.listen() });
    const dIn = inbox(net, d.current);
    const ad = await link(net, a.node, d, { relay: false });
    ad.in.send(addrv2([v4(8, 8, 8, 8, nowSeconds(d.current))]));
    await net.runFor(1_000);
    expect(dIn.getaddrs).toHaveLength(0);
    expect(a.relay().stats()).toMatchObject({ getaddrSent: 1, ignoredMessages: 1, received: 0 });
    expect(a.addrman().info(fromAddrV2Entry(v4(8, 8, 8, 8, 0)))).toBeUndefined();
  });

  it('hold at most 1,000 addresses however large the table', async () => {
    const net = quietNetwork(302);
    const a = relayNode(net);
    fill(a.addrman(), 5_000, nowSeconds(a.node.current));
    expect(a.addrman().size() * 0.23).toBeGreaterThan(1_000);
    const b = engineNode(net);
    const bIn = inbox(net, b.current);
    const ab = await link(net, b, a.node);
    ab.out.send(GETADDR);
    await net.runFor(1_000);
    expect(bIn.addrs).toHaveLength(1);
    expect(bIn.addrs[0]?.addresses).toHaveLength(ADDR_RELAY_DEFAULTS.maxAddrToSend);
  });

  it('are cached 21-27 hours: the same answer until the cache expires, then a fresh one', async () => {
    const net = quietNetwork(303);
    const a = relayNode(net);
    const engineA = a.node.current;
    fill(a.addrman(), 100, nowSeconds(engineA));

    const ask = async (): Promise<string[]> => {
      const b = engineNode(net);
      const bIn = inbox(net, b.current);
      const ab = await link(net, b, a.node);
      ab.out.send(GETADDR);
      await net.runUntil(() => bIn.addrs.length === 1, { maxTimeMs: 1_000 });
      ab.out.disconnect('done');
      await net.runFor(100);
      return bIn.addrs[0]?.addresses ?? [];
    };

    const first = await ask();
    const answeredAt = engineA.clock.now();
    const expires = a.relay().cacheExpiresAt('ipv4') as number;
    expect(expires - answeredAt).toBeGreaterThanOrEqual(21 * HOUR - 1_000);
    expect(expires - answeredAt).toBeLessThanOrEqual(27 * HOUR);
    expect(a.relay().cacheExpiresAt('ipv6')).toBeUndefined();

    // The table doubles; a new connection still gets the cached answer.
    fill(a.addrman(), 100, nowSeconds(engineA), 100);
    expect(await ask()).toEqual(first);

    // Just before expiry: still cached (the request lands within a few ms).
    await net.runFor(expires - engineA.clock.now() - 60_000);
    expect(await ask()).toEqual(first);
    expect(engineA.clock.now()).toBeLessThan(expires);

    // Past expiry: rebuilt from the bigger table.
    await net.runFor(expires - engineA.clock.now() + 1);
    const fresh = await ask();
    expect(fresh).toHaveLength(Math.floor((a.addrman().size() * 23) / 100));
    expect(fresh.length).toBeGreaterThan(first.length);
    expect(a.relay().cacheExpiresAt('ipv4')).toBeGreaterThan(expires);
    expect(a.relay().stats().answered).toBe(4);
  });
});

describe('getaddr answers on a fake transport', () => {
  const verack: Message = { command: 'verack', payload: {} };

  function setup() {
    const clock = new ManualClock({ seed: 11 });
    const transport = new FakeTransport();
    const engine = new Engine({ network: 'regtest', clock, transport });
    const addrman = new AddressManager({ clock });
    const relay = new AddressRelay(engine, addrman);
    /** An inbound peer from `remote`; `v2` sends sendaddrv2 in its handshake. */
    const inbound = (id: number, remote: string, v2: boolean) => {
      transport.inbound(id, remote);
      transport.deliver(id, versionMessage({ nonce: BigInt(id) }));
      if (v2) transport.deliver(id, { command: 'sendaddrv2', payload: {} });
      transport.deliver(id, verack);
      transport.deliver(id, GETADDR);
      const answers = transport.sentTo(id).filter((s) => s.command.startsWith('addr'));
      expect(answers).toHaveLength(1);
      const m = answers[0]?.message as Message;
      const list =
        m.command === 'addrv2'
          ? m.payload.addresses.map((e) => formatAddress(fromAddrV2Entry(e)))
          : m.command === 'addr'
            ? m.payload.addresses.map((e) => formatAddress(fromAddrEntry(e)))
            : [];
      return { command: m.command, list };
    };
    return { clock, engine, addrman, relay, inbound };
  }

  it('keeps one cache per network the requester came over', () => {
    const t = setup();
    fill(t.addrman, 200, Math.floor(t.clock.now() / 1000));
    const v4a = t.inbound(201, '1.2.3.4:50001', true);
    const v6a = t.inbound(202, '[2001:4860::1]:50002', true);
    const v4b = t.inbound(203, '5.6.7.8:50003', true);
    const v6b = t.inbound(204, '[2a00:1450::2]:50004', true);
    expect(v4a.list).toHaveLength(46);
    expect(v4b.list).toEqual(v4a.list);
    expect(v6b.list).toEqual(v6a.list);
    // Two independent draws of 46 from 200 (a shared cache would make them equal).
    expect(v6a.list).not.toEqual(v4a.list);
    expect(t.relay.cacheExpiresAt('ipv6')).toBeDefined();
    expect(t.relay.stats().answered).toBe(4);
  });

  it('sends addr to peers without addrv2, leaving out what addr cannot carry', () => {
    const t = setup();
    const now = Math.floor(t.clock.now() / 1000);
    fill(t.addrman, 50, now);
    const onions: AdvertisedAddress[] = [];
    for (let i = 0; i < 50; i++) {
      const bytes = new Uint8Array(32).fill(i + 1);
      onions.push({ network: 'onion', bytes, port: 8333, time: now, services: 9n });
      t.addrman.add([onions[i] as AdvertisedAddress], {
        network: 'ipv4',
        bytes: Uint8Array.of(150, i, 1, 1),
      });
    }
    expect(t.addrman.size('onion')).toBeGreaterThan(40);
    const v2 = t.inbound(201, '1.2.3.4:50001', true);
    const v1 = t.inbound(202, '5.6.7.8:50002', false);
    expect(v2.command).toBe('addrv2');
    expect(v1.command).toBe('addr');
    expect(v2.list.some((s) => s.endsWith('.onion:8333'))).toBe(true);
    expect(v1.list).toEqual(v2.list.filter((s) => !s.includes('.onion')));
  });
});

describe('incoming addresses', () => {
  it('pass a token bucket of 0.1/s (burst 1,000, starting at 1); the rest are counted and dropped', async () => {
    const net = quietNetwork(304);
    const a = relayNode(net);
    const engineA = a.node.current;
    const arrivals: number[] = [];
    engineA.on('addrv2', () => arrivals.push(engineA.clock.now()));
    const b = engineNode(net);
    const ab = await link(net, b, a.node);
    const batch = (n: number, base: number) =>
      Array.from({ length: n }, (_, i) => toAddrV2Entry(spread(base + i, nowSeconds(b.current))));

    ab.out.send(addrv2(batch(1_000, 0) as AddrV2Entry[]));
    await net.runUntil(() => arrivals.length === 1, { maxTimeMs: 1_000 });
    expect(a.relay().stats()).toMatchObject({ received: 1, rateLimited: 999 });

    // 100 s later the bucket has refilled by exactly 10 (sent 100 s after it was emptied).
    await net.runFor((arrivals[0] as number) + 100_000 - engineA.clock.now());
    const twenty = batch(20, 2_000) as AddrV2Entry[];
    ab.out.send(addrv2(twenty));
    await net.runUntil(() => arrivals.length === 2, { maxTimeMs: 1_000 });
    const elapsed = (arrivals[1] as number) - (arrivals[0] as number);
    expect(Math.floor(elapsed / 10_000)).toBe(10);
    expect(a.relay().stats()).toMatchObject({ received: 11, rateLimited: 1_009 });
    // Those taken are in the table, with Core's 2-hour penalty on their time.
    const kept = twenty.filter((e) => a.addrman().info(fromAddrV2Entry(e)));
    expect(kept).toHaveLength(10);
    expect(a.addrman().info(fromAddrV2Entry(kept[0] as AddrV2Entry))?.time).toBe(
      (kept[0]?.time as number) - 7_200,
    );

    // Hours later the bucket is full, but holds no more than 1,000.
    await net.runFor(3 * HOUR);
    ab.out.send(addrv2(batch(1_000, 3_000) as AddrV2Entry[]));
    ab.out.send(addrv2(batch(5, 5_000) as AddrV2Entry[]));
    await net.runUntil(() => arrivals.length === 4, { maxTimeMs: 1_000 });
    expect(a.relay().stats()).toMatchObject({ received: 1_011, rateLimited: 1_014 });
  });

  it('take a solicited getaddr answer of 1,000 in full, and relay none of it', async () => {
    const net = quietNetwork(305);
    const a = relayNode(net);
    // c answers a's getaddr with 1,000 fresh addresses.
    const c = engineNode(net, {
      setup: (e) => {
        e.listen();
        e.on('getaddr', (peer) => {
          const now = Math.floor(e.clock.now() / 1000);
          const all = Array.from({ length: 1_000 }, (_, i) => toAddrV2Entry(spread(i, now)));
          peer.send(addrv2(all as AddrV2Entry[]));
        });
      },
    });
    const others = [
      engineNode(net, { setup: (e) => e.listen() }),
      engineNode(net, { setup: (e) => e.listen() }),
    ];
    const inboxes = others.map((o) => inbox(net, o.current));
    for (const o of others) await link(net, a.node, o);
    await link(net, a.node, c);
    await net.runUntil(() => a.relay().stats().received === 1_000, { maxTimeMs: 2_000 });
    await net.runFor(10 * 60_000);
    expect(a.relay().stats()).toMatchObject({ received: 1_000, rateLimited: 0, relayed: 0 });
    for (const box of inboxes) expect(box.addrs).toHaveLength(0);
  });

  it('replace times more than 10 minutes ahead with 5 days ago, and do not relay them', async () => {
    const net = quietNetwork(306);
    const a = relayNode(net);
    const c = engineNode(net, { setup: (e) => e.listen() });
    const cIn = inbox(net, c.current);
    await link(net, a.node, c);
    const b = engineNode(net);
    const ab = await link(net, b, a.node);
    const future = v4(8, 8, 4, 4, nowSeconds(b.current) + 3_600);
    ab.out.send(addrv2([future]));
    await net.runUntil(() => a.relay().stats().received === 1, { maxTimeMs: 1_000 });
    const now = nowSeconds(a.node.current);
    expect(a.addrman().info(fromAddrV2Entry(future))?.time).toBe(now - 5 * 86_400 - 7_200);
    await net.runFor(10 * 60_000);
    expect(a.relay().stats().relayed).toBe(0);
    expect(cIn.addrs).toHaveLength(0);
  });
});

describe('relay of fresh addresses', () => {
  /** a with `n` outbound peers (plain Engines), and an inbound sender b. */
  async function star(seed: number, n: number, options: AddressRelayOptions = {}) {
    const net = quietNetwork(seed);
    const a = relayNode(net, options);
    const peers = Array.from({ length: n }, () => engineNode(net, { setup: (e) => e.listen() }));
    const boxes = peers.map((p) => inbox(net, p.current));
    for (const p of peers) await link(net, a.node, p);
    const b = engineNode(net);
    const bIn = inbox(net, b.current);
    const ab = await link(net, b, a.node);
    const arrivals: number[] = [];
    a.node.current.on('addrv2', (peer) => {
      if (peer.id === ab.in.id) arrivals.push(net.now());
    });
    return { net, a, b, ab, boxes, bIn, arrivals };
  }

  it('sends a fresh address to exactly 2 peers, trickled, never back to the sender, once', async () => {
    const s = await star(307, 5);
    const x = v4(8, 8, 8, 8, nowSeconds(s.b.current));
    const text = formatAddress(fromAddrV2Entry(x));
    s.ab.out.send(addrv2([x]));
    await s.net.runFor(5 * 60_000);
    const got = s.boxes.filter((box) => box.seen(text).length > 0);
    expect(got).toHaveLength(2);
    for (const box of got) {
      expect(box.seen(text)).toHaveLength(1);
      // Trickled: never in the instant it arrived.
      expect(box.seen(text)[0]?.at).toBeGreaterThan(s.arrivals[0] as number);
    }
    expect(s.bIn.seen(text)).toHaveLength(0);
    expect(s.a.relay().stats().relayed).toBe(2);

    // Sent again (once its bucket has a token): the same peers are chosen today,
    // and they already know it.
    await s.net.runFor(10_000);
    s.ab.out.send(addrv2([x]));
    await s.net.runFor(5 * 60_000);
    expect(s.a.relay().stats().received).toBe(2);
    expect(s.a.relay().stats().relayed).toBe(2);
    expect(s.boxes.flatMap((box) => box.seen(text))).toHaveLength(2);
  });

  it('sends an address of a network we cannot reach to 1 or 2 peers', async () => {
    const s = await star(308, 5);
    const onion: AddrV2Entry = {
      time: nowSeconds(s.b.current),
      services: 9n,
      networkId: 4,
      address: new Uint8Array(32).fill(0x5a),
      port: 8333,
    };
    const text = formatAddress(fromAddrV2Entry(onion));
    s.ab.out.send(addrv2([onion]));
    await s.net.runFor(5 * 60_000);
    const got = s.boxes.filter((box) => box.seen(text).length > 0).length;
    expect(got).toBeGreaterThanOrEqual(1);
    expect(got).toBeLessThanOrEqual(2);
    expect(s.a.relay().stats().relayed).toBe(got);
    expect(s.bIn.seen(text)).toHaveLength(0);
    // Kept in the table though we cannot dial it ourselves.
    expect(s.a.addrman().size('onion')).toBe(1);
  });

  it('relays to nobody when the sender is the only addr-relay peer', async () => {
    const s = await star(309, 0);
    s.ab.out.send(addrv2([v4(8, 8, 8, 8, nowSeconds(s.b.current))]));
    await s.net.runFor(5 * 60_000);
    expect(s.a.relay().stats()).toMatchObject({ received: 1, relayed: 0 });
    expect(s.bIn.addrs).toHaveLength(0);
  });

  it('batches what arrives between ticks into one message per peer', async () => {
    const s = await star(310, 2);
    // Both reachable addresses go to both peers (2 relay targets, 2 candidates).
    await s.net.runFor(10_000);
    const now = nowSeconds(s.b.current);
    s.ab.out.send(addrv2([v4(8, 8, 8, 8, now)]));
    s.ab.out.send(addrv2([v4(9, 9, 9, 9, now)]));
    await s.net.runFor(5 * 60_000);
    for (const box of s.boxes) {
      expect(box.addrs).toHaveLength(1);
      expect([...(box.addrs[0]?.addresses ?? [])].sort()).toEqual(['8.8.8.8:8333', '9.9.9.9:8333']);
    }
  });

  it('does not relay old addresses, nor those of messages of more than 10', async () => {
    const s = await star(311, 3);
    // Enough tokens for all of it.
    await s.net.runFor(200_000);
    const now = nowSeconds(s.b.current);
    s.ab.out.send(addrv2([v4(8, 8, 8, 8, now - 11 * 60)]));
    const eleven = Array.from({ length: 11 }, (_, i) => v4(8, 8, 9, i + 1, now));
    s.ab.out.send(addrv2(eleven));
    await s.net.runFor(5 * 60_000);
    expect(s.a.relay().stats()).toMatchObject({ received: 12, rateLimited: 0, relayed: 0 });
    for (const box of s.boxes) expect(box.addrs).toHaveLength(0);
    // Ten fresh ones in one message are relayed.
    const ten = Array.from({ length: 10 }, (_, i) => v4(8, 8, 10, i + 1, nowSeconds(s.b.current)));
    s.ab.out.send(addrv2(ten));
    await s.net.runFor(5 * 60_000);
    expect(s.a.relay().stats().relayed).toBe(20);
  });

  it('does not relay a getaddr answer, however short, but relays what follows it', async () => {
    const net = quietNetwork(312);
    const a = relayNode(net);
    const c = engineNode(net, {
      setup: (e) => {
        e.listen();
        e.on('getaddr', (peer) => {
          const now = Math.floor(e.clock.now() / 1000);
          peer.send(addrv2([v4(8, 8, 8, 1, now), v4(8, 8, 8, 2, now)]));
        });
      },
    });
    const d = engineNode(net, { setup: (e) => e.listen() });
    const dIn = inbox(net, d.current);
    await link(net, a.node, d);
    const ac = await link(net, a.node, c);
    await net.runFor(5 * 60_000);
    expect(a.relay().stats()).toMatchObject({ received: 2, relayed: 0 });
    expect(dIn.addrs).toHaveLength(0);
    // The answer (shorter than 1,000) ended the getaddr: c's next address is news.
    ac.in.send(addrv2([v4(8, 8, 8, 3, nowSeconds(c.current))]));
    await net.runFor(5 * 60_000);
    expect(a.relay().stats()).toMatchObject({ received: 3, relayed: 1 });
    expect(dIn.seen('8.8.8.3:8333')).toHaveLength(1);
  });

  it('caps what waits for one peer', async () => {
    const s = await star(313, 1, { maxPending: 3 });
    await s.net.runFor(60_000);
    const now = nowSeconds(s.b.current);
    s.ab.out.send(addrv2(Array.from({ length: 5 }, (_, i) => v4(8, 8, 8, i + 1, now))));
    await s.net.runUntil(() => s.a.relay().stats().received === 5, { maxTimeMs: 1_000 });
    const onlyPeer = s.a.node.current.readyPeers.find((p) => !p.inbound) as Peer;
    expect(s.a.relay().pendingFor(onlyPeer)).toBe(3);
    await s.net.runFor(5 * 60_000);
    expect(s.boxes[0]?.addrs).toHaveLength(1);
    expect(s.boxes[0]?.addrs[0]?.addresses).toHaveLength(3);
  });
});

describe('self-announcement', () => {
  it('announces a routable local address at the handshake, then about daily', async () => {
    const net = quietNetwork(314);
    const a = relayNode(net, { localAddress: '8.8.4.4:18444' });
    const aSent = sendLog(net, a.node);
    const c = engineNode(net, { setup: (e) => e.listen() });
    const cIn = inbox(net, c.current);
    const aHandshakes: number[] = [];
    a.node.current.on('handshake', () => aHandshakes.push(net.now()));
    const ac = await link(net, a.node, c);
    await net.runFor(1_000);
    expect(cIn.seen('8.8.4.4:18444')).toHaveLength(1);
    const first = aSent.find((x) => x.peer === ac.out.id && x.command === 'addrv2');
    expect(first?.at).toBe(micros(aHandshakes[0] as number));
    await net.runFor(5 * 24 * HOUR);
    const count = cIn.seen('8.8.4.4:18444').length;
    expect(count).toBeGreaterThanOrEqual(3);
    expect(count).toBeLessThanOrEqual(12);
    expect(a.relay().stats().selfAnnounced).toBe(count);
  });

  it('does not announce an unroutable one', async () => {
    const net = quietNetwork(315);
    const a = relayNode(net, { localAddress: '10.1.2.3:18444' });
    expect(a.relay().localAddress).toBeUndefined();
    const c = engineNode(net, { setup: (e) => e.listen() });
    const cIn = inbox(net, c.current);
    await link(net, a.node, c);
    await net.runFor(26 * HOUR);
    expect(cIn.addrs).toHaveLength(0);
  });
});

describe('KnownAddressFilter', () => {
  const addr = (i: number) => ({
    network: 'ipv4' as const,
    bytes: Uint8Array.of(8, 8, 0, i),
    port: 8333,
  });

  it('remembers up to its capacity, forgetting the oldest half first', () => {
    const f = new KnownAddressFilter(4, 99);
    for (let i = 1; i <= 4; i++) f.add(addr(i));
    expect([1, 2, 3, 4].map((i) => f.has(addr(i)))).toEqual([true, true, true, true]);
    f.add(addr(5));
    expect(f.size).toBeLessThanOrEqual(4);
    expect([1, 2, 3, 4, 5].map((i) => f.has(addr(i)))).toEqual([false, false, true, true, true]);
    for (let i = 6; i < 1_000; i++) f.add(addr(i % 256));
    expect(f.size).toBeLessThanOrEqual(4);
    f.clear();
    expect(f.size).toBe(0);
  });
});
