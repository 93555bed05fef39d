// An embedded block store: raw blocks by hash, crash-safe, no server to run
// and no dependency beyond node:fs.
//
// Why append-only files with an index, as Bitcoin Core does, rather than an
// embedded database: blocks are written once and never changed, so appending
// them to large files (blk00000.dat, …, 128 MiB each by default) is sequential
// I/O with no write amplification, and the only state a kill -9 or a power
// cut can damage is the tail of the file being written. The index is an
// append-only log too (index-log.ts). Order of durability in `put`: the block
// is appended to its data file and fsync'd, then its index record is appended
// and fsync'd, and only then does the promise resolve; so every block ever
// reported stored has whole bytes and a whole index record. On open:
//   - a torn last index record is cut off; a record failing its checksum is
//     skipped with a warning;
//   - index entries whose bytes are not in their file are dropped with a
//     warning (with `verify: 'full'`, every block's magic, length, CRC-32 and
//     hash are checked too; `get` always checks them and drops a bad block);
//   - blocks written after the last indexed one (a kill between the two
//     fsyncs, or a lost index) are found by a scan that checks magic, length
//     and merkle root, and indexed again; the torn tail after them is cut off.
// Problems are reported (StoreError, to `onProblem` and in `report`), never
// thrown, except for a store this version must not touch (another network's,
// a newer format) or a file system that refuses.
//
// Heights are not the store's business: the header chain knows them; the
// store maps hash → (file, offset, length).
import { type FileHandle, mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { blockHash } from '../../chain/block.js';
import { StoreError } from '../atomic-file.js';
import {
  type BlockLocation,
  blockCrc,
  DATA_PREFIX_BYTES,
  dataFileName,
  dataFileNumber,
  encodeDataPrefix,
  encodeIndexRecords,
  INDEX_FILE,
  type IndexRecord,
  keyOf,
  MAX_FILE_BYTES,
  MIN_BLOCK_BYTES,
} from './format.js';
import { openIndexForAppend, replayIndex, rewriteIndex, syncDir } from './index-log.js';
import { scanDataFile } from './scan.js';

/** Core's MAX_BLOCKFILE_SIZE. */
export const DEFAULT_MAX_FILE_BYTES = 128 * 1024 * 1024;
/** Data files kept open for reading. */
const MAX_READERS = 32;

export interface BlockStoreOptions {
  /** The network magic, wire order (4 bytes or 8 hex digits): the start of every data record. */
  magic: Uint8Array | string;
  /** A data file is closed once the next block would take it past this size (default 128 MiB). */
  maxFileBytes?: number;
  /**
   * Deletes whole data files, oldest first, while the data files total more
   * than `targetBytes`; never the file being written. Their blocks are forgotten.
   */
  prune?: { targetBytes: number };
  /**
   * What opening checks of the indexed blocks: 'quick' (default) that each lies
   * within its file; 'full' reads every block and checks magic, length, CRC-32
   * and hash. `get` checks each block it reads either way.
   */
  verify?: 'quick' | 'full';
  /** Told about every problem found and repaired (also listed in `report.problems`). */
  onProblem?: (problem: StoreError) => void;
}

export interface BlockStoreStats {
  /** Blocks stored. */
  blocks: number;
  /** Bytes of the data files (records included). */
  bytes: number;
  /** Data files. */
  files: number;
}

/** What opening found and repaired. */
export interface BlockStoreReport {
  problems: StoreError[];
  /** Blocks found in data files beyond the index and indexed again. */
  recovered: number;
  /** Index entries dropped because their bytes did not verify. */
  dropped: number;
  /** Index entries of pruned (deleted) data files. */
  pruned: number;
  /** Bytes of torn tails cut from data files. */
  truncatedBytes: number;
}

/** A put or get on a closed store. */
export class BlockStoreClosedError extends Error {
  override readonly name = 'BlockStoreClosedError';
  constructor() {
    super('the block store is closed');
  }
}

interface Pending {
  key: string;
  hash: Buffer;
  raw: Uint8Array;
  resolve: (written: boolean) => void;
  reject: (err: unknown) => void;
}

function parseMagic(magic: Uint8Array | string): Buffer {
  const bytes =
    typeof magic === 'string'
      ? /^[0-9a-fA-F]{8}$/.test(magic)
        ? Buffer.from(magic, 'hex')
        : Buffer.alloc(0)
      : Buffer.from(magic);
  if (bytes.length !== 4) throw new TypeError('the network magic is 4 bytes (8 hex digits)');
  return bytes;
}

function ioError(path: string, what: string, err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  return new StoreError('io', path, `${what}: ${(err as Error).message}`, { cause: err });
}

export class BlockStore {
  private readonly entries: Map<string, BlockLocation>;
  /** Data file number → size, for every data file on disk. */
  private readonly fileSizes = new Map<number, number>();
  private totalBytes = 0;
  private current = 0;
  private currentSize = 0;
  private writer!: FileHandle;
  private index!: FileHandle;
  private readonly readers = new Map<number, Promise<FileHandle>>();
  private queue: Pending[] = [];
  private tombstones: IndexRecord[] = [];
  private flushing: Promise<void> | undefined;
  private closed = false;
  /** Set by a failed write: the store refuses writes until reopened (which repairs). */
  private failed: StoreError | undefined;
  private readonly magic: Buffer;
  private readonly maxFileBytes: number;
  /** What opening found and repaired. */
  readonly report: BlockStoreReport = {
    problems: [],
    recovered: 0,
    dropped: 0,
    pruned: 0,
    truncatedBytes: 0,
  };

  private constructor(
    readonly dir: string,
    private readonly options: BlockStoreOptions,
  ) {
    this.magic = parseMagic(options.magic);
    const max = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
    if (!Number.isInteger(max) || max < 1 || max > MAX_FILE_BYTES) {
      throw new RangeError(`maxFileBytes must be an integer from 1 to ${MAX_FILE_BYTES}`);
    }
    this.maxFileBytes = max;
    const target = options.prune?.targetBytes;
    if (target !== undefined && !(Number.isFinite(target) && target >= 0)) {
      throw new RangeError('prune.targetBytes must be a number ≥ 0');
    }
    this.entries = new Map();
  }

  /**
   * Opens (creating if needed) the store in `dir`, repairing what a crash left
   * (see `report`). Rejects with StoreError only for a store of another network
   * ('wrong-kind'), a newer format ('unsupported-version') or I/O failures ('io').
   */
  static async open(dir: string, options: BlockStoreOptions): Promise<BlockStore> {
    const store = new BlockStore(dir, options);
    try {
      await store.load();
    } catch (err) {
      await store.closeHandles();
      throw ioError(dir, 'cannot open the block store', err);
    }
    return store;
  }

  private problem(problem: StoreError): void {
    this.report.problems.push(problem);
    this.options.onProblem?.(problem);
  }

  private dataPath(file: number): string {
    return join(this.dir, dataFileName(file));
  }

  private async load(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const name of await readdir(this.dir)) {
      const file = dataFileNumber(name);
      if (file === undefined) continue;
      const { size } = await stat(join(this.dir, name));
      this.fileSizes.set(file, size);
    }
    const files = [...this.fileSizes.keys()].sort((a, b) => a - b);
    const oldest = files[0] ?? 0;
    const indexPath = join(this.dir, INDEX_FILE);
    const replayed = await replayIndex(indexPath, this.magic);
    for (const p of replayed.problems) this.problem(p);

    // Index entries whose bytes are not where the index says.
    const fullCheck = this.options.verify === 'full';
    for (const [key, entry] of replayed.entries) {
      const size = this.fileSizes.get(entry.file);
      let why: string | undefined;
      if (size === undefined) {
        if (entry.file < oldest) {
          this.report.pruned++;
          continue;
        }
        why = `its data file ${dataFileName(entry.file)} is missing`;
      } else if (entry.offset + DATA_PREFIX_BYTES + entry.length > size) {
        why = `it lies past the end of ${dataFileName(entry.file)} (${size} bytes)`;
      } else if (fullCheck) {
        why = await this.checkBytes(entry.hash, entry);
      }
      if (why) {
        this.report.dropped++;
        this.problem(
          new StoreError('corrupt', indexPath, `block ${hexOf(entry.hash)} dropped: ${why}`),
        );
        continue;
      }
      this.entries.set(key, entry);
    }

    // Blocks beyond the index: from the end of the last indexed block on.
    let lastIndexed = -1;
    const indexedEnd = new Map<number, number>();
    for (const e of this.entries.values()) {
      lastIndexed = Math.max(lastIndexed, e.file);
      const end = e.offset + DATA_PREFIX_BYTES + e.length;
      indexedEnd.set(e.file, Math.max(indexedEnd.get(e.file) ?? 0, end));
    }
    const recovered: IndexRecord[] = [];
    const newest = files[files.length - 1];
    for (const file of files) {
      if (file < lastIndexed) continue;
      const from = indexedEnd.get(file) ?? 0;
      const size = this.fileSizes.get(file) as number;
      if (from >= size) continue;
      const handle = await open(this.dataPath(file), 'r+');
      try {
        const scan = await scanDataFile(handle, from, size, this.magic);
        for (const b of scan.blocks) {
          const key = keyOf(b.hash);
          if (this.entries.has(key)) continue;
          const record = { hash: b.hash, file, offset: b.offset, length: b.length, crc: b.crc };
          this.entries.set(key, record);
          recovered.push(record);
        }
        for (const gap of scan.skipped) {
          this.problem(
            new StoreError(
              'corrupt',
              this.dataPath(file),
              `${gap.bytes} unusable bytes at offset ${gap.offset} skipped (${gap.why})`,
            ),
          );
        }
        if (scan.end < size && file === newest) {
          // The tail of the file being written: cut, so appends follow the last good block.
          await handle.truncate(scan.end);
          await handle.sync();
          this.fileSizes.set(file, scan.end);
          this.report.truncatedBytes += size - scan.end;
          this.problem(
            new StoreError(
              'truncated',
              this.dataPath(file),
              `torn tail of ${size - scan.end} bytes at offset ${scan.end} cut off (${scan.tailWhy})`,
            ),
          );
        } else if (scan.end < size) {
          // An older file is never written again: its bad tail is left for inspection.
          this.problem(
            new StoreError(
              'corrupt',
              this.dataPath(file),
              `${size - scan.end} unusable bytes at offset ${scan.end} left in place (${scan.tailWhy})`,
            ),
          );
        }
      } finally {
        await handle.close();
      }
    }
    this.report.recovered = recovered.length;

    // The index: rewritten when it holds anything dead, appended to otherwise.
    const dead =
      replayed.records !== replayed.entries.size ||
      this.entries.size !== replayed.entries.size + recovered.length;
    if (!replayed.usable || dead) {
      const rewritten = await rewriteIndex(indexPath, this.magic, this.indexRecords());
      this.index = rewritten.handle;
      this.indexSize = rewritten.size;
    } else {
      const opened = await openIndexForAppend(indexPath, replayed.validBytes);
      this.index = opened.handle;
      this.indexSize = opened.size;
      if (recovered.length > 0) await this.appendIndex(recovered);
    }

    // The file to append to: the newest.
    this.current = files.length > 0 ? (files[files.length - 1] as number) : 0;
    await this.openWriter();
    for (const size of this.fileSizes.values()) this.totalBytes += size;
  }

  private indexSize = 0;

  private *indexRecords(): Generator<IndexRecord> {
    for (const [key, loc] of this.entries) yield { hash: Buffer.from(key, 'hex'), ...loc };
  }

  private async appendIndex(records: readonly IndexRecord[]): Promise<void> {
    const bytes = encodeIndexRecords(records);
    await this.index.write(bytes, 0, bytes.length, this.indexSize);
    this.indexSize += bytes.length;
    await this.index.datasync();
  }

  private async openWriter(): Promise<void> {
    const created = !this.fileSizes.has(this.current);
    this.writer = await open(this.dataPath(this.current), 'a+');
    if (created) {
      this.fileSizes.set(this.current, 0);
      await syncDir(this.dir);
    }
    this.currentSize = this.fileSizes.get(this.current) as number;
  }

  /** Why the bytes at `loc` are not block `hash`, or undefined when they are. */
  private async checkBytes(hash: Uint8Array, loc: BlockLocation): Promise<string | undefined> {
    const raw = await this.readRecord(loc);
    return raw === undefined ? 'its data file is gone' : this.whyBad(raw, hash, loc);
  }

  private whyBad(record: Buffer, hash: Uint8Array, loc: BlockLocation): string | undefined {
    if (record.length < DATA_PREFIX_BYTES + loc.length) return 'its record is cut short';
    if (!record.subarray(0, 4).equals(this.magic)) return 'no network magic at its offset';
    if (record.readUInt32LE(4) !== loc.length) return 'its record length differs from the index';
    const raw = record.subarray(DATA_PREFIX_BYTES);
    if (blockCrc(raw) !== loc.crc) return 'its bytes fail their CRC-32';
    if (!blockHash(raw).equals(Buffer.from(hash))) return 'its header hashes to another block';
    return undefined;
  }

  /** The data record at `loc` (prefix and block), or undefined when its file is gone. */
  private async readRecord(loc: BlockLocation): Promise<Buffer | undefined> {
    const out = Buffer.allocUnsafe(DATA_PREFIX_BYTES + loc.length);
    for (let attempt = 0; ; attempt++) {
      let handle: FileHandle;
      try {
        handle = await this.reader(loc.file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw ioError(this.dataPath(loc.file), 'cannot open a data file', err);
      }
      try {
        const { bytesRead } = await handle.read(out, 0, out.length, loc.offset);
        return out.subarray(0, bytesRead);
      } catch (err) {
        // A reader closed under us (evicted or pruned): open it again once.
        if ((err as NodeJS.ErrnoException).code === 'EBADF' && attempt === 0) continue;
        throw ioError(this.dataPath(loc.file), 'cannot read a data file', err);
      }
    }
  }

  private reader(file: number): Promise<FileHandle> {
    let handle = this.readers.get(file);
    if (!handle) {
      if (this.readers.size >= MAX_READERS) {
        const [oldest] = this.readers.keys();
        this.dropReader(oldest as number);
      }
      handle = open(this.dataPath(file), 'r');
      this.readers.set(file, handle);
      handle.catch(() => this.readers.delete(file));
    }
    return handle;
  }

  private dropReader(file: number): void {
    const handle = this.readers.get(file);
    this.readers.delete(file);
    handle?.then((h) => h.close()).catch(() => {});
  }

  // ---- the API --------------------------------------------------------------------

  /** True when block `hash` (wire order) is stored. */
  has(hash: Uint8Array): boolean {
    return this.entries.has(keyOf(hash));
  }

  /**
   * Stores raw block `raw` under `hash` (wire order; must be the hash of its
   * header). Resolves once the block and its index record are fsync'd — a
   * crash after that loses neither — with true, or false when it was already
   * stored. Puts made while one is being written are written and fsync'd
   * together. Do not modify `raw` until the promise settles. Rejects with
   * BlockStoreClosedError, TypeError for a block that is not `hash`, or
   * StoreError('io') when the disk refuses (later puts are then refused too
   * until the store is reopened, which repairs whatever was half written).
   */
  put(hash: Uint8Array, raw: Uint8Array): Promise<boolean> {
    if (this.closed) return Promise.reject(new BlockStoreClosedError());
    if (this.failed) return Promise.reject(this.failed);
    if (hash.length !== 32) return Promise.reject(new TypeError('a block hash is 32 bytes'));
    if (raw.length < MIN_BLOCK_BYTES || raw.length > MAX_FILE_BYTES - DATA_PREFIX_BYTES) {
      return Promise.reject(new TypeError(`a block of ${raw.length} bytes cannot be stored`));
    }
    const hashBuf = Buffer.from(hash);
    if (!blockHash(raw).equals(hashBuf)) {
      return Promise.reject(new TypeError(`block bytes are not block ${hexOf(hash)}`));
    }
    const key = keyOf(hash);
    if (this.entries.has(key)) return Promise.resolve(false);
    return new Promise((resolve, reject) => {
      this.queue.push({ key, hash: hashBuf, raw, resolve, reject });
      this.kick();
    });
  }

  /**
   * The raw block `hash` (wire order), or undefined when it is not stored. The
   * bytes are checked (magic, length, CRC-32, hash): a block that fails is
   * dropped from the store, reported to `onProblem`, and undefined is returned.
   */
  async get(hash: Uint8Array): Promise<Buffer | undefined> {
    if (this.closed) throw new BlockStoreClosedError();
    const key = keyOf(hash);
    const loc = this.entries.get(key);
    if (!loc) return undefined;
    const record = await this.readRecord(loc);
    if (record === undefined) return undefined; // pruned meanwhile
    const why = this.whyBad(record, hash, loc);
    if (why) {
      if (this.entries.get(key) === loc) {
        this.entries.delete(key);
        this.tombstones.push({ hash: Buffer.from(hash), file: 0, offset: 0, length: 0, crc: 0 });
        this.kick();
      }
      this.problem(
        new StoreError(
          'corrupt',
          this.dataPath(loc.file),
          `block ${hexOf(hash)} at offset ${loc.offset} dropped: ${why}`,
        ),
      );
      return undefined;
    }
    return record.subarray(DATA_PREFIX_BYTES);
  }

  /** The stored hashes (wire order), in the order they were stored (a snapshot). */
  *hashes(): Generator<Buffer> {
    for (const key of [...this.entries.keys()]) yield Buffer.from(key, 'hex');
  }

  /** Where block `hash` is, or undefined. */
  location(hash: Uint8Array): Readonly<BlockLocation> | undefined {
    return this.entries.get(keyOf(hash));
  }

  stats(): BlockStoreStats {
    return { blocks: this.entries.size, bytes: this.totalBytes, files: this.fileSizes.size };
  }

  /** Waits for pending puts, then closes every file. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.flushing) await this.flushing;
    await this.closeHandles();
  }

  private async closeHandles(): Promise<void> {
    for (const file of [...this.readers.keys()]) this.dropReader(file);
    await this.writer?.close().catch(() => {});
    await this.index?.close().catch(() => {});
  }

  // ---- writing --------------------------------------------------------------------

  private kick(): void {
    if (this.flushing) return;
    this.flushing = this.flushLoop().finally(() => {
      this.flushing = undefined;
      // Work queued between the loop's last look and now.
      if (this.queue.length > 0 || this.tombstones.length > 0) this.kick();
    });
  }

  private async flushLoop(): Promise<void> {
    while (this.queue.length > 0 || this.tombstones.length > 0) {
      const batch = this.queue;
      const tombstones = this.tombstones;
      this.queue = [];
      this.tombstones = [];
      if (this.failed) {
        for (const p of batch) p.reject(this.failed);
        continue;
      }
      try {
        await this.writeBatch(batch, tombstones);
      } catch (err) {
        this.failed = ioError(this.dir, 'write failed; reopen the store to repair it', err);
        for (const p of batch) p.reject(this.failed);
      }
    }
  }

  private async writeBatch(batch: Pending[], tombstones: IndexRecord[]): Promise<void> {
    const written: { p: Pending; record: IndexRecord }[] = [];
    const again: Pending[] = [];
    const inBatch = new Set<string>();
    for (const p of batch) {
      if (this.entries.has(p.key) || inBatch.has(p.key)) {
        again.push(p);
        continue;
      }
      inBatch.add(p.key);
      const bytes = DATA_PREFIX_BYTES + p.raw.length;
      if (this.currentSize > 0 && this.currentSize + bytes > this.maxFileBytes) await this.roll();
      const { bytesWritten } = await this.writer.writev([
        encodeDataPrefix(this.magic, p.raw.length),
        p.raw,
      ]);
      if (bytesWritten !== bytes) throw new Error(`short write: ${bytesWritten} of ${bytes} bytes`);
      written.push({
        p,
        record: {
          hash: p.hash,
          file: this.current,
          offset: this.currentSize,
          length: p.raw.length,
          crc: blockCrc(p.raw),
        },
      });
      this.currentSize += bytes;
      this.totalBytes += bytes;
      this.fileSizes.set(this.current, this.currentSize);
    }
    if (written.length > 0) await this.writer.datasync();
    const records = [...tombstones, ...written.map((w) => w.record)];
    if (records.length > 0) await this.appendIndex(records);
    for (const { p, record } of written) {
      const { hash: _hash, ...loc } = record;
      this.entries.set(p.key, loc);
    }
    // Before resolving, so a caller sees the store within its target.
    if (this.options.prune) await this.prune(this.options.prune.targetBytes);
    for (const { p } of written) p.resolve(true);
    for (const p of again) p.resolve(false);
  }

  /** Closes the current data file (fsync'd) and starts the next. */
  private async roll(): Promise<void> {
    await this.writer.datasync();
    await this.writer.close();
    this.current++;
    await this.openWriter();
  }

  /** Deletes the oldest data files while the total exceeds `target`. */
  private async prune(target: number): Promise<void> {
    if (this.totalBytes <= target) return;
    const files = [...this.fileSizes.keys()].sort((a, b) => a - b);
    for (const file of files) {
      if (this.totalBytes <= target || file === this.current) break;
      for (const [key, loc] of this.entries) if (loc.file === file) this.entries.delete(key);
      this.dropReader(file);
      try {
        await unlink(this.dataPath(file));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          this.problem(ioError(this.dataPath(file), 'cannot delete a pruned data file', err));
        }
      }
      this.totalBytes -= this.fileSizes.get(file) as number;
      this.fileSizes.delete(file);
    }
  }
}

function hexOf(hash: Uint8Array): string {
  return Buffer.from(hash).reverse().toString('hex');
}
