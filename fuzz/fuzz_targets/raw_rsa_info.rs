#![no_main]
//! Fuzz target `raw_rsa_info`: see [`esdk_fuzz::rsa::raw_rsa_info`].

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| esdk_fuzz::rsa::raw_rsa_info(data));
