// A bcoin regtest chain with transactions in it, made by bcoin itself: coins
// mined to keys of ours, spent (once mature) by transactions we build and sign
// with bcoin's own MTX, accepted by its mempool and mined by its miner. So the
// blocks, their witness commitments and their transactions are bcoin's
// serialization, not ours. Segwit activates on bcoin's regtest only by
// version bits, at height 432: legacy (P2PKH) spends come before, witness
// (P2WPKH) spends after.
import { createRequire } from 'node:module';
import type { BcoinNodeHandle } from './bcoin.js';

const require = createRequire(import.meta.url);

/** The slices of bcoin 1.0.2 this uses (it ships no types). */
interface BcoinTx {
  outputs: Array<{ value: number }>;
  txid(): string;
}
interface BcoinBlock {
  txs: BcoinTx[];
  toRaw(): Buffer;
  hash(): Buffer;
}
interface BcoinFull {
  chain: {
    height: number;
    state: { hasWitness(): boolean };
    getBlock(heightOrHash: number | Buffer | string): Promise<BcoinBlock | null>;
  };
  mempool: { addTX(tx: unknown): Promise<unknown>; map: { size: number } };
  rpc: { mineBlocks(n: number, address: unknown): Promise<string[]> };
}

interface Ring {
  witness: boolean;
  getAddress(): unknown;
}

interface Bcoin {
  KeyRing: { generate(compress: boolean): Ring };
  MTX: new () => {
    addTX(tx: BcoinTx, index: number, height: number): void;
    addOutput(address: unknown, value: number): void;
    sign(ring: unknown): number;
    toTX(): BcoinTx;
  };
}

export interface MinedChain {
  /** Heights of blocks holding legacy (P2PKH) spends besides their coinbase. */
  legacy: number[];
  /** Heights of blocks holding witness (P2WPKH) spends. */
  witness: number[];
  /** Transactions mined besides coinbases. */
  txs: number;
}

/**
 * Mines blocks on `node` (at height 0) up to `total` (past 432 for witness
 * spends): 101 to a legacy key of ours, then every third block carries two
 * spends of a matured coinbase, a parent and a child spending it in the same
 * block; the parent also pays a witness key of ours, whose coins are spent,
 * once segwit is active, one per block.
 */
export async function mineChainWithTxs(
  handle: BcoinNodeHandle,
  total: number,
): Promise<MinedChain> {
  const bcoin = require('bcoin') as Bcoin;
  const node = handle.node as unknown as BcoinFull;
  const legacyKey = bcoin.KeyRing.generate(true);
  const witnessKey = bcoin.KeyRing.generate(true);
  witnessKey.witness = true;
  const legacyAddress = legacyKey.getAddress();
  const witnessAddress = witnessKey.getAddress();
  await node.rpc.mineBlocks(101, legacyAddress);
  const mined: MinedChain = { legacy: [], witness: [], txs: 0 };
  /** Unspent witness outputs: output 0 of these transactions. */
  const witnessCoins: BcoinTx[] = [];
  let spend = 1; // the next coinbase height to spend
  const add = async (mtx: InstanceType<Bcoin['MTX']>, key: Ring): Promise<BcoinTx> => {
    if (mtx.sign(key) !== 1) throw new Error('bcoin did not sign the spend');
    const tx = mtx.toTX();
    await node.mempool.addTX(tx);
    mined.txs++;
    return tx;
  };
  while (node.chain.height < total) {
    let kind: 'legacy' | 'witness' | undefined;
    // The coinbase at `spend` can be spent in the block at spend + 100.
    if (node.chain.height % 3 === 0 && spend + 100 <= node.chain.height) {
      const block = (await node.chain.getBlock(spend)) as BcoinBlock;
      const coinbase = block.txs[0] as BcoinTx;
      const value = coinbase.outputs[0]?.value as number;
      const parent = new bcoin.MTX();
      parent.addTX(coinbase, 0, spend);
      parent.addOutput(witnessAddress, Math.floor(value / 2));
      parent.addOutput(legacyAddress, Math.floor(value / 2) - 10_000);
      const signed = await add(parent, legacyKey);
      const child = new bcoin.MTX();
      child.addTX(signed, 1, -1);
      child.addOutput(legacyAddress, Math.floor(value / 2) - 20_000);
      await add(child, legacyKey);
      witnessCoins.push(signed);
      spend++;
      kind = 'legacy';
    }
    const coin = witnessCoins[0];
    if (node.chain.state.hasWitness() && coin && coin !== witnessCoins.at(-1)) {
      witnessCoins.shift();
      const value = coin.outputs[0]?.value as number;
      const spendWitness = new bcoin.MTX();
      spendWitness.addTX(coin, 0, -1);
      spendWitness.addOutput(witnessAddress, value - 10_000);
      await add(spendWitness, witnessKey);
      kind = 'witness';
    }
    const pending = node.mempool.map.size;
    await node.rpc.mineBlocks(1, legacyAddress);
    if (pending > 0) {
      const block = (await node.chain.getBlock(node.chain.height)) as BcoinBlock;
      if (block.txs.length !== pending + 1) {
        throw new Error(`bcoin mined ${block.txs.length - 1} of ${pending} transactions`);
      }
      mined[kind as 'legacy' | 'witness'].push(node.chain.height);
    }
  }
  return mined;
}

/** bcoin's raw block (with witnesses) at `height`. */
export async function rawBlockAt(handle: BcoinNodeHandle, height: number): Promise<Buffer> {
  const node = handle.node as unknown as BcoinFull;
  const block = await node.chain.getBlock(height);
  if (!block) throw new Error(`bcoin has no block at height ${height}`);
  return block.toRaw();
}
