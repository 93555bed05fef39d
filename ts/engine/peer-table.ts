// The Engine's connected peers, by id, with the counts its slot checks read
// on every accept and handshake: kept as peers come and go rather than
// counted by a scan, which a flood of connections would make quadratic.
import type { PeerId } from '../native/events.js';
import { hostOf } from './bans.js';
import type { Peer } from './peer.js';

export class PeerTable {
  private readonly byId = new Map<PeerId, Peer>();
  /** Peers per host (as `hostOf` reads their address). */
  private readonly perHost = new Map<string, number>();
  private handshaking = 0;
  private ready = 0;

  /** A connection came up (before any check that may close it again). */
  add(peer: Peer): void {
    this.byId.set(peer.id, peer);
    if (peer.inbound) this.handshaking++;
    const host = hostOf(peer.address);
    this.perHost.set(host, (this.perHost.get(host) ?? 0) + 1);
  }

  /** The connection ended: the peer it was, if it is in the table. */
  remove(id: PeerId): Peer | undefined {
    const peer = this.byId.get(id);
    if (!peer) return undefined;
    this.byId.delete(id);
    if (peer.inbound) {
      if (peer.state.handshakeComplete) this.ready--;
      else this.handshaking--;
    }
    const host = hostOf(peer.address);
    const left = (this.perHost.get(host) ?? 1) - 1;
    if (left > 0) this.perHost.set(host, left);
    else this.perHost.delete(host);
    return peer;
  }

  /**
   * An inbound peer in the table completed its handshake (its state says so
   * from now on): the inbound peers now ready, this one included.
   */
  inboundReady(): number {
    this.handshaking--;
    return ++this.ready;
  }

  get(id: PeerId): Peer | undefined {
    return this.byId.get(id);
  }

  values(): IterableIterator<Peer> {
    return this.byId.values();
  }

  /** Whether a peer in the table is on `host` (normalized as `hostOf` does). */
  hasHost(host: string): boolean {
    return this.perHost.has(host);
  }

  /** Inbound peers still mid-handshake, closing ones included until they go. */
  get inboundHandshaking(): number {
    return this.handshaking;
  }
}
