//! peerwire-napi: the N-API bridge between the drivers (tokio, and the
//! simulated network) and JavaScript.
//!
//! Every exported method catches panics (`catch_unwind`), and the driver's tasks
//! contain their own, so no Rust panic can abort Node.

// Under `cargo test` the #[napi] registrations are compiled out, leaving the
// exported functions looking unused.
#![cfg_attr(test, allow(dead_code))]

mod allocator;
mod batch;
mod block;
mod engine;
mod hash;
mod options;
mod sim;
#[cfg(feature = "test-hooks")]
mod test_hooks;
