//! Stream adapters: `std::io` readers and writers in both directions, and tokio equivalents
//! behind the `tokio` feature. Each holds at most one frame (plus the header) in memory.
//!
//! Both families drive the same engines and offer the same surface (`io` takes
//! [`crate::client::Blocking`] options only; `tokio` takes any):
//!
//! | | `io` | `tokio` |
//! |---|---|---|
//! | encrypting writer | `EncryptingWriter::new`, `header`, `finish`, `try_finish`, `into_inner` | `AsyncEncryptingWriter::new` (async), `header`, `finish` (async), `shutdown`, `into_inner` |
//! | encrypting reader | `EncryptingReader::new`, `header`, `into_inner` | `AsyncEncryptingReader::new` (async), `header`, `into_inner` |
//! | decrypting reader | `DecryptingReader::new`, `with_max_buffer`, `header`, `encryption_context`, `buffer_capacity`, `into_inner` | `AsyncDecryptingReader::new` / `with_max_buffer` (async), `header`, `encryption_context`, `buffer_capacity`, `into_inner` |
//! | decrypting writer | `DecryptingWriter::new`, `with_max_buffer`, `header`, `buffer_capacity`, `finish`, `try_finish`, `into_inner` | `AsyncDecryptingWriter::new`, `with_max_buffer`, `header`, `buffer_capacity`, `finish` (async), `shutdown`, `into_inner` |
//!
//! Differences that remain: `DecryptingReader::read_header` (the tokio reader reads the header
//! in `new`), and `try_finish` (the tokio writers' `shutdown` is itself resumable).

pub(crate) mod engine;
pub mod io;
pub(crate) mod one_shot;
#[cfg(feature = "tokio")]
pub mod tokio;
