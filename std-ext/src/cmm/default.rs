//! The default materials manager (`framework/default-cmm.md`) over a keyring.

use super::CryptographicMaterialsManager;
use crate::error::{Error, Result};
use crate::keyring::{AsyncKeyring, BoxFuture};
use crate::materials::{
    DecryptionMaterials, DecryptionRequest, EncryptionMaterials, EncryptionRequest,
};
use esdk_core::encryption_context::PUBLIC_KEY_FIELD;
use esdk_core::keys::MAX_PUBLIC_KEY_B64_LEN;
use esdk_core::{EncryptionContextRef, SigningKey};
use std::sync::Arc;

/// Chooses the suite, generates the signing key for signed suites (publishing its public key
/// as `aws-crypto-public-key`), and asks the keyring for the data key; on decrypt, checks the
/// policy, merges the reproduced encryption context and extracts the verification key.
#[derive(Debug, Clone)]
pub struct DefaultCmm {
    keyring: Arc<dyn AsyncKeyring>,
}

impl DefaultCmm {
    /// A default materials manager over `keyring` (any [`crate::keyring::Keyring`] works).
    pub fn new(keyring: impl AsyncKeyring + 'static) -> Self {
        Self {
            keyring: Arc::new(keyring),
        }
    }
    /// A default materials manager over a shared keyring.
    pub fn from_arc(keyring: Arc<dyn AsyncKeyring>) -> Self {
        Self { keyring }
    }
}

/// The default CMM's encryption steps before the keyring.
pub(crate) fn prepare_encrypt(req: &EncryptionRequest) -> Result<EncryptionMaterials> {
    let suite = req
        .suite
        .unwrap_or_else(|| req.commitment_policy.default_suite());
    req.commitment_policy.check_encrypt(suite)?;
    let mut ec = req.encryption_context.clone();
    let mut signing_key = None;
    if let Some(alg) = suite.signature() {
        if ec.contains_key(PUBLIC_KEY_FIELD) {
            return Err(Error::Materials(format!(
                "the encryption context already has `{PUBLIC_KEY_FIELD}`"
            )));
        }
        let sk = SigningKey::generate(&req.backend, alg, &mut req.rng.clone())?;
        let vk = sk.public_key(&req.backend)?;
        let mut buf = [0u8; MAX_PUBLIC_KEY_B64_LEN];
        ec.insert(PUBLIC_KEY_FIELD, vk.to_base64(&mut buf));
        signing_key = Some(sk);
    }
    for k in &req.required_encryption_context_keys {
        if !ec.contains_key(k) {
            return Err(Error::Core(esdk_core::Error::Materials(
                esdk_core::error::MaterialsError::RequiredKeyMissing,
            )));
        }
    }
    let mut m = EncryptionMaterials::new(suite, ec);
    m.required_encryption_context_keys = req.required_encryption_context_keys.clone();
    m.signing_key = signing_key;
    m.backend = req.backend.clone();
    m.rng = req.rng.clone();
    Ok(m)
}

/// The default CMM's decryption steps before the keyring.
pub(crate) fn prepare_decrypt(req: &DecryptionRequest) -> Result<DecryptionMaterials> {
    req.commitment_policy.check_decrypt(req.suite)?;
    let mut ec = req.encryption_context.clone();
    let mut required = Vec::new();
    if let Some(repro) = &req.reproduced_encryption_context {
        for (k, v) in repro.iter() {
            match ec.get(k) {
                Some(stored) if stored != v => {
                    return Err(Error::Core(esdk_core::Error::Materials(
                        esdk_core::error::MaterialsError::EncryptionContextMismatch,
                    )));
                }
                Some(_) => {}
                None => {
                    ec.insert(k, v);
                    required.push(k.to_owned());
                }
            }
        }
    }
    let header_ec = req.encryption_context.serialize()?;
    let verification_key = esdk_core::materials::verification_key_from_context(
        req.suite,
        &EncryptionContextRef::parse(&header_ec)?,
    )?;
    let mut m = DecryptionMaterials::new(req.suite, ec);
    m.required_encryption_context_keys = required;
    m.verification_key = verification_key;
    m.backend = req.backend.clone();
    Ok(m)
}

impl CryptographicMaterialsManager for DefaultCmm {
    fn get_encryption_materials<'a>(
        &'a self,
        request: &'a EncryptionRequest,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>> {
        Box::pin(async move {
            let m = prepare_encrypt(request)?;
            let out = self.keyring.on_encrypt(&m).await?;
            if out.data_key.is_none() || out.encrypted_data_keys.is_empty() {
                return Err(Error::Materials(
                    "the keyring returned no data key or no encrypted data key".into(),
                ));
            }
            Ok(out)
        })
    }

    fn decrypt_materials<'a>(
        &'a self,
        request: &'a DecryptionRequest,
    ) -> BoxFuture<'a, Result<DecryptionMaterials>> {
        Box::pin(async move {
            let m = prepare_decrypt(request)?;
            let out = self
                .keyring
                .on_decrypt(&m, &request.encrypted_data_keys)
                .await?;
            if out.data_key.is_none() {
                return Err(Error::Materials("the keyring returned no data key".into()));
            }
            Ok(out)
        })
    }
}
