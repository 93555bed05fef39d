// Simulated-network helpers: quiet worlds with exact timing, Engines whose
// clocks do not drift, scripted raw peers, and event logs stamped with virtual
// time.
import type { DisconnectInfo, Engine } from '../../ts/engine/engine.js';
import type { Peer } from '../../ts/engine/peer.js';
import type { TransportEvent } from '../../ts/native/events.js';
import {
  type AddEngineOptions,
  type SimFaults,
  SimNetwork,
  type SimNode,
} from '../../ts/sim/index.js';
import type { SimTransport } from '../../ts/sim/transport.js';
import { encodeMessage } from '../../ts/wire/codec.js';
import type { Message } from '../../ts/wire/types.js';
import { versionMessage } from './messages.js';

/** One-way latency on every link of a quiet world, in virtual ms. */
export const QUIET_LATENCY_MS = 5;

/**
 * A world with no faults, a fixed latency and ample bandwidth: every delay in
 * it is a known number, so tests can assert exact virtual times.
 */
export function quietNetwork(seed: number | string = 1, faults: SimFaults = {}): SimNetwork {
  return new SimNetwork({
    seed,
    profile: 'none',
    faults: {
      latencyMinMs: QUIET_LATENCY_MS,
      latencyMaxMs: QUIET_LATENCY_MS,
      bandwidthMinBps: 1e9,
      bandwidthMaxBps: 1e9,
      clockDriftMaxPpm: 0,
      ...faults,
    },
  });
}

/** An Engine node whose clock neither drifts nor is offset. */
export function engineNode(net: SimNetwork, options: AddEngineOptions = {}): SimNode<Engine> {
  return net.addEngine({
    network: 'regtest',
    ...options,
    node: { clockDriftPpm: 0, clockOffsetMs: 0, ...options.node },
  });
}

/** The address an Engine node listens on (after `engine.listen()`). */
export function addressOf(node: SimNode<unknown>): string {
  return `${node.ip}:18444`;
}

export interface Stamped<T> {
  /** Virtual ms since the world began. */
  at: number;
  value: T;
}

/** What an Engine reported, each with the virtual time it happened at. */
export class EngineLog {
  readonly handshakes: Stamped<Peer>[] = [];
  readonly connected: Stamped<Peer>[] = [];
  readonly disconnects: Stamped<{ peer: Peer; info: DisconnectInfo }>[] = [];
  readonly failures: Stamped<{ address: string; error: string; retryInMs?: number }>[] = [];
  readonly pongs: Stamped<{ peer: Peer; nonce: bigint }>[] = [];

  constructor(net: SimNetwork, engine: Engine) {
    const at = () => net.now();
    engine.on('handshake', (peer) => this.handshakes.push({ at: at(), value: peer }));
    engine.on('connected', (peer) => this.connected.push({ at: at(), value: peer }));
    engine.on('disconnected', (peer, info) =>
      this.disconnects.push({ at: at(), value: { peer, info } }),
    );
    engine.on('failed', (f) => this.failures.push({ at: at(), value: f }));
    engine.on('pong', (peer, payload) =>
      this.pongs.push({ at: at(), value: { peer, nonce: payload.nonce } }),
    );
  }
}

export interface RawPeerOptions {
  /** Complete the handshake (send version and verack) when a connection opens. */
  handshake?: boolean;
  /** Answer pings with pongs. */
  answerPings?: boolean;
}

/**
 * A scripted peer straight on a node's transport (no Engine): it can stay
 * silent, or handshake and then ignore everything.
 */
export class RawPeer {
  readonly events: Stamped<TransportEvent>[] = [];
  readonly frames: Stamped<{ peer: number; command: string }>[] = [];

  constructor(
    net: SimNetwork,
    readonly transport: SimTransport,
    options: RawPeerOptions = {},
  ) {
    transport.setHandlers({
      onEvent: (event) => {
        this.events.push({ at: net.now(), value: event });
        if ((event.type === 'accepted' || event.type === 'connected') && options.handshake) {
          this.send(event.peer, versionMessage({ nonce: 77n, userAgent: '/raw/' }));
          this.send(event.peer, { command: 'verack', payload: {} });
          transport.markHandshakeComplete(event.peer);
        }
      },
      onFrame: (peer, command, payload) => {
        this.frames.push({ at: net.now(), value: { peer, command } });
        if (command === 'ping' && options.answerPings) {
          this.transport.send(peer, 'pong', payload);
        }
      },
    });
  }

  send(peer: number, message: Message) {
    return this.transport.send(peer, message.command, encodeMessage(message));
  }
}

/** A node running a RawPeer that listens on the regtest port. */
export function rawNode(net: SimNetwork, options: RawPeerOptions = {}): SimNode<RawPeer> {
  return net.addNode({
    options: { clockDriftPpm: 0, clockOffsetMs: 0 },
    create: (ctx) => {
      const raw = new RawPeer(net, ctx.transport, options);
      ctx.transport.listen(ctx.ip, 18444);
      return raw;
    },
  });
}

/** Starts a promise-returning action and runs the network until it settles. */
export async function settle<T>(net: SimNetwork, start: () => Promise<T> | undefined): Promise<T> {
  let settled: { value?: T; error?: unknown } | undefined;
  start()?.then(
    (value) => {
      settled = { value };
    },
    (error: unknown) => {
      settled = { error };
    },
  );
  await net.runUntil(() => settled !== undefined, { maxTimeMs: 60 * 60_000 });
  if (settled?.error !== undefined) throw settled.error;
  return settled?.value as T;
}
