//! glibc's malloc serves allocations past its mmap threshold (128 KiB at
//! start) with mmap, and returns them to the system when freed. But each time
//! it frees such a block it raises the threshold to that block's size (up to
//! 32 MiB), so from then on large frames (a 1.8 MB getdata, a block) come from
//! the arenas, where freed memory stays resident when its neighbours live on.
//! Under floods of large messages that left a node ~10 % larger than what it
//! held. Setting the threshold fixes it and turns the adjustment off.

use napi_derive::napi;

#[cfg(all(target_os = "linux", target_env = "gnu"))]
mod glibc {
    use std::ffi::c_int;

    /// `M_MMAP_THRESHOLD` in glibc's malloc.h.
    const M_MMAP_THRESHOLD: c_int = -3;

    unsafe extern "C" {
        fn mallopt(param: c_int, value: c_int) -> c_int;
    }

    pub fn set_mmap_threshold(bytes: u32) -> bool {
        let Ok(value) = c_int::try_from(bytes) else {
            return false;
        };
        // SAFETY: mallopt takes the arena lock and only changes a tunable
        // (it returns 1 once set). The range is the caller's to check: glibc
        // takes values far past what is sensible.
        unsafe { mallopt(M_MMAP_THRESHOLD, value) == 1 }
    }
}

/// Fixes glibc malloc's mmap threshold at `bytes` for the whole process, so
/// freed large buffers go back to the system. Returns false where the C
/// library is not glibc (nothing to do), or the value was refused. The
/// TypeScript wrapper checks the range (napi wraps numbers into a u32).
#[napi(catch_unwind)]
pub fn pin_mmap_threshold(bytes: u32) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        glibc::set_mmap_threshold(bytes)
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = bytes;
        false
    }
}
