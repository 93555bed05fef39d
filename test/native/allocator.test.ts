import { describe, expect, it } from 'vitest';
import { DEFAULT_MMAP_THRESHOLD, pinMmapThreshold } from '../../ts/native/allocator.js';
import { platformTarget } from '../../ts/native/binding.js';

const glibc = platformTarget().endsWith('-gnu');

describe('pinMmapThreshold', () => {
  it(`is applied where the C library is glibc (here: ${glibc ? 'yes' : 'no'})`, () => {
    expect(pinMmapThreshold()).toBe(glibc);
    expect(pinMmapThreshold(DEFAULT_MMAP_THRESHOLD * 2)).toBe(glibc);
    // Back to the default, for the other tests in this process.
    expect(pinMmapThreshold(DEFAULT_MMAP_THRESHOLD)).toBe(glibc);
  });

  it('refuses a value that is no C int, rather than wrap it', () => {
    expect(pinMmapThreshold(2 ** 32 - 1)).toBe(false);
    expect(pinMmapThreshold(2 ** 31)).toBe(false);
  });
});
