//! Double-SHA256 and the 4-byte frame checksum.
//!
//! `sha2` picks the CPU's SHA extensions at run time where present, which is what
//! keeps large payloads near the one-core hashing limit.

use sha2::{Digest, Sha256};
use std::sync::atomic::{AtomicU64, Ordering};

/// How many frame checksums this process has computed (encode and verify alike).
/// Benchmarks read it to prove that a broadcast is checksummed once.
static CHECKSUMS_COMPUTED: AtomicU64 = AtomicU64::new(0);

/// SHA-256 applied twice, as Bitcoin hashes blocks, transactions and frame payloads.
pub fn double_sha256(data: &[u8]) -> [u8; 32] {
    let first = Sha256::digest(data);
    Sha256::digest(first).into()
}

/// The first four bytes of `double_sha256(payload)`: a frame header's checksum field.
pub fn checksum(payload: &[u8]) -> [u8; 4] {
    CHECKSUMS_COMPUTED.fetch_add(1, Ordering::Relaxed);
    let digest = double_sha256(payload);
    [digest[0], digest[1], digest[2], digest[3]]
}

/// Total frame checksums computed so far in this process.
pub fn checksums_computed() -> u64 {
    CHECKSUMS_COMPUTED.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn empty_payload_checksum_matches_bitcoin() {
        // Every empty message (verack, getaddr, ...) carries 5df6e0e2.
        assert_eq!(hex(&checksum(b"")), "5df6e0e2");
    }

    #[test]
    fn double_sha256_of_hello() {
        assert_eq!(
            hex(&double_sha256(b"hello")),
            "9595c9df90075148eb06860365df33584b75bff782a510c6cd4883a419833d50"
        );
    }

    #[test]
    fn counter_increases_per_checksum() {
        let before = checksums_computed();
        checksum(b"x");
        checksum(b"y");
        assert!(checksums_computed() >= before + 2);
    }
}
