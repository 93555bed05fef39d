// `peerwire node`: a long-running node that accepts peers, serves headers and
// answers pings, logging peer events until SIGINT or SIGTERM.
import { generateHeaders } from '../chain/generate.js';
import { hashToHex } from '../chain/hash.js';
import { chainFor, type HeaderChain } from '../chain/headerchain.js';
import { readHeadersFile } from '../chain/headersfile.js';
import { Engine } from '../engine/engine.js';
import { CliError, hostPort, intFlag, parse } from './args.js';
import { serveHeaders } from './headers-service.js';
import { chooseNetwork } from './network.js';

export const NODE_USAGE = `Usage: peerwire node --listen HOST:PORT [--network NAME | --network-config FILE]
                     [--headers FILE | --generate N] [--json]

Runs a node that accepts peers, serves block headers (getheaders/headers with
locators), answers pings and logs peer events, until SIGINT or SIGTERM, when it
shuts down gracefully.

Options:
  --listen HOST:PORT      where to accept peers (port 0 picks one; the log says which)
  --network NAME          mainnet, testnet3, testnet4, signet or regtest (default regtest)
  --network-config FILE   a custom network (JSON) for a Bitcoin-family fork
  --headers FILE          serve the headers in FILE (written by peerwire sync --out)
  --generate N            serve N generated headers (networks without retargeting, e.g. regtest)
  --json                  log events as JSON lines
  -h, --help              show this help`;

export async function runNode(argv: string[]): Promise<number> {
  const flags = parse(
    argv,
    {
      listen: { type: 'string' },
      network: { type: 'string' },
      'network-config': { type: 'string' },
      headers: { type: 'string' },
      generate: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    NODE_USAGE,
  );
  if (flags.help) {
    console.log(NODE_USAGE);
    return 0;
  }
  if (!flags.listen) throw new CliError(`--listen is required\n\n${NODE_USAGE}`, 2);
  const listen = hostPort(flags.listen as string, 'listen');
  if (flags.headers && flags.generate)
    throw new CliError('give --headers or --generate, not both', 2);
  const network = chooseNetwork(
    flags.network as string | undefined,
    flags['network-config'] as string | undefined,
    'regtest',
  );
  const json = flags.json === true;
  const log = (event: string, fields: Record<string, unknown> = {}) => {
    if (json) {
      console.log(JSON.stringify({ time: new Date().toISOString(), event, ...fields }));
    } else {
      const rest = Object.entries(fields)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ');
      console.log(`${new Date().toISOString()} ${event} ${rest}`.trimEnd());
    }
  };

  let chain: HeaderChain;
  try {
    if (flags.headers) {
      chain = readHeadersFile(flags.headers as string, network);
    } else {
      chain = chainFor(network);
      const n = intFlag(flags.generate as string | undefined, 'generate', 0, 0);
      if (n > 0) chain.append(generateHeaders(network, n));
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw new CliError((err as Error).message);
  }

  const engine = new Engine({ network, startHeight: () => chain.height });
  serveHeaders(engine, chain);
  engine.on('connected', (p) =>
    log('connected', { peer: p.id, address: p.address, inbound: p.inbound }),
  );
  engine.on('handshake', (p) =>
    log('handshake', {
      peer: p.id,
      userAgent: p.userAgent,
      version: p.version?.version,
      height: p.startHeight,
    }),
  );
  engine.on('getheaders', (p, req) =>
    log('getheaders', { peer: p.id, locator: req.locator.length }),
  );
  engine.on('disconnected', (p, i) =>
    log('disconnected', { peer: p.id, reason: i.reason, detail: i.detail }),
  );
  engine.on('misbehaving', (p, i) =>
    log('misbehaving', { peer: p.id, score: i.total, reason: i.reason }),
  );
  engine.on('banned', (b) => log('banned', { host: b.host, reason: b.reason }));

  let bound: { host: string; port: number };
  try {
    bound = engine.listen(listen.host, listen.port);
  } catch (err) {
    await engine.close();
    throw new CliError((err as Error).message);
  }
  log('listening', {
    address: `${bound.host}:${bound.port}`,
    network: network.name,
    height: chain.height,
    tip: hashToHex(chain.tipHash),
  });

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log('shutdown', { signal });
      resolve();
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  await engine.close();
  log('stopped');
  return 0;
}
