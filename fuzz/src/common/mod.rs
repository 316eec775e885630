//! Code shared by the fuzz targets (`fuzz/fuzz_targets/*.rs`) and by the corpus replay tests of
//! the main workspace, which include this directory with `#[path]`.
//!
//! * [`provider`]: a fuzzing-only [`CryptoProvider`](esdk_core::crypto::CryptoProvider) whose
//!   tags and signatures a fuzzer can forge (never shipped), a logging wrapper around any
//!   provider, and deterministic randomness;
//! * [`drive`]: a decrypt driver that checks the decryptor's contract on every call;
//! * [`reference`]: small parsers and a serializer written from the format description,
//!   independently of `esdk-core`, used as oracles;
//! * [`checks`]: the check behind each fuzz target, one function per target;
//! * [`work`]: hostile headers and a work-counting driver (decrypt cost linear in the input,
//!   whatever the chunking);
//! * [`replay`]: runs a check over a target's committed corpus and regressions (replay tests).
//!
//! Only `esdk_core`, `rand_core` and `std` are used, so the same files compile inside the fuzz
//! crate and as a module of `esdk-core`'s integration tests.

pub mod checks;
pub mod drive;
pub mod input;
pub mod provider;
pub mod reference;
pub mod replay;
pub mod work;
