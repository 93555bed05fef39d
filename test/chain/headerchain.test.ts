// HeaderChain: linkage, proof of work, difficulty retargets, timestamps, locators.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeHeader, headerHash } from '../../ts/chain/block.js';
import { generateHeaders, generateHeadersPayload } from '../../ts/chain/generate.js';
import { chainFor, type HeaderChain, HeaderError } from '../../ts/chain/headerchain.js';
import { readHeadersFile, writeHeadersFile } from '../../ts/chain/headersfile.js';
import { bitsToTarget, blockWork, checkProofOfWork, targetToBits } from '../../ts/chain/pow.js';
import { networkPreset, parseNetwork } from '../../ts/config/schema.js';
import { encodePayload } from '../../ts/wire/codec.js';
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
  const chain = chainFor(net);
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
    expect(e.permanent).toBe(false);
    expect(chain.height).toBe(30);
  });

  it('generates the same chain as records as it does as headers', () => {
    const payload = generateHeadersPayload(REGTEST, 40, 'same');
    expect(encodePayload('headers', payload)).toEqual(
      encodePayload('headers', { headers: generateHeaders(REGTEST, 40, 'same') }),
    );
    const chain = chainFor(REGTEST);
    expect(chain.acceptPayload(payload).added).toBe(40);
    expect(chain.tipHash).toEqual(
      headerHash(generateHeaders(REGTEST, 40, 'same')[39] as BlockHeader),
    );
  });

  it('takes a message it already holds as nothing new, and still refuses one that does not link', () => {
    const headers = generateHeaders(REGTEST, 30);
    const chain = chainFor(REGTEST);
    chain.append(headers);
    const again = chain.accept(headers.slice(5));
    expect(again.added).toBe(0);
    expect(again.last).toBe(chain.tip);
    // The last header is known, but one in the middle does not follow its predecessor.
    const broken = headers.slice(5);
    broken[10] = { ...(broken[10] as BlockHeader), prevBlock: new Uint8Array(32) };
    expect(errorOf(() => chain.accept(broken)).code).toBe('non-continuous');
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

/** A header on `prev` (mined for `bits` when the network checks proof of work). */
function header(
  prev: Uint8Array,
  time: number,
  opts: { bits?: number; version?: number; seed?: number; limit?: bigint; mine?: boolean } = {},
): BlockHeader {
  const { bits = 0x207fffff, version = 0x2000_0000, seed = 0, limit, mine = true } = opts;
  const h: BlockHeader = {
    version,
    prevBlock: Buffer.from(prev),
    merkleRoot: new Uint8Array(32).fill(seed),
    time,
    bits,
    nonce: 0,
  };
  const target = limit ?? BigInt(`0x${REGTEST.pow.limit}`);
  while (mine && checkProofOfWork(headerHash(h), bits, target) !== 'ok') h.nonce++;
  return h;
}

/** `count` headers on `from`, `spacing` seconds apart, tagged by `seed` (a branch). */
function branch(from: Uint8Array, startTime: number, count: number, seed: number, spacing = 600) {
  const out: BlockHeader[] = [];
  let prev: Buffer = Buffer.from(from);
  for (let i = 1; i <= count; i++) {
    const h = header(prev, startTime + i * spacing, { seed });
    out.push(h);
    prev = headerHash(h);
  }
  return out;
}

const GENESIS_TIME = REGTEST.genesisHeader?.time as number;
const GENESIS_HASH: Buffer = Buffer.from(REGTEST.genesisHash, 'hex').reverse();
/** Regtest as a custom network that knows its genesis by hash alone (like the README's Litecoin). */
const REGTEST_BY_HASH = parseNetwork({
  name: 'regtest-by-hash',
  magic: REGTEST.magic,
  port: REGTEST.port,
  genesisHash: REGTEST.genesisHash,
  pow: { check: true, limit: REGTEST.pow.limit },
});

describe('median-time-past', () => {
  // A Core regtest node mines blocks within the same second: block 3 may carry
  // block 2's time, as the median of (genesis, 1, 2) is block 1's.
  function coreLikeStart(): BlockHeader[] {
    const t = 1_700_000_000;
    const h1 = header(GENESIS_HASH, t + 1);
    const h2 = header(headerHash(h1), t + 2);
    const h3 = header(headerHash(h2), t + 2);
    return [h1, h2, h3];
  }

  it('includes the genesis when the network knows only its hash', () => {
    const chain = chainFor(REGTEST_BY_HASH);
    expect(chain.append(coreLikeStart())).toBe(3);
  });

  it('includes the genesis when its header is known (the README fork example, pow off)', () => {
    expect(chainFor(REGTEST).append(coreLikeStart())).toBe(3);
    const litecoinLike = parseNetwork({
      name: 'fork',
      magic: 'fbc0b6db',
      port: 9333,
      genesisHash: REGTEST.genesisHash,
      pow: { check: false },
    });
    expect(chainFor(litecoinLike).append(coreLikeStart())).toBe(3);
  });

  it('matches a sorted reference window with times that go back and forth', () => {
    // Core's rule by brute force: the median of the last 11 times, sorted.
    const reference = (times: number[]) => {
      const window = times.slice(-11).sort((a, b) => a - b);
      return window[window.length >> 1] as number;
    };
    let seed = 7;
    const jitter = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed % 4_000;
    };
    const chain = chainFor(REGTEST);
    const times = [GENESIS_TIME];
    let prev: Uint8Array = GENESIS_HASH;
    for (let height = 1; height <= 40; height++) {
      const mtp = reference(times);
      // At the median: refused; one second past it: accepted. Times jump
      // around (up to an hour above the median), so windows are unsorted.
      const at = header(prev, mtp, { seed: height });
      expect(errorOf(() => chain.append([at])).code).toBe('time-too-old');
      const time = mtp + 1 + (height % 3 === 0 ? 0 : jitter());
      const next = header(prev, time, { seed: height });
      expect(chain.append([next])).toBe(height);
      times.push(time);
      prev = headerHash(next);
    }
  });

  it('takes the upper middle of an even window, as Core', () => {
    // Height 2: window (genesis, 1), sorted[1] is block 1's time.
    const chain = chainFor(REGTEST);
    const h1 = header(GENESIS_HASH, GENESIS_TIME + 10);
    chain.append([h1]);
    const same = header(headerHash(h1), GENESIS_TIME + 10);
    expect(errorOf(() => chain.append([same])).code).toBe('time-too-old');
    // With the genesis known, block 1 must be after it.
    const early = header(GENESIS_HASH, GENESIS_TIME);
    expect(errorOf(() => chainFor(REGTEST).append([early])).code).toBe('time-too-old');
  });

  it('agrees with a known genesis on every later block', () => {
    // Times that hover around the median: both chains must judge each the same.
    const known = chainFor(REGTEST);
    const byHash = chainFor(REGTEST_BY_HASH);
    let prev: Buffer = GENESIS_HASH;
    const offsets = [5, 3, 7, 4, 4, 8, 2, 6, 9, 5, 10, 7, 6, 11, 9, 12, 8];
    let accepted = 0;
    for (const [i, off] of offsets.entries()) {
      const h = header(prev, GENESIS_TIME + off, { seed: i });
      const verdict = (c: HeaderChain) => {
        try {
          c.append([h]);
          return 'ok';
        } catch (err) {
          return (err as HeaderError).code;
        }
      };
      const v = verdict(known);
      expect(verdict(byHash)).toBe(v);
      if (v === 'ok') {
        prev = headerHash(h);
        accepted++;
      }
    }
    expect(accepted).toBeGreaterThan(5);
    expect(accepted).toBeLessThan(offsets.length);
  });
});

describe('time-too-new', () => {
  it('refuses a header over two hours past the clock, but not for good', () => {
    let nowMs = 1_700_000_000_000;
    const chain = chainFor(REGTEST, { clock: { now: () => nowMs } });
    const now = nowMs / 1000;
    const ok = header(GENESIS_HASH, now + 7_200);
    chain.append([ok]);
    const ahead = header(headerHash(ok), now + 7_201);
    const e = errorOf(() => chain.append([ahead]));
    expect(e.code).toBe('time-too-new');
    expect(e.permanent).toBe(false);
    nowMs += 1_000;
    expect(chain.append([ahead])).toBe(2);
  });
});

describe('bad-version', () => {
  it('regtest: version 4 from height 1 (BIP 34/66/65 active, as in Core)', () => {
    for (const version of [1, 2, 3]) {
      const e = errorOf(() =>
        chainFor(REGTEST).append([header(GENESIS_HASH, 1_700_000_000, { version })]),
      );
      expect(e.code).toBe('bad-version');
    }
    expect(chainFor(REGTEST).append([header(GENESIS_HASH, 1_700_000_000, { version: 4 })])).toBe(1);
  });

  it('follows the configured heights: 2 from BIP 34, 3 from BIP 66, 4 from BIP 65', () => {
    const net = parseNetwork({
      ...REGTEST,
      name: 'versions',
      versionHeights: { bip34: 2, bip66: 3, bip65: 4 },
    });
    const chain = chainFor(net);
    let prev: Buffer = GENESIS_HASH;
    let time = 1_700_000_000;
    const add = (version: number) => {
      const h = header(prev, ++time, { version });
      chain.append([h]);
      prev = headerHash(h);
    };
    add(1); // height 1: no floor yet
    expect(errorOf(() => add(1)).code).toBe('bad-version');
    add(2); // height 2
    expect(errorOf(() => add(2)).code).toBe('bad-version');
    add(3); // height 3
    expect(errorOf(() => add(3)).code).toBe('bad-version');
    add(4); // height 4
    expect(chain.height).toBe(4);
  });

  it("the presets carry Core's activation heights", () => {
    expect(networkPreset('mainnet').versionHeights).toEqual({
      bip34: 227_931,
      bip66: 363_725,
      bip65: 388_381,
    });
    expect(networkPreset('testnet3').versionHeights).toEqual({
      bip34: 21_111,
      bip66: 330_776,
      bip65: 581_885,
    });
    for (const name of ['testnet4', 'signet', 'regtest'] as const) {
      expect(networkPreset(name).versionHeights).toEqual({ bip34: 1, bip66: 1, bip65: 1 });
    }
  });
});

describe('difficulty', () => {
  it("regtest never retargets: bits must equal the previous block's", () => {
    const chain = chainFor(REGTEST);
    const harder = header(GENESIS_HASH, 1_700_000_000, { bits: 0x207ffffe });
    expect(errorOf(() => chain.append([harder])).code).toBe('bad-diffbits');
  });

  it('a timespan not divisible by 4 clamps with integer division (no RangeError)', () => {
    const net = parseNetwork({
      ...REGTEST,
      name: 'odd-timespan',
      pow: {
        check: true,
        limit: REGTEST.pow.limit,
        retarget: { interval: 10, targetTimespanSeconds: 6_002 },
      },
    });
    const chain = chainFor(net);
    const limit = BigInt(`0x${net.pow.limit}`);
    const bits = net.genesisHeader?.bits as number;
    let prev: Buffer = GENESIS_HASH;
    let time = GENESIS_TIME;
    for (let i = 1; i < 10; i++) {
      const h = header(prev, ++time, { bits, limit });
      chain.append([h]);
      prev = headerHash(h);
    }
    // Nine seconds for the period: clamped to floor(6002 / 4) = 1500.
    const expected = targetToBits(((bitsToTarget(bits) as bigint) * 1_500n) / 6_002n);
    const wrong = header(prev, time + 1, { bits, limit });
    expect(errorOf(() => chain.append([wrong])).code).toBe('bad-diffbits');
    chain.append([header(prev, time + 1, { bits: expected, limit })]);
    expect(chain.height).toBe(10);
  });
});

describe('most-work chain', () => {
  it('keeps every branch, follows the most work, and reorganises', () => {
    const chain = chainFor(REGTEST);
    const a = branch(GENESIS_HASH, 1_700_000_000, 5, 1);
    const b = branch(GENESIS_HASH, 1_700_000_000, 7, 2);
    chain.append(a);
    const workA = chain.chainWork;
    expect(workA).toBe(blockWork(0x207fffff) * 6n);
    // A tie goes to the first seen.
    chain.append(b.slice(0, 5));
    expect(chain.tipHash).toEqual(headerHash(a[4] as BlockHeader));
    expect(chain.sideHeaders).toBe(5);
    // More work wins: a reorg to b.
    chain.append(b.slice(5));
    expect(chain.height).toBe(7);
    expect(chain.tipHash).toEqual(headerHash(b[6] as BlockHeader));
    expect(chain.chainWork).toBe(blockWork(0x207fffff) * 8n);
    expect(chain.heightOf(headerHash(a[2] as BlockHeader))).toBeUndefined();
    expect(chain.entry(headerHash(a[2] as BlockHeader))?.height).toBe(3);
    expect(chain.heightOf(headerHash(b[2] as BlockHeader))).toBe(3);
    expect(chain.headersAfter([GENESIS_HASH], new Uint8Array(32)).map(encodeHeader)).toEqual(
      b.map(encodeHeader),
    );
    // Back to a when it passes b.
    const a2 = branch(headerHash(a[4] as BlockHeader), 1_700_000_000 + 5 * 600, 3, 1);
    chain.append(a2);
    expect(chain.height).toBe(8);
    expect(encodeHeader(chain.headerAt(6) as BlockHeader)).toEqual(
      encodeHeader(a2[0] as BlockHeader),
    );
    expect(chain.locator().at(-1)).toEqual(GENESIS_HASH);
  });

  it('compares work, not length', () => {
    // pow.check off (a fork with another hash function): bits still weigh the work.
    const net = parseNetwork({ ...REGTEST, name: 'work', pow: { check: false } });
    const chain = chainFor(net);
    chain.append(branch(GENESIS_HASH, 1_700_000_000, 3, 1));
    const heavy = header(GENESIS_HASH, 1_700_000_100, { bits: 0x1d00ffff, mine: false });
    chain.append([heavy]);
    expect(chain.height).toBe(1);
    expect(chain.tipHash).toEqual(headerHash(heavy));
  });

  it('accepts a message that is already known, and one that overlaps', () => {
    const chain = chainFor(REGTEST);
    const a = branch(GENESIS_HASH, 1_700_000_000, 6, 1);
    chain.append(a.slice(0, 4));
    expect(chain.accept(a.slice(0, 4)).added).toBe(0);
    const r = chain.accept(a.slice(2));
    expect(r.added).toBe(2);
    expect(r.last?.height).toBe(6);
  });

  it('refuses a message whose headers do not follow each other', () => {
    const a = branch(GENESIS_HASH, 1_700_000_000, 4, 1);
    const chain = chainFor(REGTEST);
    const e = errorOf(() => chain.append([a[0], a[2]] as BlockHeader[]));
    expect(e.code).toBe('non-continuous');
    expect(e.permanent).toBe(true);
  });

  it('caps the side branches, dropping the least work first', () => {
    const chain = chainFor(REGTEST, { maxSideHeaders: 10 });
    const main = branch(GENESIS_HASH, 1_700_000_000, 12, 1);
    chain.append(main);
    // Six two-header branches off height 5, then a five-header one off height 9.
    for (let s = 2; s < 8; s++) {
      chain.append(branch(headerHash(main[4] as BlockHeader), 1_700_000_000 + 5 * 600, 2, s));
    }
    const strong = branch(headerHash(main[8] as BlockHeader), 1_700_000_000 + 9 * 600, 2, 9);
    chain.append(strong);
    expect(chain.sideHeaders).toBeLessThanOrEqual(10);
    expect(chain.entry(headerHash(strong[1] as BlockHeader))).toBeDefined();
    expect(chain.height).toBe(12);
    // Dropped branches are unknown again, and come back if sent again.
    const dropped = branch(headerHash(main[4] as BlockHeader), 1_700_000_000 + 5 * 600, 2, 2);
    expect(chain.entry(headerHash(dropped[1] as BlockHeader))).toBeUndefined();
    expect(chain.accept(dropped).added).toBe(2);
  });

  it('writes the best chain to a headers file and reads it back', () => {
    const chain = chainFor(REGTEST);
    chain.append(branch(GENESIS_HASH, 1_700_000_000, 3, 1));
    const b = branch(GENESIS_HASH, 1_700_000_000, 4, 2);
    chain.append(b);
    const file = join(mkdtempSync(join(tmpdir(), 'peerwire-chain-')), 'h.bin');
    expect(writeHeadersFile(file, chain)).toBe(4);
    const back = readHeadersFile(file, REGTEST);
    expect(back.tipHash).toEqual(headerHash(b[3] as BlockHeader));
    expect(back.chainWork).toBe(chain.chainWork);
  });
});
