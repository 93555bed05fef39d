// Serving blocks over real loopback sockets: getdata answered in order (plain
// blocks without witness data, witness blocks as stored, batched notfound),
// getblocks/inv with Core's continuation, new tips announced by headers or
// inv, and a peer that asks for 50,000 blocks without reading costing a
// bounded amount.
import { type Socket, connect as tcpConnect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { blockTxids, blockWtxids } from '../../ts/block/check.js';
import { blockStream, generateBlocks, genesisBlock } from '../../ts/block/generate.js';
import { blockHash } from '../../ts/chain/block.js';
import { chainFor, type HeaderChain } from '../../ts/chain/headerchain.js';
import { serveHeaders } from '../../ts/cli/headers-service.js';
import { networkPreset } from '../../ts/config/schema.js';
import { Engine } from '../../ts/engine/engine.js';
import type { Peer } from '../../ts/engine/peer.js';
import { type BlockService, serveBlocks } from '../../ts/serve/block-service.js';
import { type BlockSource, MemoryBlocks } from '../../ts/serve/block-source.js';
import { encodeMessage } from '../../ts/wire/codec.js';
import { INV_TYPE, type InvVector, type Message } from '../../ts/wire/types.js';
import { versionMessage } from '../helpers/messages.js';
import { waitUntil } from '../helpers/wait.js';
import { frame } from '../helpers/wire.js';

const REGTEST = networkPreset('regtest');
const HEIGHT = 620;
// Segwit from genesis: every coinbase carries a witness (the commitment's
// reserved value), so plain and witness serializations differ.
const BLOCKS = generateBlocks(REGTEST, HEIGHT);
const GENESIS = genesisBlock(REGTEST) as Buffer;
const hashAt = (h: number) => (h === 0 ? blockHash(GENESIS) : (BLOCKS[h - 1]?.hash as Buffer));
const rawAt = (h: number) => (h === 0 ? GENESIS : (BLOCKS[h - 1]?.raw as Buffer));

const engines: Engine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
});

interface Server {
  engine: Engine;
  chain: HeaderChain;
  service: BlockService;
  port: number;
  served: Uint8Array[];
}

async function server(source?: BlockSource): Promise<Server> {
  const engine = new Engine({ network: { ...REGTEST, services: 9n } });
  engines.push(engine);
  const chain = chainFor(REGTEST);
  chain.append(BLOCKS.map((b) => b.header));
  let blocks = source;
  if (!blocks) {
    const memory = new MemoryBlocks(10_000);
    for (let h = 0; h <= HEIGHT; h++) await memory.put(hashAt(h), rawAt(h));
    blocks = memory;
  }
  serveHeaders(engine, chain, { follow: false });
  const served: Uint8Array[] = [];
  const service = serveBlocks(engine, chain, blocks, { served: (_p, hash) => served.push(hash) });
  const { port } = engine.listen('127.0.0.1', 0);
  return { engine, chain, service, port, served };
}

/** A client Engine connected to `port`; every message it receives is recorded in order. */
async function client(port: number): Promise<{ peer: Peer; got: Message[] }> {
  const engine = new Engine({ network: REGTEST });
  engines.push(engine);
  const got: Message[] = [];
  engine.on('message', (_p, m) => {
    if (m.command !== 'ping' && m.command !== 'pong' && m.command !== 'addr') got.push(m);
  });
  const ready = new Promise<Peer>((resolve) => engine.once('handshake', resolve));
  engine.connect(`127.0.0.1:${port}`);
  return { peer: await ready, got };
}

/**
 * A raw socket's handshake (version, verack), waited for on the server side:
 * frames past 32 KB are refused before it.
 */
async function handshake(s: Server, socket: Socket, nonce: bigint): Promise<Peer> {
  socket.write(frame('version', encodeMessage(versionMessage({ nonce }))));
  socket.write(frame('verack', Buffer.alloc(0)));
  await waitUntil('the handshake', () => s.engine.peers.some((p) => p.ready));
  return s.engine.peers.find((p) => p.ready) as Peer;
}

const block = (h: number): InvVector => ({ type: INV_TYPE.block, hash: hashAt(h) });
const witnessBlock = (h: number): InvVector => ({ type: INV_TYPE.witnessBlock, hash: hashAt(h) });
/** A block message's bytes (throws for anything else). */
function rawOf(m: Message | undefined): Uint8Array {
  if (m?.command !== 'block') throw new Error(`expected a block, got ${m?.command}`);
  return m.payload.raw;
}

/** An inv or notfound message's items (throws for anything else). */
function invOf(m: Message | undefined): InvVector[] {
  if (m?.command !== 'inv' && m?.command !== 'notfound') {
    throw new Error(`expected inv or notfound, got ${m?.command}`);
  }
  return m.payload.inventory;
}

const hexes = (items: readonly InvVector[]) =>
  items.map((i) => `${i.type}:${Buffer.from(i.hash).toString('hex')}`);

describe('getdata', () => {
  it('answers in order: plain blocks without witnesses, witness blocks whole, one notfound per run of missing items', async () => {
    const s = await server();
    const { peer, got } = await client(s.port);
    const unknown = { type: INV_TYPE.block, hash: Buffer.alloc(32, 7) };
    const unknownWitness = { type: INV_TYPE.witnessBlock, hash: Buffer.alloc(32, 8) };
    const tx = { type: INV_TYPE.witnessTx, hash: Buffer.alloc(32, 9) };
    const filtered = { type: INV_TYPE.filteredBlock, hash: hashAt(3) };
    const compact = { type: INV_TYPE.cmpctBlock, hash: hashAt(3) };
    peer.send({
      command: 'getdata',
      payload: {
        inventory: [
          block(1),
          witnessBlock(2),
          unknown,
          tx,
          filtered,
          compact,
          witnessBlock(0),
          witnessBlock(HEIGHT),
          unknownWitness,
        ],
      },
    });
    await waitUntil('six answers', () => got.length >= 6);
    expect(got.map((m) => m.command)).toEqual([
      'block',
      'block',
      'notfound',
      'block',
      'block',
      'notfound',
    ]);
    const [plain, witness, missing, genesis, tip, last] = got;
    // MSG_BLOCK: the same block (header, txids) without its witness data.
    const plainRaw = rawOf(plain);
    expect(blockHash(plainRaw)).toEqual(hashAt(1));
    expect(plainRaw.length).toBeLessThan(rawAt(1).length);
    expect(blockTxids(plainRaw)).toEqual(blockTxids(rawAt(1)));
    expect(blockWtxids(plainRaw)).toEqual(blockTxids(rawAt(1)));
    // MSG_WITNESS_BLOCK: the block as stored.
    expect(Buffer.from(rawOf(witness))).toEqual(rawAt(2));
    expect(hexes(invOf(missing))).toEqual(hexes([unknown, tx, filtered, compact]));
    expect(Buffer.from(rawOf(genesis))).toEqual(GENESIS);
    expect(Buffer.from(rawOf(tip))).toEqual(rawAt(HEIGHT));
    expect(hexes(invOf(last))).toEqual(hexes([unknownWitness]));
    expect(peer.connected).toBe(true);
  });

  it('a held block that cannot be read or parsed is notfound, and serving goes on', async () => {
    const memory = new MemoryBlocks(10);
    await memory.put(hashAt(1), rawAt(1));
    const broken = Buffer.alloc(32, 0xee);
    const garbage = Buffer.alloc(32, 0xdd);
    const source: BlockSource = {
      has: (h) => memory.has(h) || Buffer.from(h).equals(broken) || Buffer.from(h).equals(garbage),
      get: (h) => {
        if (Buffer.from(h).equals(broken)) throw new Error('disk on fire');
        if (Buffer.from(h).equals(garbage)) return Buffer.alloc(100, 1);
        return memory.get(h);
      },
      put: async () => true,
      count: 3,
    };
    const s = await server(source);
    const { peer, got } = await client(s.port);
    const items = [
      { type: INV_TYPE.witnessBlock, hash: broken },
      { type: INV_TYPE.block, hash: garbage },
      witnessBlock(1),
    ];
    peer.send({ command: 'getdata', payload: { inventory: items } });
    await waitUntil('two answers', () => got.length >= 2);
    expect(got.map((m) => m.command)).toEqual(['notfound', 'block']);
    expect(hexes((got[0] as Extract<Message, { command: 'notfound' }>).payload.inventory)).toEqual(
      hexes(items.slice(0, 2)),
    );
    expect(peer.connected).toBe(true);
  });

  it('a peer asking for 50,000 blocks that does not read costs its send queue, not 50,000 blocks', async () => {
    // 200 KB "blocks" (the service does not parse witness blocks), so that the
    // kernel's socket buffers hold only a few of them.
    const big = Buffer.alloc(200_000, 1);
    const source: BlockSource = {
      has: () => true,
      get: () => big,
      put: async () => true,
      count: HEIGHT + 1,
    };
    const s = await server(source);
    const socket = tcpConnect(s.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.pause(); // never reads
    engines.push({ close: async () => void socket.destroy() } as unknown as Engine);
    await new Promise((r) => socket.once('connect', r));
    const items = Buffer.alloc(3 + 50_000 * 36);
    items[0] = 0xfd;
    items.writeUInt16LE(50_000, 1);
    for (let i = 0; i < 50_000; i++) {
      items.writeUInt32LE(INV_TYPE.witnessBlock, 3 + i * 36);
      hashAt(i % (HEIGHT + 1)).copy(items, 3 + i * 36 + 4);
    }
    const peer = await handshake(s, socket, 99n);
    socket.write(frame('getdata', items));
    await waitUntil('serving paused on the send queue', () => {
      const q = s.service.queueOf(peer);
      return q.paused && q.pending > 0 && q.pending + s.served.length === 50_000;
    });
    // What was queued: the send queue's pause point (1 MB) plus what the
    // kernel took, a few MB: far from 50,000 × 200 KB = 10 GB.
    expect(s.served.length).toBeLessThan(200);
    expect(s.service.queueOf(peer).pending).toBeGreaterThan(49_800);
    expect(peer.connected).toBe(true);
  });

  it('more than 50,000 items (MAX_INV_SZ) do not decode: the peer is charged', async () => {
    const s = await server();
    const charged = new Promise<{ score: number; reason: string }>((resolve) =>
      s.engine.once('misbehaving', (_p, i) => resolve(i)),
    );
    const items = Buffer.alloc(3 + 50_001 * 36);
    items[0] = 0xfd;
    items.writeUInt16LE(50_001, 1);
    const socket = tcpConnect(s.port, '127.0.0.1');
    socket.on('error', () => {});
    socket.resume();
    engines.push({ close: async () => void socket.destroy() } as unknown as Engine);
    await new Promise((r) => socket.once('connect', r));
    await handshake(s, socket, 98n);
    socket.write(frame('getdata', items));
    const info = await charged;
    expect(info.score).toBe(20);
    expect(info.reason).toMatch(/getdata/);
  });
});

describe('getblocks', () => {
  it('answers with up to 500 hashes after the fork point, stops before hashStop, and continues after the 500th', async () => {
    const s = await server();
    const { peer, got } = await client(s.port);
    const zero = new Uint8Array(32);
    peer.send({
      command: 'getblocks',
      payload: { version: 70016, locator: [hashAt(0)], hashStop: zero },
    });
    await waitUntil('inv', () => got.length >= 1);
    const first = got.shift() as Extract<Message, { command: 'inv' }>;
    expect(first.command).toBe('inv');
    expect(hexes(first.payload.inventory)).toEqual(
      hexes(Array.from({ length: 500 }, (_, i) => block(i + 1))),
    );

    // Asking for the 500th block brings it, then an inv of our tip (Core's hashContinue).
    peer.send({ command: 'getdata', payload: { inventory: [witnessBlock(500)] } });
    await waitUntil('block and inv', () => got.length >= 2);
    expect(got[0]?.command).toBe('block');
    expect(got[1]).toMatchObject({ command: 'inv' });
    expect(hexes((got[1] as Extract<Message, { command: 'inv' }>).payload.inventory)).toEqual(
      hexes([block(HEIGHT)]),
    );
    got.length = 0;

    // The next getblocks, from a locator whose first hashes we do not know.
    peer.send({
      command: 'getblocks',
      payload: {
        version: 70016,
        locator: [Buffer.alloc(32, 5), hashAt(500), hashAt(0)],
        hashStop: zero,
      },
    });
    await waitUntil('inv', () => got.length >= 1);
    expect(hexes((got[0] as Extract<Message, { command: 'inv' }>).payload.inventory)).toEqual(
      hexes(Array.from({ length: HEIGHT - 500 }, (_, i) => block(501 + i))),
    );
    got.length = 0;

    // hashStop ends the list before it; asking for the (former) 500th again sends no inv.
    peer.send({
      command: 'getblocks',
      payload: { version: 70016, locator: [hashAt(0)], hashStop: hashAt(10) },
    });
    peer.send({ command: 'getdata', payload: { inventory: [witnessBlock(500)] } });
    await waitUntil('inv and block', () => got.length >= 2);
    expect(hexes((got[0] as Extract<Message, { command: 'inv' }>).payload.inventory)).toEqual(
      hexes(Array.from({ length: 9 }, (_, i) => block(1 + i))),
    );
    expect(got[1]?.command).toBe('block');
    // Flushed by a ping round trip: nothing else came.
    await peer.request({ command: 'ping', payload: { nonce: 1n } });
    expect(got).toHaveLength(2);
  });
});

describe('announcements', () => {
  /** Mines `count` blocks on the server's tip and announces them. */
  async function mine(s: Server, count: number): Promise<Buffer[]> {
    const before = s.chain.tip;
    const made: Buffer[] = [];
    for (const b of blockStream(REGTEST, { after: { height: before.height, hash: before.hash } })) {
      if (made.length === count) break;
      s.chain.append([b.header]);
      made.push(b.hash);
    }
    s.service.announce(before);
    return made;
  }

  it('headers to a peer that sent sendheaders (up to 8), inv of the tip to others', async () => {
    const s = await server();
    const a = await client(s.port);
    const b = await client(s.port);
    a.peer.send({ command: 'sendheaders', payload: {} });
    // Both learn our chain first (Core announces headers only when they connect).
    for (const c of [a, b]) {
      await c.peer.request({
        command: 'getheaders',
        payload: { version: 70016, locator: [hashAt(0)], hashStop: new Uint8Array(32) },
      });
      c.got.length = 0;
    }
    const one = await mine(s, 1);
    await waitUntil('announcements', () => a.got.length >= 1 && b.got.length >= 1);
    expect(a.got[0]?.command).toBe('headers');
    const headers = (a.got[0] as Extract<Message, { command: 'headers' }>).payload.headers;
    expect(headers).toHaveLength(1);
    expect(b.got[0]?.command).toBe('inv');
    expect(hexes((b.got[0] as Extract<Message, { command: 'inv' }>).payload.inventory)).toEqual(
      hexes([{ type: INV_TYPE.block, hash: one[0] as Buffer }]),
    );
    a.got.length = 0;
    b.got.length = 0;

    // Eight at once still go as headers; nine fall back to an inv of the tip.
    const eight = await mine(s, 8);
    await waitUntil('announcements', () => a.got.length >= 1 && b.got.length >= 1);
    expect((a.got[0] as Extract<Message, { command: 'headers' }>).payload.headers).toHaveLength(8);
    expect(hexes((b.got[0] as Extract<Message, { command: 'inv' }>).payload.inventory)).toEqual(
      hexes([{ type: INV_TYPE.block, hash: eight[7] as Buffer }]),
    );
    a.got.length = 0;
    const nine = await mine(s, 9);
    await waitUntil('announcement', () => a.got.length >= 1);
    expect(a.got[0]?.command).toBe('inv');
    expect(hexes((a.got[0] as Extract<Message, { command: 'inv' }>).payload.inventory)).toEqual(
      hexes([{ type: INV_TYPE.block, hash: nine[8] as Buffer }]),
    );
  });
});
