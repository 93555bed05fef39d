// Loads the native addon, lazily: importing peerwire (or running `peerwire
// --help`) must work on a machine where the addon cannot load, and then say why.
// The napi-generated loader (native/index.cjs) tries the local build
// native/peerwire.<target>.node first, then the per-platform package
// peerwire-<target>; its own error blames npm, so this one says what is missing.
import { createRequire } from 'node:module';
import type * as Binding from '../../native/index.cjs';

const require = createRequire(import.meta.url);

/** The addon cannot be loaded on this machine; the message says what was looked for. */
export class NativeAddonError extends Error {
  override readonly name = 'NativeAddonError';
}

/** napi-rs's name for this machine's target: linux-x64-gnu, darwin-arm64, win32-x64-msvc… */
export function platformTarget(): string {
  const base = `${process.platform}-${process.arch}`;
  if (process.platform === 'win32') return `${base}-msvc`;
  if (process.platform !== 'linux') return base;
  const report = process.report?.getReport() as { header?: { glibcVersionRuntime?: string } };
  return `${base}-${report?.header?.glibcVersionRuntime ? 'gnu' : 'musl'}`;
}

/** What each attempt of the generated loader failed with, one short line each. */
function loadFailures(err: unknown): string[] {
  const lines: string[] = [];
  for (let e = (err as Error | undefined)?.cause; e && lines.length < 8; ) {
    const first = String((e as Error).message ?? e).split('\n')[0] as string;
    lines.push(first);
    e = (e as Error).cause;
  }
  return lines;
}

function describeFailure(err: unknown): string {
  const target = platformTarget();
  const tried = loadFailures(err).filter((line) => !line.includes('wasi'));
  return [
    `the peerwire native addon could not be loaded for ${target} (Node ${process.version}).`,
    `Looked for native/peerwire.${target}.node in the peerwire package and for the package peerwire-${target}.`,
    tried.length > 0
      ? `Attempts: ${tried.join('; ')}.`
      : `Loader error: ${String((err as Error)?.message ?? err).split('\n')[0]}.`,
    `Fix: reinstall peerwire with optional dependencies (not --omit=optional), which brings peerwire-${target} where it is published;` +
      ` otherwise build the addon from source: install Rust (https://rustup.rs) and run "npm run build:native" in a checkout of peerwire.`,
  ].join(' ');
}

let loaded: typeof Binding | undefined;
let failure: NativeAddonError | undefined;

/** The addon; throws NativeAddonError (once per call, same message) when it cannot load. */
export function loadNative(): typeof Binding {
  if (loaded) return loaded;
  if (!failure) {
    try {
      loaded = require('../../native/index.cjs') as typeof Binding;
      return loaded;
    } catch (err) {
      failure = new NativeAddonError(describeFailure(err), { cause: err });
    }
  }
  throw failure;
}

/** Why the addon cannot load, or undefined when it loads. */
export function nativeLoadError(): NativeAddonError | undefined {
  try {
    loadNative();
    return undefined;
  } catch (err) {
    if (err instanceof NativeAddonError) return err;
    throw err;
  }
}

/**
 * The addon, loaded on first use (a property read) rather than at import. The
 * first read goes through a Proxy prototype that loads the addon and copies its
 * exports onto this object, so every later read is a plain property: the
 * per-frame event loop pays nothing for the laziness.
 */
export const native: typeof Binding = Object.create(
  new Proxy(Object.create(null), {
    get: (_target, key) => {
      const binding = loadNative();
      if (!Object.hasOwn(native, 'NativeEngine')) {
        Object.defineProperties(native, Object.getOwnPropertyDescriptors(binding));
      }
      return Reflect.get(binding, key);
    },
    has: (_target, key) => Reflect.has(loadNative(), key),
  }),
);

export type {
  BlockCheck,
  BlockCheckOutcome,
  BroadcastResult,
  CheckBlockOptions,
  EventBatch,
  MerkleRoot,
  NativeConnectionLimits,
  NativeEngine,
  NativeEngineOptions,
  NativeLimits,
  NativePeerInfo,
  NativeStats,
  SimFaults,
  SimNodeClock,
  SimNodeNotice,
  SimNodeOptions,
  SimSlotCounts,
  SimWorld,
  SimWorldOptions,
} from '../../native/index.cjs';
