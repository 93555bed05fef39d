// An inv watcher: connect to nodes and log every transaction and block they
// announce, asking for headers announcements so new blocks show up too.
//
//   npx tsx examples/inv-watcher.ts 127.0.0.1:18444 [more nodes...] [--network regtest]
import { Engine, hashToHex, headerHash, INV_TYPE, type PresetName } from 'peerwire';

const args = process.argv.slice(2);
const networkFlag = args.indexOf('--network');
const network = (networkFlag >= 0 ? args.splice(networkFlag, 2)[1] : 'regtest') as PresetName;
if (args.length === 0) {
  console.error('usage: inv-watcher.ts HOST:PORT [HOST:PORT ...] [--network NAME]');
  process.exit(2);
}

const TYPE_NAMES = new Map<number, string>(Object.entries(INV_TYPE).map(([k, v]) => [v, k]));
const engine = new Engine({ network });

engine.on('handshake', (peer) => {
  console.log(`${peer}: ${peer.userAgent}, height ${peer.startHeight}`);
  // BIP 130: announce new blocks to us as headers rather than inv.
  peer.send({ command: 'sendheaders', payload: {} });
});
engine.on('inv', (peer, { inventory }) => {
  for (const item of inventory) {
    const kind = TYPE_NAMES.get(item.type) ?? `type ${item.type}`;
    console.log(`${new Date().toISOString()} ${peer.address} inv ${kind} ${hashToHex(item.hash)}`);
  }
});
engine.on('headers', (peer, { headers }) => {
  for (const h of headers) {
    console.log(`${new Date().toISOString()} ${peer.address} block ${hashToHex(headerHash(h))}`);
  }
});
engine.on('disconnected', (peer, { reason, detail }) =>
  console.log(`${peer} gone: ${reason} (${detail})`),
);
engine.on('failed', ({ address, error, retryInMs }) =>
  console.log(
    `${address}: ${error}${retryInMs === undefined ? '' : `, retrying in ${retryInMs} ms`}`,
  ),
);

for (const address of args) engine.connect(address, { persistent: true });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => void engine.close().then(() => console.log('stopped')));
}
