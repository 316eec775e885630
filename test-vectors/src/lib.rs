//! Runner and generator for the cross-implementation test-vector manifests.
//!
//! * [`manifest`]: typed readers for every manifest / KAT format.
//! * [`keyrings`] (+ [`extra_keyrings`]): keyrings and materials managers from key descriptions.
//! * [`sources`]: manifests → [`runner::Vector`]s.
//! * [`shared`]: where the shared test vectors are read from, and the clear failure when they
//!   are missing.
//! * [`runner`]: runs vectors through every decrypt path and judges them.
//! * [`generate`]: writes vectors (framework 0003 / Dafny v5 encrypt manifests)
//!   and tampered must-fail vectors (framework 0006).
//! * [`layout`]: a structural walk over messages.
//! * [`stream_peer`]: stdin → stdout streaming through the `esdk-std` adapters, for live peers.
#![forbid(unsafe_code)]

pub mod extra_keyrings;
pub mod generate;
pub mod keyrings;
pub mod layout;
pub mod manifest;
pub mod runner;
/// Where the shared test vectors are read from, and the clear failure when they are missing.
pub mod shared;
pub mod sources;
pub mod stream_peer;
