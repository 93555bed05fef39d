// RequestTracker (seed 001): requests that expect an answer are remembered per
// peer when sent; an inbound message either answers one of them or is
// unsolicited. Responses are matched by what they carry, never by their kind
// alone, because every response kind can also arrive unasked (announcements,
// relay). Every request has a timeout, so nothing is waited on forever (bcoin,
// for one, never answers a getheaders when you are at its tip).
//
// Matching rules:
// - pong answers the ping with the same nonce.
// - headers answers the oldest getheaders whose locator holds the first
//   header's parent (a node answers from the first locator hash on its best
//   chain, and from genesis when it knows none of them). An empty headers
//   answers the oldest getheaders (Core sends one when it has nothing newer).
//   With an empty locator, the answer is the hashStop header alone. So a
//   sendheaders announcement of a block whose parent is not in a locator is an
//   announcement, not a reply.
// - addr / addrv2 with no address or with two or more answers the oldest
//   getaddr. One address is relay: Core relays addresses a few at a time and
//   announces its own address alone, often right after the handshake, before
//   its getaddr answer. The cost: a peer that knows exactly one address answers
//   in a way we cannot tell from relay, and that getaddr times out.
// - getdata tracks each requested item. block answers block / witness-block /
//   compact-block items by block hash (Core sends a full block for an old
//   compact-block request); cmpctblock answers compact-block items; merkleblock
//   answers filtered-block items; tx answers tx / witness-tx items by txid and
//   wtx items by wtxid; notfound answers the items it lists. Each answer fills
//   one item, the oldest waiting for that hash, so asking for a hash twice waits
//   for two answers, as a node sends one per entry. A getdata resolves once all
//   of its items are answered.
import { blockHash, headerHash, txid, wtxid } from '../chain/block.js';
import { sha256d } from '../chain/hash.js';
import { firstHeaderBytes, firstPrevBlock, headerCount } from '../wire/headers.js';
import type { BlockHeader, InvVector, Message } from '../wire/types.js';
import { INV_TYPE } from '../wire/types.js';
import type { Clock, TimerHandle } from './clock.js';
import { RequestAbortedError, RequestTimeoutError } from './errors.js';

/** Commands that can be tracked, and what they resolve with. */
export interface TrackedResponses {
  ping: Extract<Message, { command: 'pong' }>;
  getheaders: Extract<Message, { command: 'headers' }>;
  getaddr: Extract<Message, { command: 'addr' | 'addrv2' }>;
  getdata: GetDataResult;
}
export type TrackedCommand = keyof TrackedResponses;
/** The request message for a tracked command. */
export type RequestOf<C extends TrackedCommand> = Extract<Message, { command: C }>;

/** A message that answers one getdata item. */
export type GetDataAnswer = Extract<
  Message,
  { command: 'block' | 'tx' | 'merkleblock' | 'cmpctblock' }
>;

/** One answer per requested item, in request order; no `message` means notfound. */
export interface GetDataResult {
  items: Array<{ inv: InvVector; message?: GetDataAnswer }>;
}

interface Pending {
  peer: number;
  command: TrackedCommand;
  sentAt: number;
  /** When its timer rejects it, on the clock's timeline. */
  deadline: number;
  timer: TimerHandle;
  resolve(value: unknown): void;
  reject(error: Error): void;
  /** ping: the nonce a pong must echo. */
  nonce?: bigint;
  /** getheaders: the locator hashes (hex) a reply's first parent must be among. */
  locator?: Set<string>;
  /** getheaders with an empty locator: the one header (hex hash) it asks for. */
  hashStop?: string;
  /** getdata: the result being filled, the hex keys of its items, and how many are left. */
  result?: GetDataResult;
  keys?: string[];
  left?: number;
}

/** A request still waiting for its answer; times on the tracker's clock. */
export interface OutstandingRequest {
  peer: number;
  command: TrackedCommand;
  sentAt: number;
  deadline: number;
}

/** A getdata item waiting for its answer. */
interface ItemWait {
  pending: Pending;
  index: number;
  type: number;
}

/** Everything outstanding for one peer, indexed the way answers are looked up. */
class PeerRequests {
  pings: Pending[] = [];
  headers: Pending[] = [];
  addrs: Pending[] = [];
  /** getdata items by hex hash, oldest first. */
  items = new Map<string, ItemWait[]>();
  /** Waiting items answered by a tx's txid, and by its wtxid (so a tx is hashed only as needed). */
  byTxid = 0;
  byWtxid = 0;

  get size(): number {
    return this.pings.length + this.headers.length + this.addrs.length + this.items.size;
  }
}

export type MatchOutcome = 'answered' | 'unsolicited' | 'not-a-response';
export interface MatchResult {
  readonly outcome: MatchOutcome;
  /** Set when the message answered a ping. */
  readonly rttMs?: number;
}

// Shared results: matching runs for every message, so it allocates nothing
// unless a ping was answered.
const ANSWERED: MatchResult = Object.freeze({ outcome: 'answered' });
const UNSOLICITED: MatchResult = Object.freeze({ outcome: 'unsolicited' });
const NOT_A_RESPONSE: MatchResult = Object.freeze({ outcome: 'not-a-response' });

/** Inventory types each answering command can fill. */
const BLOCK_ANSWERS: ReadonlySet<number> = new Set([
  INV_TYPE.block,
  INV_TYPE.witnessBlock,
  INV_TYPE.cmpctBlock,
]);
const CMPCT_ANSWERS: ReadonlySet<number> = new Set([INV_TYPE.cmpctBlock]);
const MERKLE_ANSWERS: ReadonlySet<number> = new Set([
  INV_TYPE.filteredBlock,
  INV_TYPE.witnessFilteredBlock,
]);
const TXID_ANSWERS: ReadonlySet<number> = new Set([INV_TYPE.tx, INV_TYPE.witnessTx]);
const WTXID_ANSWERS: ReadonlySet<number> = new Set([INV_TYPE.wtx]);

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

export class RequestTracker {
  private byPeer = new Map<number, PeerRequests>();
  private readonly genesis: string | undefined;

  /**
   * `genesisHash` (wire order) lets a getheaders reply that starts after
   * genesis count as an answer even when the locator leaves genesis out: a
   * node that knows none of the locator answers from genesis.
   */
  constructor(
    private readonly clock: Clock,
    genesisHash?: Uint8Array,
  ) {
    this.genesis = genesisHash ? hex(genesisHash) : undefined;
  }

  /**
   * Tracks a request just sent. The promise resolves with the matching response
   * or rejects with RequestTimeoutError / RequestAbortedError.
   */
  track<C extends TrackedCommand>(
    peer: number,
    request: RequestOf<C>,
    timeoutMs: number,
  ): Promise<TrackedResponses[C]> {
    const message = request as Message;
    return new Promise<TrackedResponses[C]>((resolve, reject) => {
      const command = message.command as TrackedCommand;
      const sentAt = this.clock.now();
      const pending: Pending = {
        peer,
        command,
        sentAt,
        deadline: sentAt + timeoutMs,
        resolve: resolve as (v: unknown) => void,
        reject,
        timer: this.clock.setTimer(timeoutMs, () => {
          this.remove(pending);
          reject(new RequestTimeoutError(peer, command, timeoutMs));
        }),
      };
      const state = this.stateFor(peer);
      switch (message.command) {
        case 'ping':
          pending.nonce = message.payload.nonce;
          state.pings.push(pending);
          break;
        case 'getheaders':
          pending.locator = new Set(message.payload.locator.map(hex));
          if (pending.locator.size === 0) pending.hashStop = hex(message.payload.hashStop);
          state.headers.push(pending);
          break;
        case 'getaddr':
          state.addrs.push(pending);
          break;
        case 'getdata': {
          const inventory = message.payload.inventory;
          pending.result = { items: inventory.map((inv) => ({ inv })) };
          pending.keys = [];
          pending.left = inventory.length;
          inventory.forEach((inv, index) => {
            const key = hex(inv.hash);
            pending.keys?.push(key);
            const waits = state.items.get(key);
            const wait = { pending, index, type: inv.type };
            if (waits) waits.push(wait);
            else state.items.set(key, [wait]);
            if (TXID_ANSWERS.has(inv.type)) state.byTxid++;
            if (WTXID_ANSWERS.has(inv.type)) state.byWtxid++;
          });
          if (inventory.length === 0) this.settle(pending, pending.result);
          break;
        }
        default:
          break;
      }
    });
  }

  /** Every request still waiting, per peer in tracking order: for checks, read-only. */
  outstanding(): OutstandingRequest[] {
    const out: OutstandingRequest[] = [];
    const put = (p: Pending) =>
      out.push({ peer: p.peer, command: p.command, sentAt: p.sentAt, deadline: p.deadline });
    // Checked after every simulated step: no allocation beyond the answer
    // unless getdata items wait (several items share one request).
    for (const state of this.byPeer.values()) {
      for (const p of state.pings) put(p);
      for (const p of state.headers) put(p);
      for (const p of state.addrs) put(p);
      if (state.items.size === 0) continue;
      const seen = new Set<Pending>();
      for (const waits of state.items.values()) {
        for (const w of waits) {
          if (seen.has(w.pending)) continue;
          seen.add(w.pending);
          put(w.pending);
        }
      }
    }
    return out;
  }

  /** Requests outstanding for `peer` (a getdata counts once per item hash). */
  pendingFor(peer: number): number {
    return this.byPeer.get(peer)?.size ?? 0;
  }

  /**
   * Offers an inbound message. Returns whether it answered a request, came
   * unasked, or is not a response kind at all. `rttMs` is set when it answered a ping.
   */
  match(peer: number, message: Message): MatchResult {
    switch (message.command) {
      case 'pong':
        return this.matchPong(peer, message);
      case 'headers':
        return this.matchHeaders(peer, message);
      case 'addr':
      case 'addrv2': {
        const list = this.byPeer.get(peer)?.addrs;
        const p = list?.[0];
        if (!p || message.payload.addresses.length === 1) return UNSOLICITED;
        this.settle(p, message);
        return ANSWERED;
      }
      case 'block':
      case 'cmpctblock':
      case 'merkleblock':
      case 'tx':
        return this.matchItem(peer, message);
      case 'notfound': {
        const state = this.byPeer.get(peer);
        if (!state || state.items.size === 0) return UNSOLICITED;
        let any = false;
        for (const inv of message.payload.inventory) {
          any = this.notFound(state, hex(inv.hash), inv.type) || any;
        }
        return any ? ANSWERED : UNSOLICITED;
      }
      default:
        return NOT_A_RESPONSE;
    }
  }

  private matchPong(peer: number, message: Extract<Message, { command: 'pong' }>): MatchResult {
    const nonce = message.payload.nonce;
    const p = this.byPeer.get(peer)?.pings.find((x) => x.nonce === nonce);
    if (!p) return UNSOLICITED;
    const rttMs = this.clock.now() - p.sentAt;
    this.settle(p, message);
    return { outcome: 'answered', rttMs };
  }

  private matchHeaders(
    peer: number,
    message: Extract<Message, { command: 'headers' }>,
  ): MatchResult {
    const list = this.byPeer.get(peer)?.headers;
    if (!list || list.length === 0) return UNSOLICITED;
    const prevBlock = firstPrevBlock(message.payload);
    let p: Pending | undefined;
    if (!prevBlock) {
      p = list[0];
    } else {
      const parent = hex(prevBlock);
      let own: string | undefined;
      p = list.find((x) => {
        if (x.locator?.has(parent)) return true;
        if (x.hashStop !== undefined) {
          // Only a one-header answer can be a single header asked for by hash.
          if (headerCount(message.payload) !== 1) return false;
          // Hashed from its record when it has one (reading `headers` would decode it).
          const raw = firstHeaderBytes(message.payload);
          own ??= hex(raw ? sha256d(raw) : headerHash(message.payload.headers[0] as BlockHeader));
          return own === x.hashStop;
        }
        return parent === this.genesis;
      });
    }
    if (!p) return UNSOLICITED;
    this.settle(p, message);
    return ANSWERED;
  }

  private matchItem(peer: number, message: GetDataAnswer): MatchResult {
    const state = this.byPeer.get(peer);
    // Most blocks and transactions come unasked (relay): hash only when
    // something could match.
    if (!state || state.items.size === 0) return UNSOLICITED;
    const raw = message.payload.raw;
    let answered = false;
    try {
      switch (message.command) {
        case 'block':
          answered = this.answer(state, hex(blockHash(raw)), message, BLOCK_ANSWERS);
          break;
        case 'cmpctblock':
          answered = this.answer(state, hex(blockHash(raw)), message, CMPCT_ANSWERS);
          break;
        case 'merkleblock':
          answered = this.answer(state, hex(blockHash(raw)), message, MERKLE_ANSWERS);
          break;
        case 'tx':
          answered =
            (state.byTxid > 0 && this.answer(state, hex(txid(raw)), message, TXID_ANSWERS)) ||
            (state.byWtxid > 0 && this.answer(state, hex(wtxid(raw)), message, WTXID_ANSWERS));
          break;
      }
    } catch {
      // Too short to hash, or not a transaction: it answers nothing.
    }
    return answered ? ANSWERED : UNSOLICITED;
  }

  /** Fills the oldest item waiting for `key` whose type `message` can answer. */
  private answer(
    state: PeerRequests,
    key: string,
    message: GetDataAnswer,
    types: ReadonlySet<number>,
  ): boolean {
    const waits = state.items.get(key);
    const at = waits ? waits.findIndex((w) => types.has(w.type)) : -1;
    if (!waits || at < 0) return false;
    this.fill(state, key, waits, at, message);
    return true;
  }

  /** notfound: fills the oldest item waiting for `key`, preferring the same type. */
  private notFound(state: PeerRequests, key: string, type: number): boolean {
    const waits = state.items.get(key);
    if (!waits) return false;
    const same = waits.findIndex((w) => w.type === type);
    this.fill(state, key, waits, same >= 0 ? same : 0, undefined);
    return true;
  }

  private fill(
    state: PeerRequests,
    key: string,
    waits: ItemWait[],
    at: number,
    message: GetDataAnswer | undefined,
  ): void {
    const [wait] = waits.splice(at, 1) as [ItemWait];
    if (waits.length === 0) state.items.delete(key);
    this.uncount(state, wait.type);
    const p = wait.pending;
    const item = p.result?.items[wait.index];
    if (item && message) item.message = message;
    p.left = (p.left ?? 1) - 1;
    if (p.left === 0) this.settle(p, p.result);
  }

  /** Rejects everything outstanding for `peer` (it disconnected). */
  abortPeer(peer: number, reason: string): void {
    const state = this.byPeer.get(peer);
    if (!state) return;
    this.byPeer.delete(peer);
    const all = new Set([...state.pings, ...state.headers, ...state.addrs]);
    for (const waits of state.items.values()) for (const w of waits) all.add(w.pending);
    for (const p of all) {
      this.clock.clearTimer(p.timer);
      p.reject(new RequestAbortedError(peer, p.command, reason));
    }
  }

  abortAll(reason: string): void {
    for (const peer of [...this.byPeer.keys()]) this.abortPeer(peer, reason);
  }

  private stateFor(peer: number): PeerRequests {
    let state = this.byPeer.get(peer);
    if (!state) {
      state = new PeerRequests();
      this.byPeer.set(peer, state);
    }
    return state;
  }

  private uncount(state: PeerRequests, type: number): void {
    if (TXID_ANSWERS.has(type)) state.byTxid--;
    if (WTXID_ANSWERS.has(type)) state.byWtxid--;
  }

  private settle(p: Pending, value: unknown): void {
    this.clock.clearTimer(p.timer);
    this.remove(p);
    p.resolve(value);
  }

  /** Forgets a request: answered, timed out, or its items all filled. */
  private remove(p: Pending): void {
    const state = this.byPeer.get(p.peer);
    if (!state) return;
    if (p.command === 'getdata') {
      // Items still waiting (a timeout): unregister each of them.
      for (const key of new Set(p.keys)) {
        const waits = state.items.get(key);
        if (!waits) continue;
        const kept: ItemWait[] = [];
        for (const w of waits) {
          if (w.pending === p) this.uncount(state, w.type);
          else kept.push(w);
        }
        if (kept.length === 0) state.items.delete(key);
        else state.items.set(key, kept);
      }
    } else {
      const list =
        p.command === 'ping'
          ? state.pings
          : p.command === 'getheaders'
            ? state.headers
            : state.addrs;
      const i = list.indexOf(p);
      if (i >= 0) list.splice(i, 1);
    }
    if (state.size === 0) this.byPeer.delete(p.peer);
  }
}
