// `peerwire bench`: peerwire against a plain Node net+crypto implementation of
// the same framing, workload by workload, each between two processes over
// loopback, in one run. It reports; it asserts nothing about speed.
import { fork } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CliError, parse } from '../cli/args.js';
import { table, toJson } from '../cli/output.js';
import { createNet, type Impl } from './nets.js';
import { type Channel, type Measurement, type Sizes, WORKLOADS } from './workloads.js';

export const BENCH_USAGE = `Usage: peerwire bench [--quick] [--only WORKLOAD] [--json FILE]

Measures peerwire against a plain Node (net + crypto) implementation of the same
framing, in one run, each workload between two processes over loopback:
  small      8-byte-payload messages delivered to a JS handler (msgs/s)
  large      1 MB payloads delivered to a JS handler (MB/s)
  broadcast  one 1 MB message to 64 peers (time, checksums computed)
  ping       ping round trips, JS handler to JS handler (p50, p99)
  peers      2,000 concurrent peers: connect + handshake time, memory per peer

Build the release addon first for meaningful numbers: npm run build:native:release

Options:
  --quick          small sizes: checks that everything runs, numbers mean little
  --only WORKLOAD  run one workload
  --json FILE      also write the results as JSON
  -h, --help       show this help`;

const FULL: Sizes = {
  smallMessages: 2_000_000,
  largeMessages: 400,
  broadcastPeers: 64,
  pings: 2_000,
  peers: 2_000,
};
const QUICK: Sizes = {
  smallMessages: 20_000,
  largeMessages: 10,
  broadcastPeers: 8,
  pings: 50,
  peers: 50,
};

interface Row {
  workload: string;
  metric: string;
  unit: string;
  peerwire: number;
  baseline: number;
  /** peerwire relative to the baseline, > 1 is better for peerwire. */
  ratio: number;
  target: string;
}

const workerPath = fileURLToPath(new URL('./worker.js', import.meta.url));

async function runPair(impl: Impl, name: string, sizes: Sizes): Promise<Measurement> {
  const child = fork(workerPath, [impl, name, JSON.stringify(sizes)], { stdio: 'inherit' });
  const inbox: Array<Record<string, unknown>> = [];
  const waiting: Array<(m: Record<string, unknown>) => void> = [];
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) =>
      reject(new Error(`bench worker (${impl} ${name}) exited with ${code}`)),
    ),
  );
  child.on('message', (m: Record<string, unknown>) => {
    const w = waiting.shift();
    if (w) w(m);
    else inbox.push(m);
  });
  const channel: Channel = {
    send: (m) => child.send(m),
    next: () => {
      const m = inbox.shift();
      const got = m
        ? Promise.resolve(m)
        : new Promise<Record<string, unknown>>((r) => waiting.push(r));
      return Promise.race([got, exited]);
    },
  };
  const net = createNet(impl);
  try {
    return await (WORKLOADS[name] as (typeof WORKLOADS)[string]).parent(net, channel, sizes, impl);
  } finally {
    await net.close();
    exited.catch(() => {});
    if (child.exitCode === null) await new Promise((r) => child.once('exit', r));
  }
}

function rows(name: string, p: Measurement, b: Measurement): Row[] {
  const r = (
    metric: string,
    unit: string,
    pv: number,
    bv: number,
    higherIsBetter: boolean,
    target: string,
  ): Row => ({
    workload: name,
    metric,
    unit,
    peerwire: pv,
    baseline: bv,
    ratio: higherIsBetter ? pv / bv : bv / pv,
    target,
  });
  switch (name) {
    case 'small':
      return [
        r(
          'delivered',
          'msgs/s',
          p.perSecond as number,
          b.perSecond as number,
          true,
          '≥ 3,000,000 msgs/s, ≥ 20×',
        ),
      ];
    case 'large':
      return [
        r(
          'delivered',
          'MB/s',
          p.mbPerSecond as number,
          b.mbPerSecond as number,
          true,
          '≥ 1,400 MB/s, ≥ 3×',
        ),
      ];
    case 'broadcast':
      return [
        r(
          'time to all peers',
          'ms',
          (p.seconds as number) * 1e3,
          (b.seconds as number) * 1e3,
          false,
          '-',
        ),
        r('checksums computed', 'count', p.checksums as number, b.checksums as number, false, '1'),
      ];
    case 'ping':
      return [
        r('round trip p50', 'µs', p.p50us as number, b.p50us as number, false, '≤ 30 µs'),
        r('round trip p99', 'µs', p.p99us as number, b.p99us as number, false, '≤ 100 µs'),
      ];
    case 'peers':
      return [
        r('connect + handshake all', 's', p.seconds as number, b.seconds as number, false, '-'),
        r(
          'resident memory per peer',
          'KiB',
          p.rssPerPeerKiB as number,
          b.rssPerPeerKiB as number,
          false,
          '≤ 32 KiB',
        ),
      ];
    default:
      return [];
  }
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return '-';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2);
}

export async function runBench(argv: string[]): Promise<number> {
  const flags = parse(
    argv,
    {
      quick: { type: 'boolean' },
      only: { type: 'string' },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    BENCH_USAGE,
  );
  if (flags.help) {
    console.log(BENCH_USAGE);
    return 0;
  }
  const names = flags.only ? [flags.only as string] : Object.keys(WORKLOADS);
  for (const n of names) {
    if (!WORKLOADS[n]) {
      throw new CliError(
        `--only must be one of ${Object.keys(WORKLOADS).join(', ')}, got "${n}"`,
        2,
      );
    }
  }
  const sizes = flags.quick ? QUICK : FULL;
  const all: Row[] = [];
  for (const name of names) {
    process.stderr.write(`bench ${name}: peerwire…`);
    const p = await runPair('peerwire', name, sizes);
    process.stderr.write(' baseline…');
    const b = await runPair('baseline', name, sizes);
    process.stderr.write(' done\n');
    all.push(...rows(name, p, b));
  }
  const machine = {
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
  console.log(
    table(
      ['workload', 'metric', 'unit', 'peerwire', 'baseline', 'ratio', 'target'],
      all.map((r) => [
        r.workload,
        r.metric,
        r.unit,
        fmt(r.peerwire),
        fmt(r.baseline),
        `${fmt(r.ratio)}×`,
        r.target,
      ]),
    ),
  );
  console.log(
    `machine: ${machine.cpus} × ${machine.cpu}, ${machine.memoryGiB} GiB, node ${machine.node}`,
  );
  if (flags.json) {
    writeFileSync(
      flags.json as string,
      `${toJson({ mode: flags.quick ? 'quick' : 'full', sizes, machine, results: all })}\n`,
    );
  }
  return 0;
}
