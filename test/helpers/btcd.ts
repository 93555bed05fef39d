// An independent full node in Go to test against: btcd on regtest, as a child
// process bound to 127.0.0.1, with its own temporary data directory. Built by
// scripts/install-btcd.sh (npm test runs it) into .tools/bin.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './cli.js';

export const BTCD_BIN =
  process.env.PEERWIRE_BTCD ??
  join(ROOT, '.tools/bin', process.platform === 'win32' ? 'btcd.exe' : 'btcd');

/**
 * Where blocks btcd mines (RPC `generate`) pay: a regtest P2PKH address (btcd's
 * regtest uses testnet's address prefixes) whose key nobody here holds.
 */
export const BTCD_MINING_ADDRESS = 'mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn';

// Below Linux's ephemeral range (32768+, which the flood tests use by the
// thousand) and away from the 20,000-30,000 bcoin's helper picks from.
let nextPort = 10_000 + Math.floor(Math.random() * 4_000) * 2;

/** What btcd's getpeerinfo says about one peer (the fields these tests read). */
export interface BtcdPeer {
  id: number;
  addr: string;
  services: string;
  conntime: number;
  inbound: boolean;
  subver: string;
  syncnode: boolean;
}

export class BtcdHandle {
  constructor(
    private readonly child: ChildProcess,
    readonly dir: string,
    readonly port: number,
    readonly rpcPort: number,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** One JSON-RPC call; throws with btcd's error. */
  async rpc<T>(method: string, params: unknown[] = []): Promise<T> {
    const res = await fetch(`http://127.0.0.1:${this.rpcPort}/`, {
      method: 'POST',
      signal: AbortSignal.timeout(30_000),
      headers: { authorization: `Basic ${Buffer.from('peerwire:peerwire').toString('base64')}` },
      body: JSON.stringify({ jsonrpc: '1.0', id: 1, method, params }),
    });
    const body = (await res.json()) as { result: T; error: { message: string } | null };
    if (body.error) throw new Error(`btcd ${method}: ${body.error.message}`);
    return body.result;
  }

  height(): Promise<number> {
    return this.rpc<number>('getblockcount');
  }

  bestHash(): Promise<string> {
    return this.rpc<string>('getbestblockhash');
  }

  peers(): Promise<BtcdPeer[]> {
    return this.rpc<BtcdPeer[]>('getpeerinfo');
  }

  /** btcd's own log so far (for failure messages). */
  log(): string {
    try {
      return readFileSync(join(this.dir, 'log', 'regtest', 'btcd.log'), 'utf8');
    } catch {
      return '';
    }
  }

  async close(): Promise<void> {
    // No pid: it never started (spawn failed), and no 'exit' will come.
    if (
      this.child.pid !== undefined &&
      this.child.exitCode === null &&
      this.child.signalCode === null
    ) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * Starts btcd on regtest. `connect` makes it dial only that address (and keep
 * redialling it); it listens too, so tests can dial it. `miningAddress` lets
 * the RPC `generate` mine blocks paying to it.
 */
export async function startBtcd(
  options: { connect?: string; miningAddress?: string } = {},
): Promise<BtcdHandle> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startBtcdOnce(options);
    } catch (err) {
      // A port another process took meanwhile: btcd exits; try the next ones.
      if (attempt >= 3 || !(err instanceof BtcdExitedError)) throw err;
    }
  }
}

class BtcdExitedError extends Error {}

async function startBtcdOnce(options: {
  connect?: string;
  miningAddress?: string;
}): Promise<BtcdHandle> {
  if (!existsSync(BTCD_BIN)) {
    throw new Error(`btcd is not built: run scripts/install-btcd.sh (looked at ${BTCD_BIN})`);
  }
  const dir = mkdtempSync(join(tmpdir(), 'peerwire-btcd-'));
  const port = nextPort++;
  const rpcPort = nextPort++;
  const args = [
    '--regtest',
    `--datadir=${join(dir, 'data')}`,
    `--logdir=${join(dir, 'log')}`,
    `--listen=127.0.0.1:${port}`,
    `--rpclisten=127.0.0.1:${rpcPort}`,
    '--rpcuser=peerwire',
    '--rpcpass=peerwire',
    '--notls',
    '--nodnsseed',
    '--nocfilters',
    '--debuglevel=info',
    ...(options.connect ? [`--connect=${options.connect}`] : []),
    ...(options.miningAddress ? [`--miningaddr=${options.miningAddress}`] : []),
  ];
  const child = spawn(BTCD_BIN, args, { stdio: 'ignore' });
  let spawnError: Error | undefined;
  child.once('error', (err) => {
    spawnError = err;
  });
  const handle = new BtcdHandle(child, dir, port, rpcPort);
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      await handle.height();
      return handle;
    } catch (err) {
      if (spawnError) {
        await handle.close();
        throw new Error(`cannot run ${BTCD_BIN}: ${spawnError.message}`);
      }
      const exited = child.exitCode !== null;
      if (exited || Date.now() > deadline) {
        const log = handle.log();
        await handle.close();
        const message = `btcd did not start: ${(err as Error).message}\n${log.slice(-2000)}`;
        throw exited ? new BtcdExitedError(message) : new Error(message);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
