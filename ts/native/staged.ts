// Sends staged on the JavaScript side and handed to the addon in one call per
// turn. A native call costs more than framing a small message does, so the
// transport stages a send whenever it already knows what the addon would say:
// the addon reports, with each send it does take, the peer's credit (frame
// bytes its queue is sure to take as `queued`, each frame counted as at least
// a header). The queue only drains between calls, so spending that credit
// here can never promise more than the queue would have given, except when
// the queue closes: the I/O threads close queues too (the peer hung up, an
// error, a stall), and say so only in an event that comes later. So the
// addon also keeps a counter of queue closes in memory this side reads; when
// it moves, every credit is dropped and the next send asks the addon.

/** A frame's header; the addon counts every frame as at least this. */
const HEADER_BYTES = 24;
/** Larger payloads go straight to the addon: copying them twice would cost more than the call. */
const MAX_STAGED_PAYLOAD = 4096;
const MAX_RECORDS = 4096;
const DATA_BYTES = 64 * 1024;

/** Queues staged records in the addon; returns how many the queues refused. */
export type HandOver = (meta: Uint32Array, data: Uint8Array) => number;

export class StagedSends {
  /** Record i is meta[3i..3i+3]: peer, command id, payload length. */
  private readonly meta = new Uint32Array(MAX_RECORDS * 3);
  /** The payloads, back to back. */
  private readonly data = new Uint8Array(DATA_BYTES);
  private records = 0;
  private bytes = 0;
  /** Per peer: the addon's last credit, less what was staged since. */
  private readonly credit = new Map<number, number>();
  /** The close counter's value the credits were given under. */
  private closesSeen = 0;

  /**
   * `closes` views the addon's queue-close counter; without it nothing is
   * staged (every send asks the addon).
   */
  constructor(
    private readonly handOver: HandOver,
    private readonly closes: Uint32Array | null,
  ) {}

  /** Read before a native send: what its reported credit is valid under. */
  closesNow(): number {
    // Atomics: an atomic read is never merged with an earlier one, so a
    // burst of sends inlined into one loop still sees the counter move.
    return this.closes === null ? 0 : Atomics.load(this.closes, 0);
  }

  /** Stages the send if the peer's credit covers it; false: ask the addon. */
  tryStage(peer: number, commandId: number, payload: Uint8Array): boolean {
    const length = payload.length;
    if (length > MAX_STAGED_PAYLOAD || this.closes === null) return false;
    if (Atomics.load(this.closes, 0) !== this.closesSeen) {
      // A queue closed somewhere since the credits were given.
      this.credit.clear();
      return false;
    }
    const credit = this.credit.get(peer);
    const frame = length + HEADER_BYTES;
    if (credit === undefined || credit < frame) return false;
    if (this.records === MAX_RECORDS || this.bytes + length > DATA_BYTES) this.flush();
    const m = this.records * 3;
    this.meta[m] = peer;
    this.meta[m + 1] = commandId;
    this.meta[m + 2] = length;
    this.data.set(payload, this.bytes);
    this.bytes += length;
    this.records++;
    this.credit.set(peer, credit - frame);
    return true;
  }

  /**
   * The addon's credit for `peer`, just reported by a send it took or
   * refused; `closes` is closesNow() read before that send.
   */
  setCredit(peer: number, credit: number, closes: number): void {
    if (closes !== this.closesSeen) {
      this.credit.clear();
      this.closesSeen = closes;
    }
    if (credit >= HEADER_BYTES) this.credit.set(peer, credit);
    else this.credit.delete(peer);
  }

  /** Something other than a staged send changed the peer's queue, or it is gone. */
  forget(peer: number): void {
    this.credit.delete(peer);
  }

  forgetAll(): void {
    this.credit.clear();
  }

  /**
   * Hands what is staged to the addon, in order; it is written at the next
   * flush. Should the addon throw (it validates the whole batch first), the
   * batch is lost, never sent twice.
   */
  flush(): void {
    const records = this.records;
    if (records === 0) return;
    const bytes = this.bytes;
    this.records = 0;
    this.bytes = 0;
    // Refusals mean the peer closed meanwhile: like anything queued to a
    // closing peer, those messages were never going to be written.
    this.handOver(this.meta.subarray(0, records * 3), this.data.subarray(0, bytes));
  }
}
