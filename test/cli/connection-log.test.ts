// `peerwire node` rations the log lines that inbound connections cause by
// themselves, per netgroup: a peer reconnecting in a loop gets 20 lines of a
// kind a minute, and the rest is counted, not lost.
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { waitUntil } from '../helpers/wait.js';

type LogEvent = Record<string, unknown> & { event: string };

const FLOOD = 60;
/** Two /16s of the loopback range: two netgroups. */
const FLOODER = '127.0.0.1';
const CANARY = '127.9.0.1';

const children: ReturnType<typeof spawn>[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

function connectAndClose(host: string, port: number, localAddress: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port, localAddress }, () => {
      socket.end();
    });
    socket.on('close', () => resolve());
    socket.on('error', reject);
  });
}

describe('peerwire node: connection log lines', () => {
  it('a host reconnecting in a loop is rationed, its suppressed lines reported at shutdown', async () => {
    const child = spawn(
      process.execPath,
      ['dist/cli/main.js', 'node', '--listen', '127.0.0.1:0', '--json', '--connect', '127.0.0.1:1'],
      { cwd: ROOT },
    );
    children.push(child);
    const events: LogEvent[] = [];
    let buffer = '';
    child.stdout.on('data', (d) => {
      buffer += d;
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const line of parts) events.push(JSON.parse(line) as LogEvent);
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await waitUntil('listening', () => events.some((e) => e.event === 'listening'), 30_000);
    const listening = events.find((e) => e.event === 'listening') as LogEvent;
    const port = Number(String(listening.address).split(':').pop());

    for (let i = 0; i < FLOOD; i++) await connectAndClose('127.0.0.1', port, FLOODER);
    // Accepted in order: once the canary's line is there, every flood
    // connection has reached the node's handlers.
    await connectAndClose('127.0.0.1', port, CANARY);
    const fromCanary = (e: LogEvent) =>
      e.event === 'connected' && String(e.address).startsWith(`${CANARY}:`);
    await waitUntil('the canary is logged', () => events.some(fromCanary), 30_000);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
    const flooder = (e: LogEvent) => String(e.address ?? '').startsWith(`${FLOODER}:`);
    const connected = events.filter((e) => e.event === 'connected' && flooder(e));
    expect(connected).toHaveLength(20);
    const suppressed = events.filter((e) => e.event === 'log-suppressed');
    const suppressedOf = (kind: string) =>
      suppressed
        .filter((e) => e.of === kind && e.group !== undefined)
        .reduce((n, e) => n + Number(e.lines), 0);
    // Every connection is accounted for: logged, or counted in the report.
    expect(connected.length + suppressedOf('connected')).toBe(FLOOD);
    const disconnected = events.filter((e) => e.event === 'disconnected' && e.peer !== undefined);
    // The flood's 20 and the canary's.
    expect(disconnected.length).toBeLessThanOrEqual(21);
    expect(events.at(-1)?.event).toBe('stopped');
  }, 60_000);
});
