// Misbehaviour scores and the ban list. Bans are by host (IP), so a banned
// address cannot come back on another port.

export interface BanEntry {
  host: string;
  reason: string;
  /** When the ban ends, on the engine's clock. */
  untilMs: number;
}

/** The host part of "host:port" or "[v6]:port". */
export function hostOf(address: string): string {
  if (address.startsWith('[')) return address.slice(1, address.indexOf(']'));
  const colon = address.lastIndexOf(':');
  return colon > 0 && address.indexOf(':') === colon ? address.slice(0, colon) : address;
}

/** Whether `host` is a loopback address (127.0.0.0/8 or ::1), as Core's IsLocal. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^::ffff:/, '');
  return h === '::1' || h === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

export class BanList {
  private bans = new Map<string, BanEntry>();

  ban(host: string, reason: string, untilMs: number): BanEntry {
    const entry = { host, reason, untilMs };
    this.bans.set(host, entry);
    return entry;
  }

  unban(host: string): boolean {
    return this.bans.delete(host);
  }

  /** The live ban on `host`, dropping it if it has expired. */
  find(host: string, now: number): BanEntry | undefined {
    const entry = this.bans.get(host);
    if (entry && entry.untilMs <= now) {
      this.bans.delete(host);
      return undefined;
    }
    return entry;
  }

  list(now: number): BanEntry[] {
    for (const [host, entry] of this.bans) if (entry.untilMs <= now) this.bans.delete(host);
    return [...this.bans.values()];
  }
}
