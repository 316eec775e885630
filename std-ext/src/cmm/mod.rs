//! Cryptographic materials managers (`framework/cmm-interface.md`).
//!
//! One trait, asynchronous in shape: a materials manager over local keyrings completes
//! immediately, one over AWS KMS awaits the network. The synchronous client and `std::io`
//! adapters drive it with a minimal blocking executor, so the same implementation serves both.

use crate::error::Result;
use crate::keyring::BoxFuture;
use crate::materials::{
    DecryptionMaterials, DecryptionRequest, EncryptionMaterials, EncryptionRequest,
};

pub mod cache;
pub mod caching;
pub mod default;
pub mod required;

pub use cache::{CryptographicMaterialsCache, LocalCache, NullCache};
pub use caching::CachingCmm;
pub use default::DefaultCmm;
pub use required::RequiredEncryptionContextCmm;

/// Supplies encryption and decryption materials.
pub trait CryptographicMaterialsManager: Send + Sync + std::fmt::Debug {
    /// Materials to encrypt one message.
    fn get_encryption_materials<'a>(
        &'a self,
        request: &'a EncryptionRequest,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>>;
    /// Materials to decrypt one message.
    fn decrypt_materials<'a>(
        &'a self,
        request: &'a DecryptionRequest,
    ) -> BoxFuture<'a, Result<DecryptionMaterials>>;
}

impl<C: CryptographicMaterialsManager + ?Sized> CryptographicMaterialsManager
    for std::sync::Arc<C>
{
    fn get_encryption_materials<'a>(
        &'a self,
        request: &'a EncryptionRequest,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>> {
        (**self).get_encryption_materials(request)
    }
    fn decrypt_materials<'a>(
        &'a self,
        request: &'a DecryptionRequest,
    ) -> BoxFuture<'a, Result<DecryptionMaterials>> {
        (**self).decrypt_materials(request)
    }
}
