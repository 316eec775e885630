//! A deterministic measure of parsing work, for tests that prove cost is linear in the bytes
//! received however they are chunked.
//!
//! With the `work-counter` feature (off by default; meant for test and fuzz builds only), every
//! byte the message parsers examine (header fields, encryption-context and EDK entries, key
//! comparisons of the duplicate-key check) is added to one process-wide counter. Without the
//! feature the counting calls compile to nothing.
//!
//! The counter is global: a test that reads it must not run other parsing on other threads at
//! the same time (keep such tests in their own test binary, serialized).

#[cfg(feature = "work-counter")]
static EXAMINED: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Records that `n` bytes were examined.
#[inline(always)]
pub(crate) fn add(n: usize) {
    #[cfg(feature = "work-counter")]
    EXAMINED.fetch_add(n, core::sync::atomic::Ordering::Relaxed);
    #[cfg(not(feature = "work-counter"))]
    let _ = n;
}

/// Bytes examined by the parsers since the last [`reset`] (process-wide).
#[cfg(feature = "work-counter")]
pub fn examined() -> usize {
    EXAMINED.load(core::sync::atomic::Ordering::Relaxed)
}

/// Sets the counter back to zero.
#[cfg(feature = "work-counter")]
pub fn reset() {
    EXAMINED.store(0, core::sync::atomic::Ordering::Relaxed);
}
