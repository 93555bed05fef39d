//! One transaction of a parsed block: its hashes and a view of its inputs,
//! outputs and witnesses, read from the block's bytes on demand.

use super::parse::TxLayout;
use super::reader::Reader;
use crate::checksum::double_sha256;
use sha2::{Digest, Sha256};

/// The outpoint a coinbase input spends: no transaction, index 0xffffffff.
pub const NULL_PREVOUT: [u8; 36] = {
    let mut p = [0u8; 36];
    p[32] = 0xff;
    p[33] = 0xff;
    p[34] = 0xff;
    p[35] = 0xff;
    p
};

/// A transaction in a block that [`Block::parse`](super::Block::parse)
/// accepted. Its iterators re-read the bytes the parser already walked, so
/// they cannot fail; were they ever given bytes that did not parse, they
/// would stop early rather than panic.
#[derive(Debug, Clone, Copy)]
pub struct Tx<'a> {
    block: &'a [u8],
    layout: TxLayout,
}

/// One input: the outpoint it spends, its scriptSig and sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxIn<'a> {
    /// Spent transaction's txid (wire order) then output index (LE), 36 bytes.
    pub prevout: &'a [u8; 36],
    pub script_sig: &'a [u8],
    pub sequence: u32,
}

impl TxIn<'_> {
    /// Whether it spends the null outpoint (as a coinbase does).
    pub fn is_null_prevout(&self) -> bool {
        *self.prevout == NULL_PREVOUT
    }
}

/// One output: its value in satoshis (signed, as serialized) and script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxOut<'a> {
    pub value: i64,
    pub script_pubkey: &'a [u8],
}

/// One input's witness stack: its items, serialized.
#[derive(Debug, Clone, Copy)]
pub struct WitnessStack<'a> {
    items: usize,
    bytes: &'a [u8],
}

impl<'a> WitnessStack<'a> {
    /// Number of items on the stack.
    pub fn len(&self) -> usize {
        self.items
    }

    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// The items, bottom of the stack first.
    pub fn items(&self) -> impl Iterator<Item = &'a [u8]> {
        let mut r = Reader::new(self.bytes, 0);
        (0..self.items).map_while(move |_| r.var_bytes("witness item").ok())
    }
}

impl<'a> Tx<'a> {
    pub(crate) fn new(block: &'a [u8], layout: TxLayout) -> Self {
        Self { block, layout }
    }

    /// Where it lies in the block.
    pub fn layout(&self) -> TxLayout {
        self.layout
    }

    /// Its serialization as it sits in the block (with witness data).
    pub fn bytes(&self) -> &'a [u8] {
        &self.block[self.layout.start as usize..self.layout.end as usize]
    }

    fn body(&self) -> &'a [u8] {
        &self.block[self.layout.body_start as usize..self.layout.body_end as usize]
    }

    fn version_bytes(&self) -> &'a [u8] {
        &self.block[self.layout.start as usize..self.layout.start as usize + 4]
    }

    fn locktime_bytes(&self) -> &'a [u8] {
        &self.block[self.layout.end as usize - 4..self.layout.end as usize]
    }

    pub fn has_witness(&self) -> bool {
        self.layout.has_witness
    }

    pub fn size(&self) -> usize {
        self.layout.size()
    }

    pub fn stripped_size(&self) -> usize {
        self.layout.stripped_size()
    }

    pub fn locktime(&self) -> u32 {
        u32::from_le_bytes(self.locktime_bytes().try_into().unwrap_or([0; 4]))
    }

    /// The txid (wire order): double SHA-256 of the serialization without
    /// witness data. For a witness transaction the three non-witness pieces
    /// (version, body, locktime) are hashed in place, without a copy.
    pub fn txid(&self) -> [u8; 32] {
        if !self.layout.has_witness {
            return double_sha256(self.bytes());
        }
        let first = Sha256::new()
            .chain_update(self.version_bytes())
            .chain_update(self.body())
            .chain_update(self.locktime_bytes())
            .finalize();
        Sha256::digest(first).into()
    }

    /// The wtxid (BIP 141): double SHA-256 of the full serialization; the
    /// txid when there is no witness data. (In a block's witness merkle tree
    /// the coinbase counts as zero whatever its wtxid: see the witness module.)
    pub fn wtxid(&self) -> [u8; 32] {
        double_sha256(self.bytes())
    }

    /// Whether it is a coinbase: exactly one input, spending the null outpoint.
    pub fn is_coinbase(&self) -> bool {
        self.layout.inputs == 1 && self.inputs().next().is_some_and(|i| i.is_null_prevout())
    }

    pub fn input_count(&self) -> usize {
        self.layout.inputs as usize
    }

    pub fn output_count(&self) -> usize {
        self.layout.outputs as usize
    }

    /// The inputs, in order.
    pub fn inputs(&self) -> impl Iterator<Item = TxIn<'a>> {
        // The input count sits at the body's start; skip it.
        let mut r = Reader::new(self.block, self.layout.body_start as usize);
        let count = r.compact_size("tx input count").ok();
        let n = count.map_or(0, |_| self.layout.inputs as usize);
        (0..n).map_while(move |_| {
            Some(TxIn {
                prevout: r.array("input prevout").ok()?,
                script_sig: r.var_bytes("input scriptSig").ok()?,
                sequence: r.u32("input sequence").ok()?,
            })
        })
    }

    /// The outputs, in order.
    pub fn outputs(&self) -> impl Iterator<Item = TxOut<'a>> {
        let mut r = Reader::new(self.block, self.layout.body_start as usize);
        let mut ok = r.compact_size("tx input count").is_ok();
        for _ in 0..self.layout.inputs {
            ok = ok
                && r.take(36, "input prevout").is_ok()
                && r.var_bytes("input scriptSig").is_ok()
                && r.take(4, "input sequence").is_ok();
        }
        let n = if ok && r.compact_size("tx output count").is_ok() {
            self.layout.outputs as usize
        } else {
            0
        };
        (0..n).map_while(move |_| {
            Some(TxOut {
                value: r.i64("output value").ok()?,
                script_pubkey: r.var_bytes("output scriptPubKey").ok()?,
            })
        })
    }

    /// Each input's witness stack, in input order; nothing for a transaction
    /// without witness data.
    pub fn witnesses(&self) -> impl Iterator<Item = WitnessStack<'a>> {
        let block = self.block;
        let mut r = Reader::new(block, self.layout.body_end as usize);
        let n = if self.layout.has_witness {
            self.layout.inputs as usize
        } else {
            0
        };
        (0..n).map_while(move |_| {
            let items = r.count("witness item count", 1).ok()?;
            let start = r.pos();
            for _ in 0..items {
                r.var_bytes("witness item").ok()?;
            }
            Some(WitnessStack {
                items,
                bytes: block.get(start..r.pos())?,
            })
        })
    }
}
