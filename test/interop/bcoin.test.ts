// Interop with an independent implementation: bcoin 1.0.2 on regtest.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headerHash } from '../../ts/chain/block.js';
import { hashToHex, hexToHash } from '../../ts/chain/hash.js';
import { checkProofOfWork } from '../../ts/chain/pow.js';
import { networkPreset } from '../../ts/config/schema.js';
import { Engine } from '../../ts/engine/engine.js';
import type { Peer } from '../../ts/engine/peer.js';
import type { BlockHeader } from '../../ts/wire/types.js';
import { type BcoinNodeHandle, startBcoin } from '../helpers/bcoin.js';
import { waitUntil } from '../helpers/wait.js';

const REGTEST = networkPreset('regtest');
// bcoin dials only peers that advertise NODE_NETWORK | NODE_WITNESS.
const services = 9n;

let bcoin: BcoinNodeHandle;
const engines: Engine[] = [];

beforeAll(async () => {
  bcoin = await startBcoin();
  await bcoin.mine(300);
}, 60_000);

afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
  await bcoin?.close();
});

function engine(): Engine {
  const e = new Engine({ network: { ...REGTEST, services } });
  engines.push(e);
  return e;
}

function handshakeWith(e: Engine): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no handshake with bcoin')), 20_000);
    e.once('handshake', (p) => {
      clearTimeout(timer);
      resolve(p);
    });
  });
}

describe('interop with bcoin', () => {
  it('we dial bcoin: handshake and ping/pong', async () => {
    const e = engine();
    const ready = handshakeWith(e);
    e.connect(bcoin.address);
    const peer = await ready;
    expect(peer.userAgent).toMatch(/bcoin/);
    expect(peer.version?.version).toBe(70015);
    expect(peer.startHeight).toBe(300);
    const pong = await peer.request({ command: 'ping', payload: { nonce: 0xdeadbeefn } });
    expect(pong.payload.nonce).toBe(0xdeadbeefn);
    await waitUntil('RTT', () => peer.rttMs !== undefined);
  });

  it('bcoin dials us: handshake and ping/pong', async () => {
    const e = engine();
    const { port } = e.listen('127.0.0.1', 0);
    const ready = handshakeWith(e);
    const dialler = await startBcoin({ only: `127.0.0.1:${port}` });
    try {
      const peer = await ready;
      expect(peer.inbound).toBe(true);
      expect(peer.userAgent).toMatch(/bcoin/);
      // Our own ping goes the other way over the same connection.
      const pong = await peer.request({ command: 'ping', payload: { nonce: 7n } });
      expect(pong.payload.nonce).toBe(7n);
    } finally {
      await dialler.close();
    }
  });

  it('syncs every header bcoin mined; each links to its parent and meets its target', async () => {
    const e = engine();
    const ready = handshakeWith(e);
    e.connect(bcoin.address);
    const peer = await ready;

    const powLimit = BigInt(`0x${REGTEST.pow.limit}`);
    const headers: BlockHeader[] = [];
    let tip = hexToHash(REGTEST.genesisHash);
    for (;;) {
      const response = await peer.request({
        command: 'getheaders',
        payload: { version: 70016, locator: [tip], hashStop: new Uint8Array(32) },
      });
      for (const h of response.payload.headers) {
        expect(hashToHex(h.prevBlock)).toBe(hashToHex(tip));
        const hash = headerHash(h);
        expect(checkProofOfWork(hash, h.bits, powLimit)).toBe('ok');
        headers.push(h);
        tip = hash;
      }
      // bcoin never answers with an empty headers message at its tip, so stop on
      // a short batch rather than asking again.
      if (response.payload.headers.length < 2_000) break;
    }
    expect(headers).toHaveLength(bcoin.node.chain.height);
    expect(Buffer.from(tip).toString('hex')).toBe(bcoin.node.chain.tip.hash);
  });
});
