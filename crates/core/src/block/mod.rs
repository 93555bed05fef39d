//! Raw blocks: splitting, hashing and checking them against their headers,
//! sans-IO like the rest of the crate (bytes in, facts or a reason out).
//!
//! - [`parse`]: one pass over untrusted bytes, recording where each
//!   transaction and its non-witness body lie; counts are checked against the
//!   bytes left before anything is sized from them.
//! - [`tx`]: a transaction's txid and wtxid, hashed in place, and views of its
//!   inputs, outputs and witnesses.
//! - [`merkle`]: the merkle root with CVE-2012-2459's mutation flag.
//! - [`witness`]: BIP 141's witness commitment.
//! - [`tx_check`], [`sigops`]: Core's per-transaction checks and sigop limit.
//! - [`check`]: all of it in Core's order, with Core's reject reasons
//!   ([`error`]).
//!
//! ```
//! use peerwire_core::block::{check_block, CheckOptions};
//! # let raw: &[u8] = &[];
//! match check_block(raw, &CheckOptions::default()) {
//!     Ok(summary) => println!("{} transactions", summary.tx_count),
//!     Err(e) if e.is_mutation() => println!("peer sent a bad copy: {e}"),
//!     Err(e) => println!("invalid block: {}", e.reason()),
//! }
//! ```

pub mod check;
pub mod error;
pub mod merkle;
pub mod parse;
pub(crate) mod reader;
pub mod sigops;
pub mod tx;
pub mod tx_check;
pub mod witness;

pub use check::{bip34_height_prefix, check_block, check_parsed, BlockSummary, CheckOptions};
pub use error::{BlockError, ParseError, Problem, TxReject};
pub use merkle::merkle_root;
pub use parse::{Block, TxLayout, HEADER_LEN};
pub use reader::MAX_COMPACT_SIZE;
pub use tx::{Tx, TxIn, TxOut, WitnessStack, NULL_PREVOUT};
pub use witness::{commitment_hash, find_commitment, witness_merkle_root};

/// The most weight a block may have (BIP 141).
pub const MAX_BLOCK_WEIGHT: u64 = 4_000_000;

/// Weight units per non-witness byte.
pub const WITNESS_SCALE_FACTOR: u64 = 4;
