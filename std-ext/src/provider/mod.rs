//! Crypto backends and randomness for everything in this crate.
//!
//! Every layer (the [`Client`](crate::Client), the one-shot and stream adapters, keyrings and
//! materials managers) takes its primitives from a [`Backend`] and its randomness from a
//! [`SharedRng`], both chosen once by the user and carried by value. The backend is a small
//! enum over the providers compiled in, so switching is one line and nothing is generic over
//! it above the core:
//!
//! ```
//! use esdk_std::{Client, provider::Backend};
//! let client = Client::builder().backend(Backend::default()).build();
//! # let _ = client;
//! ```
//!
//! | feature | provider | side channels |
//! | --- | --- | --- |
//! | `aws-lc` (default) | [`AwsLc`]: AWS-LC via `aws-lc-rs` (assembly AES-GCM, constant-time P-256/P-384, blinded constant-time RSA) | the side-channel-safe build |
//! | `rustcrypto` | [`RustCrypto`](esdk_core::crypto::rustcrypto::RustCrypto): pure Rust | AES-GCM and ECDSA constant time; RSA (raw RSA keyring) is **not**: `rsa` 0.9, RUSTSEC-2023-0071 |
//!
//! The raw RSA keyring's wrap and unwrap run on the backend of each operation (the client's),
//! like every other primitive: [`Backend::rsa_side_channel_safe`] says whether that backend's
//! private-key operation is constant time.
//!
//! With both features compiled in, [`Backend::default`] is aws-lc; with only `rustcrypto`, it
//! is RustCrypto. A provider outside this crate (hardware, an external FIPS module, an
//! instrumented wrapper) implements esdk-core's
//! [`CryptoProvider`](esdk_core::crypto::CryptoProvider) and this crate's [`StdProvider`], and
//! plugs in with [`Backend::custom`]; it then serves every layer like a built-in backend.
//!
//! Any backend can hash the footer signature's running digest of large signed messages on a
//! thread of its own ([`Backend::with_pipelined_digest`], or
//! [`ClientBuilder::pipelined_digest`](crate::ClientBuilder::pipelined_digest)): off by
//! default, on in the `esdk` CLI.

#[cfg(feature = "aws-lc")]
mod aws_lc;
mod backend;
mod custom;
mod ext;
mod pipelined;
mod rng;
mod rsa;

pub use self::rsa::{RsaDecryptingKey, RsaEncryptingKey, RsaKeyEncoding};
#[cfg(feature = "aws-lc")]
pub use aws_lc::{AwsLc, AwsLcAeadKey, AwsLcDigest, AwsLcGmac};
pub use backend::{Backend, BackendAeadKey, BackendDigest, BackendGmac};
pub use custom::{CustomProvider, ErasedAeadKey, ErasedDigest, ErasedGmac};
#[cfg(feature = "rustcrypto")]
pub use esdk_core::crypto::rustcrypto::RustCrypto;
pub use ext::StdProvider;
pub(crate) use ext::scalar_len;
pub use pipelined::{PIPELINED_DIGEST_MIN_BYTES, PipelinedBackend, PipelinedDigest};
pub use rng::SharedRng;

#[cfg(not(any(feature = "aws-lc", feature = "rustcrypto")))]
compile_error!(
    "esdk-std needs a crypto backend: enable feature `aws-lc` (default) or `rustcrypto`"
);
