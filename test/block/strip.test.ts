// stripWitness against bcoin's own non-witness serialization (Block#toNormal).
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { blockTxids, blockWtxids } from '../../ts/block/check.js';
import { generateBlocks } from '../../ts/block/generate.js';
import { stripWitness } from '../../ts/block/strip.js';
import { blockHash } from '../../ts/chain/block.js';
import { networkPreset } from '../../ts/config/schema.js';

const require = createRequire(import.meta.url);
const bcoin = require('bcoin') as {
  Block: { fromRaw(raw: Uint8Array): { toNormal(): Buffer; hasWitness(): boolean } };
};

const REGTEST = networkPreset('regtest');
// Witness spends once coinbases mature (height 101 on), a witness coinbase throughout.
const BLOCKS = generateBlocks(REGTEST, 110, { txsPerBlock: 3 });

describe('stripWitness', () => {
  it('gives the serialization bcoin gives without witnesses, same header and txids', () => {
    for (const block of [BLOCKS[0], BLOCKS[104], BLOCKS[109]]) {
      if (!block) throw new Error('missing block');
      const stripped = stripWitness(block.raw);
      expect(bcoin.Block.fromRaw(block.raw).hasWitness()).toBe(true);
      expect(Buffer.from(stripped)).toEqual(bcoin.Block.fromRaw(block.raw).toNormal());
      expect(blockHash(stripped)).toEqual(block.hash);
      expect(blockTxids(stripped)).toEqual(blockTxids(block.raw));
      expect(blockWtxids(stripped)).toEqual(blockTxids(block.raw));
    }
  });

  it('returns a block without witness data as it is', () => {
    const [plain] = generateBlocks(REGTEST, 1, { segwit: false });
    if (!plain) throw new Error('missing block');
    expect(stripWitness(plain.raw)).toBe(plain.raw);
  });
});
