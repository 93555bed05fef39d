// Start addresses for a crawl: "host:port" seeds whose host is an IP or a name
// (a DNS seed answers a name with many node addresses), resolved through the
// same injected resolver the outbound manager seeds with (ts/addr/seeds.ts),
// so tests and the simulator need no DNS. Tor (.onion) and I2P (.i2p) names
// are node addresses themselves, never looked up: they are dialled through a
// proxy, and a DNS query for one would only tell the network whom we dial.
import { isIP } from 'node:net';
import { AddressError, formatAddress, hostFromIp, parseHost } from '../addr/address.js';
import { type SeedResolver, systemSeedResolver } from '../addr/seeds.js';

export interface StartHost {
  host: string;
  port: number;
}

export interface ResolvedStarts {
  /** Distinct "ip:port" addresses (IPv6 in brackets), and Tor and I2P names as
   *  given ("name.onion:port"), in the order found. */
  addresses: string[];
  /** Names that resolved to nothing, and why. */
  failures: Array<{ host: string; error: string }>;
}

/**
 * Resolves `hosts` (IP literals are taken as they are; names go to the
 * resolver, all at once). A name that fails is reported, not thrown: a crawl
 * can start from whichever seeds answer.
 */
export async function resolveStarts(
  hosts: readonly StartHost[],
  resolver: SeedResolver = systemSeedResolver,
): Promise<ResolvedStarts> {
  const answers = await Promise.allSettled(
    hosts.map(async ({ host }) =>
      isIP(host) || isOverlayName(host) ? [host] : await resolver(host),
    ),
  );
  const seen = new Set<string>();
  const out: ResolvedStarts = { addresses: [], failures: [] };
  answers.forEach((answer, i) => {
    const { host, port } = hosts[i] as StartHost;
    if (isOverlayName(host)) {
      try {
        const text = formatAddress({ ...parseHost(host), port });
        if (!seen.has(text)) {
          seen.add(text);
          out.addresses.push(text);
        }
      } catch (err) {
        if (!(err instanceof AddressError)) throw err;
        out.failures.push({ host, error: err.message });
      }
      return;
    }
    if (answer.status === 'rejected') {
      const err = answer.reason as { code?: string; message?: string };
      out.failures.push({ host, error: err.code ?? err.message ?? String(answer.reason) });
      return;
    }
    let usable = 0;
    for (const address of answer.value) {
      let text: string;
      try {
        text = formatAddress({ ...hostFromIp(address), port });
      } catch {
        continue; // not an IP (a resolver should not return one)
      }
      usable++;
      if (seen.has(text)) continue;
      seen.add(text);
      out.addresses.push(text);
    }
    if (usable === 0) out.failures.push({ host, error: 'no addresses' });
  });
  return out;
}

/** A Tor or I2P name: a node's address in itself, never for DNS. */
function isOverlayName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h.endsWith('.onion') || h.endsWith('.i2p');
}
