#!/usr/bin/env node
// The peerwire command: demo, sync, node, bench, sim. Every failure is one line on
// stderr with exit code 2 (bad usage) or 1 (failed), never a stack trace
// (PEERWIRE_DEBUG=1 adds it). Subcommands are imported when they run, and the
// native addon loads on first use, so --help and --version work without it.
import { createRequire } from 'node:module';
import { loadNative, nativeLoadError } from '../native/binding.js';
import { CliError } from './args.js';
import { escapeText } from './output.js';

const USAGE = `Usage: peerwire <command> [options]

Commands:
  demo    an offline demo network: one serving node, several syncing nodes
  sync    sync and validate block headers from real nodes
  node    run a node that serves headers and answers pings
  bench   throughput and latency, peerwire against a plain Node baseline
  sim     run scenarios on a simulated network with seeded faults
  crawl   map a network: recursive getaddr from seeds, a record per node

Options:
  -h, --help      show this help (with a note when the native addon cannot load here)
  -v, --version   print peerwire's version

Run "peerwire <command> --help" for a command's options.
Set PEERWIRE_DEBUG=1 to print stack traces with errors.`;

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, () => Promise<Command>> = {
  demo: async () => (await import('./demo.js')).runDemo,
  sync: async () => (await import('./sync.js')).runSync,
  node: async () => (await import('./node.js')).runNode,
  bench: async () => (await import('../bench/main.js')).runBench,
  sim: async () => (await import('./sim.js')).runSim,
  crawl: async () => (await import('./crawl.js')).runCrawl,
};

/** peerwire's version, from the package.json beside dist/. */
export function version(): string {
  const require = createRequire(import.meta.url);
  return (require('../../package.json') as { version: string }).version;
}

function debugging(): boolean {
  const v = process.env.PEERWIRE_DEBUG;
  return v !== undefined && v !== '' && v !== '0';
}

/** Prints `err` as one line (plus its stack with PEERWIRE_DEBUG=1); returns the exit code. */
export function report(prefix: string, err: unknown): number {
  const message =
    err instanceof Error ? err.message || err.name : `${String(err)} (thrown, not an Error)`;
  process.stderr.write(`${prefix}: ${escapeText(message.trim())}\n`);
  if (debugging() && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  return err instanceof CliError ? err.exitCode : 1;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === '--version' || command === '-v' || command === 'version') {
    console.log(version());
    return 0;
  }
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    if (command === 'help' && rest[0] && COMMANDS[rest[0]]) return main([rest[0], '--help']);
    const text = command === undefined ? USAGE : `${USAGE}${addonNote()}`;
    if (command === undefined) {
      console.error(text);
      return 2;
    }
    console.log(text);
    return 0;
  }
  const load = COMMANDS[command];
  if (!load) {
    const known = Object.keys(COMMANDS).join(', ');
    return report(
      'peerwire',
      new CliError(`unknown command "${command}": one of ${known} (see "peerwire --help")`, 2),
    );
  }
  try {
    // Every command needs the addon: say so before any work, not halfway through.
    if (!rest.includes('--help') && !rest.includes('-h')) loadNative();
    return await (await load())(rest);
  } catch (err) {
    return report(`peerwire ${command}`, err);
  }
}

/** Under --help: why the commands cannot run here, when the addon does not load. */
function addonNote(): string {
  const err = nativeLoadError();
  if (!err) return '';
  return `\n\nNote: demo, sync, node and bench cannot run here: ${err.message}`;
}

// Whatever escapes a command (an error in a callback, a rejected promise nobody
// awaited) is still one line, not a stack trace.
function fatal(err: unknown): void {
  process.exit(report('peerwire', err));
}
process.on('uncaughtException', fatal);
process.on('unhandledRejection', fatal);

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // The command is over: whatever still holds the event loop (a socket a failed
  // command left open) must not keep the process alive.
  setTimeout(() => process.exit(code), 2_000).unref();
});
