// A well-formed version message for tests, with the fields a test cares about overridden.
import type { Message, VersionMessage } from '../../ts/wire/types.js';

export function versionPayload(overrides: Partial<VersionMessage> = {}): VersionMessage {
  return {
    version: 70016,
    services: 9n,
    timestamp: 1_700_000_000n,
    receiver: { services: 0n, ip: '127.0.0.1', port: 18444 },
    sender: { services: 9n, ip: '0.0.0.0', port: 0 },
    nonce: 0x1234n,
    userAgent: '/Satoshi:27.0.0/',
    startHeight: 100,
    relay: true,
    ...overrides,
  };
}

export function versionMessage(overrides: Partial<VersionMessage> = {}): Message {
  return { command: 'version', payload: versionPayload(overrides) };
}
