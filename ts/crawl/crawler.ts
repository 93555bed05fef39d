// A network crawler on an Engine: from start addresses, dial nodes with bounded
// concurrency, record what each one is (version, user agent, services, height,
// latency) or why it could not be reached (and at which stage), ask each for
// its addresses with getaddr, and dial the new ones, until none are left or
// the node bound is reached. Tor, I2P and CJDNS addresses are dialled through
// the Engine's SOCKS5 proxy for their network, and only recorded when it has
// none. A dial that timed out or broke is tried again from the back of the
// queue (faults pass; a refusal does not). All timing comes from the engine's
// clock, so the same crawler runs unchanged on sockets and on the simulator.
// Results are handed out as they finish and only counts are kept: memory is
// bounded by `maxNodes`, not by the size of the network.
import {
  AddressError,
  type AdvertisedAddress,
  formatAddress,
  fromAddrEntry,
  fromAddrV2Entry,
  type PeerAddress,
  type PeerNetwork,
  parseHost,
} from '../addr/address.js';
import { isRoutable } from '../addr/netgroup.js';
import type { TimerHandle } from '../engine/clock.js';
import type { DisconnectInfo, Engine } from '../engine/engine.js';
import { EngineClosedError } from '../engine/errors.js';
import type { Peer } from '../engine/peer.js';
import { routeFor } from '../engine/proxy.js';
import type { AddrV2Entry, TimedNetAddress } from '../wire/types.js';

/** Where a dial got to when it ended. */
export type CrawlStage = 'connect' | 'handshake' | 'getaddr';

/** Why a node gave no (or no full) answer. */
export type CrawlFailureReason =
  /** The host answered the connection attempt with a reset: nothing listens there. */
  | 'refused'
  /** The stage did not finish in time. */
  | 'timeout'
  /** Any other connect error (no route, host unreachable, ...). */
  | 'unreachable'
  /** The peer framed with another network's magic. */
  | 'wrong-network'
  /** The peer hung up (before its version: another network, full, or banning us). */
  | 'closed'
  /** The connection broke (reset, I/O error). */
  | 'reset'
  /** Its version was refused by our policy: too old, missing services, or ourselves. */
  | 'version-too-old'
  | 'missing-services'
  | 'user-agent-rejected'
  | 'self-connection'
  | 'banned'
  /** It sent what does not decode or breaks the protocol. */
  | 'protocol'
  /** We could not dial it (no slot, engine closing). */
  | 'local'
  /** The crawl was stopped while it was in flight. */
  | 'stopped'
  /** The SOCKS5 proxy failed (unreachable, refused our credentials, broke
   *  the protocol): says nothing of the node. Reports from the proxy about
   *  the node (refused, unreachable, timed out) get those reasons instead. */
  | 'proxy'
  /** A network with no proxy configured for it (Tor, I2P, CJDNS). */
  | 'not-dialled';

export interface CrawlFailure {
  reason: CrawlFailureReason;
  /** Absent for a node that was never dialled. */
  stage?: CrawlStage;
  detail: string;
}

/** What the crawl learnt about one address. */
export interface CrawlResult {
  /** As dialled: host:port, IPv6 in brackets. */
  address: string;
  network: PeerNetwork;
  /** Who told us about it ("seed" for a start address). */
  source: string;
  dialled: boolean;
  /** The handshake completed. */
  reachable: boolean;
  protocolVersion?: number;
  userAgent?: string;
  services?: bigint;
  startHeight?: number;
  /** Whether the peer asked for transaction relay in its version. */
  relay?: boolean;
  /** ms from dialling to the connection being up. */
  connectMs?: number;
  /** ms from the connection being up to the handshake completing (one round trip and a bit). */
  handshakeMs?: number;
  /** Lowest ping round trip, when a pong came back in time. */
  pingMs?: number;
  /** Dials made, retries included. */
  attempts?: number;
  /** Whether an addr/addrv2 answer to our getaddr arrived. */
  answeredGetaddr?: boolean;
  /** Addresses it sent (all of them, valid or not). */
  addresses?: number;
  /** Addresses it sent that the crawl had not seen before. */
  newAddresses?: number;
  failure?: CrawlFailure;
  /** Clock ms when the dial started (or the address was learnt, if never dialled). */
  at: number;
}

export interface CrawlerOptions {
  /** Nodes dialled at once (at most the engine's maxOutbound; default 16 or that). */
  concurrency?: number;
  /** ms for the connection to come up (default 5,000). */
  connectTimeoutMs?: number;
  /** ms for version/verack once connected (default 10,000). */
  handshakeTimeoutMs?: number;
  /** ms for the first addr/addrv2 answer to getaddr (default 15,000). */
  getaddrTimeoutMs?: number;
  /** ms to keep listening after the first answer: some nodes answer in several messages (default 1,000). */
  addrWindowMs?: number;
  /**
   * Addresses dialled at most, start addresses included (default 100,000);
   * as many again that cannot be dialled are recorded. Beyond that, addresses
   * are only counted: this bounds the crawler's memory.
   */
  maxNodes?: number;
  /** Addresses taken from one node at most, against a peer that floods (default 5,000). */
  maxAddressesPerNode?: number;
  /**
   * Dials again, from the back of the queue, a node whose dial timed out or
   * broke before it gave any address, up to this many times (default 1). A
   * refusal is final: nothing listens there.
   */
  retries?: number;
  /** Each result as its node finishes. */
  onResult?: (result: CrawlResult) => void;
}

/** Counts of a crawl so far. */
export interface CrawlStats {
  /** Nodes whose dial finished. */
  dialled: number;
  inFlight: number;
  queued: number;
  reachable: number;
  /** Addresses recorded without a dial (Tor, I2P, CJDNS with no proxy for them). */
  notDialled: number;
  /** Distinct addresses learnt from getaddr answers (start addresses not counted). */
  learnt: number;
  /** Addresses left out because the node bound was reached. */
  overLimit: number;
  /** Addresses that could not be used (bad encoding, port 0, unknown network). */
  invalid: number;
  /**
   * Loopback, private and other unroutable addresses a node gave: not dialled
   * (a hostile node would have us scan the operator's own network) unless the
   * crawl started from such an address (a local test network).
   */
  unroutable: number;
  /** Dials made again after a transient failure. */
  retried: number;
}

/** Distinct user agents tallied by name before the rest go under OTHER_AGENTS. */
export const MAX_AGENT_KEYS = 1_000;
export const OTHER_AGENTS = '(others)';
/** Distinct protocol versions tallied before the rest go under OTHER_VERSIONS. */
export const MAX_VERSION_KEYS = 1_000;
export const OTHER_VERSIONS = '(others)';

/** Tallies of results for a summary; bounded whatever the peers send. */
export class CrawlTally {
  reachable = 0;
  unreachable = 0;
  notDialled = 0;
  answeredGetaddr = 0;
  /** Unreachable nodes by "reason (stage)", and reachable ones that failed later the same way. */
  readonly failures = new Map<string, number>();
  readonly userAgents = new Map<string, number>();
  /** Protocol versions (a peer may claim any 32-bit number: bounded as the agents are). */
  readonly versions = new Map<number | typeof OTHER_VERSIONS, number>();
  /** Not-dialled addresses by network. */
  readonly undialledNetworks = new Map<string, number>();

  add(r: CrawlResult): void {
    if (!r.dialled) {
      this.notDialled++;
      bump(this.undialledNetworks, r.network);
      return;
    }
    if (r.answeredGetaddr) this.answeredGetaddr++;
    if (r.failure) bump(this.failures, failureLabel(r.failure));
    if (!r.reachable) {
      this.unreachable++;
      return;
    }
    this.reachable++;
    const agent = r.userAgent ?? '';
    bump(
      this.userAgents,
      this.userAgents.has(agent) || this.userAgents.size < MAX_AGENT_KEYS ? agent : OTHER_AGENTS,
    );
    const version = r.protocolVersion;
    if (version !== undefined) {
      bump(
        this.versions,
        this.versions.has(version) || this.versions.size < MAX_VERSION_KEYS
          ? version
          : OTHER_VERSIONS,
      );
    }
  }
}

/** "timeout (handshake)", "refused (connect)", "not-dialled". */
export function failureLabel(f: CrawlFailure): string {
  return f.stage ? `${f.reason} (${f.stage})` : f.reason;
}

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

interface Queued {
  address: string;
  network: PeerNetwork;
  source: string;
  /** Dials of this address so far. */
  tries: number;
}

interface Job {
  item: Queued;
  result: CrawlResult;
  stage: CrawlStage;
  startedAt: number;
  connectedAt?: number;
  peer?: Peer;
  timer?: TimerHandle;
  addresses: number;
  newAddresses: number;
  /** Whether the Engine took our dial: only then is the target ours to forget. */
  dialled?: boolean;
}

/**
 * "host:port" as a peer address; throws AddressError or RangeError when it is
 * not one. Port 0 (undialable, but seen in gossip) only with `minPort` 0. An
 * fc00::/8 host is CJDNS with `cjdns` (when the engine has a CJDNS proxy).
 */
export function parseHostPort(text: string, minPort = 1, cjdns = false): PeerAddress {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  if (!m) throw new RangeError(`"${text}" is not HOST:PORT (IPv6 in brackets)`);
  const port = Number(m[3]);
  if (port < minPort || port > 65_535) throw new RangeError(`"${text}": port out of range`);
  return { ...parseHost((m[1] ?? m[2]) as string, { cjdns }), port };
}

export class Crawler {
  private readonly concurrency: number;
  private readonly connectTimeoutMs: number;
  private readonly handshakeTimeoutMs: number;
  private readonly getaddrTimeoutMs: number;
  private readonly addrWindowMs: number;
  private readonly maxNodes: number;
  private readonly maxAddressesPerNode: number;
  private readonly retries: number;
  private readonly onResult: (result: CrawlResult) => void;
  /** Every address queued, dialled or recorded: the dedup set (bounded by 2 × maxNodes). */
  private readonly seen = new Set<string>();
  private queue: Queued[] = [];
  private queueHead = 0;
  private readonly jobs = new Map<string, Job>();
  /** Addresses given to dial (queued or dialled): at most maxNodes. */
  private admitted = 0;
  private readonly counts: CrawlStats = {
    dialled: 0,
    inFlight: 0,
    queued: 0,
    reachable: 0,
    notDialled: 0,
    learnt: 0,
    overLimit: 0,
    invalid: 0,
    unroutable: 0,
    retried: 0,
  };
  /** Whether unroutable addresses from peers are dialled (a crawl of a local network). */
  private allowLocal = false;
  private readonly unsubscribe: Array<() => void> = [];
  private finished?: () => void;
  private stopped = false;
  private running = false;
  private pumping = false;

  constructor(
    private readonly engine: Engine,
    options: CrawlerOptions = {},
  ) {
    const maxOutbound = engine.config.limits.maxOutbound;
    this.concurrency = options.concurrency ?? Math.min(16, maxOutbound);
    if (!(Number.isInteger(this.concurrency) && this.concurrency >= 1)) {
      throw new RangeError(`concurrency must be an integer ≥ 1, got ${this.concurrency}`);
    }
    if (this.concurrency > maxOutbound) {
      throw new RangeError(
        `concurrency ${this.concurrency} is above the engine's maxOutbound (${maxOutbound})`,
      );
    }
    this.connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
    this.getaddrTimeoutMs = options.getaddrTimeoutMs ?? 15_000;
    this.addrWindowMs = options.addrWindowMs ?? 1_000;
    this.maxNodes = options.maxNodes ?? 100_000;
    this.maxAddressesPerNode = options.maxAddressesPerNode ?? 5_000;
    this.retries = options.retries ?? 1;
    this.onResult = options.onResult ?? (() => {});
  }

  /** Counts so far. */
  get stats(): CrawlStats {
    return {
      ...this.counts,
      inFlight: this.jobs.size,
      queued: this.queue.length - this.queueHead,
    };
  }

  /**
   * Crawls from `starts` ("host:port" with an IP, .onion or .b32.i2p host;
   * resolve DNS names first, see resolve.ts). Resolves once every reachable address has been tried or
   * the node bound is reached, or after stop(). Rejects a start that is not
   * host:port. One crawl per Crawler.
   */
  run(starts: readonly string[]): Promise<CrawlStats> {
    if (this.running) return Promise.reject(new Error('a Crawler runs one crawl'));
    this.running = true;
    let parsed: PeerAddress[];
    try {
      const cjdns = this.engine.isReachable('cjdns');
      parsed = starts.map((s) => parseHostPort(s, 1, cjdns));
    } catch (err) {
      return Promise.reject(err);
    }
    const done = new Promise<void>((resolve) => {
      this.finished = resolve;
    });
    this.subscribe();
    this.allowLocal = parsed.some((a) => !isRoutable(a));
    for (const a of parsed) this.learn(a, 'seed');
    this.pump();
    return done.then(() => {
      for (const off of this.unsubscribe.splice(0)) off();
      return this.stats;
    });
  }

  /** Stops dialling; nodes in flight are abandoned (reason "stopped"), queued ones dropped. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.queue = [];
    this.queueHead = 0;
    for (const job of [...this.jobs.values()]) {
      this.finish(job, { reason: 'stopped', stage: job.stage, detail: 'the crawl was stopped' });
    }
    this.checkDone();
  }

  // ---- queue --------------------------------------------------------------

  /** Takes an address someone told us about; queues it if new and dialable. */
  private learn(a: PeerAddress, source: string): boolean {
    if (a.port === 0) {
      this.counts.invalid++;
      return false;
    }
    if (source !== 'seed' && !this.allowLocal && !isRoutable(a)) {
      this.counts.unroutable++;
      return false;
    }
    const address = formatAddress(a);
    if (this.seen.has(address)) return false;
    const network = a.network as PeerNetwork;
    if (!this.engine.isReachable(network)) {
      if (this.counts.notDialled >= this.maxNodes) {
        this.counts.overLimit++;
        return false;
      }
      this.seen.add(address);
      this.counts.notDialled++;
      this.emit({
        address,
        network,
        source,
        dialled: false,
        reachable: false,
        failure: { reason: 'not-dialled', detail: `${network} needs a proxy, and none is set` },
        at: this.engine.clock.now(),
      });
      return true;
    }
    if (this.admitted >= this.maxNodes || this.stopped) {
      this.counts.overLimit++;
      return false;
    }
    this.seen.add(address);
    this.admitted++;
    this.queue.push({ address, network, source, tries: 0 });
    return true;
  }

  /** Starts dials while there are slots and addresses. */
  private pump(): void {
    // A dial that fails at once finishes (and pumps) inside this loop: the
    // outer loop carries on instead, so the stack never grows with the queue.
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (
        !this.stopped &&
        this.jobs.size < this.concurrency &&
        this.queueHead < this.queue.length
      ) {
        const next = this.queue[this.queueHead++] as Queued;
        // Drop the dialled prefix now and then, so the queue does not keep it.
        if (this.queueHead >= 1_024 && this.queueHead * 2 >= this.queue.length) {
          this.queue = this.queue.slice(this.queueHead);
          this.queueHead = 0;
        }
        this.dial(next);
      }
    } finally {
      this.pumping = false;
    }
    this.checkDone();
  }

  private checkDone(): void {
    if (!this.finished || this.jobs.size > 0) return;
    if (!this.stopped && this.queueHead < this.queue.length) return;
    const finished = this.finished;
    this.finished = undefined;
    finished();
  }

  // ---- one node -----------------------------------------------------------

  private dial(item: Queued): void {
    const now = this.engine.clock.now();
    const job: Job = {
      result: {
        address: item.address,
        network: item.network,
        source: item.source,
        dialled: true,
        reachable: false,
        attempts: item.tries + 1,
        at: now,
      },
      item,
      stage: 'connect',
      startedAt: now,
      addresses: 0,
      newAddresses: 0,
    };
    this.jobs.set(item.address, job);
    try {
      this.engine.connect(item.address, { network: item.network });
      job.dialled = true;
    } catch (err) {
      if (err instanceof EngineClosedError) {
        // A closed engine dials nothing more: the crawl ends here, and this
        // address, never dialled, is dropped with the rest of the queue.
        this.jobs.delete(item.address);
        this.stop();
        return;
      }
      this.finish(job, { reason: 'local', stage: 'connect', detail: (err as Error).message });
      return;
    }
    // A proxied dial has its own, longer bound in the driver (Tor builds a
    // circuit first); the driver's timeout, which names the proxy stage that
    // hung, then comes first.
    const route = routeFor(item.address, this.engine.config.proxy, item.network);
    const bound = route?.timeoutMs;
    this.arm(
      job,
      bound === undefined ? this.connectTimeoutMs : Math.max(this.connectTimeoutMs, bound + 1_000),
    );
  }

  /** (Re)starts the job's timer for its current stage. */
  private arm(job: Job, ms: number): void {
    if (job.timer) this.engine.clock.clearTimer(job.timer);
    const stage = job.stage;
    job.timer = this.engine.clock.setTimer(ms, () => {
      job.timer = undefined;
      if (this.jobs.get(job.result.address) !== job || job.stage !== stage) return;
      if (stage === 'getaddr' && job.addresses > 0) {
        // Addresses came, though not as a recognisable answer (one at a time).
        this.finish(job);
        return;
      }
      this.finish(job, { reason: 'timeout', stage, detail: `no ${STAGE_WAIT[stage]} in ${ms} ms` });
    });
  }

  private subscribe(): void {
    const e = this.engine;
    this.unsubscribe.push(
      e.on('connected', (peer) => this.onConnected(peer)),
      e.on('handshake', (peer) => this.onHandshake(peer)),
      e.on('failed', (f) => this.onFailed(f.address, f.error)),
      e.on('disconnected', (peer, info) => this.onDisconnected(peer, info)),
      e.on('addr', (peer, payload) => this.onAddresses(peer, payload.addresses, fromAddrEntry)),
      e.on('addrv2', (peer, payload) => this.onAddresses(peer, payload.addresses, fromAddrV2Entry)),
      // Whatever was in flight when the engine closed will never finish by itself.
      e.on('closed', () => this.stop()),
    );
  }

  /** The job a peer of ours serves, if it is still in flight. */
  private jobOf(peer: Peer): Job | undefined {
    if (peer.inbound || peer.state.target === undefined) return undefined;
    const job = this.jobs.get(peer.state.target);
    if (!job || (job.peer !== undefined && job.peer !== peer)) return undefined;
    return job;
  }

  private onConnected(peer: Peer): void {
    const job = this.jobOf(peer);
    if (job?.stage !== 'connect') return;
    job.peer = peer;
    job.connectedAt = this.engine.clock.now();
    job.result.connectMs = micros(job.connectedAt - job.startedAt);
    job.stage = 'handshake';
    this.arm(job, this.handshakeTimeoutMs);
  }

  private onHandshake(peer: Peer): void {
    const job = this.jobOf(peer);
    if (job?.stage !== 'handshake') return;
    const r = job.result;
    const v = peer.version;
    r.reachable = true;
    r.handshakeMs = micros(this.engine.clock.now() - (job.connectedAt ?? job.startedAt));
    if (v) {
      r.protocolVersion = v.version;
      r.userAgent = v.userAgent;
      r.services = v.services;
      r.startHeight = v.startHeight;
      r.relay = v.relay;
    }
    job.stage = 'getaddr';
    this.arm(job, this.getaddrTimeoutMs);
    peer.request({ command: 'getaddr', payload: {} }, this.getaddrTimeoutMs).then(
      () => {
        if (this.jobs.get(r.address) !== job) return;
        r.answeredGetaddr = true;
        // More messages may follow the first: listen a little longer.
        if (job.timer) this.engine.clock.clearTimer(job.timer);
        job.timer = this.engine.clock.setTimer(this.addrWindowMs, () => {
          job.timer = undefined;
          if (this.jobs.get(r.address) === job) this.finish(job);
        });
      },
      // A timeout is the stage timer's to report (armed first, it fires first
      // at the same deadline); an abort means the peer left, which its
      // disconnect reports.
      () => {},
    );
  }

  private onAddresses<E extends TimedNetAddress | AddrV2Entry>(
    peer: Peer,
    entries: readonly E[],
    convert: (entry: E) => AdvertisedAddress,
  ): void {
    const job = this.jobOf(peer);
    if (job?.stage !== 'getaddr') return;
    for (const entry of entries) {
      if (job.addresses >= this.maxAddressesPerNode) break;
      job.addresses++;
      let a: AdvertisedAddress;
      try {
        a = convert(entry);
      } catch (err) {
        if (!(err instanceof AddressError)) throw err;
        this.counts.invalid++;
        continue;
      }
      if (this.learn(a, job.result.address)) {
        job.newAddresses++;
        this.counts.learnt++;
      }
    }
    this.pump();
  }

  private onFailed(address: string, error: string): void {
    const job = this.jobs.get(address);
    // Failures after a connection came up are reported by its disconnect.
    if (job?.stage !== 'connect') return;
    this.finish(job, { reason: connectFailure(error), stage: 'connect', detail: error });
  }

  private onDisconnected(peer: Peer, info: DisconnectInfo): void {
    const job = this.jobOf(peer);
    if (!job || job.peer !== peer) return;
    if (job.stage === 'getaddr' && job.addresses > 0) {
      this.finish(job);
      return;
    }
    this.finish(job, {
      reason: disconnectFailure(info),
      stage: job.stage,
      detail: disconnectDetail(info, peer.version !== undefined),
    });
  }

  /** Records the node's result, frees its slot and starts the next dial. */
  private finish(job: Job, failure?: CrawlFailure): void {
    const r = job.result;
    if (this.jobs.get(r.address) !== job) return;
    this.jobs.delete(r.address);
    if (job.timer) this.engine.clock.clearTimer(job.timer);
    job.timer = undefined;
    if (failure) r.failure = failure;
    if (job.stage === 'getaddr') {
      r.answeredGetaddr ??= false;
      r.addresses = job.addresses;
      r.newAddresses = job.newAddresses;
      const ping = job.peer?.minRttMs;
      if (ping !== undefined) r.pingMs = micros(ping);
    }
    // Forgetting the target frees its engine slot now and closes the connection;
    // a target someone else on this Engine holds (our connect was refused) is theirs.
    if (job.dialled) {
      this.engine.forget(r.address, failure ? `crawl: ${failure.reason}` : 'crawl: done');
    }
    if (failure && job.addresses === 0 && this.mayRetry(job.item, failure)) {
      job.item.tries++;
      this.counts.retried++;
      this.queue.push(job.item);
    } else {
      this.counts.dialled++;
      if (r.reachable) this.counts.reachable++;
      this.emit(r);
    }
    this.pump();
  }

  /** Whether a failure may pass (a lost packet, a node restarting) and the node has tries left. */
  private mayRetry(item: Queued, failure: CrawlFailure): boolean {
    if (this.stopped || item.tries >= this.retries) return false;
    return (
      failure.reason === 'timeout' ||
      failure.reason === 'reset' ||
      (failure.reason === 'closed' && failure.stage === 'getaddr')
    );
  }

  private emit(result: CrawlResult): void {
    this.onResult(result);
  }
}

/** ms to the microsecond: the clock's sub-microsecond digits are noise in a record. */
function micros(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

const STAGE_WAIT: Record<CrawlStage, string> = {
  connect: 'connection',
  handshake: 'version/verack',
  getaddr: 'addr or addrv2 answer',
};

/** A connect error as a reason: the socket layer's words differ by platform and driver. */
export function connectFailure(error: string): CrawlFailureReason {
  // The native driver's proxy messages: "SOCKS5 proxy P could not connect to
  // T: why" reports on the node (classified by its words below); any other
  // "SOCKS5 proxy P ..." is the proxy's own failure.
  if (/^SOCKS5 proxy \S+ /.test(error) && !/^SOCKS5 proxy \S+ could not connect to /.test(error)) {
    return 'proxy';
  }
  // A proxied dial that timed out before the proxy tried the target: the proxy's fault.
  if (
    /through SOCKS5 proxy \S+, waiting for the (TCP connection to the proxy|proxy's answer to (the SOCKS5 greeting|our credentials))/.test(
      error,
    )
  ) {
    return 'proxy';
  }
  if (/refused/i.test(error)) return 'refused';
  if (/timed out|timeout/i.test(error)) return 'timeout';
  if (/banned/i.test(error)) return 'banned';
  if (/closing|limit|slots/i.test(error)) return 'local';
  return 'unreachable';
}

function disconnectFailure(info: DisconnectInfo): CrawlFailureReason {
  switch (info.reason) {
    case 'handshake-timeout':
    case 'ping-timeout':
    case 'inactivity':
      return 'timeout';
    case 'bad-magic':
      return 'wrong-network';
    case 'peer-closed':
      return 'closed';
    case 'io-error':
    case 'send-stalled':
      return 'reset';
    case 'version-too-old':
    case 'missing-services':
    case 'user-agent-rejected':
    case 'self-connection':
    case 'banned':
      return info.reason;
    case 'shutdown':
      return 'local';
    default:
      return 'protocol';
  }
}

function disconnectDetail(info: DisconnectInfo, sawVersion: boolean): string {
  if (info.reason === 'peer-closed' && !sawVersion) {
    return 'the peer hung up before its version (another network, full, or banning us)';
  }
  return info.detail === '' || info.detail === info.reason
    ? info.reason
    : `${info.reason}: ${info.detail}`;
}
