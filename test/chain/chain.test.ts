// Hashes, raw blocks and transactions, proof of work: checked against Bitcoin's
// genesis blocks (facts from chainparams).
import { describe, expect, it } from 'vitest';
import {
  blockHash,
  encodeHeader,
  headerHash,
  splitBlock,
  txid,
  wtxid,
} from '../../ts/chain/block.js';
import { hashToHex, hexToHash, sha256d, sha256dEach } from '../../ts/chain/hash.js';
import { bitsToTarget, blockWork, checkProofOfWork, targetToBits } from '../../ts/chain/pow.js';
import { networkPreset } from '../../ts/config/schema.js';
import { native } from '../../ts/native/binding.js';
import { DecodeError } from '../../ts/wire/errors.js';
import type { BlockHeader } from '../../ts/wire/types.js';

const GENESIS_COINBASE =
  '01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff4d04ffff001d0104455468652054696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e206272696e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac00000000';
const MERKLE = '4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b';

function genesisHeader(time: number, bits: number, nonce: number): BlockHeader {
  return {
    version: 1,
    prevBlock: new Uint8Array(32),
    merkleRoot: hexToHash(MERKLE),
    time,
    bits,
    nonce,
  };
}

const MAINNET_GENESIS = genesisHeader(1231006505, 0x1d00ffff, 2083236893);
const REGTEST_GENESIS = genesisHeader(1296688602, 0x207fffff, 2);

describe('chain helpers', () => {
  it('hashes many records in one call exactly as one by one', () => {
    const records = Buffer.from(Array.from({ length: 3 * 80 }, (_, i) => i & 255));
    const each = sha256dEach(records, 80);
    for (let i = 0; i < 3; i++) {
      expect(each.subarray(i * 32, i * 32 + 32)).toEqual(
        sha256d(records.subarray(i * 80, i * 80 + 80)),
      );
    }
    expect(() => sha256dEach(records.subarray(1), 80)).toThrow(/whole records of 80 bytes/);
  });

  it('refuses an output buffer that is too small or overlaps the input, natively', () => {
    const data = Buffer.alloc(160, 3);
    expect(() => native.doubleSha256Into(data, Buffer.alloc(31))).toThrow(/holds 31 bytes; 32/);
    expect(() => native.doubleSha256Into(data, data.subarray(100))).toThrow(/overlaps/);
    expect(() => native.doubleSha256EachInto(data, 80, 80, Buffer.alloc(63))).toThrow(/64/);
    expect(() => native.doubleSha256EachInto(data, 80, 80, data.subarray(0, 64))).toThrow(
      /overlaps/,
    );
    const out = Buffer.alloc(64);
    native.doubleSha256EachInto(data, 80, 80, out);
    expect(out.subarray(32)).toEqual(sha256d(data.subarray(80)));
  });

  it('hashes the first bytes of each record when given a length (headers in place)', () => {
    const records = Buffer.from(Array.from({ length: 3 * 81 }, (_, i) => (i * 7) & 255));
    const each = sha256dEach(records, 81, 80);
    expect(each).toHaveLength(3 * 32);
    for (let i = 0; i < 3; i++) {
      expect(each.subarray(i * 32, i * 32 + 32)).toEqual(
        sha256d(records.subarray(i * 81, i * 81 + 80)),
      );
    }
    expect(() => sha256dEach(records, 81, 82)).toThrow(/cannot hash 82 bytes of 81-byte records/);
    expect(() => sha256dEach(records, 81, 0)).toThrow(/cannot hash 0 bytes/);
  });

  it('hashes the mainnet and regtest genesis headers to their known hashes', () => {
    expect(hashToHex(headerHash(MAINNET_GENESIS))).toBe(networkPreset('mainnet').genesisHash);
    expect(hashToHex(headerHash(REGTEST_GENESIS))).toBe(networkPreset('regtest').genesisHash);
  });

  it('splits the genesis block and finds the coinbase txid = merkle root', () => {
    const coinbase = Buffer.from(GENESIS_COINBASE, 'hex');
    const block = Buffer.concat([encodeHeader(MAINNET_GENESIS), Buffer.from([1]), coinbase]);
    const split = splitBlock(block);
    expect(split.txs).toHaveLength(1);
    expect(Buffer.from(split.txs[0] as Uint8Array)).toEqual(coinbase);
    expect(hashToHex(txid(coinbase))).toBe(MERKLE);
    expect(hashToHex(wtxid(coinbase))).toBe(MERKLE); // no witness: the same
    expect(hashToHex(blockHash(block))).toBe(networkPreset('mainnet').genesisHash);
  });

  it('a segwit transaction: txid skips the witness, wtxid covers it', () => {
    const legacy = Buffer.from(GENESIS_COINBASE, 'hex');
    // Same transaction with marker/flag and one witness item of 3 bytes.
    const witness = Buffer.concat([
      legacy.subarray(0, 4),
      Buffer.from([0x00, 0x01]),
      legacy.subarray(4, legacy.length - 4),
      Buffer.from([0x01, 0x03, 0xaa, 0xbb, 0xcc]),
      legacy.subarray(legacy.length - 4),
    ]);
    expect(txid(witness)).toEqual(txid(legacy));
    expect(wtxid(witness)).toEqual(sha256d(witness));
    expect(wtxid(witness)).not.toEqual(wtxid(legacy));
  });

  it('malformed transactions are DecodeErrors', () => {
    const legacy = Buffer.from(GENESIS_COINBASE, 'hex');
    expect(() => txid(legacy.subarray(0, 50))).toThrow(DecodeError);
    expect(() => txid(Buffer.concat([legacy, Buffer.from([0])]))).toThrow(/bytes after/);
  });

  it('decodes compact targets and checks proof of work like Bitcoin Core', () => {
    const mainLimit = bitsToTarget(0x1d00ffff) as bigint;
    expect(mainLimit.toString(16)).toBe('ffff' + '0'.repeat(52));
    expect(targetToBits(mainLimit)).toBe(0x1d00ffff);
    expect(bitsToTarget(0x04923456)).toBeUndefined(); // negative
    expect(bitsToTarget(0xff123456)).toBeUndefined(); // overflow
    const limit = BigInt(`0x${networkPreset('mainnet').pow.limit}`);
    expect(checkProofOfWork(headerHash(MAINNET_GENESIS), 0x1d00ffff, limit)).toBe('ok');
    const wrongNonce = { ...MAINNET_GENESIS, nonce: 1 };
    expect(checkProofOfWork(headerHash(wrongNonce), 0x1d00ffff, limit)).toBe('high-hash');
    expect(checkProofOfWork(headerHash(MAINNET_GENESIS), 0x1e00ffff, limit)).toBe('above-limit');
    expect(blockWork(0x1d00ffff)).toBe(0x100010001n);
  });
});
