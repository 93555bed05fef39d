// A header-syncing node for simulations, on the public Engine API: it serves
// and follows headers (serveHeaders), asks each new peer for headers from its
// tip, and announces its new tips the way Core does (a `headers` message with
// the tip), so a node that is behind hears of it and asks.
import { type HeaderChain, MAX_HEADERS_PER_MESSAGE } from '../../chain/headerchain.js';
import { serveHeaders } from '../../cli/headers-service.js';
import type { TimerHandle } from '../../engine/clock.js';
import type { Engine } from '../../engine/engine.js';
import type { Peer } from '../../engine/peer.js';
import { headerCount } from '../../wire/headers.js';

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
  watchStaleTip(engine, chain);
  // Registered after serveHeaders: by now the message's headers are on the chain.
  engine.on('headers', (from, payload) => {
    // A full message means the sender has more: we are still catching up, and
    // Core announces no tips during its initial download (every peer told of a
    // half-synced tip would ask for the same headers again).
    if (headerCount(payload) >= MAX_HEADERS_PER_MESSAGE) return;
    if (chain.tipHash.equals(announced)) return;
    announced = chain.tipHash;
    const tip = chain.headerAt(chain.height);
    if (!tip) return;
    for (const peer of engine.readyPeers) {
      if (peer !== from) peer.send({ command: 'headers', payload: { headers: [tip] } });
    }
  });
}

/** How often the tip is looked at, and how long it may stand still before a peer is asked. */
const STALE_CHECK_MS = 60_000;
const STALE_TIP_MS = 2 * 60_000;

/**
 * A getheaders or its answer can be lost for good on a live connection (a
 * corrupted frame is dropped, as Core drops it), and then nothing asks again
 * until a new tip is announced. So, as Core's stale-tip check reaches for
 * another peer, a tip that has not moved for two minutes sends a getheaders to
 * one ready peer, a different one each time; an up-to-date peer answers with
 * nothing new.
 */
function watchStaleTip(engine: Engine, chain: HeaderChain): void {
  const clock = engine.clock;
  let tip = chain.tipHash;
  let movedAt = clock.now();
  let turn = 0;
  let timer: TimerHandle | undefined;
  const check = () => {
    if (!chain.tipHash.equals(tip)) {
      tip = chain.tipHash;
      movedAt = clock.now();
    } else if (clock.now() - movedAt >= STALE_TIP_MS) {
      const ready = engine.readyPeers;
      const peer = ready[turn++ % Math.max(1, ready.length)];
      if (peer) askForHeaders(peer, chain);
      movedAt = clock.now();
    }
    timer = clock.setTimer(STALE_CHECK_MS, check);
  };
  timer = clock.setTimer(STALE_CHECK_MS, check);
  engine.on('closed', () => {
    if (timer) clock.clearTimer(timer);
  });
}
