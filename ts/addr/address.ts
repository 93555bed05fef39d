// Peer addresses as the address manager keeps them: a network, that network's raw
// address bytes and a port. Converts to and from the entries of `addr` (IPv4/IPv6
// as 16 bytes) and `addrv2` (BIP 155: a network id and bytes of that network's
// length), and to and from text (dotted quad, [IPv6], base32 .onion / .b32.i2p).
import { hash } from 'node:crypto';
import { ipFromBytes, ipToBytes } from '../wire/ip.js';
import { ADDRV2_NETWORK, type AddrV2Entry, type TimedNetAddress } from '../wire/types.js';

/**
 * Where a host lives. `internal` is no network: it names a source that is not a
 * peer (a DNS seed, by the hash of its name), so it is only ever a source.
 */
export type HostNetwork = 'ipv4' | 'ipv6' | 'onion' | 'i2p' | 'cjdns' | 'internal';

/** The networks a peer can be dialled on. */
export type PeerNetwork = Exclude<HostNetwork, 'internal'>;

/** Bytes of an address on each network (Tor means v3: v2 is gone from the network). */
export const HOST_BYTES: Readonly<Record<HostNetwork, number>> = {
  ipv4: 4,
  ipv6: 16,
  onion: 32,
  i2p: 32,
  cjdns: 16,
  internal: 10,
};

/** A host without a port: what netgroups and sources are made of. */
export interface Host {
  network: HostNetwork;
  bytes: Uint8Array;
}

/** A host and a port: what a connection is made to, and the address manager's key. */
export interface PeerAddress extends Host {
  port: number;
}

/** An address as gossiped: when it was last seen (Unix seconds) and its services. */
export interface AdvertisedAddress extends PeerAddress {
  time: number;
  services: bigint;
}

export type AddressErrorCode =
  /** Text that is no IP address, .onion or .b32.i2p name. */
  | 'invalid-text'
  /** An addrv2 network id that BIP 155 does not define (kept by the codec, not by us). */
  | 'unknown-network'
  /** Address bytes of the wrong length for their network. */
  | 'bad-length'
  /** A network peers no longer use (Tor v2), or one addr cannot carry. */
  | 'unsupported'
  /** Bytes that can never be a peer (an IPv4 address dressed as IPv6 in addrv2, ...). */
  | 'invalid'
  /** A port outside 0..65535 or a time or services value out of range. */
  | 'out-of-range';

export class AddressError extends Error {
  override readonly name = 'AddressError';
  constructor(
    readonly code: AddressErrorCode,
    detail: string,
  ) {
    super(detail);
  }
}

const V4_MAPPED = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];
/** fd87:d87e:eb43::/48, how Tor v2 used to travel inside IPv6. */
const TORV2_IN_IPV6 = [0xfd, 0x87, 0xd8, 0x7e, 0xeb, 0x43];
/** fd6b:88c0:8724::/48, Core's prefix for internal names inside IPv6. */
const INTERNAL_IN_IPV6 = [0xfd, 0x6b, 0x88, 0xc0, 0x87, 0x24];

function hasPrefix(bytes: Uint8Array, prefix: readonly number[]): boolean {
  return prefix.every((v, i) => bytes[i] === v);
}

/** A host from the 16 bytes of a legacy (addr, version) address. */
export function hostFromLegacyBytes(bytes16: Uint8Array): Host {
  if (bytes16.length !== 16) {
    throw new AddressError('bad-length', `a legacy address has 16 bytes, not ${bytes16.length}`);
  }
  if (hasPrefix(bytes16, V4_MAPPED)) return { network: 'ipv4', bytes: bytes16.slice(12) };
  // Tor v2 and internal names inside IPv6 stay IPv6: they sit in fc00::/7, which is
  // not routable, so the address manager refuses them as it refuses any private range.
  return { network: 'ipv6', bytes: bytes16.slice() };
}

/** A host from IP text (IPv4, IPv6, or IPv4-mapped IPv6, which becomes IPv4). */
export function hostFromIp(ip: string): Host {
  let bytes: Uint8Array;
  try {
    bytes = ipToBytes(ip);
  } catch {
    throw new AddressError('invalid-text', `not an IP address: "${ip}"`);
  }
  return hostFromLegacyBytes(bytes);
}

function checkPort(port: number): number {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
    throw new AddressError('out-of-range', `port ${port} is not in 0..65535`);
  }
  return port;
}

/** A peer address from IP text and a port. */
export function peerAddress(ip: string, port: number): PeerAddress {
  return { ...hostFromIp(ip), port: checkPort(port) };
}

/** An `addr` entry as an address manager address. */
export function fromAddrEntry(entry: TimedNetAddress): AdvertisedAddress {
  return {
    ...hostFromIp(entry.ip),
    port: checkPort(entry.port),
    time: entry.time,
    services: entry.services,
  };
}

const NETWORK_OF_ID = new Map<number, PeerNetwork>([
  [ADDRV2_NETWORK.ipv4, 'ipv4'],
  [ADDRV2_NETWORK.ipv6, 'ipv6'],
  [ADDRV2_NETWORK.torv3, 'onion'],
  [ADDRV2_NETWORK.i2p, 'i2p'],
  [ADDRV2_NETWORK.cjdns, 'cjdns'],
]);

const ID_OF_NETWORK: Readonly<Record<PeerNetwork, number>> = {
  ipv4: ADDRV2_NETWORK.ipv4,
  ipv6: ADDRV2_NETWORK.ipv6,
  onion: ADDRV2_NETWORK.torv3,
  i2p: ADDRV2_NETWORK.i2p,
  cjdns: ADDRV2_NETWORK.cjdns,
};

/**
 * An `addrv2` entry as an address manager address. As Bitcoin Core: an IPv6 entry
 * that carries IPv4, Tor v2 or an internal name is invalid (addrv2 has ids for
 * those), and Tor v2 itself is no longer supported.
 */
export function fromAddrV2Entry(entry: AddrV2Entry): AdvertisedAddress {
  if (entry.networkId === ADDRV2_NETWORK.torv2) {
    throw new AddressError('unsupported', 'Tor v2 addresses are no longer supported');
  }
  const network = NETWORK_OF_ID.get(entry.networkId);
  if (!network) {
    throw new AddressError('unknown-network', `BIP 155 network id ${entry.networkId} is unknown`);
  }
  if (entry.address.length !== HOST_BYTES[network]) {
    throw new AddressError(
      'bad-length',
      `a ${network} address has ${HOST_BYTES[network]} bytes, not ${entry.address.length}`,
    );
  }
  if (
    network === 'ipv6' &&
    (hasPrefix(entry.address, V4_MAPPED) ||
      hasPrefix(entry.address, TORV2_IN_IPV6) ||
      hasPrefix(entry.address, INTERNAL_IN_IPV6))
  ) {
    throw new AddressError('invalid', 'an addrv2 IPv6 address embeds another network');
  }
  return {
    network,
    bytes: entry.address.slice(),
    port: checkPort(entry.port),
    time: entry.time,
    services: entry.services,
  };
}

/** The `addr` (pre-BIP 155) form, or undefined for a network addr cannot carry. */
export function toAddrEntry(a: AdvertisedAddress): TimedNetAddress | undefined {
  let bytes16: Uint8Array;
  if (a.network === 'ipv4') {
    bytes16 = new Uint8Array(16);
    bytes16.set(V4_MAPPED);
    bytes16.set(a.bytes, 12);
  } else if (a.network === 'ipv6') {
    bytes16 = a.bytes;
  } else {
    return undefined;
  }
  return { time: a.time, services: a.services, ip: ipFromBytes(bytes16), port: a.port };
}

/** The `addrv2` form, or undefined for an internal name (never gossiped). */
export function toAddrV2Entry(a: AdvertisedAddress): AddrV2Entry | undefined {
  if (a.network === 'internal') return undefined;
  return {
    time: a.time,
    services: a.services,
    networkId: ID_OF_NETWORK[a.network],
    address: a.bytes.slice(),
    port: a.port,
  };
}

/** The internal host standing for a name (a DNS seed), as Core makes one. */
export function internalHost(name: string): Host {
  if (name.length === 0) throw new AddressError('invalid-text', 'an internal name is empty');
  return { network: 'internal', bytes: hash('sha256', name, 'buffer').subarray(0, 10) };
}

/** Bytes that identify a host: its network's tag, then its bytes. */
export function hostKeyBytes(h: Host): Buffer {
  const out = Buffer.allocUnsafe(1 + h.bytes.length);
  out[0] = NETWORK_TAG[h.network];
  out.set(h.bytes, 1);
  return out;
}

/** Bytes that identify a peer address: its host's, then the port (big-endian). */
export function addressKeyBytes(a: PeerAddress): Buffer {
  const out = Buffer.allocUnsafe(3 + a.bytes.length);
  out[0] = NETWORK_TAG[a.network];
  out.set(a.bytes, 1);
  out.writeUInt16BE(a.port, 1 + a.bytes.length);
  return out;
}

/** A string that identifies a peer address, for maps. */
export function addressKey(a: PeerAddress): string {
  return addressKeyBytes(a).toString('hex');
}

/** Stable one-byte tags of the networks, for keys and the file format. */
export const NETWORK_TAG: Readonly<Record<HostNetwork, number>> = {
  ipv4: 1,
  ipv6: 2,
  onion: 4,
  i2p: 5,
  cjdns: 6,
  internal: 0x80,
};

const NETWORK_OF_TAG = new Map<number, HostNetwork>(
  (Object.entries(NETWORK_TAG) as [HostNetwork, number][]).map(([n, t]) => [t, n]),
);

/** The network of a tag from NETWORK_TAG, or undefined. */
export function networkOfTag(tag: number): HostNetwork | undefined {
  return NETWORK_OF_TAG.get(tag);
}

/** Whether `a` and `b` are the same host (ports aside). */
export function sameHost(a: Host, b: Host): boolean {
  return (
    a.network === b.network &&
    a.bytes.length === b.bytes.length &&
    a.bytes.every((v, i) => v === b.bytes[i])
  );
}

// RFC 4648 base32, lower case, no padding: how .onion and .b32.i2p names are spelt.
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(acc >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31];
  return out;
}

function base32Decode(text: string): Uint8Array | undefined {
  const out: number[] = [];
  let acc = 0;
  let bits = 0;
  for (const c of text) {
    const v = BASE32.indexOf(c);
    if (v < 0) return undefined;
    acc = ((acc << 5) | v) & 0xffff;
    bits += 5;
    if (bits >= 8) {
      out.push((acc >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Uint8Array.from(out);
}

/** Tor v3: the two checksum bytes of a public key (rend-spec-v3, "onion address"). */
function onionChecksum(pubkey: Uint8Array): Buffer {
  const input = Buffer.concat([Buffer.from('.onion checksum'), pubkey, Buffer.of(3)]);
  return hash('sha3-256', input, 'buffer').subarray(0, 2);
}

/** A host as text: 1.2.3.4, 2001:db8::1, <56 chars>.onion, <52 chars>.b32.i2p. */
export function formatHost(h: Host): string {
  switch (h.network) {
    case 'ipv4':
      return h.bytes.join('.');
    case 'ipv6':
    case 'cjdns':
      return ipFromBytes(h.bytes);
    case 'onion':
      return `${base32Encode(Buffer.concat([h.bytes, onionChecksum(h.bytes), Buffer.of(3)]))}.onion`;
    case 'i2p':
      return `${base32Encode(h.bytes)}.b32.i2p`;
    case 'internal':
      return `${base32Encode(h.bytes)}.internal`;
  }
}

/** A peer address as text: host:port, with IPv6 and CJDNS in brackets. */
export function formatAddress(a: PeerAddress): string {
  const host = formatHost(a);
  return a.network === 'ipv6' || a.network === 'cjdns'
    ? `[${host}]:${a.port}`
    : `${host}:${a.port}`;
}

/**
 * A host from text: IP, Tor v3 .onion (checksum and version verified) or
 * .b32.i2p. An IPv6 address in fc00::/8 stays IPv6 unless `cjdns` is set: the
 * text alone cannot tell the two apart.
 */
export function parseHost(text: string, options: { cjdns?: boolean } = {}): Host {
  const lower = text.toLowerCase();
  if (lower.endsWith('.onion')) {
    const raw = base32Decode(lower.slice(0, -'.onion'.length));
    if (raw?.length !== 35) {
      throw new AddressError('invalid-text', `not a Tor v3 address: "${text}"`);
    }
    const pubkey = raw.subarray(0, 32);
    const checksum = onionChecksum(pubkey);
    if (raw[32] !== checksum[0] || raw[33] !== checksum[1] || raw[34] !== 3) {
      throw new AddressError('invalid-text', `bad Tor v3 checksum or version: "${text}"`);
    }
    return { network: 'onion', bytes: pubkey.slice() };
  }
  if (lower.endsWith('.b32.i2p')) {
    const raw = base32Decode(lower.slice(0, -'.b32.i2p'.length));
    if (raw?.length !== 32 || lower.length !== 52 + '.b32.i2p'.length) {
      throw new AddressError('invalid-text', `not an I2P address: "${text}"`);
    }
    return { network: 'i2p', bytes: raw };
  }
  const host = hostFromIp(text);
  if (options.cjdns && host.network === 'ipv6' && host.bytes[0] === 0xfc) {
    return { network: 'cjdns', bytes: host.bytes };
  }
  return host;
}
