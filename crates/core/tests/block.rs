//! Block checks on real blocks (mainnet's genesis, a 1.4 MB mainnet segwit
//! block, a testnet3 segwit block) and on blocks built here, with every
//! mutation a peer could send: each must fail with Core's reason, and no
//! input may panic or allocate from a claimed count.
//!
//! The builder below computes merkle roots and witness commitments on its
//! own (from `double_sha256` only), so the constructed blocks test the
//! module against an independent computation; the real blocks test both
//! against the chain.

use peerwire_core::block::{
    bip34_height_prefix, check_block, find_commitment, merkle_root, witness_merkle_root, Block,
    BlockError, CheckOptions, Problem, TxReject, MAX_BLOCK_WEIGHT,
};
use peerwire_core::double_sha256;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

const GENESIS_HEX: &str = concat!(
    "01000000000000000000000000000000000000000000000000000000000000000000",
    "00003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a",
    "29ab5f49ffff001d1dac2b7c01010000000100000000000000000000000000000000",
    "00000000000000000000000000000000ffffffff4d04ffff001d0104455468652054",
    "696d65732030332f4a616e2f32303039204368616e63656c6c6f72206f6e20627269",
    "6e6b206f66207365636f6e64206261696c6f757420666f722062616e6b73ffffffff",
    "0100f2052a01000000434104678afdb0fe5548271967f1a67130b7105cd6a828e039",
    "09a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d57",
    "8a4c702b6bf11d5fac00000000",
);

const MAINNET_HASH: &str = "000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae";
static MAINNET: &[u8] = include_bytes!(
    "data/mainnet-702861-000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae.raw"
);
const TESTNET_HASH: &str = "000000000000045e0b1660b6445b5e5c5ab63c9a4f956be7e1e69be04fa4497b";
static TESTNET: &[u8] = include_bytes!(
    "data/testnet3-924634-000000000000045e0b1660b6445b5e5c5ab63c9a4f956be7e1e69be04fa4497b.raw"
);

// ---- helpers ----------------------------------------------------------------

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// A display-order (byte-reversed) hex hash as wire-order bytes.
fn hash_of(display: &str) -> [u8; 32] {
    let mut h: [u8; 32] = unhex(display).try_into().unwrap();
    h.reverse();
    h
}

fn display(hash: &[u8; 32]) -> String {
    hash.iter().rev().map(|b| format!("{b:02x}")).collect()
}

fn genesis() -> Vec<u8> {
    unhex(GENESIS_HEX)
}

fn expecting(hash: [u8; 32]) -> CheckOptions {
    CheckOptions {
        expected_hash: Some(hash),
        ..CheckOptions::default()
    }
}

fn reason(raw: &[u8], options: &CheckOptions) -> &'static str {
    match check_block(raw, options) {
        Ok(_) => "ok",
        Err(e) => e.reason(),
    }
}

fn header_hash(raw: &[u8]) -> [u8; 32] {
    double_sha256(&raw[..80])
}

/// Offset of `part` inside `whole` (both views of one buffer).
fn offset_in(whole: &[u8], part: &[u8]) -> usize {
    part.as_ptr() as usize - whole.as_ptr() as usize
}

fn compact(n: usize) -> Vec<u8> {
    match n {
        0..=0xfc => vec![n as u8],
        0xfd..=0xffff => [&[0xfd][..], &(n as u16).to_le_bytes()].concat(),
        _ => [&[0xfe][..], &(n as u32).to_le_bytes()].concat(),
    }
}

/// A block with the given header and transactions (serialized), the count
/// written canonically.
fn raw_block(header: &[u8], txs: &[&[u8]]) -> Vec<u8> {
    let mut raw = header[..80].to_vec();
    raw.extend(compact(txs.len()));
    for tx in txs {
        raw.extend_from_slice(tx);
    }
    raw
}

/// The transactions of a real block, as byte slices.
fn tx_bytes(raw: &[u8]) -> Vec<&[u8]> {
    Block::parse(raw)
        .unwrap()
        .txs()
        .map(|t| t.bytes())
        .collect()
}

// ---- an independent builder -------------------------------------------------

#[derive(Clone)]
struct TestIn {
    prevout: [u8; 36],
    script_sig: Vec<u8>,
}

#[derive(Clone)]
struct TestTx {
    inputs: Vec<TestIn>,
    outputs: Vec<(i64, Vec<u8>)>,
    /// One stack per input, or empty for none.
    witness: Vec<Vec<Vec<u8>>>,
}

const NULL_OUTPOINT: [u8; 36] = {
    let mut p = [0u8; 36];
    p[32] = 0xff;
    p[33] = 0xff;
    p[34] = 0xff;
    p[35] = 0xff;
    p
};

fn outpoint(txid: [u8; 32], index: u32) -> [u8; 36] {
    let mut p = [0u8; 36];
    p[..32].copy_from_slice(&txid);
    p[32..].copy_from_slice(&index.to_le_bytes());
    p
}

/// A P2WSH-shaped output script (what it commits to does not matter here).
fn p2wsh() -> Vec<u8> {
    [&[0x00, 0x20][..], &[0x11; 32]].concat()
}

impl TestTx {
    fn serialize(&self, with_witness: bool) -> Vec<u8> {
        let extended = with_witness && self.witness.iter().any(|s| !s.is_empty());
        let mut out = 2u32.to_le_bytes().to_vec();
        if extended {
            out.extend([0x00, 0x01]);
        }
        out.extend(compact(self.inputs.len()));
        for input in &self.inputs {
            out.extend(input.prevout);
            out.extend(compact(input.script_sig.len()));
            out.extend(&input.script_sig);
            out.extend(0xffff_fffeu32.to_le_bytes());
        }
        out.extend(compact(self.outputs.len()));
        for (value, script) in &self.outputs {
            out.extend(value.to_le_bytes());
            out.extend(compact(script.len()));
            out.extend(script);
        }
        if extended {
            for i in 0..self.inputs.len() {
                let stack = self.witness.get(i).cloned().unwrap_or_default();
                out.extend(compact(stack.len()));
                for item in stack {
                    out.extend(compact(item.len()));
                    out.extend(item);
                }
            }
        }
        out.extend(0u32.to_le_bytes());
        out
    }

    fn bytes(&self) -> Vec<u8> {
        self.serialize(true)
    }

    fn txid(&self) -> [u8; 32] {
        double_sha256(&self.serialize(false))
    }

    fn wtxid(&self) -> [u8; 32] {
        double_sha256(&self.serialize(true))
    }
}

const HEIGHT: u32 = 500_000;
const RESERVED: [u8; 32] = [0x5a; 32];

/// A coinbase for HEIGHT (500,000 = 0x07a120, pushed as 03 20 a1 07), with
/// RESERVED as its witness.
fn coinbase() -> TestTx {
    TestTx {
        inputs: vec![TestIn {
            prevout: NULL_OUTPOINT,
            script_sig: [&[0x03, 0x20, 0xa1, 0x07][..], b"peerwire"].concat(),
        }],
        outputs: vec![(50_0000_0000, vec![0x51])],
        witness: vec![vec![RESERVED.to_vec()]],
    }
}

/// Spends output `index` of `txid`, with or without a witness.
fn spend(txid: [u8; 32], index: u32, segwit: bool) -> TestTx {
    TestTx {
        inputs: vec![TestIn {
            prevout: outpoint(txid, index),
            script_sig: if segwit { vec![] } else { vec![0x51] },
        }],
        outputs: vec![(10_000, p2wsh()), (20_000, vec![0x51])],
        witness: if segwit {
            vec![vec![vec![0x51], vec![0xab; 72]]]
        } else {
            vec![]
        },
    }
}

/// Merkle root the plain way: pad odd levels, hash pairs, no mutation check.
fn naive_root(mut level: Vec<[u8; 32]>) -> [u8; 32] {
    if level.is_empty() {
        return [0; 32];
    }
    while level.len() > 1 {
        if level.len() % 2 == 1 {
            level.push(*level.last().unwrap());
        }
        level = level
            .chunks(2)
            .map(|p| double_sha256(&[p[0], p[1]].concat()))
            .collect();
    }
    level[0]
}

fn commitment_script(commitment: &[u8; 32]) -> Vec<u8> {
    [&[0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed][..], commitment].concat()
}

/// BIP 141's commitment for `txs` (the first a coinbase) and RESERVED.
fn commitment_for(txs: &[TestTx], reserved: &[u8; 32]) -> [u8; 32] {
    let mut leaves = vec![[0u8; 32]];
    leaves.extend(txs[1..].iter().map(TestTx::wtxid));
    double_sha256(&[naive_root(leaves), *reserved].concat())
}

/// Adds the right commitment output to the coinbase (`txs[0]`).
fn commit(txs: &mut [TestTx]) {
    let c = commitment_for(txs, &RESERVED);
    txs[0].outputs.push((0, commitment_script(&c)));
}

/// A header (regtest bits, time 1,700,000,000) for `txs`' merkle root,
/// followed by the transactions.
fn assemble(txs: &[TestTx]) -> Vec<u8> {
    let root = naive_root(txs.iter().map(TestTx::txid).collect());
    let mut header = 0x2000_0000u32.to_le_bytes().to_vec();
    header.extend([7u8; 32]);
    header.extend(root);
    header.extend(1_700_000_000u32.to_le_bytes());
    header.extend(0x207f_ffffu32.to_le_bytes());
    header.extend(0u32.to_le_bytes());
    let bytes: Vec<Vec<u8>> = txs.iter().map(TestTx::bytes).collect();
    raw_block(
        &header,
        &bytes.iter().map(Vec::as_slice).collect::<Vec<_>>(),
    )
}

/// Coinbase, two witness spends and a legacy one, committed.
fn segwit_txs() -> Vec<TestTx> {
    let mut txs = vec![coinbase()];
    let cb = txs[0].txid();
    txs.push(spend(cb, 0, true));
    txs.push(spend(txs[1].txid(), 0, false));
    txs.push(spend(txs[1].txid(), 1, true));
    commit(&mut txs);
    txs
}

fn segwit_block() -> Vec<u8> {
    assemble(&segwit_txs())
}

/// A block of `txs` without any witness data or commitment.
fn legacy_block(mut txs: Vec<TestTx>) -> Vec<u8> {
    for tx in &mut txs {
        tx.witness.clear();
    }
    assemble(&txs)
}

fn legacy_txs() -> Vec<TestTx> {
    let cb = coinbase();
    let a = spend(cb.txid(), 0, false);
    vec![cb, a]
}

// ---- real blocks --------------------------------------------------------------

#[test]
fn the_genesis_block_checks_out() {
    let raw = genesis();
    let hash = hash_of("000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f");
    let s = check_block(&raw, &expecting(hash)).unwrap();
    assert_eq!(s.hash, hash);
    assert_eq!(
        display(&s.txids[0]),
        "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
    );
    assert_eq!((s.tx_count, s.size, s.stripped_size), (1, 285, 285));
    assert_eq!(s.weight, 285 * 4);
    assert!(!s.has_witness && !s.witness_commitment);
    // One pay-to-pubkey output: one OP_CHECKSIG.
    assert_eq!(s.sigops, 1);
}

#[test]
fn the_genesis_file_the_fuzzers_use_is_the_genesis_block() {
    assert_eq!(
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/genesis-mainnet.raw"
        ))
        .unwrap(),
        genesis()
    );
}

#[test]
fn a_mainnet_segwit_block_checks_out() {
    let hash = hash_of(MAINNET_HASH);
    assert_eq!(header_hash(MAINNET), hash, "test data damaged");
    let options = CheckOptions {
        expected_hash: Some(hash),
        bip34_height: Some(702_861),
        segwit_active: true,
    };
    let s = check_block(MAINNET, &options).unwrap();
    // Sizes and txids as an independent parser (Python) computed them.
    assert_eq!(s.tx_count, 2500);
    assert_eq!((s.size, s.stripped_size), (1_381_836, 870_406));
    assert_eq!(s.weight, 3_993_054);
    assert!(s.has_witness && s.witness_commitment);
    assert_eq!(
        display(&s.txids[0]),
        "764b60c3d9a2c3c5bb6fe7141d9ca6e6778122df75f19366a2c5cb948d1d7d84"
    );
    assert_eq!(
        display(&s.txids[2499]),
        "2947daf667b1914a2f060e8cf10267ca1d056f0dab3ccb273da474f063b7f412"
    );
    let block = Block::parse(MAINNET).unwrap();
    assert_eq!(block.txs().filter(|t| t.has_witness()).count(), 2065);
    assert_eq!(block.weight(), s.weight);
}

#[test]
fn a_testnet_segwit_block_checks_out() {
    let hash = hash_of(TESTNET_HASH);
    assert_eq!(header_hash(TESTNET), hash, "test data damaged");
    let options = CheckOptions {
        expected_hash: Some(hash),
        bip34_height: Some(924_634),
        segwit_active: true,
    };
    let s = check_block(TESTNET, &options).unwrap();
    assert_eq!((s.tx_count, s.size, s.stripped_size), (15, 4319, 4283));
    assert_eq!(s.weight, 17_168);
    // Only the coinbase has witness data (its reserved value).
    assert!(s.has_witness && s.witness_commitment);
    assert_eq!(
        display(&s.txids[0]),
        "4be105f158ea44aec57bf12c5817d073a712ab131df6f37786872cfc70734188"
    );
}

#[test]
fn transactions_split_and_hash() {
    let block = Block::parse(MAINNET).unwrap();
    let total: usize = block.txs().map(|t| t.size()).sum();
    // 80-byte header, 3-byte count (fd c4 09), then the transactions back to back.
    assert_eq!(total, MAINNET.len() - 83);
    let mut at = 83;
    for tx in block.txs() {
        assert_eq!(offset_in(MAINNET, tx.bytes()), at);
        at += tx.size();
        assert_eq!(tx.inputs().count(), tx.input_count());
        assert_eq!(tx.outputs().count(), tx.output_count());
        let stacks = if tx.has_witness() {
            tx.input_count()
        } else {
            0
        };
        assert_eq!(tx.witnesses().count(), stacks);
        if !tx.has_witness() {
            assert_eq!(tx.txid(), tx.wtxid());
            assert_eq!(tx.size(), tx.stripped_size());
        } else {
            assert_ne!(tx.txid(), tx.wtxid());
        }
    }
    assert!(block.tx(0).unwrap().is_coinbase());
    assert!(block.txs().skip(1).all(|t| !t.is_coinbase()));
    assert!(block.tx(2500).is_none());
}

#[test]
fn the_commitment_helpers_agree_with_an_independent_computation() {
    let txs = segwit_txs();
    let raw = assemble(&txs);
    let block = Block::parse(&raw).unwrap();
    let expected = commitment_for(&txs, &RESERVED);
    let (index, found) = find_commitment(&block.tx(0).unwrap()).unwrap();
    assert_eq!((index, found), (1, expected));
    let mut leaves = vec![[0u8; 32]];
    leaves.extend(txs[1..].iter().map(TestTx::wtxid));
    assert_eq!(witness_merkle_root(&block), naive_root(leaves));
    let s = check_block(&raw, &CheckOptions::default()).unwrap();
    assert!(s.has_witness && s.witness_commitment);
    assert_eq!(s.txids, txs.iter().map(TestTx::txid).collect::<Vec<_>>());
    // Three witness transactions' markers, flags and stacks are not stripped bytes.
    assert!(s.stripped_size < s.size);
    assert_eq!(s.weight, s.stripped_size as u64 * 3 + s.size as u64);
    let (root, mutated) = merkle_root(s.txids.clone());
    assert_eq!(&root, block.header_merkle_root());
    assert!(!mutated);
}

// ---- the header --------------------------------------------------------------

#[test]
fn a_block_with_another_header_is_refused() {
    let other = hash_of(TESTNET_HASH);
    let err = check_block(&genesis(), &expecting(other)).unwrap_err();
    assert_eq!(err.reason(), "block-hash-mismatch");
    assert!(err.is_mutation());
}

#[test]
fn a_changed_transaction_breaks_the_merkle_root() {
    let mut raw = TESTNET.to_vec();
    let hash = header_hash(&raw);
    // The last byte of transaction 1's last output script.
    let tx = Block::parse(TESTNET).unwrap().tx(1).unwrap();
    let at = tx.layout().body_end as usize - 1;
    raw[at] ^= 1;
    let err = check_block(&raw, &expecting(hash)).unwrap_err();
    assert_eq!(err, BlockError::BadMerkleRoot);
    assert!(err.is_mutation());
    // And a header whose root was changed.
    let mut raw = genesis();
    raw[40] ^= 1;
    assert_eq!(reason(&raw, &CheckOptions::default()), "bad-txnmrklroot");
}

// ---- CVE-2012-2459 --------------------------------------------------------------

#[test]
fn a_repeated_last_transaction_is_caught_though_the_root_matches() {
    // 15 transactions: the last is paired with itself; sending it twice gives
    // the same tree, the same root and the same header.
    let txs = tx_bytes(TESTNET);
    assert_eq!(txs.len(), 15);
    let mut repeated = txs.clone();
    repeated.push(txs[14]);
    let raw = raw_block(TESTNET, &repeated);
    let block = Block::parse(&raw).unwrap();
    let txids: Vec<[u8; 32]> = block.txs().map(|t| t.txid()).collect();
    let (root, mutated) = merkle_root(txids);
    assert_eq!(&root, block.header_merkle_root());
    assert!(mutated);
    let err = check_block(&raw, &expecting(hash_of(TESTNET_HASH))).unwrap_err();
    assert_eq!(err, BlockError::DuplicateTx);
    assert!(err.is_mutation());
}

#[test]
fn a_repeated_run_of_transactions_higher_in_the_tree_is_caught() {
    // 2,500 leaves → 1,250 → 625: the third level pairs its last node (the
    // last four transactions) with itself. Repeating those four gives 2,504
    // transactions and the same root.
    let txs = tx_bytes(MAINNET);
    let mut repeated = txs.clone();
    repeated.extend_from_slice(&txs[2496..]);
    let raw = raw_block(MAINNET, &repeated);
    let block = Block::parse(&raw).unwrap();
    let (root, _) = merkle_root(block.txs().map(|t| t.txid()).collect());
    assert_eq!(&root, block.header_merkle_root());
    assert_eq!(
        reason(&raw, &expecting(hash_of(MAINNET_HASH))),
        "bad-txns-duplicate"
    );
}

#[test]
fn a_constructed_duplicate_is_caught() {
    // Coinbase and two spends, committed; then the last spend sent twice:
    // [cb a b] is padded to [cb a b b], so the header stays the same.
    let mut three = segwit_txs();
    three.truncate(3);
    three[0].outputs.truncate(1);
    commit(&mut three);
    let root = naive_root(three.iter().map(TestTx::txid).collect());
    let mut four = three.clone();
    four.push(three[2].clone());
    let raw = assemble(&four);
    assert_eq!(raw[36..68], root);
    assert_eq!(reason(&assemble(&three), &CheckOptions::default()), "ok");
    assert_eq!(reason(&raw, &CheckOptions::default()), "bad-txns-duplicate");
}

// ---- witness commitment -----------------------------------------------------------

#[test]
fn a_changed_witness_breaks_the_commitment_not_the_header() {
    // A non-coinbase witness transaction of the mainnet block: change one
    // byte of its first witness item. Header and txids are unchanged.
    let block = Block::parse(MAINNET).unwrap();
    let tx = block.txs().skip(1).find(|t| t.has_witness()).unwrap();
    let item = tx
        .witnesses()
        .find_map(|stack| stack.items().find(|i| !i.is_empty()))
        .unwrap();
    let at = offset_in(MAINNET, item);
    let mut raw = MAINNET.to_vec();
    raw[at] ^= 0x80;
    let err = check_block(&raw, &expecting(hash_of(MAINNET_HASH))).unwrap_err();
    assert_eq!(err, BlockError::WitnessMerkleMatch);
    assert!(err.is_mutation());
}

#[test]
fn a_changed_reserved_value_breaks_the_commitment() {
    let block = Block::parse(TESTNET).unwrap();
    let coinbase = block.tx(0).unwrap();
    let reserved = coinbase.witnesses().next().unwrap().items().next().unwrap();
    assert_eq!(reserved.len(), 32);
    let at = offset_in(TESTNET, reserved);
    let mut raw = TESTNET.to_vec();
    raw[at] ^= 1;
    assert_eq!(
        reason(&raw, &expecting(hash_of(TESTNET_HASH))),
        "bad-witness-merkle-match"
    );
}

#[test]
fn witness_data_without_a_commitment_is_unexpected() {
    let mut txs = segwit_txs();
    txs[0].outputs.truncate(1); // drop the commitment
    let err = check_block(&assemble(&txs), &CheckOptions::default()).unwrap_err();
    // The coinbase's own reserved value is the first witness data.
    assert_eq!(err, BlockError::UnexpectedWitness { index: 0 });
    txs[0].witness.clear();
    let err = check_block(&assemble(&txs), &CheckOptions::default()).unwrap_err();
    assert_eq!(err, BlockError::UnexpectedWitness { index: 1 });
    assert!(err.is_mutation());
}

#[test]
fn before_segwit_no_witness_data_is_allowed_and_commitments_are_ignored() {
    let inactive = CheckOptions {
        segwit_active: false,
        ..CheckOptions::default()
    };
    assert_eq!(reason(&segwit_block(), &inactive), "unexpected-witness");
    // A commitment-shaped output with nothing behind it means nothing then.
    let mut txs = legacy_txs();
    txs[0].outputs.push((0, commitment_script(&[9; 32])));
    let raw = legacy_block(txs);
    assert_eq!(reason(&raw, &inactive), "ok");
    // With segwit active it is a commitment, and the coinbase has no reserved value.
    assert_eq!(
        reason(&raw, &CheckOptions::default()),
        "bad-witness-nonce-size"
    );
}

#[test]
fn the_reserved_value_must_be_one_32_byte_item() {
    for stack in [
        vec![vec![0x5a; 31]],
        vec![vec![0x5a; 33]],
        vec![RESERVED.to_vec(), RESERVED.to_vec()],
        vec![],
    ] {
        let mut txs = segwit_txs();
        txs[0].witness = vec![stack];
        // Keep the block's other witnesses: the commitment stays present.
        let raw = assemble(&txs);
        assert_eq!(
            reason(&raw, &CheckOptions::default()),
            "bad-witness-nonce-size"
        );
    }
}

#[test]
fn the_last_commitment_output_is_the_one_that_counts() {
    let mut txs = segwit_txs();
    let right = txs[0].outputs.pop().unwrap();
    let wrong = (0, commitment_script(&[0xee; 32]));
    // Right one last: ok.
    txs[0].outputs.push(wrong.clone());
    txs[0].outputs.push(right.clone());
    assert_eq!(reason(&assemble(&txs), &CheckOptions::default()), "ok");
    // Right one first, a wrong one after it: refused.
    txs[0].outputs.truncate(1);
    txs[0].outputs.push(right);
    txs[0].outputs.push(wrong);
    assert_eq!(
        reason(&assemble(&txs), &CheckOptions::default()),
        "bad-witness-merkle-match"
    );
}

#[test]
fn a_commitment_with_extra_bytes_counts_and_a_short_one_does_not() {
    let mut txs = segwit_txs();
    let (_, mut script) = txs[0].outputs.pop().unwrap();
    script.extend(b"more");
    txs[0].outputs.push((0, script.clone()));
    assert_eq!(reason(&assemble(&txs), &CheckOptions::default()), "ok");
    script.truncate(37);
    txs[0].outputs.pop();
    txs[0].outputs.push((0, script));
    assert_eq!(
        reason(&assemble(&txs), &CheckOptions::default()),
        "unexpected-witness"
    );
}

// ---- coinbase --------------------------------------------------------------------

#[test]
fn the_first_transaction_and_only_it_is_a_coinbase() {
    let mut txs = legacy_txs();
    let mut second = coinbase();
    second.inputs[0].script_sig = vec![0x51, 0x52];
    txs.push(second);
    let err = check_block(&legacy_block(txs), &CheckOptions::default()).unwrap_err();
    assert_eq!(err, BlockError::CoinbaseMultiple { index: 2 });
    assert!(!err.is_mutation());

    let txs = legacy_txs();
    let err = check_block(&legacy_block(txs[1..].to_vec()), &CheckOptions::default()).unwrap_err();
    assert_eq!(
        err,
        BlockError::CoinbaseMissing {
            has_64_byte_tx: false
        }
    );
    assert!(!err.is_mutation());
    // A coinbase with two inputs is not a coinbase.
    let mut txs = legacy_txs();
    txs[0].inputs.push(TestIn {
        prevout: outpoint([3; 32], 0),
        script_sig: vec![],
    });
    assert_eq!(
        reason(&legacy_block(txs), &CheckOptions::default()),
        "bad-cb-missing"
    );
}

#[test]
fn a_64_byte_transaction_without_a_coinbase_counts_as_a_mutation() {
    // 4 + 1 + 41 (empty scriptSig) + 1 + 9 + 4 = 60; a 4-byte output script
    // makes it 64 bytes: the size of an inner merkle node.
    let tx = TestTx {
        inputs: vec![TestIn {
            prevout: outpoint([1; 32], 0),
            script_sig: vec![],
        }],
        outputs: vec![(1, vec![0x51; 4])],
        witness: vec![],
    };
    assert_eq!(tx.serialize(false).len(), 64);
    let err = check_block(&assemble(&[tx]), &CheckOptions::default()).unwrap_err();
    assert_eq!(
        err,
        BlockError::CoinbaseMissing {
            has_64_byte_tx: true
        }
    );
    assert!(err.is_mutation());
}

#[test]
fn the_coinbase_script_is_2_to_100_bytes() {
    for (len, expected) in [
        (1, "bad-cb-length"),
        (2, "ok"),
        (100, "ok"),
        (101, "bad-cb-length"),
    ] {
        let mut txs = legacy_txs();
        txs[0].inputs[0].script_sig = vec![0x51; len];
        let r = reason(&legacy_block(txs), &CheckOptions::default());
        assert_eq!(r, expected, "scriptSig of {len} bytes");
    }
}

#[test]
fn bip34_puts_the_height_first_in_the_coinbase() {
    let raw = legacy_block(legacy_txs());
    let at = |h| CheckOptions {
        bip34_height: Some(h),
        ..CheckOptions::default()
    };
    assert_eq!(bip34_height_prefix(HEIGHT), [0x03, 0x20, 0xa1, 0x07]);
    assert_eq!(reason(&raw, &at(HEIGHT)), "ok");
    assert_eq!(reason(&raw, &at(HEIGHT + 1)), "bad-cb-height");
    assert_eq!(reason(&raw, &at(1)), "bad-cb-height");
    assert!(!check_block(&raw, &at(7)).unwrap_err().is_mutation());
}

// ---- sizes -------------------------------------------------------------------------

#[test]
fn a_block_without_transactions_is_refused() {
    let mut raw = genesis()[..80].to_vec();
    raw[36..68].fill(0); // the root of nothing
    raw.push(0);
    assert_eq!(reason(&raw, &CheckOptions::default()), "bad-blk-length");
}

#[test]
fn more_than_a_million_stripped_bytes_is_bad_length() {
    let mut txs = legacy_txs();
    txs[1].outputs[0].1 = vec![0x6a; 1_000_000];
    assert_eq!(
        reason(&legacy_block(txs), &CheckOptions::default()),
        "bad-blk-length"
    );
}

#[test]
fn more_than_four_million_weight_units_is_bad_weight() {
    // 4 MB of witness and little else: within the stripped-size limit, over
    // the weight limit (weight = 4 × stripped + witness bytes).
    let mut txs = segwit_txs();
    txs[1].witness[0].push(vec![0x00; 4_000_000]);
    txs[0].outputs.truncate(1);
    commit(&mut txs);
    let raw = assemble(&txs);
    let err = check_block(&raw, &CheckOptions::default()).unwrap_err();
    let BlockError::BadWeight { weight } = err else {
        panic!("{err}");
    };
    assert!(weight > MAX_BLOCK_WEIGHT);
    assert!(!err.is_mutation());
    // Just under the limit passes.
    let mut txs = segwit_txs();
    let stripped = Block::parse(&segwit_block()).unwrap().stripped_size();
    let room = MAX_BLOCK_WEIGHT as usize - stripped * 4 - 4000;
    txs[1].witness[0].push(vec![0x00; room]);
    txs[0].outputs.truncate(1);
    commit(&mut txs);
    let s = check_block(&assemble(&txs), &CheckOptions::default()).unwrap();
    assert!(s.weight <= MAX_BLOCK_WEIGHT && s.weight > MAX_BLOCK_WEIGHT - 5000);
}

#[test]
fn more_than_twenty_thousand_legacy_sigops_is_refused() {
    // The coinbase has none; the spend has n in an output and 2 in its scriptSig.
    for (n, expected) in [(19_998, "ok"), (19_999, "bad-blk-sigops")] {
        let mut txs = legacy_txs();
        txs[1].outputs[0].1 = vec![0xac; n];
        txs[1].inputs[0].script_sig = vec![0xac, 0xac];
        let r = reason(&legacy_block(txs), &CheckOptions::default());
        assert_eq!(r, expected, "{} sigops", n + 2);
    }
}

// ---- CheckTransaction ----------------------------------------------------------------

fn tx_reason(mutate: impl FnOnce(&mut TestTx)) -> &'static str {
    let mut txs = legacy_txs();
    mutate(&mut txs[1]);
    reason(&legacy_block(txs), &CheckOptions::default())
}

#[test]
fn each_transaction_passes_check_transaction() {
    assert_eq!(tx_reason(|_| {}), "ok");
    assert_eq!(tx_reason(|t| t.outputs.clear()), "bad-txns-vout-empty");
    assert_eq!(tx_reason(|t| t.outputs[0].0 = -1), "bad-txns-vout-negative");
    assert_eq!(
        tx_reason(|t| t.outputs[0].0 = 21_000_000 * 100_000_000 + 1),
        "bad-txns-vout-toolarge"
    );
    assert_eq!(
        tx_reason(|t| {
            t.outputs[0].0 = 21_000_000 * 100_000_000;
            t.outputs[1].0 = 1;
        }),
        "bad-txns-txouttotal-toolarge"
    );
    assert_eq!(
        tx_reason(|t| t.inputs.push(t.inputs[0].clone())),
        "bad-txns-inputs-duplicate"
    );
    assert_eq!(
        tx_reason(|t| t.inputs.push(TestIn {
            prevout: NULL_OUTPOINT,
            script_sig: vec![0x51, 0x51],
        })),
        "bad-txns-prevout-null"
    );
    // No inputs and no outputs: Core's "flag 0" form (version 00 00 locktime).
    assert_eq!(
        tx_reason(|t| {
            t.inputs.clear();
            t.outputs.clear();
        }),
        "bad-txns-vin-empty"
    );
    let err = check_block(
        &legacy_block({
            let mut txs = legacy_txs();
            txs[1].outputs.clear();
            txs
        }),
        &CheckOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        BlockError::BadTx {
            index: 1,
            reject: TxReject::VoutEmpty
        }
    );
    assert!(!err.is_mutation());
}

// ---- hostile bytes ---------------------------------------------------------------------

fn parse_problem(raw: &[u8]) -> Problem {
    match check_block(raw, &CheckOptions::default()) {
        Err(BlockError::Malformed(e)) => {
            assert!(e.offset <= raw.len(), "{e}");
            e.problem
        }
        other => panic!("not a parse error: {other:?}"),
    }
}

#[test]
fn every_truncation_is_a_parse_error() {
    for raw in [genesis(), TESTNET.to_vec(), segwit_block()] {
        for len in 0..raw.len() {
            let problem = parse_problem(&raw[..len]);
            assert!(
                matches!(
                    problem,
                    Problem::Truncated { .. } | Problem::CountExceedsData { .. }
                ),
                "cut at {len}: {problem:?}"
            );
        }
    }
    // The big block at a prime stride, and right at its end.
    for len in (0..MAINNET.len()).step_by(997).chain([MAINNET.len() - 1]) {
        parse_problem(&MAINNET[..len]);
    }
}

#[test]
fn trailing_bytes_are_refused() {
    let mut raw = genesis();
    raw.push(0);
    assert_eq!(parse_problem(&raw), Problem::TrailingBytes(1));
    let mut raw = TESTNET.to_vec();
    raw.extend([0xde, 0xad]);
    assert_eq!(parse_problem(&raw), Problem::TrailingBytes(2));
}

#[test]
fn non_canonical_counts_are_refused() {
    // The genesis block's count (01) written as fd 01 00.
    let raw = genesis();
    let long = [&raw[..80], &[0xfd, 0x01, 0x00], &raw[81..]].concat();
    assert!(matches!(
        parse_problem(&long),
        Problem::NonCanonicalSize { value: 1, .. }
    ));
}

#[test]
fn extended_serialization_rules() {
    // Flag 2 after the marker.
    let mut txs = segwit_txs();
    let raw = assemble(&txs);
    let block = Block::parse(&raw).unwrap();
    let flag_at = block.tx(1).unwrap().layout().start as usize + 5;
    assert_eq!(raw[flag_at], 1);
    let mut bad = raw.clone();
    bad[flag_at] = 2;
    assert_eq!(parse_problem(&bad), Problem::UnknownTxFlag(2));
    // Marker and flag with every stack empty: Core's "superfluous witness record".
    txs[2].witness = vec![vec![]];
    let mut bytes = txs[2].serialize(false);
    bytes.splice(4..4, [0x00, 0x01]);
    let at = bytes.len() - 4;
    bytes.insert(at, 0x00); // one empty stack
    let others: Vec<Vec<u8>> = txs.iter().map(TestTx::bytes).collect();
    let raw = raw_block(
        &assemble(&txs),
        &[&others[0], &others[1], &bytes, &others[3]],
    );
    assert_eq!(parse_problem(&raw), Problem::SuperfluousWitness);
}

// ---- memory: counts are never trusted ------------------------------------------------

/// Counts this thread's heap allocations and its peak live bytes.
struct PeakAlloc;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = (live.get() as isize + delta).max(0) as usize;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

// SAFETY: forwards every call to the system allocator unchanged.
unsafe impl GlobalAlloc for PeakAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        track(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            track(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: PeakAlloc = PeakAlloc;

/// Peak heap bytes `f` adds on this thread.
fn peak_of(f: impl FnOnce()) -> usize {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    f();
    PEAK.with(Cell::get) - base
}

#[test]
fn huge_claimed_counts_allocate_nothing() {
    let header = &genesis()[..80];
    let coinbase_start = &genesis()[81..86]; // version and input count
    let cases: Vec<(&str, Vec<u8>)> = vec![
        // 33,554,432 transactions (the largest CompactSize allowed), no bytes.
        (
            "tx count",
            [header, &[0xfe, 0x00, 0x00, 0x00, 0x02]].concat(),
        ),
        ("tx count u64", [header, &[0xff; 9]].concat()),
        // One transaction claiming 2^25 inputs.
        (
            "input count",
            [
                header,
                &[0x01],
                &2u32.to_le_bytes(),
                &[0xfe, 0x00, 0x00, 0x00, 0x02],
            ]
            .concat(),
        ),
        // A 33 MB scriptSig.
        (
            "script length",
            [
                header,
                &[0x01],
                coinbase_start,
                &NULL_OUTPOINT,
                &[0xfe, 0x00, 0x00, 0x00, 0x02],
            ]
            .concat(),
        ),
        // 2^25 witness items on a segwit transaction.
        ("witness items", {
            let txs = segwit_txs();
            let raw = assemble(&txs);
            let tx = Block::parse(&raw).unwrap().tx(1).unwrap();
            let at = tx.layout().body_end as usize;
            [&raw[..at], &[0xfe, 0x00, 0x00, 0x00, 0x02], &[0u8; 16]].concat()
        }),
    ];
    for (name, raw) in cases {
        let mut result = None;
        let peak = peak_of(|| result = Some(check_block(&raw, &CheckOptions::default())));
        let problem = match result.unwrap() {
            Err(BlockError::Malformed(e)) => e.problem,
            other => panic!("{name}: {other:?}"),
        };
        assert!(
            matches!(
                problem,
                Problem::CountExceedsData { .. } | Problem::SizeTooLarge { .. }
            ),
            "{name}: {problem:?}"
        );
        assert!(peak < 4096, "{name}: {peak} bytes allocated");
    }
}

#[test]
fn memory_follows_the_bytes_given() {
    // A real block: the layouts cost well under the block's own size.
    let peak = peak_of(|| {
        Block::parse(MAINNET).unwrap();
    });
    assert!(peak < MAINNET.len() / 10, "{peak} bytes to parse");
}

// ---- random mutations ------------------------------------------------------------------

/// xorshift64*: a fixed-seed generator, so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One to four random edits: flip a bit, set a byte, insert, delete, cut,
/// or write a large CompactSize marker.
fn mutate(rng: &mut Rng, raw: &[u8]) -> Vec<u8> {
    let mut m = raw.to_vec();
    for _ in 0..1 + rng.below(4) {
        if m.is_empty() {
            break;
        }
        let at = rng.below(m.len());
        match rng.below(6) {
            0 => m[at] ^= 1 << rng.below(8),
            1 => m[at] = rng.next() as u8,
            2 => m.insert(at, rng.next() as u8),
            3 => {
                m.remove(at);
            }
            4 => m.truncate(at),
            _ => m[at] = [0x00, 0x01, 0xfc, 0xfd, 0xfe, 0xff][rng.below(6)],
        }
    }
    m
}

/// Reads everything the views offer; the count keeps it from being optimised out.
fn walk(block: &Block) -> usize {
    let mut n = 0;
    for tx in block.txs() {
        n += (tx.txid()[0] ^ tx.wtxid()[0]) as usize + tx.stripped_size();
        n += tx.inputs().map(|i| i.script_sig.len()).sum::<usize>();
        n += tx.outputs().map(|o| o.script_pubkey.len()).sum::<usize>();
        for stack in tx.witnesses() {
            n += stack.items().map(<[u8]>::len).sum::<usize>();
        }
    }
    n + block.weight() as usize
}

/// No edit of a valid block's bytes may pass as that block: with its hash
/// expected, anything but the original bytes must fail. And no input panics.
fn no_mutation_passes(raw: &[u8], options: CheckOptions, rounds: usize, seed: u64) {
    check_block(raw, &options).expect("the original passes");
    let mut rng = Rng(seed);
    for round in 0..rounds {
        let m = mutate(&mut rng, raw);
        let result = std::panic::catch_unwind(|| check_block(&m, &options));
        let result = result.unwrap_or_else(|_| panic!("round {round}: panicked"));
        if m != raw {
            assert!(result.is_err(), "round {round}: a changed block passed");
        }
        // And the parser and every view of what it accepts never panic.
        if let Ok(block) = Block::parse(&m) {
            walk(&block);
        }
    }
}

#[test]
fn random_edits_never_pass_and_never_panic() {
    let genesis = genesis();
    let gh = header_hash(&genesis);
    no_mutation_passes(&genesis, expecting(gh), 3000, 1);
    no_mutation_passes(TESTNET, expecting(hash_of(TESTNET_HASH)), 3000, 2);
    let built = segwit_block();
    let bh = header_hash(&built);
    no_mutation_passes(&built, expecting(bh), 3000, 3);
    no_mutation_passes(MAINNET, expecting(hash_of(MAINNET_HASH)), 40, 4);
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(5);
    for _ in 0..3000 {
        let len = rng.below(400);
        let mut raw: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Mostly small counts, so parsing gets past the header sometimes.
        if raw.len() > 81 {
            raw[80] = rng.below(4) as u8;
        }
        let _ = check_block(&raw, &CheckOptions::default());
    }
}
