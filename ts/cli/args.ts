// Argument parsing shared by the subcommands: node's parseArgs with errors
// turned into a usage message and exit code 2.
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A failure the CLI reports as a message, with its exit code (2: bad usage, 1: failed). */
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

export function parse(argv: string[], options: Options, usage: string): Flags {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false })
      .values as Flags;
  } catch (err) {
    throw new CliError(`${(err as Error).message}\n\n${usage}`, 2);
  }
}

/** A positive integer flag. */
export function intFlag(
  value: string | undefined,
  name: string,
  fallback: number,
  min = 1,
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    throw new CliError(`--${name} must be an integer ≥ ${min}, got "${value}"`, 2);
  }
  return n;
}

/** "host:port" with a port in range. */
export function hostPort(value: string, name: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(value);
  const port = m ? Number(m[2]) : Number.NaN;
  if (!m || !(port >= 0 && port <= 65_535)) {
    throw new CliError(`--${name} must be HOST:PORT (e.g. 127.0.0.1:18444), got "${value}"`, 2);
  }
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}
