//! Owned materials and the requests a materials manager answers (`framework/structures.md`,
//! `framework/cmm-interface.md`).

use crate::provider::{Backend, SharedRng};
use esdk_core::{
    AlgorithmSuite, CommitmentPolicy, DataKey, EncryptedDataKey, EncryptionContext, SigningKey,
    VerificationKey,
};

/// Encryption materials, as keyrings and materials managers build them.
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
    /// Materials with no key yet.
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
}

/// Decryption materials.
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
    /// Materials with no key yet.
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
}

/// What an encryption asks a materials manager for.
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

/// What a decryption asks a materials manager for.
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
