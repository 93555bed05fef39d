// Generated blocks: they pass checkBlock, an independent implementation
// (bcoin 1.0.2) agrees with their merkle roots and witness commitments, and
// bcoin's chain accepts a whole generated chain with transactions (scripts,
// coinbase maturity, subsidy, segwit activation by BIP 9).
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import {
  bip34HeightScript,
  blockSubsidy,
  buildTx,
  coinbaseTx,
  witnessCommitment,
} from '../../ts/block/build.js';
import { blockTransactions, checkBlock } from '../../ts/block/check.js';
import { blockStream, type GeneratedBlock, generateBlocks } from '../../ts/block/generate.js';
import { headerHash } from '../../ts/chain/block.js';
import { hashToHex, hexToHash } from '../../ts/chain/hash.js';
import { checkProofOfWork } from '../../ts/chain/pow.js';
import { networkPreset } from '../../ts/config/schema.js';

const require = createRequire(import.meta.url);
const REGTEST = networkPreset('regtest');
const POW_LIMIT = BigInt(`0x${REGTEST.pow.limit}`);

/** The parts of bcoin 1.0.2 used here (it ships no types). */
interface BcoinBlock {
  checkBody(): [boolean, string, number];
  getCommitmentHash(): Buffer | null;
  createCommitmentHash(): Buffer;
  getCoinbaseHeight(): number;
  hasWitness(): boolean;
  txs: unknown[];
}
interface BcoinChain {
  open(): Promise<void>;
  close(): Promise<void>;
  add(block: BcoinBlock): Promise<unknown>;
  height: number;
  tip: { hash: Buffer | string };
}
const bcoin = require('bcoin') as {
  Block: { fromRaw(raw: Buffer): BcoinBlock };
  Chain: new (options: object) => BcoinChain;
};

function checkGenerated(block: GeneratedBlock) {
  return checkBlock(block.raw, { expectedHash: block.hash, bip34Height: block.height });
}

describe('building blocks', () => {
  it('puts BIP 34 heights as Core pushes them', () => {
    expect(bip34HeightScript(0)).toEqual(Buffer.from([0x00]));
    expect(bip34HeightScript(1)).toEqual(Buffer.from([0x51]));
    expect(bip34HeightScript(16)).toEqual(Buffer.from([0x60]));
    expect(bip34HeightScript(17)).toEqual(Buffer.from([0x01, 0x11]));
    expect(bip34HeightScript(128)).toEqual(Buffer.from([0x02, 0x80, 0x00]));
    expect(bip34HeightScript(227_931)).toEqual(Buffer.from([0x03, 0x5b, 0x7a, 0x03]));
  });

  it('pads a one-opcode height (0-16) with OP_0 when there is no tag, so the scriptSig is 2 bytes', () => {
    const cb = buildTx(
      coinbaseTx({ height: 1, outputs: [{ value: 1n, script: Buffer.from([0x51]) }] }),
    );
    expect(Buffer.from(cb.tx.inputs[0]?.scriptSig ?? [])).toEqual(Buffer.from([0x51, 0x00]));
  });

  it('halves the subsidy on schedule', () => {
    expect(blockSubsidy(149, 150)).toBe(50_0000_0000n);
    expect(blockSubsidy(150, 150)).toBe(25_0000_0000n);
    expect(blockSubsidy(150 * 64, 150)).toBe(0n);
  });

  it('gives a coinbase with a commitment a 32-byte reserved value and the commitment output last', () => {
    const cb = buildTx(
      coinbaseTx({
        height: 500,
        outputs: [{ value: 1n, script: Buffer.from([0x51]) }],
        commitment: witnessCommitment([]),
      }),
    );
    expect(cb.tx.inputs[0]?.witness).toEqual([new Uint8Array(32)]);
    expect(cb.tx.outputs).toHaveLength(2);
    expect(cb.txid.equals(cb.wtxid)).toBe(false);
    const decoded = bcoin.Block.fromRaw(
      Buffer.concat([Buffer.alloc(80), Buffer.from([1]), cb.raw]),
    );
    expect(decoded.txs).toHaveLength(1);
  });
});

describe('generated blocks', () => {
  it('are coinbase-only, chained, mined, with BIP 34 heights and witness commitments', () => {
    const blocks = generateBlocks(REGTEST, 20);
    let prev = hexToHash(REGTEST.genesisHash);
    for (const block of blocks) {
      expect(block.header.prevBlock).toEqual(prev);
      expect(headerHash(block.header).equals(block.hash)).toBe(true);
      expect(checkProofOfWork(block.hash, block.header.bits, POW_LIMIT)).toBe('ok');
      const check = checkGenerated(block);
      expect(check.txCount).toBe(1);
      expect(check.witnessCommitment).toBe(true);
      // bcoin agrees: body checks, coinbase height, commitment.
      const theirs = bcoin.Block.fromRaw(block.raw);
      expect(theirs.checkBody()[0]).toBe(true);
      expect(theirs.getCoinbaseHeight()).toBe(block.height);
      expect(theirs.getCommitmentHash()?.equals(theirs.createCommitmentHash())).toBe(true);
      prev = block.hash;
    }
  });

  it('are deterministic, and the seed changes them', () => {
    const a = generateBlocks(REGTEST, 3);
    const b = generateBlocks(REGTEST, 3);
    const c = generateBlocks(REGTEST, 3, { seed: 'other' });
    expect(a.map((x) => hashToHex(x.hash))).toEqual(b.map((x) => hashToHex(x.hash)));
    expect(hashToHex(c[0]?.hash as Buffer)).not.toBe(hashToHex(a[0]?.hash as Buffer));
  });

  it('carry witness transactions once coinbases mature, and bcoin agrees with their roots', () => {
    const blocks = generateBlocks(REGTEST, 103, { txsPerBlock: 3 });
    for (const block of blocks) {
      const check = checkGenerated(block);
      const theirs = bcoin.Block.fromRaw(block.raw);
      expect(theirs.checkBody()).toEqual([true, 'valid', 0]);
      expect(theirs.getCommitmentHash()?.equals(theirs.createCommitmentHash())).toBe(true);
      expect(check.txCount).toBe(block.height > 100 ? 4 : 1);
      if (block.height > 100) expect(theirs.hasWitness()).toBe(true);
    }
  });

  it('without segwit carry no witness data', () => {
    const blocks = generateBlocks(REGTEST, 102, { txsPerBlock: 2, segwit: false });
    for (const block of blocks) {
      const check = checkGenerated(block);
      expect(check.hasWitness).toBe(false);
      expect(check.witnessCommitment).toBe(false);
      expect(check.strippedSize).toBe(check.size);
    }
    expect(checkGenerated(blocks[101] as GeneratedBlock).txCount).toBe(3);
  });

  it('fail the check when mutated, with the right reason', () => {
    const block = generateBlocks(REGTEST, 101, { txsPerBlock: 2 })[100] as GeneratedBlock;
    const txs = blockTransactions(block.raw);
    expect(txs).toHaveLength(3);
    const options = { expectedHash: block.hash };
    const mutated = (raw: Buffer) => {
      try {
        checkBlock(raw, options);
        return 'ok';
      } catch (err) {
        return (err as { code: string }).code;
      }
    };
    // The last transaction sent twice: same header (CVE-2012-2459).
    const repeated = Buffer.concat([
      block.raw.subarray(0, 80),
      Buffer.from([4]),
      ...txs,
      txs[2] as Uint8Array,
    ]);
    expect(mutated(repeated)).toBe('bad-txns-duplicate');
    // A changed witness byte (the last spend's witness script, just before its locktime).
    const witness = Buffer.from(block.raw);
    witness[block.raw.length - 5] = 0x52;
    expect(mutated(witness)).toBe('bad-witness-merkle-match');
    // A changed output value: the merkle root no longer matches.
    const value = Buffer.from(block.raw);
    const spendStart = block.raw.length - (txs[2] as Uint8Array).length;
    value[spendStart + 6 + 1 + 41 + 1] = 0x77;
    expect(mutated(value)).toBe('bad-txnmrklroot');
    // And a wrong height.
    expect(() => checkBlock(block.raw, { bip34Height: 7 })).toThrow(/bad-cb-height/);
  });
});

describe('a generated chain in bcoin', () => {
  it('is accepted whole by bcoin regtest, with transactions and segwit from its BIP 9 activation', async () => {
    const chain = new bcoin.Chain({ network: 'regtest', memory: true, workers: null });
    await chain.open();
    try {
      let last: GeneratedBlock | undefined;
      for (const block of blockStream(REGTEST, { txsPerBlock: 2, segwitHeight: 432 })) {
        if (block.height > 440) break;
        checkGenerated(block);
        await chain.add(bcoin.Block.fromRaw(block.raw));
        last = block;
      }
      expect(chain.height).toBe(440);
      const tip = chain.tip.hash;
      const tipHex = typeof tip === 'string' ? tip : Buffer.from(tip).toString('hex');
      expect(tipHex).toBe((last as GeneratedBlock).hash.toString('hex'));
      // The witness transactions past activation were checked by bcoin's scripts.
      expect(bcoin.Block.fromRaw((last as GeneratedBlock).raw).hasWitness()).toBe(true);
    } finally {
      await chain.close();
    }
  }, 60_000);
});
