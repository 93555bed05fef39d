// The benchmark harness: its workloads survive frames that arrive with their
// connection, every workload runs to completion with sane numbers, and a run
// that misses its deadline fails with a clear error. Never timings.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Channel, Context } from '../../ts/bench/context.js';
import { QUICK, spread } from '../../ts/bench/main.js';
import type { BenchNet, FrameHandler } from '../../ts/bench/nets.js';
import { runPair } from '../../ts/bench/runner.js';
import { WORKLOADS } from '../../ts/bench/workloads.js';
import { ROOT, runCli } from '../helpers/cli.js';

/**
 * A net that delivers one frame per connection during connect(), before the
 * promise resolves: what the native transport does when a frame shares a batch
 * with the `connected` event.
 */
class EagerNet implements BenchNet {
  private frame: FrameHandler = () => {};
  async listen(): Promise<number> {
    return 1;
  }
  async connect(_port: number, count: number): Promise<number[]> {
    const ids = Array.from({ length: count }, (_, i) => i + 1);
    for (const id of ids) this.frame(id, 'block', Buffer.alloc(1));
    return ids;
  }
  onAccept(): void {}
  onClosed(): void {}
  onFrame(handler: FrameHandler): void {
    this.frame = handler;
  }
  send(): undefined {
    return undefined;
  }
  async sendBulk(): Promise<void> {}
  broadcast(): void {}
  async close(): Promise<void> {}
}

function scripted(
  incoming: Array<Record<string, unknown>>,
): Channel & { sent: Array<Record<string, unknown>> } {
  const sent: Array<Record<string, unknown>> = [];
  return {
    sent,
    send: (m) => sent.push(m),
    next: async () => {
      const m = incoming.shift();
      if (!m) throw new Error('the other side has nothing more to say');
      return m;
    },
  };
}

describe('bench workloads against early frames', () => {
  it('the broadcast receiver counts frames that arrive with their connections', async () => {
    const ch = scripted([{ port: 1 }, { stop: true }]);
    const ctx: Context = {
      impl: 'baseline',
      ch,
      sizes: { ...QUICK, broadcastPeers: 4 },
      makeNet: () => new EagerNet(),
    };
    await WORKLOADS.broadcast?.child(ctx);
    expect(ch.sent.map((m) => Object.keys(m)[0])).toEqual(['ready', 't1']);
  });
});

describe('runPair', () => {
  it('takes the result when the other side has already exited cleanly', async () => {
    const worker = join(ROOT, 'test/bench/fixtures/early-exit-worker.mjs');
    await expect(runPair('baseline', 'small', QUICK, 20_000, worker)).resolves.toEqual({
      value: 1,
    });
  });
});

describe('spread', () => {
  it('takes min, median (mean of the middle two when even) and max', () => {
    expect(spread([3, 1, 2])).toMatchObject({ min: 1, median: 2, max: 3, runs: [3, 1, 2] });
    expect(spread([4, 1, 2, 10])).toMatchObject({ min: 1, median: 3, max: 10 });
  });
});

const CEILING = join(ROOT, 'target/release/peerwire-ceiling');

describe('peerwire bench --quick', () => {
  const dir = mkdtempSync(join(tmpdir(), 'peerwire-bench-test-'));
  beforeAll(() => {
    // The ceiling is part of the bench: build it if this checkout has not.
    if (!existsSync(CEILING)) {
      execFileSync('cargo', ['build', '--release', '-p', 'peerwire-ceiling'], {
        cwd: ROOT,
        stdio: 'ignore',
      });
    }
  }, 300_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('runs every workload for peerwire, plain Node and the ceiling with sane numbers', async () => {
    const file = join(dir, 'bench.json');
    const r = await runCli(['bench', '--quick', '--reps', '2', '--json', file], 280_000);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(readFileSync(file, 'utf8'));
    expect(out.mode).toBe('quick');
    expect(out.reps).toBe(2);
    expect(out.machine.cpus).toBeGreaterThan(0);
    expect(out.load.before).toHaveLength(3);
    expect(out.load.after).toHaveLength(3);
    expect(out.ceiling).toBe(CEILING);
    expect(out.failures).toEqual([]);
    const keys = out.results.map(
      (x: { workload: string; metric: string }) => `${x.workload}/${x.metric}`,
    );
    const expected = Object.entries(WORKLOADS).flatMap(([name, w]) =>
      w.metrics.map((m) => `${name}/${m.metric}`),
    );
    expect(keys).toEqual(expected);
    // The simulator's row: simulated seconds per wall second, from its own runs.
    expect(out.simulator.nodes).toBe(12);
    expect(out.simulator.speedup.runs).toHaveLength(2);
    expect(out.simulator.speedup.min).toBeGreaterThan(0);
    expect(r.stdout).toMatch(/simulator: 12-node header sync, .* simulated s per wall s/);
    const row = (w: string, m: string) =>
      out.results.find(
        (x: { workload: string; metric: string }) => x.workload === w && x.metric === m,
      );
    for (const r of out.results) {
      for (const impl of ['peerwire', 'baseline', 'ceiling']) {
        const s = r[impl];
        expect(s.runs, `${r.workload}/${r.metric} ${impl}`).toHaveLength(2);
        expect(s.min).toBeGreaterThanOrEqual(0);
        expect(s.min).toBeLessThanOrEqual(s.median);
        expect(s.median).toBeLessThanOrEqual(s.max);
        expect(Number.isFinite(s.max)).toBe(true);
      }
      expect(Number.isFinite(r.vsBaseline)).toBe(true);
      expect(Number.isFinite(r.vsCeiling)).toBe(true);
    }
    // Throughputs are positive; a broadcast is checksummed once by every implementation.
    for (const w of ['small', 'send-each', 'typed', 'large']) {
      const r = out.results.find((x: { workload: string }) => x.workload === w);
      for (const impl of ['peerwire', 'baseline', 'ceiling'])
        expect(r[impl].min).toBeGreaterThan(0);
    }
    const sums = row('broadcast', 'checksums computed');
    for (const impl of ['peerwire', 'baseline', 'ceiling']) expect(sums[impl].runs).toEqual([1, 1]);
    const p50 = row('ping', 'round trip p50');
    const p99 = row('ping', 'round trip p99');
    for (const impl of ['peerwire', 'baseline', 'ceiling']) {
      expect(p50[impl].median).toBeGreaterThan(0);
      expect(p50[impl].median).toBeLessThanOrEqual(p99[impl].median);
    }
    expect(row('sync', 'total').peerwire.min).toBeGreaterThan(0);
    expect(r.stdout).toMatch(
      /workload\s+metric\s+unit\s+peerwire\s+plain Node\s+ceiling\s+vs plain Node\s+vs ceiling\s+target/,
    );
    expect(r.stdout).toMatch(/load average \(1\/5\/15 min\) [\d.]+ [\d.]+ [\d.]+ before/);
  }, 300_000);

  it('a run that misses its deadline fails with a clear error, and the bench still exits', async () => {
    const r = await runCli(
      ['bench', '--quick', '--only', 'ping', '--reps', '1', '--timeout-ms', '1'],
      60_000,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/ping \(peerwire\) did not finish within 0\.001 s/);
  });

  it('without the ceiling binary it says how to build it', async () => {
    const saved = process.env.PEERWIRE_CEILING;
    process.env.PEERWIRE_CEILING = join(dir, 'no-such-ceiling');
    try {
      const r = await runCli(['bench', '--quick', '--only', 'broadcast', '--reps', '1'], 60_000);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('cargo build --release -p peerwire-ceiling');
    } finally {
      if (saved === undefined) delete process.env.PEERWIRE_CEILING;
      else process.env.PEERWIRE_CEILING = saved;
    }
  });
});
