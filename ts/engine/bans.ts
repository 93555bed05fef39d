// Misbehaviour scores and the ban list. Bans are by host (IP), so a banned
// address cannot come back on another port, nor under another spelling of the
// same IP (IPv4-mapped IPv6, upper case, uncompressed IPv6 groups).
import { isIPv4, isIPv6 } from 'node:net';
import { ipFromBytes, ipToBytes } from '../wire/ip.js';

export interface BanEntry {
  host: string;
  reason: string;
  /** When the ban ends, on the engine's clock. */
  untilMs: number;
}

/**
 * One spelling per host: IPv6 in RFC 5952 form, IPv4-mapped IPv6 as the IPv4
 * dotted quad ("::ffff:1.2.3.4" is "1.2.3.4"), zone ids dropped, host names in
 * lower case.
 */
export function normalizeHost(host: string): string {
  const zone = host.indexOf('%');
  const bare = zone > 0 ? host.slice(0, zone) : host;
  if (isIPv4(bare)) return bare;
  if (isIPv6(bare)) return ipFromBytes(ipToBytes(bare));
  return host.toLowerCase();
}

/** The host part of "host:port", "[v6]:port" or a bare host, normalised. */
export function hostOf(address: string): string {
  let host = address;
  if (address.startsWith('[')) {
    const end = address.indexOf(']');
    host = address.slice(1, end > 0 ? end : undefined);
  } else {
    const colon = address.indexOf(':');
    // One colon separates a port; more than one is a bare IPv6 address.
    if (colon > 0 && address.indexOf(':', colon + 1) < 0) host = address.slice(0, colon);
  }
  return normalizeHost(host);
}

/** Whether `host` is a loopback address (127.0.0.0/8 or ::1), as Core's IsLocal. */
export function isLoopback(host: string): boolean {
  const h = normalizeHost(host);
  return h === '::1' || h === 'localhost' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/** Expired entries looked at (and dropped) on each new ban, oldest first. */
const SWEEP_PER_BAN = 2;

/**
 * Bans by normalised host, bounded: expired entries are swept as new bans come
 * in (and all at once when the list is full), and a full list of live bans
 * drops the one that would end soonest.
 */
export class BanList {
  // In ban order: with equal ban times, the oldest entries expire first.
  private bans = new Map<string, BanEntry>();

  constructor(
    /** The most entries kept. */
    public maxEntries = 10_000,
    /** Told of a live ban dropped to make room (not of expiries or unbans). */
    private readonly onDrop: (host: string) => void = () => {},
  ) {}

  get size(): number {
    return this.bans.size;
  }

  ban(host: string, reason: string, untilMs: number, now: number): BanEntry {
    const key = normalizeHost(host);
    const entry = { host: key, reason, untilMs };
    // A renewed ban moves to the end, keeping the map in ban order.
    this.bans.delete(key);
    this.sweepOldest(now);
    if (this.bans.size >= this.maxEntries) this.sweep(now);
    while (this.bans.size >= Math.max(1, this.maxEntries)) this.dropSoonest();
    this.bans.set(key, entry);
    return entry;
  }

  unban(host: string): boolean {
    return this.bans.delete(normalizeHost(host));
  }

  /** The live ban on `host`, dropping it if it has expired. */
  find(host: string, now: number): BanEntry | undefined {
    const key = normalizeHost(host);
    const entry = this.bans.get(key);
    if (entry && entry.untilMs <= now) {
      this.bans.delete(key);
      return undefined;
    }
    return entry;
  }

  list(now: number): BanEntry[] {
    this.sweep(now);
    return [...this.bans.values()];
  }

  /** Drops every expired entry. */
  sweep(now: number): void {
    for (const [host, entry] of this.bans) if (entry.untilMs <= now) this.bans.delete(host);
  }

  private sweepOldest(now: number): void {
    let looked = 0;
    for (const [host, entry] of this.bans) {
      if (looked++ >= SWEEP_PER_BAN) break;
      if (entry.untilMs <= now) this.bans.delete(host);
    }
  }

  private dropSoonest(): void {
    let soonest: BanEntry | undefined;
    for (const entry of this.bans.values()) {
      if (!soonest || entry.untilMs < soonest.untilMs) soonest = entry;
    }
    if (soonest) {
      this.bans.delete(soonest.host);
      this.onDrop(soonest.host);
    }
  }
}
