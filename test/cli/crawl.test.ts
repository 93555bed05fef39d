// `peerwire crawl` on loopback, run as a user runs it: a few in-process
// Engines on 127.0.0.1 answer getaddr with each other's addresses (and one
// port where nothing listens); the crawl must find them all from one seed.
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatAddress } from '../../ts/addr/address.js';
import { networkPreset } from '../../ts/config/schema.js';
import { Engine } from '../../ts/engine/engine.js';
import { runAddrBookNode } from '../../ts/sim/apps/addr-book-node.js';
import { runCli } from '../helpers/cli.js';
import { Socks5Proxy } from '../helpers/socks5-proxy.js';

const dir = mkdtempSync(join(tmpdir(), 'peerwire-crawl-'));
const engines: Engine[] = [];
const addresses: string[] = [];
let closed = '';
/** A mainnet node: it hangs up on our regtest magic. */
let mainnet = '';

/** A loopback port where nothing listens (bound, then released). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  const books: string[][] = [];
  for (let i = 0; i < 4; i++) {
    const engine = new Engine({ network: 'regtest' });
    const book: string[] = [];
    books.push(book);
    // Node 3 answers with legacy addr, the others with addrv2.
    runAddrBookNode(engine, book, { legacy: i === 3 });
    const bound = engine.listen('127.0.0.1', 0);
    addresses.push(`127.0.0.1:${bound.port}`);
    engines.push(engine);
  }
  closed = `127.0.0.1:${await freePort()}`;
  const other = new Engine({ network: 'mainnet' });
  engines.push(other);
  mainnet = `127.0.0.1:${other.listen('127.0.0.1', 0).port}`;
  // A chain 0 → 1 → 2 → 3 (each also naming one more); 3 knows the dead port
  // and the mainnet node.
  books[0]?.push(addresses[1] as string, addresses[2] as string);
  books[1]?.push(addresses[2] as string, addresses[0] as string);
  books[2]?.push(addresses[3] as string, addresses[1] as string);
  books[3]?.push(closed, addresses[0] as string, mainnet);
});

const proxies: Socks5Proxy[] = [];

afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
  await Promise.all(proxies.map((p) => p.close()));
});

const crawl = (...args: string[]) =>
  runCli(['crawl', '--network', 'regtest', '--timeout-ms', '3000', ...args]);

describe('peerwire crawl', () => {
  it('finds every node from one seed and writes a JSON line for each address', async () => {
    const out = join(dir, 'nodes.jsonl');
    const r = await crawl('--seed', addresses[0] as string, '--out', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({
      network: 'regtest',
      dialled: 6,
      reachable: 4,
      unreachable: 2,
      answeredGetaddr: 4,
      failures: { 'refused (connect)': 1, 'closed (handshake)': 1 },
      userAgents: { '/peerwire:0.1.0/': 4 },
      versions: { '70016': 4 },
      out,
    });
    const records = readFileSync(out, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records.map((x) => x.address).sort()).toEqual([...addresses, closed, mainnet].sort());
    for (const a of addresses) {
      const rec = records.find((x) => x.address === a);
      expect(rec, a).toMatchObject({
        network: 'ipv4',
        dialled: true,
        reachable: true,
        protocolVersion: 70016,
        userAgent: '/peerwire:0.1.0/',
        services: '0',
        startHeight: 0,
        answeredGetaddr: true,
        addresses: a === addresses[3] ? 3 : 2,
      });
      expect(rec.connectMs).toBeGreaterThanOrEqual(0);
      expect(rec.handshakeMs).toBeGreaterThanOrEqual(0);
      expect(rec.failure).toBeUndefined();
    }
    expect(records.find((x) => x.address === closed)).toMatchObject({
      reachable: false,
      source: addresses[3],
      failure: { reason: 'refused', stage: 'connect' },
    });
    expect(records.find((x) => x.address === mainnet)?.failure).toEqual({
      reason: 'closed',
      stage: 'handshake',
      detail: 'the peer hung up before its version (another network, full, or banning us)',
    });
  });

  it('writes CSV and prints a summary table for people', async () => {
    const out = join(dir, 'nodes.csv');
    const r = await crawl('--seed', addresses[2] as string, '--out', out, '--format', 'csv');
    expect(r.code, r.stderr).toBe(0);
    const [header, ...rows] = readFileSync(out, 'utf8').trimEnd().split('\n');
    expect(header).toBe(
      'address,network,source,dialled,reachable,attempts,failure,stage,detail,protocol_version,user_agent,' +
        'services,start_height,relay,connect_ms,handshake_ms,ping_ms,answered_getaddr,addresses,new_addresses',
    );
    expect(rows).toHaveLength(6);
    const seed = rows.find((row) => row.startsWith(`${addresses[2]},`));
    expect(seed).toMatch(
      /^127\.0\.0\.1:\d+,ipv4,seed,true,true,1,,,,70016,\/peerwire:0\.1\.0\/,0,0,/,
    );
    expect(rows.find((row) => row.startsWith(`${closed},`))).toMatch(
      /^127\.0\.0\.1:\d+,ipv4,127\.0\.0\.1:\d+,true,false,1,refused,connect,/,
    );
    expect(r.stdout).toMatch(/outcome\s+nodes\n-+\s+-+\nreachable\s+4\nunreachable\s+2/);
    expect(r.stdout).toMatch(/refused \(connect\)\s+1/);
    expect(r.stdout).toMatch(/\/peerwire:0\.1\.0\/\s+4/);
    expect(r.stdout).toMatch(/70016\s+4/);
    expect(r.stdout).toMatch(/closed \(handshake\)\s+1/);
    expect(r.stdout).toContain('regtest: 6 dialled, 4 reachable');
  });

  it('fails with exit 1 when no node is reachable', async () => {
    const r = await crawl('--seed', closed, '--json');
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe('peerwire crawl: no node was reachable');
    expect(JSON.parse(r.stdout)).toMatchObject({
      dialled: 1,
      failures: { 'refused (connect)': 1 },
    });
  });

  it('a user agent with a newline and escape codes cannot forge a line of any output', async () => {
    const evil = new Engine({
      network: { ...networkPreset('regtest'), userAgent: '/evil:1.0/\nreachable 99,"=1+1"\x1b[2J' },
    });
    engines.push(evil);
    const seed = `127.0.0.1:${evil.listen('127.0.0.1', 0).port}`;
    const csv = join(dir, 'evil.csv');
    const r = await crawl('--seed', seed, '--out', csv, '--format', 'csv');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toContain('\x1b');
    expect(r.stdout).not.toMatch(/^reachable 99/m);
    expect(r.stdout).toContain('/evil:1.0/\\nreachable 99,"=1+1"\\x1b[2J');
    // One quoted CSV field: its newline stays inside the quotes, its quotes doubled.
    const text = readFileSync(csv, 'utf8');
    expect(text).toContain(',"/evil:1.0/\nreachable 99,""=1+1""\x1b[2J",');
    const jsonl = join(dir, 'evil.jsonl');
    await crawl('--seed', seed, '--out', jsonl);
    const record = JSON.parse(readFileSync(jsonl, 'utf8').trim());
    expect(record.userAgent).toBe('/evil:1.0/\nreachable 99,"=1+1"\x1b[2J');
  });

  it.each([
    [['--bogus'], /Unknown option '--bogus'.*see "peerwire crawl --help"/],
    [['--seed', 'nope'], /--seed must be HOST:PORT/],
    [
      ['--seed', '127.0.0.1:1', '--concurrency', '0'],
      /--concurrency must be an integer from 1 to 1000, got "0"/,
    ],
    [['--seed', '127.0.0.1:1', '--format', 'xml', '--out', 'x'], /--format must be jsonl or csv/],
    [['--seed', '127.0.0.1:1', '--format', 'csv'], /--format is for --out/],
    [['--seed', '127.0.0.1:1', '--out', '/nonexistent-dir/x.jsonl'], /--out .*does not exist/],
    [[], /network regtest has no DNS seeds: give --seed/],
  ])('%j is a usage error: exit 2, one line', async (args, message) => {
    const r = await crawl(...args);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });

  it('has help', async () => {
    const r = await runCli(['crawl', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: peerwire crawl');
    for (const flag of ['--seed', '--concurrency', '--timeout-ms', '--max-nodes', '--format']) {
      expect(r.stdout).toContain(flag);
    }
  });
});

describe('peerwire crawl with a SOCKS5 proxy', () => {
  /** Two regtest nodes that only a proxy can reach, by their onion names. */
  async function hiddenNodes() {
    const onionOf = (seed: number) =>
      formatAddress({
        network: 'onion',
        bytes: new Uint8Array(32).map((_, i) => (seed * 13 + i) & 0xff),
        port: 18444,
      });
    const [a, b, gone] = [onionOf(1), onionOf(2), onionOf(3)];
    const ports = new Map<string, number>();
    for (const [name, book] of [
      [a, [b, gone]],
      [b, [a, gone]],
    ] as const) {
      const engine = new Engine({ network: 'regtest' });
      runAddrBookNode(engine, book);
      engines.push(engine);
      ports.set(name.slice(0, name.lastIndexOf(':')), engine.listen('127.0.0.1', 0).port);
    }
    const proxy = new Socks5Proxy({ kind: 'forward', route: (host) => ports.get(host) });
    await proxy.listen();
    proxies.push(proxy);
    return { a, b, gone, proxy };
  }

  it('dials .onion nodes through --onion, by name, each with its own credentials', async () => {
    const { a, b, gone, proxy } = await hiddenNodes();
    const out = join(dir, 'onions.jsonl');
    const r = await crawl('--seed', a, '--onion', proxy.address, '--out', out, '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      dialled: 3,
      reachable: 2,
      unreachable: 1,
      notDialled: 0,
      failures: { 'unreachable (connect)': 1 },
    });
    const records = readFileSync(out, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    for (const address of [a, b]) {
      expect(records.find((x) => x.address === address)).toMatchObject({
        network: 'onion',
        reachable: true,
        userAgent: '/peerwire:0.1.0/',
      });
    }
    expect(records.find((x) => x.address === gone)?.failure).toMatchObject({
      reason: 'unreachable',
      stage: 'connect',
      detail: `SOCKS5 proxy ${proxy.address} could not connect to ${gone}: host unreachable (SOCKS5 reply 0x04)`,
    });
    // Every dial went to the proxy as a name; every one had its own credentials.
    expect(proxy.asked.map((x) => x.atyp)).toEqual([3, 3, 3]);
    expect(new Set(proxy.asked.map((x) => `${x.host}:${x.port}`))).toEqual(new Set([a, b, gone]));
    expect(new Set(proxy.asked.map((x) => x.username)).size).toBe(3);
  });

  it('a Tor seed needs --onion or --proxy; a bad proxy address is a usage error', async () => {
    const { a } = await hiddenNodes();
    let r = await crawl('--seed', a);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /--seed \S+\.onion:18444 is a Tor address, dialled only through a SOCKS5 proxy: give --onion HOST:PORT or --proxy HOST:PORT/,
    );
    r = await crawl('--seed', a, '--proxy', '127.0.0.1');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--proxy must be HOST:PORT .* got "127\.0\.0\.1"/);
  });
});
