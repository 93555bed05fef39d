// Decoded shapes of the Bitcoin P2P messages peerwire understands.
// 64-bit integers are bigint; hashes are 32-byte Uint8Arrays in wire order
// (little-endian, the reverse of the hex that block explorers show).

/** A network address without a timestamp (as in `version`). */
export interface NetAddress {
  services: bigint;
  /** IPv4 as dotted quad when the 16 wire bytes are IPv4-mapped, else IPv6 (RFC 5952 form). */
  ip: string;
  port: number;
}

/** A network address as relayed in `addr`. */
export interface TimedNetAddress extends NetAddress {
  /** Unix seconds. */
  time: number;
}

/** BIP 155 network ids used by `addrv2`. */
export const ADDRV2_NETWORK = {
  ipv4: 1,
  ipv6: 2,
  torv2: 3,
  torv3: 4,
  i2p: 5,
  cjdns: 6,
} as const;

export interface AddrV2Entry {
  time: number;
  services: bigint;
  /** BIP 155 network id; unknown ids are kept so the message can be re-encoded. */
  networkId: number;
  /** The raw address bytes for that network (4 for IPv4, 16 for IPv6, 32 for Tor v3, ...). */
  address: Uint8Array;
  port: number;
}

/** Inventory types (inv/getdata/notfound). */
export const INV_TYPE = {
  error: 0,
  tx: 1,
  block: 2,
  filteredBlock: 3,
  cmpctBlock: 4,
  wtx: 5,
  witnessTx: 0x40000001,
  witnessBlock: 0x40000002,
  /** Defined by Core with the witness flag but not used by it. */
  witnessFilteredBlock: 0x40000003,
} as const;

export interface InvVector {
  type: number;
  hash: Uint8Array;
}

/** An 80-byte block header. */
export interface BlockHeader {
  version: number;
  prevBlock: Uint8Array;
  merkleRoot: Uint8Array;
  time: number;
  bits: number;
  nonce: number;
}

export interface VersionMessage {
  version: number;
  services: bigint;
  /** Unix seconds. */
  timestamp: bigint;
  receiver: NetAddress;
  sender: NetAddress;
  nonce: bigint;
  /** The user agent for display: its bytes as UTF-8, invalid sequences as U+FFFD. */
  userAgent: string;
  /**
   * The user agent exactly as it came on the wire (set by the decoder). Encoding
   * writes these bytes when they still read as `userAgent`, so a decoded
   * version re-encodes byte for byte even when its user agent is not UTF-8;
   * otherwise `userAgent` is written as UTF-8.
   */
  userAgentBytes?: Uint8Array;
  startHeight: number;
  /** BIP 37 relay flag; absent on the wire means true. */
  relay: boolean;
}

export interface LocatorMessage {
  version: number;
  locator: Uint8Array[];
  hashStop: Uint8Array;
}

export interface RejectMessage {
  message: string;
  code: number;
  reason: string;
  /** Present for rejects of blocks and transactions (the object's hash). */
  data?: Uint8Array;
}

/** Every message, by command. */
export type Message =
  | { command: 'version'; payload: VersionMessage }
  | { command: 'verack'; payload: Record<string, never> }
  | { command: 'ping'; payload: { nonce: bigint } }
  | { command: 'pong'; payload: { nonce: bigint } }
  | { command: 'getaddr'; payload: Record<string, never> }
  | { command: 'addr'; payload: { addresses: TimedNetAddress[] } }
  | { command: 'addrv2'; payload: { addresses: AddrV2Entry[] } }
  | { command: 'sendaddrv2'; payload: Record<string, never> }
  | { command: 'inv'; payload: { inventory: InvVector[] } }
  | { command: 'getdata'; payload: { inventory: InvVector[] } }
  | { command: 'notfound'; payload: { inventory: InvVector[] } }
  | { command: 'getheaders'; payload: LocatorMessage }
  | { command: 'getblocks'; payload: LocatorMessage }
  | { command: 'headers'; payload: { headers: BlockHeader[] } }
  | { command: 'block'; payload: { raw: Uint8Array } }
  | { command: 'tx'; payload: { raw: Uint8Array } }
  /** BIP 37: a block header with a partial merkle tree (kept raw; the header is its first 80 bytes). */
  | { command: 'merkleblock'; payload: { raw: Uint8Array } }
  /** BIP 152: a compact block (kept raw; the header is its first 80 bytes). */
  | { command: 'cmpctblock'; payload: { raw: Uint8Array } }
  | { command: 'sendheaders'; payload: Record<string, never> }
  | { command: 'sendcmpct'; payload: { announce: boolean; version: bigint } }
  | { command: 'feefilter'; payload: { feeRate: bigint } }
  | { command: 'wtxidrelay'; payload: Record<string, never> }
  | { command: 'mempool'; payload: Record<string, never> }
  | { command: 'reject'; payload: RejectMessage };

export type Command = Message['command'];
export type PayloadOf<C extends Command> = Extract<Message, { command: C }>['payload'];
