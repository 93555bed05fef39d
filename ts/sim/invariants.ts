// What must hold at every step of a simulated run, checked from JavaScript
// (the world checks its own: budgets, frames in order and once). Each check
// counts how often it was exercised, as "check.<name>": a run in which a
// check never ran proves nothing about it, and the counters say so.
import { hostOf } from '../engine/bans.js';
import type { Engine } from '../engine/engine.js';
import type { Peer } from '../engine/peer.js';
import type { PeerId, TransportEvent } from '../native/events.js';
import type { SimNetwork, SimNode } from './network.js';
import type { SimTransport, TransportObserver } from './transport.js';

/** Names of the JavaScript-side invariants (their counters are "check.<name>"). */
export const INVARIANTS = [
  'no-event-after-disconnect',
  'engine-no-event-after-disconnect',
  'request-settles-in-time',
  'banned-not-connected',
  'engine-slots',
  'transport-slots',
  'liveness',
] as const;
export type InvariantName = (typeof INVARIANTS)[number];

const COUNTER_KEY = Object.fromEntries(INVARIANTS.map((name) => [name, `check.${name}`])) as Record<
  InvariantName,
  string
>;

/** Engine events that name a peer as their first argument (besides `disconnected`). */
const PEER_EVENTS = [
  'connected',
  'handshake',
  'message',
  'unknown',
  'decode-error',
  'dropped',
  'writable',
  'misbehaving',
] as const;

/** An invariant did not hold: the message names it, the seed, and the virtual time. */
export class InvariantViolation extends Error {
  override readonly name = 'InvariantViolation';
  constructor(
    readonly invariant: InvariantName | `world: ${string}`,
    readonly seed: string,
    /** Virtual ms since the world began. */
    readonly timeMs: number,
    readonly detail: string,
    readonly node?: number,
  ) {
    super(
      `invariant ${invariant} violated at virtual ${timeMs} ms (seed ${seed})` +
        `${node === undefined ? '' : `, node ${node}`}: ${detail}`,
    );
  }
}

export interface InvariantOptions {
  seed: string;
  /** Virtual ms since the world began. */
  now: () => number;
  /** How far past its deadline (on its node's clock) a request may still be pending. */
  requestSlackMs?: number;
}

/** A request may be this late, on its node's clock, before it counts as never settling. */
export const DEFAULT_REQUEST_SLACK_MS = 1;

export class Invariants implements TransportObserver {
  private readonly counts: Record<string, number> = Object.fromEntries(
    INVARIANTS.map((name) => [`check.${name}`, 0]),
  );
  /** Per node: peers whose `disconnected` has been delivered (ids are never reused). */
  private readonly gone = new Map<number, Set<PeerId>>();
  /** Nodes that took a new connection since `takeAdmitted`: their slots may have filled. */
  private admitted = new Set<number>();
  private readonly slackMs: number;

  constructor(private readonly options: InvariantOptions) {
    this.slackMs = options.requestSlackMs ?? DEFAULT_REQUEST_SLACK_MS;
  }

  /** "check.<name>" counters, in a fixed order. */
  counters(): Record<string, number> {
    return { ...this.counts };
  }

  /** Counts one exercise of a check that ran elsewhere (the liveness helper). */
  exercised(name: InvariantName, times = 1): void {
    // Runs for every peer of every checked node: no key built per call.
    const key = COUNTER_KEY[name];
    this.counts[key] = (this.counts[key] ?? 0) + times;
  }

  /** Fails the run. */
  violation(name: InvariantViolation['invariant'], detail: string, node?: number): never {
    throw new InvariantViolation(name, this.options.seed, this.options.now(), detail, node);
  }

  // ---- no event for a peer after its disconnect (every event, as delivered) ----

  frame(node: number, peer: PeerId): void {
    this.exercised('no-event-after-disconnect');
    if (this.gone.get(node)?.has(peer)) {
      this.violation(
        'no-event-after-disconnect',
        `a frame for peer ${peer} after it disconnected`,
        node,
      );
    }
  }

  event(node: number, event: TransportEvent): void {
    if (!('peer' in event)) return;
    this.exercised('no-event-after-disconnect');
    let gone = this.gone.get(node);
    if (gone?.has(event.peer)) {
      this.violation(
        'no-event-after-disconnect',
        `a ${event.type} event for peer ${event.peer} after it disconnected`,
        node,
      );
    }
    if (event.type === 'accepted' || event.type === 'connected') this.admitted.add(node);
    // A failed dial is as final for its id as a disconnect.
    if (event.type === 'disconnected' || event.type === 'connect-failed') {
      if (!gone) {
        gone = new Set();
        this.gone.set(node, gone);
      }
      gone.add(event.peer);
    }
  }

  /** Nodes that took a new connection since the last call, ascending. */
  takeAdmitted(): number[] {
    const nodes = [...this.admitted].sort((a, b) => a - b);
    this.admitted.clear();
    return nodes;
  }

  /** The node crashed: its next transport is a new one, with new peer ids. */
  forgetNode(node: number): void {
    this.gone.delete(node);
  }

  // ---- the Engine's own state, after every step ----

  /**
   * Watches what an Engine tells its application: once a peer's
   * `disconnected` has been emitted, no other event may name that peer (nor a
   * second `disconnected`). This checks the Engine itself, where the transport
   * check above checks what reaches it.
   */
  watchEngine(node: number, engine: Engine): void {
    const gone = new WeakSet<Peer>();
    const check = (event: string) => (peer: Peer) => {
      this.exercised('engine-no-event-after-disconnect');
      if (gone.has(peer)) {
        this.violation(
          'engine-no-event-after-disconnect',
          `the Engine emitted ${event} for ${peer} after its disconnected`,
          node,
        );
      }
    };
    for (const event of PEER_EVENTS) engine.on(event, check(event));
    const onDisconnected = check('disconnected');
    engine.on('disconnected', (peer) => {
      onDisconnected(peer);
      gone.add(peer);
    });
  }

  /**
   * The Engine's state as it is now. Returns the earliest deadline of its
   * pending requests (+Infinity when none): until the Engine runs code again
   * only that can change, and `checkDeadline` watches it.
   */
  checkEngine(node: number, engine: Engine): number {
    const now = engine.clock.now();
    let earliest = Number.POSITIVE_INFINITY;
    // Every request resolves or rejects by its deadline: its timer is due then.
    for (const r of engine.pendingRequests()) {
      this.exercised('request-settles-in-time');
      if (r.deadline < earliest) earliest = r.deadline;
      if (now > r.deadline + this.slackMs) {
        this.violation(
          'request-settles-in-time',
          `${r.command} to peer ${r.peer}, sent at ${r.sentAt}, still pending ${now - r.deadline} ms past its deadline`,
          node,
        );
      }
    }
    const peers = engine.peers;
    const bans = engine.bans();
    if (bans.length > 0) {
      const banned = new Set(bans.map((b) => b.host));
      for (const peer of peers) {
        this.exercised('banned-not-connected');
        // A banned peer may still be connected while its disconnect is under way
        // (closing); it must never be taking input.
        if (peer.active && banned.has(hostOf(peer.address))) {
          this.violation('banned-not-connected', `${peer} is banned and still active`, node);
        }
      }
    }
    const limits = engine.config.limits;
    let outbound = 0;
    let readyInbound = 0;
    for (const peer of peers) {
      if (!peer.active) continue;
      if (!peer.inbound) outbound++;
      else if (peer.ready) readyInbound++;
    }
    this.exercised('engine-slots');
    if (outbound > limits.maxOutbound) {
      this.violation(
        'engine-slots',
        `${outbound} outbound peers, limit ${limits.maxOutbound}`,
        node,
      );
    }
    if (readyInbound > limits.maxInbound) {
      this.violation(
        'engine-slots',
        `${readyInbound} handshaken inbound peers, limit ${limits.maxInbound}`,
        node,
      );
    }
    return earliest;
  }

  /**
   * An Engine that ran no code since `checkEngine` returned `earliest`: its
   * requests are the same, so none is late unless the earliest is.
   */
  checkDeadline(node: number, engine: Engine, earliest: number): void {
    this.exercised('request-settles-in-time');
    if (engine.clock.now() > earliest + this.slackMs) this.checkEngine(node, engine);
  }

  /**
   * Connection slots as the transport admits them: live (not closing) inbound
   * connections within maxInbound, inbound ones still handshaking within
   * maxHandshaking, all of them within maxConnections.
   */
  checkTransport(
    node: number,
    transport: SimTransport,
    limits: { maxInbound: number; maxHandshaking: number; maxConnections: number },
    independent = false,
  ): void {
    // One call, not a peerInfo (an object of 17 fields) per peer. The world
    // admits connections by the same counts, so a periodic sweep (`independent`)
    // also counts peer by peer and holds the two to agreement.
    const { inbound, handshaking, total } = transport.slotCounts();
    this.exercised('transport-slots');
    if (independent) {
      const counted = countSlots(transport);
      if (
        counted.inbound !== inbound ||
        counted.handshaking !== handshaking ||
        counted.total !== total
      ) {
        this.violation(
          'transport-slots',
          `slot counts ${inbound}/${handshaking}/${total} (inbound/handshaking/all), ` +
            `peer by peer ${counted.inbound}/${counted.handshaking}/${counted.total}`,
          node,
        );
      }
    }
    if (inbound > limits.maxInbound) {
      this.violation('transport-slots', `${inbound} inbound, limit ${limits.maxInbound}`, node);
    }
    if (handshaking > limits.maxHandshaking) {
      this.violation(
        'transport-slots',
        `${handshaking} inbound handshaking, limit ${limits.maxHandshaking}`,
        node,
      );
    }
    if (total > limits.maxConnections) {
      this.violation(
        'transport-slots',
        `${total} connections, limit ${limits.maxConnections}`,
        node,
      );
    }
  }
}

/** Live connections counted from each peer's own info: closing ones hold no slot. */
function countSlots(transport: SimTransport): {
  inbound: number;
  handshaking: number;
  total: number;
} {
  let inbound = 0;
  let handshaking = 0;
  let total = 0;
  for (const id of transport.peerIds()) {
    const info = transport.peerInfo(id);
    if (!info || info.closing) continue;
    total++;
    if (info.inbound) {
      inbound++;
      if (!info.handshakeComplete) handshaking++;
    }
  }
  return { inbound, handshaking, total };
}

export interface ConvergenceOptions<T> {
  /**
   * A node's best tip (its header chain's tip hash, say); undefined when it has
   * none. It must read only the node's own state, what its timers and events
   * change: it is asked again for a node only after that node ran code.
   */
  tipOf: (value: T, node: SimNode<T>) => string | undefined;
  /** The tip every node must reach. */
  best: string;
  /** Virtual ms the nodes have, from now. */
  withinMs: number;
  /** The nodes that must converge (default: every node; a crashed one has not converged). */
  nodes?: readonly SimNode<T>[];
}

/**
 * Liveness: runs the network until every node's tip is `best`, and fails the
 * run with an InvariantViolation naming the laggards if that takes longer than
 * `withinMs` of virtual time. Call it once the faults have stopped
 * (SimNetwork.stopFaults). Returns the virtual ms it took.
 */
export async function expectConvergence<T>(
  network: SimNetwork,
  options: ConvergenceOptions<T>,
): Promise<number> {
  const nodes = options.nodes ?? (network.nodes as readonly SimNode<T>[]);
  const converged = (node: SimNode<T>) =>
    node.value !== undefined && options.tipOf(node.value, node) === options.best;
  const start = network.now();
  // Each step looks again only at the nodes that ran code in it: a node's tip
  // changes only then, and a thousand nodes asked after every step of a
  // thousand-node network would cost more than the network itself.
  const watched = new Map(nodes.map((node) => [node.id, node]));
  const behind = new Set(nodes.filter((node) => !converged(node)).map((node) => node.id));
  const activity = network.trackActivity();
  const allConverged = () => {
    for (const id of activity.take()) {
      const node = watched.get(id);
      if (!node) continue;
      if (converged(node)) behind.delete(id);
      else behind.add(id);
    }
    if (behind.size > 0) return false;
    // It looks done: every node is asked once more, so that the answer never
    // rests on a tip that changed without its node running code.
    for (const node of nodes) if (!converged(node)) behind.add(node.id);
    return behind.size === 0;
  };
  try {
    await network.runUntil(allConverged, { maxTimeMs: options.withinMs });
  } catch (error) {
    if (!(error instanceof Error && error.name === 'SimTimeoutError')) throw error;
    const laggards = nodes
      .filter((node) => !converged(node))
      .map((node) =>
        node.value === undefined
          ? `node ${node.id} (crashed)`
          : `node ${node.id} at ${options.tipOf(node.value, node) ?? 'no tip'}`,
      );
    const reason = (error as Error & { reason?: string }).reason ?? error.message;
    network.invariants.violation(
      'liveness',
      `not every node reached ${options.best} within ${options.withinMs} ms (${reason}): ${laggards.join(', ')}`,
    );
  } finally {
    activity.stop();
  }
  network.invariants.exercised('liveness', nodes.length);
  return network.now() - start;
}
