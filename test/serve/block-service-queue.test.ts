// serveBlocks' send-queue handling, driven by a fake transport: a send refused
// as `full` is retried after `writable`, not lost; `backpressure` pauses until
// `writable`; a peer that piles up more than MAX_PENDING_ITEMS is dropped; and a
// large getdata is answered over many turns of the event loop, not one.
import { describe, expect, it } from 'vitest';
import { generateBlocks } from '../../ts/block/generate.js';
import { chainFor } from '../../ts/chain/headerchain.js';
import { networkPreset } from '../../ts/config/schema.js';
import { Engine } from '../../ts/engine/engine.js';
import { MAX_PENDING_ITEMS, serveBlocks } from '../../ts/serve/block-service.js';
import { MemoryBlocks } from '../../ts/serve/block-source.js';
import { INV_TYPE } from '../../ts/wire/types.js';
import { FakeTransport } from '../helpers/fake-transport.js';
import { versionMessage } from '../helpers/messages.js';

const REGTEST = networkPreset('regtest');
const BLOCKS = generateBlocks(REGTEST, 5);

async function setup() {
  const transport = new FakeTransport();
  const engine = new Engine({ network: 'regtest', transport });
  const chain = chainFor(REGTEST);
  chain.append(BLOCKS.map((b) => b.header));
  const source = new MemoryBlocks(10);
  for (const b of BLOCKS) await source.put(b.hash, b.raw);
  const service = serveBlocks(engine, chain, source);
  const id = 500;
  transport.inbound(id);
  transport.deliver(id, versionMessage());
  transport.deliver(id, { command: 'verack', payload: {} });
  const peer = engine.peer(id);
  if (!peer?.ready) throw new Error('no handshake');
  const getdata = (hashes: Uint8Array[]) =>
    transport.deliver(id, {
      command: 'getdata',
      payload: { inventory: hashes.map((hash) => ({ type: INV_TYPE.witnessBlock, hash })) },
    });
  // The pump awaits each read: let it run.
  const settle = () => new Promise((r) => setTimeout(r, 0));
  return { transport, engine, service, peer, id, getdata, settle };
}

describe('serveBlocks and the send queue', () => {
  it('a block refused as full is sent again after writable, in order', async () => {
    const t = await setup();
    t.transport.refuse.set('block', 'full');
    t.getdata(BLOCKS.map((b) => b.hash));
    await t.settle();
    expect(t.transport.sentTo(t.id, 'block')).toHaveLength(0);
    expect(t.service.queueOf(t.peer)).toEqual({ pending: 5, paused: true });
    t.transport.event({ type: 'writable', peer: t.id });
    await t.settle();
    const sent = t.transport.sentTo(t.id, 'block');
    expect(
      sent.map((s) => Buffer.from((s.message as { payload: { raw: Uint8Array } }).payload.raw)),
    ).toEqual(BLOCKS.map((b) => b.raw));
    expect(t.service.queueOf(t.peer)).toEqual({ pending: 0, paused: false });
    await t.engine.close();
  });

  it('backpressure pauses after the block it queued; writable resumes', async () => {
    const t = await setup();
    t.transport.refuse.set('block', 'backpressure');
    t.getdata(BLOCKS.map((b) => b.hash));
    await t.settle();
    // The refused-as-backpressure block counts as queued (the fake does not record it).
    expect(t.service.queueOf(t.peer)).toEqual({ pending: 4, paused: true });
    t.transport.event({ type: 'writable', peer: t.id });
    await t.settle();
    expect(t.transport.sentTo(t.id, 'block')).toHaveLength(4);
    await t.engine.close();
  });

  it(`a peer with more than ${MAX_PENDING_ITEMS} items waiting is dropped`, async () => {
    const t = await setup();
    t.transport.refuse.set('block', 'backpressure');
    const many = Array.from(
      { length: 50_000 },
      (_, i) => (BLOCKS[i % 5] as (typeof BLOCKS)[number]).hash,
    );
    t.getdata(many);
    await t.settle();
    // One block went before the backpressure: room for 1,025 more items.
    t.getdata(many.slice(0, 1025));
    expect(t.transport.disconnects).toEqual([]);
    t.getdata(many.slice(0, 1));
    expect(t.transport.disconnects.map((d) => d.reason)).toEqual(['getdata-flood']);
    await t.engine.close();
  });
});

// Nor may it answer a whole getdata in one turn of the event loop: with blocks
// in memory (a synchronous source) and a peer that reads as fast as we write,
// 50,000 items would otherwise be served in microtasks alone, starving every
// other peer, timer and I/O for as long as that takes.
describe('serveBlocks and the event loop', () => {
  it.each([
    ['held blocks', INV_TYPE.witnessBlock],
    ['items answered by notfound', INV_TYPE.tx],
  ])(
    'a 50,000-item getdata of %s yields to the event loop',
    { timeout: 30_000 },
    async (_, type) => {
      const { transport, engine, service, peer, id } = await setup();
      const inventory = Array.from({ length: 50_000 }, (_, i) => ({
        type,
        hash: (BLOCKS[i % 5] as (typeof BLOCKS)[number]).hash,
      }));
      transport.deliver(id, { command: 'getdata', payload: { inventory } });
      const pendingAtNextTurn = await new Promise<number>((r) =>
        setImmediate(() => r(service.queueOf(peer).pending)),
      );
      expect(pendingAtNextTurn).toBeGreaterThan(0);
      // And it all gets answered.
      for (let i = 0; i < 3000 && service.queueOf(peer).pending > 0; i++) {
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(service.queueOf(peer).pending).toBe(0);
      if (type === INV_TYPE.witnessBlock) {
        expect(transport.sentTo(id, 'block')).toHaveLength(50_000);
      } else {
        const items = transport
          .sentTo(id, 'notfound')
          .reduce(
            (n, s) =>
              n + (s.message as { payload: { inventory: unknown[] } }).payload.inventory.length,
            0,
          );
        expect(items).toBe(50_000);
      }
      await engine.close();
    },
  );
});

describe('serveBlocks and a block it cannot read', () => {
  it('answers notfound, and reports the block and the peer that asked', async () => {
    const transport = new FakeTransport();
    const engine = new Engine({ network: 'regtest', transport });
    const chain = chainFor(REGTEST);
    chain.append(BLOCKS.map((b) => b.header));
    const broken = BLOCKS[2] as (typeof BLOCKS)[number];
    const source = new MemoryBlocks(10);
    for (const b of BLOCKS) await source.put(b.hash, b.raw);
    const failing = {
      has: (hash: Uint8Array) => source.has(hash),
      get: (hash: Uint8Array) => {
        if (Buffer.from(hash).equals(broken.hash))
          throw new Error('checksum mismatch in blk00000.dat');
        return source.get(hash);
      },
      put: (hash: Uint8Array, raw: Uint8Array) => source.put(hash, raw),
      count: source.count,
    };
    const reports: Array<{ hash: string; error: string; peer: number }> = [];
    serveBlocks(engine, chain, failing, {
      unreadable: (hash, error, peer) =>
        reports.push({
          hash: Buffer.from(hash).toString('hex'),
          error: (error as Error).message,
          peer: peer.id,
        }),
    });
    transport.inbound(501);
    transport.deliver(501, versionMessage());
    transport.deliver(501, { command: 'verack', payload: {} });
    transport.deliver(501, {
      command: 'getdata',
      payload: { inventory: [{ type: INV_TYPE.witnessBlock, hash: broken.hash }] },
    });
    await new Promise((r) => setTimeout(r, 0));
    expect(reports).toEqual([
      {
        hash: Buffer.from(broken.hash).toString('hex'),
        error: 'checksum mismatch in blk00000.dat',
        peer: 501,
      },
    ]);
    const notfound = transport.sentTo(501, 'notfound');
    expect(notfound).toHaveLength(1);
    await engine.close();
  });
});
