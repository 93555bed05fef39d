// The chain `peerwire node` serves and the blocks behind it: headers from a
// file (--headers), from DIR/headers.dat, or generated (--generate, real
// coinbase-only blocks); blocks in a BlockStore under DIR/blocks (--datadir)
// or in memory (bounded). Restarting with the same --datadir reopens the
// chain: headers.dat, plus any stored block that extends it (blocks mined
// after the last save, or a kill -9 before it).
import { existsSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { blockStream, type GeneratedBlock, genesisBlock } from '../block/generate.js';
import { blockHash, blockHeader, headerHash } from '../chain/block.js';
import { type ChainEntry, chainFor, type HeaderChain } from '../chain/headerchain.js';
import { readHeadersFile, writeHeadersFile } from '../chain/headersfile.js';
import type { Network } from '../config/schema.js';
import {
  type BlockSource,
  type Holding,
  holdingOf,
  MemoryBlocks,
  StoreBlocks,
} from '../serve/block-source.js';
import { StoreError } from '../store/atomic-file.js';
import { BlockStore } from '../store/blocks/store.js';
import type { BlockHeader } from '../wire/types.js';
import { CliError } from './args.js';

/** Blocks kept in memory without --datadir (coinbase-only ones are ~250 bytes: ~12 MB). */
export const MEMORY_MAX_BLOCKS = 50_000;
/** Blocks written to the store before waiting for them to be fsync'd. */
const PUT_BATCH = 1_000;
/**
 * bcoin's regtest activates segwit by BIP 9 signalling at height 432, Core's
 * regtest has it from genesis: blocks below 432 without witness data (and
 * signalling bit 1) are valid to both (see ts/block/generate.ts).
 */
const REGTEST_SEGWIT_HEIGHT = 432;

export interface NodeBlocksOptions {
  network: Network;
  /** --datadir: blocks in DIR/blocks, headers in DIR/headers.dat. */
  datadir?: string;
  /** --headers FILE: the chain to serve (never written back). */
  headersFile?: string;
  /** --generate N: make the chain at least N blocks high with generated blocks. */
  generate: number;
  onProblem?: (problem: StoreError) => void;
}

export class NodeBlocks {
  private saved: number;

  private constructor(
    readonly network: Network,
    readonly chain: HeaderChain,
    readonly source: BlockSource,
    private readonly store: BlockStore | undefined,
    private readonly headersPath: string | undefined,
    /** The height the chain had when opened, before any generation. */
    readonly reopenedHeight: number,
  ) {
    this.saved = chain.height;
  }

  static async open(options: NodeBlocksOptions): Promise<NodeBlocks> {
    const { network, datadir } = options;
    let store: BlockStore | undefined;
    let source: BlockSource;
    if (datadir !== undefined) {
      try {
        store = await BlockStore.open(join(datadir, 'blocks'), {
          magic: network.magic,
          ...(options.onProblem ? { onProblem: options.onProblem } : {}),
        });
      } catch (err) {
        if (!(err instanceof StoreError)) throw err;
        throw new CliError(`--datadir ${datadir}: ${err.message.split('\n')[0]}`, 2);
      }
      source = new StoreBlocks(store);
    } else {
      source = new MemoryBlocks(MEMORY_MAX_BLOCKS);
    }
    const genesis = genesisBlock(network);
    if (genesis) await source.put(blockHash(genesis), genesis);

    const own = datadir !== undefined && options.headersFile === undefined;
    const headersPath = own ? join(datadir as string, 'headers.dat') : undefined;
    let chain: HeaderChain;
    let rebuilt = false;
    if (options.headersFile !== undefined) {
      chain = readHeadersFile(options.headersFile, network);
    } else if (headersPath && existsSync(headersPath)) {
      try {
        chain = readHeadersFile(headersPath, network);
      } catch (err) {
        // An I/O error is not the file's fault: it is not moved aside.
        if ((err as NodeJS.ErrnoException).syscall !== undefined) throw err;
        // As the other DIR files: reported, moved to FILE.bad and replaced. The
        // stored blocks (all of them extend genesis) rebuild the chain.
        const why = (err as Error).message.replace(`${headersPath} is `, '');
        await rename(headersPath, `${headersPath}.bad`);
        options.onProblem?.(
          new StoreError(
            'corrupt',
            headersPath,
            `${why}; moved to ${headersPath}.bad, the chain is rebuilt from the stored blocks`,
          ),
        );
        chain = chainFor(network);
        rebuilt = true;
      }
    } else {
      chain = chainFor(network);
    }
    if (store) await extendFromStore(chain, store);
    const blocks = new NodeBlocks(network, chain, source, store, headersPath, chain.height);
    if (rebuilt) blocks.saved = -1; // written back below
    if (options.generate > chain.height) {
      if (!store && options.generate >= MEMORY_MAX_BLOCKS) {
        throw new CliError(
          `--generate ${options.generate} keeps more than ${MEMORY_MAX_BLOCKS} blocks in memory: ` +
            'give --datadir DIR to keep them on disk',
          2,
        );
      }
      await blocks.generate(options.generate - chain.height);
    }
    if (chain.height !== blocks.saved) await blocks.save();
    return blocks;
  }

  /** What the source holds of the best chain. */
  holding(): Holding {
    return holdingOf(this.chain, this.source);
  }

  /** Whether another block can be kept (memory is bounded; a store is not). */
  get canGrow(): boolean {
    return this.store !== undefined || this.source.count < MEMORY_MAX_BLOCKS;
  }

  private *stream(): Generator<GeneratedBlock> {
    const tip = this.chain.tip;
    yield* blockStream(this.network, {
      after: { height: tip.height, hash: tip.hash },
      ...(this.network.name === 'regtest' ? { segwitHeight: REGTEST_SEGWIT_HEIGHT } : {}),
    });
  }

  /**
   * Mines `count` real blocks on the tip, keeps them and adds their headers.
   * Resolves once every block is kept (fsync'd in a store). Returns the tip
   * before them.
   */
  async generate(count: number): Promise<ChainEntry> {
    const before = this.chain.tip;
    let puts: Promise<unknown>[] = [];
    let headers: BlockHeader[] = [];
    let made = 0;
    if (count <= 0) return before;
    for (const block of this.stream()) {
      made++;
      puts.push(this.source.put(block.hash, block.raw));
      headers.push(block.header);
      if (puts.length === PUT_BATCH || made === count) {
        // Blocks first: a header is never served before its block is kept.
        await Promise.all(puts);
        this.chain.append(headers);
        puts = [];
        headers = [];
      }
      if (made === count) break;
    }
    return before;
  }

  /** Writes DIR/headers.dat (atomically) when the chain grew since the last save. */
  async save(): Promise<void> {
    if (!this.headersPath || this.chain.height === this.saved) return;
    const height = this.chain.height;
    const temp = `${this.headersPath}.new`;
    // Written beside, synced and renamed over: a kill or a power cut
    // mid-write leaves the old file.
    writeHeadersFile(temp, this.chain);
    const written = await open(temp, 'r');
    try {
      await written.sync();
    } finally {
      await written.close();
    }
    await rename(temp, this.headersPath);
    this.saved = height;
  }

  async close(): Promise<void> {
    await this.save();
    await this.store?.close();
  }
}

/**
 * Adds to `chain` the stored blocks that extend its tip, in order: those kept
 * after headers.dat was last written. Reads only blocks not in the chain.
 */
async function extendFromStore(chain: HeaderChain, store: BlockStore): Promise<void> {
  const byParent = new Map<string, BlockHeader>();
  for (const hash of store.hashes()) {
    if (chain.entry(hash)) continue;
    const raw = await store.get(hash);
    if (!raw) continue;
    const header = blockHeader(raw);
    byParent.set(Buffer.from(header.prevBlock).toString('hex'), header);
  }
  const headers: BlockHeader[] = [];
  let tip = chain.tipHash.toString('hex');
  for (let next = byParent.get(tip); next; next = byParent.get(tip)) {
    headers.push(next);
    tip = headerHash(next).toString('hex');
  }
  if (headers.length > 0) chain.append(headers);
}
