// Addresses and managers for the address manager's tests.
import type { AdvertisedAddress, Host } from '../../ts/addr/address.js';
import { AddressManager } from '../../ts/addr/addrman.js';
import { ManualClock } from '../../ts/engine/clock.js';

/** ManualClock's default start, in Unix seconds. */
export const T0 = 1_700_000_000;

export function v4(a: number, b: number, c: number, d: number, port = 8333): AdvertisedAddress {
  return { network: 'ipv4', bytes: Uint8Array.of(a, b, c, d), port, time: T0, services: 1n };
}

export function v4Host(a: number, b: number, c: number, d: number): Host {
  return { network: 'ipv4', bytes: Uint8Array.of(a, b, c, d) };
}

/** The i-th address of a /16 (a.b), i < 65,536. */
export function inGroup(a: number, b: number, i: number, port = 8333): AdvertisedAddress {
  return v4(a, b, (i >> 8) & 0xff, i & 0xff, port);
}

export function manager(seed = 1): { clock: ManualClock; am: AddressManager } {
  const clock = new ManualClock({ seed });
  return { clock, am: new AddressManager({ clock }) };
}

/** Seconds, for ManualClock.advance (which takes ms). */
export const s = (seconds: number) => seconds * 1000;
