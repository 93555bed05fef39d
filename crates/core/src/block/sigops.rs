//! Legacy signature-operation counting, as Bitcoin Core's CheckBlock limits it.
//!
//! Each OP_CHECKSIG(VERIFY) in a scriptSig or scriptPubKey counts 1 and each
//! OP_CHECKMULTISIG(VERIFY) counts 20, whatever its key count (the
//! "inaccurate" count that predates P2SH); counting stops at a push that runs
//! past the script's end. A block may have 20,000 (80,000 cost units at 4
//! each). P2SH and witness sigops need the spent outputs, so they belong to
//! full validation, not here.

use super::tx::Tx;

const OP_PUSHDATA1: u8 = 0x4c;
const OP_PUSHDATA2: u8 = 0x4d;
const OP_PUSHDATA4: u8 = 0x4e;
const OP_CHECKSIG: u8 = 0xac;
const OP_CHECKSIGVERIFY: u8 = 0xad;
const OP_CHECKMULTISIG: u8 = 0xae;
const OP_CHECKMULTISIGVERIFY: u8 = 0xaf;

/// Keys a bare multisig may name: what each OP_CHECKMULTISIG counts.
const MAX_PUBKEYS_PER_MULTISIG: u64 = 20;

/// Sigop cost a block may have (Core's `MAX_BLOCK_SIGOPS_COST`).
pub const MAX_BLOCK_SIGOPS_COST: u64 = 80_000;

/// The legacy sigop count of one script.
pub fn script_sigops(script: &[u8]) -> u64 {
    let mut count = 0;
    let mut pc = 0;
    while pc < script.len() {
        let op = script[pc];
        pc += 1;
        let push = match op {
            0x01..OP_PUSHDATA1 => Some(op as usize),
            OP_PUSHDATA1..=OP_PUSHDATA4 => {
                let width = match op {
                    OP_PUSHDATA1 => 1,
                    OP_PUSHDATA2 => 2,
                    _ => 4,
                };
                let Some(len) = script.get(pc..pc + width) else {
                    break;
                };
                pc += width;
                let mut le = [0u8; 8];
                le[..width].copy_from_slice(len);
                Some(usize::try_from(u64::from_le_bytes(le)).unwrap_or(usize::MAX))
            }
            _ => None,
        };
        match (push, op) {
            (Some(len), _) => {
                if len > script.len() - pc {
                    break;
                }
                pc += len;
            }
            (None, OP_CHECKSIG | OP_CHECKSIGVERIFY) => count += 1,
            (None, OP_CHECKMULTISIG | OP_CHECKMULTISIGVERIFY) => count += MAX_PUBKEYS_PER_MULTISIG,
            _ => {}
        }
    }
    count
}

/// The legacy sigop count of a transaction: every scriptSig and scriptPubKey.
pub fn tx_sigops(tx: &Tx) -> u64 {
    tx.inputs()
        .map(|i| script_sigops(i.script_sig))
        .sum::<u64>()
        + tx.outputs()
            .map(|o| script_sigops(o.script_pubkey))
            .sum::<u64>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p2pkh_has_one() {
        let mut s = vec![0x76, 0xa9, 0x14];
        s.extend([0u8; 20]);
        s.extend([0x88, 0xac]);
        assert_eq!(script_sigops(&s), 1);
    }

    #[test]
    fn multisig_counts_twenty_and_pushed_opcodes_do_not_count() {
        assert_eq!(script_sigops(&[0x52, 0xae]), 20);
        assert_eq!(script_sigops(&[0x02, 0xac, 0xac, 0xad]), 1);
        assert_eq!(script_sigops(&[OP_PUSHDATA1, 0x01, 0xac, 0xaf]), 20);
        assert_eq!(script_sigops(&[OP_PUSHDATA2, 0x01, 0x00, 0xac, 0xac]), 1);
    }

    #[test]
    fn a_push_past_the_end_stops_the_count() {
        assert_eq!(script_sigops(&[0xac, 0x05, 0xac]), 1);
        assert_eq!(script_sigops(&[0xac, OP_PUSHDATA4, 0xff, 0xff]), 1);
        assert_eq!(
            script_sigops(&[0xac, OP_PUSHDATA4, 0xff, 0xff, 0xff, 0xff, 0xac]),
            1
        );
    }
}
