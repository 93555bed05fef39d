// A running `peerwire node`, with its defaults, under the floods of issue 7:
// memory stays within the bound the README states, a well-behaved peer keeps
// getting pongs, a new honest peer can connect, and SIGTERM still works.
// Each flood is bounded in time; everything stays on 127.0.0.1. Nothing here
// asserts speed: the waits are liveness bounds, many times what they need.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { generateBlocks } from '../../ts/block/generate.js';
import { Engine } from '../../ts/engine/engine.js';
import type { Peer } from '../../ts/engine/peer.js';
import { hashToHex, hexToHash, networkPreset } from '../../ts/index.js';
import {
  type Attack,
  churn,
  flood,
  getblocksFromGenesis,
  getdataBlocks,
  getheadersFromGenesis,
  idleSockets,
  invTransactions,
  unconnectingHeaders,
} from '../helpers/attackers.js';
import { exitOf, ROOT } from '../helpers/cli.js';
import { frame } from '../helpers/wire.js';

/** The README's bound for a default node under these floods (see "Memory bound"). */
const MEMORY_BOUND_MB = 400;
const FLOOD_MS = 6_000;
const CLI = 'dist/cli/main.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface RunningNode {
  child: ChildProcess;
  port: number;
  /** Its chain's tip, display order. */
  tip: string;
  maxRssMb: () => number;
  /** Lines in its log so far. */
  logLines: () => number;
}

/**
 * Log lines one attacking connection may cause within a flood (well under a
 * minute): connected, handshake, disconnected, and up to 10 per kind of
 * rationed line (getheaders, addr, getaddr, misbehaving) with their
 * suppressed counts.
 */
const LOG_LINES_PER_CONNECTION = 50;

function countLines(path: string): number {
  const text = readFileSync(path);
  let lines = 0;
  for (let at = text.indexOf(10); at !== -1; at = text.indexOf(10, at + 1)) lines++;
  return lines;
}

function rssMb(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return 0;
  }
}

/**
 * Starts the node with its log going to a file: a pipe that this busy test
 * process cannot drain fast enough would block the node's writes to stdout,
 * which is not the node's fault, nor what a deployment does.
 */
async function startNode(): Promise<RunningNode> {
  const dir = mkdtempSync(join(tmpdir(), 'peerwire-flood-'));
  const logPath = join(dir, 'node.log');
  const log = openSync(logPath, 'w');
  const child = spawn(
    process.execPath,
    [CLI, 'node', '--listen', '127.0.0.1:0', '--generate', '2000', '--json'],
    { cwd: ROOT, stdio: ['ignore', log, 'pipe'] },
  );
  closeSync(log);
  let max = 0;
  const pid = child.pid as number;
  const timer = setInterval(() => {
    max = Math.max(max, rssMb(pid));
  }, 100);
  cleanups.push(async () => {
    clearInterval(timer);
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await exitOf(child);
    }
    if (process.env.PEERWIRE_FLOOD_LOG) console.log(readFileSync(logPath, 'utf8'));
    rmSync(dir, { recursive: true, force: true });
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    const found =
      /"event":"listening".*"address":"127\.0\.0\.1:(\d+)".*"tip":"([0-9a-f]{64})"/.exec(
        readFileSync(logPath, 'utf8'),
      );
    if (found) {
      const [, port, tip] = found as unknown as [string, string, string];
      return {
        child,
        port: Number(port),
        tip,
        maxRssMb: () => Math.max(max, rssMb(pid)),
        logLines: () => countLines(logPath),
      };
    }
    if (child.exitCode !== null || Date.now() > deadline) throw new Error('the node did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A well-behaved peer that pings the node every 200 ms and records each answer. */
async function canary(port: number) {
  const engine = new Engine({ network: 'regtest' });
  cleanups.push(() => engine.close());
  const ready = new Promise<Peer>((resolve) => engine.once('handshake', resolve));
  engine.connect(`127.0.0.1:${port}`);
  const peer = await ready;
  let answered = 0;
  /** When each pong came (ms on this process's clock). */
  const answeredAt: number[] = [];
  const failures: string[] = [];
  let stopped = false;
  const loop = async () => {
    while (!stopped) {
      try {
        await peer.request({ command: 'ping', payload: { nonce: BigInt(answered + 1) } }, 15_000);
        answered++;
        answeredAt.push(performance.now());
      } catch (err) {
        failures.push(String(err));
        return;
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 200));
    }
  };
  const done = loop();
  return {
    /**
     * Stops pinging (before the node is told to stop, the flood still on): the
     * ping in flight is answered, or fails after its 15 s timeout, first.
     */
    stop: async () => {
      stopped = true;
      await done;
      return { answered, answeredAt, failures };
    },
  };
}

/** A new honest peer completes a handshake with the node (it may need to redial). */
async function newcomerConnects(port: number): Promise<boolean> {
  const engine = new Engine({
    network: 'regtest',
    reconnect: { baseDelayMs: 200, maxRestarts: 50 },
  });
  cleanups.push(() => engine.close());
  const ready = new Promise<boolean>((resolve) => {
    engine.once('handshake', () => resolve(true));
    setTimeout(() => resolve(false), 20_000).unref();
  });
  engine.connect(`127.0.0.1:${port}`, { persistent: true });
  return ready;
}

async function underFlood(start: (port: number, node: RunningNode) => Attack | Promise<Attack>) {
  const node = await startNode();
  const pings = await canary(node.port);
  const attack = await start(node.port, node);
  cleanups.push(() => attack.stop());
  const floodStarted = performance.now();
  await new Promise((r) => setTimeout(r, FLOOD_MS / 2));
  const newcomer = await newcomerConnects(node.port);
  const secondHalf = performance.now();
  await new Promise((r) => setTimeout(r, FLOOD_MS / 2));
  const { answered: pongs, answeredAt, failures } = await pings.stop();
  // Pongs in each half of the flood (the second lasting until the ping in flight
  // is answered): the canary is answered throughout, not just before the flood
  // builds up. How many depends on the machine's load; a timeout is a failure.
  const pongsFirstHalf = answeredAt.filter((t) => t >= floodStarted && t < secondHalf).length;
  const pongsSecondHalf = answeredAt.filter((t) => t >= secondHalf).length;
  // The longest wait between pongs (less the canary's 200 ms pause), reported
  // for whoever reads the log, not asserted: it is the machine's speed.
  const slowestPongMs = Math.round(
    Math.max(0, ...answeredAt.slice(1).map((t, i) => t - (answeredAt[i] as number) - 200)),
  );
  // SIGTERM while the flood is still on.
  const exit = exitOf(node.child);
  const signalled = performance.now();
  node.child.kill('SIGTERM');
  const exitedInTime = await Promise.race([
    exit.then(() => true),
    new Promise<boolean>((r) => setTimeout(() => r(false), 30_000)),
  ]);
  const exitMs = Math.round(performance.now() - signalled);
  attack.stop();
  const report = {
    maxRssMb: Math.round(node.maxRssMb()),
    pongs,
    pongsFirstHalf,
    pongsSecondHalf,
    slowestPongMs,
    pingFailures: failures,
    newcomer,
    exitedInTime,
    exitMs,
    opened: attack.opened(),
    logLines: node.logLines(),
  };
  console.log(JSON.stringify(report));
  return report;
}

function expectHealthy(report: Awaited<ReturnType<typeof underFlood>>) {
  expect(report.maxRssMb).toBeLessThanOrEqual(MEMORY_BOUND_MB);
  expect(report.pingFailures).toEqual([]);
  // Pings keep being answered during the flood, to its end; none waits 15 s.
  expect(report.pongsFirstHalf + report.pongsSecondHalf).toBeGreaterThanOrEqual(2);
  expect(report.pongsSecondHalf).toBeGreaterThanOrEqual(1);
  expect(report.newcomer).toBe(true);
  expect(report.exitedInTime).toBe(true);
  // What a peer's messages write to the log is rationed: a few lines per
  // connection, however much each one sent.
  expect(report.logLines).toBeLessThanOrEqual(LOG_LINES_PER_CONNECTION * report.opened + 100);
}

const REGTEST = networkPreset('regtest');
const genesis = hexToHash(REGTEST.genesisHash);
/** The block hashes of the node's --generate 2000 chain, generated here the same way. */
const NODE_CHAIN = generateBlocks(REGTEST, 2000, { segwitHeight: 432 }).map((b) => b.hash);

// Each part is bounded (start 30 s, flood 6 s, newcomer 20 s, a ping in flight
// 15 s, SIGTERM 30 s): the test's own bound is above their sum.
describe('peerwire node under floods, with defaults', { timeout: 150_000 }, () => {
  it('8 peers sending unconnecting headers as fast as TCP allows', async () => {
    // After the verack: 2,000 headers are past the pre-handshake payload limit.
    const headers = unconnectingHeaders();
    expectHealthy(
      await underFlood((port) =>
        flood({ port, connections: 8, frames: [headers], afterVerack: true }),
      ),
    );
  });

  it('50 busy peers: unknown commands, junk and getheaders', async () => {
    const junk = [
      frame('junkjunk', Buffer.alloc(4000, 1)),
      frame('inv', Buffer.from([0])),
      getheadersFromGenesis(genesis),
      frame('zzz', Buffer.alloc(100, 2)),
    ];
    expectHealthy(await underFlood((port) => flood({ port, connections: 50, frames: junk })));
  });

  it('peers that send getheaders and never read', async () => {
    const requests = [getheadersFromGenesis(genesis)];
    expectHealthy(
      await underFlood((port) => flood({ port, connections: 20, frames: requests, noRead: true })),
    );
  });

  it('peers that ask for every block, 50,000 at a time, and never read', async () => {
    const requests = [getdataBlocks(NODE_CHAIN, 50_000)];
    expectHealthy(
      await underFlood((port, node) => {
        // Blocks it holds, or this would be the notfound test below.
        expect(node.tip).toBe(hashToHex(NODE_CHAIN.at(-1) as Uint8Array));
        return flood({ port, connections: 20, frames: requests, noRead: true, afterVerack: true });
      }),
    );
  });

  it('peers that send getblocks from genesis as fast as TCP allows', async () => {
    const requests = [getblocksFromGenesis(genesis)];
    expectHealthy(await underFlood((port) => flood({ port, connections: 8, frames: requests })));
  });

  it('peers that announce 50,000 transactions a message as fast as TCP allows', async () => {
    const requests = [invTransactions(50_000)];
    expectHealthy(
      await underFlood((port) =>
        flood({ port, connections: 20, frames: requests, afterVerack: true }),
      ),
    );
  });

  it('peers that ask for blocks the node does not have', async () => {
    const unknown = Array.from({ length: 1000 }, () => randomBytes(32));
    const requests = [getdataBlocks(unknown, 50_000)];
    expectHealthy(
      await underFlood((port) =>
        flood({ port, connections: 20, frames: requests, afterVerack: true }),
      ),
    );
  });

  it('2,000 idle sockets', async () => {
    expectHealthy(await underFlood((port) => idleSockets(port, 2000)));
  });

  it('connection churn', async () => {
    expectHealthy(await underFlood((port) => churn(port, 20)));
  });
});
