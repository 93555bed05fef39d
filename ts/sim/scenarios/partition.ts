// A partition that heals: the source keeps mining while the network is split
// in two; after the heal (and the faults) every node reaches the new tip.

import { headerStream } from '../../chain/generate.js';
import type { HeaderChain } from '../../chain/headerchain.js';
import type { Engine } from '../../engine/engine.js';
import { expectConvergence } from '../invariants.js';
import { headerNetwork, SYNC_HEADERS } from './header-sync.js';
import { REGTEST, type Scenario, SETTLE_MS, tipHex } from './scenario.js';

/** A block on the source every this many virtual ms. */
const BLOCK_EVERY_MS = 5_000;

export const partitionHeals: Scenario = {
  name: 'partition',
  summary: 'the network splits in two while the source mines; after the heal all converge',
  minNodes: 4,
  async run(net, { nodes, chaosMs, progress }) {
    const chains = headerNetwork(net, nodes, SYNC_HEADERS);
    const source = chains[0] as HeaderChain;
    // The source's next blocks continue the generated chain.
    const stream = headerStream(REGTEST, 'peerwire-sim');
    for (let i = 0; i < source.height; i++) stream.next();
    // Mining runs between slices of simulated time: a crash of the source
    // pauses its announcements, not the chain (its disk).
    const mineFor = async (ms: number) => {
      for (let left = ms; left > 0; left -= BLOCK_EVERY_MS) {
        await net.runFor(Math.min(BLOCK_EVERY_MS, left));
        const header = stream.next().value;
        if (!header) continue;
        source.append([header]);
        const engine = net.node<Engine>(0).value;
        for (const peer of engine?.readyPeers ?? []) {
          peer.send({ command: 'headers', payload: { headers: [header] } });
        }
      }
    };
    progress?.('before');
    await mineFor(Math.min(30_000, chaosMs / 4));
    const half = Math.floor(nodes / 2);
    const left = [...Array(half).keys()];
    const right = [...Array(nodes - half).keys()].map((i) => i + half);
    const id = net.world.partition(left, right, false);
    progress?.('split');
    await mineFor(Math.max(60_000, chaosMs / 2));
    net.world.heal(id);
    progress?.('healed');
    await mineFor(Math.min(30_000, chaosMs / 4));
    net.stopFaults();
    progress?.('settle');
    const settleMs = await expectConvergence(net, {
      tipOf: (_, node) => tipHex(chains[node.id] as HeaderChain),
      best: tipHex(source),
      withinMs: SETTLE_MS,
    });
    return { metrics: { headers: source.height, settleMs } };
  },
};
