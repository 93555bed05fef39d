#!/usr/bin/env node
// The peerwire command: demo, sync, node, bench.
import { CliError } from './args.js';
import { runDemo } from './demo.js';
import { runNode } from './node.js';
import { runSync } from './sync.js';

const USAGE = `Usage: peerwire <command> [options]

Commands:
  demo    an offline demo network: one serving node, several syncing nodes
  sync    sync and validate block headers from real nodes
  node    run a node that serves headers and answers pings
  bench   throughput and latency, peerwire against a plain Node baseline

Run "peerwire <command> --help" for a command's options.`;

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  demo: runDemo,
  sync: runSync,
  node: runNode,
  bench: async (argv) => (await import('../bench/main.js')).runBench(argv),
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS[command];
  if (!run) {
    console.error(`peerwire: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  try {
    return await run(rest);
  } catch (err) {
    if (err instanceof CliError) {
      console.error(`peerwire ${command}: ${err.message}`);
      return err.exitCode;
    }
    console.error(`peerwire ${command}: ${(err as Error).stack ?? err}`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
