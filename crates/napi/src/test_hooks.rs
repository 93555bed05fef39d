//! Test hooks, only in builds with the `test-hooks` feature (the test suite's):
//! forced panics, to prove that none of them can reach Node.

use crate::engine::{unknown, NativeEngine};
use napi::Result;
use napi_derive::napi;

#[napi]
impl NativeEngine {
    /// Makes `peer`'s I/O task panic. The panic is contained and the peer
    /// disconnects with reason "internal".
    #[napi(catch_unwind)]
    pub fn debug_panic_peer(&self, peer: u32) -> Result<()> {
        self.driver.inject_panic(peer).map_err(unknown)
    }

    /// Panics inside this very call. It must surface as a JavaScript error,
    /// never abort the process.
    #[napi(catch_unwind)]
    pub fn debug_panic_now(&self) {
        panic!("panic requested through debugPanicNow");
    }
}
