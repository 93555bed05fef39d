// getblocks within a per-peer budget: a flood of requests is answered at the
// budget's rate (the newest waits past it), and not at all while the peer's
// send queue is past its pause point. Each answer walks up to 500 blocks, so
// without this one peer's flood held the event loop for seconds.
import { describe, expect, it } from 'vitest';
import { generateBlocks, genesisBlock } from '../../ts/block/generate.js';
import { blockHash } from '../../ts/chain/block.js';
import { chainFor } from '../../ts/chain/headerchain.js';
import { networkPreset } from '../../ts/config/schema.js';
import { ManualClock } from '../../ts/engine/clock.js';
import { Engine } from '../../ts/engine/engine.js';
import { type BlockServiceOptions, serveBlocks } from '../../ts/serve/block-service.js';
import { MemoryBlocks } from '../../ts/serve/block-source.js';
import type { InvVector } from '../../ts/wire/types.js';
import { FakeTransport } from '../helpers/fake-transport.js';
import { versionMessage } from '../helpers/messages.js';

const REGTEST = networkPreset('regtest');
const HEIGHT = 40;
const BLOCKS = generateBlocks(REGTEST, HEIGHT);
const GENESIS = genesisBlock(REGTEST) as Buffer;
const hashAt = (h: number) => (h === 0 ? blockHash(GENESIS) : (BLOCKS[h - 1]?.hash as Buffer));

async function setup(options: BlockServiceOptions) {
  const clock = new ManualClock();
  const transport = new FakeTransport();
  const engine = new Engine({ network: 'regtest', transport, clock });
  const chain = chainFor(REGTEST, { clock });
  chain.append(BLOCKS.map((b) => b.header));
  const source = new MemoryBlocks(100);
  await source.put(hashAt(0), GENESIS);
  for (const b of BLOCKS) await source.put(b.hash, b.raw);
  serveBlocks(engine, chain, source, {}, options);
  const id = 503;
  transport.inbound(id);
  transport.deliver(id, versionMessage());
  transport.deliver(id, { command: 'verack', payload: {} });
  if (!engine.peer(id)?.ready) throw new Error('no handshake');
  /** getblocks from the block at height `from`. */
  const getblocks = (from: number) =>
    transport.deliver(id, {
      command: 'getblocks',
      payload: { version: 70016, locator: [hashAt(from)], hashStop: new Uint8Array(32) },
    });
  /** The first height each inv sent so far starts at. */
  const answers = () =>
    transport.sentTo(id, 'inv').map((s) => {
      const payload = s.message?.payload as { inventory: InvVector[] } | undefined;
      const first = payload?.inventory[0]?.hash as Uint8Array;
      return BLOCKS.findIndex((b) => b.hash.equals(first)) + 1;
    });
  return { clock, transport, id, getblocks, answers };
}

describe('getblocks budget', () => {
  it('answers a burst, then only the newest request as tokens come back', async () => {
    const t = await setup({ getblocksPerSecond: 2, getblocksBurst: 3 });
    for (let h = 0; h < 10; h++) t.getblocks(h);
    expect(t.answers()).toEqual([1, 2, 3]);
    t.clock.advance(500);
    expect(t.answers()).toEqual([1, 2, 3, 10]);
    t.clock.advance(10_000);
    expect(t.answers()).toHaveLength(4);
  });

  it('at a rate of 0 answers the burst only, and sets no timer for the rest', async () => {
    const t = await setup({ getblocksPerSecond: 0, getblocksBurst: 2 });
    const timers = t.clock.pending;
    for (let h = 0; h < 5; h++) t.getblocks(h);
    expect(t.answers()).toEqual([1, 2]);
    expect(t.clock.pending).toBe(timers);
    t.clock.advance(3_600_000);
    expect(t.answers()).toEqual([1, 2]);
  });

  it('sends an answer its full queue refused once the peer is writable', async () => {
    const t = await setup({});
    t.transport.refuse.set('inv', 'full');
    t.getblocks(4);
    expect(t.answers()).toEqual([]);
    t.transport.event({ type: 'writable', peer: t.id });
    expect(t.answers()).toEqual([5]);
  });

  it('refuses a budget that could never answer, when the service is made', async () => {
    await expect(setup({ getblocksBurst: 0.5 })).rejects.toThrow(RangeError);
    await expect(setup({ getblocksPerSecond: -1 })).rejects.toThrow(RangeError);
    await expect(setup({ getblocksPerSecond: Number.NaN })).rejects.toThrow(RangeError);
  });

  it('walks no chain for a peer past its send pause point until it is writable', async () => {
    const t = await setup({});
    t.transport.refuse.set('inv', 'backpressure');
    t.getblocks(0);
    for (let h = 1; h < 5; h++) t.getblocks(h);
    // The first answer met backpressure (the fake records only what it takes):
    // the next four requests built nothing.
    expect(t.answers()).toEqual([]);
    t.transport.event({ type: 'writable', peer: t.id });
    expect(t.answers()).toEqual([5]);
  });
});
