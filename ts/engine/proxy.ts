// Which dials go through which SOCKS5 proxy, after Bitcoin Core's -proxy and
// -onion: a target's kind (IPv4, IPv6, Tor, I2P, CJDNS, or a host name) picks
// the proxy configured for it, if any. Tor and I2P are never dialled directly
// (their names mean nothing to the system resolver); CJDNS is fc00::/8, which
// is also private IPv6, so an fc address counts as CJDNS only when a CJDNS
// proxy is configured. The networks with a route are the reachable ones:
// outbound selection draws only from them, and relay treats them as Core
// treats its reachable networks.
import { isIPv4, isIPv6 } from 'node:net';
import type { PeerNetwork } from '../addr/address.js';
import type { ProxyConfig } from '../config/schema.js';
import type { ProxyRoute } from '../native/transport.js';
import { hostOf } from './bans.js';
import { UnreachableNetworkError } from './errors.js';

/** What a dial target is: a peer network, or a host name to resolve. */
export type TargetKind = PeerNetwork | 'name';

/** The kind of `address` ("host:port", IPv6 in brackets). */
export function targetKind(address: string, config: ProxyConfig): TargetKind {
  const host = hostOf(address).replace(/\.$/, '');
  if (host.endsWith('.onion')) return 'onion';
  if (host.endsWith('.i2p')) return 'i2p';
  if (isIPv4(host)) return 'ipv4';
  if (isIPv6(host)) {
    return config.cjdns !== undefined && host.startsWith('fc') && host.indexOf(':') === 4
      ? 'cjdns'
      : 'ipv6';
  }
  return 'name';
}

/** The proxy for a kind of target: undefined for a direct dial or for none. */
export function proxyFor(config: ProxyConfig, kind: TargetKind): string | undefined {
  switch (kind) {
    case 'onion':
      return config.onion ?? config.all;
    case 'i2p':
      return config.i2p;
    case 'cjdns':
      return config.cjdns;
    default:
      return config.all;
  }
}

/** Whether a network can be dialled: directly (IPv4, IPv6) or through its proxy. */
export function isReachable(config: ProxyConfig, network: PeerNetwork): boolean {
  return network === 'ipv4' || network === 'ipv6' || proxyFor(config, network) !== undefined;
}

/** The reachable networks (Core's g_reachable_nets), IPv4 and IPv6 always among them. */
export function reachableNetworks(config: ProxyConfig): PeerNetwork[] {
  const all: PeerNetwork[] = ['ipv4', 'ipv6', 'onion', 'i2p', 'cjdns'];
  return all.filter((n) => isReachable(config, n));
}

/**
 * How to dial `address`: through which proxy (undefined: directly). `network`,
 * when given, says what the text cannot (an fc00::/8 address known to be
 * CJDNS). Throws UnreachableNetworkError for a Tor, I2P or CJDNS address with
 * no proxy for it.
 */
export function routeFor(
  address: string,
  config: ProxyConfig,
  network?: PeerNetwork,
): ProxyRoute | undefined {
  const kind = network ?? targetKind(address, config);
  const proxy = proxyFor(config, kind);
  if (proxy === undefined) {
    if (kind === 'onion' || kind === 'i2p' || kind === 'cjdns') {
      throw new UnreachableNetworkError(address, kind);
    }
    return undefined;
  }
  return {
    address: proxy,
    randomizeCredentials: config.randomizeCredentials,
    timeoutMs: config.timeoutMs,
  };
}
