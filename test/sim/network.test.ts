// The simulated network from JavaScript: its clock and timer queue, Engines
// handshaking on it, determinism by trace hash, and the invariants.
import { describe, expect, it } from 'vitest';
import { type Clock, ManualClock } from '../../ts/engine/clock.js';
import { Engine } from '../../ts/engine/engine.js';
import { RequestTimeoutError } from '../../ts/engine/errors.js';
import { RequestTracker } from '../../ts/engine/requests.js';
import {
  expectConvergence,
  Invariants,
  InvariantViolation,
  SimClock,
  SimNetwork,
  type SimNode,
  SimNodeDownError,
  SimOptionsError,
  simNodeIp,
  TimerQueue,
  Xoshiro128,
} from '../../ts/sim/index.js';
import { DEFAULT_CHAOS_MS, reproduceCommand } from '../../ts/sim/run.js';
import { addressOf, EngineLog, engineNode, quietNetwork, settle } from '../helpers/sim.js';

/** A time source for clock tests: virtual time moves only when the test says. */
function fakeTime(start = 0) {
  const t = { now: start };
  return {
    t,
    source: {
      now: () => t.now,
      nodeTime: () => 1_700_000_000_000 + t.now,
      nodeDelay: (_node: number, ms: number) => ms,
    },
  };
}

describe('SimClock and the shared timer queue', () => {
  it('xoshiro128** gives the reference outputs for state (1, 2, 3, 4)', () => {
    const g = new Xoshiro128(1, 2, 3, 4);
    expect([g.nextU32(), g.nextU32(), g.nextU32(), g.nextU32(), g.nextU32()]).toEqual([
      11520, 0, 5927040, 70819200, 2031721883,
    ]);
    // Seeded streams: the same seed repeats, another seed does not.
    const a = Xoshiro128.fromSeed(7);
    const b = Xoshiro128.fromSeed(7);
    const c = Xoshiro128.fromSeed(8);
    const take = (g: Xoshiro128) => Array.from({ length: 8 }, () => g.nextU32());
    const [sa, sb, sc] = [take(a), take(b), take(c)];
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
  });

  it('runs every node’s timers in (due, creation) order; cancelled and crashed ones never', () => {
    const { source } = fakeTime();
    const queue = new TimerQueue();
    const one = new SimClock(source, 0, queue, 1);
    const two = new SimClock(source, 1, queue, 2);
    const ran: string[] = [];
    one.setTimer(30, () => ran.push('one@30'));
    two.setTimer(10, () => ran.push('two@10'));
    one.setTimer(10, () => ran.push('one@10'));
    const cancelled = two.setTimer(20, () => ran.push('two@20'));
    two.clearTimer(cancelled);
    two.setTimer(40, () => ran.push('two@40'));
    // A clock cannot cancel another clock's timer.
    const kept = one.setTimer(35, () => ran.push('one@35'));
    two.clearTimer(kept);
    two.stop();
    two.setTimer(1, () => ran.push('two@1 after stop'));
    for (let e = queue.popDue(1_000); e; e = queue.popDue(1_000)) e.fn();
    expect(ran).toEqual(['one@10', 'one@30', 'one@35']);
    expect(queue.nextDue()).toBeNull();
  });

  it('the heap holds its order over many random timers', () => {
    const { source } = fakeTime();
    const queue = new TimerQueue();
    const clock = new SimClock(source, 0, queue, 99);
    const ran: Array<[number, number]> = [];
    for (let i = 0; i < 500; i++) {
      const due = Math.floor(clock.random() * 50);
      const h = clock.setTimer(due, () => ran.push([due, i]));
      if (i % 7 === 0) clock.clearTimer(h);
    }
    for (let e = queue.popDue(1_000); e; e = queue.popDue(1_000)) e.fn();
    const expected = [...ran].sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    expect(ran).toEqual(expected);
    expect(ran).toHaveLength(500 - Math.ceil(500 / 7));
  });

  it('timers created at an instant wait for a later pop when bounded by creation', () => {
    const { source } = fakeTime(5);
    const queue = new TimerQueue();
    const clock = new SimClock(source, 0, queue, 3);
    const ran: string[] = [];
    clock.setTimer(0, () => {
      ran.push('first');
      clock.setTimer(0, () => ran.push('second'));
    });
    const limit = queue.nextSeq;
    for (let e = queue.popDue(5, limit); e; e = queue.popDue(5, limit)) e.fn();
    expect(ran).toEqual(['first']);
    expect(queue.nextDue()).toBe(5);
  });
});

it('a timer never fires before its node’s drifting clock has advanced by the delay', () => {
  // A clock running 37 ppm fast: node ms are not whole virtual microseconds.
  const drift = 1 + 37e-6;
  const t = { now: 120_900.743 };
  const source = {
    now: () => t.now,
    nodeTime: () => 1_700_000_000_000 + t.now * drift,
    nodeDelay: (_node: number, ms: number) => ms / drift,
  };
  const queue = new TimerQueue();
  const clock = new SimClock(source, 0, queue, 5);
  // Re-arms itself for "the time still left", as the Engine's inactivity
  // check does; the second deadline is less than a microsecond away.
  for (const left of [1_000, 0.0002]) {
    const deadline = clock.now() + left;
    let fired = 0;
    const arm = () =>
      clock.setTimer(Math.max(0, deadline - clock.now()), () => {
        fired++;
        if (clock.now() < deadline) arm();
      });
    arm();
    for (let rounds = 0; rounds < 100; rounds++) {
      const due = queue.nextDue();
      if (due === null) break;
      expect(due).toBeGreaterThan(t.now);
      t.now = due;
      queue.popDue(due)?.fn();
    }
    expect(queue.nextDue()).toBeNull();
    expect(clock.now()).toBeGreaterThanOrEqual(deadline);
    expect(fired).toBeLessThanOrEqual(2);
  }
});

describe('RequestTracker.outstanding', () => {
  it('lists pending requests with their deadlines until they settle', async () => {
    const clock = new ManualClock({ start: 1_000 });
    const tracker = new RequestTracker(clock);
    const request = tracker.track(3, { command: 'ping', payload: { nonce: 1n } }, 500);
    const failed = request.catch((e: unknown) => e);
    expect(tracker.outstanding()).toEqual([
      { peer: 3, command: 'ping', sentAt: 1_000, deadline: 1_500 },
    ]);
    clock.advance(500);
    expect(await failed).toBeInstanceOf(RequestTimeoutError);
    expect(tracker.outstanding()).toEqual([]);
  });
});

describe('Invariants', () => {
  it('an Engine event naming a peer after its disconnected is a violation', () => {
    const handlers = new Map<string, Array<(peer: unknown) => void>>();
    const engine = {
      on: (event: string, fn: (peer: unknown) => void) => {
        handlers.set(event, [...(handlers.get(event) ?? []), fn]);
        return () => {};
      },
    } as unknown as Engine;
    const inv = new Invariants({ seed: '3', now: () => 10 });
    inv.watchEngine(2, engine);
    const emit = (event: string, peer: unknown) => {
      for (const fn of handlers.get(event) ?? []) fn(peer);
    };
    const peer = { toString: () => 'peer 7' };
    emit('message', peer);
    emit('disconnected', peer);
    emit('handshake', { toString: () => 'peer 8' });
    expect(() => emit('writable', peer)).toThrow(
      /engine-no-event-after-disconnect violated .*node 2: the Engine emitted writable for peer 7/,
    );
    expect(() => emit('disconnected', peer)).toThrow(InvariantViolation);
    expect(inv.counters()['check.engine-no-event-after-disconnect']).toBe(5);
  });

  it('an event for a peer after its disconnect is a violation naming seed and time', () => {
    const inv = new Invariants({ seed: '42', now: () => 1234.5 });
    inv.event(0, { type: 'connected', peer: 7, remote: '10.0.0.2:18444', local: '10.0.0.1:5000' });
    inv.frame(0, 7);
    inv.event(0, {
      type: 'disconnected',
      peer: 7,
      reason: 'peer-closed',
      detail: '',
      unflushedBytes: 0,
    });
    // Another node's peer 7 is another peer.
    inv.frame(1, 7);
    let error: unknown;
    try {
      inv.frame(0, 7);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(InvariantViolation);
    expect((error as Error).message).toMatch(
      /no-event-after-disconnect violated at virtual 1234.5 ms \(seed 42\), node 0/,
    );
    expect(inv.counters()['check.no-event-after-disconnect']).toBe(5);
    // A node that crashed and restarted starts over.
    inv.forgetNode(0);
    expect(() => inv.frame(0, 7)).not.toThrow();
  });
});

describe('default node addresses', () => {
  it('are valid, distinct IPv4 addresses past 255 nodes', () => {
    const ips = Array.from({ length: 70_000 }, (_, i) => simNodeIp(i));
    expect(new Set(ips).size).toBe(ips.length);
    for (const ip of ips) {
      const octets = ip.split('.').map(Number);
      expect(octets[0]).toBe(10);
      expect(octets.every((o) => Number.isInteger(o) && o >= 0 && o <= 255)).toBe(true);
      expect(octets[3]).toBeGreaterThanOrEqual(1);
      expect(octets[3]).toBeLessThanOrEqual(254);
    }
    expect(simNodeIp(0)).toBe('10.0.0.1');
    expect(simNodeIp(254)).toBe('10.0.1.1');
  });
});

describe('SimNetwork options', () => {
  it('refuses a seed that is not a u64, with a typed error', () => {
    for (const seed of [-1, 1.5, 'abc', '18446744073709551616', Number.NaN]) {
      expect(() => new SimNetwork({ seed })).toThrow(SimOptionsError);
    }
  });

  it('refuses to run backwards, forever, or for a budget that is not a number', async () => {
    const net = quietNetwork(5);
    await net.runFor(100);
    await expect(net.runUntil(50)).rejects.toThrow(RangeError);
    await expect(net.runUntil(Number.POSITIVE_INFINITY)).rejects.toThrow(RangeError);
    for (const maxTimeMs of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
      await expect(net.runUntil(() => false, { maxTimeMs })).rejects.toThrow(RangeError);
    }
  });
});

describe('Engines on the simulated network', () => {
  it('two Engines handshake, both ways, in virtual time', async () => {
    const net = quietNetwork(3);
    const a = engineNode(net, { setup: (e) => e.listen() });
    const b = engineNode(net);
    const logA = new EngineLog(net, a.current);
    const logB = new EngineLog(net, b.current);
    b.current.connect(addressOf(a));
    await net.runUntil(() => logA.handshakes.length === 1 && logB.handshakes.length === 1, {
      maxTimeMs: 10_000,
    });
    const inbound = logA.handshakes[0]?.value;
    const outbound = logB.handshakes[0]?.value;
    expect(inbound?.inbound).toBe(true);
    expect(inbound?.address.startsWith(`${b.ip}:`)).toBe(true);
    expect(outbound?.inbound).toBe(false);
    expect(outbound?.address).toBe(`${a.ip}:18444`);
    expect(outbound?.version?.userAgent).toBe('/peerwire:0.1.0/');
    expect(inbound?.features.wtxidRelay && inbound.features.addrV2).toBe(true);
    // Time moved only as the links' latency says: nothing is instant, nothing waited.
    expect(net.now()).toBeGreaterThan(0);
    expect(net.now()).toBeLessThan(1_000);

    const pong = await settle(net, () =>
      outbound?.request({ command: 'ping', payload: { nonce: 4242n } }),
    );
    expect(pong?.payload.nonce).toBe(4242n);
    expect(net.counters()['check.no-event-after-disconnect']).toBeGreaterThan(0);
    expect(net.counters()['check.engine-no-event-after-disconnect']).toBeGreaterThan(0);
  });

  it('Engine randomness comes from the simulation: same seed, same nonces', async () => {
    const nonces = async (seed: number) => {
      const net = quietNetwork(seed);
      const a = engineNode(net, { setup: (e) => e.listen() });
      const b = engineNode(net);
      const log = new EngineLog(net, a.current);
      b.current.connect(addressOf(a));
      await net.runUntil(() => log.handshakes.length === 1, { maxTimeMs: 10_000 });
      return log.handshakes[0]?.value.version?.nonce;
    };
    const first = await nonces(11);
    expect(first).toBeTypeOf('bigint');
    expect(await nonces(11)).toBe(first);
    expect(await nonces(12)).not.toBe(first);
  });

  it('ten nodes under the default profile: the same seed gives the same trace, another seed another', async () => {
    const run = async (seed: number) => {
      const net = new SimNetwork({ seed, profile: 'default' });
      const nodes: SimNode<Engine>[] = [];
      for (let i = 0; i < 10; i++) {
        nodes.push(
          net.addEngine({
            network: 'regtest',
            limits: { pingIntervalMs: 20_000, requestTimeoutMs: 15_000 },
            reconnect: { baseDelayMs: 1_000, maxDelayMs: 10_000, maxRestarts: 1_000 },
            setup: (engine, ctx) => {
              engine.listen();
              // A ring, plus a chord: each node dials the next two.
              for (const step of [1, 2]) {
                const peer = (ctx.node + step) % 10;
                engine.connect(`10.0.0.${peer + 1}:18444`, { persistent: true });
              }
              // Something for the request invariant to watch besides pings.
              engine.on('handshake', (peer) => {
                peer
                  .request({
                    command: 'getheaders',
                    payload: {
                      version: 70016,
                      locator: [new Uint8Array(32)],
                      hashStop: new Uint8Array(32),
                    },
                  })
                  .catch(() => {});
              });
            },
          }),
        );
      }
      await net.runFor(5 * 60_000);
      return { hash: net.traceHash(), counters: net.counters(), ready: nodes };
    };
    const first = await run(7);
    const again = await run(7);
    const other = await run(8);
    expect(first.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(again.hash).toBe(first.hash);
    expect(other.hash).not.toBe(first.hash);
    for (const name of [
      'no-event-after-disconnect',
      'request-settles-in-time',
      'engine-slots',
      'transport-slots',
    ]) {
      expect(first.counters[`check.${name}`], name).toBeGreaterThan(0);
    }
    // Counters agree between the two runs of one seed, and faults were injected.
    expect(again.counters).toEqual(first.counters);
    const faults = Object.entries(first.counters).filter(
      ([k, v]) => k.startsWith('fault.') && v > 0,
    );
    expect(faults.length).toBeGreaterThan(0);
  });
});

describe('checks in a live run', () => {
  it('a request whose timeout never fires is caught by the request invariant', async () => {
    const net = quietNetwork(41);
    const a = engineNode(net, { setup: (e) => e.listen() });
    // A broken clock: it drops timers of exactly 7,777 ms, so a request with
    // that timeout is never rejected.
    const b = net.addNode({
      options: { clockDriftPpm: 0, clockOffsetMs: 0 },
      create: (ctx) => {
        const clock: Clock = {
          now: () => ctx.clock.now(),
          random: () => ctx.clock.random(),
          clearTimer: (h) => ctx.clock.clearTimer(h),
          setTimer: (ms, fn) => ctx.clock.setTimer(ms === 7_777 ? 1e9 : ms, fn),
        };
        return new Engine({ network: 'regtest', clock, transport: ctx.transport });
      },
    });
    const log = new EngineLog(net, b.current);
    b.current.connect(addressOf(a));
    await net.runUntil(() => log.handshakes.length === 1, { maxTimeMs: 10_000 });
    const sent = net.now();
    log.handshakes[0]?.value
      .request(
        {
          command: 'getheaders',
          payload: { version: 70016, locator: [new Uint8Array(32)], hashStop: new Uint8Array(32) },
        },
        7_777,
      )
      .catch(() => {});
    const error = await net.runFor(60_000).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(InvariantViolation);
    const violation = error as InvariantViolation;
    expect(violation.invariant).toBe('request-settles-in-time');
    expect(violation.node).toBe(b.id);
    expect(violation.seed).toBe('41');
    // Caught by the next check after the deadline: within a virtual second of it.
    expect(violation.timeMs).toBeGreaterThan(sent + 7_777);
    expect(violation.timeMs).toBeLessThanOrEqual(sent + 7_777 + 1_000);
  });

  it('liveness: expectConvergence waits for every node, and names the laggards when they do not make it', async () => {
    const net = quietNetwork(42);
    const nodes = [0, 1, 2].map(() =>
      engineNode(net, {
        setup: (e, ctx) => {
          e.listen();
          for (let j = ctx.node + 1; j < 3; j++) {
            e.connect(`10.0.0.${j + 1}:18444`, { persistent: true });
          }
        },
      }),
    );
    const tipOf = (e: Engine) => String(e.readyPeers.length);
    const took = await expectConvergence(net, { tipOf, best: '2', withinMs: 10_000 });
    expect(took).toBeGreaterThan(0);
    expect(net.counters()['check.liveness']).toBe(3);

    net.crash(nodes[2]?.id as number);
    const error = await expectConvergence(net, { tipOf, best: '2', withinMs: 5_000 }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(InvariantViolation);
    expect((error as Error).message).toMatch(/liveness violated .*node 2 \(crashed\)/);
  });

  it('trackActivity names the nodes that ran code; expectConvergence asks only them again', async () => {
    const net = quietNetwork(44);
    const nodes = [0, 1, 2, 3].map(() =>
      engineNode(net, {
        setup: (e, ctx) => {
          e.listen();
          if (ctx.node === 1) e.connect('10.0.0.1:18444');
        },
      }),
    );
    const activity = net.trackActivity();
    await net.runFor(1_000);
    // Nodes 0 and 1 handshook; 2 and 3 ran nothing.
    expect(activity.take()).toEqual([0, 1]);
    expect(activity.take()).toEqual([]);
    net.crash(3);
    expect(activity.take()).toEqual([3]);
    net.restart(3);
    expect(activity.take()).toEqual([3]);
    activity.stop();
    nodes[2]?.current.connect('10.0.0.1:18444');

    // Node 3 stays idle: asked at the start and once more at the end (every
    // node is, before convergence is declared); node 2 until it is up.
    const asked = [0, 0, 0, 0];
    const tipOf = (e: Engine, node: SimNode<Engine>) => {
      asked[node.id] = (asked[node.id] ?? 0) + 1;
      return String(e.readyPeers.length > 0 || node.id === 3);
    };
    const before = net.now();
    await expectConvergence(net, { tipOf, best: 'true', withinMs: 10_000 });
    expect(net.now()).toBeGreaterThan(before);
    expect(asked[3]).toBe(2);
    expect(asked[2]).toBeGreaterThan(2);
    // A stopped tracker collects nothing more.
    expect(activity.take()).toEqual([]);
  });
});

describe('crashes drawn by the fault profile', () => {
  it('drop the node’s Engine and build a new one when it comes back', async () => {
    const net = quietNetwork(43, {
      crashPerSecondP: 0.05,
      restartMinMs: 1_000,
      restartMaxMs: 3_000,
    });
    const built: string[] = [];
    const nodes = [0, 1, 2, 3].map(() =>
      engineNode(net, {
        setup: (e, ctx) => {
          built.push(`${ctx.node}:${ctx.generation}`);
          e.listen();
        },
      }),
    );
    await net.runFor(60_000);
    const crashes = net.counters()['fault.crash'] ?? 0;
    expect(crashes).toBeGreaterThan(0);
    const generations = nodes.reduce((sum, n) => sum + n.generation, 0);
    const down = nodes.filter((n) => !n.up).length;
    // Every crash either came back (a new generation, a new Engine) or is still down.
    expect(generations + down).toBe(crashes);
    // Each node that is up runs an Engine built for its current generation.
    for (const n of nodes) {
      expect(n.up).toBe(net.world.isUp(n.id));
      if (n.up) expect(built).toContain(`${n.id}:${n.generation}`);
    }
    expect(built.length).toBeGreaterThan(4);
  });
});

describe('closing an Engine on the simulated network', () => {
  it('resolves once its transport reports closed, and its peer sees the connection end', async () => {
    const net = quietNetwork(44);
    const a = engineNode(net, { setup: (e) => e.listen() });
    const b = engineNode(net);
    const logB = new EngineLog(net, b.current);
    b.current.connect(addressOf(a));
    await net.runUntil(() => logB.handshakes.length === 1, { maxTimeMs: 10_000 });
    await settle(net, () => a.current.close());
    expect(a.transport.closed).toBe(true);
    await net.runUntil(() => logB.disconnects.length === 1, { maxTimeMs: 10_000 });
    expect(logB.disconnects[0]?.value.info.reason).toBe('peer-closed');
  });

  it('a close still under way when the node crashes settles (nothing is left to flush)', async () => {
    const net = quietNetwork(45);
    const a = engineNode(net, { setup: (e) => e.listen() });
    const b = engineNode(net);
    b.current.connect(addressOf(a));
    await net.runUntil(() => a.current.peers.length === 1, { maxTimeMs: 10_000 });
    let settled = false;
    void a.current.close().then(() => {
      settled = true;
    });
    net.crash(a.id);
    await net.runFor(1);
    expect(settled).toBe(true);
  });
});

describe('reports', () => {
  it('the reproduce command names every option that differs from the defaults', () => {
    const base = { seed: '9', scenario: 'flood', nodes: 20, profile: 'harsh' };
    expect(reproduceCommand(base)).toBe(
      'peerwire sim --seed 9 --scenario flood --nodes 20 --faults harsh',
    );
    expect(reproduceCommand({ ...base, chaosMs: DEFAULT_CHAOS_MS })).toBe(reproduceCommand(base));
    expect(reproduceCommand({ ...base, chaosMs: 0 })).toBe(
      'peerwire sim --seed 9 --scenario flood --nodes 20 --faults harsh --chaos-ms 0',
    );
  });
});

describe('a crashed node', () => {
  it('its old Engine can no longer touch the world, and its handle says why', async () => {
    const net = quietNetwork(45);
    const a = engineNode(net, { setup: (e) => e.listen() });
    const b = engineNode(net);
    const logB = new EngineLog(net, b.current);
    b.current.connect(addressOf(a));
    await net.runUntil(() => logB.handshakes.length === 1, { maxTimeMs: 10_000 });
    const old = b.current;
    const oldTransport = b.transport;
    const peer = logB.handshakes[0]?.value;
    net.crash(b.id);
    const hash = net.traceHash();
    // Leftover code of the dead Engine runs into a dead transport: no world call is made.
    expect(peer?.send({ command: 'ping', payload: { nonce: 1n } })).toBe('unknown-peer');
    old.connect('10.0.0.7:18444');
    expect(oldTransport.disconnect(1, 'x')).toBe(false);
    expect(() => oldTransport.listen(b.ip, 18444)).toThrow(SimNodeDownError);
    expect(() => b.current).toThrow(SimNodeDownError);
    expect(net.traceHash()).toBe(hash);
  });
});

describe('handler errors', () => {
  it('a throwing transport handler fails the step that ran it', async () => {
    const net = quietNetwork(46);
    const a = engineNode(net, { setup: (e) => e.listen() });
    const boom = net.addNode({
      create: (ctx) => {
        ctx.transport.setHandlers({
          onEvent: (event) => {
            if (event.type === 'connected') throw new Error('handler blew up');
          },
        });
        return ctx.transport;
      },
    });
    boom.current.connect(addressOf(a));
    await expect(net.runFor(1_000)).rejects.toThrow('handler blew up');
  });

  it('a throwing Engine event handler fails the step too (not the process)', async () => {
    const net = quietNetwork(47);
    const a = engineNode(net, { setup: (e) => e.listen() });
    const b = engineNode(net, {
      setup: (e) =>
        e.on('handshake', () => {
          throw new Error('application bug');
        }),
    });
    b.current.connect(addressOf(a));
    await expect(net.runFor(1_000)).rejects.toThrow('application bug');
  });
});
