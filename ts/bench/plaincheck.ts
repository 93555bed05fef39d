// The plain-Node side's block check, in JavaScript with crypto.hash: a raw
// block's merkle root (txids, without witness data) and, when a transaction
// has witness data, the coinbase's witness commitment (wtxids). Not the rest of
// Core's CheckBlock (sizes, per-transaction checks, sigops, BIP 34). Run on
// worker threads by the blocks workload (plaincheck-worker.ts), as peerwire
// checks blocks on libuv's thread pool.
import { hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

const sha256d = (b: Uint8Array): Buffer => hash('sha256', hash('sha256', b, 'buffer'), 'buffer');

function varint(b: Buffer, at: number): [value: number, next: number] {
  const first = b[at] as number;
  if (first < 0xfd) return [first, at + 1];
  if (first === 0xfd) return [b.readUInt16LE(at + 1), at + 3];
  if (first === 0xfe) return [b.readUInt32LE(at + 1), at + 5];
  return [Number(b.readBigUInt64LE(at + 1)), at + 9];
}

function merkle(leaves: Buffer[]): Buffer {
  const pair = Buffer.alloc(64);
  let level = leaves;
  while (level.length > 1) {
    const next: Buffer[] = new Array(Math.ceil(level.length / 2));
    for (let i = 0; i < level.length; i += 2) {
      const left = level[i] as Buffer;
      left.copy(pair, 0);
      (level[i + 1] ?? left).copy(pair, 32);
      next[i >> 1] = sha256d(pair);
    }
    level = next;
  }
  return level[0] ?? Buffer.alloc(32);
}

const COMMITMENT = Buffer.from('6a24aa21a9ed', 'hex');

/**
 * Checks a raw block against its header in JavaScript: merkle root of the
 * txids and, when some transaction has witness data, the coinbase's witness
 * commitment. Throws on a mismatch or bytes that do not parse.
 */
export function checkBlockPlain(raw: Buffer): void {
  let [count, at] = varint(raw, 80);
  const txids: Buffer[] = new Array(count);
  const wtxids: Buffer[] = new Array(count);
  let commitment: Buffer | undefined;
  let nonce: Buffer | undefined;
  let witnessSeen = false;
  for (let t = 0; t < count; t++) {
    const start = at;
    const segwit = raw[at + 4] === 0 && raw[at + 5] === 1;
    at += segwit ? 6 : 4;
    const bodyStart = at;
    let inputs: number;
    [inputs, at] = varint(raw, at);
    for (let i = 0; i < inputs; i++) {
      let len: number;
      [len, at] = varint(raw, at + 36);
      at += len + 4;
    }
    let outputs: number;
    [outputs, at] = varint(raw, at);
    for (let o = 0; o < outputs; o++) {
      let len: number;
      [len, at] = varint(raw, at + 8);
      if (t === 0 && len >= 38 && raw.subarray(at, at + 6).equals(COMMITMENT)) {
        commitment = raw.subarray(at + 6, at + 38);
      }
      at += len;
    }
    const bodyEnd = at;
    if (segwit) {
      witnessSeen = true;
      for (let i = 0; i < inputs; i++) {
        let items: number;
        [items, at] = varint(raw, at);
        for (let k = 0; k < items; k++) {
          let len: number;
          [len, at] = varint(raw, at);
          if (t === 0 && i === 0 && k === 0 && len === 32) nonce = raw.subarray(at, at + 32);
          at += len;
        }
      }
    }
    at += 4;
    if (at > raw.length) throw new Error('malformed block: a transaction runs past its end');
    const whole = raw.subarray(start, at);
    wtxids[t] = sha256d(whole);
    txids[t] = segwit
      ? sha256d(
          Buffer.concat([
            raw.subarray(start, start + 4),
            raw.subarray(bodyStart, bodyEnd),
            raw.subarray(at - 4, at),
          ]),
        )
      : (wtxids[t] as Buffer);
  }
  if (at !== raw.length) throw new Error('malformed block: bytes after its last transaction');
  if (!merkle(txids).equals(raw.subarray(36, 68))) throw new Error('bad-txnmrklroot');
  if (witnessSeen) {
    if (!commitment || !nonce) throw new Error('unexpected-witness');
    wtxids[0] = Buffer.alloc(32);
    if (!sha256d(Buffer.concat([merkle(wtxids), nonce])).equals(commitment)) {
      throw new Error('bad-witness-merkle-match');
    }
  }
}

/** checkBlockPlain on worker threads, each block to the least busy one. */
export class PlainCheckPool {
  private readonly workers: Array<{ worker: Worker; busy: number }>;
  private readonly waiting = new Map<
    number,
    { resolve: () => void; reject: (err: Error) => void; slot: { busy: number } }
  >();
  private ids = 0;
  readonly ready: Promise<void>;

  constructor(threads: number) {
    const script = new URL('./plaincheck-worker.js', import.meta.url);
    this.workers = Array.from({ length: threads }, () => ({ worker: new Worker(script), busy: 0 }));
    for (const slot of this.workers) {
      slot.worker.on('message', ({ id, error }: { id: number; error?: string }) => {
        const w = this.waiting.get(id);
        if (!w) return;
        this.waiting.delete(id);
        w.slot.busy--;
        if (error) w.reject(new Error(error));
        else w.resolve();
      });
      slot.worker.on('error', (err) => {
        for (const w of this.waiting.values()) w.reject(err);
        this.waiting.clear();
      });
    }
    this.ready = Promise.all(
      this.workers.map((s) => new Promise<void>((r) => s.worker.once('online', () => r()))),
    ).then(() => {});
  }

  /** Resolves once `raw` passed checkBlockPlain on a worker (it gets a copy). */
  check(raw: Buffer): Promise<void> {
    let slot = this.workers[0] as { worker: Worker; busy: number };
    for (const s of this.workers) if (s.busy < slot.busy) slot = s;
    const id = ++this.ids;
    slot.busy++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject, slot });
      slot.worker.postMessage({ id, raw });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((s) => s.worker.terminate()));
  }
}
