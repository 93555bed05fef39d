// Real blocks for an offline chain: coinbases with the BIP 34 height and a
// witness commitment, and once coinbases mature, transactions spending them,
// all valid by consensus (bcoin accepts the chain) and mined on a network
// that does not retarget (regtest: about half of all nonces meet its target).
//
// Coins are locked to a script anyone can spend without a signature, so no
// keys are involved: P2WSH of OP_TRUE (spent with the witness script as the
// only witness item) or, where segwit does not apply, bare OP_TRUE (spent
// with an empty scriptSig). Non-standard for relay, valid in blocks.
import { headerHash } from '../chain/block.js';
import { hashToHex, sha256d } from '../chain/hash.js';
import { genesisHeaderOf } from '../chain/headerchain.js';
import { checkProofOfWork } from '../chain/pow.js';
import type { Network } from '../config/schema.js';
import {
  assembleBlock,
  type BuiltBlock,
  type BuiltTx,
  blockSubsidy,
  buildTx,
  COINBASE_MATURITY,
  coinbaseTx,
  type Transaction,
  type TxInput,
  type TxOutput,
  witnessCommitment,
} from './build.js';

/** OP_TRUE: the script every generated coin is locked to, directly or through P2WSH. */
const OP_TRUE = Uint8Array.from([0x51]);
/** P2WSH of OP_TRUE: OP_0 and the script's single SHA-256. */
const P2WSH_OP_TRUE = Buffer.concat([
  Buffer.from([0x00, 0x20]),
  Buffer.from('4ae81572f06e1b88fd5ced7a1a000945432e83e1551e6f721ee9c00b8cc33260', 'hex'),
]);

/** Seconds between generated blocks. */
const SPACING_SECONDS = 30;

/**
 * BIP 16's switch time (1 April 2012). Nodes that enable P2SH by block time
 * rather than height (bcoin, on every network) refuse witness spends in
 * blocks before it, so generated blocks start no earlier: ten million blocks
 * thirty seconds apart still end before 2022.
 */
const BIP16_TIME = 1_333_238_400;

export interface GenerateOptions {
  /** Tag pushed in every coinbase after the height: different seeds, different chains. */
  seed?: string;
  /**
   * Transactions after the coinbase in each block once a coinbase has matured
   * (from height 101): the first spends the coinbase of 100 blocks earlier
   * into as many outputs, the others each spend one of those. Default 0.
   */
  txsPerBlock?: number;
  /** Lock new coins to P2WSH (witness spends, commitments) once segwit applies. Default true. */
  segwit?: boolean;
  /**
   * The first height whose blocks may carry witness data. Default 0, as on
   * Core's regtest, where segwit is always active. bcoin's regtest activates
   * segwit by BIP 9 signalling instead: with `segwitHeight: 432`, every block
   * signals version bit 1 and carries no witness data (nor commitment) below
   * 432, the height from which bcoin counts segwit active; both nodes accept
   * such a chain.
   */
  segwitHeight?: number;
  /**
   * A witness commitment in every coinbase from segwitHeight, as Core mines
   * (default true). Blocks that carry witness data always have one.
   */
  witnessCommitment?: boolean;
  /** Blocks between subsidy halvings: regtest's 150 by default. */
  halvingInterval?: number;
  /**
   * Continue a chain rather than start at genesis: the first block is at
   * `height + 1` on top of `hash` (wire order). Blocks depend only on their
   * height, parent and options, so continuing a generated chain from its tip
   * gives the blocks generating it whole would have (with txsPerBlock 0; with
   * transactions, spends start once 100 coinbases of this stream matured).
   */
  after?: { height: number; hash: Uint8Array };
}

/** A generated block and its height. */
export interface GeneratedBlock extends BuiltBlock {
  height: number;
}

/** Grinds the nonce of a built block until its hash meets the target; patches the block. */
function mine(block: BuiltBlock, powLimit: bigint): void {
  const header = block.header;
  let hash = block.hash;
  while (checkProofOfWork(hash, header.bits, powLimit) !== 'ok') {
    header.nonce = (header.nonce + 1) >>> 0;
    hash = headerHash(header);
  }
  block.raw.writeUInt32LE(header.nonce, 76);
  block.hash = hash;
}

/** An input spending output `index` of `txid`, locked by `script` (one of the generator's). */
function spendInput(txid: Uint8Array, index: number, script: Uint8Array): TxInput {
  return P2WSH_OP_TRUE.equals(script)
    ? { prevTxid: txid, index, witness: [OP_TRUE] }
    : { prevTxid: txid, index, scriptSig: new Uint8Array(0) };
}

/** The transactions after the coinbase at one height: see GenerateOptions.txsPerBlock. */
function spends(matured: BuiltTx | undefined, count: number, lock: Uint8Array): BuiltTx[] {
  if (!matured || count === 0) return [];
  const coin = matured.tx.outputs[0] as TxOutput;
  const share = coin.value / BigInt(count);
  const outputs: TxOutput[] = [];
  for (let i = 0; i < count; i++) {
    const value = i === count - 1 ? coin.value - share * BigInt(count - 1) : share;
    outputs.push({ value, script: lock });
  }
  const split = buildTx({ inputs: [spendInput(matured.txid, 0, coin.script)], outputs });
  const txs = [split];
  for (let i = 0; i + 1 < count; i++) {
    const tx: Transaction = {
      inputs: [spendInput(split.txid, i, lock)],
      outputs: [{ value: share, script: lock }],
    };
    txs.push(buildTx(tx));
  }
  return txs;
}

/**
 * Endless real blocks after the network's genesis: heights 1, 2, …, thirty
 * seconds apart from 1 April 2012 (or the genesis time if later), at the
 * genesis difficulty (so only for networks that do not retarget), each passing checkBlock with BIP 34 and segwit active. Their
 * transactions are valid against the chain too (bcoin accepts the whole
 * chain; see test/block/generate.test.ts). Deterministic: same network and
 * options, same chain.
 */
export function* blockStream(
  network: Network,
  options: GenerateOptions = {},
): Generator<GeneratedBlock> {
  const genesis = genesisHeaderOf(network);
  if (!genesis) throw new Error(`network ${network.name} has no genesis header to build on`);
  if (network.pow.retarget) {
    throw new Error(`network ${network.name} retargets; generated chains keep one difficulty`);
  }
  const powLimit = BigInt(`0x${network.pow.limit}`);
  const segwitHeight = options.segwit === false ? Infinity : (options.segwitHeight ?? 0);
  // BIP 9 signalling for segwit (bit 1), for nodes that activate it that way.
  const version = segwitHeight > 0 ? 0x2000_0002 : 0x2000_0000;
  const perBlock = options.txsPerBlock ?? 0;
  const halving = options.halvingInterval ?? 150;
  const tag = Buffer.from(options.seed ?? 'peerwire', 'utf8').subarray(0, 64);
  const startTime = Math.max(genesis.time, BIP16_TIME);
  // The last COINBASE_MATURITY coinbases: the oldest matures next.
  const coinbases: BuiltTx[] = [];
  let prev: Uint8Array = options.after ? Buffer.from(options.after.hash) : headerHash(genesis);
  for (let height = (options.after?.height ?? 0) + 1; ; height++) {
    const segwit = height >= segwitHeight;
    const lock = segwit ? P2WSH_OP_TRUE : OP_TRUE;
    const matured = coinbases.length === COINBASE_MATURITY ? coinbases.shift() : undefined;
    const others = spends(matured, perBlock, lock);
    const withWitness = others.some((t) => !t.txid.equals(t.wtxid));
    const commit = segwit && ((options.witnessCommitment ?? true) || withWitness);
    const coinbase = buildTx(
      coinbaseTx({
        height,
        outputs: [{ value: blockSubsidy(height, halving), script: lock }],
        tag,
        commitment: commit ? witnessCommitment(others) : undefined,
      }),
    );
    coinbases.push(coinbase);
    const block = assembleBlock(
      {
        version,
        prevBlock: prev,
        time: startTime + height * SPACING_SECONDS,
        bits: genesis.bits,
        nonce: 0,
      },
      [coinbase, ...others],
    );
    mine(block, powLimit);
    yield { ...block, height };
    prev = block.hash;
  }
}

/** `count` blocks of blockStream. */
export function generateBlocks(
  network: Network,
  count: number,
  options: GenerateOptions = {},
): GeneratedBlock[] {
  const out: GeneratedBlock[] = [];
  if (count <= 0) return out;
  for (const block of blockStream(network, options)) {
    out.push(block);
    if (out.length === count) break;
  }
  return out;
}

/**
 * The genesis coinbase of Bitcoin (mainnet, testnet3, signet and regtest
 * share it: "The Times 03/Jan/2009 …"), serialized.
 */
const SATOSHI_COINBASE = Buffer.from(
  '01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff' +
    '001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e20627269' +
    '6e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a0100000043' +
    '4104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f355' +
    '04e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000',
  'hex',
);

/**
 * The network's genesis block, serialized, when its genesis header commits
 * to Satoshi's coinbase (mainnet, testnet3, signet, regtest); undefined for
 * networks whose genesis has another coinbase (testnet4, most forks).
 */
export function genesisBlock(network: Network): Buffer | undefined {
  const header = genesisHeaderOf(network);
  if (!header) return undefined;
  const txid = sha256d(SATOSHI_COINBASE);
  if (hashToHex(txid) !== hashToHex(header.merkleRoot)) return undefined;
  return assembleBlock(header, [{ raw: SATOSHI_COINBASE, txid }]).raw;
}
