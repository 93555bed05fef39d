// A set of small non-negative integer keys (below 2^31 - 1) in one typed
// array, open addressing with linear probing. A JavaScript Set spends about
// 30 bytes per key; this spends at most 8 (4 at the largest load), which is
// what makes a 5,000-key filter per peer cheap. It starts small and grows,
// so a peer that never sends addresses holds almost nothing.

/** Slots when the first key arrives. */
const FIRST_SLOTS = 64;
/** Empty slots are 0: a key is stored plus one. */
const EMPTY = 0;

export class KeySet {
  private slots: Int32Array | undefined;
  private count = 0;

  /** `maxKeys`: the most it will hold, which sizes its largest table. */
  constructor(private readonly maxKeys: number) {}

  get size(): number {
    return this.count;
  }

  has(key: number): boolean {
    const slots = this.slots;
    if (!slots) return false;
    const mask = slots.length - 1;
    const stored = key + 1;
    for (let i = mix(key) & mask; ; i = (i + 1) & mask) {
      const s = slots[i] as number;
      if (s === stored) return true;
      if (s === EMPTY) return false;
    }
  }

  /** Adds `key` (the caller keeps the count within `maxKeys`). */
  add(key: number): void {
    if (this.has(key)) return;
    if (!this.slots || (this.count + 1) * 10 > this.slots.length * 7) this.grow();
    insert(this.slots as Int32Array, key + 1);
    this.count++;
  }

  clear(): void {
    this.slots = undefined;
    this.count = 0;
  }

  private grow(): void {
    const old = this.slots;
    // Up to a load of 0.7, at most the table `maxKeys` needs.
    let size = old ? old.length * 2 : FIRST_SLOTS;
    const largest = tableFor(this.maxKeys);
    if (size > largest) size = largest;
    if (old && size === old.length) return;
    const slots = new Int32Array(size);
    if (old) for (const s of old) if (s !== EMPTY) insert(slots, s);
    this.slots = slots;
  }
}

/** The smallest power-of-two table holding `keys` at a load of at most 0.7. */
function tableFor(keys: number): number {
  let size = FIRST_SLOTS;
  while (keys * 10 > size * 7) size *= 2;
  return size;
}

function insert(slots: Int32Array, stored: number): void {
  const mask = slots.length - 1;
  let i = mix(stored - 1) & mask;
  while (slots[i] !== EMPTY) i = (i + 1) & mask;
  slots[i] = stored;
}

/** Spreads keys that differ in their high bits over the low bits the mask keeps. */
function mix(key: number): number {
  return Math.imul(key ^ (key >>> 15), 0x2c1b3c6d) >>> 0;
}
