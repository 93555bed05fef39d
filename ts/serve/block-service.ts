// Serving blocks on the public Engine API, as Bitcoin Core does
// (net_processing.cpp: ProcessGetData, ProcessGetBlockData, the getblocks
// handler, and block announcements in SendMessages):
//
// - getdata: items are answered in order. MSG_BLOCK gets the block without
//   witness data, MSG_WITNESS_BLOCK the block as stored. Everything else, and
//   every block not held, is listed in a `notfound` (Core stays silent for
//   blocks it lacks; a silent node is one a peer can only time out on, so this
//   one says so). Consecutive missing items go in one notfound, sent before the
//   next block, so answers keep the request's order (a run longer than one
//   turn's work, TURN_WORK items, is sent a turn's worth at a time).
// - Bounded memory: a peer's pending items are kept packed (36 bytes each, at
//   most MAX_PENDING_ITEMS), and one block at a time is read and queued. While
//   the peer's send queue is past its pause point (Core's fPauseSend) nothing
//   more is read for it; its `writable` resumes it. A peer that asks for
//   50,000 blocks and never reads costs its send queue's limit, not 50,000
//   blocks. getdata over 50,000 items (MAX_INV_SZ) does not decode: the Engine
//   charges the peer as Core does (Misbehaving, 20 points).
// - getblocks: answered within a per-peer rate (past it the newest waits;
//   after an answer meets backpressure, none until the peer is writable),
//   with an `inv` of up to 500 best-chain hashes after the locator's
//   fork point, stopping before hashStop or at the first block not held. When
//   it was cut at 500, the last one is remembered (Core's hashContinue): once
//   the peer asks for that block, an `inv` of our tip follows it, so the peer
//   sends the next getblocks. bcoin syncs this way. A limited node, as a
//   pruned Core, also stops at the first block 282 or more below its tip.
// - NODE_NETWORK_LIMITED only (option `limited`): a block more than 290
//   below the tip is not served and the peer is disconnected, as Core does.
// - announcements: `announce(previousTip)` after the tip moves. A peer that
//   sent sendheaders gets the new headers (up to 8, when the first connects to
//   a header it is known to have); any other peer, or when that does not
//   hold, an `inv` of the tip, unless the peer is known to have it.

import { NODE_NETWORK_LIMITED_MIN_BLOCKS } from '../block/request.js';
import { stripWitness } from '../block/strip.js';
import type { ChainEntry, HeaderChain } from '../chain/headerchain.js';
import { MAX_HEADERS_PER_MESSAGE } from '../chain/headerchain.js';
import type { Engine } from '../engine/engine.js';
import type { Peer } from '../engine/peer.js';
import { MESSAGE_LIMITS } from '../wire/limits.js';
import { type BlockHeader, INV_TYPE, type InvVector, type LocatorMessage } from '../wire/types.js';
import type { BlockSource } from './block-source.js';
import { pacedAnswers } from './paced-answers.js';

/** Core's getblocks answer limit. */
export const MAX_GETBLOCKS_INV = 500;
/** Core's MAX_BLOCKS_TO_ANNOUNCE: more new blocks than this are announced by inv. */
export const MAX_BLOCKS_TO_ANNOUNCE = 8;
/**
 * getdata items a peer may have waiting: one full getdata message, and room
 * for the few a syncing peer still waits for when it asks for the next batch
 * (btcd sends getdata of up to 50,000 blocks, and the next once fewer than 10
 * are outstanding). Core serves one getdata at a time and reads nothing more
 * from the peer meanwhile; an Engine handler cannot stop the reading, so a
 * peer that asks past this before we have answered is disconnected
 * ('getdata-flood'). Core asks for at most 16 blocks per peer.
 */
export const MAX_PENDING_ITEMS = MESSAGE_LIMITS.inventory + 1024;

/**
 * A limited node's getblocks lists no block this deep below the tip: Core's
 * nPrunedBlocksLikelyToHave, MIN_BLOCKS_TO_KEEP (288) less an hour of blocks
 * (3600 / 600 s), so blocks listed are still served after the tip moves on.
 */
export const LIMITED_GETBLOCKS_DEPTH = NODE_NETWORK_LIMITED_MIN_BLOCKS - 6;

const ITEM_BYTES = 36;
/**
 * Work done for one peer before the pump lets the event loop turn: a block
 * sent counts BLOCK_WORK, any other item 1. A source that answers at once
 * (blocks in memory) and a peer that reads as fast as we write would
 * otherwise have a whole getdata answered in microtasks, with no other peer,
 * timer or I/O served meanwhile (Core serves one block per peer per turn of
 * its message handler).
 */
const TURN_WORK = 2048;
const BLOCK_WORK = 64;
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

interface ServedPeer {
  /** Packed pending items (type u32 LE + hash), oldest chunk first. */
  chunks: Buffer[];
  /** Items of chunks[0] already taken. */
  head: number;
  pending: number;
  /** Its send queue is past its pause point: wait for `writable`. */
  paused: boolean;
  running: boolean;
  /** Core's hashContinue: the block after which our tip is inv'd. */
  continuation?: string;
  /** The best-chain height up to which the peer is known to have our headers. */
  knownHeight: number;
}

export interface BlockServiceOptions {
  /**
   * The node advertises NODE_NETWORK_LIMITED without NODE_NETWORK: as Core,
   * a request for a block more than 288 + 2 below the tip disconnects the
   * peer (never serving those keeps the prune height private, and the peer
   * stops waiting for a block it should not have asked for).
   */
  limited?: boolean;
  /**
   * getblocks answers per second per peer (default 10), and the burst a peer
   * may use at once (default 20). Each answer walks up to 500 blocks; a peer
   * syncing this way asks once per 500 blocks it downloads, so this is far
   * more than sync needs and bounds what a getblocks flood costs. Past it,
   * only the peer's newest request waits.
   */
  getblocksPerSecond?: number;
  getblocksBurst?: number;
}

export interface BlockServiceEvents {
  /** A block was sent (for logs and tests). */
  served?: (peer: Peer, hash: Uint8Array, witness: boolean) => void;
  /** A notfound was sent with this many items. */
  notfound?: (peer: Peer, items: number) => void;
  /** A held block could not be read or parsed (it was answered with notfound to `peer`). */
  unreadable?: (hash: Uint8Array, error: unknown, peer: Peer) => void;
}

export interface BlockService {
  /**
   * Tells peers about the chain's new tip; `previousTip` is the tip before the
   * change. Returns how many peers got headers and how many an inv.
   */
  announce(previousTip: ChainEntry): { headers: number; inv: number };
  /** getdata items waiting to be answered for `peer`, and whether it is paused on its send queue. */
  queueOf(peer: Peer): { pending: number; paused: boolean };
}

const hexKey = (hash: Uint8Array) => Buffer.from(hash).toString('hex');

export function serveBlocks(
  engine: Engine,
  chain: HeaderChain,
  source: BlockSource,
  events: BlockServiceEvents = {},
  options: BlockServiceOptions = {},
): BlockService {
  const peers = new Map<Peer, ServedPeer>();
  const stateOf = (peer: Peer): ServedPeer => {
    let s = peers.get(peer);
    if (!s) {
      s = { chunks: [], head: 0, pending: 0, paused: false, running: false, knownHeight: 0 };
      peers.set(peer, s);
    }
    return s;
  };
  const learn = (s: ServedPeer, height: number | undefined) => {
    if (height !== undefined && height > s.knownHeight) s.knownHeight = height;
  };

  /** The best-chain height of the locator's fork point (Core's FindForkInGlobalIndex). */
  const forkHeight = (locator: readonly Uint8Array[]): number => {
    for (const hash of locator) {
      const h = chain.heightOf(hash);
      if (h !== undefined) return h;
    }
    return 0;
  };

  const sendNotFound = (peer: Peer, items: InvVector[]) => {
    if (items.length === 0 || !peer.active) return;
    const count = items.length;
    peer.send({ command: 'notfound', payload: { inventory: items.splice(0) } });
    events.notfound?.(peer, count);
  };

  const peek = (s: ServedPeer): InvVector => {
    const chunk = s.chunks[0] as Buffer;
    const at = s.head * ITEM_BYTES;
    return { type: chunk.readUInt32LE(at), hash: chunk.subarray(at + 4, at + ITEM_BYTES) };
  };
  const shift = (s: ServedPeer): void => {
    s.head++;
    s.pending--;
    if (s.head * ITEM_BYTES >= (s.chunks[0] as Buffer).length) {
      s.chunks.shift();
      s.head = 0;
    }
  };

  /**
   * The block to send for an item: as stored, or without witness data. A
   * block that cannot be read (the store dropped it as corrupt, an I/O error,
   * the store closing at shutdown) or parsed is not served: it is notfound.
   */
  const read = async (
    peer: Peer,
    hash: Uint8Array,
    witness: boolean,
  ): Promise<Uint8Array | undefined> => {
    try {
      const raw = await source.get(hash);
      return raw && !witness ? stripWitness(raw) : raw;
    } catch (err) {
      events.unreadable?.(hash, err, peer);
      return undefined;
    }
  };

  /** Core's NODE_NETWORK_LIMITED rule: deeper than 288 + 2 below the tip. */
  const tooDeep = (hash: Uint8Array): boolean => {
    const height = chain.heightOf(hash);
    return height !== undefined && chain.height - height > NODE_NETWORK_LIMITED_MIN_BLOCKS + 2;
  };

  /** Answers the peer's pending items until none are left or its queue is full. */
  const pump = async (peer: Peer, s: ServedPeer): Promise<void> => {
    if (s.running) return;
    s.running = true;
    const missing: InvVector[] = [];
    let work = 0;
    try {
      while (s.pending > 0 && peer.active && !s.paused) {
        if (work >= TURN_WORK) {
          work = 0;
          // What is missing so far goes now: not held, unpacked, across turns.
          sendNotFound(peer, missing);
          await nextTurn();
          continue; // the peer may be gone or paused meanwhile
        }
        work++;
        const item = peek(s);
        const witness = item.type === INV_TYPE.witnessBlock;
        if (!witness && item.type !== INV_TYPE.block) {
          // Views of the packed chunk (never written again) go in notfound:
          // no copy per item of a 50,000-item getdata.
          missing.push(item);
          shift(s);
          if (missing.length === MESSAGE_LIMITS.inventory) sendNotFound(peer, missing);
          continue;
        }
        if (options.limited && tooDeep(item.hash)) {
          sendNotFound(peer, missing);
          peer.disconnect('below-limited-threshold');
          return;
        }
        const raw = source.has(item.hash)
          ? await read(peer, Buffer.from(item.hash), witness)
          : undefined;
        if (!peer.active) return;
        if (!raw) {
          missing.push(item);
          shift(s);
          if (missing.length === MESSAGE_LIMITS.inventory) sendNotFound(peer, missing);
          continue;
        }
        const hash = Buffer.from(item.hash);
        sendNotFound(peer, missing);
        work += BLOCK_WORK;
        const sent = peer.send({ command: 'block', payload: { raw } });
        if (sent === 'full') {
          // Not queued: the same item is tried again once the queue drains.
          s.paused = true;
          break;
        }
        shift(s);
        if (sent === 'too-large') {
          missing.push({ type: item.type, hash });
          continue;
        }
        if (sent !== 'queued' && sent !== 'backpressure') return;
        events.served?.(peer, hash, witness);
        learn(s, chain.heightOf(hash));
        if (s.continuation === hexKey(hash)) {
          // Core: right after that block, so the peer asks for the next batch.
          s.continuation = undefined;
          peer.send({
            command: 'inv',
            payload: { inventory: [{ type: INV_TYPE.block, hash: chain.tipHash }] },
          });
        }
        if (sent === 'backpressure') s.paused = true;
      }
      sendNotFound(peer, missing);
    } finally {
      s.running = false;
    }
  };

  engine.on('getdata', (peer, { inventory }) => {
    if (!peer.active || inventory.length === 0) return;
    const s = stateOf(peer);
    if (s.pending + inventory.length > MAX_PENDING_ITEMS) {
      peer.disconnect('getdata-flood');
      return;
    }
    const chunk = Buffer.allocUnsafe(inventory.length * ITEM_BYTES);
    for (let i = 0; i < inventory.length; i++) {
      const item = inventory[i] as InvVector;
      chunk.writeUInt32LE(item.type >>> 0, i * ITEM_BYTES);
      chunk.set(item.hash, i * ITEM_BYTES + 4);
    }
    s.chunks.push(chunk);
    s.pending += inventory.length;
    void pump(peer, s);
  });

  const getblocks = pacedAnswers<LocatorMessage>(
    engine,
    { perSecond: options.getblocksPerSecond ?? 10, burst: options.getblocksBurst ?? 20 },
    (peer, { locator, hashStop }) => {
      const inventory: InvVector[] = [];
      for (let h = forkHeight(locator) + 1; h <= chain.height; h++) {
        const hash = chain.hashAt(h) as Buffer;
        if (hash.equals(hashStop) || !source.has(hash)) break;
        // Core (pruned): a block not likely to be served by the time the peer
        // asks ends the list; a limited node would disconnect a peer asking.
        if (options.limited && chain.height - h >= LIMITED_GETBLOCKS_DEPTH) break;
        inventory.push({ type: INV_TYPE.block, hash });
        if (inventory.length === MAX_GETBLOCKS_INV) {
          stateOf(peer).continuation = hexKey(hash);
          break;
        }
      }
      if (inventory.length === 0) return undefined;
      return peer.send({ command: 'inv', payload: { inventory } });
    },
  );
  engine.on('getblocks', (peer, request) => getblocks.offer(peer, request));

  // What the peer has of our chain: its locator's fork point, and the headers
  // our answer to its getheaders carries (serveHeaders sends them).
  engine.on('getheaders', (peer, { locator, hashStop }) => {
    if (!peer.active) return;
    const s = stateOf(peer);
    const fork = forkHeight(locator);
    const stopAt = chain.heightOf(hashStop);
    const last = Math.min(chain.height, fork + MAX_HEADERS_PER_MESSAGE);
    learn(s, stopAt !== undefined && stopAt > fork ? Math.min(stopAt, last) : last);
  });

  engine.on('writable', (peer) => {
    const s = peers.get(peer);
    if (!s) return;
    s.paused = false;
    void pump(peer, s);
  });
  engine.on('disconnected', (peer) => peers.delete(peer));

  const announce = (previousTip: ChainEntry): { headers: number; inv: number } => {
    const told = { headers: 0, inv: 0 };
    const tip = chain.tip;
    if (tip === previousTip) return told;
    // The new best-chain blocks: those after the previous tip's last ancestor
    // on the best chain (the previous tip itself unless the chain reorganised).
    let fork = previousTip;
    while (!chain.isBest(fork)) fork = fork.prev as ChainEntry;
    const from = fork.height + 1;
    const count = tip.height - fork.height;
    for (const peer of engine.peers) {
      if (!peer.ready) continue;
      const s = stateOf(peer);
      // Known heights past a fork were on a branch that is no longer ours.
      if (s.knownHeight > fork.height && fork !== previousTip) s.knownHeight = fork.height;
      if (s.knownHeight >= tip.height) continue;
      if (
        peer.features.sendHeaders &&
        count <= MAX_BLOCKS_TO_ANNOUNCE &&
        s.knownHeight >= fork.height
      ) {
        const headers: BlockHeader[] = [];
        for (let h = from; h <= tip.height; h++) headers.push(chain.headerAt(h) as BlockHeader);
        peer.send({ command: 'headers', payload: { headers } });
        s.knownHeight = tip.height;
        told.headers++;
      } else {
        // Core: falling back to inv, it announces the tip alone.
        peer.send({
          command: 'inv',
          payload: { inventory: [{ type: INV_TYPE.block, hash: tip.hash }] },
        });
        told.inv++;
      }
    }
    return told;
  };

  return {
    announce,
    queueOf: (peer) => {
      const s = peers.get(peer);
      return { pending: s?.pending ?? 0, paused: s?.paused ?? false };
    },
  };
}
