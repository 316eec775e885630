//! The AWS KMS hierarchical keyring (`framework/aws-kms/aws-kms-hierarchical-keyring.md`).

use crate::cache::{BranchKeyCache, CacheKey};
use crate::error::{KeyStoreError, KeyStoreErrorKind, KeyStoreOperation};
use crate::materials::BranchKeyMaterials;
use crate::store::KeyStore;
use crate::wrapping::{self, PROVIDER_ID};
use core::fmt;
use esdk_core::DataKey;
use esdk_std::error::EdkFailure;
use esdk_std::keyring::{AsyncKeyring, BoxFuture};
use esdk_std::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk_std::{EncryptedDataKey, EncryptionContext, Error, Result};
use rand_core::OsRng;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Where the keyring gets branch keys: a [`KeyStore`], or a [`StaticBranchKey`].
pub trait BranchKeySource: Send + Sync + fmt::Debug {
    /// Bound into cache keys, so keyrings over different stores can share a cache.
    fn logical_key_store_name(&self) -> &str;
    /// The active version of `branch_key_id`.
    fn active_branch_key<'a>(
        &'a self,
        branch_key_id: &'a str,
    ) -> BoxFuture<'a, core::result::Result<BranchKeyMaterials, KeyStoreError>>;
    /// One version of `branch_key_id`.
    fn branch_key_version<'a>(
        &'a self,
        branch_key_id: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, core::result::Result<BranchKeyMaterials, KeyStoreError>>;
}

impl BranchKeySource for KeyStore {
    fn logical_key_store_name(&self) -> &str {
        KeyStore::logical_key_store_name(self)
    }
    fn active_branch_key<'a>(
        &'a self,
        branch_key_id: &'a str,
    ) -> BoxFuture<'a, core::result::Result<BranchKeyMaterials, KeyStoreError>> {
        Box::pin(self.get_active_branch_key(branch_key_id))
    }
    fn branch_key_version<'a>(
        &'a self,
        branch_key_id: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, core::result::Result<BranchKeyMaterials, KeyStoreError>> {
        Box::pin(self.get_branch_key_version(branch_key_id, version))
    }
}

/// One branch key given in clear (the test vectors' `static-branch-key`; tests, or keys kept
/// outside DynamoDB). It is both the active version and the only version.
#[derive(Clone, Debug)]
pub struct StaticBranchKey {
    materials: BranchKeyMaterials,
}

impl StaticBranchKey {
    /// Serves `materials`.
    pub fn new(materials: BranchKeyMaterials) -> Self {
        Self { materials }
    }

    fn get(
        &self,
        op: KeyStoreOperation,
        id: &str,
        version: Option<&str>,
    ) -> core::result::Result<BranchKeyMaterials, KeyStoreError> {
        let m = &self.materials;
        if id == m.branch_key_id() && version.is_none_or(|v| v == m.version()) {
            Ok(m.clone())
        } else {
            Err(KeyStoreError::new(
                op,
                id,
                version,
                KeyStoreErrorKind::NotFound,
                "not the static branch key",
            ))
        }
    }
}

impl BranchKeySource for StaticBranchKey {
    fn logical_key_store_name(&self) -> &str {
        "static"
    }
    fn active_branch_key<'a>(
        &'a self,
        branch_key_id: &'a str,
    ) -> BoxFuture<'a, core::result::Result<BranchKeyMaterials, KeyStoreError>> {
        Box::pin(core::future::ready(self.get(
            KeyStoreOperation::GetActiveBranchKey,
            branch_key_id,
            None,
        )))
    }
    fn branch_key_version<'a>(
        &'a self,
        branch_key_id: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, core::result::Result<BranchKeyMaterials, KeyStoreError>> {
        Box::pin(core::future::ready(self.get(
            KeyStoreOperation::GetBranchKeyVersion,
            branch_key_id,
            Some(version),
        )))
    }
}

/// Chooses the branch key id from a message's encryption context (multi-tenant services), on
/// encrypt and on decrypt.
pub trait BranchKeyIdSupplier: Send + Sync + fmt::Debug {
    /// The branch key id for this encryption context.
    ///
    /// # Errors
    /// No branch key for this context (e.g. an unknown tenant).
    fn branch_key_id(&self, encryption_context: &EncryptionContext) -> Result<String>;
}

/// A [`BranchKeyIdSupplier`] that reads one encryption context key (e.g. `tenant`) and maps
/// its value to a branch key id.
#[derive(Clone, Debug)]
pub struct ContextKeySupplier {
    key: String,
    ids: HashMap<String, String>,
}

impl ContextKeySupplier {
    /// Reads encryption context key `key`; add tenants with [`ContextKeySupplier::with`].
    pub fn new(key: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            ids: HashMap::new(),
        }
    }
    /// Messages whose context has `key = value` use `branch_key_id`.
    pub fn with(mut self, value: impl Into<String>, branch_key_id: impl Into<String>) -> Self {
        self.ids.insert(value.into(), branch_key_id.into());
        self
    }
}

impl BranchKeyIdSupplier for ContextKeySupplier {
    fn branch_key_id(&self, ec: &EncryptionContext) -> Result<String> {
        let value = ec.get(&self.key).ok_or_else(|| {
            Error::Materials(esdk_std::error::MaterialsError::SelectorKeyMissing {
                key: self.key.clone(),
            })
        })?;
        self.ids.get(value).cloned().ok_or_else(|| {
            Error::Materials(esdk_std::error::MaterialsError::NoKeyForSelector {
                key: self.key.clone(),
                value: value.to_owned(),
            })
        })
    }
}

#[derive(Clone, Debug)]
enum IdSource {
    Static(String),
    Supplier(Arc<dyn BranchKeyIdSupplier>),
}

/// The hierarchical keyring: wraps data keys with keys derived from branch keys, which it
/// gets from a [`BranchKeySource`] (normally a [`KeyStore`]) through a [`BranchKeyCache`].
///
/// Encrypt: the branch key id's **active** version. Decrypt: the version named by each
/// `aws-kms-hierarchy` EDK whose provider info is the branch key id. Asynchronous; wrap it in
/// [`esdk_kms::BlockingKeyring`] for the synchronous API.
#[derive(Clone)]
pub struct HierarchicalKeyring {
    source: Arc<dyn BranchKeySource>,
    id: IdSource,
    cache: BranchKeyCache,
    partition: Arc<str>,
    store_name: Arc<str>,
    ttl: Duration,
}

impl fmt::Debug for HierarchicalKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HierarchicalKeyring")
            .field("source", &self.source)
            .field("branch_key_id", &self.id)
            .field("cache", &self.cache)
            .field("partition", &self.partition)
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// Configures a [`HierarchicalKeyring`].
#[derive(Debug)]
pub struct HierarchicalKeyringBuilder {
    source: Arc<dyn BranchKeySource>,
    id: Option<IdSource>,
    cache: Option<BranchKeyCache>,
    capacity: usize,
    partition: Option<String>,
    ttl: Option<Duration>,
}

impl HierarchicalKeyringBuilder {
    /// Always this branch key.
    pub fn branch_key_id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(IdSource::Static(id.into()));
        self
    }
    /// The branch key chosen per message from its encryption context.
    pub fn branch_key_id_supplier(mut self, supplier: impl BranchKeyIdSupplier + 'static) -> Self {
        self.id = Some(IdSource::Supplier(Arc::new(supplier)));
        self
    }
    /// How long a branch key stays cached (required, more than zero).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
    /// Use this (possibly shared) cache instead of a new one.
    pub fn cache(mut self, cache: BranchKeyCache) -> Self {
        self.cache = Some(cache);
        self
    }
    /// Capacity of the keyring's own cache (default 1000; ignored with [`Self::cache`]).
    pub fn cache_capacity(mut self, n: usize) -> Self {
        self.capacity = n;
        self
    }
    /// Partition id: keyrings sharing a cache share entries only with the same partition id
    /// (default: a random UUID, i.e. not shared).
    pub fn partition_id(mut self, id: impl Into<String>) -> Self {
        self.partition = Some(id.into());
        self
    }
    /// The keyring.
    ///
    /// # Errors
    /// No branch key id or supplier, or no TTL (or a zero TTL).
    pub fn build(self) -> Result<HierarchicalKeyring> {
        let id = self.id.ok_or_else(|| {
            Error::Config(esdk_std::error::ConfigError::Missing {
                setting: "hierarchical keyring: a branch key id or a branch key id supplier",
            })
        })?;
        let ttl = self.ttl.filter(|t| !t.is_zero()).ok_or_else(|| {
            Error::Config(esdk_std::error::ConfigError::OutOfRange {
                setting: "hierarchical keyring cache TTL (greater than zero)",
                value: 0,
            })
        })?;
        let store_name: Arc<str> = self.source.logical_key_store_name().into();
        Ok(HierarchicalKeyring {
            source: self.source,
            id,
            cache: self
                .cache
                .unwrap_or_else(|| BranchKeyCache::new(self.capacity)),
            partition: self.partition.unwrap_or_else(crate::uuid::new_v4).into(),
            store_name,
            ttl,
        })
    }
}

impl HierarchicalKeyring {
    /// A builder over `source` (a [`KeyStore`] or a [`StaticBranchKey`]).
    pub fn builder(source: impl BranchKeySource + 'static) -> HierarchicalKeyringBuilder {
        HierarchicalKeyringBuilder {
            source: Arc::new(source),
            id: None,
            cache: None,
            capacity: 1000,
            partition: None,
            ttl: None,
        }
    }

    /// The cache (to share it, or to inspect it).
    pub fn cache(&self) -> &BranchKeyCache {
        &self.cache
    }

    fn branch_key_id(&self, ec: &EncryptionContext) -> Result<String> {
        match &self.id {
            IdSource::Static(id) => Ok(id.clone()),
            IdSource::Supplier(s) => s.branch_key_id(ec),
        }
    }

    fn key(&self, id: &str, version: Option<[u8; 16]>) -> CacheKey {
        CacheKey {
            partition: Arc::clone(&self.partition),
            store: Arc::clone(&self.store_name),
            branch_key_id: id.to_owned(),
            version,
        }
    }

    async fn encrypt(&self, materials: &EncryptionMaterials) -> Result<EncryptionMaterials> {
        let id = self.branch_key_id(&materials.encryption_context)?;
        let branch = self
            .cache
            .get_or_load(
                &self.key(&id, None),
                self.ttl,
                self.source.active_branch_key(&id),
            )
            .await
            .map_err(KeyStoreError::into_esdk)?;
        let mut m = materials.clone();
        let dk = match &m.data_key {
            Some(k) => k.clone(),
            None => DataKey::generate(m.suite, &mut OsRng)?,
        };
        let ec = m.encryption_context.serialize()?;
        let edk = wrapping::wrap(&branch, &ec, dk.as_bytes()).map_err(|e| {
            esdk_std::KeyringError::new(
                label(&id, Some(branch.version())),
                esdk_std::KeyringErrorKind::WrapFailed,
            )
            .with_source(e)
        })?;
        m.encrypted_data_keys.push(edk);
        m.data_key = Some(dk);
        Ok(m)
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
        let id = self.branch_key_id(&materials.encryption_context)?;
        let ec = materials.encryption_context.serialize()?;
        let mut failures = Vec::new();
        for edk in edks {
            if edk.provider_id != PROVIDER_ID || edk.provider_info != id.as_bytes() {
                failures.push(EdkFailure::not_for_this_keyring(
                    edk,
                    format!("not for {}", label(&id, None)),
                ));
                continue;
            }
            let parsed = match wrapping::parse(&edk.ciphertext, materials.suite.data_key_len()) {
                Ok(p) => p,
                Err(e) => {
                    failures.push(EdkFailure::failed(edk, label(&id, None)).with_source(e));
                    continue;
                }
            };
            let version = crate::uuid::format(parsed.version);
            let branch = match self
                .cache
                .get_or_load(
                    &self.key(&id, Some(*parsed.version)),
                    self.ttl,
                    self.source.branch_key_version(&id, &version),
                )
                .await
            {
                Ok(b) => b,
                Err(e) => {
                    failures.push(EdkFailure::failed(edk, label(&id, None)).with_source(e));
                    continue;
                }
            };
            match wrapping::unwrap(&branch, &ec, &parsed) {
                Ok(dk) => {
                    let mut m = materials.clone();
                    m.data_key = Some(DataKey::from_slice(&dk)?);
                    return Ok(m);
                }
                Err(e) => failures
                    .push(EdkFailure::failed(edk, label(&id, Some(&version))).with_source(e)),
            }
        }
        Err(Error::NoDecryptableKey(failures))
    }
}

fn label(id: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!(
            "hierarchical keyring (branch key id \"{}\" version \"{}\")",
            crate::error::shown(id),
            crate::error::shown(v)
        ),
        None => format!(
            "hierarchical keyring (branch key id \"{}\")",
            crate::error::shown(id)
        ),
    }
}

impl AsyncKeyring for HierarchicalKeyring {
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
