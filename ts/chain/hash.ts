// Hashes as Bitcoin uses them.
import { createHash } from 'node:crypto';

export function sha256d(data: Uint8Array): Buffer {
  const once = createHash('sha256').update(data).digest();
  return createHash('sha256').update(once).digest();
}

/** Display form of a wire-order hash: byte-reversed hex, as explorers show it. */
export function hashToHex(hash: Uint8Array): string {
  return Buffer.from(hash).reverse().toString('hex');
}

/** Wire-order bytes of a displayed (byte-reversed) hash. */
export function hexToHash(hex: string): Buffer {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new TypeError(`not a 32-byte hash: "${hex}"`);
  return Buffer.from(hex, 'hex').reverse();
}
