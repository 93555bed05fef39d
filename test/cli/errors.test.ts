// How the peerwire command fails: one line on stderr, exit 2 for usage and 1
// for failures, never a stack trace; bad paths caught before the long work; a
// wrong network called a wrong network; peer strings escaped in the node's log.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { networkPreset } from '../../ts/config/schema.js';
import { Engine } from '../../ts/engine/engine.js';
import { exitOf, ROOT, runCli, runNode, startCli } from '../helpers/cli.js';
import { waitUntil } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'peerwire-cli-errors-'));
const cleanup: Array<() => unknown> = [];
afterAll(async () => {
  for (const c of cleanup.reverse()) await c();
});

/** One error line: the command, a message, and nothing that looks like a stack. */
function expectOneLine(stderr: string, message: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^peerwire( \w+)?: /);
  expect(lines[0]).toMatch(message);
  expect(stderr).not.toMatch(/^\s+at /m);
}

function runWithEnv(args: string[], env: Record<string, string>, shell?: string) {
  return runNode(args, 60_000, shell === undefined ? { env } : { env, shell });
}

describe('peerwire --version', () => {
  it("prints the package's version", async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    for (const flag of ['--version', '-v']) {
      const r = await runCli([flag]);
      expect(r.code).toBe(0);
      expect(r.stdout.trim()).toBe(version);
    }
  });
});

describe('output paths are checked before the work', () => {
  it('sync --out into a missing directory fails at once, naming the path', async () => {
    // Nothing listens on port 1: without the check the sync would run first.
    const out = join(dir, 'missing', 'h.bin');
    const r = await runCli(['sync', '--connect', '127.0.0.1:1', '--out', out]);
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, new RegExp(`--out ${out}: directory .*missing does not exist`));
    expect(r.stdout).toBe('');
  });

  it('sync --out naming a directory fails at once', async () => {
    const r = await runCli(['sync', '--connect', '127.0.0.1:1', '--out', dir]);
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, /is a directory, not a file/);
  });

  it('bench --json into a missing directory fails before any workload runs', async () => {
    const file = join(dir, 'nope', 'bench.json');
    const r = await runCli(['bench', '--quick', '--json', file]);
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, new RegExp(`--json ${file}: directory`));
    expect(r.stderr).not.toMatch(/bench \w+: peerwire/);
  });

  it('node --generate on a retargeting network is a usage error that says why', async () => {
    const r = await runCli([
      'node',
      '--listen',
      '127.0.0.1:0',
      '--network',
      'mainnet',
      '--generate',
      '10',
    ]);
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, /--generate makes chains of one difficulty.*retargets every 2016/);
  });

  it('node --listen on a taken port says so once', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const r = await runCli(['node', '--listen', `127.0.0.1:${port}`]);
      expect(r.code).toBe(1);
      expectOneLine(r.stderr, /cannot listen on 127\.0\.0\.1:\d+: /);
      expect(r.stderr.match(/cannot listen/g)).toHaveLength(1);
    } finally {
      taken.close();
    }
  });

  it('node --headers naming a directory says so, with the path', async () => {
    const r = await runCli(['node', '--listen', '127.0.0.1:0', '--headers', dir]);
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, new RegExp(`--headers ${dir}: is a directory`));
  });

  it('a short headers file is described in whole headers', async () => {
    const regtest = networkPreset('regtest');
    const file = join(dir, 'short.bin');
    const preamble = Buffer.alloc(48);
    preamble.write('PWHDRS01', 0, 'ascii');
    Buffer.from(regtest.magic, 'hex').copy(preamble, 8);
    Buffer.from(regtest.genesisHash, 'hex').reverse().copy(preamble, 12);
    preamble.writeUInt32LE(50, 44);
    writeFileSync(file, Buffer.concat([preamble, Buffer.alloc(49 * 80 + 32)]));
    const r = await runCli(['node', '--listen', '127.0.0.1:0', '--headers', file]);
    expect(r.code).toBe(1);
    expectOneLine(r.stderr, /declares 50 headers but holds 49 and 32 stray bytes/);
  });

  it.runIf(process.platform === 'linux')(
    'a write that fails late (disk full) is one line, with the stack only under PEERWIRE_DEBUG=1',
    async () => {
      const node = await startCli(
        ['node', '--listen', '127.0.0.1:0', '--generate', '20', '--json'],
        /"address":"127\.0\.0\.1:(\d+)"/,
      );
      cleanup.push(() => node.child.kill('SIGKILL'));
      const args = [
        'dist/cli/main.js',
        'sync',
        '--connect',
        `127.0.0.1:${node.match[1]}`,
        '--network',
        'regtest',
        '--out',
        '/dev/full',
        '--json',
      ];
      const r = await runWithEnv(args, {});
      expect(r.code).toBe(1);
      expectOneLine(r.stderr, /ENOSPC/);
      const debug = await runWithEnv(args, { PEERWIRE_DEBUG: '1' });
      expect(debug.code).toBe(1);
      expect(debug.stderr).toMatch(/ENOSPC[\s\S]*\n\s+at /);
    },
  );
});

describe('node --generate', () => {
  it('on a network without a genesis header says what to add', async () => {
    const file = join(dir, 'fork.json');
    const fork = { name: 'myfork', magic: '01020304', port: 19999, genesisHash: '11'.repeat(32) };
    writeFileSync(file, JSON.stringify(fork));
    const r = await runCli([
      'node',
      '--listen',
      '127.0.0.1:0',
      '--network-config',
      file,
      '--generate',
      '5',
    ]);
    expect(r.code).toBe(2);
    expectOneLine(r.stderr, /network "myfork" has none: add "genesisHeader"/);
  });
});

describe('a wrong network is called a wrong network', () => {
  it('sync (mainnet by default) against a regtest node', async () => {
    const node = await startCli(
      ['node', '--listen', '127.0.0.1:0', '--generate', '10'],
      /listening address=127\.0\.0\.1:(\d+)/,
    );
    cleanup.push(() => node.child.kill('SIGKILL'));
    const r = await runCli([
      'sync',
      '--connect',
      `127.0.0.1:${node.match[1]}`,
      '--timeout-ms',
      '5000',
      '--json',
    ]);
    expect(r.code).toBe(1);
    const peer = JSON.parse(r.stdout).peers[0];
    expect(peer.outcome).toBe('unreachable');
    expect(peer.error).toMatch(/wrong network.*mainnet's f9beb4d9.*check --network/);
    expectOneLine(r.stderr, /no peer could be synced from/);

    node.child.kill('SIGTERM');
    await exitOf(node.child);
    const log = node.lines.join('\n');
    expect(log).toMatch(
      /disconnected .*reason=bad-magic .*why="wrong network: the peer speaks mainnet \(magic f9beb4d9\), this node is regtest/,
    );
  });
});

describe("the node's text log escapes what peers send", () => {
  it('a user agent with a newline and escape codes cannot forge a log line', async () => {
    const node = await startCli(
      ['node', '--listen', '127.0.0.1:0'],
      /listening address=127\.0\.0\.1:(\d+)/,
    );
    cleanup.push(() => node.child.kill('SIGKILL'));
    const forged = '\n2026-01-01T00:00:00.000Z banned host=10.9.8.7 reason=forged';
    const peer = new Engine({
      network: { ...networkPreset('regtest'), userAgent: `/evil:1.0/${forged}\x1b[1A\x1b[2K` },
    });
    peer.connect(`127.0.0.1:${node.match[1]}`);
    await waitUntil('the node to log the handshake', () =>
      node.lines.some((l) => / handshake /.test(l)),
    );
    await peer.close();
    node.child.kill('SIGTERM');
    expect(await exitOf(node.child)).toBe(0);
    const out = node.lines.join('\n');
    expect(node.lines.filter((l) => / banned /.test(l) && !/ handshake /.test(l))).toEqual([]);
    expect(out).not.toContain('\x1b');
    expect(out).toContain('userAgent="/evil:1.0/\\n2026-01-01T00:00:00.000Z banned');
    expect(out).toContain('\\x1b[1A\\x1b[2K"');
  });
});

describe('peerwire demo at its limits', () => {
  it('runs the most nodes it accepts (more than the default 117 inbound slots)', async () => {
    const r = await runCli(['demo', '--nodes', '500', '--headers', '100', '--json'], 120_000);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.nodes).toHaveLength(500);
    expect(out.nodes.every((n: { valid: boolean }) => n.valid)).toBe(true);
    const over = await runCli(['demo', '--nodes', '501']);
    expect(over.code).toBe(2);
    expectOneLine(over.stderr, /--nodes must be an integer from 1 to 500/);
  }, 150_000);

  it.runIf(process.platform !== 'win32')(
    'a demo that runs out of file descriptors says so on stderr, with --json too, and exits',
    async () => {
      // 150 descriptors cannot hold 100 nodes' 200 sockets: it must fail somewhere.
      const r = await runWithEnv(
        ['dist/cli/main.js', 'demo', '--nodes', '100', '--headers', '100', '--json'],
        {},
        'ulimit -n 150',
      );
      expect(r.code).toBe(1);
      expectOneLine(r.stderr, /[Tt]oo many open files|EMFILE/);
    },
    60_000,
  );
});
