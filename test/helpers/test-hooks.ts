// The native engine's test hooks (forced panics), reached past
// NativeTransport: they exist only in addons built with the `test-hooks`
// cargo feature and are no part of the public API.
import type { NativeTransport } from '../../ts/native/transport.js';

type Hook = 'debugPanicPeer' | 'debugPanicNow';

/** Calls a test hook on the transport's native engine; throws if the build has none. */
export function testHook(transport: NativeTransport, name: Hook, ...args: number[]): void {
  const engine = (transport as unknown as { engine: Record<string, unknown> }).engine;
  const hook = engine[name];
  if (typeof hook !== 'function') {
    throw new Error(`${name}: this addon was built without the test-hooks feature`);
  }
  hook.apply(engine, args);
}
