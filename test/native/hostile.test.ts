// Bad input from raw sockets: each is refused with its reason, and other peers
// carry on undisturbed.
import { type Socket, connect as tcpConnect } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { connectedPair, type Recorder } from '../helpers/recorder.js';
import { waitUntil } from '../helpers/wait.js';
import { frame, u64 } from '../helpers/wire.js';

let target: Recorder;
let port: number;
let bystander: Awaited<ReturnType<typeof connectedPair>>;
const sockets: Socket[] = [];

beforeEach(async () => {
  // The engine under attack also serves an honest peer throughout.
  bystander = await connectedPair();
  target = bystander.server;
  port = bystander.port;
});

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all([bystander.server.transport.close(), bystander.client.transport.close()]);
});

/** Opens a raw socket to the target, waits for the accept, sends `bytes`. */
async function attack(...chunks: Buffer[]) {
  const accepted = target.events.filter((e) => e.type === 'accepted').length;
  const s = tcpConnect(port, '127.0.0.1');
  s.on('error', () => {});
  sockets.push(s);
  await new Promise<void>((r) => s.once('connect', () => r()));
  await target.until(
    'raw accept',
    () => target.events.filter((e) => e.type === 'accepted').length > accepted,
  );
  const ev = target.events.filter((e) => e.type === 'accepted').at(-1);
  if (ev?.type !== 'accepted') throw new Error('no accept');
  for (const c of chunks) s.write(c);
  return { socket: s, peer: ev.peer };
}

async function expectBystanderUnharmed() {
  const { client, server, out, inbound } = bystander;
  const before = server.framesFrom(inbound).length;
  client.transport.send(out, 'ping', u64(1234));
  await server.until('bystander ping', () => server.framesFrom(inbound).length === before + 1);
  expect(server.transport.peerInfo(inbound)).not.toBeNull();
}

describe('native transport: hostile input', () => {
  it('bad magic disconnects with reason bad-magic', async () => {
    const { peer } = await attack(frame('ping', u64(1), { magic: 'f9beb4d9' }));
    const ev = await target.event('disconnected', (e) => e.peer === peer);
    expect(ev.reason).toBe('bad-magic');
    expect(ev.detail).toContain('f9beb4d9');
    await expectBystanderUnharmed();
  });

  it('an oversized length disconnects from the header alone', async () => {
    target.transport.markHandshakeComplete(bystander.inbound);
    const header = frame('block', Buffer.alloc(0), { length: 4_000_001 });
    const { peer } = await attack(header);
    const ev = await target.event('disconnected', (e) => e.peer === peer);
    expect(ev.reason).toBe('oversized');
    expect(ev.detail).toMatch(/exceeds limit/);
    await expectBystanderUnharmed();
  });

  it('a bad checksum drops the message and keeps the peer', async () => {
    const bad = frame('ping', u64(1), { checksum: Buffer.from('00000000', 'hex') });
    const { peer } = await attack(bad, frame('pong', u64(2)));
    const dropped = await target.event('dropped', (e) => e.peer === peer);
    expect(dropped.reason).toBe('bad-checksum');
    await target.until('pong after bad checksum', () => target.framesFrom(peer).length === 1);
    expect(target.framesFrom(peer)[0]?.command).toBe('pong');
    expect(target.transport.peerInfo(peer)?.messagesDropped).toBe(1);
    await expectBystanderUnharmed();
  });

  it('a bad command drops the message and keeps the peer', async () => {
    const badCommand = Buffer.from('pi\u0007ng\0\0\0\0\0\0\0', 'latin1');
    const { peer } = await attack(frame(badCommand, u64(1)), frame('pong', u64(2)));
    const dropped = await target.event('dropped', (e) => e.peer === peer);
    expect(dropped.reason).toBe('bad-command');
    await target.until('pong after bad command', () => target.framesFrom(peer).length === 1);
    await expectBystanderUnharmed();
  });

  it('policies are configurable: a bad checksum can disconnect', async () => {
    target.transport.setLimits({ onBadChecksum: 'disconnect' });
    const bad = frame('ping', u64(1), { checksum: Buffer.from('00000000', 'hex') });
    const { peer } = await attack(bad);
    const ev = await target.event('disconnected', (e) => e.peer === peer);
    expect(ev.reason).toBe('bad-checksum');
    expect(() => target.transport.setLimits({ onBadMagic: 'ignore' })).toThrow(
      /onBadMagic must be "disconnect" or "drop"/,
    );
  });

  it('the pre-handshake limit refuses large messages until the handshake completes', async () => {
    const big = frame('addr', Buffer.alloc(40_000));
    const { peer } = await attack(big);
    const ev = await target.event('disconnected', (e) => e.peer === peer);
    expect(ev.reason).toBe('oversized');
    expect(ev.detail).toContain('limit 32768');

    // Marked complete first: the same message is delivered.
    const second = await attack();
    target.transport.markHandshakeComplete(second.peer);
    second.socket.write(big);
    await target.until('big addr', () => target.framesFrom(second.peer).length === 1);
  });

  it('the peer version and verack plus our verack lift the pre-handshake limit', async () => {
    const { socket, peer } = await attack(
      frame('version', Buffer.alloc(100)),
      frame('verack', Buffer.alloc(0)),
    );
    await target.until('version and verack', () => target.framesFrom(peer).length === 2);
    // We accept their version: our verack goes out, and their next big message fits.
    target.transport.send(peer, 'verack', Buffer.alloc(0));
    socket.write(frame('addr', Buffer.alloc(40_000)));
    await target.until('big addr', () => target.framesFrom(peer).length === 3);
  });

  it('the peer alone cannot lift the pre-handshake limit', async () => {
    const { peer } = await attack(
      frame('version', Buffer.alloc(100)),
      frame('verack', Buffer.alloc(0)),
      frame('addr', Buffer.alloc(40_000)),
    );
    const ev = await target.event('disconnected', (e) => e.peer === peer);
    expect(ev.reason).toBe('oversized');
  });

  it('a header trickled one byte at a time is parsed the same', async () => {
    const { socket, peer } = await attack();
    const bytes = Buffer.concat([frame('ping', u64(7)), frame('pong', u64(8))]);
    for (const b of bytes) {
      socket.write(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
    await target.until('two frames', () => target.framesFrom(peer).length === 2);
    expect(target.framesFrom(peer).map((f) => f.command)).toEqual(['ping', 'pong']);
  });

  it('a claimed 4 MB payload that never arrives costs only what was sent', async () => {
    target.transport.setLimits({ preHandshakeMaxPayload: 4_000_000 });
    const header = frame('block', Buffer.alloc(0), { length: 3_999_999 });
    const { peer } = await attack(header, Buffer.alloc(1_000));
    await waitUntil(
      '1000 bytes buffered',
      () => target.transport.peerInfo(peer)?.readBufferedBytes === 1_000,
    );
    const info = target.transport.peerInfo(peer);
    // One read's worth of room at most, nowhere near the 4 MB claimed.
    expect(info?.readBufferCapacity).toBeLessThanOrEqual(2 * (64 * 1024 + 1_024));
    expect(info?.recvPendingBytes).toBe(0);
    expect(target.framesFrom(peer)).toHaveLength(0);
  });

  it('setLimits reaches live connections', async () => {
    const { client, server, out, inbound } = bystander;
    server.transport.markHandshakeComplete(inbound);
    client.transport.send(out, 'block', Buffer.alloc(5_000));
    await server.until('5 KB block', () => server.framesFrom(inbound).length === 1);
    server.transport.setLimits({ maxPayload: 1_000 });
    client.transport.send(out, 'block', Buffer.alloc(5_000));
    const ev = await server.event('disconnected', (e) => e.peer === inbound);
    expect(ev.reason).toBe('oversized');
    expect(ev.detail).toContain('limit 1000');
  });
});
