// A flood from one node: it handshakes with the victim, then sends pings as
// fast as its queue takes them and never reads the pongs. The victim's
// budgets and fPauseSend must hold it, and the honest nodes syncing headers
// from the victim must still converge.
import type { HeaderChain } from '../../chain/headerchain.js';
import type { Engine } from '../../engine/engine.js';
import { expectConvergence } from '../invariants.js';
import { headerNetwork, SYNC_HEADERS } from './header-sync.js';
import { nodeIp, REGTEST_PORT, type Scenario, SETTLE_MS, tipHex } from './scenario.js';

/** Pings the flooder tries per burst, and virtual ms between bursts. */
const BURST = 2_000;
const BURST_EVERY_MS = 10;

export const flood: Scenario = {
  name: 'flood',
  summary: 'one node floods the source with pings and reads nothing; the others still sync',
  minNodes: 3,
  async run(net, { nodes, chaosMs, progress }) {
    const chains = headerNetwork(net, nodes - 1, SYNC_HEADERS);
    const victim = `${nodeIp(0)}:${REGTEST_PORT}`;
    let sent = 0;
    let disconnected = 0;
    const flooder = net.addEngine({
      network: 'regtest',
      ip: nodeIp(nodes - 1),
      setup: (engine, ctx) => {
        engine.on('disconnected', () => disconnected++);
        engine.on('handshake', (peer) => {
          const burst = () => {
            if (!peer.active) return;
            for (let i = 0; i < BURST; i++) {
              const r = peer.send({ command: 'ping', payload: { nonce: BigInt(sent) } });
              if (r !== 'queued') break;
              sent++;
            }
            ctx.clock.setTimer(BURST_EVERY_MS, burst);
          };
          burst();
        });
        engine.connect(victim, { persistent: true });
      },
    });
    // It never reads: what the victim answers piles up on the victim's side.
    flooder.stallReading();
    progress?.('flood');
    await net.runFor(chaosMs);
    net.stopFaults();
    progress?.('settle');
    const honest = net.nodes.filter((n) => n.id !== flooder.id);
    const settleMs = await expectConvergence(net, {
      tipOf: (_, node) => tipHex(chains[node.id] as HeaderChain),
      best: tipHex(chains[0] as HeaderChain),
      withinMs: SETTLE_MS,
      nodes: honest,
    });
    const victimEngine = net.node<Engine>(0).value;
    return {
      metrics: {
        pingsSent: sent,
        flooderDisconnects: disconnected,
        victimPeers: victimEngine?.readyPeers.length ?? 0,
        settleMs,
      },
    };
  },
};
