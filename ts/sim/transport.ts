// SimTransport: the Engine's Transport for one node of the simulated network.
// Calls go to the world with the node's id; the world answers with the same
// SEND_* codes and the same EventBatch format as the native engine, so the
// code that turns them into names and typed events is NativeTransport's.
import type { EngineConfig } from '../config/schema.js';
import { nativeLimits, type Transport } from '../engine/transport.js';
import type {
  BroadcastResult,
  EventBatch,
  NativeConnectionLimits,
  NativeLimits,
  NativePeerInfo,
  NativeStats,
  SimSlotCounts,
} from '../native/binding.js';
import {
  dispatchBatch,
  type EventHandler,
  type FrameHandler,
  type PeerId,
  type TransportEvent,
} from '../native/events.js';
import {
  type BroadcastOutcome,
  type Limits,
  type PeerInfo,
  type SendResult,
  sendResult,
  splitLimits,
  type TransportHandlers,
  type TransportStats,
} from '../native/transport.js';

/** The per-node transport calls of the world (see SimWorld in native/index.d.cts). */
export interface SimNodeCalls {
  listen(node: number, host: string, port: number): { id: number; host: string; port: number };
  connect(node: number, address: string): number;
  send(node: number, peer: number, commandName: string, payload: Uint8Array): number;
  broadcast(
    node: number,
    commandName: string,
    payload: Uint8Array,
    peers?: number[] | null,
  ): BroadcastResult;
  markHandshakeComplete(node: number, peer: number): void;
  disconnect(node: number, peer: number, reason: string, flush?: boolean | null): boolean;
  setLimits(node: number, limits: NativeLimits): void;
  setConnectionLimits(node: number, limits: NativeConnectionLimits): void;
  peerInfo(node: number, peer: number): NativePeerInfo | null;
  peerIds(node: number): number[];
  slotCounts(node: number): SimSlotCounts;
  stats(node: number): NativeStats;
  closeNode(node: number): void;
}

/** Sees every event and frame a transport delivers, before its handlers do. */
export interface TransportObserver {
  frame(node: number, peer: PeerId): void;
  event(node: number, event: TransportEvent): void;
}

/** A call on the transport of a node that has crashed (its Engine is gone). */
export class SimNodeDownError extends Error {
  override readonly name = 'SimNodeDownError';
  constructor(
    readonly node: number,
    call: string,
  ) {
    super(`node ${node} has crashed: ${call} is not possible until it restarts`);
  }
}

const noop = () => {};

/** The peer id a crashed node's transport hands out: no event will ever carry it. */
const DEAD_PEER = -1;

export class SimTransport implements Transport {
  private onFrame: FrameHandler = noop;
  private onEvent: EventHandler = noop;
  private dead = false;
  private closedFlag = false;
  private closeRequested = false;
  private readonly closeWaiters: Array<() => void> = [];
  private readonly frameSeen: FrameHandler;
  private readonly eventSeen: EventHandler;

  constructor(
    private readonly world: SimNodeCalls,
    readonly node: number,
    observer?: TransportObserver,
  ) {
    this.frameSeen = observer
      ? (peer, command, payload) => {
          observer.frame(node, peer);
          this.onFrame(peer, command, payload);
        }
      : (peer, command, payload) => this.onFrame(peer, command, payload);
    this.eventSeen = (event) => {
      observer?.event(node, event);
      if (event.type === 'closed') this.closedFlag = true;
      this.onEvent(event);
    };
  }

  setHandlers(handlers: TransportHandlers): void {
    this.onFrame = handlers.onFrame ?? noop;
    this.onEvent = handlers.onEvent ?? noop;
  }

  listen(host: string, port: number): { id: number; host: string; port: number } {
    this.assertUp('listen');
    return this.world.listen(this.node, host, port);
  }

  connect(address: string): PeerId {
    // A crashed node's leftover callbacks may still dial: nothing happens.
    if (this.dead) return DEAD_PEER;
    return this.world.connect(this.node, address);
  }

  send(peer: PeerId, command: string, payload: Uint8Array): SendResult {
    if (this.dead) return 'unknown-peer';
    return sendResult(this.world.send(this.node, peer, command, payload));
  }

  broadcast(command: string, payload: Uint8Array, peers?: PeerId[]): BroadcastOutcome {
    if (this.dead) return { queued: 0, backpressure: [], refused: peers ?? [] };
    return this.world.broadcast(this.node, command, payload, peers);
  }

  markHandshakeComplete(peer: PeerId): void {
    this.assertUp('markHandshakeComplete');
    this.world.markHandshakeComplete(this.node, peer);
  }

  disconnect(peer: PeerId, reason: string, options: { flush?: boolean } = {}): boolean {
    if (this.dead) return false;
    return this.world.disconnect(this.node, peer, reason, options.flush ?? false);
  }

  /** Per-peer limits and slot counts, split as NativeTransport splits them. */
  setLimits(limits: Limits): void {
    if (this.dead) return;
    const { peer, connections } = splitLimits(limits);
    this.world.setLimits(this.node, peer);
    if (connections) this.world.setConnectionLimits(this.node, connections);
  }

  peerInfo(peer: PeerId): PeerInfo | null {
    if (this.dead) return null;
    return this.world.peerInfo(this.node, peer);
  }

  peerIds(): PeerId[] {
    if (this.dead) return [];
    return this.world.peerIds(this.node);
  }

  /** Live connections by slot (the invariants' count, in one call). */
  slotCounts(): SimSlotCounts {
    if (this.dead) return { inbound: 0, handshaking: 0, total: 0 };
    return this.world.slotCounts(this.node);
  }

  stats(): TransportStats {
    if (this.dead)
      return { inboundRefused: 0, inboundEvicted: 0, inboundBanned: 0, sendStalled: 0 };
    return this.world.stats(this.node);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Whether the node this transport served has crashed. */
  get crashed(): boolean {
    return this.dead;
  }

  /**
   * Graceful close of the node's transport: resolves once its `closed` event
   * has been handled (the network must keep running for that). A crashed
   * node's transport has nothing left to close.
   */
  close(): Promise<void> {
    if (this.closedFlag || this.dead) return Promise.resolve();
    const done = new Promise<void>((resolve) => this.closeWaiters.push(resolve));
    if (!this.closeRequested) {
      this.closeRequested = true;
      this.world.closeNode(this.node);
    }
    return done;
  }

  /**
   * Hands one batch to the handlers, in order. Returns the first error a
   * handler threw (the batch is finished regardless).
   */
  dispatch(batch: EventBatch): unknown {
    const { error } = dispatchBatch(batch, this.frameSeen, this.eventSeen);
    if (this.closedFlag) for (const resolve of this.closeWaiters.splice(0)) resolve();
    return error;
  }

  /** The node crashed: from now on this transport touches nothing and reports nothing. */
  kill(): void {
    this.dead = true;
    // A close under way ends with the crash: nothing is left to flush.
    for (const resolve of this.closeWaiters.splice(0)) resolve();
  }

  private assertUp(call: string): void {
    if (this.dead) throw new SimNodeDownError(this.node, call);
  }
}

/** Node options the world takes when a node is added (the construction-time ones). */
export interface SimTransportOptions {
  limits?: NativeLimits;
  connections?: NativeConnectionLimits;
  connectTimeoutMs?: number;
  flushTimeoutMs?: number;
  sendStallTimeoutMs?: number;
  totalRecvBudgetBytes?: number;
}

/**
 * A node's transport options from an engine configuration, as
 * createNativeTransport builds a NativeTransport's: the same limits, split the
 * same way, and the same timeouts.
 */
export function simTransportOptions(config: EngineConfig): SimTransportOptions {
  const { peer, connections } = splitLimits(nativeLimits(config.limits));
  return {
    limits: peer,
    ...(connections ? { connections } : {}),
    connectTimeoutMs: config.limits.connectTimeoutMs,
    flushTimeoutMs: config.limits.flushTimeoutMs,
    sendStallTimeoutMs: config.limits.sendStallTimeoutMs,
    totalRecvBudgetBytes: config.limits.totalRecvBudgetBytes,
  };
}
