#![no_main]
//! Fuzz target `header_roundtrip`: see [`esdk_fuzz::common::checks::header_roundtrip`].

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| esdk_fuzz::common::checks::header_roundtrip(data));
