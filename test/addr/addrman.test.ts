// The address manager's tables: placement bounds per source group and per group,
// tried collisions and test-before-evict, failure counting, select() weighting,
// getAddr's caps, and every index checked after random operation sequences.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AddressError, type AdvertisedAddress, internalHost } from '../../ts/addr/address.js';
import { AddressManager, AddrManConsistencyError } from '../../ts/addr/addrman.js';
import { netGroupKey } from '../../ts/addr/netgroup.js';
import { deserializeAddressManager, serializeAddressManager } from '../../ts/addr/serialize.js';
import { ManualClock } from '../../ts/engine/clock.js';
import { inGroup, manager, s, T0, v4, v4Host } from './helpers.js';

const DAY = 86_400;

describe('adding', () => {
  it('skips unroutable and malformed addresses, and refuses a malformed source', () => {
    const { am } = manager();
    const src = v4Host(9, 9, 9, 9);
    const bad: AdvertisedAddress[] = [
      v4(10, 0, 0, 1),
      v4(127, 0, 0, 1),
      v4(192, 168, 1, 1),
      { ...v4(1, 2, 3, 4), bytes: Uint8Array.of(1, 2, 3) },
      { ...v4(1, 2, 3, 4), port: 70_000 },
      { ...v4(1, 2, 3, 4), time: -1 },
      { ...v4(1, 2, 3, 4), time: Number.NaN },
      { ...internalHost('seed.example'), port: 8333, time: T0, services: 1n },
    ];
    expect(am.add(bad, src)).toBe(0);
    expect(am.size()).toBe(0);
    expect(() => am.add([v4(1, 2, 3, 4)], { network: 'ipv4', bytes: Uint8Array.of(1) })).toThrow(
      AddressError,
    );
    am.checkConsistency();
  });

  it('keeps an address once, in the new table, with the time less the penalty', () => {
    const { am } = manager();
    const a = v4(1, 2, 3, 4);
    expect(am.add([a], v4Host(9, 9, 9, 9), 7200)).toBe(1);
    expect(am.info(a)).toMatchObject({ inTried: false, time: T0 - 7200, attempts: 0 });
    // Heard of again, more than an hour fresher: the time moves up, nothing else.
    expect(am.add([a], v4Host(9, 9, 9, 9))).toBe(0);
    expect(am.info(a)?.time).toBe(T0);
    expect(am.size()).toBe(1);
    expect(am.newCount).toBe(1);
    // A source announcing itself gets no penalty.
    const self = v4(5, 6, 7, 8);
    am.add([self], v4Host(5, 6, 7, 8), 7200);
    expect(am.info(self)?.time).toBe(T0);
    am.checkConsistency();
  });

  it('lets one source group fill at most 64 new buckets, however many groups it names', () => {
    const { am } = manager(7);
    const attacker = (i: number) => v4Host(50, 1, i & 0xff, 1 + (i >> 8));
    let n = 0;
    for (let g = 0; g < 1_000; g++) {
      const batch: AdvertisedAddress[] = [];
      for (let j = 0; j < 100; j++) batch.push(v4(20 + ((g / 250) | 0), g % 250, j, 7));
      am.add(batch, attacker(n++));
    }
    const buckets = new Set(am.entries(false).map((e) => e.bucket));
    expect(buckets.size).toBeLessThanOrEqual(64);
    expect(buckets.size).toBeGreaterThan(32);
    expect(am.newCount).toBeLessThanOrEqual(64 * 64);
    am.checkConsistency();
    // Honest sources still find room: the flood holds at most 1/16 of the new slots.
    let honest = 0;
    for (let i = 0; i < 50; i++) honest += am.add([v4(80 + i, 1, 1, 1)], v4Host(90 + i, 1, 1, 1));
    expect(honest).toBeGreaterThanOrEqual(45);
  });

  it('puts an address in at most 8 new buckets, each further one harder to get', () => {
    const { am } = manager(3);
    const a = v4(1, 2, 3, 4);
    for (let i = 0; i < 3_000; i++) {
      am.add([{ ...a, time: T0 - 10_000 + i }], v4Host(30 + (i % 200), (i / 200) | 0, 1, 1));
    }
    const pos = am.position(a);
    expect(pos?.multiplicity).toBeGreaterThan(1);
    expect(pos?.multiplicity).toBeLessThanOrEqual(8);
    am.checkConsistency();
  });
});

describe('good and tried', () => {
  it('moves a good address to tried and counts it there', () => {
    const { am } = manager();
    const a = v4(1, 2, 3, 4);
    am.add([a], v4Host(9, 9, 9, 9));
    expect(am.good(a)).toBe(true);
    expect(am.info(a)).toMatchObject({ inTried: true, lastSuccess: T0, lastTry: T0 });
    expect([am.newCount, am.triedCount, am.size('ipv4', false)]).toEqual([0, 1, 1]);
    expect(am.position(a)).toMatchObject({ tried: true, multiplicity: 1 });
    expect(am.good(a)).toBe(false);
    expect(am.good(v4(4, 3, 2, 1))).toBe(false);
    am.checkConsistency();
  });

  it('lets one group reach at most 8 tried buckets', () => {
    const { am } = manager(11);
    for (let i = 0; i < 2_000; i++) {
      const a = inGroup(60, 5, i);
      am.add([a], v4Host(100 + (i % 50), 1, 1, 1));
      am.good(a);
    }
    const tried = am.entries(true);
    expect(new Set(tried.map((e) => e.bucket)).size).toBeLessThanOrEqual(8);
    expect(tried.length).toBeGreaterThan(100);
    expect(tried.length).toBeLessThanOrEqual(8 * 64);
    expect(am.pendingCollisions).toBeLessThanOrEqual(10);
    am.checkConsistency();
  });

  it('counts one failed attempt per success seen anywhere', () => {
    const { am, clock } = manager();
    const a = v4(1, 2, 3, 4);
    am.add([a], v4Host(9, 9, 9, 9));
    am.attempt(a);
    clock.advance(s(10));
    am.attempt(a);
    expect(am.info(a)?.attempts).toBe(1);
    expect(am.info(a)?.lastTry).toBe(T0 + 10);
    clock.advance(s(10));
    am.good(v4(8, 8, 8, 8)); // any success, even of an unknown address
    clock.advance(s(10));
    am.attempt(a);
    expect(am.info(a)?.attempts).toBe(2);
    am.attempt(a, false);
    expect(am.info(a)?.attempts).toBe(2);
  });

  it('refreshes the time of a connected address at most every 20 minutes', () => {
    const { am, clock } = manager();
    const a = v4(1, 2, 3, 4);
    am.add([a], v4Host(9, 9, 9, 9));
    clock.advance(s(20 * 60));
    am.connected(a);
    expect(am.info(a)?.time).toBe(T0);
    clock.advance(s(1));
    am.connected(a);
    expect(am.info(a)?.time).toBe(T0 + 20 * 60 + 1);
  });
});

/**
 * A manager where `incoming` waits to evict `occupant` from tried, the occupant's
 * last success 5 h old: 300 addresses of one /16 go to tried (collisions among
 * them dropped: their occupants had just succeeded), then 5 h later more of the
 * same /16 succeed until one lands on an old occupant.
 */
function collision(seed: number) {
  const clock = new ManualClock({ seed });
  const am = new AddressManager({ clock });
  const pool = Array.from({ length: 600 }, (_, i) => inGroup(70, 9, i));
  pool.forEach((a, i) => {
    am.add([a], v4Host(110 + (i % 40), 2, 2, 2));
  });
  let i = 0;
  for (; i < 300; i++) am.good(pool[i] as AdvertisedAddress);
  am.resolveCollisions();
  expect(am.pendingCollisions).toBe(0);
  clock.advance(s(5 * 3600));
  let incoming: AdvertisedAddress | undefined;
  for (; i < pool.length && !incoming; i++) {
    const a = pool[i] as AdvertisedAddress;
    if (!am.info(a) || am.good(a)) continue;
    am.resolveCollisions(); // drops a collision with an occupant that just succeeded
    if (am.pendingCollisions === 1) incoming = a;
  }
  if (!incoming) throw new Error('no tried collision in the pool');
  const occupant = am.selectTriedCollision();
  if (!occupant) throw new Error('a collision with no occupant');
  expect(occupant.lastSuccess).toBe(T0);
  return { clock, am, incoming, occupant: occupant.address };
}

describe('tried collisions: test before evict', () => {
  it('keeps the newcomer waiting in new and names the occupant to test', () => {
    const { am, incoming, occupant } = collision(1);
    expect(am.pendingCollisions).toBe(1);
    expect(am.info(incoming)).toMatchObject({ inTried: false, lastSuccess: T0 + 5 * 3600 });
    expect(am.info(occupant)?.inTried).toBe(true);
    am.resolveCollisions(); // untested, and the newcomer's success is fresh: wait
    expect(am.pendingCollisions).toBe(1);
    am.checkConsistency();
  });

  it('evicts an occupant that failed its test, after a minute of grace', () => {
    const { am, clock, incoming, occupant } = collision(2);
    const slot = am.position(occupant);
    am.attempt(occupant); // the test connection is under way (and will fail)
    am.resolveCollisions();
    expect(am.pendingCollisions).toBe(1);
    clock.advance(s(60));
    am.resolveCollisions();
    expect(am.pendingCollisions).toBe(1);
    clock.advance(s(1));
    am.resolveCollisions();
    expect(am.pendingCollisions).toBe(0);
    expect(am.info(incoming)?.inTried).toBe(true);
    expect(am.position(incoming)).toMatchObject({ bucket: slot?.bucket, position: slot?.position });
    expect(am.info(occupant)?.inTried).toBe(false);
    am.checkConsistency();
  });

  it('keeps an occupant that passed its test', () => {
    const { am, clock, incoming, occupant } = collision(3);
    clock.advance(s(30));
    am.good(occupant);
    clock.advance(s(120));
    am.resolveCollisions();
    expect(am.pendingCollisions).toBe(0);
    expect(am.info(occupant)?.inTried).toBe(true);
    expect(am.info(incoming)?.inTried).toBe(false);
    am.checkConsistency();
  });

  it('evicts anyway when no test happened within 40 minutes', () => {
    const { am, clock, incoming, occupant } = collision(4);
    clock.advance(s(40 * 60));
    am.resolveCollisions();
    expect(am.pendingCollisions).toBe(1);
    clock.advance(s(1));
    am.resolveCollisions();
    expect(am.info(incoming)?.inTried).toBe(true);
    expect(am.info(occupant)?.inTried).toBe(false);
    am.checkConsistency();
  });

  it('holds at most 10 waiting collisions', () => {
    const { am } = manager(5);
    for (let i = 0; i < 3_000; i++) {
      const a = inGroup(71, 1, i);
      am.add([a], v4Host(120 + (i % 60), 1, 1, 1));
      am.good(a);
    }
    expect(am.pendingCollisions).toBe(10);
    am.checkConsistency();
  });
});

describe('select', () => {
  it('returns nothing from an empty manager, or new-only with no new', () => {
    const { am } = manager();
    expect(am.select()).toBeUndefined();
    const a = v4(1, 2, 3, 4);
    am.add([a], v4Host(9, 9, 9, 9));
    am.good(a);
    expect(am.select(true)).toBeUndefined();
    expect(am.select()?.address).toEqual({ network: 'ipv4', bytes: a.bytes, port: a.port });
  });

  it('draws only from the table that has entries', () => {
    const { am } = manager(2);
    const all = Array.from({ length: 20 }, (_, i) => v4(30 + i, 1, 1, 1));
    am.add(all, v4Host(9, 9, 9, 9));
    for (let i = 0; i < 200; i++) expect(am.select()?.inTried).toBe(false);
    for (const a of all) am.good(a);
    expect(am.triedCount).toBe(20);
    for (let i = 0; i < 200; i++) expect(am.select()?.inTried).toBe(true);
  });

  it('draws tried and new at even odds when both have entries', () => {
    const { am } = manager(9);
    const tried = Array.from({ length: 100 }, (_, i) => v4(30 + i, 1, 1, 1));
    const fresh = Array.from({ length: 100 }, (_, i) => v4(140 + i, 1, 1, 1));
    am.add([...tried, ...fresh], v4Host(9, 9, 9, 9));
    for (const a of tried) am.good(a);
    let inTried = 0;
    const n = 2_000;
    for (let i = 0; i < n; i++) if (am.select()?.inTried) inTried++;
    expect(inTried / n).toBeGreaterThan(0.4);
    expect(inTried / n).toBeLessThan(0.6);
  });

  it('favours addresses with fewer failures and no recent attempt', () => {
    const { am, clock } = manager(4);
    const healthy = Array.from({ length: 10 }, (_, i) => v4(30 + i, 1, 1, 1));
    const failing = Array.from({ length: 10 }, (_, i) => v4(60 + i, 1, 1, 1));
    const recent = Array.from({ length: 10 }, (_, i) => v4(90 + i, 1, 1, 1));
    am.add([...healthy, ...failing, ...recent], v4Host(9, 9, 9, 9));
    for (let i = 0; i < 8; i++) {
      clock.advance(s(1));
      am.good(v4(200, 1, 1, 1)); // a success elsewhere lets the next failure count
      for (const a of failing) am.attempt(a);
    }
    expect(am.info(failing[0] as AdvertisedAddress)?.attempts).toBe(8);
    clock.advance(s(3600));
    for (const a of recent) am.attempt(a, false); // under way now: 1 % chance
    const picks = { healthy: 0, failing: 0, recent: 0 };
    for (let i = 0; i < 2_000; i++) {
      const first = am.select()?.address.bytes[0] as number;
      picks[first < 60 ? 'healthy' : first < 90 ? 'failing' : 'recent']++;
    }
    // 0.66^8 ≈ 3.6 % and 1 %: each wins now and then, the healthy ones most of the time.
    expect(picks.failing).toBeGreaterThan(0);
    expect(picks.recent).toBeGreaterThan(0);
    expect(picks.healthy).toBeGreaterThan(5 * picks.failing);
    expect(picks.failing).toBeGreaterThan(picks.recent);
  });

  it('keeps to the networks asked for', () => {
    const { am } = manager(6);
    const onion: AdvertisedAddress = {
      network: 'onion',
      bytes: new Uint8Array(32).fill(5),
      port: 8333,
      time: T0,
      services: 1n,
    };
    am.add([onion, v4(1, 2, 3, 4), v4(2, 3, 4, 5)], v4Host(9, 9, 9, 9));
    for (let i = 0; i < 50; i++) expect(am.select(false, ['onion'])?.address.network).toBe('onion');
    expect(am.select(false, ['i2p'])).toBeUndefined();
    expect(am.size('onion')).toBe(1);
  });

  it('limited to networks the table barely holds, a pick takes a few draws, not a scan per bucket', () => {
    // Peers filled the new table with onion addresses, which this node cannot
    // dial; it knows a few IPv4 ones. Every select runs on the event loop.
    const { am, clock } = manager(3);
    let draws = 0;
    const random = clock.random.bind(clock);
    clock.random = () => {
      draws++;
      return random();
    };
    am.add([v4(80, 10, 1, 1), v4(80, 11, 1, 1)], v4Host(99, 1, 1, 1));
    const ipv4 = am.size('ipv4');
    expect(ipv4).toBe(2);
    for (let g = 0; g < 16; g++) {
      const batch: AdvertisedAddress[] = [];
      for (let i = 0; i < 2000; i++) {
        const bytes = createHash('sha256').update(`onion ${g} ${i}`).digest();
        batch.push({ network: 'onion', bytes, port: 8333, time: T0, services: 1n });
      }
      am.add(batch, v4Host(11 + g, 7, 1, 1));
    }
    expect(am.size('onion')).toBeGreaterThan(10_000);
    expect(am.size('ipv4')).toBe(ipv4);
    am.checkConsistency();
    draws = 0;
    const picked = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const a = am.select(false, ['ipv4', 'ipv6']);
      expect(a?.address.network).toBe('ipv4');
      picked.add(String(a?.address.bytes[1]));
    }
    expect(picked.size).toBe(ipv4);
    // A bucket, a start and an acceptance draw per try: a handful per pick.
    // Drawn among all occupied buckets, it was hundreds.
    expect(draws / 100).toBeLessThan(20);
  });

  it('is deterministic for a seed', () => {
    const run = (seed: number) => {
      const { am } = manager(seed);
      am.add(
        Array.from({ length: 300 }, (_, i) => inGroup(30 + (i % 7), 1, i)),
        v4Host(9, 9, 9, 9),
      );
      return Array.from({ length: 20 }, () => am.select()?.address.bytes.join('.'));
    };
    expect(run(42)).toEqual(run(42));
    expect(run(42)).not.toEqual(run(43));
  });
});

describe('getAddr', () => {
  function filled(count: number, seed = 1) {
    const { am, clock } = manager(seed);
    for (let i = 0; i < count; i++)
      am.add([inGroup(30 + (i % 150), 1, i)], v4Host(9, i & 0xff, 1, 1));
    return { am, clock };
  }

  it('answers with at most 23 % of the table', () => {
    const { am } = filled(500);
    const got = am.getAddr(1_000, 23);
    expect(got.length).toBe(Math.floor((23 * am.size()) / 100));
    expect(new Set(got.map((a) => a.bytes.join('.'))).size).toBe(got.length);
    for (const a of got) expect(am.info(a)).toBeDefined();
  });

  it('answers with at most 1,000 addresses', () => {
    const { am } = filled(6_000, 2);
    expect(am.size()).toBeGreaterThan(5_000);
    expect(am.getAddr(1_000, 23).length).toBe(1_000);
    expect(am.getAddr(0, 0).length).toBe(am.size());
  });

  it('leaves out terrible addresses unless asked, and keeps to a network class', () => {
    const { am } = manager();
    for (let i = 0; i < 50; i++) {
      am.add([{ ...v4(30 + i, 1, 1, 1), time: T0 - 31 * DAY }], v4Host(9, i, 1, 1));
      am.add([v4(90 + i, 1, 1, 1)], v4Host(9, 100 + i, 1, 1));
    }
    // (A rare bucket collision may drop one: count what is there.)
    const all = am.getAddr(0, 0, undefined, false);
    expect(all.length).toBe(am.size());
    const fresh = all.filter((a) => a.time === T0).length;
    expect(fresh).toBeGreaterThanOrEqual(45);
    expect(all.length - fresh).toBeGreaterThanOrEqual(40);
    const got = am.getAddr(0, 0);
    expect(got.length).toBe(fresh);
    expect(got.every((a) => a.time === T0)).toBe(true);
    expect(am.getAddr(0, 0, 'ipv6').length).toBe(0);
    expect(am.getAddr(0, 0, 'ipv4').length).toBe(fresh);
    expect(() => am.getAddr(-1, 23)).toThrow(RangeError);
  });
});

describe('consistency', () => {
  it('notices a broken index', () => {
    const { am } = manager();
    am.add([v4(1, 2, 3, 4)], v4Host(9, 9, 9, 9));
    am.checkConsistency();
    const inside = am as unknown as { newTable: Int32Array };
    const slot = inside.newTable.findIndex((id) => id !== -1);
    inside.newTable[slot] = -1;
    expect(() => am.checkConsistency()).toThrow(AddrManConsistencyError);
  });

  // Two /16s of 64 hosts on two ports: few enough that tried collisions happen.
  const address = fc
    .record({
      group: fc.integer({ min: 0, max: 1 }),
      host: fc.integer({ min: 0, max: 63 }),
      port: fc.integer({ min: 0, max: 1 }),
      age: fc.integer({ min: -900, max: 40 * DAY }),
    })
    .map((r) => ({ ...inGroup(30 + r.group, 7, r.host, 8333 + r.port), time: T0 - r.age }));
  /** An index into the addresses heard of so far (most ops act on known ones). */
  const known = fc.nat();
  const op = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant('add' as const),
        addresses: fc.array(address, { maxLength: 40, size: 'medium' }),
        source: fc.integer({ min: 0, max: 5 }),
        penalty: fc.integer({ min: 0, max: 7200 }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        op: fc.constant('good' as const),
        picks: fc.array(known, { minLength: 1, maxLength: 30 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('attempt' as const),
        pick: known,
        count: fc.boolean(),
      }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('connected' as const), pick: known }) },
    {
      weight: 2,
      arbitrary: fc.record({
        op: fc.constant('advance' as const),
        seconds: fc.oneof(
          fc.integer({ min: 0, max: 120 }),
          fc.integer({ min: 0, max: 6 * 3600 }),
          fc.integer({ min: 0, max: 10 * DAY }),
        ),
      }),
    },
    {
      weight: 1,
      arbitrary: fc.record({ op: fc.constant('select' as const), newOnly: fc.boolean() }),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('getAddr' as const) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('resolve' as const) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('collision' as const) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('roundtrip' as const) }) },
  );

  it('holds every index after any sequence of operations', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 }),
        fc.array(op, { minLength: 10, maxLength: 150, size: 'max' }),
        (seed, ops) => {
          const clock = new ManualClock({ seed });
          const am = new AddressManager({ clock });
          const heard: AdvertisedAddress[] = [];
          const pick = (i: number) => heard[i % heard.length] as AdvertisedAddress;
          for (const o of ops) {
            switch (o.op) {
              case 'add':
                heard.push(...o.addresses);
                am.add(o.addresses, v4Host(40 + o.source, 1, 1, 1), o.penalty);
                break;
              case 'good':
                for (const p of o.picks) if (heard.length) am.good(pick(p));
                break;
              case 'attempt':
                if (heard.length) am.attempt(pick(o.pick), o.count);
                break;
              case 'connected':
                if (heard.length) am.connected(pick(o.pick));
                break;
              case 'advance':
                clock.advance(s(o.seconds));
                break;
              case 'select': {
                const pick = am.select(o.newOnly);
                if (pick) expect(am.info(pick.address)).toBeDefined();
                break;
              }
              case 'getAddr':
                for (const a of am.getAddr(1_000, 23)) expect(am.info(a)).toBeDefined();
                break;
              case 'resolve':
                am.resolveCollisions();
                break;
              case 'collision': {
                const occupant = am.selectTriedCollision();
                if (occupant) expect(am.info(occupant.address)?.inTried).toBe(true);
                break;
              }
              case 'roundtrip': {
                const back = deserializeAddressManager(serializeAddressManager(am), { clock });
                expect(back.lost).toBe(0);
                expect(back.manager.exportState()).toEqual(am.exportState());
                break;
              }
            }
            am.checkConsistency();
          }
          // Every netgroup reaches at most 8 tried buckets.
          const byGroup = new Map<string, Set<number>>();
          for (const e of am.entries(true)) {
            const g = netGroupKey(e.info.address);
            byGroup.set(g, (byGroup.get(g) ?? new Set()).add(e.bucket));
          }
          for (const buckets of byGroup.values()) expect(buckets.size).toBeLessThanOrEqual(8);
        },
      ),
      { numRuns: 40 },
    );
  });
});
