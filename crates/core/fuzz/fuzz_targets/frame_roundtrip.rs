//! Encoded frames decode back to their commands and payloads.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| peerwire_core_fuzz::check_roundtrip(data));
