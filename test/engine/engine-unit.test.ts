// The Engine driven by a fake transport and a manual clock: every timing rule
// is checked deterministically, without sockets or real time.
import { describe, expect, it } from 'vitest';
import { networkPreset } from '../../ts/config/schema.js';
import { hostOf } from '../../ts/engine/bans.js';
import { ManualClock } from '../../ts/engine/clock.js';
import { Engine, type EngineOptions } from '../../ts/engine/engine.js';
import { PeerGoneError, RequestTimeoutError } from '../../ts/engine/errors.js';
import type { Peer } from '../../ts/engine/peer.js';
import { encodeMessage } from '../../ts/wire/codec.js';
import type { Message } from '../../ts/wire/types.js';
import { FakeTransport } from '../helpers/fake-transport.js';
import { versionMessage } from '../helpers/messages.js';

const version = versionMessage;

const verack: Message = { command: 'verack', payload: {} };

/** Lets promise callbacks (request resolution) run. */
async function flushMicrotasks() {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

function setup(
  options: Omit<EngineOptions, 'clock' | 'transport'> = {},
  transport: FakeTransport = new FakeTransport(),
) {
  const clock = new ManualClock({ seed: 7 });
  const engine = new Engine({ network: 'regtest', ...options, clock, transport });
  const log: string[] = [];
  engine.on('handshake', (p) => log.push(`handshake ${p.id}`));
  engine.on('disconnected', (p, i) => log.push(`disconnected ${p.id} ${i.reason}`));
  engine.on('failed', (f) => log.push(`failed ${f.address} retry=${f.retryInMs ?? '-'}`));
  engine.on('banned', (b) => log.push(`banned ${b.host}`));
  return { clock, transport, engine, log };
}

/** Dials and completes a handshake with a well-behaved remote. */
function handshakeOutbound(t: ReturnType<typeof setup>, address = '10.0.0.1:18444'): Peer {
  t.engine.connect(address);
  const dial = t.transport.dials.at(-1);
  if (!dial) throw new Error('no dial');
  t.transport.acceptDial(dial.peer, address);
  t.transport.deliver(dial.peer, version());
  t.transport.deliver(dial.peer, verack);
  const peer = t.engine.peer(dial.peer);
  if (!peer) throw new Error('no peer');
  return peer;
}

describe('engine handshake', () => {
  it('outbound: sends version first, then wtxidrelay, sendaddrv2 and verack after theirs', () => {
    const t = setup();
    t.engine.connect('10.0.0.1:18444');
    const id = t.transport.dials[0]?.peer as number;
    t.transport.acceptDial(id);
    expect(t.transport.sentTo(id).map((s) => s.command)).toEqual(['version']);
    t.transport.deliver(id, version());
    expect(t.transport.sentTo(id).map((s) => s.command)).toEqual([
      'version',
      'wtxidrelay',
      'sendaddrv2',
      'verack',
    ]);
    expect(t.log).toEqual([]);
    t.transport.deliver(id, verack);
    expect(t.log).toEqual([`handshake ${id}`]);
    expect(t.transport.handshakeMarked.has(id)).toBe(true);
    const peer = t.engine.peer(id);
    expect(peer?.ready).toBe(true);
    expect(peer?.userAgent).toBe('/Satoshi:27.0.0/');
    // A ping follows at once to measure latency.
    expect(t.transport.sentTo(id).at(-1)?.command).toBe('ping');
  });

  it('inbound: answers the peer version with ours; accepts verack before version', () => {
    const t = setup();
    t.transport.inbound(5);
    expect(t.transport.sentTo(5)).toHaveLength(0);
    t.transport.deliver(5, verack);
    t.transport.deliver(5, { command: 'wtxidrelay', payload: {} });
    t.transport.deliver(5, version());
    expect(
      t.transport
        .sentTo(5)
        .map((s) => s.command)
        .slice(0, 4),
    ).toEqual(['version', 'wtxidrelay', 'sendaddrv2', 'verack']);
    expect(t.log).toEqual(['handshake 5']);
    expect(t.engine.peer(5)?.features.wtxidRelay).toBe(true);
  });

  it('feature messages between version and verack are honoured, not rejected', () => {
    const t = setup();
    t.transport.inbound(6);
    t.transport.deliver(6, version());
    t.transport.deliver(6, { command: 'sendaddrv2', payload: {} });
    t.transport.deliver(6, { command: 'wtxidrelay', payload: {} });
    t.transport.deliver(6, verack);
    const peer = t.engine.peer(6);
    expect(peer?.features).toMatchObject({ addrV2: true, wtxidRelay: true });
    expect(peer?.ready).toBe(true);
  });

  it('an old peer (70015) gets no wtxidrelay or sendaddrv2', () => {
    const t = setup();
    t.transport.inbound(7);
    t.transport.deliver(7, version({ version: 70015 }));
    expect(t.transport.sentTo(7).map((s) => s.command)).toEqual(['version', 'verack']);
  });

  it('messages before the handshake are ignored', () => {
    const t = setup();
    const seen: string[] = [];
    t.engine.on('message', (_p, m) => seen.push(m.command));
    t.transport.inbound(8);
    t.transport.deliver(8, { command: 'ping', payload: { nonce: 1n } });
    t.transport.deliver(8, { command: 'inv', payload: { inventory: [] } });
    expect(seen).toEqual([]);
    expect(t.transport.sentTo(8)).toHaveLength(0);
  });

  it('times out a handshake that never finishes', () => {
    const t = setup({ limits: { handshakeTimeoutMs: 5_000 } });
    t.transport.inbound(9);
    t.transport.deliver(9, version());
    t.clock.advance(4_999);
    expect(t.transport.disconnects).toHaveLength(0);
    t.clock.advance(1);
    expect(t.transport.disconnects).toEqual([
      { peer: 9, reason: 'handshake-timeout', flush: false },
    ]);
    t.transport.settle();
    expect(t.log).toContain('disconnected 9 handshake-timeout');
  });

  it('detects a connection to itself by the version nonce', () => {
    const t = setup();
    t.engine.connect('127.0.0.1:18444');
    const out = t.transport.dials[0]?.peer as number;
    t.transport.acceptDial(out);
    const ours = t.transport.sentTo(out, 'version')[0]?.message;
    if (ours?.command !== 'version') throw new Error('no version sent');
    // The same socket seen from the listening side carries our own nonce.
    t.transport.inbound(11);
    t.transport.deliver(11, version({ nonce: ours.payload.nonce }));
    expect(t.transport.disconnects).toContainEqual({
      peer: 11,
      reason: 'self-connection',
      flush: false,
    });
  });

  it('enforces minimum version, required services and user agent policy', () => {
    const t = setup({
      policy: { minPeerVersion: 70001, requiredServices: 8n, rejectUserAgent: '^/bad' },
    });
    t.transport.inbound(20);
    t.transport.deliver(20, version({ version: 60000 }));
    t.transport.inbound(21);
    t.transport.deliver(21, version({ userAgent: '/bad:1.0/' }));
    t.engine.connect('10.0.0.5:18444');
    const out = t.transport.dials[0]?.peer as number;
    t.transport.acceptDial(out);
    t.transport.deliver(out, version({ services: 1n }));
    expect(t.transport.disconnects.map((d) => d.reason)).toEqual([
      'version-too-old',
      'user-agent-rejected',
      'missing-services',
    ]);
  });

  it('a duplicate version costs misbehaviour score', () => {
    const t = setup();
    const peer = handshakeOutbound(t);
    t.transport.deliver(peer.id, version());
    expect(peer.score).toBe(1);
  });
});

describe('engine shutdown', () => {
  it('sockets that arrive while it closes are not set up', async () => {
    const t = setup();
    const connected: number[] = [];
    t.engine.on('connected', (p) => connected.push(p.id));
    const closing = t.engine.close();
    // A backlog of accepted sockets still queued when close began.
    for (let id = 100; id < 110; id++) t.transport.inbound(id);
    await closing;
    expect(connected).toEqual([]);
    expect(t.engine.peers).toEqual([]);
  });
});

describe('engine keepalive', () => {
  it('pings on an interval, measures RTT, and disconnects when a ping goes unanswered', async () => {
    const t = setup({ limits: { pingIntervalMs: 60_000, pingTimeoutMs: 30_000 } });
    const peer = handshakeOutbound(t);
    const pings = () => t.transport.sentTo(peer.id, 'ping');
    const first = pings()[0]?.message;
    if (first?.command !== 'ping') throw new Error('no ping');
    t.clock.advance(250);
    t.transport.deliver(peer.id, { command: 'pong', payload: { nonce: first.payload.nonce } });
    await flushMicrotasks();
    expect(peer.rttMs).toBe(250);
    // The next ping waits for the interval.
    t.clock.advance(59_999);
    expect(pings()).toHaveLength(1);
    t.clock.advance(1);
    expect(pings()).toHaveLength(2);
    // A wrong nonce does not count as an answer.
    t.transport.deliver(peer.id, { command: 'pong', payload: { nonce: 999n } });
    t.clock.advance(30_000);
    await flushMicrotasks();
    expect(t.transport.disconnects).toContainEqual({
      peer: peer.id,
      reason: 'ping-timeout',
      flush: false,
    });
  });

  it('answers pings with the same nonce', () => {
    const t = setup();
    const peer = handshakeOutbound(t);
    t.transport.deliver(peer.id, { command: 'ping', payload: { nonce: 77n } });
    const pong = t.transport.sentTo(peer.id, 'pong')[0]?.message;
    expect(pong).toEqual({ command: 'pong', payload: { nonce: 77n } });
  });

  it('disconnects a peer silent for the inactivity timeout', () => {
    const t = setup({
      limits: { inactivityTimeoutMs: 100_000, pingIntervalMs: 1_000_000, pingTimeoutMs: 1_000_000 },
    });
    const peer = handshakeOutbound(t);
    t.clock.advance(60_000);
    t.transport.deliver(peer.id, { command: 'inv', payload: { inventory: [] } });
    t.clock.advance(99_999);
    expect(t.transport.disconnects).toHaveLength(0);
    t.clock.advance(1);
    expect(t.transport.disconnects).toEqual([
      { peer: peer.id, reason: 'inactivity', flush: false },
    ]);
  });
});

describe('engine reconnect', () => {
  it('redials a persistent peer with exponential backoff and jitter, then gives up', () => {
    const t = setup({
      reconnect: {
        baseDelayMs: 1_000,
        maxDelayMs: 8_000,
        jitter: 0.25,
        maxRestarts: 4,
        windowMs: 600_000,
      },
    });
    t.engine.connect('10.0.0.9:18444', { persistent: true });
    const delays: number[] = [];
    t.engine.on('failed', (f) => {
      if (f.retryInMs !== undefined) delays.push(f.retryInMs);
    });
    for (let i = 0; i < 6; i++) {
      const dial = t.transport.dials.at(-1);
      if (!dial) break;
      t.transport.event({
        type: 'connect-failed',
        peer: dial.peer,
        address: dial.address,
        error: 'refused',
      });
      t.clock.advance(10_000);
    }
    expect(t.transport.dials).toHaveLength(5);
    expect(delays).toHaveLength(4);
    const nominal = [1_000, 2_000, 4_000, 8_000];
    delays.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual((nominal[i] as number) * 0.75);
      expect(d).toBeLessThanOrEqual((nominal[i] as number) * 1.25);
    });
    // Jitter really varies the delays (seeded, so this is deterministic).
    expect(new Set(delays.map((d, i) => d / (nominal[i] as number))).size).toBeGreaterThan(1);
    expect(t.log.at(-1)).toBe('failed 10.0.0.9:18444 retry=-');
  });

  it('a completed handshake resets the backoff; inbound peers are never redialled', () => {
    const t = setup({ reconnect: { baseDelayMs: 1_000, jitter: 0 } });
    t.engine.connect('10.0.0.1:18444', { persistent: true });
    const first = t.transport.dials[0]?.peer as number;
    t.transport.event({
      type: 'connect-failed',
      peer: first,
      address: '10.0.0.1:18444',
      error: 'x',
    });
    t.clock.advance(1_000);
    const second = t.transport.dials[1]?.peer as number;
    t.transport.acceptDial(second, '10.0.0.1:18444');
    t.transport.deliver(second, version());
    t.transport.deliver(second, verack);
    t.transport.drop(second, 'peer-closed', 'closed');
    expect(t.log.at(-1)).toBe('failed 10.0.0.1:18444 retry=1000');

    t.transport.inbound(50);
    t.transport.deliver(50, version());
    t.transport.deliver(50, verack);
    const dials = t.transport.dials.length;
    t.transport.drop(50, 'peer-closed', 'closed');
    t.clock.advance(100_000);
    expect(t.transport.dials.length).toBe(dials + 1); // only the persistent one
  });
});

describe('engine slots and bans', () => {
  it('never overruns outbound slots', () => {
    const t = setup({ limits: { maxOutbound: 2 } });
    t.engine.connect('10.0.0.1:1');
    t.engine.connect('10.0.0.2:1');
    expect(() => t.engine.connect('10.0.0.3:1')).toThrow(/all 2 outbound slots/);
  });

  it('hasPeerOnHost tracks every peer either way until its disconnect, by normalized host', () => {
    const t = setup();
    handshakeOutbound(t, '10.0.0.1:18444');
    t.transport.inbound(40, '10.0.0.2:5000');
    t.transport.inbound(41, '10.0.0.2:5001');
    t.transport.inbound(42, '[2001:db8::1]:5000');
    const hosts = () =>
      ['10.0.0.1', '10.0.0.2', '10.0.0.3', '2001:db8::1', '2001:db8:0::1'].filter((h) =>
        t.engine.hasPeerOnHost(h),
      );
    expect(hosts()).toEqual(['10.0.0.1', '10.0.0.2', '2001:db8::1']);
    // Two peers on one host: gone only when both are.
    t.transport.drop(40, 'reset', 'test');
    expect(t.engine.hasPeerOnHost('10.0.0.2')).toBe(true);
    t.transport.drop(41, 'reset', 'test');
    t.transport.drop(42, 'reset', 'test');
    expect(hosts()).toEqual(['10.0.0.1']);
    // The answer is the scan's, whatever happened.
    for (const h of ['10.0.0.1', '10.0.0.2', '2001:db8::1']) {
      expect(t.engine.hasPeerOnHost(h)).toBe(t.engine.peers.some((p) => hostOf(p.address) === h));
    }
  });

  it('politely rejects an inbound peer over capacity after the handshake', () => {
    const t = setup({ limits: { maxInbound: 1 } });
    for (const id of [30, 31]) {
      t.transport.inbound(id, `10.0.1.${id}:5000`);
      t.transport.deliver(id, version());
      t.transport.deliver(id, verack);
    }
    expect(t.transport.disconnects).toEqual([{ peer: 31, reason: 'inbound-full', flush: true }]);
    expect(t.transport.sentTo(31, 'verack')).toHaveLength(1);
  });

  it('counts inbound slots as peers come, complete the handshake and go', () => {
    const t = setup({ limits: { maxInbound: 1 } });
    const refused = () => t.transport.disconnects.filter((d) => d.reason === 'inbound-full');
    // Mid-handshake: maxInbound + 8 may wait; the next is refused at once.
    for (let id = 100; id < 109; id++) t.transport.inbound(id, `10.0.2.${id}:5000`);
    expect(refused()).toEqual([]);
    t.transport.inbound(109, '10.0.2.109:5000');
    expect(refused()).toEqual([{ peer: 109, reason: 'inbound-full', flush: false }]);
    // One that hangs up frees its slot (the refused one's goes with its disconnect).
    t.transport.drop(109, 'reset', 'test');
    t.transport.drop(100, 'reset', 'test');
    t.transport.inbound(110, '10.0.2.110:5000');
    expect(refused()).toHaveLength(1);
    // Through the handshake it moves to the ready slots, and a newcomer may wait again.
    t.transport.deliver(101, version());
    t.transport.deliver(101, verack);
    t.transport.inbound(111, '10.0.2.111:5000');
    expect(refused()).toHaveLength(1);
    // The one ready slot is taken: a second peer through the handshake is refused,
    // and once the first leaves, the next is not.
    t.transport.deliver(102, version());
    t.transport.deliver(102, verack);
    expect(refused().map((d) => d.peer)).toEqual([109, 102]);
    t.transport.drop(101, 'reset', 'test');
    t.transport.drop(102, 'reset', 'test');
    t.transport.deliver(103, version());
    t.transport.deliver(103, verack);
    expect(refused().map((d) => d.peer)).toEqual([109, 102]);
  });

  it('bans at the misbehaviour threshold, refuses the host, and the ban expires', () => {
    const t = setup({ limits: { banThreshold: 50, banTimeMs: 60_000 } });
    const peer = handshakeOutbound(t, '10.0.0.7:18444');
    peer.misbehaving(30, 'spam');
    expect(t.transport.disconnects).toHaveLength(0);
    peer.misbehaving(20, 'more spam');
    expect(t.log).toContain('banned 10.0.0.7');
    expect(t.transport.disconnects.at(-1)).toMatchObject({ peer: peer.id, reason: 'banned' });
    t.transport.settle();
    expect(() => peer.send({ command: 'ping', payload: { nonce: 1n } })).toThrow(PeerGoneError);
    expect(() => t.engine.connect('10.0.0.7:9999')).toThrow(/banned/);
    t.transport.inbound(60, '10.0.0.7:40000');
    expect(t.transport.disconnects.at(-1)).toMatchObject({ peer: 60, reason: 'banned' });
    t.clock.advance(60_000);
    expect(t.engine.bans()).toEqual([]);
    expect(() => t.engine.connect('10.0.0.7:9999')).not.toThrow();
  });

  it('a dial that completes after its host was banned is dropped, not handshaken', () => {
    const t = setup();
    t.engine.connect('10.0.0.8:18444');
    const dial = t.transport.dials[0]?.peer as number;
    t.engine.ban('10.0.0.8', 'test');
    t.transport.acceptDial(dial, '10.0.0.8:18444');
    expect(t.transport.disconnects.at(-1)).toMatchObject({ peer: dial });
    expect(t.transport.sentTo(dial, 'version')).toHaveLength(0);
  });

  it('a hostname target is banned by the address it resolved to', () => {
    const t = setup();
    t.engine.connect('node.example:18444', { persistent: true });
    const dial = t.transport.dials[0]?.peer as number;
    t.transport.acceptDial(dial, '10.0.0.9:18444');
    t.engine.ban('10.0.0.9', 'test');
    t.transport.settle();
    t.clock.advance(600_000);
    expect(t.transport.dials).toHaveLength(1); // never redialled
  });

  it('input from a peer being disconnected is ignored', () => {
    const t = setup();
    const peer = handshakeOutbound(t);
    peer.disconnect('enough');
    t.transport.deliver(peer.id, { command: 'ping', payload: { nonce: 5n } });
    expect(t.transport.sentTo(peer.id, 'pong')).toHaveLength(0);
  });

  it('a loopback peer at the threshold is disconnected, not banned (as Bitcoin Core)', () => {
    const t = setup();
    t.transport.inbound(70, '127.0.0.1:40000');
    t.transport.deliver(70, version());
    t.transport.deliver(70, verack);
    t.engine.peer(70)?.misbehaving(100, 'bad');
    expect(t.transport.disconnects.at(-1)).toMatchObject({ peer: 70, reason: 'misbehaving' });
    expect(t.engine.bans()).toEqual([]);
  });

  it('a malformed payload is a typed decode error and a penalty, never a crash', () => {
    const t = setup();
    const peer = handshakeOutbound(t);
    const errors: string[] = [];
    t.engine.on('decode-error', (_p, e) => errors.push(`${e.code} ${e.field}`));
    t.transport.frame(peer.id, 'headers', Buffer.from([0xfd, 0x01]));
    t.transport.frame(peer.id, 'inv', Buffer.from([0xff, 0, 0, 0, 0, 0, 0, 0, 1]));
    expect(errors).toEqual(['truncated headers.count', 'too-many inventory.count']);
    expect(peer.score).toBe(40);
  });
});

describe('engine request tracking', () => {
  it('resolves a getheaders with the headers that answer it, and times out otherwise', async () => {
    const t = setup({ limits: { requestTimeoutMs: 10_000 } });
    const peer = handshakeOutbound(t);
    const locator = { version: 70016, locator: [new Uint8Array(32)], hashStop: new Uint8Array(32) };
    const answered = peer.request({ command: 'getheaders', payload: locator });
    t.transport.deliver(peer.id, { command: 'headers', payload: { headers: [] } });
    await expect(answered).resolves.toMatchObject({ command: 'headers' });

    const unanswered = peer.request({ command: 'getheaders', payload: locator });
    t.clock.advance(10_000);
    await expect(unanswered).rejects.toBeInstanceOf(RequestTimeoutError);
  });

  it('unsolicited responses are flagged, and penalised when the policy says so', () => {
    const t = setup({ policy: { unsolicited: 'penalize' } });
    const peer = handshakeOutbound(t);
    const flags: boolean[] = [];
    t.engine.on('headers', (_p, _h, info) => flags.push(info.solicited));
    t.transport.deliver(peer.id, { command: 'headers', payload: { headers: [] } });
    expect(flags).toEqual([false]);
    expect(peer.score).toBe(10);
    // An addr nobody asked for is normal relay: no penalty.
    t.transport.deliver(peer.id, { command: 'addr', payload: { addresses: [] } });
    expect(peer.score).toBe(10);
  });

  it('a request that could not be sent fails alone; keepalive goes on', async () => {
    const t = setup({ limits: { pingIntervalMs: 60_000, requestTimeoutMs: 10_000 } });
    const peer = handshakeOutbound(t);
    const first = t.transport.sentTo(peer.id, 'ping')[0]?.message;
    if (first?.command !== 'ping') throw new Error('no ping');
    t.transport.deliver(peer.id, { command: 'pong', payload: { nonce: first.payload.nonce } });
    await flushMicrotasks();
    const locator = { version: 70016, locator: [new Uint8Array(32)], hashStop: new Uint8Array(32) };
    const headers = peer.request({ command: 'getheaders', payload: locator });
    t.transport.refuse.set('getdata', 'full');
    const getdata = peer.request({ command: 'getdata', payload: { inventory: [] } });
    await expect(getdata).rejects.toThrow(/not sent: full/);
    t.transport.deliver(peer.id, { command: 'headers', payload: { headers: [] } });
    await expect(headers).resolves.toMatchObject({ command: 'headers' });
    // A ping refused by a full queue is retried on the next interval.
    t.transport.refuse.set('ping', 'full');
    t.clock.advance(60_000);
    await flushMicrotasks();
    t.clock.advance(60_000);
    await flushMicrotasks();
    expect(t.transport.sentTo(peer.id, 'ping')).toHaveLength(2);
  });

  it('a request that cannot be encoded throws at once and leaves nothing behind', () => {
    const t = setup({ limits: { requestTimeoutMs: 1_000 } });
    const peer = handshakeOutbound(t);
    expect(() => peer.request({ command: 'ping', payload: { nonce: -1n } })).toThrow(RangeError);
    // Were it tracked, this would reject unhandled and fail the test run.
    t.clock.advance(5_000);
  });

  it('pending requests fail when the peer goes away', async () => {
    const t = setup();
    const peer = handshakeOutbound(t);
    const pending = peer.request({ command: 'getaddr', payload: {} });
    t.transport.drop(peer.id, 'peer-closed', 'bye');
    await expect(pending).rejects.toThrow(/abandoned/);
  });

  it('runtime limit changes reach the transport', () => {
    const t = setup();
    t.engine.setLimits({ maxPayload: 1_000, recvBudgetBytes: 50_000 });
    expect(t.transport.limits.at(-1)).toEqual({ maxPayload: 1_000, recvBudgetBytes: 50_000 });
    t.engine.setLimits({ onBadChecksum: 'disconnect' });
    expect(t.transport.limits.at(-1)).toEqual({ onBadChecksum: 'disconnect' });
    expect(() => t.engine.setLimits({ onBadMagic: 'ignore' as never })).toThrow(/onBadMagic/);
    expect(() => t.engine.setLimits({ maxPayload: 0 })).toThrow(/maxPayload/);
  });
});

describe('engine: defects from review', () => {
  const locator = {
    version: 70016,
    locator: [new Uint8Array(32).fill(7)],
    hashStop: new Uint8Array(32),
  };
  const headerAfter = (prev: number) => ({
    version: 1,
    prevBlock: new Uint8Array(32).fill(prev),
    merkleRoot: new Uint8Array(32),
    time: 0,
    bits: 0,
    nonce: 0,
  });

  it('after sendheaders, an announcement does not answer a pending getheaders', async () => {
    const t = setup();
    const peer = handshakeOutbound(t);
    peer.send({ command: 'sendheaders', payload: {} });
    const seen: boolean[] = [];
    t.engine.on('headers', (_p, _h, info) => seen.push(info.solicited));
    let answer: unknown;
    peer.request({ command: 'getheaders', payload: locator }).then((m) => {
      answer = m;
    });
    // The peer's new tip, far ahead of our locator.
    t.transport.deliver(peer.id, { command: 'headers', payload: { headers: [headerAfter(90)] } });
    await flushMicrotasks();
    expect(answer).toBeUndefined();
    const reply = { headers: [headerAfter(7), headerAfter(8)] };
    t.transport.deliver(peer.id, { command: 'headers', payload: reply });
    await flushMicrotasks();
    const got = (answer as Extract<Message, { command: 'headers' }>).payload.headers;
    expect(got.map((h) => h.prevBlock[0])).toEqual([7, 8]);
    // Neither is flagged: one is an announcement the peer may send, the other was asked for.
    expect(seen).toEqual([true, true]);
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['truncated', encodeMessage(versionMessage()).subarray(0, 50)],
    // The user agent's length as a non-canonical CompactSize.
    [
      'bad varint',
      Buffer.concat([encodeMessage(versionMessage()).subarray(0, 80), Buffer.from([0xfd, 1, 0])]),
    ],
  ])('a malformed version (%s) closes the connection at once, and is penalised', (_name, bytes) => {
    const t = setup();
    const errors: string[] = [];
    t.engine.on('decode-error', (_p, e) => errors.push(e.code));
    t.transport.inbound(40, '10.0.2.1:5000');
    t.transport.frame(40, 'version', bytes);
    expect(errors).toHaveLength(1);
    expect(t.engine.peer(40)?.score).toBe(20);
    expect(t.transport.disconnects).toEqual([
      { peer: 40, reason: 'bad-version-message', flush: false },
    ]);
    t.transport.settle();
    expect(t.log).toContain('disconnected 40 bad-version-message');
  });

  it('getaddr is taken once per connection; repeats are dropped unpenalised', () => {
    const t = setup();
    t.transport.inbound(41, '10.0.2.2:5000');
    t.transport.deliver(41, version());
    t.transport.deliver(41, verack);
    const peer = t.engine.peer(41) as Peer;
    let getaddrs = 0;
    const dropped: string[] = [];
    t.engine.on('getaddr', () => getaddrs++);
    t.engine.on('dropped', (_p, info) => dropped.push(info.reason));
    expect(peer.getaddrReceived).toBe(false);
    for (let i = 0; i < 3; i++) t.transport.deliver(41, { command: 'getaddr', payload: {} });
    expect(getaddrs).toBe(1);
    expect(peer.getaddrReceived).toBe(true);
    expect(dropped).toEqual(['repeated-getaddr', 'repeated-getaddr']);
    expect(peer.score).toBe(0);
  });

  it('a peer whose queue is too full for pings is dropped at the ping timeout', async () => {
    const transport = new FullQueueTransport();
    const t = setup(
      {
        limits: { pingIntervalMs: 60_000, pingTimeoutMs: 300_000, inactivityTimeoutMs: 3_600_000 },
      },
      transport,
    );
    const peer = handshakeOutbound(t);
    const first = t.transport.sentTo(peer.id, 'ping')[0]?.message;
    if (first?.command !== 'ping') throw new Error('no ping');
    t.transport.deliver(peer.id, { command: 'pong', payload: { nonce: first.payload.nonce } });
    await flushMicrotasks();
    // It stops reading but keeps sending: our queue to it is full from now on.
    transport.full.add(peer.id);
    for (let s = 0; s < 299; s++) {
      t.clock.advance(1_000);
      await flushMicrotasks();
      t.transport.deliver(peer.id, { command: 'inv', payload: { inventory: [] } });
    }
    // The first keepalive (t = 60 s) was refused; its deadline is t = 360 s.
    expect(transport.refusedPings).toBeGreaterThan(1);
    expect(t.transport.disconnects).toEqual([]);
    for (let s = 0; s < 61; s++) {
      t.clock.advance(1_000);
      await flushMicrotasks();
    }
    expect(t.transport.disconnects).toEqual([
      { peer: peer.id, reason: 'ping-timeout', flush: false },
    ]);
  });

  it('the ping timeout counts from the first refused ping, not from a later one that was sent', async () => {
    const transport = new FullQueueTransport();
    const t = setup({ limits: { pingIntervalMs: 60_000, pingTimeoutMs: 300_000 } }, transport);
    const peer = handshakeOutbound(t);
    const first = t.transport.sentTo(peer.id, 'ping')[0]?.message;
    if (first?.command !== 'ping') throw new Error('no ping');
    t.transport.deliver(peer.id, { command: 'pong', payload: { nonce: first.payload.nonce } });
    await flushMicrotasks();
    transport.full.add(peer.id);
    t.clock.advance(60_000); // refused
    await flushMicrotasks();
    transport.full.delete(peer.id);
    t.clock.advance(60_000); // sent, never answered
    await flushMicrotasks();
    expect(t.transport.sentTo(peer.id, 'ping')).toHaveLength(2);
    t.clock.advance(239_999);
    await flushMicrotasks();
    expect(t.transport.disconnects).toEqual([]);
    t.clock.advance(1);
    await flushMicrotasks();
    expect(t.transport.disconnects.map((d) => d.reason)).toContain('ping-timeout');
  });

  it('an answered ping after a refused one stops the deadline', async () => {
    const transport = new FullQueueTransport();
    const t = setup({ limits: { pingIntervalMs: 60_000, pingTimeoutMs: 300_000 } }, transport);
    const peer = handshakeOutbound(t);
    const pong = async () => {
      const ping = t.transport.sentTo(peer.id, 'ping').at(-1)?.message;
      if (ping?.command !== 'ping') throw new Error('no ping');
      t.transport.deliver(peer.id, { command: 'pong', payload: { nonce: ping.payload.nonce } });
      await flushMicrotasks();
    };
    await pong();
    transport.full.add(peer.id);
    t.clock.advance(60_000); // refused
    await flushMicrotasks();
    transport.full.delete(peer.id);
    t.clock.advance(60_000); // sent
    await flushMicrotasks();
    await pong();
    for (let i = 0; i < 10; i++) {
      t.clock.advance(60_000);
      await flushMicrotasks();
      await pong();
    }
    expect(t.transport.disconnects).toEqual([]);
  });

  it('a ban holds for the IPv4-mapped IPv6 spelling of the host', () => {
    const t = setup();
    t.engine.ban('10.0.0.7', 'test');
    t.transport.inbound(42, '[::ffff:10.0.0.7]:40000');
    expect(t.transport.disconnects.at(-1)).toEqual({ peer: 42, reason: 'banned', flush: false });
    expect(() => t.engine.connect('[::ffff:10.0.0.7]:18444')).toThrow(/banned/);
    // And the other way round: banning the mapped form drops the IPv4 peer.
    t.transport.inbound(43, '10.0.0.8:40000');
    t.engine.ban('[::ffff:10.0.0.8]:1', 'test');
    expect(t.transport.disconnects.at(-1)).toEqual({ peer: 43, reason: 'banned', flush: false });
    expect(t.engine.bans().map((b) => b.host)).toEqual(['10.0.0.7', '10.0.0.8']);
  });

  it('the ban list is bounded by limits.maxBans', () => {
    const t = setup({ limits: { maxBans: 5 } });
    for (let i = 0; i < 20; i++) t.engine.ban(`10.9.0.${i}`, 'flood');
    expect(t.engine.bans()).toHaveLength(5);
    t.engine.setLimits({ maxBans: 2 });
    t.engine.ban('10.9.1.1', 'flood');
    expect(t.engine.bans()).toHaveLength(2);
  });

  it.each([
    ['headers', 'headers.count', 2_001, Buffer.alloc(0)],
    ['inv', 'inventory.count', 50_001, Buffer.alloc(0)],
    ['getdata', 'inventory.count', 50_001, Buffer.alloc(0)],
    ['addr', 'addresses.count', 1_001, Buffer.alloc(0)],
    ['getheaders', 'locator.count', 102, Buffer.alloc(4)],
  ])(
    '%s over its protocol limit is a typed decode error and a penalty',
    (command, field, count, prefix) => {
      const t = setup({ limits: { banThreshold: 1_000 } });
      const peer = handshakeOutbound(t);
      const errors: string[] = [];
      const penalties: string[] = [];
      t.engine.on('decode-error', (_p, e) => errors.push(`${e.code} ${e.field}`));
      t.engine.on('misbehaving', (_p, m) => penalties.push(m.reason));
      const varint =
        count < 0xfd
          ? Buffer.from([count])
          : count <= 0xffff
            ? Buffer.from([0xfd, count & 0xff, count >> 8])
            : Buffer.from([0xfe, count & 0xff, (count >> 8) & 0xff, count >> 16, 0]);
      t.transport.frame(peer.id, command, Buffer.concat([prefix, varint]));
      expect(errors).toEqual([`too-many ${field}`]);
      expect(peer.score).toBe(20);
      expect(penalties[0]).toMatch(new RegExp(`^malformed ${command}: .*exceeds the limit`));
    },
  );

  it('a configured user agent over 256 bytes of UTF-8 is refused', () => {
    // 100 characters, 300 bytes: it would not fit the version message.
    expect(() =>
      setup({ network: { ...networkPreset('regtest'), userAgent: '\u20ac'.repeat(100) } }),
    ).toThrow(/userAgent: must be at most 256 bytes/);
  });
});

/** A transport whose queue to some peers is full: every send to them is refused. */
class FullQueueTransport extends FakeTransport {
  full = new Set<number>();
  refusedPings = 0;
  override send(peer: number, command: string, payload: Uint8Array) {
    if (this.full.has(peer)) {
      if (command === 'ping') this.refusedPings++;
      return 'full' as const;
    }
    return super.send(peer, command, payload);
  }
}
