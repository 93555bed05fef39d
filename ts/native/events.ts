// Typed events decoded from the native engine's batches.
import type { EventBatch } from './binding.js';
import { native } from './binding.js';

/** A connection id, unique for the life of a transport. */
export type PeerId = number;

/** Input refused by the frame decoder. */
export type RejectCode = 'bad-magic' | 'oversized' | 'bad-checksum' | 'bad-command';

/** Why a connection ended. */
export type DisconnectCode =
  | 'requested'
  | 'peer-closed'
  | 'io-error'
  | 'shutdown'
  | 'internal'
  /** Inbound was full and a newer connection took this one's slot. */
  | 'evicted'
  /** The peer read none of our queued bytes for the send-stall timeout. */
  | 'send-stalled'
  | RejectCode;

export type TransportEvent =
  | { type: 'connected'; peer: PeerId; remote: string; local: string }
  | { type: 'accepted'; peer: PeerId; remote: string; local: string; listener: number }
  | { type: 'connect-failed'; peer: PeerId; address: string; error: string }
  /** A message was refused and dropped; the connection stays. */
  | { type: 'dropped'; peer: PeerId; reason: RejectCode; detail: string }
  /** A peer whose sends reported backpressure has drained. */
  | { type: 'writable'; peer: PeerId }
  | {
      type: 'disconnected';
      peer: PeerId;
      reason: DisconnectCode;
      detail: string;
      /** Bytes that were queued for the peer but never written. */
      unflushedBytes: number;
    }
  | { type: 'listener-error'; listener: number; error: string }
  /** `close()` finished; nothing more will arrive. */
  | { type: 'closed' };

/**
 * A verified frame's payload, handed over: a transport must not reuse or
 * change a payload's memory once it has passed it on (the Engine may keep a
 * large `headers` payload's bytes as the decoded message's records).
 */
export type FrameHandler = (peer: PeerId, command: string, payload: Buffer) => void;
export type EventHandler = (event: TransportEvent) => void;

const STRIDE = 5;

/** How far a call to dispatchBatch got. */
export interface Dispatched {
  /** Where to continue (an index into `meta`); `meta.length` when the batch is done. */
  next: number;
  /** The first error a handler threw, if any. */
  error: unknown;
}

/**
 * Walks one batch in order from `from`, calling `onFrame` for frames and
 * `onEvent` for everything else, until the batch ends or `deadline`
 * (performance.now() milliseconds) passes. A payload under 64 KiB is a view
 * into the batch's shared buffer: copy it if you keep it past the handler, or
 * it keeps the whole batch (up to about 1 MiB) alive. A larger payload arrives
 * in a buffer of its own, made over the received bytes without a copy, and is
 * yours to keep. With `lent` (borrowed payloads, see pollLent), payloads are
 * views into that buffer instead, which the caller reuses for its next batch:
 * valid only while their handler runs. A throwing handler does not stop the
 * batch: the first error is returned for the caller to rethrow.
 */
export function dispatchBatch(
  batch: EventBatch,
  onFrame: FrameHandler,
  onEvent: EventHandler,
  from = 0,
  deadline = Number.POSITIVE_INFINITY,
  lent?: Buffer,
): Dispatched {
  const { data, meta, strings, buffers } = batch;
  const arrayBuffer = data.buffer as ArrayBuffer;
  const base = data.byteOffset;
  // Read once: `native` holds many properties, and this loop runs per frame.
  const FRAME = native.EVENT_FRAME;
  const FRAME_OWN = native.EVENT_FRAME_OWN;
  const FRAME_LENT = native.EVENT_FRAME_LENT;
  const lentBuffer = lent?.buffer as ArrayBuffer;
  const lentBase = lent?.byteOffset ?? 0;
  let error: unknown;
  for (let i = from, n = 0; i < meta.length; i += STRIDE, n++) {
    // Checked every 32 events: the clock is cheap, but not free.
    if ((n & 31) === 31 && performance.now() > deadline) return { next: i, error };
    const kind = meta[i] as number;
    const peer = meta[i + 1] as number;
    const a = meta[i + 2] as number;
    const b = meta[i + 3] as number;
    const c = meta[i + 4] as number;
    try {
      if (kind === FRAME) {
        // From the ArrayBuffer, not data.subarray: a real Buffer all the same,
        // without subarray's read of the `buffer` getter for every frame.
        onFrame(peer, strings[a] as string, Buffer.from(arrayBuffer, base + b, c));
      } else if (kind === FRAME_LENT) {
        onFrame(peer, strings[a] as string, Buffer.from(lentBuffer, lentBase + b, c));
      } else if (kind === FRAME_OWN) {
        onFrame(peer, strings[a] as string, buffers[b] as Buffer);
      } else {
        onEvent(decodeEvent(kind, peer, a, b, c, strings));
      }
    } catch (err) {
      error ??= err;
    }
  }
  return { next: meta.length, error };
}

function decodeEvent(
  kind: number,
  peer: number,
  a: number,
  b: number,
  c: number,
  strings: string[],
): TransportEvent {
  const s = (i: number) => strings[i] as string;
  switch (kind) {
    case native.EVENT_CONNECTED:
      return { type: 'connected', peer, remote: s(a), local: s(b) };
    case native.EVENT_ACCEPTED:
      return { type: 'accepted', peer, remote: s(a), local: s(b), listener: c };
    case native.EVENT_CONNECT_FAILED:
      return { type: 'connect-failed', peer, address: s(a), error: s(b) };
    case native.EVENT_DROPPED:
      return { type: 'dropped', peer, reason: s(a) as RejectCode, detail: s(b) };
    case native.EVENT_WRITABLE:
      return { type: 'writable', peer };
    case native.EVENT_DISCONNECTED:
      return {
        type: 'disconnected',
        peer,
        reason: s(a) as DisconnectCode,
        detail: s(b),
        unflushedBytes: c,
      };
    case native.EVENT_LISTENER_ERROR:
      return { type: 'listener-error', listener: peer, error: s(a) };
    case native.EVENT_CLOSED:
      return { type: 'closed' };
    default:
      throw new Error(`unknown native event kind ${kind}`);
  }
}
