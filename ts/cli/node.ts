// `peerwire node`: a long-running node that accepts peers, serves headers and
// answers pings, logging peer events until SIGINT or SIGTERM.
import { generateHeaders } from '../chain/generate.js';
import { hashToHex } from '../chain/hash.js';
import { chainFor, type HeaderChain } from '../chain/headerchain.js';
import { readHeadersFile } from '../chain/headersfile.js';
import { Engine } from '../engine/engine.js';
import {
  addressForm,
  CliError,
  checkInputFile,
  connectForm,
  hostPort,
  intFlag,
  parse,
} from './args.js';
import { serveHeaders } from './headers-service.js';
import { chooseNetwork, describeDisconnect, requireGenesisHeader } from './network.js';
import { logLine } from './output.js';

export const NODE_USAGE = `Usage: peerwire node --listen HOST:PORT [--network NAME | --network-config FILE]
                     [--headers FILE | --generate N] [--json]

Runs a node that accepts peers, serves block headers (getheaders/headers with
locators), answers pings and logs peer events, until SIGINT or SIGTERM, when it
shuts down gracefully.

Options:
  --listen HOST:PORT      where to accept peers, IPv6 as [::1]:PORT (port 0 picks one;
                          the log says which)
  --network NAME          mainnet, testnet3, testnet4, signet or regtest (default regtest)
  --network-config FILE   a custom network (JSON) for a Bitcoin-family fork
  --headers FILE          serve the headers in FILE (written by peerwire sync --out)
  --generate N            serve N generated headers (networks without retargeting, e.g. regtest)
  --json                  log events as JSON lines (text lines escape what peers send)
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
  if (!flags.listen) throw new CliError('--listen is required (see "peerwire node --help")', 2);
  const listen = hostPort(flags.listen as string, 'listen');
  if (flags.headers && flags.generate)
    throw new CliError('give --headers or --generate, not both', 2);
  const network = chooseNetwork(
    flags.network as string | undefined,
    flags['network-config'] as string | undefined,
    'regtest',
  );
  const json = flags.json === true;
  // Text lines escape peer-controlled strings (user agents, details): a peer
  // must not be able to break a line or forge one. JSON.stringify already does.
  const log = (event: string, fields: Record<string, unknown> = {}) => {
    if (json) {
      console.log(JSON.stringify({ time: new Date().toISOString(), event, ...fields }));
    } else {
      console.log(logLine(event, fields));
    }
  };

  const generate = intFlag(flags.generate as string | undefined, 'generate', 0, 0);
  if (generate > 0) {
    requireGenesisHeader(network);
    if (network.pow.retarget) {
      throw new CliError(
        `--generate makes chains of one difficulty, and network "${network.name}" retargets ` +
          `every ${network.pow.retarget.interval} blocks: use regtest, or a network without retargeting`,
        2,
      );
    }
  }
  if (flags.headers) checkInputFile(flags.headers as string, 'headers');
  let chain: HeaderChain;
  try {
    if (flags.headers) {
      chain = readHeadersFile(flags.headers as string, network);
    } else {
      chain = chainFor(network);
      if (generate > 0) chain.append(generateHeaders(network, generate));
    }
  } catch (err) {
    if (err instanceof CliError) throw err;
    const message = (err as Error).message;
    const path = flags.headers as string | undefined;
    throw new CliError(path && !message.includes(path) ? `--headers ${path}: ${message}` : message);
  }

  const engine = new Engine({ network, startHeight: () => chain.height });
  serveHeaders(engine, chain);
  engine.on('connected', (p) =>
    log('connected', { peer: p.id, address: addressForm(p.address), inbound: p.inbound }),
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
  engine.on('disconnected', (p, i) => {
    const why = describeDisconnect({ ...i, sawVersion: p.version !== undefined }, network);
    log('disconnected', {
      peer: p.id,
      reason: i.reason,
      detail: i.detail === i.reason || i.detail === '' ? undefined : i.detail,
      // Only when it says more than reason and detail do (a wrong network).
      why: why.startsWith(i.reason) ? undefined : why,
    });
  });
  engine.on('misbehaving', (p, i) =>
    log('misbehaving', { peer: p.id, score: i.total, reason: i.reason }),
  );
  engine.on('banned', (b) => log('banned', { host: b.host, reason: b.reason }));

  let bound: { host: string; port: number };
  try {
    bound = engine.listen(listen.host, listen.port);
  } catch (err) {
    await engine.close();
    // The addon's message already says "cannot listen on ADDRESS: why".
    const message = (err as Error).message;
    throw new CliError(
      message.startsWith('cannot listen')
        ? message
        : `cannot listen on ${flags.listen}: ${message}`,
    );
  }
  log('listening', {
    address: connectForm(bound.host, bound.port),
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
