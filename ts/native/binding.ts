// Loads the native addon. The napi-generated loader picks the local build or the
// prebuilt per-platform package for this OS, CPU and libc.
import { createRequire } from 'node:module';
import type * as Binding from '../../native/index.cjs';

const require = createRequire(import.meta.url);

export const native: typeof Binding = require('../../native/index.cjs');
export type {
  BroadcastResult,
  EventBatch,
  NativeEngine,
  NativeEngineOptions,
  NativeLimits,
  NativePeerInfo,
} from '../../native/index.cjs';
