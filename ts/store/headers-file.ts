// DIR/headers.dat, shared by `peerwire sync --blocks` and `peerwire node`: the
// best header chain in the `sync --out` layout, inside a checked file (kind
// "hdrs": checksummed, written beside and renamed over after an fsync), so a
// kill or a power cut mid-write leaves the previous chain and a damaged file
// is told from a good one. Either command can open what the other wrote.
import { join } from 'node:path';
import type { HeaderChain } from '../chain/headerchain.js';
import { decodeHeaders, encodeHeaders } from '../chain/headersfile.js';
import type { Network } from '../config/schema.js';
import { readFileChecked, removeStaleTemps, StoreError, writeFileAtomic } from './atomic-file.js';

export const HEADERS_FILE = 'headers.dat';
const HEADERS_KIND = 'hdrs';

export function headersPath(dir: string): string {
  return join(dir, HEADERS_FILE);
}

/** The network a headers payload was written for: its magic and genesis hash (hex). */
export function headersNetworkOf(bytes: Buffer): { magic: string; genesis: Buffer } | undefined {
  // The layout of encodeHeaders: "PWHDRS01", the magic (4), the genesis hash (32).
  if (bytes.length < 44) return undefined;
  return { magic: bytes.subarray(8, 12).toString('hex'), genesis: bytes.subarray(12, 44) };
}

/**
 * The raw headers payload of DIR/headers.dat, or undefined when there is none.
 * Throws StoreError ('corrupt', 'truncated', 'wrong-kind', 'io') otherwise.
 * Removes what a killed writer left beside it first (call as DIR's only user).
 */
export async function readHeadersPayload(dir: string): Promise<Buffer | undefined> {
  const path = headersPath(dir);
  await removeStaleTemps(path);
  try {
    return await readFileChecked(path, HEADERS_KIND);
  } catch (err) {
    if (err instanceof StoreError && err.code === 'missing') return undefined;
    throw err;
  }
}

/** Every header validated again; throws an Error naming the file when they are not valid. */
export function decodeHeadersPayload(dir: string, bytes: Buffer, network: Network): HeaderChain {
  return decodeHeaders(bytes, network, headersPath(dir));
}

/** Writes the chain to DIR/headers.dat, atomically and durably. */
export async function writeHeadersPayload(dir: string, chain: HeaderChain): Promise<void> {
  await writeFileAtomic(headersPath(dir), HEADERS_KIND, encodeHeaders(chain));
}
