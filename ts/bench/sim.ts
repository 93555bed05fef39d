// The simulator's speed: the 50-node header sync (`peerwire sim`'s default
// scenario) run in a fresh process, reported as simulated seconds per wall
// second. Nothing runs beside it to compare with: no plain-Node network runs
// in virtual time, and a real one runs at 1× by definition.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BenchRunError } from './runner.js';

const cliPath = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export interface SimBenchRun {
  /** Simulated seconds per wall second (the run's own figure, setup included). */
  speedup: number;
  virtualMs: number;
  wallMs: number;
  nodes: number;
}

export interface SimBenchSizes {
  nodes: number;
  chaosMs: number;
}

export const SIM_FULL: SimBenchSizes = { nodes: 50, chaosMs: 120_000 };
export const SIM_QUICK: SimBenchSizes = { nodes: 12, chaosMs: 30_000 };
/** One seed for every run: the runs do the same work, event for event. */
const SEED = '1';

/** One run of the scenario in a fresh process; killed and named when past its deadline. */
export function runSimBench(sizes: SimBenchSizes, timeoutMs: number): Promise<SimBenchRun> {
  const args = [
    cliPath,
    'sim',
    '--seed',
    SEED,
    '--nodes',
    String(sizes.nodes),
    '--chaos-ms',
    String(sizes.chaosMs),
    '--json',
  ];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const last = stderr.trim().split('\n').at(-1) ?? '';
      if (signal === 'SIGKILL') {
        reject(new BenchRunError(`sim: the run missed its ${timeoutMs} ms deadline`));
        return;
      }
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      const report = line ? (JSON.parse(line) as Record<string, unknown>) : undefined;
      if (code !== 0 || !report || report.result !== 'pass') {
        const why = report?.failure ?? last ?? `exit code ${code}`;
        reject(new BenchRunError(`sim: the run failed: ${String(why)}`));
        return;
      }
      resolve({
        speedup: report.speedup as number,
        virtualMs: report.virtualMs as number,
        wallMs: report.wallMs as number,
        nodes: report.nodes as number,
      });
    });
  });
}
