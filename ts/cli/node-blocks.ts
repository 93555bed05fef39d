// The chain `peerwire node` serves and the blocks behind it: headers from a
// file (--headers), from DIR/headers.dat, or generated (--generate, real
// coinbase-only blocks); blocks in a BlockStore under DIR/blocks (--datadir)
// or in memory (bounded). Restarting with the same --datadir reopens the
// chain: headers.dat, plus any stored block that extends it (blocks mined
// after the last save, or a kill -9 before it).
import { rename } from 'node:fs/promises';
import { join } from 'node:path';
import { blockStream, type GeneratedBlock, genesisBlock } from '../block/generate.js';
import { blockHash, blockHeader, headerHash } from '../chain/block.js';
import { hexToHash } from '../chain/hash.js';
import { type ChainEntry, chainFor, type HeaderChain } from '../chain/headerchain.js';
import { readHeadersFile } from '../chain/headersfile.js';
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
import {
  decodeHeadersPayload,
  headersNetworkOf,
  headersPath,
  readHeadersPayload,
  writeHeadersPayload,
} from '../store/headers-file.js';
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
    /** The datadir whose headers.dat this chain is saved to (none with --headers or in memory). */
    private readonly headersDir: string | undefined,
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

    // DIR/headers.dat is the node's own unless --headers names the chain.
    const own = datadir !== undefined && options.headersFile === undefined ? datadir : undefined;
    let chain: HeaderChain;
    let rebuilt = false;
    if (options.headersFile !== undefined) {
      chain = readHeadersFile(options.headersFile, network);
    } else if (own !== undefined) {
      const loaded = await loadOwnHeaders(own, network, options.onProblem);
      chain = loaded.chain;
      rebuilt = loaded.rebuilt;
    } else {
      chain = chainFor(network);
    }
    if (store) await extendFromStore(chain, store);
    const blocks = new NodeBlocks(network, chain, source, store, own, chain.height);
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

  /** Writes DIR/headers.dat (atomically, durably) when the chain grew since the last save. */
  async save(): Promise<void> {
    if (this.headersDir === undefined || this.chain.height === this.saved) return;
    const height = this.chain.height;
    await writeHeadersPayload(this.headersDir, this.chain);
    this.saved = height;
  }

  async close(): Promise<void> {
    await this.save();
    await this.store?.close();
  }
}

/**
 * DIR/headers.dat (the layout `peerwire sync --blocks` writes too). A damaged
 * or invalid one is, as the other DIR files, reported, moved to FILE.bad and
 * replaced: the chain is rebuilt from the stored blocks (all of them extend
 * genesis). An I/O error is not the file's fault and is thrown.
 */
async function loadOwnHeaders(
  dir: string,
  network: Network,
  onProblem: ((problem: StoreError) => void) | undefined,
): Promise<{ chain: HeaderChain; rebuilt: boolean }> {
  const path = headersPath(dir);
  let why: string;
  try {
    const bytes = await readHeadersPayload(dir);
    if (bytes === undefined) return { chain: chainFor(network), rebuilt: false };
    // Another network's headers are not damage: refused, never moved aside.
    const of = headersNetworkOf(bytes);
    if (of && (of.magic !== network.magic || !of.genesis.equals(hexToHash(network.genesisHash)))) {
      throw new CliError(
        `--datadir ${dir} holds another network's headers (magic ${of.magic}), not ${network.name}'s`,
        2,
      );
    }
    return { chain: decodeHeadersPayload(dir, bytes, network), rebuilt: false };
  } catch (err) {
    if (err instanceof CliError) throw err;
    if (err instanceof StoreError) {
      if (err.code !== 'corrupt' && err.code !== 'truncated') {
        throw new CliError(`--datadir ${dir}: ${err.message}`, err.code === 'wrong-kind' ? 2 : 1);
      }
      why = err.message.replace(`${path}: `, '');
    } else {
      why = (err as Error).message.replace(`${path} is `, '');
    }
  }
  await rename(path, `${path}.bad`);
  onProblem?.(
    new StoreError(
      'corrupt',
      path,
      `${why}; moved to ${path}.bad, the chain is rebuilt from the stored blocks`,
    ),
  );
  return { chain: chainFor(network), rebuilt: true };
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
