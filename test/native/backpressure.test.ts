// Slow readers on either side: bounded memory and a clear signal.
import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Recorder } from '../helpers/recorder.js';
import { waitUntil } from '../helpers/wait.js';
import { frame, u64 } from '../helpers/wire.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A plain TCP server whose sockets never read until told to. */
async function stalledServer() {
  const sockets: Socket[] = [];
  const server = createServer((s) => {
    s.pause();
    sockets.push(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  cleanups.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return { port, sockets };
}

function spin(ms: number) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    // Block the JS thread on purpose: the engine cannot deliver while we spin.
  }
}

describe('native transport: backpressure', () => {
  it('a peer that stops reading gets backpressure, then full, with memory bounded; writable fires when it drains', async () => {
    const { port, sockets } = await stalledServer();
    const limits = { sendPauseBytes: 200_000, sendMaxBytes: 1_000_000 };
    const sender = new Recorder({ limits });
    cleanups.push(() => sender.transport.close());
    const peer = sender.transport.connect(`127.0.0.1:${port}`);
    await sender.event('connected', (e) => e.peer === peer);

    const payload = Buffer.alloc(50_000, 1);
    const results: string[] = [];
    for (let i = 0; i < 10_000; i++) {
      const r = sender.transport.send(peer, 'block', payload);
      results.push(r);
      if (r === 'full') break;
    }
    expect(results[0]).toBe('queued');
    expect(results).toContain('backpressure');
    expect(results.at(-1)).toBe('full');
    // Kernel buffers absorb some; our queue never passes its hard limit.
    const queued = sender.transport.peerInfo(peer)?.sendQueueBytes ?? 0;
    expect(queued).toBeGreaterThan(0);
    expect(queued).toBeLessThanOrEqual(limits.sendMaxBytes);
    expect(sender.events.some((e) => e.type === 'writable')).toBe(false);

    // The other side starts reading: the queue drains and writable arrives once.
    await waitUntil('socket accepted', () => sockets.length === 1);
    for (const s of sockets) {
      s.on('data', () => {});
      s.resume();
    }
    await sender.event('writable', (e) => e.peer === peer);
    expect(sender.transport.send(peer, 'block', payload)).toBe('queued');
  });

  it('a stalled peer does not hold up the others', async () => {
    const { port: stalledPort } = await stalledServer();
    const receiver = new Recorder();
    const sender = new Recorder({
      limits: { sendPauseBytes: 100_000, sendMaxBytes: 400_000 },
      flushTimeoutMs: 200,
    });
    cleanups.push(
      () => sender.transport.close(),
      () => receiver.transport.close(),
    );
    const { port } = receiver.transport.listen('127.0.0.1', 0);
    const stalled = sender.transport.connect(`127.0.0.1:${stalledPort}`);
    const healthy = sender.transport.connect(`127.0.0.1:${port}`);
    await sender.until(
      'both connected',
      () => sender.events.filter((e) => e.type === 'connected').length === 2,
    );

    const payload = Buffer.alloc(20_000, 2);
    while (sender.transport.send(stalled, 'block', payload) !== 'full') {}
    for (let i = 0; i < 200; i++) sender.transport.send(healthy, 'block', payload);
    await receiver.until('healthy peer got all', () => receiver.frames.length === 200);
  });

  it.each([
    ['the receive budget', { recvBudgetBytes: 100_000, preHandshakeRecvBudgetBytes: 100_000 }],
    ['the smaller budget before the handshake', { recvBudgetBytes: 5_000_000 }],
  ] as Array<[string, { recvBudgetBytes: number; preHandshakeRecvBudgetBytes?: number }]>)(
    'stops reading a peer whose input waits for JS, keeping memory near %s',
    async (_, limits) => {
      const recvBudgetBytes = limits.preHandshakeRecvBudgetBytes ?? 65_536;
      const receiver = new Recorder({ limits });
      cleanups.push(() => receiver.transport.close());
      const { port } = receiver.transport.listen('127.0.0.1', 0);

      // A raw flooder: valid frames as fast as the socket takes them.
      const flood = tcpConnect(port, '127.0.0.1');
      cleanups.push(() => {
        flood.destroy();
      });
      const chunk = Buffer.concat(Array.from({ length: 1_000 }, (_, i) => frame('ping', u64(i))));
      let writesRefused = false;
      const pump = () => {
        while (!flood.destroyed) {
          if (!flood.write(chunk)) {
            writesRefused = true;
            flood.once('drain', pump);
            return;
          }
        }
      };
      flood.on('error', () => {});
      flood.on('connect', pump);

      const accepted = await receiver.event('accepted');
      let pendingWhileBlocked = -1;
      receiver.onFrame = () => {
        if (pendingWhileBlocked !== -1) return;
        // The first frame: hold the JS thread so nothing is consumed for a while.
        spin(400);
        // Counted from receipt: waiting for JS, or buffered toward the next frame.
        const info = receiver.transport.peerInfo(accepted.peer);
        pendingWhileBlocked = (info?.recvPendingBytes ?? 0) + (info?.readBufferedBytes ?? 0);
      };
      await receiver.until('blocked once', () => pendingWhileBlocked !== -1);
      // Paused past the budget by one wake at most: its read (64 KiB) and the
      // 64-byte holding cost of each frame it parsed (1,024 at most).
      expect(pendingWhileBlocked).toBeGreaterThanOrEqual(recvBudgetBytes);
      expect(pendingWhileBlocked).toBeLessThanOrEqual(recvBudgetBytes + 64 * 1024 + 1024 * 64);
      // ...so the flooder's socket filled up and it had to wait.
      await waitUntil('flooder blocked', () => writesRefused);
      // Once JS catches up, reading resumes and frames keep coming.
      const seen = receiver.frames.length;
      await receiver.until('more frames', () => receiver.frames.length > seen + 10_000);
    },
  );
});
