// `peerwire sim`: runs scenarios on the simulated network from seeds, with
// faults, and reports each run (virtual and wall time, traffic, faults
// injected, invariants checked, trace hash); a failing seed prints the one
// command that reproduces it.
import { addCounters, missingCoverage } from '../sim/coverage.js';
import type { SimProfile } from '../sim/network.js';
import { DEFAULT_CHAOS_MS, runSimulation, type SimReport, scenarioFor } from '../sim/run.js';
import { SCENARIOS } from '../sim/scenarios/index.js';
import { CliError, intFlag, parse } from './args.js';
import { formatCount, Progress, table } from './output.js';

const PROFILES: readonly SimProfile[] = ['none', 'default', 'harsh'];

export const SIM_USAGE = `Usage: peerwire sim [--seed N | --seeds A..B] [--nodes K] [--faults PROFILE]
                    [--scenario NAME] [--chaos-ms MS] [--coverage] [--json]

Runs the same Engine that runs on sockets on a simulated network, in virtual
time, with faults drawn from the seed: the same seed gives the same run and
the same trace hash. Invariants (connection slots, budgets, frames in order
and once, requests settling, no event after a disconnect, no banned peer
connected) are checked throughout; once the faults stop, every node must
converge in bounded virtual time.

Options:
  --seed N            one seed (default 1)
  --seeds A..B        every seed from A to B (inclusive); the summary lists failures
  --nodes K           nodes in the network (default 50 for one seed, 12 for a range)
  --faults PROFILE    none, default or harsh (default: default)
  --scenario NAME     ${SCENARIOS.map((s) => s.name).join(', ')}, or all
                      (rotates through them by seed; default header-sync)
  --chaos-ms MS       virtual ms of faults before the network settles (default ${DEFAULT_CHAOS_MS})
  --coverage          fail unless every fault kind, disconnect reason and invariant
                      was exercised at least once across the seeds (for soaks)
  --json              one JSON report per run on stdout (a summary object last)
  -h, --help          show this help

Scenarios:
${SCENARIOS.map((s) => `  ${s.name.padEnd(18)}${s.summary}`).join('\n')}`;

const MAX_SEED = (1n << 64n) - 1n;

function seedValue(text: string, flag: string): bigint {
  if (!/^\d+$/.test(text))
    throw new CliError(`${flag} must be a non-negative integer, got "${text}"`, 2);
  const v = BigInt(text);
  if (v > MAX_SEED) throw new CliError(`${flag} must be below 2^64, got ${text}`, 2);
  return v;
}

function seedRange(flags: Record<string, unknown>): bigint[] {
  if (flags.seed !== undefined && flags.seeds !== undefined) {
    throw new CliError('give --seed or --seeds, not both', 2);
  }
  if (flags.seeds !== undefined) {
    const m = /^(\d+)\.\.(\d+)$/.exec(String(flags.seeds));
    if (!m)
      throw new CliError(`--seeds must look like A..B (e.g. 1..100), got "${flags.seeds}"`, 2);
    const a = seedValue(m[1] as string, '--seeds');
    const b = seedValue(m[2] as string, '--seeds');
    if (b < a) throw new CliError(`--seeds ${flags.seeds}: the end is before the start`, 2);
    if (b - a >= 1_000_000n) throw new CliError('--seeds: at most 1,000,000 seeds at once', 2);
    const out: bigint[] = [];
    for (let s = a; s <= b; s++) out.push(s);
    return out;
  }
  return [seedValue(String(flags.seed ?? '1'), '--seed')];
}

function printReport(r: SimReport): void {
  const faults = Object.entries(r.faults)
    .filter(([, v]) => v > 0)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  const checks = Object.values(r.checks).reduce((a, b) => a + b, 0);
  const metrics = Object.entries(r.metrics)
    .map(([k, v]) => `${k} ${formatCount(v)}`)
    .join(', ');
  console.log(
    [
      `seed ${r.seed}: ${r.result.toUpperCase()} ${r.scenario}, ${r.nodes} nodes, faults ${r.profile}`,
      `  virtual ${(r.virtualMs / 1000).toFixed(1)} s in ${(r.wallMs / 1000).toFixed(2)} s wall (${formatCount(r.speedup)}× real time)`,
      `  ${formatCount(r.frames)} messages, ${formatCount(r.events)} events; ${metrics || 'no figures'}`,
      `  faults injected: ${faults || 'none'}`,
      `  invariants checked: ${formatCount(checks)} times`,
      `  trace ${r.traceHash}`,
      ...(r.failure ? [`  failure: ${r.failure}`, `  reproduce: ${r.reproduce}`] : []),
    ].join('\n'),
  );
}

export async function runSim(argv: string[]): Promise<number> {
  const flags = parse(
    argv,
    {
      seed: { type: 'string' },
      seeds: { type: 'string' },
      nodes: { type: 'string' },
      faults: { type: 'string' },
      scenario: { type: 'string' },
      'chaos-ms': { type: 'string' },
      coverage: { type: 'boolean' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    SIM_USAGE,
  );
  if (flags.help) {
    console.log(SIM_USAGE);
    return 0;
  }
  const seeds = seedRange(flags);
  const profile = (flags.faults ?? 'default') as SimProfile;
  if (!PROFILES.includes(profile)) {
    throw new CliError(`--faults must be one of ${PROFILES.join(', ')}, got "${profile}"`, 2);
  }
  const scenarioName = (flags.scenario as string | undefined) ?? 'header-sync';
  if (scenarioName !== 'all' && !scenarioFor(scenarioName, 0n)) {
    const known = [...SCENARIOS.map((s) => s.name), 'all'].join(', ');
    throw new CliError(`--scenario must be one of ${known}, got "${scenarioName}"`, 2);
  }
  const nodes = intFlag(
    flags.nodes as string | undefined,
    'nodes',
    seeds.length > 1 ? 12 : 50,
    1,
    5_000,
  );
  const chaosMs = intFlag(flags['chaos-ms'] as string | undefined, 'chaos-ms', DEFAULT_CHAOS_MS, 0);
  const json = flags.json === true;
  const progress = new Progress(!json || process.stderr.isTTY === true);
  const total: Record<string, number> = {};
  const failures: SimReport[] = [];
  let virtualMs = 0;
  let wallMs = 0;
  for (const [i, seed] of seeds.entries()) {
    const scenario = scenarioFor(scenarioName, seed);
    if (!scenario) throw new CliError(`no scenario for seed ${seed}`, 2);
    if (nodes < scenario.minNodes) {
      throw new CliError(`--nodes: ${scenario.name} needs at least ${scenario.minNodes} nodes`, 2);
    }
    const report = await runSimulation({
      seed: seed.toString(),
      scenario,
      nodes,
      profile,
      chaosMs,
      progress:
        seeds.length === 1
          ? (phase, vms) =>
              process.stderr.write(
                `seed ${seed}: ${phase} at virtual ${(vms / 1000).toFixed(1)} s\n`,
              )
          : undefined,
    });
    if (seeds.length > 1) progress.update('seeds', i + 1, seeds.length);
    addCounters(total, report.counters);
    virtualMs += report.virtualMs;
    wallMs += report.wallMs;
    if (report.result === 'fail') failures.push(report);
    if (json) console.log(JSON.stringify(report));
    else if (seeds.length === 1 || report.result === 'fail') printReport(report);
  }
  progress.done();
  const missing = flags.coverage ? missingCoverage(total) : [];
  if (seeds.length > 1 || flags.coverage) {
    const summary = {
      seeds: seeds.length,
      passed: seeds.length - failures.length,
      failed: failures.map((f) => f.seed),
      virtualSeconds: virtualMs / 1000,
      wallSeconds: wallMs / 1000,
      speedup: wallMs > 0 ? virtualMs / wallMs : 0,
      missingCoverage: missing,
      coverage: total,
    };
    if (json) {
      console.log(JSON.stringify({ summary }));
    } else {
      const rows = Object.entries(total)
        .filter(
          ([k]) =>
            k.startsWith('fault.') ||
            k.startsWith('disconnect.') ||
            k.startsWith('drop.') ||
            k.startsWith('exercise.') ||
            k.startsWith('check.'),
        )
        .map(([k, v]) => [k, formatCount(v)]);
      console.log(table(['counter', 'total'], rows));
      console.log(
        `${summary.passed}/${summary.seeds} seeds passed; ${formatCount(summary.virtualSeconds)} virtual s in ` +
          `${summary.wallSeconds.toFixed(1)} wall s (${formatCount(summary.speedup)}× real time)`,
      );
      for (const f of failures)
        console.log(`FAILED seed ${f.seed}: ${f.failure}\n  reproduce: ${f.reproduce}`);
      if (missing.length > 0) console.log(`never exercised: ${missing.join(', ')}`);
    }
  }
  return failures.length > 0 || missing.length > 0 ? 1 : 0;
}
