// Header sync, both sides, on the public Engine API: serving getheaders from a
// chain (within a per-peer budget), following peers' headers onto the best
// chain, and syncing a chain from a peer through the RequestTracker.
import {
  type ChainEntry,
  type HeaderChain,
  HeaderError,
  MAX_HEADERS_PER_MESSAGE,
} from '../chain/headerchain.js';
import type { Engine } from '../engine/engine.js';
import { RequestAbortedError, RequestTimeoutError } from '../engine/errors.js';
import type { Peer } from '../engine/peer.js';
import { pacedAnswers } from '../serve/paced-answers.js';
import { firstPrevBlock, type HeadersPayload, headerCount } from '../wire/headers.js';

/** Core's MAX_NUM_UNCONNECTING_HEADERS_MSGS: `headers` that do not connect before a penalty. */
export const MAX_UNCONNECTING_HEADERS_MSGS = 10;
/** Core's HEADERS_RESPONSE_TIME: one getheaders in flight per peer within this. */
const HEADERS_RESPONSE_TIME_MS = 2 * 60_000;
/** What a peer that sent an invalid header or too many unconnecting ones is charged. */
const INVALID_HEADER_SCORE = 100;

/** Peers a syncFromPeer runs on: their `headers` are its answers, not announcements. */
const syncing = new WeakSet<Peer>();

export interface ServeHeadersOptions {
  /**
   * getheaders answers per second per peer, and the burst a peer may use at
   * once. 200/s of up to 2,000 headers each is 400,000 headers a second, faster
   * than a peer can validate them; it bounds what a peer that reads everything
   * can make us build. Past it, only the peer's newest request waits.
   */
  answersPerSecond?: number;
  answerBurst?: number;
  /**
   * Take peers' headers that connect onto the chain, so the node serves the
   * best chain it has seen (default true). Invalid ones are penalised.
   */
  follow?: boolean;
}

interface HeadersState {
  /** `headers` messages in a row whose first header did not connect. */
  unconnecting: number;
  /** When we last asked it for headers (Core: one getheaders in flight). */
  getheadersAt?: number;
}

/** Each peer's HeadersState, made on first use and dropped when it disconnects. */
function headersStates(engine: Engine) {
  const peers = new Map<Peer, HeadersState>();
  engine.on('disconnected', (peer) => peers.delete(peer));
  const stateOf = (peer: Peer): HeadersState => {
    let s = peers.get(peer);
    if (!s) {
      s = { unconnecting: 0 };
      peers.set(peer, s);
    }
    return s;
  };
  return { peers, stateOf };
}

export interface HeaderService {
  /** The unconnecting-headers count of a peer (for tests and logs). */
  unconnectingOf(peer: Peer): number;
}

/**
 * Answers getheaders from `chain` (the way Bitcoin Core serves them), within a
 * per-peer budget, and (with `follow`) adds peers' connecting headers to it.
 * A peer whose send queue is past its pause point (fPauseSend) gets no new
 * answers until it drains: its newest request waits, and is answered when the
 * transport reports it writable.
 */
export function serveHeaders(
  engine: Engine,
  chain: HeaderChain,
  options: ServeHeadersOptions = {},
): HeaderService {
  const { answersPerSecond = 200, answerBurst = 400, follow = true } = options;
  const { peers, stateOf } = headersStates(engine);
  const answers = pacedAnswers<{ locator: Uint8Array[]; hashStop: Uint8Array }>(
    engine,
    { perSecond: answersPerSecond, burst: answerBurst },
    (peer, request) =>
      peer.send({
        command: 'headers',
        payload: chain.headersPayloadAfter(request.locator, request.hashStop),
      }),
  );
  engine.on('getheaders', (peer, request) => answers.offer(peer, request));

  const askForHeaders = (peer: Peer, s: HeadersState, from?: ChainEntry): void =>
    sendGetHeaders(engine, chain, peer, s, from);

  watchHeaders(
    engine,
    chain,
    stateOf,
    (peer, s, payload) => {
      if (syncing.has(peer)) return;
      if (!follow) {
        // Not added, but still checked on their face, as Core does for every
        // headers message: a peer sending invalid ones is not let off.
        const fault = chain.checkPayloadPow(payload);
        // One score for both faults, as when following (and as Core since
        // v28, which discourages a peer for any misbehaviour).
        if (fault) peer.misbehaving(INVALID_HEADER_SCORE, `invalid header: ${fault.detail}`);
        return;
      }
      try {
        const { last } = chain.acceptPayload(payload);
        if (headerCount(payload) === MAX_HEADERS_PER_MESSAGE && last) askForHeaders(peer, s, last);
      } catch (err) {
        if (!(err instanceof HeaderError)) throw err;
        if (err.permanent) peer.misbehaving(INVALID_HEADER_SCORE, `invalid header: ${err.message}`);
      }
    },
    askForHeaders,
  );

  return { unconnectingOf: (peer) => peers.get(peer)?.unconnecting ?? 0 };
}

/** Core's MaybeSendGetHeaders: at most one getheaders in flight per peer. */
function sendGetHeaders(
  engine: Engine,
  chain: HeaderChain,
  peer: Peer,
  s: { getheadersAt?: number },
  from?: ChainEntry,
): void {
  const now = engine.clock.now();
  if (s.getheadersAt !== undefined && now - s.getheadersAt < HEADERS_RESPONSE_TIME_MS) return;
  s.getheadersAt = now;
  peer.send({
    command: 'getheaders',
    payload: { version: 70016, locator: chain.locator(from), hashStop: new Uint8Array(32) },
  });
}

/**
 * Core's rule for `headers` whose first header does not connect: answer with a
 * getheaders from our best tip (not to a peer a syncFromPeer is already asking)
 * and penalise only at the tenth such message in a row; one that connects
 * resets the count and goes to `onConnecting`. One map lookup per message.
 */
function watchHeaders<S extends HeadersState>(
  engine: Engine,
  chain: HeaderChain,
  stateOf: (peer: Peer) => S,
  onConnecting: (peer: Peer, s: S, payload: HeadersPayload) => void,
  ask: (peer: Peer, s: S) => void,
): void {
  engine.on('headers', (peer, payload) => {
    const prevBlock = firstPrevBlock(payload);
    if (!peer.active || prevBlock === undefined) return;
    const s = stateOf(peer);
    s.getheadersAt = undefined; // any headers ends the one in flight, as in Core
    if (!chain.connects(prevBlock)) {
      // Core checks every headers message on its face first: ten invalid
      // ones must not pass as merely unconnecting, for free.
      const fault = chain.checkPayloadPow(payload);
      if (fault) {
        peer.misbehaving(INVALID_HEADER_SCORE, `invalid header: ${fault.detail}`);
        return;
      }
      s.unconnecting++;
      if (s.unconnecting >= MAX_UNCONNECTING_HEADERS_MSGS) {
        peer.misbehaving(
          INVALID_HEADER_SCORE,
          `${s.unconnecting} headers messages in a row did not connect to our chain`,
        );
        return;
      }
      if (!syncing.has(peer)) ask(peer, s);
      return;
    }
    s.unconnecting = 0;
    onConnecting(peer, s, payload);
  });
}

/**
 * For a syncing node (no serveHeaders): applies the unconnecting-headers rule
 * to every peer. syncFromPeer's own requests always connect; this catches
 * peers that send headers nobody can link.
 */
export function watchUnconnectingHeaders(engine: Engine, chain: HeaderChain): void {
  const { stateOf } = headersStates(engine);
  watchHeaders(
    engine,
    chain,
    stateOf,
    () => {},
    (peer, s) => sendGetHeaders(engine, chain, peer, s),
  );
}

export interface SyncProgress {
  peer: Peer;
  height: number;
  target: number;
}

/**
 * How a sync from one peer ended: it gave all it had (`synced`); it never
 * answered a getheaders (`silent`); it stopped answering before its announced
 * height (`timeout`); it disconnected (`gone`); it kept sending the same full
 * message (`stalled`).
 */
export type SyncOutcome = 'synced' | 'silent' | 'timeout' | 'gone' | 'stalled';

/**
 * Syncs `chain` from one peer until the peer has no more headers to give. Its
 * headers may be on another branch: the chain keeps every valid branch and
 * follows the one with most work, so an honest peer on a branch is never
 * penalised. Throws a HeaderError for an invalid header (the peer penalised,
 * unless the header is only too far in the future: `err.permanent` false), or
 * after ten answers in a row that do not connect (watchUnconnectingHeaders or
 * serveHeaders on the engine penalises those).
 */
export async function syncFromPeer(
  peer: Peer,
  chain: HeaderChain,
  onProgress: (p: SyncProgress) => void = () => {},
): Promise<SyncOutcome> {
  syncing.add(peer);
  try {
    return await syncLoop(peer, chain, onProgress);
  } finally {
    syncing.delete(peer);
  }
}

async function syncLoop(
  peer: Peer,
  chain: HeaderChain,
  onProgress: (p: SyncProgress) => void,
): Promise<SyncOutcome> {
  let answered = false;
  let unconnecting = 0;
  /** Where the peer's last full message ended: the next request continues there (Core). */
  let from: ChainEntry | undefined;
  for (;;) {
    const target = Math.max(peer.startHeight ?? 0, chain.height);
    onProgress({ peer, height: chain.height, target });
    // A branch pruned meanwhile is asked for again from the best tip.
    if (from && chain.entry(from.hash) !== from) from = undefined;
    let headers: HeadersPayload;
    try {
      const res = await peer.request({
        command: 'getheaders',
        payload: { version: 70016, locator: chain.locator(from), hashStop: new Uint8Array(32) },
      });
      headers = res.payload;
    } catch (err) {
      if (err instanceof RequestTimeoutError) {
        if (!answered) return 'silent';
        // Some nodes (bcoin) never send an empty headers at their tip: a timeout
        // once we hold their announced height means we are done.
        return chain.height >= target ? 'synced' : 'timeout';
      }
      if (err instanceof RequestAbortedError) return 'gone';
      throw err;
    }
    answered = true;
    const prevBlock = firstPrevBlock(headers);
    if (!prevBlock) return 'synced';
    if (!chain.connects(prevBlock)) {
      // Core answers with a getheaders from its best tip: the next turn of this
      // loop. Penalising is watchHeaders' job (it sees every headers message);
      // this only stops asking a peer that never connects.
      unconnecting++;
      from = undefined;
      if (unconnecting >= MAX_UNCONNECTING_HEADERS_MSGS) {
        throw new HeaderError(
          'unconnected',
          undefined,
          `${unconnecting} answers in a row did not connect to our chain`,
        );
      }
      continue;
    }
    unconnecting = 0;
    let last: ChainEntry | undefined;
    try {
      last = chain.acceptPayload(headers).last;
    } catch (err) {
      if (!(err instanceof HeaderError)) throw err;
      if (err.permanent && peer.active) {
        peer.misbehaving(INVALID_HEADER_SCORE, `invalid header: ${err.message}`);
      }
      throw err;
    }
    onProgress({ peer, height: chain.height, target: Math.max(target, chain.height) });
    if (headerCount(headers) < MAX_HEADERS_PER_MESSAGE) return 'synced';
    if (last === from) return 'stalled';
    from = last;
  }
}
