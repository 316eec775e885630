#![no_main]
//! Fuzz target `encrypt_roundtrip`: see [`esdk_fuzz::common::checks::encrypt_roundtrip`].

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| esdk_fuzz::common::checks::encrypt_roundtrip(data));
