// Peer discovery for `peerwire node`: the data directory check and -seednode
// connections (Core's ADDR_FETCH). The address manager, address relay and
// outbound manager themselves live in ts/addr/.
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataDir, type DataDirOptions } from '../addr/datadir.js';
import type { TimerHandle } from '../engine/clock.js';
import type { Engine } from '../engine/engine.js';
import type { Peer } from '../engine/peer.js';
import { StoreError } from '../store/atomic-file.js';
import { CliError } from './args.js';
import { lockDatadir } from './datadir-lock.js';

/**
 * Opens (creating) the data directory and proves it writable by writing a probe
 * file: `access(W_OK)` says yes to root even on a read-only file system.
 */
export async function openDataDir(dir: string, options: DataDirOptions): Promise<DataDir> {
  let datadir: DataDir;
  try {
    datadir = await DataDir.open(dir, options);
  } catch (err) {
    if (!(err instanceof StoreError)) throw err;
    throw new CliError(`--datadir ${dir}: ${firstLine(err.message)}`, 2);
  }
  const probe = join(dir, `.write-test-${process.pid}`);
  try {
    writeFileSync(probe, '');
    unlinkSync(probe);
  } catch (err) {
    throw new CliError(
      `--datadir ${dir}: not writable (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      2,
    );
  }
  // Released when the process exits, however it ends short of a kill -9.
  const release = lockDatadir(dir);
  process.once('exit', release);
  return datadir;
}

function firstLine(text: string): string {
  return text.split('\n')[0] as string;
}

/** Core's ADDR_FETCH connections last at most 10 × the 30 s address broadcast interval. */
export const SEEDNODE_TIMEOUT_MS = 5 * 60_000;

export interface SeedNodeEvents {
  dial: (address: string) => void;
  /** The seed node answered (or not, by the deadline) and was let go. */
  done: (info: { address: string; addresses: number; reason: string }) => void;
  failed: (info: { address: string; error: string }) => void;
}

/**
 * -seednode: connect, ask for addresses (the address relay sends getaddr on
 * every addr-relay outbound handshake), and disconnect once an addr/addrv2 of
 * more than one address arrives (a single one is a self-announcement), or at
 * the deadline. Must be created after the AddressRelay: its addr handler has to
 * run first, while the peer is still active, or the answer would be dropped.
 */
export class SeedNodes {
  private readonly pending = new Map<string, { timer?: TimerHandle; addresses: number }>();
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly engine: Engine,
    seeds: readonly string[],
    private readonly on: Partial<SeedNodeEvents> = {},
    private readonly timeoutMs = SEEDNODE_TIMEOUT_MS,
  ) {
    for (const s of seeds) this.pending.set(s, { addresses: 0 });
  }

  /** Whether `peer` is a seed-node connection still in progress. */
  has(peer: Peer): boolean {
    return !peer.inbound && peer.target !== undefined && this.pending.has(peer.target);
  }

  get size(): number {
    return this.pending.size;
  }

  start(): void {
    const e = this.engine;
    this.unsubscribe.push(
      e.on('addr', (peer, p) => this.onAddresses(peer, p.addresses.length)),
      e.on('addrv2', (peer, p) => this.onAddresses(peer, p.addresses.length)),
      e.on('failed', (info) => {
        if (!this.pending.has(info.address)) return;
        this.finish(info.address);
        this.on.failed?.({ address: info.address, error: info.error });
      }),
      e.on('disconnected', (peer, info) => {
        if (!this.has(peer)) return;
        const address = peer.target as string;
        const got = this.pending.get(address)?.addresses ?? 0;
        this.finish(address);
        this.on.done?.({ address, addresses: got, reason: info.reason });
      }),
      e.on('closed', () => this.stop()),
    );
    for (const address of [...this.pending.keys()]) {
      const entry = this.pending.get(address) as { timer?: TimerHandle; addresses: number };
      try {
        e.connect(address);
      } catch (err) {
        this.finish(address);
        this.on.failed?.({ address, error: (err as Error).message });
        continue;
      }
      entry.timer = e.clock.setTimer(this.timeoutMs, () => {
        entry.timer = undefined;
        this.release(address, 'seednode-timeout');
      });
      this.on.dial?.(address);
    }
  }

  stop(): void {
    for (const address of [...this.pending.keys()]) this.finish(address);
    for (const off of this.unsubscribe.splice(0)) off();
  }

  private onAddresses(peer: Peer, count: number): void {
    if (!this.has(peer)) return;
    const entry = this.pending.get(peer.target as string);
    if (!entry) return;
    entry.addresses += count;
    if (count > 1) this.release(peer.target as string, 'seednode-done');
  }

  /**
   * Lets the seed node go. A connection to it ends with a 'disconnected' that
   * reports it; a dial still under way is dropped without one (forgotten, the
   * Engine drops its connection if it completes), so it is reported here.
   */
  private release(address: string, reason: string): void {
    const entry = this.pending.get(address);
    if (!entry) return;
    const connected = this.engine.peers.some((p) => !p.inbound && p.target === address);
    this.engine.forget(address, reason);
    if (connected) return;
    this.finish(address);
    this.on.done?.({ address, addresses: entry.addresses, reason });
  }

  private finish(address: string): void {
    const entry = this.pending.get(address);
    if (!entry) return;
    if (entry.timer) this.engine.clock.clearTimer(entry.timer);
    this.pending.delete(address);
  }
}
