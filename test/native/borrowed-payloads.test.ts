// Borrowed payloads: every payload is a view into one buffer the transport
// reuses, valid while its handler runs; what arrives is still every byte sent.
import { afterEach, describe, expect, it } from 'vitest';
import { Engine, NativeTransport, type NativeTransportOptions } from '../../ts/index.js';
import { REGTEST_MAGIC } from '../helpers/wire.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

interface Seen {
  copy: Buffer;
  /** The memory the handler was given (not kept past the test's checks). */
  arrayBuffer: ArrayBufferLike;
}

/** A sender and a receiver with borrowed payloads, connected. */
async function borrowedPair(
  options: Partial<NativeTransportOptions> = {},
  also: (payload: Buffer, index: number) => void = () => {},
) {
  const seen: Seen[] = [];
  let settle = () => {};
  const receiver = new NativeTransport(
    // No handshake here: lift the pre-handshake payload limit instead.
    {
      magic: REGTEST_MAGIC,
      payloads: 'borrowed',
      limits: { preHandshakeMaxPayload: 4_000_000 },
      ...options,
    },
    {
      onFrame: (_peer, _command, payload) => {
        seen.push({ copy: Buffer.from(payload), arrayBuffer: payload.buffer });
        also(payload, seen.length - 1);
        settle();
      },
    },
  );
  let connected = () => {};
  const up = new Promise<void>((r) => {
    connected = r;
  });
  const sender = new NativeTransport(
    { magic: REGTEST_MAGIC },
    { onEvent: (e) => e.type === 'connected' && connected() },
  );
  cleanups.push(
    () => sender.close(),
    () => receiver.close(),
  );
  const { port } = receiver.listen('127.0.0.1', 0);
  const peer = sender.connect(`127.0.0.1:${port}`);
  await up;
  const received = (count: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${seen.length} of ${count} frames`)),
        20_000,
      );
      settle = () => {
        if (seen.length >= count) {
          clearTimeout(timer);
          resolve();
        }
      };
      settle();
    });
  return { sender, receiver, peer, seen, received };
}

const filled = (size: number, seed: number) => {
  const b = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
};

describe('borrowed payloads', () => {
  it('deliver every byte of payloads of every size, in order', async () => {
    const { sender, peer, seen, received } = await borrowedPair();
    const sizes = [0, 1, 8, 300, 70_000, 1_000_000, 5, 2_000_000, 0, 64 * 1024, 12];
    const sent = sizes.map((size, i) => filled(size, i));
    for (const payload of sent) sender.send(peer, 'block', payload);
    await received(sent.length);
    expect(seen.map((s) => s.copy.length)).toEqual(sizes);
    for (let i = 0; i < sent.length; i++) {
      expect(seen[i]?.copy.equals(sent[i] as Buffer), `payload ${i}`).toBe(true);
    }
  });

  it('reuse one buffer across batches, grown to the largest batch', async () => {
    const { sender, peer, seen, received } = await borrowedPair();
    // Past the first size: delivered in a buffer of its own, then room is made.
    sender.send(peer, 'block', filled(1_000_000, 1));
    await received(1);
    sender.send(peer, 'block', filled(1_000_000, 2));
    await received(2);
    sender.send(peer, 'tx', filled(200, 3));
    await received(3);
    sender.send(peer, 'tx', filled(10, 4));
    await received(4);
    const [first, second, third, fourth] = seen as [Seen, Seen, Seen, Seen];
    // Compared as booleans: a failed toBe would print megabytes of buffer.
    expect(first.arrayBuffer === second.arrayBuffer).toBe(false);
    expect(second.arrayBuffer.byteLength).toBeGreaterThanOrEqual(1_000_000);
    expect(third.arrayBuffer === second.arrayBuffer, 'a small payload after growth').toBe(true);
    expect(fourth.arrayBuffer === second.arrayBuffer, 'the next batch').toBe(true);
    expect(second.copy.equals(filled(1_000_000, 2))).toBe(true);
    expect(fourth.copy.equals(filled(10, 4))).toBe(true);
  });

  it('survive a batch handled in slices: nothing is overwritten before its handler runs', async () => {
    // The first handler outlasts a slice (10 ms), so the rest of its batch
    // waits for the event loop's next turn while more frames arrive.
    const { sender, peer, seen, received } = await borrowedPair({}, (_payload, index) => {
      if (index % 500 === 0) {
        const until = performance.now() + 15;
        while (performance.now() < until) {}
      }
    });
    const sent = Array.from({ length: 3000 }, (_, i) => filled(100 + (i % 200), i));
    for (let i = 0; i < sent.length; i++) {
      sender.send(peer, 'tx', sent[i] as Buffer);
      // Spread over several turns, so batches keep arriving during the slices.
      if (i % 250 === 249) await new Promise((r) => setImmediate(r));
    }
    await received(sent.length);
    const wrong = sent.findIndex((p, i) => !seen[i]?.copy.equals(p));
    expect(wrong).toBe(-1);
  });

  it('carry on when a handler transfers the shared buffer away', async () => {
    const { sender, peer, seen, received } = await borrowedPair({}, (payload, index) => {
      if (index === 1) structuredClone(payload.buffer, { transfer: [payload.buffer] });
    });
    const sent = [filled(10, 1), filled(20, 2), filled(0, 3), filled(300_000, 4), filled(30, 5)];
    for (const payload of sent) {
      sender.send(peer, 'tx', payload);
      // One batch each: the transfer happens while the second is handled.
      await received(seen.length + 1);
    }
    expect(seen.map((s) => s.copy.length)).toEqual(sent.map((p) => p.length));
    for (let i = 0; i < sent.length; i++) {
      expect(seen[i]?.copy.equals(sent[i] as Buffer), `payload ${i}`).toBe(true);
    }
  });

  it('an Engine refuses a transport whose payloads are borrowed', () => {
    const transport = new NativeTransport({ magic: REGTEST_MAGIC, payloads: 'borrowed' });
    cleanups.push(() => transport.close());
    expect(transport.payloadsBorrowed).toBe(true);
    expect(() => new Engine({ network: 'regtest', transport })).toThrow(/owned payloads/);
  });

  it('refuses an unknown payloads mode', () => {
    expect(
      () =>
        new NativeTransport({
          magic: REGTEST_MAGIC,
          payloads: 'lent' as unknown as 'borrowed',
        }),
    ).toThrow(/payloads must be 'owned' or 'borrowed'/);
  });
});
