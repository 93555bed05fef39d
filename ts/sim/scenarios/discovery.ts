// Peer discovery at scale: every node starts with an address book of up to 60
// others (a network that has run for a while: Core answers getaddr from a cache
// kept for about a day, so a network younger than that answers from the books
// its nodes had at first) and must fill its outbound slots (full-relay and
// block-relay-only, one per netgroup), learning more through address relay;
// then a node boots knowing one address;
// then an attacker holding one netgroup dials a victim and floods it with
// addresses, the victim restarts and refills its outbound slots from its
// poisoned tables, and the share of its tables and slots the attacker got is
// measured.
//
// Run at 1,000 nodes for the README's figures (`--nodes 1000`, seeds 2 and 3:
// about 1,950 virtual seconds in about 14 CPU minutes). Nothing here changes
// with the size: Core's 8 + 2 targets from 41 nodes up, 60 known addresses
// each, an attacking node per 20 honest ones (50 at 1,000, all in one /16).
// What makes that size affordable is the simulator doing work only where
// something happened: outbound managers with full slots park between feelers,
// convergence is asked again only of nodes that ran code, and the periodic
// check of an untouched node looks only at its earliest request deadline.
import { addressKey, hostFromIp, toAddrEntry } from '../../addr/address.js';
import type { AddressManager } from '../../addr/addrman.js';
import { NETWORK_PRESETS } from '../../config/networks.js';
import type { Engine } from '../../engine/engine.js';
import type { TimedNetAddress } from '../../wire/types.js';
import {
  advertised,
  type DiscoveryNode,
  type DiscoveryTargets,
  learn,
  nodeAddressBook,
  outboundStanding,
  runDiscoveryNode,
} from '../apps/discovery-node.js';
import { Xoshiro128 } from '../clock.js';
import { expectConvergence, InvariantViolation } from '../invariants.js';
import type { SimNetwork, SimNode } from '../network.js';
import {
  pickPeers,
  REGTEST_PORT,
  type Scenario,
  SETTLE_MS,
  SIM_ENGINE_LIMITS,
  SIM_EPOCH_MS,
} from './scenario.js';

/** Regtest whose nodes say they serve blocks, so their addresses are worth relaying. */
const DISCOVERY_NETWORK = { ...NETWORK_PRESETS.regtest, services: 1n };
/** Addresses each node knows at the start, at most. */
const BOOK = 60;
/** How long the attacker floods the victim. */
const ATTACK_MS = 30 * 60_000;
/** Addresses in each of the attacker's addr messages. */
const ATTACK_BATCH = 1_000;

/**
 * Node `i`'s address: public IPv4 space, each node in a /16 of its own (first
 * octets 11..90, none of them special-use), as peers spread on the real network.
 */
export function publicIp(i: number): string {
  return `${11 + (i % 80)}.${Math.floor(i / 80) % 256}.${Math.floor(i / 20_480) % 256}.1`;
}

/** The attacker's netgroup: 66.66.0.0/16. Its `j`th address (most are not listening). */
function attackerIp(j: number): string {
  return `66.66.${Math.floor(j / 254) % 256}.${1 + (j % 254)}`;
}

function isAttacker(bytes: Uint8Array): boolean {
  return bytes[0] === 66 && bytes[1] === 66;
}

/**
 * What a network of `nodes` can give each node: Core's 8 + 2 once there is
 * room. Each node takes about as many inbound as it makes outbound, and an
 * address already connected either way is not dialled again, so a small
 * network keeps its outbound to a quarter of the others.
 */
function targetsFor(nodes: number): DiscoveryTargets {
  const total = Math.max(1, Math.min(10, Math.floor((nodes - 1) / 4)));
  const blockRelay = Math.min(2, Math.floor(total / 4));
  return { fullRelay: total - blockRelay, blockRelay };
}

interface Book {
  addrman: AddressManager;
  current?: DiscoveryNode;
}

/** Adds a discovery node at `ip` whose address manager knows `known` (its disk across restarts). */
function addDiscoveryNode(
  net: SimNetwork,
  ip: string,
  known: readonly string[],
  targets: DiscoveryTargets,
): { node: SimNode<Engine>; book: Book } {
  const id = net.nodes.length;
  const rng = Xoshiro128.fromSeed(net.world.randomU32(`addrman:${id}`));
  const clock = {
    now: () => (id < net.nodes.length ? net.world.nodeTime(id) : SIM_EPOCH_MS + net.now()),
    random: () => rng.nextFloat(),
  };
  const book: Book = { addrman: nodeAddressBook(clock) };
  learn(book.addrman, known, REGTEST_PORT, clock.now());
  const node = net.addEngine({
    network: DISCOVERY_NETWORK,
    limits: SIM_ENGINE_LIMITS,
    ip,
    setup: (engine) => {
      book.current = runDiscoveryNode(engine, book.addrman, targets, `${ip}:${REGTEST_PORT}`);
    },
  });
  return { node, book };
}

/** 'ok' once a node holds its targets, each connection in a netgroup of its own. */
function standingOf(book: Book, targets: DiscoveryTargets, node: SimNode<Engine>): string {
  if (!book.current || book.current.engine !== node.value) return 'down';
  const s = outboundStanding(book.current);
  if (!s.distinctGroups) return `two outbound in one netgroup: ${s.groups.join(' ')}`;
  if (s.fullRelay < targets.fullRelay || s.blockRelay < targets.blockRelay) {
    return `${s.fullRelay}/${targets.fullRelay} full-relay, ${s.blockRelay}/${targets.blockRelay} block-relay`;
  }
  return 'ok';
}

/** The attacker's addresses as `addr` entries (time 0), built once: the flood sends millions. */
const ATTACKER_ENTRIES: TimedNetAddress[] = [];
const ATTACKER_ADDRESSES = 60_000;

/** The attacker's flood: `count` of its addresses as `addr` entries, fresh. */
function attackerAddresses(nowMs: number, from: number, count: number): TimedNetAddress[] {
  const out: TimedNetAddress[] = [];
  const time = Math.floor(nowMs / 1000);
  for (let j = from; j < from + count; j++) {
    const k = j % ATTACKER_ADDRESSES;
    let entry = ATTACKER_ENTRIES[k];
    if (!entry) {
      entry = toAddrEntry(advertised(attackerIp(k), REGTEST_PORT, 0)) as TimedNetAddress;
      ATTACKER_ENTRIES[k] = entry;
    }
    out.push({ time, services: entry.services, ip: entry.ip, port: entry.port });
  }
  return out;
}

export const discovery: Scenario = {
  name: 'discovery',
  summary:
    'nodes fill their outbound slots, one per netgroup, from their address books and relay; a node boots from one address; an attacker netgroup floods a victim (its share is reported)',
  minNodes: 8,
  async run(net, { nodes, chaosMs, progress }) {
    const targets = targetsFor(nodes);
    const books: Book[] = [];
    const sims: SimNode<Engine>[] = [];
    for (let i = 0; i < nodes; i++) {
      const known = pickPeers(net, 'known', nodes, Math.min(BOOK, nodes - 1), i).map(publicIp);
      const { node, book } = addDiscoveryNode(net, publicIp(i), known, targets);
      books.push(book);
      sims.push(node);
    }
    progress?.('chaos');
    await net.runFor(chaosMs);
    net.stopFaults();
    progress?.('settle');
    const settleMs = await expectConvergence(net, {
      nodes: sims,
      tipOf: (_, node) => standingOf(books[node.id] as Book, targets, node),
      best: 'ok',
      withinMs: SETTLE_MS,
    });
    const learnt = books.reduce((sum, b) => sum + b.addrman.size(), 0) / nodes;

    // A node that knows one address reaches its targets in distinct netgroups.
    progress?.('boot');
    const boot = addDiscoveryNode(net, publicIp(nodes), [publicIp(1)], targets);
    const bootMs = await expectConvergence(net, {
      nodes: [boot.node],
      tipOf: (_, node) => standingOf(boot.book, targets, node),
      best: 'ok',
      withinMs: SETTLE_MS,
    });
    const booted = outboundStanding(boot.book.current as DiscoveryNode);

    // The attacker: listening nodes in one /16 that dial the victim and answer
    // every getaddr, and flood it with addresses in their /16 (most of which
    // do not listen) as fast as it takes them.
    progress?.('eclipse');
    const victim = books[1] as Book;
    const victimAddress = `${publicIp(1)}:${REGTEST_PORT}`;
    const attackers = Math.max(4, Math.floor(nodes / 20));
    let cursor = 0;
    for (let a = 0; a < attackers; a++) {
      net.addEngine({
        network: DISCOVERY_NETWORK,
        limits: SIM_ENGINE_LIMITS,
        ip: attackerIp(a),
        reconnect: { maxRestarts: Number.MAX_SAFE_INTEGER },
        setup: (engine, ctx) => {
          engine.listen();
          const answer = () => {
            cursor += ATTACK_BATCH;
            return attackerAddresses(engine.clock.now(), cursor, ATTACK_BATCH);
          };
          engine.on('getaddr', (peer) => {
            peer.send({ command: 'addr', payload: { addresses: answer() } });
          });
          engine.on('handshake', (peer) => {
            const flood = () => {
              if (!peer.active) return;
              peer.send({ command: 'addr', payload: { addresses: answer() } });
              ctx.clock.setTimer(10_000, flood);
            };
            flood();
          });
          engine.connect(victimAddress, { persistent: true });
        },
      });
    }
    await net.runFor(ATTACK_MS);
    // Then the victim restarts mid-flood: it keeps its tables (its disk) and
    // must refill every outbound slot from them, poisoned as they are.
    const victimNode = sims[1] as SimNode<Engine>;
    net.crash(victimNode.id);
    net.restart(victimNode.id);
    progress?.('victim restarted');
    const refillMs = await expectConvergence(net, {
      nodes: [victimNode],
      tipOf: (_, node) => standingOf(victim, targets, node),
      best: 'ok',
      withinMs: SETTLE_MS,
    });
    const share = (tried: boolean) => {
      const entries = victim.addrman.entries(tried);
      const held = entries.filter((e) => isAttacker(e.info.address.bytes)).length;
      return { held, total: entries.length };
    };
    const tried = share(true);
    const fresh = share(false);
    const current = victim.current;
    const outbound = current ? outboundStanding(current) : undefined;
    const attackerGroup = hostFromIp(attackerIp(0));
    const heldOutbound = (current?.engine.readyPeers ?? []).filter((p) => {
      const kind = current?.outbound.kindOf(p);
      return (kind === 'full-relay' || kind === 'block-relay') && p.address.startsWith('66.66.');
    }).length;
    // One outbound per netgroup: the attacker's /16 can hold one slot at most.
    if (heldOutbound > 1 || (outbound && !outbound.distinctGroups)) {
      throw new InvariantViolation(
        'liveness',
        net.seed,
        net.now(),
        `the attacker's netgroup ${addressKey({ ...attackerGroup, port: 0 })} holds ${heldOutbound} of the victim's outbound slots`,
      );
    }
    const pct = (x: { held: number; total: number }) =>
      x.total === 0 ? 0 : Math.round((1000 * x.held) / x.total) / 10;
    return {
      metrics: {
        settleMs,
        learnt: Math.round(learnt),
        bootMs,
        bootOutbound: booted.fullRelay + booted.blockRelay,
        bootNetgroups: new Set(booted.groups).size,
        attackers,
        attackAddresses: cursor,
        eclipseTriedPct: pct(tried),
        eclipseTried: tried.held,
        victimTried: tried.total,
        eclipseNewPct: pct(fresh),
        eclipseNew: fresh.held,
        victimNew: fresh.total,
        eclipseOutbound: heldOutbound,
        victimRefillMs: refillMs,
        victimOutbound: (outbound?.fullRelay ?? 0) + (outbound?.blockRelay ?? 0),
      },
    };
  },
};
