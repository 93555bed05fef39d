// SeedNodes (-seednode) on a fake transport: every seed node it dials is let
// go and reported once, whether it answered, timed out connected, or was
// still being dialled at its deadline.
import { describe, expect, it } from 'vitest';
import { SeedNodes } from '../../ts/cli/node-peers.js';
import { ManualClock } from '../../ts/engine/clock.js';
import { Engine } from '../../ts/engine/engine.js';
import { FakeTransport } from '../helpers/fake-transport.js';

function setup(seeds: string[], timeoutMs = 1_000) {
  const clock = new ManualClock({ seed: 3 });
  const transport = new FakeTransport();
  const engine = new Engine({ network: 'regtest', clock, transport });
  const done: { address: string; addresses: number; reason: string }[] = [];
  const seedNodes = new SeedNodes(engine, seeds, { done: (d) => done.push(d) }, timeoutMs);
  seedNodes.start();
  return { clock, transport, engine, seedNodes, done };
}

describe('SeedNodes', () => {
  it('a seed node still being dialled at its deadline is forgotten and reported', () => {
    const t = setup(['10.0.0.1:18444']);
    expect(t.transport.dials).toHaveLength(1);
    expect(t.seedNodes.size).toBe(1);
    t.clock.advance(1_000);
    expect(t.done).toEqual([
      { address: '10.0.0.1:18444', addresses: 0, reason: 'seednode-timeout' },
    ]);
    expect(t.seedNodes.size).toBe(0);
    // The dial completing late is dropped by the Engine, and reported no more.
    const dial = t.transport.dials[0] as { peer: number };
    t.transport.acceptDial(dial.peer, '10.0.0.1:18444');
    t.transport.settle();
    expect(t.engine.peers).toHaveLength(0);
    expect(t.done).toHaveLength(1);
  });

  it('a connected seed node at its deadline is reported once, by its disconnect', () => {
    const t = setup(['10.0.0.2:18444']);
    const dial = t.transport.dials[0] as { peer: number };
    t.transport.acceptDial(dial.peer, '10.0.0.2:18444');
    t.clock.advance(1_000);
    // Not yet: the connection is still closing.
    expect(t.done).toEqual([]);
    expect(t.seedNodes.size).toBe(1);
    t.transport.settle();
    expect(t.done).toEqual([
      { address: '10.0.0.2:18444', addresses: 0, reason: 'seednode-timeout' },
    ]);
    expect(t.seedNodes.size).toBe(0);
  });
});
