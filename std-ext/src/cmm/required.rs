//! The required-encryption-context materials manager
//! (`framework/required-encryption-context-cmm.md`).

use super::CryptographicMaterialsManager;
use crate::error::{Error, Result};
use crate::keyring::BoxFuture;
use crate::materials::{
    DecryptionMaterials, DecryptionRequest, EncryptionMaterials, EncryptionRequest,
};
use std::sync::Arc;

/// Requires configured encryption-context keys on every message: on encrypt they must be in the
/// context and are authenticated without being stored; on decrypt the caller must reproduce them.
#[derive(Debug, Clone)]
pub struct RequiredEncryptionContextCmm {
    keys: Vec<String>,
    underlying: Arc<dyn CryptographicMaterialsManager>,
}

impl RequiredEncryptionContextCmm {
    /// Requires `keys` on top of `underlying`.
    ///
    /// # Errors
    /// An empty key set.
    pub fn new(
        keys: Vec<String>,
        underlying: Arc<dyn CryptographicMaterialsManager>,
    ) -> Result<Self> {
        if keys.is_empty() {
            return Err(Error::Config(
                "the required-encryption-context CMM needs at least one key".into(),
            ));
        }
        Ok(Self { keys, underlying })
    }
}

impl CryptographicMaterialsManager for RequiredEncryptionContextCmm {
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
                return Err(Error::Materials(format!(
                    "required encryption context key `{k}` is missing"
                )));
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
                return Err(Error::Materials(format!(
                    "the underlying CMM dropped required key `{k}`"
                )));
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
                return Err(Error::Materials(format!(
                    "required encryption context key `{k}` was not reproduced"
                )));
            }
            let m = self.underlying.decrypt_materials(request).await?;
            if let Some(k) = self
                .keys
                .iter()
                .find(|k| !m.encryption_context.contains_key(k))
            {
                return Err(Error::Materials(format!(
                    "decryption materials lack required key `{k}`"
                )));
            }
            Ok(m)
        })
    }
}
