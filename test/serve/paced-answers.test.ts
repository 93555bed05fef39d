import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../ts/engine/clock.js';
import { Engine } from '../../ts/engine/engine.js';
import { pacedAnswers } from '../../ts/serve/paced-answers.js';
import { FakeTransport } from '../helpers/fake-transport.js';
import { versionMessage } from '../helpers/messages.js';

describe('pacedAnswers', () => {
  it('hands a throw from an answer its timer ran to the engine’s handler-error sink', () => {
    const clock = new ManualClock();
    const transport = new FakeTransport();
    const errors: unknown[] = [];
    const engine = new Engine({
      network: 'regtest',
      transport,
      clock,
      onHandlerError: (e) => errors.push(e),
    });
    transport.inbound(3);
    transport.deliver(3, versionMessage());
    const peer = engine.peer(3);
    if (!peer) throw new Error('no peer');
    const answered: number[] = [];
    const paced = pacedAnswers<number>(engine, { perSecond: 1, burst: 1 }, (_, n) => {
      if (n === 2) throw new Error('answer 2 failed');
      answered.push(n);
      return 'queued';
    });
    paced.offer(peer, 1);
    paced.offer(peer, 2); // waits for a token: answered from the timer
    expect(() => clock.advance(1_000)).not.toThrow();
    expect(answered).toEqual([1]);
    expect(errors.map((e) => (e as Error).message)).toEqual(['answer 2 failed']);
    // The peer is still served.
    clock.advance(1_000);
    paced.offer(peer, 3);
    expect(answered).toEqual([1, 3]);
  });
});
