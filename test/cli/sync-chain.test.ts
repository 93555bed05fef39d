// `peerwire sync` and syncFromPeer against real loopback peers: a peer that
// never answers is a failure, a peer on another branch is followed to the
// most-work chain (a reorg mid-sync), and unconnecting answers are penalised
// only at the tenth.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeHeader, headerHash } from '../../ts/chain/block.js';
import { generateHeaders } from '../../ts/chain/generate.js';
import { hashToHex } from '../../ts/chain/hash.js';
import { chainFor } from '../../ts/chain/headerchain.js';
import { checkProofOfWork } from '../../ts/chain/pow.js';
import { CliError } from '../../ts/cli/args.js';
import { serveHeaders, syncFromPeer } from '../../ts/cli/headers-service.js';
import { runSync } from '../../ts/cli/sync.js';
import { networkPreset } from '../../ts/config/schema.js';
import { Engine } from '../../ts/engine/engine.js';
import type { Peer } from '../../ts/engine/peer.js';
import type { BlockHeader } from '../../ts/wire/types.js';

const REGTEST = networkPreset('regtest');
const LIMIT = BigInt(`0x${REGTEST.pow.limit}`);
const engines: Engine[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const e of engines.splice(0)) await e.close();
});

function engine(options: ConstructorParameters<typeof Engine>[0] = { network: 'regtest' }) {
  const e = new Engine(options);
  engines.push(e);
  return e;
}

/** A node serving `headers` on loopback; returns its address. */
function servingNode(headers: BlockHeader[]): string {
  const chain = chainFor(REGTEST);
  chain.append(headers);
  const node = engine({ network: 'regtest', startHeight: () => chain.height });
  serveHeaders(node, chain);
  return `127.0.0.1:${node.listen('127.0.0.1', 0).port}`;
}

/** Runs `peerwire sync --json` in this process; returns its JSON and its error, if any. */
async function sync(args: string[]) {
  const out: string[] = [];
  vi.spyOn(console, 'log').mockImplementation((line: string) => out.push(line));
  let error: unknown;
  try {
    await runSync([...args, '--network', 'regtest', '--json']);
  } catch (err) {
    error = err;
  }
  return { result: JSON.parse(out.join('\n')), error };
}

async function connected(client: Engine, address: string): Promise<Peer> {
  const ready = new Promise<Peer>((r) => client.once('handshake', r));
  client.connect(address);
  return ready;
}

describe('sync from a peer that never answers', () => {
  it('is a failure with a clear message, not "synced" at height 0', async () => {
    const silent = engine({ network: 'regtest' }); // handshakes, never answers getheaders
    const address = `127.0.0.1:${silent.listen('127.0.0.1', 0).port}`;
    const { result, error } = await sync(['--connect', address, '--timeout-ms', '400']);
    expect(error).toBeInstanceOf(CliError);
    expect((error as Error).message).toMatch(/no peer could be synced from/);
    expect(result.height).toBe(0);
    expect(result.peers[0]).toMatchObject({
      outcome: 'timeout',
      error: `no headers from ${address} within 0.4 s`,
    });
  });

  it('syncFromPeer says "silent"', async () => {
    const silent = engine({ network: 'regtest' });
    const client = engine({ network: 'regtest', limits: { requestTimeoutMs: 300 } });
    const peer = await connected(client, `127.0.0.1:${silent.listen('127.0.0.1', 0).port}`);
    expect(await syncFromPeer(peer, chainFor(REGTEST))).toBe('silent');
  });
});

describe('sync across branches', () => {
  it('follows a peer on a branch with more work (a reorg mid-sync) and writes that chain', async () => {
    const shared = generateHeaders(REGTEST, 2_600);
    const a = shared.slice(0, 2_300);
    // b forks at 2,200 and runs to 2,500: longer, so more work on regtest.
    const b = shared.slice(0, 2_200);
    let prev = headerHash(b.at(-1) as BlockHeader);
    for (let i = 0; i < 300; i++) {
      const h: BlockHeader = {
        version: 0x2000_0000,
        prevBlock: prev,
        merkleRoot: new Uint8Array(32).fill(7),
        time: (b.at(-1) as BlockHeader).time + (i + 1) * 30,
        bits: 0x207fffff,
        nonce: 0,
      };
      while (checkProofOfWork(headerHash(h), h.bits, LIMIT) !== 'ok') h.nonce++;
      b.push(h);
      prev = headerHash(h);
    }
    const out = join(mkdtempSync(join(tmpdir(), 'peerwire-sync-')), 'h.bin');
    const { result, error } = await sync([
      '--connect',
      servingNode(a),
      '--connect',
      servingNode(b),
      '--out',
      out,
    ]);
    expect(error).toBeUndefined();
    expect(result.peers.map((p: { outcome: string }) => p.outcome)).toEqual(['synced', 'synced']);
    expect(result.height).toBe(2_500);
    expect(result.tip).toBe(hashToHex(prev));
    const file = readFileSync(out);
    expect(file.length).toBe(48 + 2_500 * 80);
    expect(file.subarray(48 + 2_400 * 80, 48 + 2_401 * 80)).toEqual(
      encodeHeader(b[2_400] as BlockHeader),
    );
  });
});

describe('sync from a peer that sends headers that never connect', () => {
  /** Valid on its face (it meets its bits: invalid ones are penalised at once), linked to nothing. */
  const stranger = (seed: number): BlockHeader => {
    const h: BlockHeader = {
      version: 0x2000_0000,
      prevBlock: new Uint8Array(32).fill(seed),
      merkleRoot: new Uint8Array(32),
      time: 1_700_000_000,
      bits: 0x207fffff,
      nonce: 0,
    };
    while (checkProofOfWork(headerHash(h), h.bits, LIMIT) !== 'ok') h.nonce++;
    return h;
  };

  /** A peer that answers the first getheaders with `junk` unconnecting messages, then its chain. */
  function liar(junk: number, chainHeaders: BlockHeader[]): string {
    const chain = chainFor(REGTEST);
    chain.append(chainHeaders);
    const node = engine({ network: 'regtest', startHeight: () => chain.height });
    let first = true;
    node.on('getheaders', (peer, req) => {
      if (first) {
        first = false;
        for (let i = 1; i <= junk; i++) {
          peer.send({ command: 'headers', payload: { headers: [stranger(i)] } });
        }
      }
      peer.send({
        command: 'headers',
        payload: { headers: chain.headersAfter(req.locator, req.hashStop) },
      });
    });
    return `127.0.0.1:${node.listen('127.0.0.1', 0).port}`;
  }

  it('is penalised at the tenth message in a row', async () => {
    const { result } = await sync(['--connect', liar(10, generateHeaders(REGTEST, 50))]);
    expect(result.peers[0]).toMatchObject({
      outcome: 'penalised',
      error: '10 headers messages in a row did not connect to our chain',
    });
  });

  it('is not penalised for nine, and syncs', async () => {
    const { result, error } = await sync(['--connect', liar(9, generateHeaders(REGTEST, 50))]);
    expect(error).toBeUndefined();
    expect(result.height).toBe(50);
    expect(result.peers[0]).toMatchObject({ outcome: 'synced' });
  });
});
