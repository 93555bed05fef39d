// What the Engine needs from a transport. NativeTransport (real sockets) is one;
// a simulated network can be another.
import type { EngineConfig, Limits } from '../config/schema.js';
import type { PeerId } from '../native/events.js';
import {
  type BroadcastOutcome,
  type Limits as NativeLimits,
  NativeTransport,
  type PeerInfo,
  type ProxyRoute,
  type SendResult,
  type TransportHandlers,
  type TransportStats,
} from '../native/transport.js';

export interface Transport {
  setHandlers(handlers: TransportHandlers): void;
  listen(host: string, port: number): { id: number; host: string; port: number };
  /** Dials `address`; through a SOCKS5 proxy when `proxy` is given (a
   *  transport without proxies, such as the simulator's, ignores it). */
  connect(address: string, proxy?: ProxyRoute): PeerId;
  send(peer: PeerId, command: string, payload: Uint8Array): SendResult;
  broadcast(command: string, payload: Uint8Array, peers?: PeerId[]): BroadcastOutcome;
  markHandshakeComplete(peer: PeerId): void;
  disconnect(peer: PeerId, reason: string, options?: { flush?: boolean }): boolean;
  setLimits(limits: NativeLimits): void;
  close(): Promise<void>;
  /** Socket-level counters, where the transport keeps them. */
  peerInfo?(peer: PeerId): PeerInfo | null;
  /** Transport-wide counters (refused, evicted, stalled), where kept. */
  stats?(): TransportStats;
  /** Closes inbound sockets from an IP at accept for `forMs` (the Engine's
   *  bans, mirrored), where the transport can. */
  refuseHost?(ip: string, forMs: number): void;
  allowHost?(ip: string): boolean;
  /** Payloads are only valid while their handler runs (NativeTransport's
   *  `payloads: 'borrowed'`): the Engine keeps payloads, so it refuses these. */
  readonly payloadsBorrowed?: boolean;
}

/**
 * The engine's limits in the native driver's terms. `all` is the whole
 * configuration after the change, for the total that depends on two fields.
 */
export function nativeLimits(limits: Partial<Limits>, all: Partial<Limits> = limits): NativeLimits {
  const out: NativeLimits = {};
  if (limits.maxPayload !== undefined) out.maxPayload = limits.maxPayload;
  if (limits.preHandshakeMaxPayload !== undefined) {
    out.preHandshakeMaxPayload = limits.preHandshakeMaxPayload;
  }
  if (limits.recvBudgetBytes !== undefined) out.recvBudgetBytes = limits.recvBudgetBytes;
  if (limits.preHandshakeRecvBudgetBytes !== undefined) {
    out.preHandshakeRecvBudgetBytes = limits.preHandshakeRecvBudgetBytes;
  }
  if (limits.maxInbound !== undefined) out.maxInbound = limits.maxInbound;
  if (limits.maxHandshaking !== undefined) out.maxHandshaking = limits.maxHandshaking;
  const totalChanged = ['maxConnections', 'maxInbound', 'maxOutbound'].some((k) => k in limits);
  if (totalChanged && all.maxInbound !== undefined && all.maxOutbound !== undefined) {
    out.maxConnections = all.maxConnections ?? all.maxInbound + all.maxOutbound;
  }
  if (limits.staleHandshakeMs !== undefined) out.staleHandshakeMs = limits.staleHandshakeMs;
  if (limits.batchMaxEvents !== undefined) out.batchMaxEvents = limits.batchMaxEvents;
  if (limits.batchMaxBytes !== undefined) out.batchMaxBytes = limits.batchMaxBytes;
  if (limits.batchPeerEvents !== undefined) out.batchPeerEvents = limits.batchPeerEvents;
  if (limits.batchPeerBytes !== undefined) out.batchPeerBytes = limits.batchPeerBytes;
  if (limits.sendBudgetBytes !== undefined) out.sendPauseBytes = limits.sendBudgetBytes;
  if (limits.sendMaxBytes !== undefined) out.sendMaxBytes = limits.sendMaxBytes;
  if (limits.onBadMagic !== undefined) out.onBadMagic = limits.onBadMagic;
  if (limits.onOversized !== undefined) out.onOversized = limits.onOversized;
  if (limits.onBadChecksum !== undefined) out.onBadChecksum = limits.onBadChecksum;
  if (limits.onBadCommand !== undefined) out.onBadCommand = limits.onBadCommand;
  return out;
}

/** A NativeTransport configured from an engine configuration. */
export function createNativeTransport(config: EngineConfig): Transport {
  return new NativeTransport({
    magic: config.network.magic,
    limits: nativeLimits(config.limits),
    connectTimeoutMs: config.limits.connectTimeoutMs,
    flushTimeoutMs: config.limits.flushTimeoutMs,
    sendStallTimeoutMs: config.limits.sendStallTimeoutMs,
    totalRecvBudgetBytes: config.limits.totalRecvBudgetBytes,
    workerThreads: config.workerThreads,
  });
}
