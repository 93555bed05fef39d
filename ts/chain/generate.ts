// Deterministic header chains with real proof of work, for the offline demo
// network and tests. On regtest's easy target about half of all nonces work.
import type { Network } from '../config/schema.js';
import { HEADER_BYTES } from '../wire/codec.js';
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

/**
 * Endless headers after the network's genesis: thirty-second spacing (so that
 * even ten million of them end before today, clear of the time-too-new rule), the genesis
 * bits throughout (so only for networks that do not retarget, like regtest),
 * merkle roots derived from `seed`, nonces searched until the hash meets the target.
 */
export function* headerStream(network: Network, seed = 'peerwire'): Generator<BlockHeader> {
  const genesis = genesisHeaderOf(network);
  if (!genesis) throw new Error(`network ${network.name} has no genesis header to build on`);
  if (network.pow.retarget) {
    throw new Error(`network ${network.name} retargets; generated chains keep one difficulty`);
  }
  const powLimit = BigInt(`0x${network.pow.limit}`);
  const raw = Buffer.alloc(HEADER_BYTES);
  let prev = headerHash(genesis);
  for (let height = 1; ; height++) {
    const header: BlockHeader = {
      version: 0x2000_0000,
      prevBlock: prev,
      merkleRoot: sha256d(Buffer.from(`${seed}:${height}`)),
      time: genesis.time + height * GENERATED_SPACING_SECONDS,
      bits: genesis.bits,
      nonce: 0,
    };
    // Serialized once; each try rewrites only the nonce.
    writeHeaderBytes(raw, 0, header);
    let hash = sha256d(raw);
    while (checkProofOfWork(hash, header.bits, powLimit) !== 'ok') {
      header.nonce++;
      raw.writeUInt32LE(header.nonce >>> 0, 76);
      hash = sha256d(raw);
    }
    yield header;
    prev = hash;
  }
}
