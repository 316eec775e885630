//! Runner and generator for the cross-implementation test-vector manifests.
#![forbid(unsafe_code)]

pub mod manifest;
