// RequestTracker (seed 001): requests that expect an answer are remembered per
// peer when sent; an inbound message either answers one of them or is
// unsolicited. Every request has a timeout, so nothing is waited on forever
// (bcoin, for one, never answers a getheaders when you are at its tip).
import { blockHash, txid, wtxid } from '../chain/block.js';
import type { InvVector, Message } from '../wire/types.js';
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

/** One answer per requested item, in request order. */
export interface GetDataResult {
  items: Array<{ inv: InvVector; message?: Extract<Message, { command: 'block' | 'tx' }> }>;
}

interface Pending {
  peer: number;
  command: TrackedCommand;
  request: Message;
  sentAt: number;
  timer: TimerHandle;
  resolve(value: unknown): void;
  reject(error: Error): void;
  /** getdata only: items not yet answered, by hex hash. */
  waiting?: Map<string, number>;
  result?: GetDataResult;
}

export type MatchOutcome = 'answered' | 'unsolicited' | 'not-a-response';

const RESPONSES: Record<string, TrackedCommand> = {
  pong: 'ping',
  headers: 'getheaders',
  addr: 'getaddr',
  addrv2: 'getaddr',
  block: 'getdata',
  tx: 'getdata',
  notfound: 'getdata',
};

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

export class RequestTracker {
  private byPeer = new Map<number, Pending[]>();

  constructor(private readonly clock: Clock) {}

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
      const pending: Pending = {
        peer,
        command,
        request: message,
        sentAt: this.clock.now(),
        resolve: resolve as (v: unknown) => void,
        reject,
        timer: this.clock.setTimer(timeoutMs, () => {
          this.remove(pending);
          reject(new RequestTimeoutError(peer, command, timeoutMs));
        }),
      };
      if (message.command === 'getdata') {
        const inventory = message.payload.inventory;
        pending.waiting = new Map(inventory.map((inv, i) => [hex(inv.hash), i]));
        pending.result = { items: inventory.map((inv) => ({ inv })) };
        if (inventory.length === 0) {
          this.settle(pending, pending.result);
          return;
        }
      }
      const list = this.byPeer.get(peer) ?? [];
      list.push(pending);
      this.byPeer.set(peer, list);
    });
  }

  /** Requests outstanding for `peer`. */
  pendingFor(peer: number): number {
    return this.byPeer.get(peer)?.length ?? 0;
  }

  /**
   * Offers an inbound message. Returns whether it answered a request, came
   * unasked, or is not a response kind at all. `rtt` is set when it answered a ping.
   */
  match(peer: number, message: Message): { outcome: MatchOutcome; rttMs?: number } {
    const kind = RESPONSES[message.command];
    if (kind === undefined) return { outcome: 'not-a-response' };
    const list = this.byPeer.get(peer) ?? [];
    switch (message.command) {
      case 'pong': {
        const p = list.find(
          (x) =>
            x.command === 'ping' &&
            x.request.command === 'ping' &&
            x.request.payload.nonce === message.payload.nonce,
        );
        if (!p) return { outcome: 'unsolicited' };
        const rttMs = this.clock.now() - p.sentAt;
        this.settle(p, message);
        return { outcome: 'answered', rttMs };
      }
      case 'headers':
      case 'addr':
      case 'addrv2': {
        // The oldest outstanding request of that kind is the one answered.
        const p = list.find((x) => x.command === kind);
        if (!p) return { outcome: 'unsolicited' };
        this.settle(p, message);
        return { outcome: 'answered' };
      }
      case 'block':
      case 'tx':
        return this.matchItem(list, message);
      case 'notfound': {
        let any = false;
        for (const inv of message.payload.inventory) {
          any = this.answerItem(list, hex(inv.hash), undefined) || any;
        }
        return { outcome: any ? 'answered' : 'unsolicited' };
      }
      default:
        return { outcome: 'not-a-response' };
    }
  }

  private matchItem(
    list: Pending[],
    message: Extract<Message, { command: 'block' | 'tx' }>,
  ): { outcome: MatchOutcome } {
    const raw = message.payload.raw;
    let keys: string[];
    try {
      keys =
        message.command === 'block' ? [hex(blockHash(raw))] : [hex(txid(raw)), hex(wtxid(raw))];
    } catch {
      return { outcome: 'unsolicited' };
    }
    for (const key of keys) {
      if (this.answerItem(list, key, message)) return { outcome: 'answered' };
    }
    return { outcome: 'unsolicited' };
  }

  private answerItem(
    list: Pending[],
    key: string,
    message: Extract<Message, { command: 'block' | 'tx' }> | undefined,
  ): boolean {
    const p = list.find((x) => x.waiting?.has(key));
    if (!p?.waiting || !p.result) return false;
    const index = p.waiting.get(key) as number;
    p.waiting.delete(key);
    const item = p.result.items[index];
    if (item && message) item.message = message;
    if (p.waiting.size === 0) this.settle(p, p.result);
    return true;
  }

  /** Rejects everything outstanding for `peer` (it disconnected). */
  abortPeer(peer: number, reason: string): void {
    const list = this.byPeer.get(peer) ?? [];
    this.byPeer.delete(peer);
    for (const p of list) {
      this.clock.clearTimer(p.timer);
      p.reject(new RequestAbortedError(peer, p.command, reason));
    }
  }

  abortAll(reason: string): void {
    for (const peer of [...this.byPeer.keys()]) this.abortPeer(peer, reason);
  }

  private settle(p: Pending, value: unknown): void {
    this.clock.clearTimer(p.timer);
    this.remove(p);
    p.resolve(value);
  }

  private remove(p: Pending): void {
    const list = this.byPeer.get(p.peer);
    if (!list) return;
    const i = list.indexOf(p);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.byPeer.delete(p.peer);
  }
}

/** Inventory types whose answer is a block (by block hash). */
export const BLOCK_INV_TYPES: ReadonlySet<number> = new Set([
  INV_TYPE.block,
  INV_TYPE.witnessBlock,
  INV_TYPE.filteredBlock,
  INV_TYPE.cmpctBlock,
]);
