// Log lines a peer's messages cause, within a budget. A line per getheaders,
// addr or misbehaving message lets a peer turn each 100-byte message into a
// log line of its own, as fast as we can read: the log, and the disk it is on,
// would grow at the rate of the flood. So each peer has, for each kind of
// line, `lines` per `windowMs`; past that the lines are counted, and the count
// is logged once ('log-suppressed') when the window has passed and the peer
// causes another, or when it disconnects. What one peer can write to the log
// is then bounded by time and connections, not by what it sends.
//
// Keyed by netgroup instead of peer, the same budget bounds the lines that
// connections themselves cause (connected, disconnected), which a peer
// reconnecting in a loop would otherwise turn into a log line per socket.
import type { Clock } from '../engine/clock.js';

export interface PeerLogLimitOptions {
  /** Lines of one kind a peer may cause per window (default 10). */
  lines?: number;
  /** The window (default 60 s). */
  windowMs?: number;
  /** The field naming the key in 'log-suppressed' lines (default "peer"). */
  keyField?: string;
}

type Emit = (event: string, fields: Record<string, unknown>) => void;

interface Window {
  startedAt: number;
  logged: number;
  suppressed: number;
}

export class PeerLogLimit<K extends string | number = number> {
  private readonly lines: number;
  private readonly windowMs: number;
  private readonly keyField: string;
  /** key → event → its current window. */
  private readonly windows = new Map<K, Map<string, Window>>();
  private lastSweep: number;

  constructor(
    private readonly clock: Clock,
    private readonly emit: Emit,
    options: PeerLogLimitOptions = {},
  ) {
    this.lines = options.lines ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    this.keyField = options.keyField ?? 'peer';
    this.lastSweep = clock.now();
  }

  /** Logs `event` for `peer` unless the peer has used its lines of that kind for now. */
  log(peer: K, event: string, fields: Record<string, unknown>): void {
    const now = this.clock.now();
    if (now - this.lastSweep >= this.windowMs) this.sweep(now);
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
  forget(peer: K): void {
    const events = this.windows.get(peer);
    if (!events) return;
    this.windows.delete(peer);
    const now = this.clock.now();
    for (const [event, w] of events) this.report(peer, event, w, now);
  }

  /** Reports everything still suppressed and lets every key go (at shutdown). */
  flush(): void {
    for (const key of [...this.windows.keys()]) this.forget(key);
  }

  /**
   * Reports and lets go of keys whose windows have all passed: keys that are
   * never forgotten (netgroups) would otherwise pile up, one per key ever seen.
   */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, events] of this.windows) {
      let live = false;
      for (const w of events.values()) if (now - w.startedAt < this.windowMs) live = true;
      if (live) continue;
      this.windows.delete(key);
      for (const [event, w] of events) this.report(key, event, w, now);
    }
  }

  private report(peer: K, event: string, w: Window, now: number): void {
    if (w.suppressed === 0) return;
    // `of`, not `event`: that is the log line's own name.
    this.emit('log-suppressed', {
      [this.keyField]: peer,
      of: event,
      lines: w.suppressed,
      overMs: Math.round(now - w.startedAt),
    });
  }
}
