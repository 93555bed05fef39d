// `peerwire crawl`: maps a network from DNS seeds or given nodes with recursive
// getaddr, writes one record per address (JSON lines or CSV) as the crawl
// goes, and ends with a summary: reachable nodes, failures by reason and
// stage, user agents, protocol versions.
import { closeSync, openSync, writeSync } from 'node:fs';
import { type SeedResolver, systemSeedResolver } from '../addr/seeds.js';
import {
  Crawler,
  type CrawlResult,
  CrawlTally,
  OTHER_AGENTS,
  OTHER_VERSIONS,
} from '../crawl/crawler.js';
import { resolveStarts } from '../crawl/resolve.js';
import { Engine } from '../engine/engine.js';
import {
  CliError,
  checkOutputPath,
  connectForm,
  hostPort,
  intFlag,
  MAX_TIMER_MS,
  parse,
} from './args.js';
import { chooseNetwork } from './network.js';
import { formatCount, Progress, table, toJson } from './output.js';
import { checkDialable, PROXY_HELP, PROXY_OPTIONS, PROXY_SYNOPSIS, proxyFlags } from './proxy.js';

export const CRAWL_USAGE = `Usage: peerwire crawl [--seed HOST:PORT ...] [--network NAME | --network-config FILE]
                      [--concurrency N] [--timeout-ms N] [--max-nodes N]
                      ${PROXY_SYNOPSIS}
                      [--cjdns-proxy HOST:PORT] [--no-proxy-randomize]
                      [--out FILE] [--format jsonl|csv] [--json]

Maps a network: dials the seeds, records what each node is (protocol
version, user agent, services, start height, latency) or why it could not be
reached and at which stage (connect, handshake, getaddr), asks each for the
addresses it knows, and dials those in turn until none are left. A node that
timed out or dropped the connection is dialled once more. Tor, I2P and CJDNS
addresses are dialled through the SOCKS5 proxy given for their network, and
only recorded when there is none. Without --seed, the network's DNS seeds are
resolved (by the system resolver, even with --proxy). Ctrl-C ends the crawl
early with a summary of what it found.

Options:
  --seed HOST:PORT        a node (IP, .onion, .b32.i2p) or DNS seed name to start from
                          (repeatable)
  --network NAME          mainnet, testnet3, testnet4, signet or regtest (default mainnet)
  --network-config FILE   a custom network (JSON) for a Bitcoin-family fork
  --concurrency N         nodes dialled at once (1 to 1000, default 32)
  --timeout-ms N          limit for each stage: connect, handshake, getaddr answer (default 10000)
  --max-nodes N           dial at most N addresses (default 10000)
${PROXY_HELP}
  --out FILE              write one record per address to FILE
  --format FORMAT         jsonl (default) or csv, for --out
  --json                  print the summary as JSON (no progress)
  -h, --help              show this help`;

const FORMATS = ['jsonl', 'csv'] as const;
type Format = (typeof FORMATS)[number];

const CSV_COLUMNS = [
  'address',
  'network',
  'source',
  'dialled',
  'reachable',
  'attempts',
  'failure',
  'stage',
  'detail',
  'protocol_version',
  'user_agent',
  'services',
  'start_height',
  'relay',
  'connect_ms',
  'handshake_ms',
  'ping_ms',
  'answered_getaddr',
  'addresses',
  'new_addresses',
] as const;

/** One CSV field: quoted when needed, and never read as a formula by a spreadsheet. */
function csvField(value: unknown): string {
  if (value === undefined || value === null) return '';
  let text = String(value);
  if (/^[=+\-@\t\r]/.test(text) && typeof value === 'string') text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

export function csvRow(r: CrawlResult): string {
  const f = r.failure;
  const cells: unknown[] = [
    r.address,
    r.network,
    r.source,
    r.dialled,
    r.reachable,
    r.attempts,
    f?.reason,
    f?.stage,
    f?.detail,
    r.protocolVersion,
    r.userAgent,
    r.services,
    r.startHeight,
    r.relay,
    r.connectMs,
    r.handshakeMs,
    r.pingMs,
    r.answeredGetaddr,
    r.addresses,
    r.newAddresses,
  ];
  return cells.map(csvField).join(',');
}

export function jsonRow(r: CrawlResult): string {
  return JSON.stringify(r, (_k, v) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Writes records to a file as they come; synchronous, so memory holds none of them. */
class RecordWriter {
  private readonly fd: number;
  constructor(
    path: string,
    private readonly format: Format,
  ) {
    try {
      this.fd = openSync(path, 'w');
    } catch (err) {
      throw new CliError(`--out ${path}: ${(err as Error).message}`, 1);
    }
    if (format === 'csv') writeSync(this.fd, `${CSV_COLUMNS.join(',')}\n`);
  }
  write(r: CrawlResult): void {
    writeSync(this.fd, `${this.format === 'csv' ? csvRow(r) : jsonRow(r)}\n`);
  }
  close(): void {
    closeSync(this.fd);
  }
}

/** The most common entries of a tally, largest first, the rest summed. */
function top<K>(map: Map<K, number>, n: number, label: (k: K) => string): Array<[string, number]> {
  const sorted = [...map].sort((a, b) => b[1] - a[1]);
  const rows = sorted.slice(0, n).map(([k, v]): [string, number] => [label(k), v]);
  const rest = sorted.slice(n).reduce((sum, [, v]) => sum + v, 0);
  if (rest > 0) rows.push([`(${formatCount(sorted.length - n)} more)`, rest]);
  return rows;
}

export async function runCrawl(
  argv: string[],
  resolver: SeedResolver = systemSeedResolver,
): Promise<number> {
  const flags = parse(
    argv,
    {
      seed: { type: 'string', multiple: true },
      network: { type: 'string' },
      'network-config': { type: 'string' },
      concurrency: { type: 'string' },
      'timeout-ms': { type: 'string' },
      'max-nodes': { type: 'string' },
      ...PROXY_OPTIONS,
      out: { type: 'string' },
      format: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    CRAWL_USAGE,
  );
  if (flags.help) {
    console.log(CRAWL_USAGE);
    return 0;
  }
  const proxy = proxyFlags(flags);
  const seedFlags = ((flags.seed as string[] | undefined) ?? []).map((s) => {
    const seed = hostPort(s, 'seed');
    checkDialable(connectForm(seed.host, seed.port), 'seed', proxy);
    return seed;
  });
  const network = chooseNetwork(
    flags.network as string | undefined,
    flags['network-config'] as string | undefined,
    'mainnet',
  );
  const concurrency = intFlag(flags.concurrency as string | undefined, 'concurrency', 32, 1, 1_000);
  const timeoutMs = intFlag(
    flags['timeout-ms'] as string | undefined,
    'timeout-ms',
    10_000,
    1,
    MAX_TIMER_MS,
  );
  const maxNodes = intFlag(flags['max-nodes'] as string | undefined, 'max-nodes', 10_000);
  const out = flags.out as string | undefined;
  const format = (flags.format as string | undefined) ?? 'jsonl';
  if (!(FORMATS as readonly string[]).includes(format)) {
    throw new CliError(`--format must be jsonl or csv, got "${format}"`, 2);
  }
  if (flags.format !== undefined && out === undefined) {
    throw new CliError('--format is for --out: give --out FILE too', 2);
  }
  checkOutputPath(out, 'out');
  const seeds =
    seedFlags.length > 0
      ? seedFlags
      : network.dnsSeeds.map((host) => ({ host, port: network.port }));
  if (seeds.length === 0) {
    throw new CliError(
      `network ${network.name} has no DNS seeds: give --seed HOST:PORT (see "peerwire crawl --help")`,
      2,
    );
  }
  const json = flags.json === true;

  const resolved = await resolveStarts(seeds, resolver);
  for (const f of resolved.failures) {
    process.stderr.write(`peerwire crawl: seed ${f.host} did not resolve (${f.error})\n`);
  }
  if (resolved.addresses.length === 0) {
    throw new CliError('no seed resolved to an address: nothing to crawl');
  }

  const writer = out ? new RecordWriter(out, format as Format) : undefined;
  const tally = new CrawlTally();
  const progress = new Progress(!json);
  const engine = new Engine({
    network,
    limits: {
      maxOutbound: concurrency,
      connectTimeoutMs: timeoutMs,
      // The crawler's own stage timers decide; the engine's are a backstop.
      handshakeTimeoutMs: timeoutMs + 1_000,
      requestTimeoutMs: timeoutMs,
    },
    // A crawl records every node, whatever it offers.
    policy: { requiredServices: 0n },
    proxy,
  });
  let lastDraw = 0;
  const crawler = new Crawler(engine, {
    concurrency,
    maxNodes,
    connectTimeoutMs: timeoutMs,
    handshakeTimeoutMs: timeoutMs,
    getaddrTimeoutMs: timeoutMs,
    addrWindowMs: Math.min(1_000, timeoutMs),
    onResult: (r) => {
      tally.add(r);
      writer?.write(r);
      // Progress is for people: redrawn at most ten times a second.
      const now = performance.now();
      if (now - lastDraw < 100) return;
      lastDraw = now;
      draw();
    },
  });
  const draw = () => {
    const s = crawler.stats;
    progress.update('dialled', s.dialled, s.dialled + s.inFlight + s.queued);
    progress.update('reachable', s.reachable, s.dialled);
  };
  // Ctrl-C ends the crawl early with what it has, summary included.
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    crawler.stop();
  };
  process.once('SIGINT', onSignal);
  const started = performance.now();
  let stats: Awaited<ReturnType<Crawler['run']>>;
  try {
    stats = await crawler.run(resolved.addresses);
    draw();
  } finally {
    process.off('SIGINT', onSignal);
    progress.done();
    writer?.close();
    await engine.close();
  }
  const seconds = (performance.now() - started) / 1000;
  const failures = top(tally.failures, 20, (k) => k);
  const agents = top(tally.userAgents, 15, (k) => (k === '' ? '(empty)' : k));
  const versions = top(tally.versions, 10, (k) =>
    k === OTHER_VERSIONS ? '(other versions)' : String(k),
  );
  if (json) {
    console.log(
      toJson({
        network: network.name,
        seconds,
        interrupted,
        dialled: stats.dialled,
        reachable: tally.reachable,
        unreachable: tally.unreachable,
        notDialled: tally.notDialled,
        answeredGetaddr: tally.answeredGetaddr,
        learnt: stats.learnt,
        overLimit: stats.overLimit,
        retried: stats.retried,
        invalid: stats.invalid,
        unroutable: stats.unroutable,
        failures: Object.fromEntries(tally.failures),
        userAgents: Object.fromEntries(tally.userAgents),
        versions: Object.fromEntries(tally.versions),
        notDialledByNetwork: Object.fromEntries(tally.undialledNetworks),
        out: out ?? null,
      }),
    );
  } else {
    const undialled = [...tally.undialledNetworks].map(([n, c]) => `${n} ${formatCount(c)}`);
    console.log(
      table(
        ['outcome', 'nodes'],
        [
          ['reachable', formatCount(tally.reachable)],
          ['unreachable', formatCount(tally.unreachable)],
          ['answered getaddr', formatCount(tally.answeredGetaddr)],
          [`not dialled (${undialled.join(', ') || 'none'})`, formatCount(tally.notDialled)],
          ...(stats.retried > 0
            ? [['dialled again after a timeout or drop', formatCount(stats.retried)]]
            : []),
          ...(stats.overLimit > 0
            ? [['over --max-nodes (not dialled)', formatCount(stats.overLimit)]]
            : []),
          ...(stats.unroutable > 0
            ? [['local or private addresses given (not dialled)', formatCount(stats.unroutable)]]
            : []),
        ],
      ),
    );
    if (failures.length > 0) {
      console.log(
        `\n${table(
          ['failure (stage)', 'nodes'],
          failures.map(([k, v]) => [k, formatCount(v)]),
        )}`,
      );
    }
    if (agents.length > 0) {
      console.log(
        `\n${table(
          ['user agent', 'nodes'],
          agents.map(([k, v]) => [k === OTHER_AGENTS ? '(other agents)' : k, formatCount(v)]),
        )}`,
      );
      console.log(
        `\n${table(
          ['protocol version', 'nodes'],
          versions.map(([k, v]) => [k, formatCount(v)]),
        )}`,
      );
    }
    console.log(
      `\n${network.name}: ${formatCount(stats.dialled)} dialled, ${formatCount(tally.reachable)} reachable ` +
        `in ${seconds.toFixed(1)} s${interrupted ? ' (interrupted)' : ''}${out ? `; records in ${out}` : ''}`,
    );
  }
  if (tally.reachable === 0) throw new CliError('no node was reachable');
  return 0;
}
