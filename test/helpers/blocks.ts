// Blocks for download tests that generated chains do not give.
import { assembleBlock, blockSubsidy, buildTx, coinbaseTx } from '../../ts/block/build.js';
import type { GeneratedBlock } from '../../ts/block/generate.js';
import { headerHash } from '../../ts/chain/block.js';
import { checkProofOfWork } from '../../ts/chain/pow.js';
import { networkPreset } from '../../ts/config/schema.js';

const REGTEST = networkPreset('regtest');

/**
 * A regtest block for `height` on `blocks[height - 2]` (blocks from height 1)
 * with a valid header and proof of work whose coinbase claims another height:
 * invalid itself (bad-cb-height), not a mutation.
 */
export function invalidBlockAt(blocks: readonly GeneratedBlock[], height: number): GeneratedBlock {
  const prev = blocks[height - 2] as GeneratedBlock;
  const coinbase = buildTx(
    coinbaseTx({
      height: height + 7,
      outputs: [{ value: blockSubsidy(height, 150), script: Buffer.from([0x51]) }],
    }),
  );
  const block = assembleBlock(
    {
      version: 0x2000_0000,
      prevBlock: prev.hash,
      time: prev.header.time + 30,
      bits: prev.header.bits,
      nonce: 0,
    },
    [coinbase],
  );
  const limit = BigInt(`0x${REGTEST.pow.limit}`);
  while (checkProofOfWork(headerHash(block.header), block.header.bits, limit) !== 'ok')
    block.header.nonce++;
  block.raw.writeUInt32LE(block.header.nonce, 76);
  return { ...block, hash: headerHash(block.header), height };
}
