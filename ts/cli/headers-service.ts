// Header sync, both sides, on the public Engine API: serving getheaders from a
// chain, and syncing a chain from peers through the RequestTracker.
import { headerHash } from '../chain/block.js';
import { type HeaderChain, HeaderError, MAX_HEADERS_PER_MESSAGE } from '../chain/headerchain.js';
import type { Engine } from '../engine/engine.js';
import { RequestAbortedError, RequestTimeoutError } from '../engine/errors.js';
import type { Peer } from '../engine/peer.js';
import type { BlockHeader } from '../wire/types.js';

/** Answers every getheaders from `chain` (the way Bitcoin Core serves them). */
export function serveHeaders(engine: Engine, chain: HeaderChain): void {
  engine.on('getheaders', (peer, request) => {
    if (!peer.connected) return;
    const headers = chain.headersAfter(request.locator, request.hashStop);
    peer.send({ command: 'headers', payload: { headers } });
  });
}

export interface SyncProgress {
  peer: Peer;
  height: number;
  target: number;
}

/**
 * Syncs `chain` from one peer until it has the peer's announced height (and the
 * peer has no more to give). Resolves with how it ended; throws HeaderError
 * after penalising the peer for an invalid header.
 */
export async function syncFromPeer(
  peer: Peer,
  chain: HeaderChain,
  onProgress: (p: SyncProgress) => void = () => {},
): Promise<'synced' | 'timeout' | 'gone' | 'forked' | 'stalled'> {
  for (;;) {
    const target = Math.max(peer.startHeight ?? 0, chain.height);
    onProgress({ peer, height: chain.height, target });
    let headers: BlockHeader[];
    try {
      const res = await peer.request({
        command: 'getheaders',
        payload: { version: 70016, locator: chain.locator(), hashStop: new Uint8Array(32) },
      });
      headers = res.payload.headers;
    } catch (err) {
      if (err instanceof RequestTimeoutError) {
        // Some nodes (bcoin) never send an empty headers at their tip: a timeout
        // once we hold their announced height means we are done.
        return chain.height >= target ? 'synced' : 'timeout';
      }
      if (err instanceof RequestAbortedError) return 'gone';
      throw err;
    }
    // A locator can overlap what we hold: skip headers we already have.
    let skip = 0;
    const first = headers[0];
    if (first && !chain.tipHash.equals(Buffer.from(first.prevBlock))) {
      while (
        skip < headers.length &&
        chain.heightOf(headerHash(headers[skip] as BlockHeader)) !== undefined
      ) {
        skip++;
      }
    }
    const toAppend = skip === 0 ? headers : headers.slice(skip);
    const before = chain.height;
    try {
      chain.append(toAppend);
    } catch (err) {
      if (!(err instanceof HeaderError)) throw err;
      // Headers on another branch are not invalid (Bitcoin Core does not punish
      // them); this chain follows one branch, so it leaves this peer be.
      if (err.code === 'unconnected') return 'forked';
      if (peer.active) peer.misbehaving(100, `invalid header: ${err.message}`);
      throw err;
    }
    if (chain.height === before && headers.length > 0) return 'stalled';
    onProgress({ peer, height: chain.height, target: Math.max(target, chain.height) });
    if (headers.length < MAX_HEADERS_PER_MESSAGE && chain.height >= target) return 'synced';
    if (headers.length === 0) return 'synced';
  }
}
