#![no_main]
//! Fuzz target `header_work`: see [`esdk_fuzz::common::work::header_work`].

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| esdk_fuzz::common::work::header_work(data));
