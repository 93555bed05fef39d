// Start addresses: IP literals as given, names through the injected resolver,
// failures reported per name rather than thrown.
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
});
