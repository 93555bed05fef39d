import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MMAP_THRESHOLD,
  mmapThresholdFromEnvironment,
  pinMmapThreshold,
} from '../../ts/native/allocator.js';
import { platformTarget } from '../../ts/native/binding.js';

const glibc = platformTarget().endsWith('-gnu');

describe('pinMmapThreshold', () => {
  it(`is applied where the C library is glibc (here: ${glibc ? 'yes' : 'no'})`, () => {
    expect(pinMmapThreshold()).toBe(glibc);
    expect(pinMmapThreshold(DEFAULT_MMAP_THRESHOLD * 2)).toBe(glibc);
    // Back to 128 KiB (each test file runs in a process of its own).
    expect(pinMmapThreshold(DEFAULT_MMAP_THRESHOLD)).toBe(glibc);
  });

  it('throws a RangeError for what is not a sane byte count, before the addon can wrap it', () => {
    for (const bad of [2 ** 32, 2 ** 32 + 131_072, Number.NaN, 1.5, 0, -1, 64 * 1024 * 1024]) {
      expect(() => pinMmapThreshold(bad)).toThrow(RangeError);
    }
  });

  it('leaves a threshold the operator set in the environment alone', () => {
    expect(mmapThresholdFromEnvironment({})).toBe(false);
    expect(mmapThresholdFromEnvironment({ MALLOC_MMAP_THRESHOLD_: '1048576' })).toBe(true);
    expect(
      mmapThresholdFromEnvironment({ GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=262144' }),
    ).toBe(true);
    expect(mmapThresholdFromEnvironment({ GLIBC_TUNABLES: 'glibc.malloc.arena_max=2' })).toBe(
      false,
    );
  });
});
