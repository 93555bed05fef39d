// The SOCKS5 proxy flags shared by `peerwire node` and `peerwire crawl`, after
// Bitcoin Core's -proxy, -onion and -proxyrandomize, turned into the Engine's
// `proxy` configuration; and the check that an address given on the command
// line can be dialled with them (a Tor or I2P address needs its proxy).
import {
  isProxyAddress,
  type ProxyConfig,
  type ProxyInput,
  ProxySchema,
} from '../config/schema.js';
import { UnreachableNetworkError } from '../engine/errors.js';
import { routeFor } from '../engine/proxy.js';
import { CliError, type Flags, type Options } from './args.js';

export const PROXY_OPTIONS: Options = {
  proxy: { type: 'string' },
  onion: { type: 'string' },
  'i2p-proxy': { type: 'string' },
  'cjdns-proxy': { type: 'string' },
  'no-proxy-randomize': { type: 'boolean' },
};

/** The first of the two synopsis lines the proxy flags take (the second starts
 *  with `[--cjdns-proxy HOST:PORT] [--no-proxy-randomize]`). */
export const PROXY_SYNOPSIS = '[--proxy HOST:PORT] [--onion HOST:PORT] [--i2p-proxy HOST:PORT]';

export const PROXY_HELP = `  --proxy HOST:PORT       SOCKS5 proxy for every connection: IPv4, IPv6, host names
                          (resolved by the proxy, not here) and Tor (Core's -proxy)
  --onion HOST:PORT       SOCKS5 proxy for Tor .onion addresses (default: --proxy);
                          without either, .onion addresses are not dialled
  --i2p-proxy HOST:PORT   SOCKS5 proxy into I2P for .b32.i2p addresses (i2pd's is on
                          port 4447); without it, I2P addresses are not dialled
  --cjdns-proxy HOST:PORT SOCKS5 proxy for CJDNS (fc00::/8) addresses; without it,
                          CJDNS addresses are not dialled
  --no-proxy-randomize    no credentials for proxied connections; by default each gets
                          a random username and password, so Tor gives it a circuit
                          of its own (Core's -proxyrandomize)`;

const FLAG_OF: Record<'all' | 'onion' | 'i2p' | 'cjdns', string> = {
  all: 'proxy',
  onion: 'onion',
  i2p: 'i2p-proxy',
  cjdns: 'cjdns-proxy',
};

/** The proxy flags as an Engine `proxy` configuration; usage errors for bad values. */
export function proxyFlags(flags: Flags): ProxyConfig {
  const input: ProxyInput = {};
  for (const [key, flag] of Object.entries(FLAG_OF) as [keyof typeof FLAG_OF, string][]) {
    const value = flags[flag] as string | undefined;
    if (value === undefined) continue;
    if (!isProxyAddress(value)) {
      throw new CliError(
        `--${flag} must be HOST:PORT with a port from 1 to 65535 (e.g. 127.0.0.1:9050, [::1]:9050 or localhost:9050), got "${value}"`,
        2,
      );
    }
    input[key] = value;
  }
  const anyProxy = Object.keys(input).length > 0;
  if (flags['no-proxy-randomize'] === true) {
    if (!anyProxy) {
      throw new CliError(
        '--no-proxy-randomize has no use without --proxy, --onion, --i2p-proxy or --cjdns-proxy',
        2,
      );
    }
    input.randomizeCredentials = false;
  }
  return ProxySchema.parse(input);
}

/** The flags that would make a network reachable, for an error's hint. */
const HINT: Record<UnreachableNetworkError['network'], string> = {
  onion: '--onion HOST:PORT or --proxy HOST:PORT',
  i2p: '--i2p-proxy HOST:PORT',
  cjdns: '--cjdns-proxy HOST:PORT',
};

/** Throws a usage error when `address` (given to `--flag`) has no route with these proxies. */
export function checkDialable(address: string, flag: string, proxy: ProxyConfig): void {
  try {
    routeFor(address, proxy);
  } catch (err) {
    if (!(err instanceof UnreachableNetworkError)) throw err;
    const words = { onion: 'a Tor', i2p: 'an I2P', cjdns: 'a CJDNS' }[err.network];
    throw new CliError(
      `--${flag} ${address} is ${words} address, dialled only through a SOCKS5 proxy: give ${HINT[err.network]}`,
      2,
    );
  }
}
