//! The default materials manager (`framework/default-cmm.md`) over a keyring.

use super::CryptographicMaterialsManager;
use crate::error::{Error, MaterialsError, Result};
use crate::keyring::{AsyncKeyring, BoxFuture, Keyring};
use crate::materials::{
    DecryptionMaterials, DecryptionRequest, EncryptionMaterials, EncryptionRequest,
};
use esdk_core::SigningKey;
use esdk_core::encryption_context::PUBLIC_KEY_FIELD;
use esdk_core::keys::MAX_PUBLIC_KEY_B64_LEN;
use std::sync::Arc;

/// Chooses the suite, generates the signing key for signed suites (publishing its public key
/// as `aws-crypto-public-key`), and asks the keyring for the data key; on decrypt, checks the
/// policy, merges the reproduced encryption context and extracts the verification key.
///
/// `DefaultCmm` (over a synchronous [`Keyring`]) serves every API;
/// `DefaultCmm<dyn AsyncKeyring>` (from [`DefaultCmm::new_async`]) only the asynchronous ones.
#[derive(Debug)]
pub struct DefaultCmm<K: ?Sized = dyn Keyring> {
    keyring: Arc<K>,
}

impl<K: ?Sized> Clone for DefaultCmm<K> {
    fn clone(&self) -> Self {
        Self {
            keyring: self.keyring.clone(),
        }
    }
}

impl DefaultCmm<dyn Keyring> {
    /// A default materials manager over a synchronous `keyring`.
    pub fn new(keyring: impl Keyring + 'static) -> Self {
        Self {
            keyring: Arc::new(keyring),
        }
    }
    /// A default materials manager over a shared synchronous keyring.
    pub fn from_arc(keyring: Arc<dyn Keyring>) -> Self {
        Self { keyring }
    }
}

impl DefaultCmm<dyn AsyncKeyring> {
    /// A default materials manager over an asynchronous `keyring` (e.g. AWS KMS), for the
    /// asynchronous APIs.
    pub fn new_async(keyring: impl AsyncKeyring + 'static) -> Self {
        Self {
            keyring: Arc::new(keyring),
        }
    }
    /// A default materials manager over a shared asynchronous keyring.
    pub fn from_arc_async(keyring: Arc<dyn AsyncKeyring>) -> Self {
        Self { keyring }
    }
}

impl super::SyncCryptographicMaterialsManager for DefaultCmm<dyn Keyring> {}

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
            return Err(Error::Materials(MaterialsError::PublicKeyEntryPresent));
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

/// The default CMM's decryption steps before the keyring (`framework/default-cmm.md`): its
/// policy check (the decryptor checks the header's suite on its own, before asking), the
/// reproduced context merged in, and the verification key decoded from the stored context's
/// `aws-crypto-public-key` entry, read from the owned context as it is (never serialized).
pub(crate) fn prepare_decrypt(req: &DecryptionRequest) -> Result<DecryptionMaterials> {
    req.commitment_policy.check_decrypt(req.suite)?;
    // The materials own their context: the one copy of the request's.
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
    let verification_key = esdk_core::materials::verification_key_from_entry(
        req.suite,
        req.encryption_context.get(PUBLIC_KEY_FIELD),
    )?;
    let mut m = DecryptionMaterials::new(req.suite, ec);
    m.required_encryption_context_keys = required;
    m.verification_key = verification_key;
    m.backend = req.backend.clone();
    Ok(m)
}

/// The default CMM's decryption over `keyring`: [`DefaultCmm`]'s, and the client's for a
/// keyring given without a materials manager (one flow for both).
pub(crate) async fn decrypt_with<K: AsyncKeyring + ?Sized>(
    keyring: &K,
    request: &DecryptionRequest,
) -> Result<DecryptionMaterials> {
    let m = prepare_decrypt(request)?;
    let out = keyring.on_decrypt(&m, &request.encrypted_data_keys).await?;
    if out.data_key.is_none() {
        return Err(Error::Materials(MaterialsError::MissingDataKey));
    }
    Ok(out)
}

impl<K: AsyncKeyring + ?Sized> CryptographicMaterialsManager for DefaultCmm<K> {
    fn get_encryption_materials<'a>(
        &'a self,
        request: &'a EncryptionRequest,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>> {
        Box::pin(async move {
            let m = prepare_encrypt(request)?;
            let out = self.keyring.on_encrypt(&m).await?;
            if out.data_key.is_none() || out.encrypted_data_keys.is_empty() {
                return Err(Error::Materials(if out.data_key.is_none() {
                    MaterialsError::MissingDataKey
                } else {
                    MaterialsError::MissingEncryptedDataKey
                }));
            }
            Ok(out)
        })
    }

    fn decrypt_materials<'a>(
        &'a self,
        request: &'a DecryptionRequest,
    ) -> BoxFuture<'a, Result<DecryptionMaterials>> {
        Box::pin(decrypt_with(&*self.keyring, request))
    }
}
