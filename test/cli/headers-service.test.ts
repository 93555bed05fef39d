// The header service: unconnecting headers (Core's ten-message rule), following
// peers onto the best chain, and the per-peer getheaders budget (token bucket,
// send-side pause). Driven by a fake transport and a manual clock.
import { describe, expect, it } from 'vitest';
import { headerHash } from '../../ts/chain/block.js';
import { generateHeaders } from '../../ts/chain/generate.js';
import { chainFor } from '../../ts/chain/headerchain.js';
import { checkProofOfWork } from '../../ts/chain/pow.js';
import { serveHeaders } from '../../ts/cli/headers-service.js';
import { networkPreset } from '../../ts/config/schema.js';
import { ManualClock } from '../../ts/engine/clock.js';
import { Engine } from '../../ts/engine/engine.js';
import type { BlockHeader, Message } from '../../ts/wire/types.js';
import { FakeTransport } from '../helpers/fake-transport.js';
import { versionMessage } from '../helpers/messages.js';

const REGTEST = networkPreset('regtest');
const LIMIT = BigInt(`0x${REGTEST.pow.limit}`);
const HEADERS = generateHeaders(REGTEST, 30);

function mine(prev: Uint8Array, time: number, seed: number, version = 0x2000_0000): BlockHeader {
  const h: BlockHeader = {
    version,
    prevBlock: Buffer.from(prev),
    merkleRoot: new Uint8Array(32).fill(seed),
    time,
    bits: 0x207fffff,
    nonce: 0,
  };
  while (checkProofOfWork(headerHash(h), h.bits, LIMIT) !== 'ok') h.nonce++;
  return h;
}

function setup(options: Parameters<typeof serveHeaders>[2] = {}, height = 20) {
  const clock = new ManualClock();
  const transport = new FakeTransport();
  const engine = new Engine({ network: 'regtest', clock, transport });
  const chain = chainFor(REGTEST, { clock });
  chain.append(HEADERS.slice(0, height));
  const service = serveHeaders(engine, chain, options);
  const id = 500;
  transport.inbound(id);
  transport.deliver(id, versionMessage());
  transport.deliver(id, { command: 'verack', payload: {} });
  const peer = engine.peer(id);
  if (!peer?.ready) throw new Error('no handshake');
  const send = (m: Message) => transport.deliver(id, m);
  const sent = (command: string) => transport.sentTo(id, command);
  return { clock, transport, engine, chain, service, peer, id, send, sent };
}

const headersMsg = (headers: BlockHeader[]): Message => ({
  command: 'headers',
  payload: { headers },
});
const unconnecting = (seed: number) => headersMsg([mine(new Uint8Array(32).fill(seed), 1, seed)]);
const getheaders = (from: Uint8Array): Message => ({
  command: 'getheaders',
  payload: { version: 70016, locator: [from], hashStop: new Uint8Array(32) },
});

describe('unconnecting headers', () => {
  it('are answered with a getheaders, and penalised at the tenth in a row', () => {
    const t = setup();
    for (let i = 1; i <= 9; i++) {
      t.send(unconnecting(i));
      expect(t.sent('getheaders')).toHaveLength(i);
      expect(t.peer.active).toBe(true);
    }
    const locator = t.sent('getheaders')[0]?.message?.payload as { locator: Uint8Array[] };
    expect(Buffer.from(locator.locator[0] as Uint8Array)).toEqual(t.chain.tipHash);
    expect(t.service.unconnectingOf(t.peer)).toBe(9);
    t.send(unconnecting(10));
    expect(t.peer.state.score).toBeGreaterThanOrEqual(100);
    expect(t.peer.active).toBe(false);
  });

  it('with invalid proof of work are penalised at once, not counted as merely unconnecting', () => {
    const t = setup();
    const bad = mine(new Uint8Array(32).fill(1), 1, 1);
    while (checkProofOfWork(headerHash(bad), bad.bits, LIMIT) === 'ok') bad.nonce++;
    t.send(headersMsg([bad]));
    expect(t.peer.state.score).toBeGreaterThanOrEqual(100);
    expect(t.sent('getheaders')).toHaveLength(0);
  });

  it('count from zero again once a message connects', () => {
    const t = setup();
    for (let i = 1; i <= 9; i++) t.send(unconnecting(i));
    t.send(headersMsg([HEADERS[20] as BlockHeader]));
    expect(t.service.unconnectingOf(t.peer)).toBe(0);
    for (let i = 11; i <= 19; i++) t.send(unconnecting(i));
    expect(t.peer.active).toBe(true);
    expect(t.peer.state.score).toBe(0);
  });
});

describe('following peers', () => {
  it('takes a branch with more work and serves it', () => {
    const t = setup();
    // A branch off height 15 that ends up longer than ours.
    let prev: Buffer = t.chain.hashAt(15) as Buffer;
    const branch: BlockHeader[] = [];
    for (let i = 0; i < 8; i++) {
      const h = mine(prev, (HEADERS[14] as BlockHeader).time + (i + 1) * 7, 99);
      branch.push(h);
      prev = headerHash(h);
    }
    t.send(headersMsg(branch));
    expect(t.chain.height).toBe(23);
    expect(t.chain.tipHash).toEqual(prev);
    expect(t.peer.state.score).toBe(0);
    t.send(getheaders(t.chain.hashAt(15) as Buffer));
    const served = t.sent('headers').at(-1)?.message?.payload as { headers: BlockHeader[] };
    expect(served.headers).toHaveLength(8);
  });

  it('penalises an invalid header but not one that is only too far ahead', () => {
    const t = setup();
    const tip = t.chain.tipHash;
    const future = mine(tip, Math.floor(t.clock.now() / 1000) + 3 * 3600, 1);
    t.send(headersMsg([future]));
    expect(t.peer.state.score).toBe(0);
    expect(t.chain.height).toBe(20);
    const badVersion = mine(tip, (HEADERS[19] as BlockHeader).time + 30, 2, 1);
    t.send(headersMsg([badVersion]));
    expect(t.peer.active).toBe(false);
  });
});

describe('a node that does not follow peers', () => {
  /** A header on our tip whose hash misses its bits (regtest: about one nonce in two). */
  function badPow(prev: Uint8Array, time: number): BlockHeader {
    const h = mine(prev, time, 7);
    while (checkProofOfWork(headerHash(h), h.bits, LIMIT) === 'ok') h.nonce++;
    return h;
  }

  it('adds no headers, valid or not', () => {
    const t = setup({ follow: false });
    t.send(headersMsg([HEADERS[20] as BlockHeader, HEADERS[21] as BlockHeader]));
    expect(t.chain.height).toBe(20);
    expect(t.peer.state.score).toBe(0);
  });

  it('still penalises headers with invalid proof of work, as Core checks every headers message', () => {
    const t = setup({ follow: false });
    t.send(headersMsg([badPow(t.chain.tipHash, (HEADERS[19] as BlockHeader).time + 30)]));
    expect(t.peer.state.score).toBeGreaterThanOrEqual(100);
    expect(t.peer.active).toBe(false);
    expect(t.chain.height).toBe(20);
  });

  it('and headers that do not follow one another', () => {
    const t = setup({ follow: false });
    const reasons: string[] = [];
    t.engine.on('misbehaving', (_, i) => reasons.push(i.reason));
    t.send(headersMsg([HEADERS[20] as BlockHeader, HEADERS[22] as BlockHeader]));
    expect(t.peer.active).toBe(false);
    expect(reasons).toEqual(['invalid header: header 1 of 2 does not follow the one before it']);
  });
});

describe('getheaders budget', () => {
  it('answers a burst, then the newest request when a token comes back', () => {
    const t = setup({ answersPerSecond: 2, answerBurst: 3 });
    for (let h = 0; h < 10; h++) t.send(getheaders(t.chain.hashAt(h) as Buffer));
    expect(t.sent('headers')).toHaveLength(3);
    t.clock.advance(500);
    const answers = t.sent('headers');
    expect(answers).toHaveLength(4);
    // The one that waited is the newest: after height 9.
    const last = answers[3]?.message?.payload as { headers: BlockHeader[] };
    expect(last.headers[0]).toMatchObject({ time: (HEADERS[9] as BlockHeader).time });
    t.clock.advance(10_000);
    expect(t.sent('headers')).toHaveLength(4);
  });

  it('builds no answers while the peer is past its send pause point', () => {
    const t = setup();
    t.transport.refuse.set('headers', 'backpressure');
    t.send(getheaders(t.chain.hashAt(0) as Buffer));
    for (let h = 1; h < 5; h++) t.send(getheaders(t.chain.hashAt(h) as Buffer));
    expect(t.sent('headers')).toHaveLength(0);
    t.transport.event({ type: 'writable', peer: t.id });
    const answers = t.sent('headers');
    expect(answers).toHaveLength(1);
    const payload = answers[0]?.message?.payload as { headers: BlockHeader[] };
    expect(payload.headers).toHaveLength(16); // heights 5 to our tip at 20
  });
});
