import { describe, expect, it } from 'vitest';
import { type Clock, ManualClock, systemClock } from '../../ts/engine/clock.js';
import { Engine } from '../../ts/engine/engine.js';
import { FakeTransport } from '../helpers/fake-transport.js';
import { versionMessage } from '../helpers/messages.js';

function spin(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {}
}

describe('systemClock.coarseNow', () => {
  it('keeps one reading for the rest of the turn, and reads again in the next', async () => {
    const coarse = systemClock.coarseNow as () => number;
    const first = coarse();
    expect(Math.abs(first - systemClock.now())).toBeLessThan(50);
    spin(3);
    // Same turn: the reading taken first, though time has moved on.
    expect(coarse()).toBe(first);
    expect(systemClock.now()).toBeGreaterThan(first);
    await new Promise((r) => setTimeout(r, 3));
    const next = coarse();
    expect(next).toBeGreaterThan(first);
    expect(next).toBeLessThanOrEqual(systemClock.now());
  });

  it('is not on a manual clock, whose time moves inside a turn (the engine reads now())', () => {
    expect((new ManualClock() as { coarseNow?: unknown }).coarseNow).toBeUndefined();
  });
});

describe('the engine and a clock made from systemClock', () => {
  it('reads now(), not systemClock.coarseNow, when now() was replaced (another timeline)', () => {
    const clock: Clock = { ...systemClock, now: () => 42_000 };
    const transport = new FakeTransport();
    const engine = new Engine({ network: 'regtest', transport, clock });
    transport.inbound(9);
    transport.deliver(9, versionMessage());
    expect(engine.peer(9)?.state.lastRecvMs).toBe(42_000);
  });
});

describe('systemClock.random', () => {
  it('draws from the CSPRNG, not Math.random, uniformly in [0, 1)', () => {
    const original = Math.random;
    Math.random = () => 0.5;
    try {
      const draws = Array.from({ length: 4000 }, () => systemClock.random());
      expect(new Set(draws).size).toBe(draws.length);
      for (const x of draws) {
        expect(x).toBeGreaterThanOrEqual(0);
        expect(x).toBeLessThan(1);
      }
      // Every tenth of the interval gets its share (expected 400 each).
      const tenths = new Array<number>(10).fill(0);
      for (const x of draws) tenths[Math.floor(x * 10)] = (tenths[Math.floor(x * 10)] ?? 0) + 1;
      for (const n of tenths) expect(n).toBeGreaterThan(250);
    } finally {
      Math.random = original;
    }
  });

  it('nonces in our version messages are not Math.random outputs', () => {
    const original = Math.random;
    Math.random = () => 0;
    try {
      const transport = new FakeTransport();
      const engine = new Engine({ network: 'regtest', transport });
      engine.connect('10.0.0.1:18444');
      engine.connect('10.0.0.2:18444');
      for (const { peer, address } of transport.dials) transport.acceptDial(peer, address);
      const nonces = transport.sent.flatMap((s) =>
        s.message?.command === 'version' ? [s.message.payload.nonce] : [],
      );
      expect(nonces).toHaveLength(2);
      expect(nonces[0]).not.toBe(0n);
      expect(nonces[0]).not.toBe(nonces[1]);
    } finally {
      Math.random = original;
    }
  });
});
