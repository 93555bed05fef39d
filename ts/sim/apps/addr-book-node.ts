// A node that knows a few addresses and tells them to whoever asks (getaddr),
// as addrv2 to peers that sent sendaddrv2 and as addr to the rest: the
// smallest peer a crawler can map a network of. Engine-only, so it runs on
// the simulator and on sockets alike.
import { toAddrEntry, toAddrV2Entry } from '../../addr/address.js';
import { parseHostPort } from '../../crawl/crawler.js';
import type { Engine } from '../../engine/engine.js';
import type { AddrV2Entry, TimedNetAddress } from '../../wire/types.js';

export interface AddrBookOptions {
  /** Addresses per message (default: all in one; at least 2, so each reads as an answer). */
  perMessage?: number;
  /** Services advertised with each address (default NODE_NETWORK). */
  services?: bigint;
  /** Answer with legacy addr even to peers that asked for addrv2 (as pre-BIP 155 nodes do). */
  legacy?: boolean;
  /** ms between the messages of one answer (default 0: all at once). */
  intervalMs?: number;
}

/**
 * Answers each peer's getaddr with `book` ("host:port" entries, read when the
 * getaddr arrives, so it may be filled in after the node starts listening).
 */
export function runAddrBookNode(
  engine: Engine,
  book: readonly string[],
  options: AddrBookOptions = {},
): void {
  const services = options.services ?? 1n;
  const perMessage = Math.max(2, options.perMessage ?? Number.MAX_SAFE_INTEGER);
  engine.on('getaddr', (peer) => {
    const time = Math.floor(engine.clock.now() / 1000);
    const entries = book.map((text) => ({ ...parseHostPort(text, 0), time, services }));
    const send = (from: number) => {
      if (!peer.active) return;
      const chunk = entries.slice(from, from + perMessage);
      if (peer.features.addrV2 && !options.legacy) {
        const addresses = chunk.map(toAddrV2Entry).filter((e): e is AddrV2Entry => !!e);
        peer.send({ command: 'addrv2', payload: { addresses } });
      } else {
        const addresses = chunk.map(toAddrEntry).filter((e): e is TimedNetAddress => !!e);
        peer.send({ command: 'addr', payload: { addresses } });
      }
      const next = from + perMessage;
      if (next >= entries.length) return;
      if (options.intervalMs) engine.clock.setTimer(options.intervalMs, () => send(next));
      else send(next);
    };
    send(0);
  });
}
