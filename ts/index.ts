// peerwire: a Bitcoin-protocol P2P engine with a Rust hot path.

// Peer discovery: outbound connection management, seeding, the data directory.
export {
  DATADIR_FILES,
  DataDir,
  type DataDirOptions,
  type Loaded,
} from './addr/datadir.js';
export {
  type ConnectionKind,
  OUTBOUND_DEFAULTS,
  type OutboundEvents,
  OutboundManager,
  type OutboundOptions,
} from './addr/outbound.js';
export {
  ADDR_RELAY_DEFAULTS,
  AddressRelay,
  type AddressRelayOptions,
  type AddressRelayStats,
  KnownAddressFilter,
  relayAddresses,
} from './addr/relay.js';
export { querySeed, type SeedResolver, type SeedResult, systemSeedResolver } from './addr/seeds.js';
// Raw blocks: checked against their headers, split and hashed (in Rust), built and generated.
export {
  assembleBlock,
  type BuiltBlock,
  type BuiltTx,
  bip34HeightScript,
  blockSubsidy,
  buildTx,
  COINBASE_INDEX,
  COINBASE_MATURITY,
  type CoinbaseOptions,
  coinbaseTx,
  encodeTx,
  type HeaderFields,
  NULL_TXID,
  type Transaction,
  type TxInput,
  type TxOutput,
  WITNESS_COMMITMENT_HEADER,
  witnessCommitment,
  witnessCommitmentScript,
} from './block/build.js';
export {
  BLOCK_ERROR_CODES,
  type BlockCheckOptions,
  BlockError,
  type BlockErrorCode,
  blockTransactions,
  blockTxids,
  blockTxRanges,
  blockWtxids,
  type CheckedBlock,
  checkBlock,
  checkBlockAsync,
  merkleRoot,
} from './block/check.js';
// Block download after headers: Core's window, stall detection, verified blocks into a sink.
export {
  BAD_BLOCK_SCORE,
  BLOCK_DOWNLOAD_TIMEOUT_BASE_MS,
  BLOCK_DOWNLOAD_TIMEOUT_PER_PEER_MS,
  BLOCK_DOWNLOAD_WINDOW,
  type BlockDownload,
  type DownloadEvents,
  type DownloadedBlock,
  type DownloadOptions,
  type DownloadProgress,
  DownloadStateError,
  type DownloadSummary,
  type DropReason,
  downloadBlocks,
  MAX_BLOCKS_IN_TRANSIT_PER_PEER,
} from './block/download.js';
export {
  blockStream,
  type GeneratedBlock,
  type GenerateOptions,
  generateBlocks,
  genesisBlock,
} from './block/generate.js';
export {
  BlockNotFoundError,
  blockInv,
  fetchBlock,
  NODE_NETWORK,
  NODE_NETWORK_LIMITED,
  NODE_NETWORK_LIMITED_MIN_BLOCKS,
  NODE_WITNESS,
  type RequestBlockOptions,
  requestBlock,
  servesHeight,
} from './block/request.js';
export { type BlockSink, MemoryBlockSink } from './block/sink.js';
export {
  BLOCK_STALLING_TIMEOUT_DECAY,
  BLOCK_STALLING_TIMEOUT_DEFAULT_MS,
  BLOCK_STALLING_TIMEOUT_MAX_MS,
  StallingTimeout,
} from './block/stall.js';
export { stripWitness } from './block/strip.js';
// Chain helpers: hashes, raw blocks and transactions, proof of work.
export {
  blockHash,
  blockHeader,
  encodeHeader,
  headerHash,
  splitBlock,
  txid,
  wtxid,
} from './chain/block.js';
// Header chains and header sync.
export { generateHeaders, headerStream } from './chain/generate.js';
export { hashToHex, hexToHash, sha256d } from './chain/hash.js';
export {
  chainFor,
  genesisHeaderOf,
  HeaderChain,
  HeaderError,
  type HeaderErrorCode,
  MAX_HEADERS_PER_MESSAGE,
} from './chain/headerchain.js';
export { readHeadersFile, writeHeadersFile } from './chain/headersfile.js';
export {
  bitsToTarget,
  blockWork,
  checkProofOfWork,
  hashToNumber,
  targetToBits,
} from './chain/pow.js';
export { type SyncProgress, serveHeaders, syncFromPeer } from './cli/headers-service.js';
// Configuration.
export { NETWORK_PRESETS, PRESET_NAMES, type PresetName } from './config/networks.js';
export {
  ConfigError,
  type EngineConfig,
  type EngineConfigInput,
  EngineConfigSchema,
  type Limits,
  type LimitsInput,
  loadNetworkFile,
  type Network,
  type NetworkInput,
  NetworkSchema,
  networkPreset,
  type Policy,
  type ProxyConfig,
  type ProxyInput,
  ProxySchema,
  parseConfig,
  parseNetwork,
} from './config/schema.js';
// Crawling a network with recursive getaddr.
export {
  Crawler,
  type CrawlerOptions,
  type CrawlFailure,
  type CrawlFailureReason,
  type CrawlResult,
  type CrawlStage,
  type CrawlStats,
  CrawlTally,
  failureLabel,
} from './crawl/crawler.js';
export { type ResolvedStarts, resolveStarts, type StartHost } from './crawl/resolve.js';
// The Engine.
export { type BanEntry, hostOf, normalizeHost } from './engine/bans.js';
export { type Clock, ManualClock, systemClock, type TimerHandle } from './engine/clock.js';
export {
  type DisconnectInfo,
  Engine,
  type EngineDisconnectReason,
  type EngineEvents,
  type EngineOptions,
  type MessageInfo,
} from './engine/engine.js';
export {
  EngineClosedError,
  PeerGoneError,
  RequestAbortedError,
  RequestTimeoutError,
  UnreachableNetworkError,
} from './engine/errors.js';
export { Peer, type PeerFeatures } from './engine/peer.js';
export { proxyFor, routeFor, type TargetKind, targetKind } from './engine/proxy.js';
export { PeerRateLimiter, TokenBucket } from './engine/rate-limit.js';
export type {
  GetDataAnswer,
  GetDataResult,
  TrackedCommand,
  TrackedResponses,
} from './engine/requests.js';
export type { Transport } from './engine/transport.js';
export {
  DEFAULT_MMAP_THRESHOLD,
  MAX_MMAP_THRESHOLD,
  MIN_MMAP_THRESHOLD,
  mmapThresholdFromEnvironment,
  pinMmapThreshold,
} from './native/allocator.js';
// The native transport.
export type {
  DisconnectCode,
  EventHandler,
  FrameHandler,
  PeerId,
  RejectCode,
  TransportEvent,
} from './native/events.js';
export {
  type BroadcastOutcome,
  checksumsComputed,
  NativeTransport,
  type NativeTransportOptions,
  type PeerInfo,
  type ProxyRoute,
  type SendResult,
  type TransportHandlers,
} from './native/transport.js';
// Serving blocks to peers (what peerwire node runs): getdata in order with
// notfound, getblocks/inv, tip announcements; the blocks from a store or memory.
export {
  type BlockService,
  type BlockServiceEvents,
  type BlockServiceOptions,
  serveBlocks,
} from './serve/block-service.js';
export {
  type BlockSource,
  type Holding,
  holdingOf,
  MemoryBlocks,
  StoreBlocks,
  servicesFor,
} from './serve/block-source.js';
export { StoreError, type StoreErrorCode } from './store/atomic-file.js';
export { type BlockLocation, dataFileName, INDEX_FILE } from './store/blocks/format.js';
// The block store: raw blocks in append-only files with an index, crash-safe.
export {
  BlockStore,
  BlockStoreClosedError,
  type BlockStoreOptions,
  type BlockStoreReport,
  type BlockStoreStats,
  DEFAULT_MAX_FILE_BYTES,
} from './store/blocks/store.js';
// Messages.
export { decodeMessage, encodeMessage, encodePayload, isKnownCommand } from './wire/codec.js';
export { DecodeError, type DecodeErrorCode } from './wire/errors.js';
export { MESSAGE_LIMITS } from './wire/limits.js';
export * from './wire/types.js';
