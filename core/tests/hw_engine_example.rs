//! Runs `examples/hw_engine_provider.rs` as a test: an AES-GCM "hardware engine" provider drives
//! the unchanged state machines (round trips, cross-provider messages, a tampered message).
#![cfg(all(feature = "rustcrypto", feature = "encrypt"))]
#![allow(missing_docs)]

#[path = "../examples/hw_engine_provider.rs"]
mod example;

#[test]
fn hw_engine_provider_example_runs() {
    example::main();
}
