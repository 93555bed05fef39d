// Shutdown, process exit, and handler errors (panics: test-hooks.test.ts).
import { createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runNode } from '../helpers/cli.js';
import { connectedPair, Recorder } from '../helpers/recorder.js';
import { u64 } from '../helpers/wire.js';

const open: Recorder[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.transport.close()));
});

function runChild(script: string, timeoutMs: number) {
  return runNode(['--import', 'tsx', script], timeoutMs);
}

describe('native transport: lifecycle', () => {
  it('close with peers connected lets the process exit, after flushing what was queued', async () => {
    const result = await runChild('test/fixtures/close-exits.ts', 20_000);
    expect(result.killed, `child hung; stderr: ${result.stderr}`).toBe(false);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('client disconnect: shutdown, unflushed 0');
    expect(result.stdout).toContain('server saw disconnect: peer-closed, received 100');
    expect(result.stdout).toContain('client closed');
    expect(result.stdout).toContain('server closed');
  });

  it('close gives up on a peer that never reads after the flush timeout and says how much was lost', async () => {
    const sockets: Socket[] = [];
    const stalled = createServer((s) => {
      s.pause();
      sockets.push(s);
    });
    await new Promise<void>((r) => stalled.listen(0, '127.0.0.1', r));
    const port = (stalled.address() as { port: number }).port;
    const sender = new Recorder({ flushTimeoutMs: 200 });
    const peer = sender.transport.connect(`127.0.0.1:${port}`);
    await sender.event('connected');
    while (sender.transport.send(peer, 'block', Buffer.alloc(100_000)) !== 'full') {}
    await sender.transport.close();
    const ev = await sender.event('disconnected');
    expect(ev.reason).toBe('shutdown');
    expect(ev.unflushedBytes).toBeGreaterThan(0);
    expect(sender.transport.closed).toBe(true);
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => stalled.close(() => r()));
  });

  it('disconnect with flush writes what was queued before closing', async () => {
    const { server, client, inbound, out } = await connectedPair();
    open.push(server, client);
    for (let i = 0; i < 50; i++) client.transport.send(out, 'tx', u64(i));
    expect(client.transport.disconnect(out, 'done here', { flush: true })).toBe(true);
    expect(client.transport.disconnect(out, 'twice')).toBe(false);
    expect(client.transport.send(out, 'tx', u64(99))).toMatch(/closed|unknown-peer/);
    const ev = await client.event('disconnected', (e) => e.peer === out);
    expect(ev).toMatchObject({ reason: 'requested', detail: 'done here', unflushedBytes: 0 });
    await server.event('disconnected', (e) => e.peer === inbound);
    expect(server.framesFrom(inbound)).toHaveLength(50);
  });

  it('disconnect without flush reports the requested reason at once', async () => {
    const { server, client, inbound } = await connectedPair();
    open.push(server, client);
    server.transport.disconnect(inbound, 'misbehaving');
    const ev = await server.event('disconnected', (e) => e.peer === inbound);
    expect(ev.reason).toBe('requested');
    expect(ev.detail).toBe('misbehaving');
    const far = await client.event('disconnected');
    expect(far.reason).toBe('peer-closed');
  });

  it('after close: no listening, no dialling, sends report unknown peers', async () => {
    const r = new Recorder();
    await r.transport.close();
    await r.transport.close();
    expect(() => r.transport.listen('127.0.0.1', 0)).toThrow(/closing/);
    const id = r.transport.connect('127.0.0.1:1');
    expect(r.transport.send(id, 'ping', u64(1))).toBe('unknown-peer');
  });

  it('handler exceptions do not lose the rest of the batch', async () => {
    const { server, client, out } = await connectedPair();
    open.push(server, client);
    const seen: number[] = [];
    const errors: unknown[] = [];
    const onUncaught = (err: unknown) => errors.push(err);
    process.on('uncaughtException', onUncaught);
    server.onFrame = (f) => {
      const n = Number(f.payload.readBigUInt64LE());
      seen.push(n);
      if (n === 3) throw new Error('handler bug');
    };
    for (let i = 0; i < 10; i++) client.transport.send(out, 'ping', u64(i));
    await server.until('ten frames', () => seen.length === 10);
    await new Promise((r) => setImmediate(r));
    process.off('uncaughtException', onUncaught);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(String(errors[0])).toContain('handler bug');
  });
});
