// The blocks workload: the filled blocks it downloads are valid and filled,
// the plain-Node side's JavaScript check agrees with checkBlock on them and
// catches what it claims to, and the workload runs end to end at quick size
// (four `peerwire node` children, both sinks). Never timings.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureBlocksDirs, FIRST_FULL_HEIGHT } from '../../ts/bench/blocksdir.js';
import { checkBlockPlain } from '../../ts/bench/plaincheck.js';
import { checkBlock } from '../../ts/block/check.js';
import { generateBlocks, MAX_FILL_BYTES } from '../../ts/block/generate.js';
import { readHeadersFile } from '../../ts/chain/headersfile.js';
import { networkPreset } from '../../ts/config/schema.js';
import { decodeHeadersPayload, readHeadersPayload } from '../../ts/store/headers-file.js';
import { runCli } from '../helpers/cli.js';

const regtest = networkPreset('regtest');
const TARGET = 20_000;
const filled = generateBlocks(regtest, FIRST_FULL_HEIGHT + 2, { blockBytes: TARGET });

describe('blockBytes', () => {
  it('leaves the blocks before the first matured coinbase as they were', () => {
    const plain = generateBlocks(regtest, FIRST_FULL_HEIGHT - 1);
    expect(filled.slice(0, FIRST_FULL_HEIGHT - 1).map((b) => b.hash)).toEqual(
      plain.map((b) => b.hash),
    );
  });

  it('fills later blocks close to the size, valid by checkBlock', () => {
    for (const block of filled.slice(FIRST_FULL_HEIGHT - 1)) {
      expect(block.raw.length).toBeLessThanOrEqual(TARGET);
      // One more output and its spend (142 bytes) would not have fitted.
      expect(block.raw.length).toBeGreaterThan(TARGET - 200);
      const checked = checkBlock(block.raw, {
        expectedHash: block.hash,
        bip34Height: block.height,
      });
      expect(checked.txCount).toBeGreaterThan(100);
      expect(checked.witnessCommitment).toBe(true);
    }
  });

  it('refuses a size past the weight limit', () => {
    expect(() => generateBlocks(regtest, 1, { blockBytes: MAX_FILL_BYTES + 1 })).toThrow(
      RangeError,
    );
  });
});

describe('checkBlockPlain (the plain-Node side)', () => {
  const block = filled.at(-1) as (typeof filled)[number];

  it('accepts generated blocks, coinbase-only and filled', () => {
    for (const b of [filled[0], filled[FIRST_FULL_HEIGHT - 1], block]) {
      expect(() => checkBlockPlain(b?.raw as Buffer)).not.toThrow();
    }
  });

  it('refuses a changed transaction and a changed witness', () => {
    const tx = Buffer.from(block.raw);
    // The last transaction's output value: before its script, witness and locktime.
    const value = tx.length - 4 - 3 - 34 - 1 - 8;
    tx.writeUInt8((tx[value] as number) ^ 1, value);
    expect(() => checkBlockPlain(tx)).toThrow(/bad-txnmrklroot/);
    const witness = Buffer.from(block.raw);
    // The last transaction's witness script (OP_TRUE), just before its locktime.
    expect(witness[witness.length - 5]).toBe(0x51);
    witness[witness.length - 5] = 0x52;
    expect(() => checkBlockPlain(witness)).toThrow(/bad-witness-merkle-match/);
  });
});

describe('peerwire bench --quick --only blocks,blocks-store', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peerwire-bench-blocks-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('prepares one data directory per node, each with the whole chain, once', async () => {
    const first = await ensureBlocksDirs(3, TARGET, 2, dir);
    expect(first.generated).toBe(true);
    expect(first.height).toBe(FIRST_FULL_HEIGHT + 2);
    const again = await ensureBlocksDirs(3, TARGET, 2, dir);
    expect(again).toEqual({ ...first, generated: false });
    const headers = first.dirs.map((d) => readFileSync(join(d, 'headers.dat')));
    expect(headers[0]?.equals(headers[1] as Buffer)).toBe(true);
    // What a node reads from it, and the plain file for the plain-Node side.
    const chain = decodeHeadersPayload(
      first.dirs[0] as string,
      (await readHeadersPayload(first.dirs[0] as string)) as Buffer,
      regtest,
    );
    expect(chain.height).toBe(first.height);
    expect(readHeadersFile(first.headersFile, regtest).tipHash).toEqual(chain.tipHash);
  });

  it('downloads the chain from four nodes for peerwire, plain Node and the ceiling', async () => {
    const file = join(dir, 'bench.json');
    const r = await runCli(
      ['bench', '--quick', '--only', 'blocks,blocks-store', '--reps', '1', '--json', file],
      120_000,
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(readFileSync(file, 'utf8'));
    expect(out.failures).toEqual([]);
    expect(out.sizes.blocksDirs).toHaveLength(4);
    const rows = out.results.map(
      (x: { workload: string; metric: string }) => `${x.workload}/${x.metric}`,
    );
    expect(rows).toEqual(
      ['blocks', 'blocks-store'].flatMap((w) =>
        ['blocks downloaded', 'bytes downloaded', 'total'].map((m) => `${w}/${m}`),
      ),
    );
    for (const row of out.results) {
      for (const impl of ['peerwire', 'baseline', 'ceiling']) {
        expect(row[impl].runs, `${row.workload}/${row.metric} ${impl}`).toHaveLength(1);
        expect(row[impl].min).toBeGreaterThan(0);
        expect(Number.isFinite(row[impl].max)).toBe(true);
      }
    }
  }, 150_000);
});
