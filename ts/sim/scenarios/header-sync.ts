// Header sync under chaos: one node holds a chain, the others start empty and
// dial a few random peers each (persistently); faults run for a while, then
// stop, and every node must reach the source's tip in bounded virtual time.
import type { HeaderChain } from '../../chain/headerchain.js';
import { chainFor } from '../../chain/headerchain.js';
import type { LimitsInput } from '../../config/schema.js';
import { runHeaderNode } from '../apps/header-node.js';
import { expectConvergence } from '../invariants.js';
import type { SimNetwork } from '../network.js';
import {
  generatedChain,
  nodeIp,
  pickPeers,
  REGTEST,
  REGTEST_PORT,
  type Scenario,
  SETTLE_MS,
  SIM_ENGINE_LIMITS,
  SIM_EPOCH_MS,
  tipHex,
} from './scenario.js';

/** Headers on the source node. */
export const SYNC_HEADERS = 4_000;
/** Peers each node dials. */
const OUTBOUND = 3;

/**
 * Builds `nodes` header nodes: node 0 with `headers` generated headers, the
 * others empty, each dialling OUTBOUND random others. Chains outlive crashes
 * (they are the nodes' disks). Returns the chains by node id.
 */
export function headerNetwork(
  net: SimNetwork,
  nodes: number,
  headers: number,
  limitsFor: (node: number) => LimitsInput = () => SIM_ENGINE_LIMITS,
): HeaderChain[] {
  const chains: HeaderChain[] = [];
  for (let i = 0; i < nodes; i++) {
    // The node's clock once it exists (the source's chain is built before it).
    const clock = {
      now: () => (i < net.nodes.length ? net.world.nodeTime(i) : SIM_EPOCH_MS + net.now()),
    };
    chains.push(i === 0 ? generatedChain(headers, clock) : chainFor(REGTEST, { clock }));
  }
  const dials = chains.map((_, i) => pickPeers(net, 'topology', nodes, OUTBOUND, i));
  for (let i = 0; i < nodes; i++) {
    net.addEngine({
      network: 'regtest',
      limits: limitsFor(i),
      // Fixed peers are redialled for good, as Core's addnode peers are: the
      // default gives a peer up after 5 restarts in 10 minutes, and a node
      // whose peers were all given up under harsh faults stays cut off.
      reconnect: { maxRestarts: Number.MAX_SAFE_INTEGER },
      ip: nodeIp(i),
      setup: (engine) => {
        engine.listen();
        runHeaderNode(engine, chains[i] as HeaderChain);
        for (const peer of dials[i] ?? []) {
          engine.connect(`${nodeIp(peer)}:${REGTEST_PORT}`, { persistent: true });
        }
      },
    });
  }
  return chains;
}

export const headerSync: Scenario = {
  name: 'header-sync',
  summary: 'every node syncs a chain from one source through random peers, under faults',
  minNodes: 2,
  async run(net, { nodes, chaosMs, progress }) {
    const chains = headerNetwork(net, nodes, SYNC_HEADERS);
    const source = chains[0] as HeaderChain;
    progress?.('chaos');
    await net.runFor(chaosMs);
    progress?.('settle');
    net.stopFaults();
    const settleMs = await expectConvergence(net, {
      tipOf: (_, node) => tipHex(chains[node.id] as HeaderChain),
      best: tipHex(source),
      withinMs: SETTLE_MS,
    });
    return { metrics: { headers: source.height, settleMs } };
  },
};
