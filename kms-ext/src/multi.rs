//! Multi-keyrings over asynchronous keyrings, and the AWS KMS multi-keyring helpers
//! (`framework/aws-kms/aws-kms-multi-keyrings.md`, `aws-kms-mrk-multi-keyrings.md`).

use crate::arn::{KeyIdentifier, check_mrks_unique};
use crate::client::{AwsSdkClientSupplier, ClientSupplier};
use crate::keyring::{AwsKmsKeyring, AwsKmsMrkDiscoveryKeyring, DiscoveryFilter};
use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::Poll;
use esdk_std::error::EdkFailure;
use esdk_std::keyring::{AsyncKeyring, BoxFuture};
use esdk_std::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk_std::{EncryptedDataKey, Error, Result};
use std::sync::Arc;

/// Runs the futures concurrently on the current task; results in input order.
async fn join_all<'a, T>(futures: Vec<BoxFuture<'a, T>>) -> Vec<T> {
    let mut pending: Vec<Option<Pin<Box<dyn Future<Output = T> + Send + 'a>>>> =
        futures.into_iter().map(Some).collect();
    let mut done: Vec<Option<T>> = pending.iter().map(|_| None).collect();
    core::future::poll_fn(|cx| {
        let mut waiting = false;
        for (slot, out) in pending.iter_mut().zip(done.iter_mut()) {
            if let Some(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(v) => {
                        *out = Some(v);
                        *slot = None;
                    }
                    Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    done.into_iter().flatten().collect()
}

/// A multi-keyring (`framework/multi-keyring.md`) over asynchronous keyrings (KMS keyrings,
/// and any local [`esdk_std::Keyring`]).
///
/// Encrypt: the generator makes the data key; then every child wraps it, **concurrently** (each
/// child's KMS `Encrypt` call is in flight at the same time); the encrypted data keys are
/// appended in the children's order, and any failure fails the whole. Without a generator the
/// materials must already hold a data key.
///
/// Decrypt: the generator and then each child, one at a time and in order, until one succeeds;
/// the error lists every keyring's reasons.
#[derive(Clone)]
pub struct AwsKmsMultiKeyring {
    generator: Option<Arc<dyn AsyncKeyring>>,
    children: Vec<Arc<dyn AsyncKeyring>>,
}

impl fmt::Debug for AwsKmsMultiKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsKmsMultiKeyring")
            .field("generator", &self.generator)
            .field("children", &self.children)
            .finish()
    }
}

impl AwsKmsMultiKeyring {
    /// Combines keyrings.
    ///
    /// # Errors
    /// No generator and no children.
    pub fn new(
        generator: Option<Arc<dyn AsyncKeyring>>,
        children: Vec<Arc<dyn AsyncKeyring>>,
    ) -> Result<Self> {
        if generator.is_none() && children.is_empty() {
            return Err(Error::Config(
                "a multi-keyring needs a generator or at least one child".into(),
            ));
        }
        Ok(Self {
            generator,
            children,
        })
    }

    /// Builds a strict (or multi-Region aware) multi-keyring from key identifiers.
    pub fn builder() -> AwsKmsMultiKeyringBuilder {
        AwsKmsMultiKeyringBuilder {
            generator: None,
            keys: Vec::new(),
            grant_tokens: Vec::new(),
            supplier: None,
            mrk_aware: false,
        }
    }

    /// A multi-keyring of one [`AwsKmsMrkDiscoveryKeyring`] per region (the MRK discovery
    /// multi-keyring): decrypts messages made with multi-Region keys that have a replica in one
    /// of `regions`, and single-Region keys in those regions. Regions are tried in order.
    ///
    /// # Errors
    /// No regions, or an invalid region name.
    pub fn mrk_discovery<I: IntoIterator<Item = S>, S: AsRef<str>>(
        regions: I,
        filter: Option<DiscoveryFilter>,
        supplier: Option<Arc<dyn ClientSupplier>>,
        grant_tokens: Vec<String>,
    ) -> Result<Self> {
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
            return Err(Error::Config(
                "an MRK discovery multi-keyring needs at least one region".into(),
            ));
        }
        Self::new(None, children)
    }

    async fn encrypt(&self, materials: &EncryptionMaterials) -> Result<EncryptionMaterials> {
        let m = match &self.generator {
            Some(g) => {
                if materials.data_key.is_some() {
                    return Err(Error::Materials(
                        "the multi-keyring's generator needs materials without a data key".into(),
                    ));
                }
                let m = g.on_encrypt(materials).await?;
                if m.data_key.is_none() {
                    return Err(Error::Materials(
                        "the generator keyring did not produce a data key".into(),
                    ));
                }
                m
            }
            None => {
                if materials.data_key.is_none() {
                    return Err(Error::Materials(
                        "a multi-keyring without a generator needs a data key".into(),
                    ));
                }
                materials.clone()
            }
        };
        if self.children.is_empty() {
            return Ok(m);
        }
        let base = &m;
        let results = join_all(self.children.iter().map(|c| c.on_encrypt(base)).collect()).await;
        let mut out = m.clone();
        let before = m.encrypted_data_keys.len();
        for (child, r) in self.children.iter().zip(results) {
            let r = r?;
            if r.data_key != m.data_key
                || r.encrypted_data_keys.get(..before) != Some(&m.encrypted_data_keys[..])
            {
                return Err(Error::Materials(format!(
                    "child keyring {child:?} changed the data key or earlier encrypted data keys"
                )));
            }
            out.encrypted_data_keys
                .extend(r.encrypted_data_keys.into_iter().skip(before));
        }
        Ok(out)
    }

    async fn decrypt(
        &self,
        materials: &DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<DecryptionMaterials> {
        if materials.data_key.is_some() {
            return Err(Error::Materials(
                "decryption materials already hold a data key".into(),
            ));
        }
        let mut failures = Vec::new();
        for k in self.generator.iter().chain(self.children.iter()) {
            match k.on_decrypt(materials, edks).await {
                Ok(m) if m.data_key.is_some() => return Ok(m),
                Ok(_) => failures.push(EdkFailure {
                    provider_id: String::new(),
                    provider_info: format!("{k:?}"),
                    reason: "the keyring returned no data key".into(),
                }),
                Err(Error::NoDecryptableKey(v)) => failures.extend(v),
                Err(e) => failures.push(EdkFailure {
                    provider_id: String::new(),
                    provider_info: format!("{k:?}"),
                    reason: e.to_string(),
                }),
            }
        }
        Err(Error::NoDecryptableKey(failures))
    }
}

impl AsyncKeyring for AwsKmsMultiKeyring {
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

impl AwsKmsMultiKeyringBuilder {
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
                .map(|s| KeyIdentifier::parse(s).map_err(|e| Error::Config(e.to_string())))
                .collect::<Result<Vec<_>>>()?;
            check_mrks_unique(&ids).map_err(Error::Config)?;
        }
        let generator = self.generator.as_deref().map(make).transpose()?;
        let children = self
            .keys
            .iter()
            .map(|k| make(k))
            .collect::<Result<Vec<_>>>()?;
        AwsKmsMultiKeyring::new(generator, children)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_all_keeps_order_and_polls_concurrently() {
        use core::sync::atomic::{AtomicUsize, Ordering};
        let started = Arc::new(AtomicUsize::new(0));
        let futs: Vec<BoxFuture<'_, usize>> = (0..4)
            .map(|i| {
                let started = started.clone();
                let f: BoxFuture<'_, usize> = Box::pin(async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    // Wait until every future has started: only possible if they run together.
                    core::future::poll_fn(|cx| {
                        if started.load(Ordering::SeqCst) == 4 {
                            Poll::Ready(())
                        } else {
                            cx.waker().wake_by_ref();
                            Poll::Pending
                        }
                    })
                    .await;
                    i * 10
                });
                f
            })
            .collect();
        assert_eq!(esdk_std::block_on(join_all(futs)), vec![0, 10, 20, 30]);
    }
}
