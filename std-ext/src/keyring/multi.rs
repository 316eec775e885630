//! Multi-keyring (`framework/multi-keyring.md`): a generator plus children, over synchronous
//! or asynchronous keyrings with one implementation.

use super::{AsyncKeyring, BoxFuture, Keyring};
use crate::error::{ConfigError, EdkFailure, Error, MaterialsError, Result};
use crate::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk_core::EncryptedDataKey;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

/// Combines keyrings.
///
/// Encrypt: the generator makes the data key (`Ok` without one is a failure); then every child
/// wraps it, **concurrently** for asynchronous children (each child's KMS `Encrypt` call is in
/// flight at the same time); the encrypted data keys are appended in the children's order. A
/// child that changes the data key or the earlier encrypted data keys, or any failure, fails the
/// whole. Without a generator the materials must already hold a data key.
///
/// Decrypt: the generator and then each child, one at a time and in order, until one returns
/// a data key (`Ok` without one counts as that keyring's failure); the error lists every
/// keyring's reasons.
///
/// `MultiKeyring` (children are [`Keyring`]s) is itself a [`Keyring`], usable by the
/// synchronous client and `std::io` adapters; [`AsyncMultiKeyring`] (children are
/// [`AsyncKeyring`]s, e.g. AWS KMS keyrings, or local keyrings) is an [`AsyncKeyring`].
///
/// ```
/// use esdk_std::keyring::{AsyncKeyring, AsyncMultiKeyring, Keyring, MultiKeyring, RawAesKeyring};
/// use std::sync::Arc;
/// # fn main() -> esdk_std::Result<()> {
/// let a: Arc<dyn Keyring> = Arc::new(RawAesKeyring::new("ns", "a", &[1u8; 32])?);
/// let b: Arc<dyn Keyring> = Arc::new(RawAesKeyring::new("ns", "b", &[2u8; 32])?);
/// let sync_multi = MultiKeyring::new(Some(a), vec![b])?;
/// let c: Arc<dyn AsyncKeyring> = Arc::new(RawAesKeyring::new("ns", "c", &[3u8; 32])?);
/// let async_multi = AsyncMultiKeyring::new_async(Some(c), vec![])?;
/// # let _ = (sync_multi, async_multi); Ok(()) }
/// ```
pub struct MultiKeyring<K: ?Sized = dyn Keyring> {
    generator: Option<Arc<K>>,
    children: Vec<Arc<K>>,
}

/// A multi-keyring over asynchronous keyrings (see [`MultiKeyring`]).
pub type AsyncMultiKeyring = MultiKeyring<dyn AsyncKeyring>;

impl<K: ?Sized> Clone for MultiKeyring<K> {
    fn clone(&self) -> Self {
        Self {
            generator: self.generator.clone(),
            children: self.children.clone(),
        }
    }
}

impl<K: ?Sized + fmt::Debug> fmt::Debug for MultiKeyring<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultiKeyring")
            .field("generator", &self.generator)
            .field("children", &self.children)
            .finish()
    }
}

impl MultiKeyring<dyn Keyring> {
    /// A multi-keyring over synchronous keyrings; without a generator the children must be
    /// non-empty, and encryption then requires materials that already hold a data key.
    ///
    /// # Errors
    /// [`ConfigError::EmptyMultiKeyring`]: no generator and no children.
    pub fn new(
        generator: Option<Arc<dyn Keyring>>,
        children: Vec<Arc<dyn Keyring>>,
    ) -> Result<Self> {
        Self::from_parts(generator, children)
    }
}

impl MultiKeyring<dyn AsyncKeyring> {
    /// A multi-keyring over asynchronous keyrings (e.g. AWS KMS keyrings; local keyrings
    /// work too), for the asynchronous APIs. As [`MultiKeyring::new`] otherwise.
    ///
    /// # Errors
    /// [`ConfigError::EmptyMultiKeyring`]: no generator and no children.
    pub fn new_async(
        generator: Option<Arc<dyn AsyncKeyring>>,
        children: Vec<Arc<dyn AsyncKeyring>>,
    ) -> Result<Self> {
        Self::from_parts(generator, children)
    }
}

impl<K: ?Sized + AsyncKeyring> MultiKeyring<K> {
    fn from_parts(generator: Option<Arc<K>>, children: Vec<Arc<K>>) -> Result<Self> {
        if generator.is_none() && children.is_empty() {
            return Err(Error::Config(ConfigError::EmptyMultiKeyring));
        }
        Ok(Self {
            generator,
            children,
        })
    }

    /// The generator, if any.
    pub fn generator(&self) -> Option<&Arc<K>> {
        self.generator.as_ref()
    }

    /// The children, in order.
    pub fn children(&self) -> &[Arc<K>] {
        &self.children
    }

    async fn encrypt(&self, materials: &EncryptionMaterials) -> Result<EncryptionMaterials> {
        let m = match &self.generator {
            Some(g) => {
                if materials.data_key.is_some() {
                    return Err(Error::Materials(MaterialsError::DataKeyAlreadyPresent));
                }
                let m = AsyncKeyring::on_encrypt(&**g, materials).await?;
                if m.data_key.is_none() {
                    return Err(Error::Materials(MaterialsError::MissingDataKey));
                }
                m
            }
            None => {
                if materials.data_key.is_none() {
                    return Err(Error::Materials(MaterialsError::MissingDataKey));
                }
                materials.clone()
            }
        };
        if self.children.is_empty() {
            return Ok(m);
        }
        let base = &m;
        let results = join_all(
            self.children
                .iter()
                .map(|c| AsyncKeyring::on_encrypt(&**c, base))
                .collect(),
        )
        .await;
        let before = m.encrypted_data_keys.len();
        let mut out = m.clone();
        for r in results {
            let r = r?;
            if r.data_key != m.data_key
                || r.encrypted_data_keys.get(..before) != Some(&m.encrypted_data_keys[..])
            {
                return Err(Error::Materials(MaterialsError::DataKeyChanged));
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
            return Err(Error::Materials(MaterialsError::DataKeyAlreadyPresent));
        }
        let mut failures = Vec::new();
        for k in self.generator.iter().chain(self.children.iter()) {
            match AsyncKeyring::on_decrypt(&**k, materials, edks).await {
                Ok(m) if m.data_key.is_some() => return Ok(m),
                Ok(_) => failures.push(EdkFailure::keyring(
                    format!("{k:?}"),
                    Error::Materials(MaterialsError::MissingDataKey),
                )),
                Err(Error::NoDecryptableKey(v)) => failures.extend(v),
                Err(e) => failures.push(EdkFailure::keyring(format!("{k:?}"), e)),
            }
        }
        Err(Error::NoDecryptableKey(failures))
    }
}

impl<K: Keyring + ?Sized> Keyring for MultiKeyring<K> {
    fn on_encrypt(&self, materials: &EncryptionMaterials) -> Result<EncryptionMaterials> {
        // Synchronous children: every future completes on its first poll.
        crate::executor::block_on(self.encrypt(materials))
    }

    fn on_decrypt(
        &self,
        materials: &DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<DecryptionMaterials> {
        crate::executor::block_on(self.decrypt(materials, edks))
    }
}

impl AsyncKeyring for MultiKeyring<dyn AsyncKeyring> {
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

/// Runs the futures concurrently on the current task; results in input order.
pub(crate) async fn join_all<'a, T>(futures: Vec<BoxFuture<'a, T>>) -> Vec<T> {
    let mut pending: Vec<Option<Pin<Box<dyn Future<Output = T> + Send + 'a>>>> =
        futures.into_iter().map(Some).collect();
    let mut done: Vec<Option<T>> = pending.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_all_keeps_order_and_polls_concurrently() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let started = Arc::new(AtomicUsize::new(0));
        let futs: Vec<BoxFuture<'_, usize>> = (0..4)
            .map(|i| {
                let started = started.clone();
                let f: BoxFuture<'_, usize> = Box::pin(async move {
                    started.fetch_add(1, Ordering::SeqCst);
                    // Wait until every future has started: only possible if they run together.
                    std::future::poll_fn(|cx| {
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
        assert_eq!(
            crate::executor::block_on(join_all(futs)),
            vec![0, 10, 20, 30]
        );
    }
}
