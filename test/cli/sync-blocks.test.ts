// `peerwire sync --blocks --datadir DIR`, run as a user runs it (the built CLI
// in its own process), against Engines on loopback that serve a generated
// regtest chain of real blocks: headers from a HeaderChain (serveHeaders),
// blocks from getdata. The download is spread over the peers, every block is
// verified and stored once, a rerun downloads nothing, and a sync killed with
// SIGKILL mid-download resumes without losing or repeating a stored block.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { checkBlock } from '../../ts/block/check.js';
import { generateBlocks } from '../../ts/block/generate.js';
import { hashToHex } from '../../ts/chain/hash.js';
import { chainFor } from '../../ts/chain/headerchain.js';
import { serveHeaders } from '../../ts/cli/headers-service.js';
import { networkPreset } from '../../ts/config/schema.js';
import { Engine } from '../../ts/engine/engine.js';
import type { Peer } from '../../ts/engine/peer.js';
import { BlockStore } from '../../ts/store/blocks/store.js';
import type { BlockHeader, InvVector } from '../../ts/wire/types.js';
import { invalidBlockAt } from '../helpers/blocks.js';
import { exitOf, ROOT, runCli, syncBlocksArgs } from '../helpers/cli.js';
import { waitUntil } from '../helpers/wait.js';

const REGTEST = networkPreset('regtest');
const COUNT = 240;
// Transactions from height 101 on, so blocks have real merkle trees and witnesses.
const BLOCKS = generateBlocks(REGTEST, COUNT, { txsPerBlock: 3 });
const BY_HASH = new Map(BLOCKS.map((b) => [hashToHex(b.hash), b]));
/** Bytes the store's data files hold for the chain with each block once (8-byte record prefix). */
const STORE_BYTES = BLOCKS.reduce((n, b) => n + 8 + b.raw.length, 0);

const engines: Engine[] = [];
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pw-sync-blocks-'));
  dirs.push(d);
  return d;
}

interface Server {
  address: string;
  /** Display-order hashes of every block it sent, in order. */
  sent: string[];
}

/**
 * Blocks served by all servers together; past `limit`, getdata is held
 * unanswered. With `paceMs`, each server sends one block per `paceMs`.
 */
const gate = { served: 0, limit: Number.POSITIVE_INFINITY, paceMs: 0 };

function openGate(): void {
  gate.served = 0;
  gate.limit = Number.POSITIVE_INFINITY;
  gate.paceMs = 0;
}

const INVALID = invalidBlockAt(BLOCKS, COUNT);
BY_HASH.set(hashToHex(INVALID.hash), INVALID);

/** A NODE_NETWORK | NODE_WITNESS Engine serving the chain's headers and blocks. */
function server(blocks: ReadonlyArray<{ header: BlockHeader }> = BLOCKS, height = COUNT): Server {
  const chain = chainFor(REGTEST);
  chain.append(blocks.map((b) => b.header));
  const e = new Engine({ network: { ...REGTEST, services: 9n }, startHeight: () => height });
  engines.push(e);
  serveHeaders(e, chain, { follow: false });
  const sent: string[] = [];
  let queue = Promise.resolve();
  const send = (peer: Peer, block: { hash: Buffer; raw: Buffer }) => {
    if (gate.served >= gate.limit || !peer.active) return;
    gate.served++;
    sent.push(hashToHex(block.hash));
    peer.send({ command: 'block', payload: { raw: block.raw } });
  };
  e.on('getdata', (peer: Peer, payload) => {
    const missing: InvVector[] = [];
    for (const inv of payload.inventory) {
      const block = BY_HASH.get(hashToHex(inv.hash));
      if (!block) {
        missing.push(inv);
      } else if (gate.paceMs > 0) {
        queue = queue
          .then(() => new Promise((r) => setTimeout(r, gate.paceMs)))
          .then(() => send(peer, block));
      } else {
        send(peer, block);
      }
    }
    if (missing.length > 0) peer.send({ command: 'notfound', payload: { inventory: missing } });
  });
  const { port } = e.listen('127.0.0.1', 0);
  return { address: `127.0.0.1:${port}`, sent };
}

/** An Engine that serves the chain's headers and hangs up on getdata. */
function hangingUp(): Server {
  const chain = chainFor(REGTEST);
  chain.append(BLOCKS.map((b) => b.header));
  const e = new Engine({ network: { ...REGTEST, services: 9n }, startHeight: () => COUNT });
  engines.push(e);
  serveHeaders(e, chain, { follow: false });
  e.on('getdata', (peer) => peer.disconnect('hangs up on getdata'));
  return { address: `127.0.0.1:${e.listen('127.0.0.1', 0).port}`, sent: [] };
}

const syncArgs = (servers: Server[], datadir: string, extra: string[] = []) =>
  syncBlocksArgs(
    servers.map((s) => s.address),
    datadir,
    extra,
  );

/** Opens the store the CLI wrote and checks it holds the chain, each block once and verified. */
async function expectWholeChain(datadir: string): Promise<void> {
  const store = await BlockStore.open(join(datadir, 'blocks'), { magic: REGTEST.magic });
  try {
    expect(store.report.problems).toEqual([]);
    expect(store.stats().blocks).toBe(COUNT);
    // Each block's record once: the data files hold exactly the chain's records.
    expect(store.stats().bytes).toBe(STORE_BYTES);
    for (const b of BLOCKS) {
      const raw = await store.get(b.hash);
      expect(raw && Buffer.from(raw).equals(b.raw), `block ${b.height}`).toBe(true);
      expect(
        checkBlock(raw as Buffer, { expectedHash: b.hash, bip34Height: b.height }).txCount,
      ).toBe(b.height > 100 ? 4 : 1);
    }
  } finally {
    await store.close();
  }
}

describe('peerwire sync --blocks', () => {
  it('downloads the chain from several peers into the datadir; a rerun downloads nothing', async () => {
    openGate();
    const servers = [server(), server(), server()];
    const datadir = join(tempDir(), 'data'); // created by the sync
    const first = await runCli(syncArgs(servers, datadir, ['--json']));
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const result = JSON.parse(first.stdout);
    expect(result.height).toBe(COUNT);
    expect(result.tip).toBe(hashToHex(BLOCKS[COUNT - 1]?.hash as Buffer));
    expect(result.blocks).toMatchObject({
      complete: true,
      target: { height: COUNT, hash: result.tip },
      height: COUNT,
      alreadyStored: 0,
      downloaded: COUNT,
      stored: COUNT,
      bytes: BLOCKS.reduce((n, b) => n + b.raw.length, 0),
      dropped: [],
    });
    // From several peers at once, and each block from one of them.
    expect(result.blocks.peers.length).toBeGreaterThanOrEqual(2);
    const sent = servers.flatMap((s) => s.sent);
    expect(sent).toHaveLength(COUNT);
    expect(new Set(sent).size).toBe(COUNT);
    for (const s of servers) {
      const row = result.blocks.peers.find((p: { peer: string }) => p.peer === s.address);
      expect(row?.blocks ?? 0).toBe(s.sent.length);
    }
    await expectWholeChain(datadir);

    // Again with the same datadir: the headers and the blocks are there already.
    const second = await runCli(syncArgs(servers, datadir, ['--json']));
    expect(second.code).toBe(0);
    const again = JSON.parse(second.stdout);
    expect(again.blocks).toMatchObject({
      complete: true,
      alreadyStored: COUNT,
      downloaded: 0,
      stored: COUNT,
    });
    expect(servers.flatMap((s) => s.sent)).toHaveLength(COUNT);
    await expectWholeChain(datadir);
  }, 60_000);

  it('survives kill -9 mid-download and resumes: no stored block lost or fetched twice', async () => {
    // The servers give out 60 blocks between them and hold every later request,
    // so the sync is mid-download, with requests in flight, when it is killed.
    gate.served = 0;
    gate.limit = 60;
    const servers = [server(), server(), server()];
    const datadir = tempDir();
    const child = spawn(process.execPath, ['dist/cli/main.js', ...syncArgs(servers, datadir)], {
      cwd: ROOT,
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    try {
      // It logs the blocks stored (put resolved: fsync'd) on stderr.
      await waitUntil('60 blocks reported stored', () => /blocks stored=60 /.test(stderr), 30_000);
      expect(child.exitCode).toBe(null);
    } finally {
      child.kill('SIGKILL');
    }
    await exitOf(child as ChildProcess);
    const servedBefore = new Set(servers.flatMap((s) => s.sent));
    expect(servedBefore.size).toBe(60);
    const before = servers.map((s) => s.sent.length);

    gate.limit = Number.POSITIVE_INFINITY;
    const rerun = await runCli(syncArgs(servers, datadir, ['--json']));
    expect(rerun.code).toBe(0);
    const result = JSON.parse(rerun.stdout);
    // The 60 reported stored were kept; only the others were downloaded.
    expect(result.blocks).toMatchObject({
      complete: true,
      alreadyStored: 60,
      downloaded: COUNT - 60,
      stored: COUNT,
    });
    const servedAfter = servers.flatMap((s, i) => s.sent.slice(before[i]));
    expect(servedAfter).toHaveLength(COUNT - 60);
    for (const h of servedAfter) expect(servedBefore.has(h)).toBe(false);
    await expectWholeChain(datadir);
  }, 90_000);

  it('survives kill -9 while blocks are being written, and keeps every block it reported', async () => {
    // Blocks keep coming (one per 15 ms from each server) when the kill lands.
    openGate();
    gate.paceMs = 15;
    const servers = [server(), server(), server()];
    const datadir = tempDir();
    const child = spawn(process.execPath, ['dist/cli/main.js', ...syncArgs(servers, datadir)], {
      cwd: ROOT,
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    let reported: { stored: number; height: number } | undefined;
    try {
      await waitUntil(
        'some blocks reported stored',
        () => {
          const m = [...stderr.matchAll(/blocks stored=(\d+) target=\d+ height=(\d+)/g)].at(-1);
          if (m && Number(m[1]) >= 30) reported = { stored: Number(m[1]), height: Number(m[2]) };
          return reported !== undefined;
        },
        30_000,
      );
    } finally {
      child.kill('SIGKILL');
    }
    await exitOf(child as ChildProcess);
    const { stored, height } = reported as { stored: number; height: number };
    expect(stored).toBeLessThan(COUNT);
    const before = servers.map((s) => s.sent.length);

    openGate();
    const rerun = await runCli(syncArgs(servers, datadir, ['--json']));
    expect(rerun.code).toBe(0);
    const result = JSON.parse(rerun.stdout);
    // At least what it reported was kept; the blocks up to the reported height
    // were not asked for again.
    expect(result.blocks.complete).toBe(true);
    expect(result.blocks.alreadyStored).toBeGreaterThanOrEqual(stored);
    expect(result.blocks.downloaded).toBe(COUNT - result.blocks.alreadyStored);
    const again = new Set(servers.flatMap((s, i) => s.sent.slice(before[i])));
    for (const b of BLOCKS.slice(0, height)) expect(again.has(hashToHex(b.hash))).toBe(false);
    await expectWholeChain(datadir);
  }, 90_000);

  it('stops at an invalid block with exit code 1, keeping the blocks stored before it', async () => {
    openGate();
    const chain = [...BLOCKS.slice(0, COUNT - 1), INVALID];
    const servers = [server(chain), server(chain)];
    const datadir = tempDir();
    const run = await runCli(syncArgs(servers, datadir, ['--json']));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/blocks stopped at \d+\/240 stored: invalid block: .*bad-cb-height/);
    expect(run.stderr).not.toMatch(/rerun/);
    const result = JSON.parse(run.stdout);
    expect(result.blocks).toMatchObject({
      complete: false,
      invalid: true,
      target: { height: COUNT },
    });
    expect(result.blocks.error).toMatch(/bad-cb-height/);
    expect(result.blocks.stored).toBeLessThan(COUNT);
    expect(result.blocks.dropped).toEqual([expect.objectContaining({ reason: 'invalid-block' })]);
    const store = await BlockStore.open(join(datadir, 'blocks'), { magic: REGTEST.magic });
    try {
      expect(store.stats().blocks).toBe(result.blocks.stored);
      expect(store.has(INVALID.hash)).toBe(false);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('downloads blocks a peer showed in its headers past the height its version announced', async () => {
    // Their chains grew after the handshake: the versions say 200, the headers go to 240.
    openGate();
    const servers = [server(BLOCKS, 200), server(BLOCKS, 200)];
    const run = await runCli(syncArgs(servers, tempDir(), ['--json']), 30_000);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).blocks).toMatchObject({ complete: true, downloaded: COUNT });
  }, 60_000);

  it('stops with exit 1 when no peer is left to download from; a rerun with a peer finishes', async () => {
    openGate();
    const hangup = hangingUp();
    const datadir = tempDir();
    const run = await runCli(syncArgs([hangup], datadir, ['--timeout-ms', '500', '--json']));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /blocks stopped at 0\/240 stored: no peer left to download from \(waited 0.5 s\); rerun with the same --datadir to resume/,
    );
    expect(JSON.parse(run.stdout).blocks).toMatchObject({ complete: false, stored: 0 });

    const rerun = await runCli(syncArgs([server()], datadir, ['--json']));
    expect(rerun.code).toBe(0);
    expect(JSON.parse(rerun.stdout).blocks).toMatchObject({ complete: true, downloaded: COUNT });
  }, 60_000);

  it('stops with exit 1 when no peer has the next block', async () => {
    openGate();
    // The datadir learns 240 headers from a peer that then hangs up...
    const datadir = tempDir();
    const first = await runCli(syncArgs([hangingUp()], datadir, ['--timeout-ms', '500']));
    expect(first.code).toBe(1);
    // ... and the next run's peers have only the first 200 blocks.
    const short = BLOCKS.slice(0, 200);
    const run = await runCli(
      syncArgs([server(short, 200), server(short, 200)], datadir, [
        '--timeout-ms',
        '500',
        '--json',
      ]),
    );
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/no peer has the block at height 201 \(waited 0.5 s\)/);
    expect(JSON.parse(run.stdout).blocks).toMatchObject({
      complete: false,
      target: { height: COUNT },
      height: 200,
      stored: 200,
    });
  }, 60_000);

  it('--prune keeps the store under its target, and a rerun does not fetch pruned blocks again', async () => {
    openGate();
    // 300 blocks of 60 transactions, about 1.8 MB: past a 1 MB target.
    const big = generateBlocks(REGTEST, 300, { txsPerBlock: 60, seed: 'prune' });
    for (const b of big) BY_HASH.set(hashToHex(b.hash), b);
    const servers = [server(big, 300), server(big, 300)];
    const datadir = tempDir();
    const first = await runCli(syncArgs(servers, datadir, ['--prune', '1', '--json']));
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const result = JSON.parse(first.stdout).blocks;
    expect(result).toMatchObject({ complete: true, fromHeight: 1, downloaded: 300, height: 300 });
    expect(result.store.bytes).toBeLessThanOrEqual(1_000_000);
    expect(result.stored).toBeLessThan(300);
    expect(result.stored).toBe(result.store.blocks);
    const sent = servers.map((s) => s.sent.length);
    expect((sent[0] as number) + (sent[1] as number)).toBe(300);

    const again = await runCli(syncArgs(servers, datadir, ['--prune', '1', '--json']));
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout).blocks).toMatchObject({
      complete: true,
      fromHeight: 301,
      downloaded: 0,
    });
    expect(servers.map((s) => s.sent.length)).toEqual(sent);

    // What is left is the newest blocks, each intact.
    const store = await BlockStore.open(join(datadir, 'blocks'), { magic: REGTEST.magic });
    try {
      expect(store.stats().blocks).toBe(result.stored);
      const kept = big.filter((b) => store.has(b.hash));
      expect(kept.length).toBe(result.stored);
      expect(kept.at(-1)?.height).toBe(300);
      for (const b of kept)
        expect(Buffer.from((await store.get(b.hash)) ?? []).equals(b.raw)).toBe(true);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('refuses a datadir of another network and bad flags, with exit code 2', async () => {
    const datadir = tempDir();
    const noDatadir = await runCli(['sync', '--connect', '127.0.0.1:1', '--blocks']);
    expect(noDatadir.code).toBe(2);
    expect(noDatadir.stderr).toMatch(/--blocks needs --datadir/);
    const noBlocks = await runCli(['sync', '--connect', '127.0.0.1:1', '--datadir', datadir]);
    expect(noBlocks.code).toBe(2);
    expect(noBlocks.stderr).toMatch(/--datadir is for --blocks/);
    const pruneAlone = await runCli(['sync', '--connect', '127.0.0.1:1', '--prune', '5']);
    expect(pruneAlone.code).toBe(2);
    expect(pruneAlone.stderr).toMatch(/--prune is for --blocks/);
    const badPrune = await runCli(
      syncArgs([], datadir, ['--connect', '127.0.0.1:1', '--prune', '0']),
    );
    expect(badPrune.code).toBe(2);
    expect(badPrune.stderr).toMatch(/--prune must be an integer ≥ 1/);
    const file = join(datadir, 'a-file');
    writeFileSync(file, 'x');
    const notDir = await runCli([
      'sync',
      '--connect',
      '127.0.0.1:1',
      '--blocks',
      '--datadir',
      file,
    ]);
    expect(notDir.code).toBe(2);
    expect(notDir.stderr).toMatch(/is not a directory/);
    const noParent = await runCli([
      'sync',
      '--connect',
      '127.0.0.1:1',
      '--blocks',
      '--datadir',
      join(datadir, 'no', 'such'),
    ]);
    expect(noParent.code).toBe(2);
    expect(noParent.stderr).toMatch(/does not exist/);

    // A regtest datadir (headers and blocks), then asked for as testnet4.
    openGate();
    const servers = [server()];
    const regtest = await runCli(syncArgs(servers, datadir, ['--json']));
    expect(regtest.code).toBe(0);
    const other = await runCli([
      'sync',
      '--connect',
      servers[0]?.address as string,
      '--network',
      'testnet4',
      '--blocks',
      '--datadir',
      datadir,
    ]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(
      /holds another network's headers \(magic fabfb5da\), not testnet4's/,
    );

    // A datadir in use by a live process (this one) is refused; the lock of a
    // process that is gone was taken over above (the kill -9 tests).
    writeFileSync(join(datadir, '.lock'), `${process.pid}\n`);
    const locked = await runCli(syncArgs(servers, datadir));
    expect(locked.code).toBe(1);
    expect(locked.stderr).toMatch(new RegExp(`is in use by process ${process.pid}`));
    rmSync(join(datadir, '.lock'));

    // Damaged headers are synced again from genesis; the blocks stay.
    const headers = join(datadir, 'headers.dat');
    const bytes = readFileSync(headers);
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0xff;
    writeFileSync(headers, bytes);
    const repaired = await runCli(syncArgs(servers, datadir, ['--json']));
    expect(repaired.code).toBe(0);
    expect(repaired.stderr).toMatch(/syncing the headers from genesis/);
    expect(JSON.parse(repaired.stdout).blocks).toMatchObject({
      complete: true,
      alreadyStored: COUNT,
      downloaded: 0,
    });
  }, 60_000);
});
