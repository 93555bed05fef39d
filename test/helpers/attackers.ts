// Hostile raw peers for flood tests: plain sockets that speak just enough of
// the protocol to be handshaken, then misbehave as fast as TCP lets them.
// Every attack is bounded: it runs until `stop()` and never dials anything
// but the loopback address it is given.
import { randomBytes } from 'node:crypto';
import { type Socket, connect as tcpConnect } from 'node:net';
import { encodeMessage } from '../../ts/wire/codec.js';
import { versionMessage } from './messages.js';
import { frame } from './wire.js';

export interface Attack {
  /** Frames written so far (a floor: writes the kernel has not taken yet count too). */
  readonly sent: () => number;
  /** Sockets opened so far. */
  readonly opened: () => number;
  stop(): void;
}

const version = () =>
  frame(
    'version',
    encodeMessage(versionMessage({ nonce: BigInt(Math.floor(Math.random() * 2 ** 48)) })),
  );
const VERACK = frame('verack', Buffer.alloc(0));

/** A headers message of 2,000 random headers: none connects to anything. */
export function unconnectingHeaders(): Buffer {
  const count = Buffer.from([0xfd, 0xd0, 0x07]);
  const headers = Array.from({ length: 2000 }, () =>
    Buffer.concat([randomBytes(80), Buffer.from([0])]),
  );
  return frame('headers', Buffer.concat([count, ...headers]));
}

/** getheaders from genesis (regtest): the node answers with up to 2,000 headers. */
export function getheadersFromGenesis(genesisHash: Uint8Array): Buffer {
  return fromGenesis('getheaders', genesisHash);
}

/** getblocks from genesis: the node answers with an inv of up to 500 blocks. */
export function getblocksFromGenesis(genesisHash: Uint8Array): Buffer {
  return fromGenesis('getblocks', genesisHash);
}

function fromGenesis(command: string, genesisHash: Uint8Array): Buffer {
  const payload = Buffer.alloc(4 + 1 + 32 + 32);
  payload.writeUInt32LE(70016, 0);
  payload[4] = 1;
  Buffer.from(genesisHash).copy(payload, 5);
  return frame(command, payload);
}

/** getdata for `hashes` (wire order) as MSG_WITNESS_BLOCK items, repeated to `count` items. */
export function getdataBlocks(hashes: Uint8Array[], count: number): Buffer {
  return inventory('getdata', 0x40000002, hashes, count);
}

/** An inv of `count` transaction announcements (MSG_WTX): 1,000 random hashes round and round. */
export function invTransactions(count: number): Buffer {
  const hashes = Array.from({ length: 1000 }, () => randomBytes(32));
  return inventory('inv', 5, hashes, count);
}

/** `command` with `count` items of `type`, taking `hashes` round and round. */
function inventory(
  command: 'inv' | 'getdata',
  type: number,
  hashes: Uint8Array[],
  count: number,
): Buffer {
  const items = Array.from({ length: count }, (_, i) => ({
    type,
    hash: hashes[i % hashes.length] as Uint8Array,
  }));
  // The codec writes the canonical count (a longer form does not decode).
  return frame(command, encodeMessage({ command, payload: { inventory: items } }));
}

export interface FloodOptions {
  port: number;
  /** Connections kept up; a dropped one is redialled. */
  connections: number;
  /** Frames written back to back after the handshake, round and round. */
  frames: Buffer[];
  /** Never read what the node sends (a peer that does not read). */
  noRead?: boolean;
  /** Skip the handshake (junk before version). */
  noHandshake?: boolean;
  /**
   * Flood only once the node's verack came (past the pre-handshake payload
   * limit, which drops a large message sent earlier as oversized).
   */
  afterVerack?: boolean;
}

/** What one flooding socket writes before letting its event loop turn. */
const TURN_BYTES = 256 * 1024;

/** Keeps `connections` sockets flooding `frames` at the node until stopped. */
export function flood(options: FloodOptions): Attack {
  let stopped = false;
  let sent = 0;
  let opened = 0;
  const sockets = new Set<Socket>();
  const chunk = Buffer.concat(options.frames);
  const open = () => {
    if (stopped) return;
    opened++;
    const socket = tcpConnect(options.port, '127.0.0.1');
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      // Redial, a little later, as a determined attacker would.
      if (!stopped) setTimeout(open, 20);
    });
    if (options.afterVerack) {
      let seen = Buffer.alloc(0);
      const onData = (data: Buffer) => {
        seen = Buffer.concat([seen, data]);
        if (seen.indexOf('verack\0') === -1) return;
        socket.off('data', onData);
        if (options.noRead) socket.pause();
        else socket.on('data', () => {});
        pump();
      };
      socket.on('data', onData);
    } else if (options.noRead) socket.pause();
    else socket.on('data', () => {});
    // Writes until the socket pushes back, or a turn's worth went out: a node
    // that reads as fast as we write never pushes back, and a loop that never
    // yields would starve this process (its other sockets, and the canary).
    const pump = () => {
      for (let bytes = 0; bytes < TURN_BYTES; bytes += chunk.length) {
        if (stopped || socket.destroyed) return;
        sent += options.frames.length;
        if (!socket.write(chunk)) {
          socket.once('drain', pump);
          return;
        }
      }
      setImmediate(pump);
    };
    socket.on('connect', () => {
      if (!options.noHandshake) socket.write(Buffer.concat([version(), VERACK]));
      if (!options.afterVerack) pump();
    });
  };
  for (let i = 0; i < options.connections; i++) open();
  return {
    sent: () => sent,
    opened: () => opened,
    stop() {
      stopped = true;
      for (const s of sockets) s.destroy();
    },
  };
}

/** Opens `count` sockets that never send a byte, `parallel` at a time; keeps them open. */
export async function idleSockets(port: number, count: number, parallel = 200): Promise<Attack> {
  const sockets: Socket[] = [];
  let opened = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const socket = tcpConnect(port, '127.0.0.1');
      opened++;
      sockets.push(socket);
      socket.on('error', () => {});
      socket.on('data', () => {});
      socket.once('connect', () => resolve());
      socket.once('close', () => resolve());
      setTimeout(resolve, 2_000).unref();
    });
  for (let i = 0; i < count; i += parallel) {
    await Promise.all(Array.from({ length: Math.min(parallel, count - i) }, one));
  }
  return {
    sent: () => 0,
    opened: () => opened,
    stop() {
      for (const s of sockets) s.destroy();
    },
  };
}

/** Connects and disconnects as fast as it can, `parallel` at a time, until stopped. */
export function churn(port: number, parallel = 20): Attack {
  let stopped = false;
  let opened = 0;
  const live = new Set<Socket>();
  const once = () => {
    if (stopped) return;
    opened++;
    const socket = tcpConnect(port, '127.0.0.1');
    live.add(socket);
    socket.on('error', () => {});
    socket.on('connect', () => {
      socket.write(Buffer.concat([version(), VERACK]));
      setTimeout(() => socket.destroy(), 5);
    });
    socket.on('close', () => {
      live.delete(socket);
      setImmediate(once);
    });
  };
  for (let i = 0; i < parallel; i++) once();
  return {
    sent: () => 0,
    opened: () => opened,
    stop() {
      stopped = true;
      for (const s of live) s.destroy();
    },
  };
}
