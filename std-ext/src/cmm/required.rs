//! The required-encryption-context materials manager
//! (`framework/required-encryption-context-cmm.md`).

use super::CryptographicMaterialsManager;
use crate::error::{Error, MaterialsError, Result};
use crate::keyring::BoxFuture;
use crate::materials::{
    DecryptionMaterials, DecryptionRequest, EncryptionMaterials, EncryptionRequest,
};
use std::sync::Arc;

/// Requires configured encryption-context keys on every message: on encrypt they must be in the
/// context and are authenticated without being stored; on decrypt the caller must reproduce them.
///
/// Synchronous (usable by the synchronous APIs) when its underlying manager `C` is.
#[derive(Debug)]
pub struct RequiredEncryptionContextCmm<C: ?Sized = dyn CryptographicMaterialsManager> {
    keys: Vec<String>,
    underlying: Arc<C>,
}

impl<C: ?Sized> Clone for RequiredEncryptionContextCmm<C> {
    fn clone(&self) -> Self {
        Self {
            keys: self.keys.clone(),
            underlying: self.underlying.clone(),
        }
    }
}

impl<C: super::SyncCryptographicMaterialsManager + ?Sized> super::SyncCryptographicMaterialsManager
    for RequiredEncryptionContextCmm<C>
{
}

impl<C: CryptographicMaterialsManager + ?Sized> RequiredEncryptionContextCmm<C> {
    /// Requires `keys` on top of `underlying`.
    ///
    /// # Errors
    /// An empty key set.
    pub fn new(keys: Vec<String>, underlying: Arc<C>) -> Result<Self> {
        if keys.is_empty() {
            return Err(Error::Config(crate::error::ConfigError::Missing {
                setting: "a required encryption context key",
            }));
        }
        Ok(Self { keys, underlying })
    }
}

impl<C: CryptographicMaterialsManager + ?Sized> CryptographicMaterialsManager
    for RequiredEncryptionContextCmm<C>
{
    fn get_encryption_materials<'a>(
        &'a self,
        request: &'a EncryptionRequest,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>> {
        Box::pin(async move {
            if let Some(k) = self
                .keys
                .iter()
                .find(|k| !request.encryption_context.contains_key(k))
            {
                return Err(Error::Materials(MaterialsError::RequiredKeyMissing {
                    key: k.clone(),
                }));
            }
            let mut req = request.clone();
            for k in &self.keys {
                if !req.required_encryption_context_keys.contains(k) {
                    req.required_encryption_context_keys.push(k.clone());
                }
            }
            let m = self.underlying.get_encryption_materials(&req).await?;
            if let Some(k) = self
                .keys
                .iter()
                .find(|k| !m.required_encryption_context_keys.contains(k))
            {
                return Err(Error::Materials(MaterialsError::RequiredKeyDropped {
                    key: k.clone(),
                }));
            }
            Ok(m)
        })
    }

    fn decrypt_materials<'a>(
        &'a self,
        request: &'a DecryptionRequest,
    ) -> BoxFuture<'a, Result<DecryptionMaterials>> {
        Box::pin(async move {
            let repro = request.reproduced_encryption_context.as_ref();
            if let Some(k) = self
                .keys
                .iter()
                .find(|k| !repro.is_some_and(|r| r.contains_key(k)))
            {
                return Err(Error::Materials(MaterialsError::RequiredKeyNotReproduced {
                    key: k.clone(),
                }));
            }
            let m = self.underlying.decrypt_materials(request).await?;
            if let Some(k) = self
                .keys
                .iter()
                .find(|k| !m.encryption_context.contains_key(k))
            {
                return Err(Error::Materials(MaterialsError::RequiredKeyDropped {
                    key: k.clone(),
                }));
            }
            Ok(m)
        })
    }
}
