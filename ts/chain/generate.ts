// Deterministic header chains with real proof of work, for the offline demo
// network and tests. On regtest's easy target about half of all nonces work.
import type { Network } from '../config/schema.js';
import {
  allocHeadersWire,
  HEADER_BYTES,
  HEADER_RECORD_BYTES,
  type HeadersPayload,
  headersFromWire,
} from '../wire/headers.js';
import type { BlockHeader } from '../wire/types.js';
import { headerHash } from './block.js';
import { sha256d } from './hash.js';
import { genesisHeaderOf } from './headerchain.js';
import { writeHeaderBytes } from './headerstore.js';
import { checkProofOfWork } from './pow.js';

/** Seconds between generated blocks. */
const GENERATED_SPACING_SECONDS = 30;

/** `count` headers after the network's genesis (see headerStream). */
export function generateHeaders(network: Network, count: number, seed = 'peerwire'): BlockHeader[] {
  const out: BlockHeader[] = [];
  for (const header of headerStream(network, seed)) {
    if (out.length === count) break;
    out.push(header);
  }
  return out;
}

/** Generation's fixed inputs for `network`; throws for one it cannot generate on. */
function generationOf(network: Network): { genesis: BlockHeader; powLimit: bigint } {
  const genesis = genesisHeaderOf(network);
  if (!genesis) throw new Error(`network ${network.name} has no genesis header to build on`);
  if (network.pow.retarget) {
    throw new Error(`network ${network.name} retargets; generated chains keep one difficulty`);
  }
  return { genesis, powLimit: BigInt(`0x${network.pow.limit}`) };
}

/**
 * Writes the header at `height` after `prev` into `out` at `at` and searches
 * its nonce in place (only the nonce's bytes change between tries). Returns
 * its hash.
 */
function mineAt(
  out: Buffer,
  at: number,
  genesis: BlockHeader,
  powLimit: bigint,
  seed: string,
  height: number,
  prev: Uint8Array,
): Buffer {
  writeHeaderBytes(out, at, {
    version: 0x2000_0000,
    prevBlock: prev,
    merkleRoot: sha256d(Buffer.from(`${seed}:${height}`)),
    time: genesis.time + height * GENERATED_SPACING_SECONDS,
    bits: genesis.bits,
    nonce: 0,
  });
  const header = out.subarray(at, at + HEADER_BYTES);
  let hash = sha256d(header);
  for (let nonce = 1; checkProofOfWork(hash, genesis.bits, powLimit) !== 'ok'; nonce++) {
    out.writeUInt32LE(nonce >>> 0, at + 76);
    hash = sha256d(header);
  }
  return hash;
}

/**
 * Endless headers after the network's genesis: thirty-second spacing (so that
 * even ten million of them end before today, clear of the time-too-new rule), the genesis
 * bits throughout (so only for networks that do not retarget, like regtest),
 * merkle roots derived from `seed`, nonces searched until the hash meets the target.
 */
export function* headerStream(network: Network, seed = 'peerwire'): Generator<BlockHeader> {
  const { genesis, powLimit } = generationOf(network);
  const raw = Buffer.alloc(HEADER_BYTES);
  let prev: Buffer = headerHash(genesis);
  for (let height = 1; ; height++) {
    const hash = mineAt(raw, 0, genesis, powLimit, seed, height, prev);
    yield {
      version: raw.readInt32LE(0),
      prevBlock: prev,
      merkleRoot: Buffer.from(raw.subarray(36, 68)),
      time: raw.readUInt32LE(68),
      bits: raw.readUInt32LE(72),
      nonce: raw.readUInt32LE(76),
    };
    prev = hash;
  }
}

/**
 * The first `count` headers of headerStream, as one `headers` payload of wire
 * records: what a chain takes in one call, with no header object made.
 */
export function generateHeadersPayload(
  network: Network,
  count: number,
  seed = 'peerwire',
): HeadersPayload {
  const { genesis, powLimit } = generationOf(network);
  const { wire, start } = allocHeadersWire(count);
  let prev: Uint8Array = headerHash(genesis);
  for (let i = 0, at = start; i < count; i++, at += HEADER_RECORD_BYTES) {
    prev = mineAt(wire, at, genesis, powLimit, seed, i + 1, prev);
    wire[at + HEADER_BYTES] = 0;
  }
  return headersFromWire(wire, start, count);
}
