// `peerwire bench`: peerwire against the strongest plain-Node implementation of
// the same framing and against a pure-Rust ceiling on the same core crate,
// workload by workload, each run between two fresh processes over loopback,
// repeated, in one invocation. It reports; it asserts nothing about speed.
import { writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { CliError, checkOutputPath, intFlag, parse } from '../cli/args.js';
import { table, toJson } from '../cli/output.js';
import { ensureBlocksDirs } from './blocksdir.js';
import { ensureChainFile } from './chainfile.js';
import type { Measurement, Sizes } from './context.js';
import type { Impl } from './nets.js';
import {
  BenchRunError,
  CEILING_MISSING,
  ceilingBinary,
  killRuns,
  runCeiling,
  runPair,
} from './runner.js';
import { runSimBench, SIM_FULL, SIM_QUICK } from './sim.js';
import { WORKLOADS } from './workloads.js';

/** The simulator's own row: it has no plain-Node or ceiling side. */
const SIM = 'sim';
const names = [...Object.keys(WORKLOADS), SIM];

export const BENCH_USAGE = `Usage: peerwire bench [--quick] [--only WORKLOAD[,WORKLOAD…]] [--reps N] [--timeout-ms N] [--json FILE]

Measures peerwire against plain Node (net + crypto.hash, the same framing) and
against a ceiling (crates/ceiling: pure Rust on the same core crate, no JS, no
N-API), in one run; every workload runs between two fresh processes over
loopback, --reps times, and reports min/median/max and the machine's load:
${Object.keys(WORKLOADS)
  .map((n) => `  ${n.padEnd(10)} ${WORKLOADS[n]?.describe}`)
  .join('\n')}
  ${SIM.padEnd(10)} the simulator: a ${SIM_FULL.nodes}-node header sync under faults, simulated s per wall s

Build the release addon and the ceiling first: npm run build:native:release
(the ceiling alone: cargo build --release -p peerwire-ceiling).

Options:
  --quick          small sizes: checks that everything runs, numbers mean little
  --only LIST      run these workloads (comma-separated)
  --reps N         repetitions of each run (default 3)
  --timeout-ms N   deadline for each run (default 60000 quick, 600000 full)
  --json FILE      also write the results as JSON
  -h, --help       show this help`;

export const FULL: Sizes = {
  smallMessages: 2_000_000,
  sendEachMessages: 1_000_000,
  typedMessages: 1_000_000,
  largeMessages: 1_000,
  broadcastPeers: 64,
  pings: 20_000,
  pingWarmup: 2_000,
  peers: 10_000,
  syncHeaders: 900_000,
  blocksFull: 300,
  blockBytes: 1_000_000,
  blockPeers: 4,
};

export const QUICK: Sizes = {
  smallMessages: 20_000,
  sendEachMessages: 20_000,
  typedMessages: 20_000,
  largeMessages: 10,
  broadcastPeers: 8,
  pings: 200,
  pingWarmup: 50,
  peers: 50,
  syncHeaders: 4_000,
  blocksFull: 8,
  blockBytes: 50_000,
  blockPeers: 4,
};

export interface Spread {
  min: number;
  median: number;
  max: number;
  runs: number[];
}

export interface Row {
  workload: string;
  metric: string;
  unit: string;
  higherIsBetter: boolean;
  target: string;
  peerwire: Spread;
  baseline: Spread;
  ceiling: Spread | null;
  /** peerwire against plain Node by median; > 1 is better for peerwire. */
  vsBaseline: number;
  /** peerwire against the ceiling by median; > 1 is better for peerwire. */
  vsCeiling: number | null;
}

export function spread(values: number[]): Spread {
  const runs = [...values];
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median =
    sorted.length % 2
      ? (sorted[mid] as number)
      : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
  return { min: sorted[0] as number, median, max: sorted.at(-1) as number, runs };
}

/** > 1 means peerwire is better (faster, smaller), whichever way the metric goes. */
function ratio(peerwire: number, other: number, higherIsBetter: boolean): number {
  return higherIsBetter ? peerwire / other : other / peerwire;
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return '-';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2);
}

const fmtSpread = (s: Spread | null) =>
  s ? `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})` : '-';
const fmtRatio = (r: number | null) => (r === null || !Number.isFinite(r) ? '-' : `${fmt(r)}×`);

type Runs = Record<Impl | 'ceiling', Measurement[]>;

function rowsOf(name: string, runs: Runs): Row[] {
  const workload = WORKLOADS[name] as (typeof WORKLOADS)[string];
  return workload.metrics.map((m) => {
    const values = (ms: Measurement[]) => spread(ms.map((x) => x[m.key] as number));
    const peerwire = values(runs.peerwire);
    const baseline = values(runs.baseline);
    const ceiling = runs.ceiling.length ? values(runs.ceiling) : null;
    return {
      workload: name,
      metric: m.metric,
      unit: m.unit,
      higherIsBetter: m.higherIsBetter,
      target: m.target,
      peerwire,
      baseline,
      ceiling,
      vsBaseline: ratio(peerwire.median, baseline.median, m.higherIsBetter),
      vsCeiling: ceiling ? ratio(peerwire.median, ceiling.median, m.higherIsBetter) : null,
    };
  });
}

const round2 = (v: number) => Math.round(v * 100) / 100;

export async function runBench(argv: string[]): Promise<number> {
  const flags = parse(
    argv,
    {
      quick: { type: 'boolean' },
      only: { type: 'string' },
      reps: { type: 'string' },
      'timeout-ms': { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    BENCH_USAGE,
  );
  if (flags.help) {
    console.log(BENCH_USAGE);
    return 0;
  }
  const chosen = flags.only ? (flags.only as string).split(',').map((s) => s.trim()) : names;
  for (const n of chosen) {
    if (!names.includes(n))
      throw new CliError(`--only must be one of ${names.join(', ')}, got "${n}"`, 2);
  }
  const quick = flags.quick === true;
  const reps = intFlag(flags.reps as string | undefined, 'reps', 3, 1);
  const timeoutMs = intFlag(
    flags['timeout-ms'] as string | undefined,
    'timeout-ms',
    quick ? 60_000 : 600_000,
    1,
  );
  checkOutputPath(flags.json as string | undefined, 'json');
  const sizes: Sizes = { ...(quick ? QUICK : FULL) };

  const bin = ceilingBinary();
  const load = { before: loadavg().map(round2), after: [] as number[] };
  if (chosen.includes('sync')) {
    process.stderr.write(
      `bench sync: preparing ${sizes.syncHeaders.toLocaleString('en-US')} headers…`,
    );
    const { path, generated } = ensureChainFile(sizes.syncHeaders);
    sizes.headersFile = path;
    process.stderr.write(` ${generated ? 'generated' : 'cached'} ${path}\n`);
  }
  if (chosen.some((n) => n.startsWith('blocks'))) {
    process.stderr.write(
      `bench blocks: preparing ${sizes.blocksFull} blocks of ~${sizes.blockBytes.toLocaleString('en-US')} bytes for ${sizes.blockPeers} nodes…`,
    );
    const { dirs, headersFile, generated } = await ensureBlocksDirs(
      sizes.blocksFull,
      sizes.blockBytes,
      sizes.blockPeers,
    );
    sizes.blocksDirs = dirs;
    sizes.blocksHeadersFile = headersFile;
    process.stderr.write(` ${generated ? 'generated' : 'cached'} ${dirs[0]}…\n`);
  }

  // Interrupted: take the runs under way down too, then go.
  const interrupted = (signal: NodeJS.Signals) => {
    killRuns();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  const all: Row[] = [];
  const failures: string[] = [];
  let ceilingMissing = false;
  for (const name of chosen.filter((n) => n !== SIM)) {
    const runs: Runs = { peerwire: [], baseline: [], ceiling: [] };
    process.stderr.write(`bench ${name} (load ${loadavg()[0]?.toFixed(2)}):`);
    try {
      for (let rep = 1; rep <= reps; rep++) {
        process.stderr.write(` ${rep}/${reps}`);
        runs.peerwire.push(await runPair('peerwire', name, sizes, timeoutMs));
        runs.baseline.push(await runPair('baseline', name, sizes, timeoutMs));
        const c = await runCeiling(name, sizes, timeoutMs);
        if (c) runs.ceiling.push(c);
        else ceilingMissing = true;
      }
      process.stderr.write(' done\n');
      all.push(...rowsOf(name, runs));
    } catch (err) {
      if (!(err instanceof BenchRunError)) throw err;
      process.stderr.write(' FAILED\n');
      failures.push(err.message);
    }
  }
  let simulator: { nodes: number; chaosMs: number; speedup: Spread; wallMs: Spread } | null = null;
  if (chosen.includes(SIM)) {
    const simSizes = quick ? SIM_QUICK : SIM_FULL;
    process.stderr.write(`bench ${SIM} (load ${loadavg()[0]?.toFixed(2)}):`);
    try {
      const runs = [];
      for (let rep = 1; rep <= reps; rep++) {
        process.stderr.write(` ${rep}/${reps}`);
        runs.push(await runSimBench(simSizes, timeoutMs));
      }
      process.stderr.write(' done\n');
      simulator = {
        ...simSizes,
        speedup: spread(runs.map((r) => r.speedup)),
        wallMs: spread(runs.map((r) => r.wallMs)),
      };
    } catch (err) {
      if (!(err instanceof BenchRunError)) throw err;
      process.stderr.write(' FAILED\n');
      failures.push(err.message);
    }
  }
  load.after = loadavg().map(round2);
  process.off('SIGINT', interrupted);
  process.off('SIGTERM', interrupted);

  const machine = {
    cpus: availableParallelism(),
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
  console.log(
    table(
      [
        'workload',
        'metric',
        'unit',
        'peerwire',
        'plain Node',
        'ceiling',
        'vs plain Node',
        'vs ceiling',
        'target',
      ],
      all.map((r) => [
        r.workload,
        r.metric,
        r.unit,
        fmtSpread(r.peerwire),
        fmtSpread(r.baseline),
        fmtSpread(r.ceiling),
        fmtRatio(r.vsBaseline),
        fmtRatio(r.vsCeiling),
        r.target,
      ]),
    ),
  );
  if (simulator) {
    console.log(
      `simulator: ${simulator.nodes}-node header sync, ${simulator.chaosMs / 1000} s of faults: ` +
        `${fmtSpread(simulator.speedup)} simulated s per wall s (target ≥ 100×)`,
    );
  }
  console.log(
    `median (min–max) of ${reps} run(s); "vs" columns compare medians, > 1× means peerwire is better`,
  );
  console.log(
    `machine: ${machine.cpus} × ${machine.cpu}, ${machine.memoryGiB} GiB, node ${machine.node}; ` +
      `load average (1/5/15 min) ${load.before.join(' ')} before, ${load.after.join(' ')} after`,
  );
  if (ceilingMissing) console.log(`ceiling: ${CEILING_MISSING(bin)}`);
  if (flags.json) {
    writeFileSync(
      flags.json as string,
      `${toJson({
        mode: quick ? 'quick' : 'full',
        reps,
        sizes,
        machine,
        load,
        ceiling: ceilingMissing ? null : bin,
        results: all,
        simulator,
        failures,
      })}\n`,
    );
  }
  if (failures.length) {
    for (const f of failures) console.error(`bench: ${f}`);
    return 1;
  }
  return 0;
}
