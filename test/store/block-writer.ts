// Child process for the kill -9 test: writes generated blocks to a block store
// with a few puts in flight, and prints each hash (hex, wire order) only after
// its put resolved. Runs until killed.
// Usage: node --import tsx block-writer.ts DIR MAX_FILE_BYTES SEED
import { blockStream } from '../../ts/block/generate.js';
import { networkPreset } from '../../ts/config/schema.js';
import { BlockStore } from '../../ts/store/blocks/store.js';

const [dir, maxFileBytes, seed] = process.argv.slice(2);
const regtest = networkPreset('regtest');
const store = await BlockStore.open(dir as string, {
  magic: regtest.magic,
  maxFileBytes: Number(maxFileBytes),
});
process.stdout.write('open\n');
const IN_FLIGHT = 4;
const inFlight = new Set<Promise<void>>();
for (const block of blockStream(regtest, { seed, txsPerBlock: 3 })) {
  const done: Promise<void> = store.put(block.hash, block.raw).then(() => {
    process.stdout.write(`${block.hash.toString('hex')}\n`);
    inFlight.delete(done);
  });
  inFlight.add(done);
  if (inFlight.size >= IN_FLIGHT) await Promise.race(inFlight);
}
