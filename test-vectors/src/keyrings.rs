//! Keyrings and materials managers built from manifest key descriptions.
//!
//! Building happens in two steps so that a runner can decide up front whether
//! a case can run at all, yet construct fresh key objects for every case
//! (nothing is shared between cases):
//!
//! 1. [`plan_keyring`] / [`plan_materials`] resolve a [`KeyDescription`]
//!    against a [`KeysManifest`] into a [`MaterialsPlan`]: plain data (key
//!    bytes, PEM text, namespaces). Descriptions this crate cannot run offline
//!    (AWS KMS, caching CMM, static-material keyrings, unknown types) are
//!    refused with [`PlanError::Unsupported`] and a reason, so the case is
//!    reported as skipped — never as passed.
//! 2. [`MaterialsPlan::build`] turns a plan into an
//!    [`esdk_std::CryptographicMaterialsManager`]: the default CMM over the
//!    keyring, or the required-encryption-context CMM over that.
//!
//! Supported: raw AES, raw RSA (PKCS#1 v1.5, OAEP-SHA-1/256/384/512),
//! multi-keyrings (a master-key list is a multi-keyring whose generator is the
//! first entry), the required-encryption-context CMM, the hierarchical keyring
//! over a static branch key and the raw ECDH keyring (the library's, configured in [`crate::extra_keyrings`]),
//! and the test-only "fixed data key" keyrings of the known-answer files.

use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use esdk_std::error::EdkFailure;
use esdk_std::keyring::{Keyring, MultiKeyring, RawAesKeyring, RawRsaKeyring};
use esdk_std::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk_std::{
    DefaultCmm, EncryptedDataKey, Error as EsdkError, RequiredEncryptionContextCmm,
    SyncCryptographicMaterialsManager,
};

use crate::extra_keyrings::{EcdhPlan, HierarchyPlan};
use crate::manifest::{KeyDescription, KeyType, KeysManifest, RsaPadding};

/// Whether a keyring is wanted for encrypting or for decrypting (an RSA
/// `public` key can only encrypt; a `decrypt: false` entry is dropped from a
/// decrypt list, since another entry of the list must decrypt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Build the keyring to encrypt with.
    Encrypt,
    /// Build the keyring to decrypt with.
    Decrypt,
}

/// Why a description could not be turned into a plan.
#[derive(Debug)]
pub enum PlanError {
    /// The description is valid but needs something this crate does not
    /// provide offline (AWS KMS, …): report the case as skipped with this reason.
    Unsupported(String),
    /// The description or the keys manifest is wrong: report the case as failed.
    Invalid(anyhow::Error),
}

impl core::fmt::Display for PlanError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            PlanError::Unsupported(r) => write!(f, "unsupported: {r}"),
            PlanError::Invalid(e) => write!(f, "invalid: {e:#}"),
        }
    }
}

impl From<anyhow::Error> for PlanError {
    fn from(e: anyhow::Error) -> Self {
        PlanError::Invalid(e)
    }
}

/// A data key handed out by the test-only keyrings of the known-answer files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FixedKey {
    /// These exact bytes (their length must fit the suite).
    Bytes(Vec<u8>),
    /// All zero bytes, as long as the suite needs.
    Zeros,
    /// `01 02 03 …`, as long as the suite needs (python `test_counting`).
    Counting,
}

impl FixedKey {
    fn for_len(&self, len: usize) -> Vec<u8> {
        match self {
            FixedKey::Bytes(b) => b.clone(),
            FixedKey::Zeros => vec![0; len],
            FixedKey::Counting => (1..=u8::MAX).cycle().take(len).collect(),
        }
    }
}

/// A keyring to build, as plain data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyringPlan {
    /// Raw AES keyring.
    RawAes {
        /// Key namespace (EDK provider id).
        namespace: String,
        /// Key name.
        name: String,
        /// Wrapping key (16, 24 or 32 bytes).
        key: Vec<u8>,
    },
    /// Raw RSA keyring.
    RawRsa {
        /// Key namespace (EDK provider id).
        namespace: String,
        /// Key name.
        name: String,
        /// Padding scheme.
        padding: RsaPadding,
        /// Public key PEM (needed to encrypt).
        public_pem: Option<String>,
        /// Private key PEM (needed to decrypt).
        private_pem: Option<String>,
    },
    /// Multi-keyring.
    Multi {
        /// Generator (tried first on decrypt).
        generator: Option<Box<KeyringPlan>>,
        /// Children.
        children: Vec<KeyringPlan>,
    },
    /// Hierarchical keyring over a static branch key.
    Hierarchy(HierarchyPlan),
    /// Raw ECDH keyring.
    RawEcdh(EcdhPlan),
    /// Test-only: unwraps any EDK whose provider id is `provider_id` to a fixed
    /// data key (the commitment KATs' injected key, the C SDK's `zero-key`,
    /// the python oracle's `null` / `test_counting`).
    FixedDataKey {
        /// The EDK provider id this keyring accepts.
        provider_id: String,
        /// The data key it returns.
        key: FixedKey,
    },
    /// A keyring that decrypts nothing (every key of a decrypt list was
    /// encrypt-only): decryption must fail.
    Nothing {
        /// Why nothing can decrypt.
        reason: String,
    },
}

/// Materials-manager plan: a keyring plus, when non-empty, the keys of the
/// required-encryption-context CMM wrapped around its default CMM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaterialsPlan {
    /// The keyring.
    pub keyring: KeyringPlan,
    /// Required encryption-context keys (empty: default CMM only).
    pub required_keys: Vec<String>,
}

impl MaterialsPlan {
    /// The default CMM over `keyring`.
    pub fn default_cmm(keyring: KeyringPlan) -> Self {
        MaterialsPlan {
            keyring,
            required_keys: Vec::new(),
        }
    }

    /// Builds fresh key objects and the materials manager.
    pub fn build(&self) -> anyhow::Result<Arc<dyn SyncCryptographicMaterialsManager>> {
        let keyring = self.keyring.build()?;
        let default: Arc<dyn SyncCryptographicMaterialsManager> =
            Arc::new(DefaultCmm::new(keyring));
        if self.required_keys.is_empty() {
            return Ok(default);
        }
        Ok(Arc::new(
            RequiredEncryptionContextCmm::new(self.required_keys.clone(), default)
                .map_err(|e| anyhow!("required-encryption-context CMM: {e}"))?,
        ))
    }
}

/// Maps the manifest's padding names to the keyring's.
pub fn std_padding(p: RsaPadding) -> esdk_std::RsaPadding {
    match p {
        RsaPadding::Pkcs1 => esdk_std::RsaPadding::Pkcs1V15,
        RsaPadding::OaepSha1 => esdk_std::RsaPadding::OaepSha1,
        RsaPadding::OaepSha256 => esdk_std::RsaPadding::OaepSha256,
        RsaPadding::OaepSha384 => esdk_std::RsaPadding::OaepSha384,
        RsaPadding::OaepSha512 => esdk_std::RsaPadding::OaepSha512,
    }
}

impl KeyringPlan {
    /// Builds the keyring.
    pub fn build(&self) -> anyhow::Result<Arc<dyn Keyring>> {
        Ok(match self {
            KeyringPlan::RawAes {
                namespace,
                name,
                key,
            } => Arc::new(
                RawAesKeyring::new(namespace.clone(), name.clone(), key)
                    .map_err(|e| anyhow!("raw AES keyring {namespace}/{name}: {e}"))?,
            ),
            KeyringPlan::RawRsa {
                namespace,
                name,
                padding,
                public_pem,
                private_pem,
            } => Arc::new(
                RawRsaKeyring::from_pem(
                    namespace.clone(),
                    name.clone(),
                    std_padding(*padding),
                    public_pem.as_deref(),
                    private_pem.as_deref(),
                )
                .map_err(|e| anyhow!("raw RSA keyring {namespace}/{name}: {e}"))?,
            ),
            KeyringPlan::Multi {
                generator,
                children,
            } => {
                let generator = generator.as_ref().map(|g| g.build()).transpose()?;
                let children = children
                    .iter()
                    .map(KeyringPlan::build)
                    .collect::<anyhow::Result<Vec<_>>>()?;
                Arc::new(
                    MultiKeyring::new(generator, children)
                        .map_err(|e| anyhow!("multi-keyring: {e}"))?,
                )
            }
            KeyringPlan::Hierarchy(p) => Arc::new(p.build()?),
            KeyringPlan::RawEcdh(p) => Arc::new(p.build()?),
            KeyringPlan::FixedDataKey { provider_id, key } => Arc::new(FixedDataKeyKeyring {
                provider_id: provider_id.clone(),
                key: key.clone(),
            }),
            KeyringPlan::Nothing { reason } => Arc::new(NothingKeyring {
                reason: reason.clone(),
            }),
        })
    }
}

/// Test-only keyring: returns a fixed data key for any EDK with the right
/// provider id (never use outside known-answer tests).
#[derive(Debug)]
pub struct FixedDataKeyKeyring {
    provider_id: String,
    key: FixedKey,
}

impl Keyring for FixedDataKeyKeyring {
    fn on_encrypt(
        &self,
        _materials: &EncryptionMaterials,
    ) -> esdk_std::Result<EncryptionMaterials> {
        Err(esdk_std::KeyringError::new(
            "fixed data key (test only)",
            esdk_std::KeyringErrorKind::CannotEncrypt,
        )
        .into())
    }

    fn on_decrypt(
        &self,
        materials: &DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> esdk_std::Result<DecryptionMaterials> {
        if materials.data_key.is_some() {
            return Err(EsdkError::Materials(
                esdk_std::error::MaterialsError::DataKeyAlreadyPresent,
            ));
        }
        if !edks.iter().any(|e| e.provider_id == self.provider_id) {
            let failures = edks
                .iter()
                .map(|e| {
                    EdkFailure::not_for_this_keyring(
                        e,
                        format!("not provider {:?}", self.provider_id),
                    )
                })
                .collect();
            return Err(EsdkError::NoDecryptableKey(failures));
        }
        let key = self.key.for_len(materials.suite.data_key_len());
        let mut m = materials.clone();
        m.data_key = Some(esdk_core::DataKey::from_slice(&key)?);
        Ok(m)
    }
}

/// A keyring that never decrypts (a decrypt list with only encrypt-only keys).
#[derive(Debug)]
pub struct NothingKeyring {
    reason: String,
}

impl Keyring for NothingKeyring {
    fn on_encrypt(
        &self,
        _materials: &EncryptionMaterials,
    ) -> esdk_std::Result<EncryptionMaterials> {
        Err(
            esdk_std::KeyringError::new("no key", esdk_std::KeyringErrorKind::CannotEncrypt)
                .with_source(self.reason.clone())
                .into(),
        )
    }

    fn on_decrypt(
        &self,
        _materials: &DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> esdk_std::Result<DecryptionMaterials> {
        let failures = edks
            .iter()
            .map(|e| EdkFailure::failed(e, self.reason.clone()))
            .collect();
        Err(EsdkError::NoDecryptableKey(failures))
    }
}

/// Derives the SPKI PEM public key of an RSA private key PEM (PKCS#8 or
/// PKCS#1). Only used when a manifest asks to *encrypt* with a `private` key
/// entry (the framework's 0003 scenarios do): the keys manifest then holds no
/// public key, and every test-vector generator derives it.
pub fn rsa_public_pem_from_private(private_pem: &str) -> anyhow::Result<String> {
    use rsa::pkcs1::DecodeRsaPrivateKey as _;
    use rsa::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _, LineEnding};
    let key = rsa::RsaPrivateKey::from_pkcs8_pem(private_pem)
        .or_else(|_| rsa::RsaPrivateKey::from_pkcs1_pem(private_pem))
        .map_err(|e| anyhow!("cannot parse the RSA private key: {e}"))?;
    key.to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| anyhow!("cannot encode the RSA public key: {e}"))
}

fn kms_reason(d: &KeyDescription) -> String {
    format!("needs AWS KMS ({} key description)", d.type_name())
}

/// Resolves one keyring description (not a CMM) into a plan.
///
/// `Ok(None)` means "this entry is encrypt-only and is dropped from a
/// decrypt list".
pub fn plan_keyring(
    keys: &KeysManifest,
    d: &KeyDescription,
    purpose: Purpose,
) -> Result<Option<KeyringPlan>, PlanError> {
    match d {
        KeyDescription::RawAes { key, provider_id } => {
            let spec = keys.get(key)?;
            if spec.key_type != KeyType::Symmetric {
                return Err(PlanError::Invalid(anyhow!(
                    "raw AES description names key {key:?} of type {}",
                    spec.key_type.as_str()
                )));
            }
            if !usable(spec.encrypt, spec.decrypt, purpose, key)? {
                return Ok(None);
            }
            Ok(Some(KeyringPlan::RawAes {
                namespace: provider_id.clone(),
                name: spec.key_id.clone(),
                key: spec.aes_key_bytes()?,
            }))
        }
        KeyDescription::RawRsa {
            key,
            provider_id,
            padding,
        } => {
            let spec = keys.get(key)?;
            if !usable(spec.encrypt, spec.decrypt, purpose, key)? {
                return Ok(None);
            }
            let pem = spec.pem()?.to_owned();
            let (public_pem, private_pem) = match (&spec.key_type, purpose) {
                (KeyType::Private, Purpose::Decrypt) => (None, Some(pem)),
                (KeyType::Private, Purpose::Encrypt) => (
                    Some(
                        rsa_public_pem_from_private(&pem)
                            .with_context(|| format!("key {key:?}"))?,
                    ),
                    None,
                ),
                (KeyType::Public, Purpose::Encrypt) => (Some(pem), None),
                (KeyType::Public, Purpose::Decrypt) => return Ok(None),
                (other, _) => {
                    return Err(PlanError::Invalid(anyhow!(
                        "raw RSA description names key {key:?} of type {}",
                        other.as_str()
                    )));
                }
            };
            Ok(Some(KeyringPlan::RawRsa {
                namespace: provider_id.clone(),
                name: spec.key_id.clone(),
                padding: *padding,
                public_pem,
                private_pem,
            }))
        }
        KeyDescription::Multi {
            generator,
            children,
        } => {
            let generator = match generator {
                Some(g) => plan_keyring(keys, g, purpose)?,
                None => None,
            };
            let mut planned = Vec::new();
            for c in children {
                if let Some(p) = plan_keyring(keys, c, purpose)? {
                    planned.push(p);
                }
            }
            Ok(match (generator, planned.is_empty()) {
                (None, true) => None,
                (generator, _) => {
                    // On decrypt a dropped generator is harmless: the first
                    // remaining child takes its place.
                    let (generator, children) = match (generator, purpose) {
                        (Some(g), _) => (Some(Box::new(g)), planned),
                        (None, Purpose::Decrypt) => (None, planned),
                        (None, Purpose::Encrypt) => {
                            return Err(PlanError::Invalid(anyhow!(
                                "the multi-keyring's generator cannot encrypt"
                            )));
                        }
                    };
                    Some(KeyringPlan::Multi {
                        generator,
                        children,
                    })
                }
            })
        }
        KeyDescription::Hierarchy { key } => {
            let spec = keys.get(key)?;
            if !usable(spec.encrypt, spec.decrypt, purpose, key)? {
                return Ok(None);
            }
            let branch = spec.branch_key.as_ref().ok_or_else(|| {
                PlanError::Unsupported(format!(
                    "hierarchical keyring needs a key store (key {key:?} is not a static branch key)"
                ))
            })?;
            Ok(Some(KeyringPlan::Hierarchy(HierarchyPlan {
                branch_key_id: spec.key_id.clone(),
                version: branch.version_bytes,
                branch_key: branch.branch_key.clone(),
            })))
        }
        KeyDescription::RawEcdh(e) => Ok(Some(KeyringPlan::RawEcdh(EcdhPlan::from_description(
            keys, e, purpose,
        )?))),
        KeyDescription::Kms { .. }
        | KeyDescription::KmsMrkAware { .. }
        | KeyDescription::KmsMrkAwareDiscovery { .. }
        | KeyDescription::KmsRsa { .. }
        | KeyDescription::KmsEcdh(_) => Err(PlanError::Unsupported(kms_reason(d))),
        KeyDescription::StaticMaterial { .. } => Err(PlanError::Unsupported(
            "static-material keyring: canned materials of the MPL keyring tests, not applicable to message vectors"
                .into(),
        )),
        KeyDescription::RequiredEncryptionContext { .. } => Err(PlanError::Unsupported(
            "required-encryption-context CMM nested inside a keyring".into(),
        )),
        KeyDescription::Caching { .. } => Err(PlanError::Unsupported(
            "caching CMM is not implemented".into(),
        )),
        KeyDescription::Other(t) => Err(PlanError::Unsupported(format!(
            "unknown key description type {t:?}"
        ))),
    }
}

fn usable(encrypt: bool, decrypt: bool, purpose: Purpose, key: &str) -> anyhow::Result<bool> {
    match purpose {
        Purpose::Decrypt => Ok(decrypt),
        Purpose::Encrypt if encrypt => Ok(true),
        Purpose::Encrypt => Err(anyhow!("key {key:?} is marked \"encrypt\": false")),
    }
}

/// Resolves a master-key list (several = a multi-keyring whose generator is
/// the first entry) or a single description, possibly a
/// required-encryption-context CMM, into a materials plan.
///
/// `extra_required_keys` adds required keys (the `cmm:
/// RequiredEncryptionContext` of decrypt v4 manifests).
///
/// A KMS description anywhere makes the whole case unsupported, even next to
/// raw keys: whether the raw key alone can decrypt is exactly what such a
/// case may be testing.
pub fn plan_materials(
    keys: &KeysManifest,
    list: &[KeyDescription],
    extra_required_keys: &[String],
    purpose: Purpose,
) -> Result<MaterialsPlan, PlanError> {
    for d in list {
        if d.needs_aws_kms() {
            let first = d
                .walk()
                .into_iter()
                .find(|x| x.needs_aws_kms() && x.walk().len() == 1)
                .unwrap_or(d);
            return Err(PlanError::Unsupported(kms_reason(first)));
        }
    }
    let (descriptions, mut required) = match list {
        [KeyDescription::RequiredEncryptionContext { keys, underlying }] => {
            (vec![(**underlying).clone()], keys.clone())
        }
        _ => (list.to_vec(), Vec::new()),
    };
    for k in extra_required_keys {
        if !required.contains(k) {
            required.push(k.clone());
        }
    }
    let combined = KeyDescription::combine(&descriptions)
        .ok_or_else(|| PlanError::Invalid(anyhow!("no key description")))?;
    let keyring = match plan_keyring(keys, &combined, purpose)? {
        Some(k) => k,
        None if purpose == Purpose::Decrypt => KeyringPlan::Nothing {
            reason: "every key of the description is encrypt-only".into(),
        },
        None => return Err(PlanError::Invalid(anyhow!("no key can encrypt"))),
    };
    Ok(MaterialsPlan {
        keyring,
        required_keys: required,
    })
}
