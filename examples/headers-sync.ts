// Header sync in a page: connect to a node, pull every header through the
// RequestTracker, validate each (linkage, proof of work, difficulty), report.
//
//   npx tsx examples/headers-sync.ts                  # against a local generated chain
//   npx tsx examples/headers-sync.ts 127.0.0.1:18444  # against a regtest node
import {
  chainFor,
  Engine,
  generateHeaders,
  hashToHex,
  networkPreset,
  serveHeaders,
  syncFromPeer,
} from 'peerwire';

const network = networkPreset('regtest');
let target = process.argv[2];
let server: Engine | undefined;

if (!target) {
  // No node given: serve 10,000 generated headers from a second engine here.
  const chain = chainFor(network);
  chain.append(generateHeaders(network, 10_000));
  server = new Engine({ network, startHeight: () => chain.height });
  serveHeaders(server, chain);
  target = `127.0.0.1:${server.listen('127.0.0.1', 0).port}`;
  console.log(`serving ${chain.height} generated headers on ${target}`);
}

const chain = chainFor(network);
const engine = new Engine({ network });
engine.on('handshake', async (peer) => {
  console.log(`handshake with ${peer.userAgent} at height ${peer.startHeight}`);
  const started = performance.now();
  const outcome = await syncFromPeer(peer, chain, ({ height, target }) => {
    if (height % 2_000 === 0 || height === target) console.log(`  ${height}/${target}`);
  });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${outcome}: ${chain.height} headers in ${seconds.toFixed(2)} s, tip ${hashToHex(chain.tipHash)}`,
  );
  await Promise.all([engine.close(), server?.close()]);
});
engine.on('failed', ({ address, error }) => {
  console.error(`cannot reach ${address}: ${error}`);
  process.exitCode = 1;
  void Promise.all([engine.close(), server?.close()]);
});
engine.connect(target);
