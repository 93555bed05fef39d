// The address manager's `allowLocal` option: loopback and private addresses,
// refused by default as Core refuses them, admitted for test networks on one
// machine, each host its own netgroup, and kept across a save and load.
import { describe, expect, it } from 'vitest';
import { AddressManager } from '../../ts/addr/addrman.js';
import { isRoutable, netGroupKey } from '../../ts/addr/netgroup.js';
import { deserializeAddressManager, serializeAddressManager } from '../../ts/addr/serialize.js';
import { ManualClock } from '../../ts/engine/clock.js';
import { v4, v4Host } from './helpers.js';

const local = [v4(127, 0, 0, 2), v4(127, 0, 0, 3), v4(10, 1, 2, 3), v4(192, 168, 1, 9)];
const source = v4Host(127, 0, 0, 1);

describe('AddressManager allowLocal', () => {
  it('is off by default: local and private addresses are refused', () => {
    const am = new AddressManager({ clock: new ManualClock() });
    expect(am.allowLocal).toBe(false);
    expect(am.add(local, source)).toBe(0);
    expect(am.size()).toBe(0);
    for (const a of local) expect(am.accepts(a)).toBe(false);
  });

  it('admits them when on, without changing what is routable', () => {
    const am = new AddressManager({ clock: new ManualClock(), allowLocal: true });
    expect(am.add(local, source)).toBe(local.length);
    expect(am.size()).toBe(local.length);
    for (const a of local) expect(isRoutable(a)).toBe(false);
    // Still refused: unspecified and broadcast are no hosts at all.
    expect(am.add([v4(0, 0, 0, 0), v4(255, 255, 255, 255)], source)).toBe(0);
    expect(am.good(local[0] as (typeof local)[0])).toBe(true);
    am.checkConsistency();
  });

  it('puts each local host in its own netgroup only when asked', () => {
    const [a, b] = local as [(typeof local)[0], (typeof local)[0]];
    expect(netGroupKey(a)).toBe(netGroupKey(b));
    expect(netGroupKey(a, true)).not.toBe(netGroupKey(b, true));
    // Routable hosts keep their /16 either way.
    expect(netGroupKey(v4(8, 8, 4, 4), true)).toBe(netGroupKey(v4(8, 8, 8, 8), true));
  });

  it('keeps local entries across a save only when the loader allows them too', () => {
    const clock = new ManualClock();
    const am = new AddressManager({ clock, allowLocal: true });
    am.add(local, source);
    am.good(local[1] as (typeof local)[0]);
    const bytes = serializeAddressManager(am);
    const kept = deserializeAddressManager(bytes, { clock, allowLocal: true });
    expect(kept.lost).toBe(0);
    expect(kept.manager.size()).toBe(local.length);
    expect(kept.manager.triedCount).toBe(1);
    const strict = deserializeAddressManager(bytes, { clock });
    expect(strict.manager.size()).toBe(0);
    expect(strict.lost).toBe(local.length);
  });
});
