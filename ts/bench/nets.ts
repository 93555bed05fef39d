// The two implementations under test behind one small interface, so each
// workload is written once: peerwire (the Rust engine via NativeTransport) and
// the plain-Node baseline.
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { NativeTransport } from '../native/transport.js';
import {
  BaselineDecoder,
  baselineFrame,
  baselineHeader,
  NO_COPY_BYTES,
  writeAll,
} from './baseline.js';

export const MAGIC = 'fabfb5da';
export type Impl = 'peerwire' | 'baseline';
/**
 * `'borrowed'`: handlers read a payload and forget it, so each side may hand
 * them memory it reuses (peerwire's borrowed payloads; the baseline's reused
 * payload buffer and, on the sockets it dials, reads into one static buffer).
 */
export type Payloads = 'owned' | 'borrowed';
export type FrameHandler = (conn: number, command: string, payload: Buffer) => void;

export interface BenchNet {
  /** Binds 127.0.0.1 on a free port. */
  listen(): Promise<number>;
  /** Opens `count` connections to `port`; resolves with their ids once all are up. */
  connect(port: number, count: number): Promise<number[]>;
  /** Called with each inbound connection id as it is accepted. */
  onAccept(handler: (conn: number) => void): void;
  onFrame(handler: FrameHandler): void;
  /** Called when a connection ends, with why. */
  onClosed(handler: (conn: number, reason: string) => void): void;
  /**
   * Sends one message. Returns nothing when the caller may go straight on, or
   * a promise to await first (the message is sent once it settles). With
   * borrowed payloads, echo only small received payloads: the baseline writes
   * 16 KiB and more without a copy, from a read buffer it reuses.
   */
  send(conn: number, command: string, payload: Uint8Array): Promise<void> | undefined;
  /** Sends many small messages with one command. */
  sendBulk(conn: number, command: string, payloads: Buffer, size: number): Promise<void>;
  /** Encodes once and sends to every connection in `conns`. */
  broadcast(conns: number[], command: string, payload: Uint8Array): void;
  close(): Promise<void>;
}

export function createNet(impl: Impl, payloads: Payloads = 'owned'): BenchNet {
  return impl === 'peerwire' ? new PeerwireNet(payloads) : new BaselineNet(payloads);
}

/**
 * The bench holds up to 10,000 peers from one address in one process: slot
 * limits (a driver may enforce Core's 125 connections) would decide the
 * numbers instead of the code under test.
 */
const BENCH_LIMITS = {
  preHandshakeMaxPayload: 4_000_000,
  maxInbound: 100_000,
  maxHandshaking: 100_000,
  maxConnections: 200_000,
};

class PeerwireNet implements BenchNet {
  private frameHandler: FrameHandler = () => {};
  private closedHandler: (conn: number, reason: string) => void = () => {};
  private acceptHandler: (conn: number) => void = () => {};
  private connected = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private writable = new Map<number, () => void>();
  private readonly transport: NativeTransport;

  constructor(payloads: Payloads) {
    this.transport = new NativeTransport(
      { magic: MAGIC, limits: BENCH_LIMITS, payloads },
      {
        onFrame: (peer, command, payload) => this.frameHandler(peer, command, payload),
        onEvent: (e) => {
          if (e.type === 'accepted') {
            this.markReady(e.peer);
            this.acceptHandler(e.peer);
          } else if (e.type === 'connected') {
            this.markReady(e.peer);
            this.connected.get(e.peer)?.resolve();
            this.connected.delete(e.peer);
          } else if (e.type === 'connect-failed') {
            this.connected
              .get(e.peer)
              ?.reject(new Error(`connect to ${e.address} failed: ${e.error}`));
            this.connected.delete(e.peer);
          } else if (e.type === 'disconnected') {
            this.closedHandler(e.peer, `${e.reason} ${e.detail}`.trim());
          } else if (e.type === 'writable') {
            const resume = this.writable.get(e.peer);
            this.writable.delete(e.peer);
            resume?.();
          }
        },
      },
    );
  }

  async listen(): Promise<number> {
    return this.transport.listen('127.0.0.1', 0).port;
  }

  connect(port: number, count: number): Promise<number[]> {
    return Promise.all(
      Array.from({ length: count }, () => {
        const id = this.transport.connect(`127.0.0.1:${port}`);
        return new Promise<number>((resolve, reject) =>
          this.connected.set(id, { resolve: () => resolve(id), reject }),
        );
      }),
    );
  }

  onAccept(handler: (conn: number) => void): void {
    this.acceptHandler = handler;
  }

  onFrame(handler: FrameHandler): void {
    this.frameHandler = handler;
  }

  onClosed(handler: (conn: number, reason: string) => void): void {
    this.closedHandler = handler;
  }

  /** Lifts the pre-handshake limit; a peer already gone shows up as `disconnected`. */
  private markReady(peer: number): void {
    try {
      this.transport.markHandshakeComplete(peer);
    } catch {}
  }

  private waitWritable(conn: number): Promise<void> {
    return new Promise((resolve) => this.writable.set(conn, resolve));
  }

  send(conn: number, command: string, payload: Uint8Array): Promise<void> | undefined {
    const r = this.transport.send(conn, command, payload);
    if (r === 'queued') return undefined;
    if (r === 'backpressure') return this.waitWritable(conn);
    if (r === 'full') return this.resend(conn, command, payload);
    throw new Error(`send failed: ${r}`);
  }

  private async resend(conn: number, command: string, payload: Uint8Array): Promise<void> {
    await this.waitWritable(conn);
    const again = this.send(conn, command, payload);
    if (again) await again;
  }

  async sendBulk(conn: number, command: string, payloads: Buffer, size: number): Promise<void> {
    const count = payloads.length / size;
    const batch = 8_192;
    const offsets = new Uint32Array(batch + 1);
    for (let start = 0; start < count; ) {
      const n = Math.min(batch, count - start);
      for (let i = 0; i <= n; i++) offsets[i] = i * size;
      const data = payloads.subarray(start * size, (start + n) * size);
      const { sent, last } = this.transport.sendMany(
        conn,
        command,
        data,
        offsets.subarray(0, n + 1),
      );
      start += sent;
      if (last === 'backpressure' || last === 'full') await this.waitWritable(conn);
      else if (last !== 'queued') throw new Error(`send failed: ${last}`);
    }
  }

  broadcast(conns: number[], command: string, payload: Uint8Array): void {
    this.transport.broadcast(command, payload, conns);
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}

/** The static read buffer's size, as Node's own reads (64 KiB). */
const READ_BUFFER_BYTES = 64 * 1024;

class BaselineNet implements BenchNet {
  private readonly magic = Buffer.from(MAGIC, 'hex');
  private frameHandler: FrameHandler = () => {};
  private closedHandler: (conn: number, reason: string) => void = () => {};
  private closing = false;
  private acceptHandler: (conn: number) => void = () => {};
  private sockets = new Map<number, Socket>();
  private server?: Server;
  private nextId = 1;
  /** With borrowed payloads: what the sockets this side dials read into. */
  private readonly readBuffer?: Buffer;

  constructor(private readonly payloads: Payloads) {
    if (payloads === 'borrowed') this.readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
  }

  /** Registers `socket`; `reading` says its reads already go to a decoder (`onread`). */
  private adopt(socket: Socket, id = this.nextId++, reading = false): number {
    socket.setNoDelay(true);
    this.sockets.set(id, socket);
    if (!reading) {
      const decoder = this.decoderFor(id);
      socket.on('data', (chunk) => decoder.push(chunk));
    }
    let why = 'peer-closed';
    socket.on('error', (err) => {
      why = err.message;
    });
    socket.on('close', () => {
      if (!this.closing) this.closedHandler(id, why);
    });
    return id;
  }

  async listen(): Promise<number> {
    const server = createServer((s) => this.acceptHandler(this.adopt(s)));
    this.server = server;
    server.maxConnections = 100_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve);
    });
    return (server.address() as { port: number }).port;
  }

  private decoderFor(id: number): BaselineDecoder {
    return new BaselineDecoder(
      this.magic,
      (command, payload) => this.frameHandler(id, command, payload),
      undefined,
      this.payloads === 'borrowed',
    );
  }

  connect(port: number, count: number): Promise<number[]> {
    return Promise.all(
      Array.from(
        { length: count },
        () =>
          new Promise<number>((resolve, reject) => {
            const id = this.nextId++;
            const buffer = this.readBuffer;
            let onread: { buffer: Buffer; callback: (n: number, b: Buffer) => boolean } | undefined;
            if (buffer) {
              // Node reads into one static buffer instead of a fresh one per read.
              const decoder = this.decoderFor(id);
              onread = {
                buffer,
                callback: (n) => {
                  decoder.push(buffer.subarray(0, n));
                  return true;
                },
              };
            }
            const s = tcpConnect({ port, host: '127.0.0.1', ...(onread ? { onread } : {}) });
            s.once('connect', () => resolve(this.adopt(s, id, onread !== undefined)));
            s.once('error', reject);
          }),
      ),
    );
  }

  onAccept(handler: (conn: number) => void): void {
    this.acceptHandler = handler;
  }

  onFrame(handler: FrameHandler): void {
    this.frameHandler = handler;
  }

  onClosed(handler: (conn: number, reason: string) => void): void {
    this.closedHandler = handler;
  }

  private socket(conn: number): Socket {
    const s = this.sockets.get(conn);
    if (!s) throw new Error(`no connection ${conn}`);
    return s;
  }

  send(conn: number, command: string, payload: Uint8Array): Promise<void> | undefined {
    const s = this.socket(conn);
    let flowing: boolean;
    if (payload.length >= NO_COPY_BYTES) {
      s.cork();
      s.write(baselineHeader(this.magic, command, payload));
      flowing = s.write(payload);
      s.uncork();
    } else {
      // Corked until the end of this tick, as peerwire corks its sends per
      // turn: a burst of small sends goes out in one writev, not one each.
      if (!this.corked.has(s)) {
        this.corked.add(s);
        s.cork();
        process.nextTick(() => {
          this.corked.delete(s);
          s.uncork();
        });
      }
      flowing = s.write(baselineFrame(this.magic, command, payload));
    }
    return flowing ? undefined : new Promise((r) => s.once('drain', () => r()));
  }

  private readonly corked = new Set<Socket>();

  async sendBulk(conn: number, command: string, payloads: Buffer, size: number): Promise<void> {
    const count = payloads.length / size;
    const batch = 8_192;
    for (let start = 0; start < count; start += batch) {
      const frames: Buffer[] = [];
      for (let i = start; i < Math.min(count, start + batch); i++) {
        frames.push(
          baselineFrame(this.magic, command, payloads.subarray(i * size, (i + 1) * size)),
        );
      }
      await writeAll(this.socket(conn), frames);
    }
  }

  broadcast(conns: number[], command: string, payload: Uint8Array): void {
    const header = baselineHeader(this.magic, command, payload);
    for (const c of conns) {
      const s = this.socket(c);
      s.cork();
      s.write(header);
      s.write(payload);
      s.uncork();
    }
  }

  close(): Promise<void> {
    this.closing = true;
    for (const s of this.sockets.values()) s.destroy();
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
