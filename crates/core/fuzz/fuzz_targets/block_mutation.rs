//! No edit of a real block passes the check as that block.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| peerwire_core_fuzz::check_block_mutation(data));
