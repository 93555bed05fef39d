// Where served blocks come from (a BlockStore on disk, or memory), and the
// service bits a node can honour with what it holds: NODE_NETWORK only with
// every block from genesis to the tip, NODE_NETWORK_LIMITED with at least the
// last 288 (so with the whole chain too, as Core advertises both), NODE_WITNESS
// with either (blocks are kept with their witnesses).

import {
  NODE_NETWORK,
  NODE_NETWORK_LIMITED,
  NODE_NETWORK_LIMITED_MIN_BLOCKS,
  NODE_WITNESS,
} from '../block/request.js';
import type { HeaderChain } from '../chain/headerchain.js';
import type { BlockStore } from '../store/blocks/store.js';

/** Raw blocks (with witness data) by hash, wire order. */
export interface BlockSource {
  has(hash: Uint8Array): boolean;
  /** The raw block, or undefined when it is not held (or could not be read). */
  get(hash: Uint8Array): Promise<Uint8Array | undefined> | Uint8Array | undefined;
  /** Keeps a block (hash is the hash of its header). */
  put(hash: Uint8Array, raw: Uint8Array): Promise<unknown>;
  /** Blocks held. */
  readonly count: number;
}

const keyOf = (hash: Uint8Array) => Buffer.from(hash).toString('hex');

/** Blocks in memory, up to `max` (a put past it rejects). */
export class MemoryBlocks implements BlockSource {
  private readonly blocks = new Map<string, Uint8Array>();

  constructor(readonly max: number) {}

  has(hash: Uint8Array): boolean {
    return this.blocks.has(keyOf(hash));
  }

  get(hash: Uint8Array): Uint8Array | undefined {
    return this.blocks.get(keyOf(hash));
  }

  put(hash: Uint8Array, raw: Uint8Array): Promise<boolean> {
    const key = keyOf(hash);
    if (this.blocks.has(key)) return Promise.resolve(false);
    if (this.blocks.size >= this.max) {
      return Promise.reject(new RangeError(`at most ${this.max} blocks are kept in memory`));
    }
    this.blocks.set(key, raw);
    return Promise.resolve(true);
  }

  get count(): number {
    return this.blocks.size;
  }
}

/** A BlockStore as a BlockSource (a block that fails its read check is not served). */
export class StoreBlocks implements BlockSource {
  constructor(readonly store: BlockStore) {}

  has(hash: Uint8Array): boolean {
    return this.store.has(hash);
  }

  get(hash: Uint8Array): Promise<Uint8Array | undefined> {
    return this.store.get(hash);
  }

  put(hash: Uint8Array, raw: Uint8Array): Promise<boolean> {
    return this.store.put(hash, raw);
  }

  get count(): number {
    return this.store.stats().blocks;
  }
}

/** What a source holds of the best chain, counted from the tip down. */
export interface Holding {
  /** Every block from genesis to the tip. */
  whole: boolean;
  /** Consecutive blocks held ending at the tip. */
  fromTip: number;
}

export function holdingOf(chain: HeaderChain, source: BlockSource): Holding {
  let fromTip = 0;
  for (let h = chain.height; h >= 0; h--) {
    if (!source.has(chain.hashAt(h) as Buffer)) break;
    fromTip++;
  }
  return { whole: fromTip === chain.height + 1, fromTip };
}

/** The service bits `holding` can honour (see the file's head). */
export function servicesFor(holding: Holding): bigint {
  // As Core: a node with the whole chain holds the last 288 too, and says so.
  if (holding.whole) return NODE_NETWORK | NODE_NETWORK_LIMITED | NODE_WITNESS;
  if (holding.fromTip >= NODE_NETWORK_LIMITED_MIN_BLOCKS)
    return NODE_NETWORK_LIMITED | NODE_WITNESS;
  return 0n;
}

/**
 * The bits of `claimed` that `holding` cannot honour, with why: NODE_NETWORK
 * without the whole chain, NODE_NETWORK_LIMITED without the last 288 blocks
 * (or the whole chain, when it is shorter), NODE_WITNESS without either.
 */
export function unhonoured(claimed: bigint, holding: Holding): string[] {
  const out: string[] = [];
  const limitedOk = holding.whole || holding.fromTip >= NODE_NETWORK_LIMITED_MIN_BLOCKS;
  if ((claimed & NODE_NETWORK) !== 0n && !holding.whole) {
    out.push('NODE_NETWORK (1) needs every block from genesis to the tip');
  }
  if ((claimed & NODE_NETWORK_LIMITED) !== 0n && !limitedOk) {
    out.push(
      `NODE_NETWORK_LIMITED (1024) needs the last ${NODE_NETWORK_LIMITED_MIN_BLOCKS} blocks`,
    );
  }
  if ((claimed & NODE_WITNESS) !== 0n && !limitedOk) {
    out.push('NODE_WITNESS (8) needs blocks to serve with their witnesses');
  }
  return out;
}
