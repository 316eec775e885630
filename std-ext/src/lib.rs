//! # esdk-std
//!
//! Keyrings, materials managers, the one-shot [`Client`] and the `std::io` and tokio stream
//! adapters for the AWS Encryption SDK message format. Everything here drives the sans-IO state
//! machines of [`esdk_core`]: there is no second implementation of the format.
//!
//! ```
//! use esdk_std::{Client, DecryptOptions, EncryptOptions, EncryptionContext, keyring::RawAesKeyring};
//! # fn main() -> Result<(), esdk_std::Error> {
//! let keyring = RawAesKeyring::new("my-namespace", "my-key", &[7u8; 32])?;
//! let client = Client::builder().build();
//! let mut ec = EncryptionContext::new();
//! ec.insert("purpose", "example");
//! let sealed = client.encrypt(b"secret", &EncryptOptions::keyring(&keyring).encryption_context(ec))?;
//! let opened = client.decrypt(&sealed.ciphertext, &DecryptOptions::keyring(&keyring))?;
//! assert_eq!(opened.plaintext, b"secret");
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod client;
pub mod cmm;
pub mod error;
mod executor;
pub mod keyring;
pub mod materials;
pub mod parallel;
pub mod provider;
pub mod ranged;
mod rsa_key;
pub mod stream;

pub use client::{
    Client, ClientBuilder, DecryptOptions, Decrypted, DecryptedInto, EncryptOptions, Encrypted,
    EncryptedInto,
};
pub use cmm::{
    CryptographicMaterialsManager, DefaultCmm, RequiredEncryptionContextCmm,
    SyncCryptographicMaterialsManager,
};
pub use error::{
    ConfigError, EdkFailure, EdkFailureKind, Error, KeyringError, KeyringErrorKind, MaterialsError,
    Result,
};
pub use esdk_core::{
    AlgorithmSuite, CommitmentPolicy, DecryptLimits, EncryptedDataKey, EncryptionContext, Header,
    SignaturePolicy,
};
pub use keyring::{AsyncKeyring, Keyring};
pub use provider::{Backend, SharedRng};
pub use rsa_key::{RsaKeyError, RsaPadding, RsaPrivateKey, RsaPublicKey};
