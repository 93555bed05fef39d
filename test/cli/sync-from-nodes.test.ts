// The end-to-end case, with every part a real process: three
// `peerwire node`s serve the same generated regtest chain of real blocks, a
// fresh `peerwire sync --blocks` downloads it from all three, is killed with
// SIGKILL early in the download, and a rerun completes it from the store; a
// `peerwire node` on the same data directory then serves the whole chain.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkBlock } from '../../ts/block/check.js';
import { hexToHash } from '../../ts/chain/hash.js';
import { networkPreset } from '../../ts/config/schema.js';
import { INDEX_HEADER_BYTES, INDEX_RECORD_BYTES } from '../../ts/store/blocks/format.js';
import { BlockStore } from '../../ts/store/blocks/store.js';
import { decodeHeadersPayload, readHeadersPayload } from '../../ts/store/headers-file.js';
import { exitOf, ROOT, runCli, startCli, syncBlocksArgs } from '../helpers/cli.js';

const REGTEST = networkPreset('regtest');
const HEIGHT = 3_000;
const NODES = 3;

const children: ChildProcess[] = [];
const dir = mkdtempSync(join(tmpdir(), 'pw-sync-nodes-'));
afterAll(async () => {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exitOf(child);
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

const syncArgs = (addresses: string[], datadir: string) =>
  syncBlocksArgs(addresses, datadir, ['--json']);

describe('peerwire sync --blocks from several peerwire nodes', () => {
  it('downloads from all of them, survives kill -9 and resumes', async () => {
    const nodes = await Promise.all(
      Array.from({ length: NODES }, async () => {
        const node = await startCli(
          ['node', '--listen', '127.0.0.1:0', '--generate', String(HEIGHT), '--json'],
          /"event":"listening"/,
        );
        children.push(node.child);
        return JSON.parse(node.match.input) as { address: string; tip: string };
      }),
    );
    const addresses = nodes.map((n) => n.address);
    const tip = (nodes[0] as { tip: string }).tip;
    // Generation is deterministic: every node holds the same chain.
    for (const n of nodes) expect(n.tip).toBe(tip);
    const datadir = join(dir, 'data');

    // First run: killed as soon as the store's index records some blocks
    // stored (polled every few ms), well before 3,000 are all in.
    const first = spawn(process.execPath, ['dist/cli/main.js', ...syncArgs(addresses, datadir)], {
      cwd: ROOT,
      stdio: 'ignore',
    });
    children.push(first);
    const index = join(datadir, 'blocks', 'index.dat');
    while (first.exitCode === null) {
      if (
        existsSync(index) &&
        statSync(index).size >= INDEX_HEADER_BYTES + 20 * INDEX_RECORD_BYTES
      ) {
        break;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    first.kill('SIGKILL');
    await exitOf(first);

    // The rerun completes from what the store kept.
    const second = await runCli(syncArgs(addresses, datadir), 120_000);
    expect(second.stderr).toBe('');
    expect(second.code).toBe(0);
    const result = JSON.parse(second.stdout);
    expect(result.blocks).toMatchObject({
      complete: true,
      stored: HEIGHT,
      target: { height: HEIGHT, hash: tip },
      dropped: [],
    });
    // What the killed run had recorded is kept, and not fetched again.
    expect(result.blocks.alreadyStored).toBeGreaterThanOrEqual(20);
    expect(result.blocks.alreadyStored + result.blocks.downloaded).toBe(HEIGHT);

    // Every block of the chain is in the store once, and passes its check.
    const store = await BlockStore.open(join(datadir, 'blocks'), { magic: REGTEST.magic });
    try {
      expect(store.stats().blocks).toBe(HEIGHT);
      const chain = decodeHeadersPayload(
        datadir,
        (await readHeadersPayload(datadir)) as Buffer,
        REGTEST,
      );
      expect(chain.height).toBe(HEIGHT);
      for (let height = 1; height <= HEIGHT; height++) {
        const hash = chain.hashAt(height) as Buffer;
        const raw = await store.get(hash);
        expect(raw, `block ${height}`).toBeDefined();
        checkBlock(raw as Buffer, { expectedHash: hash, bip34Height: height });
      }
      expect(await store.get(hexToHash(tip))).toBeDefined();
    } finally {
      await store.close();
    }
    // What the sync stored, a node serves: the same data directory reopened by
    // `peerwire node`, at the same tip, with every block (NODE_NETWORK).
    const server = await startCli(
      ['node', '--listen', '127.0.0.1:0', '--datadir', datadir, '--json'],
      /"event":"listening"/,
    );
    children.push(server.child);
    expect(JSON.parse(server.match.input)).toMatchObject({
      height: HEIGHT,
      tip,
      services: '0x409',
    });

    // The rerun's blocks came from more than one node (the window spreads them).
    if (result.blocks.downloaded >= 1_000) {
      expect(
        result.blocks.peers.filter((p: { blocks: number }) => p.blocks > 0).length,
      ).toBeGreaterThanOrEqual(2);
    }
  }, 180_000);
});
