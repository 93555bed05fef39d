// A test peer that misbehaves on purpose, to see how another node copes. It
// completes a real handshake, then runs a script of bad behaviour, one step per
// connection, and reports how the target reacted to each.
//
//   npx tsx examples/misbehaving-peer.ts 127.0.0.1:18444 [--network regtest]
import { connect } from 'node:net';
import {
  Engine,
  encodeMessage,
  networkPreset,
  type Peer,
  type PresetName,
  sha256d,
} from 'peerwire';

const args = process.argv.slice(2);
const networkFlag = args.indexOf('--network');
const networkName = (networkFlag >= 0 ? args.splice(networkFlag, 2)[1] : 'regtest') as PresetName;
const target = args[0];
if (!target) {
  console.error('usage: misbehaving-peer.ts HOST:PORT [--network NAME]');
  process.exit(2);
}
const network = networkPreset(networkName);

/** One frame with whatever header fields a step wants to get wrong. */
function frame(command: string, payload: Buffer, lie: { checksum?: Buffer; length?: number } = {}) {
  const header = Buffer.alloc(24);
  Buffer.from(network.magic, 'hex').copy(header, 0);
  header.write(command, 4, 'ascii');
  header.writeUInt32LE(lie.length ?? payload.length, 16);
  (lie.checksum ?? sha256d(payload).subarray(0, 4)).copy(header, 20);
  return Buffer.concat([header, payload]);
}

// Steps that need the engine (well-formed frames, bad behaviour).
const engineSteps: Record<string, (peer: Peer) => void> = {
  'unsolicited pong': (p) => p.send({ command: 'pong', payload: { nonce: 12345n } }),
  'headers that do not connect': (p) =>
    p.send({
      command: 'headers',
      payload: {
        headers: [
          {
            version: 1,
            prevBlock: new Uint8Array(32).fill(7),
            merkleRoot: new Uint8Array(32),
            time: 0,
            bits: 0x207fffff,
            nonce: 0,
          },
        ],
      },
    }),
  'a second version message': (p) =>
    p.send({
      command: 'version',
      payload: {
        version: 70016,
        services: 0n,
        timestamp: 0n,
        receiver: { services: 0n, ip: '0.0.0.0', port: 0 },
        sender: { services: 0n, ip: '0.0.0.0', port: 0 },
        nonce: 1n,
        userAgent: '/again/',
        startHeight: 0,
        relay: false,
      },
    }),
};

// Steps that need raw bytes (malformed framing), sent after a real handshake.
const rawSteps: Record<string, Buffer> = {
  'bad checksum': frame('ping', Buffer.alloc(8), { checksum: Buffer.from('00000000', 'hex') }),
  'oversized length claim': frame('block', Buffer.alloc(0), { length: 0x7fffffff }),
  'inv claiming 4 billion entries': frame('inv', Buffer.from('feffffffff', 'hex')),
  'wrong network magic': Buffer.concat([
    Buffer.from('deadbeef', 'hex'),
    frame('ping', Buffer.alloc(8)).subarray(4),
  ]),
};

async function engineStep(act: (peer: Peer) => void): Promise<string> {
  const engine = new Engine({ network, limits: { handshakeTimeoutMs: 5_000 } });
  try {
    const peer = await new Promise<Peer>((resolve, reject) => {
      engine.once('handshake', resolve);
      engine.once('failed', (f) => reject(new Error(f.error)));
      engine.connect(target as string);
    });
    const dropped = new Promise<string>((r) =>
      engine.once('disconnected', (_p, i) => r(`disconnected (${i.reason})`)),
    );
    act(peer);
    // A ping after the bad step shows whether the target still talks to us.
    const alive = peer
      .request({ command: 'ping', payload: { nonce: 99n } }, 3_000)
      .then(() => 'still answers pings');
    return await Promise.race([dropped, alive.catch(() => 'stopped answering')]);
  } catch (err) {
    return `could not run: ${(err as Error).message}`;
  } finally {
    await engine.close();
  }
}

async function rawStep(bytes: Buffer): Promise<string> {
  const [host, port] = [
    target?.slice(0, target.lastIndexOf(':')),
    Number(target?.slice(target.lastIndexOf(':') + 1)),
  ];
  const socket = connect(port, host);
  socket.on('error', () => {});
  // Keep reading (and discarding) so the target's close is noticed.
  socket.resume();
  const closed = new Promise<string>((r) => socket.once('close', () => r('disconnected')));
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const version = encodeMessage({
    command: 'version',
    payload: {
      version: 70016,
      services: 0n,
      timestamp: BigInt(Math.floor(Date.now() / 1000)),
      receiver: { services: 0n, ip: '127.0.0.1', port },
      sender: { services: 0n, ip: '0.0.0.0', port: 0 },
      nonce: 0xbadn,
      userAgent: '/misbehaving-peer/',
      startHeight: 0,
      relay: false,
    },
  });
  socket.write(frame('version', version));
  socket.write(frame('verack', Buffer.alloc(0)));
  await new Promise((r) => setTimeout(r, 200));
  socket.write(bytes);
  const verdict = await Promise.race([
    closed,
    new Promise<string>((r) => setTimeout(() => r('kept the connection'), 2_000)),
  ]);
  socket.destroy();
  return verdict;
}

console.log(`misbehaving at ${target} (${network.name})`);
for (const [name, act] of Object.entries(engineSteps))
  console.log(`  ${name.padEnd(36)} → ${await engineStep(act)}`);
for (const [name, bytes] of Object.entries(rawSteps))
  console.log(`  ${name.padEnd(36)} → ${await rawStep(bytes)}`);
