// The baseline the benchmark measures against: the same framing written in
// plain Node (net + crypto) as well as plain Node allows: one-shot
// `crypto.hash` (no Hash object per digest), one copy per small frame and none
// for large payloads (header and payload written together under cork), batched
// writes, a payload allocated once its header is known, checksums verified.
// Where the handlers forget payloads (peerwire runs with borrowed payloads
// there), a split payload is assembled in one reused buffer and dialled
// sockets read into one static buffer (`onread`).
import { hash } from 'node:crypto';
import type { Socket } from 'node:net';

const HEADER = 24;

let computed = 0;

/** Checksums the baseline has computed in this process. */
export function baselineChecksums(): number {
  return computed;
}

export function baselineChecksum(payload: Uint8Array): Buffer {
  computed++;
  return hash('sha256', hash('sha256', payload, 'buffer'), 'buffer').subarray(0, 4);
}

/** Payloads at least this big are written beside their header, not copied behind it. */
export const NO_COPY_BYTES = 16 * 1024;

/** The 24-byte header of a frame carrying `payload`. */
export function baselineHeader(magic: Buffer, command: string, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER);
  magic.copy(out, 0);
  out.fill(0, 4, 16);
  out.write(command, 4, 'ascii');
  out.writeUInt32LE(payload.length, 16);
  baselineChecksum(payload).copy(out, 20);
  return out;
}

/** One frame: magic, NUL-padded command, length, checksum, payload. */
export function baselineFrame(magic: Buffer, command: string, payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER + payload.length);
  magic.copy(out, 0);
  out.fill(0, 4, 16);
  out.write(command, 4, 'ascii');
  out.writeUInt32LE(payload.length, 16);
  baselineChecksum(payload).copy(out, 20);
  out.set(payload, HEADER);
  return out;
}

export type BaselineHandler = (command: string, payload: Buffer) => void;

/** Incremental decoder for one socket, calling `onFrame` with verified frames. */
export class BaselineDecoder {
  private pending: Buffer = Buffer.alloc(0);
  private header?: { command: string; length: number; checksum: number };
  private payload?: Buffer;
  private filled = 0;

  /** With `reusePayload`, the buffer split payloads are assembled in, reused. */
  private spare?: Buffer;

  /**
   * `reusePayload`: the handler forgets each payload when it returns, so a
   * payload split across reads is assembled in one reused buffer.
   */
  constructor(
    private readonly magic: Buffer,
    private readonly onFrame: BaselineHandler,
    private readonly maxPayload = 4_000_000,
    private readonly reusePayload = false,
  ) {}

  private payloadBuffer(length: number): Buffer {
    if (!this.reusePayload) return Buffer.allocUnsafe(length);
    if (!this.spare || this.spare.length < length) this.spare = Buffer.allocUnsafeSlow(length);
    return this.spare.subarray(0, length);
  }

  push(chunk: Buffer): void {
    let data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    this.pending = Buffer.alloc(0);
    let off = 0;
    for (;;) {
      if (!this.header) {
        if (data.length - off < HEADER) break;
        if (!data.subarray(off, off + 4).equals(this.magic)) throw new Error('bad magic');
        const end = data.indexOf(0, off + 4);
        const cmdEnd = end === -1 || end > off + 16 ? off + 16 : end;
        const length = data.readUInt32LE(off + 16);
        if (length > this.maxPayload) throw new Error('oversized');
        this.header = {
          command: data.toString('ascii', off + 4, cmdEnd),
          length,
          // A number, not a view: a static read buffer is overwritten by the next read.
          checksum: data.readUInt32LE(off + 20),
        };
        off += HEADER;
        this.payload = undefined;
        this.filled = 0;
      }
      const { length } = this.header;
      const available = data.length - off;
      if (!this.payload && available >= length) {
        // The whole payload is already here: a view, no copy.
        this.deliver(data.subarray(off, off + length));
        off += length;
        continue;
      }
      if (!this.payload) this.payload = this.payloadBuffer(length);
      const take = Math.min(length - this.filled, available);
      data.copy(this.payload, this.filled, off, off + take);
      this.filled += take;
      off += take;
      if (this.filled < length) break;
      this.deliver(this.payload);
    }
    if (off < data.length) {
      data = data.subarray(off);
      this.pending = Buffer.from(data);
    }
  }

  private deliver(payload: Buffer): void {
    const header = this.header;
    this.header = undefined;
    this.payload = undefined;
    if (!header) return;
    if (baselineChecksum(payload).readUInt32LE(0) !== header.checksum) return; // drop, as Core does
    this.onFrame(header.command, payload);
  }
}

/** Writes `frames` honouring the socket's backpressure; resolves when all are handed over. */
export async function writeAll(socket: Socket, frames: Buffer[]): Promise<void> {
  const chunk: Buffer[] = [];
  let size = 0;
  for (const f of frames) {
    chunk.push(f);
    size += f.length;
    if (size >= 256 * 1024) {
      if (!socket.write(Buffer.concat(chunk))) await new Promise((r) => socket.once('drain', r));
      chunk.length = 0;
      size = 0;
    }
  }
  if (chunk.length && !socket.write(Buffer.concat(chunk))) {
    await new Promise((r) => socket.once('drain', r));
  }
}
