// Interop: `peerwire sync --blocks` downloads a regtest chain from bcoin 1.0.2,
// an independent implementation: a few hundred blocks, many carrying legacy
// and (past segwit's activation) witness transactions bcoin signed and mined
// itself. Every block must pass our
// checkBlock (merkle root, witness commitment, coinbase height) and be stored
// byte for byte as bcoin holds it.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkBlock } from '../../ts/block/check.js';
import { blockHash } from '../../ts/chain/block.js';
import { networkPreset } from '../../ts/config/schema.js';
import { BlockStore } from '../../ts/store/blocks/store.js';
import { type BcoinNodeHandle, startBcoin } from '../helpers/bcoin.js';
import { type MinedChain, mineChainWithTxs, rawBlockAt } from '../helpers/bcoin-chain.js';
import { runCli, syncBlocksArgs } from '../helpers/cli.js';

const REGTEST = networkPreset('regtest');
// Past 432, where segwit activates on bcoin's regtest (version bits).
const HEIGHT = 480;

let bcoin: BcoinNodeHandle;
let mined: MinedChain;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pw-bcoin-blocks-'));
  bcoin = await startBcoin();
  mined = await mineChainWithTxs(bcoin, HEIGHT);
}, 120_000);

afterAll(async () => {
  await bcoin?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('interop with bcoin: blocks', () => {
  it('peerwire sync --blocks downloads and verifies bcoin’s chain, transactions included', async () => {
    expect(bcoin.node.chain.height).toBe(HEIGHT);
    expect(mined.legacy.length).toBeGreaterThan(50);
    expect(mined.witness.length).toBeGreaterThan(10);
    const datadir = join(dir, 'data');
    // bcoin never sends an empty `headers` at its tip: the sync ends on the timeout.
    const run = await runCli(
      syncBlocksArgs([bcoin.address], datadir, ['--timeout-ms', '3000', '--json']),
      90_000,
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.peers[0]).toMatchObject({
      outcome: 'synced',
      userAgent: expect.stringMatching(/bcoin/),
    });
    expect(result.blocks).toMatchObject({
      complete: true,
      downloaded: HEIGHT,
      stored: HEIGHT,
      target: { height: HEIGHT },
      peers: [{ peer: bcoin.address, blocks: HEIGHT }],
      dropped: [],
    });

    const store = await BlockStore.open(join(datadir, 'blocks'), { magic: REGTEST.magic });
    try {
      expect(store.stats().blocks).toBe(HEIGHT);
      let txs = 0;
      for (let height = 1; height <= HEIGHT; height++) {
        const theirs = await rawBlockAt(bcoin, height);
        const hash = blockHash(theirs);
        const ours = await store.get(hash);
        expect(ours && Buffer.from(ours).equals(theirs), `block ${height}`).toBe(true);
        const checked = checkBlock(ours as Buffer, { expectedHash: hash, bip34Height: height });
        txs += checked.txCount - 1;
        if (mined.legacy.includes(height) || mined.witness.includes(height)) {
          expect(checked.txCount, `block ${height}`).toBeGreaterThan(1);
        }
        // Witness spends: witness data under a commitment our check matched.
        if (mined.witness.includes(height)) {
          expect(checked.hasWitness && checked.witnessCommitment, `block ${height}`).toBe(true);
        }
      }
      expect(txs).toBe(mined.txs);
    } finally {
      await store.close();
    }
  }, 120_000);
});
