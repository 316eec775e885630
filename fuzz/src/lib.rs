//! Fuzzing harness for the ESDK message engine (never published).
//!
//! The checks live in [`common`] (shared with the corpus replay test of `esdk-core`, which
//! includes it with `#[path]`) and in [`rsa`] (needs `esdk-std`; replayed by `esdk-std`'s tests).

pub mod common;
pub mod rsa;
