//! The whole check of a block against its header: Bitcoin Core's `CheckBlock`
//! and the parts of `ContextualCheckBlock` that need only the block's height
//! and whether segwit is active.
//!
//! Not checked here (they need the header chain or the coins): proof of work
//! and the header's own rules (the header chain checks those before a block
//! is asked for; `expected_hash` ties the block to that header), lock-time
//! finality ("bad-txns-nonfinal", which needs the median time past), scripts,
//! spent coins, amounts against inputs and the coinbase's reward.

use super::error::BlockError;
use super::merkle::merkle_root;
use super::parse::Block;
use super::sigops::{tx_sigops, MAX_BLOCK_SIGOPS_COST};
use super::tx_check::check_transaction;
use super::witness::check_witness_commitment;
use super::{MAX_BLOCK_WEIGHT, WITNESS_SCALE_FACTOR};

/// What the caller knows about the block it expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckOptions {
    /// The block hash the header chain has for it (wire order): a block with
    /// another header is refused ("block-hash-mismatch") before any hashing
    /// of transactions.
    pub expected_hash: Option<[u8; 32]>,
    /// The block's height, when BIP 34 applies at it (mainnet from 227,931;
    /// regtest from 1): the coinbase's scriptSig must start with it.
    pub bip34_height: Option<u32>,
    /// Whether segwit is active at the block (mainnet from 481,824; from the
    /// start on regtest, signet and testnet4). When active, a witness
    /// commitment present in the coinbase is checked; either way, witness data
    /// without a checked commitment is refused. Defaults to true: a block
    /// from before activation whose coinbase happens to hold a
    /// commitment-shaped output would be checked against it.
    pub segwit_active: bool,
}

impl Default for CheckOptions {
    fn default() -> Self {
        Self {
            expected_hash: None,
            bip34_height: None,
            segwit_active: true,
        }
    }
}

/// Facts about a block that passed [`check_block`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockSummary {
    /// Block hash (wire order).
    pub hash: [u8; 32],
    pub tx_count: usize,
    /// Serialized size, with witness data.
    pub size: usize,
    /// Serialized size without witness data.
    pub stripped_size: usize,
    /// BIP 141 weight.
    pub weight: u64,
    /// Some transaction carries witness data.
    pub has_witness: bool,
    /// The coinbase holds a witness commitment, and it was checked.
    pub witness_commitment: bool,
    /// Legacy sigops (as limited by Core's CheckBlock).
    pub sigops: u64,
    /// Transaction ids, in block order (wire order).
    pub txids: Vec<[u8; 32]>,
}

/// Parses and checks `raw` as a block; see [`check_parsed`].
pub fn check_block(raw: &[u8], options: &CheckOptions) -> Result<BlockSummary, BlockError> {
    let block = Block::parse(raw)?;
    check_parsed(&block, options)
}

/// Checks a parsed block, in Bitcoin Core's order, so the first failure has
/// the reason Core would give:
///
/// 1. the header is the expected one (ours; Core finds blocks by hash);
/// 2. the merkle root of the txids is the header's ("bad-txnmrklroot") and no
///    level of the tree repeats a pair ("bad-txns-duplicate");
/// 3. at least one transaction, at most 1,000,000 of them, at most 1,000,000
///    bytes without witness ("bad-blk-length");
/// 4. the first transaction and only it is a coinbase ("bad-cb-missing",
///    "bad-cb-multiple");
/// 5. each transaction passes `CheckTransaction` (its own reason);
/// 6. at most 20,000 legacy sigops ("bad-blk-sigops");
/// 7. with `bip34_height`, the coinbase starts with the height ("bad-cb-height");
/// 8. the witness commitment, when one is expected and present, and no
///    witness data without one ("bad-witness-nonce-size",
///    "bad-witness-merkle-match", "unexpected-witness");
/// 9. weight at most 4,000,000 ("bad-blk-weight").
///
/// Cost: a 4 MB block is hashed about twice over (txids, then wtxids of the
/// witness transactions), a few milliseconds with SHA extensions.
pub fn check_parsed(block: &Block, options: &CheckOptions) -> Result<BlockSummary, BlockError> {
    let hash = block.hash();
    if let Some(expected) = options.expected_hash {
        if hash != expected {
            return Err(BlockError::HashMismatch {
                expected,
                actual: hash,
            });
        }
    }

    let txids: Vec<[u8; 32]> = block.txs().map(|tx| tx.txid()).collect();
    let (root, mutated) = merkle_root(txids.clone());
    if &root != block.header_merkle_root() {
        return Err(BlockError::BadMerkleRoot);
    }
    if mutated {
        return Err(BlockError::DuplicateTx);
    }

    let stripped_size = block.stripped_size();
    if block.tx_count() == 0
        || block.tx_count() as u64 * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT
        || stripped_size as u64 * WITNESS_SCALE_FACTOR > MAX_BLOCK_WEIGHT
    {
        return Err(BlockError::BadLength);
    }

    let mut txs = block.txs();
    let coinbase = txs.next().filter(|tx| tx.is_coinbase());
    let Some(coinbase) = coinbase else {
        let has_64_byte_tx = block.txs().any(|tx| tx.stripped_size() == 64);
        return Err(BlockError::CoinbaseMissing { has_64_byte_tx });
    };
    if let Some(index) = txs.position(|tx| tx.is_coinbase()) {
        return Err(BlockError::CoinbaseMultiple { index: index + 1 });
    }

    let mut scratch = Vec::new();
    let mut sigops = 0;
    for (index, tx) in block.txs().enumerate() {
        check_transaction(&tx, &mut scratch)
            .map_err(|reject| BlockError::BadTx { index, reject })?;
        sigops += tx_sigops(&tx);
    }
    if sigops * WITNESS_SCALE_FACTOR > MAX_BLOCK_SIGOPS_COST {
        return Err(BlockError::BadSigops { count: sigops });
    }

    if let Some(height) = options.bip34_height {
        let expected = bip34_height_prefix(height);
        let script = coinbase.inputs().next().map_or(&[][..], |i| i.script_sig);
        if !script.starts_with(&expected) {
            return Err(BlockError::BadCoinbaseHeight { height });
        }
    }

    let witness_commitment = check_witness_commitment(block, &txids, options.segwit_active)?;

    let weight = block.weight();
    if weight > MAX_BLOCK_WEIGHT {
        return Err(BlockError::BadWeight { weight });
    }

    Ok(BlockSummary {
        hash,
        tx_count: block.tx_count(),
        size: block.size(),
        stripped_size,
        weight,
        has_witness: block.has_witness(),
        witness_commitment,
        sigops,
        txids,
    })
}

/// How BIP 34 puts a height at the start of a coinbase's scriptSig: the
/// script `<height>` as Core builds it (`CScript() << height`): OP_0 for 0,
/// OP_1..OP_16 for 1 to 16, otherwise a push of the minimal little-endian
/// number (with a 0x00 byte added when the top bit would read as a sign).
pub fn bip34_height_prefix(height: u32) -> Vec<u8> {
    match height {
        0 => vec![0x00],
        1..=16 => vec![0x50 + height as u8],
        _ => {
            let mut num: Vec<u8> = height.to_le_bytes().to_vec();
            while num.last() == Some(&0) {
                num.pop();
            }
            if num.last().is_some_and(|b| b & 0x80 != 0) {
                num.push(0);
            }
            let mut script = vec![num.len() as u8];
            script.extend(num);
            script
        }
    }
}

#[cfg(test)]
mod tests {
    use super::bip34_height_prefix;

    #[test]
    fn bip34_heights_are_pushed_as_core_pushes_them() {
        assert_eq!(bip34_height_prefix(0), [0x00]);
        assert_eq!(bip34_height_prefix(1), [0x51]);
        assert_eq!(bip34_height_prefix(16), [0x60]);
        assert_eq!(bip34_height_prefix(17), [0x01, 0x11]);
        assert_eq!(bip34_height_prefix(128), [0x02, 0x80, 0x00]);
        assert_eq!(bip34_height_prefix(255), [0x02, 0xff, 0x00]);
        assert_eq!(bip34_height_prefix(256), [0x02, 0x00, 0x01]);
        // Mainnet's BIP 34 activation height, as its coinbase has it.
        assert_eq!(bip34_height_prefix(227_931), [0x03, 0x5b, 0x7a, 0x03]);
    }
}
