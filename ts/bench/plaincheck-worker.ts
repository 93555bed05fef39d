// A worker thread of PlainCheckPool: checks the blocks it is sent with checkBlockPlain.
import { parentPort } from 'node:worker_threads';
import { checkBlockPlain } from './plaincheck.js';

parentPort?.on('message', ({ id, raw }: { id: number; raw: Uint8Array }) => {
  try {
    checkBlockPlain(Buffer.from(raw.buffer, raw.byteOffset, raw.length));
    parentPort?.postMessage({ id });
  } catch (err) {
    parentPort?.postMessage({ id, error: (err as Error).message });
  }
});
