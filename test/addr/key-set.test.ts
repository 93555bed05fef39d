// KeySet: the typed-array set behind the per-peer known-address filter.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeySet } from '../../ts/addr/key-set.js';

describe('KeySet', () => {
  it('agrees with a Set on any sequence of adds, lookups and clears', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.record({
              op: fc.constant('add' as const),
              key: fc.integer({ min: 0, max: 2 ** 30 - 1 }),
            }),
            fc.record({ op: fc.constant('add' as const), key: fc.integer({ min: 0, max: 300 }) }),
            fc.record({ op: fc.constant('has' as const), key: fc.integer({ min: 0, max: 300 }) }),
            fc.record({ op: fc.constant('clear' as const), key: fc.constant(0) }),
          ),
          { maxLength: 600 },
        ),
        (ops) => {
          const keys = new KeySet(1000);
          const model = new Set<number>();
          for (const { op, key } of ops) {
            if (op === 'add') {
              keys.add(key);
              model.add(key);
            } else if (op === 'has') {
              expect(keys.has(key)).toBe(model.has(key));
            } else {
              keys.clear();
              model.clear();
            }
            expect(keys.size).toBe(model.size);
          }
          for (const key of model) expect(keys.has(key)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('holds keys 0 and 2^31 - 2, and keys that differ only in their high bits', () => {
    const keys = new KeySet(100);
    const wanted = [0, 2 ** 31 - 2, ...Array.from({ length: 60 }, (_, i) => (i + 1) * 2 ** 24)];
    for (const k of wanted) keys.add(k);
    for (const k of wanted) expect(keys.has(k)).toBe(true);
    expect(keys.has(1)).toBe(false);
    expect(keys.size).toBe(wanted.length);
  });

  it('holds its largest load in a table of a few bytes a key', () => {
    const keys = new KeySet(2500);
    for (let i = 0; i < 2500; i++) keys.add((i * 2654435761) >>> 2);
    expect(keys.size).toBe(2500);
    // 4,096 slots of 4 bytes: 16 KiB for what a Set keeps in about 75.
    const table = (keys as unknown as { slots: Int32Array }).slots;
    expect(table.byteLength).toBe(16 * 1024);
  });
});
