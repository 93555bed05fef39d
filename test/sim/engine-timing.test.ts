// The Engine's timeouts on the simulated network: handshake and ping timeouts,
// keepalive, request timeouts, reconnect backoff and bans expiring. Virtual
// time is exact, so each is asserted to the microsecond, and minutes of it
// pass in milliseconds of wall time. (These replace wall-clock versions that
// waited on real sockets.)
import { describe, expect, it } from 'vitest';
import type { Engine } from '../../ts/engine/engine.js';
import { RequestTimeoutError } from '../../ts/engine/errors.js';
import type { Peer } from '../../ts/engine/peer.js';
import type { SimNetwork, SimNode } from '../../ts/sim/index.js';
import { addressOf, EngineLog, engineNode, quietNetwork, rawNode, settle } from '../helpers/sim.js';

const GETHEADERS = {
  command: 'getheaders' as const,
  payload: { version: 70016, locator: [new Uint8Array(32)], hashStop: new Uint8Array(32) },
};

/** Virtual ms, at microsecond resolution (the simulator's). */
function micros(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Records the virtual time of every dial a node's Engine makes. */
function dialTimes(net: SimNetwork, node: SimNode<Engine>): number[] {
  const times: number[] = [];
  const transport = node.transport;
  const connect = transport.connect.bind(transport);
  transport.connect = (address: string) => {
    times.push(net.now());
    return connect(address);
  };
  return times;
}

async function handshaken(net: SimNetwork, listener: SimNode<Engine>, dialer: SimNode<Engine>) {
  const log = new EngineLog(net, dialer.current);
  dialer.current.connect(addressOf(listener));
  await net.runUntil(() => log.handshakes.length === 1, { maxTimeMs: 10_000 });
  return { peer: log.handshakes[0]?.value as Peer, log };
}

describe('handshake and keepalive timeouts, exactly', () => {
  it('a peer that never sends its version is dropped at exactly handshakeTimeoutMs', async () => {
    const net = quietNetwork(21);
    const silent = rawNode(net);
    const b = engineNode(net, { limits: { handshakeTimeoutMs: 5_000 } });
    const log = new EngineLog(net, b.current);
    b.current.connect(addressOf(silent));
    await net.runUntil(() => log.disconnects.length === 1, { maxTimeMs: 60_000 });
    const connected = log.connected[0]?.at as number;
    const gone = log.disconnects[0];
    expect(gone?.value.info).toMatchObject({ reason: 'handshake-timeout', local: true });
    expect(gone?.at).toBe(micros(connected + 5_000));
    expect(log.handshakes).toHaveLength(0);
  });

  it('a peer that handshakes but never answers a ping is dropped at exactly pingTimeoutMs', async () => {
    const net = quietNetwork(22);
    const mute = rawNode(net, { handshake: true });
    const b = engineNode(net, {
      limits: { pingIntervalMs: 10_000, pingTimeoutMs: 30_000, inactivityTimeoutMs: 3_600_000 },
    });
    const log = new EngineLog(net, b.current);
    b.current.connect(addressOf(mute));
    await net.runUntil(() => log.disconnects.length === 1, { maxTimeMs: 120_000 });
    const ready = log.handshakes[0]?.at as number;
    expect(log.disconnects[0]?.value.info.reason).toBe('ping-timeout');
    expect(log.disconnects[0]?.at).toBe(micros(ready + 30_000));
    // It was pinged once: the next ping waits for an answer that never came.
    const pings = mute.current.frames.filter((f) => f.value.command === 'ping');
    expect(pings).toHaveLength(1);
  });

  it('keepalive: each ping leaves exactly pingIntervalMs after the last pong', async () => {
    const net = quietNetwork(23);
    const limits = { pingIntervalMs: 30_000 };
    const a = engineNode(net, { limits, setup: (e) => e.listen() });
    const b = engineNode(net, { limits });
    const { peer, log } = await handshaken(net, a, b);
    await net.runUntil(() => log.pongs.length === 6, { maxTimeMs: 10 * 60_000 });
    // Equal-sized pings over an unloaded fixed-latency link: every round trip
    // takes the same time, which the engine measured.
    const rtt = peer.minRttMs as number;
    expect(rtt).toBeGreaterThan(0);
    for (let i = 1; i < log.pongs.length; i++) {
      const gap = (log.pongs[i]?.at as number) - (log.pongs[i - 1]?.at as number);
      expect(micros(gap)).toBe(micros(30_000 + rtt));
    }
    expect(peer.connected).toBe(true);
  });
});

describe('request timeouts, exactly', () => {
  it('an unanswered request rejects at requestTimeoutMs plus four round trips, or its own timeout', async () => {
    const net = quietNetwork(24);
    // Engine a has no headers handler: like bcoin at its tip, it never answers.
    const a = engineNode(net, { setup: (e) => e.listen() });
    const b = engineNode(net, { limits: { requestTimeoutMs: 20_000 } });
    const { peer } = await handshaken(net, a, b);
    await net.runUntil(() => peer.rttMs !== undefined, { maxTimeMs: 10_000 });

    const sent = net.now();
    const expected = micros(sent + 20_000 + 4 * (peer.rttMs as number));
    const error = await settle(net, () => peer.request(GETHEADERS)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RequestTimeoutError);
    expect(net.now()).toBe(expected);

    const again = net.now();
    const own = await settle(net, () => peer.request(GETHEADERS, 7_000)).catch((e: unknown) => e);
    expect(own).toBeInstanceOf(RequestTimeoutError);
    expect(net.now()).toBe(micros(again + 7_000));
    expect(peer.connected).toBe(true);
    expect(b.current.pendingRequests()).toEqual([]);
    expect(net.counters()['check.request-settles-in-time']).toBeGreaterThan(0);
  });
});

describe('reconnect backoff, exactly', () => {
  it('a persistent dial to nobody is retried after exactly each announced delay, then given up', async () => {
    const net = quietNetwork(25);
    const b = engineNode(net, {
      reconnect: { baseDelayMs: 1_000, maxDelayMs: 8_000, jitter: 0.2, maxRestarts: 4 },
      setup: (e) => e.connect('10.0.9.9:18444', { persistent: true }),
    });
    const dials = dialTimes(net, b);
    const log = new EngineLog(net, b.current);
    // The first dial happened in setup, at time 0, before the spy.
    dials.unshift(0);
    await net.runUntil(() => log.failures.some((f) => f.value.retryInMs === undefined), {
      maxTimeMs: 10 * 60_000,
    });
    const delays = log.failures.map((f) => f.value.retryInMs);
    expect(delays).toHaveLength(5);
    expect(delays.at(-1)).toBeUndefined();
    const nominal = [1_000, 2_000, 4_000, 8_000];
    delays.slice(0, 4).forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual((nominal[i] as number) * 0.8);
      expect(d).toBeLessThanOrEqual((nominal[i] as number) * 1.2);
    });
    expect(dials).toHaveLength(5);
    for (let i = 0; i < 4; i++) {
      expect(dials[i + 1]).toBe(micros((log.failures[i]?.at as number) + (delays[i] as number)));
    }
    // The jitter is the simulation's: the same seed draws the same delays.
    const net2 = quietNetwork(25);
    const b2 = engineNode(net2, {
      reconnect: { baseDelayMs: 1_000, maxDelayMs: 8_000, jitter: 0.2, maxRestarts: 4 },
      setup: (e) => e.connect('10.0.9.9:18444', { persistent: true }),
    });
    const log2 = new EngineLog(net2, b2.current);
    await net2.runUntil(() => log2.failures.length === 5, { maxTimeMs: 10 * 60_000 });
    expect(log2.failures.map((f) => f.value.retryInMs)).toEqual(delays);
  });

  it('a persistent peer dropped by the other side is redialled after the base delay', async () => {
    const net = quietNetwork(26);
    const a = engineNode(net, { setup: (e) => e.listen() });
    const b = engineNode(net, { reconnect: { baseDelayMs: 50, jitter: 0 } });
    const dials = dialTimes(net, b);
    const log = new EngineLog(net, b.current);
    b.current.connect(addressOf(a), { persistent: true });
    await net.runUntil(() => log.handshakes.length === 1, { maxTimeMs: 10_000 });
    for (const p of a.current.peers) p.disconnect('go away');
    await net.runUntil(() => log.handshakes.length === 2, { maxTimeMs: 10_000 });
    expect(log.failures.map((f) => f.value.retryInMs)).toEqual([50]);
    expect(log.disconnects[0]?.value.info.reason).toBe('peer-closed');
    expect(dials).toHaveLength(2);
    expect(dials[1]).toBe(micros((log.failures[0]?.at as number) + 50));
  });
});

describe('bans expire, exactly', () => {
  it('a banned host is refused until the ban ends, then let back in', async () => {
    const net = quietNetwork(27);
    let banned = false;
    const a = engineNode(net, {
      limits: { banTimeMs: 60_000 },
      setup: (e) => {
        e.listen();
        // b's first connection misbehaves its way to a ban as soon as it is ready.
        e.on('handshake', (p) => {
          if (!banned && p.address.startsWith('10.0.0.2:')) {
            banned = true;
            p.misbehaving(100, 'test');
          }
        });
      },
    });
    const b = engineNode(net, {
      reconnect: { baseDelayMs: 1_000, maxDelayMs: 4_000, jitter: 0, maxRestarts: 1_000 },
    });
    // A bystander stays connected throughout: the ban is by host, and c is another host.
    const c = engineNode(net);
    await handshaken(net, a, c);
    const logA = new EngineLog(net, a.current);
    const logB = new EngineLog(net, b.current);
    b.current.connect(addressOf(a), { persistent: true });
    await net.runUntil(() => a.current.bans().length === 1, { maxTimeMs: 10_000 });
    const engineA = a.current;
    const ban = engineA.bans()[0];
    expect(ban?.host).toBe(b.ip);
    // The ban's end on a's clock, in virtual time (a's clock does not drift).
    const until = micros((ban?.untilMs as number) - (engineA.clock.now() - net.now()));

    await net.runUntil(until - 0.001);
    expect(engineA.bans()).toHaveLength(1);
    await net.runUntil(until);
    expect(engineA.bans()).toEqual([]);
    const fromB = () => logA.handshakes.filter((h) => h.value.address.startsWith(`${b.ip}:`));
    await net.runUntil(() => fromB().length === 2, { maxTimeMs: 60_000 });

    // Every attempt before the end was refused on arrival; the first after it got in.
    const refused = logA.disconnects.filter((d) => d.value.info.reason === 'banned');
    expect(refused.length).toBeGreaterThan(5);
    for (const r of refused) expect(r.at).toBeLessThan(until);
    expect(fromB()[1]?.at).toBeGreaterThanOrEqual(until);
    const lastRefusal = refused.at(-1)?.at as number;
    expect(logA.connected.filter((x) => x.at > lastRefusal)).toHaveLength(1);
    expect(logB.handshakes).toHaveLength(2);
    expect(c.current.readyPeers).toHaveLength(1);
    expect(net.counters()['check.banned-not-connected']).toBeGreaterThan(0);
  });
});
