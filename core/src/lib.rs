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
//!    └── answers NeedMaterials with DecryptionMaterialsRef (data key unwrapped by a keyring)
//! ```
//!
//! * [`decrypt::Decryptor`]: feed input and an end-of-input flag, get one state back.
//! * [`encrypt::Encryptor`]: a typestate from configuration through materials and header to
//!   frames and `finish`.
//! * [`crypto::CryptoProvider`]: pluggable primitives; [`crypto::rustcrypto::RustCrypto`] is the
//!   default (feature `rustcrypto`).
//! * [`input`]: the one decrypt input loop ([`SliceInput`] over a caller's buffer,
//!   [`VecInput`] over a growable one): discards, compaction, end of input.
//! * [`raw_aes`]: raw AES key wrapping ([`RawAesKey`]), so an embedded caller can answer
//!   materials requests.
//!
//! ## A sans-IO round trip, without allocation
//!
//! Encrypt into a stack buffer with a raw AES wrapping key, then decrypt by streaming the
//! message through a fixed 512-byte input buffer ([`SliceInput`] applies the discards and
//! compacts; [`RawAesKey::unwrap_any`] answers the materials request):
//!
//! ```
//! use esdk_core::crypto::rustcrypto::RustCrypto;
//! use esdk_core::encryption_context::{EncryptionContextRef, serialize_pairs};
//! use esdk_core::error::UsageError;
//! use esdk_core::{
//!     AlgorithmSuite, DataKey, DecryptConfig, DecryptState, DecryptionMaterialsRef, Decryptor,
//!     EncryptConfig, EncryptionMaterialsRef, Encryptor, Error, RawAesKey, SliceInput,
//! };
//!
//! # fn main() -> Result<(), Error> {
//! let provider = RustCrypto;
//! let mut rng = rand_core::OsRng;
//! let key = RawAesKey::new("my-namespace", b"my-key", &[0x42; 32])?;
//! let plaintext = [7u8; 200];
//!
//! // Encrypt: materials (a data key wrapped under `key`), header, frames, final frame.
//! let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
//! let mut pairs = [("purpose", "example")];
//! let mut context = [0u8; 64];
//! let n = serialize_pairs(&mut pairs, &mut context)?;
//! let context = EncryptionContextRef::parse(&context[..n])?;
//! let data_key = DataKey::generate(suite, &mut rng)?;
//! let mut edk = [0u8; 128];
//! let edks = [key.wrap(&provider, &context, &data_key, &mut rng, &mut edk)?];
//! let materials = EncryptionMaterialsRef::new(suite, &data_key, &edks)
//!     .with_encryption_context(context);
//! let config = EncryptConfig::new().with_suite(suite).with_frame_length(64);
//! let ready = Encryptor::new(provider, config)?.provide(materials, &mut rng)?;
//! let mut message = [0u8; 1024];
//! let (mut frames, mut len) = ready.write_header(&mut message)?;
//! let mut rest = &plaintext[..];
//! while rest.len() > frames.frame_length() {
//!     let (frame, tail) = rest.split_at(frames.frame_length());
//!     len += frames.seal_frame(frame, &mut message[len..])?;
//!     rest = tail;
//! }
//! len += frames.finish(rest, &mut message[len..], &mut rng)?;
//! let message = &message[..len];
//!
//! // Decrypt: one input loop over a fixed buffer.
//! let mut buf = [0u8; 512];
//! let mut input = SliceInput::new(&mut buf);
//! let mut decryptor = Decryptor::new(provider, DecryptConfig::default());
//! let (mut fed, mut out, mut out_len) = (0, [0u8; 256], 0);
//! loop {
//!     let mut need_input = false;
//!     match input.process(&mut decryptor)? {
//!         DecryptState::NeedInput { .. } => need_input = true,
//!         DecryptState::NeedMaterials(request) => {
//!             // Nothing here is authenticated yet: it only serves to find the data key.
//!             let suite = request.suite();
//!             let context = request.encryption_context_unverified();
//!             match key.unwrap_any(&provider, &context, request.encrypted_data_keys())? {
//!                 Some(dk) => request.provide(&DecryptionMaterialsRef::new(suite, &dk))?,
//!                 None => {
//!                     request.abort();
//!                     return Err(Error::Usage(UsageError::Aborted));
//!                 }
//!             }
//!         }
//!         DecryptState::HeaderVerified(header) => assert_eq!(header.suite(), suite),
//!         DecryptState::Plaintext(chunk) => {
//!             out[out_len..out_len + chunk.len()].copy_from_slice(&chunk);
//!             out_len += chunk.len();
//!         }
//!         DecryptState::Done => break,
//!         _ => {}
//!     }
//!     // The state borrowed the input; now it can take more.
//!     if need_input {
//!         if fed == message.len() {
//!             input.set_eof();
//!         } else {
//!             fed += input.push(&message[fed..])?;
//!         }
//!     }
//! }
//! assert_eq!(&out[..out_len], &plaintext[..]);
//! # Ok(())
//! # }
//! ```
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
// A decrypt-only build (feature `encrypt` off) leaves the writers of the shared codec unused.
#![cfg_attr(not(feature = "encrypt"), allow(dead_code))]
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
#[cfg(feature = "encrypt")]
pub mod encrypt;
pub mod encryption_context;
pub mod error;
pub mod frame_cipher;
pub mod header;
pub mod input;
pub mod keys;
pub mod materials;
mod message_id;
pub mod policy;
pub mod raw_aes;
pub mod suite;
pub mod work;

pub use decrypt::{
    DecryptConfig, DecryptState, DecryptStatus, Decryptor, MaterialsRequest, Plaintext,
};
pub use edk::EdkRef;
#[cfg(feature = "encrypt")]
pub use encrypt::{EncryptConfig, Encryptor, FrameEncryptor, HeaderReady, ciphertext_len};
pub use encryption_context::EncryptionContextRef;
pub use error::{Error, ErrorCategory, Result};
pub use frame_cipher::{FrameCipher, FrameLayout};
pub use header::{ContentType, HeaderRef};
pub use input::SliceInput;
#[cfg(feature = "alloc")]
pub use input::VecInput;
pub use keys::{DataKey, SigningKey, VerificationKey};
pub use materials::{DecryptionMaterialsRef, EncryptionMaterialsRef};
pub use policy::{CommitmentPolicy, DecryptLimits, SignaturePolicy};
pub use raw_aes::RawAesKey;
pub use suite::AlgorithmSuite;

#[cfg(feature = "alloc")]
pub use edk::EncryptedDataKey;
#[cfg(feature = "alloc")]
pub use encryption_context::EncryptionContext;
#[cfg(feature = "alloc")]
pub use header::Header;
