// Asking one peer for one block: the inventory type its services call for,
// whether it can serve a height at all, and a verified request as a promise.
import { hashToHex } from '../chain/hash.js';
import type { Peer } from '../engine/peer.js';
import { INV_TYPE, type InvVector } from '../wire/types.js';
import { type BlockCheckOptions, checkBlockAsync } from './check.js';

/** Service bits (Core's protocol.h). */
export const NODE_NETWORK = 1n;
export const NODE_WITNESS = 8n;
export const NODE_NETWORK_LIMITED = 1024n;
/** NODE_NETWORK_LIMITED_MIN_BLOCKS: a limited peer keeps at least the last 288 blocks. */
export const NODE_NETWORK_LIMITED_MIN_BLOCKS = 288;

/** The peer answered `notfound` for the block. */
export class BlockNotFoundError extends Error {
  override readonly name = 'BlockNotFoundError';
  constructor(
    readonly peerId: number,
    /** Display-order hex. */
    readonly hash: string,
  ) {
    super(`peer ${peerId} does not have block ${hash}`);
  }
}

/** The getdata item for a block: MSG_WITNESS_BLOCK from a NODE_WITNESS peer, else MSG_BLOCK. */
export function blockInv(peer: Peer, hash: Uint8Array): InvVector {
  const witness = ((peer.services ?? 0n) & NODE_WITNESS) !== 0n;
  return { type: witness ? INV_TYPE.witnessBlock : INV_TYPE.block, hash };
}

/**
 * Whether a peer whose best block is at `peerHeight` can serve the block at
 * `height`: NODE_NETWORK peers any block up to their tip, NODE_NETWORK_LIMITED
 * ones only the last 288 (Core's rule for fetching from pruned peers).
 */
export function servesHeight(peer: Peer, peerHeight: number, height: number): boolean {
  if (height > peerHeight) return false;
  const services = peer.services ?? 0n;
  if ((services & NODE_NETWORK) !== 0n) return true;
  if ((services & NODE_NETWORK_LIMITED) !== 0n) {
    return peerHeight - height < NODE_NETWORK_LIMITED_MIN_BLOCKS;
  }
  return false;
}

/**
 * Sends one getdata for the block and resolves with its raw bytes, unchecked,
 * or undefined for notfound. Rejects as peer.request does (timeout, peer gone).
 */
export async function fetchBlock(
  peer: Peer,
  hash: Uint8Array,
  timeoutMs?: number,
): Promise<Uint8Array | undefined> {
  const result = await peer.request(
    { command: 'getdata', payload: { inventory: [blockInv(peer, hash)] } },
    timeoutMs,
  );
  return result.items[0]?.message?.payload.raw;
}

export interface RequestBlockOptions {
  /** Passed to peer.request (default: the engine's request timeout). */
  timeoutMs?: number;
  /** Extra check options (the BIP 34 height, segwit); `expectedHash` is always the hash asked for. */
  check?: Omit<BlockCheckOptions, 'expectedHash'>;
}

/**
 * Asks `peer` for one block (hash in wire order) and resolves with its raw
 * bytes once checkBlockAsync has passed them against that hash. Rejects with
 * BlockNotFoundError for notfound, BlockError for bytes that fail the check
 * (`mutated` tells a bad copy from a bad block; penalising is the caller's
 * call), or the request's own errors.
 */
export async function requestBlock(
  peer: Peer,
  hash: Uint8Array,
  options: RequestBlockOptions = {},
): Promise<Uint8Array> {
  const raw = await fetchBlock(peer, hash, options.timeoutMs);
  if (!raw) throw new BlockNotFoundError(peer.id, hashToHex(hash));
  await checkBlockAsync(raw, { ...options.check, expectedHash: hash });
  return raw;
}
