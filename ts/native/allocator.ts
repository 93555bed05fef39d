// A process-wide allocator setting for nodes that take floods of large
// messages (see crates/napi/src/allocator.rs for the why).
import { native } from './binding.js';

/** glibc's mmap threshold at start, which it raises as large blocks are freed. */
export const DEFAULT_MMAP_THRESHOLD = 128 * 1024;

/**
 * Fixes glibc malloc's mmap threshold for the whole process (Linux with
 * glibc; elsewhere it does nothing and returns false), so large buffers freed
 * after a flood of large messages go back to the system instead of staying
 * resident. `peerwire node` calls it at start; a long-running process of
 * yours that serves untrusted peers may too. Costs an mmap and page faults per
 * large buffer.
 */
export function pinMmapThreshold(bytes = DEFAULT_MMAP_THRESHOLD): boolean {
  return native.pinMmapThreshold(bytes);
}
