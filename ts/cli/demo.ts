// `peerwire demo`: an offline network in one process. A serving node holds a
// generated regtest header chain with real proof of work; several nodes dial it
// over loopback TCP, handshake, sync every header through the RequestTracker,
// validate each, and a summary table closes the run.
import { headerStream } from '../chain/generate.js';
import { chainFor } from '../chain/headerchain.js';
import { networkPreset } from '../config/schema.js';
import { Engine } from '../engine/engine.js';
import type { Peer } from '../engine/peer.js';
import type { BlockHeader } from '../wire/types.js';
import { CliError, intFlag, parse } from './args.js';
import { serveHeaders, syncFromPeer } from './headers-service.js';
import { plainDisconnect } from './network.js';
import { formatCount, Progress, table, toJson } from './output.js';

/** Most syncing nodes a demo runs: each is a whole engine in this process. */
export const MAX_DEMO_NODES = 500;

export const DEMO_USAGE = `Usage: peerwire demo [--headers N] [--nodes N] [--json]

Runs an offline demo network in this process, over real loopback TCP: one
serving node with a generated regtest header chain (valid proof of work) and
several syncing nodes. Each syncs and validates every header; a summary follows.

Options:
  --headers N   headers in the generated chain (default 50000)
  --nodes N     syncing nodes, 1 to ${MAX_DEMO_NODES} (default 4)
  --json        print the summary as JSON (no progress bars)
  -h, --help    show this help`;

export interface DemoRow {
  node: string;
  headers: number;
  seconds: number;
  headersPerSecond: number;
  rttMs: number | null;
  bytesIn: number;
  bytesOut: number;
  valid: boolean;
  /** Why the node did not sync, when it did not. */
  error?: string;
}

export async function runDemo(argv: string[]): Promise<number> {
  const flags = parse(
    argv,
    {
      headers: { type: 'string' },
      nodes: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    DEMO_USAGE,
  );
  if (flags.help) {
    console.log(DEMO_USAGE);
    return 0;
  }
  const count = intFlag(flags.headers as string | undefined, 'headers', 50_000);
  const nodes = intFlag(flags.nodes as string | undefined, 'nodes', 4, 1, MAX_DEMO_NODES);
  const json = flags.json === true;
  const progress = new Progress(!json);
  const say = (line: string) => {
    if (!json) process.stderr.write(`${line}\n`);
  };

  const network = networkPreset('regtest');
  say(`generating ${count} regtest headers with proof of work…`);
  const serverChain = chainFor(network);
  const stream = headerStream(network);
  for (let made = 0; made < count; ) {
    const batch: BlockHeader[] = [];
    for (; batch.length < 1_000 && made < count; made++)
      batch.push(stream.next().value as BlockHeader);
    serverChain.append(batch);
    progress.update('generate', made, count);
  }
  progress.done();

  // Each syncing node is one inbound peer of the server, and they all dial at
  // once: room for all of them, in the handshake and after it.
  const server = new Engine({
    network,
    limits: { maxInbound: nodes, maxHandshaking: nodes },
    startHeight: () => serverChain.height,
  });
  serveHeaders(server, serverChain);
  // Every engine made is closed on the way out, whatever fails: a live engine
  // would keep the process from exiting.
  const clients: Engine[] = [];
  try {
    const { port } = server.listen('127.0.0.1', 0);
    say(`serving node listening on 127.0.0.1:${port} with ${serverChain.height} headers`);
    for (let i = 0; i < nodes; i++) clients.push(new Engine({ network }));
    const rows = await Promise.all(
      clients.map((engine, i) => syncOne(engine, `node-${i + 1}`, port, progress)),
    );
    progress.done();
    const bad = rows.filter((r) => !r.valid || r.headers !== serverChain.height);
    // Failures go to stderr in both modes: --json keeps stdout for the summary.
    for (const r of bad) {
      process.stderr.write(
        `peerwire demo: ${r.node} did not sync: ${r.error ?? `holds ${formatCount(r.headers)} of ${formatCount(serverChain.height)} headers`}\n`,
      );
    }
    if (json) {
      console.log(toJson({ headers: serverChain.height, nodes: rows }));
    } else {
      console.log(
        table(
          ['node', 'headers', 'time (s)', 'headers/s', 'RTT (ms)', 'bytes in', 'bytes out'],
          rows.map((r) => [
            r.node,
            r.headers,
            r.seconds.toFixed(2),
            Math.round(r.headersPerSecond),
            r.rttMs === null ? '-' : r.rttMs.toFixed(2),
            r.bytesIn,
            r.bytesOut,
          ]),
        ),
      );
      console.log(
        bad.length === 0
          ? `all ${nodes} nodes synced and validated ${serverChain.height} headers`
          : `${bad.length} of ${nodes} nodes did not sync`,
      );
    }
    return bad.length === 0 ? 0 : 1;
  } finally {
    await Promise.all([server.close(), ...clients.map((c) => c.close())]);
  }
}

async function syncOne(
  engine: Engine,
  label: string,
  port: number,
  progress: Progress,
): Promise<DemoRow> {
  const network = engine.config.network;
  const chain = chainFor(network);
  let ended: string | undefined;
  engine.on('disconnected', (_peer, info) => {
    ended ??= plainDisconnect(info);
  });
  const ready = new Promise<Peer>((resolve, reject) => {
    engine.once('handshake', resolve);
    engine.once('failed', (f) => reject(new CliError(`${label}: ${f.error}`)));
    engine.once('disconnected', (p, info) => {
      if (!p.state.handshakeComplete) {
        reject(new CliError(`${label}: ${plainDisconnect(info)}`));
      }
    });
  });
  engine.connect(`127.0.0.1:${port}`);
  const peer = await ready;
  const started = performance.now();
  const outcome = await syncFromPeer(peer, chain, (p) =>
    progress.update(label, p.height, p.target),
  );
  const seconds = (performance.now() - started) / 1000;
  const stats = engine.peerStats(peer);
  return {
    node: label,
    headers: chain.height,
    seconds,
    headersPerSecond: chain.height / seconds,
    rttMs: peer.rttMs ?? null,
    bytesIn: stats?.bytesIn ?? 0,
    bytesOut: stats?.bytesOut ?? 0,
    valid: outcome === 'synced',
    ...(outcome === 'synced' ? {} : { error: ended ?? outcome }),
  };
}
