// HeaderChain: linkage, proof of work, difficulty retargets, timestamps, locators.
import { describe, expect, it } from 'vitest';
import { headerHash } from '../../ts/chain/block.js';
import { generateHeaders } from '../../ts/chain/generate.js';
import { chainFor, HeaderChain, HeaderError } from '../../ts/chain/headerchain.js';
import { bitsToTarget, checkProofOfWork, targetToBits } from '../../ts/chain/pow.js';
import { networkPreset, parseNetwork } from '../../ts/config/schema.js';
import type { BlockHeader } from '../../ts/wire/types.js';

const REGTEST = networkPreset('regtest');

function mine(prev: BlockHeader | Buffer, time: number, bits: number, limit: bigint): BlockHeader {
  const prevHash = Buffer.isBuffer(prev) ? prev : headerHash(prev);
  const h: BlockHeader = {
    version: 4,
    prevBlock: prevHash,
    merkleRoot: new Uint8Array(32),
    time,
    bits,
    nonce: 0,
  };
  while (checkProofOfWork(headerHash(h), bits, limit) !== 'ok') h.nonce++;
  return h;
}

function errorOf(fn: () => unknown): HeaderError {
  try {
    fn();
  } catch (err) {
    if (err instanceof HeaderError) return err;
    throw err;
  }
  throw new Error('expected a HeaderError');
}

/**
 * A regtest-based network that retargets every 10 blocks of 10 minutes, and a
 * chain on it with a helper that mines the next block `spacing` seconds later.
 */
function retargetingChain(
  name: string,
  pow: { allowMinDifficulty?: boolean; bip94?: boolean } = {},
) {
  const net = parseNetwork({
    ...REGTEST,
    name,
    pow: {
      check: true,
      limit: REGTEST.pow.limit,
      retarget: { interval: 10, targetTimespanSeconds: 6_000 },
      ...pow,
    },
  });
  const limit = BigInt(`0x${net.pow.limit}`);
  const g = net.genesisHeader as NonNullable<typeof net.genesisHeader>;
  const chain = new HeaderChain(net, {
    version: g.version,
    prevBlock: new Uint8Array(32),
    merkleRoot: Buffer.from(g.merkleRoot, 'hex').reverse(),
    time: g.time,
    bits: g.bits,
    nonce: g.nonce,
  });
  let time = g.time;
  return {
    chain,
    limit,
    genesisBits: g.bits,
    /** The time of the tip. */
    time: () => time,
    add(bits: number, spacing: number): BlockHeader {
      time += spacing;
      const h = mine(chain.tipHash, time, bits, limit);
      chain.append([h]);
      return h;
    },
  };
}

describe('HeaderChain', () => {
  it('accepts a generated chain and rejects headers that do not link', () => {
    const headers = generateHeaders(REGTEST, 50);
    const chain = chainFor(REGTEST);
    expect(chain.append(headers.slice(0, 30))).toBe(30);
    const e = errorOf(() => chain.append(headers.slice(31)));
    expect(e.code).toBe('unconnected');
    expect(e.height).toBe(31);
    expect(chain.height).toBe(30);
  });

  it('rejects a header whose hash misses its target', () => {
    const [first] = generateHeaders(REGTEST, 1) as [BlockHeader];
    const limit = BigInt(`0x${REGTEST.pow.limit}`);
    const bad = { ...first };
    while (checkProofOfWork(headerHash(bad), bad.bits, limit) === 'ok') bad.nonce++;
    expect(errorOf(() => chainFor(REGTEST).append([bad])).code).toBe('high-hash');
  });

  it('rejects a timestamp at or before the median of the last eleven', () => {
    const headers = generateHeaders(REGTEST, 12);
    const chain = chainFor(REGTEST);
    chain.append(headers.slice(0, 11));
    const limit = BigInt(`0x${REGTEST.pow.limit}`);
    const old = mine(
      chain.tipHash,
      (headers[5] as BlockHeader).time,
      REGTEST.genesisHeader?.bits ?? 0,
      limit,
    );
    expect(errorOf(() => chain.append([old])).code).toBe('time-too-old');
  });

  it('follows the retarget rule: actual timespan over target timespan, clamped, capped', () => {
    const { chain, limit, genesisBits, time, add } = retargetingChain('retarget-test');
    // Ten blocks five minutes apart: twice as fast as wanted.
    for (let i = 1; i < 10; i++) add(genesisBits, 300);
    // Core: new target = old target × (last time − first time) / timespan.
    const expected = targetToBits(((bitsToTarget(genesisBits) as bigint) * 2_700n) / 6_000n);
    expect(expected).not.toBe(genesisBits);
    const wrong = mine(chain.tipHash, time() + 300, genesisBits, limit);
    const e = errorOf(() => chain.append([wrong]));
    expect(e.code).toBe('bad-diffbits');
    expect(e.height).toBe(10);
    add(expected, 300);
    expect(chain.height).toBe(10);
    // Between retargets the bits must stay put.
    const drift = mine(chain.tipHash, time() + 600, genesisBits, limit);
    expect(errorOf(() => chain.append([drift])).code).toBe('bad-diffbits');
  });

  it("testnet's rule: a block 20 minutes late may use the minimum difficulty, the next goes back", () => {
    const { chain, limit, genesisBits, time, add } = retargetingChain('testnet-rule', {
      allowMinDifficulty: true,
    });
    for (let i = 1; i < 10; i++) add(genesisBits, 300);
    // The retarget at height 10 makes blocks harder than the minimum.
    const harder = targetToBits(((bitsToTarget(genesisBits) as bigint) * 2_700n) / 6_000n);
    add(harder, 300);
    // Height 11 comes 25 minutes late: the minimum difficulty is allowed...
    add(genesisBits, 1_500);
    // ...and height 12, on time, must return to the last real difficulty.
    const tooEasy = mine(chain.tipHash, time() + 300, genesisBits, limit);
    expect(errorOf(() => chain.append([tooEasy])).code).toBe('bad-diffbits');
    add(harder, 300);
    expect(chain.height).toBe(12);
  });

  it("BIP 94 (testnet4): a retarget scales the period's first block, and timewarps are refused", () => {
    const { chain, limit, genesisBits, time, add } = retargetingChain('bip94-test', {
      allowMinDifficulty: true,
      bip94: true,
    });
    const scale = (bits: number, actual: number) =>
      targetToBits(((bitsToTarget(bits) as bigint) * BigInt(actual)) / 6_000n);
    for (let i = 1; i < 10; i++) add(genesisBits, 300);
    const harder = scale(genesisBits, 2_700);
    add(harder, 300); // height 10, first of the second period
    for (let i = 11; i < 19; i++) add(harder, 300);
    add(genesisBits, 1_500); // height 19: late, so minimum difficulty
    // Height 20 retargets from height 10's bits, not from the min-difficulty 19.
    const fromFirst = scale(harder, 8 * 300 + 1_500);
    const fromLast = scale(genesisBits, 8 * 300 + 1_500);
    expect(fromFirst).not.toBe(fromLast);
    const wrong = mine(chain.tipHash, time() + 300, fromLast, limit);
    expect(errorOf(() => chain.append([wrong])).code).toBe('bad-diffbits');
    const warped = mine(chain.tipHash, time() - 601, fromFirst, limit);
    expect(errorOf(() => chain.append([warped])).code).toBe('time-timewarp-attack');
    add(fromFirst, 300);
    expect(chain.height).toBe(20);
  });

  it('an empty locator asks for the hashStop header alone, as in Core', () => {
    const chain = chainFor(REGTEST);
    const headers = generateHeaders(REGTEST, 20);
    chain.append(headers);
    expect(chain.headersAfter([], chain.hashAt(7) as Buffer)).toEqual([headers[6]]);
    expect(chain.headersAfter([], new Uint8Array(32).fill(1))).toEqual([]);
  });

  it('builds locators and answers getheaders from them', () => {
    const headers = generateHeaders(REGTEST, 3_000);
    const chain = chainFor(REGTEST);
    chain.append(headers);
    const locator = chain.locator();
    expect(locator[0]).toEqual(chain.tipHash);
    expect(locator.at(-1)).toEqual(chain.hashAt(0));
    expect(locator.length).toBeLessThan(30);
    // A peer at height 100 gets the next 2,000; a stop hash ends early.
    const after = chain.headersAfter([chain.hashAt(100) as Buffer], new Uint8Array(32));
    expect(after).toHaveLength(2_000);
    expect(after[0]).toEqual(headers[100]);
    const stop = chain.headersAfter([chain.hashAt(100) as Buffer], chain.hashAt(110) as Buffer);
    expect(stop).toHaveLength(10);
    // Unknown locator hashes fall back to genesis.
    expect(chain.headersAfter([new Uint8Array(32).fill(9)], new Uint8Array(32))[0]).toEqual(
      headers[0],
    );
  });
});
