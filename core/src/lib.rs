//! # esdk-core
//!
//! A `no_std`, sans-IO engine for the [AWS Encryption SDK message format]: all 11 algorithm
//! suites, header v1 and v2, key derivation and key commitment, framed AES-GCM bodies and ECDSA
//! footers, as state machines that never do I/O, never allocate on their own (allocation is
//! optional behind the `alloc` feature) and never panic on input.
//!
//! ```text
//!          bytes in                         bytes out
//!  caller ─────────► Decryptor::process ──► NeedInput | NeedMaterials | HeaderVerified
//!    ▲                                      | Plaintext (in place) | Done
//!    └── answers NeedMaterials with DecryptionMaterials (data key unwrapped by a keyring)
//! ```
//!
//! * [`decrypt::Decryptor`]: feed input and an end-of-input flag, get one state back.
//! * [`encrypt::Encryptor`]: a typestate from configuration through materials and header to
//!   frames and `finish`.
//! * [`crypto::CryptoProvider`]: pluggable primitives; [`crypto::rustcrypto::RustCrypto`] is the
//!   default (feature `rustcrypto`).
//! * [`raw_aes`]: raw AES key wrapping, so an embedded caller can answer materials requests.
//!
//! ## Security model
//! Nothing unauthenticated is released: header fields only after the header tag (and, for
//! committing suites, the key commitment) verify; each frame only after its tag verifies; for
//! signed suites the final frame only after the signature verifies. Regular frames of a signed
//! message are released before the signature is checked (they are authenticated by their tags,
//! but not yet signed): a caller must discard everything it received if decryption later fails.
//!
//! [AWS Encryption SDK message format]: https://docs.aws.amazon.com/encryption-sdk/latest/developer-guide/message-format.html
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::std_instead_of_core)]
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod body;
mod codec;
pub mod crypto;
pub mod decrypt;
pub mod edk;
pub mod encrypt;
pub mod encryption_context;
pub mod error;
pub mod frame_cipher;
pub mod header;
pub mod keys;
pub mod materials;
pub mod policy;
pub mod raw_aes;
pub mod suite;
pub mod work;

pub use decrypt::{DecryptConfig, DecryptState, DecryptStatus, Decryptor, MaterialsRequest};
pub use edk::EdkRef;
pub use encrypt::{EncryptConfig, Encryptor, FrameEncryptor, HeaderReady, ciphertext_len};
pub use encryption_context::EncryptionContextRef;
pub use error::{Error, ErrorCategory, Result};
pub use frame_cipher::{FrameCipher, FrameLayout};
pub use header::{ContentType, HeaderRef};
pub use keys::{DataKey, SigningKey, VerificationKey};
pub use materials::{DecryptionMaterials, EncryptionMaterials};
pub use policy::{CommitmentPolicy, DecryptLimits, SignaturePolicy};
pub use suite::AlgorithmSuite;

#[cfg(feature = "alloc")]
pub use edk::EncryptedDataKey;
#[cfg(feature = "alloc")]
pub use encryption_context::EncryptionContext;
#[cfg(feature = "alloc")]
pub use header::Header;
