// Errors the Engine raises to its caller.

/** A peer handle was used after its connection ended. */
export class PeerGoneError extends Error {
  override readonly name = 'PeerGoneError';
  constructor(
    readonly peer: number,
    readonly reason: string,
  ) {
    super(`peer ${peer} is disconnected (${reason})`);
  }
}

/** A tracked request got no answer in time. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
  constructor(
    readonly peer: number,
    readonly command: string,
    readonly timeoutMs: number,
  ) {
    super(`peer ${peer} did not answer ${command} within ${timeoutMs} ms`);
  }
}

/** A tracked request was abandoned because its peer disconnected or the engine closed. */
export class RequestAbortedError extends Error {
  override readonly name = 'RequestAbortedError';
  constructor(
    readonly peer: number,
    readonly command: string,
    readonly reason: string,
  ) {
    super(`${command} to peer ${peer} abandoned: ${reason}`);
  }
}

/** An operation needs a running engine. */
export class EngineClosedError extends Error {
  override readonly name = 'EngineClosedError';
  constructor() {
    super('the engine is closed');
  }
}

/**
 * A Tor (.onion), I2P (.b32.i2p) or CJDNS address was dialled with no SOCKS5
 * proxy configured for its network: these are dialled only through one.
 */
export class UnreachableNetworkError extends Error {
  override readonly name = 'UnreachableNetworkError';
  constructor(
    readonly address: string,
    readonly network: 'onion' | 'i2p' | 'cjdns',
  ) {
    super(
      `cannot dial ${address}: ${NETWORK_WORDS[network]} addresses are dialled only through a ` +
        `SOCKS5 proxy, and none is configured for them (${PROXY_SETTINGS[network]})`,
    );
  }
}

const NETWORK_WORDS = { onion: 'Tor', i2p: 'I2P', cjdns: 'CJDNS' } as const;
const PROXY_SETTINGS = {
  onion: 'set proxy.onion or proxy.all',
  i2p: 'set proxy.i2p',
  cjdns: 'set proxy.cjdns',
} as const;
