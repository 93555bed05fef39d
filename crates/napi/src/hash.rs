//! Hashing for the TypeScript side: node's crypto pays several microseconds of
//! setup per call, which dominates when validating tens of thousands of headers.
//!
//! Hashes are written into a buffer the caller allocates (from node's pool): a
//! buffer made on this side, external or copied, costs several times the hash.

use napi::bindgen_prelude::BufferSlice;
use napi::{Error, Result, Status};
use napi_derive::napi;

const HASH_BYTES: usize = 32;

/// `data` and `out` may be views of the same memory from JavaScript; writing
/// through one while reading the other is not allowed, so that is refused.
fn check_disjoint(data: &[u8], out: &[u8]) -> Result<()> {
    let (d, o) = (data.as_ptr_range(), out.as_ptr_range());
    if d.start < o.end && o.start < d.end {
        return Err(Error::new(
            Status::InvalidArg,
            "the output buffer overlaps the input".to_owned(),
        ));
    }
    Ok(())
}

fn too_small(needed: usize, got: usize) -> Error {
    Error::new(
        Status::InvalidArg,
        format!("the output buffer holds {got} bytes; {needed} are needed"),
    )
}

/// SHA-256 applied twice, into the first 32 bytes of `out`.
#[napi(catch_unwind)]
pub fn double_sha256_into(data: &[u8], mut out: BufferSlice) -> Result<()> {
    check_disjoint(data, &out)?;
    let got = out.len();
    let out = out
        .get_mut(..HASH_BYTES)
        .ok_or_else(|| too_small(HASH_BYTES, got))?;
    out.copy_from_slice(&peerwire_core::double_sha256(data));
    Ok(())
}

/// SHA-256 applied twice to the first `len` bytes (default: all) of each
/// `stride`-byte record of `data`, the hashes back to back in `out`: a whole
/// headers message in one call (a call per header costs more than its hash).
/// A `headers` payload's records are 81 bytes, an 80-byte header and its
/// transaction count, so it is hashed in place with `stride` 81, `len` 80.
#[napi(catch_unwind)]
pub fn double_sha256_each_into(
    data: &[u8],
    stride: u32,
    len: Option<u32>,
    mut out: BufferSlice,
) -> Result<()> {
    let stride = stride as usize;
    let len = len.map_or(stride, |l| l as usize);
    if stride == 0 || !data.len().is_multiple_of(stride) {
        return Err(Error::new(
            Status::InvalidArg,
            format!(
                "{} bytes are not whole records of {stride} bytes",
                data.len()
            ),
        ));
    }
    if len == 0 || len > stride {
        return Err(Error::new(
            Status::InvalidArg,
            format!("cannot hash {len} bytes of {stride}-byte records"),
        ));
    }
    check_disjoint(data, &out)?;
    let needed = data.len() / stride * HASH_BYTES;
    let got = out.len();
    let out = out
        .get_mut(..needed)
        .ok_or_else(|| too_small(needed, got))?;
    for (record, hash) in data
        .chunks_exact(stride)
        .zip(out.chunks_exact_mut(HASH_BYTES))
    {
        hash.copy_from_slice(&peerwire_core::double_sha256(&record[..len]));
    }
    Ok(())
}
