//! Multi-keyring (`framework/multi-keyring.md`): a generator plus children.

use super::Keyring;
use crate::error::{Error, Result};
use crate::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk_core::EncryptedDataKey;
use std::sync::Arc;

/// Combines keyrings: on encrypt the generator makes the data key and every child wraps it too;
/// on decrypt the generator and then each child are tried in order until one succeeds, and the
/// failure lists every keyring's reasons.
#[derive(Debug, Clone)]
pub struct MultiKeyring {
    generator: Option<Arc<dyn Keyring>>,
    children: Vec<Arc<dyn Keyring>>,
}

impl MultiKeyring {
    /// A multi-keyring; without a generator the children must be non-empty, and encryption
    /// then requires materials that already hold a data key.
    ///
    /// # Errors
    /// No generator and no children.
    pub fn new(
        generator: Option<Arc<dyn Keyring>>,
        children: Vec<Arc<dyn Keyring>>,
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
}

impl Keyring for MultiKeyring {
    fn on_encrypt(&self, materials: &EncryptionMaterials) -> Result<EncryptionMaterials> {
        let mut m = match &self.generator {
            Some(g) => {
                if materials.data_key.is_some() {
                    return Err(Error::Materials(
                        "the multi-keyring's generator needs materials without a data key".into(),
                    ));
                }
                let m = g.on_encrypt(materials)?;
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
        for child in &self.children {
            m = child.on_encrypt(&m)?;
        }
        Ok(m)
    }

    fn on_decrypt(
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
            match k.on_decrypt(materials, edks) {
                Ok(m) => return Ok(m),
                Err(Error::NoDecryptableKey(v)) => failures.extend(v),
                Err(e) => failures.push(crate::error::EdkFailure {
                    provider_id: String::new(),
                    provider_info: format!("{k:?}"),
                    reason: e.to_string(),
                }),
            }
        }
        Err(Error::NoDecryptableKey(failures))
    }
}
