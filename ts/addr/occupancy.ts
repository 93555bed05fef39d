// Which buckets of an address table hold anything. Core's select() draws a
// bucket at random until it finds one that is not empty, which on a sparse
// table (a node that knows a few dozen addresses, 1,024 buckets) costs about a
// thousand draws and scans per pick. Drawing among the occupied buckets
// directly gives each of them the same chance Core's rejection loop does, at
// the cost of one counter per slot write.
export class BucketOccupancy {
  private readonly fill: Int32Array;
  /** The occupied buckets, in no order; `position[b]` is b's index here (or -1). */
  private readonly list: Int32Array;
  private readonly position: Int32Array;
  private count = 0;

  constructor(buckets: number) {
    this.fill = new Int32Array(buckets);
    this.list = new Int32Array(buckets);
    this.position = new Int32Array(buckets).fill(-1);
  }

  /** Buckets holding at least one entry. */
  get occupied(): number {
    return this.count;
  }

  /** A slot of `bucket` went from empty to taken. */
  taken(bucket: number): void {
    const before = this.fill[bucket] as number;
    this.fill[bucket] = before + 1;
    if (before === 0) {
      this.position[bucket] = this.count;
      this.list[this.count++] = bucket;
    }
  }

  /** A slot of `bucket` went from taken to empty. */
  emptied(bucket: number): void {
    const after = (this.fill[bucket] as number) - 1;
    this.fill[bucket] = after;
    if (after !== 0) return;
    const at = this.position[bucket] as number;
    const last = this.list[--this.count] as number;
    this.list[at] = last;
    this.position[last] = at;
    this.position[bucket] = -1;
  }

  /** The occupied bucket at index `i` of `occupied` (draw i uniformly). */
  at(i: number): number {
    return this.list[i] as number;
  }
}
