// The peerwire command end to end, run as a user runs it.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { headerHash } from '../../ts/chain/block.js';
import { generateHeaders } from '../../ts/chain/generate.js';
import { chainFor } from '../../ts/chain/headerchain.js';
import { checkProofOfWork } from '../../ts/chain/pow.js';
import { serveHeaders } from '../../ts/cli/headers-service.js';
import { networkPreset } from '../../ts/config/schema.js';
import { Engine } from '../../ts/engine/engine.js';
import type { BlockHeader } from '../../ts/wire/types.js';
import { startBcoin } from '../helpers/bcoin.js';
import { exitOf, runCli, startCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'peerwire-cli-'));
const REGTEST = networkPreset('regtest');
const cleanup: Array<() => Promise<unknown> | unknown> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

describe('peerwire demo', () => {
  it('finishes with every node synced and validated', async () => {
    const r = await runCli(['demo', '--headers', '3000', '--nodes', '3', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.headers).toBe(3000);
    expect(out.nodes).toHaveLength(3);
    for (const n of out.nodes) {
      expect(n).toMatchObject({ headers: 3000, valid: true });
      expect(n.bytesIn).toBeGreaterThan(3000 * 81);
      expect(n.headersPerSecond).toBeGreaterThan(0);
    }
  });

  it('prints a summary table for people', async () => {
    const r = await runCli(['demo', '--headers', '500', '--nodes', '2']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /node\s+headers\s+time \(s\)\s+headers\/s\s+RTT \(ms\)\s+bytes in\s+bytes out/,
    );
    expect(r.stdout).toContain('all 2 nodes synced and validated 500 headers');
    expect(r.stderr).toContain('generating 500 regtest headers');
  });
});

describe('peerwire node and sync', () => {
  it('sync pulls every header from peerwire node, writes them, and node serves the file', async () => {
    const node = await startCli(
      ['node', '--listen', '127.0.0.1:0', '--generate', '2500', '--json'],
      /"event":"listening".*"address":"127\.0\.0\.1:(\d+)"/,
    );
    cleanup.push(() => node.child.kill('SIGKILL'));
    const out = join(dir, 'headers.bin');
    const r = await runCli([
      'sync',
      '--connect',
      `127.0.0.1:${node.match[1]}`,
      '--network',
      'regtest',
      '--out',
      out,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({ network: 'regtest', height: 2500, out });
    expect(result.peers[0]).toMatchObject({ outcome: 'synced', userAgent: '/peerwire:0.1.0/' });
    expect(readFileSync(out).length).toBe(48 + 2500 * 80);

    // The node logged the peer as JSON lines.
    node.child.kill('SIGTERM');
    expect(await exitOf(node.child)).toBe(0);
    const events = node.lines.map((l) => JSON.parse(l).event);
    expect(events).toEqual(
      expect.arrayContaining(['listening', 'connected', 'handshake', 'getheaders']),
    );

    const served = await startCli(
      ['node', '--listen', '127.0.0.1:0', '--headers', out, '--json'],
      /"event":"listening".*"address":"127\.0\.0\.1:(\d+)".*"height":2500/,
    );
    cleanup.push(() => served.child.kill('SIGKILL'));
    const again = await runCli([
      'sync',
      '--connect',
      `127.0.0.1:${served.match[1]}`,
      '--network',
      'regtest',
      '--json',
    ]);
    expect(JSON.parse(again.stdout).height).toBe(2500);
    served.child.kill('SIGINT');
    expect(await exitOf(served.child)).toBe(0);
  });

  it('node shuts down cleanly on SIGTERM with peers connected', async () => {
    const node = await startCli(
      ['node', '--listen', '127.0.0.1:0'],
      /listening address=127\.0\.0\.1:(\d+)/,
    );
    const peer = new Engine({ network: 'regtest' });
    const ready = new Promise((r) => peer.once('handshake', r));
    peer.connect(`127.0.0.1:${node.match[1]}`);
    await ready;
    const gone = new Promise<string>((r) => peer.once('disconnected', (_p, i) => r(i.reason)));
    node.child.kill('SIGTERM');
    expect(await exitOf(node.child)).toBe(0);
    expect(await gone).toBe('peer-closed');
    expect(node.lines.join('\n')).toMatch(/shutdown signal=SIGTERM[\s\S]*stopped/);
    await peer.close();
  });

  it('sync against bcoin', async () => {
    const bcoin = await startBcoin();
    cleanup.push(() => bcoin.close());
    await bcoin.mine(250);
    const r = await runCli(['sync', '--connect', bcoin.address, '--network', 'regtest', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.height).toBe(250);
    expect(result.peers[0].userAgent).toMatch(/bcoin/);
    expect(result.tip).toBe(
      Buffer.from(bcoin.node.chain.tip.hash, 'hex').reverse().toString('hex'),
    );
  });

  it('a peer that sends an invalid header is penalised and the sync goes on with the others', async () => {
    const honest = generateHeaders(REGTEST, 2_500);
    // The liar serves the same chain but with proof of work broken at height 1500.
    const liarHeaders: BlockHeader[] = honest.map((h) => ({ ...h }));
    const bad = liarHeaders[1499] as BlockHeader;
    const limit = BigInt(`0x${REGTEST.pow.limit}`);
    while (checkProofOfWork(headerHash(bad), bad.bits, limit) === 'ok') bad.nonce++;

    const honestChain = chainFor(REGTEST);
    honestChain.append(honest);
    const honestNode = new Engine({ network: 'regtest', startHeight: () => 2_500 });
    serveHeaders(honestNode, honestChain);
    const liar = new Engine({ network: 'regtest', startHeight: () => 2_500 });
    liar.on('getheaders', (peer, req) => {
      const from =
        req.locator.map((h) => honestChain.heightOf(h)).find((h) => h !== undefined) ?? 0;
      peer.send({
        command: 'headers',
        payload: { headers: liarHeaders.slice(from, from + 2_000) },
      });
    });
    const liarSawDisconnect = new Promise<string>((r) =>
      liar.once('disconnected', (_p, i) => r(i.reason)),
    );
    cleanup.push(
      () => honestNode.close(),
      () => liar.close(),
    );
    const liarPort = liar.listen('127.0.0.1', 0).port;
    const honestPort = honestNode.listen('127.0.0.1', 0).port;

    const r = await runCli([
      'sync',
      '--connect',
      `127.0.0.1:${liarPort}`,
      '--connect',
      `127.0.0.1:${honestPort}`,
      '--network',
      'regtest',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.height).toBe(2_500);
    expect(result.peers[0]).toMatchObject({
      address: `127.0.0.1:${liarPort}`,
      outcome: 'penalised',
    });
    expect(result.peers[0].error).toMatch(/height 1500: high-hash/);
    expect(result.peers[1]).toMatchObject({ outcome: 'synced' });
    expect(await liarSawDisconnect).toBe('peer-closed');
  });
});

describe('bad flags', () => {
  it.each([
    [['frobnicate'], /unknown command "frobnicate"/],
    [['sync'], /--connect is required/],
    [['sync', '--connect', 'nohost'], /--connect must be HOST:PORT/],
    [['sync', '--connect', '127.0.0.1:1', '--network', 'moonnet'], /--network must be one of/],
    [['sync', '--connect', '127.0.0.1:1', '--network-config', '/nonexistent.json'], /cannot read/],
    [['sync', '--connect', '127.0.0.1:1', '--connect', '127.0.0.1:1'], /given twice/],
    [['node'], /--listen is required/],
    [['node', '--listen', '127.0.0.1:0', '--headers', 'a', '--generate', '5'], /not both/],
    [['demo', '--nodes', 'zero'], /--nodes must be an integer/],
    // Past 2^31 - 1 a Node.js timer fires at once: refused, not a zero timeout.
    [
      ['sync', '--connect', '127.0.0.1:1', '--timeout-ms', '2147483648'],
      /--timeout-ms must be an integer from 1 to 2147483647, got "2147483648"/,
    ],
    [
      ['crawl', '--seed', '127.0.0.1:1', '--timeout-ms', '3000000000'],
      /--timeout-ms must be an integer from 1 to 2147483647/,
    ],
    [['demo', '--wat'], /Unknown option '--wat'/],
    [['bench', '--only', 'everything'], /--only must be one of/],
  ])('peerwire %j fails with a clear message', async (args, message) => {
    const r = await runCli(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('every subcommand has --help', async () => {
    for (const cmd of ['demo', 'sync', 'node', 'bench']) {
      const r = await runCli([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: peerwire ${cmd}`);
    }
    const top = await runCli(['--help']);
    expect(top.stdout).toMatch(/Commands:[\s\S]*demo[\s\S]*sync[\s\S]*node[\s\S]*bench/);
  });

  it('a sync with nobody to sync from fails with exit code 1', async () => {
    const r = await runCli([
      'sync',
      '--connect',
      '127.0.0.1:1',
      '--network',
      'regtest',
      '--timeout-ms',
      '2000',
      '--json',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no peer could be synced from/);
    expect(JSON.parse(r.stdout).peers[0].outcome).toBe('unreachable');
  });
});
