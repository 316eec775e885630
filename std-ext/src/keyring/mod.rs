//! The keyring interface (`framework/keyring-interface.md`) and the local keyrings.
//!
//! [`Keyring`] is the synchronous form; [`AsyncKeyring`] the asynchronous one, implemented for
//! every [`Keyring`], so a raw keyring serves both worlds with one implementation. Keyrings that
//! call a network service (AWS KMS) implement [`AsyncKeyring`] directly.

use crate::error::Result;
use crate::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk_core::EncryptedDataKey;
use std::future::Future;
use std::pin::Pin;

pub mod multi;
pub mod raw_aes;
pub mod raw_ecdh;
pub mod raw_rsa;

pub use multi::{AsyncMultiKeyring, MultiKeyring};
pub use raw_aes::RawAesKeyring;
pub use raw_ecdh::RawEcdhKeyring;
pub use raw_rsa::RawRsaKeyring;

/// A boxed, sendable future (what [`AsyncKeyring`] and the async materials managers return).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Generates, wraps and unwraps data keys.
pub trait Keyring: Send + Sync + std::fmt::Debug {
    /// Without a data key in `materials`: generates one and wraps it. With one: wraps it.
    /// Returns the materials with the new encrypted data key(s) appended.
    ///
    /// # Errors
    /// When the keyring cannot wrap; the input materials are left unchanged.
    fn on_encrypt(&self, materials: &EncryptionMaterials) -> Result<EncryptionMaterials>;

    /// Unwraps one of `edks` into the materials' data key.
    ///
    /// # Errors
    /// [`crate::Error::NoDecryptableKey`] listing why each EDK failed (or was not this
    /// keyring's); fails as well if the materials already hold a data key.
    fn on_decrypt(
        &self,
        materials: &DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<DecryptionMaterials>;
}

/// The asynchronous keyring interface.
pub trait AsyncKeyring: Send + Sync + std::fmt::Debug {
    /// As [`Keyring::on_encrypt`].
    fn on_encrypt<'a>(
        &'a self,
        materials: &'a EncryptionMaterials,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>>;
    /// As [`Keyring::on_decrypt`].
    fn on_decrypt<'a>(
        &'a self,
        materials: &'a DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> BoxFuture<'a, Result<DecryptionMaterials>>;
}

impl<K: Keyring + ?Sized> AsyncKeyring for K {
    fn on_encrypt<'a>(
        &'a self,
        materials: &'a EncryptionMaterials,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>> {
        let r = Keyring::on_encrypt(self, materials);
        Box::pin(std::future::ready(r))
    }
    fn on_decrypt<'a>(
        &'a self,
        materials: &'a DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> BoxFuture<'a, Result<DecryptionMaterials>> {
        let r = Keyring::on_decrypt(self, materials, edks);
        Box::pin(std::future::ready(r))
    }
}

impl<K: Keyring + ?Sized> Keyring for std::sync::Arc<K> {
    fn on_encrypt(&self, materials: &EncryptionMaterials) -> Result<EncryptionMaterials> {
        (**self).on_encrypt(materials)
    }
    fn on_decrypt(
        &self,
        materials: &DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<DecryptionMaterials> {
        (**self).on_decrypt(materials, edks)
    }
}
