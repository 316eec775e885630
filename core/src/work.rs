//! A deterministic measure of parsing work, for tests that prove cost is linear in the bytes
//! received however they are chunked.
//!
//! With the `work-counter` feature (off by default; meant for test and fuzz builds only), every
//! byte the message parsers examine (header fields, encryption-context and EDK entries, key
//! comparisons of the duplicate-key check) is added to a counter. Without the
//! feature the counting calls compile to nothing.
//!
//! The counter is per thread (the feature links `std` for its thread-local storage), so tests
//! running in parallel do not disturb each other; it counts the work done on the calling thread.

#[cfg(feature = "work-counter")]
extern crate std;

#[cfg(feature = "work-counter")]
std::thread_local! {
    static EXAMINED: core::cell::Cell<usize> = const { core::cell::Cell::new(0) };
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

/// Sets this thread's counter back to zero.
#[cfg(feature = "work-counter")]
pub fn reset() {
    EXAMINED.with(|c| c.set(0));
}
