// Which hosts may be gossiped and dialled (routability), and which "netgroup" a
// host belongs to: the unit the address manager spreads its buckets over and
// outbound selection keeps distinct, so one operator's range cannot crowd out the
// rest. The rules are Bitcoin Core's (netaddress.cpp, netgroup.cpp, without asmap).
import type { Host } from './address.js';

/** Core's network classes; a group's first byte, so groups of different classes differ. */
export const NET_CLASS = {
  unroutable: 0,
  ipv4: 1,
  ipv6: 2,
  onion: 3,
  i2p: 4,
  cjdns: 5,
  internal: 6,
} as const;

export type NetClass = keyof typeof NET_CLASS;

const isV6 = (h: Host) => h.network === 'ipv6';
const isV4 = (h: Host) => h.network === 'ipv4';
const b = (h: Host, i: number) => h.bytes[i] as number;

function startsWith(h: Host, prefix: readonly number[]): boolean {
  return prefix.every((v, i) => h.bytes[i] === v);
}

const RFC6052 = [0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0];
const RFC6145 = [0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0];
const RFC4862 = [0xfe, 0x80, 0, 0, 0, 0, 0, 0];

// Special ranges, named by their RFC as Core names them.
const rfc1918 = (h: Host) =>
  isV4(h) &&
  (b(h, 0) === 10 ||
    (b(h, 0) === 192 && b(h, 1) === 168) ||
    (b(h, 0) === 172 && b(h, 1) >= 16 && b(h, 1) <= 31));
const rfc2544 = (h: Host) => isV4(h) && b(h, 0) === 198 && (b(h, 1) === 18 || b(h, 1) === 19);
const rfc3927 = (h: Host) => isV4(h) && b(h, 0) === 169 && b(h, 1) === 254;
const rfc6598 = (h: Host) => isV4(h) && b(h, 0) === 100 && b(h, 1) >= 64 && b(h, 1) <= 127;
const rfc5737 = (h: Host) =>
  isV4(h) &&
  ((b(h, 0) === 192 && b(h, 1) === 0 && b(h, 2) === 2) ||
    (b(h, 0) === 198 && b(h, 1) === 51 && b(h, 2) === 100) ||
    (b(h, 0) === 203 && b(h, 1) === 0 && b(h, 2) === 113));
/** 240.0.0.0/4, reserved for future use. */
const reserved = (h: Host) => isV4(h) && b(h, 0) >= 240;
const rfc3849 = (h: Host) => isV6(h) && startsWith(h, [0x20, 0x01, 0x0d, 0xb8]);
const rfc3964 = (h: Host) => isV6(h) && startsWith(h, [0x20, 0x02]);
const rfc6052 = (h: Host) => isV6(h) && startsWith(h, RFC6052);
const rfc4380 = (h: Host) => isV6(h) && startsWith(h, [0x20, 0x01, 0, 0]);
const rfc4862 = (h: Host) => isV6(h) && startsWith(h, RFC4862);
const rfc4193 = (h: Host) => isV6(h) && (b(h, 0) & 0xfe) === 0xfc;
const rfc6145 = (h: Host) => isV6(h) && startsWith(h, RFC6145);
const rfc4843 = (h: Host) =>
  isV6(h) && startsWith(h, [0x20, 0x01, 0x00]) && (b(h, 3) & 0xf0) === 0x10;
const rfc7343 = (h: Host) =>
  isV6(h) && startsWith(h, [0x20, 0x01, 0x00]) && (b(h, 3) & 0xf0) === 0x20;
const heNet = (h: Host) => isV6(h) && startsWith(h, [0x20, 0x01, 0x04, 0x70]);

/** Loopback and "this network": 127.0.0.0/8, 0.0.0.0/8, ::1. */
export function isLocal(h: Host): boolean {
  if (isV4(h)) return b(h, 0) === 127 || b(h, 0) === 0;
  return isV6(h) && h.bytes.every((v, i) => v === (i === 15 ? 1 : 0));
}

/** Not obviously bogus: not unspecified, broadcast, documentation or internal. */
export function isValid(h: Host): boolean {
  if (h.network === 'internal') return false;
  if (isV6(h) && h.bytes.every((v) => v === 0)) return false;
  if (h.network === 'cjdns' && b(h, 0) !== 0xfc) return false;
  if (rfc3849(h)) return false;
  if (isV4(h)) {
    if (h.bytes.every((v) => v === 0) || h.bytes.every((v) => v === 0xff)) return false;
  }
  return true;
}

/** Reachable from the public internet (or its overlay): the only hosts worth keeping. */
export function isRoutable(h: Host): boolean {
  return (
    isValid(h) &&
    !(
      reserved(h) ||
      rfc1918(h) ||
      rfc2544(h) ||
      rfc3927(h) ||
      rfc4862(h) ||
      rfc6598(h) ||
      rfc5737(h) ||
      rfc4193(h) ||
      rfc4843(h) ||
      rfc7343(h) ||
      isLocal(h)
    )
  );
}

/**
 * Loopback and private hosts (127/8, ::1, RFC 1918, RFC 4193): what an address
 * manager admits only when told to (`allowLocal`), for regtest and test networks
 * that live on one machine or one LAN. They stay unroutable by Core's rules.
 */
export function isLocalOrPrivate(h: Host): boolean {
  return isValid(h) && (isLocal(h) || rfc1918(h) || rfc4193(h));
}

/**
 * The IPv4 address a routable host stands for: itself, or the one embedded in a
 * NAT64 (RFC 6052), SIIT (RFC 6145), 6to4 (RFC 3964) or Teredo (RFC 4380) address.
 * Those share their IPv4 address's group, so tunnels cannot multiply one /16.
 */
export function linkedIPv4(h: Host): Uint8Array | undefined {
  if (!isRoutable(h)) return undefined;
  if (isV4(h)) return h.bytes;
  if (rfc6052(h) || rfc6145(h)) return h.bytes.subarray(12, 16);
  if (rfc3964(h)) return h.bytes.subarray(2, 6);
  if (rfc4380(h)) return h.bytes.subarray(12, 16).map((v) => v ^ 0xff);
  return undefined;
}

/** The class a host is counted under (Core's GetNetClass). */
export function netClass(h: Host): NetClass {
  if (h.network === 'internal') return 'internal';
  if (!isRoutable(h)) return 'unroutable';
  if (linkedIPv4(h)) return 'ipv4';
  return h.network;
}

/**
 * The netgroup: the class, then the group's prefix bits (the bits below the
 * prefix in its last byte set to 1, as Core does). IPv4 and linked IPv4 by /16,
 * IPv6 by /32 (he.net's tunnel range by /36), Tor and I2P by their first 4 bits,
 * CJDNS by the 4 bits after its fixed 0xfc byte, internal names each their own,
 * and every local or unroutable host in one group. With `allowLocal`, each
 * loopback or private host is a group of its own: a test network on one machine
 * is one /16, and one group would allow it a single outbound connection.
 */
export function netGroup(h: Host, allowLocal = false): Uint8Array {
  const cls = netClass(h);
  const head = NET_CLASS[cls];
  if (cls === 'unroutable') {
    if (allowLocal && isLocalOrPrivate(h)) {
      return Uint8Array.of(head, h.network === 'ipv4' ? 4 : 6, ...h.bytes);
    }
    return Uint8Array.of(head);
  }
  if (cls === 'internal') return Uint8Array.of(head, ...h.bytes);
  const v4 = linkedIPv4(h);
  if (v4) return Uint8Array.of(head, v4[0] as number, v4[1] as number);
  let bits: number;
  if (h.network === 'onion' || h.network === 'i2p') bits = 4;
  else if (h.network === 'cjdns') bits = 12;
  else if (heNet(h)) bits = 36;
  else bits = 32;
  const whole = bits >> 3;
  const out = [head, ...h.bytes.subarray(0, whole)];
  const rest = bits & 7;
  if (rest > 0) out.push(b(h, whole) | ((1 << (8 - rest)) - 1));
  return Uint8Array.from(out);
}

/** The netgroup as a string, for maps and sets (outbound keeps one peer per group). */
export function netGroupKey(h: Host, allowLocal = false): string {
  return Buffer.from(netGroup(h, allowLocal)).toString('hex');
}
