//! BIP 141's witness commitment: how a block's header, through the coinbase,
//! fixes its transactions' witness data.
//!
//! The txids (and so the header's merkle root) leave witness data out, so a
//! peer could swap a witness without changing the block hash. Instead the
//! coinbase commits to a second merkle tree, over the wtxids (the coinbase's
//! own counted as zero), in an output whose script is
//! `OP_RETURN PUSH36 aa21a9ed <32-byte commitment>`, where
//!
//! ```text
//! commitment = SHA256d(witness merkle root ‖ reserved value)
//! ```
//!
//! and the reserved value is the coinbase input's witness, one 32-byte item.
//! A block that carries witness data must have such an output; a block that
//! has none may not carry any ("unexpected-witness").

use super::error::BlockError;
use super::merkle::{hash_pair, merkle_root};
use super::parse::Block;
use super::tx::Tx;

/// How a commitment output's script starts: OP_RETURN, a 36-byte push, and
/// the four-byte tag aa21a9ed.
pub const WITNESS_COMMITMENT_HEADER: [u8; 6] = [0x6a, 0x24, 0xaa, 0x21, 0xa9, 0xed];

/// The shortest script that holds a commitment: the header and 32 bytes. A
/// longer one (more data after the hash) still counts, as in Core.
pub const MIN_WITNESS_COMMITMENT_LEN: usize = WITNESS_COMMITMENT_HEADER.len() + 32;

/// The commitment of a coinbase: the last output (the highest index wins) whose
/// script starts with [`WITNESS_COMMITMENT_HEADER`] and is long enough.
/// Returns the output's index and the 32 committed bytes.
pub fn find_commitment(coinbase: &Tx) -> Option<(usize, [u8; 32])> {
    coinbase
        .outputs()
        .enumerate()
        .filter_map(|(i, out)| {
            let script = out.script_pubkey;
            if script.len() < MIN_WITNESS_COMMITMENT_LEN
                || script[..WITNESS_COMMITMENT_HEADER.len()] != WITNESS_COMMITMENT_HEADER
            {
                return None;
            }
            let hash = script[WITNESS_COMMITMENT_HEADER.len()..MIN_WITNESS_COMMITMENT_LEN]
                .try_into()
                .ok()?;
            Some((i, hash))
        })
        .last()
}

/// The root of the witness merkle tree: wtxids, with the coinbase's (the
/// first) replaced by zeros, since the coinbase holds the commitment itself.
/// Its mutation flag is not needed: the txid tree's check already refuses a
/// repeated transaction, and a repeat in one tree is a repeat in the other.
pub fn witness_merkle_root(block: &Block) -> [u8; 32] {
    let wtxids = block
        .txs()
        .enumerate()
        .map(|(i, tx)| {
            if i == 0 {
                [0; 32]
            } else if tx.has_witness() {
                tx.wtxid()
            } else {
                // Without witness data the wtxid is the txid.
                tx.txid()
            }
        })
        .collect();
    merkle_root(wtxids).0
}

/// The commitment a coinbase should hold: SHA256d(root ‖ reserved value).
pub fn commitment_hash(witness_root: &[u8; 32], reserved_value: &[u8; 32]) -> [u8; 32] {
    hash_pair(witness_root, reserved_value)
}

/// Core's `CheckWitnessMalleation`. With segwit active and a commitment in the
/// coinbase, the coinbase's witness must be one 32-byte item and the
/// commitment must match the witness tree; otherwise (segwit not active, or
/// no commitment) no transaction may carry witness data. `txids` are the
/// block's, in order (they stand in for the wtxids of transactions without
/// witness data). Returns whether a commitment was checked.
pub fn check_witness_commitment(
    block: &Block,
    txids: &[[u8; 32]],
    segwit_active: bool,
) -> Result<bool, BlockError> {
    if segwit_active {
        let committed = block.tx(0).and_then(|cb| Some((cb, find_commitment(&cb)?)));
        if let Some((coinbase, (_, committed))) = committed {
            let reserved =
                coinbase_reserved_value(&coinbase).ok_or(BlockError::WitnessNonceSize)?;
            let wtxids = block
                .txs()
                .zip(txids)
                .enumerate()
                .map(|(i, (tx, txid))| match i {
                    0 => [0; 32],
                    _ if tx.has_witness() => tx.wtxid(),
                    _ => *txid,
                })
                .collect();
            let (root, _) = merkle_root(wtxids);
            if commitment_hash(&root, &reserved) != committed {
                return Err(BlockError::WitnessMerkleMatch);
            }
            return Ok(true);
        }
    }
    match block.txs().position(|tx| tx.has_witness()) {
        Some(index) => Err(BlockError::UnexpectedWitness { index }),
        None => Ok(false),
    }
}

/// The coinbase's reserved value: its first input's witness when that is
/// exactly one item of 32 bytes.
fn coinbase_reserved_value(coinbase: &Tx) -> Option<[u8; 32]> {
    let stack = coinbase.witnesses().next()?;
    if stack.len() != 1 {
        return None;
    }
    stack.items().next()?.try_into().ok()
}
