// Log lines a peer's messages cause, within a budget. A line per getheaders,
// addr or misbehaving message lets a peer turn each 100-byte message into a
// log line of its own, as fast as we can read: the log, and the disk it is on,
// would grow at the rate of the flood. So each peer has, for each kind of
// line, `lines` per `windowMs`; past that the lines are counted, and the count
// is logged once ('log-suppressed') when the window has passed and the peer
// causes another, or when it disconnects. What one peer can write to the log
// is then bounded by time and connections, not by what it sends.
import type { Clock } from '../engine/clock.js';

export interface PeerLogLimitOptions {
  /** Lines of one kind a peer may cause per window (default 10). */
  lines?: number;
  /** The window (default 60 s). */
  windowMs?: number;
}

type Emit = (event: string, fields: Record<string, unknown>) => void;

interface Window {
  startedAt: number;
  logged: number;
  suppressed: number;
}

export class PeerLogLimit {
  private readonly lines: number;
  private readonly windowMs: number;
  /** peer → event → its current window. */
  private readonly windows = new Map<number, Map<string, Window>>();

  constructor(
    private readonly clock: Clock,
    private readonly emit: Emit,
    options: PeerLogLimitOptions = {},
  ) {
    this.lines = options.lines ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
  }

  /** Logs `event` for `peer` unless the peer has used its lines of that kind for now. */
  log(peer: number, event: string, fields: Record<string, unknown>): void {
    const now = this.clock.now();
    let events = this.windows.get(peer);
    if (!events) {
      events = new Map();
      this.windows.set(peer, events);
    }
    let w = events.get(event);
    if (!w) {
      w = { startedAt: now, logged: 0, suppressed: 0 };
      events.set(event, w);
    } else if (now - w.startedAt >= this.windowMs) {
      this.report(peer, event, w, now);
      w.startedAt = now;
      w.logged = 0;
      w.suppressed = 0;
    }
    if (w.logged < this.lines) {
      w.logged++;
      this.emit(event, fields);
    } else {
      w.suppressed++;
    }
  }

  /** The peer is gone: what was suppressed for it is reported, and its state let go. */
  forget(peer: number): void {
    const events = this.windows.get(peer);
    if (!events) return;
    this.windows.delete(peer);
    const now = this.clock.now();
    for (const [event, w] of events) this.report(peer, event, w, now);
  }

  private report(peer: number, event: string, w: Window, now: number): void {
    if (w.suppressed === 0) return;
    // `of`, not `event`: that is the log line's own name.
    this.emit('log-suppressed', {
      peer,
      of: event,
      lines: w.suppressed,
      overMs: Math.round(now - w.startedAt),
    });
  }
}
