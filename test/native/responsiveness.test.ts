// Under any inbound load the event loop keeps turning: batches are bounded and
// the transport comes back for more only after timers and I/O have had a turn.
// (Before, one wake-up could run a thousand batches back to back: a timer in a
// flooded node did not fire for 9.8 s.) The bound below is a liveness bound,
// many times what it takes; nothing here measures speed.
import { type Socket, connect as tcpConnect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Recorder } from '../helpers/recorder.js';
import { frame, u64 } from '../helpers/wire.js';

const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function flooder(port: number): Socket {
  const socket = tcpConnect(port, '127.0.0.1');
  const chunk = Buffer.concat(Array.from({ length: 2_000 }, (_, i) => frame('inv', u64(i))));
  const pump = () => {
    while (!socket.destroyed) {
      if (!socket.write(chunk)) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  socket.on('error', () => {});
  socket.on('connect', pump);
  cleanups.push(() => socket.destroy());
  return socket;
}

describe('event loop under an inbound flood', () => {
  it('timers keep firing while slow handlers work through a flood from 8 peers', async () => {
    const receiver = new Recorder({
      limits: {
        preHandshakeRecvBudgetBytes: 5_000_000,
        preHandshakeMaxPayload: 4_000_000,
      },
    });
    cleanups.push(() => receiver.transport.close());
    // A handler that costs real time per message, as decoding and validating does.
    let handled = 0;
    receiver.transport.setHandlers({
      onFrame: () => {
        handled++;
        const end = performance.now() + 0.02;
        while (performance.now() < end) {}
      },
    });
    const { port } = receiver.transport.listen('127.0.0.1', 0);
    for (let i = 0; i < 8; i++) flooder(port);

    let last = performance.now();
    let worstGap = 0;
    const ticker = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
    }, 10);
    cleanups.push(() => clearInterval(ticker));
    await new Promise((r) => setTimeout(r, 3_000));
    clearInterval(ticker);

    expect(handled).toBeGreaterThan(10_000); // the flood really was being handled
    expect(worstGap).toBeLessThan(2_000);
    console.log(`handled ${handled} frames; longest timer gap ${worstGap.toFixed(0)} ms`);
  });
});
