// A reconnect storm: every other node keeps a persistent connection to one
// hub with fewer inbound slots than clients; the hub crashes and restarts
// again and again, and each time every client dials back at once. Slots must
// hold throughout, and once the storm ends the hub's slots fill again.
import type { Engine } from '../../engine/engine.js';
import { InvariantViolation } from '../invariants.js';
import { nodeIp, REGTEST_PORT, type Scenario, SETTLE_MS, SIM_ENGINE_LIMITS } from './scenario.js';

/** Virtual ms between hub crashes, and how long it stays down. */
const CRASH_EVERY_MS = 20_000;
const DOWN_MS = 2_000;

export const reconnectStorm: Scenario = {
  name: 'reconnect-storm',
  summary: 'clients outnumbering the hub’s slots redial it after each of its crashes',
  minNodes: 3,
  async run(net, { nodes, chaosMs, progress }) {
    const slots = Math.max(2, Math.floor((nodes - 1) / 2));
    let handshakes = 0;
    net.addEngine({
      network: 'regtest',
      ip: nodeIp(0),
      limits: { ...SIM_ENGINE_LIMITS, maxInbound: slots },
      setup: (engine) => engine.listen(),
    });
    const hub = `${nodeIp(0)}:${REGTEST_PORT}`;
    for (let i = 1; i < nodes; i++) {
      net.addEngine({
        network: 'regtest',
        limits: SIM_ENGINE_LIMITS,
        // Clients that never give the hub up (the default gives up a peer
        // after 5 restarts in 10 minutes, which a storm exceeds on purpose).
        reconnect: { maxRestarts: 1_000 },
        ip: nodeIp(i),
        setup: (engine) => {
          engine.on('handshake', () => handshakes++);
          engine.connect(hub, { persistent: true });
        },
      });
    }
    progress?.('storm');
    let crashes = 0;
    for (let t = 0; t < chaosMs; t += CRASH_EVERY_MS) {
      await net.runFor(CRASH_EVERY_MS - DOWN_MS);
      if (net.node(0).up) {
        net.crash(0);
        crashes++;
      }
      await net.runFor(DOWN_MS);
      if (!net.node(0).up) net.restart(0);
    }
    net.stopFaults();
    progress?.('settle');
    const want = Math.min(nodes - 1, slots);
    const inbound = () =>
      net.node<Engine>(0).value?.readyPeers.filter((p) => p.inbound).length ?? 0;
    const start = net.now();
    try {
      await net.runUntil(() => inbound() >= want, { maxTimeMs: SETTLE_MS });
    } catch (error) {
      throw new InvariantViolation(
        'liveness',
        net.seed,
        net.now(),
        `the hub has ${inbound()} of ${want} inbound peers ${SETTLE_MS} ms after the storm (${String(error)})`,
        0,
      );
    }
    net.invariants.exercised('liveness', 1);
    const stats = net.world.stats(0);
    return {
      metrics: {
        crashes,
        handshakes,
        refused: stats.inboundRefused,
        evicted: stats.inboundEvicted,
        settleMs: net.now() - start,
      },
    };
  },
};
