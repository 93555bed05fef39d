// One simulated run from a seed: builds the network, runs a scenario, and
// reports what happened (times, traffic, faults, checks, the trace hash) and
// how to reproduce it.
import { InvariantViolation } from './invariants.js';
import { SimNetwork, type SimProfile, SimTimeoutError } from './network.js';
import { SCENARIOS, type Scenario, scenarioNamed } from './scenarios/index.js';

export interface SimRunOptions {
  seed: string;
  scenario: Scenario;
  nodes: number;
  profile: SimProfile;
  /** Virtual ms of faults (default 2 minutes). */
  chaosMs?: number;
  progress?: (phase: string, virtualMs: number) => void;
}

export interface SimReport {
  seed: string;
  scenario: string;
  nodes: number;
  profile: SimProfile;
  result: 'pass' | 'fail';
  /** Why it failed: the invariant and its detail, or the error. */
  failure?: string;
  virtualMs: number;
  wallMs: number;
  /** Simulated seconds per wall second. */
  speedup: number;
  frames: number;
  events: number;
  /** Faults injected, by kind ("fault.<kind>" counters). */
  faults: Record<string, number>;
  /** Invariant checks run, by name ("check.<name>" counters). */
  checks: Record<string, number>;
  counters: Record<string, number>;
  metrics: Record<string, number>;
  traceHash: string;
  /** The command that runs this seed again. */
  reproduce: string;
}

export const DEFAULT_CHAOS_MS = 120_000;

export function reproduceCommand(o: {
  seed: string;
  scenario: string;
  nodes: number;
  profile: string;
  chaosMs?: number;
}): string {
  const chaos =
    o.chaosMs !== undefined && o.chaosMs !== DEFAULT_CHAOS_MS ? ` --chaos-ms ${o.chaosMs}` : '';
  return `peerwire sim --seed ${o.seed} --scenario ${o.scenario} --nodes ${o.nodes} --faults ${o.profile}${chaos}`;
}

function pick(counters: Record<string, number>, prefix: string): Record<string, number> {
  return Object.fromEntries(
    Object.entries(counters)
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, v]) => [k.slice(prefix.length), v]),
  );
}

/** The scenario for a seed when several are rotated through ("all"). */
export function scenarioFor(name: string, seed: bigint): Scenario | undefined {
  if (name !== 'all') return scenarioNamed(name);
  return SCENARIOS[Number(seed % BigInt(SCENARIOS.length))];
}

/** Every running node closes gracefully; each must finish within a minute. */
async function shutDown(net: SimNetwork): Promise<void> {
  let open = 0;
  for (const node of net.nodes) {
    // A node whose reading a scenario stalled reads again, or its close could not finish.
    node.resumeReading();
    const value = node.value as { close?: () => Promise<void> } | undefined;
    if (typeof value?.close !== 'function') continue;
    open++;
    void value.close().then(() => open--);
  }
  try {
    await net.runUntil(() => open === 0, { maxTimeMs: 60_000 });
  } catch (error) {
    if (!(error instanceof SimTimeoutError)) throw error;
    throw new InvariantViolation(
      'liveness',
      net.seed,
      net.now(),
      `${open} nodes did not close within 60 s`,
    );
  }
}

export async function runSimulation(options: SimRunOptions): Promise<SimReport> {
  const { seed, scenario, nodes, profile } = options;
  const started = performance.now();
  const net = new SimNetwork({ seed, profile });
  let failure: string | undefined;
  let metrics: Record<string, number> = {};
  try {
    const outcome = await scenario.run(net, {
      nodes,
      chaosMs: options.chaosMs ?? DEFAULT_CHAOS_MS,
      progress: (phase) => options.progress?.(phase, net.now()),
    });
    metrics = outcome.metrics;
    await shutDown(net);
    const violations = net.world.violations();
    if (violations.length > 0) failure = `world invariant: ${violations[0]}`;
  } catch (error) {
    if (error instanceof InvariantViolation || error instanceof SimTimeoutError) {
      failure = error.message;
    } else {
      failure = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
  }
  const wallMs = performance.now() - started;
  const counters = net.counters();
  const virtualMs = net.now();
  return {
    seed,
    scenario: scenario.name,
    nodes,
    profile,
    result: failure ? 'fail' : 'pass',
    ...(failure ? { failure } : {}),
    virtualMs,
    wallMs,
    speedup: wallMs > 0 ? virtualMs / wallMs : 0,
    frames: counters.frames ?? 0,
    events: counters.events ?? 0,
    faults: pick(counters, 'fault.'),
    checks: pick(counters, 'check.'),
    counters,
    metrics,
    traceHash: net.traceHash(),
    reproduce: reproduceCommand({
      seed,
      scenario: scenario.name,
      nodes,
      profile,
      ...(options.chaosMs !== undefined ? { chaosMs: options.chaosMs } : {}),
    }),
  };
}
