// Checked, atomically replaced files: every kind of damage gets its own typed
// error, writes leave no temporary files, and a failed write keeps the old file.
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeChecked,
  encodeChecked,
  HEADER_BYTES,
  readFileChecked,
  removeStaleTemps,
  StoreError,
  type StoreErrorCode,
  writeFileAtomic,
} from '../../ts/store/atomic-file.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'peerwire-store-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const payload = Buffer.from('a payload worth keeping, '.repeat(40));

function codeOf(file: Buffer, kind = 'test'): StoreErrorCode | 'ok' {
  try {
    decodeChecked(file, kind, 'file.dat');
    return 'ok';
  } catch (err) {
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).path).toBe('file.dat');
    return (err as StoreError).code;
  }
}

describe('the checked format', () => {
  it('round-trips a payload, empty ones included', () => {
    expect(decodeChecked(encodeChecked('test', payload), 'test', 'p')).toEqual(payload);
    expect(decodeChecked(encodeChecked('test', Buffer.alloc(0)), 'test', 'p').length).toBe(0);
  });

  it('names every kind of damage', () => {
    const good = encodeChecked('test', payload);
    const flipped = (at: number) => {
      const copy = Buffer.from(good);
      copy[at] = (copy[at] as number) ^ 1;
      return copy;
    };
    expect(codeOf(good)).toBe('ok');
    expect(codeOf(good.subarray(0, 10))).toBe('truncated');
    expect(codeOf(good.subarray(0, HEADER_BYTES))).toBe('truncated');
    expect(codeOf(good.subarray(0, good.length - 1))).toBe('truncated');
    expect(codeOf(Buffer.alloc(0))).toBe('truncated');
    expect(codeOf(Buffer.concat([good, Buffer.of(0)]))).toBe('corrupt');
    expect(codeOf(flipped(HEADER_BYTES + 5))).toBe('corrupt');
    expect(codeOf(flipped(HEADER_BYTES - 1))).toBe('corrupt');
    expect(codeOf(flipped(0))).toBe('corrupt');
    expect(codeOf(Buffer.from('{"json": "from somewhere else"}'))).toBe('corrupt');
    const newer = Buffer.from(good);
    newer[4] = 2;
    expect(codeOf(newer)).toBe('unsupported-version');
    expect(codeOf(good, 'bans')).toBe('wrong-kind');
  });

  it('takes only four printable ASCII characters as a kind', () => {
    expect(() => encodeChecked('toolong', payload)).toThrow(TypeError);
    expect(() => encodeChecked('a b ', payload)).toThrow(TypeError);
  });
});

describe('files', () => {
  it('writes, replaces and reads back, leaving no temporary file', async () => {
    const path = join(dir, 'state.dat');
    await writeFileAtomic(path, 'test', payload);
    expect(await readFileChecked(path, 'test')).toEqual(payload);
    await writeFileAtomic(path, 'test', Buffer.from('second'));
    expect((await readFileChecked(path, 'test')).toString()).toBe('second');
    expect((await readdir(dir)).filter((n) => n.includes('state.dat'))).toEqual(['state.dat']);
  });

  it('reports a missing file and a damaged one', async () => {
    await expect(readFileChecked(join(dir, 'nothing.dat'), 'test')).rejects.toMatchObject({
      name: 'StoreError',
      code: 'missing',
    });
    const path = join(dir, 'cut.dat');
    await writeFile(path, encodeChecked('test', payload).subarray(0, 100));
    await expect(readFileChecked(path, 'test')).rejects.toMatchObject({ code: 'truncated' });
  });

  it('keeps the old file when a write cannot happen', async () => {
    const path = join(dir, 'kept.dat');
    await writeFileAtomic(path, 'test', payload);
    await expect(
      writeFileAtomic(join(dir, 'no-such-dir', 'x.dat'), 'test', payload),
    ).rejects.toMatchObject({
      code: 'io',
    });
    // A directory where the file should go: the rename fails, the temporary file goes.
    const blocker = join(dir, 'blocker');
    await mkdir(blocker);
    await writeFile(join(blocker, 'inside'), 'x');
    await expect(writeFileAtomic(blocker, 'test', payload)).rejects.toMatchObject({ code: 'io' });
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    expect(await readFileChecked(path, 'test')).toEqual(payload);
  });

  it('sweeps the temporary files a killed writer left, and nothing else', async () => {
    const path = join(dir, 'swept.dat');
    await writeFileAtomic(path, 'test', payload);
    await writeFile(join(dir, '.swept.dat.4242.7.tmp'), 'half a write');
    await writeFile(join(dir, '.other.dat.4242.7.tmp'), 'not ours');
    await writeFile(join(dir, '.swept.dat.notes'), 'not a temporary file');
    expect(await removeStaleTemps(path)).toBe(1);
    const names = await readdir(dir);
    expect(names).toContain('.other.dat.4242.7.tmp');
    expect(names).toContain('.swept.dat.notes');
    expect(names).not.toContain('.swept.dat.4242.7.tmp');
    expect(await readFile(path)).toEqual(encodeChecked('test', payload));
  });
});
