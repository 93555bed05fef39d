// The scripts in examples/ run and do what they say.
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { exitOf, ROOT, runNode, startCli } from '../helpers/cli.js';

function runExample(file: string, args: string[] = []) {
  return runNode(['--import', 'tsx', file, ...args], 60_000);
}

const nodes: Array<Awaited<ReturnType<typeof startCli>>> = [];
afterAll(async () => {
  for (const n of nodes) {
    n.child.kill('SIGTERM');
    await exitOf(n.child);
  }
});

async function node() {
  const n = await startCli(
    ['node', '--listen', '127.0.0.1:0', '--generate', '300'],
    /listening address=(127\.0\.0\.1:\d+)/,
  );
  nodes.push(n);
  return n.match[1] as string;
}

describe('examples', () => {
  it("import only from 'peerwire' and node: builtins, so they can be copied as they are", () => {
    const files = readdirSync(join(ROOT, 'examples')).filter((f) => f.endsWith('.ts'));
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      const source = readFileSync(join(ROOT, 'examples', file), 'utf8');
      const specifiers = [...source.matchAll(/from '([^']+)'/g)].map((m) => m[1]);
      expect(specifiers, file).toContain('peerwire');
      for (const s of specifiers) expect(s, file).toMatch(/^(peerwire|node:.+)$/);
    }
  });

  it('two-engines trades pings and a burst, then closes', async () => {
    const r = await runExample('examples/two-engines.ts');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/burst: 200,000 messages/);
    expect(r.stdout).toContain('both engines closed');
  });

  it('headers-sync syncs a generated chain on its own', async () => {
    const r = await runExample('examples/headers-sync.ts');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/synced: 10000 headers/);
  });

  it('headers-sync syncs from a peerwire node', async () => {
    const r = await runExample('examples/headers-sync.ts', [await node()]);
    expect(r.stdout).toMatch(/synced: 300 headers/);
  });

  it('block-download downloads a generated chain from two local servers', async () => {
    const r = await runExample('examples/block-download.ts');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/downloaded: 300 blocks, \d+ bytes, complete true/);
    expect(r.stdout).toMatch(/block 1 on request: \d+ bytes/);
  });

  it('block-download downloads from two peerwire nodes', async () => {
    const r = await runExample('examples/block-download.ts', [await node(), await node()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/headers: 300,/);
    expect(r.stdout).toMatch(/downloaded: 300 blocks, \d+ bytes, complete true/);
  });

  it('inv-watcher connects and stops on SIGTERM', async () => {
    const address = await node();
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/inv-watcher.ts', address], {
      cwd: ROOT,
    });
    let stdout = '';
    await new Promise<void>((resolve) =>
      child.stdout.on('data', (d) => {
        stdout += d;
        if (stdout.includes('height 300')) resolve();
      }),
    );
    child.kill('SIGTERM');
    await exitOf(child);
    expect(stdout).toContain('stopped');
  });

  it('misbehaving-peer reports how the target reacted to each step', async () => {
    const r = await runExample('examples/misbehaving-peer.ts', [await node()]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/bad checksum\s+→ kept the connection/);
    expect(r.stdout).toMatch(/oversized length claim\s+→ disconnected/);
    expect(r.stdout).toMatch(/wrong network magic\s+→ disconnected/);
    expect(r.stdout).toMatch(/unsolicited pong\s+→ still answers pings/);
  });
});
