// blockStream's `after`: continuing a generated chain from its tip gives the
// blocks generating it whole would have (what a restarted node mines next).
import { describe, expect, it } from 'vitest';
import { blockStream, generateBlocks } from '../../ts/block/generate.js';
import { networkPreset } from '../../ts/config/schema.js';

const REGTEST = networkPreset('regtest');

describe('blockStream after a tip', () => {
  it('continues a chain exactly as generating it whole does', () => {
    const whole = generateBlocks(REGTEST, 440, { segwitHeight: 432 });
    const first = whole.slice(0, 425);
    const tip = first.at(-1) as (typeof whole)[number];
    const rest = [];
    for (const b of blockStream(REGTEST, {
      segwitHeight: 432,
      after: { height: tip.height, hash: tip.hash },
    })) {
      rest.push(b);
      if (rest.length === 15) break;
    }
    expect(rest.map((b) => b.height)).toEqual(whole.slice(425).map((b) => b.height));
    expect(rest.map((b) => b.raw.toString('hex'))).toEqual(
      whole.slice(425).map((b) => b.raw.toString('hex')),
    );
  });
});
