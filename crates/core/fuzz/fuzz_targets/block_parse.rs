//! Any bytes as a block: no panic, memory follows the input, what parses is consistent.
#![no_main]

#[global_allocator]
static ALLOC: peerwire_core_fuzz::CountingAlloc = peerwire_core_fuzz::CountingAlloc;

libfuzzer_sys::fuzz_target!(|data: &[u8]| peerwire_core_fuzz::check_block_parse(data));
