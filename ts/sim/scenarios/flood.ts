// A flood from one node: it handshakes with the victim, then sends pings as
// fast as its queue takes them and never reads the pongs. The victim's
// budgets and fPauseSend must hold it, and the honest nodes syncing headers
// from the victim must still converge.
import { headerHash } from '../../chain/block.js';
import { genesisHeaderOf, type HeaderChain } from '../../chain/headerchain.js';
import type { Engine } from '../../engine/engine.js';
import type { BlockHeader } from '../../wire/types.js';
import { expectConvergence, InvariantViolation } from '../invariants.js';
import { SimTimeoutError } from '../network.js';
import { headerNetwork, SYNC_HEADERS } from './header-sync.js';
import {
  nodeIp,
  REGTEST,
  REGTEST_PORT,
  type Scenario,
  SETTLE_MS,
  SIM_ENGINE_LIMITS,
  tipHex,
} from './scenario.js';

/** Pings the flooder tries per burst, and virtual ms between bursts. */
const BURST = 2_000;
const BURST_EVERY_MS = 10;

/** A header on regtest's genesis with mainnet's difficulty bits: invalid for regtest. */
function badHeader(): BlockHeader {
  const genesis = genesisHeaderOf(REGTEST) as BlockHeader;
  return {
    version: 0x2000_0000,
    prevBlock: headerHash(genesis),
    merkleRoot: new Uint8Array(32),
    time: genesis.time + 600,
    bits: 0x1d00ffff,
    nonce: 0,
  };
}

export const flood: Scenario = {
  name: 'flood',
  summary:
    'one node floods the source with pings and reads nothing, one sends invalid headers; the others still sync',
  minNodes: 4,
  async run(net, { nodes, chaosMs, progress }) {
    // The victim gives a peer that reads none of its bytes 30 s (default 2 minutes).
    const chains = headerNetwork(net, nodes - 2, SYNC_HEADERS, (i) =>
      i === 0 ? { ...SIM_ENGINE_LIMITS, sendStallTimeoutMs: 30_000 } : SIM_ENGINE_LIMITS,
    );
    const victim = `${nodeIp(0)}:${REGTEST_PORT}`;
    let sent = 0;
    let disconnected = 0;
    net.addEngine({
      network: 'regtest',
      // An attacker's receive window is small: it fills at once.
      limits: { ...SIM_ENGINE_LIMITS, recvBudgetBytes: 64 * 1024 },
      ip: nodeIp(nodes - 2),
      setup: (engine, ctx) => {
        engine.on('disconnected', () => disconnected++);
        engine.on('handshake', (peer) => {
          // From now on it reads nothing: the victim's answers pile up on its side.
          net.node(ctx.node).stallReading();
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
    // A liar: its header breaks the chain's rules, so the victim bans it; it
    // keeps dialling back.
    let banned = 0;
    net.addEngine({
      network: 'regtest',
      limits: SIM_ENGINE_LIMITS,
      ip: nodeIp(nodes - 1),
      setup: (engine) => {
        engine.on('handshake', (peer) => {
          peer.send({ command: 'headers', payload: { headers: [badHeader()] } });
        });
        engine.connect(victim, { persistent: true });
      },
    });
    const victimEngine = net.node<Engine>(0).value;
    victimEngine?.on('banned', () => banned++);
    // The victim must drop the flooder, which reads nothing of what it owes it.
    const flooderIp = nodeIp(nodes - 2);
    let flooderDropped: string | undefined;
    victimEngine?.on('disconnected', (peer, info) => {
      if (peer.address.startsWith(`${flooderIp}:`)) flooderDropped ??= info.reason;
    });
    progress?.('flood');
    await net.runFor(chaosMs);
    net.stopFaults();
    progress?.('settle');
    const honest = net.nodes.slice(0, nodes - 2);
    const settleMs = await expectConvergence(net, {
      tipOf: (_, node) => tipHex(chains[node.id] as HeaderChain),
      best: tipHex(chains[0] as HeaderChain),
      withinMs: SETTLE_MS,
      nodes: honest,
    });
    if (victimEngine && net.node(0).value === victimEngine) {
      try {
        await net.runUntil(() => flooderDropped !== undefined, { maxTimeMs: SETTLE_MS });
      } catch (error) {
        // Only running out of time is this liveness failure; a violation says itself.
        if (!(error instanceof SimTimeoutError)) throw error;
        throw new InvariantViolation(
          'liveness',
          net.seed,
          net.now(),
          `the victim still holds the flooder ${SETTLE_MS} ms after the flood`,
          0,
        );
      }
    }
    return {
      metrics: {
        pingsSent: sent,
        flooderDisconnects: disconnected,
        flooderDropped: flooderDropped === undefined ? 0 : 1,
        victimPeers: victimEngine?.readyPeers.length ?? 0,
        liarBans: banned,
        settleMs,
      },
    };
  },
};
