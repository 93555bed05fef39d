// Typed encode/decode for every message peerwire understands. Unknown commands
// are not an error: `decodeMessage` returns undefined and the caller keeps the
// raw payload.
import { encodedHeaders, HEADER_BYTES, headersFromPayload } from './headers.js';
import { ipFromBytes, ipToBytes } from './ip.js';
import { MESSAGE_LIMITS } from './limits.js';
import { decodeLenient, Reader } from './reader.js';
import type {
  AddrV2Entry,
  BlockHeader,
  Command,
  InvVector,
  LocatorMessage,
  Message,
  NetAddress,
  PayloadOf,
  TimedNetAddress,
  VersionMessage,
} from './types.js';
import { Writer } from './writer.js';

interface Codec<P> {
  encode(w: Writer, p: P): void;
  decode(r: Reader): P;
}

const NET_ADDRESS_BYTES = 26;
const INV_BYTES = 36;

export { HEADER_BYTES };

function writeNetAddress(w: Writer, a: NetAddress): void {
  w.u64(a.services).bytes(ipToBytes(a.ip)).u16be(a.port);
}

function readNetAddress(r: Reader, field: string): NetAddress {
  const services = r.u64(`${field}.services`);
  const ip = ipFromBytes(r.bytesView(16, `${field}.ip`));
  return { services, ip, port: r.u16be(`${field}.port`) };
}

export function writeHeader(w: Writer, h: BlockHeader): void {
  w.i32(h.version).bytes(h.prevBlock).bytes(h.merkleRoot).u32(h.time).u32(h.bits).u32(h.nonce);
}

export function readHeader(r: Reader, field = 'header'): BlockHeader {
  return {
    version: r.i32(`${field}.version`),
    prevBlock: r.bytes32(`${field}.prevBlock`),
    merkleRoot: r.bytes32(`${field}.merkleRoot`),
    time: r.u32(`${field}.time`),
    bits: r.u32(`${field}.bits`),
    nonce: r.u32(`${field}.nonce`),
  };
}

const empty: Codec<PayloadOf<'verack'>> = {
  encode: () => {},
  decode: () => ({}),
};

const nonce: Codec<PayloadOf<'ping'>> = {
  encode: (w, p) => void w.u64(p.nonce),
  // BIP 31: pings carry a nonce; a bare ping from an ancient peer decodes as 0.
  decode: (r) => ({ nonce: r.remaining === 0 ? 0n : r.u64('nonce') }),
};

const inventory: Codec<PayloadOf<'inv'>> = {
  encode: (w, p) => {
    w.varint(p.inventory.length);
    for (const v of p.inventory) w.u32(v.type).bytes(v.hash);
  },
  decode: (r) => {
    const n = r.count('inventory.count', MESSAGE_LIMITS.inventory, INV_BYTES);
    const list: InvVector[] = [];
    for (let i = 0; i < n; i++) {
      list.push({ type: r.u32('inventory.type'), hash: r.bytes32('inventory.hash') });
    }
    return { inventory: list };
  },
};

const locator: Codec<PayloadOf<'getheaders'>> = {
  encode: (w, p: LocatorMessage) => {
    w.u32(p.version).varint(p.locator.length);
    for (const h of p.locator) w.bytes(h);
    w.bytes(p.hashStop);
  },
  decode: (r) => {
    const version = r.u32('version');
    const n = r.count('locator.count', MESSAGE_LIMITS.locator, 32);
    const list: Uint8Array[] = [];
    for (let i = 0; i < n; i++) list.push(r.bytes32('locator.hash'));
    return { version, locator: list, hashStop: r.bytes32('hashStop') };
  },
};

const raw: Codec<PayloadOf<'block'>> = {
  encode: (w, p) => void w.bytes(p.raw),
  decode: (r) => ({ raw: r.restOwned() }),
};

/** The bytes to write for a user agent: the wire bytes it was decoded from while
 *  they still read as the display string (so a non-UTF-8 one survives), else UTF-8. */
function userAgentBytes(p: VersionMessage): Uint8Array {
  const kept = p.userAgentBytes;
  const bytes =
    kept && decodeLenient(kept) === p.userAgent ? kept : Buffer.from(p.userAgent, 'utf8');
  if (bytes.length > MESSAGE_LIMITS.userAgent) {
    throw new RangeError(
      `user agent is ${bytes.length} bytes, over the limit of ${MESSAGE_LIMITS.userAgent}`,
    );
  }
  return bytes;
}

const CODECS: { [C in Command]: Codec<PayloadOf<C>> } = {
  version: {
    encode: (w, p: VersionMessage) => {
      w.i32(p.version).u64(p.services).i64(p.timestamp);
      writeNetAddress(w, p.receiver);
      writeNetAddress(w, p.sender);
      w.u64(p.nonce).varBytes(userAgentBytes(p)).i32(p.startHeight).bool(p.relay);
    },
    decode: (r) => {
      const version = r.i32('version');
      const services = r.u64('services');
      const timestamp = r.i64('timestamp');
      const receiver = readNetAddress(r, 'receiver');
      // Very old peers stop here; peerwire's minimum version is far above them,
      // but decoding stays faithful and policy decides.
      const sender = r.remaining > 0 ? readNetAddress(r, 'sender') : emptyAddress();
      const nonceValue = r.remaining > 0 ? r.u64('nonce') : 0n;
      // Core accepts any bytes here: keep them, and show them as lenient UTF-8.
      const userAgentBytes =
        r.remaining > 0 ? r.varBytes('userAgent', MESSAGE_LIMITS.userAgent) : new Uint8Array(0);
      const userAgent = decodeLenient(userAgentBytes);
      const startHeight = r.remaining > 0 ? r.i32('startHeight') : 0;
      const relay = r.remaining > 0 ? r.bool('relay') : true;
      return {
        version,
        services,
        timestamp,
        receiver,
        sender,
        nonce: nonceValue,
        userAgent,
        userAgentBytes,
        startHeight,
        relay,
      };
    },
  },
  verack: empty,
  ping: nonce,
  pong: nonce,
  getaddr: empty,
  addr: {
    encode: (w, p) => {
      w.varint(p.addresses.length);
      for (const a of p.addresses) {
        w.u32(a.time);
        writeNetAddress(w, a);
      }
    },
    decode: (r) => {
      const n = r.count('addresses.count', MESSAGE_LIMITS.addresses, 4 + NET_ADDRESS_BYTES);
      const list: TimedNetAddress[] = [];
      for (let i = 0; i < n; i++) {
        const time = r.u32('addresses.time');
        list.push({ time, ...readNetAddress(r, 'addresses') });
      }
      return { addresses: list };
    },
  },
  addrv2: {
    encode: (w, p) => {
      w.varint(p.addresses.length);
      for (const a of p.addresses) {
        w.u32(a.time).varint(a.services).u8(a.networkId).varBytes(a.address).u16be(a.port);
      }
    },
    decode: (r) => {
      // time 4 + services ≥1 + network 1 + length ≥1 + port 2
      const n = r.count('addresses.count', MESSAGE_LIMITS.addresses, 9);
      const list: AddrV2Entry[] = [];
      for (let i = 0; i < n; i++) {
        list.push({
          time: r.u32('addresses.time'),
          services: r.varint('addresses.services'),
          networkId: r.u8('addresses.networkId'),
          address: r.varBytes('addresses.address', MESSAGE_LIMITS.addrV2Address),
          port: r.u16be('addresses.port'),
        });
      }
      return { addresses: list };
    },
  },
  sendaddrv2: empty,
  inv: inventory,
  getdata: inventory,
  notfound: inventory,
  getheaders: locator,
  getblocks: locator,
  headers: {
    encode: (w, p) => {
      const wire = encodedHeaders(p);
      if (wire) {
        w.bytes(wire);
        return;
      }
      w.varint(p.headers.length);
      for (const h of p.headers) {
        writeHeader(w, h);
        w.varint(0);
      }
    },
    decode: (r) => {
      const n = r.count('headers.count', MESSAGE_LIMITS.headers, HEADER_BYTES + 1);
      // The usual shape (every transaction count one byte) stays as records.
      const records = headersFromPayload(r.payload, r.offsetFrom(0), n, r.owned);
      if (records) return records;
      const list: BlockHeader[] = [];
      for (let i = 0; i < n; i++) {
        list.push(readHeader(r, 'headers'));
        // Always 0 in practice; Bitcoin Core reads it and ignores it.
        r.varint('headers.txCount');
      }
      return { headers: list };
    },
  },
  block: raw,
  tx: raw,
  merkleblock: raw,
  cmpctblock: raw,
  sendheaders: empty,
  sendcmpct: {
    encode: (w, p) => void w.bool(p.announce).u64(p.version),
    decode: (r) => ({ announce: r.bool('announce'), version: r.u64('version') }),
  },
  feefilter: {
    encode: (w, p) => void w.i64(p.feeRate),
    decode: (r) => ({ feeRate: r.i64('feeRate') }),
  },
  wtxidrelay: empty,
  mempool: empty,
  reject: {
    encode: (w, p) => {
      w.varString(p.message).u8(p.code).varString(p.reason);
      if (p.data) w.bytes(p.data);
    },
    decode: (r) => {
      const message = r.varString('message', MESSAGE_LIMITS.rejectText);
      const code = r.u8('code');
      const reason = r.varString('reason', MESSAGE_LIMITS.rejectText);
      const out: PayloadOf<'reject'> = { message, code, reason };
      if ((message === 'block' || message === 'tx') && r.remaining >= 32) {
        out.data = r.bytes32('data');
      }
      return out;
    },
  },
};

function emptyAddress(): NetAddress {
  return { services: 0n, ip: '0.0.0.0', port: 0 };
}

// A set lookup: cheaper than Object.hasOwn on the per-message path.
const KNOWN_COMMANDS: ReadonlySet<string> = new Set(Object.keys(CODECS));

/** Whether peerwire has a typed codec for `command`. */
export function isKnownCommand(command: string): command is Command {
  return KNOWN_COMMANDS.has(command);
}

/** Encodes a message's payload (without the frame header). */
export function encodePayload<C extends Command>(command: C, payload: PayloadOf<C>): Buffer {
  if (command === 'headers') {
    // Served headers are already their wire bytes.
    const wire = encodedHeaders(payload as PayloadOf<'headers'>);
    if (wire) return wire;
  }
  const w = new Writer();
  (CODECS[command] as Codec<PayloadOf<C>>).encode(w, payload);
  return w.finish();
}

export function encodeMessage(message: Message): Buffer {
  return encodePayload(message.command, message.payload as never);
}

export interface DecodeOptions {
  /**
   * The payload is handed over (nothing will change it afterwards): a large
   * `headers` payload then becomes the message's records without a copy.
   */
  owned?: boolean;
}

/**
 * Decodes a payload. Returns undefined for commands without a codec (they pass
 * through raw); throws `DecodeError` for malformed payloads. Bytes after the
 * last field are ignored, as Bitcoin Core ignores them.
 */
export function decodeMessage(
  command: string,
  payload: Uint8Array,
  options: DecodeOptions = {},
): Message | undefined {
  if (!isKnownCommand(command)) return undefined;
  const r = new Reader(payload, command, options.owned);
  return { command, payload: CODECS[command].decode(r) } as Message;
}
