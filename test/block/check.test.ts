// The block check and the split/hash helpers through the addon, on real
// blocks (the core crate's test data), compared with the JavaScript splitter
// and hashes of ts/chain/block.ts (an independent implementation).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  BLOCK_ERROR_CODES,
  BlockError,
  blockTransactions,
  blockTxids,
  blockTxRanges,
  blockWtxids,
  checkBlock,
  checkBlockAsync,
  merkleRoot,
} from '../../ts/block/check.js';
import { genesisBlock } from '../../ts/block/generate.js';
import { splitBlock, txid, wtxid } from '../../ts/chain/block.js';
import { hashToHex, hexToHash, sha256d } from '../../ts/chain/hash.js';
import { networkPreset } from '../../ts/config/schema.js';
import { native } from '../../ts/native/binding.js';

const DATA = new URL('../../crates/core/tests/data/', import.meta.url);
const MAINNET_HASH = '000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae';
const TESTNET_HASH = '000000000000045e0b1660b6445b5e5c5ab63c9a4f956be7e1e69be04fa4497b';
const MAINNET = readFileSync(new URL(`mainnet-702861-${MAINNET_HASH}.raw`, DATA));
const TESTNET = readFileSync(new URL(`testnet3-924634-${TESTNET_HASH}.raw`, DATA));

/** The error `fn` throws. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}

function blockErrorOf(fn: () => unknown): BlockError {
  const err = thrown(fn);
  expect(err).toBeInstanceOf(BlockError);
  return err as BlockError;
}

/** A block with `txs` after `raw`'s header (count < 253). */
function withTxs(raw: Uint8Array, txs: Uint8Array[]): Buffer {
  return Buffer.concat([raw.subarray(0, 80), Buffer.from([txs.length]), ...txs]);
}

describe('checkBlock', () => {
  it('passes a 1.4 MB mainnet segwit block and reports its facts', () => {
    const check = checkBlock(MAINNET, {
      expectedHash: hexToHash(MAINNET_HASH),
      bip34Height: 702_861,
    });
    expect(hashToHex(check.hash)).toBe(MAINNET_HASH);
    expect(check).toMatchObject({
      txCount: 2500,
      size: 1_381_836,
      strippedSize: 870_406,
      weight: 3_993_054,
      hasWitness: true,
      witnessCommitment: true,
    });
    expect(hashToHex(check.txids[0] as Buffer)).toBe(
      '764b60c3d9a2c3c5bb6fe7141d9ca6e6778122df75f19366a2c5cb948d1d7d84',
    );
    expect(check.txids).toHaveLength(2500);
  });

  it('passes the genesis block of each network that shares it', () => {
    for (const name of ['mainnet', 'testnet3', 'signet', 'regtest'] as const) {
      const network = networkPreset(name);
      const raw = genesisBlock(network);
      expect(raw, name).toBeDefined();
      const check = checkBlock(raw as Buffer, { expectedHash: hexToHash(network.genesisHash) });
      expect(check.txCount).toBe(1);
      expect(check.size).toBe(285);
    }
    // testnet4's genesis has its own coinbase.
    expect(genesisBlock(networkPreset('testnet4'))).toBeUndefined();
  });

  it('throws a BlockError with the reject reason, whether the copy was mutated, and the offset', () => {
    const wrong = blockErrorOf(() =>
      checkBlock(TESTNET, { expectedHash: hexToHash(MAINNET_HASH) }),
    );
    expect(wrong.code).toBe('block-hash-mismatch');
    expect(wrong.mutated).toBe(true);
    expect(wrong.message).toContain(TESTNET_HASH);

    const cut = blockErrorOf(() => checkBlock(TESTNET.subarray(0, 1000)));
    expect(cut.code).toBe('malformed-block');
    expect(cut.offset).toBeGreaterThanOrEqual(80);
    expect(cut.mutated).toBe(true);

    const trailing = blockErrorOf(() => checkBlock(Buffer.concat([TESTNET, Buffer.from([0])])));
    expect(trailing.code).toBe('malformed-block');
    expect(trailing.offset).toBe(TESTNET.length);

    // Wrong BIP 34 height: the block itself is invalid at that height.
    const height = blockErrorOf(() => checkBlock(TESTNET, { bip34Height: 5 }));
    expect(height.code).toBe('bad-cb-height');
    expect(height.mutated).toBe(false);
    expect(BLOCK_ERROR_CODES).toContain(height.code);
  });

  it('catches the repeated last transaction of CVE-2012-2459 under an unchanged header', () => {
    const txs = blockTransactions(TESTNET);
    expect(txs).toHaveLength(15);
    const repeated = withTxs(TESTNET, [...txs, txs[14] as Uint8Array]);
    const err = blockErrorOf(() => checkBlock(repeated, { expectedHash: hexToHash(TESTNET_HASH) }));
    expect(err.code).toBe('bad-txns-duplicate');
    expect(err.mutated).toBe(true);
  });

  it('catches a changed witness though the txids and header are unchanged', () => {
    // The coinbase's reserved value: its last 32 bytes before the locktime.
    const raw = Buffer.from(TESTNET);
    const [start, end] = blockTxRanges(raw) as unknown as [number, number];
    expect(raw.subarray(start + 4, start + 6)).toEqual(Buffer.from([0, 1]));
    raw[end - 5] = (raw[end - 5] as number) ^ 1;
    expect(hashToHex(blockTxids(raw)[0] as Buffer)).toBe(
      hashToHex(blockTxids(TESTNET)[0] as Buffer),
    );
    const err = blockErrorOf(() => checkBlock(raw, { expectedHash: hexToHash(TESTNET_HASH) }));
    expect(err.code).toBe('bad-witness-merkle-match');
  });

  it('knows every code the addon can give', () => {
    expect([...native.blockErrorCodes()].sort()).toEqual([...BLOCK_ERROR_CODES].sort());
  });

  it('refuses witness data before segwit', () => {
    expect(blockErrorOf(() => checkBlock(TESTNET, { segwitActive: false })).code).toBe(
      'unexpected-witness',
    );
  });

  it('refuses an expected hash that is not 32 bytes with a plain error', () => {
    const err = thrown(() => checkBlock(TESTNET, { expectedHash: new Uint8Array(31) }));
    expect(err).not.toBeInstanceOf(BlockError);
    expect(String(err)).toContain('32 bytes');
  });
});

describe('checkBlockAsync', () => {
  it('resolves to the same facts as checkBlock', async () => {
    const sync = checkBlock(MAINNET);
    const async = await checkBlockAsync(MAINNET, { expectedHash: hexToHash(MAINNET_HASH) });
    expect(async).toEqual(sync);
  });

  it('accepts a Uint8Array view and rejects with a BlockError', async () => {
    const copy = new Uint8Array(TESTNET.length + 7);
    copy.set(TESTNET, 7);
    const view = copy.subarray(7);
    expect((await checkBlockAsync(view)).txCount).toBe(15);
    const err = await checkBlockAsync(view, { expectedHash: new Uint8Array(32) }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BlockError);
    expect((err as BlockError).code).toBe('block-hash-mismatch');
    const cut = await checkBlockAsync(view.subarray(0, 90)).catch((e: unknown) => e);
    expect((cut as BlockError).code).toBe('malformed-block');
    expect((cut as BlockError).offset).toBeGreaterThanOrEqual(80);
  });
});

describe('the package', () => {
  it('exports the block API', async () => {
    const api = await import('../../ts/index.js');
    for (const name of [
      'checkBlock',
      'checkBlockAsync',
      'BlockError',
      'blockTxids',
      'generateBlocks',
    ]) {
      expect(api, name).toHaveProperty(name);
    }
  });
});

describe('splitting and hashing', () => {
  it('agrees with the JavaScript splitter and hashes', () => {
    for (const raw of [TESTNET, MAINNET]) {
      const js = splitBlock(raw).txs;
      const native = blockTransactions(raw);
      expect(native.length).toBe(js.length);
      const ids = blockTxids(raw);
      const wids = blockWtxids(raw);
      // Every transaction of the small block, every 50th of the big one.
      const step = raw === TESTNET ? 1 : 50;
      for (let i = 0; i < js.length; i += step) {
        expect(Buffer.from(native[i] as Uint8Array).equals(js[i] as Uint8Array)).toBe(true);
        expect((ids[i] as Buffer).equals(txid(js[i] as Uint8Array))).toBe(true);
        expect((wids[i] as Buffer).equals(wtxid(js[i] as Uint8Array))).toBe(true);
      }
    }
  });

  it('gives byte ranges that tile the block after its header and count', () => {
    const ranges = blockTxRanges(MAINNET);
    expect(ranges.length).toBe(5000);
    expect(ranges[0]).toBe(83);
    for (let i = 2; i < ranges.length; i += 2) expect(ranges[i]).toBe(ranges[i - 1]);
    expect(ranges[ranges.length - 1]).toBe(MAINNET.length);
    // Views, not copies.
    expect(blockTransactions(MAINNET)[0]?.buffer).toBe(MAINNET.buffer);
  });

  it('throws malformed-block on bytes that are not a block', () => {
    for (const fn of [blockTxids, blockWtxids, blockTxRanges, blockTransactions]) {
      const err = blockErrorOf(() => fn(MAINNET.subarray(0, MAINNET.length - 1)));
      expect(err.code).toBe('malformed-block');
    }
  });

  it('computes merkle roots with the mutation flag', () => {
    const [a, b, c] = [
      sha256d(Buffer.from('a')),
      sha256d(Buffer.from('b')),
      sha256d(Buffer.from('c')),
    ];
    const ab = sha256d(Buffer.concat([a, b]));
    const cc = sha256d(Buffer.concat([c, c]));
    const expected = sha256d(Buffer.concat([ab, cc]));
    expect(merkleRoot([a, b, c])).toEqual({ root: expected, mutated: false });
    expect(merkleRoot([a, b, c, c])).toEqual({ root: expected, mutated: true });
    expect(merkleRoot([a]).root.equals(a)).toBe(true);
    expect(merkleRoot([]).root.equals(Buffer.alloc(32))).toBe(true);
    expect(() => merkleRoot([new Uint8Array(31)])).toThrow(TypeError);
  });
});
