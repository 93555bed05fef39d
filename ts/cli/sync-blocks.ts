// `peerwire sync --blocks --datadir DIR`: after the headers, the blocks of the
// best header chain, from every connected peer at once (ts/block/download.ts:
// Core's moving window, 16 in flight per peer, stall and download timeouts),
// each verified against its header and stored in DIR/blocks (a BlockStore).
//
// The data directory:
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
// A rerun with the same DIR loads the headers, syncs what is new, and asks the
// store which blocks it holds: those are not downloaded again. After a kill -9
// the store reopens consistent (it repairs a torn tail) and the download
// resumes from what it holds.
import {
  accessSync,
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { BlockError } from '../block/check.js';
import { type DownloadProgress, downloadBlocks } from '../block/download.js';
import type { BlockSink } from '../block/sink.js';
import { headerHash } from '../chain/block.js';
import { hashToHex, hexToHash } from '../chain/hash.js';
import { chainFor, type HeaderChain } from '../chain/headerchain.js';
import { decodeHeaders, encodeHeaders } from '../chain/headersfile.js';
import type { Network } from '../config/schema.js';
import type { Engine } from '../engine/engine.js';
import type { Peer } from '../engine/peer.js';
import {
  readFileChecked,
  removeStaleTemps,
  StoreError,
  writeFileAtomic,
} from '../store/atomic-file.js';
import { BlockStore, DEFAULT_MAX_FILE_BYTES } from '../store/blocks/store.js';
import { headerCount } from '../wire/headers.js';
import { CliError } from './args.js';
import { formatCount, logLine, type Progress } from './output.js';

export const HEADERS_FILE = 'headers.dat';
export const BLOCKS_DIR = 'blocks';
export const LOCK_FILE = '.lock';
export const PRUNED_FILE = 'pruned.dat';
const PRUNED_KIND = 'prun';
/** A pruned store's data files are a fraction of the target, so pruning can keep near it. */
const PRUNE_FILES_PER_TARGET = 8;
const MIN_PRUNED_FILE_BYTES = 64 * 1024;
/** The kind of the checked file that holds the headers. */
const HEADERS_KIND = 'hdrs';

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
 * Takes DIR/.lock for this process; returns its release. A lock held by a
 * live process is a failure (exit 1); one left by a process that is gone is
 * taken over.
 */
export function lockDatadir(dir: string): () => void {
  const path = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(path, 'wx', 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => {
        try {
          unlinkSync(path);
        } catch {
          // Gone already: nothing to release.
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        throw new CliError(`--datadir ${dir}: cannot take ${path}: ${(err as Error).message}`);
      }
    }
    const pid = Number.parseInt(readOrEmpty(path), 10);
    if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new CliError(`--datadir ${dir} is in use by process ${pid} (${path})`);
    }
    try {
      unlinkSync(path); // stale: its process is gone
    } catch {
      // Removed by someone else meanwhile: the next attempt says who holds it.
    }
  }
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
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
  const path = join(dir, HEADERS_FILE);
  await removeStaleTemps(path);
  let chain: HeaderChain;
  let bytes: Buffer | undefined;
  try {
    bytes = await readFileChecked(path, HEADERS_KIND);
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    if (err.code === 'corrupt' || err.code === 'truncated') {
      // Headers can be synced again; the blocks stay where they are.
      process.stderr.write(`peerwire sync: ${err.message}; syncing the headers from genesis\n`);
    } else if (err.code !== 'missing') {
      throw new CliError(`--datadir ${dir}: ${err.message}`, err.code === 'wrong-kind' ? 2 : 1);
    }
  }
  if (bytes === undefined) {
    chain = chainFor(network);
  } else {
    // The layout of encodeHeaders: "PWHDRS01", the magic (4), the genesis hash (32).
    const magic = bytes.subarray(8, 12).toString('hex');
    if (
      bytes.length >= 44 &&
      (magic !== network.magic || !bytes.subarray(12, 44).equals(hexToHash(network.genesisHash)))
    ) {
      throw new CliError(
        `--datadir ${dir} holds another network's headers (magic ${magic}), not ${network.name}'s`,
        2,
      );
    }
    try {
      chain = decodeHeaders(bytes, network, path);
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
    await writeFileAtomic(join(dir, HEADERS_FILE), HEADERS_KIND, encodeHeaders(chain));
  } catch (err) {
    throw new CliError(`--datadir ${dir}: ${(err as Error).message}`);
  }
}

/**
 * With --prune: the first height to download. Every block below it was
 * stored once (pruned since, or still there); the saved height must still be
 * on the best chain (a reorg below it starts over from height 1).
 */
async function prunedFrom(dir: string, chain: HeaderChain): Promise<number> {
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

async function savePrunedHeight(dir: string, chain: HeaderChain, height: number): Promise<void> {
  const hash = chain.hashAt(height);
  if (!hash) return;
  const payload = Buffer.alloc(36);
  payload.writeUInt32LE(height, 0);
  hash.copy(payload, 4);
  await writeFileAtomic(join(dir, PRUNED_FILE), PRUNED_KIND, payload);
}

/**
 * Remembers the last header each peer sent (from the headers sync on), so the
 * download knows a peer has the blocks up to it even past the height its
 * version announced. Returns the lookup: that header's height on `chain`'s
 * best chain, or undefined.
 */
export function watchPeerHeaders(
  engine: Engine,
  chain: HeaderChain,
): (peer: Peer) => number | undefined {
  const last = new Map<Peer, Buffer>();
  engine.on('disconnected', (peer) => last.delete(peer));
  engine.on('headers', (peer, payload) => {
    const count = headerCount(payload);
    const header = count > 0 ? payload.headers[count - 1] : undefined;
    if (header) last.set(peer, headerHash(header));
  });
  return (peer) => {
    const hash = last.get(peer);
    return hash ? chain.heightOf(hash) : undefined;
  };
}

export interface BlockSyncOptions {
  /** How a peer is named in the summary (its --connect address). */
  labelOf: (peer: Peer) => string;
  /** The height a peer is known to have past its version's (watchPeerHeaders). */
  peerHeight?: (peer: Peer) => number | undefined;
  /**
   * With no peer left, or none that has the next block, for this long the
   * download stops (rerun to resume).
   */
  noPeersTimeoutMs: number;
  /** The bar on a terminal; undefined for --json. */
  progress?: Progress;
  /** Log lines on stderr when it is not a terminal (and not --json). */
  log: boolean;
}

export interface BlockSyncResult {
  /**
   * Every block of the best header chain up to `target` is stored (with
   * --prune: was stored; the oldest may be deleted since).
   */
  complete: boolean;
  /** Why not, when not. */
  error?: string;
  /** It stopped at a block that failed its check (the sender was penalised). */
  invalid?: boolean;
  /** The header chain's height the download aimed at, and its tip. */
  target: { height: number; hash: string };
  /** The first height this run considered (above 1 with --prune: those below were stored before). */
  fromHeight: number;
  /** The top of the contiguous stored prefix. */
  height: number;
  /** Blocks of the chain the store held before this run. */
  alreadyStored: number;
  /** Blocks downloaded, verified and stored by this run. */
  downloaded: number;
  /** Blocks of the chain (fromHeight to target) the store now holds. */
  stored: number;
  /** Bytes of the blocks this run stored. */
  bytes: number;
  seconds: number;
  /** Blocks received from each peer (its label), most first. */
  peers: Array<{ peer: string; blocks: number; bytes: number }>;
  /** Times a peer was found holding back the window. */
  stalls: number;
  /** Peers the download disconnected, and why. */
  dropped: Array<{ peer: string; reason: string; detail: string }>;
  store: { blocks: number; bytes: number; files: number; recovered: number; problems: number };
}

/**
 * Downloads the blocks of `chain`'s best chain from `engine`'s ready peers
 * into `store`. Never throws for the download's own failures (an invalid
 * block, no peers left, a store that refuses): the result says why it is not
 * complete.
 */
export async function syncBlocks(
  engine: Engine,
  chain: HeaderChain,
  datadir: Datadir,
  options: BlockSyncOptions,
): Promise<BlockSyncResult> {
  const { store } = datadir;
  const pruning = datadir.pruneBytes !== undefined;
  const target = chain.height;
  const from = Math.min(pruning ? await prunedFrom(datadir.dir, chain) : 1, target + 1);
  const countStored = () => {
    let n = 0;
    for (let h = from; h <= target; h++) if (store.has(chain.hashAt(h) as Buffer)) n++;
    return n;
  };
  const alreadyStored = countStored();
  let downloaded = 0;
  // Puts still being written when the download stops are waited for, so the
  // summary counts every block the store will hold.
  const writing = new Set<Promise<unknown>>();
  let bytesStored = 0;
  const sink: BlockSink = {
    has: (hash) => store.has(hash),
    put: async (hash, raw) => {
      const put = store.put(hash, raw);
      writing.add(put);
      try {
        if (await put) {
          bytesStored += raw.length;
          downloaded++;
        }
      } finally {
        writing.delete(put);
      }
    },
  };
  const started = performance.now();
  const perPeer = new Map<string, { blocks: number; bytes: number }>();
  const offBlock = engine.on('block', (peer, payload) => {
    const label = options.labelOf(peer);
    const row = perPeer.get(label) ?? { blocks: 0, bytes: 0 };
    row.blocks++;
    row.bytes += payload.raw.length;
    perPeer.set(label, row);
  });
  const dl = downloadBlocks(engine, chain, sink, {
    fromHeight: from,
    progressIntervalMs: 250,
    ...(options.peerHeight ? { peerHeight: options.peerHeight } : {}),
  });
  // With --prune, where the contiguous prefix has reached, so a rerun does not
  // fetch pruned blocks again (saved at most once a second, and at the end).
  let savedHeight = from - 1;
  let saving: Promise<void> = Promise.resolve();
  const savePruned = (height: number) => {
    if (!pruning || height <= savedHeight) return;
    savedHeight = height;
    // A write that fails leaves an older mark: it costs only re-downloads.
    saving = saving.then(() => savePrunedHeight(datadir.dir, chain, height)).catch(() => {});
  };
  let stalls = 0;
  const dropped: BlockSyncResult['dropped'] = [];
  dl.on('stalling', () => stalls++);
  dl.on('peer-dropped', (peer, reason, detail) =>
    dropped.push({ peer: options.labelOf(peer), reason, detail }),
  );

  let lastLogged = -1;
  const show = (p: DownloadProgress) => {
    const done = from - 1 + alreadyStored + p.downloaded;
    const remaining = target - done;
    const eta = p.blocksPerSecond > 0 ? remaining / p.blocksPerSecond : undefined;
    const peers = engine.readyPeers.length;
    options.progress?.update(
      'blocks',
      done,
      target,
      `${p.blocksPerSecond.toFixed(1)} blk/s ${(p.bytesPerSecond / 1e6).toFixed(2)} MB/s ` +
        `${peers} peer${peers === 1 ? '' : 's'} ETA ${eta === undefined ? '?' : formatSeconds(eta)}`,
    );
    if (options.log && done !== lastLogged) {
      lastLogged = done;
      process.stderr.write(
        `${logLine('blocks', {
          stored: done,
          target,
          height: p.height,
          downloaded: p.downloaded,
          bytes: p.bytes,
          peers,
          inFlight: p.inFlight,
        })}\n`,
      );
    }
  };
  dl.on('progress', show);

  // Stuck: no peer left, or none asked for anything (none has the next block)
  // while nothing arrived. Stops once that has lasted noPeersTimeoutMs.
  let error: string | undefined;
  let invalid = false;
  let stuckSince: number | undefined;
  let lastDownloaded = -1;
  const tick = setInterval(() => {
    const p = dl.progress();
    show(p);
    savePruned(p.height);
    const none = engine.readyPeers.length === 0;
    const idle = p.inFlight === 0 && p.downloaded === lastDownloaded;
    lastDownloaded = p.downloaded;
    if (!none && !idle) {
      stuckSince = undefined;
      return;
    }
    stuckSince ??= performance.now();
    if (performance.now() - stuckSince >= options.noPeersTimeoutMs) {
      const waited = `waited ${options.noPeersTimeoutMs / 1000} s`;
      error = none
        ? `no peer left to download from (${waited})`
        : `no peer has the block at height ${p.height + 1} (${waited})`;
      dl.stop();
    }
  }, 1_000);
  const interrupt = (signal: string) => () => {
    error = `interrupted by ${signal}`;
    dl.stop();
  };
  const onInt = interrupt('SIGINT');
  const onTerm = interrupt('SIGTERM');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);

  let summary: Awaited<typeof dl.done> | undefined;
  try {
    summary = await dl.done;
  } catch (err) {
    invalid = err instanceof BlockError;
    error =
      err instanceof BlockError
        ? `invalid block: ${err.message}`
        : err instanceof StoreError
          ? `block store: ${err.message}`
          : (err as Error).message;
  } finally {
    clearInterval(tick);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    offBlock();
  }
  await Promise.allSettled([...writing]);
  const p = summary ?? dl.progress();
  show(p);
  options.progress?.done();
  savePruned(p.height);
  await saving;
  const stored = countStored();
  const complete = summary?.complete === true && (pruning || stored === target - from + 1);
  const stats = store.stats();
  return {
    complete,
    ...(complete ? {} : { error: error ?? 'stopped before the last block' }),
    ...(invalid ? { invalid } : {}),
    target: { height: target, hash: hashToHex(chain.hashAt(target) as Buffer) },
    fromHeight: from,
    height: p.height,
    alreadyStored,
    downloaded,
    stored,
    bytes: bytesStored,
    seconds: (performance.now() - started) / 1000,
    peers: [...perPeer]
      .map(([peer, r]) => ({ peer, ...r }))
      .sort((a, b) => b.blocks - a.blocks || a.peer.localeCompare(b.peer)),
    stalls,
    dropped,
    store: {
      ...stats,
      recovered: store.report.recovered,
      problems: store.report.problems.length,
    },
  };
}

/** The block phase's lines for people. */
export function describeBlocks(r: BlockSyncResult): string[] {
  const mb = (r.bytes / 1e6).toFixed(2);
  const lines = [
    `blocks: ${formatCount(r.stored)}/${formatCount(r.target.height)} stored ` +
      `(${formatCount(r.downloaded)} downloaded, ${mb} MB in ${r.seconds.toFixed(2)} s; ` +
      `${formatCount(r.alreadyStored)} were stored already)`,
  ];
  if (r.peers.length > 0) {
    lines.push(`from ${r.peers.map((p) => `${p.peer} (${formatCount(p.blocks)})`).join(', ')}`);
  }
  if (r.stalls > 0 || r.dropped.length > 0) {
    lines.push(
      `${r.stalls} stall${r.stalls === 1 ? '' : 's'}; dropped: ${
        r.dropped.map((d) => `${d.peer} (${d.reason})`).join(', ') || 'none'
      }`,
    );
  }
  if (r.store.recovered > 0 || r.store.problems > 0) {
    lines.push(
      `the store repaired ${r.store.problems} problem(s) on opening, ${r.store.recovered} block(s) recovered`,
    );
  }
  return lines;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  if (s < 60) return `${Math.ceil(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.ceil(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function statOrUndefined(path: string) {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}
