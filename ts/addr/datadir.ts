// A node's data directory: the address manager (peers.dat), the ban list
// (banlist.dat) and the anchors (anchors.dat), each a checked file written
// atomically (ts/store/atomic-file.ts). Loading never throws for a bad file: the
// file is moved aside to "<name>.bad", the problem is returned (and passed to
// `onProblem`), and the caller starts from an empty store that the next save
// replaces it with.
import { mkdir, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { BanEntry } from '../engine/bans.js';
import type { Clock } from '../engine/clock.js';
import type { Engine } from '../engine/engine.js';
import {
  readFileChecked,
  removeStaleTemps,
  StoreError,
  writeFileAtomic,
} from '../store/atomic-file.js';
import type { AddressManager } from './addrman.js';
import { type LoadedAddressManager, loadAddressManager, saveAddressManager } from './persist.js';

export const DATADIR_FILES = {
  addrman: 'peers.dat',
  bans: 'banlist.dat',
  anchors: 'anchors.dat',
} as const;

const BANS_KIND = 'bans';
const ANCHORS_KIND = 'anch';
const FORMAT = 1;
/** Bounds what a file can make us allocate (Core keeps at most 2 anchors). */
const MAX_ANCHORS = 64;
const MAX_TEXT = 1_024;

export interface Loaded<T> {
  value: T;
  /** Why the file could not be used (absent when it was fine or did not exist). */
  problem?: StoreError;
  /** Where the bad file was moved to. */
  movedTo?: string;
}

export interface DataDirOptions {
  /** Told about every unusable file, after it has been moved aside. */
  onProblem?: (problem: StoreError, movedTo: string | undefined) => void;
}

/** Ban entries as bytes: a versioned JSON document (small, and read by people). */
export function serializeBans(entries: readonly BanEntry[]): Buffer {
  const bans = entries.map(({ host, reason, untilMs }) => ({ host, reason, untilMs }));
  return Buffer.from(JSON.stringify({ format: FORMAT, bans }), 'utf8');
}

/** Ban entries from bytes; throws StoreError('corrupt') naming what is wrong. */
export function deserializeBans(bytes: Uint8Array, path = 'ban list'): BanEntry[] {
  const doc = parseJson(bytes, path) as { format?: unknown; bans?: unknown };
  if (doc?.format !== FORMAT) {
    throw new StoreError('corrupt', path, `unknown ban list format ${String(doc?.format)}`);
  }
  if (!Array.isArray(doc.bans)) throw new StoreError('corrupt', path, '"bans" is not a list');
  return doc.bans.map((b: unknown, i) => {
    const e = b as Partial<BanEntry> | null;
    if (
      typeof e?.host !== 'string' ||
      e.host.length === 0 ||
      e.host.length > MAX_TEXT ||
      typeof e.reason !== 'string' ||
      e.reason.length > MAX_TEXT ||
      typeof e.untilMs !== 'number' ||
      !Number.isFinite(e.untilMs)
    ) {
      throw new StoreError('corrupt', path, `ban ${i} is not {host, reason, untilMs}`);
    }
    return { host: e.host, reason: e.reason, untilMs: e.untilMs };
  });
}

export function serializeAnchors(anchors: readonly string[]): Buffer {
  return Buffer.from(JSON.stringify({ format: FORMAT, anchors }), 'utf8');
}

export function deserializeAnchors(bytes: Uint8Array, path = 'anchors'): string[] {
  const doc = parseJson(bytes, path) as { format?: unknown; anchors?: unknown };
  if (doc?.format !== FORMAT) {
    throw new StoreError('corrupt', path, `unknown anchors format ${String(doc?.format)}`);
  }
  const list = doc.anchors;
  if (
    !Array.isArray(list) ||
    list.length > MAX_ANCHORS ||
    !list.every((a) => typeof a === 'string' && a.length > 0 && a.length <= MAX_TEXT)
  ) {
    throw new StoreError('corrupt', path, '"anchors" is not a list of addresses');
  }
  return list as string[];
}

function parseJson(bytes: Uint8Array, path: string): unknown {
  try {
    return JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw new StoreError('corrupt', path, `not JSON: ${(err as Error).message}`);
  }
}

export class DataDir {
  private constructor(
    readonly dir: string,
    private readonly options: DataDirOptions,
  ) {}

  /** Opens (creating if needed) a data directory. */
  static async open(dir: string, options: DataDirOptions = {}): Promise<DataDir> {
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw new StoreError(
        'io',
        dir,
        `cannot create the data directory: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
    return new DataDir(dir, options);
  }

  path(file: keyof typeof DATADIR_FILES): string {
    return join(this.dir, DATADIR_FILES[file]);
  }

  // ---- address manager ----------------------------------------------------------

  /** `allowLocal`: see AddressManagerOptions (saved local entries are dropped without it). */
  async loadAddressManager(
    clock: Pick<Clock, 'now' | 'random'>,
    options: { allowLocal?: boolean } = {},
  ): Promise<LoadedAddressManager> {
    const loaded = await loadAddressManager(this.path('addrman'), { clock, ...options });
    if (loaded.problem) this.options.onProblem?.(loaded.problem, loaded.movedTo);
    return loaded;
  }

  saveAddressManager(manager: AddressManager): Promise<void> {
    return saveAddressManager(this.path('addrman'), manager);
  }

  // ---- bans -----------------------------------------------------------------------

  async loadBans(): Promise<Loaded<BanEntry[]>> {
    return this.load(this.path('bans'), BANS_KIND, [], (b, p) => deserializeBans(b, p));
  }

  saveBans(entries: readonly BanEntry[]): Promise<void> {
    return writeFileAtomic(this.path('bans'), BANS_KIND, serializeBans(entries));
  }

  /**
   * Loads the ban list into `engine`: bans still running on its clock are
   * applied with their original end. Returns the load result and how many applied.
   */
  async restoreBans(engine: Engine): Promise<Loaded<BanEntry[]> & { applied: number }> {
    const loaded = await this.loadBans();
    let applied = 0;
    const now = engine.clock.now();
    for (const ban of loaded.value) {
      if (ban.untilMs <= now) continue;
      engine.ban(ban.host, ban.reason, ban.untilMs - now);
      applied++;
    }
    return { ...loaded, applied };
  }

  // ---- anchors ------------------------------------------------------------------

  /**
   * Reads the anchors and deletes the file, as Core does: anchors are for the
   * next start only, and a crash before the next clean shutdown must not make
   * stale ones come back.
   */
  async loadAnchors(): Promise<Loaded<string[]>> {
    const path = this.path('anchors');
    const loaded = await this.load(path, ANCHORS_KIND, [], (b, p) => deserializeAnchors(b, p));
    if (!loaded.problem) await unlink(path).catch(() => {});
    return loaded;
  }

  saveAnchors(anchors: readonly string[]): Promise<void> {
    return writeFileAtomic(this.path('anchors'), ANCHORS_KIND, serializeAnchors(anchors));
  }

  // ---- all of it ------------------------------------------------------------------

  /** Saves the address manager, the engine's bans and `anchors` (each file atomically). */
  async saveAll(state: {
    addrman: AddressManager;
    engine?: Engine;
    bans?: readonly BanEntry[];
    anchors?: readonly string[];
  }): Promise<void> {
    await this.saveAddressManager(state.addrman);
    const bans = state.bans ?? state.engine?.bans();
    if (bans) await this.saveBans(bans);
    if (state.anchors) await this.saveAnchors(state.anchors);
  }

  private async load<T>(
    path: string,
    kind: string,
    empty: T,
    decode: (bytes: Buffer, path: string) => T,
  ): Promise<Loaded<T>> {
    await removeStaleTemps(path);
    let problem: StoreError;
    try {
      return { value: decode(await readFileChecked(path, kind), path) };
    } catch (err) {
      if (!(err instanceof StoreError)) throw err;
      if (err.code === 'missing') return { value: empty };
      problem = err;
    }
    let movedTo: string | undefined;
    if (problem.code !== 'io') {
      try {
        await rename(path, `${path}.bad`);
        movedTo = `${path}.bad`;
      } catch {
        // Left in place: the next save replaces it all the same.
      }
    }
    this.options.onProblem?.(problem, movedTo);
    return movedTo ? { value: empty, problem, movedTo } : { value: empty, problem };
  }
}
