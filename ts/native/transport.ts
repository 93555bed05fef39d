// NativeTransport: the TypeScript face of the Rust engine. It owns one native
// engine, turns its batches into typed callbacks and its codes into names.
import {
  type EventBatch,
  type NativeConnectionLimits,
  type NativeEngine,
  type NativeLimits,
  type NativePeerInfo,
  type NativeStats,
  native,
} from './binding.js';
import {
  dispatchBatch,
  type EventHandler,
  type FrameHandler,
  type PeerId,
  type TransportEvent,
} from './events.js';
import { StagedSends } from './staged.js';

/** What `send` did with a message. */
export type SendResult =
  /** Queued; keep sending. */
  | 'queued'
  /** Queued, but the peer's queue is past its pause point: wait for `writable`. */
  | 'backpressure'
  /** Not queued: the peer's queue is at its hard limit; wait for `writable`. */
  | 'full'
  /** Not queued, and never will be: bigger than the queue's hard limit on its own. */
  | 'too-large'
  /** Not queued: the peer is disconnecting. */
  | 'closed'
  /** Not queued: no such peer (never connected, or gone). */
  | 'unknown-peer';

// Indexed by the native SEND_* codes, built once (`send` is a hot path), on first
// use: importing this module must not load the addon.
let SEND_RESULT_BY_CODE: SendResult[] | undefined;

function sendResultTable(): SendResult[] {
  if (native.SEND_CODE_BITS !== SEND_CODE_BITS) {
    throw new Error(
      `the addon packs send codes in ${native.SEND_CODE_BITS} bits, not ${SEND_CODE_BITS}`,
    );
  }
  const table: SendResult[] = [];
  table[native.SEND_QUEUED] = 'queued';
  table[native.SEND_BACKPRESSURE] = 'backpressure';
  table[native.SEND_FULL] = 'full';
  table[native.SEND_CLOSED] = 'closed';
  table[native.SEND_UNKNOWN_PEER] = 'unknown-peer';
  table[native.SEND_TOO_LARGE] = 'too-large';
  return table;
}

/** A reply of `send`/`sendCommand`: a SEND_* code in these bits, the credit above them. */
const SEND_CODE_BITS = 3;
const SEND_CODE_MASK = (1 << SEND_CODE_BITS) - 1;

export function sendResult(code: number): SendResult {
  SEND_RESULT_BY_CODE ??= sendResultTable();
  const name = SEND_RESULT_BY_CODE[code];
  if (name === undefined) throw new Error(`unknown native send code ${code}`);
  return name;
}

/** Per-peer limits, and the slot counts and batching enforced for all peers. */
export type Limits = NativeLimits & NativeConnectionLimits;
export type ConnectionLimits = NativeConnectionLimits;
export type PeerInfo = NativePeerInfo;
export type TransportStats = NativeStats;

// The fields of Limits that are slot counts and batching, not per-peer limits.
const CONNECTION_KEYS: ReadonlyArray<keyof NativeConnectionLimits> = [
  'maxInbound',
  'maxHandshaking',
  'maxConnections',
  'staleHandshakeMs',
  'batchMaxEvents',
  'batchMaxBytes',
  'batchPeerEvents',
  'batchPeerBytes',
];

export function splitLimits(limits: Limits): {
  peer: NativeLimits;
  connections?: NativeConnectionLimits;
} {
  const peer: Record<string, unknown> = { ...limits };
  const connections: Record<string, unknown> = {};
  for (const key of CONNECTION_KEYS) {
    if (key in peer) {
      connections[key] = peer[key];
      delete peer[key];
    }
  }
  return Object.keys(connections).length > 0
    ? { peer: peer as NativeLimits, connections: connections as NativeConnectionLimits }
    : { peer: peer as NativeLimits };
}

export interface NativeTransportOptions {
  /** Network magic as 8 hex digits in wire order ("f9beb4d9" is mainnet). */
  magic: string;
  limits?: Limits;
  /** Outbound connect timeout in ms (default 10,000). */
  connectTimeoutMs?: number;
  /** How long a flushing disconnect or close waits on a slow peer, in ms (default 5,000). */
  flushTimeoutMs?: number;
  /** A peer that reads none of our queued bytes this long is disconnected (default 120,000). */
  sendStallTimeoutMs?: number;
  /** Received input waiting for handlers across all peers at which busy readers pause
   *  (default 32 MiB). */
  totalRecvBudgetBytes?: number;
  /** I/O threads (default 1). */
  workerThreads?: number;
  /**
   * `'borrowed'`: every payload is a view into one buffer the transport
   * reuses for every batch, valid only until the handler returns (copy what
   * you keep). Saves an allocation per batch and per large payload, and the
   * garbage collections they cause, for handlers that read and forget.
   * Default `'owned'` (see TransportHandlers.onFrame).
   */
  payloads?: 'owned' | 'borrowed';
}

/** A SOCKS5 proxy for one dial. */
export interface ProxyRoute {
  /** The proxy's "host:port" (IPv6 in brackets). */
  address: string;
  /** A fresh random username and password for this connection (default true):
   *  Tor gives it a circuit of its own. */
  randomizeCredentials?: boolean;
  /** The bound on the whole dial in ms (connect to the proxy and the SOCKS5
   *  exchange); default: the connect timeout. */
  timeoutMs?: number;
}

export interface TransportHandlers {
  /**
   * A verified frame. A payload under 64 KiB is a view into the batch's shared
   * buffer (copy it to keep it: see dispatchBatch); a larger one is its own.
   * With `payloads: 'borrowed'` every payload is only valid until the handler
   * returns.
   * A transport of your own must hand payloads over: never reuse or change
   * one's memory after passing it here.
   */
  onFrame?: FrameHandler;
  /** Every other event: connections, drops, backpressure relief, disconnects. */
  onEvent?: EventHandler;
}

export interface BroadcastOutcome {
  /** How many peers queued the message. */
  queued: number;
  /** Peers now past their pause point (the message was queued). */
  backpressure: PeerId[];
  /** Peers that did not take it: full, closing or unknown. */
  refused: PeerId[];
}

const noop = () => {};

/**
 * A borrowed-payload buffer's first size, and the most it grows to: room for
 * a default batch (1 MiB) or a default largest message (4,000,000 bytes).
 * Anything larger arrives in a buffer of its own, as with owned payloads.
 */
const LENT_START_BYTES = 256 * 1024;
const LENT_MAX_BYTES = 4 * 1024 * 1024;

/** Zeroed: `payload.buffer` shows a handler the whole of it. */
function freshLent(size: number): Buffer {
  return Buffer.alloc(size);
}

/** How long one slice of a batch's handlers may run before the event loop's turn. */
const SLICE_MS = 10;

/**
 * A socket-level peer-to-peer transport backed by the Rust engine. It frames,
 * checksums, reads and writes; it knows nothing of handshakes or messages.
 *
 * Flow control, end to end: events arrive in batches that Rust bounds in
 * bytes and events and fills fairly, a small quantum from each busy peer in
 * turn. A peer's input stays charged to its receive budget until its batch
 * has been handled here (every handler returned), and Rust stops reading a
 * peer whose budget is spent; so a peer can make us hold only what its budget
 * allows, however slow the handlers are. Between batches the event loop gets
 * a turn (timers, signals, I/O), so no inbound load can starve it.
 */
export class NativeTransport {
  private readonly engine: NativeEngine;
  private onFrame: FrameHandler;
  private onEvent: EventHandler;
  private closing = false;
  private closedFlag = false;
  private pumpScheduled = false;
  /** A batch being handled in slices, and where it stopped. */
  private current?: { batch: EventBatch; next: number };
  private flushScheduled = false;
  private readonly flush = () => {
    this.flushScheduled = false;
    try {
      this.staged.flush();
    } finally {
      // What went to the addon directly this turn is written regardless.
      this.engine.flush();
    }
  };
  /** Sends the addon's credit already covers, handed over once per turn. */
  private readonly staged: StagedSends;
  private readonly closeWaiters: Array<() => void> = [];
  /** Command ids from the addon (registerCommand), so `send` passes a number. */
  private readonly commandIds = new Map<string, number>();
  /** The addon's command table is full: new names go as strings without asking it. */
  private commandTableFull = false;
  /** With borrowed payloads: the buffer every batch's payloads are copied into. */
  private lent?: Buffer;

  /** Payloads are views valid only while their handler runs (`payloads: 'borrowed'`). */
  get payloadsBorrowed(): boolean {
    return this.lent !== undefined;
  }

  constructor(options: NativeTransportOptions, handlers: TransportHandlers = {}) {
    this.onFrame = handlers.onFrame ?? noop;
    this.onEvent = handlers.onEvent ?? noop;
    const { limits, payloads, ...rest } = options;
    if (payloads !== undefined && payloads !== 'owned' && payloads !== 'borrowed') {
      throw new TypeError(`payloads must be 'owned' or 'borrowed', not ${String(payloads)}`);
    }
    if (payloads === 'borrowed') this.lent = freshLent(LENT_START_BYTES);
    const split = limits ? splitLimits(limits) : undefined;
    this.engine = new native.NativeEngine(
      {
        ...rest,
        ...(split ? { limits: split.peer } : {}),
        ...(split?.connections ? { connections: split.connections } : {}),
      },
      () => this.pump(),
    );
    if (this.lent && typeof this.engine.pollLent !== 'function') {
      this.engine.close();
      throw new Error("this build of the peerwire addon predates payloads: 'borrowed'");
    }
    const closes = this.engine.closeCounter();
    this.staged = new StagedSends(
      (meta, data) => this.engine.sendStaged(meta, data),
      closes ? new Uint32Array(closes.buffer, closes.byteOffset, 1) : null,
    );
  }

  /** Replaces the handlers (for code that wires them after construction). */
  setHandlers(handlers: TransportHandlers): void {
    this.onFrame = handlers.onFrame ?? noop;
    this.onEvent = handlers.onEvent ?? noop;
  }

  /** Binds and starts accepting; port 0 picks a free port. */
  listen(host: string, port: number): { id: number; host: string; port: number } {
    return this.engine.listen(host, port);
  }

  /**
   * Dials `host:port`, through a SOCKS5 proxy when `proxy` is given; the
   * returned id appears in the `connected` or `connect-failed` event. Through
   * a proxy, `connected`'s remote address is the proxy's.
   */
  connect(address: string, proxy?: ProxyRoute): PeerId {
    return this.engine.connect(address, proxy);
  }

  /**
   * Frames and queues one message. Sends made in the same turn of the event
   * loop go out together, in one write per peer, as soon as the turn's
   * synchronous code is done (a microtask): a burst costs one syscall, a
   * lone pong goes out right after its handler returns. The payload is
   * copied before this returns.
   *
   * A small message the peer's queue is known to have room for is staged
   * here and handed to the addon with the rest of the turn's (one native call
   * for the lot); its result is exact all the same (see staged.ts).
   */
  send(peer: PeerId, command: string, payload: Uint8Array): SendResult {
    let id: number | null | undefined = this.commandIds.get(command);
    if (id === undefined) {
      // Validated once (a bad name throws here, as send would). The addon's
      // table is bounded; past it, names go as strings and are not cached.
      id = this.commandTableFull ? null : this.engine.registerCommand(command);
      if (id !== null) this.commandIds.set(command, id);
      else this.commandTableFull = true;
    }
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      queueMicrotask(this.flush);
    }
    if (id !== null && this.staged.tryStage(peer, id, payload)) return 'queued';
    // What was staged goes first, then this one with the addon's answer.
    this.staged.flush();
    const closes = this.staged.closesNow();
    const reply =
      id === null
        ? this.engine.send(peer, command, payload)
        : this.engine.sendCommand(peer, id, payload);
    this.staged.setCredit(peer, reply >>> SEND_CODE_BITS, closes);
    return sendResult(reply & SEND_CODE_MASK);
  }

  /**
   * Queues many messages with one command in a single native call: message `i`
   * is `data.subarray(offsets[i], offsets[i + 1])`.
   */
  sendMany(
    peer: PeerId,
    command: string,
    data: Uint8Array,
    offsets: Uint32Array,
  ): { sent: number; last: SendResult } {
    this.staged.flush();
    this.staged.forget(peer);
    const [sent, last] = this.engine.sendMany(peer, command, data, offsets);
    return { sent: sent ?? 0, last: sendResult(last ?? native.SEND_QUEUED) };
  }

  /** Encodes and checksums once, then queues the same bytes for every target. */
  broadcast(command: string, payload: Uint8Array, peers?: PeerId[]): BroadcastOutcome {
    this.staged.flush();
    if (peers === undefined) this.staged.forgetAll();
    else for (const peer of peers) this.staged.forget(peer);
    return this.engine.broadcast(command, payload, peers);
  }

  /** Lifts the pre-handshake payload limit for `peer`. */
  markHandshakeComplete(peer: PeerId): void {
    this.engine.markHandshakeComplete(peer);
  }

  /**
   * Ends a connection with your reason. With `flush`, what is queued is written
   * first. Returns false if the peer is unknown or already disconnecting.
   */
  disconnect(peer: PeerId, reason: string, options: { flush?: boolean } = {}): boolean {
    this.staged.flush();
    this.staged.forget(peer);
    return this.engine.disconnect(peer, reason, options.flush ?? false);
  }

  /**
   * Changes limits for every connection, live ones included; slot counts apply
   * to the next socket that arrives.
   */
  setLimits(limits: Limits): void {
    const { peer, connections } = splitLimits(limits);
    // Credits were given under the old limits.
    this.staged.flush();
    this.staged.forgetAll();
    this.engine.setLimits(peer);
    if (connections) this.engine.setConnectionLimits(connections);
  }

  peerInfo(peer: PeerId): PeerInfo | null {
    this.staged.flush();
    return this.engine.peerInfo(peer);
  }

  /** Counters for the whole transport: sockets refused, banned or evicted at accept, stalled peers. */
  stats(): TransportStats {
    return this.engine.stats();
  }

  /**
   * Closes inbound sockets from `ip` (an IP address, no port) at accept,
   * before a byte is read and without an event, for the next `forMs`
   * milliseconds (0 lifts it). Connections already open are not touched.
   */
  refuseHost(ip: string, forMs: number): void {
    this.engine.refuseHost(ip, forMs);
  }

  /** Accepts inbound sockets from `ip` again; whether it was refused. */
  allowHost(ip: string): boolean {
    return this.engine.allowHost(ip);
  }

  peerIds(): PeerId[] {
    return this.engine.peerIds();
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /**
   * Graceful shutdown: stop accepting, flush every queue (bounded by the flush
   * timeout), close every connection. Resolves once all of that is done; after
   * it the transport holds nothing that keeps Node running.
   */
  close(): Promise<void> {
    if (this.closedFlag) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.closeWaiters.push(resolve));
    if (!this.closing) {
      this.closing = true;
      // Later sends go to the addon, which refuses them as closed.
      this.staged.flush();
      this.staged.forgetAll();
      this.engine.close();
    }
    return done;
  }

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    let batch = this.current?.batch ?? null;
    if (batch === null) {
      try {
        // A handler may have transferred the buffer away (postMessage, structuredClone).
        if (this.lent?.byteLength === 0) this.lent = freshLent(LENT_START_BYTES);
        batch = this.lent ? this.engine.pollLent(this.lent) : this.engine.poll();
      } catch (err) {
        // Not expected (packing a batch cannot fail); never stop pumping over
        // it: try again after the event loop's turn, and report it like a
        // handler's error.
        this.schedulePump();
        rethrowLater(err);
        return;
      }
      if (batch === null) return;
    }
    // A batch is handled in slices of a few milliseconds: however costly the
    // handlers, timers and I/O get a turn between slices.
    const { next, error } = dispatchBatch(
      batch,
      this.onFrame,
      this.onEventAndClose,
      this.current?.next ?? 0,
      performance.now() + SLICE_MS,
      this.lent,
    );
    if (error !== undefined) rethrowLater(error);
    const sliced = this.current !== undefined;
    if (next < batch.meta.length) {
      this.current = { batch, next };
      this.schedulePump();
      return;
    }
    this.current = undefined;
    // Handled: its input no longer counts against the peers' budgets.
    this.engine.release();
    this.growLent(batch.payloadBytes);
    // Come back after the event loop has had its turn, not before; and after
    // a batch handled in slices, whatever its `more` said: a wake-up that
    // came between slices was spent on continuing this batch.
    if (batch.more || sliced) this.schedulePump();
    if (this.closedFlag) {
      if (this.lent) this.lent = Buffer.alloc(0);
      for (const resolve of this.closeWaiters.splice(0)) resolve();
    }
  }

  /** Payloads that did not fit came in buffers of their own: make room for next time. */
  private growLent(wanted: number): void {
    if (this.lent === undefined || wanted <= this.lent.length) return;
    let size = Math.max(this.lent.length, LENT_START_BYTES);
    while (size < wanted && size < LENT_MAX_BYTES) size *= 2;
    if (size > this.lent.length) this.lent = freshLent(size);
  }

  private readonly onEventAndClose = (event: TransportEvent): void => {
    if (event.type === 'closed') this.closedFlag = true;
    else if (event.type === 'disconnected') this.staged.forget(event.peer);
    this.onEvent(event);
  };
}

/** A handler threw: surface it like an EventEmitter would, without stopping. */
function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}

/** Frame checksums computed by this process so far (encode and verify). */
export function checksumsComputed(): number {
  return native.checksumsComputedTotal();
}
