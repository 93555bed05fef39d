// What a simulation scenario is: a setup and a run on a SimNetwork, ending in
// an outcome with a few figures. Scenarios throw InvariantViolation (or let
// one surface from the network) when something that must hold did not.
import { generateHeadersPayload } from '../../chain/generate.js';
import { hashToHex } from '../../chain/hash.js';
import { chainFor, type HeaderChain } from '../../chain/headerchain.js';
import { type Network, networkPreset } from '../../config/schema.js';
import type { HeadersPayload } from '../../wire/headers.js';
import { type SimNetwork, simNodeIp } from '../network.js';

export interface ScenarioOptions {
  /** Nodes in the network. */
  nodes: number;
  /** Virtual ms of faults before the network is left to settle. */
  chaosMs: number;
  /** Reports progress (a phase name) as the run goes. */
  progress?: (phase: string) => void;
}

export interface ScenarioOutcome {
  /** Figures worth printing (headers synced, reconnects, ms to converge...). */
  metrics: Record<string, number>;
}

export interface Scenario {
  name: string;
  summary: string;
  /** The smallest network the scenario makes sense on. */
  minNodes: number;
  run(net: SimNetwork, options: ScenarioOptions): Promise<ScenarioOutcome>;
}

/**
 * Scenario engines keep Core's limits but a shorter keepalive (a ping every
 * 30 s, 90 s to answer, instead of 2 and 20 minutes), so a half-open peer is
 * found within a run's settle time.
 */
export const SIM_ENGINE_LIMITS = {
  pingIntervalMs: 30_000,
  pingTimeoutMs: 90_000,
  inactivityTimeoutMs: 120_000,
} as const;

/** Virtual time the network gets to converge once faults stop. */
export const SETTLE_MS = 10 * 60_000;

export const REGTEST: Network = networkPreset('regtest');
export const REGTEST_PORT = REGTEST.port;
/** What node clocks read at virtual time 0 (the world's epoch). */
export const SIM_EPOCH_MS = 1_700_000_000_000;

const generated = new Map<number, HeadersPayload>();

/** A regtest chain of `count` generated headers (generated once per process). */
export function generatedChain(count: number, clock: { now(): number }): HeaderChain {
  let payload = generated.get(count);
  if (!payload) {
    payload = generateHeadersPayload(REGTEST, count, 'peerwire-sim');
    generated.set(count, payload);
  }
  const chain = chainFor(REGTEST, { clock });
  // Its records, validated and stored in place: no header object is made.
  chain.acceptPayload(payload);
  return chain;
}

/** The address scenarios give node `i` (so nodes can dial ones not built yet). */
export function nodeIp(i: number): string {
  return simNodeIp(i);
}

export function tipHex(chain: HeaderChain): string {
  return hashToHex(chain.tipHash);
}

/** Distinct picks from [0, n) excluding `self`, drawn from the world's named stream. */
export function pickPeers(
  net: SimNetwork,
  stream: string,
  n: number,
  count: number,
  self: number,
): number[] {
  const picks: number[] = [];
  const want = Math.min(count, n - (self < n ? 1 : 0));
  while (picks.length < want) {
    const p = net.world.randomU32(stream) % n;
    if (p !== self && !picks.includes(p)) picks.push(p);
  }
  return picks;
}
