//! Bitcoin's merkle tree over transaction hashes, and its known weakness.
//!
//! Each level pairs neighbours and hashes each pair with double SHA-256; a
//! level of odd length pairs its last hash with itself. That padding is the
//! weakness of CVE-2012-2459: the lists `[a, b, c]` and `[a, b, c, c]` have the
//! same root, so a peer can send a valid block's header with a transaction
//! repeated. The repeat shows as two identical hashes side by side at some
//! level, which [`merkle_root`] reports as `mutated` and a block check must
//! refuse (Bitcoin Core: "bad-txns-duplicate").

use sha2::{Digest, Sha256};

/// Double SHA-256 of two hashes side by side: one inner node of the tree.
pub fn hash_pair(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let first = Sha256::new()
        .chain_update(left)
        .chain_update(right)
        .finalize();
    Sha256::digest(first).into()
}

/// The root of the tree over `leaves` (txids for the header's root, wtxids
/// for the witness commitment), and whether any level had two identical
/// hashes as a pair (see the module's notes). All zeros for no leaves; the
/// leaf itself for one. `leaves` is reduced in place as scratch space.
pub fn merkle_root(mut leaves: Vec<[u8; 32]>) -> ([u8; 32], bool) {
    let mut mutated = false;
    while leaves.len() > 1 {
        // Checked before the padding: a copied last hash is the construction,
        // a pair of equal hashes that were both given is the mutation.
        mutated |= leaves.chunks_exact(2).any(|pair| pair[0] == pair[1]);
        let pairs = leaves.len().div_ceil(2);
        for i in 0..pairs {
            let left = leaves[2 * i];
            let right = leaves.get(2 * i + 1).copied().unwrap_or(left);
            leaves[i] = hash_pair(&left, &right);
        }
        leaves.truncate(pairs);
    }
    (leaves.first().copied().unwrap_or([0; 32]), mutated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checksum::double_sha256;

    fn leaf(n: u8) -> [u8; 32] {
        double_sha256(&[n])
    }

    #[test]
    fn one_leaf_is_its_own_root_and_none_is_zero() {
        assert_eq!(merkle_root(vec![leaf(1)]), (leaf(1), false));
        assert_eq!(merkle_root(vec![]), ([0; 32], false));
    }

    #[test]
    fn an_odd_level_pairs_its_last_hash_with_itself() {
        let (a, b, c) = (leaf(1), leaf(2), leaf(3));
        let expected = hash_pair(&hash_pair(&a, &b), &hash_pair(&c, &c));
        assert_eq!(merkle_root(vec![a, b, c]), (expected, false));
    }

    #[test]
    fn a_repeated_last_leaf_gives_the_same_root_but_is_flagged() {
        let (a, b, c) = (leaf(1), leaf(2), leaf(3));
        let (root, mutated) = merkle_root(vec![a, b, c]);
        assert!(!mutated);
        assert_eq!(merkle_root(vec![a, b, c, c]), (root, true));
    }

    #[test]
    fn a_repeated_pair_higher_up_is_flagged() {
        // [a b c d e f] pads its second level [ab cd ef] to [ab cd ef ef];
        // sending [a b c d e f e f] gives that level itself: same root.
        let l: Vec<[u8; 32]> = (1..=6).map(leaf).collect();
        let (root, mutated) = merkle_root(l.clone());
        assert!(!mutated);
        let mut repeated = l.clone();
        repeated.extend_from_slice(&l[4..6]);
        assert_eq!(merkle_root(repeated), (root, true));
    }

    #[test]
    fn identical_leaves_that_are_not_paired_are_not_flagged() {
        // Equal hashes in different pairs are not the padding trick.
        let (a, b) = (leaf(1), leaf(2));
        assert!(!merkle_root(vec![a, b, a, leaf(3)]).1);
        assert!(merkle_root(vec![a, a]).1);
    }
}
