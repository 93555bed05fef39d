// The Handshake manager on its own: messages in, sends, refusals and
// completion out through a recording host.
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../ts/config/schema.js';
import { ManualClock } from '../../ts/engine/clock.js';
import { Handshake, isHandshakeMessage } from '../../ts/engine/handshake.js';
import { Peer, type PeerHost } from '../../ts/engine/peer.js';
import type { Message } from '../../ts/wire/types.js';
import { versionMessage } from '../helpers/messages.js';

function setup(config = parseConfig({ network: 'regtest' })) {
  const out: string[] = [];
  const sent: Message[] = [];
  let nonce = 100n;
  /** Runs inside `complete`, after it is recorded. */
  let atCompletion: ((peer: Peer) => void) | undefined;
  const handshake: Handshake = new Handshake({
    clock: new ManualClock({ seed: 1 }),
    config,
    startHeight: () => 42,
    randomNonce: () => nonce++,
    send: (_peer, message) => {
      sent.push(message);
      out.push(`send ${message.command}`);
    },
    refuse: (_peer, reason) => out.push(`refuse ${reason}`),
    misbehaving: (_peer, score, reason) => out.push(`misbehaving ${score} ${reason}`),
    complete: (peer) => {
      out.push('complete');
      atCompletion?.(peer);
    },
  });
  const peer = (inbound: boolean, id = 1, address = '10.0.0.9:18444') =>
    new Peer({} as PeerHost, id, address, inbound, 0);
  return {
    handshake,
    out,
    sent,
    peer,
    whenComplete: (hook: (peer: Peer) => void) => {
      atCompletion = hook;
    },
  };
}

function ourVersion(sent: Message[]) {
  const m = sent.find((x) => x.command === 'version');
  if (m?.command !== 'version') throw new Error('no version sent');
  return m.payload;
}

const verack: Message = { command: 'verack', payload: {} };

/** Narrows a test message to one the handshake takes. */
function own(message: Message) {
  if (!isHandshakeMessage(message))
    throw new Error(`${message.command} is not a handshake message`);
  return message;
}

describe('Handshake', () => {
  it('dialling: our version first, then theirs answered with the features and verack', () => {
    const t = setup();
    const p = t.peer(false);
    t.handshake.start(p);
    t.handshake.start(p); // once only
    expect(t.out).toEqual(['send version']);
    const ours = t.sent[0] as Extract<Message, { command: 'version' }>;
    expect(ours.payload.startHeight).toBe(42);
    expect(ours.payload.receiver).toMatchObject({ ip: '10.0.0.9', port: 18444 });
    t.handshake.onMessage(p, own(versionMessage({ version: 70016 })));
    expect(t.out).toEqual(['send version', 'send wtxidrelay', 'send sendaddrv2', 'send verack']);
    t.handshake.onMessage(p, own({ command: 'sendaddrv2', payload: {} }));
    expect(p.features.addrV2).toBe(true);
    t.handshake.onMessage(p, own(verack));
    expect(t.out.at(-1)).toBe('complete');
    expect(p.state.handshakeComplete).toBe(true);
  });

  it('accepting: a verack before the version still completes, without features below 70016', () => {
    const t = setup();
    const p = t.peer(true);
    t.handshake.onMessage(p, own(verack));
    expect(t.out).toEqual([]);
    t.handshake.onMessage(p, own(versionMessage({ version: 70015 })));
    expect(t.out).toEqual(['send version', 'send verack', 'complete']);
  });

  it('refuses our own nonce while our version is out, and not after the peer is forgotten', () => {
    const t = setup();
    const out = t.peer(false, 1);
    t.handshake.start(out);
    const ours = (t.sent[0] as Extract<Message, { command: 'version' }>).payload.nonce;
    const back = t.peer(true, 2);
    t.handshake.onMessage(back, own(versionMessage({ nonce: ours })));
    // Refused before anything is sent back.
    expect(t.out).toEqual(['send version', 'refuse self-connection']);
    expect(back.version).toBeUndefined();
    expect(back.state.versionSent).toBe(false);
    t.handshake.forget(out);
    const later = t.peer(true, 3);
    t.handshake.onMessage(later, own(versionMessage({ nonce: ours })));
    expect(t.out.at(-1)).toBe('send verack');
  });

  it('forgets our nonce when a handshake completes, before the host hears of it', () => {
    const t = setup();
    const p = t.peer(false);
    // Inside the completion callback, a stranger's version carrying the
    // nonce is refused only if the nonce is still held.
    t.whenComplete((peer) => {
      const nonce = peer.state.ourNonce as bigint;
      t.handshake.onMessage(t.peer(true, 2), own(versionMessage({ nonce, version: 70015 })));
    });
    t.handshake.start(p);
    t.handshake.onMessage(p, own(versionMessage({ version: 70015 })));
    t.handshake.onMessage(p, own(verack));
    expect(t.out).toEqual([
      'send version',
      'send verack',
      'complete',
      // The stranger is answered, not refused as ourselves.
      'send version',
      'send verack',
    ]);
  });

  it('a nonce of 0 is never ourselves, and inbound peers need no services', () => {
    const t = setup(parseConfig({ network: 'regtest', policy: { requiredServices: 8n } }));
    t.handshake.start(t.peer(false, 1));
    const inbound = t.peer(true, 2);
    t.handshake.onMessage(inbound, own(versionMessage({ nonce: 0n, services: 1n })));
    expect(t.out).toEqual([
      'send version',
      'send version',
      'send wtxidrelay',
      'send sendaddrv2',
      'send verack',
    ]);
    const outbound = t.peer(false, 3);
    t.handshake.start(outbound);
    t.handshake.onMessage(outbound, own(versionMessage({ services: 1n })));
    expect(t.out.at(-1)).toBe('refuse missing-services');
  });

  it('addresses the receiver as the peer was dialled: IPv6, names, ports that do not parse', () => {
    const cases: Array<[string, string, number]> = [
      ['[2001:db8::1]:8333', '2001:db8::1', 8333],
      ['[::1]', '::1', 0],
      ['seed.example.org:8333', '::', 8333],
      ['10.1.2.3:x', '10.1.2.3', 0],
    ];
    for (const [address, ip, port] of cases) {
      const t = setup();
      t.handshake.start(t.peer(false, 1, address));
      expect(ourVersion(t.sent).receiver, address).toMatchObject({ ip, port });
    }
  });

  it('a second version costs a point and changes nothing', () => {
    const t = setup();
    const p = t.peer(true);
    t.handshake.onMessage(p, own(versionMessage({ userAgent: '/first/' })));
    t.handshake.onMessage(p, own(versionMessage({ userAgent: '/second/' })));
    expect(t.out).toEqual([
      'send version',
      'send wtxidrelay',
      'send sendaddrv2',
      'send verack',
      'misbehaving 1 duplicate version',
    ]);
    expect(p.version?.userAgent).toBe('/first/');
  });

  it('knows which messages are its own', () => {
    expect(isHandshakeMessage(verack)).toBe(true);
    expect(isHandshakeMessage({ command: 'ping', payload: { nonce: 1n } })).toBe(false);
  });
});
