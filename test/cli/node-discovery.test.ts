// `peerwire node` finding and keeping peers on loopback: a ring of nodes that
// each know one other, a restart from a data directory (addresses and bans), a
// corrupt peers file, and bcoin as an address source.
//
// Nodes listen on distinct 127.x.y.z addresses rather than ports of 127.0.0.1:
// bans and the outbound manager's one-connection-per-host rule are keyed by
// host, as in Core, so nodes sharing one IP would count as one host. Everything
// stays on the loopback interface. Waits are liveness bounds, not timings.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataDir } from '../../ts/addr/datadir.js';
import { systemClock } from '../../ts/engine/clock.js';
import { type BcoinNodeHandle, startBcoin } from '../helpers/bcoin.js';
import { exitOf, ROOT, runCli } from '../helpers/cli.js';
import { waitUntil } from '../helpers/wait.js';

const CLI = 'dist/cli/main.js';
const PORT = 18444;
// A random /24 of the loopback range per run, so parallel runs do not meet.
const NET = `127.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
const ip = (n: number) => `${NET}.${n}`;
const addr = (n: number) => `${ip(n)}:${PORT}`;
/** What every node here runs with: local addresses kept, an address worth relaying. */
const COMMON = ['--allow-local-addresses', '--services', '1033', '--generate', '5', '--json'];

type LogEvent = Record<string, unknown> & { event: string };

class NodeProcess {
  readonly events: LogEvent[] = [];
  stderr = '';
  private constructor(
    readonly child: ChildProcess,
    readonly name: string,
  ) {}

  static start(n: number, extra: string[]): Promise<NodeProcess> {
    const child = spawn(
      process.execPath,
      [CLI, 'node', '--listen', addr(n), '--external', addr(n), ...COMMON, ...extra],
      { cwd: ROOT },
    );
    const node = new NodeProcess(child, addr(n));
    running.add(node);
    let buffer = '';
    child.stdout?.on('data', (d) => {
      buffer += d;
      const parts = buffer.split('\n');
      buffer = parts.pop() ?? '';
      for (const line of parts) node.events.push(JSON.parse(line) as LogEvent);
    });
    child.stderr?.on('data', (d) => {
      node.stderr += d;
    });
    return node.waitFor((e) => e.event === 'listening', 'listening').then(() => node);
  }

  find(pred: (e: LogEvent) => boolean): LogEvent | undefined {
    return this.events.find(pred);
  }

  async waitFor(pred: (e: LogEvent) => boolean, what: string, timeoutMs = 30_000) {
    await waitUntil(
      `${this.name}: ${what}`,
      () => {
        if (this.child.exitCode !== null) {
          throw new Error(`${this.name} exited (${this.child.exitCode}): ${this.stderr}`);
        }
        return this.find(pred) !== undefined;
      },
      timeoutMs,
    );
    return this.find(pred) as LogEvent;
  }

  /** Addresses of completed outbound connections of these kinds (from the log). */
  outbound(kinds: string[]): string[] {
    const byPeer = new Map<unknown, string>();
    for (const e of this.events) {
      if (e.event === 'connected' && e.inbound === false) byPeer.set(e.peer, e.address as string);
    }
    return this.events
      .filter((e) => e.event === 'handshake' && kinds.includes(e.kind as string))
      .map((e) => byPeer.get(e.peer) as string);
  }

  async stop(): Promise<number | null> {
    this.child.kill('SIGTERM');
    const code = await exitOf(this.child);
    running.delete(this);
    return code;
  }
}

const running = new Set<NodeProcess>();
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'peerwire-discovery-'));
  dirs.push(d);
  return d;
};

afterAll(async () => {
  for (const n of running) {
    n.child.kill('SIGKILL');
    await exitOf(n.child);
  }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const AUTOMATIC = ['full-relay', 'block-relay'];

describe('peerwire node: discovery and persistence on loopback', () => {
  // Nodes 11-14 form a ring: each is told of the previous one only (--addnode
  // or --seednode), and learns the next from its self-announcement.
  const ring: NodeProcess[] = [];
  beforeAll(async () => {
    const told = [14, 11, 12, 13];
    for (const [i, n] of [11, 12, 13, 14].entries()) {
      const flag = i % 2 === 0 ? '--addnode' : '--seednode';
      ring.push(await NodeProcess.start(n, [flag, addr(told[i] as number)]));
    }
  }, 60_000);

  it('nodes that know one other connect out to peers they learnt from addr', async () => {
    for (const [i, node] of ring.entries()) {
      const given = addr([14, 11, 12, 13][i] as number);
      await node.waitFor(
        (e) => e.event === 'addr' && (e.known as number) >= 1,
        'an address learnt from a peer',
      );
      await waitUntil(
        `${node.name}: an automatic outbound connection to a learnt peer`,
        () => node.outbound(AUTOMATIC).some((a) => a !== given && a !== node.name),
        30_000,
      );
    }
    // A --seednode peer is let go after its answer or its deadline, never kept as outbound.
    expect(ring[1]?.outbound(['manual'])).toEqual([]);
    expect(ring[1]?.find((e) => e.event === 'dial' && e.kind === 'seednode')?.address).toBe(
      addr(11),
    );
  }, 90_000);

  it('restarts from its data directory: reconnects to saved peers, keeps its bans', async () => {
    const dir = tempDir();
    const banned = ip(99);
    const store = await DataDir.open(dir);
    await store.saveBans([
      { host: banned, reason: 'misbehaving', untilMs: Date.now() + 86_400_000 },
    ]);

    // First run: told of two ring nodes, it learns their addresses when they dial back.
    const first = await NodeProcess.start(20, [
      '--datadir',
      dir,
      '--addnode',
      addr(11),
      '--addnode',
      addr(13),
    ]);
    expect(first.find((e) => e.event === 'datadir')?.bans).toBe(1);
    await first.waitFor(
      (e) => e.event === 'addr' && (e.known as number) >= 2,
      'two learnt addresses',
    );
    expect(await first.stop()).toBe(0);
    const saved = first.find((e) => e.event === 'saved') as LogEvent;
    expect(saved.addresses).toBeGreaterThanOrEqual(2);
    expect(saved.bans).toBe(1);

    // Second run: no peers given; the saved address manager is all it has.
    const second = await NodeProcess.start(20, ['--datadir', dir]);
    const loaded = second.find((e) => e.event === 'datadir') as LogEvent;
    expect(loaded.addresses).toBeGreaterThanOrEqual(2);
    expect(loaded.bans).toBe(1);
    await waitUntil(
      'outbound connections from the saved addresses',
      () => {
        const out = second.outbound(AUTOMATIC);
        return out.includes(addr(11)) && out.includes(addr(13));
      },
      30_000,
    );
    expect(second.find((e) => e.event === 'dial' && e.kind === 'manual')).toBeUndefined();

    // The ban survived: a connection from the banned host is closed at
    // accept, before the node's handlers (and its log) hear of it.
    const socket = connect({ host: ip(20), port: PORT, localAddress: banned });
    socket.on('error', () => {});
    // Well within the handshake timeout, which would close it too.
    const outcome = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve('still open'), 10_000);
      socket.on('close', () => {
        clearTimeout(timer);
        resolve('closed');
      });
    });
    expect(outcome).toBe('closed');
    expect(
      second.find((e) => e.event === 'connected' && String(e.address).startsWith(`${banned}:`)),
    ).toBeUndefined();
    expect(await second.stop()).toBe(0);
    const bans = (await (await DataDir.open(dir)).loadBans()).value;
    expect(bans.map((b) => b.host)).toEqual([banned]);
  }, 120_000);

  it('reports a corrupt peers file on one line, moves it aside and starts anyway', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'peers.dat'), 'not an address manager');
    const node = await NodeProcess.start(21, ['--datadir', dir, '--addnode', addr(12)]);
    const problems = node.events.filter((e) => e.event === 'datadir-problem');
    expect(problems).toHaveLength(1);
    expect(problems[0]?.file).toBe(join(dir, 'peers.dat'));
    expect(problems[0]?.movedTo).toBe(join(dir, 'peers.dat.bad'));
    await node.waitFor((e) => e.event === 'handshake' && e.kind === 'manual', 'its added peer');
    expect(await node.stop()).toBe(0);
    expect(readFileSync(join(dir, 'peers.dat.bad'), 'utf8')).toBe('not an address manager');
    const reloaded = await (await DataDir.open(dir)).loadAddressManager(systemClock, {
      allowLocal: true,
    });
    expect(reloaded.problem).toBeUndefined();
  }, 60_000);

  it('one node per data directory; a lock left by a dead process is taken over', async () => {
    const dir = tempDir();
    const first = await NodeProcess.start(22, ['--datadir', dir]);
    const second = await runCli(['node', '--listen', '127.0.0.1:0', '--datadir', dir]);
    // Not a usage error: the directory is busy (the same lock as sync --blocks).
    expect(second.code).toBe(1);
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
    expect(second.stderr).toContain(`in use by process ${first.child.pid}`);
    expect(await first.stop(), `${first.child.signalCode} ${first.stderr}`).toBe(0);
    expect(existsSync(join(dir, '.lock'))).toBe(false);
    // A pid no process has (Linux pids stay below 2^22).
    writeFileSync(join(dir, '.lock'), '4194999\n');
    const third = await NodeProcess.start(23, ['--datadir', dir]);
    expect(readFileSync(join(dir, '.lock'), 'utf8').trim()).toBe(String(third.child.pid));
    expect(await third.stop(), `${third.child.signalCode} ${third.stderr}`).toBe(0);
  }, 60_000);

  it('refuses a data directory it cannot create, and local addresses off regtest', async () => {
    const dir = tempDir();
    const file = join(dir, 'a-file');
    writeFileSync(file, '');
    const bad = await runCli(['node', '--listen', '127.0.0.1:0', '--datadir', join(file, 'sub')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toContain('--datadir');
    expect(existsSync(join(file, 'sub'))).toBe(false);
    const off = await runCli([
      'node',
      '--listen',
      '127.0.0.1:0',
      '--network',
      'mainnet',
      '--allow-local-addresses',
    ]);
    expect(off.code).toBe(2);
    expect(off.stderr).toContain('--allow-local-addresses');
  });

  describe('with bcoin', () => {
    let bcoin: BcoinNodeHandle;
    beforeAll(async () => {
      bcoin = await startBcoin();
      // bcoin answers getaddr from its host list: give it the ring's addresses
      // (its own addr handler would refuse loopback ones).
      const require = createRequire(import.meta.url);
      const { NetAddress } = require('bcoin').net;
      const hosts = (bcoin.node.pool as unknown as { hosts: { add(a: unknown): void } }).hosts;
      for (const n of [11, 12, 13, 14]) hosts.add(NetAddress.fromHost(ip(n), PORT, 'regtest'));
    }, 60_000);
    afterAll(async () => {
      await bcoin?.close();
    });

    it('--addnode bcoin: getaddr and addr both ways, kept connected, learnt peers dialled', async () => {
      const node = await NodeProcess.start(30, ['--addnode', bcoin.address]);
      const hs = await node.waitFor(
        (e) => e.event === 'handshake' && e.kind === 'manual',
        'handshake with bcoin',
      );
      expect(hs.userAgent).toMatch(/bcoin/);
      // bcoin asks us, and answers our getaddr with its host list.
      await node.waitFor((e) => e.event === 'getaddr' && e.peer === hs.peer, 'getaddr from bcoin');
      const answer = await node.waitFor(
        (e) => e.event === 'addr' && e.peer === hs.peer && (e.addresses as number) >= 4,
        'bcoin answering our getaddr',
      );
      expect(answer.known).toBeGreaterThanOrEqual(4);
      // What bcoin told us is used: automatic connections to the ring.
      await waitUntil(
        'outbound connections to addresses learnt from bcoin',
        () => node.outbound(AUTOMATIC).filter((a) => a.startsWith(`${NET}.1`)).length >= 2,
        30_000,
      );
      // Our self-announcement reached bcoin (its addr filter notes every address
      // heard, before dropping loopback ones).
      const heard = () => {
        type BcoinPeer = { addrFilter: { test(v: string, enc: string): boolean }; next: BcoinPeer };
        for (let p = bcoin.node.pool.peers.head() as BcoinPeer | null; p; p = p.next) {
          if (p.addrFilter.test(addr(30), 'ascii')) return true;
        }
        return false;
      };
      await waitUntil('bcoin hearing our address', heard);
      // Still connected: no disconnect of bcoin on either side.
      await new Promise((r) => setTimeout(r, 2_000));
      expect(node.find((e) => e.event === 'disconnected' && e.peer === hs.peer)).toBeUndefined();
      expect(bcoin.node.pool.peers.size()).toBeGreaterThanOrEqual(1);
      expect(await node.stop()).toBe(0);
    }, 90_000);

    it('--seednode bcoin: asks for addresses, lets bcoin go, dials what it learnt', async () => {
      const node = await NodeProcess.start(31, ['--seednode', bcoin.address]);
      const done = await node.waitFor((e) => e.event === 'seednode', 'the seed node answering');
      expect(done).toMatchObject({ address: bcoin.address, reason: 'seednode-done' });
      expect(done.addresses).toBeGreaterThanOrEqual(4);
      await waitUntil(
        'outbound connections to addresses learnt from the seed node',
        () => node.outbound(AUTOMATIC).filter((a) => a.startsWith(`${NET}.1`)).length >= 2,
        30_000,
      );
      expect(await node.stop()).toBe(0);
    }, 90_000);
  });
});
