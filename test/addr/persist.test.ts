// The address manager on disk: round trips, damaged files reported and replaced,
// and a writer killed mid-save that still leaves a loadable file.
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AdvertisedAddress } from '../../ts/addr/address.js';
import { AddressManager } from '../../ts/addr/addrman.js';
import { loadAddressManager, saveAddressManager } from '../../ts/addr/persist.js';
import { deserializeAddressManager, serializeAddressManager } from '../../ts/addr/serialize.js';
import { ManualClock } from '../../ts/engine/clock.js';
import { StoreError, writeFileAtomic } from '../../ts/store/atomic-file.js';
import { ROOT } from '../helpers/cli.js';
import { inGroup, s, T0, v4Host } from './helpers.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'peerwire-addr-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A manager with new and tried entries, failures, an onion address and a collision. */
function populated(seed = 1) {
  const clock = new ManualClock({ seed });
  const am = new AddressManager({ clock });
  const pool = Array.from({ length: 400 }, (_, i) => inGroup(30 + (i % 5), 2, i));
  pool.forEach((a, i) => {
    am.add([{ ...a, services: BigInt(i) }], v4Host(50 + (i % 30), 1, 1, 1), i % 3 === 0 ? 7200 : 0);
  });
  const onion: AdvertisedAddress = {
    network: 'onion',
    bytes: new Uint8Array(32).fill(7),
    port: 9050,
    time: T0 - 100,
    services: 1033n,
  };
  am.add([onion], v4Host(60, 1, 1, 1));
  for (let i = 0; i < 150; i++) am.good(pool[i] as AdvertisedAddress);
  clock.advance(s(90));
  for (let i = 150; i < 250; i++) am.attempt(pool[i] as AdvertisedAddress);
  return { clock, am };
}

describe('serialization', () => {
  it('restores every entry to the same place with the same key', () => {
    const { am, clock } = populated();
    expect(am.triedCount).toBeGreaterThan(100);
    const bytes = serializeAddressManager(am);
    const { manager, lost } = deserializeAddressManager(bytes, { clock });
    expect(lost).toBe(0);
    expect(manager.exportState()).toEqual(am.exportState());
    for (const e of [...am.entries(false), ...am.entries(true)]) {
      expect(manager.position(e.info.address)).toEqual(am.position(e.info.address));
    }
    expect(serializeAddressManager(manager)).toEqual(bytes);
  });

  it('refuses malformed bytes with a typed error', () => {
    const { am, clock } = populated();
    const bytes = serializeAddressManager(am);
    const code = (b: Uint8Array) => {
      try {
        deserializeAddressManager(b, { clock });
        return 'loaded';
      } catch (err) {
        expect(err).toBeInstanceOf(StoreError);
        return (err as StoreError).code;
      }
    };
    expect(code(bytes.subarray(0, bytes.length - 1))).toBe('corrupt');
    expect(code(Buffer.concat([bytes, Buffer.of(0)]))).toBe('corrupt');
    expect(code(Buffer.of(2, ...bytes.subarray(1)))).toBe('unsupported-version');
    expect(code(Buffer.alloc(100))).toBe('corrupt');
    const zeroKey = Buffer.from(bytes);
    zeroKey.fill(0, 1, 33);
    expect(code(zeroKey)).toBe('corrupt');
  });
});

describe('files', () => {
  it('saves and loads', async () => {
    const path = join(dir, 'round-trip.dat');
    const { am, clock } = populated(3);
    await saveAddressManager(path, am);
    const loaded = await loadAddressManager(path, { clock });
    expect(loaded.problem).toBeUndefined();
    expect(loaded.manager.exportState()).toEqual(am.exportState());
  });

  it('starts empty, with no problem, when there is no file', async () => {
    const loaded = await loadAddressManager(join(dir, 'absent.dat'), { clock: new ManualClock() });
    expect(loaded.problem).toBeUndefined();
    expect(loaded.manager.size()).toBe(0);
  });

  async function damaged(name: string, damage: (path: string) => Promise<void>) {
    const path = join(dir, name);
    const { am, clock } = populated(4);
    await saveAddressManager(path, am);
    await damage(path);
    const loaded = await loadAddressManager(path, { clock });
    expect(loaded.manager.size()).toBe(0);
    expect(loaded.movedTo).toBe(`${path}.bad`);
    await expect(readFile(path)).rejects.toThrow(/ENOENT/);
    // The next save replaces it.
    await saveAddressManager(path, loaded.manager);
    expect((await loadAddressManager(path, { clock })).problem).toBeUndefined();
    return loaded.problem;
  }

  it('reports a corrupt file, moves it aside and starts empty', async () => {
    const problem = await damaged('corrupt.dat', async (path) => {
      const bytes = await readFile(path);
      const at = bytes.length >> 1;
      bytes[at] = (bytes[at] as number) ^ 0x40;
      await writeFile(path, bytes);
    });
    expect(problem).toBeInstanceOf(StoreError);
    expect(problem?.code).toBe('corrupt');
    expect(problem?.message).toMatch(/checksum/);
  });

  it('reports a truncated file', async () => {
    const problem = await damaged('truncated.dat', async (path) => {
      const size = (await readFile(path)).length;
      await truncate(path, size - 1000);
    });
    expect(problem?.code).toBe('truncated');
  });

  it('reports a well-checksummed file that is no address manager', async () => {
    const problem = await damaged('garbage.dat', (path) =>
      writeFileAtomic(path, 'addr', Buffer.from('\x01 not an address manager')),
    );
    expect(problem?.code).toBe('corrupt');
  });

  it('reports a store file of another kind', async () => {
    const problem = await damaged('bans.dat', (path) =>
      writeFileAtomic(path, 'bans', Buffer.of(1)),
    );
    expect(problem?.code).toBe('wrong-kind');
  });
});

describe('a writer killed mid-save', () => {
  /** Runs save-loop.ts until it has saved at least once, then SIGKILLs it at a random moment. */
  function killMidSave(path: string): Promise<number[]> {
    return new Promise((resolve, reject) => {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'test/addr/fixtures/save-loop.ts', path],
        { cwd: ROOT },
      );
      const sizes: number[] = [];
      let stderr = '';
      let armed = false;
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      child.stdout.on('data', (d: Buffer) => {
        for (const m of d.toString().matchAll(/saved (\d+)/g)) sizes.push(Number(m[1]));
        if (!armed && sizes.length > 0) {
          armed = true;
          setTimeout(() => child.kill('SIGKILL'), Math.random() * 40);
        }
      });
      child.on('exit', (code, signal) => {
        if (signal === 'SIGKILL') resolve(sizes);
        else reject(new Error(`save loop exited (${code}): ${stderr}`));
      });
    });
  }

  it('always leaves a file that loads', { timeout: 120_000 }, async () => {
    const path = join(dir, 'killed.dat');
    for (let round = 0; round < 8; round++) {
      const sizes = await killMidSave(path);
      const loaded = await loadAddressManager(path, { clock: new ManualClock() });
      expect(loaded.problem).toBeUndefined();
      // The last save printed, or the one after it (renamed, then killed before printing).
      const size = loaded.manager.size();
      expect(size).toBeGreaterThanOrEqual(sizes[0] as number);
      expect(size).toBeLessThanOrEqual((sizes.at(-1) as number) + 1);
      // Loading swept the killed writer's temporary file, if it left one.
      expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    }
  });
});
