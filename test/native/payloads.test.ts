// Which payloads are views and which are their own: what a handler may keep
// without pinning the memory of a whole batch.
import { inspect, isDeepStrictEqual } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../ts/engine/engine.js';
import type { Peer } from '../../ts/engine/peer.js';
import { connectedPair, type Recorder } from '../helpers/recorder.js';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** The Engine's transport, to send a command no codec knows. */
function transportOf(e: Engine): {
  send(peer: number, command: string, payload: Uint8Array): unknown;
} {
  return (e as unknown as { transport: ReturnType<typeof transportOf> }).transport;
}

async function enginePair(): Promise<{ a: Engine; b: Engine; toB: Peer }> {
  const a = new Engine({ network: 'regtest' });
  const b = new Engine({ network: 'regtest' });
  cleanups.push(
    () => a.close(),
    () => b.close(),
  );
  const { port } = b.listen('127.0.0.1', 0);
  const ready = new Promise<Peer>((resolve) => a.once('handshake', resolve));
  const readyB = new Promise<Peer>((resolve) => b.once('handshake', resolve));
  a.connect(`127.0.0.1:${port}`);
  const [toB] = await Promise.all([ready, readyB]);
  return { a, b, toB };
}

describe('payload ownership', () => {
  it('a small payload view is a Buffer in every way a handler can tell', async () => {
    const { server, client, out } = await connectedPair();
    cleanups.push(
      () => client.transport.close(),
      () => server.transport.close(),
    );
    const seen: Buffer[] = [];
    server.transport.setHandlers({ onFrame: (_peer, _command, payload) => seen.push(payload) });
    client.transport.send(out, 'tx', Buffer.from('00010203deadbeef', 'hex'));
    client.transport.send(out, 'tx', Buffer.from('ff', 'hex'));
    const deadline = Date.now() + 10_000;
    while (seen.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    const [p, q] = seen as [Buffer, Buffer];
    expect(Buffer.isBuffer(p)).toBe(true);
    expect(p).toBeInstanceOf(Buffer);
    expect(p.toString('hex')).toBe('00010203deadbeef');
    expect(p.readUInt32BE(4)).toBe(0xdeadbeef);
    expect(p.equals(Buffer.from('00010203deadbeef', 'hex'))).toBe(true);
    expect(Buffer.compare(q, Buffer.from([0xff]))).toBe(0);
    expect(p.subarray(4)).toBeInstanceOf(Buffer);
    expect(p.subarray(4).toString('hex')).toBe('deadbeef');
    expect(Buffer.concat([p, q]).toString('hex')).toBe('00010203deadbeefff');
    const copy = Buffer.from(p);
    copy[0] = 9;
    expect(p[0]).toBe(0);
    expect(JSON.stringify(q)).toBe('{"type":"Buffer","data":[255]}');
    // Indistinguishable from a Buffer made any other way.
    expect(Object.getPrototypeOf(p)).toBe(Buffer.prototype);
    expect(p.constructor).toBe(Buffer);
    expect(p).toStrictEqual(Buffer.from('00010203deadbeef', 'hex'));
    expect(isDeepStrictEqual(q, Buffer.from([0xff]))).toBe(true);
    expect(inspect(q)).toBe('<Buffer ff>');
  });

  it('small transactions and unknown commands kept by handlers own their bytes', async () => {
    const { a, b, toB } = await enginePair();
    const kept: Uint8Array[] = [];
    const unknown: Uint8Array[] = [];
    b.on('tx', (_peer, { raw }) => kept.push(raw));
    b.on('unknown', (_peer, _command, payload) => unknown.push(payload));
    // A burst, so many messages share one batch buffer on arrival.
    for (let i = 0; i < 200; i++) {
      toB.send({ command: 'tx', payload: { raw: new Uint8Array(250).fill(i) } });
      transportOf(a).send(toB.id, 'xyzzy', new Uint8Array(40).fill(i));
    }
    const deadline = Date.now() + 10_000;
    while ((kept.length < 200 || unknown.length < 200) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
    expect(kept).toHaveLength(200);
    expect(unknown).toHaveLength(200);
    for (const [i, raw] of kept.entries()) {
      expect(raw[0]).toBe(i);
      // Its own memory: keeping it keeps 250 bytes, not the batch.
      expect(raw.buffer.byteLength).toBe(250);
    }
    for (const payload of unknown) expect(payload.buffer.byteLength).toBe(payload.byteLength);
  });

  it('large payloads arrive in buffers of their own; small ones are views of the batch', async () => {
    const { server, client, out, inbound } = await connectedPair();
    // Past the handshake's 32 KiB payload limit.
    server.transport.markHandshakeComplete(inbound);
    client.transport.markHandshakeComplete(out);
    cleanups.push(
      () => server.transport.close(),
      () => client.transport.close(),
    );
    const seen: Array<{ length: number; backing: number }> = [];
    const probe = (r: Recorder) => {
      r.transport.setHandlers({
        onFrame: (_peer, _command, payload) => {
          seen.push({ length: payload.byteLength, backing: payload.buffer.byteLength });
        },
      });
    };
    probe(server);
    const big = new Uint8Array(200_000).fill(7);
    client.transport.sendMany(
      out,
      'block',
      Buffer.concat([Buffer.alloc(100), Buffer.alloc(100), big]),
      new Uint32Array([0, 100, 200, 200_200]),
    );
    const deadline = Date.now() + 10_000;
    while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(seen).toHaveLength(3);
    const large = seen.find((s) => s.length === 200_000);
    expect(large?.backing).toBe(200_000);
    const small = seen.filter((s) => s.length === 100);
    expect(small.every((s) => s.backing < 200_000)).toBe(true);
  });
});
