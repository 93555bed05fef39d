// `peerwire sync --blocks --datadir DIR`: after the headers, the blocks of the
// best header chain, from every connected peer at once (ts/block/download.ts:
// Core's moving window, 16 in flight per peer, stall and download timeouts),
// each verified against its header and stored in DIR/blocks (a BlockStore;
// the directory's layout is in sync-datadir.ts).
//
// A rerun with the same DIR loads the headers, syncs what is new, and asks the
// store which blocks it holds: those are not downloaded again. After a kill -9
// the store reopens consistent (it repairs a torn tail) and the download
// resumes from what it holds.
import { BlockError } from '../block/check.js';
import { type DownloadProgress, downloadBlocks } from '../block/download.js';
import type { BlockSink } from '../block/sink.js';
import { headerHash } from '../chain/block.js';
import { hashToHex } from '../chain/hash.js';
import type { HeaderChain } from '../chain/headerchain.js';
import type { Engine } from '../engine/engine.js';
import type { Peer } from '../engine/peer.js';
import { StoreError } from '../store/atomic-file.js';
import { headerCount } from '../wire/headers.js';
import { formatCount, logLine, type Progress } from './output.js';
import { type Datadir, prunedFrom, savePrunedHeight } from './sync-datadir.js';

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
