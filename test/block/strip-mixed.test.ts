// stripWitness on a block mixing witness and legacy transactions (parse-only:
// the merkle root is not checked), against bcoin's Block#toNormal.
import { createRequire } from 'node:module';
import { expect, it } from 'vitest';
import { blockTxRanges } from '../../ts/block/check.js';
import { generateBlocks } from '../../ts/block/generate.js';
import { stripWitness } from '../../ts/block/strip.js';
import { networkPreset } from '../../ts/config/schema.js';

const require = createRequire(import.meta.url);
const bcoin = require('bcoin') as {
  Block: { fromRaw(raw: Uint8Array): { toNormal(): Buffer } };
};
const REGTEST = networkPreset('regtest');

it('strips only the witness transactions of a block that mixes both forms', () => {
  const segwit = generateBlocks(REGTEST, 105, { txsPerBlock: 2 })[103];
  const legacy = generateBlocks(REGTEST, 105, { txsPerBlock: 2, segwit: false })[103];
  if (!segwit || !legacy) throw new Error('missing block');
  const txs = (raw: Uint8Array) => {
    const r = blockTxRanges(raw);
    const out: Buffer[] = [];
    for (let i = 0; i < r.length; i += 2) out.push(Buffer.from(raw.subarray(r[i], r[i + 1])));
    return out;
  };
  const w = txs(segwit.raw);
  const l = txs(legacy.raw);
  expect(w.length).toBe(3);
  expect(l.length).toBe(3);
  // witness coinbase, legacy spend, witness spend, legacy spend
  const parts = [w[0], l[1], w[1], l[2]] as Buffer[];
  const mixed = Buffer.concat([
    Buffer.from(segwit.raw.subarray(0, 80)),
    Buffer.from([4]),
    ...parts,
  ]);
  const stripped = stripWitness(mixed);
  expect(Buffer.from(stripped)).toEqual(bcoin.Block.fromRaw(mixed).toNormal());
  expect(Buffer.from(stripped.subarray(81))).not.toEqual(Buffer.from(mixed.subarray(81)));
});
