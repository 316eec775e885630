//! Commitment policy, signature policy and the resource limits of decryption.

use crate::error::{Error, PolicyError};
use crate::suite::AlgorithmSuite;

/// Which suites may be used to encrypt and decrypt (`framework/commitment-policy.md`).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum CommitmentPolicy {
    /// Encrypt only with non-committing suites; decrypt everything (migration only).
    ForbidEncryptAllowDecrypt,
    /// Encrypt only with committing suites; decrypt everything.
    RequireEncryptAllowDecrypt,
    /// Encrypt and decrypt only committing suites (the default).
    #[default]
    RequireEncryptRequireDecrypt,
}

impl CommitmentPolicy {
    /// Whether `suite` may be used to encrypt under this policy.
    pub fn allows_encrypt(self, suite: AlgorithmSuite) -> bool {
        match self {
            Self::ForbidEncryptAllowDecrypt => !suite.is_committing(),
            Self::RequireEncryptAllowDecrypt | Self::RequireEncryptRequireDecrypt => {
                suite.is_committing()
            }
        }
    }
    /// Whether `suite` may be decrypted under this policy.
    pub fn allows_decrypt(self, suite: AlgorithmSuite) -> bool {
        crate::work::event(crate::work::Event::DecryptPolicyCheck);
        match self {
            Self::ForbidEncryptAllowDecrypt | Self::RequireEncryptAllowDecrypt => true,
            Self::RequireEncryptRequireDecrypt => suite.is_committing(),
        }
    }
    /// The suite used to encrypt when the caller names none.
    ///
    /// For `ForbidEncryptAllowDecrypt` this is `0x0378`, as in the reference implementations;
    /// the specification text names `0x0078`, which has no key derivation (spec-digest §8 item 4).
    pub fn default_suite(self) -> AlgorithmSuite {
        match self {
            Self::ForbidEncryptAllowDecrypt => {
                AlgorithmSuite::AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384
            }
            Self::RequireEncryptAllowDecrypt | Self::RequireEncryptRequireDecrypt => {
                AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384
            }
        }
    }
    /// Fails with [`PolicyError::CommitmentPolicy`] unless `suite` may encrypt.
    pub fn check_encrypt(self, suite: AlgorithmSuite) -> Result<(), Error> {
        if self.allows_encrypt(suite) {
            Ok(())
        } else {
            Err(Error::Policy(PolicyError::CommitmentPolicy {
                suite: suite.id(),
                policy: self,
            }))
        }
    }
    /// Fails with [`PolicyError::CommitmentPolicy`] unless `suite` may be decrypted.
    pub fn check_decrypt(self, suite: AlgorithmSuite) -> Result<(), Error> {
        if self.allows_decrypt(suite) {
            Ok(())
        } else {
            Err(Error::Policy(PolicyError::CommitmentPolicy {
                suite: suite.id(),
                policy: self,
            }))
        }
    }
}

/// Whether decryption accepts signed suites.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum SignaturePolicy {
    /// Accept signed and unsigned suites (the default).
    #[default]
    AllowSigned,
    /// Fail right after the suite id when the suite signs (`streaming-unsigned-only`).
    UnsignedOnly,
}

/// Resource limits checked from length fields before anything is buffered.
///
/// The defaults accept every valid message: each limit is the format's own bound. Streaming
/// callers that buffer a frame should lower `max_frame_len` / `max_body_len` to what they are
/// willing to hold.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DecryptLimits {
    /// Maximum encrypted data keys in a header (checked at the count field). Default: 65,535.
    pub max_encrypted_data_keys: u16,
    /// Maximum serialized header length, including header authentication. Default: unbounded.
    pub max_header_len: u64,
    /// Maximum frame length declared in the header. Default: 2^32 − 1.
    pub max_frame_len: u32,
    /// Maximum non-framed body content length. Default: 2^36 − 32 (the format's bound).
    pub max_body_len: u64,
}

/// The format's bound on a non-framed body's content length: 2^36 − 32.
pub const MAX_NON_FRAMED_CONTENT_LEN: u64 = (1 << 36) - 32;

impl Default for DecryptLimits {
    fn default() -> Self {
        Self {
            max_encrypted_data_keys: u16::MAX,
            max_header_len: u64::MAX,
            max_frame_len: u32::MAX,
            max_body_len: MAX_NON_FRAMED_CONTENT_LEN,
        }
    }
}

impl DecryptLimits {
    /// The format's own bounds (accept every valid message).
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the most encrypted data keys a header may have.
    #[must_use]
    pub fn with_max_encrypted_data_keys(mut self, max: u16) -> Self {
        self.max_encrypted_data_keys = max;
        self
    }
    /// Sets the longest header accepted (including its authentication).
    #[must_use]
    pub fn with_max_header_len(mut self, max: u64) -> Self {
        self.max_header_len = max;
        self
    }
    /// Sets the longest frame length a header may declare.
    #[must_use]
    pub fn with_max_frame_len(mut self, max: u32) -> Self {
        self.max_frame_len = max;
        self
    }
    /// Sets the longest non-framed body content accepted.
    #[must_use]
    pub fn with_max_body_len(mut self, max: u64) -> Self {
        self.max_body_len = max;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_table() {
        for s in AlgorithmSuite::ALL {
            let c = s.is_committing();
            assert_eq!(
                CommitmentPolicy::ForbidEncryptAllowDecrypt.allows_encrypt(s),
                !c
            );
            assert!(CommitmentPolicy::ForbidEncryptAllowDecrypt.allows_decrypt(s));
            assert_eq!(
                CommitmentPolicy::RequireEncryptAllowDecrypt.allows_encrypt(s),
                c
            );
            assert!(CommitmentPolicy::RequireEncryptAllowDecrypt.allows_decrypt(s));
            assert_eq!(
                CommitmentPolicy::RequireEncryptRequireDecrypt.allows_encrypt(s),
                c
            );
            assert_eq!(
                CommitmentPolicy::RequireEncryptRequireDecrypt.allows_decrypt(s),
                c
            );
        }
        assert_eq!(
            CommitmentPolicy::default(),
            CommitmentPolicy::RequireEncryptRequireDecrypt
        );
        assert_eq!(CommitmentPolicy::default().default_suite().id(), 0x0578);
        assert_eq!(
            CommitmentPolicy::ForbidEncryptAllowDecrypt
                .default_suite()
                .id(),
            0x0378
        );
    }
}
