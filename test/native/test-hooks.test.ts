// Panic containment, through the test hooks of builds with the `test-hooks`
// cargo feature (`npm run build:native`, what `npm test` runs on). Release
// binaries are built without them: their test jobs set
// PEERWIRE_EXPECT_TEST_HOOKS=0, and then this file checks that the hooks are
// really absent from what is published.
import { afterEach, describe, expect, it } from 'vitest';
import { connectedPair, Recorder } from '../helpers/recorder.js';
import { testHook } from '../helpers/test-hooks.js';
import { u64 } from '../helpers/wire.js';

const open: Recorder[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.transport.close()));
});

const hooksExpected = process.env.PEERWIRE_EXPECT_TEST_HOOKS !== '0';

describe('native panics never reach Node', () => {
  it('a panic inside a native call becomes a JavaScript error', async () => {
    const r = new Recorder();
    open.push(r);
    if (!hooksExpected) {
      // A release binary: the hook is absent, and says so.
      expect(() => testHook(r.transport, 'debugPanicNow')).toThrow(
        /without the test-hooks feature/,
      );
      return;
    }
    expect(() => testHook(r.transport, 'debugPanicNow')).toThrow(
      /panic requested through debugPanicNow/,
    );
    // The engine still works afterwards.
    expect(r.transport.listen('127.0.0.1', 0).port).toBeGreaterThan(0);
  });

  it('a panic in one connection task disconnects that peer only', async () => {
    const a = await connectedPair();
    const b = await connectedPair();
    open.push(a.server, a.client, b.server, b.client);
    if (!hooksExpected) {
      expect(() => testHook(a.client.transport, 'debugPanicPeer', a.out)).toThrow(
        /without the test-hooks feature/,
      );
      return;
    }
    testHook(a.client.transport, 'debugPanicPeer', a.out);
    const ev = await a.client.event('disconnected', (e) => e.peer === a.out);
    expect(ev.reason).toBe('internal');
    expect(ev.detail).toMatch(/panicked/);
    b.client.transport.send(b.out, 'ping', u64(5));
    await b.server.until('ping on the other pair', () => b.server.frames.length === 1);
  });
});
