// What the Engine needs from a transport. NativeTransport (real sockets) is one;
// a simulated network can be another.
import type { EngineConfig, Limits } from '../config/schema.js';
import type { PeerId } from '../native/events.js';
import {
  type BroadcastOutcome,
  type Limits as NativeLimits,
  NativeTransport,
  type PeerInfo,
  type SendResult,
  type TransportHandlers,
} from '../native/transport.js';

export interface Transport {
  setHandlers(handlers: TransportHandlers): void;
  listen(host: string, port: number): { id: number; host: string; port: number };
  connect(address: string): PeerId;
  send(peer: PeerId, command: string, payload: Uint8Array): SendResult;
  broadcast(command: string, payload: Uint8Array, peers?: PeerId[]): BroadcastOutcome;
  markHandshakeComplete(peer: PeerId): void;
  disconnect(peer: PeerId, reason: string, options?: { flush?: boolean }): boolean;
  setLimits(limits: NativeLimits): void;
  close(): Promise<void>;
  /** Socket-level counters, where the transport keeps them. */
  peerInfo?(peer: PeerId): PeerInfo | null;
}

/** The engine's limits in the native driver's terms. */
export function nativeLimits(limits: Partial<Limits>): NativeLimits {
  const out: NativeLimits = {};
  if (limits.maxPayload !== undefined) out.maxPayload = limits.maxPayload;
  if (limits.preHandshakeMaxPayload !== undefined) {
    out.preHandshakeMaxPayload = limits.preHandshakeMaxPayload;
  }
  if (limits.recvBudgetBytes !== undefined) out.recvBudgetBytes = limits.recvBudgetBytes;
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
    workerThreads: config.workerThreads,
  });
}
