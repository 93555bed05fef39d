// The zod configuration: presets, custom networks, defaults and error messages.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NETWORK_PRESETS } from '../../ts/config/networks.js';
import {
  ConfigError,
  loadNetworkFile,
  networkPreset,
  parseConfig,
  parseNetwork,
} from '../../ts/config/schema.js';

const LITECOIN = {
  name: 'litecoin',
  magic: 'fbc0b6db',
  port: 9333,
  genesisHash: '12a765e31ffd4059bada1e25190f6e98c99d9714d334efa41a195a7e7e04bfe2',
  protocolVersion: 70015,
  userAgent: '/peerwire-ltc:0.1.0/',
  pow: { check: false },
};

function issues(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration', () => {
  it('defaults to regtest with Bitcoin Core limits', () => {
    const c = parseConfig();
    expect(c.network).toMatchObject({ name: 'regtest', magic: 'fabfb5da', port: 18444 });
    expect(c.limits).toMatchObject({
      maxInbound: 117,
      maxOutbound: 8,
      maxPayload: 4_000_000,
      recvBudgetBytes: 5_000_000,
      sendBudgetBytes: 1_000_000,
      handshakeTimeoutMs: 60_000,
      pingIntervalMs: 120_000,
      inactivityTimeoutMs: 1_200_000,
      banTimeMs: 86_400_000,
      banThreshold: 100,
    });
    expect(c.policy.minPeerVersion).toBe(31_800);
  });

  it.each(Object.entries(NETWORK_PRESETS))(
    'preset %s has its magic, port and genesis',
    (name, preset) => {
      const n = networkPreset(name as keyof typeof NETWORK_PRESETS);
      expect(n.magic).toBe(preset.magic);
      expect(n.port).toBe(preset.port);
      expect(n.genesisHash).toBe(preset.genesisHash);
      expect(n.protocolVersion).toBe(70_016);
      expect(parseConfig({ network: name }).network.name).toBe(name);
    },
  );

  it('mainnet is f9beb4d9 on 8333 with a 2016-block retarget', () => {
    const n = networkPreset('mainnet');
    expect(n.dnsSeeds.length).toBeGreaterThan(3);
    expect(n.pow.retarget).toEqual({ interval: 2016, targetTimespanSeconds: 1_209_600 });
    expect(networkPreset('regtest').pow.retarget).toBeNull();
  });

  it('accepts a custom fork network as a plain object', () => {
    const c = parseConfig({ network: LITECOIN });
    expect(c.network).toMatchObject({
      name: 'litecoin',
      magic: 'fbc0b6db',
      protocolVersion: 70015,
    });
    expect(c.network.pow.check).toBe(false);
    expect(c.network.services).toBe(0n);
  });

  it('loads a custom network from a JSON file, services as a string', () => {
    const dir = mkdtempSync(join(tmpdir(), 'peerwire-'));
    const file = join(dir, 'ltc.json');
    writeFileSync(file, JSON.stringify({ ...LITECOIN, services: '1033' }));
    expect(loadNetworkFile(file)).toMatchObject({ name: 'litecoin', services: 1033n });

    const bad = join(dir, 'bad.json');
    writeFileSync(bad, '{ "name": ');
    expect(() => loadNetworkFile(bad)).toThrow(/network file .*bad.json[\s\S]*not valid JSON/);
    expect(() => loadNetworkFile(join(dir, 'missing.json'))).toThrow(/cannot read/);
  });

  it('names the field and the rule for every invalid value', () => {
    expect(
      issues(() =>
        parseConfig({
          network: 'mainet',
          limits: { maxPayload: 0, pingIntervalMs: 1.5, maxInbound: -1 },
          policy: { unsolicited: 'shout' as never, rejectUserAgent: '(' },
          reconnect: { jitter: 2 },
        }),
      ),
    ).toEqual([
      'network: unknown network "mainet": must be one of mainnet, testnet3, testnet4, signet, regtest, or a custom network object',
      'limits.maxInbound: Too small: expected number to be >=0',
      'limits.maxPayload: Too small: expected number to be >0',
      'limits.pingIntervalMs: Invalid input: expected int, received number',
      'policy.rejectUserAgent: must be a valid regular expression',
      'policy.unsolicited: Invalid option: expected one of "ignore"|"penalize"',
      'reconnect.jitter: Too big: expected number to be <=1',
    ]);
    expect(
      issues(() =>
        parseNetwork({ ...LITECOIN, magic: 'fbc0b6', genesisHash: 'xyz', port: 70_000 }),
      ),
    ).toEqual([
      'magic: must be 8 hex digits (the magic in wire order)',
      'port: Too big: expected number to be <=65535',
      'genesisHash: must be 64 hex digits (the genesis block hash as explorers show it)',
    ]);
    expect(issues(() => parseConfig({ network: { ...LITECOIN, services: '-1' } }))).toEqual([
      'network.services: must be a decimal integer',
    ]);
  });
});
