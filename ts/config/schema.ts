// One zod schema for the whole engine; the TypeScript types are inferred from it,
// so what the types allow and what validation accepts cannot drift apart.
import { readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { z } from 'zod';
import { NETWORK_PRESETS, PRESET_NAMES, type PresetName } from './networks.js';

const hex = (bytes: number, what: string) =>
  z
    .string()
    .regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`), `must be ${bytes * 2} hex digits (${what})`)
    .transform((s) => s.toLowerCase());

/** bigint, or a safe non-negative integer / decimal string (JSON has no bigint). */
const u64 = z
  .union([
    z.bigint().nonnegative(),
    z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
    z.string().regex(/^\d+$/, 'must be a decimal integer'),
  ])
  .transform((v) => BigInt(v))
  .refine((v) => v < 1n << 64n, 'must fit in 64 bits');

const positiveInt = (max = Number.MAX_SAFE_INTEGER) => z.number().int().positive().max(max);
const ms = () => positiveInt(2 ** 31 - 1);

export const NetworkSchema = z.object({
  name: z.string().min(1, 'must not be empty'),
  /** Network magic in wire order, e.g. "f9beb4d9". */
  magic: hex(4, 'the magic in wire order'),
  port: z.number().int().min(1).max(65_535),
  /** Display-order (byte-reversed) hash of the genesis block. */
  genesisHash: hex(32, 'the genesis block hash as explorers show it'),
  /** The genesis block's header fields, when known: lets a header chain check the
   *  first retarget period. Its hash must match `genesisHash`. */
  genesisHeader: z
    .object({
      version: z.number().int(),
      /** Display-order hex. */
      merkleRoot: hex(32, 'the merkle root as explorers show it'),
      time: z.number().int().nonnegative(),
      bits: z.number().int().nonnegative(),
      nonce: z.number().int().nonnegative(),
    })
    .optional(),
  protocolVersion: z
    .number()
    .int()
    .min(31_800)
    .max(2 ** 31 - 1)
    .default(70_016),
  /** Services this node advertises in its version message. */
  services: u64.default(0n),
  userAgent: z
    .string()
    .refine((s) => Buffer.byteLength(s, 'utf8') <= 256, 'must be at most 256 bytes of UTF-8')
    .default('/peerwire:0.1.0/'),
  /** DNS seed host names, asked for peer addresses when the address manager is empty or small. */
  dnsSeeds: z.array(z.string().min(1)).default([]),
  /** Fallback peers ("host:port") used when DNS seeding gives nothing. */
  fixedSeeds: z.array(z.string().min(1)).default([]),
  pow: z
    .object({
      /** Check every header's proof of work (forks with other PoW functions turn this off). */
      check: z.boolean().default(true),
      /** Easiest allowed target, display-order hex. */
      limit: hex(32, 'the proof-of-work limit').default(
        '00000000ffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
      ),
      /** Difficulty retarget period, or null for chains that never retarget. */
      retarget: z
        .object({
          interval: positiveInt(),
          targetTimespanSeconds: positiveInt(),
        })
        .nullable()
        .default(null),
      /** testnet's 20-minute minimum-difficulty rule. */
      allowMinDifficulty: z.boolean().default(false),
      /** BIP 94 (testnet4): retargets scale the first block of the period's bits,
       *  and a period's first block may not be over 600 s older than its parent. */
      bip94: z.boolean().default(false),
    })
    .prefault({}),
  /** The first height where segwit is active (Core's SegwitHeight): block checks
   *  look at a witness commitment only from there. 0 (the default): always. */
  segwitHeight: z.number().int().nonnegative().default(0),
  /** Heights from which headers need version 2, 3 and 4 (BIP 34, 66, 65; Core's
   *  bad-version rule). null: never enforced, the default for custom networks. */
  versionHeights: z
    .object({
      bip34: z.number().int().nonnegative().nullable().default(null),
      bip66: z.number().int().nonnegative().nullable().default(null),
      bip65: z.number().int().nonnegative().nullable().default(null),
    })
    .prefault({}),
});
export type NetworkInput = z.input<typeof NetworkSchema>;
export type Network = z.output<typeof NetworkSchema>;

export const ReconnectSchema = z.object({
  /** First retry delay; doubles each failure up to `maxDelayMs`. */
  baseDelayMs: ms().default(1_000),
  maxDelayMs: ms().default(60_000),
  /** Random spread applied to each delay, as a fraction (0.2 = ±20 %). */
  jitter: z.number().min(0).max(1).default(0.2),
  /** Restarts allowed inside `windowMs` before the address is given up. */
  maxRestarts: z.number().int().nonnegative().default(5),
  windowMs: ms().default(10 * 60_000),
});

export const LimitsSchema = z.object({
  /** Inbound connections; enforced in Rust when a socket arrives, before any read. */
  maxInbound: z.number().int().nonnegative().default(117),
  maxOutbound: z.number().int().nonnegative().default(8),
  /** Inbound sockets still in the handshake (enforced at accept). */
  maxHandshaking: z.number().int().nonnegative().default(64),
  /** Every connection, both ways (Core's -maxconnections). Default: maxInbound + maxOutbound. */
  maxConnections: z.number().int().nonnegative().optional(),
  /** A socket in the handshake this long may lose its slot to a newcomer when slots are full. */
  staleHandshakeMs: ms().default(5_000),
  /** Largest payload once the handshake completes (Core's MAX_PROTOCOL_MESSAGE_LENGTH). */
  maxPayload: positiveInt(0xffff_ffff).default(4_000_000),
  preHandshakeMaxPayload: positiveInt(0xffff_ffff).default(32_768),
  /** Received input not yet handled by the Engine before reading pauses (Core's
   *  -maxreceivebuffer); each message counts its wire size plus 64 bytes. */
  recvBudgetBytes: positiveInt(0xffff_ffff).default(5_000_000),
  /** The same until the handshake completes. */
  preHandshakeRecvBudgetBytes: positiveInt(0xffff_ffff).default(65_536),
  /** The same across all peers together: one cap however many peers there are (a counted
   *  byte costs about 2.5 resident under floods; see DEFAULT_TOTAL_RECV_BUDGET in Rust). */
  totalRecvBudgetBytes: positiveInt(0xffff_ffff).default(32 * 1024 * 1024),
  /** A peer that reads none of our queued bytes this long is disconnected ("send-stalled"). */
  sendStallTimeoutMs: ms().default(120_000),
  /** Messages handed to the Engine per batch; the event loop gets a turn between batches. */
  batchMaxEvents: positiveInt(0xffff_ffff).default(2_048),
  /** Payload bytes per batch (one larger message still goes alone). */
  batchMaxBytes: positiveInt(0xffff_ffff).default(1_048_576),
  /** Messages one peer contributes to a batch before the next busy peer's turn. */
  batchPeerEvents: positiveInt(0xffff_ffff).default(64),
  /** Payload bytes one peer contributes to a batch before the next busy peer's turn. */
  batchPeerBytes: positiveInt(0xffff_ffff).default(65_536),
  /** Queued output at which sends report backpressure (Core's -maxsendbuffer). */
  sendBudgetBytes: positiveInt(0xffff_ffff).default(1_000_000),
  /** Queued output past which sends are refused. */
  sendMaxBytes: positiveInt(0xffff_ffff).default(10_000_000),
  connectTimeoutMs: ms().default(5_000),
  handshakeTimeoutMs: ms().default(60_000),
  pingIntervalMs: ms().default(2 * 60_000),
  /** A ping unanswered this long disconnects (Core's TIMEOUT_INTERVAL). */
  pingTimeoutMs: ms().default(20 * 60_000),
  /** No message at all for this long disconnects. */
  inactivityTimeoutMs: ms().default(20 * 60_000),
  /** Default wait for a tracked response (getheaders, getdata, getaddr). */
  requestTimeoutMs: ms().default(2 * 60_000),
  banTimeMs: ms().default(24 * 60 * 60_000),
  /** Misbehaviour score at which a peer is banned (btcd and bcoin use 100). */
  banThreshold: positiveInt().default(100),
  /** Most hosts the ban list holds; when full, the ban that ends soonest goes. */
  maxBans: positiveInt(10_000_000).default(10_000),
  flushTimeoutMs: ms().default(5_000),
  /** What each kind of bad framing does to the peer (Bitcoin Core's choices by default). */
  onBadMagic: z.enum(['disconnect', 'drop']).default('disconnect'),
  onOversized: z.enum(['disconnect', 'drop']).default('disconnect'),
  onBadChecksum: z.enum(['disconnect', 'drop']).default('drop'),
  onBadCommand: z.enum(['disconnect', 'drop']).default('drop'),
});
export type LimitsInput = z.input<typeof LimitsSchema>;
export type Limits = z.output<typeof LimitsSchema>;

export const PolicySchema = z.object({
  /** Oldest protocol version accepted (Core's MIN_PEER_PROTO_VERSION). */
  minPeerVersion: z.number().int().nonnegative().default(31_800),
  /** Service bits every outbound peer must advertise. */
  requiredServices: u64.default(0n),
  /** A user agent matching this is refused (e.g. "^/Satoshi:0\\.1"). */
  rejectUserAgent: z
    .string()
    .refine((s) => {
      try {
        new RegExp(s);
        return true;
      } catch {
        return false;
      }
    }, 'must be a valid regular expression')
    .optional(),
  /** What to do with a response nobody asked for. */
  unsolicited: z.enum(['ignore', 'penalize']).default('ignore'),
  /** Ban loopback peers that reach the misbehaviour threshold. Bitcoin Core does not
   *  ("not punishing local peer"): they share one address, so it only disconnects them. */
  banLocal: z.boolean().default(false),
  /** Relay flag sent in our version message. */
  relay: z.boolean().default(true),
});
export type PolicyInput = z.input<typeof PolicySchema>;
export type Policy = z.output<typeof PolicySchema>;

/** Whether `text` is "HOST:PORT": an IPv4 address or a host name, or an IPv6
 *  address in brackets, and a port from 1 to 65535. */
export function isProxyAddress(text: string): boolean {
  const m = /^(?:\[([^\]]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(text);
  if (!m) return false;
  const port = Number(m[3]);
  return port >= 1 && port <= 65_535 && (m[1] === undefined || isIPv6(m[1]));
}

const proxyAddress = z
  .string()
  .refine(
    isProxyAddress,
    'must be HOST:PORT with a port from 1 to 65535 (e.g. 127.0.0.1:9050, [::1]:9050, localhost:9050)',
  )
  .optional();

/**
 * SOCKS5 proxies, after Bitcoin Core's -proxy, -onion and -proxyrandomize.
 * A network with a proxy is reachable: its addresses may be dialled and are
 * drawn for outbound connections. Tor, I2P and CJDNS are dialled only through
 * a proxy; IPv4, IPv6 and host names directly unless `all` is set.
 */
export const ProxySchema = z.object({
  /**
   * For every IPv4 and IPv6 connection and every host name (which the proxy
   * resolves, not the system), and for Tor unless `onion` is set (Core's
   * -proxy). Not for I2P or CJDNS: a Tor proxy reaches neither.
   */
  all: proxyAddress,
  /** For Tor .onion addresses (Core's -onion). Default: `all`. */
  onion: proxyAddress,
  /** For I2P .b32.i2p addresses: a SOCKS5 proxy into I2P, such as i2pd's (port 4447). */
  i2p: proxyAddress,
  /**
   * For CJDNS addresses: a SOCKS5 proxy on a host that is on the CJDNS network.
   * With it set, fc00::/8 addresses are CJDNS; without, they are plain
   * (private) IPv6, and CJDNS addresses learnt from peers are not dialled.
   */
  cjdns: proxyAddress,
  /**
   * A fresh random username and password for each proxied connection, so Tor
   * gives each its own circuit (Core's -proxyrandomize, on by default).
   */
  randomizeCredentials: z.boolean().default(true),
  /**
   * The bound on a whole dial through a proxy: the connect to the proxy and
   * the SOCKS5 exchange, in which Tor builds a circuit to the target (often
   * seconds). Bitcoin Core gives that exchange 20 s.
   */
  timeoutMs: ms().default(20_000),
});
export type ProxyInput = z.input<typeof ProxySchema>;
export type ProxyConfig = z.output<typeof ProxySchema>;

/** A preset name or a custom network; errors name the exact nested field. */
function resolveNetwork(input: string | Record<string, unknown>, ctx: z.RefinementCtx): Network {
  if (typeof input === 'string') {
    if ((PRESET_NAMES as string[]).includes(input)) return networkPreset(input as PresetName);
    ctx.addIssue({
      code: 'custom',
      message: `unknown network "${input}": must be one of ${PRESET_NAMES.join(', ')}, or a custom network object`,
    });
    return z.NEVER;
  }
  const result = NetworkSchema.safeParse(input);
  if (result.success) return result.data;
  for (const issue of result.error.issues) {
    ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path });
  }
  return z.NEVER;
}

export const EngineConfigSchema = z.object({
  /** A preset name ("mainnet", "testnet3", "testnet4", "signet", "regtest") or a custom network. */
  network: z
    .union([z.string(), z.record(z.string(), z.unknown())])
    .default('regtest')
    .transform(resolveNetwork),
  listen: z
    .object({ host: z.string().default('127.0.0.1'), port: z.number().int().min(0).max(65_535) })
    .optional(),
  limits: LimitsSchema.prefault({}),
  policy: PolicySchema.prefault({}),
  reconnect: ReconnectSchema.prefault({}),
  /** SOCKS5 proxies, and the networks they make reachable (see ProxySchema). */
  proxy: ProxySchema.prefault({}),
  /** I/O threads in the native driver. */
  workerThreads: z.number().int().min(1).max(64).default(1),
});
export type EngineConfigInput = z.input<typeof EngineConfigSchema>;
export type EngineConfig = z.output<typeof EngineConfigSchema>;

/** A configuration was invalid; `issues` name each field and the rule it broke. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(
    readonly issues: string[],
    source = 'configuration',
  ) {
    super(`invalid ${source}:\n  ${issues.join('\n  ')}`);
  }
}

function describe(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.length ? issue.path.join('.') : '(root)';
    return `${path}: ${issue.message}`;
  });
}

function parseWith<S extends z.ZodType>(schema: S, input: unknown, source: string): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw new ConfigError(describe(result.error), source);
  return result.data;
}

export function parseConfig(input: EngineConfigInput = {}): EngineConfig {
  return parseWith(EngineConfigSchema, input, 'engine configuration');
}

export function parseNetwork(input: unknown, source = 'network definition'): Network {
  return parseWith(NetworkSchema, input, source);
}

/** A network preset by name. */
export function networkPreset(name: PresetName): Network {
  return NetworkSchema.parse(NETWORK_PRESETS[name]);
}

/** Validates a partial limits update (for changing limits at run time). */
export function parseLimitsUpdate(input: Partial<LimitsInput>): Partial<Limits> {
  const parsed = parseWith(LimitsSchema.partial(), input, 'limits update');
  // Keep only the fields given: a partial schema would still fill in defaults.
  return Object.fromEntries(
    Object.entries(parsed).filter(([key]) => Object.hasOwn(input, key)),
  ) as Partial<Limits>;
}

/** Loads a custom network (a Bitcoin-family fork) from a JSON file. */
export function loadNetworkFile(path: string): Network {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read: ${(err as Error).message}`], `network file ${path}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError([`not valid JSON: ${(err as Error).message}`], `network file ${path}`);
  }
  return parseNetwork(json, `network file ${path}`);
}
