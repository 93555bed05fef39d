// `peerwire node` with blocks: the services it advertises follow what it holds
// (whole chain, last 288, headers only), --services cannot claim more, a
// generated chain is served whole, and a data directory is reopened on
// restart (after a clean stop, and after kill -9 mid-generation).
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { checkBlock } from '../../ts/block/check.js';
import { generateBlocks } from '../../ts/block/generate.js';
import { requestBlock } from '../../ts/block/request.js';
import { hashToHex } from '../../ts/chain/hash.js';
import { chainFor } from '../../ts/chain/headerchain.js';
import { writeHeadersFile } from '../../ts/chain/headersfile.js';
import { networkPreset } from '../../ts/config/schema.js';
import { Engine } from '../../ts/engine/engine.js';
import type { Peer } from '../../ts/engine/peer.js';
import { BlockStore } from '../../ts/store/blocks/store.js';
import { exitOf, runCli, startCli } from '../helpers/cli.js';

const REGTEST = networkPreset('regtest');
const HEIGHT = 300;
const BLOCKS = generateBlocks(REGTEST, HEIGHT, { segwitHeight: 432 });
const TMP = mkdtempSync(join(tmpdir(), 'peerwire-node-blocks-'));
let n = 0;
const fresh = () => join(TMP, `d${n++}`);

const children: ChildProcess[] = [];
const engines: Engine[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill('SIGINT');
      await exitOf(c);
    }
  }
});
afterAll(() => rmSync(TMP, { recursive: true, force: true }));

interface Listening {
  address: string;
  height: number;
  tip: string;
  services: string;
}

async function startNode(args: string[]) {
  const started = await startCli(
    ['node', '--listen', '127.0.0.1:0', '--json', ...args],
    /"event":"listening"/,
  );
  children.push(started.child);
  const events = () => started.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    child: started.child,
    listening: JSON.parse(started.match.input) as Listening,
    events,
    lines: started.lines,
  };
}

async function stop(child: ChildProcess): Promise<void> {
  child.kill('SIGINT');
  expect(await exitOf(child)).toBe(0);
}

function headersFile(): string {
  const chain = chainFor(REGTEST);
  chain.append(BLOCKS.map((b) => b.header));
  const path = join(TMP, `headers-${n++}.dat`);
  writeHeadersFile(path, chain);
  return path;
}

/** A data directory whose store holds the blocks from `from` to the tip. */
async function storeFrom(from: number): Promise<string> {
  const dir = fresh();
  const store = await BlockStore.open(join(dir, 'blocks'), { magic: REGTEST.magic });
  await Promise.all(BLOCKS.slice(from - 1).map((b) => store.put(b.hash, b.raw)));
  await store.close();
  return dir;
}

async function dial(address: string): Promise<Peer> {
  const e = new Engine({ network: REGTEST });
  engines.push(e);
  const ready = new Promise<Peer>((resolve) => e.once('handshake', resolve));
  e.connect(address);
  return ready;
}

describe('services follow the blocks held', () => {
  it('the whole generated chain: NODE_NETWORK | NODE_NETWORK_LIMITED | NODE_WITNESS, and every block is served', async () => {
    const node = await startNode(['--generate', String(HEIGHT)]);
    expect(node.listening.services).toBe('0x409');
    expect(node.listening.height).toBe(HEIGHT);
    const peer = await dial(node.listening.address);
    expect(peer.services).toBe(1033n);
    for (const h of [1, 150, HEIGHT]) {
      const b = BLOCKS[h - 1] as (typeof BLOCKS)[number];
      const raw = await requestBlock(peer, b.hash);
      expect(Buffer.from(raw)).toEqual(b.raw);
      checkBlock(raw, { expectedHash: b.hash, bip34Height: h });
    }
  });

  it('only headers: no service bits, getdata answered by notfound', async () => {
    const node = await startNode(['--headers', headersFile()]);
    expect(node.listening.services).toBe('0x0');
    const peer = await dial(node.listening.address);
    const b = BLOCKS[10] as (typeof BLOCKS)[number];
    await expect(requestBlock(peer, b.hash)).rejects.toThrow(/does not have block/);
  });

  it('the last 288 blocks (or more) but not all: NODE_NETWORK_LIMITED | NODE_WITNESS', async () => {
    const dir = await storeFrom(HEIGHT - 289);
    const node = await startNode(['--headers', headersFile(), '--datadir', dir]);
    expect(node.listening.services).toBe('0x408');
    const peer = await dial(node.listening.address);
    const recent = BLOCKS[HEIGHT - 290] as (typeof BLOCKS)[number];
    expect(Buffer.from(await requestBlock(peer, recent.hash))).toEqual(recent.raw);
    // Deeper than 288 + 2 below the tip: as Core, no block and the connection ends.
    const deep = BLOCKS[HEIGHT - 295] as (typeof BLOCKS)[number];
    await expect(requestBlock(peer, deep.hash)).rejects.toThrow();
    expect(peer.connected).toBe(false);
  });

  it('--services claiming what the blocks cannot back is a usage error', async () => {
    const dir = await storeFrom(HEIGHT - 289);
    const r = await runCli([
      'node',
      '--listen',
      '127.0.0.1:0',
      '--headers',
      headersFile(),
      '--datadir',
      dir,
      '--services',
      '9',
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/cannot honour NODE_NETWORK \(1\) needs every block/);
    const few = await storeFrom(HEIGHT - 100);
    const r2 = await runCli([
      'node',
      '--listen',
      '127.0.0.1:0',
      '--headers',
      headersFile(),
      '--datadir',
      few,
      '--services',
      '1032',
    ]);
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/NODE_NETWORK_LIMITED \(1024\) needs the last 288 blocks/);
  });
});

describe('--generate without --datadir', () => {
  it('is bounded in memory: past the bound it asks for --datadir', async () => {
    const r = await runCli(['node', '--listen', '127.0.0.1:0', '--generate', '50000']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/more than 50000 blocks in memory: give --datadir DIR/);
  });
});

describe('a data directory is reopened', () => {
  it('after a clean stop: the same chain, not generated again, served whole', async () => {
    const dir = fresh();
    const first = await startNode(['--generate', String(HEIGHT), '--datadir', dir]);
    expect(first.listening.tip).toBe(hashToHex(BLOCKS[HEIGHT - 1]?.hash as Buffer));
    await stop(first.child);

    const again = await startNode(['--generate', String(HEIGHT), '--datadir', dir]);
    expect(again.listening).toMatchObject({ height: HEIGHT, tip: first.listening.tip });
    const blocks = again.events().find((e) => e.event === 'blocks');
    expect(blocks).toMatchObject({ reopened: HEIGHT, held: HEIGHT + 1, services: '0x409' });
    expect(blocks?.generated).toBeUndefined();
    const peer = await dial(again.listening.address);
    const b = BLOCKS[200] as (typeof BLOCKS)[number];
    expect(Buffer.from(await requestBlock(peer, b.hash))).toEqual(b.raw);
  });

  it('after kill -9 while mining every 20 ms: every block logged is there', async () => {
    const dir = fresh();
    const node = await startNode([
      '--generate',
      '10',
      '--generate-interval-ms',
      '20',
      '--datadir',
      dir,
    ]);
    const mined = () => node.events().filter((e) => e.event === 'block');
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (mined().length >= 5) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    node.child.kill('SIGKILL');
    await exitOf(node.child);
    const last = mined().at(-1) as { height: number; hash: string };

    const again = await startNode(['--datadir', dir]);
    expect(again.listening.height).toBeGreaterThanOrEqual(last.height);
    expect(again.listening.services).toBe('0x409');
    const peer = await dial(again.listening.address);
    const hash = Buffer.from(last.hash, 'hex').reverse();
    const raw = await requestBlock(peer, hash);
    checkBlock(raw, { expectedHash: hash, bip34Height: last.height });
  });
});
