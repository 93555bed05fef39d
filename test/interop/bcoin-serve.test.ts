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
    expect(listening.services).toBe('0x409');

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

  it('follows new tips the node mines and announces while connected', async () => {
    const started = await startCli(
      [
        'node',
        '--listen',
        '127.0.0.1:0',
        '--generate',
        '100',
        '--generate-interval-ms',
        '300',
        '--json',
      ],
      /"event":"listening"/,
    );
    node = started.child;
    const listening = JSON.parse(started.match.input) as { address: string; height: number };
    bcoin = await startBcoin({ only: listening.address });
    bcoin.node.startSync();
    const chain = bcoin.node.chain;
    // Blocks mined after bcoin caught up reach it by announcement (inv), not by its first sync.
    await waitUntil('bcoin past the start height', () => chain.height >= listening.height, 60_000);
    const target = chain.height + 3;
    await waitUntil(`bcoin at ${target}`, () => chain.height >= target, 60_000);
    const mined = events(started.lines, 'block') as unknown as {
      height: number;
      hash: string;
      announced: number;
    }[];
    // Each block mined since bcoin connected was announced to it.
    expect(mined.filter((b) => b.announced === 1).length).toBeGreaterThanOrEqual(3);
    const ours = mined.find((b) => b.height === chain.height);
    expect(ours).toBeDefined();
    const theirs = Buffer.from(chain.tip.hash, 'hex').reverse().toString('hex');
    // Its tip is one of ours (ours may have moved on meanwhile).
    expect(mined.map((b) => b.hash)).toContain(theirs);
    expect(events(started.lines, 'disconnected')).toEqual([]);
  }, 120_000);
});
