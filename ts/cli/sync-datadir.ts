// The data directory of `peerwire sync --blocks --datadir DIR`:
//   DIR/headers.dat   the best header chain, rewritten atomically (a checked
//                     "PWST"/"hdrs" file around the `sync --out` layout) once
//                     the headers are synced, before the blocks start
//   DIR/blocks/       the block store: a block is counted as stored only once
//                     it and its index record are fsync'd
//   DIR/pruned.dat    with --prune only: the height up to which every block
//                     was stored (some deleted since), and its hash; a rerun
//                     starts above it instead of fetching pruned blocks again
//   DIR/.lock         the pid of the sync using DIR: a second one is refused;
//                     a lock whose process is gone (kill -9) is taken over
// Opening checks it is writable and of this network, takes the lock, loads
// the headers and opens the store (which repairs what a kill -9 left).
import { accessSync, constants, mkdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { hexToHash } from '../chain/hash.js';
import { chainFor, type HeaderChain } from '../chain/headerchain.js';
import type { Network } from '../config/schema.js';
import { readFileChecked, StoreError, writeFileAtomic } from '../store/atomic-file.js';
import { BlockStore, DEFAULT_MAX_FILE_BYTES } from '../store/blocks/store.js';
import {
  decodeHeadersPayload,
  HEADERS_FILE,
  headersNetworkOf,
  readHeadersPayload,
  writeHeadersPayload,
} from '../store/headers-file.js';
import { CliError } from './args.js';
import { LOCK_FILE, lockDatadir } from './datadir-lock.js';

export { HEADERS_FILE };
export const BLOCKS_DIR = 'blocks';
export { LOCK_FILE };
export const PRUNED_FILE = 'pruned.dat';
const PRUNED_KIND = 'prun';
/** A pruned store's data files are a fraction of the target, so pruning can keep near it. */
const PRUNE_FILES_PER_TARGET = 8;
const MIN_PRUNED_FILE_BYTES = 64 * 1024;

export interface Datadir {
  dir: string;
  /** The headers it held (just genesis for a new one). */
  chain: HeaderChain;
  store: BlockStore;
  /** --prune: the data files are kept under this many bytes. */
  pruneBytes?: number;
  /** Closes the store and gives up the lock. */
  close(): Promise<void>;
}

/**
 * Checks, before any network work, that `dir` is (or can be made) a writable
 * directory; creates it. Bad usage (exit 2) otherwise.
 */
export function prepareDatadir(dir: string): string {
  const full = resolve(dir);
  const bad = (why: string) => new CliError(`--datadir ${dir}: ${why}`, 2);
  const stat = statOrUndefined(full);
  if (stat && !stat.isDirectory()) throw bad('is not a directory');
  if (!stat) {
    // Its parent must exist: one mkdir, not a recursive one (which, on Node 20,
    // spins for ever under /proc).
    const parent = statOrUndefined(dirname(full));
    if (!parent?.isDirectory()) throw bad(`directory ${dirname(full)} does not exist`);
    try {
      mkdirSync(full);
    } catch (err) {
      throw bad(`cannot be created (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
    }
  }
  try {
    accessSync(full, constants.W_OK | constants.X_OK);
  } catch {
    throw bad('is not writable');
  }
  return full;
}

/**
 * Opens the headers and the block store of `dir` for `network`. A directory
 * that holds another network's data is bad usage (exit 2); a damaged headers
 * file or a store the file system refuses is a failure (exit 1).
 */
export async function openDatadir(
  dir: string,
  network: Network,
  pruneBytes?: number,
): Promise<Datadir> {
  const release = lockDatadir(dir);
  try {
    const { chain, store } = await openLocked(dir, network, pruneBytes);
    return {
      dir,
      chain,
      store,
      ...(pruneBytes === undefined ? {} : { pruneBytes }),
      close: async () => {
        try {
          await store.close();
        } finally {
          release();
        }
      },
    };
  } catch (err) {
    release();
    throw err;
  }
}

async function openLocked(
  dir: string,
  network: Network,
  pruneBytes: number | undefined,
): Promise<{ chain: HeaderChain; store: BlockStore }> {
  let chain: HeaderChain;
  let bytes: Buffer | undefined;
  try {
    bytes = await readHeadersPayload(dir);
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    if (err.code === 'corrupt' || err.code === 'truncated') {
      // Headers can be synced again; the blocks stay where they are.
      process.stderr.write(`peerwire sync: ${err.message}; syncing the headers from genesis\n`);
    } else {
      throw new CliError(`--datadir ${dir}: ${err.message}`, err.code === 'wrong-kind' ? 2 : 1);
    }
  }
  if (bytes === undefined) {
    chain = chainFor(network);
  } else {
    const of = headersNetworkOf(bytes);
    if (of && (of.magic !== network.magic || !of.genesis.equals(hexToHash(network.genesisHash)))) {
      throw new CliError(
        `--datadir ${dir} holds another network's headers (magic ${of.magic}), not ${network.name}'s`,
        2,
      );
    }
    try {
      chain = decodeHeadersPayload(dir, bytes, network);
    } catch (err) {
      throw new CliError(`--datadir ${dir}: ${(err as Error).message}`);
    }
  }
  let store: BlockStore;
  try {
    const prune =
      pruneBytes === undefined
        ? {}
        : {
            prune: { targetBytes: pruneBytes },
            maxFileBytes: Math.min(
              DEFAULT_MAX_FILE_BYTES,
              Math.max(MIN_PRUNED_FILE_BYTES, Math.floor(pruneBytes / PRUNE_FILES_PER_TARGET)),
            ),
          };
    store = await BlockStore.open(join(dir, BLOCKS_DIR), { magic: network.magic, ...prune });
  } catch (err) {
    const wrong = err instanceof StoreError && err.code === 'wrong-kind';
    throw new CliError(
      `--datadir ${dir}: ${wrong ? `holds another network's blocks, not ${network.name}'s: ` : ''}${(err as Error).message}`,
      wrong ? 2 : 1,
    );
  }
  return { chain, store };
}

/** Writes the best header chain to DIR/headers.dat, atomically and durably. */
export async function saveHeaders(dir: string, chain: HeaderChain): Promise<void> {
  try {
    await writeHeadersPayload(dir, chain);
  } catch (err) {
    throw new CliError(`--datadir ${dir}: ${(err as Error).message}`);
  }
}

/**
 * With --prune: the first height to download. Every block below it was
 * stored once (pruned since, or still there); the saved height must still be
 * on the best chain (a reorg below it starts over from height 1).
 */
export async function prunedFrom(dir: string, chain: HeaderChain): Promise<number> {
  let payload: Buffer;
  try {
    payload = await readFileChecked(join(dir, PRUNED_FILE), PRUNED_KIND);
  } catch {
    return 1; // none yet, or unreadable: nothing is assumed stored
  }
  if (payload.length !== 36) return 1;
  const height = payload.readUInt32LE(0);
  const hash = chain.hashAt(height);
  return hash?.equals(payload.subarray(4)) ? height + 1 : 1;
}

export async function savePrunedHeight(
  dir: string,
  chain: HeaderChain,
  height: number,
): Promise<void> {
  const hash = chain.hashAt(height);
  if (!hash) return;
  const payload = Buffer.alloc(36);
  payload.writeUInt32LE(height, 0);
  hash.copy(payload, 4);
  await writeFileAtomic(join(dir, PRUNED_FILE), PRUNED_KIND, payload);
}

function statOrUndefined(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}
