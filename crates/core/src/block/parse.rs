//! Splitting a raw block into its header and transactions, without copying.
//!
//! One pass over the bytes records where each transaction starts and ends and
//! where its non-witness body lies (what the txid hashes), checking every
//! length against the bytes left. Nothing is decoded into owned scripts: the
//! checks and the hashes read the block's own bytes through the offsets.
//!
//! Serialization (BIP 144 for the extended form):
//!
//! ```text
//! block   = header[80] count:CompactSize tx*
//! tx      = version[4] [0x00 0x01] inputs outputs [witness per input] locktime[4]
//! input   = prevout(txid[32] index[4]) scriptSig:var_bytes sequence[4]
//! output  = value[8] scriptPubKey:var_bytes
//! witness = count:CompactSize item:var_bytes*
//! ```

use super::error::{ParseError, Problem};
use super::reader::Reader;
use super::tx::Tx;
use crate::checksum::double_sha256;

/// Bytes in a block header.
pub const HEADER_LEN: usize = 80;

/// The fewest bytes a transaction can take: version, two empty counts, locktime.
pub const MIN_TX_LEN: usize = 10;
/// The fewest bytes an input can take: outpoint, empty script, sequence.
const MIN_INPUT_LEN: usize = 36 + 1 + 4;
/// The fewest bytes an output can take: value, empty script.
const MIN_OUTPUT_LEN: usize = 8 + 1;

/// Where one transaction lies in its block's bytes. Offsets are from the
/// start of the block and fit 32 bits (blocks over 4 GiB are refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TxLayout {
    /// First byte (the version).
    pub start: u32,
    /// One past the last byte (the locktime's last).
    pub end: u32,
    /// The input count through the last output: the non-witness
    /// serialization is `version ‖ body ‖ locktime`.
    pub body_start: u32,
    pub body_end: u32,
    pub inputs: u32,
    pub outputs: u32,
    /// Serialized in the extended form, with at least one non-empty witness
    /// stack (the parser refuses the form without one, as Core does).
    pub has_witness: bool,
}

impl TxLayout {
    /// Serialized size with witness data, as it sits in the block.
    pub fn size(&self) -> usize {
        (self.end - self.start) as usize
    }

    /// Serialized size without witness data (what the txid hashes).
    pub fn stripped_size(&self) -> usize {
        8 + (self.body_end - self.body_start) as usize
    }
}

/// A parsed block: its bytes and the layout of each transaction.
#[derive(Debug, Clone)]
pub struct Block<'a> {
    raw: &'a [u8],
    txs: Vec<TxLayout>,
}

impl<'a> Block<'a> {
    /// Parses `raw` as one whole block: an 80-byte header, a CompactSize
    /// count and exactly that many transactions, with no bytes left over.
    ///
    /// Safe on any input: every count is checked against the bytes that are
    /// left before it sizes anything, so memory follows the bytes given, and
    /// no input panics. Non-canonical CompactSizes, the extended
    /// serialization with a flag other than 1 or with only empty witness
    /// stacks, and trailing bytes are refused (Core refuses the first three
    /// when deserializing; it ignores bytes after a `block` message's block,
    /// but a stored block has exactly its own bytes).
    pub fn parse(raw: &'a [u8]) -> Result<Self, ParseError> {
        if u32::try_from(raw.len()).is_err() {
            return Err(ParseError {
                offset: 0,
                problem: Problem::TooLarge(raw.len()),
            });
        }
        let mut r = Reader::new(raw, 0);
        r.take(HEADER_LEN, "header")?;
        let count = r.count("transaction count", MIN_TX_LEN)?;
        // `count` fits the bytes left, so the vector is bounded by the input
        // (about 2.8 bytes of layout per byte of block in the worst case).
        let mut txs = Vec::with_capacity(count);
        for _ in 0..count {
            txs.push(parse_tx(&mut r)?);
        }
        if r.remaining() > 0 {
            return Err(ParseError {
                offset: r.pos(),
                problem: Problem::TrailingBytes(r.remaining()),
            });
        }
        Ok(Self { raw, txs })
    }

    /// The whole block's bytes.
    pub fn raw(&self) -> &'a [u8] {
        self.raw
    }

    /// The 80-byte header.
    pub fn header(&self) -> &'a [u8; HEADER_LEN] {
        // `parse` read HEADER_LEN bytes, so this cannot fail.
        self.raw[..HEADER_LEN].try_into().expect("parsed header")
    }

    /// The block hash (wire order): double SHA-256 of the header.
    pub fn hash(&self) -> [u8; 32] {
        double_sha256(self.header())
    }

    /// The merkle root the header commits to (wire order).
    pub fn header_merkle_root(&self) -> &'a [u8; 32] {
        self.raw[36..68].try_into().expect("parsed header")
    }

    pub fn tx_count(&self) -> usize {
        self.txs.len()
    }

    /// Each transaction's layout, in block order.
    pub fn layouts(&self) -> &[TxLayout] {
        &self.txs
    }

    /// Transaction `index`, or `None` past the end.
    pub fn tx(&self, index: usize) -> Option<Tx<'a>> {
        self.txs.get(index).map(|layout| Tx::new(self.raw, *layout))
    }

    /// The transactions, in block order.
    pub fn txs(&self) -> impl ExactSizeIterator<Item = Tx<'a>> + '_ {
        self.txs.iter().map(|layout| Tx::new(self.raw, *layout))
    }

    /// Serialized size, with witness data.
    pub fn size(&self) -> usize {
        self.raw.len()
    }

    /// Serialized size without witness data (Core's `TX_NO_WITNESS` size).
    pub fn stripped_size(&self) -> usize {
        let witness_bytes: usize = self.txs.iter().map(|t| t.size() - t.stripped_size()).sum();
        self.raw.len() - witness_bytes
    }

    /// BIP 141 weight: stripped size × 3 + total size.
    pub fn weight(&self) -> u64 {
        self.stripped_size() as u64 * 3 + self.size() as u64
    }

    /// Whether any transaction carries witness data.
    pub fn has_witness(&self) -> bool {
        self.txs.iter().any(|t| t.has_witness)
    }
}

/// One transaction at the reader's position (see the module's grammar).
fn parse_tx(r: &mut Reader) -> Result<TxLayout, ParseError> {
    let start = r.pos();
    r.take(4, "tx version")?;
    let mut body_start = r.pos();
    let mut inputs = r.count("tx input count", MIN_INPUT_LEN)?;
    let mut extended = false;
    let mut outputs = 0;
    let mut skip_outputs = false;
    if inputs == 0 {
        // Either the BIP 144 marker (0x00) and flag, or a transaction with no
        // inputs whose output count is read as the "flag": Core reads the
        // flag byte and, when it is 0, takes both lists as empty.
        let flag_at = r.pos();
        let flag = r.u8("tx flag")?;
        match flag {
            0 => skip_outputs = true,
            1 => {
                extended = true;
                body_start = r.pos();
                inputs = r.count("tx input count", MIN_INPUT_LEN)?;
            }
            other => {
                return Err(ParseError {
                    offset: flag_at,
                    problem: Problem::UnknownTxFlag(other),
                })
            }
        }
    }
    if !skip_outputs {
        for _ in 0..inputs {
            r.take(36, "input prevout")?;
            r.var_bytes("input scriptSig")?;
            r.take(4, "input sequence")?;
        }
        outputs = r.count("tx output count", MIN_OUTPUT_LEN)?;
        for _ in 0..outputs {
            r.take(8, "output value")?;
            r.var_bytes("output scriptPubKey")?;
        }
    }
    let body_end = r.pos();
    let mut has_witness = false;
    if extended {
        let witness_at = r.pos();
        for _ in 0..inputs {
            let items = r.count("witness item count", 1)?;
            has_witness |= items > 0;
            for _ in 0..items {
                r.var_bytes("witness item")?;
            }
        }
        if !has_witness {
            return Err(ParseError {
                offset: witness_at,
                problem: Problem::SuperfluousWitness,
            });
        }
    }
    r.take(4, "tx locktime")?;
    // Block::parse refused anything over u32::MAX bytes, so these fit.
    let at = |pos: usize| pos as u32;
    Ok(TxLayout {
        start: at(start),
        end: at(r.pos()),
        body_start: at(body_start),
        body_end: at(body_end),
        inputs: at(inputs),
        outputs: at(outputs),
        has_witness,
    })
}
