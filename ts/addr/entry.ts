// What the address manager knows about one address, and the two judgements made
// from it alone: whether it is "terrible" (not worth keeping or gossiping) and the
// chance `select()` gives it. Rules and constants are Bitcoin Core's (addrman.cpp).
import type { Host, PeerAddress } from './address.js';

/** All times here are Unix seconds; 0 means never. */
export interface AddressEntry {
  readonly address: PeerAddress;
  /** Services last heard of (ORed across announcements, as Core does). */
  services: bigint;
  /** When the address was last seen, as announced (less any time penalty). */
  time: number;
  /** Who first told us about it: the source whose group placed it in the new table. */
  readonly source: Host;
  /** Our last connection attempt. */
  lastTry: number;
  /** The last attempt that counted as a failure (one per `good()` anywhere). */
  lastCountAttempt: number;
  /** Our last successful connection (handshake done). */
  lastSuccess: number;
  /** Failed attempts since the last success. */
  attempts: number;
}

const MINUTE = 60;
const DAY = 24 * 60 * MINUTE;

export const ENTRY_RULES = {
  /** An address tried this recently is never terrible: it is being tested. */
  recentTrySeconds: MINUTE,
  /** A time further ahead than this came from a broken clock or a liar. */
  futureSeconds: 10 * MINUTE,
  /** ADDRMAN_HORIZON: not seen for longer than this, it is gone. */
  horizonSeconds: 30 * DAY,
  /** ADDRMAN_RETRIES: failures with no success ever. */
  retries: 3,
  /** ADDRMAN_MAX_FAILURES failures in a row ... */
  maxFailures: 10,
  /** ... with no success for ADDRMAN_MIN_FAIL. */
  minFailSeconds: 7 * DAY,
  /** Attempts this recent cut the chance of being selected to 1 %. */
  recentAttemptSeconds: 10 * MINUTE,
} as const;

export type TerribleReason =
  /** Its time is more than 10 minutes ahead of ours. */
  | 'future'
  /** Not seen for more than 30 days. */
  | 'stale'
  /** 3 or more failed attempts and never a success. */
  | 'never-succeeded'
  /** 10 or more failures in a row and no success for more than a week. */
  | 'failing';

/** Why the entry is terrible at `now`, or undefined when it is not. */
export function terribleReason(e: AddressEntry, now: number): TerribleReason | undefined {
  if (now - e.lastTry <= ENTRY_RULES.recentTrySeconds) return undefined;
  if (e.time > now + ENTRY_RULES.futureSeconds) return 'future';
  if (now - e.time > ENTRY_RULES.horizonSeconds) return 'stale';
  if (e.lastSuccess === 0 && e.attempts >= ENTRY_RULES.retries) return 'never-succeeded';
  if (now - e.lastSuccess > ENTRY_RULES.minFailSeconds && e.attempts >= ENTRY_RULES.maxFailures) {
    return 'failing';
  }
  return undefined;
}

export function isTerrible(e: AddressEntry, now: number): boolean {
  return terribleReason(e, now) !== undefined;
}

/**
 * The relative chance `select()` takes this entry when it lands on it: 1 %
 * after a very recent attempt, and 0.66 per failed attempt (at most 8 of them,
 * so an outage cannot make an address all but unreachable).
 */
export function selectionChance(e: AddressEntry, now: number): number {
  let chance = 1;
  if (now - e.lastTry < ENTRY_RULES.recentAttemptSeconds) chance *= 0.01;
  return chance * 0.66 ** Math.min(e.attempts, 8);
}
