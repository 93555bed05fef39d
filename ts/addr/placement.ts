// Where an address goes in the tables, keyed by the manager's secret so that an
// attacker cannot aim addresses at chosen buckets. The two-step hashes bound the
// spread as Bitcoin Core's do: a source group reaches only NEW_BUCKETS_PER_SOURCE_GROUP
// new buckets and an address group only TRIED_BUCKETS_PER_GROUP tried buckets.
// Same shape as Core's, not its bytes: SHA-256 over tagged, length-prefixed fields.
import { hash } from 'node:crypto';

export const TABLES = {
  newBuckets: 1024,
  triedBuckets: 256,
  bucketSize: 64,
  newBucketsPerSourceGroup: 64,
  triedBucketsPerGroup: 8,
  newBucketsPerAddress: 8,
} as const;

/** 48 bits of a keyed SHA-256 over the fields: plenty for reducing modulo ≤ 1,024. */
function keyedHash(key: Uint8Array, tag: string, fields: readonly Uint8Array[]): number {
  let length = key.length + 1;
  for (const f of fields) length += 2 + f.length;
  const input = Buffer.allocUnsafe(length);
  input.set(key, 0);
  let at = key.length;
  input[at++] = tag.charCodeAt(0);
  for (const f of fields) {
    input.writeUInt16LE(f.length, at);
    input.set(f, at + 2);
    at += 2 + f.length;
  }
  return hash('sha256', input, 'buffer').readUIntLE(0, 6);
}

function u16(v: number): Uint8Array {
  return Uint8Array.of(v & 0xff, v >> 8);
}

export class Placement {
  constructor(private readonly key: Uint8Array) {}

  /** The new bucket an address of `group` goes to when `sourceGroup` tells us of it. */
  newBucket(group: Uint8Array, sourceGroup: Uint8Array): number {
    const slot = keyedHash(this.key, 'n', [group, sourceGroup]) % TABLES.newBucketsPerSourceGroup;
    return keyedHash(this.key, 'N', [sourceGroup, u16(slot)]) % TABLES.newBuckets;
  }

  /** The tried bucket of an address (`addressKey` includes the port) of `group`. */
  triedBucket(addressKey: Uint8Array, group: Uint8Array): number {
    const slot = keyedHash(this.key, 't', [addressKey]) % TABLES.triedBucketsPerGroup;
    return keyedHash(this.key, 'T', [group, u16(slot)]) % TABLES.triedBuckets;
  }

  /** The position of an address within a bucket of the new or the tried table. */
  position(inNew: boolean, bucket: number, addressKey: Uint8Array): number {
    return keyedHash(this.key, inNew ? 'p' : 'q', [u16(bucket), addressKey]) % TABLES.bucketSize;
  }
}
