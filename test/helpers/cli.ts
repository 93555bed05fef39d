// Running the built `peerwire` command as a user would.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = 'dist/cli/main.js';

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], timeoutMs = 60_000): Promise<CliResult> {
  return runNode([MAIN, ...args], timeoutMs);
}

/**
 * Runs `node ...nodeArgs` from the repository root; SIGKILLs it after
 * `timeoutMs`. `env` adds variables; `shell` runs a bash snippet first (e.g.
 * `ulimit -n 64`) in the same process, which then becomes node.
 */
export function runNode(
  nodeArgs: string[],
  timeoutMs: number,
  options: { env?: Record<string, string>; shell?: string } = {},
): Promise<CliResult & { killed: boolean }> {
  return new Promise((resolve) => {
    const env = { ...process.env, ...options.env };
    const child = options.shell
      ? spawn('bash', ['-c', `${options.shell}; exec "$0" "$@"`, process.execPath, ...nodeArgs], {
          cwd: ROOT,
          env,
        })
      : spawn(process.execPath, nodeArgs, { cwd: ROOT, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, killed });
    });
  });
}

/**
 * Starts a long-running command; resolves once a stdout line matches `ready`.
 * A command that does not get there within `timeoutMs` is killed, not orphaned.
 */
export function startCli(
  args: string[],
  ready: RegExp,
  timeoutMs = 60_000,
): Promise<{ child: ChildProcess; lines: string[]; match: RegExpExecArray }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no line matching ${ready} within ${timeoutMs} ms`));
    }, timeoutMs);
    timer.unref();
    const done = () => clearTimeout(timer);
    const lines: string[] = [];
    let buffer = '';
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdout.on('data', (d) => {
      buffer += d;
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const line of parts) {
        lines.push(line);
        const match = ready.exec(line);
        if (match) {
          done();
          resolve({ child, lines, match });
        }
      }
    });
    child.on('exit', (code) => {
      done();
      reject(new Error(`exited early (${code}): ${stderr}`));
    });
  });
}

export function exitOf(child: ChildProcess): Promise<number | null> {
  // A child ended by a signal has no exit code, and its 'exit' has been emitted.
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** `peerwire sync --blocks` on regtest from `addresses` into `datadir`, then `extra` flags. */
export function syncBlocksArgs(
  addresses: readonly string[],
  datadir: string,
  extra: readonly string[] = [],
): string[] {
  return [
    'sync',
    ...addresses.flatMap((a) => ['--connect', a]),
    '--network',
    'regtest',
    '--blocks',
    '--datadir',
    datadir,
    ...extra,
  ];
}
