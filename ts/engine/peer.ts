// A peer handle. It stays valid as an object after its connection ends, but
// every action on a gone peer throws PeerGoneError instead of touching a
// connection that no longer exists (ids are never reused).
import type { SendResult } from '../native/transport.js';
import type { Message, VersionMessage } from '../wire/types.js';
import type { TimerHandle } from './clock.js';
import { PeerGoneError } from './errors.js';
import type { RequestOf, TrackedCommand, TrackedResponses } from './requests.js';

/** What the peer told us it supports, from its feature messages. */
export interface PeerFeatures {
  /** BIP 130: it wants new blocks announced with headers. */
  sendHeaders: boolean;
  /** BIP 339: it relays transactions by wtxid. */
  wtxidRelay: boolean;
  /** BIP 155: it accepts addrv2. */
  addrV2: boolean;
  /** BIP 152: its sendcmpct, if any. */
  compactBlocks?: { announce: boolean; version: bigint };
  /** BIP 133: its minimum fee rate (sat/kvB), if any. */
  feeRate?: bigint;
}

/** The engine operations a handle delegates to (kept narrow on purpose). */
export interface PeerHost {
  sendTo(peer: Peer, message: Message): SendResult;
  requestFrom<C extends TrackedCommand>(
    peer: Peer,
    message: RequestOf<C>,
    timeoutMs?: number,
  ): Promise<TrackedResponses[C]>;
  disconnectPeer(peer: Peer, reason: string, flush: boolean): void;
  misbehaving(peer: Peer, score: number, reason: string): void;
  banPeer(peer: Peer, reason: string, durationMs?: number): void;
}

/** Engine-private mutable state of a peer. */
export interface PeerState {
  versionSent: boolean;
  verackSent: boolean;
  verackReceived: boolean;
  handshakeComplete: boolean;
  score: number;
  lastRecvMs: number;
  sentSendHeaders: boolean;
  /** A getaddr has been taken from this peer (later ones are ignored). */
  getaddrReceived: boolean;
  /** When the oldest unanswered keepalive ping times out, if one is outstanding. */
  pingDeadlineMs?: number;
  gone?: string;
  /** The engine asked the transport to close it; input is ignored meanwhile. */
  closing: boolean;
  /** The nonce of the version we sent, while it matters for self-connection checks. */
  ourNonce?: bigint;
  timers: {
    handshake?: TimerHandle;
    ping?: TimerHandle;
    pingDeadline?: TimerHandle;
    inactivity?: TimerHandle;
  };
  /** The outbound target this connection serves, for redialling. */
  target?: string;
  /** Our version's relay flag on this connection, when not the policy's. */
  relay?: boolean;
}

export class Peer {
  /** The peer's version message, once received. */
  version?: VersionMessage;
  readonly features: PeerFeatures = { sendHeaders: false, wtxidRelay: false, addrV2: false };
  /** Smoothed ping round-trip time in ms (undefined until the first pong). */
  rttMs?: number;
  /** Lowest round-trip time seen. */
  minRttMs?: number;
  /** @internal */
  readonly state: PeerState;

  constructor(
    private readonly host: PeerHost,
    readonly id: number,
    /** "host:port" of the remote end (for a proxied connection, the target). */
    readonly address: string,
    readonly inbound: boolean,
    readonly connectedAtMs: number,
    /** The SOCKS5 proxy ("host:port") an outbound connection goes through;
     *  `address` is then the target as dialled, not the socket's remote end. */
    readonly proxy?: string,
  ) {
    this.state = {
      versionSent: false,
      verackSent: false,
      verackReceived: false,
      handshakeComplete: false,
      score: 0,
      lastRecvMs: connectedAtMs,
      sentSendHeaders: false,
      getaddrReceived: false,
      closing: false,
      timers: {},
    };
  }

  /** Whether the connection is still up. */
  get connected(): boolean {
    return this.state.gone === undefined;
  }

  /** Connected and not being disconnected: its messages are still processed. */
  get active(): boolean {
    return this.state.gone === undefined && !this.state.closing;
  }

  /** Whether version and verack have been exchanged. */
  get ready(): boolean {
    return this.state.handshakeComplete && this.active;
  }

  /** Misbehaviour score so far. */
  get score(): number {
    return this.state.score;
  }

  /** For an outbound peer, the address it was dialled as (`engine.connect`'s argument). */
  get target(): string | undefined {
    return this.state.target;
  }

  /** Our version's relay flag when set per connection (false: block-relay-only); undefined: policy.relay. */
  get relayRequested(): boolean | undefined {
    return this.state.relay;
  }

  get userAgent(): string | undefined {
    return this.version?.userAgent;
  }

  get services(): bigint | undefined {
    return this.version?.services;
  }

  get startHeight(): number | undefined {
    return this.version?.startHeight;
  }

  /**
   * Whether this peer has sent its getaddr. The engine passes on only the first
   * one per connection (Core answers getaddr once), so a 'getaddr' handler runs
   * at most once per peer; later ones are dropped as flooding, unpenalised.
   */
  get getaddrReceived(): boolean {
    return this.state.getaddrReceived;
  }

  private alive(): void {
    if (this.state.gone !== undefined) throw new PeerGoneError(this.id, this.state.gone);
  }

  /** Sends a message. Throws PeerGoneError if the peer has disconnected. */
  send(message: Message): SendResult {
    this.alive();
    return this.host.sendTo(this, message);
  }

  /**
   * Sends a request and resolves with its response: ping→pong, getheaders→headers,
   * getaddr→addr/addrv2, getdata→block/tx/notfound per item. Rejects on timeout.
   */
  request<C extends TrackedCommand>(
    message: RequestOf<C>,
    timeoutMs?: number,
  ): Promise<TrackedResponses[C]> {
    this.alive();
    return this.host.requestFrom(this, message, timeoutMs);
  }

  /** Ends the connection (queued messages are flushed first when `flush`). */
  disconnect(reason = 'disconnected by application', flush = false): void {
    this.alive();
    this.host.disconnectPeer(this, reason, flush);
  }

  /** Adds to the misbehaviour score; at the threshold the peer is banned. */
  misbehaving(score: number, reason: string): void {
    this.alive();
    this.host.misbehaving(this, score, reason);
  }

  /** Bans the peer's host now and disconnects it. */
  ban(reason: string, durationMs?: number): void {
    this.alive();
    this.host.banPeer(this, reason, durationMs);
  }

  toString(): string {
    return `peer ${this.id} (${this.address}, ${this.inbound ? 'inbound' : 'outbound'})`;
  }
}
