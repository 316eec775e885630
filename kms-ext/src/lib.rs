//! # esdk-kms
//!
//! AWS KMS keyrings for the `esdk` crates (`framework/aws-kms/*.md` of the AWS Encryption SDK
//! specification), asynchronous first (Tokio, `aws-sdk-kms`), with a blocking facade for
//! synchronous callers.
//!
//! | Keyring | Encrypt | Decrypt |
//! |---|---|---|
//! | [`AwsKmsKeyring`] | `GenerateDataKey` / `Encrypt` with one key (ARN, alias or key id) | `aws-kms` EDKs whose ARN is the configured key ARN |
//! | [`AwsKmsKeyring::mrk_aware`] | as above | also EDKs of the same multi-Region key from another region |
//! | [`AwsKmsDiscoveryKeyring`] | fails | any `aws-kms` EDK (optional [`DiscoveryFilter`]), in the region of its ARN |
//! | [`AwsKmsMrkDiscoveryKeyring`] | fails | EDKs of multi-Region keys via their replica in one region, and that region's keys |
//! | [`AwsKmsMultiKeyring`] | generator, then the other keys **concurrently** | each keyring in order until one succeeds |
//! | [`AwsKmsRsaKeyring`] | locally, RSA-OAEP with the KMS key's public key | KMS `Decrypt` with `RSAES_OAEP_SHA_1` / `_SHA_256` |
//! | [`AwsKmsEcdhKeyring`] | `DeriveSharedSecret` with the sender's KMS key pair, raw-ECDH wrapping | `DeriveSharedSecret` (static or public-key discovery schema) |
//!
//! Clients come from a [`ClientSupplier`]; the default [`AwsSdkClientSupplier`] loads the
//! standard `aws-config` chain (credentials, region, `AWS_ENDPOINT_URL_KMS`, profiles) and
//! caches one client per region, bounded. [`BlockingKeyring`] runs any of these keyrings on a
//! runtime it owns or is given and implements esdk-std's synchronous
//! [`Keyring`](esdk_std::Keyring), so [`esdk_std::Client::encrypt`] and the `std::io` adapters
//! work with KMS.
//!
//! ```no_run
//! use esdk_kms::AwsKmsMultiKeyringBuilder;
//! use esdk_std::{Client, DecryptOptions, EncryptOptions, EncryptionContext};
//! # async fn run() -> Result<(), esdk_std::Error> {
//! let keyring = AwsKmsMultiKeyringBuilder::new()
//!     .generator("arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab")
//!     .key("arn:aws:kms:eu-central-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321")
//!     .build()?;
//! let client = Client::builder().build();
//! let mut ec = EncryptionContext::new();
//! ec.insert("purpose", "example");
//! let sealed = client.encrypt_async(b"secret", &EncryptOptions::async_keyring(&keyring).encryption_context(ec)).await?;
//! let opened = client.decrypt_async(&sealed.ciphertext, &DecryptOptions::async_keyring(&keyring)).await?;
//! assert_eq!(opened.plaintext, b"secret");
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod arn;
pub mod blocking;
pub mod client;
pub mod ecdh;
pub mod error;
pub mod keyring;
pub mod multi;
pub mod rsa;

pub use arn::{ArnError, KeyIdentifier, KmsArn, ResourceType, mrk_match};
pub use blocking::BlockingKeyring;
pub use client::{
    AwsSdkClientSupplier, AwsSdkClientSupplierBuilder, ClientSupplier, SingleClientSupplier,
};
pub use ecdh::AwsKmsEcdhKeyring;
pub use error::{KmsConfigError, KmsError, KmsOperation, SdkFailure};
pub use keyring::{
    AwsKmsDiscoveryKeyring, AwsKmsKeyring, AwsKmsMrkDiscoveryKeyring, DiscoveryFilter,
};
pub use multi::{AwsKmsMultiKeyring, AwsKmsMultiKeyringBuilder, mrk_discovery_multi_keyring};
pub use rsa::{AwsKmsRsaKeyring, KmsRsaAlgorithm};

/// Re-export of the AWS SDK for KMS (clients, configuration, errors).
pub use aws_sdk_kms;

/// The provider id of AWS KMS encrypted data keys.
pub const PROVIDER_ID: &str = "aws-kms";
