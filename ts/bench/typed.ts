// Typed messages to handlers: `inv`s (one entry each) decoded and dispatched.
// peerwire: an Engine receives them and calls its `inv` handler, after a real
// handshake with the sender. Plain Node: the baseline framing, a hand-written
// inv decoder and an EventEmitter. The sender batches its sends either way, so
// what is measured is the receiving side's decode and dispatch.
import { EventEmitter } from 'node:events';
import { Engine } from '../engine/engine.js';
import { encodeMessage } from '../wire/codec.js';
import {
  type Context,
  now,
  receiveCounted,
  throughputOf,
  type Workload,
  withNet,
} from './context.js';

const INV_BYTES = 37;

/** One inv entry: count 1, MSG_TX, a hash (the same bytes the ceiling sends). */
function invPayload(): Buffer {
  const p = Buffer.alloc(INV_BYTES);
  p[0] = 1;
  p.writeUInt32LE(1, 1);
  for (let i = 0; i < 32; i++) p[5 + i] = i;
  return p;
}

function ourVersion(): Buffer {
  return encodeMessage({
    command: 'version',
    payload: {
      version: 70016,
      services: 0n,
      timestamp: BigInt(Math.floor(Date.now() / 1000)),
      receiver: { services: 0n, ip: '127.0.0.1', port: 0 },
      sender: { services: 0n, ip: '0.0.0.0', port: 0 },
      nonce: 0x5eed_5eedn,
      userAgent: '/peerwire-bench/',
      startHeight: 0,
      relay: true,
    },
  });
}

interface InvEntry {
  type: number;
  hash: Buffer;
}

/** The plain-Node decoder: a CompactSize count, then 36-byte entries. */
export function decodeInvPlain(p: Buffer): InvEntry[] {
  let count = p[0] as number;
  let off = 1;
  if (count === 0xfd) {
    count = p.readUInt16LE(1);
    off = 3;
  } else if (count > 0xfd) {
    throw new Error('inv count too large for the bench');
  }
  if (p.length !== off + count * 36) throw new Error(`malformed inv of ${p.length} bytes`);
  const out: InvEntry[] = new Array(count);
  for (let i = 0; i < count; i++, off += 36) {
    out[i] = { type: p.readUInt32LE(off), hash: p.subarray(off + 4, off + 36) };
  }
  return out;
}

async function send(ctx: Context): Promise<Record<string, number>> {
  return withNet(ctx, async (net) => {
    const n = ctx.sizes.typedMessages;
    let handshaken: () => void = () => {};
    const ready = new Promise<void>((r) => {
      handshaken = r;
    });
    // An Engine on the other side wants a handshake; the baseline ignores it.
    net.onFrame((conn, command) => {
      if (command === 'version') {
        void net.send(conn, 'verack', Buffer.alloc(0));
        handshaken();
      }
    });
    const { port } = await ctx.ch.next();
    const [conn] = (await net.connect(port as number, 1)) as [number];
    if (ctx.impl === 'peerwire') {
      void net.send(conn, 'version', ourVersion());
      await ready;
    }
    const one = invPayload();
    const all = Buffer.alloc(n * INV_BYTES);
    for (let i = 0; i < n; i++) one.copy(all, i * INV_BYTES);
    const t0 = now();
    await net.sendBulk(conn, 'inv', all, INV_BYTES);
    const { t1 } = await ctx.ch.next();
    ctx.ch.send({ stop: true });
    return throughputOf(n, n * INV_BYTES, t0, t1);
  });
}

async function receiveWithEngine(ctx: Context): Promise<void> {
  const n = ctx.sizes.typedMessages;
  const engine = new Engine({ network: 'regtest' });
  try {
    let seen = 0;
    let finish: (t: bigint) => void = () => {};
    let fail: (err: Error) => void = () => {};
    const done = new Promise<bigint>((resolve, reject) => {
      finish = resolve;
      fail = reject;
    });
    engine.on('inv', (_peer, payload) => {
      seen += payload.inventory.length;
      if (seen === n) finish(now());
    });
    engine.on('disconnected', (_peer, info) => {
      if (seen < n) fail(new Error(`the sender was disconnected: ${info.reason} ${info.detail}`));
    });
    ctx.ch.send({ port: engine.listen('127.0.0.1', 0).port });
    ctx.ch.send({ t1: (await done).toString() });
    await ctx.ch.next();
  } finally {
    await Promise.race([engine.close(), new Promise((r) => setTimeout(r, 5_000).unref())]);
  }
}

function receivePlain(ctx: Context): Promise<void> {
  return withNet(ctx, (net) => {
    const events = new EventEmitter();
    let entries = 0;
    events.on('inv', (_conn: number, inventory: InvEntry[]) => {
      entries += inventory.length;
    });
    return receiveCounted(ctx, net, ctx.sizes.typedMessages, (payload) => {
      const before = entries;
      events.emit('inv', 0, decodeInvPlain(payload));
      return entries - before;
    });
  });
}

export const typedWorkload: Workload = {
  describe: 'inv messages decoded and dispatched to a handler (peerwire: the Engine)',
  metrics: [
    {
      metric: 'handled',
      unit: 'msgs/s',
      key: 'perSecond',
      higherIsBetter: true,
      target: '≥ 1,000,000 msgs/s',
    },
  ],
  ceiling: (s) => ['stream', 'typed', String(s.typedMessages)],
  parent: send,
  child: (ctx) => (ctx.impl === 'peerwire' ? receiveWithEngine(ctx) : receivePlain(ctx)),
};
