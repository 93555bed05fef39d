// `peerwire sim` as a user runs it: the same seed twice gives the same trace
// hash (what CI relies on to call a run reproducible), another seed another;
// a range reports a summary and its coverage; bad flags are one-line usage
// errors. (npm test also runs 100 seeds with coverage required.)
import { describe, expect, it } from 'vitest';
import type { SimReport as Report } from '../../ts/sim/run.js';
import { runCli } from '../helpers/cli.js';

async function simJson(args: string[]): Promise<{ code: number | null; lines: unknown[] }> {
  const r = await runCli(['sim', '--json', ...args], 120_000);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  const lines = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  return { code: r.code, lines };
}

describe('peerwire sim', { timeout: 180_000 }, () => {
  it('runs a seed twice to the same trace hash, and another seed to another', async () => {
    const args = ['--nodes', '12', '--chaos-ms', '60000'];
    const [a, b, c] = await Promise.all([
      simJson(['--seed', '7', ...args]),
      simJson(['--seed', '7', ...args]),
      simJson(['--seed', '8', ...args]),
    ]);
    for (const run of [a, b, c]) expect(run.code).toBe(0);
    const [ra, rb, rc] = [a, b, c].map((r) => r.lines[0] as Report);
    expect(ra?.result).toBe('pass');
    expect(ra?.traceHash).toMatch(/^[0-9a-f]{64}$/);
    expect(rb?.traceHash).toBe(ra?.traceHash);
    expect(rc?.traceHash).not.toBe(ra?.traceHash);
    // It ran in virtual time, injected faults and checked invariants.
    expect(ra?.virtualMs).toBeGreaterThanOrEqual(60_000);
    expect(Object.values(ra?.faults ?? {}).some((n) => n > 0)).toBe(true);
    expect(Object.values(ra?.checks ?? {}).some((n) => n > 0)).toBe(true);
    expect(ra?.reproduce).toBe(
      'peerwire sim --seed 7 --scenario header-sync --nodes 12 --faults default --chaos-ms 60000',
    );
  });

  it('a range of seeds reports each run and a summary with the counters', async () => {
    const { code, lines } = await simJson([
      '--seeds',
      '3..6',
      '--scenario',
      'all',
      '--nodes',
      '8',
      '--chaos-ms',
      '30000',
    ]);
    expect(code).toBe(0);
    const reports = lines.slice(0, -1) as Report[];
    expect(reports.map((r) => r.seed)).toEqual(['3', '4', '5', '6']);
    const { summary } = lines.at(-1) as {
      summary: {
        seeds: number;
        passed: number;
        failed: string[];
        coverage: Record<string, number>;
      };
    };
    expect(summary).toMatchObject({ seeds: 4, passed: 4, failed: [] });
    expect(summary.coverage['check.frame-order']).toBeGreaterThan(0);
  });

  it('without faults, the network still runs and nothing is injected', async () => {
    const { code, lines } = await simJson([
      '--seed',
      '1',
      '--faults',
      'none',
      '--nodes',
      '6',
      '--chaos-ms',
      '10000',
    ]);
    expect(code).toBe(0);
    const report = lines[0] as Report;
    expect(report.result).toBe('pass');
    expect(Object.values(report.faults).filter((n) => n > 0)).toEqual([]);
  });

  it('bad flags are one-line usage errors with exit code 2', async () => {
    for (const args of [
      ['--seed', 'x'],
      ['--seeds', '5..1'],
      ['--seed', '1', '--seeds', '1..2'],
      ['--faults', 'brutal'],
      ['--scenario', 'nope'],
      ['--nodes', '0'],
    ]) {
      const r = await runCli(['sim', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr.trimEnd().split('\n'), r.stderr).toHaveLength(1);
      expect(r.stderr).toMatch(/^peerwire sim: /);
    }
  });
});
