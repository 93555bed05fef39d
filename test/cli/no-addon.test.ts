// The peerwire command on a machine where the native addon cannot load: --help
// and --version still work, --help says why the commands cannot run, and a
// command fails with one line naming the platform and what was looked for.
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { platformTarget } from '../../ts/native/binding.js';
import { ROOT, runNode } from '../helpers/cli.js';

// A copy of the built package without any .node file; its dependencies come
// from this checkout's node_modules, which holds no peerwire-<target> package.
const pkg = mkdtempSync(join(tmpdir(), 'peerwire-no-addon-'));
beforeAll(() => {
  cpSync(join(ROOT, 'dist'), join(pkg, 'dist'), {
    recursive: true,
    filter: (src) => !src.endsWith('.map'),
  });
  mkdirSync(join(pkg, 'native'));
  cpSync(join(ROOT, 'native', 'index.cjs'), join(pkg, 'native', 'index.cjs'));
  cpSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
  symlinkSync(join(ROOT, 'node_modules'), join(pkg, 'node_modules'), 'junction');
});
afterAll(() => rmSync(pkg, { recursive: true, force: true }));

const run = (args: string[]) => runNode([join(pkg, 'dist/cli/main.js'), ...args], 30_000);

describe('without the native addon', () => {
  it('--help works and says why the commands cannot run here', async () => {
    const r = await run(['--help']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Usage: peerwire <command>/);
    const target = platformTarget();
    expect(r.stdout).toContain(
      `cannot run here: the peerwire native addon could not be loaded for ${target}`,
    );
    expect(r.stdout).toContain(`native/peerwire.${target}.node`);
    expect(r.stdout).toContain(`peerwire-${target}`);
    expect(r.stdout).not.toMatch(/npm has a bug/);
  });

  it('--version and every subcommand --help work', async () => {
    expect((await run(['--version'])).code).toBe(0);
    for (const cmd of ['demo', 'sync', 'node', 'bench']) {
      const r = await run([cmd, '--help']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain(`Usage: peerwire ${cmd}`);
    }
  });

  it('a command fails with one line naming what is missing', async () => {
    const r = await run(['demo', '--headers', '10', '--nodes', '1']);
    expect(r.code).toBe(1);
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^peerwire demo: the peerwire native addon could not be loaded for .*install Rust/,
    );
  });
});
