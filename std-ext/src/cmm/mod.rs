//! Cryptographic materials managers (`framework/cmm-interface.md`).
//!
//! One trait, asynchronous in shape: a materials manager over local keyrings completes
//! immediately, one over AWS KMS awaits the network. Those that never await I/O also implement
//! the marker [`SyncCryptographicMaterialsManager`]; only they are accepted by the synchronous
//! client and `std::io` adapters (which drive them with a crate-private blocking executor), so
//! a materials manager over an AWS KMS keyring does not compile into a synchronous API.
//!
//! | Materials manager | Synchronous when |
//! |---|---|
//! | [`DefaultCmm`] (from [`DefaultCmm::new`]) | always: its keyring is a [`crate::Keyring`] |
//! | [`DefaultCmm<dyn AsyncKeyring>`](DefaultCmm) (from [`DefaultCmm::new_async`]) | never |
//! | [`RequiredEncryptionContextCmm<C>`] | `C` is |
//! | [`CachingCmm<C>`] | `C` is |

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

/// A materials manager whose futures never wait on I/O (they complete without an async
/// runtime), so the synchronous APIs may drive it. Implement it only for such a manager.
pub trait SyncCryptographicMaterialsManager: CryptographicMaterialsManager {}

impl<C: SyncCryptographicMaterialsManager + ?Sized> SyncCryptographicMaterialsManager
    for std::sync::Arc<C>
{
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
