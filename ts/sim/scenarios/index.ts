// The scenarios `peerwire sim` knows, by name.
import { discovery } from './discovery.js';
import { flood } from './flood.js';
import { headerSync } from './header-sync.js';
import { partitionHeals } from './partition.js';
import { reconnectStorm } from './reconnect-storm.js';
import type { Scenario } from './scenario.js';

export const SCENARIOS: readonly Scenario[] = [
  headerSync,
  reconnectStorm,
  partitionHeals,
  flood,
  discovery,
];

export function scenarioNamed(name: string): Scenario | undefined {
  return SCENARIOS.find((s) => s.name === name);
}

export type { Scenario, ScenarioOptions, ScenarioOutcome } from './scenario.js';
