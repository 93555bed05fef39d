// Hashes as Bitcoin uses them.
import { native } from '../native/binding.js';

/**
 * SHA-256 applied twice (in Rust: node:crypto's per-call setup costs more than
 * the hash). The result comes from node's buffer pool, as small `Buffer.from`
 * results do, and is filled natively: one kept for long holds on to its 8 KiB
 * pool slab, so copy hashes you keep by the thousand into memory of their own.
 */
export function sha256d(data: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(32);
  native.doubleSha256Into(data, out);
  return out;
}

/**
 * Double SHA-256 of the first `length` bytes (default: all) of each
 * `stride`-byte record of `data`, hashes back to back (one native call).
 */
export function sha256dEach(data: Uint8Array, stride: number, length?: number): Buffer {
  const out = Buffer.allocUnsafe(stride > 0 ? Math.floor(data.length / stride) * 32 : 0);
  native.doubleSha256EachInto(data, stride, length, out);
  return out;
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
