// Outbound connection management after Bitcoin Core's ThreadOpenConnections,
// ThreadDNSAddressSeed and ThreadOpenAddedConnections (net.cpp). It attaches to
// an Engine from outside, through its events and connect/forget: the Engine
// stays a router, this decides whom to dial.
//
// - N full-relay and M block-relay-only connections (Core: 8 and 2) drawn from
//   the address manager, at most one per netgroup, never to a banned host or one
//   already connected; one new connection per tick (Core sleeps 500 ms a loop).
//   Only the Engine's reachable networks are drawn: IPv4 and IPv6, and Tor, I2P
//   or CJDNS when it has a SOCKS5 proxy for them.
//   A tick with nothing to do (every slot full, no feeler due) is not repeated:
//   the loop parks until a slot frees or the next feeler is due, then resumes
//   on its 500 ms beat, so a node whose slots are full costs nothing between
//   feelers (what matters on a simulated network of a thousand nodes).
// - A feeler every ~2 minutes (exponential gaps) once those are full: it tests a
//   tried-table collision's occupant or a new-table address, and is dropped as
//   soon as its handshake completes; success moves the address to tried.
// - Anchors: the block-relay-only peers at shutdown, dialled first at start.
// - Manual peers: `connect` (only those; nothing automatic) and `addnode` (kept
//   besides the automatic ones, retried forever).
// - DNS seeds when the address manager is empty (at once) or small (after a
//   delay, unless two full-relay peers are up); fixed seeds when still empty a
//   minute in.
// Everything runs on the Engine's clock and its random(): it is deterministic
// on the simulator.
import { type BanEntry, hostOf } from '../engine/bans.js';
import type { TimerHandle } from '../engine/clock.js';
import { Emitter } from '../engine/emitter.js';
import type { DisconnectInfo, Engine } from '../engine/engine.js';
import type { Peer } from '../engine/peer.js';
import { AddressError, formatAddress, type PeerAddress, type PeerNetwork } from './address.js';
import type { AddressInfo, AddressManager } from './addrman.js';
import { netGroupKey } from './netgroup.js';
import {
  addFixedSeeds,
  parseSeedAddress,
  querySeed,
  type SeedResolver,
  type SeedResult,
  systemSeedResolver,
} from './seeds.js';

export type ConnectionKind = 'full-relay' | 'block-relay' | 'feeler' | 'manual';

export const OUTBOUND_DEFAULTS = {
  /** MAX_OUTBOUND_FULL_RELAY_CONNECTIONS. */
  fullRelay: 8,
  /** MAX_BLOCK_RELAY_ONLY_CONNECTIONS. */
  blockRelay: 2,
  /** FEELER_INTERVAL: the mean gap between feelers. */
  feelerIntervalMs: 2 * 60_000,
  /** Core's connection loop sleeps 500 ms between attempts. */
  tickMs: 500,
  /** MAX_BLOCK_RELAY_ONLY_ANCHORS. */
  maxAnchors: 2,
  /** DNSSEEDS_DELAY_FEW_PEERS / DNSSEEDS_DELAY_MANY_PEERS, and the threshold between. */
  seedDelayFewMs: 11_000,
  seedDelayManyMs: 5 * 60_000,
  seedDelayThreshold: 1_000,
  /** DNSSEEDS_TO_QUERY_AT_ONCE. */
  seedsAtOnce: 3,
  /** Fixed seeds wait this long for other sources to fill an empty address manager. */
  fixedSeedDelayMs: 60_000,
  /** ThreadOpenAddedConnections retries a manual peer the Engine gave up on after this. */
  manualRetryMs: 60_000,
  /** Selection attempts per tick (Core gives up after 100). */
  maxTries: 100,
  /** An address tried this recently is skipped for the first 30 tries. */
  recentTryMs: 10 * 60_000,
} as const;

export interface OutboundOptions {
  fullRelay?: number;
  blockRelay?: number;
  /** Mean gap between feelers; 0 turns feelers off. */
  feelerIntervalMs?: number;
  tickMs?: number;
  /** Dial only these ("host:port"), persistently; no automatic connections, feelers or seeding. */
  connect?: readonly string[];
  /** Keep these connected besides the automatic ones. */
  addnode?: readonly string[];
  /** Addresses to dial first as block-relay-only (saved by the last run's `anchors()`). */
  anchors?: readonly string[];
  /** Query DNS seeds when the address manager is empty or small (default true). */
  dnsSeed?: boolean;
  /** Default: the network's `dnsSeeds`. */
  dnsSeeds?: readonly string[];
  /** Default: the network's `fixedSeeds`. */
  fixedSeeds?: readonly string[];
  /** Default: the operating system's resolver. */
  resolver?: SeedResolver;
  /** Services an automatic outbound peer's address must advertise (default the policy's). */
  requiredServices?: bigint;
  /** How long a manual peer the Engine gave up on waits before it is dialled again. */
  manualRetryMs?: number;
}

export interface OutboundEvents {
  /** A connection is being dialled. */
  dial: (info: { address: string; kind: ConnectionKind }) => void;
  /** A managed connection completed its handshake. */
  ready: (peer: Peer, kind: ConnectionKind) => void;
  /** A managed connection failed or ended (manual ones are redialled). */
  lost: (info: { address: string; kind: ConnectionKind; reason: string; ready: boolean }) => void;
  /** A feeler finished: `ok` when its handshake completed. */
  feeler: (info: { address: string; ok: boolean; collision: boolean }) => void;
  /** One DNS seed answered (or failed: see `error`). */
  seeded: (result: SeedResult) => void;
  /** Fixed seeds were added to an empty address manager. */
  'fixed-seeds': (info: { added: number }) => void;
}

interface Slot {
  /** What the Engine was asked to dial (its target key). */
  readonly address: string;
  readonly kind: ConnectionKind;
  /** The address manager's address, when the target is one (not a host name). */
  readonly peerAddress?: PeerAddress;
  /** Netgroup (a manual peer's: IPv4/IPv6 only, the rule is Core's for IP networks). */
  group?: string;
  peerId?: number;
  ready: boolean;
  /** Feelers: whether it tests a tried collision's occupant. */
  collision?: boolean;
  /** Manual: the redial timer after the Engine gave up. */
  retry?: TimerHandle;
}

/** Core's exponential gap: -ln(1 - u) × mean. */
function exponential(mean: number, random: () => number): number {
  return -Math.log1p(-random()) * mean;
}

export class OutboundManager {
  readonly fullRelay: number;
  readonly blockRelay: number;
  private readonly feelerIntervalMs: number;
  private readonly tickMs: number;
  private readonly connectOnly: readonly string[];
  private readonly manual = new Set<string>();
  private readonly anchorQueue: string[];
  private readonly dnsSeed: boolean;
  private readonly seedHosts: string[];
  private readonly fixedSeeds: readonly string[];
  private readonly resolver: SeedResolver;
  private readonly requiredServices: bigint;
  private readonly manualRetryMs: number;
  /** The Engine's reachable networks: the only ones drawn from the address manager. */
  private readonly reachable: readonly PeerNetwork[];
  private readonly events = new Emitter<OutboundEvents>();
  private readonly slots = new Map<string, Slot>();
  /** Hosts of the slots that hold an address (eligible() without a scan). */
  private readonly slotHosts = new Map<string, number>();
  /** Netgroups of the slots that are not feelers: the one-per-netgroup rule. */
  private readonly slotGroups = new Map<string, number>();
  /** Slots by kind (counts() and the tick without a scan). */
  private readonly kindCounts: Record<ConnectionKind, { pending: number; ready: number }> = {
    'full-relay': { pending: 0, ready: 0 },
    'block-relay': { pending: 0, ready: 0 },
    feeler: { pending: 0, ready: 0 },
    manual: { pending: 0, ready: 0 },
  };
  private readonly unsubscribe: (() => void)[] = [];
  private tickTimer?: TimerHandle;
  /** When (the Engine's clock) the pending tick is due. */
  private tickDueAt = 0;
  /** When the last tick ran: the beat the loop keeps, parked or not. */
  private lastTickAt = 0;
  private seedTimer?: TimerHandle;
  private started = false;
  private stopped = false;
  private startedAt = 0;
  private nextFeelerAt = 0;
  private fixedSeedsPending: boolean;

  constructor(
    readonly engine: Engine,
    readonly addrman: AddressManager,
    options: OutboundOptions = {},
  ) {
    const network = engine.config.network;
    this.fullRelay = checkCount('fullRelay', options.fullRelay ?? OUTBOUND_DEFAULTS.fullRelay);
    this.blockRelay = checkCount('blockRelay', options.blockRelay ?? OUTBOUND_DEFAULTS.blockRelay);
    this.feelerIntervalMs = options.feelerIntervalMs ?? OUTBOUND_DEFAULTS.feelerIntervalMs;
    this.tickMs = options.tickMs ?? OUTBOUND_DEFAULTS.tickMs;
    if (!(this.tickMs > 0) || !(this.feelerIntervalMs >= 0)) {
      throw new RangeError('tickMs must be > 0 and feelerIntervalMs >= 0');
    }
    this.connectOnly = [...(options.connect ?? [])];
    for (const a of options.addnode ?? []) this.manual.add(a);
    for (const a of this.connectOnly) this.manual.add(a);
    // Core pops anchors from the back: keep the saved order by reversing once.
    this.anchorQueue = [...(options.anchors ?? [])]
      .slice(0, OUTBOUND_DEFAULTS.maxAnchors)
      .reverse();
    this.dnsSeed = (options.dnsSeed ?? true) && this.connectOnly.length === 0;
    this.seedHosts = [...(options.dnsSeeds ?? network.dnsSeeds)];
    this.fixedSeeds = options.fixedSeeds ?? network.fixedSeeds;
    this.fixedSeedsPending = this.fixedSeeds.length > 0 && this.connectOnly.length === 0;
    this.resolver = options.resolver ?? systemSeedResolver;
    this.requiredServices = options.requiredServices ?? engine.config.policy.requiredServices;
    this.manualRetryMs = options.manualRetryMs ?? OUTBOUND_DEFAULTS.manualRetryMs;
    this.reachable = engine.reachableNetworks();
  }

  on<K extends keyof OutboundEvents>(event: K, handler: OutboundEvents[K]): () => void {
    return this.events.on(event, handler);
  }

  off<K extends keyof OutboundEvents>(event: K, handler: OutboundEvents[K]): void {
    this.events.off(event, handler);
  }

  /** Whether only `connect` peers are dialled. */
  get connectMode(): boolean {
    return this.connectOnly.length > 0;
  }

  /**
   * Subscribes to the Engine and starts dialling. The Engine's outbound limit
   * counts every dial, so it is raised to fit the automatic connections, one
   * feeler and the manual peers when it is lower.
   */
  start(): void {
    if (this.started) throw new Error('the outbound manager has already started');
    this.started = true;
    const e = this.engine;
    this.startedAt = e.clock.now();
    this.lastTickAt = this.startedAt;
    this.ensureOutboundLimit();
    this.unsubscribe.push(
      e.on('connected', (peer) => this.onConnected(peer)),
      e.on('handshake', (peer) => this.onHandshake(peer)),
      e.on('disconnected', (peer, info) => this.onDisconnected(peer, info)),
      e.on('failed', (info) => this.onFailed(info)),
      e.on('banned', (entry) => this.onBanned(entry)),
      e.on('closed', () => this.stop()),
    );
    for (const address of this.manual) this.dialManual(address);
    if (this.connectMode) return;
    this.nextFeelerAt = this.startedAt + this.feelerGap();
    this.scheduleSeeding();
    this.tickDueAt = this.startedAt;
    this.tickTimer = e.clock.setTimer(0, () => this.tick());
  }

  /**
   * Stops dialling and returns the anchors to save. Connections stay up, but
   * their ends are no longer watched: the peers a disconnect would mark
   * connected in the address manager (every outbound one but block-relay-only,
   * as Core's FinalizeNode does, at shutdown too) are marked now.
   */
  stop(): string[] {
    const anchors = this.anchors();
    if (this.stopped) return anchors;
    this.stopped = true;
    for (const slot of this.slots.values()) {
      if (slot.ready && slot.kind !== 'block-relay' && slot.peerAddress) {
        this.addrman.connected(slot.peerAddress);
      }
    }
    const clock = this.engine.clock;
    if (this.tickTimer) clock.clearTimer(this.tickTimer);
    if (this.seedTimer) clock.clearTimer(this.seedTimer);
    for (const slot of this.slots.values()) if (slot.retry) clock.clearTimer(slot.retry);
    for (const off of this.unsubscribe.splice(0)) off();
    return anchors;
  }

  /** Stops, closes the Engine and returns the anchors to save (taken before the close). */
  async close(): Promise<string[]> {
    const anchors = this.stop();
    await this.engine.close();
    return anchors;
  }

  /** The block-relay-only peers that completed their handshake: what to save as anchors. */
  anchors(): string[] {
    return [...this.slots.values()]
      .filter((s) => s.kind === 'block-relay' && s.ready)
      .slice(0, OUTBOUND_DEFAULTS.maxAnchors)
      .map((s) => s.address);
  }

  /** Managed connections by kind: dialling and ready ones. */
  counts(): Record<ConnectionKind, { pending: number; ready: number }> {
    const c = this.kindCounts;
    return {
      'full-relay': { ...c['full-relay'] },
      'block-relay': { ...c['block-relay'] },
      feeler: { ...c.feeler },
      manual: { ...c.manual },
    };
  }

  /** The kind of a managed outbound peer (undefined for inbound or unmanaged ones). */
  kindOf(peer: Peer): ConnectionKind | undefined {
    if (peer.inbound || peer.target === undefined) return undefined;
    const slot = this.slots.get(peer.target);
    return slot && (slot.peerId === undefined || slot.peerId === peer.id) ? slot.kind : undefined;
  }

  /** Adds an `addnode` peer at run time. */
  addNode(address: string): void {
    if (this.manual.has(address)) return;
    this.manual.add(address);
    if (!this.started || this.stopped) return;
    this.ensureOutboundLimit();
    this.dialManual(address);
  }

  /** Removes an `addnode` peer and disconnects it. */
  removeNode(address: string): boolean {
    if (!this.manual.delete(address)) return false;
    const slot = this.slots.get(address);
    if (slot?.kind === 'manual') {
      if (slot.retry) this.engine.clock.clearTimer(slot.retry);
      this.removeSlot(slot);
      this.engine.forget(address, 'removed');
    }
    return true;
  }

  // ---- slots --------------------------------------------------------------------

  private slotTotal(kind: ConnectionKind): number {
    const c = this.kindCounts[kind];
    return c.pending + c.ready;
  }

  private addSlot(slot: Slot): void {
    const old = this.slots.get(slot.address);
    if (old) this.removeSlot(old);
    this.slots.set(slot.address, slot);
    const c = this.kindCounts[slot.kind];
    if (slot.ready) c.ready++;
    else c.pending++;
    if (slot.peerAddress) bump(this.slotHosts, hostOf(slot.address), 1);
    if (slot.kind !== 'feeler' && slot.group !== undefined) bump(this.slotGroups, slot.group, 1);
  }

  /** Frees a slot; a loop parked because every slot was full goes on at its next beat. */
  private removeSlot(slot: Slot): void {
    if (this.slots.get(slot.address) !== slot) return;
    this.slots.delete(slot.address);
    const c = this.kindCounts[slot.kind];
    if (slot.ready) c.ready--;
    else c.pending--;
    if (slot.peerAddress) bump(this.slotHosts, hostOf(slot.address), -1);
    if (slot.kind !== 'feeler' && slot.group !== undefined) bump(this.slotGroups, slot.group, -1);
    if (slot.kind !== 'manual') this.wake();
  }

  private setReady(slot: Slot, ready: boolean): void {
    if (slot.ready === ready) return;
    slot.ready = ready;
    if (this.slots.get(slot.address) !== slot) return;
    const c = this.kindCounts[slot.kind];
    c.ready += ready ? 1 : -1;
    c.pending += ready ? -1 : 1;
  }

  /** A manual slot's netgroup, learnt once its host name resolved. */
  private setGroup(slot: Slot, group: string): void {
    if (this.slots.get(slot.address) === slot && slot.kind !== 'feeler') {
      if (slot.group !== undefined) bump(this.slotGroups, slot.group, -1);
      bump(this.slotGroups, group, 1);
    }
    slot.group = group;
  }

  // ---- the connection loop ----------------------------------------------------

  private tick(): void {
    this.tickTimer = undefined;
    if (this.stopped) return;
    const now = this.engine.clock.now();
    this.lastTickAt = now;
    const full = this.slotTotal('full-relay');
    const block = this.slotTotal('block-relay');
    const feelers = this.slotTotal('feeler');
    const anchor = this.anchorQueue.length > 0 && block < this.blockRelay;
    const feelerDue = this.feelerIntervalMs > 0 && now >= this.nextFeelerAt && feelers === 0;
    const fixedSeedsWaiting = this.fixedSeedsPending && this.addrman.size() === 0;
    if (
      anchor ||
      full < this.fullRelay ||
      block < this.blockRelay ||
      feelerDue ||
      fixedSeedsWaiting
    ) {
      this.schedule(this.tickMs);
    } else {
      // Nothing to do until a slot frees (removeSlot wakes the loop) or the
      // next feeler is due: park till the first beat at or after it.
      // (The address manager never shrinks to empty, so fixed seeds cannot
      // become due while parked.)
      if (this.feelerIntervalMs > 0 && feelers === 0) {
        const beats = Math.max(1, Math.ceil((this.nextFeelerAt - now) / this.tickMs));
        this.schedule(beats * this.tickMs);
      }
      return;
    }
    this.maybeAddFixedSeeds();
    if (anchor) {
      const anchor = this.anchorQueue.pop() as string;
      let address: PeerAddress | undefined;
      try {
        address = parseSeedAddress(anchor, this.engine.config.network.port);
      } catch (err) {
        if (!(err instanceof AddressError)) throw err;
      }
      if (address && this.eligible(address, false)) this.dial(address, 'block-relay');
      return;
    }
    let kind: ConnectionKind;
    if (full < this.fullRelay) kind = 'full-relay';
    else if (block < this.blockRelay) kind = 'block-relay';
    else if (feelerDue) {
      this.nextFeelerAt = now + this.feelerGap();
      kind = 'feeler';
    } else return;

    const feeler = kind === 'feeler';
    let collision = false;
    if (feeler) this.addrman.resolveCollisions();
    for (let tries = 0; tries < OUTBOUND_DEFAULTS.maxTries; tries++) {
      let info: AddressInfo | undefined;
      collision = false;
      if (feeler && tries === 0) {
        info = this.addrman.selectTriedCollision();
        collision = info !== undefined;
        // An occupant we are connected to right now has just been tested (Core
        // marks it good): it keeps its tried slot.
        if (info && this.connectedTo(info.address)) {
          this.addrman.good(info.address);
          info = undefined;
          collision = false;
        }
      }
      // Only networks we can dial: Tor, I2P and CJDNS need a proxy.
      info ??= this.addrman.select(feeler, this.reachable);
      if (!info) return;
      const a = info.address;
      if (!this.eligible(a, feeler)) continue;
      // Recently tried addresses wait, unless nothing else turns up.
      if (tries < 30 && now - info.lastTry * 1000 < OUTBOUND_DEFAULTS.recentTryMs) continue;
      if (
        !feeler &&
        tries < 40 &&
        (info.services & this.requiredServices) !== this.requiredServices
      ) {
        continue;
      }
      // Peers on the default port first (Core: an attacker's many ports are one node).
      if (tries < 50 && a.port !== this.engine.config.network.port) continue;
      this.dial(a, kind, collision);
      return;
    }
  }

  /** Sets the tick `delayMs` after now, unless one is due sooner. */
  private schedule(delayMs: number): void {
    const clock = this.engine.clock;
    const due = clock.now() + delayMs;
    if (this.tickTimer) {
      if (this.tickDueAt <= due) return;
      clock.clearTimer(this.tickTimer);
    }
    this.tickDueAt = due;
    this.tickTimer = clock.setTimer(delayMs, () => this.tick());
  }

  /**
   * A slot freed: a parked loop goes on at its next 500 ms beat after now
   * (where its tick would have run had it kept ticking). A running loop's
   * tick is already there.
   */
  private wake(): void {
    if (!this.started || this.stopped || this.connectMode) return;
    const since = this.engine.clock.now() - this.lastTickAt;
    const beats = Math.round(since / this.tickMs);
    if (beats >= 1 && Math.abs(since - beats * this.tickMs) < 0.0005) {
      // A beat falls right now and its tick has not run: it runs at once
      // (a ticking loop's timer for this instant would have run after the
      // event that freed the slot).
      this.schedule(0);
      return;
    }
    const next = (Math.floor(since / this.tickMs) + 1) * this.tickMs;
    // To the microsecond: the beat stays on its grid despite rounding.
    this.schedule(Math.max(0.001, Math.round((next - since) * 1000) / 1000));
  }

  /** Whether a connection, either way, is up to `a`'s host. */
  private connectedTo(a: PeerAddress): boolean {
    return this.engine.hasPeerOnHost(hostOf(formatAddress(a)));
  }

  /**
   * Whether `a` may be dialled: on a reachable network (Tor, I2P and CJDNS
   * need their proxy), not banned, not connected or being dialled, and in a
   * netgroup no other outbound connection holds (feelers are short-lived and
   * exempt, as in Core). Lookups, not scans: it runs for every candidate.
   */
  private eligible(a: PeerAddress, feeler: boolean): boolean {
    if (!this.reachable.includes(a.network as PeerNetwork)) return false;
    const text = formatAddress(a);
    const host = hostOf(text);
    if (this.slots.has(text)) return false;
    if (this.engine.isBanned(host)) return false;
    if (this.engine.hasPeerOnHost(host)) return false;
    if (this.slotHosts.has(host)) return false;
    if (feeler) return true;
    return !this.slotGroups.has(netGroupKey(a, this.addrman.allowLocal));
  }

  private dial(a: PeerAddress, kind: ConnectionKind, collision = false): void {
    const address = formatAddress(a);
    const slot: Slot = {
      address,
      kind,
      peerAddress: a,
      group: netGroupKey(a, this.addrman.allowLocal),
      ready: false,
    };
    if (kind === 'feeler') slot.collision = collision;
    try {
      this.engine.connect(address, {
        network: a.network as PeerNetwork,
        ...(kind === 'block-relay' ? { relay: false } : {}),
      });
    } catch {
      // Banned, already a target, or out of slots: try another next tick.
      return;
    }
    this.addSlot(slot);
    this.events.emit('dial', { address, kind });
  }

  private dialManual(address: string): void {
    if (this.stopped || !this.manual.has(address)) return;
    let peerAddress: PeerAddress | undefined;
    try {
      peerAddress = parseSeedAddress(address, this.engine.config.network.port);
    } catch (err) {
      if (!(err instanceof AddressError)) throw err;
    }
    const slot: Slot = { address, kind: 'manual', ready: false };
    if (peerAddress) {
      Object.assign(slot, { peerAddress });
      if (peerAddress.network === 'ipv4' || peerAddress.network === 'ipv6') {
        slot.group = netGroupKey(peerAddress, this.addrman.allowLocal);
      }
    }
    this.addSlot(slot);
    try {
      this.engine.connect(address, { persistent: true });
    } catch {
      // Banned or out of slots: ThreadOpenAddedConnections tries again later.
      this.retryManual(slot);
      return;
    }
    this.events.emit('dial', { address, kind: 'manual' });
  }

  private retryManual(slot: Slot): void {
    if (this.stopped) return;
    slot.retry = this.engine.clock.setTimer(this.manualRetryMs, () => {
      slot.retry = undefined;
      this.removeSlot(slot);
      this.dialManual(slot.address);
    });
  }

  private feelerGap(): number {
    return exponential(this.feelerIntervalMs, () => this.engine.clock.random());
  }

  /** Failures count only with two outbound connections up: being offline is not the peers' fault. */
  private countFailures(): boolean {
    const c = this.kindCounts;
    const ready = c['full-relay'].ready + c['block-relay'].ready + c.manual.ready;
    return ready >= Math.min(this.fullRelay + this.blockRelay - 1, 2);
  }

  private ensureOutboundLimit(): void {
    const auto = this.connectMode ? 0 : this.fullRelay + this.blockRelay + 1;
    const needed = auto + this.manual.size;
    if (this.engine.config.limits.maxOutbound < needed) {
      this.engine.setLimits({ maxOutbound: needed });
    }
  }

  // ---- seeding ------------------------------------------------------------------

  private scheduleSeeding(): void {
    if (!this.dnsSeed || this.seedHosts.length === 0) return;
    const order = [...this.seedHosts];
    const random = () => this.engine.clock.random();
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j] as string, order[i] as string];
    }
    const batch = (first: boolean) => {
      this.seedTimer = undefined;
      if (this.stopped) return;
      // Enough full-relay peers up: the seeds are not needed (Core's "P2P peers available").
      if (!first && this.readyFullRelay() >= 2) return;
      const hosts = order.splice(0, OUTBOUND_DEFAULTS.seedsAtOnce);
      void Promise.all(
        hosts.map((seed) =>
          querySeed(seed, {
            resolver: this.resolver,
            addrman: this.addrman,
            port: this.engine.config.network.port,
            clock: this.engine.clock,
          }).then((result) => {
            if (!this.stopped) this.events.emit('seeded', result);
          }),
        ),
      ).then(() => {
        if (this.stopped || order.length === 0) return;
        this.seedTimer = this.engine.clock.setTimer(this.seedDelay(), () => batch(false));
      });
    };
    if (this.addrman.size() === 0) batch(true);
    else this.seedTimer = this.engine.clock.setTimer(this.seedDelay(), () => batch(false));
  }

  private seedDelay(): number {
    return this.addrman.size() >= OUTBOUND_DEFAULTS.seedDelayThreshold
      ? OUTBOUND_DEFAULTS.seedDelayManyMs
      : OUTBOUND_DEFAULTS.seedDelayFewMs;
  }

  /**
   * Fixed seeds go in once, while the address manager is empty: after a minute
   * for DNS seeds or added peers to fill it, or at once when there are neither.
   */
  private maybeAddFixedSeeds(): void {
    if (!this.fixedSeedsPending || this.addrman.size() > 0) return;
    const waited = this.engine.clock.now() - this.startedAt >= OUTBOUND_DEFAULTS.fixedSeedDelayMs;
    const otherSources = (this.dnsSeed && this.seedHosts.length > 0) || this.manual.size > 0;
    if (!waited && otherSources) return;
    this.fixedSeedsPending = false;
    const added = addFixedSeeds(this.fixedSeeds, {
      addrman: this.addrman,
      port: this.engine.config.network.port,
      clock: this.engine.clock,
    });
    this.events.emit('fixed-seeds', { added });
  }

  private readyFullRelay(): number {
    return this.kindCounts['full-relay'].ready;
  }

  // ---- engine events ------------------------------------------------------------

  private slotOf(peer: Peer): Slot | undefined {
    if (peer.inbound || peer.target === undefined) return undefined;
    const slot = this.slots.get(peer.target);
    if (!slot || (slot.peerId !== undefined && slot.peerId !== peer.id)) return undefined;
    return slot;
  }

  private onConnected(peer: Peer): void {
    const slot = this.slotOf(peer);
    if (!slot) return;
    slot.peerId = peer.id;
    // A manual peer named by host name gets its netgroup from where it resolved.
    if (slot.kind === 'manual' && slot.group === undefined) {
      try {
        const resolved = parseSeedAddress(peer.address, 0);
        if (resolved.network === 'ipv4' || resolved.network === 'ipv6') {
          this.setGroup(slot, netGroupKey(resolved, this.addrman.allowLocal));
        }
      } catch (err) {
        if (!(err instanceof AddressError)) throw err;
      }
    }
  }

  private onHandshake(peer: Peer): void {
    const slot = this.slotOf(peer);
    if (!slot) return;
    this.setReady(slot, true);
    const a = slot.peerAddress;
    if (a) {
      // What the peer says of itself beats what gossip said; then it moves to tried.
      if (peer.services !== undefined) this.addrman.setServices(a, peer.services);
      this.addrman.good(a);
    }
    if (slot.kind === 'feeler') {
      this.removeSlot(slot);
      this.engine.forget(slot.address, 'feeler');
      this.events.emit('feeler', {
        address: slot.address,
        ok: true,
        collision: slot.collision ?? false,
      });
      return;
    }
    this.events.emit('ready', peer, slot.kind);
  }

  private onDisconnected(peer: Peer, info: DisconnectInfo): void {
    const slot = this.slotOf(peer);
    if (!slot) return;
    const a = slot.peerAddress;
    // Block-relay-only peers' times stay: updating them would tell who we are connected to.
    if (a && slot.ready && slot.kind !== 'block-relay') this.addrman.connected(a);
    if (a && !slot.ready) this.addrman.attempt(a, this.countFailures());
    const wasReady = slot.ready;
    if (slot.kind === 'manual') {
      // The Engine redials it (persistent); a new connection gets a new id.
      this.setReady(slot, false);
      slot.peerId = undefined;
    } else {
      this.removeSlot(slot);
    }
    this.reportLoss(slot, info.reason, wasReady);
  }

  /** A slot ended: a feeler's failure, then the loss, to whoever listens. */
  private reportLoss(slot: Slot, reason: string, ready: boolean): void {
    if (slot.kind === 'feeler') {
      this.events.emit('feeler', {
        address: slot.address,
        ok: false,
        collision: slot.collision ?? false,
      });
    }
    this.events.emit('lost', { address: slot.address, kind: slot.kind, reason, ready });
  }

  private onFailed(info: { address: string; error: string; retryInMs?: number }): void {
    const slot = this.slots.get(info.address);
    if (!slot) return;
    if (slot.kind === 'manual') {
      if (info.retryInMs === undefined && !slot.retry) {
        // The Engine gave up; Core's added-node thread never does.
        this.retryManual(slot);
      }
      return;
    }
    // Only dials that never connected get here with their slot still held.
    this.removeSlot(slot);
    if (slot.peerAddress) this.addrman.attempt(slot.peerAddress, this.countFailures());
    this.reportLoss(slot, info.error, false);
  }

  /** The Engine forgets targets on a banned host without a 'failed' event: free their slots. */
  private onBanned(entry: BanEntry): void {
    for (const slot of [...this.slots.values()]) {
      if (hostOf(slot.address) !== entry.host) continue;
      if (slot.kind === 'manual') {
        if (!slot.retry) this.retryManual(slot);
        continue;
      }
      this.removeSlot(slot);
      this.events.emit('lost', {
        address: slot.address,
        kind: slot.kind,
        reason: 'banned',
        ready: slot.ready,
      });
    }
  }
}

function bump(counts: Map<string, number>, key: string, by: number): void {
  const n = (counts.get(key) ?? 0) + by;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}

function checkCount(name: string, n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${name} must be an integer >= 0`);
  return n;
}
