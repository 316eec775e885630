//! Owned materials and the requests a materials manager answers (`framework/structures.md`,
//! `framework/cmm-interface.md`).
//!
//! Keyrings and materials managers exchange these owned values; the message engine needs the
//! core's borrowed views ([`esdk_core::EncryptionMaterialsRef`],
//! [`esdk_core::DecryptionMaterialsRef`]), which [`EncryptionMaterials::with_core`] and
//! [`DecryptionMaterials::with_core`] build — the one place that conversion is written.
//!
//! Every struct here is `#[non_exhaustive]`: build it with `new` and the `with_*` methods; its
//! fields stay public so a keyring can read and update the materials it was given.

use crate::error::{Error, MaterialsError, Result};
use crate::provider::{Backend, SharedRng};
use esdk_core::{
    AlgorithmSuite, CommitmentPolicy, DataKey, EdkRef, EncryptedDataKey, EncryptionContext,
    EncryptionContextRef, SigningKey, VerificationKey,
};

/// Encryption materials, as keyrings and materials managers build them.
///
/// ```
/// use esdk_std::materials::EncryptionMaterials;
/// use esdk_std::{AlgorithmSuite, EncryptionContext};
///
/// let ec: EncryptionContext = [("purpose", "example")].into_iter().collect();
/// let m = EncryptionMaterials::new(AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY, ec);
/// assert!(m.data_key.is_none() && m.encrypted_data_keys.is_empty());
/// ```
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct EncryptionMaterials {
    /// The suite.
    pub suite: AlgorithmSuite,
    /// The full encryption context (stored pairs, required pairs, and `aws-crypto-public-key`).
    pub encryption_context: EncryptionContext,
    /// Keys authenticated but not stored in the header.
    pub required_encryption_context_keys: Vec<String>,
    /// The plaintext data key, once generated.
    pub data_key: Option<DataKey>,
    /// Encrypted copies of the data key.
    pub encrypted_data_keys: Vec<EncryptedDataKey>,
    /// The signing key for signed suites.
    pub signing_key: Option<SigningKey>,
    /// The crypto backend of this operation (the client's), for keyrings that generate, wrap
    /// or unwrap keys.
    pub backend: Backend,
    /// The randomness of this operation (the client's), for data keys, IVs and nonces.
    pub rng: SharedRng,
}

impl EncryptionMaterials {
    /// Materials with no key yet, the default backend and the operating system's randomness.
    pub fn new(suite: AlgorithmSuite, encryption_context: EncryptionContext) -> Self {
        Self {
            suite,
            encryption_context,
            required_encryption_context_keys: Vec::new(),
            data_key: None,
            encrypted_data_keys: Vec::new(),
            signing_key: None,
            backend: Backend::default(),
            rng: SharedRng::default(),
        }
    }
    /// Sets the keys authenticated but not stored in the header.
    #[must_use]
    pub fn with_required_encryption_context_keys(mut self, keys: Vec<String>) -> Self {
        self.required_encryption_context_keys = keys;
        self
    }
    /// Sets the plaintext data key.
    #[must_use]
    pub fn with_data_key(mut self, data_key: impl Into<Option<DataKey>>) -> Self {
        self.data_key = data_key.into();
        self
    }
    /// Sets the encrypted data keys.
    #[must_use]
    pub fn with_encrypted_data_keys(mut self, edks: Vec<EncryptedDataKey>) -> Self {
        self.encrypted_data_keys = edks;
        self
    }
    /// Sets the signing key (signed suites).
    #[must_use]
    pub fn with_signing_key(mut self, key: impl Into<Option<SigningKey>>) -> Self {
        self.signing_key = key.into();
        self
    }
    /// Sets the crypto backend.
    #[must_use]
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }
    /// Sets the randomness.
    #[must_use]
    pub fn with_rng(mut self, rng: SharedRng) -> Self {
        self.rng = rng;
        self
    }

    /// Runs `f` with the core's borrowed view of these materials (what
    /// [`esdk_core::Encryptor`] takes): the context serialized canonically, the EDKs and
    /// required keys borrowed. The core checks the view again (suite, key lengths, signing key,
    /// required keys) when it is provided.
    ///
    /// # Errors
    /// [`MaterialsError::MissingDataKey`] without a data key; a core error when the context
    /// cannot be serialized (too large); otherwise whatever `f` returns.
    pub fn with_core<T>(
        &self,
        f: impl FnOnce(esdk_core::EncryptionMaterialsRef<'_>) -> Result<T>,
    ) -> Result<T> {
        let data_key = self
            .data_key
            .as_ref()
            .ok_or(Error::Materials(MaterialsError::MissingDataKey))?;
        // Serialized once, canonically, into the view (no parse back).
        let mut bytes = Vec::new();
        let ec_ref = self.encryption_context.serialize_into(&mut bytes)?;
        let edks: Vec<EdkRef<'_>> = self
            .encrypted_data_keys
            .iter()
            .map(|e| e.as_ref())
            .collect();
        let required = str_refs(&self.required_encryption_context_keys);
        f(
            esdk_core::EncryptionMaterialsRef::new(self.suite, data_key, &edks)
                .with_encryption_context(ec_ref)
                .with_required_encryption_context_keys(&required)
                .with_signing_key(self.signing_key.as_ref()),
        )
    }
}

/// Decryption materials.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct DecryptionMaterials {
    /// The suite.
    pub suite: AlgorithmSuite,
    /// The header's context plus reproduced-only pairs.
    pub encryption_context: EncryptionContext,
    /// Keys authenticated but not stored (the reproduced-only ones).
    pub required_encryption_context_keys: Vec<String>,
    /// The unwrapped data key, once a keyring found one.
    pub data_key: Option<DataKey>,
    /// The verification key for signed suites.
    pub verification_key: Option<VerificationKey>,
    /// The crypto backend of this operation (the client's), for keyrings that unwrap keys.
    pub backend: Backend,
}

impl DecryptionMaterials {
    /// Materials with no key yet and the default backend.
    pub fn new(suite: AlgorithmSuite, encryption_context: EncryptionContext) -> Self {
        Self {
            suite,
            encryption_context,
            required_encryption_context_keys: Vec::new(),
            data_key: None,
            verification_key: None,
            backend: Backend::default(),
        }
    }
    /// Sets the keys authenticated but not stored in the header.
    #[must_use]
    pub fn with_required_encryption_context_keys(mut self, keys: Vec<String>) -> Self {
        self.required_encryption_context_keys = keys;
        self
    }
    /// Sets the plaintext data key.
    #[must_use]
    pub fn with_data_key(mut self, data_key: impl Into<Option<DataKey>>) -> Self {
        self.data_key = data_key.into();
        self
    }
    /// Sets the verification key (signed suites).
    #[must_use]
    pub fn with_verification_key(mut self, key: impl Into<Option<VerificationKey>>) -> Self {
        self.verification_key = key.into();
        self
    }
    /// Sets the crypto backend.
    #[must_use]
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// Runs `f` with the core's borrowed view of these materials (what the decryptor's
    /// materials request takes): the one std → core conversion of decryption materials.
    ///
    /// # Errors
    /// [`MaterialsError::MissingDataKey`] without a data key; a core error when the context
    /// cannot be serialized; otherwise whatever `f` returns.
    pub fn with_core<T>(
        &self,
        f: impl FnOnce(esdk_core::DecryptionMaterialsRef<'_>) -> Result<T>,
    ) -> Result<T> {
        let data_key = self
            .data_key
            .as_ref()
            .ok_or(Error::Materials(MaterialsError::MissingDataKey))?;
        let required = str_refs(&self.required_encryption_context_keys);
        // The core needs only the reproduced-only (required) pairs from the materials: the
        // stored ones it has from the header it parsed. So nothing is serialized when there
        // are none, and only those pairs otherwise.
        let mut bytes = Vec::new();
        let context = if required.is_empty() {
            EncryptionContextRef::EMPTY
        } else {
            let keep: std::collections::BTreeSet<&str> = required.iter().copied().collect();
            self.encryption_context
                .serialize_filtered_into(|k| keep.contains(k), &mut bytes)?
        };
        f(esdk_core::DecryptionMaterialsRef::new(self.suite, data_key)
            .with_verification_key(self.verification_key)
            .with_encryption_context(context)
            .with_required_encryption_context_keys(&required))
    }
}

fn str_refs(keys: &[String]) -> Vec<&str> {
    keys.iter().map(String::as_str).collect()
}

/// What an encryption asks a materials manager for.
///
/// ```
/// use esdk_std::materials::EncryptionRequest;
/// use esdk_std::{AlgorithmSuite, EncryptionContext};
///
/// let req = EncryptionRequest::new(EncryptionContext::new())
///     .with_suite(AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY)
///     .with_max_plaintext_length(1 << 20);
/// assert_eq!(req.max_plaintext_length, Some(1 << 20));
/// ```
#[non_exhaustive]
#[derive(Clone, Debug, Default)]
pub struct EncryptionRequest {
    /// The caller's encryption context.
    pub encryption_context: EncryptionContext,
    /// The commitment policy in force.
    pub commitment_policy: CommitmentPolicy,
    /// A suite the caller asked for, if any.
    pub suite: Option<AlgorithmSuite>,
    /// The plaintext length, when known (or a bound on it).
    pub max_plaintext_length: Option<u64>,
    /// Keys to authenticate without storing.
    pub required_encryption_context_keys: Vec<String>,
    /// The crypto backend to use (the client's).
    pub backend: Backend,
    /// The randomness to use (the client's).
    pub rng: SharedRng,
}

impl EncryptionRequest {
    /// A request for `encryption_context` under the default commitment policy, with no suite,
    /// length or required keys, the default backend and the operating system's randomness.
    pub fn new(encryption_context: EncryptionContext) -> Self {
        Self {
            encryption_context,
            ..Self::default()
        }
    }
    /// Sets the commitment policy.
    #[must_use]
    pub fn with_commitment_policy(mut self, policy: CommitmentPolicy) -> Self {
        self.commitment_policy = policy;
        self
    }
    /// Asks for a suite.
    #[must_use]
    pub fn with_suite(mut self, suite: impl Into<Option<AlgorithmSuite>>) -> Self {
        self.suite = suite.into();
        self
    }
    /// Sets the plaintext length (or a bound on it).
    #[must_use]
    pub fn with_max_plaintext_length(mut self, length: impl Into<Option<u64>>) -> Self {
        self.max_plaintext_length = length.into();
        self
    }
    /// Sets the keys to authenticate without storing.
    #[must_use]
    pub fn with_required_encryption_context_keys(mut self, keys: Vec<String>) -> Self {
        self.required_encryption_context_keys = keys;
        self
    }
    /// Sets the crypto backend.
    #[must_use]
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }
    /// Sets the randomness.
    #[must_use]
    pub fn with_rng(mut self, rng: SharedRng) -> Self {
        self.rng = rng;
        self
    }
}

/// What a decryption asks a materials manager for.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct DecryptionRequest {
    /// The header's suite.
    pub suite: AlgorithmSuite,
    /// The commitment policy in force.
    pub commitment_policy: CommitmentPolicy,
    /// The header's encrypted data keys.
    pub encrypted_data_keys: Vec<EncryptedDataKey>,
    /// The header's (stored, not yet authenticated) encryption context.
    pub encryption_context: EncryptionContext,
    /// The context the caller expects, if given.
    pub reproduced_encryption_context: Option<EncryptionContext>,
    /// The crypto backend to use (the client's).
    pub backend: Backend,
}

impl DecryptionRequest {
    /// A request for the header's suite, EDKs and stored context under `commitment_policy`,
    /// with no reproduced context and the default backend.
    pub fn new(
        suite: AlgorithmSuite,
        commitment_policy: CommitmentPolicy,
        encrypted_data_keys: Vec<EncryptedDataKey>,
        encryption_context: EncryptionContext,
    ) -> Self {
        Self {
            suite,
            commitment_policy,
            encrypted_data_keys,
            encryption_context,
            reproduced_encryption_context: None,
            backend: Backend::default(),
        }
    }
    /// Sets the context the caller expects.
    #[must_use]
    pub fn with_reproduced_encryption_context(
        mut self,
        context: impl Into<Option<EncryptionContext>>,
    ) -> Self {
        self.reproduced_encryption_context = context.into();
        self
    }
    /// Sets the crypto backend.
    #[must_use]
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }
}
