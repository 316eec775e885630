//! The AWS KMS multi-keyring builders (`framework/aws-kms/aws-kms-multi-keyrings.md`,
//! `aws-kms-mrk-multi-keyrings.md`) over esdk-std's one multi-keyring.

use crate::arn::{KeyIdentifier, check_mrks_unique};
use crate::client::{AwsSdkClientSupplier, ClientSupplier};
use crate::error::KmsConfigError;
use crate::keyring::{AwsKmsKeyring, AwsKmsMrkDiscoveryKeyring, DiscoveryFilter};
use core::fmt;
use esdk_std::keyring::{AsyncKeyring, AsyncMultiKeyring};
use esdk_std::{Error, Result};
use std::sync::Arc;

/// The AWS KMS multi-keyring: esdk-std's [`AsyncMultiKeyring`] (one implementation for every
/// multi-keyring: the generator makes the data key, the children wrap it concurrently, a child
/// that changes the data key or returns no key fails). Build one from key identifiers with
/// [`AwsKmsMultiKeyringBuilder`] or [`mrk_discovery_multi_keyring`].
pub type AwsKmsMultiKeyring = AsyncMultiKeyring;

/// A multi-keyring of one [`AwsKmsMrkDiscoveryKeyring`] per region (the MRK discovery
/// multi-keyring): decrypts messages made with multi-Region keys that have a replica in one
/// of `regions`, and single-Region keys in those regions. Regions are tried in order.
///
/// # Errors
/// No regions, or an invalid region name.
pub fn mrk_discovery_multi_keyring<I: IntoIterator<Item = S>, S: AsRef<str>>(
    regions: I,
    filter: Option<DiscoveryFilter>,
    supplier: Option<Arc<dyn ClientSupplier>>,
    grant_tokens: Vec<String>,
) -> Result<AwsKmsMultiKeyring> {
    let supplier = supplier.unwrap_or_else(|| Arc::new(AwsSdkClientSupplier::new()));
    let mut children: Vec<Arc<dyn AsyncKeyring>> = Vec::new();
    for r in regions {
        let mut k = AwsKmsMrkDiscoveryKeyring::new(r.as_ref(), supplier.clone())?
            .grant_tokens(grant_tokens.clone());
        if let Some(f) = &filter {
            k = k.filter(f.clone());
        }
        children.push(Arc::new(k));
    }
    if children.is_empty() {
        return Err(Error::Config(esdk_std::error::ConfigError::Missing {
            setting: "a region of the MRK discovery multi-keyring",
        }));
    }
    AsyncMultiKeyring::new_async(None, children)
}

/// Builds a KMS multi-keyring from key identifiers (the strict, or with
/// [`AwsKmsMultiKeyringBuilder::mrk_aware`] the MRK, multi-keyring): one [`AwsKmsKeyring`] per
/// key, each with the client of its ARN's region (the default region for aliases and key ids).
pub struct AwsKmsMultiKeyringBuilder {
    generator: Option<String>,
    keys: Vec<String>,
    grant_tokens: Vec<String>,
    supplier: Option<Arc<dyn ClientSupplier>>,
    mrk_aware: bool,
}

impl fmt::Debug for AwsKmsMultiKeyringBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsKmsMultiKeyringBuilder")
            .field("generator", &self.generator)
            .field("keys", &self.keys)
            .field("mrk_aware", &self.mrk_aware)
            .finish_non_exhaustive()
    }
}

impl Default for AwsKmsMultiKeyringBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl AwsKmsMultiKeyringBuilder {
    /// An empty builder: add a generator and/or keys.
    pub fn new() -> Self {
        Self {
            generator: None,
            keys: Vec::new(),
            grant_tokens: Vec::new(),
            supplier: None,
            mrk_aware: false,
        }
    }

    /// The generator key: makes the data key with `GenerateDataKey` (required to encrypt
    /// without other keyrings in front).
    pub fn generator(mut self, key_id: impl Into<String>) -> Self {
        self.generator = Some(key_id.into());
        self
    }
    /// One more key wrapping the data key (`Encrypt`).
    pub fn key(mut self, key_id: impl Into<String>) -> Self {
        self.keys.push(key_id.into());
        self
    }
    /// More keys wrapping the data key.
    pub fn keys<I: IntoIterator<Item = S>, S: Into<String>>(mut self, key_ids: I) -> Self {
        self.keys.extend(key_ids.into_iter().map(Into::into));
        self
    }
    /// Grant tokens sent with every request.
    pub fn grant_tokens(mut self, tokens: Vec<String>) -> Self {
        self.grant_tokens = tokens;
        self
    }
    /// Where clients come from (default: a new [`AwsSdkClientSupplier`]).
    pub fn client_supplier(mut self, supplier: Arc<dyn ClientSupplier>) -> Self {
        self.supplier = Some(supplier);
        self
    }
    /// Multi-Region-key aware keyrings ([`AwsKmsKeyring::mrk_aware`]); two identifiers naming
    /// the same multi-Region key are then refused (`aws-kms-mrk-are-unique.md`).
    pub fn mrk_aware(mut self, yes: bool) -> Self {
        self.mrk_aware = yes;
        self
    }
    /// The multi-keyring.
    ///
    /// # Errors
    /// No keys at all, an invalid identifier, or (MRK aware) duplicate multi-Region keys.
    pub fn build(self) -> Result<AwsKmsMultiKeyring> {
        let supplier = self
            .supplier
            .unwrap_or_else(|| Arc::new(AwsSdkClientSupplier::new()));
        let make = |id: &str| -> Result<Arc<dyn AsyncKeyring>> {
            let k = AwsKmsKeyring::new(id, supplier.clone())?
                .mrk_aware(self.mrk_aware)
                .grant_tokens(self.grant_tokens.clone());
            Ok(Arc::new(k))
        };
        if self.mrk_aware {
            let ids = self
                .generator
                .iter()
                .chain(self.keys.iter())
                .map(|s| {
                    KeyIdentifier::parse(s)
                        .map_err(|e| KmsConfigError::from(e).into_error("key identifier"))
                })
                .collect::<Result<Vec<_>>>()?;
            check_mrks_unique(&ids).map_err(|e| e.into_error("multi-Region keys"))?;
        }
        let generator = self.generator.as_deref().map(make).transpose()?;
        let children = self
            .keys
            .iter()
            .map(|k| make(k))
            .collect::<Result<Vec<_>>>()?;
        AsyncMultiKeyring::new_async(generator, children)
    }
}
