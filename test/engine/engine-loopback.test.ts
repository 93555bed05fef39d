// Engine to engine over real loopback sockets, and hostile raw peers. The timing
// tests (keepalive, redial backoff, request timeouts) run on the simulator, exactly:
// test/sim/engine-timing.test.ts.
import { type Socket, connect as tcpConnect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../ts/config/schema.js';
import { type DisconnectInfo, Engine, type EngineOptions } from '../../ts/engine/engine.js';
import type { Peer } from '../../ts/engine/peer.js';
import { createNativeTransport } from '../../ts/engine/transport.js';
import { encodeMessage } from '../../ts/wire/codec.js';
import { versionMessage } from '../helpers/messages.js';
import { waitUntil } from '../helpers/wait.js';
import { frame } from '../helpers/wire.js';

const engines: Engine[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(engines.splice(0).map((e) => e.close()));
});

function engine(options: EngineOptions = {}): Engine {
  const e = new Engine({ network: 'regtest', ...options });
  engines.push(e);
  return e;
}

function nextEvent<T>(register: (resolve: (v: T) => void) => void, what: string, ms = 10_000) {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    register((v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}

const handshake = (e: Engine) => nextEvent<Peer>((r) => e.once('handshake', r), 'handshake');
const disconnected = (e: Engine) =>
  nextEvent<[Peer, DisconnectInfo]>(
    (r) => e.once('disconnected', (p, i) => r([p, i])),
    'disconnect',
  );

describe('engine over loopback', () => {
  it('handshakes in both directions and answers pings', async () => {
    const a = engine();
    const b = engine();
    const { port } = a.listen('127.0.0.1', 0);
    const [onA, onB] = [handshake(a), handshake(b)];
    b.connect(`127.0.0.1:${port}`);
    const [inbound, outbound] = await Promise.all([onA, onB]);
    expect(inbound.inbound).toBe(true);
    expect(outbound.inbound).toBe(false);
    expect(outbound.version?.userAgent).toBe('/peerwire:0.1.0/');
    expect(inbound.features.wtxidRelay && inbound.features.addrV2).toBe(true);

    const pong = await outbound.request({ command: 'ping', payload: { nonce: 4242n } });
    expect(pong.payload.nonce).toBe(4242n);
    await waitUntil('rtt measured', () => outbound.rttMs !== undefined);

    // And the other way round: a dials b.
    const { port: portB } = b.listen('127.0.0.1', 0);
    const second = handshake(b);
    a.connect(`127.0.0.1:${portB}`);
    expect((await second).inbound).toBe(true);
  });

  it('bans a misbehaving peer and refuses it afterwards', async () => {
    // Loopback peers are only disconnected unless banLocal is on (Core's rule).
    const a = engine({ limits: { banThreshold: 20 }, policy: { banLocal: true } });
    const b = engine();
    const { port } = a.listen('127.0.0.1', 0);
    const banned = nextEvent<string>((r) => a.once('banned', (e) => r(e.host)), 'ban');
    const bDisc = disconnected(b);
    let first: Peer | undefined;
    a.on('handshake', (p) => {
      first = p;
      p.misbehaving(25, 'test');
    });
    b.connect(`127.0.0.1:${port}`);
    expect(await banned).toBe('127.0.0.1');
    expect((await bDisc)[1].reason).toBe('peer-closed');
    // A second attempt is closed at accept: the Engine never hears of it.
    let seenAgain = false;
    a.on('connected', (p) => {
      if (p !== first) seenAgain = true;
    });
    const b2 = engine();
    const b2Gone = disconnected(b2);
    b2.connect(`127.0.0.1:${port}`);
    expect(['peer-closed', 'io-error']).toContain((await b2Gone)[1].reason);
    expect(seenAgain).toBe(false);
    expect(a.bans().map((x) => x.host)).toEqual(['127.0.0.1']);
  });

  it('refuses an inbound socket over capacity before reading from it', async () => {
    const a = engine({ limits: { maxInbound: 1 } });
    const { port } = a.listen('127.0.0.1', 0);
    const first = engine();
    const ok = handshake(first);
    first.connect(`127.0.0.1:${port}`);
    await ok;
    const second = engine();
    const secondGone = disconnected(second);
    let secondSeen = false;
    a.on('connected', () => {
      secondSeen = true;
    });
    second.connect(`127.0.0.1:${port}`);
    // One peer is too few to evict (Core protects the first few by netgroup),
    // so the newcomer is closed at accept: `a` never even sees it. (A reset
    // when its version was already in flight, unread.)
    expect(['peer-closed', 'io-error']).toContain((await secondGone)[1].reason);
    expect(secondSeen).toBe(false);
    await waitUntil('a has its one peer', () => a.readyPeers.length === 1);
  });

  it('penalises a hostile peer that sends malformed messages, and carries on with others', async () => {
    // Bans are per host, and every peer here is 127.0.0.1: keep the threshold out
    // of reach so the honest peer is not banned along with the hostile one.
    const a = engine({ limits: { banThreshold: 1_000 } });
    const { port } = a.listen('127.0.0.1', 0);
    const honest = engine();
    const honestReady = handshake(honest);
    honest.connect(`127.0.0.1:${port}`);
    const honestPeer = await honestReady;

    const hostileReady = nextEvent<Peer>(
      (r) =>
        a.on('handshake', (p) => {
          if (p.userAgent === '/hostile/') r(p);
        }),
      'hostile handshake',
    );
    const raw = tcpConnect(port, '127.0.0.1');
    raw.on('error', () => {});
    sockets.push(raw);
    await new Promise<void>((r) => raw.once('connect', () => r()));
    const version = encodeMessage(versionMessage({ nonce: 99n, userAgent: '/hostile/' }));
    raw.write(frame('version', version));
    raw.write(frame('verack', Buffer.alloc(0)));
    const hostile = await hostileReady;
    expect(hostile.userAgent).toBe('/hostile/');

    const errors: string[] = [];
    a.on('decode-error', (p, e) => {
      if (p === hostile) errors.push(`${e.code} ${e.field}`);
    });
    // Headers whose count claims 2,000 entries with no bytes behind it, then a
    // headers count over the limit.
    raw.write(frame('headers', Buffer.from([0xfd, 0xd0, 0x07])));
    raw.write(frame('headers', Buffer.from([0xfd, 0xd1, 0x07])));
    await waitUntil('two decode errors', () => errors.length === 2);
    expect(errors).toEqual(['truncated headers.count', 'too-many headers.count']);
    expect(hostile.score).toBe(40);

    // Then garbage framing: the transport cuts it off with its reason.
    const gone = disconnected(a);
    raw.write(frame('ping', Buffer.alloc(8), { magic: 'f9beb4d9' }));
    const [who, info] = await gone;
    expect(who).toBe(hostile);
    expect(info.reason).toBe('bad-magic');
    // The honest peer never noticed.
    const pong = await honestPeer.request({ command: 'ping', payload: { nonce: 1n } });
    expect(pong.payload.nonce).toBe(1n);
    expect(honestPeer.connected).toBe(true);
  });

  it('a malformed version closes the socket without waiting for the handshake timeout', async () => {
    const a = engine({ limits: { banThreshold: 1_000 } });
    const { port } = a.listen('127.0.0.1', 0);
    const gone = disconnected(a);
    const raw = tcpConnect(port, '127.0.0.1');
    raw.on('error', () => {});
    sockets.push(raw);
    await new Promise<void>((r) => raw.once('connect', () => r()));
    const closed = new Promise<void>((r) => raw.once('close', () => r()));
    raw.resume();
    // A version cut off inside its receiver address.
    raw.write(frame('version', encodeMessage(versionMessage()).subarray(0, 30)));
    const [peer, info] = await gone;
    expect(info).toMatchObject({ reason: 'bad-version-message', local: true });
    expect(peer.score).toBe(20);
    await closed;
  });

  it('setLimits reaches live connections', async () => {
    const a = engine();
    const b = engine();
    const { port } = a.listen('127.0.0.1', 0);
    const ready = handshake(b);
    b.connect(`127.0.0.1:${port}`);
    const peer = await ready;
    a.setLimits({ maxPayload: 1_000 });
    const gone = disconnected(a);
    peer.send({ command: 'tx', payload: { raw: new Uint8Array(5_000) } });
    expect((await gone)[1].reason).toBe('oversized');
  });

  it('close tells peers, flushes and resolves', async () => {
    const a = engine();
    const b = engine();
    const { port } = a.listen('127.0.0.1', 0);
    const ready = handshake(b);
    b.connect(`127.0.0.1:${port}`);
    await ready;
    const seen = disconnected(b);
    await a.close();
    expect((await seen)[1].reason).toBe('peer-closed');
    expect(() => a.connect('127.0.0.1:1')).toThrow(/closed/);
  });
});

describe('bans at accept', () => {
  /** Connects from `from`; resolves with whether the node kept the socket open for a moment. */
  function dialFrom(port: number, from: string): Promise<'closed' | 'open'> {
    return new Promise((resolve, reject) => {
      const s = tcpConnect({ host: '127.0.0.1', port, localAddress: from });
      sockets.push(s);
      let timer: NodeJS.Timeout | undefined;
      s.on('connect', () => {
        timer = setTimeout(() => resolve('open'), 300);
      });
      s.on('close', () => {
        clearTimeout(timer);
        resolve('closed');
      });
      s.on('error', (e: NodeJS.ErrnoException) => {
        if (e.code !== 'ECONNRESET') reject(e);
      });
    });
  }

  it('closes a banned host’s sockets before the Engine hears of them, until the ban is lifted', async () => {
    const transport = createNativeTransport(parseConfig({ network: 'regtest' }));
    const a = engine({ transport });
    const { port } = a.listen('127.0.0.1', 0);
    const seen: string[] = [];
    a.on('connected', (p) => seen.push(p.address.split(':')[0] as string));
    a.ban('127.0.0.2', 'test', 60_000);
    // Spelled as an IPv4-mapped address, the same host.
    a.ban('::ffff:127.0.0.3', 'test', 60_000);
    expect(await dialFrom(port, '127.0.0.2')).toBe('closed');
    expect(await dialFrom(port, '127.0.0.3')).toBe('closed');
    expect(await dialFrom(port, '127.0.0.4')).toBe('open');
    await waitUntil('the unbanned peer is seen', () => seen.includes('127.0.0.4'));
    expect(seen).toEqual(['127.0.0.4']);
    expect(transport.stats?.()?.inboundBanned).toBe(2);

    expect(a.unban('127.0.0.2')).toBe(true);
    expect(await dialFrom(port, '127.0.0.2')).toBe('open');
    await waitUntil('the unbanned host is seen', () => seen.includes('127.0.0.2'));
  });

  it('a ban dropped to make room, or one that has ended, lets the host in again', async () => {
    const transport = createNativeTransport(parseConfig({ network: 'regtest' }));
    const a = engine({ transport, limits: { maxBans: 1 } });
    const { port } = a.listen('127.0.0.1', 0);
    a.ban('127.0.0.5', 'first', 60_000);
    a.ban('127.0.0.6', 'second', 120_000);
    expect(a.bans().map((b) => b.host)).toEqual(['127.0.0.6']);
    expect(await dialFrom(port, '127.0.0.5')).toBe('open');
    expect(await dialFrom(port, '127.0.0.6')).toBe('closed');
    a.ban('127.0.0.6', 'short', 50);
    await new Promise((r) => setTimeout(r, 100));
    expect(await dialFrom(port, '127.0.0.6')).toBe('open');
  });
});
