// An independent full node to test against: bcoin 1.0.2 on regtest, in this
// process, bound to 127.0.0.1 only, with every outside lookup switched off.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The parts of bcoin's FullNode these tests touch (bcoin ships no types). */
interface BcoinNode {
  open(): Promise<void>;
  connect(): Promise<void>;
  close(): Promise<void>;
  /** Starts block sync from its outbound peers (getblocks/inv, or getheaders with checkpoints). */
  startSync(): void;
  /** bcoin 1.0.2 keeps hashes as wire-order hex strings. */
  chain: { height: number; tip: { hash: string } };
  pool: {
    peers: { size(): number; head(): unknown };
    discoverExternal: () => Promise<void>;
    discoverSeeds: () => Promise<void>;
    discoverGateway: () => Promise<void>;
  };
}

/** A bcoin regtest address (bcoin's regtest prefixes differ from Core's). */
export const BCOIN_REGTEST_ADDRESS = 'RLNcgZpJgK6Uh3zXgkm2z7As5nJJVt6HXr';

// Below Linux's ephemeral range (32768+), which floods elsewhere in the suite
// use by the thousand for their own sockets.
let nextPort = 20_000 + Math.floor(Math.random() * 10_000);

export class BcoinNodeHandle {
  constructor(
    readonly node: BcoinNode,
    readonly port: number,
    readonly httpPort: number,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Mines `n` blocks through bcoin's JSON-RPC; returns the new height. */
  async mine(n: number): Promise<number> {
    const res = await fetch(`http://127.0.0.1:${this.httpPort}/`, {
      method: 'POST',
      body: JSON.stringify({ method: 'generatetoaddress', params: [n, BCOIN_REGTEST_ADDRESS] }),
    });
    const body = (await res.json()) as { result?: string[]; error?: unknown };
    if (!body.result) throw new Error(`generatetoaddress failed: ${JSON.stringify(body.error)}`);
    return this.node.chain.height;
  }

  close(): Promise<void> {
    return this.node.close();
  }
}

/** Starts bcoin on regtest. `only` makes it dial just that address (and keep dialling it). */
export async function startBcoin(options: { only?: string } = {}): Promise<BcoinNodeHandle> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startBcoinOnce(options);
    } catch (err) {
      // A port another process took meanwhile: try the next ones.
      if (attempt >= 5 || !String(err).includes('EADDRINUSE')) throw err;
    }
  }
}

async function startBcoinOnce(options: { only?: string }): Promise<BcoinNodeHandle> {
  const bcoin = require('bcoin') as { FullNode: new (o: object) => BcoinNode };
  const port = nextPort++;
  const httpPort = nextPort++;
  const node = new bcoin.FullNode({
    network: 'regtest',
    memory: true,
    workers: false,
    listen: true,
    host: '127.0.0.1',
    port,
    publicHost: '127.0.0.1',
    seeds: [],
    nodes: [],
    only: options.only ? [options.only] : [],
    maxOutbound: options.only ? 1 : 8,
    upnp: false,
    httpHost: '127.0.0.1',
    httpPort,
    noAuth: true,
    logLevel: 'none',
  });
  // No DNS seeds, no external address discovery, no UPnP: loopback only.
  node.pool.discoverExternal = async () => {};
  node.pool.discoverSeeds = async () => {};
  node.pool.discoverGateway = async () => {};
  try {
    await node.open();
    await node.connect();
  } catch (err) {
    await node.close().catch(() => {});
    throw err;
  }
  return new BcoinNodeHandle(node, port, httpPort);
}
