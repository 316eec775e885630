//! Stream adapters: `std::io` readers and writers in both directions, and tokio equivalents
//! behind the `tokio` feature. Each holds at most one frame (plus the header) in memory.
//!
//! Both families drive the same engines and offer the same surface (`io` takes
//! [`crate::client::Blocking`] options only; `tokio` takes any):
//!
//! | | `io` | `tokio` |
//! |---|---|---|
//! | encrypting writer | `EncryptingWriter::new`, `header`, `running_workers`, `finish`, `try_finish`, `into_inner` | `AsyncEncryptingWriter::new` (async), `header`, `running_workers`, `finish` (async), `shutdown`, `into_inner` |
//! | encrypting reader | `EncryptingReader::new`, `header`, `running_workers`, `into_inner` | `AsyncEncryptingReader::new` (async), `header`, `running_workers`, `into_inner` |
//! | decrypting reader | `DecryptingReader::new`, `with_max_buffer`, `read_header`, `header`, `encryption_context`, `buffer_capacity`, `peak_buffered`, `running_workers`, `into_inner` | `AsyncDecryptingReader::new` / `with_max_buffer` (async), `read_header` (async), `header`, `encryption_context`, `buffer_capacity`, `peak_buffered`, `running_workers`, `into_inner` |
//! | decrypting writer | `DecryptingWriter::new`, `with_max_buffer`, `header`, `encryption_context`, `buffer_capacity`, `peak_buffered`, `running_workers`, `finish`, `try_finish`, `into_inner` | `AsyncDecryptingWriter::new`, `with_max_buffer`, `header`, `encryption_context`, `buffer_capacity`, `peak_buffered`, `running_workers`, `finish` (async), `shutdown`, `into_inner` |
//!
//! Frame-parallel mode is a setting of all eight: `EncryptOptions::parallelism(n)` /
//! `DecryptOptions::parallelism(n)` (see [`crate::parallel`]). With 1, the default, the adapter
//! is the sequential engine and starts no thread; with more, regular frames are sealed or
//! opened on `n` threads owned by the adapter (joined when it is dropped or fails), with the
//! same output, the same release rules and at most `n + 2` frame batches buffered. The tokio
//! adapters never block a runtime thread on the workers: they return `Pending` and are woken
//! by the worker that finishes a batch.
//!
//! Differences that remain: `try_finish` exists on the `io` writers only (the tokio writers'
//! `shutdown` is itself resumable); the tokio reader's `new` waits for the whole header (a
//! pending inner reader suspends it), so its `read_header` returns at once, while the `io`
//! reader's `new` returns early on `WouldBlock` and `read_header` completes the header.

pub(crate) mod engine;
pub mod io;
pub(crate) mod one_shot;
#[cfg(feature = "tokio")]
pub mod tokio;
