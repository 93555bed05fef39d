// SimNetwork: many nodes in one process on one simulated world. The world
// (Rust) keeps virtual time, the simulated TCP and its faults; this side keeps
// every node's timers in one queue and steps both in one global order:
// whichever comes first of the next network event and the next timer (the
// network first on a tie, timers by due time then creation), then every ready
// node's events in node-id order, then the microtasks that all of that queued.
// Nothing here reads the wall clock or Math.random: the same seed and the same
// calls give the same run, event for event.
import { NETWORK_PRESETS, type PresetName } from '../config/networks.js';
import { parseConfig } from '../config/schema.js';
import { Engine, type EngineOptions } from '../engine/engine.js';
import {
  type SimWorld as NativeSimWorld,
  native,
  type SimFaults,
  type SimNodeClock,
  type SimNodeOptions,
} from '../native/binding.js';
import { SimClock, type SimTimeSource, TimerQueue } from './clock.js';
import { Invariants, InvariantViolation } from './invariants.js';
import { SimNodeDownError, SimTransport, simTransportOptions } from './transport.js';

export type SimProfile = 'none' | 'default' | 'harsh';

/** The fault knobs that inject faults, all off: latency and bandwidth stay as they are. */
export const NO_FAULTS: Readonly<SimFaults> = Object.freeze({
  connectRefuseP: 0,
  connectHangP: 0,
  resetPerSecondP: 0,
  finPerSecondP: 0,
  halfOpenPerSecondP: 0,
  bitFlipP: 0,
  partitionPerSecondP: 0,
  clogPerSecondP: 0,
  crashPerSecondP: 0,
});

/** The world as this side uses it: the native SimWorld. */
export type SimWorld = NativeSimWorld;
export type { SimFaults, SimNodeOptions };

export interface SimNetworkOptions {
  /** The run's seed: a u64 as a number, bigint or decimal string. */
  seed: number | bigint | string;
  /** Whose magic the world frames with (default regtest). */
  network?: PresetName;
  /** Network magic in wire order, when not a preset's. */
  magic?: string;
  profile?: SimProfile;
  /** Overrides on top of the profile. */
  faults?: SimFaults;
  /** Run the invariants after every step (default true). */
  checks?: boolean;
  /** How late (node-clock ms) a request may settle before it is a violation (default 1). */
  requestSlackMs?: number;
}

/** What a node's user object is built from, at its first start and after each restart. */
export interface SimNodeContext {
  node: number;
  ip: string;
  /** 0 at the first start, then one more after each crash and restart. */
  generation: number;
  transport: SimTransport;
  clock: SimClock;
}

export interface AddNodeOptions<T> {
  /** IPv4 address (default: simNodeIp of the node's id). */
  ip?: string;
  options?: SimNodeOptions;
  create: (ctx: SimNodeContext) => T;
}

export interface AddEngineOptions extends Omit<EngineOptions, 'clock' | 'transport'> {
  ip?: string;
  /** Clock drift and offset of the node (transport options come from the configuration). */
  node?: Pick<SimNodeOptions, 'clockDriftPpm' | 'clockOffsetMs'>;
  /** Runs on every new Engine of the node (first start and each restart): listen, dial, subscribe. */
  setup?: (engine: Engine, ctx: SimNodeContext) => void;
}

/**
 * The address a node gets by default: 10.x.y.z from its index, z in 1..254 so
 * that no index lands on .0 or .255 (or past them).
 */
export function simNodeIp(index: number): string {
  const z = 1 + (index % 254);
  const rest = Math.floor(index / 254);
  return `10.${Math.floor(rest / 256) % 256}.${rest % 256}.${z}`;
}

/** Options that make no valid simulation (a bad seed, an unknown network). */
export class SimOptionsError extends Error {
  override readonly name = 'SimOptionsError';
}

/** runUntil gave up: its condition did not hold in time, or nothing was left to run. */
export class SimTimeoutError extends Error {
  override readonly name = 'SimTimeoutError';
  constructor(
    readonly seed: string,
    /** Virtual ms since the world began. */
    readonly timeMs: number,
    /** Why it gave up. */
    readonly reason: string,
  ) {
    super(`simulation (seed ${seed}) at virtual ${timeMs} ms: ${reason}`);
  }
}

/** One node: its address, and its current user object while it is up. */
export class SimNode<T> {
  /** Incremented by each restart. */
  generation = 0;
  /** The node's user object; undefined while the node is crashed. */
  value: T | undefined;
  transport!: SimTransport;
  clock!: SimClock;
  private readingStalled = false;

  constructor(
    readonly id: number,
    readonly ip: string,
    /** @internal */
    readonly create: (ctx: SimNodeContext) => T,
    private readonly world: SimWorld,
  ) {}

  /** Whether the node is running (not crashed). */
  get up(): boolean {
    return this.value !== undefined;
  }

  /** The user object; throws when the node is crashed. */
  get current(): T {
    if (this.value === undefined) throw new SimNodeDownError(this.id, 'reading its user object');
    return this.value;
  }

  /**
   * A slow reader: its events stay queued (unpolled, unreleased), so its
   * input keeps counting against its budgets and the world stops reading
   * for it, until `resumeReading`.
   */
  stallReading(): void {
    if (this.readingStalled) return;
    this.readingStalled = true;
    // Its events must not stop the world's runs of network actions either.
    this.world.setPolled(this.id, false);
  }

  resumeReading(): void {
    if (!this.readingStalled) return;
    this.readingStalled = false;
    this.world.setPolled(this.id, true);
  }

  get stalled(): boolean {
    return this.readingStalled;
  }
}

/** Rounds of dispatch at one instant before the run is declared stuck. */
const MAX_ROUNDS_PER_INSTANT = 10_000;
/**
 * Virtual time between checks of every node. A node that ran code (a timer, a
 * batch of events) is checked in full after that step; between its steps its
 * Engine does not change, so the periodic check looks only at what time alone
 * can break (a request past its deadline) unless code outside the steps (the
 * scenario's, between runs) may have changed it.
 */
const FULL_CHECK_EVERY_MS = 1_000;
/**
 * Virtual time between checks of every node in full, whatever ran: a backstop
 * for code that changes one node's Engine from another's step (a promise
 * chain that spans nodes), cheap at once a minute.
 */
const FULL_SWEEP_EVERY_MS = 60_000;
/** runUntil's default budget of virtual time for a condition. */
const DEFAULT_MAX_TIME_MS = 60 * 60_000;

/**
 * Lets every microtask queued so far run, and those they queue: a macrotask
 * (setImmediate) runs only once the microtask queue is empty.
 */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function parseSeed(seed: number | bigint | string): string {
  let value: bigint;
  try {
    if (typeof seed === 'number' && !Number.isSafeInteger(seed)) throw new Error();
    if (typeof seed === 'string' && !/^\d+$/.test(seed)) throw new Error();
    value = BigInt(seed);
  } catch {
    throw new SimOptionsError(
      `seed must be a non-negative integer below 2^64, got ${String(seed)}`,
    );
  }
  if (value < 0n || value >= 1n << 64n) {
    throw new SimOptionsError(
      `seed must be a non-negative integer below 2^64, got ${String(seed)}`,
    );
  }
  return value.toString();
}

export class SimNetwork {
  readonly seed: string;
  readonly world: SimWorld;
  readonly profile: SimProfile;
  private readonly faults: SimFaults;
  readonly invariants: Invariants;
  private readonly timers = new TimerQueue();
  private readonly nodeList: SimNode<unknown>[] = [];
  private readonly checks: boolean;
  /** Nodes that ran a timer or handled a batch in this step. */
  private readonly touched = new Set<number>();
  private lastFullCheck = 0;
  private lastSweep = 0;
  /**
   * Per node: the earliest deadline (its clock) of the requests its Engine had
   * pending when last checked in full, or +Infinity.
   */
  private readonly earliestDeadline: number[] = [];
  /** Code outside the steps ran (between runs): the next check looks at every node in full. */
  private checkAll = true;
  /** Sets that collect the ids of nodes that ran code (trackActivity). */
  private readonly activity = new Set<Set<number>>();
  private pendingError: { error: unknown } | undefined;
  /**
   * The world's virtual time (ms), read once after each call that moves it:
   * only this class moves it (moving the world's time directly would skip
   * the timers here), and Engines read their clocks tens of thousands of
   * times a run, a native call each when they asked the world.
   */
  private nowMs = 0;
  /** Each node's clock numbers (fixed for its life), by id. */
  private readonly nodeClocks: SimNodeClock[] = [];
  /** What every SimClock reads: the cached time through the node's clock. */
  private readonly time: SimTimeSource = {
    now: () => this.nowMs,
    nodeTime: (node) => {
      const clock = this.nodeClocks[node] as SimNodeClock;
      // The world's own formula (World::node_time_ms), so the same bits.
      return clock.baseMs + this.nowMs * clock.rate;
    },
    nodeDelay: (node, ms) => ms / (this.nodeClocks[node] as SimNodeClock).rate,
  };

  constructor(options: SimNetworkOptions) {
    this.seed = parseSeed(options.seed);
    const preset = options.network ?? 'regtest';
    if (!Object.hasOwn(NETWORK_PRESETS, preset)) {
      throw new SimOptionsError(`unknown network "${preset}"`);
    }
    const magic = options.magic ?? NETWORK_PRESETS[preset].magic;
    this.profile = options.profile ?? 'default';
    this.faults = { ...options.faults };
    // An addon built before the simulator has no SimWorld.
    const SimWorld = (native as { SimWorld?: typeof NativeSimWorld }).SimWorld;
    if (typeof SimWorld !== 'function') {
      throw new SimOptionsError(
        'this build of the native addon has no simulator (SimWorld): rebuild it with "npm run build:native"',
      );
    }
    this.world = new SimWorld({
      seed: this.seed,
      magic,
      profile: this.profile,
      faults: this.faults,
    });
    this.checks = options.checks ?? true;
    this.invariants = new Invariants({
      seed: this.seed,
      now: () => this.nowMs,
      ...(options.requestSlackMs !== undefined ? { requestSlackMs: options.requestSlackMs } : {}),
    });
  }

  /** Every node, by id. */
  get nodes(): readonly SimNode<unknown>[] {
    return this.nodeList;
  }

  node<T = unknown>(id: number): SimNode<T> {
    const node = this.nodeList[id];
    if (!node) throw new RangeError(`no node ${id}`);
    return node as SimNode<T>;
  }

  /** Virtual ms since the world began. */
  now(): number {
    return this.nowMs;
  }

  /** Adds a node and builds its user object with `create`. */
  addNode<T>(options: AddNodeOptions<T>): SimNode<T> {
    const index = this.nodeList.length;
    const ip = options.ip ?? simNodeIp(index);
    const id = this.world.addNode(ip, options.options ?? null);
    this.nodeClocks[id] = this.world.nodeClock(id);
    const node = new SimNode<T>(id, ip, options.create, this.world);
    this.nodeList[id] = node as SimNode<unknown>;
    this.start(node);
    return node;
  }

  /**
   * Adds a node running an Engine on this network: its transport takes the
   * configuration's limits and timeouts as a NativeTransport would, and
   * `engine.listen()` binds the node's address on the network's port.
   */
  addEngine(options: AddEngineOptions = {}): SimNode<Engine> {
    const { ip, node, setup, ...engineOptions } = options;
    const config = parseConfig(engineOptions);
    const nodeOptions: SimNodeOptions = { ...simTransportOptions(config), ...node };
    const index = this.nodeList.length;
    const address = ip ?? simNodeIp(index);
    return this.addNode({
      ip: address,
      options: nodeOptions,
      create: (ctx) => {
        const engine = new Engine({
          ...engineOptions,
          listen: engineOptions.listen ?? { host: ctx.ip, port: config.network.port },
          clock: ctx.clock,
          transport: ctx.transport,
          // A handler that throws fails the step it ran in, with the seed's report.
          onHandlerError: (error) => {
            this.pendingError ??= { error };
          },
        });
        if (this.checks) this.invariants.watchEngine(ctx.node, engine);
        setup?.(engine, ctx);
        return engine;
      },
    });
  }

  // ---- stepping ---------------------------------------------------------

  /**
   * Runs the next thing: what is ready now, else the earlier of the next
   * network event and the next timers; then every ready node's batches and
   * the microtasks they queue. Returns false when nothing was left to run.
   */
  async step(): Promise<boolean> {
    this.checkAll = true;
    return this.stepWithin(Number.POSITIVE_INFINITY);
  }

  /**
   * A step that does not move virtual time past `limit`. `ready` is
   * anyReady() now and `net` the world's nextEventAt() (callers that just
   * asked pass them on: each is a native call, and nothing changes them
   * before this step runs).
   */
  private async stepWithin(
    limit: number,
    ready = this.anyReady(),
    net = ready ? null : this.world.nextEventAt(),
  ): Promise<boolean> {
    if (this.checks && !ready) {
      // Quiet stretches still get their periodic check, on time: a request
      // whose timer never fires is caught within FULL_CHECK_EVERY_MS.
      const checkAt = this.nextCheckAt();
      const next = this.nextAt(net);
      if (checkAt <= limit && (next === null || next > checkAt)) {
        this.advanceTo(checkAt);
        this.takeNotices();
        this.fullCheck();
        return true;
      }
    }
    const moved = ready ? true : this.advance(limit, net);
    const dispatched = await this.settle();
    this.afterStep();
    return moved || dispatched;
  }

  /** Runs until virtual time `time`, or until `condition` holds (within `maxTimeMs`). */
  async runUntil(
    until: number | (() => boolean),
    options: { maxTimeMs?: number } = {},
  ): Promise<number> {
    // The caller may have changed any node since the last step.
    this.checkAll = true;
    if (typeof until === 'number') {
      if (!(until >= this.now() && Number.isFinite(until))) {
        throw new RangeError(`cannot run back to ${until} ms: it is ${this.now()} ms`);
      }
      for (;;) {
        const ready = this.anyReady();
        const net = ready ? null : this.world.nextEventAt();
        if (!ready) {
          const next = Math.min(this.nextAt(net) ?? Number.POSITIVE_INFINITY, this.nextCheckAt());
          if (next > until) break;
        }
        await this.stepWithin(until, ready, net);
      }
      this.advanceTo(until);
      this.takeNotices();
      this.fullCheck();
      return this.now();
    }
    const budget = options.maxTimeMs ?? DEFAULT_MAX_TIME_MS;
    if (!(budget >= 0 && Number.isFinite(budget))) {
      throw new RangeError(`maxTimeMs must be a finite number of ms >= 0, got ${budget}`);
    }
    const deadline = this.now() + budget;
    while (!until()) {
      const ready = this.anyReady();
      const net = ready ? null : this.world.nextEventAt();
      if (!ready) {
        const next = this.nextAt(net);
        if (next === null) {
          throw new SimTimeoutError(
            this.seed,
            this.now(),
            'nothing left to run and the condition does not hold',
          );
        }
        if (Math.min(next, this.nextCheckAt()) > deadline) {
          this.advanceTo(deadline);
          this.takeNotices();
          throw new SimTimeoutError(this.seed, this.now(), 'the condition did not hold in time');
        }
      }
      await this.stepWithin(deadline, ready, net);
    }
    this.fullCheck();
    return this.now();
  }

  /** Runs for `ms` of virtual time. */
  runFor(ms: number): Promise<number> {
    return this.runUntil(this.now() + ms);
  }

  // ---- faults and observation --------------------------------------------

  /** Crashes a node now: its user object is dropped, its timers never run. */
  crash(id: number): void {
    this.world.crash(id);
    this.onCrashed(this.node(id));
    this.takeNotices();
  }

  /** Restarts a crashed node now with a new user object. */
  restart(id: number): void {
    this.world.restart(id);
    this.onRestarted(this.node(id));
    this.takeNotices();
  }

  /** Stops injecting faults (latency and bandwidth stay) and heals every partition. */
  stopFaults(): void {
    this.world.setFaults(this.profile, { ...this.faults, ...NO_FAULTS });
    this.world.heal(null);
  }

  traceHash(): string {
    return this.world.traceHash();
  }

  /**
   * Starts collecting the ids of nodes that run code (a timer, a batch of
   * events), start, restart or crash, until `stop`: what a node's own state
   * can have changed by. `take` returns those since the last take, ascending.
   */
  trackActivity(): { take(): number[]; stop(): void } {
    const ids = new Set<number>();
    this.activity.add(ids);
    return {
      take: () => {
        const out = [...ids].sort((a, b) => a - b);
        ids.clear();
        return out;
      },
      stop: () => {
        this.activity.delete(ids);
      },
    };
  }

  /** The world's counters (faults, disconnects, its checks) and this side's checks. */
  counters(): Record<string, number> {
    const all = { ...(this.world.counters() as Record<string, number>) };
    for (const [key, value] of Object.entries(this.invariants.counters())) {
      all[key] = (all[key] ?? 0) + value;
    }
    return Object.fromEntries(Object.entries(all).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  // ---- internals ----------------------------------------------------------

  /** Node `id` ran code (or started, or crashed) in this step. */
  private touch(id: number): void {
    this.touched.add(id);
    for (const ids of this.activity) ids.add(id);
  }

  private start<T>(node: SimNode<T>): void {
    this.touch(node.id);
    const seed = this.world.randomU32(`node:${node.id}:${node.generation}`);
    node.clock = new SimClock(this.time, node.id, this.timers, seed);
    node.transport = new SimTransport(this.world, node.id, this.invariants);
    node.value = node.create({
      node: node.id,
      ip: node.ip,
      generation: node.generation,
      transport: node.transport,
      clock: node.clock,
    });
  }

  private onCrashed(node: SimNode<unknown>): void {
    if (node.transport.crashed) return;
    this.touch(node.id);
    node.clock.stop();
    node.transport.kill();
    node.value = undefined;
    this.invariants.forgetNode(node.id);
  }

  private onRestarted(node: SimNode<unknown>): void {
    if (!node.transport.crashed) return;
    node.generation++;
    this.start(node);
  }

  /**
   * Applies the world's crash and restart notices. They arrive after a run of
   * network actions, so one node may have crashed and restarted several times
   * in it: each restart is a generation, but only the node's state at the end
   * counts (a generation that crashed again within the run never starts).
   */
  private takeNotices(): void {
    const notices = this.world.takeNodeNotices();
    if (notices.length === 0) return;
    const restarts = new Map<number, number>();
    const crashed = new Set<number>();
    for (const notice of notices) {
      if (notice.kind === 'crashed') crashed.add(notice.node);
      else if (notice.kind === 'restarted') {
        restarts.set(notice.node, (restarts.get(notice.node) ?? 0) + 1);
      }
    }
    const ids = [...new Set([...crashed, ...restarts.keys()])].sort((a, b) => a - b);
    for (const id of ids) {
      const node = this.node(id);
      if (crashed.has(id)) this.onCrashed(node);
      if (!node.transport.crashed) continue;
      node.generation += (restarts.get(id) ?? 1) - 1;
      if (this.world.isUp(id)) this.onRestarted(node);
      else if (restarts.has(id)) node.generation++;
    }
  }

  private anyReady(): boolean {
    for (const id of this.world.readyNodes()) {
      const node = this.nodeList[id];
      if (node && !node.stalled && node.up) return true;
    }
    return false;
  }

  /** Runs the world's actions up to `time` and moves its clock there. */
  private advanceTo(time: number): void {
    this.world.advanceTo(time);
    this.nowMs = this.world.now();
  }

  /** When the next periodic check of every node is due (never without checks). */
  private nextCheckAt(): number {
    return this.checks ? this.lastFullCheck + FULL_CHECK_EVERY_MS : Number.POSITIVE_INFINITY;
  }

  /**
   * When the next network event (`net`, the world's nextEventAt()) or timer
   * is due, or null when nothing is scheduled.
   */
  private nextAt(net: number | null): number | null {
    const timer = this.timers.nextDue();
    if (net === null) return timer;
    if (timer === null) return net;
    return Math.min(net, timer);
  }

  /**
   * Moves to the next network event or timers and runs them, never past
   * `limit`. Network actions that leave no events for a polled node run in
   * one native call, up to the next timer.
   */
  private advance(limit: number, net: number | null): boolean {
    const timer = this.timers.nextDue();
    if (net === null && timer === null) return false;
    if (net !== null && (timer === null || net <= timer)) {
      const bound = Math.min(timer ?? Number.POSITIVE_INFINITY, limit);
      if (!Number.isFinite(bound)) {
        // No timer and no limit to run up to: this instant's actions only.
        this.advanceTo(Math.max(net, this.nowMs));
        this.takeNotices();
        return true;
      }
      const stopped = this.world.advanceUntilReady(bound);
      this.nowMs = this.world.now();
      this.takeNotices();
      // Events to hand out, or the limit reached before the next timer.
      if (stopped || timer === null || bound < timer) return true;
    }
    const due = timer as number;
    if (due > limit) return false;
    this.advanceTo(Math.max(due, this.nowMs));
    this.takeNotices();
    // The timers due now that existed before this instant, in (due, creation)
    // order; one set for now by these runs waits for the next step, after any
    // network event due at the same time.
    const seqLimit = this.timers.nextSeq;
    for (
      let entry = this.timers.popDue(due, seqLimit);
      entry;
      entry = this.timers.popDue(due, seqLimit)
    ) {
      this.touch(entry.owner.node);
      try {
        entry.fn();
      } catch (error) {
        this.pendingError ??= { error };
      }
    }
    return true;
  }

  /** Dispatches ready nodes' batches, then microtasks, until nothing more is ready. */
  private async settle(): Promise<boolean> {
    let any = false;
    for (let round = 0; ; round++) {
      const dispatched = this.dispatchReady();
      // After a round that ran nothing, the queue is as the last drain left it: empty.
      if (!dispatched && round > 0) return any;
      await drainMicrotasks();
      if (!dispatched) return any;
      any = true;
      if (round >= MAX_ROUNDS_PER_INSTANT) {
        throw new SimTimeoutError(
          this.seed,
          this.now(),
          `${MAX_ROUNDS_PER_INSTANT} rounds of events without virtual time moving`,
        );
      }
    }
  }

  /** One batch for each ready node, in node-id order. */
  private dispatchReady(): boolean {
    let any = false;
    for (const id of this.world.readyNodes()) {
      const node = this.nodeList[id];
      if (!node || node.stalled || !node.up) continue;
      const batch = this.world.poll(id);
      if (batch === null) continue;
      any = true;
      this.touch(id);
      const error = node.transport.dispatch(batch);
      this.world.release(id);
      if (error !== undefined) this.pendingError ??= { error };
    }
    return any;
  }

  private afterStep(): void {
    if (this.pendingError) {
      const { error } = this.pendingError;
      this.pendingError = undefined;
      throw error;
    }
    if (!this.checks) return;
    if (this.now() - this.lastFullCheck >= FULL_CHECK_EVERY_MS) {
      this.fullCheck();
      return;
    }
    if (this.checkAll) {
      this.checkNodes();
      return;
    }
    for (const id of [...this.touched].sort((a, b) => a - b)) this.checkEngineOf(id);
    // Slots fill only as connections arrive: the transport's counts (a native
    // call per peer) are checked on the nodes where one did, and only there.
    for (const id of this.invariants.takeAdmitted()) this.checkSlotsOf(id);
    this.touched.clear();
  }

  /** The periodic check of every node, and the world's. */
  private fullCheck(): void {
    if (!this.checks) {
      this.touched.clear();
      return;
    }
    this.lastFullCheck = this.now();
    if (this.lastFullCheck - this.lastSweep >= FULL_SWEEP_EVERY_MS) this.checkAll = true;
    this.checkNodes();
  }

  /**
   * Every node's invariants, and the world's: in full for the nodes that ran
   * code since their last check (or all after code outside the steps); for
   * the others, whose Engines have not changed since, the one thing time
   * alone can break: a request still pending past its deadline.
   */
  private checkNodes(): void {
    for (const id of this.invariants.takeAdmitted()) this.checkSlotsOf(id);
    const all = this.checkAll;
    this.checkAll = false;
    if (all) this.lastSweep = this.now();
    for (const node of this.nodeList) {
      const id = node.id;
      if (all) this.checkSlotsOf(id, true);
      if (all || this.touched.has(id)) this.checkEngineOf(id);
      else this.checkDeadlinesOf(id);
    }
    this.touched.clear();
    const violations = this.world.violations();
    if (violations.length > 0) {
      throw new InvariantViolation(
        `world: ${violations[0]}`,
        this.seed,
        this.now(),
        violations.join('; '),
      );
    }
  }

  private engineOf(id: number): Engine | undefined {
    const value = this.nodeList[id]?.value;
    return value instanceof Engine ? value : undefined;
  }

  private checkEngineOf(id: number): void {
    const engine = this.engineOf(id);
    this.earliestDeadline[id] = engine
      ? this.invariants.checkEngine(id, engine)
      : Number.POSITIVE_INFINITY;
  }

  /** An Engine unchanged since its last check: only its earliest deadline can have passed. */
  private checkDeadlinesOf(id: number): void {
    const earliest = this.earliestDeadline[id] ?? Number.POSITIVE_INFINITY;
    if (earliest === Number.POSITIVE_INFINITY) return;
    const engine = this.engineOf(id);
    if (engine) this.invariants.checkDeadline(id, engine, earliest);
  }

  private checkSlotsOf(id: number, independent = false): void {
    const engine = this.engineOf(id);
    const node = this.nodeList[id];
    if (!engine || !node) return;
    const limits = engine.config.limits;
    this.invariants.checkTransport(
      id,
      node.transport,
      {
        maxInbound: limits.maxInbound,
        maxHandshaking: limits.maxHandshaking,
        maxConnections: limits.maxConnections ?? limits.maxInbound + limits.maxOutbound,
      },
      independent,
    );
  }
}
