// npm's prepare step (scripts/prepare.mjs) as a git install or a checkout runs
// it: no cargo build when an addon already loads, and a clear word on what to
// install when one must be built and Rust is missing.
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { platformTarget } from '../../ts/native/binding.js';
import { ROOT } from '../helpers/cli.js';

const made: string[] = [];
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A copy of the package as prepare sees it: built dist/, the loader, maybe a binary and Rust sources. */
function copy({ binary, crates }: { binary: boolean; crates: boolean }): string {
  const dir = mkdtempSync(join(tmpdir(), 'peerwire-prepare-'));
  made.push(dir);
  cpSync(join(ROOT, 'dist'), join(dir, 'dist'), {
    recursive: true,
    filter: (src) => !src.endsWith('.map'),
  });
  mkdirSync(join(dir, 'native'));
  mkdirSync(join(dir, 'scripts'));
  copyFileSync(join(ROOT, 'native', 'index.cjs'), join(dir, 'native', 'index.cjs'));
  copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
  copyFileSync(join(ROOT, 'scripts', 'prepare.mjs'), join(dir, 'scripts', 'prepare.mjs'));
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'junction');
  const file = `peerwire.${platformTarget()}.node`;
  if (binary) copyFileSync(join(ROOT, 'native', file), join(dir, 'native', file));
  if (crates) mkdirSync(join(dir, 'crates'));
  return dir;
}

/** Runs prepare with no cargo on PATH: any attempt to build would fail. */
function prepare(dir: string) {
  return new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [join(dir, 'scripts', 'prepare.mjs')], {
      cwd: dir,
      env: { ...process.env, PATH: join(dir, 'no-such-bin'), INIT_CWD: dir },
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('prepare', () => {
  it('builds nothing native when an addon already loads', async () => {
    const r = await prepare(copy({ binary: true, crates: true }));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`the native addon for ${platformTarget()} loads; not rebuilding it`);
  });

  it('without a loadable addon and without Rust, says what to install', async () => {
    const r = await prepare(copy({ binary: false, crates: true }));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`no prebuilt native addon for ${platformTarget()} is installed`);
    expect(r.stderr).toMatch(/needs Rust, which is not installed here \(cargo is not on PATH\)/);
    expect(r.stderr).toContain('https://rustup.rs');
  });

  it('without a loadable addon and without Rust sources, says why it cannot build', async () => {
    const r = await prepare(copy({ binary: false, crates: false }));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no native addon loads .* no Rust sources to build one from/);
  });
});
