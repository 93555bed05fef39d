// The "terrible" rules and the selection chance, at their boundaries.
import { describe, expect, it } from 'vitest';
import {
  type AddressEntry,
  isTerrible,
  selectionChance,
  terribleReason,
} from '../../ts/addr/entry.js';
import { T0, v4, v4Host } from './helpers.js';

const DAY = 86_400;
const now = T0;

function entry(fields: Partial<AddressEntry>): AddressEntry {
  return {
    address: v4(1, 2, 3, 4),
    services: 1n,
    time: now,
    source: v4Host(5, 6, 7, 8),
    lastTry: 0,
    lastCountAttempt: 0,
    lastSuccess: 0,
    attempts: 0,
    ...fields,
  };
}

describe('terrible', () => {
  it('is not terrible when fresh and untried', () => {
    expect(terribleReason(entry({}), now)).toBeUndefined();
  });

  it('is terrible more than 10 minutes in the future', () => {
    expect(terribleReason(entry({ time: now + 600 }), now)).toBeUndefined();
    expect(terribleReason(entry({ time: now + 601 }), now)).toBe('future');
  });

  it('is terrible when not seen for more than 30 days', () => {
    expect(terribleReason(entry({ time: now - 30 * DAY }), now)).toBeUndefined();
    expect(terribleReason(entry({ time: now - 30 * DAY - 1 }), now)).toBe('stale');
  });

  it('is terrible after 3 failed attempts and no success ever', () => {
    const tried = { lastTry: now - 3600 };
    expect(terribleReason(entry({ ...tried, attempts: 2 }), now)).toBeUndefined();
    expect(terribleReason(entry({ ...tried, attempts: 3 }), now)).toBe('never-succeeded');
    expect(terribleReason(entry({ ...tried, attempts: 3, lastSuccess: now - DAY }), now)).toBe(
      undefined,
    );
  });

  it('is terrible after 10 failures with no success for more than a week', () => {
    const base = { lastTry: now - 3600, attempts: 10 };
    expect(terribleReason(entry({ ...base, lastSuccess: now - 7 * DAY }), now)).toBeUndefined();
    expect(terribleReason(entry({ ...base, lastSuccess: now - 7 * DAY - 1 }), now)).toBe('failing');
    expect(
      terribleReason(entry({ ...base, attempts: 9, lastSuccess: now - 8 * DAY }), now),
    ).toBeUndefined();
  });

  it('is never terrible within a minute of an attempt', () => {
    const bad = { time: now - 60 * DAY, attempts: 20 };
    expect(isTerrible(entry({ ...bad, lastTry: now - 60 }), now)).toBe(false);
    expect(isTerrible(entry({ ...bad, lastTry: now - 61 }), now)).toBe(true);
  });
});

describe('selection chance', () => {
  it('is 1 for an untried address and 1 % within 10 minutes of an attempt', () => {
    expect(selectionChance(entry({}), now)).toBe(1);
    expect(selectionChance(entry({ lastTry: now - 599 }), now)).toBeCloseTo(0.01, 12);
    expect(selectionChance(entry({ lastTry: now - 600 }), now)).toBe(1);
  });

  it('falls by 0.66 per failed attempt, counting at most 8', () => {
    expect(selectionChance(entry({ attempts: 1 }), now)).toBeCloseTo(0.66, 12);
    expect(selectionChance(entry({ attempts: 3 }), now)).toBeCloseTo(0.66 ** 3, 12);
    expect(selectionChance(entry({ attempts: 8 }), now)).toBeCloseTo(0.66 ** 8, 12);
    expect(selectionChance(entry({ attempts: 50 }), now)).toBeCloseTo(0.66 ** 8, 12);
  });
});
