//! The answers a caller gives the state machines: encryption and decryption materials.
//!
//! The core defines no keyring or materials-manager interface; it only states what it needs and
//! checks every answer (suite, policy, key lengths, signature keys, encryption context) before
//! using it, whoever produced it.

use crate::crypto::Gmac;
use crate::edk::EdkRef;
use crate::encryption_context::{EncryptionContextRef, PUBLIC_KEY_FIELD};
use crate::error::{Error, MaterialsError};
use crate::keys::{DataKey, SigningKey, VerificationKey};
use crate::suite::AlgorithmSuite;

/// What the decryptor needs to continue past the header (a borrowed view: `esdk-std` has the
/// owned materials its keyrings produce). Built with [`new`](Self::new) and the `with_*`
/// methods.
#[non_exhaustive]
#[derive(Clone, Copy, Debug)]
pub struct DecryptionMaterialsRef<'m> {
    /// The suite; must equal the header's.
    pub suite: AlgorithmSuite,
    /// The plaintext data key unwrapped from one of the header's encrypted data keys.
    pub data_key: &'m DataKey,
    /// The verification key for signed suites. When `None` for a signed suite, the decryptor
    /// decodes it from the header's `aws-crypto-public-key` entry; when given, it must equal
    /// that entry.
    pub verification_key: Option<VerificationKey>,
    /// The materials' encryption context (the header's pairs plus reproduced-only pairs), in
    /// canonical form. Only the pairs named in `required_encryption_context_keys` are used: they
    /// are authenticated by the header tag without being stored.
    pub encryption_context: EncryptionContextRef<'m>,
    /// Keys authenticated but not stored in the header (reproduced-only keys).
    pub required_encryption_context_keys: &'m [&'m str],
}

impl<'m> DecryptionMaterialsRef<'m> {
    /// Materials with no required encryption context and the verification key taken from the
    /// header.
    pub fn new(suite: AlgorithmSuite, data_key: &'m DataKey) -> Self {
        Self {
            suite,
            data_key,
            verification_key: None,
            encryption_context: EncryptionContextRef::EMPTY,
            required_encryption_context_keys: &[],
        }
    }
    /// Sets the verification key (`None`: decoded from the header).
    #[must_use]
    pub fn with_verification_key(mut self, key: impl Into<Option<VerificationKey>>) -> Self {
        self.verification_key = key.into();
        self
    }
    /// Sets the materials' encryption context (canonical form).
    #[must_use]
    pub fn with_encryption_context(mut self, context: EncryptionContextRef<'m>) -> Self {
        self.encryption_context = context;
        self
    }
    /// Sets the keys authenticated but not stored in the header.
    #[must_use]
    pub fn with_required_encryption_context_keys(mut self, keys: &'m [&'m str]) -> Self {
        self.required_encryption_context_keys = keys;
        self
    }
}

/// What the encryptor needs to write a header (a borrowed view: `esdk-std` has the owned
/// materials its keyrings produce). Built with [`new`](Self::new) and the `with_*` methods.
#[non_exhaustive]
#[derive(Clone, Copy, Debug)]
pub struct EncryptionMaterialsRef<'m> {
    /// The suite.
    pub suite: AlgorithmSuite,
    /// The plaintext data key.
    pub data_key: &'m DataKey,
    /// At least one encrypted data key.
    pub encrypted_data_keys: &'m [EdkRef<'m>],
    /// The full encryption context in canonical form, including `aws-crypto-public-key` for
    /// signed suites and the required (not stored) pairs.
    pub encryption_context: EncryptionContextRef<'m>,
    /// Keys of `encryption_context` that are authenticated but not stored in the header.
    pub required_encryption_context_keys: &'m [&'m str],
    /// The signing key; present exactly when the suite signs.
    pub signing_key: Option<&'m SigningKey>,
}

impl<'m> EncryptionMaterialsRef<'m> {
    /// Materials with an empty encryption context, no required keys and no signing key.
    pub fn new(
        suite: AlgorithmSuite,
        data_key: &'m DataKey,
        encrypted_data_keys: &'m [EdkRef<'m>],
    ) -> Self {
        Self {
            suite,
            data_key,
            encrypted_data_keys,
            encryption_context: EncryptionContextRef::EMPTY,
            required_encryption_context_keys: &[],
            signing_key: None,
        }
    }
    /// Sets the data key.
    #[must_use]
    pub fn with_data_key(mut self, data_key: &'m DataKey) -> Self {
        self.data_key = data_key;
        self
    }
    /// Sets the full encryption context (canonical form).
    #[must_use]
    pub fn with_encryption_context(mut self, context: EncryptionContextRef<'m>) -> Self {
        self.encryption_context = context;
        self
    }
    /// Sets the keys of the context authenticated but not stored in the header.
    #[must_use]
    pub fn with_required_encryption_context_keys(mut self, keys: &'m [&'m str]) -> Self {
        self.required_encryption_context_keys = keys;
        self
    }
    /// Sets the signing key (present exactly when the suite signs).
    #[must_use]
    pub fn with_signing_key(mut self, key: impl Into<Option<&'m SigningKey>>) -> Self {
        self.signing_key = key.into();
        self
    }
}

pub(crate) fn check_required_keys(
    ec: &EncryptionContextRef<'_>,
    required: &[&str],
) -> Result<(), Error> {
    if !ec.is_canonical() {
        return Err(Error::Usage(crate::error::UsageError::InvalidInput(
            "materials encryption context must be canonically serialized",
        )));
    }
    if required.iter().all(|k| ec.get(k).is_some()) {
        Ok(())
    } else {
        Err(Error::Materials(MaterialsError::RequiredKeyMissing))
    }
}

/// Feeds `serialize(ec restricted to keep)` to a GMAC without building it in memory.
pub(crate) fn feed_filtered<G: Gmac>(
    mac: &mut G,
    ec: &EncryptionContextRef<'_>,
    keep: &[&str],
) -> Result<(), Error> {
    let selected = || ec.iter().filter(|(k, _)| keep.contains(k));
    let count = selected().count();
    if count == 0 {
        return Ok(());
    }
    let count =
        u16::try_from(count).map_err(|_| Error::format("encryption context", "too many pairs"))?;
    mac.update(&count.to_be_bytes());
    for (k, v) in selected() {
        for field in [k, v] {
            let len = u16::try_from(field.len())
                .map_err(|_| Error::format("encryption context", "field too long"))?;
            mac.update(&len.to_be_bytes());
            mac.update(field.as_bytes());
        }
    }
    Ok(())
}

/// Checks the `aws-crypto-public-key` entry against the suite and returns the key it holds.
///
/// # Errors
/// [`MaterialsError::PublicKeyEntry`] when a signed suite lacks the entry, an unsigned suite has
/// it, or the value is not a base64 compressed point of the suite's curve.
pub fn verification_key_from_context(
    suite: AlgorithmSuite,
    ec: &EncryptionContextRef<'_>,
) -> Result<Option<VerificationKey>, Error> {
    verification_key_from_entry(suite, ec.get(PUBLIC_KEY_FIELD))
}

/// As [`verification_key_from_context`], given the value of the `aws-crypto-public-key` entry
/// (if the context has one) from a context in any form: an owned context need not be
/// serialized to have its key read.
///
/// # Errors
/// As [`verification_key_from_context`].
pub fn verification_key_from_entry(
    suite: AlgorithmSuite,
    entry: Option<&str>,
) -> Result<Option<VerificationKey>, Error> {
    match (suite.signature(), entry) {
        (Some(alg), Some(v)) => VerificationKey::from_base64(alg, v).map(Some),
        (None, None) => Ok(None),
        _ => Err(Error::Materials(MaterialsError::PublicKeyEntry)),
    }
}
