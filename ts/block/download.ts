// Block download after headers, in Bitcoin Core's shape (net_processing.cpp,
// FindNextBlocksToDownload and SendMessages): a moving window of blocks from
// the first one we lack up to BLOCK_DOWNLOAD_WINDOW ahead, at most
// MAX_BLOCKS_IN_TRANSIT_PER_PEER in flight per peer, each block verified
// against its header before it is stored.
//
// Timeouts, all on the engine's clock (so the simulator drives this as it is):
// - Stalling: when a peer has no request in flight and the window has no
//   block left for it, and the window cannot move because its first block is in
//   flight from another peer, that peer is marked as stalling the download.
//   If it still has not delivered after the stalling timeout (2 s, adaptive:
//   see stall.ts) it is disconnected and its blocks are asked of others.
// - Block download timeout: a peer's oldest request must be answered within
//   a base (10 min, Core's one block interval) plus 5 min (Core: half an
//   interval) per other peer downloading, counted from when that request
//   became its oldest, as Core's m_downloading_since does.
// - notfound: the block is asked of another peer at once; that peer is not
//   asked for it again.
// - A block whose bytes are not the block its header commits to (a mutation:
//   BlockError.mutated) costs its sender the misbehaviour score and the
//   connection, and is asked of another peer. A block that is invalid itself
//   costs its sender the same, and ends the download with the BlockError.
//
// Blocks are stored in whatever order they arrive; progress counts the
// contiguous prefix. blocks() yields them in height order and, while it is
// iterated, holds the window back to the consumer (so at most a window of
// blocks waits in memory).
import { headerHash } from '../chain/block.js';
import type { HeaderChain } from '../chain/headerchain.js';
import type { TimerHandle } from '../engine/clock.js';
import { Emitter } from '../engine/emitter.js';
import type { Engine } from '../engine/engine.js';
import { RequestTimeoutError } from '../engine/errors.js';
import type { Peer } from '../engine/peer.js';
import { headerCount } from '../wire/headers.js';
import { INV_TYPE } from '../wire/types.js';
import { type BlockCheckOptions, BlockError, checkBlockAsync } from './check.js';
import { fetchBlock, servesHeight } from './request.js';
import type { BlockSink } from './sink.js';
import {
  BLOCK_STALLING_TIMEOUT_DEFAULT_MS,
  BLOCK_STALLING_TIMEOUT_MAX_MS,
  StallingTimeout,
} from './stall.js';

/** BLOCK_DOWNLOAD_WINDOW: how far past the first missing block we request. */
export const BLOCK_DOWNLOAD_WINDOW = 1_024;
/** MAX_BLOCKS_IN_TRANSIT_PER_PEER. */
export const MAX_BLOCKS_IN_TRANSIT_PER_PEER = 16;
/** Core's BLOCK_DOWNLOAD_TIMEOUT_BASE (1 × the 10-minute block interval). */
export const BLOCK_DOWNLOAD_TIMEOUT_BASE_MS = 600_000;
/** Core's BLOCK_DOWNLOAD_TIMEOUT_PER_PEER (0.5 × the interval per other downloading peer). */
export const BLOCK_DOWNLOAD_TIMEOUT_PER_PEER_MS = 300_000;
/** What a peer that sent a mutated or invalid block is charged (Core: discouraged). */
export const BAD_BLOCK_SCORE = 100;
/** Windows of already-held blocks walked past in one turn of the event loop. */
const STORED_WINDOWS_PER_TURN = 8;

export interface DownloadOptions {
  /** First height to fetch (default 1: genesis is not downloaded). */
  fromHeight?: number;
  /** Last height to fetch (default: the chain's height when the download starts). */
  toHeight?: number;
  window?: number;
  maxInFlightPerPeer?: number;
  /** The stalling timeout's start and ceiling (Core: 2 s and 64 s). */
  stallTimeoutMs?: number;
  maxStallTimeoutMs?: number;
  blockTimeoutBaseMs?: number;
  blockTimeoutPerPeerMs?: number;
  /** Misbehaviour charged for a mutated or invalid block (default 100). */
  badBlockScore?: number;
  /**
   * Check options for the block at a height (the hash is always the
   * header's). Default: BIP 34 from the network's `versionHeights.bip34`,
   * segwit from its `segwitHeight` (as Core: below it a witness commitment is
   * not checked, and witness data is refused).
   */
  checkOptions?: (height: number) => Omit<BlockCheckOptions, 'expectedHash'>;
  /**
   * The block check (default checkBlockAsync, on the thread pool). Must reject
   * with BlockError for a bad block. The simulator passes the synchronous
   * checkBlock so that virtual time does not move during a check.
   */
  verify?: (raw: Uint8Array, options: BlockCheckOptions) => Promise<unknown>;
  /** Peers to download from, among ready ones (default: all that serve blocks). */
  peerFilter?: (peer: Peer) => boolean;
  /**
   * The best height of our chain a peer is known to have besides its
   * version's start height and what it announces during the download: say,
   * the last header it sent in a headers sync before the download (Core's
   * UpdateBlockAvailability counts every headers message). Without it, blocks
   * past a peer's start height are asked of it only once it announces them.
   */
  peerHeight?: (peer: Peer) => number | undefined;
  /** At most one progress event per this many ms, besides the last (default 1000; 0: every block). */
  progressIntervalMs?: number;
  /** Shorthand for on('progress', …). */
  onProgress?: (progress: DownloadProgress) => void;
}

export interface DownloadProgress {
  /** The top of the contiguous stored prefix (fromHeight - 1 before the first). */
  height: number;
  targetHeight: number;
  /** Blocks downloaded and stored by this download (not those the sink had). */
  downloaded: number;
  bytes: number;
  elapsedMs: number;
  blocksPerSecond: number;
  bytesPerSecond: number;
  /** Peers with blocks in flight. */
  peers: number;
  inFlight: number;
  /** The stalling timeout in force. */
  stallingTimeoutMs: number;
}

export interface DownloadSummary extends DownloadProgress {
  /** Every block up to targetHeight is stored (false: stopped). */
  complete: boolean;
  /** Peers this download disconnected, and why. */
  dropped: Array<{ peer: number; reason: string }>;
}

export interface DownloadedBlock {
  height: number;
  /** Wire order. */
  hash: Buffer;
  raw: Uint8Array;
}

export type DropReason = 'stalling' | 'block-download-timeout' | 'mutated-block' | 'invalid-block';

export interface DownloadEvents {
  progress: (progress: DownloadProgress) => void;
  /** A block verified and stored, in arrival order. */
  block: (block: DownloadedBlock) => void;
  /** A peer was found holding back the window: dropped if it has not delivered within `timeoutMs`. */
  stalling: (peer: Peer, timeoutMs: number) => void;
  /** A peer this download disconnected. */
  'peer-dropped': (peer: Peer, reason: DropReason, detail: string) => void;
}

export interface BlockDownload {
  /**
   * Resolves when every block up to the target is stored (or stop() was
   * called: `complete` false); rejects with the BlockError of an invalid
   * block, a sink's error, or DownloadStateError when the chain reorged below
   * the target meanwhile (found at the download's next event).
   */
  readonly done: Promise<DownloadSummary>;
  on<K extends keyof DownloadEvents>(event: K, handler: DownloadEvents[K]): () => void;
  /**
   * The downloaded blocks in height order (blocks the sink already had are
   * skipped). Call it once, before the first block is stored (blocks are
   * checked and stored asynchronously: right after downloadBlocks is in time). While it is iterated the window waits for it.
   */
  blocks(): AsyncIterableIterator<DownloadedBlock>;
  progress(): DownloadProgress;
  /** Stops requesting; `done` resolves with complete false. */
  stop(): void;
}

type SlotState = 'checking' | 'needed' | 'inflight' | 'verifying' | 'stored';

interface Slot {
  height: number;
  hash: Buffer;
  state: SlotState;
  /** Stored because the sink had it before (not downloaded, not iterated). */
  had: boolean;
  /** The peer it is in flight from. */
  from?: PeerDownload;
  /** Bumped at each request and release: answers to older requests are stale. */
  token: number;
  /** Peers not to ask again (they sent notfound or a bad copy). */
  excluded?: Set<number>;
}

interface PeerDownload {
  peer: Peer;
  /** Requests in the order sent. */
  inFlight: Slot[];
  /** When its oldest request became its oldest (Core's m_downloading_since). */
  downloadingSince: number;
  /** When it was found holding back the window (Core's m_stalling_since). */
  stallingSince?: number;
  /** Best height it announced after its version (headers / inv of blocks we know). */
  announced: number;
}

function exclude(slot: Slot, peerId: number): void {
  if (!slot.excluded) slot.excluded = new Set();
  slot.excluded.add(peerId);
}

export class DownloadStateError extends Error {
  override readonly name = 'DownloadStateError';
}

/**
 * Downloads the blocks of `chain`'s best chain from `engine`'s ready peers
 * into `sink`. See the module comment for the rules.
 */
export function downloadBlocks(
  engine: Engine,
  chain: HeaderChain,
  sink: BlockSink,
  options: DownloadOptions = {},
): BlockDownload {
  return new Downloader(engine, chain, sink, options).controller();
}

class Downloader {
  private readonly clock;
  private readonly events = new Emitter<DownloadEvents>();
  private readonly from: number;
  private readonly target: number;
  /** The block at `target` when the download began: every block below follows from it. */
  private readonly targetHash: Buffer | undefined;
  private readonly window: number;
  private readonly perPeer: number;
  private readonly timeoutBase: number;
  private readonly timeoutPerPeer: number;
  private readonly badScore: number;
  private readonly progressEvery: number;
  private readonly stalling: StallingTimeout;
  private readonly checkOptions: (height: number) => Omit<BlockCheckOptions, 'expectedHash'>;
  private readonly peerFilter: (peer: Peer) => boolean;
  private readonly knownHeight: (peer: Peer) => number | undefined;
  private readonly verify: (raw: Uint8Array, options: BlockCheckOptions) => Promise<unknown>;

  private readonly slots = new Map<number, Slot>();
  private readonly peers = new Map<number, PeerDownload>();
  /** Peers dropped by this download: never asked again. */
  private readonly droppedIds = new Set<number>();
  private readonly dropped: Array<{ peer: number; reason: string }> = [];
  /** The first height not stored: the contiguous prefix ends below it. */
  private base: number;
  /** The next height to give a slot. */
  private nextSlot: number;

  private readonly startedAt: number;
  private downloaded = 0;
  private bytes = 0;
  private lastProgressAt = -Infinity;
  private timer?: TimerHandle;
  private timerAt = Infinity;
  private scheduling = false;
  private again = false;
  private finished = false;
  private readonly unsubscribe: Array<() => void> = [];

  private resolveDone!: (s: DownloadSummary) => void;
  private rejectDone!: (e: unknown) => void;
  private readonly done: Promise<DownloadSummary>;
  private failure?: unknown;

  // The iterator: the next height it yields, blocks waiting for it, and its waiting reader.
  private iterating = false;
  private iterNext = 0;
  private readonly buffered = new Map<number, DownloadedBlock>();
  private wake?: () => void;

  constructor(
    private readonly engine: Engine,
    private readonly chain: HeaderChain,
    private readonly sink: BlockSink,
    options: DownloadOptions,
  ) {
    this.clock = engine.clock;
    this.from = options.fromHeight ?? 1;
    this.target = options.toHeight ?? chain.height;
    if (!Number.isInteger(this.from) || this.from < 0) {
      throw new RangeError(`fromHeight must be a non-negative integer, got ${this.from}`);
    }
    if (!Number.isInteger(this.target) || this.target > chain.height) {
      throw new RangeError(`toHeight ${this.target} is past the chain's height ${chain.height}`);
    }
    this.targetHash = chain.hashAt(this.target);
    this.window = options.window ?? BLOCK_DOWNLOAD_WINDOW;
    this.perPeer = options.maxInFlightPerPeer ?? MAX_BLOCKS_IN_TRANSIT_PER_PEER;
    if (!(this.window >= 1) || !(this.perPeer >= 1)) {
      throw new RangeError('window and maxInFlightPerPeer must be at least 1');
    }
    this.timeoutBase = options.blockTimeoutBaseMs ?? BLOCK_DOWNLOAD_TIMEOUT_BASE_MS;
    this.timeoutPerPeer = options.blockTimeoutPerPeerMs ?? BLOCK_DOWNLOAD_TIMEOUT_PER_PEER_MS;
    this.badScore = options.badBlockScore ?? BAD_BLOCK_SCORE;
    this.progressEvery = options.progressIntervalMs ?? 1_000;
    this.stalling = new StallingTimeout(
      options.stallTimeoutMs ?? BLOCK_STALLING_TIMEOUT_DEFAULT_MS,
      options.maxStallTimeoutMs ?? BLOCK_STALLING_TIMEOUT_MAX_MS,
    );
    const bip34 = engine.config.network.versionHeights.bip34;
    const segwit = engine.config.network.segwitHeight;
    this.checkOptions =
      options.checkOptions ??
      ((height) => ({
        ...(bip34 !== null && height >= bip34 ? { bip34Height: height } : {}),
        segwitActive: height >= segwit,
      }));
    this.peerFilter = options.peerFilter ?? (() => true);
    this.knownHeight = options.peerHeight ?? (() => undefined);
    this.verify = options.verify ?? checkBlockAsync;
    if (options.onProgress) this.events.on('progress', options.onProgress);
    this.base = this.from;
    this.nextSlot = this.from;
    this.iterNext = this.from;
    this.startedAt = this.clock.now();
    this.done = new Promise<DownloadSummary>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // A rejection nobody awaits is still reported through the iterator.
    this.done.catch(() => {});
    this.subscribe();
    this.schedule();
  }

  controller(): BlockDownload {
    return {
      done: this.done,
      on: (event, handler) => this.events.on(event, handler),
      blocks: () => this.blocks(),
      progress: () => this.progress(),
      stop: () => this.finish(undefined),
    };
  }

  // ---- engine events -----------------------------------------------------

  private subscribe(): void {
    const e = this.engine;
    this.unsubscribe.push(
      e.on('handshake', () => this.schedule()),
      e.on('disconnected', (peer) => {
        const pd = this.peers.get(peer.id);
        if (!pd) return;
        this.release(pd);
        this.peers.delete(peer.id);
        this.schedule();
      }),
      e.on('headers', (peer, payload) => {
        // Announcements only (a sync's 2,000-header answers are not read here).
        const count = headerCount(payload);
        if (count === 0 || count > 8) return;
        const last = payload.headers[count - 1];
        if (last) this.announce(peer, this.chain.heightOf(headerHash(last)));
      }),
      e.on('inv', (peer, payload) => {
        for (const inv of payload.inventory) {
          if (inv.type === INV_TYPE.block || inv.type === INV_TYPE.witnessBlock) {
            this.announce(peer, this.chain.heightOf(inv.hash));
          }
        }
      }),
    );
  }

  private announce(peer: Peer, height: number | undefined): void {
    if (height === undefined) return;
    const pd = this.peers.get(peer.id);
    if (pd && height > pd.announced) {
      pd.announced = height;
      this.schedule();
    } else if (!pd && this.usable(peer)) {
      const created = this.peerState(peer);
      created.announced = Math.max(created.announced, height);
      this.schedule();
    }
  }

  // ---- peers ---------------------------------------------------------------

  private usable(peer: Peer): boolean {
    return peer.ready && !this.droppedIds.has(peer.id) && this.peerFilter(peer);
  }

  private peerState(peer: Peer): PeerDownload {
    let pd = this.peers.get(peer.id);
    if (!pd) {
      pd = { peer, inFlight: [], downloadingSince: this.clock.now(), announced: 0 };
      this.peers.set(peer.id, pd);
    }
    return pd;
  }

  private heightOfPeer(pd: PeerDownload): number {
    return Math.max(pd.peer.startHeight ?? 0, pd.announced, this.knownHeight(pd.peer) ?? 0);
  }

  /** Gives a peer's requests back to the window: answers to them are now stale. */
  private release(pd: PeerDownload): void {
    for (const slot of pd.inFlight) {
      if (slot.from === pd && slot.state === 'inflight') {
        slot.state = 'needed';
        slot.from = undefined;
        slot.token++;
      }
    }
    pd.inFlight = [];
    pd.stallingSince = undefined;
  }

  private drop(pd: PeerDownload, reason: DropReason, detail: string): void {
    this.release(pd);
    this.peers.delete(pd.peer.id);
    if (this.droppedIds.has(pd.peer.id)) return;
    this.droppedIds.add(pd.peer.id);
    this.dropped.push({ peer: pd.peer.id, reason });
    if (pd.peer.active) pd.peer.disconnect(`${reason}: ${detail}`);
    this.events.emit('peer-dropped', pd.peer, reason, detail);
  }

  private penalise(pd: PeerDownload, reason: DropReason, detail: string): void {
    if (pd.peer.active) pd.peer.misbehaving(this.badScore, `${reason}: ${detail}`);
    this.drop(pd, reason, detail);
  }

  // ---- the window ----------------------------------------------------------

  /** The lowest height the window holds: the first unstored, or the iterator's next. */
  private get windowStart(): number {
    return this.iterating ? Math.min(this.base, this.iterNext) : this.base;
  }

  private get windowEnd(): number {
    return Math.min(this.windowStart + this.window - 1, this.target);
  }

  private extendWindow(): void {
    const end = this.windowEnd;
    while (this.nextSlot <= end) {
      const height = this.nextSlot++;
      const hash = this.chain.hashAt(height);
      if (!hash) {
        this.fail(new DownloadStateError(`the chain has no block at height ${height} any more`));
        return;
      }
      const slot: Slot = { height, hash, state: 'checking', had: false, token: 0 };
      this.slots.set(height, slot);
      let has: boolean | Promise<boolean>;
      try {
        has = this.sink.has(hash);
      } catch (err) {
        this.fail(err);
        return;
      }
      if (typeof has === 'boolean') {
        this.haveResult(slot, has);
      } else {
        has.then(
          (h) => {
            if (this.finished) return;
            this.haveResult(slot, h);
            this.schedule();
          },
          (err) => this.fail(err),
        );
      }
    }
  }

  private haveResult(slot: Slot, has: boolean): void {
    if (has) {
      slot.state = 'stored';
      slot.had = true;
    } else {
      slot.state = 'needed';
    }
  }

  /** Moves `base` past stored blocks and forgets slots below the window. */
  private advance(): void {
    while (this.base <= this.target && this.slots.get(this.base)?.state === 'stored') this.base++;
    const start = this.windowStart;
    for (const height of this.slots.keys()) {
      if (height >= start) break;
      this.slots.delete(height);
    }
  }

  /** Runs the scheduler (re-entrant calls run it again once the current pass ends). */
  private schedule(): void {
    if (this.finished) return;
    if (this.scheduling) {
      this.again = true;
      return;
    }
    this.scheduling = true;
    try {
      do {
        this.again = false;
        this.pass();
      } while (this.again && !this.finished);
    } finally {
      this.scheduling = false;
    }
  }

  /**
   * Whether the chain still has the block the download aims at (then every
   * height below it is unchanged too). A reorg below the target ends the
   * download with DownloadStateError: the blocks it holds and the slots it
   * made are of the old branch. Start a new download on the new chain.
   */
  private chainUnchanged(): boolean {
    const now = this.chain.hashAt(this.target);
    if (this.targetHash === undefined || now?.equals(this.targetHash) === true) {
      return true;
    }
    this.fail(
      new DownloadStateError(
        `the chain changed under the download (a reorg below height ${this.target}): ` +
          'start a new download on the new chain',
      ),
    );
    return false;
  }

  private pass(): void {
    if (!this.chainUnchanged()) return;
    // Until the window stops moving: blocks the sink holds answer at once, so
    // a window found all stored must be followed by the next one (nothing else
    // may come to run another pass: no request is in flight). A few windows
    // per turn, then the rest on a timer: a rerun over a store of hundreds of
    // thousands of blocks must not hold the event loop for the whole walk.
    for (let windows = 0; ; windows++) {
      this.extendWindow();
      if (this.finished) return;
      const base = this.base;
      this.advance();
      if (this.base > this.target) {
        this.finish(true);
        return;
      }
      if (this.base === base) break;
      if (windows + 1 >= STORED_WINDOWS_PER_TURN) {
        this.clock.setTimer(0, () => this.schedule());
        break;
      }
    }
    const now = this.clock.now();
    for (const peer of this.engine.readyPeers) {
      if (this.usable(peer)) this.fill(this.peerState(peer), now);
    }
    this.checkTimeouts(now);
  }

  /** Requests blocks from one peer up to its in-flight limit (FindNextBlocksToDownload). */
  private fill(pd: PeerDownload, now: number): void {
    const peerHeight = this.heightOfPeer(pd);
    const end = this.windowEnd;
    for (let h = this.windowStart; h <= end && pd.inFlight.length < this.perPeer; h++) {
      const slot = this.slots.get(h);
      if (slot?.state !== 'needed' || slot.excluded?.has(pd.peer.id)) continue;
      if (!servesHeight(pd.peer, peerHeight, h)) continue;
      this.request(pd, slot, now);
      if (this.finished || !this.peers.has(pd.peer.id)) return;
    }
    // Nothing in flight and nothing in the window for it (Core: the peer's
    // vBlocksInFlight is empty): if blocks past the window could be asked of
    // it, the window is what holds it back. Its first block, in flight from
    // another peer, is the staller. A peer still busy with blocks of its own
    // is not idle for the window's sake (on a slow link it would name
    // stallers long before the window has really stopped it).
    if (pd.inFlight.length > 0) return;
    // Nor when the iterator's reader holds the window back (it starts below
    // the first unstored block): no peer is to blame, and that block arriving
    // would not move the window.
    if (
      this.windowStart === this.base &&
      end < this.target &&
      servesHeight(pd.peer, peerHeight, end + 1)
    ) {
      const first = this.slots.get(this.base);
      const staller = first?.state === 'inflight' ? first.from : undefined;
      if (staller && staller !== pd && staller.stallingSince === undefined) {
        staller.stallingSince = now;
        this.events.emit('stalling', staller.peer, this.stalling.ms);
      }
    }
  }

  private request(pd: PeerDownload, slot: Slot, now: number): void {
    slot.state = 'inflight';
    slot.from = pd;
    const token = ++slot.token;
    if (pd.inFlight.length === 0) pd.downloadingSince = now;
    pd.inFlight.push(slot);
    // The tracker's own timeout is a backstop past the download timeout.
    const backstop = 2 * (this.timeoutBase + this.timeoutPerPeer * 16);
    // A peer gone under us (PeerGoneError) rejects: the block goes back to the window.
    fetchBlock(pd.peer, slot.hash, backstop).then(
      (raw) => this.onAnswer(pd, slot, token, raw),
      (err) => this.onRequestError(pd, slot, token, err),
    );
  }

  /** Takes `slot` off the peer's queue; the oldest leaving restarts its download clock (Core). */
  private unrequest(pd: PeerDownload, slot: Slot): void {
    const at = pd.inFlight.indexOf(slot);
    if (at < 0) return;
    pd.inFlight.splice(at, 1);
    if (at === 0) pd.downloadingSince = Math.max(pd.downloadingSince, this.clock.now());
  }

  private isCurrent(pd: PeerDownload, slot: Slot, token: number): boolean {
    return !this.finished && slot.token === token && slot.from === pd && slot.state === 'inflight';
  }

  private onAnswer(pd: PeerDownload, slot: Slot, token: number, raw: Uint8Array | undefined): void {
    if (!this.isCurrent(pd, slot, token)) return;
    this.unrequest(pd, slot);
    slot.from = undefined;
    // Any block from the staller ends its stalling (Core clears m_stalling_since).
    pd.stallingSince = undefined;
    if (!raw) {
      exclude(slot, pd.peer.id);
      slot.state = 'needed';
      this.schedule();
      return;
    }
    slot.state = 'verifying';
    this.schedule();
    const height = slot.height;
    this.verify(raw, { ...this.checkOptions(height), expectedHash: slot.hash }).then(
      () => this.store(slot, raw),
      (err) => {
        if (this.finished) return;
        if (err instanceof BlockError && err.mutated) {
          // Not the block the header commits to: the block itself may be fine.
          exclude(slot, pd.peer.id);
          slot.state = 'needed';
          slot.token++;
          this.penalise(pd, 'mutated-block', `${err.code} at height ${height}`);
          this.schedule();
        } else if (err instanceof BlockError) {
          this.penalise(pd, 'invalid-block', `${err.code} at height ${height}`);
          this.fail(err);
        } else {
          this.fail(err);
        }
      },
    );
  }

  private onRequestError(pd: PeerDownload, slot: Slot, token: number, err: unknown): void {
    if (!this.isCurrent(pd, slot, token)) return;
    if (err instanceof RequestTimeoutError) {
      this.drop(pd, 'block-download-timeout', `no answer for block ${slot.height}`);
    } else {
      // Aborted (the peer is going): give the block back to the window.
      this.unrequest(pd, slot);
      slot.from = undefined;
      slot.state = 'needed';
      slot.token++;
    }
    this.schedule();
  }

  private store(slot: Slot, raw: Uint8Array): void {
    if (this.finished) return;
    this.sink.put(slot.hash, raw, slot.height).then(
      () => {
        if (this.finished) return;
        slot.state = 'stored';
        this.downloaded++;
        this.bytes += raw.length;
        // Blocks arriving in order: the stalling timeout decays (Core).
        if (slot.height === this.base) this.stalling.progressed();
        const block: DownloadedBlock = { height: slot.height, hash: slot.hash, raw };
        if (this.iterating && slot.height >= this.iterNext) {
          this.buffered.set(slot.height, block);
          this.wakeReader();
        }
        this.events.emit('block', block);
        this.schedule();
        this.maybeProgress(false);
      },
      (err) => this.fail(err),
    );
  }

  // ---- timeouts -------------------------------------------------------------

  private checkTimeouts(now: number): void {
    let next = Infinity;
    const downloading = [...this.peers.values()].filter((p) => p.inFlight.length > 0).length;
    for (const pd of [...this.peers.values()]) {
      if (pd.stallingSince !== undefined) {
        const at = pd.stallingSince + this.stalling.ms;
        if (now >= at) {
          const ms = this.stalling.ms;
          this.stalling.fired();
          this.drop(pd, 'stalling', `held back the window at height ${this.base} for ${ms} ms`);
          this.again = true;
          continue;
        }
        next = Math.min(next, at);
      }
      if (pd.inFlight.length > 0) {
        const at =
          pd.downloadingSince +
          this.timeoutBase +
          this.timeoutPerPeer * Math.max(0, downloading - 1);
        if (now >= at) {
          this.drop(pd, 'block-download-timeout', `block ${pd.inFlight[0]?.height} not received`);
          this.again = true;
          continue;
        }
        next = Math.min(next, at);
      }
    }
    this.armTimer(next);
  }

  private armTimer(at: number): void {
    if (at === this.timerAt) return;
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    this.timerAt = at;
    if (at === Infinity) return;
    this.timer = this.clock.setTimer(Math.max(0, at - this.clock.now()), () => {
      this.timer = undefined;
      this.timerAt = Infinity;
      this.schedule();
    });
  }

  // ---- progress and the end -----------------------------------------------

  progress(): DownloadProgress {
    const elapsedMs = this.clock.now() - this.startedAt;
    const seconds = elapsedMs / 1000;
    let peers = 0;
    let inFlight = 0;
    for (const pd of this.peers.values()) {
      if (pd.inFlight.length > 0) peers++;
      inFlight += pd.inFlight.length;
    }
    return {
      height: this.base - 1,
      targetHeight: this.target,
      downloaded: this.downloaded,
      bytes: this.bytes,
      elapsedMs,
      blocksPerSecond: seconds > 0 ? this.downloaded / seconds : 0,
      bytesPerSecond: seconds > 0 ? this.bytes / seconds : 0,
      peers,
      inFlight,
      stallingTimeoutMs: this.stalling.ms,
    };
  }

  private maybeProgress(force: boolean): void {
    const now = this.clock.now();
    if (!force && now - this.lastProgressAt < this.progressEvery) return;
    this.lastProgressAt = now;
    this.events.emit('progress', this.progress());
  }

  private fail(err: unknown): void {
    if (this.finished) return;
    this.failure = err;
    this.finish(false);
  }

  private finish(complete: boolean | undefined): void {
    if (this.finished) return;
    this.finished = true;
    for (const off of this.unsubscribe.splice(0)) off();
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timer = undefined;
    for (const pd of this.peers.values()) pd.inFlight = [];
    if (this.failure !== undefined) {
      this.rejectDone(this.failure);
    } else {
      this.maybeProgress(true);
      this.resolveDone({
        ...this.progress(),
        complete: complete === true,
        dropped: [...this.dropped],
      });
    }
    this.wakeReader();
  }

  // ---- the iterator ------------------------------------------------------------

  private wakeReader(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private blocks(): AsyncIterableIterator<DownloadedBlock> {
    if (this.iterating) throw new DownloadStateError('blocks() can be iterated once');
    if (this.downloaded > 0) {
      throw new DownloadStateError('call blocks() before the first block is stored');
    }
    // Everything below the first unstored height was in the sink already.
    this.iterNext = this.base;
    this.iterating = true;
    const next = async (): Promise<IteratorResult<DownloadedBlock>> => {
      for (;;) {
        if (!this.iterating) return { done: true, value: undefined };
        const block = this.buffered.get(this.iterNext);
        if (block) {
          this.buffered.delete(this.iterNext);
          this.iterNext++;
          this.schedule();
          return { done: false, value: block };
        }
        const slot = this.slots.get(this.iterNext);
        if (slot?.had) {
          this.iterNext++;
          this.schedule();
          continue;
        }
        if (this.iterNext > this.target || this.finished) {
          this.endIteration();
          if (this.failure !== undefined) throw this.failure;
          return { done: true, value: undefined };
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
        });
      }
    };
    const iterator: AsyncIterableIterator<DownloadedBlock> = {
      next,
      return: async () => {
        this.endIteration();
        this.schedule();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  private endIteration(): void {
    this.iterating = false;
    this.buffered.clear();
  }
}
