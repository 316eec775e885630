//! A deterministic measure of parsing work, for tests that prove cost is linear in the bytes
//! received however they are chunked.
//!
//! With the `work-counter` feature (off by default; meant for test and fuzz builds only), every
//! byte the message parsers examine (header fields, encryption-context and EDK entries, key
//! comparisons of the duplicate-key check) is added to a counter, and every run of the header
//! parser to another. Without the feature the counting calls compile to nothing.
//!
//! The counter is per thread (the feature links `std` for its thread-local storage), so tests
//! running in parallel do not disturb each other; it counts the work done on the calling thread.

#[cfg(feature = "work-counter")]
extern crate std;

#[cfg(feature = "work-counter")]
std::thread_local! {
    static EXAMINED: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
    static PARSER_RUNS: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
}

/// Records that the header parser ran (a decrypt call that got past the fixed-cost check of
/// whether the input reached what the parser waits for).
#[inline(always)]
pub(crate) fn parser_run() {
    #[cfg(feature = "work-counter")]
    PARSER_RUNS.with(|c| c.set(c.get().saturating_add(1)));
}

/// Records that `n` bytes were examined.
#[inline(always)]
pub(crate) fn add(n: usize) {
    #[cfg(feature = "work-counter")]
    EXAMINED.with(|c| c.set(c.get().saturating_add(n)));
    #[cfg(not(feature = "work-counter"))]
    let _ = n;
}

/// Bytes examined by the parsers on this thread since the last [`reset`].
#[cfg(feature = "work-counter")]
pub fn examined() -> usize {
    EXAMINED.with(core::cell::Cell::get)
}

/// Times the header parser ran on this thread since the last [`reset`]. Every other decrypt
/// call in the header stage costs a fixed few instructions (a length comparison), so this
/// count bounds the per-call cost of a header fed in small pieces.
#[cfg(feature = "work-counter")]
pub fn parser_runs() -> usize {
    PARSER_RUNS.with(core::cell::Cell::get)
}

/// Sets this thread's counters back to zero.
#[cfg(feature = "work-counter")]
pub fn reset() {
    EXAMINED.with(|c| c.set(0));
    PARSER_RUNS.with(|c| c.set(0));
}
