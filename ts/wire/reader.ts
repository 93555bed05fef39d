// Bounds-checked reading of a payload. Every read checks the bytes are there
// first, so a lying count or length costs nothing before its bytes arrive.
import { DecodeError } from './errors.js';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lenientUtf8 = new TextDecoder('utf-8');

/** Bytes as UTF-8, with invalid sequences as U+FFFD. */
export function decodeLenient(bytes: Uint8Array): string {
  return lenientUtf8.decode(bytes);
}

/** A count for an error message: past 2^53 a number is no longer exact. */
function shown(n: number): string {
  return Number.isSafeInteger(n) ? String(n) : 'over 2^53';
}

export class Reader {
  private offset = 0;
  /**
   * For 64-bit reads only, made on the first: most messages have none, and a
   * DataView per message cost more than decoding a one-entry inv.
   */
  private view64: DataView | undefined;

  private readonly bytes: Uint8Array;

  /** The whole payload being read. */
  get payload(): Uint8Array {
    return this.bytes;
  }

  constructor(
    bytes: Uint8Array,
    readonly command: string,
    /** The caller hands the payload over: decoded values may be views of it. */
    readonly owned = false,
  ) {
    // A plain Uint8Array over the same memory: on a Node Buffer, `slice` makes
    // a view rather than a copy, and the copies below must not pin the batch.
    this.bytes = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Bytes consumed since `start` (an earlier offset, usually 0). */
  offsetFrom(start: number): number {
    return this.offset - start;
  }

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  fail(code: 'truncated' | 'too-many' | 'invalid', field: string, detail: string): never {
    throw new DecodeError(code, this.command, field, detail);
  }

  private need(n: number, field: string): number {
    if (this.remaining < n) {
      this.fail('truncated', field, `needs ${n} bytes, ${this.remaining} left`);
    }
    const at = this.offset;
    this.offset += n;
    return at;
  }

  u8(field: string): number {
    return this.bytes[this.need(1, field)] as number;
  }

  bool(field: string): boolean {
    return this.u8(field) !== 0;
  }

  u16be(field: string): number {
    const at = this.need(2, field);
    const b = this.bytes;
    return ((b[at] as number) << 8) | (b[at + 1] as number);
  }

  u32(field: string): number {
    return this.i32(field) >>> 0;
  }

  i32(field: string): number {
    const at = this.need(4, field);
    const b = this.bytes;
    return (
      (b[at] as number) |
      ((b[at + 1] as number) << 8) |
      ((b[at + 2] as number) << 16) |
      ((b[at + 3] as number) << 24)
    );
  }

  u64(field: string): bigint {
    return this.dataView().getBigUint64(this.need(8, field), true);
  }

  i64(field: string): bigint {
    return this.dataView().getBigInt64(this.need(8, field), true);
  }

  private dataView(): DataView {
    const b = this.bytes;
    this.view64 ??= new DataView(b.buffer, b.byteOffset, b.byteLength);
    return this.view64;
  }

  /** A view of the next `n` bytes (no copy). */
  bytesView(n: number, field: string): Uint8Array {
    const at = this.need(n, field);
    return this.bytes.subarray(at, at + n);
  }

  /** A copy of the next `n` bytes, so decoded messages do not pin batch buffers. */
  copy(n: number, field: string): Uint8Array {
    const at = this.need(n, field);
    return this.bytes.slice(at, at + n);
  }

  bytes32(field: string): Uint8Array {
    return this.copy(32, field);
  }

  /** CompactSize, canonical encoding required (as Bitcoin Core does). */
  varint(field: string): bigint {
    return this.varintFrom(this.u8(field), field);
  }

  /** The rest of a CompactSize whose first byte was `first`. */
  private varintFrom(first: number, field: string): bigint {
    if (first < 0xfd) return BigInt(first);
    if (first === 0xfd) {
      const at = this.need(2, field);
      const v = (this.bytes[at] as number) | ((this.bytes[at + 1] as number) << 8);
      if (v < 0xfd) this.fail('invalid', field, 'non-canonical CompactSize');
      return BigInt(v);
    }
    if (first === 0xfe) {
      const v = this.u32(field);
      if (v < 0x10000) this.fail('invalid', field, 'non-canonical CompactSize');
      return BigInt(v);
    }
    const v = this.u64(field);
    if (v < 0x100000000n) this.fail('invalid', field, 'non-canonical CompactSize');
    return v;
  }

  /**
   * A CompactSize as a number, for counts and lengths (no bigint on the way;
   * a value past 2^53 is past every limit, and stays so as a number).
   */
  private varintNumber(field: string): number {
    const first = this.u8(field);
    return first < 0xfd ? first : Number(this.varintFrom(first, field));
  }

  /**
   * A count of items at least `minItemBytes` each, at most `max`. Checked against
   * both the limit and the bytes actually present before anything is allocated.
   */
  count(field: string, max: number, minItemBytes: number): number {
    const count = this.varintNumber(field);
    if (count > max) this.fail('too-many', field, `${shown(count)} exceeds the limit of ${max}`);
    if (count * minItemBytes > this.remaining) {
      this.fail('truncated', field, `${count} items need at least ${count * minItemBytes} bytes`);
    }
    return count;
  }

  /** A length-prefixed byte string of at most `max` bytes (copied). */
  varBytes(field: string, max: number): Uint8Array {
    const n = this.varintNumber(field);
    if (n > max) this.fail('too-many', field, `length ${shown(n)} exceeds ${max}`);
    return this.copy(n, field);
  }

  /** A length-prefixed UTF-8 string of at most `max` bytes. */
  varString(field: string, max: number): string {
    const raw = this.varBytes(field, max);
    try {
      return strictUtf8.decode(raw);
    } catch {
      return this.fail('invalid', field, 'not valid UTF-8');
    }
  }

  /** Everything left. */
  rest(): Uint8Array {
    return this.bytesView(this.remaining, 'rest');
  }

  /** The rest of the payload as bytes of its own (see ownedBytes). */
  restOwned(): Uint8Array {
    return ownedBytes(this.rest());
  }
}

/**
 * `bytes` if they are the whole of their memory, else a copy. A small payload
 * arrives as a view into a batch buffer shared with the batch's other
 * payloads (up to about 1 MiB): keeping the view would keep all of it, so a
 * payload a user may keep (a block, a transaction, an unknown command) is
 * copied out. A large payload has its own buffer and is kept as it is.
 */
export function ownedBytes<T extends Uint8Array>(bytes: T): T {
  if (bytes.byteLength === bytes.buffer.byteLength) return bytes;
  if (!Buffer.isBuffer(bytes)) return new Uint8Array(bytes) as T;
  // Not Buffer.from: small copies come from a shared pool slab.
  const copy = Buffer.allocUnsafeSlow(bytes.byteLength);
  copy.set(bytes);
  return copy as unknown as T;
}
