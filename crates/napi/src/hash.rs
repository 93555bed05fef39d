//! Hashing for the TypeScript side: node's crypto pays several microseconds of
//! setup per call, which dominates when validating tens of thousands of headers.

use napi::bindgen_prelude::Buffer;
use napi::{Error, Result, Status};
use napi_derive::napi;

/// SHA-256 applied twice.
#[napi(catch_unwind)]
pub fn double_sha256(data: &[u8]) -> Buffer {
    peerwire_core::double_sha256(data).to_vec().into()
}

/// SHA-256 applied twice to the first `len` bytes (default: all) of each
/// `stride`-byte record of `data`, the hashes back to back: a whole headers
/// message in one call (a call per header costs more than its hash). A
/// `headers` payload's records are 81 bytes, an 80-byte header and its
/// transaction count, so it is hashed in place with `stride` 81, `len` 80.
#[napi(catch_unwind)]
pub fn double_sha256_each(data: &[u8], stride: u32, len: Option<u32>) -> Result<Buffer> {
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
    let mut out = Vec::with_capacity(data.len() / stride * 32);
    for record in data.chunks_exact(stride) {
        out.extend_from_slice(&peerwire_core::double_sha256(&record[..len]));
    }
    Ok(out.into())
}
