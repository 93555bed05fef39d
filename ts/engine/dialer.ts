// Outbound targets: the addresses the application asked the Engine to dial,
// each with its redial backoff. It takes what happens to their connections as
// inputs (a dial came up or failed, a session ended, a handshake completed)
// and gives dials and failure reports as outputs, through its host. A target
// holds one outbound slot from `add` until it is forgotten or given up, so
// a target waiting to be redialled still counts against `maxOutbound`.
import type { PeerId } from '../native/events.js';
import type { ProxyRoute } from '../native/transport.js';
import type { Clock, TimerHandle } from './clock.js';
import { Backoff, type ReconnectPolicy } from './reconnect.js';

/** What the Engine needs to know about a target when its connection comes up. */
export interface DialedTarget {
  readonly address: string;
  /** The relay flag of our version on this connection, when not the policy's. */
  readonly relay?: boolean;
  /** The SOCKS5 proxy it is dialled through, if any. */
  readonly proxy?: ProxyRoute;
}

export interface TargetOptions {
  /** Redialled with backoff after it drops, until the restart limit is hit. */
  persistent?: boolean;
  relay?: boolean;
  proxy?: ProxyRoute;
}

export interface DialerHost {
  readonly clock: Clock;
  readonly reconnect: ReconnectPolicy;
  /** The outbound slot limit now (setLimits changes it). */
  maxOutbound(): number;
  /** Opens a connection; the id names it in the transport's events. */
  connect(address: string, proxy: ProxyRoute | undefined): PeerId;
  /** A target's connection failed or ended; `retryInMs` when it will be redialled. */
  failed(info: { address: string; error: string; retryInMs?: number }): void;
}

interface Target extends DialedTarget {
  readonly persistent: boolean;
  readonly backoff: Backoff;
  /** The connection dialling or up for it, if any. */
  peerId?: PeerId;
  /** The pending redial, if any. */
  timer?: TimerHandle;
}

export class Dialer {
  private readonly targets = new Map<string, Target>();
  /** Connections dialled and not yet up or failed, by their id. */
  private readonly dialing = new Map<PeerId, Target>();
  private closed = false;

  constructor(private readonly host: DialerHost) {}

  /** Takes an outbound slot for `address` and dials it. Throws if it is taken or none is free. */
  add(address: string, options: TargetOptions = {}): void {
    if (this.targets.has(address)) throw new Error(`already connected or connecting to ${address}`);
    const max = this.host.maxOutbound();
    if (this.targets.size >= max) throw new Error(`all ${max} outbound slots are in use`);
    const target: Target = {
      address,
      persistent: options.persistent ?? false,
      backoff: new Backoff(this.host.reconnect),
      ...(options.relay !== undefined ? { relay: options.relay } : {}),
      ...(options.proxy ? { proxy: options.proxy } : {}),
    };
    this.targets.set(address, target);
    try {
      this.dial(target);
    } catch (err) {
      // Not dialled (an address the transport refuses): no slot is kept for it.
      this.targets.delete(address);
      throw err;
    }
  }

  /**
   * Stops redialling `address` and frees its slot. Returns the id of the
   * connection dialled for it, if one was, for the caller to close.
   */
  forget(address: string): PeerId | undefined {
    const target = this.targets.get(address);
    if (!target) return undefined;
    this.targets.delete(address);
    if (target.timer) this.host.clock.clearTimer(target.timer);
    if (target.peerId !== undefined) this.dialing.delete(target.peerId);
    return target.peerId;
  }

  /** Each target's address and the connection dialled for it, if any (a snapshot). */
  list(): { address: string; peerId: PeerId | undefined }[] {
    return [...this.targets.values()].map((t) => ({ address: t.address, peerId: t.peerId }));
  }

  /**
   * An outbound connection came up: the target it was dialled for, or
   * undefined when that target was forgotten while the dial was in flight.
   */
  onConnected(id: PeerId): DialedTarget | undefined {
    const target = this.dialing.get(id);
    this.dialing.delete(id);
    return target;
  }

  onConnectFailed(id: PeerId, error: string): void {
    const target = this.dialing.get(id);
    if (!target) return;
    this.dialing.delete(id);
    target.peerId = undefined;
    this.afterLoss(target, error);
  }

  /** The connection `id`, dialled for `address`, ended. */
  onDisconnected(address: string, id: PeerId, error: string): void {
    const target = this.targets.get(address);
    if (!target || target.peerId !== id) return;
    target.peerId = undefined;
    this.afterLoss(target, error);
  }

  /** A session with `address` completed its handshake: backoff starts over. */
  onHandshake(address: string): void {
    this.targets.get(address)?.backoff.recordSuccess();
  }

  /** Stops every redial and frees every slot; nothing is dialled after this. */
  close(): void {
    this.closed = true;
    for (const target of this.targets.values()) {
      if (target.timer) this.host.clock.clearTimer(target.timer);
    }
    this.targets.clear();
    this.dialing.clear();
  }

  private dial(target: Target): void {
    target.timer = undefined;
    const id = this.host.connect(target.address, target.proxy);
    target.peerId = id;
    this.dialing.set(id, target);
  }

  private afterLoss(target: Target, error: string): void {
    if (this.closed || this.targets.get(target.address) !== target) return;
    const now = this.host.clock.now();
    target.backoff.recordFailure(now);
    if (!target.persistent || !target.backoff.mayRetry(now)) {
      this.targets.delete(target.address);
      this.host.failed({ address: target.address, error });
      return;
    }
    const delay = target.backoff.nextDelay(() => this.host.clock.random());
    this.host.failed({ address: target.address, error, retryInMs: delay });
    target.timer = this.host.clock.setTimer(delay, () => {
      if (!this.closed && this.targets.get(target.address) === target) this.dial(target);
    });
  }
}
