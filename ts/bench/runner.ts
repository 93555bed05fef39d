// Runs one repetition of one workload: two fresh worker processes for peerwire
// or plain Node (messages relayed between them), or the ceiling binary. Every
// run has a deadline; a run that misses it is killed and named in the error.
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Measurement, Sizes } from './context.js';
import type { Impl } from './nets.js';
import { WORKLOADS } from './workloads.js';

const workerPath = fileURLToPath(new URL('./worker.js', import.meta.url));

/** A run that failed: timed out, crashed or reported an error. */
export class BenchRunError extends Error {}

type Message = Record<string, unknown>;

/** Every process a run has started and not yet seen exit. */
const live = new Set<ChildProcess>();

function track<T extends ChildProcess>(child: T): T {
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Kills whatever runs are under way (the bench is being interrupted). */
export function killRuns(): void {
  for (const child of live) child.kill('SIGTERM');
}

const exited = (child: ChildProcess) => child.exitCode !== null || child.signalCode !== null;

/**
 * Ends a process: a grace period to exit on its own (workers exit once their
 * workload is done), then SIGTERM (a worker cleans up what it started, such as
 * a `peerwire node`), then SIGKILL.
 */
export async function stop(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (exited(child)) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const within = (ms: number) =>
    Promise.race([
      gone.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), ms)),
    ]);
  if (graceMs > 0 && (await within(graceMs))) return;
  child.kill('SIGTERM');
  if (await within(2_000)) return;
  child.kill('SIGKILL');
  await gone;
}

/** Both sides of `name` for `impl`, each in a fresh process. */
export async function runPair(
  impl: Impl,
  name: string,
  sizes: Sizes,
  timeoutMs: number,
  workerScript = workerPath,
): Promise<Measurement> {
  const label = `${name} (${impl})`;
  const spawnRole = (role: 'parent' | 'child') =>
    track(
      fork(workerScript, [impl, name, role, JSON.stringify(sizes)], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        execArgv: ['--expose-gc'],
      }),
    );
  const parent = spawnRole('parent');
  const child = spawnRole('child');
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  try {
    return await new Promise<Measurement>((resolve, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new BenchRunError(`${label} did not finish within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      // A worker says it is ready once its message handler is in place; what the
      // other side sends before that waits here.
      const relay = (from: ChildProcess, to: ChildProcess, role: string) => {
        let toReady = false;
        const held: Message[] = [];
        to.on('message', (m: Message) => {
          if (m.__ready && !toReady) {
            toReady = true;
            for (const h of held.splice(0)) to.send(h);
          }
        });
        from.on('message', (m: Message) => {
          if (m.__ready) return;
          if (m.__error) reject(new BenchRunError(`${label}, ${role} side: ${m.__error}`));
          else if (m.__result) resolve(m.__result as Measurement);
          else if (toReady) to.send(m);
          else held.push(m);
        });
        from.once('exit', (code, signal) => {
          // The other side exits once told to stop, which can reach us before
          // the measuring side's result does: only a failure counts there.
          if (role === 'other' && code === 0) return;
          reject(
            new BenchRunError(
              `${label}: the ${role} process exited (${signal ?? code}) before the result`,
            ),
          );
        });
      };
      relay(parent, child, 'measuring');
      relay(child, parent, 'other');
    });
  } finally {
    clearTimeout(timer);
    const grace = timedOut ? 0 : 5_000;
    await Promise.all([stop(parent, grace), stop(child, grace)]);
  }
}

/** Where the ceiling binary is (PEERWIRE_CEILING overrides). */
export function ceilingBinary(): string {
  return (
    process.env.PEERWIRE_CEILING ??
    fileURLToPath(new URL('../../target/release/peerwire-ceiling', import.meta.url))
  );
}

export const CEILING_MISSING = (path: string) =>
  `the ceiling binary is not at ${path}: build it with \`cargo build --release -p peerwire-ceiling\` (npm run build:native:release builds it too)`;

/** The same workload in pure Rust; undefined when the binary is not built. */
export async function runCeiling(
  name: string,
  sizes: Sizes,
  timeoutMs: number,
): Promise<Measurement | undefined> {
  const bin = ceilingBinary();
  if (!existsSync(bin)) return undefined;
  const args = (WORKLOADS[name] as (typeof WORKLOADS)[string]).ceiling(sizes);
  const child = track(spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    err += d;
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const code = await new Promise<number | null>((resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new BenchRunError(`${name} (ceiling) did not finish within ${timeoutMs / 1000} s`),
          ),
        timeoutMs,
      );
      child.once('exit', (c) => resolve(c));
    });
    if (code !== 0) {
      throw new BenchRunError(`${name} (ceiling) failed (${code}): ${err.trim()}`);
    }
    try {
      return JSON.parse(out.trim().split('\n').at(-1) ?? '') as Measurement;
    } catch {
      throw new BenchRunError(`${name} (ceiling) printed no result: ${out.trim()}`);
    }
  } finally {
    clearTimeout(timer);
    await stop(child, 0);
  }
}
