// Bootstrapping the address manager: DNS seeds and fixed seeds, as Bitcoin Core
// does it (net.cpp, ThreadDNSAddressSeed). A seed's answers go into the new table
// with the seed itself (an internal host made from its name) as their source, so
// one seed reaches only the new buckets of one source group.
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Clock } from '../engine/clock.js';
import {
  AddressError,
  type AdvertisedAddress,
  hostFromIp,
  internalHost,
  type PeerAddress,
  parseHost,
} from './address.js';
import type { AddressManager } from './addrman.js';

/** Turns a seed's host name into IP addresses (text). Rejections count as "no answer". */
export type SeedResolver = (host: string) => Promise<string[]>;

/** The operating system's resolver (getaddrinfo), IPv4 and IPv6. */
export const systemSeedResolver: SeedResolver = async (host) => {
  const answers = await lookup(host, { all: true });
  return answers.map((a) => a.address);
};

const DAY_SECONDS = 24 * 60 * 60;

/**
 * Services a seeded address is filed with: a DNS seed lists full nodes with
 * witness (Core files seed answers with its desirable service bits,
 * NODE_NETWORK | NODE_WITNESS); with 0, outbound selection would pass them
 * over and peers receiving them in a getaddr answer would drop them.
 */
export const SEEDED_SERVICES = 1n | 8n;

/** The internal source fixed seeds are filed under (Core: SetInternal("fixedseeds")). */
export const FIXED_SEEDS_SOURCE = 'fixedseeds';

export interface SeedResult {
  seed: string;
  /** Addresses the seed gave (before the address manager's own filtering). */
  found: number;
  /** How many took a new place in the address manager. */
  added: number;
  /** Why the seed gave nothing, when it failed. */
  error?: string;
}

/**
 * Asks one DNS seed and adds what it answers, on the network's default port.
 * Each address is given a time 3 to 7 days in the past, as Core does: a seed's
 * answer says the node was up recently, not now. Never throws.
 */
export async function querySeed(
  seed: string,
  options: {
    resolver: SeedResolver;
    addrman: AddressManager;
    port: number;
    clock: Pick<Clock, 'now' | 'random'>;
    services?: bigint;
  },
): Promise<SeedResult> {
  let ips: string[];
  try {
    if (seed.length === 0) throw new Error('empty seed name');
    ips = await options.resolver(seed);
  } catch (err) {
    const error = err instanceof Error ? err.message : String(err);
    return { seed, found: 0, added: 0, error };
  }
  try {
    return addAnswer(seed, ips, options);
  } catch (err) {
    // An answer our address manager cannot take is that seed's failure, not ours.
    const error = err instanceof Error ? err.message : String(err);
    return { seed, found: 0, added: 0, error };
  }
}

function addAnswer(
  seed: string,
  ips: unknown,
  options: Parameters<typeof querySeed>[1],
): SeedResult {
  const now = Math.floor(options.clock.now() / 1000);
  const addresses: AdvertisedAddress[] = [];
  for (const ip of Array.isArray(ips) ? ips : []) {
    if (typeof ip !== 'string' || isIP(ip) === 0) continue;
    const age = 3 * DAY_SECONDS + Math.floor(options.clock.random() * 4 * DAY_SECONDS);
    addresses.push({
      ...hostFromIp(ip),
      port: options.port,
      time: Math.max(0, now - age),
      services: options.services ?? SEEDED_SERVICES,
    });
  }
  const added = addresses.length > 0 ? options.addrman.add(addresses, internalHost(seed)) : 0;
  return { seed, found: addresses.length, added };
}

/** Decimal digits only: Number() would take "", "0x1f" and "1e3". */
function portOf(text: string): number {
  return /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN;
}

/** A "host:port" (or "[v6]:port", or a bare host on `defaultPort`) as a peer address. */
export function parseSeedAddress(text: string, defaultPort: number): PeerAddress {
  let host = text;
  let port = defaultPort;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracket) {
    host = bracket[1] as string;
    if (bracket[2] !== undefined) port = portOf(bracket[2]);
  } else {
    const colon = text.lastIndexOf(':');
    // One colon separates a port; more than one is a bare IPv6 address.
    if (colon > 0 && text.indexOf(':') === colon) {
      host = text.slice(0, colon);
      port = portOf(text.slice(colon + 1));
    }
  }
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new AddressError('out-of-range', `bad port in "${text}"`);
  }
  return { ...parseHost(host), port };
}

/**
 * Adds the network's fixed seeds ("host:port") to the address manager, under
 * the internal "fixedseeds" source, dated a week back (Core: one to two weeks). Entries that
 * do not parse are skipped. Returns how many were added.
 */
export function addFixedSeeds(
  seeds: readonly string[],
  options: { addrman: AddressManager; port: number; clock: Pick<Clock, 'now'> },
): number {
  const weekAgo = Math.max(0, Math.floor(options.clock.now() / 1000) - 7 * DAY_SECONDS);
  const addresses: AdvertisedAddress[] = [];
  for (const text of seeds) {
    try {
      addresses.push({
        ...parseSeedAddress(text, options.port),
        time: weekAgo,
        services: SEEDED_SERVICES,
      });
    } catch (err) {
      if (!(err instanceof AddressError)) throw err;
    }
  }
  if (addresses.length === 0) return 0;
  return options.addrman.add(addresses, internalHost(FIXED_SEEDS_SOURCE));
}
