//! The decoder's memory follows the bytes it was given, never a claimed length.
#![no_main]

#[global_allocator]
static ALLOC: peerwire_core_fuzz::CountingAlloc = peerwire_core_fuzz::CountingAlloc;

libfuzzer_sys::fuzz_target!(|data: &[u8]| peerwire_core_fuzz::check_memory(data));
