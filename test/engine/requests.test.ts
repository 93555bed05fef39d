// RequestTracker: responses are matched by what they carry, not by their kind.
// Driven directly with a ManualClock; expected hashes come from node:crypto.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../ts/engine/clock.js';
import { RequestTimeoutError } from '../../ts/engine/errors.js';
import { type GetDataResult, RequestTracker } from '../../ts/engine/requests.js';
import { type BlockHeader, INV_TYPE, type Message } from '../../ts/wire/types.js';

const sha256d = (b: Uint8Array) =>
  createHash('sha256').update(createHash('sha256').update(b).digest()).digest();

const hash = (byte: number) => new Uint8Array(32).fill(byte);

function header(prev: Uint8Array, nonce = 0): BlockHeader {
  return { version: 1, prevBlock: prev, merkleRoot: hash(0xee), time: 0, bits: 0, nonce };
}

/** The 80 header bytes, written here rather than by the code under test. */
function headerBytes(h: BlockHeader): Buffer {
  const b = Buffer.alloc(80);
  b.writeInt32LE(h.version, 0);
  Buffer.from(h.prevBlock).copy(b, 4);
  Buffer.from(h.merkleRoot).copy(b, 36);
  b.writeUInt32LE(h.time, 68);
  b.writeUInt32LE(h.bits, 72);
  b.writeUInt32LE(h.nonce, 76);
  return b;
}

/** A raw block (header + zero transactions) and its hash. */
function block(nonce: number): { raw: Buffer; hash: Buffer } {
  const bytes = headerBytes(header(hash(1), nonce));
  return { raw: Buffer.concat([bytes, Buffer.from([0])]), hash: sha256d(bytes) };
}

/** A one-in one-out transaction; with `witness`, BIP 144 form. txid/wtxid computed here. */
function tx(tag: number, witness = false): { raw: Buffer; txid: Buffer; wtxid: Buffer } {
  const version = Buffer.from([2, 0, 0, 0]);
  const body = Buffer.concat([
    Buffer.from([1]), // one input
    Buffer.alloc(32, tag), // prevout hash
    Buffer.alloc(4), // prevout index
    Buffer.from([0]), // empty scriptSig
    Buffer.alloc(4, 0xff), // sequence
    Buffer.from([1]), // one output
    Buffer.alloc(8), // value
    Buffer.from([0]), // empty scriptPubKey
  ]);
  const lock = Buffer.alloc(4);
  const legacy = Buffer.concat([version, body, lock]);
  if (!witness) return { raw: legacy, txid: sha256d(legacy), wtxid: sha256d(legacy) };
  const witnessData = Buffer.from([1, 1, tag]); // one item of one byte
  const full = Buffer.concat([version, Buffer.from([0, 1]), body, witnessData, lock]);
  return { raw: full, txid: sha256d(legacy), wtxid: sha256d(full) };
}

async function flush() {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

/** Tracks a promise's outcome without letting a rejection go unhandled. */
function watch<T>(promise: Promise<T>) {
  const state: { value?: T; error?: unknown; done: boolean } = { done: false };
  promise.then(
    (value) => Object.assign(state, { value, done: true }),
    (error) => Object.assign(state, { error, done: true }),
  );
  return state;
}

const PEER = 1;

function setup() {
  const clock = new ManualClock();
  const genesis = hash(0x99);
  return { clock, genesis, tracker: new RequestTracker(clock, genesis) };
}

describe('getheaders is answered by content', () => {
  const locator = [hash(10), hash(9), hash(8)];
  const getheaders = (loc = locator, hashStop = hash(0)): Message => ({
    command: 'getheaders',
    payload: { version: 70016, locator: loc, hashStop },
  });

  it('a one-header announcement that does not follow the locator is not the reply', async () => {
    const { tracker } = setup();
    const reply = watch(tracker.track(PEER, getheaders() as never, 10_000));
    // A sendheaders announcement of the peer's new tip: its parent is far ahead of us.
    const announcement: Message = {
      command: 'headers',
      payload: { headers: [header(hash(50))] },
    };
    expect(tracker.match(PEER, announcement).outcome).toBe('unsolicited');
    const answer: Message = {
      command: 'headers',
      payload: { headers: [header(hash(10), 1), header(hash(11), 2)] },
    };
    expect(tracker.match(PEER, answer).outcome).toBe('answered');
    await flush();
    expect(reply.value).toBe(answer);
  });

  it('an empty headers answers the oldest getheaders (the peer has nothing newer)', async () => {
    const { tracker } = setup();
    const first = watch(tracker.track(PEER, getheaders() as never, 10_000));
    const second = watch(tracker.track(PEER, getheaders() as never, 10_000));
    expect(tracker.match(PEER, { command: 'headers', payload: { headers: [] } }).outcome).toBe(
      'answered',
    );
    await flush();
    expect(first.done).toBe(true);
    expect(second.done).toBe(false);
  });

  it('a reply goes to the request whose locator it follows, not the oldest', async () => {
    const { tracker } = setup();
    const a = watch(tracker.track(PEER, getheaders([hash(1)]) as never, 10_000));
    const b = watch(tracker.track(PEER, getheaders([hash(2)]) as never, 10_000));
    tracker.match(PEER, { command: 'headers', payload: { headers: [header(hash(2))] } });
    await flush();
    expect(a.done).toBe(false);
    expect(b.done).toBe(true);
  });

  it('a reply from genesis answers (the peer knew none of the locator)', async () => {
    const { tracker, genesis } = setup();
    const reply = watch(tracker.track(PEER, getheaders() as never, 10_000));
    tracker.match(PEER, { command: 'headers', payload: { headers: [header(genesis)] } });
    await flush();
    expect(reply.done).toBe(true);
  });

  it('an empty locator is answered by the hashStop header alone', async () => {
    const { tracker } = setup();
    const wanted = header(hash(70), 7);
    const stop = sha256d(headerBytes(wanted));
    const reply = watch(tracker.track(PEER, getheaders([], stop) as never, 10_000));
    const other = header(hash(70), 8);
    expect(tracker.match(PEER, { command: 'headers', payload: { headers: [other] } }).outcome).toBe(
      'unsolicited',
    );
    expect(
      tracker.match(PEER, { command: 'headers', payload: { headers: [wanted] } }).outcome,
    ).toBe('answered');
    await flush();
    expect(reply.done).toBe(true);
  });
});

describe('getaddr is answered by a batch, not by relay', () => {
  const addr = (n: number): Message => ({
    command: 'addr',
    payload: {
      addresses: Array.from({ length: n }, (_, i) => ({
        time: 0,
        services: 0n,
        ip: `10.0.0.${i + 1}`,
        port: 8333,
      })),
    },
  });

  it('one address is relay; two or more answer; so does an empty one', async () => {
    const { tracker } = setup();
    const reply = watch(tracker.track(PEER, { command: 'getaddr', payload: {} }, 10_000));
    expect(tracker.match(PEER, addr(1)).outcome).toBe('unsolicited');
    const batch = addr(2);
    expect(tracker.match(PEER, batch).outcome).toBe('answered');
    await flush();
    expect(reply.value).toBe(batch);
    expect(tracker.match(PEER, addr(5)).outcome).toBe('unsolicited');

    const again = watch(tracker.track(PEER, { command: 'getaddr', payload: {} }, 10_000));
    const empty: Message = { command: 'addrv2', payload: { addresses: [] } };
    expect(tracker.match(PEER, empty).outcome).toBe('answered');
    await flush();
    expect(again.value).toBe(empty);
  });
});

describe('getdata tracks every item', () => {
  const getdata = (inventory: Array<{ type: number; hash: Uint8Array }>): Message => ({
    command: 'getdata',
    payload: { inventory },
  });

  it('the same hash twice waits for two answers and keeps both', async () => {
    const { tracker } = setup();
    const b = block(1);
    const inv = { type: INV_TYPE.block, hash: b.hash };
    const result = watch(tracker.track(PEER, getdata([inv, inv]) as never, 10_000));
    const first: Message = { command: 'block', payload: { raw: b.raw } };
    const second: Message = { command: 'block', payload: { raw: Buffer.from(b.raw) } };
    expect(tracker.match(PEER, first).outcome).toBe('answered');
    await flush();
    expect(result.done).toBe(false);
    expect(tracker.match(PEER, second).outcome).toBe('answered');
    await flush();
    const items = (result.value as GetDataResult).items;
    expect(items.map((i) => i.message)).toEqual([first, second]);
    expect(tracker.pendingFor(PEER)).toBe(0);
  });

  it('cmpctblock, merkleblock and block fill the inventory types they answer', async () => {
    const { tracker } = setup();
    const [c, m, old] = [block(2), block(3), block(4)];
    const result = watch(
      tracker.track(
        PEER,
        getdata([
          { type: INV_TYPE.cmpctBlock, hash: c.hash },
          { type: INV_TYPE.filteredBlock, hash: m.hash },
          // Core answers a compact-block request for an old block with the full block.
          { type: INV_TYPE.cmpctBlock, hash: old.hash },
        ]) as never,
        10_000,
      ),
    );
    // A merkleblock does not answer a compact-block item, even with the right hash.
    expect(tracker.match(PEER, { command: 'merkleblock', payload: { raw: c.raw } }).outcome).toBe(
      'unsolicited',
    );
    const answers: Message[] = [
      { command: 'cmpctblock', payload: { raw: c.raw } },
      { command: 'merkleblock', payload: { raw: m.raw } },
      { command: 'block', payload: { raw: old.raw } },
    ];
    for (const a of answers) expect(tracker.match(PEER, a).outcome).toBe('answered');
    await flush();
    expect((result.value as GetDataResult).items.map((i) => i.message)).toEqual(answers);
  });

  it('tx answers by txid for tx / witness-tx items and by wtxid for wtx items', async () => {
    const { tracker } = setup();
    const [byTxid, byWtxid] = [tx(1, true), tx(2, true)];
    const result = watch(
      tracker.track(
        PEER,
        getdata([
          { type: INV_TYPE.witnessTx, hash: byTxid.txid },
          { type: INV_TYPE.wtx, hash: byWtxid.wtxid },
        ]) as never,
        10_000,
      ),
    );
    expect(tracker.match(PEER, { command: 'tx', payload: { raw: byWtxid.raw } }).outcome).toBe(
      'answered',
    );
    expect(tracker.match(PEER, { command: 'tx', payload: { raw: byTxid.raw } }).outcome).toBe(
      'answered',
    );
    await flush();
    const items = (result.value as GetDataResult).items;
    expect(items[0]?.message?.payload.raw).toBe(byTxid.raw);
    expect(items[1]?.message?.payload.raw).toBe(byWtxid.raw);
  });

  it('notfound answers the items it lists; the request resolves when all are answered', async () => {
    const { tracker } = setup();
    const [b, t] = [block(5), tx(3)];
    const result = watch(
      tracker.track(
        PEER,
        getdata([
          { type: INV_TYPE.block, hash: b.hash },
          { type: INV_TYPE.tx, hash: t.txid },
        ]) as never,
        10_000,
      ),
    );
    const notfound: Message = {
      command: 'notfound',
      payload: { inventory: [{ type: INV_TYPE.tx, hash: t.txid }] },
    };
    expect(tracker.match(PEER, notfound).outcome).toBe('answered');
    await flush();
    expect(result.done).toBe(false);
    tracker.match(PEER, { command: 'block', payload: { raw: b.raw } });
    await flush();
    const items = (result.value as GetDataResult).items;
    expect(items[0]?.message?.command).toBe('block');
    expect(items[1]?.message).toBeUndefined();
  });

  it('a getdata that times out leaves nothing behind', async () => {
    const { tracker, clock } = setup();
    const b = block(6);
    const result = watch(
      tracker.track(PEER, getdata([{ type: INV_TYPE.block, hash: b.hash }]) as never, 1_000),
    );
    clock.advance(1_000);
    await flush();
    expect(result.error).toBeInstanceOf(RequestTimeoutError);
    expect(tracker.pendingFor(PEER)).toBe(0);
    expect(tracker.match(PEER, { command: 'block', payload: { raw: b.raw } }).outcome).toBe(
      'unsolicited',
    );
  });

  it('garbage that cannot be hashed answers nothing and does not throw', () => {
    const { tracker } = setup();
    watch(tracker.track(PEER, getdata([{ type: INV_TYPE.tx, hash: hash(1) }]) as never, 1_000));
    expect(tracker.match(PEER, { command: 'tx', payload: { raw: Buffer.from([1, 2]) } })).toEqual({
      outcome: 'unsolicited',
    });
    expect(
      tracker.match(PEER, { command: 'block', payload: { raw: Buffer.alloc(10) } }).outcome,
    ).toBe('unsolicited');
  });
});

describe('pings', () => {
  it('a pong answers the ping with its nonce and reports the round trip', async () => {
    const { tracker, clock } = setup();
    const a = watch(tracker.track(PEER, { command: 'ping', payload: { nonce: 1n } }, 10_000));
    const b = watch(tracker.track(PEER, { command: 'ping', payload: { nonce: 2n } }, 10_000));
    clock.advance(40);
    expect(tracker.match(PEER, { command: 'pong', payload: { nonce: 2n } })).toEqual({
      outcome: 'answered',
      rttMs: 40,
    });
    expect(tracker.match(PEER, { command: 'pong', payload: { nonce: 3n } }).outcome).toBe(
      'unsolicited',
    );
    await flush();
    expect(a.done).toBe(false);
    expect(b.done).toBe(true);
  });
});
