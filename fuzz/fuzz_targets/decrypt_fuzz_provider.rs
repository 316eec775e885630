#![no_main]
//! Fuzz target `decrypt_fuzz_provider`: see [`esdk_fuzz::common::checks::decrypt_fuzz_provider`].

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| esdk_fuzz::common::checks::decrypt_fuzz_provider(data));
