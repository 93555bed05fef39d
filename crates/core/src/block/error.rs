//! Why a block was refused, named as Bitcoin Core names it.
//!
//! [`BlockError::reason`] is the reject reason Core's `BlockValidationState`
//! carries for the same failure ("bad-txnmrklroot", "bad-blk-weight", ...), so
//! logs and peers' reports line up. Two reasons are ours, for failures Core
//! meets elsewhere: `malformed-block` (bytes that do not deserialize; Core's
//! network code logs the stream exception and has no reason string) and
//! `block-hash-mismatch` (Core looks blocks up by hash and never compares).

use std::fmt;

/// Bytes that are not a block's serialization, and where they stop being one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Offset into the raw block where the offending item starts.
    pub offset: usize,
    pub problem: Problem,
}

/// What is wrong at [`ParseError::offset`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Fewer bytes are left than the item needs.
    Truncated {
        what: &'static str,
        needed: usize,
        available: usize,
    },
    /// A CompactSize in a longer form than its value needs.
    NonCanonicalSize { what: &'static str, value: u64 },
    /// A CompactSize above 32 MiB (Core's `MAX_SIZE`).
    SizeTooLarge { what: &'static str, value: u64 },
    /// A count of items that cannot fit in the bytes left.
    CountExceedsData {
        what: &'static str,
        count: usize,
        available: usize,
    },
    /// An extended (BIP 144) transaction whose flag byte is not 1.
    UnknownTxFlag(u8),
    /// The witness flag is set but every input's witness stack is empty
    /// (Core: "Superfluous witness record").
    SuperfluousWitness,
    /// Bytes after the last transaction.
    TrailingBytes(usize),
    /// More than 4 GiB: offsets are kept in 32 bits, and no valid block comes
    /// within a thousand times of that.
    TooLarge(usize),
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: ", self.offset)?;
        match &self.problem {
            Problem::Truncated {
                what,
                needed,
                available,
            } => write!(f, "{what} needs {needed} bytes, {available} left"),
            Problem::NonCanonicalSize { what, value } => {
                write!(f, "{what}: non-canonical CompactSize for {value}")
            }
            Problem::SizeTooLarge { what, value } => {
                write!(f, "{what}: CompactSize {value} exceeds 33554432")
            }
            Problem::CountExceedsData {
                what,
                count,
                available,
            } => write!(
                f,
                "{what}: {count} cannot fit in the {available} bytes left"
            ),
            Problem::UnknownTxFlag(flag) => write!(f, "transaction flag {flag:#04x} is not 0x01"),
            Problem::SuperfluousWitness => {
                write!(f, "witness flag set but every witness stack is empty")
            }
            Problem::TrailingBytes(n) => write!(f, "{n} bytes after the last transaction"),
            Problem::TooLarge(n) => write!(f, "{n} bytes is more than 4 GiB"),
        }
    }
}

impl std::error::Error for ParseError {}

/// A transaction failing Core's context-free `CheckTransaction`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TxReject {
    /// No inputs.
    VinEmpty,
    /// No outputs.
    VoutEmpty,
    /// Its serialization without witness, times 4, exceeds the block weight limit.
    Oversize,
    /// An output's value is negative.
    VoutNegative,
    /// An output's value exceeds 21 million coins.
    VoutTooLarge,
    /// The outputs' values add up to more than 21 million coins.
    TxOutTotalTooLarge,
    /// Two inputs spend the same output.
    InputsDuplicate,
    /// A coinbase's scriptSig is shorter than 2 or longer than 100 bytes.
    CoinbaseLength,
    /// An input of a transaction other than a coinbase spends the null outpoint.
    PrevoutNull,
}

impl TxReject {
    /// Bitcoin Core's reject reason.
    pub fn reason(self) -> &'static str {
        match self {
            TxReject::VinEmpty => "bad-txns-vin-empty",
            TxReject::VoutEmpty => "bad-txns-vout-empty",
            TxReject::Oversize => "bad-txns-oversize",
            TxReject::VoutNegative => "bad-txns-vout-negative",
            TxReject::VoutTooLarge => "bad-txns-vout-toolarge",
            TxReject::TxOutTotalTooLarge => "bad-txns-txouttotal-toolarge",
            TxReject::InputsDuplicate => "bad-txns-inputs-duplicate",
            TxReject::CoinbaseLength => "bad-cb-length",
            TxReject::PrevoutNull => "bad-txns-prevout-null",
        }
    }
}

/// A block that failed [`check_block`](super::check_block).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockError {
    /// Not a block's serialization.
    Malformed(ParseError),
    /// Its header is not the one asked for.
    HashMismatch {
        expected: [u8; 32],
        actual: [u8; 32],
    },
    /// The transactions' merkle root is not the header's.
    BadMerkleRoot,
    /// The merkle tree has two identical sibling hashes: a transaction list
    /// repeated to give the same root as a valid block (CVE-2012-2459).
    DuplicateTx,
    /// No transactions, or too many (4 weight units each) or too many
    /// non-witness bytes for the weight limit.
    BadLength,
    /// The first transaction is not a coinbase. `has_64_byte_tx` tells that
    /// some transaction's non-witness serialization is 64 bytes, which could
    /// be an inner merkle node passed off as one (see
    /// [`is_mutation`](Self::is_mutation)).
    CoinbaseMissing { has_64_byte_tx: bool },
    /// A transaction other than the first is a coinbase.
    CoinbaseMultiple { index: usize },
    /// A transaction failed `CheckTransaction`.
    BadTx { index: usize, reject: TxReject },
    /// More than 20,000 legacy signature operations.
    BadSigops { count: u64 },
    /// The coinbase scriptSig does not start with the block's height (BIP 34).
    BadCoinbaseHeight { height: u32 },
    /// A witness commitment is present, but the coinbase's witness is not one
    /// 32-byte item (the reserved value).
    WitnessNonceSize,
    /// The witness commitment does not match the transactions' witnesses.
    WitnessMerkleMatch,
    /// Witness data in a block that commits to none (or before segwit).
    UnexpectedWitness { index: usize },
    /// Weight above 4,000,000.
    BadWeight { weight: u64 },
}

impl BlockError {
    /// Every reason string [`reason`](Self::reason) can return.
    pub const REASONS: [&'static str; 22] = [
        "malformed-block",
        "block-hash-mismatch",
        "bad-txnmrklroot",
        "bad-txns-duplicate",
        "bad-blk-length",
        "bad-cb-missing",
        "bad-cb-multiple",
        "bad-txns-vin-empty",
        "bad-txns-vout-empty",
        "bad-txns-oversize",
        "bad-txns-vout-negative",
        "bad-txns-vout-toolarge",
        "bad-txns-txouttotal-toolarge",
        "bad-txns-inputs-duplicate",
        "bad-cb-length",
        "bad-txns-prevout-null",
        "bad-blk-sigops",
        "bad-cb-height",
        "bad-witness-nonce-size",
        "bad-witness-merkle-match",
        "unexpected-witness",
        "bad-blk-weight",
    ];

    /// Bitcoin Core's reject reason for this failure (or ours, for the two
    /// Core has none for: see the module's notes).
    pub fn reason(&self) -> &'static str {
        match self {
            BlockError::Malformed(_) => "malformed-block",
            BlockError::HashMismatch { .. } => "block-hash-mismatch",
            BlockError::BadMerkleRoot => "bad-txnmrklroot",
            BlockError::DuplicateTx => "bad-txns-duplicate",
            BlockError::BadLength => "bad-blk-length",
            BlockError::CoinbaseMissing { .. } => "bad-cb-missing",
            BlockError::CoinbaseMultiple { .. } => "bad-cb-multiple",
            BlockError::BadTx { reject, .. } => reject.reason(),
            BlockError::BadSigops { .. } => "bad-blk-sigops",
            BlockError::BadCoinbaseHeight { .. } => "bad-cb-height",
            BlockError::WitnessNonceSize => "bad-witness-nonce-size",
            BlockError::WitnessMerkleMatch => "bad-witness-merkle-match",
            BlockError::UnexpectedWitness { .. } => "unexpected-witness",
            BlockError::BadWeight { .. } => "bad-blk-weight",
        }
    }

    /// True when the bytes received are not the block the header commits to,
    /// so the block itself may still be valid: the peer that sent them is at
    /// fault, and the block should be asked of another peer, not marked
    /// invalid. This is Core's `BLOCK_MUTATED` (with `IsBlockMutated`'s
    /// 64-byte-transaction rule), plus unparseable bytes and a wrong header.
    ///
    /// Every other failure is intrinsic: the merkle root fixes the
    /// transactions and the witness commitment fixes their witnesses, so any
    /// copy of the block with this header fails the same way.
    pub fn is_mutation(&self) -> bool {
        match self {
            BlockError::Malformed(_)
            | BlockError::HashMismatch { .. }
            | BlockError::BadMerkleRoot
            | BlockError::DuplicateTx
            | BlockError::WitnessNonceSize
            | BlockError::WitnessMerkleMatch
            | BlockError::UnexpectedWitness { .. } => true,
            BlockError::CoinbaseMissing { has_64_byte_tx } => *has_64_byte_tx,
            _ => false,
        }
    }
}

fn hex_rev(hash: &[u8; 32]) -> String {
    hash.iter().rev().map(|b| format!("{b:02x}")).collect()
}

impl fmt::Display for BlockError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.reason())?;
        match self {
            BlockError::Malformed(e) => write!(f, "{e}"),
            BlockError::HashMismatch { expected, actual } => write!(
                f,
                "block {} is not the expected {}",
                hex_rev(actual),
                hex_rev(expected)
            ),
            BlockError::BadMerkleRoot => write!(f, "hashMerkleRoot mismatch"),
            BlockError::DuplicateTx => write!(f, "duplicate transaction"),
            BlockError::BadLength => write!(f, "size limits failed"),
            BlockError::CoinbaseMissing { .. } => write!(f, "first tx is not coinbase"),
            BlockError::CoinbaseMultiple { index } => {
                write!(f, "more than one coinbase (transaction {index})")
            }
            BlockError::BadTx { index, .. } => write!(f, "transaction {index} check failed"),
            BlockError::BadSigops { count } => write!(f, "out-of-bounds SigOpCount {count}"),
            BlockError::BadCoinbaseHeight { height } => {
                write!(f, "block height mismatch in coinbase (expected {height})")
            }
            BlockError::WitnessNonceSize => write!(f, "invalid witness reserved value size"),
            BlockError::WitnessMerkleMatch => write!(f, "witness merkle commitment mismatch"),
            BlockError::UnexpectedWitness { index } => {
                write!(f, "unexpected witness data found (transaction {index})")
            }
            BlockError::BadWeight { weight } => write!(f, "weight limit failed ({weight})"),
        }
    }
}

impl std::error::Error for BlockError {}

impl From<ParseError> for BlockError {
    fn from(e: ParseError) -> Self {
        BlockError::Malformed(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_is_listed_once() {
        let parse = ParseError {
            offset: 0,
            problem: Problem::TrailingBytes(1),
        };
        let mut errors = vec![
            BlockError::Malformed(parse),
            BlockError::HashMismatch {
                expected: [0; 32],
                actual: [1; 32],
            },
            BlockError::BadMerkleRoot,
            BlockError::DuplicateTx,
            BlockError::BadLength,
            BlockError::CoinbaseMissing {
                has_64_byte_tx: false,
            },
            BlockError::CoinbaseMultiple { index: 1 },
            BlockError::BadSigops { count: 1 },
            BlockError::BadCoinbaseHeight { height: 1 },
            BlockError::WitnessNonceSize,
            BlockError::WitnessMerkleMatch,
            BlockError::UnexpectedWitness { index: 0 },
            BlockError::BadWeight { weight: 1 },
        ];
        for reject in [
            TxReject::VinEmpty,
            TxReject::VoutEmpty,
            TxReject::Oversize,
            TxReject::VoutNegative,
            TxReject::VoutTooLarge,
            TxReject::TxOutTotalTooLarge,
            TxReject::InputsDuplicate,
            TxReject::CoinbaseLength,
            TxReject::PrevoutNull,
        ] {
            errors.push(BlockError::BadTx { index: 1, reject });
        }
        let mut reasons: Vec<&str> = errors.iter().map(BlockError::reason).collect();
        reasons.sort_unstable();
        let mut listed = BlockError::REASONS.to_vec();
        listed.sort_unstable();
        assert_eq!(reasons, listed);
        for e in &errors {
            assert!(e.to_string().starts_with(&format!("{}: ", e.reason())));
        }
    }
}
