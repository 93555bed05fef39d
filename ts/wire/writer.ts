// Growable little-endian writer for encoding payloads.

export class Writer {
  private buf: Buffer;
  private length = 0;

  constructor(initial = 64) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  /** Reserves `n` bytes and returns their offset. Call it before reading
   *  `this.buf`, which it may replace. */
  private room(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  u8(v: number): this {
    const at = this.room(1);
    this.buf.writeUInt8(v, at);
    return this;
  }

  bool(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }

  u16be(v: number): this {
    const at = this.room(2);
    this.buf.writeUInt16BE(v, at);
    return this;
  }

  u32(v: number): this {
    const at = this.room(4);
    this.buf.writeUInt32LE(v >>> 0, at);
    return this;
  }

  i32(v: number): this {
    const at = this.room(4);
    this.buf.writeInt32LE(v, at);
    return this;
  }

  u64(v: bigint): this {
    const at = this.room(8);
    this.buf.writeBigUInt64LE(v, at);
    return this;
  }

  i64(v: bigint): this {
    const at = this.room(8);
    this.buf.writeBigInt64LE(v, at);
    return this;
  }

  bytes(v: Uint8Array): this {
    const at = this.room(v.length);
    this.buf.set(v, at);
    return this;
  }

  varint(v: number | bigint): this {
    const n = BigInt(v);
    if (n < 0xfdn) return this.u8(Number(n));
    if (n <= 0xffffn) {
      this.u8(0xfd);
      const at = this.room(2);
      this.buf.writeUInt16LE(Number(n), at);
      return this;
    }
    if (n <= 0xffffffffn) return this.u8(0xfe).u32(Number(n));
    return this.u8(0xff).u64(n);
  }

  varBytes(v: Uint8Array): this {
    return this.varint(v.length).bytes(v);
  }

  varString(v: string): this {
    return this.varBytes(Buffer.from(v, 'utf8'));
  }

  finish(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}
