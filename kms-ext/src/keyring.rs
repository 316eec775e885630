//! The single-key AWS KMS keyrings: [`AwsKmsKeyring`] (strict or multi-Region aware),
//! [`AwsKmsDiscoveryKeyring`] and [`AwsKmsMrkDiscoveryKeyring`].

use crate::PROVIDER_ID;
use crate::arn::{KeyIdentifier, KmsArn, mrk_match};
use crate::client::{AwsSdkClientSupplier, ClientSupplier, SingleClientSupplier};
use crate::error::{KmsConfigError, KmsError, KmsOperation};
use aws_sdk_kms::Client;
use aws_sdk_kms::primitives::Blob;
use core::fmt;
use esdk_core::DataKey;
use esdk_std::error::EdkFailure;
use esdk_std::keyring::{AsyncKeyring, BoxFuture};
use esdk_std::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk_std::{EncryptedDataKey, EncryptionContext, Error, Result};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use zeroize::Zeroizing;

/// The encryption context as KMS takes it (`None` when empty).
fn kms_context(ec: &EncryptionContext) -> Option<HashMap<String, String>> {
    if ec.is_empty() {
        None
    } else {
        Some(
            ec.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        )
    }
}

pub(crate) fn grants(tokens: &[String]) -> Option<Vec<String>> {
    if tokens.is_empty() {
        None
    } else {
        Some(tokens.to_vec())
    }
}

/// The common first filter step: provider id `aws-kms`, and provider info a valid key ARN, or
/// the whole OnDecrypt fails (`aws-kms-keyring.md#ondecrypt`).
fn parse_kms_edk<'e>(edk: &'e EncryptedDataKey, label: &str) -> Result<Option<(&'e str, KmsArn)>> {
    if edk.provider_id != PROVIDER_ID {
        return Ok(None);
    }
    let refuse = |why: String| {
        Error::NoDecryptableKey(vec![EdkFailure::failed(
            edk,
            format!(
                "{label}: this `aws-kms` encrypted data key's provider info {why}, so the keyring refuses the message"
            ),
        )])
    };
    let info =
        core::str::from_utf8(&edk.provider_info).map_err(|_| refuse("is not UTF-8".into()))?;
    let arn = KmsArn::parse_key_arn(info)
        .map_err(|e| refuse(format!("is not a valid key ARN ({})", e.reason)))?;
    Ok(Some((info, arn)))
}

fn not_kms(edk: &EncryptedDataKey, label: &str) -> EdkFailure {
    EdkFailure::not_for_this_keyring(
        edk,
        format!("{label}: not an AWS KMS encrypted data key (provider id is not `{PROVIDER_ID}`)"),
    )
}

/// Decrypt one EDK with `key_id`, checking the response (`KeyId` = `key_id`, plaintext
/// length = the suite's key derivation input length).
async fn kms_decrypt(
    client: &Client,
    region: Option<&str>,
    key_id: &str,
    edk: &EncryptedDataKey,
    materials: &DecryptionMaterials,
    grant_tokens: &[String],
) -> Result<DataKey, KmsError> {
    let out = client
        .decrypt()
        .key_id(key_id)
        .ciphertext_blob(Blob::new(edk.ciphertext.clone()))
        .set_encryption_context(kms_context(&materials.encryption_context))
        .set_grant_tokens(grants(grant_tokens))
        .send()
        .await
        .map_err(|e| KmsError::from_sdk(KmsOperation::Decrypt, key_id, region, e))?;
    let invalid = |m: String| KmsError::invalid_response(KmsOperation::Decrypt, key_id, region, m);
    let plaintext = Zeroizing::new(out.plaintext.map(Blob::into_inner).unwrap_or_default());
    match out.key_id.as_deref() {
        Some(k) if k == key_id => {}
        Some(k) => {
            return Err(invalid(format!(
                "the response names key `{k}`, not the requested key"
            )));
        }
        None => return Err(invalid("the response names no key".into())),
    }
    let need = materials.suite.data_key_len();
    if plaintext.len() != need {
        return Err(invalid(format!(
            "the data key is {} bytes, the suite needs {need}",
            plaintext.len()
        )));
    }
    DataKey::from_slice(&plaintext).map_err(|e| invalid(e.to_string()))
}

/// A strict AWS KMS keyring for one key (`framework/aws-kms/aws-kms-keyring.md`), or with
/// [`AwsKmsKeyring::mrk_aware`] the AWS KMS MRK keyring (`aws-kms-mrk-keyring.md`).
///
/// - Encrypt without a data key: `GenerateDataKey`; with one: `Encrypt`. The message's
///   encryption context is the KMS encryption context; the response's key ARN becomes the
///   encrypted data key's provider info. Any key identifier works: key ARN, alias ARN,
///   `alias/<name>` or a key id (the last two in the client supplier's default region).
/// - Decrypt needs the key's ARN: only `aws-kms` encrypted data keys whose ARN equals it (MRK
///   aware: matches it in any region) are sent to `Decrypt`, and the response's key id must be
///   the configured ARN. Configured with an alias or key id, decryption fails with an error
///   saying so.
#[derive(Clone)]
pub struct AwsKmsKeyring {
    key: KeyIdentifier,
    key_str: String,
    supplier: Arc<dyn ClientSupplier>,
    grant_tokens: Vec<String>,
    mrk_aware: bool,
}

impl fmt::Debug for AwsKmsKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsKmsKeyring")
            .field("key_id", &self.key_str)
            .field("mrk_aware", &self.mrk_aware)
            .field("grant_tokens", &self.grant_tokens.len())
            .finish()
    }
}

impl AwsKmsKeyring {
    /// A strict keyring for `key_id`, with clients from `supplier` (for the key ARN's region,
    /// or the default region for aliases and key ids).
    ///
    /// # Errors
    /// `key_id` is not a valid AWS KMS key identifier.
    pub fn new(key_id: &str, supplier: Arc<dyn ClientSupplier>) -> Result<Self> {
        let key = KeyIdentifier::parse(key_id)
            .map_err(|e| KmsConfigError::from(e).into_error("key identifier"))?;
        Ok(Self {
            key,
            key_str: key_id.to_owned(),
            supplier,
            grant_tokens: Vec::new(),
            mrk_aware: false,
        })
    }
    /// A strict keyring using the default [`AwsSdkClientSupplier`].
    ///
    /// # Errors
    /// As [`AwsKmsKeyring::new`].
    pub fn with_default_clients(key_id: &str) -> Result<Self> {
        Self::new(key_id, Arc::new(AwsSdkClientSupplier::new()))
    }
    /// A strict keyring calling KMS through `client` only.
    ///
    /// # Errors
    /// As [`AwsKmsKeyring::new`].
    pub fn with_client(key_id: &str, client: Client) -> Result<Self> {
        Self::new(key_id, Arc::new(SingleClientSupplier::new(client)))
    }
    /// Multi-Region-key aware (the AWS KMS MRK keyring): on decrypt, an encrypted data key made
    /// by any replica of the configured multi-Region key is decrypted with the configured key
    /// (`aws-kms-mrk-match-for-decrypt.md`); materials that already hold a data key are
    /// returned unchanged.
    pub fn mrk_aware(mut self, yes: bool) -> Self {
        self.mrk_aware = yes;
        self
    }
    /// Grant tokens sent with every request.
    pub fn grant_tokens(mut self, tokens: Vec<String>) -> Self {
        self.grant_tokens = tokens;
        self
    }
    /// The configured key identifier.
    pub fn key_id(&self) -> &str {
        &self.key_str
    }
    /// The parsed key identifier.
    pub fn key(&self) -> &KeyIdentifier {
        &self.key
    }
    fn label(&self) -> String {
        format!(
            "AWS KMS{} keyring {}",
            if self.mrk_aware { " MRK" } else { "" },
            self.key_str
        )
    }

    async fn encrypt(&self, materials: &EncryptionMaterials) -> Result<EncryptionMaterials> {
        let region = self.key.region();
        let client = self.supplier.client(region).await?;
        let ec = kms_context(&materials.encryption_context);
        let key = self.key_str.as_str();
        let mut m = materials.clone();
        let (op, ciphertext, arn) = match &materials.data_key {
            None => {
                let op = KmsOperation::GenerateDataKey;
                let need = materials.suite.data_key_len();
                let n = i32::try_from(need)
                    .map_err(|_| KmsConfigError::DataKeyLength(need).into_error("suite"))?;
                let out = client
                    .generate_data_key()
                    .key_id(key)
                    .number_of_bytes(n)
                    .set_encryption_context(ec)
                    .set_grant_tokens(grants(&self.grant_tokens))
                    .send()
                    .await
                    .map_err(|e| KmsError::from_sdk(op, key, region, e).into_error())?;
                let plaintext =
                    Zeroizing::new(out.plaintext.map(Blob::into_inner).unwrap_or_default());
                if plaintext.len() != need {
                    return Err(KmsError::invalid_response(
                        op,
                        key,
                        region,
                        format!(
                            "the data key is {} bytes, the suite needs {need}",
                            plaintext.len()
                        ),
                    )
                    .into_error());
                }
                m.data_key = Some(DataKey::from_slice(&plaintext)?);
                (op, out.ciphertext_blob, out.key_id)
            }
            Some(dk) => {
                let op = KmsOperation::Encrypt;
                let out = client
                    .encrypt()
                    .key_id(key)
                    .plaintext(Blob::new(dk.as_bytes().to_vec()))
                    .set_encryption_context(ec)
                    .set_grant_tokens(grants(&self.grant_tokens))
                    .send()
                    .await
                    .map_err(|e| KmsError::from_sdk(op, key, region, e).into_error())?;
                (op, out.ciphertext_blob, out.key_id)
            }
        };
        let invalid = |msg: String| KmsError::invalid_response(op, key, region, msg).into_error();
        let arn = arn.ok_or_else(|| invalid("the response names no key".into()))?;
        KmsArn::parse_key_arn(&arn)
            .map_err(|e| invalid(format!("the response's key id is not a key ARN: {e}")))?;
        let ciphertext = ciphertext.map(Blob::into_inner).filter(|c| !c.is_empty());
        let ciphertext =
            ciphertext.ok_or_else(|| invalid("the response has no ciphertext".into()))?;
        m.encrypted_data_keys.push(EncryptedDataKey {
            provider_id: PROVIDER_ID.to_owned(),
            provider_info: arn.into_bytes(),
            ciphertext,
        });
        Ok(m)
    }

    async fn decrypt(
        &self,
        materials: &DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<DecryptionMaterials> {
        if materials.data_key.is_some() {
            if self.mrk_aware {
                return Ok(materials.clone());
            }
            return Err(Error::Materials(
                esdk_std::error::MaterialsError::DataKeyAlreadyPresent,
            ));
        }
        let label = self.label();
        let Some(configured) = self.key.key_arn() else {
            return Err(
                KmsConfigError::ArnRequired(self.key_str.clone()).into_error("AWS KMS keyring key")
            );
        };
        let mut failures = Vec::new();
        let mut candidates = Vec::new();
        for edk in edks {
            let Some((info, arn)) = parse_kms_edk(edk, &label)? else {
                failures.push(not_kms(edk, &label));
                continue;
            };
            let matches = if self.mrk_aware {
                mrk_match(&self.key, &KeyIdentifier::Arn(arn.clone()))
            } else {
                info == self.key_str
            };
            if matches {
                candidates.push(edk);
            } else {
                failures.push(EdkFailure::not_for_this_keyring(
                    edk,
                    format!("{label}: not this keyring's key"),
                ));
            }
        }
        if candidates.is_empty() {
            return Err(Error::NoDecryptableKey(failures));
        }
        let region = Some(configured.region());
        let client = match self.supplier.client(region).await {
            Ok(c) => c,
            Err(e) => {
                let e = Arc::new(e);
                failures.extend(candidates.iter().map(|edk| {
                    crate::error::edk_failure(
                        edk,
                        format!("{label}: no KMS client"),
                        Error::Shared(e.clone()),
                    )
                }));
                return Err(Error::NoDecryptableKey(failures));
            }
        };
        for edk in candidates {
            match kms_decrypt(
                &client,
                region,
                &self.key_str,
                edk,
                materials,
                &self.grant_tokens,
            )
            .await
            {
                Ok(dk) => {
                    let mut m = materials.clone();
                    m.data_key = Some(dk);
                    return Ok(m);
                }
                Err(e) => failures.push(crate::error::edk_failure(edk, label.to_string(), e)),
            }
        }
        Err(Error::NoDecryptableKey(failures))
    }
}

impl AsyncKeyring for AwsKmsKeyring {
    fn on_encrypt<'a>(
        &'a self,
        materials: &'a EncryptionMaterials,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>> {
        Box::pin(self.encrypt(materials))
    }
    fn on_decrypt<'a>(
        &'a self,
        materials: &'a DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> BoxFuture<'a, Result<DecryptionMaterials>> {
        Box::pin(self.decrypt(materials, edks))
    }
}

/// Limits the keys a discovery keyring will use: the ARN's partition must equal `partition` and
/// its account must be one of `accounts`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveryFilter {
    partition: String,
    accounts: BTreeSet<String>,
}

impl DiscoveryFilter {
    /// A filter for keys of these accounts in this partition (`aws`, `aws-cn`, ...).
    ///
    /// # Errors
    /// An empty partition, no accounts, or an empty account.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(
        partition: impl Into<String>,
        accounts: I,
    ) -> Result<Self> {
        let partition = partition.into();
        let accounts: BTreeSet<String> = accounts.into_iter().map(Into::into).collect();
        if partition.is_empty() {
            return Err(KmsConfigError::EmptyPartition.into_error("discovery filter"));
        }
        if accounts.is_empty() || accounts.iter().any(String::is_empty) {
            return Err(KmsConfigError::NoAccounts.into_error("discovery filter"));
        }
        Ok(Self {
            partition,
            accounts,
        })
    }
    /// The partition.
    pub fn partition(&self) -> &str {
        &self.partition
    }
    /// The accounts.
    pub fn accounts(&self) -> impl Iterator<Item = &str> {
        self.accounts.iter().map(String::as_str)
    }
    /// Why `arn` is excluded, if it is.
    fn rejects(&self, arn: &KmsArn) -> Option<String> {
        if arn.partition() != self.partition {
            return Some(format!(
                "partition `{}` is not the discovery filter's `{}`",
                arn.partition(),
                self.partition
            ));
        }
        if !self.accounts.contains(arn.account()) {
            return Some(format!(
                "account {} is not in the discovery filter",
                arn.account()
            ));
        }
        None
    }
}

/// An AWS KMS discovery keyring (`aws-kms-discovery-keyring.md`): decrypts any `aws-kms`
/// encrypted data key whose key the caller's credentials may use, calling `Decrypt` with the ARN
/// stored in the message, in that ARN's region (a client per region from the supplier). An
/// optional [`DiscoveryFilter`] restricts the partition and accounts; unfiltered, it will contact
/// whatever region a message names (bound it with
/// [`crate::AwsSdkClientSupplierBuilder::allowed_regions`]). Cannot encrypt.
#[derive(Clone)]
pub struct AwsKmsDiscoveryKeyring {
    supplier: Arc<dyn ClientSupplier>,
    filter: Option<DiscoveryFilter>,
    grant_tokens: Vec<String>,
}

impl fmt::Debug for AwsKmsDiscoveryKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsKmsDiscoveryKeyring")
            .field("filter", &self.filter)
            .field("grant_tokens", &self.grant_tokens.len())
            .finish()
    }
}

impl AwsKmsDiscoveryKeyring {
    /// A discovery keyring with clients from `supplier`.
    pub fn new(supplier: Arc<dyn ClientSupplier>) -> Self {
        Self {
            supplier,
            filter: None,
            grant_tokens: Vec::new(),
        }
    }
    /// A discovery keyring with the default [`AwsSdkClientSupplier`].
    pub fn with_default_clients() -> Self {
        Self::new(Arc::new(AwsSdkClientSupplier::new()))
    }
    /// Only keys of this partition and these accounts.
    pub fn filter(mut self, filter: DiscoveryFilter) -> Self {
        self.filter = Some(filter);
        self
    }
    /// Grant tokens sent with every request.
    pub fn grant_tokens(mut self, tokens: Vec<String>) -> Self {
        self.grant_tokens = tokens;
        self
    }

    async fn decrypt(
        &self,
        materials: &DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<DecryptionMaterials> {
        if materials.data_key.is_some() {
            return Err(Error::Materials(
                esdk_std::error::MaterialsError::DataKeyAlreadyPresent,
            ));
        }
        let label = "AWS KMS discovery keyring";
        let mut failures = Vec::new();
        let mut candidates = Vec::new();
        for edk in edks {
            let Some((info, arn)) = parse_kms_edk(edk, label)? else {
                failures.push(not_kms(edk, label));
                continue;
            };
            match self.filter.as_ref().and_then(|f| f.rejects(&arn)) {
                Some(why) => failures.push(EdkFailure::not_for_this_keyring(
                    edk,
                    format!("{label}: {why}"),
                )),
                None => candidates.push((edk, info, arn)),
            }
        }
        for (edk, info, arn) in candidates {
            let region = Some(arn.region());
            let client = match self.supplier.client(region).await {
                Ok(c) => c,
                Err(e) => {
                    failures.push(crate::error::edk_failure(
                        edk,
                        format!("{label}: no KMS client"),
                        e,
                    ));
                    continue;
                }
            };
            match kms_decrypt(&client, region, info, edk, materials, &self.grant_tokens).await {
                Ok(dk) => {
                    let mut m = materials.clone();
                    m.data_key = Some(dk);
                    return Ok(m);
                }
                Err(e) => failures.push(crate::error::edk_failure(edk, label.to_string(), e)),
            }
        }
        Err(Error::NoDecryptableKey(failures))
    }
}

fn discovery_cannot_encrypt(kind: &str) -> Error {
    esdk_std::KeyringError::new(kind, esdk_std::KeyringErrorKind::CannotEncrypt).into()
}

impl AsyncKeyring for AwsKmsDiscoveryKeyring {
    fn on_encrypt<'a>(
        &'a self,
        _materials: &'a EncryptionMaterials,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>> {
        Box::pin(core::future::ready(Err(discovery_cannot_encrypt(
            "AWS KMS discovery keyring",
        ))))
    }
    fn on_decrypt<'a>(
        &'a self,
        materials: &'a DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> BoxFuture<'a, Result<DecryptionMaterials>> {
        Box::pin(self.decrypt(materials, edks))
    }
}

/// An AWS KMS MRK discovery keyring (`aws-kms-mrk-discovery-keyring.md`) for one region: an
/// encrypted data key of a multi-Region key is decrypted with that key's replica in this
/// region (`Decrypt` with the stored ARN, its region replaced); other keys only when they are in
/// this region. Optional [`DiscoveryFilter`]. Cannot encrypt.
#[derive(Clone)]
pub struct AwsKmsMrkDiscoveryKeyring {
    region: String,
    supplier: Arc<dyn ClientSupplier>,
    filter: Option<DiscoveryFilter>,
    grant_tokens: Vec<String>,
}

impl fmt::Debug for AwsKmsMrkDiscoveryKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsKmsMrkDiscoveryKeyring")
            .field("region", &self.region)
            .field("filter", &self.filter)
            .field("grant_tokens", &self.grant_tokens.len())
            .finish()
    }
}

impl AwsKmsMrkDiscoveryKeyring {
    /// A keyring decrypting in `region`, with that region's client from `supplier`.
    ///
    /// # Errors
    /// An invalid region name.
    pub fn new(region: &str, supplier: Arc<dyn ClientSupplier>) -> Result<Self> {
        if !crate::client::is_valid_region(region) {
            return Err(KmsConfigError::InvalidRegion(region.to_owned())
                .into_error("AWS KMS MRK discovery keyring region"));
        }
        Ok(Self {
            region: region.to_owned(),
            supplier,
            filter: None,
            grant_tokens: Vec::new(),
        })
    }
    /// Only keys of this partition and these accounts.
    pub fn filter(mut self, filter: DiscoveryFilter) -> Self {
        self.filter = Some(filter);
        self
    }
    /// Grant tokens sent with every request.
    pub fn grant_tokens(mut self, tokens: Vec<String>) -> Self {
        self.grant_tokens = tokens;
        self
    }
    /// The region.
    pub fn region(&self) -> &str {
        &self.region
    }

    async fn decrypt(
        &self,
        materials: &DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<DecryptionMaterials> {
        if materials.data_key.is_some() {
            return Err(Error::Materials(
                esdk_std::error::MaterialsError::DataKeyAlreadyPresent,
            ));
        }
        let label = format!("AWS KMS MRK discovery keyring ({})", self.region);
        let mut failures = Vec::new();
        let mut candidates = Vec::new();
        for edk in edks {
            let Some((info, arn)) = parse_kms_edk(edk, &label)? else {
                failures.push(not_kms(edk, &label));
                continue;
            };
            if let Some(why) = self.filter.as_ref().and_then(|f| f.rejects(&arn)) {
                failures.push(EdkFailure::not_for_this_keyring(
                    edk,
                    format!("{label}: {why}"),
                ));
            } else if arn.is_mrk() {
                candidates.push((edk, arn.with_region(&self.region).to_string()));
            } else if arn.region() == self.region {
                candidates.push((edk, info.to_owned()));
            } else {
                failures.push(EdkFailure::not_for_this_keyring(
                    edk,
                    format!(
                        "{label}: a single-Region key in {}, not in {}",
                        arn.region(),
                        self.region
                    ),
                ));
            }
        }
        if candidates.is_empty() {
            return Err(Error::NoDecryptableKey(failures));
        }
        let region = Some(self.region.as_str());
        let client = match self.supplier.client(region).await {
            Ok(c) => c,
            Err(e) => {
                let e = Arc::new(e);
                failures.extend(candidates.iter().map(|(edk, _)| {
                    crate::error::edk_failure(
                        edk,
                        format!("{label}: no KMS client"),
                        Error::Shared(e.clone()),
                    )
                }));
                return Err(Error::NoDecryptableKey(failures));
            }
        };
        for (edk, key_id) in candidates {
            match kms_decrypt(&client, region, &key_id, edk, materials, &self.grant_tokens).await {
                Ok(dk) => {
                    let mut m = materials.clone();
                    m.data_key = Some(dk);
                    return Ok(m);
                }
                Err(e) => failures.push(crate::error::edk_failure(edk, label.to_string(), e)),
            }
        }
        Err(Error::NoDecryptableKey(failures))
    }
}

impl AsyncKeyring for AwsKmsMrkDiscoveryKeyring {
    fn on_encrypt<'a>(
        &'a self,
        _materials: &'a EncryptionMaterials,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>> {
        Box::pin(core::future::ready(Err(discovery_cannot_encrypt(
            "AWS KMS MRK discovery keyring",
        ))))
    }
    fn on_decrypt<'a>(
        &'a self,
        materials: &'a DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> BoxFuture<'a, Result<DecryptionMaterials>> {
        Box::pin(self.decrypt(materials, edks))
    }
}
