//! Any split of a stream into reads decodes as the whole stream does.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| peerwire_core_fuzz::check_split(data));
