// Which dials go through which SOCKS5 proxy, with a fake transport and a
// manual clock: routing by network, the typed error for a network with no
// proxy, the peer a proxied connection stands for, and what reachability does
// to outbound selection, address relay and the crawler's verdicts.
import { describe, expect, it } from 'vitest';
import { type AdvertisedAddress, formatAddress, peerAddress } from '../../ts/addr/address.js';
import { AddressManager } from '../../ts/addr/addrman.js';
import { OutboundManager } from '../../ts/addr/outbound.js';
import { AddressRelay } from '../../ts/addr/relay.js';
import { ConfigError, type ProxyInput, ProxySchema } from '../../ts/config/schema.js';
import { connectFailure } from '../../ts/crawl/crawler.js';
import { ManualClock } from '../../ts/engine/clock.js';
import { Engine, type EngineOptions } from '../../ts/engine/engine.js';
import { UnreachableNetworkError } from '../../ts/engine/errors.js';
import { reachableNetworks, routeFor, targetKind } from '../../ts/engine/proxy.js';
import { FakeTransport } from '../helpers/fake-transport.js';
import { versionMessage } from '../helpers/messages.js';

/** A valid Tor v3 address (its checksum computed) from a seed byte. */
function onion(seed: number, port = 8333): AdvertisedAddress {
  const bytes = new Uint8Array(32).map((_, i) => (seed * 31 + i * 7) & 0xff);
  return { network: 'onion', bytes, port, time: 0, services: 1n };
}
const ONION = formatAddress(onion(1, 18444));
const I2P = `${'a'.repeat(52)}.b32.i2p:0`;

function setup(options: Omit<EngineOptions, 'clock' | 'transport'> = {}) {
  const clock = new ManualClock({ seed: 3 });
  const transport = new FakeTransport();
  const engine = new Engine({ network: 'regtest', ...options, clock, transport });
  return { clock, transport, engine };
}

const proxy = (input: ProxyInput) => ProxySchema.parse(input);

describe('routing a dial', () => {
  it('sends each network to its proxy, and the rest directly or through proxy.all', () => {
    const both = proxy({ all: '127.0.0.1:9050', onion: '127.0.0.1:9150', i2p: 'localhost:4447' });
    expect(routeFor(ONION, both)).toEqual({
      address: '127.0.0.1:9150',
      randomizeCredentials: true,
      timeoutMs: 20_000,
    });
    // The proxy's dial bound is its own (Core gives the SOCKS5 exchange 20 s).
    expect(routeFor(ONION, proxy({ onion: '127.0.0.1:9150', timeoutMs: 45_000 }))?.timeoutMs).toBe(
      45_000,
    );
    expect(routeFor(I2P, both)?.address).toBe('localhost:4447');
    expect(routeFor('1.2.3.4:8333', both)?.address).toBe('127.0.0.1:9050');
    expect(routeFor('[2001:db8::1]:8333', both)?.address).toBe('127.0.0.1:9050');
    expect(routeFor('seed.example.org:8333', both)?.address).toBe('127.0.0.1:9050');

    // -proxy alone covers Tor, not I2P (a Tor proxy cannot reach it).
    const all = proxy({ all: '[::1]:9050', randomizeCredentials: false });
    expect(routeFor(ONION, all)).toEqual({
      address: '[::1]:9050',
      randomizeCredentials: false,
      timeoutMs: 20_000,
    });
    expect(() => routeFor(I2P, all)).toThrow(UnreachableNetworkError);

    // -onion alone: Tor through it, everything else directly.
    const tor = proxy({ onion: '127.0.0.1:9050' });
    expect(routeFor(ONION, tor)?.address).toBe('127.0.0.1:9050');
    expect(routeFor('1.2.3.4:8333', tor)).toBeUndefined();
    expect(routeFor('seed.example.org:8333', tor)).toBeUndefined();
  });

  it('takes fc00::/8 as CJDNS only when a CJDNS proxy is set', () => {
    const none = proxy({});
    const cjdns = proxy({ cjdns: '127.0.0.1:1080' });
    expect(targetKind('[fc00::1]:8333', none)).toBe('ipv6');
    expect(routeFor('[fc00::1]:8333', none)).toBeUndefined();
    expect(targetKind('[fc12:3456::1]:8333', cjdns)).toBe('cjdns');
    expect(routeFor('[fc00::1]:8333', cjdns)?.address).toBe('127.0.0.1:1080');
    // fd00::/8 is private IPv6, never CJDNS; "fc::1" is 00fc::1.
    expect(targetKind('[fd00::1]:8333', cjdns)).toBe('ipv6');
    expect(targetKind('[fc::1]:8333', cjdns)).toBe('ipv6');
    expect(reachableNetworks(none)).toEqual(['ipv4', 'ipv6']);
    expect(reachableNetworks(cjdns)).toEqual(['ipv4', 'ipv6', 'cjdns']);
    expect(reachableNetworks(proxy({ all: '127.0.0.1:9050' }))).toEqual(['ipv4', 'ipv6', 'onion']);
  });

  it('refuses bad proxy addresses in the configuration, naming the field', () => {
    for (const bad of [
      '127.0.0.1',
      '127.0.0.1:0',
      '127.0.0.1:65536',
      '[::1',
      '[nope]:9050',
      'a b:1',
    ]) {
      expect(() => new Engine({ proxy: { onion: bad } }), bad).toThrow(ConfigError);
    }
    expect(() => new Engine({ proxy: { i2p: 'localhost' } })).toThrow(
      /proxy\.i2p: must be HOST:PORT/,
    );
  });
});

describe('Engine.connect through a proxy', () => {
  it('fails at once, typed, for Tor or I2P with no proxy for it, and dials nothing', () => {
    const t = setup();
    let thrown: unknown;
    try {
      t.engine.connect(ONION);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(UnreachableNetworkError);
    expect((thrown as UnreachableNetworkError).network).toBe('onion');
    expect((thrown as Error).message).toBe(
      `cannot dial ${ONION}: Tor addresses are dialled only through a SOCKS5 proxy, and none is configured for them (set proxy.onion or proxy.all)`,
    );
    expect(() => t.engine.connect(I2P)).toThrow(/I2P addresses .* \(set proxy\.i2p\)$/);
    // fc00::/8 text is private IPv6 unless the caller knows it is CJDNS.
    expect(() => t.engine.connect('[fc00::1]:8333', { network: 'cjdns' })).toThrow(
      /CJDNS addresses .* \(set proxy\.cjdns\)$/,
    );
    expect(t.transport.dials).toEqual([]);
    expect(t.engine.reachableNetworks()).toEqual(['ipv4', 'ipv6']);
    expect(t.engine.isReachable('onion')).toBe(false);
  });

  it('hands the proxy to the transport; the peer is the target, not the proxy', () => {
    const t = setup({ proxy: { onion: '127.0.0.1:9050' } });
    expect(t.engine.isReachable('onion')).toBe(true);
    t.engine.connect(ONION);
    t.engine.connect('10.0.0.1:18444');
    const [tor, direct] = t.transport.dials;
    expect(tor?.proxy).toEqual({
      address: '127.0.0.1:9050',
      randomizeCredentials: true,
      timeoutMs: 20_000,
    });
    expect(direct?.proxy).toBeUndefined();
    // The socket's remote end is the proxy.
    t.transport.acceptDial(tor?.peer as number, '127.0.0.1:9050');
    const peer = t.engine.peer(tor?.peer as number);
    expect(peer?.address).toBe(ONION);
    expect(peer?.proxy).toBe('127.0.0.1:9050');
    expect(peer?.target).toBe(ONION);
    // Our version cannot name an onion in its legacy address field: unspecified.
    const sent = t.transport.sentTo(tor?.peer as number, 'version')[0]?.message;
    expect(sent?.command === 'version' && sent.payload.receiver.ip).toBe('::');
    expect(sent?.command === 'version' && sent.payload.receiver.port).toBe(18444);
    // Bans go by the target: banning the proxy's loopback address would ban every onion peer.
    t.transport.deliver(tor?.peer as number, versionMessage());
    peer?.ban('test');
    expect(t.engine.isBanned(ONION.slice(0, ONION.lastIndexOf(':')))).toBe(true);
    expect(t.engine.isBanned('127.0.0.1')).toBe(false);
  });
});

describe('reachable networks', () => {
  function managerWith(options: Omit<EngineOptions, 'clock' | 'transport'>) {
    const t = setup(options);
    const am = new AddressManager({ clock: t.engine.clock });
    const now = Math.floor(t.engine.clock.now() / 1000) - 600;
    const source = peerAddress('99.1.0.1', 8333);
    for (let i = 0; i < 20; i++) am.add([{ ...onion(i + 10), time: now }], source);
    const mgr = new OutboundManager(t.engine, am, { dnsSeed: false, feelerIntervalMs: 0 });
    return { ...t, am, mgr };
  }

  it('outbound selection draws Tor addresses only with a Tor proxy', () => {
    const without = managerWith({});
    without.mgr.start();
    without.clock.advance(20 * 500);
    expect(without.transport.dials).toEqual([]);

    const withTor = managerWith({ proxy: { onion: '127.0.0.1:9050' } });
    withTor.mgr.start();
    withTor.clock.advance(20 * 500);
    const dials = withTor.transport.dials;
    expect(dials.length).toBeGreaterThan(0);
    for (const d of dials) {
      expect(d.address).toMatch(/\.onion:8333$/);
      expect(d.proxy?.address).toBe('127.0.0.1:9050');
    }
    // One per netgroup: Tor's are its first 4 bits, so at most 16 at once.
    expect(new Set(dials.map((d) => d.address)).size).toBe(dials.length);
  });

  it('relay announces a local onion address only when Tor is reachable', () => {
    const local = formatAddress(onion(5));
    const without = setup();
    const am1 = new AddressManager({ clock: without.engine.clock });
    expect(new AddressRelay(without.engine, am1, { localAddress: local }).localAddress).toBe(
      undefined,
    );
    const withTor = setup({ proxy: { onion: '127.0.0.1:9050' } });
    const am2 = new AddressManager({ clock: withTor.engine.clock });
    const relay = new AddressRelay(withTor.engine, am2, { localAddress: local });
    expect(relay.localAddress?.network).toBe('onion');
  });
});

describe('crawl verdicts on proxy failures', () => {
  it('tells the proxy’s own failures from what it reports about the node', () => {
    const p = 'SOCKS5 proxy 127.0.0.1:9050';
    expect(connectFailure(`${p} is unreachable: Connection refused (os error 111)`)).toBe('proxy');
    expect(connectFailure(`${p} refused the username and password (status 0x01)`)).toBe('proxy');
    expect(
      connectFailure(`${p} answered with version byte 0x48, not 0x05: not a SOCKS5 proxy`),
    ).toBe('proxy');
    expect(
      connectFailure(
        `${p} could not connect to ${ONION}: connection refused by the destination (SOCKS5 reply 0x05)`,
      ),
    ).toBe('refused');
    expect(
      connectFailure(
        `${p} could not connect to ${ONION}: onion service introduction timed out (SOCKS5 reply 0xf7)`,
      ),
    ).toBe('timeout');
    expect(
      connectFailure(`${p} could not connect to ${ONION}: host unreachable (SOCKS5 reply 0x04)`),
    ).toBe('unreachable');
    expect(
      connectFailure(
        `connect timed out after 5000 ms through SOCKS5 proxy 127.0.0.1:9050, waiting for the proxy's answer to CONNECT`,
      ),
    ).toBe('timeout');
    // A proxy that hung before it tried the node is the proxy's failure.
    for (const stage of [
      'the TCP connection to the proxy',
      "the proxy's answer to the SOCKS5 greeting",
      "the proxy's answer to our credentials",
    ]) {
      expect(
        connectFailure(
          `connect timed out after 20000 ms through SOCKS5 proxy 127.0.0.1:9050, waiting for ${stage}`,
        ),
      ).toBe('proxy');
    }
  });
});
