// What a soak must have exercised: every fault kind, the disconnect reasons
// faults lead to, and every invariant. A counter still at zero after many
// seeds means that part was never tested, so the soak fails.
import { INVARIANTS } from './invariants.js';

export const REQUIRED_COVERAGE: readonly string[] = [
  'fault.connect-refused',
  'fault.connect-hang',
  'fault.reset',
  'fault.fin',
  'fault.half-open',
  'fault.bit-flip',
  'fault.partition',
  'fault.partition-one-way',
  'fault.clog',
  'fault.crash',
  'fault.restart',
  'disconnect.requested',
  'disconnect.peer-closed',
  'disconnect.io-error',
  'disconnect.send-stalled',
  'disconnect.shutdown',
  // A flipped payload bit, caught by the checksum (Core drops the message).
  'drop.bad-checksum',
  // Admission decisions made when a connection arrives (their outcome is held
  // by the slot checks).
  'exercise.admission',
  // The world's own checks.
  'check.slots',
  'check.budget',
  'check.frame-order',
  'check.world-event-after-close',
  ...INVARIANTS.map((name) => `check.${name}`),
];

/** Adds one run's counters into a running total. */
export function addCounters(total: Record<string, number>, run: Record<string, number>): void {
  for (const [k, v] of Object.entries(run)) total[k] = (total[k] ?? 0) + v;
}

/** Required counters still at zero. */
export function missingCoverage(total: Record<string, number>): string[] {
  return REQUIRED_COVERAGE.filter((name) => !(total[name] ?? 0));
}
