//! The checks one transaction must pass on its own, without the coins it
//! spends: Bitcoin Core's `CheckTransaction`, in Core's order (the first
//! failure names the reason).

use super::error::TxReject;
use super::tx::Tx;
use super::MAX_BLOCK_WEIGHT;

/// Satoshis in 21 million coins: no output, and no transaction's outputs
/// together, may exceed it.
pub const MAX_MONEY: i64 = 21_000_000 * 100_000_000;

/// A coinbase's scriptSig length must lie in this range.
pub const COINBASE_SCRIPT_LEN: std::ops::RangeInclusive<usize> = 2..=100;

/// Checks `tx`. `scratch` is reused between calls to sort outpoints in.
pub fn check_transaction<'a>(tx: &Tx<'a>, scratch: &mut Vec<&'a [u8; 36]>) -> Result<(), TxReject> {
    if tx.input_count() == 0 {
        return Err(TxReject::VinEmpty);
    }
    if tx.output_count() == 0 {
        return Err(TxReject::VoutEmpty);
    }
    if tx.stripped_size() as u64 * 4 > MAX_BLOCK_WEIGHT {
        return Err(TxReject::Oversize);
    }
    let mut total: i64 = 0;
    for out in tx.outputs() {
        if out.value < 0 {
            return Err(TxReject::VoutNegative);
        }
        if out.value > MAX_MONEY {
            return Err(TxReject::VoutTooLarge);
        }
        // Both at most MAX_MONEY here, so the sum cannot overflow.
        total += out.value;
        if total > MAX_MONEY {
            return Err(TxReject::TxOutTotalTooLarge);
        }
    }
    if tx.input_count() > 1 {
        scratch.clear();
        scratch.extend(tx.inputs().map(|i| i.prevout));
        scratch.sort_unstable();
        if scratch.windows(2).any(|w| w[0] == w[1]) {
            return Err(TxReject::InputsDuplicate);
        }
    }
    if tx.is_coinbase() {
        let script_len = tx.inputs().next().map_or(0, |i| i.script_sig.len());
        if !COINBASE_SCRIPT_LEN.contains(&script_len) {
            return Err(TxReject::CoinbaseLength);
        }
    } else if tx.inputs().any(|i| i.is_null_prevout()) {
        return Err(TxReject::PrevoutNull);
    }
    Ok(())
}
