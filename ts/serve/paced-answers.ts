// Answering one kind of request per peer within a budget, the way a peer that
// floods us with requests should be answered: a token bucket per peer, and
// when the peer asks faster than that, only its newest request waits (a newer
// one replaces it: the peer wants the newest). When an answer meets
// backpressure or a full queue (Core's fPauseSend), the peer gets no more
// answers from here until it is writable (a full queue's answer waits to be
// sent again). What a flood of requests costs is then the rate, not the flood.
import type { TimerHandle } from '../engine/clock.js';
import type { Engine } from '../engine/engine.js';
import type { Peer } from '../engine/peer.js';
import { TokenBucket } from '../engine/rate-limit.js';
import type { SendResult } from '../native/transport.js';

/** The longest timer Node keeps (a longer one fires at once). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface PaceOptions {
  /** Answers per second per peer. */
  perSecond: number;
  /** Answers a peer may have at once. */
  burst: number;
}

export interface PacedAnswers<R> {
  /** A request from `peer`: answered now if its budget allows, else it waits (replacing one waiting). */
  offer(peer: Peer, request: R): void;
}

interface Paced<R> {
  bucket: TokenBucket;
  paused: boolean;
  pending?: R;
  timer?: TimerHandle;
}

/**
 * Calls `answer` for requests offered, within `pace` per peer. `answer` returns
 * what its send returned (undefined if it sent nothing); backpressure or a full
 * queue pauses the peer until the engine reports it writable.
 */
export function pacedAnswers<R>(
  engine: Engine,
  pace: PaceOptions,
  answer: (peer: Peer, request: R) => SendResult | undefined,
): PacedAnswers<R> {
  if (!(pace.perSecond >= 0 && Number.isFinite(pace.perSecond))) {
    throw new RangeError(`answers per second must be a finite number >= 0, got ${pace.perSecond}`);
  }
  if (!(pace.burst >= 1 && Number.isFinite(pace.burst))) {
    throw new RangeError(`an answer burst must be a finite number >= 1, got ${pace.burst}`);
  }
  const clock = engine.clock;
  const peers = new Map<Peer, Paced<R>>();

  const run = (peer: Peer, s: Paced<R>): void => {
    const request = s.pending;
    if (request === undefined || !peer.active || s.paused) return;
    const now = clock.now();
    if (!s.bucket.take(now)) {
      const wait = s.bucket.waitMs(now);
      // At rate 0 no token comes back: the request waits for nothing. Node
      // fires a timer longer than 2^31 - 1 ms (Infinity too) at once.
      if (Number.isFinite(wait)) {
        s.timer ??= clock.setTimer(Math.min(wait, MAX_TIMER_MS), () => {
          s.timer = undefined;
          try {
            run(peer, s);
          } catch (err) {
            engine.reportHandlerError(err);
          }
        });
      }
      return;
    }
    s.pending = undefined;
    const sent = answer(peer, request);
    if (sent === 'backpressure' || sent === 'full') s.paused = true;
    // Nothing was queued: unless a newer request came meanwhile, this one is
    // answered once the queue has drained.
    if (sent === 'full') s.pending ??= request;
  };

  engine.on('writable', (peer) => {
    const s = peers.get(peer);
    if (!s) return;
    s.paused = false;
    run(peer, s);
  });
  engine.on('disconnected', (peer) => {
    const s = peers.get(peer);
    if (s?.timer) clock.clearTimer(s.timer);
    peers.delete(peer);
  });

  return {
    offer(peer, request) {
      if (!peer.active) return;
      let s = peers.get(peer);
      if (!s) {
        s = { bucket: new TokenBucket(pace.perSecond, pace.burst, clock.now()), paused: false };
        peers.set(peer, s);
      }
      s.pending = request;
      run(peer, s);
    },
  };
}
