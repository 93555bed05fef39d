// `peerwire sync`: headers from real nodes, validated as they arrive. A peer
// that sends an invalid header is penalised and the sync goes on with the rest;
// peers on other branches are followed to the one with most work. With
// --blocks, the blocks follow (sync-blocks.ts).

import { hashToHex } from '../chain/hash.js';
import { chainFor, HeaderError } from '../chain/headerchain.js';
import { writeHeadersFile } from '../chain/headersfile.js';
import { Engine } from '../engine/engine.js';
import type { Peer } from '../engine/peer.js';
import { CliError, checkOutputPath, hostPort, intFlag, MAX_TIMER_MS, parse } from './args.js';
import { type SyncOutcome, syncFromPeer, watchUnconnectingHeaders } from './headers-service.js';
import { chooseNetwork, describeDisconnect } from './network.js';
import { Progress, table, toJson } from './output.js';
import {
  type BlockSyncResult,
  describeBlocks,
  syncBlocks,
  watchPeerHeaders,
} from './sync-blocks.js';
import { type Datadir, openDatadir, prepareDatadir, saveHeaders } from './sync-datadir.js';

export const SYNC_USAGE = `Usage: peerwire sync --connect HOST:PORT [--connect HOST:PORT ...]
                     [--network NAME | --network-config FILE] [--out FILE]
                     [--blocks --datadir DIR [--prune MB]] [--timeout-ms N] [--json]

Syncs block headers from the given nodes. Every header must link to its parent,
meet its proof-of-work target and follow the network's difficulty rules; a peer
that sends an invalid one is penalised and the sync continues with the others.

With --blocks, the blocks of the best header chain follow, downloaded from all
the peers at once, each checked against its header (merkle root, witness
commitment, coinbase height) and stored in DIR/blocks; the headers are kept in
DIR/headers.dat. A rerun with the same DIR resumes: blocks already stored are
not downloaded again, also after the process was killed.

Options:
  --connect HOST:PORT     a node to sync from (repeatable, at least one)
  --network NAME          mainnet, testnet3, testnet4, signet or regtest (default mainnet)
  --network-config FILE   a custom network (JSON) for a Bitcoin-family fork
  --out FILE              write the headers to FILE (for peerwire node --headers)
  --blocks                download the blocks too (needs --datadir)
  --datadir DIR           where --blocks keeps headers and blocks (created if missing)
  --prune MB              delete the oldest stored blocks past MB megabytes (with --blocks)
  --timeout-ms N          give up on a peer that does not connect or answer (default 30000);
                          with --blocks, also stop when no peer is left, or none has the
                          next block, for that long
  --json                  print the result as JSON (no progress bars)
  -h, --help              show this help`;

export async function runSync(argv: string[]): Promise<number> {
  const flags = parse(
    argv,
    {
      connect: { type: 'string', multiple: true },
      network: { type: 'string' },
      'network-config': { type: 'string' },
      out: { type: 'string' },
      blocks: { type: 'boolean' },
      datadir: { type: 'string' },
      prune: { type: 'string' },
      'timeout-ms': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    SYNC_USAGE,
  );
  if (flags.help) {
    console.log(SYNC_USAGE);
    return 0;
  }
  const targets = (flags.connect as string[] | undefined) ?? [];
  if (targets.length === 0)
    throw new CliError('--connect is required (see "peerwire sync --help")', 2);
  for (const t of targets) hostPort(t, 'connect');
  const duplicate = targets.find((t, i) => targets.indexOf(t) !== i);
  if (duplicate) throw new CliError(`--connect ${duplicate} is given twice`, 2);
  const network = chooseNetwork(
    flags.network as string | undefined,
    flags['network-config'] as string | undefined,
    'mainnet',
  );
  const timeoutMs = intFlag(
    flags['timeout-ms'] as string | undefined,
    'timeout-ms',
    30_000,
    1,
    MAX_TIMER_MS,
  );
  checkOutputPath(flags.out as string | undefined, 'out');
  const withBlocks = flags.blocks === true;
  const datadirFlag = flags.datadir as string | undefined;
  if (withBlocks && datadirFlag === undefined) {
    throw new CliError('--blocks needs --datadir DIR (see "peerwire sync --help")', 2);
  }
  if (!withBlocks && datadirFlag !== undefined) {
    throw new CliError('--datadir is for --blocks (see "peerwire sync --help")', 2);
  }
  const pruneFlag = flags.prune as string | undefined;
  if (pruneFlag !== undefined && !withBlocks) {
    throw new CliError('--prune is for --blocks (see "peerwire sync --help")', 2);
  }
  const pruneMB = pruneFlag === undefined ? undefined : intFlag(pruneFlag, 'prune', 0, 1);
  const json = flags.json === true;
  const progress = new Progress(!json);
  let datadir: Datadir | undefined;
  if (datadirFlag !== undefined) {
    const dir = prepareDatadir(datadirFlag);
    datadir = await openDatadir(dir, network, pruneMB === undefined ? undefined : pruneMB * 1e6);
  }
  const chain = datadir?.chain ?? chainFor(network);
  const engine = new Engine({
    network,
    limits: {
      connectTimeoutMs: timeoutMs,
      requestTimeoutMs: timeoutMs,
      handshakeTimeoutMs: timeoutMs,
      maxOutbound: targets.length,
    },
    startHeight: () => chain.height,
  });

  watchUnconnectingHeaders(engine, chain);
  const peerHeight = datadir ? watchPeerHeaders(engine, chain) : undefined;
  // The last penalty of each peer: a peer dropped for it is reported as penalised.
  const penalties = new Map<Peer, string>();
  engine.on('misbehaving', (p, info) => penalties.set(p, info.reason));

  const results = new Map<string, { outcome: string; peer?: Peer; error?: string }>();
  const started = performance.now();
  let blocks: BlockSyncResult | undefined;
  try {
    // Handshakes come in as they may; peers then take turns syncing the shared
    // chain, one at a time, so each validates on top of the last.
    const ready = collectPeers(engine, targets, timeoutMs, results);
    for (const t of targets) engine.connect(t);
    // Peers take turns in the order given on the command line.
    const order = (p: Peer) => targets.indexOf(p.state.target ?? p.address);
    const peers = (await ready).sort((x, y) => order(x) - order(y));
    for (const peer of peers) {
      const label = peer.state.target ?? peer.address;
      try {
        const outcome = await syncFromPeer(peer, chain, (p) =>
          progress.update(label, p.height, p.target),
        );
        const penalty = penalties.get(peer);
        results.set(
          label,
          outcome === 'gone' && penalty
            ? { outcome: 'penalised', peer, error: penalty }
            : { ...describeOutcome(outcome, label, chain.height, timeoutMs), peer },
        );
      } catch (err) {
        // A header too far in the future is not the peer's fault (Core: not
        // misbehaviour); anything else it sent wrong was penalised.
        const outcome =
          err instanceof HeaderError
            ? err.permanent || err.code === 'unconnected'
              ? 'penalised'
              : 'stopped'
            : 'gone';
        results.set(label, { outcome, peer, error: (err as Error).message });
      }
    }
    progress.done();
    if (datadir) {
      await saveHeaders(datadir.dir, chain);
      if ([...results.values()].some((r) => r.outcome === 'synced')) {
        blocks = await syncBlocks(engine, chain, datadir, {
          labelOf: (p) => p.state.target ?? p.address,
          ...(peerHeight ? { peerHeight } : {}),
          noPeersTimeoutMs: timeoutMs,
          progress: json || !process.stderr.isTTY ? undefined : progress,
          log: !json && !process.stderr.isTTY,
        });
      }
    }
  } finally {
    progress.done();
    await engine.close();
    await datadir?.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const written = flags.out ? writeHeadersFile(flags.out as string, chain) : undefined;
  const rows = targets.map((address) => {
    const r = results.get(address);
    return {
      address,
      outcome: r?.outcome ?? 'unknown',
      userAgent: r?.peer?.userAgent ?? null,
      error: r?.error ?? null,
    };
  });
  const synced = rows.some((r) => r.outcome === 'synced');
  if (json) {
    console.log(
      toJson({
        network: network.name,
        height: chain.height,
        tip: hashToHex(chain.tipHash),
        seconds,
        out: flags.out ?? null,
        peers: rows,
        ...(datadir ? { datadir: datadir.dir, blocks: blocks ?? null } : {}),
      }),
    );
  } else {
    console.log(
      table(
        ['peer', 'outcome', 'user agent', 'detail'],
        rows.map((r) => [r.address, r.outcome, r.userAgent ?? '-', r.error ?? '']),
      ),
    );
    console.log(
      `${network.name}: height ${chain.height}, tip ${hashToHex(chain.tipHash)} in ${seconds.toFixed(2)} s`,
    );
    if (written !== undefined) console.log(`wrote ${written} headers to ${flags.out}`);
    if (blocks) for (const line of describeBlocks(blocks)) console.log(line);
  }
  if (!synced) throw new CliError('no peer could be synced from');
  if (blocks && !blocks.complete) {
    // A rerun resumes; but not past an invalid block, which the same peers send again.
    const resume = blocks.invalid ? '' : '; rerun with the same --datadir to resume';
    throw new CliError(
      `blocks stopped at ${blocks.stored}/${blocks.target.height} stored: ${blocks.error}${resume}`,
    );
  }
  return 0;
}

/** A sync outcome as the result table shows it: a peer that never answered is a failure. */
function describeOutcome(
  outcome: SyncOutcome,
  label: string,
  height: number,
  timeoutMs: number,
): { outcome: string; error?: string } {
  const seconds = timeoutMs / 1000;
  switch (outcome) {
    case 'silent':
      return { outcome: 'timeout', error: `no headers from ${label} within ${seconds} s` };
    case 'timeout':
      return {
        outcome,
        error: `${label} stopped answering getheaders at height ${height} (waited ${seconds} s)`,
      };
    case 'stalled':
      return { outcome, error: `${label} kept sending the same headers` };
    default:
      return { outcome };
  }
}

/** Resolves with every peer that completed a handshake, once each target has either handshaken or failed. */
function collectPeers(
  engine: Engine,
  targets: string[],
  timeoutMs: number,
  results: Map<string, { outcome: string; error?: string }>,
): Promise<Peer[]> {
  return new Promise((resolve) => {
    const peers: Peer[] = [];
    const settle = () => {
      if (
        peers.length + [...results.values()].filter((r) => r.outcome === 'unreachable').length >=
        targets.length
      ) {
        clearTimeout(timer);
        resolve(peers);
      }
    };
    const timer = setTimeout(() => resolve(peers), timeoutMs + 1_000);
    timer.unref();
    const handshaken = new Set<string>();
    engine.on('handshake', (p) => {
      handshaken.add(p.state.target ?? p.address);
      peers.push(p);
      settle();
    });
    engine.on('failed', (f) => {
      // Only a first verdict for peers that never got going: a peer dropped
      // after its handshake (or after it was penalised) is not unreachable.
      if (results.has(f.address) || handshaken.has(f.address)) return;
      results.set(f.address, { outcome: 'unreachable', error: f.error });
      settle();
    });
    engine.on('disconnected', (p, info) => {
      if (!p.state.handshakeComplete && !results.has(p.state.target ?? p.address)) {
        results.set(p.state.target ?? p.address, {
          outcome: 'unreachable',
          error: describeDisconnect(
            { ...info, sawVersion: p.version !== undefined },
            engine.config.network,
          ),
        });
        settle();
      }
    });
  });
}
