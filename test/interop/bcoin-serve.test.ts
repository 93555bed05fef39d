// Interop: bcoin 1.0.2 (regtest) dials `peerwire node`, which holds a
// generated chain of real blocks, and syncs every block from it (bcoin asks
// with getblocks/inv and getdata), then keeps the connection.
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { type BcoinNodeHandle, startBcoin } from '../helpers/bcoin.js';
import { exitOf, startCli } from '../helpers/cli.js';
import { waitUntil } from '../helpers/wait.js';

/**
 * Past bcoin's regtest segwit height (432), so blocks with witness commitments
 * are served as witness blocks too, and past 500, so the sync needs Core's
 * getblocks continuation (an inv of our tip once the 500th block is asked for).
 */
const HEIGHT = 700;

let node: ChildProcess | undefined;
let bcoin: BcoinNodeHandle | undefined;

afterEach(async () => {
  await bcoin?.close();
  bcoin = undefined;
  if (node && node.exitCode === null) {
    node.kill('SIGINT');
    await exitOf(node);
  }
  node = undefined;
});

const events = (lines: string[], name: string) =>
  lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((e) => e.event === name);

describe('bcoin syncs blocks from peerwire node', () => {
  it(`syncs all ${HEIGHT} generated blocks and keeps the connection`, async () => {
    const started = await startCli(
      ['node', '--listen', '127.0.0.1:0', '--generate', String(HEIGHT), '--json'],
      /"event":"listening"/,
    );
    node = started.child;
    const listening = JSON.parse(started.match.input) as {
      address: string;
      tip: string;
      services: string;
    };
    expect(listening.services).toBe('0x9');

    bcoin = await startBcoin({ only: listening.address });
    bcoin.node.startSync();
    const chain = bcoin.node.chain;
    await waitUntil(`bcoin at height ${HEIGHT}`, () => chain.height >= HEIGHT, 90_000);
    expect(chain.height).toBe(HEIGHT);
    // bcoin 1.0.2 keeps hashes as wire-order hex: ours is display order.
    expect(Buffer.from(chain.tip.hash, 'hex').reverse().toString('hex')).toBe(listening.tip);

    // Still connected a while after the sync: bcoin did not drop us.
    const handshakes = events(started.lines, 'handshake').length;
    await new Promise((r) => setTimeout(r, 5_000));
    expect(bcoin.node.pool.peers.size()).toBe(1);
    expect(events(started.lines, 'disconnected')).toEqual([]);
    expect(events(started.lines, 'handshake').length).toBe(handshakes);
  }, 120_000);
});
