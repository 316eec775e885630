#![no_main]
//! Fuzz target `decrypt_chunked`: see [`esdk_fuzz::common::checks::decrypt_chunked`].

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| esdk_fuzz::common::checks::decrypt_chunked(data));
