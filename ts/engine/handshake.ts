// The version handshake, as Bitcoin Core runs it: the dialler speaks first;
// each side answers a version with its own (once), then BIP 339 `wtxidrelay`
// and BIP 155 `sendaddrv2` when both speak 70016 or later, then `verack`.
// Veracks may come in either order. A version is refused for a nonce of ours
// (we dialled ourselves), a protocol too old, missing services on a peer we
// chose, or a rejected user agent. It takes the handshake's messages as
// inputs and gives sends, refusals and "complete" as outputs, through its
// host (the Engine).
import { isIP } from 'node:net';
import type { EngineConfig } from '../config/schema.js';
import type { Message, VersionMessage } from '../wire/types.js';
import { hostOf } from './bans.js';
import type { Clock } from './clock.js';
import type { Peer } from './peer.js';

/** Why a peer's version was refused. */
export type VersionRefusal =
  | 'self-connection'
  | 'version-too-old'
  | 'missing-services'
  | 'user-agent-rejected';

/** The commands a handshake consumes. */
export type HandshakeCommand = 'version' | 'verack' | 'wtxidrelay' | 'sendaddrv2';
type HandshakeMessage = Message & { command: HandshakeCommand };

const HANDSHAKE_COMMANDS: ReadonlySet<string> = new Set<HandshakeCommand>([
  'version',
  'verack',
  'wtxidrelay',
  'sendaddrv2',
]);

/** Before the handshake completes only these count; Core ignores anything else. */
export function isHandshakeMessage(message: Message): message is HandshakeMessage {
  return HANDSHAKE_COMMANDS.has(message.command);
}

export interface HandshakeHost {
  readonly clock: Clock;
  readonly config: Pick<EngineConfig, 'network' | 'policy'>;
  /** Our best height, announced in our version. */
  startHeight(): number;
  randomNonce(): bigint;
  send(peer: Peer, message: Message): void;
  refuse(peer: Peer, reason: VersionRefusal): void;
  misbehaving(peer: Peer, score: number, reason: string): void;
  /** Versions and veracks went both ways: the peer is ready. */
  complete(peer: Peer): void;
}

export class Handshake {
  /** Nonces of our versions still in flight: one coming back is ourselves. */
  private readonly ourNonces = new Set<bigint>();

  constructor(private readonly host: HandshakeHost) {}

  /** We dialled: we speak first. */
  start(peer: Peer): void {
    this.sendVersion(peer);
  }

  /** One of the handshake's messages arrived. */
  onMessage(peer: Peer, message: HandshakeMessage): void {
    const st = peer.state;
    switch (message.command) {
      case 'version': {
        if (peer.version) {
          this.host.misbehaving(peer, 1, 'duplicate version');
          return;
        }
        const v = message.payload;
        const refusal = this.refusal(peer, v);
        if (refusal) {
          this.host.refuse(peer, refusal);
          return;
        }
        peer.version = v;
        this.sendVersion(peer);
        const common = Math.min(v.version, this.host.config.network.protocolVersion);
        if (common >= 70_016) {
          // BIP 339 and BIP 155 go between version and verack.
          this.host.send(peer, { command: 'wtxidrelay', payload: {} });
          this.host.send(peer, { command: 'sendaddrv2', payload: {} });
        }
        this.host.send(peer, { command: 'verack', payload: {} });
        st.verackSent = true;
        break;
      }
      case 'verack':
        // Some peers send verack before their version: accept either order.
        st.verackReceived = true;
        break;
      case 'wtxidrelay':
        peer.features.wtxidRelay = true;
        break;
      case 'sendaddrv2':
        peer.features.addrV2 = true;
        break;
      default: {
        const other: never = message;
        void other;
        return;
      }
    }
    this.maybeComplete(peer);
  }

  /** The peer is gone: its nonce no longer marks a self-connection. */
  forget(peer: Peer): void {
    if (peer.state.ourNonce !== undefined) this.ourNonces.delete(peer.state.ourNonce);
  }

  private sendVersion(peer: Peer): void {
    if (peer.state.versionSent) return;
    peer.state.versionSent = true;
    this.host.send(peer, { command: 'version', payload: this.versionMessage(peer) });
  }

  private versionMessage(peer: Peer): VersionMessage {
    const { network, policy } = this.host.config;
    const nonce = this.host.randomNonce();
    this.ourNonces.add(nonce);
    peer.state.ourNonce = nonce;
    const host = hostOf(peer.address);
    const port = Number(peer.address.slice(peer.address.lastIndexOf(':') + 1));
    return {
      version: network.protocolVersion,
      services: network.services,
      timestamp: BigInt(Math.floor(this.host.clock.now() / 1000)),
      // A name (an onion, or a host name resolved by a proxy) has no legacy
      // form: the unspecified address, as Core sends for it.
      receiver: {
        services: 0n,
        ip: isIP(host) ? host : '::',
        port: Number.isInteger(port) ? port : 0,
      },
      sender: { services: network.services, ip: '0.0.0.0', port: 0 },
      nonce,
      userAgent: network.userAgent,
      startHeight: this.host.startHeight(),
      relay: peer.state.relay ?? policy.relay,
    };
  }

  private refusal(peer: Peer, v: VersionMessage): VersionRefusal | undefined {
    const policy = this.host.config.policy;
    if (v.nonce !== 0n && this.ourNonces.has(v.nonce)) return 'self-connection';
    if (v.version < policy.minPeerVersion) return 'version-too-old';
    if (!peer.inbound && (v.services & policy.requiredServices) !== policy.requiredServices) {
      return 'missing-services';
    }
    if (policy.rejectUserAgent && new RegExp(policy.rejectUserAgent).test(v.userAgent)) {
      return 'user-agent-rejected';
    }
    return undefined;
  }

  private maybeComplete(peer: Peer): void {
    const st = peer.state;
    if (st.handshakeComplete || !peer.version || !st.verackReceived || !st.verackSent) return;
    st.handshakeComplete = true;
    // Self-connections show up during handshakes only: our nonce is done.
    this.forget(peer);
    this.host.complete(peer);
  }
}
