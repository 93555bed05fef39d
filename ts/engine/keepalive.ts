// Keepalive, as Bitcoin Core keeps peers honest about being alive: once the
// handshake is done, a ping every `pingIntervalMs`; a deadline running from
// the first ping not yet answered (`pingTimeoutMs`); and, from the moment a
// peer connects, an inactivity check on when it last sent us anything
// (`inactivityTimeoutMs`). It takes the peer's lifecycle as inputs (connected,
// handshake complete, a ping answered) and gives pings and disconnects as
// outputs, through its host (the Engine). Its timers live in the peer's
// state, where the Engine clears them when the peer goes.
import type { Limits } from '../config/schema.js';
import type { Clock } from './clock.js';
import { RequestAbortedError, RequestTimeoutError } from './errors.js';
import type { Peer } from './peer.js';

export interface KeepaliveHost {
  readonly clock: Clock;
  /** The limits now (setLimits changes them while peers are up). */
  limits(): Pick<Limits, 'pingIntervalMs' | 'pingTimeoutMs' | 'inactivityTimeoutMs'>;
  /** Sends a ping as a tracked request: settles with its pong, a timeout, or an abort. */
  ping(peer: Peer, timeoutMs: number): Promise<unknown>;
  disconnect(peer: Peer, reason: 'ping-timeout' | 'inactivity'): void;
}

export class Keepalive {
  constructor(private readonly host: KeepaliveHost) {}

  /** A peer connected: its inactivity check starts. */
  onConnected(peer: Peer): void {
    this.scheduleInactivityCheck(peer);
  }

  /** A peer completed its handshake: pinging starts. */
  onHandshake(peer: Peer): void {
    this.sendPing(peer);
  }

  /** Any answered ping shows the peer is reading: it stops the ping deadline. */
  onPingAnswered(peer: Peer, rttMs: number): void {
    peer.rttMs = peer.rttMs === undefined ? rttMs : 0.8 * peer.rttMs + 0.2 * rttMs;
    peer.minRttMs = Math.min(peer.minRttMs ?? rttMs, rttMs);
    const st = peer.state;
    if (st.timers.pingDeadline) this.host.clock.clearTimer(st.timers.pingDeadline);
    st.timers.pingDeadline = undefined;
    st.pingDeadlineMs = undefined;
  }

  /**
   * Sends a keepalive ping. The ping timeout runs from the first ping not yet
   * answered, whether or not it could be sent: a peer whose queue is too full
   * to take a ping (it is not reading) is as dead as one that ignores it.
   */
  private sendPing(peer: Peer): void {
    if (!peer.active) return;
    const { clock } = this.host;
    const limits = this.host.limits();
    const st = peer.state;
    const now = clock.now();
    if (st.pingDeadlineMs === undefined) {
      st.pingDeadlineMs = now + limits.pingTimeoutMs;
      st.timers.pingDeadline = clock.setTimer(limits.pingTimeoutMs, () => {
        if (peer.active) this.host.disconnect(peer, 'ping-timeout');
      });
    }
    const next = () => {
      if (!peer.active) return;
      st.timers.ping = clock.setTimer(this.host.limits().pingIntervalMs, () => this.sendPing(peer));
    };
    this.host
      .ping(peer, Math.max(1, st.pingDeadlineMs - now))
      .then(next)
      .catch((err: unknown) => {
        if (err instanceof RequestTimeoutError) {
          if (peer.active) this.host.disconnect(peer, 'ping-timeout');
        } else if (err instanceof RequestAbortedError) {
          // Not sent (queue full) or the peer is gone: try again next interval
          // while the deadline keeps running.
          next();
        } else {
          throw err;
        }
      });
  }

  private scheduleInactivityCheck(peer: Peer): void {
    const { clock } = this.host;
    const idle = clock.now() - peer.state.lastRecvMs;
    const limit = this.host.limits().inactivityTimeoutMs;
    peer.state.timers.inactivity = clock.setTimer(Math.max(0, limit - idle), () => {
      if (!peer.connected) return;
      if (clock.now() - peer.state.lastRecvMs >= this.host.limits().inactivityTimeoutMs) {
        this.host.disconnect(peer, 'inactivity');
      } else {
        this.scheduleInactivityCheck(peer);
      }
    });
  }
}
