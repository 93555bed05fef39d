// A header-syncing node for simulations, on the public Engine API: it serves
// and follows headers (serveHeaders), asks each new peer for headers from its
// tip, and announces its new tips the way Core does (a `headers` message with
// the tip), so a node that is behind hears of it and asks.
import type { HeaderChain } from '../../chain/headerchain.js';
import { serveHeaders } from '../../cli/headers-service.js';
import type { Engine } from '../../engine/engine.js';
import type { Peer } from '../../engine/peer.js';

/** A getheaders from our tip, as Core sends to a new peer when it is behind. */
function askForHeaders(peer: Peer, chain: HeaderChain): void {
  peer.send({
    command: 'getheaders',
    payload: { version: 70016, locator: chain.locator(), hashStop: new Uint8Array(32) },
  });
}

/**
 * Runs header sync on `engine` over `chain` (which outlives the engine: it is
 * the node's disk, kept across a crash and restart).
 */
export function runHeaderNode(engine: Engine, chain: HeaderChain): void {
  serveHeaders(engine, chain);
  let announced = chain.tipHash;
  engine.on('handshake', (peer) => askForHeaders(peer, chain));
  // Registered after serveHeaders: by now the message's headers are on the chain.
  engine.on('headers', (from) => {
    if (chain.tipHash.equals(announced)) return;
    announced = chain.tipHash;
    const tip = chain.headerAt(chain.height);
    if (!tip) return;
    for (const peer of engine.readyPeers) {
      if (peer !== from) peer.send({ command: 'headers', payload: { headers: [tip] } });
    }
  });
}
