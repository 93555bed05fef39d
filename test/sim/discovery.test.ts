// The discovery scenario as a test: address managers, address relay and
// outbound management on simulated Engines fill their slots one per netgroup,
// a node boots from one address, and an attacker's netgroup that floods a
// victim (which then restarts) gets at most one outbound slot and little of
// its tried table. The figures for larger networks are in the README.
import { describe, expect, it } from 'vitest';
import { runSimulation } from '../../ts/sim/run.js';
import { scenarioNamed } from '../../ts/sim/scenarios/index.js';

describe('discovery scenario', () => {
  it('fills outbound slots, boots from one address, and bounds an attacking netgroup', async () => {
    const scenario = scenarioNamed('discovery');
    if (!scenario) throw new Error('no discovery scenario');
    const report = await runSimulation({
      seed: '5',
      scenario,
      nodes: 24,
      profile: 'default',
      chaosMs: 20_000,
    });
    expect(report.failure).toBeUndefined();
    expect(report.result).toBe('pass');
    const m = report.metrics;
    // 24 nodes: 5 outbound each (4 full-relay, 1 block-relay-only).
    expect(m.victimOutbound).toBe(5);
    expect(m.eclipseOutbound).toBeLessThanOrEqual(1);
    expect(m.eclipseTriedPct).toBeLessThan(50);
    expect(m.attackAddresses).toBeGreaterThan(100_000);
    expect(m.bootMs).toBeGreaterThan(0);
    expect(m.bootNetgroups).toBe(m.bootOutbound);
    expect(m.bootOutbound).toBe(5);
    // Addresses of one /16 heard from one /16 share one new bucket: 64 slots at most.
    expect(m.eclipseNew).toBeLessThanOrEqual(64);
    expect(m.eclipseTried).toBeLessThanOrEqual(m.victimTried as number);
    // Relay ran, and the Engine-level invariants were exercised.
    expect(report.checks['engine-no-event-after-disconnect']).toBeGreaterThan(0);
  }, 120_000);
});
