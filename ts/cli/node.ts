// `peerwire node`: a long-running node that accepts peers, serves headers and
// answers pings, finds and keeps outbound peers (address manager, address
// relay, outbound manager), keeps what it learnt in a data directory, and logs
// peer events until SIGINT or SIGTERM.
import { join } from 'node:path';
import { AddressError, hostFromIp, type PeerAddress, type PeerNetwork } from '../addr/address.js';
import { AddressManager } from '../addr/addrman.js';
import type { DataDir } from '../addr/datadir.js';
import { netGroupKey } from '../addr/netgroup.js';
import { OUTBOUND_DEFAULTS, OutboundManager } from '../addr/outbound.js';
import { AddressRelay } from '../addr/relay.js';
import { parseSeedAddress } from '../addr/seeds.js';
import { NODE_NETWORK, NODE_NETWORK_LIMITED, NODE_WITNESS } from '../block/request.js';
import { hashToHex } from '../chain/hash.js';
import { hostOf } from '../engine/bans.js';
import type { TimerHandle } from '../engine/clock.js';
import { Engine } from '../engine/engine.js';
import type { Peer } from '../engine/peer.js';
import { isReachable } from '../engine/proxy.js';
import { mmapThresholdFromEnvironment, pinMmapThreshold } from '../native/allocator.js';
import { serveBlocks } from '../serve/block-service.js';
import { servicesFor, unhonoured } from '../serve/block-source.js';
import {
  addressForm,
  CliError,
  checkInputFile,
  connectForm,
  hostPort,
  intFlag,
  parse,
} from './args.js';
import { serveHeaders } from './headers-service.js';
import { chooseNetwork, describeDisconnect, requireGenesisHeader } from './network.js';
import { MEMORY_MAX_BLOCKS, NodeBlocks } from './node-blocks.js';
import { openDataDir, SeedNodes } from './node-peers.js';
import { logLine } from './output.js';
import { PeerLogLimit } from './peer-log-limit.js';
import { checkDialable, PROXY_HELP, PROXY_OPTIONS, PROXY_SYNOPSIS, proxyFlags } from './proxy.js';

/** Core's DUMP_PEERS_INTERVAL: the address manager and bans are saved this often. */
const SAVE_INTERVAL_MS = 15 * 60_000;

export const NODE_USAGE = `Usage: peerwire node --listen HOST:PORT [--network NAME | --network-config FILE]
                     [--headers FILE | --generate N] [--generate-interval-ms MS] [--datadir DIR]
                     [--connect HOST:PORT]... [--addnode HOST:PORT]... [--seednode HOST:PORT]...
                     [--outbound N] [--block-relay N] [--external HOST:PORT]
                     ${PROXY_SYNOPSIS}
                     [--cjdns-proxy HOST:PORT] [--no-proxy-randomize] [--services N]
                     [--allow-local-addresses] [--json]

Runs a node that accepts peers, serves block headers (getheaders/headers with
locators) and the blocks it holds (getdata for MSG_BLOCK, without witness data,
and MSG_WITNESS_BLOCK; getblocks/inv; notfound for anything else), announces
new tips (headers to peers that sent sendheaders, else inv), answers pings,
finds peers and keeps outbound connections to them, and logs peer events,
until SIGINT or SIGTERM, when it shuts down gracefully. Lines a peer's
messages cause (getheaders, addr, getaddr, misbehaving, block-unreadable)
are limited to 10 of each kind per peer per minute; a log-suppressed line
counts the rest.

It advertises the services it can honour, as Core does: NODE_NETWORK|
NODE_NETWORK_LIMITED|NODE_WITNESS (1033) when it holds every block from genesis
to its tip, NODE_NETWORK_LIMITED|NODE_WITNESS (1032) when it holds at least the
last 288, none of them when it holds only
headers (--headers without the blocks). The genesis block is always held where
the network's genesis is Bitcoin's (mainnet, testnet3, signet, regtest). A
node that holds blocks serves its own chain; a headers-only one takes peers'
headers that extend it.

Peers are found as Bitcoin Core finds them: addresses learnt from getaddr/addr
go into an address manager, from which N full-relay and M block-relay-only
outbound connections are kept (one per netgroup), with a feeler every ~2
minutes; DNS seeds are asked when it is empty (regtest has none). Tor, I2P
and CJDNS addresses are kept, and dialled only through a SOCKS5 proxy for
their network (--onion or --proxy, --i2p-proxy, --cjdns-proxy).

Options:
  --listen HOST:PORT      where to accept peers, IPv6 as [::1]:PORT (port 0 picks one;
                          the log says which)
  --network NAME          mainnet, testnet3, testnet4, signet or regtest (default regtest)
  --network-config FILE   a custom network (JSON) for a Bitcoin-family fork
  --headers FILE          serve the headers in FILE (written by peerwire sync --out), and
                          the blocks of it that --datadir holds
  --generate N            make the chain N blocks high with real generated blocks (coinbase-
                          only, valid merkle roots and BIP 34 heights; networks without
                          retargeting, e.g. regtest); a chain reopened from --datadir that
                          is already N high is served as it is. Without --datadir blocks
                          are kept in memory, at most ${MEMORY_MAX_BLOCKS}
  --generate-interval-ms MS
                          mine one more block on the tip every MS milliseconds and announce
                          it to peers (with or without --generate; in memory it stops at
                          the same bound)
  --datadir DIR           keep blocks (DIR/blocks: blk?????.dat and an index, crash-safe),
                          the chain's headers (DIR/headers.dat, saved with the addresses
                          and at shutdown; blocks stored after it are found again at
                          start), known addresses (peers.dat), bans (banlist.dat) and
                          anchors (anchors.dat) in DIR: loaded at start, saved every 15
                          minutes and at shutdown; created if missing; a corrupt file is
                          logged, moved to FILE.bad and replaced
  --connect HOST:PORT     connect only to this peer (repeatable): no automatic outbound
  --addnode HOST:PORT     keep a connection to this peer besides the automatic ones (repeatable)
  --seednode HOST:PORT    connect to learn addresses (getaddr), then disconnect (repeatable)
  --outbound N            full-relay outbound connections to keep (default ${OUTBOUND_DEFAULTS.fullRelay})
  --block-relay N         block-relay-only outbound connections to keep (default ${OUTBOUND_DEFAULTS.blockRelay})
  --external HOST:PORT    our address, announced to peers (routable ones only, unless
                          --allow-local-addresses; an .onion one needs --onion or --proxy)
${PROXY_HELP}
  --services N            service bits to announce instead (default: what the node holds
                          can honour, see above, plus the network's other bits); claiming
                          NODE_NETWORK (1), NODE_NETWORK_LIMITED (1024) or NODE_WITNESS (8)
                          without the blocks behind them is a usage error. Nodes keep and
                          relay only addresses with NODE_NETWORK or NODE_NETWORK_LIMITED
  --allow-local-addresses regtest only: keep loopback and private addresses (127/8, 10/8,
                          192.168/16, ...) in the address manager, each its own netgroup,
                          for test networks on one machine (off by default, as in Core)
  --json                  log events as JSON lines (text lines escape what peers send)
  -h, --help              show this help`;

export async function runNode(argv: string[]): Promise<number> {
  const flags = parse(
    argv,
    {
      listen: { type: 'string' },
      network: { type: 'string' },
      'network-config': { type: 'string' },
      headers: { type: 'string' },
      generate: { type: 'string' },
      'generate-interval-ms': { type: 'string' },
      datadir: { type: 'string' },
      connect: { type: 'string', multiple: true },
      addnode: { type: 'string', multiple: true },
      seednode: { type: 'string', multiple: true },
      outbound: { type: 'string' },
      'block-relay': { type: 'string' },
      external: { type: 'string' },
      services: { type: 'string' },
      'allow-local-addresses': { type: 'boolean' },
      ...PROXY_OPTIONS,
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    NODE_USAGE,
  );
  if (flags.help) {
    console.log(NODE_USAGE);
    return 0;
  }
  if (!flags.listen) throw new CliError('--listen is required (see "peerwire node --help")', 2);
  const listen = hostPort(flags.listen as string, 'listen');
  if (flags.headers && flags.generate)
    throw new CliError('give --headers or --generate, not both', 2);
  const chosen = chooseNetwork(
    flags.network as string | undefined,
    flags['network-config'] as string | undefined,
    'regtest',
  );
  const claimed = flags.services === undefined ? undefined : servicesFlag(flags.services as string);
  const proxy = proxyFlags(flags);
  const peersFlag = (name: string) =>
    ((flags[name] as string[] | undefined) ?? []).map((v) => {
      const { host, port } = hostPort(v, name);
      const address = connectForm(host, port);
      checkDialable(address, name, proxy);
      return address;
    });
  const connect = peersFlag('connect');
  const addnode = peersFlag('addnode');
  const seednode = peersFlag('seednode');
  if (connect.length > 0 && seednode.length > 0) {
    throw new CliError(
      '--seednode has no use with --connect: only the --connect peers are dialled',
      2,
    );
  }
  const fullRelay = intFlag(
    flags.outbound as string | undefined,
    'outbound',
    OUTBOUND_DEFAULTS.fullRelay,
    0,
    1_000,
  );
  const blockRelay = intFlag(
    flags['block-relay'] as string | undefined,
    'block-relay',
    OUTBOUND_DEFAULTS.blockRelay,
    0,
    1_000,
  );
  const allowLocal = flags['allow-local-addresses'] === true;
  let network = chosen;
  if (allowLocal && network.name !== 'regtest') {
    throw new CliError(
      `--allow-local-addresses is for regtest test networks, not "${network.name}"`,
      2,
    );
  }
  let external: PeerAddress | undefined;
  if (flags.external !== undefined) {
    const { host, port } = hostPort(flags.external as string, 'external');
    try {
      external = parseSeedAddress(connectForm(host, port), network.port);
    } catch (err) {
      if (!(err instanceof AddressError)) throw err;
      throw new CliError(
        `--external must be an IP, .onion or .b32.i2p address and a port, got "${flags.external}"`,
        2,
      );
    }
    if (!isReachable(proxy, external.network as PeerNetwork)) {
      throw new CliError(
        `--external ${flags.external}: a node announces only addresses on networks it reaches; ` +
          `give ${external.network === 'i2p' ? '--i2p-proxy' : '--onion or --proxy'} HOST:PORT`,
        2,
      );
    }
  }
  const json = flags.json === true;
  // Text lines escape peer-controlled strings (user agents, details): a peer
  // must not be able to break a line or forge one. JSON.stringify already does.
  const log = (event: string, fields: Record<string, unknown> = {}) => {
    if (json) {
      console.log(JSON.stringify({ time: new Date().toISOString(), event, ...fields }));
    } else {
      console.log(logLine(event, fields));
    }
  };

  const generate = intFlag(flags.generate as string | undefined, 'generate', 0, 0);
  const interval =
    flags['generate-interval-ms'] === undefined
      ? undefined
      : intFlag(flags['generate-interval-ms'] as string, 'generate-interval-ms', 0, 1);
  if (generate > 0 || interval !== undefined) {
    if (flags.headers) {
      throw new CliError('--generate-interval-ms mines on generated chains: not with --headers', 2);
    }
    requireGenesisHeader(network);
    if (network.pow.retarget) {
      throw new CliError(
        `--generate makes chains of one difficulty, and network "${network.name}" retargets ` +
          `every ${network.pow.retarget.interval} blocks: use regtest, or a network without retargeting`,
        2,
      );
    }
  }
  if (flags.headers) checkInputFile(flags.headers as string, 'headers');

  // Checked before any listening: a data directory we cannot write is a usage error.
  let datadir: DataDir | undefined;
  if (flags.datadir !== undefined) {
    datadir = await openDataDir(flags.datadir as string, {
      // One line per unusable file; the node carries on from an empty store.
      onProblem: (problem, movedTo) =>
        log('datadir-problem', {
          file: problem.path,
          problem: problem.code,
          detail: problem.message,
          movedTo,
        }),
    });
  }

  let blocks: NodeBlocks;
  try {
    blocks = await NodeBlocks.open({
      network,
      generate,
      ...(datadir ? { datadir: datadir.dir } : {}),
      ...(flags.headers ? { headersFile: flags.headers as string } : {}),
      onProblem: (problem) =>
        log('datadir-problem', {
          file: problem.path,
          problem: problem.code,
          detail: problem.message,
        }),
    });
  } catch (err) {
    if (err instanceof CliError) throw err;
    const message = (err as Error).message;
    const path = flags.headers as string | undefined;
    throw new CliError(path && !message.includes(path) ? `--headers ${path}: ${message}` : message);
  }
  const chain = blocks.chain;
  const holding = blocks.holding();
  // The block-serving bits say what the node holds; the network's other bits stay.
  const BLOCK_BITS = NODE_NETWORK | NODE_NETWORK_LIMITED | NODE_WITNESS;
  let services = (chosen.services & ~BLOCK_BITS) | servicesFor(holding);
  if (claimed !== undefined) {
    const cannot = unhonoured(claimed, holding);
    if (cannot.length > 0) {
      await blocks.close();
      throw new CliError(
        `--services ${flags.services}: this node holds ${holding.fromTip} of the ` +
          `${chain.height + 1} blocks up to its tip, so it cannot honour ${cannot.join('; ')}`,
        2,
      );
    }
    services = claimed;
  }
  network = { ...chosen, services };
  log('blocks', {
    dir: datadir ? join(datadir.dir, 'blocks') : undefined,
    height: chain.height,
    held: holding.fromTip,
    reopened: blocks.reopenedHeight > 0 ? blocks.reopenedHeight : undefined,
    generated:
      chain.height > blocks.reopenedHeight ? chain.height - blocks.reopenedHeight : undefined,
    services: `0x${services.toString(16)}`,
  });

  // Large frames freed after a flood go back to the system (glibc only),
  // unless the operator set the threshold.
  if (!mmapThresholdFromEnvironment()) pinMmapThreshold();
  const engine = new Engine({ network, proxy, startHeight: () => chain.height });
  // Lines a peer's messages cause are rationed per peer (see PeerLogLimit).
  const peerLog = new PeerLogLimit(engine.clock, log);
  // A node that holds blocks serves its own chain (whatever --services says):
  // following peers' headers would put headers it has no blocks for on it.
  // A headers-only node follows.
  serveHeaders(engine, chain, { follow: servicesFor(holding) === 0n });
  const blockService = serveBlocks(
    engine,
    chain,
    blocks.source,
    {
      // Per peer: one asking again and again for a block we cannot read
      // must not write a line each time.
      unreadable: (hash, err, peer) => {
        const fields = { peer: peer.id, hash: hashToHex(hash), error: (err as Error).message };
        // A peer gone during the read has been forgotten: logged as it is.
        if (peer.connected) peerLog.log(peer.id, 'block-unreadable', fields);
        else log('block-unreadable', fields);
      },
    },
    { limited: (services & NODE_NETWORK) === 0n && (services & NODE_NETWORK_LIMITED) !== 0n },
  );

  let addrman: AddressManager;
  let anchors: string[] = [];
  let bansApplied = 0;
  if (datadir) {
    const loaded = await datadir.loadAddressManager(engine.clock, { allowLocal });
    addrman = loaded.manager;
    bansApplied = (await datadir.restoreBans(engine)).applied;
    anchors = (await datadir.loadAnchors()).value;
    log('datadir', {
      dir: datadir.dir,
      addresses: addrman.size(),
      tried: addrman.triedCount,
      dropped: loaded.lost > 0 ? loaded.lost : undefined,
      bans: bansApplied,
      anchors: anchors.length,
    });
  } else {
    addrman = new AddressManager({ clock: engine.clock, allowLocal });
  }

  // Feelers and block-relay-only peers stay out of address relay (Core: they
  // must not reveal what we know, nor who we are connected to).
  let outbound: OutboundManager | undefined;
  const isAddrRelayOutbound = (peer: Peer) => {
    const kind = outbound?.kindOf(peer);
    return kind !== 'feeler' && kind !== 'block-relay' && peer.relayRequested !== false;
  };
  // Subscribed before the outbound manager and the seed nodes, so it sees each
  // handshake and addr message first (a feeler is still known as one; a seed
  // node's answer is taken before the seed is let go).
  const relay = new AddressRelay(engine, addrman, {
    ...(external ? { localAddress: external } : {}),
    isAddrRelayOutbound,
  });
  outbound = new OutboundManager(engine, addrman, {
    fullRelay,
    blockRelay,
    connect,
    addnode,
    anchors,
  });
  const seeds = new SeedNodes(engine, seednode, {
    dial: (address) => log('dial', { address, kind: 'seednode' }),
    done: (info) => log('seednode', info),
    failed: (info) => log('seednode', { address: info.address, error: info.error }),
  });
  const kindOf = (p: Peer) => outbound?.kindOf(p) ?? (seeds.has(p) ? 'seednode' : undefined);

  // Lines an inbound connection causes by itself are rationed per netgroup:
  // a peer reconnecting in a loop (a banned one included) gets a few lines a
  // minute, not two per socket.
  const connectionLog = new PeerLogLimit<string>(engine.clock, log, {
    lines: 20,
    keyField: 'group',
  });
  const connectionLine = (p: Peer, event: string, fields: Record<string, unknown>) => {
    if (p.inbound) connectionLog.log(inboundGroup(p.address), event, fields);
    else log(event, fields);
  };
  engine.on('connected', (p) =>
    connectionLine(p, 'connected', {
      peer: p.id,
      address: addressForm(p.address),
      inbound: p.inbound,
      kind: kindOf(p),
      proxy: p.proxy,
    }),
  );
  engine.on('handshake', (p) =>
    connectionLine(p, 'handshake', {
      peer: p.id,
      userAgent: p.userAgent,
      version: p.version?.version,
      height: p.startHeight,
      kind: kindOf(p),
    }),
  );
  engine.on('failed', (i) =>
    log('dial-failed', { address: i.address, error: i.error, retryInMs: i.retryInMs }),
  );
  engine.on('getaddr', (p) => peerLog.log(p.id, 'getaddr', { peer: p.id }));
  // After the relay's handler: `known` counts what this message added.
  engine.on('addr', (p, m) =>
    peerLog.log(p.id, 'addr', {
      peer: p.id,
      addresses: m.addresses.length,
      known: addrman.size(),
    }),
  );
  engine.on('addrv2', (p, m) =>
    peerLog.log(p.id, 'addr', {
      peer: p.id,
      addresses: m.addresses.length,
      v2: true,
      known: addrman.size(),
    }),
  );
  outbound.on('dial', (i) => log('dial', { address: i.address, kind: i.kind }));
  outbound.on('feeler', (i) =>
    log('feeler', { address: i.address, ok: i.ok, collision: i.collision || undefined }),
  );
  outbound.on('seeded', (r) =>
    log('dns-seed', { seed: r.seed, found: r.found, added: r.added, error: r.error }),
  );
  outbound.on('fixed-seeds', (i) => log('fixed-seeds', { added: i.added }));
  engine.on('getheaders', (p, req) =>
    peerLog.log(p.id, 'getheaders', { peer: p.id, locator: req.locator.length }),
  );
  engine.on('disconnected', (p, i) => {
    peerLog.forget(p.id);
    const why = describeDisconnect({ ...i, sawVersion: p.version !== undefined }, network);
    connectionLine(p, 'disconnected', {
      peer: p.id,
      reason: i.reason,
      detail: i.detail === i.reason || i.detail === '' ? undefined : i.detail,
      // Only when it says more than reason and detail do (a wrong network).
      why: why.startsWith(i.reason) ? undefined : why,
    });
  });
  engine.on('misbehaving', (p, i) =>
    peerLog.log(p.id, 'misbehaving', { peer: p.id, score: i.total, reason: i.reason }),
  );
  engine.on('banned', (b) => log('banned', { host: b.host, reason: b.reason }));

  let bound: { host: string; port: number };
  try {
    bound = engine.listen(listen.host, listen.port);
  } catch (err) {
    await engine.close();
    await blocks.close();
    // The addon's message already says "cannot listen on ADDRESS: why".
    const message = (err as Error).message;
    throw new CliError(
      message.startsWith('cannot listen')
        ? message
        : `cannot listen on ${flags.listen}: ${message}`,
    );
  }
  // Signals are taken from before the node says it listens: a supervisor (or a
  // test) that stops it as soon as it reads that line must get a clean shutdown,
  // not the default action of a signal nobody handles yet.
  const stopSignal = new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  log('listening', {
    address: connectForm(bound.host, bound.port),
    network: network.name,
    reachable: engine.reachableNetworks().join(','),
    height: chain.height,
    tip: hashToHex(chain.tipHash),
    services: `0x${services.toString(16)}`,
  });
  outbound.start();
  seeds.start();

  // --generate-interval-ms: one more block on the tip every MS, announced to peers.
  let mineTimer: TimerHandle | undefined;
  let mining = Promise.resolve();
  const mineLater = () => {
    if (interval === undefined) return;
    mineTimer = engine.clock.setTimer(interval, () => {
      mineTimer = undefined;
      if (!blocks.canGrow) {
        log('generate-stopped', {
          height: chain.height,
          why: `${MEMORY_MAX_BLOCKS} blocks are kept in memory at most; give --datadir`,
        });
        return;
      }
      mining = blocks
        .generate(1)
        .then((previousTip) => {
          const told = blockService.announce(previousTip);
          log('block', {
            height: chain.height,
            hash: hashToHex(chain.tipHash),
            announced: told.headers + told.inv,
          });
          if (!stopping) mineLater();
        })
        .catch((err: Error) => log('generate-failed', { error: err.message }));
    });
  };
  mineLater();

  // Saves run one after another: a periodic save still writing at shutdown must
  // not finish after (and over) the final one.
  let saving = Promise.resolve(true);
  const save = (anchorsToSave?: string[]): Promise<boolean> => {
    saving = saving.then(() => saveNow(anchorsToSave));
    return saving;
  };
  const saveNow = async (anchorsToSave?: string[]): Promise<boolean> => {
    if (!datadir) return true;
    // Each file on its own: a headers file that cannot be written must not
    // cost the addresses, bans and anchors their save.
    let headersSaved = true;
    try {
      await blocks.save();
    } catch (err) {
      headersSaved = false;
      log('save-failed', { dir: datadir.dir, error: (err as Error).message });
    }
    try {
      await datadir.saveAll({
        addrman,
        engine,
        ...(anchorsToSave ? { anchors: anchorsToSave } : {}),
      });
      log('saved', {
        addresses: addrman.size(),
        bans: engine.bans().length,
        anchors: anchorsToSave?.length,
      });
      return headersSaved;
    } catch (err) {
      log('save-failed', { dir: datadir.dir, error: (err as Error).message });
      return false;
    }
  };
  let saveTimer: TimerHandle | undefined;
  let stopping = false;
  const scheduleSave = () => {
    if (stopping) return;
    saveTimer = engine.clock.setTimer(SAVE_INTERVAL_MS, () => {
      void save().then(scheduleSave);
    });
  };
  if (datadir) scheduleSave();

  log('shutdown', { signal: await stopSignal });
  stopping = true;
  if (saveTimer) engine.clock.clearTimer(saveTimer);
  if (mineTimer) engine.clock.clearTimer(mineTimer);
  await mining;
  seeds.stop();
  // Anchors are the block-relay-only peers up now: taken before the close ends them.
  const anchorsNow = outbound.stop();
  relay.detach();
  await engine.close();
  const saved = await save(anchorsNow);
  await blocks.close();
  connectionLog.flush();
  log('stopped');
  return saved ? 0 : 1;
}

/** --services: decimal or 0x hex, within 64 bits. */
function servicesFlag(value: string): bigint {
  let n: bigint | undefined;
  try {
    if (/^(0x[0-9a-f]+|\d+)$/i.test(value.trim())) n = BigInt(value.trim());
  } catch {
    n = undefined;
  }
  if (n === undefined || n < 0n || n >= 2n ** 64n) {
    throw new CliError(
      `--services must be an integer (decimal or 0x hex) within 64 bits, got "${value}"`,
      2,
    );
  }
  return n;
}

/** An inbound peer's netgroup (IPv4 /16, IPv6 /32), or its host when that is not an IP. */
function inboundGroup(address: string): string {
  const host = hostOf(address);
  try {
    return netGroupKey(hostFromIp(host), true);
  } catch {
    return host;
  }
}
