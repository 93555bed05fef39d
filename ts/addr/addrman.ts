// The address manager: Bitcoin Core's two tables (addrman.cpp), in TypeScript with
// the clock and the randomness injected.
//
// - "new" (1,024 buckets × 64) holds addresses we heard of. Its bucket depends on the
//   address's group and the group of the peer that told us, so one source group can
//   reach only 64 buckets however many addresses it sends; an address can sit in up
//   to 8 new buckets (heard of from several sources).
// - "tried" (256 buckets × 64) holds addresses we connected to. Its bucket depends on
//   the address and its group, so one group reaches only 8 tried buckets.
// - Moving into an occupied tried slot does not evict at once: the collision is kept
//   until the occupant has been tested (selectTriedCollision / resolveCollisions).
//
// Every position is recomputable from the secret key, which is what
// checkConsistency() verifies, index by index.
import type { Clock } from '../engine/clock.js';
import {
  AddressError,
  type AdvertisedAddress,
  addressKey,
  addressKeyBytes,
  HOST_BYTES,
  type Host,
  type PeerAddress,
  type PeerNetwork,
  sameHost,
} from './address.js';
import { type AddressEntry, isTerrible, selectionChance } from './entry.js';
import { isLocalOrPrivate, isRoutable, type NetClass, netClass, netGroup } from './netgroup.js';
import { BucketOccupancy } from './occupancy.js';
import { Placement, TABLES } from './placement.js';

const HOUR = 3600;

export const ADDRMAN_RULES = {
  /** ADDRMAN_REPLACEMENT: a tried entry that succeeded this recently is kept. */
  replacementSeconds: 4 * HOUR,
  /** ADDRMAN_TEST_WINDOW: a collision not resolved by testing within this evicts. */
  testWindowSeconds: 40 * 60,
  /** An occupant tried this recently gets this long to finish connecting. */
  testGraceSeconds: 60,
  /** ADDRMAN_SET_TRIED_COLLISION_SIZE. */
  maxCollisions: 10,
  /** `connected()` refreshes an address's time when it is older than this. */
  connectedUpdateSeconds: 20 * 60,
} as const;

/** What the manager knows about an address, as a copy. */
export interface AddressInfo extends AddressEntry {
  inTried: boolean;
}

/** Where an address sits: its table, bucket and position (one of them, for new). */
export interface AddressPosition {
  tried: boolean;
  /** Tried: 1. New: the number of new buckets holding it. */
  multiplicity: number;
  bucket: number;
  position: number;
}

export interface AddressManagerOptions {
  /** Time (`now()`, Unix ms) and randomness (`random()`); a ManualClock in tests. */
  clock: Pick<Clock, 'now' | 'random'>;
  /** The 32-byte bucketing secret; drawn from `clock.random()` when absent. */
  key?: Uint8Array;
  /**
   * Also admit loopback and private addresses (127/8, ::1, 10/8, 172.16/12,
   * 192.168/16, fc00::/7), each its own netgroup. Off by default, as in Core: for
   * regtest and test networks on one machine or LAN, never for a public network.
   */
  allowLocal?: boolean;
}

/** The state a manager is saved as and restored from (see serialize.ts). */
export interface AddressManagerState {
  key: Uint8Array;
  /** When `good()` last ran (Unix seconds): failures count once per success anywhere. */
  lastGood: number;
  /** New entries with the new buckets they sit in. */
  newEntries: { entry: AddressEntry; buckets: number[] }[];
  triedEntries: AddressEntry[];
}

/** A broken internal index: a bug, never bad input. `code` names the check. */
export class AddrManConsistencyError extends Error {
  override readonly name = 'AddrManConsistencyError';
  constructor(
    readonly code: string,
    detail: string,
  ) {
    super(`address manager inconsistent (${code}): ${detail}`);
  }
}

/** One address and the indexes that find it. */
interface KnownAddress extends AddressEntry {
  readonly id: number;
  readonly key: string;
  readonly keyBytes: Buffer;
  readonly group: Uint8Array;
  readonly sourceGroup: Uint8Array;
  inTried: boolean;
  /** The new buckets holding it (its reference count is their number). */
  newBuckets: number[];
  /** Its index in `random`. */
  randomPos: number;
}

const EMPTY = -1;
const MAX_SERVICES = 2n ** 64n - 1n;
const KEY_BYTES = 32;

export class AddressManager {
  /** Whether loopback and private addresses are admitted (see AddressManagerOptions). */
  readonly allowLocal: boolean;
  private readonly clock: Pick<Clock, 'now' | 'random'>;
  private readonly key: Uint8Array;
  private readonly placement: Placement;
  private readonly newTable = new Int32Array(TABLES.newBuckets * TABLES.bucketSize).fill(EMPTY);
  private readonly triedTable = new Int32Array(TABLES.triedBuckets * TABLES.bucketSize).fill(EMPTY);
  private readonly newOccupancy = new BucketOccupancy(TABLES.newBuckets);
  private readonly triedOccupancy = new BucketOccupancy(TABLES.triedBuckets);
  /** The same per network: a select limited to some networks draws among their buckets. */
  private readonly newOccupancyOf = new Map<PeerNetwork, BucketOccupancy>();
  private readonly triedOccupancyOf = new Map<PeerNetwork, BucketOccupancy>();
  private readonly records = new Map<number, KnownAddress>();
  private readonly idOfKey = new Map<string, number>();
  /** Every id once, in an order getAddr() shuffles as it goes. */
  private readonly random: number[] = [];
  private readonly counts = new Map<PeerNetwork, { new: number; tried: number }>();
  /** Ids whose move to tried waits for the occupant to be tested. */
  private readonly collisions = new Set<number>();
  private nextId = 0;
  private nNew = 0;
  private nTried = 0;
  /** Core starts it at 1 s so a first failure counts. */
  private lastGood = 1;

  constructor(options: AddressManagerOptions) {
    this.clock = options.clock;
    this.allowLocal = options.allowLocal ?? false;
    if (options.key) {
      if (options.key.length !== KEY_BYTES || options.key.every((v) => v === 0)) {
        throw new AddressError('bad-length', 'the bucketing key must be 32 bytes, not all zero');
      }
      this.key = options.key.slice();
    } else {
      this.key = new Uint8Array(KEY_BYTES);
      do {
        for (let i = 0; i < KEY_BYTES; i++) this.key[i] = this.randomInt(256);
      } while (this.key.every((v) => v === 0));
    }
    this.placement = new Placement(this.key);
  }

  /** Addresses in the new table. */
  get newCount(): number {
    return this.nNew;
  }

  /** Addresses in the tried table. */
  get triedCount(): number {
    return this.nTried;
  }

  /** Addresses known, optionally of one network and one table. */
  size(network?: PeerNetwork, inNew?: boolean): number {
    if (network === undefined) {
      if (inNew === undefined) return this.random.length;
      return inNew ? this.nNew : this.nTried;
    }
    const c = this.counts.get(network);
    if (!c) return 0;
    if (inNew === undefined) return c.new + c.tried;
    return inNew ? c.new : c.tried;
  }

  /** Whether `host` may be kept: routable, or local/private when `allowLocal` is on. */
  accepts(host: Host): boolean {
    return isRoutable(host) || (this.allowLocal && isLocalOrPrivate(host));
  }

  /** Tried moves waiting for a test of the entry they would evict. */
  get pendingCollisions(): number {
    return this.collisions.size;
  }

  /**
   * Adds addresses heard of from `source` (the peer's host, or an internal host for
   * a DNS seed), their times set back by `timePenaltySeconds` (not for a source
   * announcing itself). Unroutable and malformed addresses are skipped. Returns how
   * many took a place in a new bucket (a known address may take another one).
   */
  add(addresses: readonly AdvertisedAddress[], source: Host, timePenaltySeconds = 0): number {
    if (source.bytes.length !== HOST_BYTES[source.network]) {
      throw new AddressError(
        'bad-length',
        `a ${source.network} source needs ${HOST_BYTES[source.network]} bytes`,
      );
    }
    if (!Number.isFinite(timePenaltySeconds) || timePenaltySeconds < 0) {
      throw new RangeError(`time penalty ${timePenaltySeconds} is not a non-negative number`);
    }
    const sourceGroup = netGroup(source, this.allowLocal);
    let added = 0;
    for (const a of addresses) {
      if (!wellFormed(a) || !this.accepts(a)) continue;
      const penalty = sameHost(a, source) ? 0 : Math.floor(timePenaltySeconds);
      if (this.addOne(a, source, sourceGroup, penalty)) added++;
    }
    return added;
  }

  /**
   * A connection to `address` succeeded (handshake done): it moves to tried, unless
   * its tried slot is taken, in which case it waits as a collision until the
   * occupant is tested. Returns whether it moved.
   */
  good(address: PeerAddress): boolean {
    return this.makeGood(address, true, this.now());
  }

  /** A connection to `address` is being tried; `countFailure` counts it as failed. */
  attempt(address: PeerAddress, countFailure = true): void {
    const r = this.find(address);
    if (!r) return;
    const now = this.now();
    r.lastTry = now;
    if (countFailure && r.lastCountAttempt < this.lastGood) {
      r.lastCountAttempt = now;
      r.attempts++;
    }
  }

  /** A connection to `address` ended; its time is refreshed (at most every 20 min). */
  connected(address: PeerAddress): void {
    const r = this.find(address);
    if (!r) return;
    const now = this.now();
    if (now - r.time > ADDRMAN_RULES.connectedUpdateSeconds) r.time = now;
  }

  /** The services `address` told us it has, replacing what gossip said. */
  setServices(address: PeerAddress, services: bigint): void {
    if (services < 0n || services > MAX_SERVICES) {
      throw new RangeError(`services ${services} do not fit in 64 bits`);
    }
    const r = this.find(address);
    if (r) r.services = services;
  }

  /** What is known of `address`, or undefined. */
  info(address: PeerAddress): AddressInfo | undefined {
    const r = this.find(address);
    return r && infoOf(r);
  }

  /** Where `address` sits, or undefined when it is not known. */
  position(address: PeerAddress): AddressPosition | undefined {
    const r = this.find(address);
    if (!r) return undefined;
    if (r.inTried) {
      const bucket = this.placement.triedBucket(r.keyBytes, r.group);
      return {
        tried: true,
        multiplicity: 1,
        bucket,
        position: this.placement.position(false, bucket, r.keyBytes),
      };
    }
    const bucket = r.newBuckets[0] as number;
    return {
      tried: false,
      multiplicity: r.newBuckets.length,
      bucket,
      position: this.placement.position(true, bucket, r.keyBytes),
    };
  }

  /** Every occupied slot of one table, bucket by bucket. */
  entries(tried: boolean): (AddressPosition & { info: AddressInfo })[] {
    const table = tried ? this.triedTable : this.newTable;
    const out: (AddressPosition & { info: AddressInfo })[] = [];
    for (let i = 0; i < table.length; i++) {
      const id = table[i] as number;
      if (id === EMPTY) continue;
      const r = this.records.get(id) as KnownAddress;
      out.push({
        tried,
        multiplicity: tried ? 1 : r.newBuckets.length,
        bucket: Math.floor(i / TABLES.bucketSize),
        position: i % TABLES.bucketSize,
        info: infoOf(r),
      });
    }
    return out;
  }

  /**
   * An address to connect to, or undefined when there is none. Tried or new at even
   * odds when both have some (`newOnly`: new only); then random slots, each taken
   * with its selectionChance(), the odds growing by 1.2 per miss. `networks` limits
   * the choice to those networks.
   */
  select(newOnly = false, networks?: readonly PeerNetwork[]): AddressInfo | undefined {
    if (this.random.length === 0) return undefined;
    let newCount = this.nNew;
    let triedCount = this.nTried;
    const only = networks && networks.length > 0 ? new Set(networks) : undefined;
    if (only) {
      newCount = 0;
      triedCount = 0;
      for (const n of only) {
        newCount += this.counts.get(n)?.new ?? 0;
        triedCount += this.counts.get(n)?.tried ?? 0;
      }
    }
    if (newOnly && newCount === 0) return undefined;
    if (newCount + triedCount === 0) return undefined;
    let tried: boolean;
    if (newOnly || triedCount === 0) tried = false;
    else if (newCount === 0) tried = true;
    else tried = this.clock.random() < 0.5;

    const table = tried ? this.triedTable : this.newTable;
    // Limited to some networks, buckets are drawn among those holding one of
    // theirs. Drawing among all occupied buckets and skipping the rest, as
    // Core does (on a thread of its own), took thousands of scans per pick on
    // the event loop once peers had filled the table with addresses of
    // networks we cannot reach.
    const occupancies = only
      ? [...only].flatMap((n) => (tried ? this.triedOccupancyOf : this.newOccupancyOf).get(n) ?? [])
      : [tried ? this.triedOccupancy : this.newOccupancy];
    let buckets = 0;
    for (const o of occupancies) buckets += o.occupied;
    const now = this.now();
    let chanceFactor = 1;
    for (;;) {
      // A uniformly drawn occupied bucket: what Core's draw-until-not-empty
      // gives (limited to some networks, a bucket holding two of them counts twice).
      let draw = this.randomInt(buckets);
      let bucket = -1;
      for (const o of occupancies) {
        if (draw < o.occupied) {
          bucket = o.at(draw);
          break;
        }
        draw -= o.occupied;
      }
      const start = this.randomInt(TABLES.bucketSize);
      let found: KnownAddress | undefined;
      for (let i = 0; i < TABLES.bucketSize; i++) {
        const id = table[bucket * TABLES.bucketSize + ((start + i) % TABLES.bucketSize)] as number;
        if (id === EMPTY) continue;
        const r = this.records.get(id) as KnownAddress;
        if (only && !only.has(r.address.network as PeerNetwork)) continue;
        found = r;
        break;
      }
      if (!found) continue;
      if (this.randomInt(2 ** 30) < chanceFactor * selectionChance(found, now) * 2 ** 30) {
        return infoOf(found);
      }
      chanceFactor *= 1.2;
    }
  }

  /**
   * Random known addresses for a `getaddr` answer: at most `maxPct` % of all
   * (0: no percentage cap) and at most `maxAddresses` (0: no cap), of one network
   * class if given, terrible ones left out unless `filtered` is false.
   */
  getAddr(
    maxAddresses: number,
    maxPct: number,
    network?: NetClass,
    filtered = true,
  ): AdvertisedAddress[] {
    if (!Number.isInteger(maxAddresses) || maxAddresses < 0) {
      throw new RangeError(`maxAddresses ${maxAddresses} is not a non-negative integer`);
    }
    if (!Number.isInteger(maxPct) || maxPct < 0) {
      throw new RangeError(`maxPct ${maxPct} is not a non-negative integer`);
    }
    let wanted = this.random.length;
    if (maxPct !== 0) wanted = Math.floor((Math.min(maxPct, 100) * wanted) / 100);
    if (maxAddresses !== 0) wanted = Math.min(wanted, maxAddresses);
    const now = this.now();
    const out: AdvertisedAddress[] = [];
    for (let n = 0; n < this.random.length && out.length < wanted; n++) {
      this.swapRandom(n, n + this.randomInt(this.random.length - n));
      const r = this.records.get(this.random[n] as number) as KnownAddress;
      if (network !== undefined && netClass(r.address) !== network) continue;
      if (filtered && isTerrible(r, now)) continue;
      out.push({
        ...r.address,
        bytes: r.address.bytes.slice(),
        time: r.time,
        services: r.services,
      });
    }
    return out;
  }

  /**
   * Settles waiting tried collisions: the newcomer replaces the occupant when the
   * occupant failed a test (tried over a minute ago, within 4 h, with no success
   * since), or when no test happened within 40 minutes of the newcomer's success;
   * the collision is dropped when the occupant succeeded within 4 h.
   */
  resolveCollisions(): void {
    const now = this.now();
    for (const id of [...this.collisions]) {
      if (!this.collisions.has(id)) continue;
      const incoming = this.records.get(id);
      if (!incoming) {
        this.collisions.delete(id);
        continue;
      }
      const occupantId = this.triedSlotOf(incoming);
      if (occupantId === EMPTY) {
        this.collisions.delete(id);
        this.makeGood(incoming.address, false, now);
        continue;
      }
      const occupant = this.records.get(occupantId) as KnownAddress;
      if (now - occupant.lastSuccess < ADDRMAN_RULES.replacementSeconds) {
        this.collisions.delete(id);
      } else if (now - occupant.lastTry < ADDRMAN_RULES.replacementSeconds) {
        if (now - occupant.lastTry > ADDRMAN_RULES.testGraceSeconds) {
          this.collisions.delete(id);
          this.makeGood(incoming.address, false, now);
        }
      } else if (now - incoming.lastSuccess > ADDRMAN_RULES.testWindowSeconds) {
        this.collisions.delete(id);
        this.makeGood(incoming.address, false, now);
      }
    }
  }

  /** The tried occupant a waiting collision would evict: connect to it to test it. */
  selectTriedCollision(): AddressInfo | undefined {
    if (this.collisions.size === 0) return undefined;
    const pick = this.randomInt(this.collisions.size);
    let i = 0;
    for (const id of this.collisions) {
      if (i++ !== pick) continue;
      const occupantId = this.triedSlotOf(this.records.get(id) as KnownAddress);
      return occupantId === EMPTY
        ? undefined
        : infoOf(this.records.get(occupantId) as KnownAddress);
    }
    return undefined;
  }

  /** The state to save (serialize.ts): the key, then each table's entries. */
  exportState(): AddressManagerState {
    const newEntries: AddressManagerState['newEntries'] = [];
    const triedEntries: AddressEntry[] = [];
    for (const r of this.records.values()) {
      if (r.inTried) triedEntries.push(entryOf(r));
      else newEntries.push({ entry: entryOf(r), buckets: [...r.newBuckets] });
    }
    return { key: this.key.slice(), lastGood: this.lastGood, newEntries, triedEntries };
  }

  /**
   * A manager from saved state. Entries that no longer fit (unroutable by today's
   * rules, a slot already taken) are dropped and counted in `lost`, as Core does.
   */
  static fromState(
    state: AddressManagerState,
    options: Omit<AddressManagerOptions, 'key'>,
  ): { manager: AddressManager; lost: number } {
    const m = new AddressManager({ ...options, key: state.key });
    m.lastGood = state.lastGood;
    let lost = 0;
    for (const { entry, buckets } of state.newEntries) {
      if (!wellFormed(entry.address) || !m.accepts(entry.address) || m.find(entry.address)) {
        lost++;
        continue;
      }
      const r = m.create(entry);
      for (const bucket of new Set(buckets)) {
        if (r.newBuckets.length >= TABLES.newBucketsPerAddress) break;
        if (!Number.isInteger(bucket) || bucket < 0 || bucket >= TABLES.newBuckets) continue;
        const slot = m.newSlot(bucket, r);
        if (m.newTable[slot] !== EMPTY) continue;
        m.setNew(slot, r.id);
        r.newBuckets.push(bucket);
      }
      if (r.newBuckets.length === 0) {
        const bucket = m.placement.newBucket(r.group, r.sourceGroup);
        const slot = m.newSlot(bucket, r);
        if (m.newTable[slot] === EMPTY) {
          m.setNew(slot, r.id);
          r.newBuckets.push(bucket);
        } else {
          m.delete(r);
          lost++;
        }
      }
    }
    for (const entry of state.triedEntries) {
      if (!wellFormed(entry.address) || !m.accepts(entry.address) || m.find(entry.address)) {
        lost++;
        continue;
      }
      const probe = m.recordShape(entry, -1);
      const slot = m.triedSlotIndex(probe);
      if (m.triedTable[slot] !== EMPTY) {
        lost++;
        continue;
      }
      const r = m.create(entry, true);
      m.setTried(slot, r.id);
    }
    m.checkConsistency();
    return { manager: m, lost };
  }

  /** Verifies every index against the others and against the keyed placement. */
  checkConsistency(): void {
    const fail = (code: string, detail: string): never => {
      throw new AddrManConsistencyError(code, detail);
    };
    if (this.random.length !== this.nNew + this.nTried) {
      fail('counts', `${this.random.length} ids, ${this.nNew} new + ${this.nTried} tried`);
    }
    if (this.records.size !== this.random.length)
      fail('records', 'records and ids differ in number');
    if (this.idOfKey.size !== this.records.size)
      fail('keys', 'key map and records differ in number');
    if (this.key.every((v) => v === 0)) fail('secret', 'the bucketing key is all zero');
    const counts = new Map<PeerNetwork, { new: number; tried: number }>();
    let newSeen = 0;
    let triedSeen = 0;
    for (const [id, r] of this.records) {
      if (r.id !== id) fail('id', `record ${id} calls itself ${r.id}`);
      if (this.idOfKey.get(r.key) !== id) fail('key', `key of ${id} maps elsewhere`);
      if (r.key !== addressKey(r.address)) fail('key', `stale key on ${id}`);
      if (this.random[r.randomPos] !== id) fail('random', `random position of ${id} is wrong`);
      if (!this.accepts(r.address)) fail('routable', `${id} is not routable`);
      const net = r.address.network as PeerNetwork;
      const c = counts.get(net) ?? { new: 0, tried: 0 };
      counts.set(net, c);
      if (r.inTried) {
        triedSeen++;
        c.tried++;
        if (r.lastSuccess === 0) fail('tried-success', `${id} is tried but never succeeded`);
        if (r.newBuckets.length !== 0) fail('tried-refs', `${id} is tried and in new buckets`);
        if (this.triedTable[this.triedSlotIndex(r)] !== id) {
          fail('tried-slot', `${id} is not at its tried position`);
        }
      } else {
        newSeen++;
        c.new++;
        const n = r.newBuckets.length;
        if (n < 1 || n > TABLES.newBucketsPerAddress) fail('refs', `${id} is in ${n} new buckets`);
        if (new Set(r.newBuckets).size !== n) fail('refs', `${id} lists a bucket twice`);
        for (const bucket of r.newBuckets) {
          if (this.newTable[this.newSlot(bucket, r)] !== id) {
            fail('new-slot', `${id} is not at its position in new bucket ${bucket}`);
          }
        }
      }
      if (r.lastTry < 0 || r.lastSuccess < 0 || r.attempts < 0)
        fail('times', `${id} has negatives`);
    }
    if (newSeen !== this.nNew || triedSeen !== this.nTried)
      fail('counts', 'table counters are off');
    let newSlots = 0;
    for (let i = 0; i < this.newTable.length; i++) {
      const id = this.newTable[i] as number;
      if (id === EMPTY) continue;
      newSlots++;
      const r = this.records.get(id);
      const bucket = Math.floor(i / TABLES.bucketSize);
      if (!r || r.inTried || !r.newBuckets.includes(bucket)) {
        fail('new-table', `new slot ${i} holds ${id}, which does not list bucket ${bucket}`);
      }
    }
    let refs = 0;
    for (const r of this.records.values()) refs += r.newBuckets.length;
    if (newSlots !== refs) fail('new-table', `${newSlots} new slots for ${refs} references`);
    let triedSlots = 0;
    for (let i = 0; i < this.triedTable.length; i++) {
      const id = this.triedTable[i] as number;
      if (id === EMPTY) continue;
      triedSlots++;
      if (!this.records.get(id)?.inTried) fail('tried-table', `tried slot ${i} holds ${id}`);
    }
    if (triedSlots !== this.nTried)
      fail('tried-table', `${triedSlots} tried slots, ${this.nTried} tried`);
    for (const [name, table, occupancy] of [
      ['new', this.newTable, this.newOccupancy],
      ['tried', this.triedTable, this.triedOccupancy],
    ] as const) {
      const held = new Set<number>();
      for (let i = 0; i < table.length; i++) {
        if (table[i] !== EMPTY) held.add(Math.floor(i / TABLES.bucketSize));
      }
      const listed = new Set<number>();
      for (let i = 0; i < occupancy.occupied; i++) listed.add(occupancy.at(i));
      if (listed.size !== occupancy.occupied || listed.size !== held.size) {
        fail(
          'occupancy',
          `${name}: ${held.size} buckets hold entries, ${occupancy.occupied} listed`,
        );
      }
      for (const b of held) {
        if (!listed.has(b))
          fail('occupancy', `${name} bucket ${b} holds entries but is not listed`);
      }
    }
    for (const [name, table, byNetwork] of [
      ['new', this.newTable, this.newOccupancyOf],
      ['tried', this.triedTable, this.triedOccupancyOf],
    ] as const) {
      const held = new Map<PeerNetwork, Set<number>>();
      for (let i = 0; i < table.length; i++) {
        const id = table[i] as number;
        if (id === EMPTY) continue;
        const net = this.records.get(id)?.address.network as PeerNetwork;
        const set = held.get(net) ?? new Set<number>();
        set.add(Math.floor(i / TABLES.bucketSize));
        held.set(net, set);
      }
      for (const net of new Set([...held.keys(), ...byNetwork.keys()])) {
        const want = held.get(net) ?? new Set<number>();
        const occupancy = byNetwork.get(net);
        const listed = new Set<number>();
        for (let i = 0; i < (occupancy?.occupied ?? 0); i++) listed.add(occupancy?.at(i) as number);
        if (listed.size !== (occupancy?.occupied ?? 0) || listed.size !== want.size) {
          fail(
            'occupancy',
            `${name} ${net}: ${want.size} buckets hold its entries, ${listed.size} listed`,
          );
        }
        for (const b of want) {
          if (!listed.has(b)) fail('occupancy', `${name} ${net} bucket ${b} is not listed`);
        }
      }
    }
    for (const net of new Set([...counts.keys(), ...this.counts.keys()])) {
      const want = counts.get(net) ?? { new: 0, tried: 0 };
      const have = this.counts.get(net) ?? { new: 0, tried: 0 };
      if (want.new !== have.new || want.tried !== have.tried) {
        fail(
          'network-counts',
          `${net}: counted ${have.new}/${have.tried}, found ${want.new}/${want.tried}`,
        );
      }
    }
    if (this.collisions.size > ADDRMAN_RULES.maxCollisions)
      fail('collisions', 'too many collisions');
    for (const id of this.collisions) {
      const r = this.records.get(id);
      if (!r || r.inTried) fail('collisions', `collision ${id} is gone or already tried`);
    }
  }

  // ---- internals -------------------------------------------------------------

  private now(): number {
    return Math.floor(this.clock.now() / 1000);
  }

  private randomInt(n: number): number {
    return Math.min(n - 1, Math.floor(this.clock.random() * n));
  }

  private find(a: PeerAddress): KnownAddress | undefined {
    if (!wellFormed(a)) return undefined;
    const id = this.idOfKey.get(addressKey(a));
    return id === undefined ? undefined : this.records.get(id);
  }

  private recordShape(e: AddressEntry, id: number): KnownAddress {
    const address: PeerAddress = {
      network: e.address.network,
      bytes: e.address.bytes.slice(),
      port: e.address.port,
    };
    const keyBytes = addressKeyBytes(address);
    return {
      id,
      address,
      services: e.services,
      time: e.time,
      source: { network: e.source.network, bytes: e.source.bytes.slice() },
      lastTry: e.lastTry,
      lastCountAttempt: e.lastCountAttempt,
      lastSuccess: e.lastSuccess,
      attempts: e.attempts,
      key: keyBytes.toString('hex'),
      keyBytes,
      group: netGroup(address, this.allowLocal),
      sourceGroup: netGroup(e.source, this.allowLocal),
      inTried: false,
      newBuckets: [],
      randomPos: -1,
    };
  }

  /** A record counted in one table but in no slot yet: the caller places (or deletes) it. */
  private create(e: AddressEntry, inTried = false): KnownAddress {
    const r = this.recordShape(e, this.nextId++);
    this.records.set(r.id, r);
    this.idOfKey.set(r.key, r.id);
    r.randomPos = this.random.length;
    this.random.push(r.id);
    r.inTried = inTried;
    if (inTried) this.nTried++;
    else this.nNew++;
    this.moveCount(r, inTried ? 'tried' : 'new', 1);
    return r;
  }

  /** Forgets a new-table record no bucket holds any more. */
  private delete(r: KnownAddress): void {
    this.swapRandom(r.randomPos, this.random.length - 1);
    this.random.pop();
    this.records.delete(r.id);
    this.idOfKey.delete(r.key);
    this.collisions.delete(r.id);
    this.nNew--;
    this.moveCount(r, 'new', -1);
  }

  private moveCount(r: KnownAddress, table: 'new' | 'tried', delta: number): void {
    const net = r.address.network as PeerNetwork;
    const c = this.counts.get(net) ?? { new: 0, tried: 0 };
    c[table] += delta;
    if (c.new === 0 && c.tried === 0) this.counts.delete(net);
    else this.counts.set(net, c);
  }

  private swapRandom(i: number, j: number): void {
    if (i === j) return;
    const a = this.random[i] as number;
    const b = this.random[j] as number;
    this.random[i] = b;
    this.random[j] = a;
    (this.records.get(a) as KnownAddress).randomPos = j;
    (this.records.get(b) as KnownAddress).randomPos = i;
  }

  private newSlot(bucket: number, r: KnownAddress): number {
    return bucket * TABLES.bucketSize + this.placement.position(true, bucket, r.keyBytes);
  }

  private triedSlotIndex(r: KnownAddress): number {
    const bucket = this.placement.triedBucket(r.keyBytes, r.group);
    return bucket * TABLES.bucketSize + this.placement.position(false, bucket, r.keyBytes);
  }

  private triedSlotOf(r: KnownAddress): number {
    return this.triedTable[this.triedSlotIndex(r)] as number;
  }

  /**
   * Every write to the new table goes here, so the bucket occupancy stays
   * true. A slot goes from empty to taken or back, never from one address to
   * another, and the record it held or takes is in `records`.
   */
  private setNew(slot: number, id: number): void {
    this.noteOccupancy(false, slot, this.newTable[slot] as number, id);
    this.newTable[slot] = id;
  }

  private setTried(slot: number, id: number): void {
    this.noteOccupancy(true, slot, this.triedTable[slot] as number, id);
    this.triedTable[slot] = id;
  }

  private noteOccupancy(tried: boolean, slot: number, was: number, id: number): void {
    if ((was === EMPTY) === (id === EMPTY)) return;
    const bucket = Math.floor(slot / TABLES.bucketSize);
    const record = this.records.get(id === EMPTY ? was : id) as KnownAddress;
    const network = record.address.network as PeerNetwork;
    const byNetwork = tried ? this.triedOccupancyOf : this.newOccupancyOf;
    let ofNetwork = byNetwork.get(network);
    if (!ofNetwork) {
      ofNetwork = new BucketOccupancy(tried ? TABLES.triedBuckets : TABLES.newBuckets);
      byNetwork.set(network, ofNetwork);
    }
    const all = tried ? this.triedOccupancy : this.newOccupancy;
    if (id === EMPTY) {
      all.emptied(bucket);
      ofNetwork.emptied(bucket);
    } else {
      all.taken(bucket);
      ofNetwork.taken(bucket);
    }
  }

  /** Empties one new slot, forgetting its address if no other bucket holds it. */
  private clearNew(slot: number): void {
    const id = this.newTable[slot] as number;
    if (id === EMPTY) return;
    const r = this.records.get(id) as KnownAddress;
    const bucket = Math.floor(slot / TABLES.bucketSize);
    r.newBuckets.splice(r.newBuckets.indexOf(bucket), 1);
    this.setNew(slot, EMPTY);
    if (r.newBuckets.length === 0) this.delete(r);
  }

  private addOne(
    a: AdvertisedAddress,
    source: Host,
    sourceGroup: Uint8Array,
    penalty: number,
  ): boolean {
    let r = this.find(a);
    const now = this.now();
    if (r) {
      // Refresh the time now and then: hourly for addresses online today, else daily.
      const interval = now - a.time < 24 * HOUR ? HOUR : 24 * HOUR;
      if (r.time < a.time - interval - penalty) r.time = Math.max(0, a.time - penalty);
      r.services |= a.services;
      if (a.time <= r.time || r.inTried) return false;
      const refs = r.newBuckets.length;
      if (refs === TABLES.newBucketsPerAddress) return false;
      // Each further bucket is twice as hard to get as the one before.
      if (refs > 0 && this.randomInt(2 ** refs) !== 0) return false;
    } else {
      r = this.create({
        address: a,
        services: a.services,
        time: Math.max(0, a.time - penalty),
        source,
        lastTry: 0,
        lastCountAttempt: 0,
        lastSuccess: 0,
        attempts: 0,
      });
    }
    const bucket = this.placement.newBucket(r.group, sourceGroup);
    const slot = this.newSlot(bucket, r);
    const occupant = this.newTable[slot] as number;
    if (occupant === r.id) return false;
    let insert = occupant === EMPTY;
    if (!insert) {
      const o = this.records.get(occupant) as KnownAddress;
      // Overwrite a terrible occupant, or one held elsewhere too by an address held nowhere.
      insert = isTerrible(o, now) || (o.newBuckets.length > 1 && r.newBuckets.length === 0);
    }
    if (insert) {
      this.clearNew(slot);
      r.newBuckets.push(bucket);
      this.setNew(slot, r.id);
    } else if (r.newBuckets.length === 0) {
      this.delete(r);
    }
    return insert;
  }

  private makeGood(address: PeerAddress, testBeforeEvict: boolean, now: number): boolean {
    this.lastGood = now;
    const r = this.find(address);
    if (!r) return false;
    r.lastSuccess = now;
    r.lastTry = now;
    r.attempts = 0;
    // r.time stays: it is gossiped, and would tell who we are connected to.
    if (r.inTried) return false;
    if (testBeforeEvict && this.triedSlotOf(r) !== EMPTY) {
      if (this.collisions.size < ADDRMAN_RULES.maxCollisions) this.collisions.add(r.id);
      return false;
    }
    this.makeTried(r);
    return true;
  }

  /** Moves a new record to tried; an occupant goes back to new, in its source's bucket. */
  private makeTried(r: KnownAddress): void {
    for (const bucket of r.newBuckets) this.setNew(this.newSlot(bucket, r), EMPTY);
    r.newBuckets = [];
    this.nNew--;
    this.moveCount(r, 'new', -1);
    this.collisions.delete(r.id);

    const slot = this.triedSlotIndex(r);
    const occupantId = this.triedTable[slot] as number;
    if (occupantId !== EMPTY) {
      const old = this.records.get(occupantId) as KnownAddress;
      old.inTried = false;
      this.setTried(slot, EMPTY);
      this.nTried--;
      this.moveCount(old, 'tried', -1);
      const bucket = this.placement.newBucket(old.group, old.sourceGroup);
      const newSlot = this.newSlot(bucket, old);
      this.clearNew(newSlot);
      old.newBuckets = [bucket];
      this.setNew(newSlot, old.id);
      this.nNew++;
      this.moveCount(old, 'new', 1);
    }
    this.setTried(slot, r.id);
    r.inTried = true;
    this.nTried++;
    this.moveCount(r, 'tried', 1);
  }
}

/** An address of a dialable network with its bytes, port, time and services in range. */
function wellFormed(a: PeerAddress & { time?: number; services?: bigint }): boolean {
  if (a.network === 'internal' || HOST_BYTES[a.network] === undefined) return false;
  if (!(a.bytes instanceof Uint8Array) || a.bytes.length !== HOST_BYTES[a.network]) return false;
  if (!Number.isInteger(a.port) || a.port < 0 || a.port > 0xffff) return false;
  // Times as addr carries them: unsigned 32-bit seconds.
  if (a.time !== undefined && !(Number.isInteger(a.time) && a.time >= 0 && a.time <= 0xffff_ffff)) {
    return false;
  }
  if (a.services === undefined) return true;
  return typeof a.services === 'bigint' && a.services >= 0n && a.services <= MAX_SERVICES;
}

function entryOf(r: KnownAddress): AddressEntry {
  return {
    address: { network: r.address.network, bytes: r.address.bytes.slice(), port: r.address.port },
    services: r.services,
    time: r.time,
    source: { network: r.source.network, bytes: r.source.bytes.slice() },
    lastTry: r.lastTry,
    lastCountAttempt: r.lastCountAttempt,
    lastSuccess: r.lastSuccess,
    attempts: r.attempts,
  };
}

function infoOf(r: KnownAddress): AddressInfo {
  return { ...entryOf(r), inTried: r.inTried };
}
