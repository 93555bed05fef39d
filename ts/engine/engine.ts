// The Engine: peer lifecycle over a transport, a router between it and small
// managers (Handshake, Keepalive, Dialer, PeerTable, RequestTracker,
// BanList): inbound slots, misbehaviour and bans, typed events. All timing comes from the
// injected clock.
import { isIP } from 'node:net';
import type { PeerNetwork } from '../addr/address.js';
import {
  type EngineConfig,
  type EngineConfigInput,
  type Limits,
  type LimitsInput,
  parseConfig,
  parseLimitsUpdate,
} from '../config/schema.js';
import type { PeerId, TransportEvent } from '../native/events.js';
import type { SendResult } from '../native/transport.js';
import { type DecodeOptions, decodeMessage, encodeMessage } from '../wire/codec.js';
import { DecodeError } from '../wire/errors.js';
import { ownedBytes } from '../wire/reader.js';
import type { Command, Message, PayloadOf } from '../wire/types.js';
import { type BanEntry, BanList, hostOf, isLoopback } from './bans.js';
import { type Clock, systemClock } from './clock.js';
import { Dialer } from './dialer.js';
import { Emitter } from './emitter.js';
import { EngineClosedError, RequestAbortedError } from './errors.js';
import { Handshake, isHandshakeMessage, type VersionRefusal } from './handshake.js';
import { Keepalive } from './keepalive.js';
import { Peer, type PeerHost } from './peer.js';
import { PeerTable } from './peer-table.js';
import { isReachable, reachableNetworks, routeFor } from './proxy.js';
import {
  type OutstandingRequest,
  type RequestOf,
  RequestTracker,
  type TrackedCommand,
  type TrackedResponses,
} from './requests.js';
import { createNativeTransport, nativeLimits, type Transport } from './transport.js';

/** Reasons the engine itself gives when it ends a connection. */
export type EngineDisconnectReason =
  | 'handshake-timeout'
  /** The peer's version did not decode: no handshake can follow. */
  | 'bad-version-message'
  /** version-too-old, missing-services, user-agent-rejected, self-connection */
  | VersionRefusal
  | 'inbound-full'
  | 'ping-timeout'
  | 'inactivity'
  | 'banned'
  | 'misbehaving'
  | 'shutdown';

export interface DisconnectInfo {
  /** An EngineDisconnectReason, the application's own reason, or a transport code
   *  such as "peer-closed", "io-error", "bad-magic", "oversized". */
  reason: string;
  detail: string;
  /** Whether this side (engine or application) ended it. */
  local: boolean;
}

/** Context passed with each message event (shared and frozen: do not keep or change it). */
export interface MessageInfo {
  /** False when the message is a response kind nobody asked for. */
  readonly solicited: boolean;
}

const SOLICITED: MessageInfo = Object.freeze({ solicited: true });
const UNSOLICITED: MessageInfo = Object.freeze({ solicited: false });
/** Decoding a frame: its payload is the transport's own, handed over. */
const OWNED: DecodeOptions = Object.freeze({ owned: true });

type CommandEvents = {
  [C in Command]: (peer: Peer, payload: PayloadOf<C>, info: MessageInfo) => void;
};

export interface EngineEvents extends CommandEvents {
  /** A socket is up (before the handshake). */
  connected: (peer: Peer) => void;
  /** version/verack exchanged: the peer is ready. */
  handshake: (peer: Peer) => void;
  /** An outbound connection could not be made or kept. */
  failed: (info: { address: string; error: string; retryInMs?: number }) => void;
  disconnected: (peer: Peer, info: DisconnectInfo) => void;
  banned: (entry: BanEntry) => void;
  misbehaving: (peer: Peer, info: { score: number; total: number; reason: string }) => void;
  /** Every decoded message after the handshake, before its per-command event. */
  message: (peer: Peer, message: Message, info: MessageInfo) => void;
  /** A command peerwire has no codec for, passed through raw. */
  unknown: (peer: Peer, command: string, payload: Buffer) => void;
  /** A malformed payload (the peer has been penalised). */
  'decode-error': (peer: Peer, error: DecodeError) => void;
  /** A message dropped unprocessed: refused by the transport (bad checksum, bad
   *  command) or ignored by the engine as flooding ("repeated-getaddr"). */
  dropped: (peer: Peer, info: { reason: string; detail: string }) => void;
  /** A peer that reported backpressure can take more. */
  writable: (peer: Peer) => void;
  closed: () => void;
}

export interface EngineOptions extends EngineConfigInput {
  /** Time source; a ManualClock drives the engine deterministically in tests. */
  clock?: Clock;
  /** Defaults to a NativeTransport built from this configuration. */
  transport?: Transport;
  /** The best height to announce in our version messages (default 0). */
  startHeight?: () => number;
  /**
   * Where an error thrown by an event handler goes. The Engine carries on
   * either way; by default the error is rethrown on a microtask (an uncaught
   * exception, as from an EventEmitter). A simulation fails its step instead.
   */
  onHandlerError?: (error: unknown) => void;
}

/** Score for a payload that does not decode (Core: oversized addr/inv/headers is 20). */
const MALFORMED_SCORE = 20;
/** Score for a response nobody asked for, when the policy is to penalise. */
const UNSOLICITED_SCORE = 10;
/** Inbound connections allowed to be mid-handshake beyond the inbound slots. */
const EXTRA_HANDSHAKING_INBOUND = 8;

export class Engine implements PeerHost {
  readonly config: EngineConfig;
  readonly clock: Clock;
  private readonly transport: Transport;
  private readonly events: Emitter<EngineEvents>;
  private readonly tracker: RequestTracker;
  private readonly banList: BanList;
  private readonly keepalive: Keepalive;
  private readonly handshake: Handshake;
  private readonly dialer: Dialer;
  private readonly table = new PeerTable();
  private readonly startHeight: () => number;
  private closing = false;
  private closePromise?: Promise<void>;
  /** `events.emit` for a per-command event, bound once (it runs for every message). */
  private readonly emitCommand: (
    event: Command,
    peer: Peer,
    payload: unknown,
    info: MessageInfo,
  ) => void;
  /** The clock's `coarseNow` where it has one (see Clock), else `now`. */
  private readonly coarseNow: () => number;

  constructor(options: EngineOptions = {}) {
    const { clock, transport, startHeight, onHandlerError, ...config } = options;
    this.events = new Emitter<EngineEvents>(onHandlerError);
    this.startHeight = startHeight ?? (() => 0);
    this.config = parseConfig(config);
    this.clock = clock ?? systemClock;
    const c = this.clock;
    // A clock made from systemClock with its own now() (spread, then
    // overridden) still carries systemClock's coarseNow: on another timeline.
    const coarse =
      c.coarseNow === systemClock.coarseNow && c.now !== systemClock.now ? undefined : c.coarseNow;
    this.coarseNow = coarse ? () => coarse.call(c) : () => c.now();
    // Bans are mirrored to the transport, which closes a banned host's sockets
    // at accept; a ban dropped to make room lifts its mirror too.
    this.banList = new BanList(this.config.limits.maxBans, (host) => this.allowHost(host));
    // Display-order hex to wire order.
    const genesis = Buffer.from(this.config.network.genesisHash, 'hex').reverse();
    this.tracker = new RequestTracker(this.clock, genesis);
    this.keepalive = new Keepalive({
      clock: this.clock,
      limits: () => this.config.limits,
      ping: (peer, timeoutMs) =>
        this.requestFrom(
          peer,
          { command: 'ping', payload: { nonce: this.randomNonce() } },
          timeoutMs,
        ),
      disconnect: (peer, reason) => this.disconnectPeer(peer, reason, false),
    });
    this.handshake = new Handshake({
      clock: this.clock,
      config: this.config,
      startHeight: this.startHeight,
      randomNonce: () => this.randomNonce(),
      send: (peer, message) => void this.sendTo(peer, message),
      refuse: (peer, reason) => this.disconnectPeer(peer, reason, false),
      misbehaving: (peer, score, reason) => this.misbehaving(peer, score, reason),
      complete: (peer) => this.onHandshakeComplete(peer),
    });
    this.dialer = new Dialer({
      clock: this.clock,
      reconnect: this.config.reconnect,
      maxOutbound: () => this.config.limits.maxOutbound,
      connect: (address, proxy) => this.transport.connect(address, proxy),
      failed: (info) => this.events.emit('failed', info),
    });
    this.emitCommand = this.events.emit.bind(this.events) as Engine['emitCommand'];
    if (transport?.payloadsBorrowed) {
      throw new TypeError(
        "the Engine keeps payloads past their handlers: give it a transport with owned payloads, not 'borrowed'",
      );
    }
    this.transport = transport ?? createNativeTransport(this.config);
    this.transport.setHandlers({
      onFrame: (peer: PeerId, command: string, payload: Buffer) =>
        this.onFrame(peer, command, payload),
      onEvent: (event: TransportEvent) => this.onTransportEvent(event),
    });
  }

  // ---- public API -------------------------------------------------------

  on<K extends keyof EngineEvents>(event: K, handler: EngineEvents[K]): () => void {
    return this.events.on(event, handler);
  }

  once<K extends keyof EngineEvents>(event: K, handler: EngineEvents[K]): () => void {
    return this.events.once(event, handler);
  }

  off<K extends keyof EngineEvents>(event: K, handler: EngineEvents[K]): void {
    this.events.off(event, handler);
  }

  /** Starts accepting inbound peers. Defaults to `config.listen`, else 127.0.0.1 on the network's port. */
  listen(host?: string, port?: number): { host: string; port: number } {
    this.assertOpen();
    const h = host ?? this.config.listen?.host ?? '127.0.0.1';
    const p = port ?? this.config.listen?.port ?? this.config.network.port;
    const bound = this.transport.listen(h, p);
    return { host: bound.host, port: bound.port };
  }

  /**
   * Dials `address` ("host:port"). A persistent peer is redialled with
   * exponential backoff after it drops, until the restart limit is hit.
   * Tor (.onion), I2P (.b32.i2p) and, with a CJDNS proxy, fc00::/8 addresses
   * are dialled through the SOCKS5 proxy configured for their network, and
   * any other address through `proxy.all` when set (see ts/engine/proxy.ts).
   * Throws UnreachableNetworkError, at once, for an address whose network has
   * no proxy; throws if the host is banned or every outbound slot is taken. `relay`
   * overrides `policy.relay` in our version on this connection: false asks the
   * peer not to relay transactions (Core's block-relay-only connections).
   * `network` says what the text cannot: that an fc00::/8 address is CJDNS
   * (the address manager knows; without it, fc00::/8 is CJDNS only when a
   * CJDNS proxy is configured).
   */
  connect(
    address: string,
    options: { persistent?: boolean; relay?: boolean; network?: PeerNetwork } = {},
  ): void {
    this.assertOpen();
    const proxy = routeFor(address, this.config.proxy, options.network);
    const ban = this.banList.find(hostOf(address), this.clock.now());
    if (ban)
      throw new Error(
        `${address} is banned until ${new Date(ban.untilMs).toISOString()}: ${ban.reason}`,
      );
    this.dialer.add(address, {
      ...(options.persistent !== undefined ? { persistent: options.persistent } : {}),
      ...(options.relay !== undefined ? { relay: options.relay } : {}),
      ...(proxy ? { proxy } : {}),
    });
  }

  /** Stops redialling `address` and disconnects it if connected. */
  forget(address: string, reason = 'forgotten'): void {
    const id = this.dialer.forget(address);
    const peer = id === undefined ? undefined : this.table.get(id);
    if (peer?.connected) this.disconnectPeer(peer, reason, false);
  }

  /**
   * The networks this engine can dial (Bitcoin Core's reachable networks):
   * IPv4 and IPv6, and Tor, I2P or CJDNS when a proxy for them is configured.
   */
  reachableNetworks(): PeerNetwork[] {
    return reachableNetworks(this.config.proxy);
  }

  /** Whether `network` can be dialled (see reachableNetworks). */
  isReachable(network: PeerNetwork): boolean {
    return isReachable(this.config.proxy, network);
  }

  /** Connected peers (including those still handshaking). */
  get peers(): Peer[] {
    return [...this.table.values()];
  }

  /**
   * Whether a peer in `peers` (either direction, handshaking or closing
   * included) is on `host` (normalized as `hostOf` does), without a scan.
   */
  hasPeerOnHost(host: string): boolean {
    return this.table.hasHost(host);
  }

  /** Peers that completed the handshake. */
  get readyPeers(): Peer[] {
    return this.peers.filter((p) => p.ready);
  }

  peer(id: PeerId): Peer | undefined {
    return this.table.get(id);
  }

  /** Socket counters for a peer (bytes and messages each way), if the transport keeps them. */
  peerStats(
    peer: Peer,
  ): { bytesIn: number; bytesOut: number; messagesIn: number; messagesOut: number } | undefined {
    const info = this.transport.peerInfo?.(peer.id);
    if (!info) return undefined;
    const { bytesIn, bytesOut, messagesIn, messagesOut } = info;
    return { bytesIn, bytesOut, messagesIn, messagesOut };
  }

  /** Sends `message` to every ready peer (one encode, one checksum). */
  broadcast(message: Message, filter: (peer: Peer) => boolean = () => true): number {
    this.assertOpen();
    const targets = this.readyPeers.filter(filter);
    if (targets.length === 0) return 0;
    const result = this.transport.broadcast(
      message.command,
      encodeMessage(message),
      targets.map((p) => p.id),
    );
    return result.queued;
  }

  /** Bans a host (an IP, or "host:port") and disconnects its peers. */
  ban(address: string, reason: string, durationMs = this.config.limits.banTimeMs): BanEntry {
    // A ban ends: one without an end could not be saved with the others.
    if (!(Number.isFinite(durationMs) && durationMs >= 0)) {
      throw new RangeError(`ban duration must be a finite number of ms >= 0, got ${durationMs}`);
    }
    const host = hostOf(address);
    const now = this.clock.now();
    const entry = this.banList.ban(host, reason, now + durationMs, now);
    // The transport's clock is real time; on an injected clock the two
    // lists may end a ban at different moments, and the Engine's still
    // refuses whatever the transport lets through.
    if (isIP(host)) this.transport.refuseHost?.(host, durationMs);
    for (const target of this.dialer.list()) {
      // By the name it was dialled with, or by the address that name resolved to.
      const live = target.peerId === undefined ? undefined : this.table.get(target.peerId);
      if (hostOf(target.address) === host || (live && hostOf(live.address) === host)) {
        this.forget(target.address, 'banned');
      }
    }
    for (const peer of this.peers) {
      if (hostOf(peer.address) === host && peer.connected) {
        this.disconnectPeer(peer, 'banned', false);
      }
    }
    this.events.emit('banned', entry);
    return entry;
  }

  unban(address: string): boolean {
    const host = hostOf(address);
    this.allowHost(host);
    return this.banList.unban(host);
  }

  bans(): BanEntry[] {
    return this.banList.list(this.clock.now());
  }

  /** Whether `host` (an IP address or name, no port) is banned now: one lookup. */
  isBanned(host: string): boolean {
    return this.banList.find(host, this.clock.now()) !== undefined;
  }

  /** Tracked requests still waiting for an answer, with their deadlines (read-only). */
  pendingRequests(): OutstandingRequest[] {
    return this.tracker.outstanding();
  }

  /**
   * Reports an error thrown by code run for the engine outside its events (a
   * service's own timer): it goes where a throwing event handler's error goes
   * (`onHandlerError`), and the engine carries on.
   */
  reportHandlerError(error: unknown): void {
    this.events.report(error);
  }

  /** Changes limits; transport limits apply to live connections at once. */
  setLimits(update: Partial<LimitsInput>): Limits {
    const parsed = parseLimitsUpdate(update);
    Object.assign(this.config.limits, parsed);
    this.banList.maxEntries = this.config.limits.maxBans;
    this.transport.setLimits(nativeLimits(parsed, this.config.limits));
    return this.config.limits;
  }

  /**
   * Graceful shutdown: stop redialling, abandon pending requests, stop accepting,
   * flush every queue, close every connection.
   */
  close(): Promise<void> {
    if (this.closePromise) return this.closePromise;
    this.closing = true;
    this.dialer.close();
    this.tracker.abortAll('engine closing');
    this.closePromise = this.transport.close().then(() => {
      for (const peer of this.peers) this.cleanup(peer, 'shutdown');
      this.events.emit('closed');
    });
    return this.closePromise;
  }

  // ---- PeerHost (what Peer handles call) ---------------------------------

  sendTo(peer: Peer, message: Message): SendResult {
    if (message.command === 'sendheaders') peer.state.sentSendHeaders = true;
    return this.transport.send(peer.id, message.command, encodeMessage(message));
  }

  requestFrom<C extends TrackedCommand>(
    peer: Peer,
    message: RequestOf<C>,
    timeoutMs?: number,
  ): Promise<TrackedResponses[C]> {
    // Slow links get more time: the base timeout plus a few round trips.
    const timeout = timeoutMs ?? this.config.limits.requestTimeoutMs + 4 * (peer.rttMs ?? 0);
    // Encode and send first (an encoding error throws here, with nothing
    // tracked); track only a request that actually went out. Responses arrive
    // on a later turn of the event loop, so tracking after the send is in time.
    const request = message as Message;
    const sent = this.sendTo(peer, request);
    if (sent !== 'queued' && sent !== 'backpressure') {
      return Promise.reject(new RequestAbortedError(peer.id, request.command, `not sent: ${sent}`));
    }
    return this.tracker.track(peer.id, message, timeout);
  }

  disconnectPeer(peer: Peer, reason: string, flush: boolean): void {
    // From now on the peer's input is ignored, though its disconnect event
    // (and `connected` turning false) comes a little later.
    peer.state.closing = true;
    this.transport.disconnect(peer.id, reason, { flush });
  }

  misbehaving(peer: Peer, score: number, reason: string): void {
    if (!peer.active) return;
    peer.state.score += score;
    const total = peer.state.score;
    this.events.emit('misbehaving', peer, { score, total, reason });
    if (total < this.config.limits.banThreshold) return;
    if (isLoopback(hostOf(peer.address)) && !this.config.policy.banLocal) {
      // Local peers share one address: banning one would ban them all.
      this.disconnectPeer(peer, 'misbehaving', false);
    } else {
      this.banPeer(peer, reason);
    }
  }

  banPeer(peer: Peer, reason: string, durationMs?: number): void {
    this.ban(peer.address, reason, durationMs);
  }

  // ---- transport events ---------------------------------------------------

  private onTransportEvent(event: TransportEvent): void {
    switch (event.type) {
      case 'connected':
        this.onConnected(event.peer, event.remote, false);
        break;
      case 'accepted':
        this.onConnected(event.peer, event.remote, true);
        break;
      case 'connect-failed':
        this.onConnectFailed(event.peer, event.error);
        break;
      case 'disconnected':
        this.onDisconnected(event.peer, event.reason, event.detail);
        break;
      case 'dropped': {
        const peer = this.table.get(event.peer);
        if (peer) this.events.emit('dropped', peer, { reason: event.reason, detail: event.detail });
        break;
      }
      case 'writable': {
        const peer = this.table.get(event.peer);
        if (peer) this.events.emit('writable', peer);
        break;
      }
      default:
        break;
    }
  }

  private onConnected(id: PeerId, remote: string, inbound: boolean): void {
    // Closing: the transport is already ending this connection; a backlog of
    // them (a socket flood at shutdown) must not delay the close.
    if (this.closing) return;
    const now = this.clock.now();
    const target = inbound ? undefined : this.dialer.onConnected(id);
    // Through a proxy the socket's remote end is the proxy: the peer is the
    // target it was asked for (bans, netgroups and addrYou go by that).
    const peer = target?.proxy
      ? new Peer(this, id, target.address, inbound, now, target.proxy.address)
      : new Peer(this, id, remote, inbound, now);
    this.table.add(peer);
    if (inbound) {
      const ban = this.banList.find(hostOf(remote), now);
      if (ban) {
        this.disconnectPeer(peer, 'banned', false);
        return;
      }
      if (
        this.table.inboundHandshaking >
        this.config.limits.maxInbound + EXTRA_HANDSHAKING_INBOUND
      ) {
        this.disconnectPeer(peer, 'inbound-full', false);
        return;
      }
    } else {
      if (!target) {
        // Forgotten (or banned) while the dial was in flight.
        this.disconnectPeer(peer, 'forgotten', false);
        return;
      }
      peer.state.target = target.address;
      if (target.relay !== undefined) peer.state.relay = target.relay;
      // A hostname target resolves here: check the ban list on the real address.
      if (this.banList.find(hostOf(peer.address), now)) {
        this.forget(target.address, 'banned');
        this.disconnectPeer(peer, 'banned', false);
        return;
      }
    }
    peer.state.timers.handshake = this.clock.setTimer(this.config.limits.handshakeTimeoutMs, () => {
      if (peer.connected && !peer.state.handshakeComplete) {
        this.disconnectPeer(peer, 'handshake-timeout', false);
      }
    });
    this.keepalive.onConnected(peer);
    this.events.emit('connected', peer);
    // Outbound speaks first; inbound answers the peer's version.
    if (!inbound) this.handshake.start(peer);
  }

  private onConnectFailed(id: PeerId, error: string): void {
    this.dialer.onConnectFailed(id, error);
  }

  private onDisconnected(id: PeerId, code: string, detail: string): void {
    const peer = this.table.remove(id);
    if (!peer) return;
    const local = code === 'requested' || code === 'shutdown';
    const reason = code === 'requested' ? detail : code;
    this.cleanup(peer, reason);
    this.events.emit('disconnected', peer, { reason, detail, local });
    if (peer.state.target)
      this.dialer.onDisconnected(peer.state.target, id, `${reason}: ${detail}`);
  }

  /** Releases everything a peer holds. Idempotent. */
  private cleanup(peer: Peer, reason: string): void {
    if (peer.state.gone === undefined) peer.state.gone = reason;
    this.handshake.forget(peer);
    const t = peer.state.timers;
    for (const handle of [t.handshake, t.ping, t.pingDeadline, t.inactivity]) {
      if (handle) this.clock.clearTimer(handle);
    }
    peer.state.timers = {};
    this.tracker.abortPeer(peer.id, `peer disconnected (${reason})`);
  }

  // ---- inbound messages ---------------------------------------------------

  private onFrame(id: PeerId, command: string, payload: Buffer): void {
    // Once closing, what peers sent is not acted on (the addon discards what
    // arrives after the close; this is what was already queued): a backlog of
    // requests must not hold a shutdown up while it is answered into closing sockets.
    if (this.closing) return;
    const peer = this.table.get(id);
    if (!peer?.active) return;
    peer.state.lastRecvMs = this.coarseNow();
    let message: Message | undefined;
    try {
      message = decodeMessage(command, payload, OWNED);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      this.events.emit('decode-error', peer, err);
      this.misbehaving(peer, MALFORMED_SCORE, `malformed ${command}: ${err.message}`);
      if (command === 'version' && !peer.version && peer.active) {
        // No handshake can follow a version that does not decode: close now
        // rather than hold the socket until the handshake timeout.
        this.disconnectPeer(peer, 'bad-version-message', false);
      }
      return;
    }
    if (!peer.state.handshakeComplete) {
      // Before the handshake only version, verack and feature negotiation count;
      // anything else is ignored, as Bitcoin Core does.
      if (message && isHandshakeMessage(message)) this.handshake.onMessage(peer, message);
      return;
    }
    if (!message) {
      // Handlers may keep it: never hand out a view that pins a whole batch.
      this.events.emit('unknown', peer, command, ownedBytes(payload));
      return;
    }
    this.onMessage(peer, message);
  }

  private onMessage(peer: Peer, message: Message): void {
    let info = SOLICITED;
    switch (message.command) {
      case 'ping':
        this.sendTo(peer, { command: 'pong', payload: { nonce: message.payload.nonce } });
        break;
      case 'version':
        this.misbehaving(peer, 1, 'duplicate version');
        return;
      case 'verack':
      case 'wtxidrelay':
      case 'sendaddrv2':
        // Feature negotiation after verack is a protocol violation Core disconnects
        // for; peerwire just ignores it.
        return;
      case 'sendheaders':
        peer.features.sendHeaders = true;
        break;
      case 'sendcmpct':
        peer.features.compactBlocks = { ...message.payload };
        break;
      case 'feefilter':
        peer.features.feeRate = message.payload.feeRate;
        break;
      case 'getaddr':
        // Answered once per connection, as Core does: a repeat is flooding,
        // ignored without penalty, so handlers see at most one getaddr.
        if (peer.state.getaddrReceived) {
          this.events.emit('dropped', peer, {
            reason: 'repeated-getaddr',
            detail: 'getaddr is answered once per connection',
          });
          return;
        }
        peer.state.getaddrReceived = true;
        break;
      default:
        break;
    }
    const match = this.tracker.match(peer.id, message);
    if (match.rttMs !== undefined) this.keepalive.onPingAnswered(peer, match.rttMs);
    if (match.outcome === 'unsolicited' && this.isPenalisable(peer, message)) {
      info = UNSOLICITED;
      if (this.config.policy.unsolicited === 'penalize') {
        this.misbehaving(peer, UNSOLICITED_SCORE, `unsolicited ${message.command}`);
        if (!peer.active) return;
      }
    }
    this.events.emit('message', peer, message, info);
    this.emitCommand(message.command, peer, message.payload, info);
  }

  /** Whether an unmatched response is truly unasked for (not a normal announcement). */
  private isPenalisable(peer: Peer, message: Message): boolean {
    switch (message.command) {
      case 'pong':
      case 'notfound':
        return true;
      case 'headers':
        // Announcements come as headers only to peers that sent sendheaders.
        return !peer.state.sentSendHeaders;
      default:
        // addr, block and tx may legitimately arrive unasked (relay, announcements).
        return false;
    }
  }

  // ---- handshake ----------------------------------------------------------

  /** Versions and veracks went both ways (see Handshake). */
  private onHandshakeComplete(peer: Peer): void {
    const st = peer.state;
    if (st.timers.handshake) this.clock.clearTimer(st.timers.handshake);
    st.timers.handshake = undefined;
    if (peer.inbound) {
      if (this.table.inboundReady() > this.config.limits.maxInbound) {
        // Polite: our verack is flushed before the connection closes.
        this.disconnectPeer(peer, 'inbound-full', true);
        return;
      }
    }
    try {
      this.transport.markHandshakeComplete(peer.id);
    } catch {
      return; // it disconnected in the same batch
    }
    if (st.target) this.dialer.onHandshake(st.target);
    this.events.emit('handshake', peer);
    if (peer.active) this.keepalive.onHandshake(peer);
  }

  // ---- helpers ------------------------------------------------------------

  private randomNonce(): bigint {
    const hi = BigInt(Math.floor(this.clock.random() * 2 ** 32));
    const lo = BigInt(Math.floor(this.clock.random() * 2 ** 32));
    return (hi << 32n) | lo;
  }

  private allowHost(host: string): void {
    if (isIP(host)) this.transport.allowHost?.(host);
  }

  private assertOpen(): void {
    if (this.closing) throw new EngineClosedError();
  }
}
