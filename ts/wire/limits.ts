// Per-message protocol limits (Bitcoin Core's), enforced while decoding. These
// are message-format limits; policy such as "how many addresses do we want"
// belongs to the engine.

export const MESSAGE_LIMITS = {
  /** MAX_ADDR_TO_SEND: entries in addr / addrv2. */
  addresses: 1_000,
  /** MAX_INV_SZ: entries in inv / getdata / notfound. */
  inventory: 50_000,
  /** MAX_HEADERS_RESULTS: headers in one headers message. */
  headers: 2_000,
  /** MAX_LOCATOR_SZ: hashes in a getheaders / getblocks locator. */
  locator: 101,
  /** MAX_SUBVERSION_LENGTH: bytes of a version's user agent. */
  userAgent: 256,
  /** BIP 155: bytes of one addrv2 address. */
  addrV2Address: 512,
  /** MAX_REJECT_MESSAGE_LENGTH: bytes of a reject's message and reason. */
  rejectText: 111,
} as const;
