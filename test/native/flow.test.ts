// Frames over real loopback sockets between two native engines.
import { afterEach, describe, expect, it } from 'vitest';
import { checksumsComputed } from '../../ts/index.js';
import { connectedPair, Recorder } from '../helpers/recorder.js';
import { u64 } from '../helpers/wire.js';

const open: Recorder[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.transport.close()));
});
function track<T extends { server: Recorder; client: Recorder }>(pair: T): T {
  open.push(pair.server, pair.client);
  return pair;
}

describe('native transport: frames', () => {
  it('connects, accepts, and reports both ends', async () => {
    const { server, client, inbound, out, port } = track(await connectedPair());
    const connected = await client.event('connected');
    expect(connected.remote).toBe(`127.0.0.1:${port}`);
    const accepted = await server.event('accepted');
    expect(accepted.local).toBe(`127.0.0.1:${port}`);
    expect(accepted.remote).toBe(connected.local);
    expect(server.transport.peerInfo(inbound)?.inbound).toBe(true);
    expect(client.transport.peerInfo(out)?.inbound).toBe(false);
  });

  it('delivers frames both ways, in order per peer', async () => {
    const { server, client, inbound, out } = track(await connectedPair());
    const n = 5_000;
    for (let i = 0; i < n; i++) {
      expect(client.transport.send(out, 'ping', u64(i))).toBe('queued');
      expect(server.transport.send(inbound, 'pong', u64(n - i))).toBe('queued');
    }
    await server.until('all pings', () => server.frames.length === n);
    await client.until('all pongs', () => client.frames.length === n);
    expect(server.frames.map((f) => f.payload.readBigUInt64LE())).toEqual(
      Array.from({ length: n }, (_, i) => BigInt(i)),
    );
    expect(server.frames.every((f) => f.command === 'ping' && f.peer === inbound)).toBe(true);
    expect(client.frames.map((f) => Number(f.payload.readBigUInt64LE()))).toEqual(
      Array.from({ length: n }, (_, i) => n - i),
    );
    const info = client.transport.peerInfo(out);
    expect(info?.messagesOut).toBe(n);
    expect(info?.messagesIn).toBe(n);
    expect(info?.bytesOut).toBe(n * 32);
  });

  it('keeps per-peer order with several peers interleaved', async () => {
    const server = new Recorder();
    const clients = [new Recorder(), new Recorder(), new Recorder()];
    open.push(server, ...clients);
    const { port } = server.transport.listen('127.0.0.1', 0);
    const outs = await Promise.all(
      clients.map(async (c) => {
        const id = c.transport.connect(`127.0.0.1:${port}`);
        await c.event('connected', (e) => e.peer === id);
        return id;
      }),
    );
    for (let i = 0; i < 1_000; i++) {
      for (const [k, c] of clients.entries()) c.transport.send(outs[k] as number, 'seq', u64(i));
    }
    await server.until('3000 frames', () => server.frames.length === 3_000);
    const byPeer = new Map<number, number[]>();
    for (const f of server.frames) {
      const list = byPeer.get(f.peer) ?? [];
      list.push(Number(f.payload.readBigUInt64LE()));
      byPeer.set(f.peer, list);
    }
    expect(byPeer.size).toBe(3);
    for (const list of byPeer.values()) {
      expect(list).toEqual(Array.from({ length: 1_000 }, (_, i) => i));
    }
  });

  it('payloads of every size arrive intact, up to 4 MB', async () => {
    const { server, client, inbound, out } = track(await connectedPair());
    server.transport.markHandshakeComplete(inbound);
    const sizes = [0, 1, 23, 24, 25, 65_535, 65_536, 65_537, 1_000_000, 4_000_000];
    const payloads = sizes.map((n) => Buffer.alloc(n, n % 251));
    for (const p of payloads) client.transport.send(out, 'block', p);
    await server.until('all sizes', () => server.frames.length === sizes.length);
    expect(server.frames.map((f) => f.payload.length)).toEqual(sizes);
    for (const [i, f] of server.frames.entries()) {
      expect(f.payload.equals(payloads[i] as Buffer)).toBe(true);
    }
  });

  it('sendMany queues a batch in one call, in order', async () => {
    const { server, client, out } = track(await connectedPair());
    const data = Buffer.concat(Array.from({ length: 100 }, (_, i) => u64(i)));
    const offsets = new Uint32Array(Array.from({ length: 101 }, (_, i) => i * 8));
    expect(client.transport.sendMany(out, 'inv', data, offsets)).toEqual({
      sent: 100,
      last: 'queued',
    });
    await server.until('100 frames', () => server.frames.length === 100);
    expect(server.frames.map((f) => Number(f.payload.readBigUInt64LE()))).toEqual(
      Array.from({ length: 100 }, (_, i) => i),
    );
    expect(() => client.transport.sendMany(out, 'inv', data, new Uint32Array([0, 9_999]))).toThrow(
      /outside data/,
    );
  });

  it('broadcast reaches 50 peers with one encode and one checksum', async () => {
    const server = new Recorder();
    const client = new Recorder();
    open.push(server, client);
    const { port } = server.transport.listen('127.0.0.1', 0);
    for (let i = 0; i < 50; i++) client.transport.connect(`127.0.0.1:${port}`);
    await server.until(
      '50 accepted',
      () => server.events.filter((e) => e.type === 'accepted').length === 50,
    );
    await client.until(
      '50 connected',
      () => client.events.filter((e) => e.type === 'connected').length === 50,
    );

    const payload = Buffer.alloc(10_000, 7);
    const before = checksumsComputed();
    const result = server.transport.broadcast('block', payload);
    expect(result).toEqual({ queued: 50, backpressure: [], refused: [] });
    await client.until('50 copies', () => client.frames.length === 50);
    // One checksum to encode plus one verification per receiving connection.
    expect(checksumsComputed() - before).toBe(1 + 50);
    expect(new Set(client.frames.map((f) => f.peer)).size).toBe(50);
    expect(client.frames.every((f) => f.payload.equals(payload))).toBe(true);
  });

  it('broadcast to a chosen subset, reporting unknown targets as refused', async () => {
    const { server, client, inbound } = track(await connectedPair());
    const result = server.transport.broadcast('tx', Buffer.from('abc'), [inbound, 99_999]);
    expect(result).toEqual({ queued: 1, backpressure: [], refused: [99_999] });
    await client.until('tx', () => client.frames.length === 1);
  });

  it('reports unknown peers and invalid commands clearly', async () => {
    const { client, out } = track(await connectedPair());
    expect(client.transport.send(424_242, 'ping', u64(1))).toBe('unknown-peer');
    client.transport.setLimits({ sendMaxBytes: 1_000_000, sendPauseBytes: 500_000 });
    expect(client.transport.send(out, 'block', Buffer.alloc(2_000_000))).toBe('too-large');
    expect(() => client.transport.setLimits({ readBytesPerWake: 2 ** 31 })).toThrow(
      /readBytesPerWake must be between 1 and 16777216/,
    );
    expect(() => client.transport.send(out, 'much-too-long-command', u64(1))).toThrow(
      /longer than 12 bytes/,
    );
    expect(() => client.transport.send(out, 'bad\u0001cmd', u64(1))).toThrow(/printable ASCII/);
    expect(() => client.transport.markHandshakeComplete(424_242)).toThrow(/unknown peer/);
  });

  it('reports a failed connect with the address and the error', async () => {
    const probe = new Recorder();
    open.push(probe);
    // Bind then close to find a port with nothing listening.
    const { port } = probe.transport.listen('127.0.0.1', 0);
    const dead = new Recorder();
    open.push(dead);
    await probe.transport.close();
    const id = dead.transport.connect(`127.0.0.1:${port}`);
    const failed = await dead.event('connect-failed', (e) => e.peer === id);
    expect(failed.address).toBe(`127.0.0.1:${port}`);
    expect(failed.error).toMatch(/refused/i);
  });
});
