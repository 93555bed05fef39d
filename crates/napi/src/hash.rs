//! Hashing for the TypeScript side: node's crypto pays several microseconds of
//! setup per call, which dominates when validating tens of thousands of headers.

use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

/// SHA-256 applied twice.
#[napi(catch_unwind)]
pub fn double_sha256(data: &[u8]) -> Buffer {
    peerwire_core::double_sha256(data).to_vec().into()
}
