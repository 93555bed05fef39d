// The Dialer on its own: dial outcomes in; dials and failure reports out
// through a recording host, on a manual clock.
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../ts/engine/clock.js';
import { Dialer } from '../../ts/engine/dialer.js';
import type { ReconnectPolicy } from '../../ts/engine/reconnect.js';

const policy: ReconnectPolicy = {
  baseDelayMs: 1000,
  maxDelayMs: 8000,
  jitter: 0,
  maxRestarts: 3,
  windowMs: 60_000,
};

function setup(maxOutbound = 2) {
  const clock = new ManualClock({ seed: 7 });
  const out: string[] = [];
  let nextId = 1;
  let refuse: string | undefined;
  const dialer = new Dialer({
    clock,
    reconnect: policy,
    maxOutbound: () => maxOutbound,
    connect: (address, proxy) => {
      if (address === refuse) throw new Error('refused by the transport');
      const id = nextId++;
      out.push(`dial ${id} ${address}${proxy ? ` via ${proxy.address}` : ''}`);
      return id;
    },
    failed: ({ address, error, retryInMs }) =>
      out.push(`failed ${address} ${error}${retryInMs === undefined ? '' : ` retry ${retryInMs}`}`),
  });
  return {
    clock,
    dialer,
    out,
    refuseDialsTo: (address: string) => {
      refuse = address;
    },
  };
}

describe('Dialer', () => {
  it('dials at once and hands the target to the connection that comes up', () => {
    const { dialer, out } = setup();
    const proxy = { address: '127.0.0.1:9050' };
    dialer.add('a.onion:8333', { relay: false, proxy });
    expect(out).toEqual(['dial 1 a.onion:8333 via 127.0.0.1:9050']);
    expect(dialer.onConnected(1)).toMatchObject({ address: 'a.onion:8333', relay: false, proxy });
    // Handed over once: a second report of the same id finds nothing.
    expect(dialer.onConnected(1)).toBeUndefined();
    expect(dialer.list()).toEqual([{ address: 'a.onion:8333', peerId: 1 }]);
  });

  it('refuses a duplicate and a target past the slot limit; a waiting redial keeps its slot', () => {
    const { dialer, clock, out } = setup(2);
    dialer.add('10.0.0.1:8333', { persistent: true });
    expect(() => dialer.add('10.0.0.1:8333')).toThrow(/already connected or connecting/);
    dialer.add('10.0.0.2:8333');
    expect(() => dialer.add('10.0.0.3:8333')).toThrow(/all 2 outbound slots are in use/);
    dialer.onConnectFailed(1, 'refused');
    expect(out.at(-1)).toBe('failed 10.0.0.1:8333 refused retry 1000');
    expect(() => dialer.add('10.0.0.3:8333')).toThrow(/slots are in use/);
    // A one-shot target that fails gives its slot back.
    dialer.onConnectFailed(2, 'timed out');
    expect(out.at(-1)).toBe('failed 10.0.0.2:8333 timed out');
    dialer.add('10.0.0.3:8333');
    clock.advance(1000);
    expect(out.at(-1)).toBe('dial 4 10.0.0.1:8333');
  });

  it('a dial the transport refuses keeps no slot', () => {
    const { dialer, refuseDialsTo } = setup(1);
    refuseDialsTo('bad:1');
    expect(() => dialer.add('bad:1')).toThrow(/refused by the transport/);
    expect(dialer.list()).toEqual([]);
    dialer.add('10.0.0.1:8333');
  });

  it('redials a persistent target with doubling delays until the restart limit', () => {
    const { dialer, clock, out } = setup();
    dialer.add('10.0.0.1:8333', { persistent: true });
    const delays: number[] = [];
    for (let id = 1; ; id++) {
      dialer.onConnectFailed(id, 'refused');
      const last = out.at(-1) ?? '';
      const retry = /retry (\d+)$/.exec(last);
      if (!retry) break;
      delays.push(Number(retry[1]));
      clock.advance(Number(retry[1]));
      expect(out.at(-1)).toBe(`dial ${id + 1} 10.0.0.1:8333`);
    }
    // maxRestarts 3 within the window: three redials, then given up.
    expect(delays).toEqual([1000, 2000, 4000]);
    expect(out.at(-1)).toBe('failed 10.0.0.1:8333 refused');
    expect(dialer.list()).toEqual([]);
  });

  it('a completed handshake starts the backoff over', () => {
    const { dialer, clock, out } = setup();
    dialer.add('10.0.0.1:8333', { persistent: true });
    dialer.onConnectFailed(1, 'refused');
    clock.advance(1000);
    dialer.onConnected(2);
    dialer.onHandshake('10.0.0.1:8333');
    dialer.onDisconnected('10.0.0.1:8333', 2, 'peer-closed');
    expect(out.at(-1)).toBe('failed 10.0.0.1:8333 peer-closed retry 1000');
  });

  it('ignores the end of a connection that is not the one dialled for the target', () => {
    const { dialer, out } = setup();
    dialer.add('10.0.0.1:8333', { persistent: true });
    dialer.onConnected(1);
    dialer.onDisconnected('10.0.0.1:8333', 99, 'peer-closed');
    dialer.onDisconnected('10.0.0.9:8333', 1, 'peer-closed');
    dialer.onConnectFailed(42, 'refused');
    expect(out).toEqual(['dial 1 10.0.0.1:8333']);
  });

  it('forget returns the connection to close, cancels the redial and forgets the dial', () => {
    const { dialer, clock, out } = setup();
    dialer.add('10.0.0.1:8333', { persistent: true });
    expect(dialer.forget('10.0.0.1:8333')).toBe(1);
    expect(dialer.forget('10.0.0.1:8333')).toBeUndefined();
    // The dial in flight comes up after all: it belongs to no target.
    expect(dialer.onConnected(1)).toBeUndefined();

    dialer.add('10.0.0.2:8333', { persistent: true });
    dialer.onConnectFailed(2, 'refused');
    expect(dialer.forget('10.0.0.2:8333')).toBeUndefined();
    clock.advance(60_000);
    expect(out).toEqual([
      'dial 1 10.0.0.1:8333',
      'dial 2 10.0.0.2:8333',
      'failed 10.0.0.2:8333 refused retry 1000',
    ]);
    expect(clock.pending).toBe(0);
  });

  it('close cancels every redial and reports nothing after it', () => {
    const { dialer, clock, out } = setup();
    dialer.add('10.0.0.1:8333', { persistent: true });
    dialer.add('10.0.0.2:8333', { persistent: true });
    dialer.onConnectFailed(1, 'refused');
    dialer.close();
    expect(clock.pending).toBe(0);
    dialer.onConnectFailed(2, 'refused');
    clock.advance(60_000);
    expect(out).toEqual([
      'dial 1 10.0.0.1:8333',
      'dial 2 10.0.0.2:8333',
      'failed 10.0.0.1:8333 refused retry 1000',
    ]);
    expect(dialer.list()).toEqual([]);
  });
});
