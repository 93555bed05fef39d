// Small sends are staged in JavaScript and handed to the addon once per turn
// (ts/native/staged.ts). What `send` reports must still be exactly what the
// queue did, and every peer's messages must arrive in the order they were sent,
// whichever path each took.
import { afterEach, describe, expect, it } from 'vitest';
import { connectedPair } from '../helpers/recorder.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function pair(options: Parameters<typeof connectedPair>[0] = {}) {
  const p = await connectedPair(options);
  cleanups.push(
    () => p.client.transport.close(),
    () => p.server.transport.close(),
  );
  return p;
}

/** A payload of `size` bytes that starts with `n`. */
function numbered(n: number, size: number): Buffer {
  const b = Buffer.alloc(size, 0xab);
  b.writeUInt32LE(n);
  return b;
}

const FRAME = 24 + 100;

describe('native transport: staged sends', () => {
  it('report queued, backpressure and full at exactly the bytes the queue would', async () => {
    // Limits that land exactly on frame boundaries, where an off-by-one shows.
    const pause = 80 * FRAME;
    const max = 160 * FRAME;
    const { server, client, out, inbound } = await pair({
      limits: { sendPauseBytes: pause, sendMaxBytes: max },
    });
    // One synchronous turn: nothing is written meanwhile (64 KiB corked is the
    // point where writing starts early), so the queue only fills.
    const results = Array.from({ length: 300 }, (_, i) =>
      client.transport.send(out, 'tx', numbered(i, 100)),
    );
    const expected = results.map((_, i) => {
      const after = (i + 1) * FRAME;
      if (after > max) return 'full';
      return after >= pause ? 'backpressure' : 'queued';
    });
    expect(results).toEqual(expected);

    const accepted = expected.filter((r) => r !== 'full').length;
    await server.until('every accepted message', () => server.frames.length === accepted);
    const order = server.framesFrom(inbound).map((f) => f.payload.readUInt32LE());
    expect(order).toEqual(Array.from({ length: accepted }, (_, i) => i));
  });

  it('keep each peer in send order across send, sendMany, broadcast, large payloads and turns', async () => {
    const { server, client, out, inbound, port } = await pair();
    const second = client.transport.connect(`127.0.0.1:${port}`);
    await client.event('connected', (e) => e.peer === second);

    let n = 0;
    const sent = new Map<number, number[]>([
      [out, []],
      [second, []],
    ]);
    const send = (peer: number, size = 40) => {
      sent.get(peer)?.push(n);
      expect(client.transport.send(peer, 'tx', numbered(n++, size))).toBe('queued');
    };
    for (let turn = 0; turn < 3; turn++) {
      send(out);
      send(second);
      send(out);
      const many = [n, n + 1];
      const data = Buffer.concat(many.map((i) => numbered(i, 40)));
      sent.get(out)?.push(...many);
      n += 2;
      expect(client.transport.sendMany(out, 'tx', data, Uint32Array.of(0, 40, 80)).sent).toBe(2);
      send(out);
      send(second, 5_000); // too large to stage: goes straight to the addon
      send(out);
      sent.get(out)?.push(n);
      sent.get(second)?.push(n);
      client.transport.broadcast('tx', numbered(n++, 40), [out, second]);
      send(second);
      send(out, 8);
      await new Promise((r) => setImmediate(r));
    }
    const total = [...sent.values()].reduce((a, b) => a + b.length, 0);
    await server.until('every message', () => server.frames.length === total);
    const byRemote = new Map<number, number[]>();
    for (const f of server.frames) {
      const list = byRemote.get(f.peer) ?? [];
      list.push(f.payload.readUInt32LE());
      byRemote.set(f.peer, list);
    }
    expect(byRemote.get(inbound)).toEqual(sent.get(out));
    const other = [...byRemote.keys()].find((p) => p !== inbound) as number;
    expect(byRemote.get(other)).toEqual(sent.get(second));
  });

  it('refuse sends to a peer being disconnected and to a closed transport', async () => {
    const { client, out } = await pair();
    expect(client.transport.send(out, 'tx', numbered(0, 8))).toBe('queued');
    // The peer now has credit; staged sends must not outlive the disconnect.
    expect(client.transport.send(out, 'tx', numbered(1, 8))).toBe('queued');
    expect(client.transport.disconnect(out, 'test')).toBe(true);
    // The addon answers (closed, or unknown once the link is gone), not the credit.
    expect(['closed', 'unknown-peer']).toContain(client.transport.send(out, 'tx', numbered(2, 8)));
    expect(client.transport.send(out + 1000, 'tx', numbered(3, 8))).toBe('unknown-peer');
  });

  it('after close(), sends to a peer that had credit are refused', async () => {
    const { client, out } = await pair();
    expect(client.transport.send(out, 'tx', numbered(0, 8))).toBe('queued');
    const closing = client.transport.close();
    expect(client.transport.send(out, 'tx', numbered(1, 8))).not.toBe('queued');
    await closing;
  });

  it('the addon refuses a malformed staged batch whole, with a clear error', async () => {
    const { server, client, out, inbound } = await pair();
    const engine = Reflect.get(client.transport, 'engine') as {
      registerCommand(name: string): number;
      sendStaged(meta: Uint32Array, data: Uint8Array): number;
    };
    const tx = engine.registerCommand('tx');
    const data = Buffer.concat([numbered(0, 8), numbered(1, 8)]);
    expect(() => engine.sendStaged(Uint32Array.of(out, tx), data)).toThrow(/threes/);
    expect(() => engine.sendStaged(Uint32Array.of(out, tx, 8, out, 999, 8), data)).toThrow(
      /command id 999 was never registered/,
    );
    expect(() => engine.sendStaged(Uint32Array.of(out, tx, 8, out, tx, 9), data)).toThrow(
      /staged payloads of 17 bytes exceed data of 16 bytes/,
    );
    // None of those queued anything; a good batch after them arrives alone.
    expect(engine.sendStaged(Uint32Array.of(out, tx, 8, out + 1000, tx, 8), data)).toBe(1);
    client.transport.send(out, 'tx', numbered(2, 8));
    await server.until('two messages', () => server.framesFrom(inbound).length === 2);
    await new Promise((r) => setTimeout(r, 50));
    expect(server.framesFrom(inbound).map((f) => f.payload.readUInt32LE())).toEqual([0, 2]);
  });

  it('stage: a burst of small sends costs one native send and one hand-over', async () => {
    const { server, client, out } = await pair();
    const engine = Reflect.get(client.transport, 'engine') as Record<string, unknown>;
    const calls = { sendCommand: 0, sendStaged: 0 };
    for (const name of Object.keys(calls) as Array<keyof typeof calls>) {
      const original = engine[name] as (...args: unknown[]) => unknown;
      engine[name] = (...args: unknown[]) => {
        calls[name]++;
        return original.apply(engine, args);
      };
    }
    for (let i = 0; i < 100; i++) client.transport.send(out, 'tx', numbered(i, 8));
    expect(calls).toEqual({ sendCommand: 1, sendStaged: 0 });
    await server.until('every message', () => server.frames.length === 100);
    expect(calls).toEqual({ sendCommand: 1, sendStaged: 1 });
  });

  it('a close on the I/O side stops the credit before its event reaches JavaScript', async () => {
    const { server, client, out, inbound } = await pair();
    expect(client.transport.send(out, 'tx', numbered(0, 8))).toBe('queued');
    expect(client.transport.send(out, 'tx', numbered(1, 8))).toBe('queued');
    server.transport.disconnect(inbound, 'test');
    // Block this thread: the client's I/O thread sees the hang-up and closes
    // the queue, but no event can be handled here meanwhile.
    const until = Date.now() + 300;
    while (Date.now() < until && client.transport.peerInfo(out) !== null) {
      // spin
    }
    expect(client.events.some((e) => e.type === 'disconnected')).toBe(false);
    expect(['closed', 'unknown-peer']).toContain(client.transport.send(out, 'tx', numbered(2, 8)));
  });

  it('new limits drop the credit given under the old ones', async () => {
    const { client, out } = await pair();
    expect(client.transport.send(out, 'tx', numbered(0, 100))).toBe('queued');
    // The credit now covers thousands of these; the new pause point covers two.
    client.transport.setLimits({ sendPauseBytes: 3 * FRAME });
    expect(client.transport.send(out, 'tx', numbered(1, 100))).toBe('queued');
    expect(client.transport.send(out, 'tx', numbered(2, 100))).toBe('backpressure');
  });

  it('a flushing disconnect writes the staged messages first', async () => {
    const { server, client, out, inbound } = await pair();
    for (let i = 0; i < 50; i++) client.transport.send(out, 'tx', numbered(i, 8));
    client.transport.disconnect(out, 'done', { flush: true });
    await server.event('disconnected', (e) => e.peer === inbound);
    expect(server.framesFrom(inbound).map((f) => f.payload.readUInt32LE())).toEqual(
      Array.from({ length: 50 }, (_, i) => i),
    );
  });
});
