// Ban list: one spelling per host, expired entries swept, bounded size.
import { describe, expect, it } from 'vitest';
import { BanList, hostOf, isLoopback, normalizeHost } from '../../ts/engine/bans.js';

describe('hosts', () => {
  it('hostOf takes the host from every address form', () => {
    expect(hostOf('1.2.3.4:8333')).toBe('1.2.3.4');
    expect(hostOf('[::1]:8333')).toBe('::1');
    expect(hostOf('[::1]')).toBe('::1');
    expect(hostOf('::1')).toBe('::1');
    expect(hostOf('[2001:DB8:0:0:0:0:0:1]:18444')).toBe('2001:db8::1');
    expect(hostOf('Node.Example:8333')).toBe('node.example');
    expect(hostOf('1.2.3.4')).toBe('1.2.3.4');
  });

  it('an IPv4-mapped IPv6 address is its IPv4 host', () => {
    expect(hostOf('[::ffff:1.2.3.4]:8333')).toBe('1.2.3.4');
    expect(normalizeHost('::FFFF:0102:0304')).toBe('1.2.3.4');
    expect(normalizeHost('fe80::1%eth0')).toBe('fe80::1');
    expect(isLoopback('::ffff:127.0.0.1')).toBe(true);
    expect(isLoopback('0:0:0:0:0:0:0:1')).toBe(true);
    expect(isLoopback('10.0.0.1')).toBe(false);
  });
});

describe('BanList', () => {
  it('a ban holds for every spelling of the host', () => {
    const bans = new BanList();
    bans.ban('::ffff:1.2.3.4', 'test', 1_000, 0);
    expect(bans.find('1.2.3.4', 0)?.host).toBe('1.2.3.4');
    bans.ban('2001:db8::1', 'test', 1_000, 0);
    expect(bans.find('2001:DB8:0::1', 0)).toBeDefined();
    expect(bans.unban('2001:0db8::0001')).toBe(true);
    expect(bans.size).toBe(1);
  });

  it('expired bans are swept as new ones come in, without any lookup', () => {
    const bans = new BanList();
    for (let i = 0; i < 100; i++) bans.ban(`10.0.0.${i}`, 'old', 1_000, 0);
    // Later, a stream of new bans: the expired ones go without being looked up.
    for (let i = 0; i < 100; i++) bans.ban(`10.1.0.${i}`, 'new', 10_000, 2_000 + i);
    expect(bans.size).toBe(100);
    expect(bans.list(3_000).every((b) => b.reason === 'new')).toBe(true);
  });

  it('is bounded: a full list of live bans drops the one ending soonest', () => {
    const bans = new BanList(3);
    bans.ban('10.0.0.1', 'long', 100_000, 0);
    bans.ban('10.0.0.2', 'short', 5_000, 0);
    bans.ban('10.0.0.3', 'medium', 50_000, 0);
    bans.ban('10.0.0.4', 'newest', 60_000, 0);
    expect(bans.size).toBe(3);
    expect(bans.find('10.0.0.2', 1)).toBeUndefined();
    expect(bans.list(1).map((b) => b.host)).toEqual(['10.0.0.1', '10.0.0.3', '10.0.0.4']);
    // Renewing a ban does not count twice.
    bans.ban('10.0.0.4', 'renewed', 70_000, 1);
    expect(bans.size).toBe(3);
  });
});
