// Argument parsing shared by the subcommands: node's parseArgs with errors
// turned into one-line messages and exit code 2, plus checks on flag values
// (numbers, addresses, paths) made before any long work starts.
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A failure the CLI reports as one line, with its exit code (2: bad usage, 1: failed). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

export type Options = NonNullable<ParseArgsConfig['options']>;

export type Flags = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** Parses `argv`; a bad flag is a usage error pointing at the command's --help. */
export function parse(argv: string[], options: Options, usage: string): Flags {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false })
      .values as Flags;
  } catch (err) {
    throw new CliError(`${(err as Error).message} (${helpHint(usage)})`, 2);
  }
}

/** `see "peerwire sync --help"`, from a usage text's first line. */
export function helpHint(usage: string): string {
  const command = /^Usage: (peerwire \S+)/.exec(usage)?.[1] ?? 'peerwire';
  return `see "${command} --help"`;
}

/** An integer flag within [min, max]. */
/**
 * The longest delay a Node.js timer takes (2^31 − 1 ms, about 24.8 days): a
 * longer one fires at once, so flags that become timers stop there.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export function intFlag(
  value: string | undefined,
  name: string,
  fallback: number,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw new CliError(`--${name} must be an integer ${range}, got "${value}"`, 2);
  }
  return n;
}

/** "host:port" (IPv6 in brackets) with a port in range. */
export function hostPort(value: string, name: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(value);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || !(port >= 0 && port <= 65_535)) {
    throw new CliError(
      `--${name} must be HOST:PORT (e.g. 127.0.0.1:18444 or [::1]:18444), got "${value}"`,
      2,
    );
  }
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

/** An address in the form --connect takes: IPv6 hosts in brackets ([::1]:18444). */
export function connectForm(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Rewrites "host:port" as printed by the socket layer into the form --connect takes. */
export function addressForm(address: string): string {
  const cut = address.lastIndexOf(':');
  if (cut <= 0 || address.startsWith('[')) return address;
  const port = Number(address.slice(cut + 1));
  if (!Number.isInteger(port)) return address;
  return connectForm(address.slice(0, cut), port);
}

/**
 * Checks, before any long work, that `path` can be written: its directory
 * exists and is writable, and it is not itself a directory.
 */
export function checkOutputPath(path: string | undefined, flag: string): void {
  if (path === undefined) return;
  const full = resolve(path);
  const bad = (why: string) => new CliError(`--${flag} ${path}: ${why}`, 2);
  const existing = statOrUndefined(full);
  if (existing?.isDirectory()) throw bad('is a directory, not a file');
  const dir = dirname(full);
  const parent = statOrUndefined(dir);
  if (!parent) throw bad(`directory ${dir} does not exist`);
  if (!parent.isDirectory()) throw bad(`${dir} is not a directory`);
  try {
    accessSync(existing ? full : dir, constants.W_OK);
  } catch {
    throw bad(existing ? 'the file is not writable' : `directory ${dir} is not writable`);
  }
}

/** Checks that `path` is a readable regular file before it is read. */
export function checkInputFile(path: string, flag: string): void {
  const bad = (why: string) => new CliError(`--${flag} ${path}: ${why}`, 2);
  const stat = statOrUndefined(resolve(path));
  if (!stat) throw bad('no such file');
  if (stat.isDirectory()) throw bad('is a directory, not a file');
  try {
    accessSync(path, constants.R_OK);
  } catch {
    throw bad('the file is not readable');
  }
}

function statOrUndefined(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}
