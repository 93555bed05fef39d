// Blocks in a page: sync the headers from one or more nodes, then download the
// blocks of that chain from all of them at once (Core's moving window, stall
// detection, every block checked against its header), reading them in height
// order as they arrive; finally ask one peer for one block as a promise.
//
//   npx tsx examples/block-download.ts                        # two local servers
//   npx tsx examples/block-download.ts 127.0.0.1:18444 ...    # regtest nodes (peerwire node)
import {
  chainFor,
  downloadBlocks,
  Engine,
  generateBlocks,
  hashToHex,
  MemoryBlockSink,
  MemoryBlocks,
  networkPreset,
  type Peer,
  requestBlock,
  serveBlocks,
  serveHeaders,
  syncFromPeer,
} from 'peerwire';

const network = networkPreset('regtest');
const targets = process.argv.slice(2);
const servers: Engine[] = [];

if (targets.length === 0) {
  // No node given: two engines here serve the same 300 generated real blocks.
  const blocks = generateBlocks(network, 300, { txsPerBlock: 2 });
  for (let i = 0; i < 2; i++) {
    const chain = chainFor(network);
    chain.append(blocks.map((b) => b.header));
    const source = new MemoryBlocks(1_000);
    for (const b of blocks) await source.put(b.hash, b.raw);
    const server = new Engine({
      network: { ...network, services: 9n },
      startHeight: () => chain.height,
    });
    serveHeaders(server, chain);
    serveBlocks(server, chain, source);
    targets.push(`127.0.0.1:${server.listen('127.0.0.1', 0).port}`);
    servers.push(server);
  }
  console.log(`serving 300 generated blocks on ${targets.join(' and ')}`);
}

const chain = chainFor(network);
const engine = new Engine({ network });
const peers: Peer[] = [];
const allUp = new Promise<void>((resolve, reject) => {
  engine.on('handshake', (peer) => {
    peers.push(peer);
    if (peers.length === targets.length) resolve();
  });
  engine.on('failed', ({ address, error }) =>
    reject(new Error(`cannot reach ${address}: ${error}`)),
  );
});
for (const target of targets) engine.connect(target);

try {
  await allUp;
  // Headers first, from the first peer (any would do).
  await syncFromPeer(peers[0] as Peer, chain);
  console.log(`headers: ${chain.height}, tip ${hashToHex(chain.tipHash)}`);

  // Then the blocks, from every peer, into memory (a BlockStore works the same way).
  const sink = new MemoryBlockSink();
  const download = downloadBlocks(engine, chain, sink);
  download.on('stalling', (peer) => console.log(`  ${peer} is holding the window back`));
  let bytes = 0;
  for await (const block of download.blocks()) {
    bytes += block.raw.length;
    if (block.height % 100 === 0) console.log(`  block ${block.height}: ${block.raw.length} bytes`);
  }
  const summary = await download.done;
  console.log(
    `downloaded: ${summary.downloaded} blocks, ${bytes} bytes, complete ${summary.complete}`,
  );

  // One block from one peer, checked against the hash asked for.
  const raw = await requestBlock(peers[0] as Peer, chain.hashAt(1) as Buffer, {
    check: { bip34Height: 1 },
  });
  console.log(`block 1 on request: ${raw.length} bytes`);
} catch (err) {
  console.error((err as Error).message);
  process.exitCode = 1;
} finally {
  await Promise.all([engine.close(), ...servers.map((s) => s.close())]);
}
