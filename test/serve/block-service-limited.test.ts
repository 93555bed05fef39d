// A NODE_NETWORK_LIMITED-only node (serveBlocks' `limited`) never invites a
// peer, by getblocks, to ask for a block it would disconnect it for asking
// (Core's getblocks stops at blocks a pruned node is not likely to keep).
import { expect, it } from 'vitest';
import { generateBlocks, genesisBlock } from '../../ts/block/generate.js';
import { blockHash } from '../../ts/chain/block.js';
import { chainFor } from '../../ts/chain/headerchain.js';
import { networkPreset } from '../../ts/config/schema.js';
import { Engine } from '../../ts/engine/engine.js';
import { serveBlocks } from '../../ts/serve/block-service.js';
import { MemoryBlocks } from '../../ts/serve/block-source.js';
import { INV_TYPE, type InvVector } from '../../ts/wire/types.js';
import { FakeTransport } from '../helpers/fake-transport.js';
import { versionMessage } from '../helpers/messages.js';

const REGTEST = networkPreset('regtest');
const HEIGHT = 400;
const BLOCKS = generateBlocks(REGTEST, HEIGHT);
const GENESIS = genesisBlock(REGTEST) as Buffer;
const hashAt = (h: number) => (h === 0 ? blockHash(GENESIS) : (BLOCKS[h - 1]?.hash as Buffer));

it('getblocks on a limited node lists no block deeper than it serves', async () => {
  const transport = new FakeTransport();
  const engine = new Engine({ network: 'regtest', transport });
  const chain = chainFor(REGTEST);
  chain.append(BLOCKS.map((b) => b.header));
  // It holds every block: only what it advertises limits it.
  const source = new MemoryBlocks(1000);
  await source.put(hashAt(0), GENESIS);
  for (const b of BLOCKS) await source.put(b.hash, b.raw);
  serveBlocks(engine, chain, source, {}, { limited: true });
  const id = 502;
  transport.inbound(id);
  transport.deliver(id, versionMessage());
  transport.deliver(id, { command: 'verack', payload: {} });
  if (!engine.peer(id)?.ready) throw new Error('no handshake');
  const zero = new Uint8Array(32);
  const invs = () =>
    transport
      .sentTo(id, 'inv')
      .flatMap((s) => (s.message as { payload: { inventory: InvVector[] } }).payload.inventory);

  for (const from of [0, HEIGHT - 300, HEIGHT - 100]) {
    transport.deliver(id, {
      command: 'getblocks',
      payload: { version: 70016, locator: [hashAt(from)], hashStop: zero },
    });
  }
  const listed = invs().map((i) => chain.heightOf(i.hash) as number);
  // From a recent fork point it still lists what follows.
  expect(listed).toContain(HEIGHT - 99);
  expect(listed).toContain(HEIGHT);
  // Asking for all it listed does not end the connection.
  transport.deliver(id, {
    command: 'getdata',
    payload: { inventory: invs().map((i) => ({ type: INV_TYPE.witnessBlock, hash: i.hash })) },
  });
  await new Promise((r) => setTimeout(r, 20));
  expect(transport.disconnects).toEqual([]);
  await engine.close();
});
