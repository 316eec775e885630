#![no_main]
//! Fuzz target `decrypt_rustcrypto`: see [`esdk_fuzz::common::checks::decrypt_rustcrypto`].

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| esdk_fuzz::common::checks::decrypt_rustcrypto(data));
