// peerwire: a Bitcoin-protocol P2P engine with a Rust hot path.
export type {
  DisconnectCode,
  EventHandler,
  FrameHandler,
  PeerId,
  RejectCode,
  TransportEvent,
} from './native/events.js';
export {
  type BroadcastOutcome,
  checksumsComputed,
  type Limits,
  NativeTransport,
  type NativeTransportOptions,
  type PeerInfo,
  type SendResult,
  type TransportHandlers,
} from './native/transport.js';
