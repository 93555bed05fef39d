// A node that finds its own peers, for simulations: an address manager (its
// "disk": it outlives crashes), address relay and outbound management on one
// Engine, as `peerwire node` runs them. Nothing here knows it is simulated.
import { type AdvertisedAddress, hostFromIp, peerAddress } from '../../addr/address.js';
import { AddressManager } from '../../addr/addrman.js';
import { netGroupKey } from '../../addr/netgroup.js';
import { OutboundManager } from '../../addr/outbound.js';
import { AddressRelay } from '../../addr/relay.js';
import type { Clock } from '../../engine/clock.js';
import type { Engine } from '../../engine/engine.js';

/** NODE_NETWORK: what relay and outbound selection look for in an address. */
export const NODE_NETWORK = 1n;

export interface DiscoveryTargets {
  fullRelay: number;
  blockRelay: number;
}

/** The managers running on one Engine (one generation of a node). */
export interface DiscoveryNode {
  engine: Engine;
  addrman: AddressManager;
  relay: AddressRelay;
  outbound: OutboundManager;
}

/** An address manager on a node's clock, kept across its restarts. */
export function nodeAddressBook(clock: Pick<Clock, 'now' | 'random'>): AddressManager {
  return new AddressManager({ clock });
}

/** `ip:port` as an address heard of `agoSeconds` ago from a node that serves blocks. */
export function advertised(ip: string, port: number, nowMs: number, agoSeconds = 0) {
  const a: AdvertisedAddress = {
    ...peerAddress(ip, port),
    time: Math.floor(nowMs / 1000) - agoSeconds,
    services: NODE_NETWORK,
  };
  return a;
}

/** Tells `addrman` of `ips` (on `port`), as if each had told us of itself. */
export function learn(
  addrman: AddressManager,
  ips: readonly string[],
  port: number,
  nowMs: number,
) {
  for (const ip of ips) addrman.add([advertised(ip, port, nowMs, 3600)], hostFromIp(ip));
}

/** Starts address relay and outbound management on `engine` over `addrman`. */
export function runDiscoveryNode(
  engine: Engine,
  addrman: AddressManager,
  targets: DiscoveryTargets,
  localAddress: string,
): DiscoveryNode {
  engine.listen();
  const outbound = new OutboundManager(engine, addrman, {
    ...targets,
    dnsSeed: false,
    fixedSeeds: [],
  });
  const relay = new AddressRelay(engine, addrman, {
    localAddress,
    isAddrRelayOutbound: (peer) => {
      const kind = outbound.kindOf(peer);
      return kind !== 'block-relay' && kind !== 'feeler';
    },
  });
  outbound.start();
  return { engine, addrman, relay, outbound };
}

/** Ready automatic outbound connections by kind, and whether each went to its own netgroup. */
export function outboundStanding(node: DiscoveryNode): {
  fullRelay: number;
  blockRelay: number;
  distinctGroups: boolean;
  groups: string[];
} {
  const counts = node.outbound.counts();
  const groups: string[] = [];
  for (const peer of node.engine.readyPeers) {
    const kind = node.outbound.kindOf(peer);
    if (kind !== 'full-relay' && kind !== 'block-relay') continue;
    const ip = peer.address.slice(0, peer.address.lastIndexOf(':'));
    groups.push(netGroupKey(hostFromIp(ip)));
  }
  return {
    fullRelay: counts['full-relay'].ready,
    blockRelay: counts['block-relay'].ready,
    distinctGroups: new Set(groups).size === groups.length,
    groups,
  };
}
