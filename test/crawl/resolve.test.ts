// Start addresses: IP literals as given, names through the injected resolver,
// Tor and I2P names as given (never resolved), failures reported per name
// rather than thrown.
import { describe, expect, it } from 'vitest';
import type { SeedResolver } from '../../ts/addr/seeds.js';
import { resolveStarts } from '../../ts/crawl/resolve.js';

describe('resolveStarts', () => {
  it('resolves names, keeps IPs, brackets IPv6, drops duplicates and reports failures', async () => {
    const asked: string[] = [];
    const resolver: SeedResolver = async (host) => {
      asked.push(host);
      if (host === 'seed.example') return ['192.0.2.1', '2001:db8::1'];
      if (host === 'same.example') return ['192.0.2.1'];
      if (host === 'empty.example') return [];
      throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    };
    const out = await resolveStarts(
      [
        { host: 'seed.example', port: 8333 },
        { host: '198.51.100.7', port: 8333 },
        { host: 'same.example', port: 8333 },
        { host: '::1', port: 18444 },
        { host: 'gone.example', port: 8333 },
        { host: 'empty.example', port: 8333 },
      ],
      resolver,
    );
    expect(asked.sort()).toEqual(['empty.example', 'gone.example', 'same.example', 'seed.example']);
    expect(out.addresses).toEqual([
      '192.0.2.1:8333',
      '[2001:db8::1]:8333',
      '198.51.100.7:8333',
      '[::1]:18444',
    ]);
    expect(out.failures).toEqual([
      { host: 'gone.example', error: 'ENOTFOUND' },
      { host: 'empty.example', error: 'no addresses' },
    ]);
  });

  it('takes Tor and I2P names as they are, never asking the resolver', async () => {
    const asked: string[] = [];
    const resolver: SeedResolver = async (host) => {
      asked.push(host);
      return ['192.0.2.1'];
    };
    const onion = 'pg6mmjiyjmcrsslvykfwnntlaru7p5svn6y2ymmju6nubxndf4pscryd.onion';
    const i2p = `${'a'.repeat(52)}.b32.i2p`;
    const out = await resolveStarts(
      [
        { host: onion.toUpperCase(), port: 8333 },
        { host: i2p, port: 0 },
        { host: 'bad.onion', port: 8333 },
        { host: onion, port: 8333 },
      ],
      resolver,
    );
    expect(asked).toEqual([]);
    expect(out.addresses).toEqual([`${onion}:8333`, `${i2p}:0`]);
    expect(out.failures).toEqual([
      { host: 'bad.onion', error: 'not a Tor v3 address: "bad.onion"' },
    ]);
  });
});
