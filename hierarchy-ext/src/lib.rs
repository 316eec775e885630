//! # esdk-hierarchy
//!
//! The AWS KMS **hierarchical keyring** (`framework/aws-kms/aws-kms-hierarchical-keyring.md`)
//! and the DynamoDB **branch key store** it reads (`framework/branch-key-store.md`), for the
//! `esdk` crates, byte-compatible with the AWS Cryptographic Material Providers Library (MPL).
//!
//! A branch key is a 32-byte key kept in a DynamoDB table, encrypted by AWS KMS. The keyring
//! wraps each message's data key with a key derived from a branch key, so a fleet calls KMS
//! once per branch key and cache period instead of once per message, and each tenant can have
//! its own branch key.
//!
//! * [`KeyStore`]: `CreateKeyStore`, `CreateKey`, `VersionKey`, `GetActiveBranchKey`,
//!   `GetBranchKeyVersion`, `GetBeaconKey` over `aws-sdk-dynamodb` and `aws-sdk-kms`.
//! * [`HierarchicalKeyring`]: static branch key id or a [`BranchKeyIdSupplier`] (multi-tenant),
//!   a [`BranchKeyCache`] with TTL and capacity, shared or partitioned, single-flight (N
//!   concurrent misses for one key make one DynamoDB and one KMS call).
//! * [`wrapping`]: the EDK format, usable on its own.
//!
//! ```no_run
//! use esdk_hierarchy::{HierarchicalKeyring, KeyStore};
//! use esdk_std::{Client, DecryptOptions, EncryptOptions};
//! use std::time::Duration;
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let store = KeyStore::builder()
//!     .table_name("branch-keys")
//!     .logical_key_store_name("branch-keys")
//!     .kms_key_arn("arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
//!     .build()
//!     .await?;
//! store.create_key_store().await?; // once: creates the table if it does not exist
//! let branch_key_id = store.create_key(None, None).await?;
//! let keyring = HierarchicalKeyring::builder(store)
//!     .branch_key_id(branch_key_id)
//!     .ttl(Duration::from_secs(600))
//!     .build()?;
//! let client = Client::builder().build();
//! let sealed = client.encrypt_async(b"secret", &EncryptOptions::async_keyring(&keyring)).await?;
//! let opened = client.decrypt_async(&sealed.ciphertext, &DecryptOptions::async_keyring(&keyring)).await?;
//! assert_eq!(opened.plaintext, b"secret");
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cache;
pub mod error;
pub mod keyring;
pub mod materials;
pub mod store;
pub mod uuid;
pub mod wrapping;

pub use cache::BranchKeyCache;
pub use error::{KeyStoreError, KeyStoreErrorKind, KeyStoreOperation};
pub use keyring::{
    BranchKeyIdSupplier, BranchKeySource, ContextKeySupplier, HierarchicalKeyring,
    HierarchicalKeyringBuilder, StaticBranchKey,
};
pub use materials::{BeaconKeyMaterials, BranchKeyMaterials};
pub use store::{KeyStore, KeyStoreBuilder, KeyStoreInfo, KmsConfiguration};

/// Re-export of the AWS SDK for DynamoDB.
pub use aws_sdk_dynamodb;

/// The repository README's Rust examples, compiled and run as this crate's doctests (this is
/// the crate that sees every crate they use: esdk-std, esdk-kms and esdk-hierarchy). Examples
/// that need an AWS account are `no_run`: compiled, not run.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
