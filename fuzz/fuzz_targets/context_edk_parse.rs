#![no_main]
//! Fuzz target `context_edk_parse`: see [`esdk_fuzz::common::checks::context_edk_parse`].

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| esdk_fuzz::common::checks::context_edk_parse(data));
