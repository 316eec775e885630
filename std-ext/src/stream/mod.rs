//! Stream adapters: `std::io` readers and writers in both directions, and tokio equivalents
//! behind the `tokio` feature. Each holds at most one frame (plus the header) in memory.

pub(crate) mod engine;
pub mod io;
#[cfg(feature = "tokio")]
pub mod tokio;
