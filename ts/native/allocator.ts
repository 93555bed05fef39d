// A process-wide allocator setting for nodes that take floods of large
// messages (see crates/napi/src/allocator.rs for the why).
import { native } from './binding.js';

/** glibc's mmap threshold at start, which it raises as large blocks are freed. */
export const DEFAULT_MMAP_THRESHOLD = 128 * 1024;
/** What pinMmapThreshold takes: glibc's own floor for the adjustment, and its ceiling on 64-bit. */
export const MIN_MMAP_THRESHOLD = 64 * 1024;
export const MAX_MMAP_THRESHOLD = 32 * 1024 * 1024;

/**
 * The operator set the threshold already (glibc reads these at start):
 * theirs stands.
 */
export function mmapThresholdFromEnvironment(env: NodeJS.ProcessEnv = process.env): boolean {
  return (
    env.MALLOC_MMAP_THRESHOLD_ !== undefined ||
    (env.GLIBC_TUNABLES ?? '').includes('glibc.malloc.mmap_threshold')
  );
}

/**
 * Fixes glibc malloc's mmap threshold for the whole process (Linux with
 * glibc; elsewhere it does nothing and returns false), so large buffers freed
 * after a flood of large messages go back to the system instead of staying
 * resident. `peerwire node` calls it at start (unless MALLOC_MMAP_THRESHOLD_
 * or GLIBC_TUNABLES set the threshold); a long-running process of yours that
 * serves untrusted peers may too. Costs an mmap and page faults per large
 * buffer. Throws a RangeError outside MIN_MMAP_THRESHOLD..MAX_MMAP_THRESHOLD.
 */
export function pinMmapThreshold(bytes = DEFAULT_MMAP_THRESHOLD): boolean {
  // Checked here: the addon takes a u32, and napi wraps other numbers into
  // one (2^32 and NaN would become 0: every allocation an mmap).
  if (!Number.isInteger(bytes) || bytes < MIN_MMAP_THRESHOLD || bytes > MAX_MMAP_THRESHOLD) {
    throw new RangeError(
      `the mmap threshold must be a whole number of bytes from ${MIN_MMAP_THRESHOLD} to ${MAX_MMAP_THRESHOLD}, got ${bytes}`,
    );
  }
  return native.pinMmapThreshold(bytes);
}
