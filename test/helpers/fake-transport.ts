// An in-memory Transport for clock-driven engine tests: it records what the
// engine sends and lets a test play the remote side by injecting frames.
import type { Transport } from '../../ts/engine/transport.js';
import type { PeerId, TransportEvent } from '../../ts/native/events.js';
import type {
  BroadcastOutcome,
  ProxyRoute,
  SendResult,
  TransportHandlers,
} from '../../ts/native/transport.js';
import { decodeMessage, encodeMessage } from '../../ts/wire/codec.js';
import type { Message } from '../../ts/wire/types.js';

export interface Sent {
  peer: PeerId;
  command: string;
  message: Message | undefined;
  flush?: boolean;
}

export class FakeTransport implements Transport {
  handlers: TransportHandlers = {};
  sent: Sent[] = [];
  disconnects: Array<{ peer: PeerId; reason: string; flush: boolean }> = [];
  dials: Array<{ peer: PeerId; address: string; proxy?: ProxyRoute }> = [];
  handshakeMarked = new Set<PeerId>();
  limits: Record<string, unknown>[] = [];
  closed = false;
  private nextId = 100;
  private live = new Set<PeerId>();

  setHandlers(handlers: TransportHandlers): void {
    this.handlers = handlers;
  }

  listen(host: string, port: number) {
    return { id: 1, host, port: port || 40_000 };
  }

  connect(address: string, proxy?: ProxyRoute): PeerId {
    const peer = this.nextId++;
    this.dials.push(proxy ? { peer, address, proxy } : { peer, address });
    return peer;
  }

  /** Commands the next sends of which are refused with this result (then cleared). */
  refuse = new Map<string, SendResult>();

  send(peer: PeerId, command: string, payload: Uint8Array): SendResult {
    if (!this.live.has(peer)) return 'unknown-peer';
    const refused = this.refuse.get(command);
    if (refused) {
      this.refuse.delete(command);
      return refused;
    }
    this.sent.push({ peer, command, message: decodeMessage(command, payload) });
    return 'queued';
  }

  broadcast(command: string, payload: Uint8Array, peers: PeerId[] = []): BroadcastOutcome {
    for (const peer of peers) this.send(peer, command, payload);
    return { queued: peers.length, backpressure: [], refused: [] };
  }

  markHandshakeComplete(peer: PeerId): void {
    if (!this.live.has(peer)) throw new Error(`unknown peer ${peer}`);
    this.handshakeMarked.add(peer);
  }

  disconnect(peer: PeerId, reason: string, options: { flush?: boolean } = {}): boolean {
    // Like the native engine: the first request wins.
    if (!this.live.has(peer) || this.pendingDisconnects.some((d) => d.peer === peer)) return false;
    this.disconnects.push({ peer, reason, flush: options.flush ?? false });
    // Like the native engine, the event arrives asynchronously; tests call settle().
    this.pendingDisconnects.push({ peer, reason });
    return true;
  }

  private pendingDisconnects: Array<{ peer: PeerId; reason: string }> = [];

  setLimits(limits: Record<string, unknown>): void {
    this.limits.push(limits);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const peer of [...this.live]) this.drop(peer, 'shutdown', 'engine shutting down');
  }

  // ---- test controls ----

  event(e: TransportEvent): void {
    if (e.type === 'connected' || e.type === 'accepted') this.live.add(e.peer);
    if (e.type === 'disconnected') this.live.delete(e.peer);
    this.handlers.onEvent?.(e);
  }

  /** The remote side of an outbound dial answers. */
  acceptDial(peer: PeerId, remote = '10.0.0.1:18444'): void {
    this.event({ type: 'connected', peer, remote, local: '127.0.0.1:50000' });
  }

  /** An inbound connection arrives. */
  inbound(peer: PeerId, remote = '10.0.0.2:50001'): void {
    this.event({ type: 'accepted', peer, remote, local: '127.0.0.1:18444', listener: 1 });
  }

  /** The remote peer sends `message`. */
  deliver(peer: PeerId, message: Message): void {
    this.frame(peer, message.command, encodeMessage(message));
  }

  frame(peer: PeerId, command: string, payload: Uint8Array): void {
    this.handlers.onFrame?.(peer, command, Buffer.from(payload));
  }

  /** Completes requested disconnects, as the native engine would report them. */
  settle(): void {
    for (const { peer, reason } of this.pendingDisconnects.splice(0)) {
      this.drop(peer, 'requested', reason);
    }
  }

  drop(peer: PeerId, reason: string, detail: string): void {
    if (!this.live.has(peer)) return;
    this.event({
      type: 'disconnected',
      peer,
      reason: reason as never,
      detail,
      unflushedBytes: 0,
    });
  }

  sentTo(peer: PeerId, command?: string): Sent[] {
    return this.sent.filter((s) => s.peer === peer && (!command || s.command === command));
  }
}
