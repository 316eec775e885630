//! Keyrings, materials managers, the one-shot client and stream adapters.
#![forbid(unsafe_code)]
