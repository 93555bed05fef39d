// Routability and netgroups as Bitcoin Core computes them, and addresses to and
// from addr / addrv2 entries and text.
import { describe, expect, it } from 'vitest';
import {
  AddressError,
  formatAddress,
  fromAddrEntry,
  fromAddrV2Entry,
  type Host,
  hostFromIp,
  internalHost,
  parseHost,
  toAddrEntry,
  toAddrV2Entry,
} from '../../ts/addr/address.js';
import { isRoutable, netClass, netGroup, netGroupKey } from '../../ts/addr/netgroup.js';
import { decodeMessage, encodePayload } from '../../ts/wire/codec.js';
import { ADDRV2_NETWORK } from '../../ts/wire/types.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const group = (ip: string) => hex(netGroup(hostFromIp(ip)));

describe('routability', () => {
  it.each([
    '10.1.2.3',
    '172.16.0.1',
    '172.31.255.255',
    '192.168.1.1',
    '127.0.0.1',
    '0.1.2.3',
    '169.254.1.1',
    '100.64.0.1',
    '198.18.0.1',
    '192.0.2.1',
    '198.51.100.1',
    '203.0.113.1',
    '240.0.0.1',
    '255.255.255.255',
    '::',
    '::1',
    'fe80::1',
    'fc00::1',
    'fd87:d87e:eb43::1',
    '2001:db8::1',
    '2001:10::1',
    '2001:20::1',
  ])('%s is not routable', (ip) => {
    expect(isRoutable(hostFromIp(ip))).toBe(false);
    expect(netClass(hostFromIp(ip))).toBe('unroutable');
  });

  it.each([
    '1.2.3.4',
    '172.15.0.1',
    '172.32.0.1',
    '100.128.0.1',
    '2001:4860::8888',
    '2002:102:304::1',
  ])('%s is routable', (ip) => {
    expect(isRoutable(hostFromIp(ip))).toBe(true);
  });

  it('takes CJDNS only in fc00::/8 and Tor, I2P as valid', () => {
    const cjdns = (first: number): Host => ({
      network: 'cjdns',
      bytes: Uint8Array.of(first, ...new Array(15).fill(1)),
    });
    expect(isRoutable(cjdns(0xfc))).toBe(true);
    expect(isRoutable(cjdns(0xfd))).toBe(false);
    expect(isRoutable({ network: 'onion', bytes: new Uint8Array(32).fill(7) })).toBe(true);
    expect(isRoutable({ network: 'i2p', bytes: new Uint8Array(32).fill(7) })).toBe(true);
    expect(isRoutable(internalHost('seed.example.org'))).toBe(false);
  });
});

describe('netgroups', () => {
  it('groups IPv4 by /16', () => {
    expect(group('1.2.3.4')).toBe('010102');
    expect(group('1.2.200.9')).toBe(group('1.2.3.4'));
    expect(group('1.3.3.4')).not.toBe(group('1.2.3.4'));
  });

  it('puts IPv4-mapped and IPv4-carrying IPv6 in the IPv4 /16', () => {
    expect(group('::ffff:1.2.3.4')).toBe('010102');
    expect(group('64:ff9b::102:304')).toBe('010102'); // NAT64, RFC 6052
    expect(group('::ffff:0:102:304')).toBe('010102'); // SIIT, RFC 6145
    expect(group('2002:102:304::1')).toBe('010102'); // 6to4, RFC 3964
    expect(group('2001:0:1234::fefd:fcfb')).toBe('010102'); // Teredo, inverted
  });

  it('groups IPv6 by /32 and he.net by /36', () => {
    expect(group('2001:4860:1:2::3')).toBe('0220014860');
    expect(group('2001:4860:ffff::1')).toBe(group('2001:4860:1:2::3'));
    expect(group('2001:470:abcd::1')).toBe('0220010470af');
    expect(group('2001:470:1bcd::1')).toBe('02200104701f');
  });

  it('groups Tor and I2P by network and their first 4 bits, CJDNS by the 4 after 0xfc', () => {
    const onion = (first: number): Host => ({
      network: 'onion',
      bytes: Uint8Array.of(first, ...new Array(31).fill(0)),
    });
    expect(hex(netGroup(onion(0x12)))).toBe('031f');
    expect(hex(netGroup(onion(0x1e)))).toBe('031f');
    expect(hex(netGroup(onion(0x22)))).toBe('032f');
    const i2p: Host = { network: 'i2p', bytes: Uint8Array.of(0x12, ...new Array(31).fill(0)) };
    expect(hex(netGroup(i2p))).toBe('041f');
    const cjdns: Host = {
      network: 'cjdns',
      bytes: Uint8Array.of(0xfc, 0x34, ...new Array(14).fill(0)),
    };
    expect(hex(netGroup(cjdns))).toBe('05fc3f');
  });

  it('puts every unroutable host in one group, and each internal name in its own', () => {
    expect(group('10.0.0.1')).toBe('00');
    expect(group('192.168.7.7')).toBe('00');
    expect(group('::1')).toBe('00');
    const a = internalHost('seed.a.example');
    const b = internalHost('seed.b.example');
    expect(netGroupKey(a)).toBe(`06${hex(a.bytes)}`);
    expect(netGroupKey(a)).not.toBe(netGroupKey(b));
  });
});

describe('address conversions', () => {
  it('round-trips addr entries through the codec', () => {
    const entries = [
      { time: 1_700_000_000, services: 1033n, ip: '1.2.3.4', port: 8333 },
      { time: 1_700_000_001, services: 1n, ip: '2001:4860::8888', port: 18333 },
    ];
    const payload = encodePayload('addr', { addresses: entries });
    const decoded = decodeMessage('addr', payload);
    if (decoded?.command !== 'addr') throw new Error('not addr');
    const ours = decoded.payload.addresses.map(fromAddrEntry);
    expect(ours.map((a) => a.network)).toEqual(['ipv4', 'ipv6']);
    expect(ours.map(toAddrEntry)).toEqual(entries);
  });

  it('round-trips addrv2 entries of every network through the codec', () => {
    const entries = [
      { networkId: ADDRV2_NETWORK.ipv4, address: Uint8Array.of(1, 2, 3, 4) },
      { networkId: ADDRV2_NETWORK.ipv6, address: hostFromIp('2001:4860::1').bytes },
      { networkId: ADDRV2_NETWORK.torv3, address: new Uint8Array(32).fill(9) },
      { networkId: ADDRV2_NETWORK.i2p, address: new Uint8Array(32).fill(8) },
      { networkId: ADDRV2_NETWORK.cjdns, address: Uint8Array.of(0xfc, ...new Array(15).fill(2)) },
    ].map((e, i) => ({ ...e, time: 1_700_000_000 + i, services: BigInt(i), port: 8333 + i }));
    const payload = encodePayload('addrv2', { addresses: entries });
    const decoded = decodeMessage('addrv2', payload);
    if (decoded?.command !== 'addrv2') throw new Error('not addrv2');
    const ours = decoded.payload.addresses.map(fromAddrV2Entry);
    expect(ours.map((a) => a.network)).toEqual(['ipv4', 'ipv6', 'onion', 'i2p', 'cjdns']);
    expect(ours.map(toAddrV2Entry)).toEqual(entries);
    expect(ours.slice(2).map(toAddrEntry)).toEqual([undefined, undefined, undefined]);
  });

  it('refuses bad addrv2 entries with typed errors', () => {
    const base = { time: 0, services: 0n, port: 1 };
    const code = (networkId: number, address: Uint8Array) => {
      try {
        fromAddrV2Entry({ ...base, networkId, address });
        return 'accepted';
      } catch (err) {
        expect(err).toBeInstanceOf(AddressError);
        return (err as AddressError).code;
      }
    };
    expect(code(ADDRV2_NETWORK.ipv4, new Uint8Array(16))).toBe('bad-length');
    expect(code(ADDRV2_NETWORK.torv2, new Uint8Array(10))).toBe('unsupported');
    expect(code(99, new Uint8Array(3))).toBe('unknown-network');
    expect(code(ADDRV2_NETWORK.ipv6, hostFromIp('::ffff:1.2.3.4').bytes)).toBe('bad-length');
    const mapped = new Uint8Array(16);
    mapped.set([0xff, 0xff], 10);
    expect(code(ADDRV2_NETWORK.ipv6, mapped)).toBe('invalid');
    expect(code(ADDRV2_NETWORK.ipv6, hostFromIp('fd87:d87e:eb43::1').bytes)).toBe('invalid');
  });

  it('formats and parses hosts as text', () => {
    const onion = parseHost('pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion');
    expect(onion.network).toBe('onion');
    expect(formatAddress({ ...onion, port: 8333 })).toBe(
      'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion:8333',
    );
    expect(() =>
      parseHost('pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscrya.onion'),
    ).toThrow(AddressError);
    const i2p = { network: 'i2p' as const, bytes: new Uint8Array(32).fill(0xab) };
    const text = formatAddress({ ...i2p, port: 0 });
    expect(text.endsWith('.b32.i2p:0')).toBe(true);
    expect(parseHost(text.slice(0, -2))).toEqual(i2p);
    expect(formatAddress({ ...hostFromIp('2001:db8::1'), port: 8333 })).toBe('[2001:db8::1]:8333');
    expect(formatAddress({ ...hostFromIp('1.2.3.4'), port: 8333 })).toBe('1.2.3.4:8333');
    expect(parseHost('fc00::1', { cjdns: true }).network).toBe('cjdns');
    expect(() => parseHost('not-an-ip')).toThrow(AddressError);
  });
});
