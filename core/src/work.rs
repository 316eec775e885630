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
    EVENT_COUNTS.with(|c| c.iter().for_each(|c| c.set(0)));
}

/// Steps of the decrypt flow that should each happen once per layer that owns them, counted
/// per thread with the `work-counter` feature (tests prove that one decrypt does each of them
/// as often as it should; see `std-ext/tests/decrypt_flow.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// An encryption context was validated from its serialized form
    /// (`EncryptionContextRef::parse`).
    ContextParse,
    /// An owned encryption context was serialized (`EncryptionContext::serialize*`).
    ContextSerialize,
    /// A suite was checked against a commitment policy for decryption
    /// (`CommitmentPolicy::allows_decrypt`, also reached through `check_decrypt`).
    DecryptPolicyCheck,
    /// A verification key was decoded from its `aws-crypto-public-key` text.
    VerificationKeyDecode,
}

#[cfg(feature = "work-counter")]
const EVENTS: usize = 4;

#[cfg(feature = "work-counter")]
std::thread_local! {
    static EVENT_COUNTS: [core::cell::Cell<usize>; EVENTS] =
        const { [const { core::cell::Cell::new(0) }; EVENTS] };
}

/// Records one `event`.
#[inline(always)]
pub(crate) fn event(event: Event) {
    #[cfg(feature = "work-counter")]
    EVENT_COUNTS.with(|c| {
        if let Some(c) = c.get(event as usize) {
            c.set(c.get().saturating_add(1));
        }
    });
    #[cfg(not(feature = "work-counter"))]
    let _ = event;
}

/// Times `event` happened on this thread since the last [`reset`].
#[cfg(feature = "work-counter")]
pub fn events(event: Event) -> usize {
    EVENT_COUNTS.with(|c| c.get(event as usize).map_or(0, core::cell::Cell::get))
}
