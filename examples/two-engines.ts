// Two peerwire engines in one process over loopback TCP: one listens, one dials,
// they trade pings and pongs, then a burst of small messages, and shut down.
//
//   npm run example            (after npm ci, which builds the native addon)
import { NativeTransport, type PeerId } from 'peerwire';

const REGTEST_MAGIC = 'fabfb5da';
const BURST = 200_000;

function nonce(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

let burstStart = 0n;
let burstReceived = 0;
let finish: () => void = () => {};
const done = new Promise<void>((resolve) => {
  finish = resolve;
});

// The listening side answers every ping with a pong carrying the same nonce.
const server = new NativeTransport(
  { magic: REGTEST_MAGIC },
  {
    onFrame: (peer, command, payload) => {
      if (command === 'ping') {
        server.send(peer, 'pong', payload);
      } else if (command === 'inv') {
        burstReceived++;
        if (burstReceived === BURST) finish();
      }
    },
    onEvent: (event) => {
      if (event.type === 'accepted')
        console.log(`server: accepted peer ${event.peer} from ${event.remote}`);
    },
  },
);
const { port } = server.listen('127.0.0.1', 0);
console.log(`server: listening on 127.0.0.1:${port}`);

// The dialling side sends ten pings one after another and times each round trip.
let pingSentAt = 0n;
const rtts: number[] = [];
let serverPeer: PeerId = -1;

function sendPing(peer: PeerId) {
  pingSentAt = process.hrtime.bigint();
  client.send(peer, 'ping', nonce(rtts.length));
}

function sendBurst(peer: PeerId) {
  // One native call per 10,000 messages: payload i is data[offsets[i]..offsets[i+1]].
  const batch = 10_000;
  const data = Buffer.alloc(batch * 8);
  const offsets = new Uint32Array(batch + 1).map((_, i) => i * 8);
  burstStart = process.hrtime.bigint();
  for (let sent = 0; sent < BURST; sent += batch) {
    client.sendMany(peer, 'inv', data, offsets);
  }
}

const client = new NativeTransport(
  { magic: REGTEST_MAGIC },
  {
    onFrame: (peer, command, payload) => {
      if (command !== 'pong') return;
      rtts.push(Number(process.hrtime.bigint() - pingSentAt) / 1000);
      console.log(`client: pong ${payload.readBigUInt64LE()} in ${rtts.at(-1)?.toFixed(0)} µs`);
      if (rtts.length < 10) sendPing(peer);
      else sendBurst(peer);
    },
    onEvent: (event) => {
      if (event.type === 'connected') {
        serverPeer = event.peer;
        console.log(`client: connected to ${event.remote} as peer ${event.peer}`);
        sendPing(event.peer);
      } else if (event.type === 'connect-failed') {
        console.error(`client: connect failed: ${event.error}`);
        process.exitCode = 1;
        finish();
      }
    },
  },
);
client.connect(`127.0.0.1:${port}`);

await done;
const seconds = Number(process.hrtime.bigint() - burstStart) / 1e9;
console.log(
  `burst: ${BURST.toLocaleString()} messages in ${seconds.toFixed(3)} s ` +
    `(${Math.round(BURST / seconds).toLocaleString()} msgs/s)`,
);
const info = client.peerInfo(serverPeer);
console.log(`client: sent ${info?.messagesOut} messages, ${info?.bytesOut} bytes`);
await Promise.all([client.close(), server.close()]);
console.log('both engines closed');
