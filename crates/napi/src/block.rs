//! Raw blocks for JavaScript: peerwire-core's block check, and cheap helpers
//! to split a block into its transactions and hash them.
//!
//! Blocks stay raw bytes on the JavaScript side; these functions read them in
//! place (no copy in, only the results out).
//!
//! Failures throw an `Error` whose `code` is the reject reason
//! ([`BlockError::reason`]: Core's strings such as "bad-txnmrklroot", or
//! "malformed-block" / "block-hash-mismatch"), with `mutated`
//! ([`BlockError::is_mutation`]) and, for unparseable bytes, `offset`;
//! ts/block/check.ts turns it into a typed `BlockError`.
//!
//! Everything but `checkBlockAsync` runs synchronously on the JavaScript
//! thread. A full check hashes the block about twice (txids, then the wtxids
//! of witness transactions, then two merkle trees): measured here on the
//! debug build (opt-level 2, SHA extensions), 7 ms for a 1.4 MB mainnet block
//! of 2,500 transactions, so 15-20 ms for a full 4 MB block; splitting alone
//! (`blockTxRanges`) is 0.3 ms. A downloader checking blocks as they arrive
//! would hold the event loop that long per block: `checkBlockAsync` does the
//! same check on the libuv pool.

use napi::bindgen_prelude::JsObjectValue;
use napi::bindgen_prelude::{AsyncTask, Buffer, Uint32Array};
use napi::{Env, Status, Task};
use napi_derive::napi;
use peerwire_core::block::{
    check_block as core_check_block, merkle_root as core_merkle_root, Block, BlockError,
    BlockSummary, CheckOptions,
};

/// Throws `e` as a JavaScript `Error` with `code` (the reject reason),
/// `mutated` ([`BlockError::is_mutation`]) and, for unparseable bytes,
/// `offset`; returns the error that tells napi an exception is pending.
fn throw(env: &Env, e: &BlockError) -> napi::Error {
    let thrown = (|| {
        let mut error = env.create_error(napi::Error::from_reason(e.to_string()))?;
        error.set_named_property("code", e.reason())?;
        error.set_named_property("mutated", e.is_mutation())?;
        if let BlockError::Malformed(parse) = e {
            error.set_named_property("offset", parse.offset as f64)?;
        }
        env.throw(error)
    })();
    match thrown {
        Ok(()) => napi::Error::new(Status::PendingException, String::new()),
        Err(failed) => failed,
    }
}

fn parse<'a>(env: &Env, raw: &'a [u8]) -> napi::Result<Block<'a>> {
    Block::parse(raw).map_err(|e| throw(env, &e.into()))
}

/// What a block that passed the check is.
#[napi(object)]
pub struct BlockCheck {
    /// Block hash, wire order (32 bytes).
    pub hash: Buffer,
    pub tx_count: u32,
    /// Bytes, with witness data.
    pub size: u32,
    /// Bytes without witness data.
    pub stripped_size: u32,
    /// BIP 141 weight: strippedSize × 3 + size.
    pub weight: u32,
    /// Some transaction carries witness data.
    pub has_witness: bool,
    /// The coinbase has a witness commitment, and it matched.
    pub witness_commitment: bool,
    /// Legacy signature operations (Core's CheckBlock limit: 20,000).
    pub sigops: u32,
    /// The txids, wire order, 32 bytes each, in block order.
    pub txids: Buffer,
}

impl From<BlockSummary> for BlockCheck {
    fn from(s: BlockSummary) -> Self {
        // A parsed block is under 4 GiB, so its sizes and counts fit 32 bits;
        // a block that passed is under 4 MB.
        let small = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
        Self {
            hash: s.hash.to_vec().into(),
            tx_count: small(s.tx_count as u64),
            size: small(s.size as u64),
            stripped_size: small(s.stripped_size as u64),
            weight: small(s.weight),
            has_witness: s.has_witness,
            witness_commitment: s.witness_commitment,
            sigops: small(s.sigops),
            txids: s.txids.concat().into(),
        }
    }
}

/// What the caller knows of the block beyond its hash.
#[napi(object)]
#[derive(Default)]
pub struct CheckBlockOptions {
    /// Its height when BIP 34 applies there: the coinbase must start with it.
    pub bip34_height: Option<u32>,
    /// Segwit active at the block (default true): see CheckOptions in
    /// peerwire-core's block module.
    pub segwit_active: Option<bool>,
}

fn core_options(
    expected_hash: Option<&[u8]>,
    options: Option<CheckBlockOptions>,
) -> napi::Result<CheckOptions> {
    let expected_hash = match expected_hash {
        None => None,
        Some(hash) => Some(<[u8; 32]>::try_from(hash).map_err(|_| {
            napi::Error::new(
                Status::InvalidArg,
                format!("expectedHash must be 32 bytes, got {}", hash.len()),
            )
        })?),
    };
    let options = options.unwrap_or_default();
    Ok(CheckOptions {
        expected_hash,
        bip34_height: options.bip34_height,
        segwit_active: options.segwit_active.unwrap_or(true),
    })
}

/// Checks a raw block against its header, as Bitcoin Core's CheckBlock does
/// (merkle root and CVE-2012-2459, sizes, coinbase, each transaction, sigops)
/// plus BIP 34's height and the witness commitment and weight. With
/// `expectedHash`, a block with another header is refused first. Throws an
/// Error with `code` (the reject reason), `mutated` and, for bytes that do
/// not parse, `offset`.
#[napi(catch_unwind)]
pub fn check_block(
    env: Env,
    raw: &[u8],
    expected_hash: Option<&[u8]>,
    options: Option<CheckBlockOptions>,
) -> napi::Result<BlockCheck> {
    let options = core_options(expected_hash, options)?;
    core_check_block(raw, &options)
        .map(BlockCheck::from)
        .map_err(|e| throw(&env, &e))
}

/// The check of `checkBlock` on the libuv thread pool. Resolves to the
/// check's result or why it failed (the TypeScript wrapper rejects with a
/// BlockError): a Task's rejection cannot carry the error's properties.
pub struct CheckBlockTask {
    /// A copy: a JS buffer may be written to or detached (transferred) while
    /// the pool thread reads, and a reference does not pin its memory.
    raw: Vec<u8>,
    options: CheckOptions,
}

/// The outcome of `checkBlockAsync`: `check`, or the properties of the
/// error `checkBlock` would have thrown.
#[napi(object)]
pub struct BlockCheckOutcome {
    pub check: Option<BlockCheck>,
    pub code: Option<String>,
    pub message: Option<String>,
    pub mutated: Option<bool>,
    pub offset: Option<f64>,
}

impl Task for CheckBlockTask {
    type Output = Result<BlockSummary, BlockError>;
    type JsValue = BlockCheckOutcome;

    fn compute(&mut self) -> napi::Result<Self::Output> {
        // A panic would abort the pool thread's process: contain it.
        std::panic::catch_unwind(|| core_check_block(&self.raw, &self.options))
            .map_err(|_| napi::Error::from_reason("checkBlockAsync panicked"))
    }

    fn resolve(&mut self, _env: Env, output: Self::Output) -> napi::Result<Self::JsValue> {
        Ok(match output {
            Ok(summary) => BlockCheckOutcome {
                check: Some(summary.into()),
                code: None,
                message: None,
                mutated: None,
                offset: None,
            },
            Err(e) => BlockCheckOutcome {
                check: None,
                code: Some(e.reason().to_owned()),
                message: Some(e.to_string()),
                mutated: Some(e.is_mutation()),
                offset: match &e {
                    BlockError::Malformed(parse) => Some(parse.offset as f64),
                    _ => None,
                },
            },
        })
    }
}

/// `checkBlock` off the event loop, for large blocks. The bytes are copied
/// first (about 1 ms for 4 MB against a check of 15-20 ms), so the caller
/// may do anything with `raw` meanwhile.
#[napi(catch_unwind, ts_return_type = "Promise<BlockCheckOutcome>")]
pub fn check_block_async(
    raw: &[u8],
    expected_hash: Option<&[u8]>,
    options: Option<CheckBlockOptions>,
) -> napi::Result<AsyncTask<CheckBlockTask>> {
    let options = core_options(expected_hash, options)?;
    Ok(AsyncTask::new(CheckBlockTask {
        raw: raw.to_vec(),
        options,
    }))
}

/// Each transaction's byte range in the block: `[start0, end0, start1, end1,
/// …]` (offsets from the block's first byte), for `raw.subarray(start, end)`.
/// Parses only (no hashing, no checks); throws "malformed-block".
#[napi(catch_unwind)]
pub fn block_tx_ranges(env: Env, raw: &[u8]) -> napi::Result<Uint32Array> {
    let block = parse(&env, raw)?;
    let ranges: Vec<u32> = block
        .layouts()
        .iter()
        .flat_map(|t| [t.start, t.end])
        .collect();
    Ok(Uint32Array::new(ranges))
}

/// The txids of a block's transactions, wire order, 32 bytes each, back to
/// back. Parses only; throws "malformed-block".
#[napi(catch_unwind)]
pub fn block_txids(env: Env, raw: &[u8]) -> napi::Result<Buffer> {
    let block = parse(&env, raw)?;
    Ok(block
        .txs()
        .flat_map(|tx| tx.txid())
        .collect::<Vec<u8>>()
        .into())
}

/// The wtxids (BIP 141) of a block's transactions, as `blockTxids`. The
/// coinbase's is its real wtxid (the witness merkle tree uses zeros in its
/// place).
#[napi(catch_unwind)]
pub fn block_wtxids(env: Env, raw: &[u8]) -> napi::Result<Buffer> {
    let block = parse(&env, raw)?;
    Ok(block
        .txs()
        .flat_map(|tx| tx.wtxid())
        .collect::<Vec<u8>>()
        .into())
}

/// Every `code` a block failure can have (Core's reject reasons and ours).
#[napi(catch_unwind)]
pub fn block_error_codes() -> Vec<&'static str> {
    BlockError::REASONS.to_vec()
}

/// A merkle root and whether the tree had an identical pair (CVE-2012-2459).
#[napi(object)]
pub struct MerkleRoot {
    pub root: Buffer,
    pub mutated: bool,
}

/// The merkle root of 32-byte hashes given back to back (Bitcoin's tree: an
/// odd level pairs its last hash with itself; no hashes give 32 zero bytes).
#[napi(catch_unwind)]
pub fn merkle_root(hashes: &[u8]) -> napi::Result<MerkleRoot> {
    if !hashes.len().is_multiple_of(32) {
        return Err(napi::Error::new(
            Status::InvalidArg,
            format!("{} bytes are not whole 32-byte hashes", hashes.len()),
        ));
    }
    let leaves = hashes
        .chunks_exact(32)
        .map(|h| <[u8; 32]>::try_from(h).unwrap_or([0; 32]))
        .collect();
    let (root, mutated) = core_merkle_root(leaves);
    Ok(MerkleRoot {
        root: root.to_vec().into(),
        mutated,
    })
}
