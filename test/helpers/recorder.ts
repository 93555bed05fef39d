// A NativeTransport that records what it receives, with promise-based waits.
import {
  NativeTransport,
  type NativeTransportOptions,
  type PeerId,
  type TransportEvent,
} from '../../ts/index.js';
import { REGTEST_MAGIC } from './wire.js';

export interface Received {
  peer: PeerId;
  command: string;
  payload: Buffer;
}

type Waiter = { check: () => boolean; resolve: () => void };

export class Recorder {
  readonly transport: NativeTransport;
  readonly frames: Received[] = [];
  readonly events: TransportEvent[] = [];
  /** Optional extra frame hook, run after recording. */
  onFrame?: (f: Received) => void;
  private waiters: Waiter[] = [];

  constructor(options: Partial<NativeTransportOptions> = {}) {
    this.transport = new NativeTransport(
      { magic: REGTEST_MAGIC, ...options },
      {
        onFrame: (peer, command, payload) => {
          // Copy: the test keeps payloads past the batch.
          const f = { peer, command, payload: Buffer.from(payload) };
          this.frames.push(f);
          this.onFrame?.(f);
          this.settle();
        },
        onEvent: (event) => {
          this.events.push(event);
          this.settle();
        },
      },
    );
  }

  framesFrom(peer: PeerId): Received[] {
    return this.frames.filter((f) => f.peer === peer);
  }

  /** Resolves once `check` holds, re-checked after every frame and event. */
  until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out waiting for ${what}`));
      }, timeoutMs);
      const waiter: Waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.push(waiter);
    });
  }

  /** Resolves with the first recorded event of `type` matching `match`. */
  async event<T extends TransportEvent['type']>(
    type: T,
    match: (e: Extract<TransportEvent, { type: T }>) => boolean = () => true,
  ): Promise<Extract<TransportEvent, { type: T }>> {
    const find = () =>
      this.events.find(
        (e): e is Extract<TransportEvent, { type: T }> =>
          e.type === type && match(e as Extract<TransportEvent, { type: T }>),
      );
    await this.until(`${type} event`, () => find() !== undefined);
    return find() as Extract<TransportEvent, { type: T }>;
  }

  private settle(): void {
    this.waiters = this.waiters.filter((w) => {
      if (!w.check()) return true;
      w.resolve();
      return false;
    });
  }
}

/** A listening recorder and a dialling one, connected. */
export async function connectedPair(options: Partial<NativeTransportOptions> = {}) {
  const server = new Recorder(options);
  const client = new Recorder(options);
  const { port } = server.transport.listen('127.0.0.1', 0);
  const out = client.transport.connect(`127.0.0.1:${port}`);
  await client.event('connected', (e) => e.peer === out);
  const accepted = await server.event('accepted');
  return { server, client, inbound: accepted.peer, out, port };
}
