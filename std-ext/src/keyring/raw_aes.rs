//! Raw AES keyring (`framework/raw-aes-keyring.md`), built on `esdk_core::raw_aes`.

use super::Keyring;
use crate::error::{EdkFailure, Error, Result};
use crate::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk_core::{DataKey, EncryptedDataKey, EncryptionContextRef};
use zeroize::Zeroizing;

/// Wraps data keys with a local AES-GCM key (128, 192 or 256 bits).
///
/// EDK provider id = the namespace; provider info = key name ‖ tag bits ‖ IV length ‖ IV; the
/// encryption context is the AES-GCM AAD.
pub struct RawAesKeyring {
    namespace: String,
    name: String,
    key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for RawAesKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawAesKeyring")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("key_bits", &(self.key.len() * 8))
            .finish()
    }
}

impl RawAesKeyring {
    /// A keyring for `(namespace, name)` with a 16-, 24- or 32-byte wrapping key.
    ///
    /// # Errors
    /// A namespace starting with `aws-kms`, or a key of another length.
    pub fn new(
        namespace: impl Into<String>,
        name: impl Into<String>,
        wrapping_key: &[u8],
    ) -> Result<Self> {
        let namespace = namespace.into();
        esdk_core::raw_aes::check_namespace(&namespace)?;
        if !matches!(wrapping_key.len(), 16 | 24 | 32) {
            return Err(Error::Config(
                crate::error::ConfigError::WrappingKeyLength {
                    actual: wrapping_key.len(),
                },
            ));
        }
        Ok(Self {
            namespace,
            name: name.into(),
            key: Zeroizing::new(wrapping_key.to_vec()),
        })
    }
    /// The namespace (EDK provider id).
    pub fn namespace(&self) -> &str {
        &self.namespace
    }
    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }
    fn label(&self) -> String {
        format!("raw AES {}/{}", self.namespace, self.name)
    }
}

impl Keyring for RawAesKeyring {
    fn on_encrypt(&self, materials: &EncryptionMaterials) -> Result<EncryptionMaterials> {
        let mut m = materials.clone();
        let mut rng = m.rng.clone();
        let dk = match &m.data_key {
            Some(k) => k.clone(),
            None => DataKey::generate(m.suite, &mut rng)?,
        };
        // The AAD: the canonical serialization of the context, written once (never parsed back).
        let mut aad = Vec::new();
        let ec = m.encryption_context.serialize_into(&mut aad)?;
        let mut info = vec![0u8; self.name.len() + esdk_core::raw_aes::PROVIDER_INFO_OVERHEAD];
        let mut ct = vec![0u8; dk.len() + 16];
        esdk_core::raw_aes::wrap(
            &m.backend,
            &self.key,
            self.name.as_bytes(),
            &ec,
            &dk,
            &mut rng,
            &mut info,
            &mut ct,
        )
        .map_err(|e| {
            crate::error::KeyringError::new(
                self.label(),
                crate::error::KeyringErrorKind::WrapFailed,
            )
            .with_source(e)
        })?;
        m.encrypted_data_keys.push(EncryptedDataKey {
            provider_id: self.namespace.clone(),
            provider_info: info,
            ciphertext: ct,
        });
        m.data_key = Some(dk);
        Ok(m)
    }

    fn on_decrypt(
        &self,
        materials: &DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<DecryptionMaterials> {
        if materials.data_key.is_some() {
            return Err(Error::Materials(
                crate::error::MaterialsError::DataKeyAlreadyPresent,
            ));
        }
        // The AAD is the canonical serialization of the materials' context (the stored pairs
        // plus any reproduced-only ones, so in general not the header's bytes): written once,
        // never parsed back, and only when one of the EDKs is this keyring's.
        let mut aad = Vec::new();
        let ours = edks.iter().any(|edk| {
            esdk_core::raw_aes::matches(&self.namespace, self.name.as_bytes(), &edk.as_ref())
                .is_some()
        });
        let ec = if ours {
            materials.encryption_context.serialize_into(&mut aad)?
        } else {
            EncryptionContextRef::EMPTY
        };
        let mut failures = Vec::new();
        for edk in edks {
            match esdk_core::raw_aes::unwrap(
                &materials.backend,
                &self.namespace,
                self.name.as_bytes(),
                &self.key,
                &ec,
                &edk.as_ref(),
            ) {
                Ok(Some(dk)) if dk.len() == materials.suite.data_key_len() => {
                    let mut m = materials.clone();
                    m.data_key = Some(dk);
                    return Ok(m);
                }
                Ok(Some(dk)) => failures.push(EdkFailure::failed(
                    edk,
                    format!(
                        "{}: data key is {} bytes, the suite needs {}",
                        self.label(),
                        dk.len(),
                        materials.suite.data_key_len()
                    ),
                )),
                Ok(None) => failures.push(EdkFailure::not_for_this_keyring(
                    edk,
                    format!("not for {}", self.label()),
                )),
                Err(e) => failures.push(EdkFailure::failed(edk, self.label()).with_source(e)),
            }
        }
        Err(Error::NoDecryptableKey(failures))
    }
}
