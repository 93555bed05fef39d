// The chain the sync workload serves: `count` generated regtest headers (real,
// easy proof of work), written once as a headers file under the system's temp
// directory and reused by later runs and repetitions.
import { existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { headerStream } from '../chain/generate.js';
import { chainFor } from '../chain/headerchain.js';
import { writeHeadersFile } from '../chain/headersfile.js';
import { networkPreset } from '../config/schema.js';
import type { BlockHeader } from '../wire/types.js';

const PREAMBLE = 48;

export function chainFilePath(count: number, dir = join(tmpdir(), 'peerwire-bench')): string {
  return join(dir, `regtest-${count}.pwhdrs`);
}

/** The cached file for `count` headers, generated first if missing or the wrong size. */
export function ensureChainFile(count: number, dir?: string): { path: string; generated: boolean } {
  const path = chainFilePath(count, dir);
  if (existsSync(path) && statSync(path).size === PREAMBLE + count * 80) {
    return { path, generated: false };
  }
  const network = networkPreset('regtest');
  const chain = chainFor(network);
  const batch: BlockHeader[] = [];
  for (const header of headerStream(network)) {
    if (chain.height + batch.length === count) break;
    batch.push(header);
    if (batch.length === 2_000) chain.append(batch.splice(0));
  }
  chain.append(batch);
  mkdirSync(join(path, '..'), { recursive: true });
  // Written aside and renamed, so an interrupted run never leaves half a chain.
  const partial = `${path}.${process.pid}.partial`;
  writeHeadersFile(partial, chain);
  renameSync(partial, path);
  return { path, generated: true };
}
