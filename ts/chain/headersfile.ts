// Header files written by `peerwire sync --out` and served by `peerwire node`:
//
//   "PWHDRS01" | network magic (4) | genesis hash, wire order (32) | count u32 LE | count × 80-byte headers
//
// The file holds the best chain only (side branches are not kept).
import { readFileSync, writeFileSync } from 'node:fs';
import type { Network } from '../config/schema.js';
import { readHeader } from '../wire/codec.js';
import { Reader } from '../wire/reader.js';
import type { BlockHeader } from '../wire/types.js';
import { hexToHash } from './hash.js';
import { chainFor, type HeaderChain, MAX_HEADERS_PER_MESSAGE } from './headerchain.js';

const FILE_MAGIC = Buffer.from('PWHDRS01', 'ascii');
const PREAMBLE = FILE_MAGIC.length + 4 + 32 + 4;

export function writeHeadersFile(path: string, chain: HeaderChain): number {
  const bytes = encodeHeaders(chain);
  writeFileSync(path, bytes);
  return bytes.readUInt32LE(44);
}

/** The best chain's headers in the headers-file layout above. */
export function encodeHeaders(chain: HeaderChain): Buffer {
  const headers = [...chain.serialized()];
  const preamble = Buffer.alloc(PREAMBLE);
  FILE_MAGIC.copy(preamble, 0);
  Buffer.from(chain.network.magic, 'hex').copy(preamble, 8);
  hexToHash(chain.network.genesisHash).copy(preamble, 12);
  preamble.writeUInt32LE(headers.length, 44);
  return Buffer.concat([preamble, ...headers]);
}

/** Reads a headers file into a chain, validating every header on the way in. */
export function readHeadersFile(path: string, network: Network): HeaderChain {
  return decodeHeaders(readFileSync(path), network, path);
}

/**
 * A chain from bytes in the headers-file layout, every header validated;
 * throws an Error naming `path` when they are not (another network's, cut short).
 */
export function decodeHeaders(bytes: Buffer, network: Network, path: string): HeaderChain {
  const fail = (why: string): never => {
    throw new Error(`${path} is not a usable headers file: ${why}`);
  };
  if (bytes.length < PREAMBLE || !bytes.subarray(0, 8).equals(FILE_MAGIC)) {
    fail('it does not start with PWHDRS01');
  }
  if (bytes.subarray(8, 12).toString('hex') !== network.magic) {
    fail(`it is for magic ${bytes.subarray(8, 12).toString('hex')}, not ${network.name}`);
  }
  if (!bytes.subarray(12, 44).equals(hexToHash(network.genesisHash))) {
    fail(`its genesis is not ${network.name}'s`);
  }
  const count = bytes.readUInt32LE(44);
  if (bytes.length !== PREAMBLE + count * 80) {
    const body = bytes.length - PREAMBLE;
    const stray = body % 80 === 0 ? '' : ` and ${body % 80} stray bytes`;
    fail(`it declares ${count} headers but holds ${Math.floor(body / 80)}${stray}`);
  }
  const chain = chainFor(network);
  const r = new Reader(bytes.subarray(PREAMBLE), 'headers file');
  for (let done = 0; done < count; ) {
    const batch: BlockHeader[] = [];
    for (; batch.length < MAX_HEADERS_PER_MESSAGE && done < count; done++)
      batch.push(readHeader(r));
    chain.append(batch);
  }
  return chain;
}
