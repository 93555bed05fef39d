// Bitcoin Core's adaptive block-stalling timeout (net_processing.cpp,
// m_block_stalling_timeout): one value for the whole download, not per peer.
// It starts at 2 s; each time a staller is disconnected it doubles, up to
// 64 s, so that when our own link is the bottleneck we do not drop peer after
// peer; and as blocks arrive in order again it decays by ×0.85 back to 2 s.

/** BLOCK_STALLING_TIMEOUT_DEFAULT. */
export const BLOCK_STALLING_TIMEOUT_DEFAULT_MS = 2_000;
/** BLOCK_STALLING_TIMEOUT_MAX. */
export const BLOCK_STALLING_TIMEOUT_MAX_MS = 64_000;
/** The decay factor applied when the window moves. */
export const BLOCK_STALLING_TIMEOUT_DECAY = 0.85;

export class StallingTimeout {
  private value: number;

  constructor(
    readonly initialMs = BLOCK_STALLING_TIMEOUT_DEFAULT_MS,
    readonly maxMs = BLOCK_STALLING_TIMEOUT_MAX_MS,
  ) {
    if (!(initialMs > 0) || !(maxMs >= initialMs)) {
      throw new RangeError(`stalling timeout: need 0 < initial (${initialMs}) <= max (${maxMs})`);
    }
    this.value = initialMs;
  }

  /** The timeout in force, in ms. */
  get ms(): number {
    return this.value;
  }

  /** A staller was dropped: the next one gets twice as long (up to the maximum). */
  fired(): void {
    this.value = Math.min(this.value * 2, this.maxMs);
  }

  /**
   * The window moved: back toward the initial value by ×0.85, truncated to a
   * whole ms (Core truncates to whole seconds, its timeout's unit).
   */
  progressed(): void {
    this.value = Math.max(this.initialMs, Math.floor(this.value * BLOCK_STALLING_TIMEOUT_DECAY));
  }
}
