// Interop with btcd 0.24.2 (an independent full node in Go, regtest): it dials
// `peerwire node`, which must advertise services it accepts as an outbound
// peer, serve it headers and blocks (btcd syncs with getblocks/inv and
// getdata), and keep the connection once btcd is at the tip; and `peerwire
// sync --blocks` downloads, verifies and stores the blocks btcd mines.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hexToHash } from '../../ts/chain/hash.js';
import { networkPreset } from '../../ts/config/schema.js';
import { BlockStore } from '../../ts/store/blocks/store.js';
import { BTCD_MINING_ADDRESS, type BtcdHandle, startBtcd } from '../helpers/btcd.js';
import { exitOf, runCli, startCli, syncBlocksArgs } from '../helpers/cli.js';

/**
 * Past btcd's regtest segwit activation (BIP 9 signalling, active from 432),
 * so blocks carry witness commitments and are fetched as witness blocks, and
 * past 500, so the sync needs the getblocks continuation.
 */
const HEIGHT = 700;
/** Blocks btcd mines for peerwire to download (past its segwit activation too). */
const MINED = 500;
const REGTEST_MAGIC = networkPreset('regtest').magic;

let node: ChildProcess | undefined;
let btcd: BtcdHandle | undefined;

afterEach(async () => {
  await btcd?.close();
  btcd = undefined;
  if (node && node.exitCode === null) {
    node.kill('SIGINT');
    await exitOf(node);
  }
  node = undefined;
});

async function eventually<T>(
  what: string,
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
  log: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(value)})\n${log()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

const events = (lines: string[], name: string) =>
  lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.event === name);

describe('btcd and peerwire node', () => {
  it(`btcd dials the node, syncs all ${HEIGHT} blocks, and keeps the connection`, async () => {
    const started = await startCli(
      ['node', '--listen', '127.0.0.1:0', '--generate', String(HEIGHT), '--json'],
      /"event":"listening"/,
    );
    node = started.child;
    const listening = JSON.parse(started.match.input) as { address: string; tip: string };

    btcd = await startBtcd({ connect: listening.address });
    const handle = btcd;
    const tail = () => handle.log().slice(-3000);
    await eventually(
      `btcd at height ${HEIGHT}`,
      () => handle.height(),
      (h) => h >= HEIGHT,
      120_000,
      tail,
    );
    expect(await handle.height()).toBe(HEIGHT);
    expect(await handle.bestHash()).toBe(listening.tip);

    const [peer] = await handle.peers();
    expect(peer?.addr).toBe(listening.address);
    expect(peer?.inbound).toBe(false);
    expect(peer?.subver).toMatch(/peerwire/);
    // NODE_NETWORK | NODE_NETWORK_LIMITED | NODE_WITNESS, as Core advertises;
    // btcd requires NODE_NETWORK of an outbound peer.
    // btcd shows the bits as a zero-padded decimal number.
    expect(Number.parseInt(peer?.services ?? '0', 10)).toBe(1033);

    // Still the same connection a while after the sync: btcd did not drop us.
    await new Promise((r) => setTimeout(r, 5_000));
    const after = await handle.peers();
    expect(after.map((p) => [p.addr, p.conntime])).toEqual([[peer?.addr, peer?.conntime]]);
    expect(events(started.lines, 'disconnected')).toEqual([]);
    expect(events(started.lines, 'handshake')).toHaveLength(1);
  }, 180_000);
  it('peerwire sync --blocks downloads and verifies the blocks btcd mined', async () => {
    btcd = await startBtcd({ miningAddress: BTCD_MINING_ADDRESS });
    const handle = btcd;
    const hashes = await handle.rpc<string[]>('generate', [MINED]);
    expect(hashes).toHaveLength(MINED);
    const datadir = mkdtempSync(join(tmpdir(), 'peerwire-btcd-sync-'));
    try {
      const run = await runCli(syncBlocksArgs([handle.address], datadir, ['--json']), 120_000);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      const result = JSON.parse(run.stdout);
      expect(result.peers[0]).toMatchObject({ userAgent: expect.stringMatching(/btcd/) });
      expect(result.blocks).toMatchObject({
        complete: true,
        downloaded: MINED,
        stored: MINED,
        target: { height: MINED, hash: await handle.bestHash() },
        dropped: [],
      });
      const store = await BlockStore.open(join(datadir, 'blocks'), { magic: REGTEST_MAGIC });
      try {
        for (const [i, hash] of hashes.entries()) {
          const raw = await store.get(hexToHash(hash));
          const theirs = Buffer.from(await handle.rpc<string>('getblock', [hash, 0]), 'hex');
          expect(raw && Buffer.from(raw).equals(theirs), `block ${i + 1}`).toBe(true);
        }
      } finally {
        await store.close();
      }
    } finally {
      rmSync(datadir, { recursive: true, force: true });
    }
  }, 180_000);
});
