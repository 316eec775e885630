//! AWS KMS keyrings for the `esdk` crates.
//!
//! This crate is a placeholder for the KMS keyrings; they are tracked as their own issue and
//! nothing is exported yet.
#![forbid(unsafe_code)]
