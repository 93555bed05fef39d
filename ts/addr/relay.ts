// Address relay after Bitcoin Core's net_processing.cpp (GETADDR, ADDR/ADDRV2,
// RelayAddress, PushAddress, MaybeSendAddr) and CConnman::GetAddresses. It
// attaches to an Engine from outside, through its events, and feeds an
// AddressManager:
//
// - getaddr: answered once per connection (the Engine passes on only the first),
//   to inbound peers only (an answer to an outbound peer would let it fingerprint
//   us), from a per-network cache of at most 23 % / 1,000 addresses that lives
//   21-27 hours, so repeated connections learn nothing new about our table.
// - addr/addrv2: a per-peer token bucket (0.1 address/s, burst 1,000; starting at
//   1 for a self-announcement, +1,000 when we asked with getaddr) bounds what a
//   peer can push into the table; the rest is dropped and counted.
// - Relay: a fresh address from a small unsolicited message goes to 1 or 2 peers
//   picked by a keyed hash of the address and the day, so resending it to us
//   buys no wider spread; sends are batched and trickled per peer (Poisson,
//   mean 30 s) and deduplicated by a bounded known-address filter.
// - Outbound full-relay peers get one getaddr and, with a routable
//   `localAddress`, our self-announcement, repeated about daily.
// Time and randomness come from the Engine's clock: it runs on the simulator.
import { hash } from 'node:crypto';
import { hostOf, normalizeHost } from '../engine/bans.js';
import type { Clock, TimerHandle } from '../engine/clock.js';
import type { Engine } from '../engine/engine.js';
import type { Peer } from '../engine/peer.js';
import type { AddrV2Entry, TimedNetAddress } from '../wire/types.js';
import {
  AddressError,
  type AdvertisedAddress,
  addressKeyBytes,
  formatHost,
  fromAddrEntry,
  fromAddrV2Entry,
  type Host,
  internalHost,
  type PeerAddress,
  type PeerNetwork,
  parseHost,
  toAddrEntry,
  toAddrV2Entry,
} from './address.js';
import type { AddressManager } from './addrman.js';
import { KeySet } from './key-set.js';

const HOUR_MS = 3_600_000;
const DAY_S = 86_400;

/** Bitcoin Core's constants (net_processing.cpp, net.h), in one place. */
export const ADDR_RELAY_DEFAULTS = {
  /** MAX_ADDR_TO_SEND: the most addresses in a getaddr answer and in a send queue. */
  maxAddrToSend: 1_000,
  /** MAX_PCT_ADDR_TO_SEND: a getaddr answer holds at most this share of the table. */
  maxPctAddrToSend: 23,
  /** MAX_ADDR_RATE_PER_SECOND. */
  addrRatePerSecond: 0.1,
  /** MAX_ADDR_PROCESSING_TOKEN_BUCKET. */
  tokenBucketMax: 1_000,
  /** Penalty on the times of addresses heard from others (addrman.Add(..., 2h)). */
  timePenaltySeconds: 2 * 3_600,
  /** A getaddr answer is cached this long, plus up to cacheJitterMs. */
  cacheMinMs: 21 * HOUR_MS,
  cacheJitterMs: 6 * HOUR_MS,
  /** AVG_ADDRESS_BROADCAST_INTERVAL: the mean gap between addr sends to a peer. */
  trickleMeanMs: 30_000,
  /** AVG_LOCAL_ADDRESS_BROADCAST_INTERVAL: the mean gap between self-announcements. */
  localMeanMs: 24 * HOUR_MS,
  /** ROTATE_ADDR_RELAY_DEST_INTERVAL: relay destinations change this often. */
  rotateSeconds: DAY_S,
  /** Messages of more addresses than this are not relayed (answers, dumps). */
  maxRelayBatch: 10,
  /** Addresses older than this are not relayed. */
  freshSeconds: 10 * 60,
  /** Times further ahead than this are replaced by now minus 5 days. */
  maxFutureSeconds: 10 * 60,
  /** Core's m_addr_known rolling filter holds about 5,000 keys. */
  knownCapacity: 5_000,
} as const;

/** NODE_NETWORK and NODE_NETWORK_LIMITED: an address with neither is no use to dial. */
const USEFUL_SERVICES = 1n | 1024n;

export interface AddressRelayOptions {
  /** Our own address, announced to addr-relay peers when routable ("host:port" or parsed). */
  localAddress?: PeerAddress | string;
  /**
   * Networks we can reach (default: the Engine's reachable networks, IPv4 and
   * IPv6 plus those with a proxy): their addresses go to two peers, others to
   * one or two (Core's RelayAddress); a `localAddress` on another network is
   * not announced (Core's AddLocal).
   */
  reachable?: readonly PeerNetwork[];
  /**
   * Whether an outbound peer takes part in address relay (gets our getaddr,
   * may send us addresses). Default: unless we sent it relay=false (Core skips
   * block-relay-only connections). An outbound manager passes its feelers and
   * block-relay-only peers here as false.
   */
  isAddrRelayOutbound?: (peer: Peer) => boolean;
  /** Addresses waiting to be sent to one peer (default 1,000, MAX_ADDR_TO_SEND). */
  maxPending?: number;
  /** Address keys remembered per peer as known to it (default 5,000). */
  knownCapacity?: number;
}

export interface AddressRelayStats {
  /** getaddr messages answered. */
  answered: number;
  /** getaddr from outbound peers, ignored. */
  getaddrIgnored: number;
  /** getaddr messages we sent. */
  getaddrSent: number;
  /** Addresses processed from addr/addrv2 (within the token bucket, useful, not banned). */
  received: number;
  /** Addresses dropped because the sender's token bucket was empty. */
  rateLimited: number;
  /** Addresses that took a place in the address manager. */
  added: number;
  /** Addresses that could not be read (unknown or retired network, bad length). */
  invalid: number;
  /** addr/addrv2 messages ignored from peers outside address relay (block-relay-only). */
  ignoredMessages: number;
  /** Addresses queued for relay to another peer (one per destination). */
  relayed: number;
  /** Self-announcements queued. */
  selfAnnounced: number;
  /** addr/addrv2 messages sent, and the addresses in them. */
  messagesSent: number;
  addressesSent: number;
}

/** Per-peer relay state (Core's Peer address fields). */
interface RelayPeer {
  readonly peer: Peer;
  /** m_addr_relay_enabled: this peer gets relayed addresses and self-announcements. */
  enabled: boolean;
  tokens: number;
  tokensAtMs: number;
  /** m_getaddr_sent: until an addr of fewer than 1,000 comes, addresses are answers. */
  getaddrSent: boolean;
  queue: AdvertisedAddress[];
  known: KnownAddressFilter;
  /** When the next trickle may go out. */
  nextSendMs: number;
  trickleTimer?: TimerHandle;
  localTimer?: TimerHandle;
}

/**
 * Address keys a peer is known to have, bounded: two generations of half the
 * capacity each, the older dropped when the newer fills (as Core's rolling
 * filter forgets its oldest). Keys are 30-bit keyed hashes (small integers, cheap
 * to keep); a false "known" (about 1 in 200,000 at capacity) only skips a send.
 */
export class KnownAddressFilter {
  private current: KeySet;
  private previous: KeySet;
  private readonly generation: number;

  constructor(
    capacity: number,
    private readonly seed: number,
  ) {
    if (!Number.isInteger(capacity) || capacity < 2) {
      throw new RangeError(`known-address capacity ${capacity} is not an integer ≥ 2`);
    }
    this.generation = capacity >> 1;
    this.current = new KeySet(this.generation);
    this.previous = new KeySet(this.generation);
  }

  /** Keys held now (at most the capacity). */
  get size(): number {
    return this.current.size + this.previous.size;
  }

  has(a: PeerAddress): boolean {
    const k = this.keyOf(a);
    return this.current.has(k) || this.previous.has(k);
  }

  add(a: PeerAddress): void {
    const k = this.keyOf(a);
    if (this.current.has(k)) return;
    if (this.current.size >= this.generation) {
      // The older generation is forgotten and starts over as the newer one.
      const older = this.previous;
      this.previous = this.current;
      older.clear();
      this.current = older;
    }
    this.current.add(k);
  }

  clear(): void {
    this.current.clear();
    this.previous.clear();
  }

  private keyOf(a: PeerAddress): number {
    return hash32(this.seed, addressKeyBytes(a)) >>> 2;
  }
}

/**
 * Address relay for one Engine and one AddressManager (see the file comment).
 * Attach once per Engine; `detach()` undoes it.
 */
export class AddressRelay {
  private readonly clock: Clock;
  private readonly peers = new Map<number, RelayPeer>();
  private readonly cache = new Map<string, { addresses: AdvertisedAddress[]; expiresMs: number }>();
  private readonly secret: Buffer;
  private readonly filterSeed: number;
  private readonly reachable: ReadonlySet<PeerNetwork>;
  private readonly local?: PeerAddress;
  private readonly isAddrRelayOutbound: (peer: Peer) => boolean;
  private readonly maxPending: number;
  private readonly knownCapacity: number;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly counters: AddressRelayStats = {
    answered: 0,
    getaddrIgnored: 0,
    getaddrSent: 0,
    received: 0,
    rateLimited: 0,
    added: 0,
    invalid: 0,
    ignoredMessages: 0,
    relayed: 0,
    selfAnnounced: 0,
    messagesSent: 0,
    addressesSent: 0,
  };

  constructor(
    private readonly engine: Engine,
    private readonly addrman: AddressManager,
    options: AddressRelayOptions = {},
  ) {
    this.clock = engine.clock;
    this.secret = Buffer.alloc(32);
    for (let i = 0; i < 32; i++) this.secret[i] = this.randomInt(256);
    this.filterSeed = this.secret.readUInt32LE(0);
    this.reachable = new Set(options.reachable ?? engine.reachableNetworks());
    this.isAddrRelayOutbound =
      options.isAddrRelayOutbound ?? ((peer) => peer.relayRequested !== false);
    this.maxPending = positiveInt(
      options.maxPending ?? ADDR_RELAY_DEFAULTS.maxAddrToSend,
      'maxPending',
    );
    this.knownCapacity = positiveInt(
      options.knownCapacity ?? ADDR_RELAY_DEFAULTS.knownCapacity,
      'knownCapacity',
    );
    if (options.localAddress !== undefined) {
      const local =
        typeof options.localAddress === 'string'
          ? parseAddressText(options.localAddress)
          : options.localAddress;
      // An address our own manager refuses (unroutable) would be dropped by every peer's too;
      // one on a network we cannot reach is not ours to announce.
      if (this.addrman.accepts(local) && this.reachable.has(local.network as PeerNetwork)) {
        this.local = local;
      }
    }
    const e = engine;
    this.unsubscribe.push(
      e.on('handshake', (peer) => this.onHandshake(peer)),
      e.on('getaddr', (peer) => this.onGetAddr(peer)),
      e.on('addr', (peer, payload) => this.onAddresses(peer, payload.addresses, false)),
      e.on('addrv2', (peer, payload) => this.onAddresses(peer, payload.addresses, true)),
      e.on('disconnected', (peer) => this.forgetPeer(peer)),
      e.on('closed', () => this.detach()),
    );
  }

  /** Counters since attaching (a copy). */
  stats(): AddressRelayStats {
    return { ...this.counters };
  }

  /** Our announced address, when one was configured and is routable. */
  get localAddress(): PeerAddress | undefined {
    return this.local;
  }

  /** When the cached getaddr answer for peers on `network` expires (engine clock ms). */
  cacheExpiresAt(network: PeerNetwork): number | undefined {
    return this.cache.get(network)?.expiresMs;
  }

  /** Addresses waiting to be trickled to `peer`. */
  pendingFor(peer: Peer): number {
    return this.peers.get(peer.id)?.queue.length ?? 0;
  }

  /** Stops listening to the Engine and cancels every timer. */
  detach(): void {
    for (const off of this.unsubscribe.splice(0)) off();
    for (const s of this.peers.values()) this.clearTimers(s);
    this.peers.clear();
  }

  // ---- events ------------------------------------------------------------------

  private onHandshake(peer: Peer): void {
    if (peer.inbound || !this.isAddrRelayOutbound(peer)) return;
    const s = this.stateOf(peer);
    s.enabled = true;
    // One getaddr to fill our table; its answer may exceed the bucket by 1,000.
    peer.send({ command: 'getaddr', payload: {} });
    this.counters.getaddrSent++;
    s.getaddrSent = true;
    s.tokens += ADDR_RELAY_DEFAULTS.maxAddrToSend;
    this.firstTick(s);
  }

  private onGetAddr(peer: Peer): void {
    if (!peer.active) return;
    if (!peer.inbound) {
      this.counters.getaddrIgnored++;
      return;
    }
    const s = this.stateOf(peer);
    const newly = !s.enabled;
    s.enabled = true;
    // The answer replaces whatever was waiting (Core clears m_addrs_to_send).
    s.queue = [];
    for (const a of this.cachedAnswer(peer)) this.push(s, a);
    this.counters.answered++;
    if (newly) this.firstTick(s);
    else this.scheduleFlush(s);
  }

  private onAddresses(
    peer: Peer,
    entries: readonly (TimedNetAddress | AddrV2Entry)[],
    v2: boolean,
  ): void {
    if (!peer.active) return;
    if (!peer.inbound && !this.isAddrRelayOutbound(peer)) {
      this.counters.ignoredMessages++;
      return;
    }
    const s = this.stateOf(peer);
    const newly = !s.enabled;
    s.enabled = true;
    const nowMs = this.clock.now();
    const now = Math.floor(nowMs / 1000);
    const max = ADDR_RELAY_DEFAULTS.tokenBucketMax;
    // A bucket over its cap (a getaddr bonus) is left as it is, not topped up.
    if (s.tokens < max) {
      const elapsed = Math.max(0, nowMs - s.tokensAtMs) / 1000;
      s.tokens = Math.min(max, s.tokens + elapsed * ADDR_RELAY_DEFAULTS.addrRatePerSecond);
    }
    s.tokensAtMs = nowMs;
    // Shuffled, so a peer cannot choose which of its addresses fit in the bucket.
    const order = entries.map((_, i) => i);
    for (let i = order.length - 1; i > 0; i--) {
      const j = this.randomInt(i + 1);
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
    const relayable = entries.length <= ADDR_RELAY_DEFAULTS.maxRelayBatch && !s.getaddrSent;
    const accepted: AdvertisedAddress[] = [];
    for (const i of order) {
      if (s.tokens < 1) {
        this.counters.rateLimited++;
        continue;
      }
      s.tokens -= 1;
      let a: AdvertisedAddress;
      try {
        const entry = entries[i] as TimedNetAddress & AddrV2Entry;
        a = v2 ? fromAddrV2Entry(entry) : fromAddrEntry(entry);
      } catch (err) {
        if (!(err instanceof AddressError)) throw err;
        this.counters.invalid++;
        continue;
      }
      if ((a.services & USEFUL_SERVICES) === 0n) continue;
      if (a.time <= 100_000_000 || a.time > now + ADDR_RELAY_DEFAULTS.maxFutureSeconds) {
        a.time = now - 5 * DAY_S;
      }
      s.known.add(a);
      if (this.engine.isBanned(hostKey(a))) continue;
      this.counters.received++;
      if (relayable && a.time > now - ADDR_RELAY_DEFAULTS.freshSeconds && this.addrman.accepts(a)) {
        this.relayAddress(peer.id, a, this.reachable.has(a.network as PeerNetwork));
      }
      accepted.push(a);
    }
    if (accepted.length > 0) {
      this.counters.added += this.addrman.add(
        accepted,
        sourceOf(peer),
        ADDR_RELAY_DEFAULTS.timePenaltySeconds,
      );
    }
    // A short message ends the getaddr answer (a full one may be followed by more).
    if (entries.length < ADDR_RELAY_DEFAULTS.maxAddrToSend) s.getaddrSent = false;
    if (newly) this.firstTick(s);
  }

  private forgetPeer(peer: Peer): void {
    const s = this.peers.get(peer.id);
    if (!s) return;
    this.clearTimers(s);
    this.peers.delete(peer.id);
  }

  // ---- getaddr answers -------------------------------------------------------------

  /** The cached answer for the requester's network, rebuilt when expired. */
  private cachedAnswer(peer: Peer): AdvertisedAddress[] {
    const key = networkOf(peer);
    const now = this.clock.now();
    let entry = this.cache.get(key);
    if (!entry || entry.expiresMs < now) {
      const addresses = this.addrman
        .getAddr(ADDR_RELAY_DEFAULTS.maxAddrToSend, ADDR_RELAY_DEFAULTS.maxPctAddrToSend)
        .filter((a) => !this.engine.isBanned(hostKey(a)));
      const lifetime =
        ADDR_RELAY_DEFAULTS.cacheMinMs + this.clock.random() * ADDR_RELAY_DEFAULTS.cacheJitterMs;
      entry = { addresses, expiresMs: now + Math.floor(lifetime) };
      this.cache.set(key, entry);
    }
    return entry.addresses;
  }

  // ---- relay ------------------------------------------------------------------

  /**
   * Queues `a` for the 1 or 2 relay peers whose keyed hash with the address and
   * the current day is highest, never the originator. The same address picks the
   * same peers all day, so their known filters stop repeats.
   */
  private relayAddress(originator: number, a: AdvertisedAddress, reachable: boolean): void {
    const keyBytes = addressKeyBytes(a);
    // An unkeyed per-address offset staggers when each address's day rolls over.
    const offset = hash('sha256', keyBytes, 'buffer').readUInt32LE(0);
    const now = Math.floor(this.clock.now() / 1000);
    const slot = Math.floor((now + offset) / ADDR_RELAY_DEFAULTS.rotateSeconds);
    const slotBytes = Buffer.alloc(8);
    slotBytes.writeDoubleLE(slot);
    const base = hash('sha256', Buffer.concat([this.secret, keyBytes, slotBytes]), 'buffer');
    const k0 = base.readUInt32LE(0);
    const k1 = base.readUInt32LE(4);
    const count = reachable || (k0 & 1) === 1 ? 2 : 1;
    const best: { score: number; s: RelayPeer }[] = [];
    for (const s of this.peers.values()) {
      if (!s.enabled || s.peer.id === originator || !s.peer.active) continue;
      if (!compatible(s.peer, a)) continue;
      const score = peerScore(k0, k1, s.peer.id);
      let at = best.findIndex((b) => score > b.score);
      if (at < 0) at = best.length;
      if (at >= count) continue;
      best.splice(at, 0, { score, s });
      best.length = Math.min(best.length, count);
    }
    for (const { s } of best) {
      if (this.push(s, a)) {
        this.counters.relayed++;
        this.scheduleFlush(s);
      }
    }
  }

  /** Queues `a` for `s` (Core's PushAddress): known or incompatible ones are skipped. */
  private push(s: RelayPeer, a: AdvertisedAddress): boolean {
    if (s.known.has(a) || !compatible(s.peer, a)) return false;
    if (s.queue.length >= this.maxPending) {
      // Full: a random entry gives way, so the newest still has a chance.
      s.queue[this.randomInt(s.queue.length)] = a;
    } else {
      s.queue.push(a);
    }
    return true;
  }

  // ---- trickle -------------------------------------------------------------------

  /**
   * The first send round once relay is on for a peer (Core's first MaybeSendAddr
   * runs at once): our address if we have one, then whatever is queued.
   */
  private firstTick(s: RelayPeer): void {
    this.announceSelf(s);
    this.flush(s);
    this.scheduleSelfAnnouncement(s);
  }

  /**
   * Sends at the peer's next Poisson tick. Core draws a new tick whenever one
   * passes, queue empty or not; since the gaps are memoryless, a tick that
   * passed unused equals a fresh draw from now.
   */
  private scheduleFlush(s: RelayPeer): void {
    if (s.trickleTimer || s.queue.length === 0 || !s.peer.active) return;
    const now = this.clock.now();
    if (s.nextSendMs <= now) s.nextSendMs = now + this.expDelay(ADDR_RELAY_DEFAULTS.trickleMeanMs);
    s.trickleTimer = this.clock.setTimer(s.nextSendMs - now, () => {
      s.trickleTimer = undefined;
      this.flush(s);
    });
  }

  private flush(s: RelayPeer): void {
    s.nextSendMs = this.clock.now() + this.expDelay(ADDR_RELAY_DEFAULTS.trickleMeanMs);
    const queue = s.queue;
    s.queue = [];
    if (!s.peer.active) return;
    // Filter again: the peer may have told us some of these since they were queued.
    const out: AdvertisedAddress[] = [];
    for (const a of queue) {
      if (s.known.has(a)) continue;
      s.known.add(a);
      out.push(a);
    }
    if (out.length === 0) return;
    const sent = s.peer.features.addrV2
      ? s.peer.send({
          command: 'addrv2',
          payload: { addresses: out.map((a) => toAddrV2Entry(a) as AddrV2Entry) },
        })
      : s.peer.send({
          command: 'addr',
          payload: { addresses: out.map((a) => toAddrEntry(a) as TimedNetAddress) },
        });
    if (sent === 'queued' || sent === 'backpressure') {
      this.counters.messagesSent++;
      this.counters.addressesSent += out.length;
    }
  }

  private announceSelf(s: RelayPeer): void {
    if (!this.local) return;
    const a: AdvertisedAddress = {
      ...this.local,
      time: Math.floor(this.clock.now() / 1000),
      services: this.engine.config.network.services,
    };
    if (this.push(s, a)) this.counters.selfAnnounced++;
  }

  private scheduleSelfAnnouncement(s: RelayPeer): void {
    if (!this.local) return;
    s.localTimer = this.clock.setTimer(this.expDelay(ADDR_RELAY_DEFAULTS.localMeanMs), () => {
      s.localTimer = undefined;
      if (!s.peer.active) return;
      // As Core: forget what the peer knows so the announcement is not filtered out.
      s.known.clear();
      this.announceSelf(s);
      this.scheduleFlush(s);
      this.scheduleSelfAnnouncement(s);
    });
  }

  // ---- helpers --------------------------------------------------------------------

  private stateOf(peer: Peer): RelayPeer {
    let s = this.peers.get(peer.id);
    if (!s) {
      s = {
        peer,
        enabled: false,
        // Core starts at 1 so a peer's self-announcement gets through.
        tokens: 1,
        // Refilling from the connection's start, as Core's Peer is made then.
        tokensAtMs: peer.connectedAtMs,
        getaddrSent: false,
        queue: [],
        known: new KnownAddressFilter(this.knownCapacity, this.filterSeed),
        nextSendMs: 0,
      };
      this.peers.set(peer.id, s);
    }
    return s;
  }

  private clearTimers(s: RelayPeer): void {
    if (s.trickleTimer) this.clock.clearTimer(s.trickleTimer);
    if (s.localTimer) this.clock.clearTimer(s.localTimer);
    s.trickleTimer = undefined;
    s.localTimer = undefined;
  }

  /** An exponential delay with the given mean (a Poisson process's gaps). */
  private expDelay(meanMs: number): number {
    return -Math.log(1 - this.clock.random()) * meanMs;
  }

  private randomInt(n: number): number {
    return Math.min(n - 1, Math.floor(this.clock.random() * n));
  }
}

/** Attaches address relay to `engine`, feeding `addrman` (see AddressRelay). */
export function relayAddresses(
  engine: Engine,
  addrman: AddressManager,
  options: AddressRelayOptions = {},
): AddressRelay {
  return new AddressRelay(engine, addrman, options);
}

/** addr carries only IPv4 and IPv6 (Core's IsAddrCompatible). */
function compatible(peer: Peer, a: PeerAddress): boolean {
  return peer.features.addrV2 || a.network === 'ipv4' || a.network === 'ipv6';
}

/** The network a peer reached us over: its getaddr answers come from that network's cache. */
function networkOf(peer: Peer): string {
  try {
    return parseHost(hostOf(peer.address)).network;
  } catch {
    return 'other';
  }
}

/** The peer as an address manager source (an internal name if it is no IP). */
function sourceOf(peer: Peer): Host {
  try {
    return parseHost(hostOf(peer.address));
  } catch {
    return internalHost(peer.address);
  }
}

/** The ban list's spelling of an address's host. */
function hostKey(a: AdvertisedAddress): string {
  return normalizeHost(formatHost(a));
}

function parseAddressText(text: string): PeerAddress {
  const colon = text.lastIndexOf(':');
  const port = Number(text.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new AddressError('invalid-text', `"${text}" is not host:port`);
  }
  return { ...parseHost(hostOf(text)), port };
}

function positiveInt(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${name} ${n} is not a positive integer`);
  return n;
}

/** murmur3's finaliser: every input bit moves every output bit. */
function fmix32(h: number): number {
  let x = h;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

/** A seeded 32-bit hash of a few bytes (FNV-1a, then mixed). */
function hash32(seed: number, bytes: Uint8Array): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (const b of bytes) h = Math.imul(h ^ b, 0x01000193);
  return fmix32(h);
}

/** A peer's 52-bit rank for one address-day (from its keyed hash k0, k1). */
function peerScore(k0: number, k1: number, id: number): number {
  const lo = id >>> 0;
  const hi = Math.floor(id / 2 ** 32) >>> 0;
  const a = fmix32(k0 ^ Math.imul(lo, 0x9e3779b1));
  const b = fmix32(k1 ^ a ^ Math.imul(hi + 1, 0x85ebca6b));
  return a * 2 ** 20 + (b >>> 12);
}
