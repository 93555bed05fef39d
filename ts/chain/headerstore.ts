// Raw headers in fixed-size slots of large shared buffers. A header kept as a
// decoded object costs ~400 bytes (an object and two 32-byte arrays); a slot
// costs 81: the header as a `headers` message's record (its 80 bytes and a
// zero transaction count), so a getheaders answer from consecutive slots is one
// copy, not one per header. Freed slots (pruned side branches) are reused, so
// the store never holds more slots than the chain has ever held headers at once.
import { HEADER_BYTES, HEADER_RECORD_BYTES } from '../wire/headers.js';
import type { BlockHeader } from '../wire/types.js';

/** Bytes per slot: a wire record. */
const SLOT_BYTES = HEADER_RECORD_BYTES;
/** Slots per chunk: 16,384 × 81 bytes ≈ 1.27 MiB per allocation. */
const CHUNK_SHIFT = 14;
const CHUNK_SLOTS = 1 << CHUNK_SHIFT;
const SLOT_MASK = CHUNK_SLOTS - 1;

/** Serializes `h` into `out` at `at` (the wire layout). */
export function writeHeaderBytes(out: Buffer, at: number, h: BlockHeader): void {
  out.writeInt32LE(h.version, at);
  out.set(h.prevBlock, at + 4);
  out.set(h.merkleRoot, at + 36);
  out.writeUInt32LE(h.time >>> 0, at + 68);
  out.writeUInt32LE(h.bits >>> 0, at + 72);
  out.writeUInt32LE(h.nonce >>> 0, at + 76);
}

export class HeaderStore {
  private readonly chunks: Buffer[] = [];
  private readonly free: number[] = [];
  private next = 0;

  /** Copies the 80 serialized header bytes at `at` of `raw` into a slot; returns the slot. */
  add(raw: Buffer, at = 0): number {
    let slot = this.free.pop();
    if (slot === undefined) {
      slot = this.next++;
      if (slot >>> CHUNK_SHIFT === this.chunks.length) {
        this.chunks.push(Buffer.allocUnsafeSlow(CHUNK_SLOTS * SLOT_BYTES));
      }
    }
    const chunk = this.chunk(slot);
    const to = (slot & SLOT_MASK) * SLOT_BYTES;
    raw.copy(chunk, to, at, at + HEADER_BYTES);
    chunk[to + HEADER_BYTES] = 0;
    return slot;
  }

  release(slot: number): void {
    this.free.push(slot);
  }

  /** Slots in use. */
  get size(): number {
    return this.next - this.free.length;
  }

  /** The slot's bytes, as a view: valid until the slot is released. */
  view(slot: number): Buffer {
    const at = (slot & SLOT_MASK) * SLOT_BYTES;
    return (this.chunks[slot >>> CHUNK_SHIFT] as Buffer).subarray(at, at + HEADER_BYTES);
  }

  /** Copies the slot's 80 bytes into `out` at `at`. */
  copyTo(slot: number, out: Buffer, at: number): void {
    this.chunk(slot).copy(
      out,
      at,
      (slot & SLOT_MASK) * SLOT_BYTES,
      (slot & SLOT_MASK) * SLOT_BYTES + HEADER_BYTES,
    );
  }

  /**
   * Writes the slots' records (header, then a zero transaction count) back to
   * back into `out` from `at`: slots that follow each other in a chunk, as a
   * chain's headers do when they arrived in order, are copied as one run.
   */
  copyRecordsTo(slots: readonly number[], out: Buffer, at: number): void {
    for (let i = 0; i < slots.length; ) {
      const first = slots[i] as number;
      let n = 1;
      while (
        i + n < slots.length &&
        slots[i + n] === first + n &&
        (first + n) >>> CHUNK_SHIFT === first >>> CHUNK_SHIFT
      ) {
        n++;
      }
      const from = (first & SLOT_MASK) * SLOT_BYTES;
      this.chunk(first).copy(out, at, from, from + n * SLOT_BYTES);
      at += n * SLOT_BYTES;
      i += n;
    }
  }

  version(slot: number): number {
    return this.chunk(slot).readInt32LE((slot & SLOT_MASK) * SLOT_BYTES);
  }

  time(slot: number): number {
    return this.chunk(slot).readUInt32LE((slot & SLOT_MASK) * SLOT_BYTES + 68);
  }

  bits(slot: number): number {
    return this.chunk(slot).readUInt32LE((slot & SLOT_MASK) * SLOT_BYTES + 72);
  }

  /**
   * The slot as a BlockHeader. `copy: false` gives hashes that are views into the
   * store (cheap, for encoding at once); `copy: true` gives the caller its own.
   */
  decode(slot: number, copy: boolean): BlockHeader {
    const buf = this.chunk(slot);
    const at = (slot & SLOT_MASK) * SLOT_BYTES;
    const prev = buf.subarray(at + 4, at + 36);
    const root = buf.subarray(at + 36, at + 68);
    return {
      version: buf.readInt32LE(at),
      prevBlock: copy ? new Uint8Array(prev) : prev,
      merkleRoot: copy ? new Uint8Array(root) : root,
      time: buf.readUInt32LE(at + 68),
      bits: buf.readUInt32LE(at + 72),
      nonce: buf.readUInt32LE(at + 76),
    };
  }

  private chunk(slot: number): Buffer {
    return this.chunks[slot >>> CHUNK_SHIFT] as Buffer;
  }
}
