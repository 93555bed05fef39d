// The chain the blocks workload downloads: 100 coinbase-only regtest blocks
// (until the first coinbase matures), then `full` blocks filled with real
// transactions to about `bytes` each (generate.ts, blockBytes), kept as
// `peerwire node --datadir` keeps a chain (DIR/blocks, a BlockStore, and
// DIR/headers.dat, a checked file), once per serving node, and its headers
// once more as a plain headers file (`sync --out` layout) for the plain-Node
// side. Written once under the system's
// temp directory, aside and renamed into place, and reused by later runs and
// repetitions (the nodes only add their address files to it).
import { cpSync, existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { blockStream, genesisBlock } from '../block/generate.js';
import { blockHash } from '../chain/block.js';
import { chainFor } from '../chain/headerchain.js';
import { writeHeadersFile } from '../chain/headersfile.js';
import { networkPreset } from '../config/schema.js';
import { BlockStore } from '../store/blocks/store.js';
import { writeHeadersPayload } from '../store/headers-file.js';
import type { BlockHeader } from '../wire/types.js';

/** Heights before the first filled block: coinbases mature after 100 blocks. */
export const FIRST_FULL_HEIGHT = 101;

export interface BlocksDirs {
  /** One data directory per serving node, each holding the whole chain. */
  dirs: string[];
  /** The chain's headers in the `sync --out` layout (headersfile.ts). */
  headersFile: string;
  /** The chain's height: FIRST_FULL_HEIGHT - 1 + full. */
  height: number;
  generated: boolean;
}

export function blocksDirPath(
  full: number,
  bytes: number,
  dir = join(tmpdir(), 'peerwire-bench'),
): string {
  return join(dir, `regtest-blocks-v2-${full}x${bytes}`);
}

/**
 * Writes the chain as a node's data directory (DIR/blocks and DIR/headers.dat)
 * and its headers to `headersFile`.
 */
async function writeChain(
  dir: string,
  headersFile: string,
  full: number,
  bytes: number,
): Promise<void> {
  const network = networkPreset('regtest');
  const store = await BlockStore.open(join(dir, 'blocks'), { magic: network.magic });
  try {
    const genesis = genesisBlock(network);
    if (genesis) await store.put(blockHash(genesis), genesis);
    const chain = chainFor(network);
    const height = FIRST_FULL_HEIGHT - 1 + full;
    let puts: Promise<unknown>[] = [];
    let headers: BlockHeader[] = [];
    for (const block of blockStream(network, { blockBytes: bytes })) {
      puts.push(store.put(block.hash, block.raw));
      headers.push(block.header);
      if (puts.length === 20 || block.height === height) {
        await Promise.all(puts);
        chain.append(headers);
        puts = [];
        headers = [];
      }
      if (block.height === height) break;
    }
    await writeHeadersPayload(dir, chain);
    writeHeadersFile(headersFile, chain);
  } finally {
    await store.close();
  }
}

/**
 * Moves a finished `partial` to `dir`; when another process (a parallel test)
 * got there first, keeps its copy and drops ours.
 */
function settle(partial: string, dir: string): void {
  try {
    renameSync(partial, dir);
  } catch (err) {
    if (!existsSync(dir)) throw err;
    rmSync(partial, { recursive: true, force: true });
  }
}

/** The cached data directories for `nodes` nodes, generated first if missing. */
export async function ensureBlocksDirs(
  full: number,
  bytes: number,
  nodes: number,
  dir?: string,
): Promise<BlocksDirs> {
  const root = blocksDirPath(full, bytes, dir);
  const dirs = Array.from({ length: nodes }, (_, i) => join(root, `node-${i}`));
  const height = FIRST_FULL_HEIGHT - 1 + full;
  const headersFile = join(root, 'chain.pwhdrs');
  if (existsSync(headersFile) && dirs.every((d) => existsSync(d))) {
    return { dirs, headersFile, height, generated: false };
  }
  mkdirSync(root, { recursive: true });
  // Each directory is written aside and renamed: an interrupted run never leaves half a chain.
  let source = existsSync(headersFile) ? dirs.find((d) => existsSync(d)) : undefined;
  if (!source) {
    const partial = `${dirs[0]}.${process.pid}.partial`;
    const partialHeaders = `${headersFile}.${process.pid}.partial`;
    rmSync(partial, { recursive: true, force: true });
    await writeChain(partial, partialHeaders, full, bytes);
    if (existsSync(headersFile) && existsSync(dirs[0] as string)) {
      // Another process (a parallel test) finished the same chain first.
      rmSync(partial, { recursive: true, force: true });
      rmSync(partialHeaders, { force: true });
    } else {
      // The headers file last: it says the first directory is whole.
      rmSync(dirs[0] as string, { recursive: true, force: true });
      settle(partial, dirs[0] as string);
      renameSync(partialHeaders, headersFile);
    }
    source = dirs[0] as string;
  }
  for (const d of dirs) {
    if (existsSync(d)) continue;
    const partial = `${d}.${process.pid}.partial`;
    rmSync(partial, { recursive: true, force: true });
    mkdirSync(partial);
    cpSync(join(source, 'blocks'), join(partial, 'blocks'), { recursive: true });
    cpSync(join(source, 'headers.dat'), join(partial, 'headers.dat'));
    settle(partial, d);
  }
  return { dirs, headersFile, height, generated: true };
}
