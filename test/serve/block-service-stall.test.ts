// serveBlocks must not answer a whole getdata in one turn of the event loop:
// with blocks in memory (a synchronous source) and a peer that reads as fast
// as we write, 50,000 items would otherwise be served in microtasks alone,
// starving every other peer, timer and I/O for as long as that takes.
import { describe, expect, it } from 'vitest';
import { generateBlocks } from '../../ts/block/generate.js';
import { chainFor } from '../../ts/chain/headerchain.js';
import { networkPreset } from '../../ts/config/schema.js';
import { Engine } from '../../ts/engine/engine.js';
import { serveBlocks } from '../../ts/serve/block-service.js';
import { MemoryBlocks } from '../../ts/serve/block-source.js';
import { INV_TYPE } from '../../ts/wire/types.js';
import { FakeTransport } from '../helpers/fake-transport.js';
import { versionMessage } from '../helpers/messages.js';

const REGTEST = networkPreset('regtest');
const BLOCKS = generateBlocks(REGTEST, 5);

describe('serveBlocks and the event loop', () => {
  it.each([
    ['held blocks', INV_TYPE.witnessBlock],
    ['items answered by notfound', INV_TYPE.tx],
  ])(
    'a 50,000-item getdata of %s yields to the event loop',
    { timeout: 30_000 },
    async (_, type) => {
      const transport = new FakeTransport();
      const engine = new Engine({ network: 'regtest', transport });
      const chain = chainFor(REGTEST);
      chain.append(BLOCKS.map((b) => b.header));
      const source = new MemoryBlocks(10);
      for (const b of BLOCKS) await source.put(b.hash, b.raw);
      const service = serveBlocks(engine, chain, source);
      const id = 501;
      transport.inbound(id);
      transport.deliver(id, versionMessage());
      transport.deliver(id, { command: 'verack', payload: {} });
      const peer = engine.peer(id);
      if (!peer?.ready) throw new Error('no handshake');
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
