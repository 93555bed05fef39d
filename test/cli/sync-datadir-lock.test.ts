// DIR/.lock of `peerwire sync --blocks`: taken by one process at a time, taken
// over from a process that is gone, and never from one that is creating it.
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CliError } from '../../ts/cli/args.js';
import { LOCK_FILE, lockDatadir } from '../../ts/cli/datadir-lock.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'pw-lock-'));
  dirs.push(d);
  return d;
}

describe('lockDatadir', () => {
  it('writes its pid, refuses a second taker, and leaves nothing else behind', () => {
    const dir = tempDir();
    const release = lockDatadir(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    expect(readdirSync(dir)).toEqual([LOCK_FILE]);
    release();
    expect(readdirSync(dir)).toEqual([]);
  });

  it('takes over the lock of a process that is gone', () => {
    const dir = tempDir();
    // A pid no process has (beyond the kernel's pid_max).
    writeFileSync(join(dir, LOCK_FILE), '2147483646\n');
    const release = lockDatadir(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    release();
  });

  it('does not take over a lock that was just created and has no pid yet', () => {
    // What another process's lock looks like between its create and its write.
    const dir = tempDir();
    writeFileSync(join(dir, LOCK_FILE), '');
    expect(() => lockDatadir(dir)).toThrow(CliError);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe('');
    // Left empty for long (its creator died before writing): stale.
    const past = new Date(Date.now() - 60_000);
    utimesSync(join(dir, LOCK_FILE), past, past);
    const release = lockDatadir(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    release();
  });
});

describe('lockDatadir, taking over a stale lock', () => {
  it('is refused while another process is taking over the same stale lock', () => {
    const dir = tempDir();
    writeFileSync(join(dir, LOCK_FILE), '2147483646\n');
    writeFileSync(join(dir, `${LOCK_FILE}.takeover`), '2147483645\n');
    expect(() => lockDatadir(dir)).toThrow(/being taken by another process/);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe('2147483646\n');
  });

  it('clears a takeover left by a killed process once it is old, and takes the lock', () => {
    const dir = tempDir();
    writeFileSync(join(dir, LOCK_FILE), '2147483646\n');
    const takeover = join(dir, `${LOCK_FILE}.takeover`);
    writeFileSync(takeover, '2147483645\n');
    const past = new Date(Date.now() - 60_000);
    utimesSync(takeover, past, past);
    const release = lockDatadir(dir);
    expect(readFileSync(join(dir, LOCK_FILE), 'utf8')).toBe(`${process.pid}\n`);
    expect(readdirSync(dir)).toEqual([LOCK_FILE]);
    release();
  });
});
