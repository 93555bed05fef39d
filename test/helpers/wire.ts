// Independent frame encoding for tests (node:crypto, not the code under test).
import { createHash } from 'node:crypto';

export const REGTEST_MAGIC = 'fabfb5da';

export function checksum(payload: Uint8Array): Buffer {
  const once = createHash('sha256').update(payload).digest();
  return createHash('sha256').update(once).digest().subarray(0, 4);
}

/** A wire frame; `command` may be any bytes up to 12 so tests can forge bad ones. */
export function frame(
  command: string | Buffer,
  payload: Uint8Array,
  options: { magic?: string; length?: number; checksum?: Buffer } = {},
): Buffer {
  const header = Buffer.alloc(24);
  Buffer.from(options.magic ?? REGTEST_MAGIC, 'hex').copy(header, 0);
  (typeof command === 'string' ? Buffer.from(command, 'ascii') : command).copy(header, 4, 0, 12);
  header.writeUInt32LE(options.length ?? payload.length, 16);
  (options.checksum ?? checksum(payload)).copy(header, 20);
  return Buffer.concat([header, payload]);
}

export function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}
