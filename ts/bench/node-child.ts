// A `peerwire node` child process that serving sides of the benchmark run: it
// is started with the given arguments, resolved once it says it listens, and
// killed with this worker however the worker ends.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const cliMain = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export interface RunningNode {
  port: number;
  /** SIGTERM, and wait for it to exit. */
  stop(): Promise<void>;
}

/** Starts `peerwire node --listen 127.0.0.1:0 --json ...args`; resolves once it listens. */
export async function startPeerwireNode(args: string[]): Promise<RunningNode> {
  const node: ChildProcess = spawn(
    process.execPath,
    [cliMain, 'node', '--listen', '127.0.0.1:0', '--json', ...args],
    // stderr piped, not inherited: a node outliving this worker must not hold the bench's stderr open.
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  node.stderr?.on('data', (d) => process.stderr.write(d));
  // However this worker ends (the bench may SIGTERM it), the node goes with it.
  const killNode = () => node.kill('SIGKILL');
  process.once('exit', killNode);
  const exited = new Promise<never>((_, reject) =>
    node.once('exit', (code, signal) =>
      reject(new Error(`peerwire node ${args.join(' ')} exited (${signal ?? code})`)),
    ),
  );
  exited.catch(() => {});
  const stop = async () => {
    if (node.exitCode === null && node.signalCode === null) {
      node.kill('SIGTERM');
      await exited.catch(() => {});
    }
    process.off('exit', killNode);
  };
  try {
    const lines = createInterface({ input: node.stdout as NodeJS.ReadableStream });
    const port = await Promise.race([
      new Promise<number>((resolve) =>
        lines.on('line', (line) => {
          const event = JSON.parse(line) as { event: string; address?: string };
          if (event.event === 'listening') resolve(Number(event.address?.split(':').at(-1)));
        }),
      ),
      exited,
    ]);
    return { port, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
