// Dialling through a SOCKS5 proxy on loopback: a small node:net proxy
// (test/helpers/socks5-proxy.ts) records what it is asked, and forwards
// CONNECT requests for .onion names to a real Engine listening on 127.0.0.1;
// others refuse, hang, or answer garbage. Everything stays on 127.0.0.1.
import { afterEach, describe, expect, it } from 'vitest';
import { type AdvertisedAddress, formatAddress } from '../../ts/addr/address.js';
import { Crawler, type CrawlResult } from '../../ts/crawl/crawler.js';
import { Engine, type EngineOptions } from '../../ts/engine/engine.js';
import { UnreachableNetworkError } from '../../ts/engine/errors.js';
import type { Peer } from '../../ts/engine/peer.js';
import { type Asked, type Behaviour, Socks5Proxy } from '../helpers/socks5-proxy.js';

/** A valid Tor v3 address from a seed byte. */
function onion(seed: number, port = 18444): string {
  const bytes = new Uint8Array(32).map((_, i) => (seed * 37 + i * 11) & 0xff);
  const a: AdvertisedAddress = { network: 'onion', bytes, port, time: 0, services: 0n };
  return formatAddress(a);
}
const hostPart = (address: string) => address.slice(0, address.lastIndexOf(':'));

const engines: Engine[] = [];
const proxies: Socks5Proxy[] = [];
afterEach(async () => {
  await Promise.all(engines.splice(0).map((e) => e.close()));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

function engine(options: EngineOptions = {}): Engine {
  const e = new Engine({ network: 'regtest', ...options });
  engines.push(e);
  return e;
}

async function proxy(behaviour: Behaviour): Promise<Socks5Proxy> {
  const p = new Socks5Proxy(behaviour);
  proxies.push(p);
  await p.listen();
  return p;
}

function next<T>(register: (resolve: (v: T) => void) => void, what: string, ms = 10_000) {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    register((v) => {
      clearTimeout(timer);
      resolve(v);
    });
  });
}
const handshake = (e: Engine) => next<Peer>((r) => e.once('handshake', r), 'handshake');
const failed = (e: Engine) =>
  next<{ address: string; error: string }>((r) => e.once('failed', r), 'failed');

/** A listening Engine and a proxy that forwards any .onion:18444 to it. */
async function onionService() {
  const target = engine();
  const { port } = target.listen('127.0.0.1', 0);
  const p = await proxy({
    kind: 'forward',
    route: (host, to) => (host.endsWith('.onion') && to === 18444 ? port : undefined),
  });
  return { target, port, proxy: p };
}

describe('dialling through a SOCKS5 proxy', () => {
  it('completes the handshake with an Engine behind the proxy, asking for the onion by name', async () => {
    const { target, proxy: p } = await onionService();
    const dialler = engine({ proxy: { onion: p.address } });
    const address = onion(1);
    const [inbound, outbound] = [handshake(target), handshake(dialler)];
    dialler.connect(address);
    const [theirs, ours] = await Promise.all([inbound, outbound]);
    expect(theirs.inbound).toBe(true);
    // Our side knows the peer by the onion it dialled, and through which proxy.
    expect(ours.address).toBe(address);
    expect(ours.proxy).toBe(p.address);
    expect(ours.version?.userAgent).toBe('/peerwire:0.1.0/');
    const pong = await ours.request({ command: 'ping', payload: { nonce: 77n } });
    expect(pong.payload.nonce).toBe(77n);

    expect(p.asked).toHaveLength(1);
    const asked = p.asked[0] as Asked;
    expect(asked.atyp).toBe(3);
    expect(asked.host).toBe(hostPart(address));
    expect(asked.port).toBe(18444);
    // Stream isolation is on by default: credentials offered and sent.
    expect(asked.methods).toEqual([0, 2]);
    expect(asked.username).toMatch(/^[0-9a-f]{16}$/);
    expect(asked.password).toMatch(/^[0-9a-f]{16}$/);
  });

  it('sends fresh random credentials on every connection, none when randomizing is off', async () => {
    const { target, proxy: p } = await onionService();
    const dialler = engine({ proxy: { onion: p.address } });
    let ready = 0;
    const both = next<void>((r) => {
      target.on('handshake', () => {
        if (++ready === 3) r();
      });
    }, 'three handshakes');
    for (const seed of [2, 3, 4]) dialler.connect(onion(seed));
    await both;
    const users = p.asked.map((a) => a.username);
    const passwords = p.asked.map((a) => a.password);
    expect(new Set(users).size).toBe(3);
    expect(new Set(passwords).size).toBe(3);

    const plain = engine({ proxy: { onion: p.address, randomizeCredentials: false } });
    const done = handshake(plain);
    plain.connect(onion(5));
    await done;
    const last = p.asked.at(-1) as Asked;
    expect(last.methods).toEqual([0]);
    expect(last.username).toBeUndefined();
  });

  it('proxy.all carries IPv4 targets as addresses (ATYP 1)', async () => {
    const target = engine();
    const { port } = target.listen('127.0.0.1', 0);
    const p = await proxy({
      kind: 'forward',
      route: (host, to) => (host === '127.0.0.1' ? to : undefined),
    });
    const dialler = engine({ proxy: { all: p.address } });
    const ready = handshake(dialler);
    dialler.connect(`127.0.0.1:${port}`);
    const peer = await ready;
    expect(peer.proxy).toBe(p.address);
    expect(p.asked[0]).toMatchObject({ atyp: 1, host: '127.0.0.1', port });
  });

  it('a proxy that refuses (reply 0x05) gives a clear connect failure', async () => {
    const p = await proxy({ kind: 'fail', code: 5 });
    const dialler = engine({ proxy: { onion: p.address } });
    const address = onion(6);
    const failure = failed(dialler);
    dialler.connect(address);
    const f = await failure;
    expect(f.address).toBe(address);
    expect(f.error).toBe(
      `SOCKS5 proxy ${p.address} could not connect to ${address}: connection refused by the destination (SOCKS5 reply 0x05)`,
    );
  });

  it("Tor's onion-service codes are spelt out", async () => {
    const p = await proxy({ kind: 'fail', code: 0xf0 });
    const dialler = engine({ proxy: { onion: p.address } });
    const failure = failed(dialler);
    dialler.connect(onion(7));
    expect((await failure).error).toMatch(
      /: onion service descriptor not found \(unknown or offline service\) \(SOCKS5 reply 0xf0\)$/,
    );
  });

  it('a proxy that never answers times out within the proxy timeout, saying where', async () => {
    const p = await proxy({ kind: 'silent' });
    // The proxy's own bound, not the (longer) direct connect timeout.
    const dialler = engine({
      proxy: { onion: p.address, timeoutMs: 300 },
      limits: { connectTimeoutMs: 60_000 },
    });
    const failure = failed(dialler);
    const started = Date.now();
    dialler.connect(onion(8));
    const f = await failure;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(f.error).toBe(
      `connect timed out after 300 ms through SOCKS5 proxy ${p.address}, waiting for the proxy's answer to the SOCKS5 greeting`,
    );
  });

  it('a proxy that answers garbage fails cleanly', async () => {
    const p = await proxy({ kind: 'garbage' });
    const dialler = engine({ proxy: { onion: p.address } });
    const failure = failed(dialler);
    dialler.connect(onion(9));
    expect((await failure).error).toBe(
      `SOCKS5 proxy ${p.address} answered with version byte 0x48, not 0x05: not a SOCKS5 proxy`,
    );
    // The engine carries on: a good dial afterwards works.
    const { target, proxy: good } = await onionService();
    const other = engine({ proxy: { onion: good.address } });
    const ready = Promise.all([handshake(target), handshake(other)]);
    other.connect(onion(10));
    await ready;
  });

  it('no proxy for Tor: connect throws a typed error at once', () => {
    const dialler = engine({ proxy: { i2p: '127.0.0.1:4447' } });
    const address = onion(11);
    let failures = 0;
    dialler.on('failed', () => failures++);
    expect(() => dialler.connect(address)).toThrow(UnreachableNetworkError);
    expect(() => dialler.connect(address)).toThrow(
      /Tor addresses are dialled only through a SOCKS5 proxy, and none is configured/,
    );
    expect(dialler.peers).toEqual([]);
    expect(failures).toBe(0);
  });

  it('the crawler dials onion addresses through the proxy', async () => {
    const { proxy: p } = await onionService();
    const crawlerEngine = engine({ proxy: { onion: p.address } });
    const results: CrawlResult[] = [];
    const crawler = new Crawler(crawlerEngine, {
      concurrency: 2,
      getaddrTimeoutMs: 300,
      retries: 0,
      onResult: (r) => results.push(r),
    });
    // The proxy forwards port 18444 only: the other onion is "host unreachable".
    await crawler.run([onion(12), onion(13, 8333)]);
    const byAddress = new Map(results.map((r) => [r.address, r]));
    const up = byAddress.get(onion(12));
    expect(up).toMatchObject({ network: 'onion', dialled: true, reachable: true });
    const down = byAddress.get(onion(13, 8333));
    expect(down).toMatchObject({ network: 'onion', dialled: true, reachable: false });
    expect(down?.failure?.reason).toBe('unreachable');
    expect(down?.failure?.detail).toMatch(/host unreachable \(SOCKS5 reply 0x04\)$/);
  });
});
