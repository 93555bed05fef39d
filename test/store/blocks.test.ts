// The block store (ts/store/blocks): round trips of real generated blocks,
// reopening, file rollover, torn tails of data and index files, corrupt bytes,
// pruning, and a writer killed with SIGKILL mid-stream.
import { spawn } from 'node:child_process';
import { mkdtemp, open, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkBlock } from '../../ts/block/check.js';
import { type GeneratedBlock, generateBlocks } from '../../ts/block/generate.js';
import { blockHash } from '../../ts/chain/block.js';
import { networkPreset } from '../../ts/config/schema.js';
import { StoreError } from '../../ts/store/atomic-file.js';
import {
  DATA_PREFIX_BYTES,
  dataFileName,
  INDEX_FILE,
  INDEX_HEADER_BYTES,
  INDEX_RECORD_BYTES,
} from '../../ts/store/blocks/format.js';
import {
  BlockStore,
  BlockStoreClosedError,
  type BlockStoreOptions,
} from '../../ts/store/blocks/store.js';

const REGTEST = networkPreset('regtest');
const BLOCKS = generateBlocks(REGTEST, 160, { txsPerBlock: 3 });
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'peerwire-blocks-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function openStore(options: Partial<BlockStoreOptions> = {}): Promise<BlockStore> {
  return BlockStore.open(dir, { magic: REGTEST.magic, ...options });
}

async function putAll(store: BlockStore, blocks: readonly GeneratedBlock[]): Promise<void> {
  for (const b of blocks) expect(await store.put(b.hash, b.raw)).toBe(true);
}

/** Every block in the store reads back as itself; returns how many are stored. */
async function expectConsistent(store: BlockStore, blocks: readonly GeneratedBlock[]) {
  let stored = 0;
  for (const b of blocks) {
    const raw = await store.get(b.hash);
    expect(raw !== undefined).toBe(store.has(b.hash));
    if (raw) {
      expect(raw.equals(b.raw)).toBe(true);
      stored++;
    }
  }
  expect(store.stats().blocks).toBe(stored);
  return stored;
}

async function dataFiles(): Promise<string[]> {
  return (await readdir(dir)).filter((n) => n.startsWith('blk')).sort();
}

describe('BlockStore', () => {
  it('stores and returns real blocks, and refuses what is not the block', async () => {
    const store = await openStore();
    const blocks = BLOCKS.slice(0, 120);
    await putAll(store, blocks);
    for (const b of blocks) {
      expect(store.has(b.hash)).toBe(true);
      const raw = await store.get(b.hash);
      expect(raw?.equals(b.raw)).toBe(true);
      checkBlock(raw as Buffer, { expectedHash: b.hash });
    }
    expect([...store.hashes()].map((h) => h.toString('hex'))).toEqual(
      blocks.map((b) => b.hash.toString('hex')),
    );
    const bytes = blocks.reduce((n, b) => n + DATA_PREFIX_BYTES + b.raw.length, 0);
    expect(store.stats()).toEqual({ blocks: 120, bytes, files: 1 });
    const first = blocks[0] as GeneratedBlock;
    expect(await store.put(first.hash, first.raw)).toBe(false);
    const other = BLOCKS[150] as GeneratedBlock;
    expect(store.has(other.hash)).toBe(false);
    expect(await store.get(other.hash)).toBeUndefined();
    await expect(store.put(other.hash, first.raw)).rejects.toThrow(TypeError);
    await expect(store.put(other.hash, other.raw.subarray(0, 40))).rejects.toThrow(TypeError);
    expect(store.report.problems).toEqual([]);
    await store.close();
    await expect(store.put(other.hash, other.raw)).rejects.toThrow(BlockStoreClosedError);
  });

  it('writes concurrent puts together and each is there after reopening', async () => {
    const store = await openStore();
    const blocks = BLOCKS.slice(0, 100);
    const results = await Promise.all(blocks.map((b) => store.put(b.hash, b.raw)));
    expect(results.every((r) => r)).toBe(true);
    // The same block twice in one batch: written once.
    const b = BLOCKS[100] as GeneratedBlock;
    expect(await Promise.all([store.put(b.hash, b.raw), store.put(b.hash, b.raw)])).toEqual([
      true,
      false,
    ]);
    await store.close();
    const again = await openStore();
    expect(again.report).toMatchObject({ problems: [], recovered: 0, dropped: 0 });
    expect(await expectConsistent(again, BLOCKS.slice(0, 101))).toBe(101);
    await again.close();
  });

  it('rolls over to a new data file at maxFileBytes', async () => {
    const store = await openStore({ maxFileBytes: 4_000 });
    await putAll(store, BLOCKS.slice(0, 150));
    const files = await dataFiles();
    expect(files.length).toBeGreaterThan(3);
    expect(files[0]).toBe(dataFileName(0));
    for (const name of files) expect((await stat(join(dir, name))).size).toBeLessThanOrEqual(4_000);
    expect(store.stats().files).toBe(files.length);
    await store.close();
    const again = await openStore({ maxFileBytes: 4_000, verify: 'full' });
    expect(again.report.problems).toEqual([]);
    expect(await expectConsistent(again, BLOCKS)).toBe(150);
    // A block larger than the limit gets a file to itself.
    const tiny = await BlockStore.open(join(dir, 'tiny'), {
      magic: REGTEST.magic,
      maxFileBytes: 10,
    });
    await putAll(tiny, BLOCKS.slice(0, 3));
    expect(tiny.stats().files).toBe(3);
    await tiny.close();
    await again.close();
  });

  it('reopens consistently after the last data file is cut at any offset', async () => {
    const blocks = BLOCKS.slice(0, 40);
    const seed = await openStore({ maxFileBytes: 3_000 });
    await putAll(seed, blocks);
    await seed.close();
    const names = await dataFiles();
    const last = join(dir, names[names.length - 1] as string);
    const pristine = await readFile(last);
    const index = await readFile(join(dir, INDEX_FILE));
    for (const cut of [0, 1, 7, 8, 100, Math.floor(pristine.length / 2), pristine.length - 1]) {
      await writeFile(last, pristine.subarray(0, cut));
      await writeFile(join(dir, INDEX_FILE), index);
      const store = await openStore({ maxFileBytes: 3_000 });
      const kept = await expectConsistent(store, blocks);
      // Whatever was wholly before the cut is kept; what was cut is dropped with a warning.
      const lost = blocks.length - kept;
      expect(store.report.dropped).toBe(lost);
      expect(lost > 0).toBe(cut < pristine.length);
      expect(store.report.problems.every((p) => p instanceof StoreError)).toBe(true);
      // It writes on, and the next open is clean.
      await putAll(store, blocks.slice(kept));
      await store.close();
      const again = await openStore({ maxFileBytes: 3_000, verify: 'full' });
      expect(again.report.problems).toEqual([]);
      expect(await expectConsistent(again, blocks)).toBe(blocks.length);
      await again.close();
      await writeFile(last, pristine);
    }
  });

  it('recovers blocks beyond a torn or lost index by scanning the data files', async () => {
    const blocks = BLOCKS.slice(0, 60);
    const seed = await openStore({ maxFileBytes: 5_000 });
    await putAll(seed, blocks);
    await seed.close();
    const indexPath = join(dir, INDEX_FILE);
    const index = await readFile(indexPath);
    const cuts = [
      index.length - 1,
      index.length - INDEX_RECORD_BYTES,
      INDEX_HEADER_BYTES + 10 * INDEX_RECORD_BYTES + 17,
      INDEX_HEADER_BYTES,
      5,
      0,
    ];
    for (const cut of cuts) {
      await writeFile(indexPath, index.subarray(0, cut));
      const store = await openStore({ maxFileBytes: 5_000 });
      expect(await expectConsistent(store, blocks)).toBe(blocks.length);
      expect(store.report.recovered).toBeGreaterThan(0);
      await store.close();
      const again = await openStore({ maxFileBytes: 5_000 });
      expect(again.report.problems).toEqual([]);
      expect(again.stats().blocks).toBe(blocks.length);
      await again.close();
    }
    await unlink(indexPath);
    const rebuilt = await openStore({ maxFileBytes: 5_000 });
    expect(rebuilt.report.recovered).toBe(blocks.length);
    expect(await expectConsistent(rebuilt, blocks)).toBe(blocks.length);
    await rebuilt.close();
  });

  it('rebuilds a lost index past damage in the middle of an older data file', async () => {
    const blocks = BLOCKS.slice(0, 60);
    const seed = await openStore({ maxFileBytes: 5_000 });
    await putAll(seed, blocks);
    const victim = blocks[4] as GeneratedBlock;
    const at = seed.location(victim.hash);
    await seed.close();
    expect(at?.file).toBe(0);
    const path = join(dir, dataFileName(0));
    const bytes = await readFile(path);
    bytes.fill(0xee, (at?.offset as number) + 100, (at?.offset as number) + 110);
    await writeFile(path, bytes);
    await unlink(join(dir, INDEX_FILE));
    const store = await openStore({ maxFileBytes: 5_000 });
    expect(store.report.recovered).toBe(59);
    expect(store.has(victim.hash)).toBe(false);
    expect(await expectConsistent(store, blocks)).toBe(59);
    expect(store.report.problems.map((p) => p.code)).toEqual(['corrupt']);
    expect(store.report.problems[0]?.message).toMatch(/skipped/);
    // The older file is not cut.
    expect((await stat(path)).size).toBe(bytes.length);
    await store.close();
    const again = await openStore({ maxFileBytes: 5_000 });
    expect(again.report.problems).toEqual([]);
    await again.close();
  });

  it('drops a block whose bytes were corrupted, with a warning, and keeps the others', async () => {
    const blocks = BLOCKS.slice(0, 30);
    const seed = await openStore();
    await putAll(seed, blocks);
    const victim = blocks[12] as GeneratedBlock;
    const at = seed.location(victim.hash);
    await seed.close();
    const data = await open(join(dir, dataFileName(at?.file as number)), 'r+');
    const offset = (at?.offset as number) + DATA_PREFIX_BYTES + 150;
    const byte = Buffer.alloc(1);
    await data.read(byte, 0, 1, offset);
    byte[0] = (byte[0] as number) ^ 0xff;
    await data.write(byte, 0, 1, offset);
    await data.close();

    // Found when read.
    const problems: StoreError[] = [];
    const store = await openStore({ onProblem: (p) => problems.push(p) });
    expect(store.has(victim.hash)).toBe(true);
    expect(await store.get(victim.hash)).toBeUndefined();
    expect(store.has(victim.hash)).toBe(false);
    expect(problems).toHaveLength(1);
    expect(problems[0]?.code).toBe('corrupt');
    expect(problems[0]?.message).toMatch(/CRC-32/);
    expect(await expectConsistent(store, blocks)).toBe(29);
    await store.close();
    // Forgotten for good (a tombstone in the index).
    const after = await openStore();
    expect(after.has(victim.hash)).toBe(false);
    expect(after.report.problems).toEqual([]);
    // And it can be stored again.
    expect(await after.put(victim.hash, victim.raw)).toBe(true);
    await after.close();
    const fixed = await openStore({ verify: 'full' });
    expect(await expectConsistent(fixed, blocks)).toBe(30);
    await fixed.close();
  });

  it("finds corrupt blocks on open with verify: 'full'", async () => {
    const blocks = BLOCKS.slice(0, 30);
    const seed = await openStore();
    await putAll(seed, blocks);
    const victim = blocks[5] as GeneratedBlock;
    const at = seed.location(victim.hash);
    await seed.close();
    const path = join(dir, dataFileName(0));
    const bytes = await readFile(path);
    bytes.fill(0, (at?.offset as number) + 2, (at?.offset as number) + 60);
    await writeFile(path, bytes);
    const store = await openStore({ verify: 'full' });
    expect(store.report.dropped).toBe(1);
    expect(store.report.problems[0]?.message).toMatch(/network magic/);
    expect(store.has(victim.hash)).toBe(false);
    expect(await expectConsistent(store, blocks)).toBe(29);
    await store.close();
  });

  it('prunes the oldest whole data files down to the target, never the current one', async () => {
    const options = { maxFileBytes: 3_000, prune: { targetBytes: 9_000 } };
    const store = await openStore(options);
    await putAll(store, BLOCKS.slice(0, 150));
    const stats = store.stats();
    expect(stats.bytes).toBeLessThanOrEqual(9_000);
    const files = await dataFiles();
    expect(files[0]).not.toBe(dataFileName(0));
    expect(files.length).toBe(stats.files);
    // What is left is the newest blocks, contiguous.
    const kept = BLOCKS.slice(0, 150).map((b) => store.has(b.hash));
    const firstKept = kept.indexOf(true);
    expect(firstKept).toBeGreaterThan(0);
    expect(kept.slice(firstKept).every((k) => k)).toBe(true);
    expect(await store.get((BLOCKS[0] as GeneratedBlock).hash)).toBeUndefined();
    const count = await expectConsistent(store, BLOCKS.slice(0, 150));
    await store.close();
    const again = await openStore(options);
    expect(again.report.problems).toEqual([]);
    expect(again.report.pruned).toBe(firstKept);
    expect(await expectConsistent(again, BLOCKS.slice(0, 150))).toBe(count);
    // Only the file being written is ever left, however small the target.
    const all = await BlockStore.open(join(dir, 'zero'), {
      magic: REGTEST.magic,
      maxFileBytes: 3_000,
      prune: { targetBytes: 0 },
    });
    await putAll(all, BLOCKS.slice(0, 50));
    expect(all.stats().files).toBe(1);
    await all.close();
    await again.close();
  });

  it('refuses writes after the disk failed one, and reopening repairs', async () => {
    const store = await openStore();
    await putAll(store, BLOCKS.slice(0, 10));
    // A disk that writes half a record and then fails (ENOSPC, say).
    const writer = (store as unknown as { writer: { writev: (b: Buffer[]) => Promise<unknown> } })
      .writer;
    const real = writer.writev.bind(writer);
    writer.writev = async (buffers: Buffer[]) => {
      await real([Buffer.concat(buffers).subarray(0, 50)]);
      throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    };
    const b = BLOCKS[10] as GeneratedBlock;
    const err = await store.put(b.hash, b.raw).catch((e) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err.code).toBe('io');
    const c = BLOCKS[11] as GeneratedBlock;
    await expect(store.put(c.hash, c.raw)).rejects.toBe(err);
    expect(store.has(b.hash)).toBe(false);
    await store.close();
    const again = await openStore();
    expect(again.report.truncatedBytes).toBe(50);
    expect(await expectConsistent(again, BLOCKS.slice(0, 12))).toBe(10);
    await putAll(again, BLOCKS.slice(10, 12));
    await again.close();
    const clean = await openStore({ verify: 'full' });
    expect(clean.report.problems).toEqual([]);
    expect(await expectConsistent(clean, BLOCKS.slice(0, 12))).toBe(12);
    await clean.close();
  });

  it("refuses another network's store with a typed error", async () => {
    const seed = await openStore();
    await putAll(seed, BLOCKS.slice(0, 2));
    await seed.close();
    const err = await BlockStore.open(dir, { magic: 'f9beb4d9' }).catch((e) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err.code).toBe('wrong-kind');
    await expect(BlockStore.open(dir, { magic: 'xyz' })).rejects.toThrow(TypeError);
  });

  it('loses no reported block when the writer is killed with SIGKILL mid-stream', async () => {
    const script = join(ROOT, 'test/store/block-writer.ts');
    const printed: string[] = [];
    for (const [round, stopAfter] of [20, 55, 90].entries()) {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', script, dir, '6000', `kill${round}`],
        {
          cwd: ROOT,
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let buffered = '';
      let count = 0;
      await new Promise<void>((resolve, reject) => {
        child.on('error', reject);
        child.on('exit', () => resolve());
        child.stdout.on('data', (chunk: Buffer) => {
          buffered += chunk.toString('utf8');
          const lines = buffered.split('\n');
          buffered = lines.pop() as string;
          for (const line of lines) {
            if (line === 'open') continue;
            printed.push(line);
            if (++count === stopAfter) child.kill('SIGKILL');
          }
        });
      });
      expect(child.signalCode).toBe('SIGKILL');
      const store = await openStore({ maxFileBytes: 6_000 });
      for (const hex of printed) {
        const hash = Buffer.from(hex, 'hex');
        const raw = await store.get(hash);
        expect(raw, `block ${hex} reported stored`).toBeDefined();
        expect(blockHash(raw as Buffer).equals(hash)).toBe(true);
        checkBlock(raw as Buffer, { expectedHash: hash });
      }
      expect(store.report.dropped).toBe(0);
      await store.close();
    }
    expect(printed.length).toBeGreaterThanOrEqual(165);
  }, 60_000);
});
