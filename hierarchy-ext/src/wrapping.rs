//! The hierarchical keyring's encrypted data keys, byte-exact with the MPL
//! (`framework/aws-kms/aws-kms-hierarchical-keyring.md`; `shared/spec-digest.md` §6.6).
//!
//! * provider id `aws-kms-hierarchy`, provider info = the branch key id (UTF-8);
//! * ciphertext = `salt (16) ‖ IV (12) ‖ branch key version (16 UUID bytes) ‖ wrapped data key ‖
//!   tag (16)`;
//! * wrapping key = NIST SP 800-108 counter-mode KDF with HMAC-SHA-256, key = the branch key,
//!   label `aws-kms-hierarchy`, context = the salt, 256 bits out: one block,
//!   `HMAC(branch key, 00000001 ‖ "aws-kms-hierarchy" ‖ 00 ‖ salt ‖ 00000100)`;
//! * AES-256-GCM with AAD = `"aws-kms-hierarchy" ‖ branch key id ‖ version (16) ‖ serialized
//!   encryption context`.

use crate::materials::{BRANCH_KEY_LEN, BranchKeyMaterials};
use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::crypto::{AeadKey as _, CryptoProvider as _};
use esdk_std::EncryptedDataKey;
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore as _};
use zeroize::Zeroizing;

/// The provider id of hierarchical keyring EDKs.
pub const PROVIDER_ID: &str = "aws-kms-hierarchy";
/// Salt length.
pub const SALT_LEN: usize = 16;
/// AES-GCM IV length.
pub const IV_LEN: usize = 12;
/// Branch key version length (UUID bytes).
pub const VERSION_LEN: usize = 16;
/// AES-GCM tag length.
pub const TAG_LEN: usize = 16;
/// Bytes of an EDK ciphertext besides the wrapped key.
pub const OVERHEAD: usize = SALT_LEN + IV_LEN + VERSION_LEN + TAG_LEN;

/// Why wrapping or unwrapping failed (never carries key material).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WrapError {
    /// The EDK ciphertext does not have the length this suite's data key needs.
    #[error("ciphertext is {got} bytes, expected {expected}")]
    BadLength {
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// AES-GCM authentication failed (wrong branch key, context or tampered EDK).
    #[error(
        "the wrapped data key does not authenticate (wrong branch key or encryption context, or tampered)"
    )]
    Authentication,
    /// The crypto provider refused the operation.
    #[error("crypto provider error")]
    Crypto,
}

/// Derives the AES-256 wrapping key from the branch key and the salt.
pub fn wrapping_key(
    branch_key: &[u8; BRANCH_KEY_LEN],
    salt: &[u8; SALT_LEN],
) -> Result<Zeroizing<[u8; 32]>, WrapError> {
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(branch_key).map_err(|_| WrapError::Crypto)?;
    mac.update(&1u32.to_be_bytes());
    mac.update(PROVIDER_ID.as_bytes());
    mac.update(&[0]);
    mac.update(salt);
    mac.update(&256u32.to_be_bytes());
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&mac.finalize().into_bytes());
    Ok(out)
}

fn aad(branch_key_id: &str, version: &[u8; VERSION_LEN], serialized_ec: &[u8]) -> Vec<u8> {
    [
        PROVIDER_ID.as_bytes(),
        branch_key_id.as_bytes(),
        version,
        serialized_ec,
    ]
    .concat()
}

/// Wraps `data_key` under `branch` for a message whose serialized encryption context is
/// `serialized_ec`, with a fresh random salt and IV.
pub fn wrap(
    branch: &BranchKeyMaterials,
    serialized_ec: &[u8],
    data_key: &[u8],
) -> Result<EncryptedDataKey, WrapError> {
    let mut salt = [0u8; SALT_LEN];
    let mut iv = [0u8; IV_LEN];
    OsRng.fill_bytes(&mut salt);
    OsRng.fill_bytes(&mut iv);
    wrap_with(branch, serialized_ec, data_key, &salt, &iv)
}

/// [`wrap`] with a given salt and IV (known-answer tests; never reuse a salt/IV pair).
pub fn wrap_with(
    branch: &BranchKeyMaterials,
    serialized_ec: &[u8],
    data_key: &[u8],
    salt: &[u8; SALT_LEN],
    iv: &[u8; IV_LEN],
) -> Result<EncryptedDataKey, WrapError> {
    let key = wrapping_key(branch.key(), salt)?;
    let aead = RustCrypto
        .aead_key(&key[..])
        .map_err(|_| WrapError::Crypto)?;
    let mut ciphertext = Vec::with_capacity(OVERHEAD + data_key.len());
    ciphertext.extend_from_slice(salt);
    ciphertext.extend_from_slice(iv);
    ciphertext.extend_from_slice(branch.version_bytes());
    let start = ciphertext.len();
    ciphertext.extend_from_slice(data_key);
    let aad = aad(
        branch.branch_key_id(),
        branch.version_bytes(),
        serialized_ec,
    );
    let body = ciphertext.get_mut(start..).ok_or(WrapError::Crypto)?;
    let tag = aead
        .seal_in_place(iv, &aad, body)
        .map_err(|_| WrapError::Crypto)?;
    ciphertext.extend_from_slice(&tag);
    Ok(EncryptedDataKey {
        provider_id: PROVIDER_ID.into(),
        provider_info: branch.branch_key_id().as_bytes().to_vec(),
        ciphertext,
    })
}

/// The parts of a hierarchical EDK ciphertext.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ParsedEdk<'a> {
    /// Salt.
    pub salt: &'a [u8; SALT_LEN],
    /// IV.
    pub iv: &'a [u8; IV_LEN],
    /// Branch key version (UUID bytes).
    pub version: &'a [u8; VERSION_LEN],
    /// Wrapped data key.
    pub wrapped: &'a [u8],
    /// Tag.
    pub tag: &'a [u8; TAG_LEN],
}

/// Splits an EDK ciphertext that must wrap a `data_key_len`-byte key.
pub fn parse(ciphertext: &[u8], data_key_len: usize) -> Result<ParsedEdk<'_>, WrapError> {
    let expected = OVERHEAD + data_key_len;
    let bad = WrapError::BadLength {
        expected,
        got: ciphertext.len(),
    };
    if ciphertext.len() != expected {
        return Err(bad);
    }
    let (salt, rest) = ciphertext.split_first_chunk::<SALT_LEN>().ok_or(bad)?;
    let (iv, rest) = rest.split_first_chunk::<IV_LEN>().ok_or(bad)?;
    let (version, rest) = rest.split_first_chunk::<VERSION_LEN>().ok_or(bad)?;
    let (wrapped, tag) = rest.split_last_chunk::<TAG_LEN>().ok_or(bad)?;
    Ok(ParsedEdk {
        salt,
        iv,
        version,
        wrapped,
        tag,
    })
}

/// Unwraps a parsed EDK with `branch` (whose version must be the EDK's).
pub fn unwrap(
    branch: &BranchKeyMaterials,
    serialized_ec: &[u8],
    edk: &ParsedEdk<'_>,
) -> Result<Zeroizing<Vec<u8>>, WrapError> {
    let key = wrapping_key(branch.key(), edk.salt)?;
    let aead = RustCrypto
        .aead_key(&key[..])
        .map_err(|_| WrapError::Crypto)?;
    let aad = aad(branch.branch_key_id(), edk.version, serialized_ec);
    let mut buf = Zeroizing::new(edk.wrapped.to_vec());
    aead.open_in_place(edk.iv, &aad, &mut buf, edk.tag)
        .map_err(|_| WrapError::Authentication)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn branch() -> BranchKeyMaterials {
        BranchKeyMaterials::new(
            "bk",
            "83eec007-5659-4554-bf11-699b90f41ac6",
            BTreeMap::new(),
            [9; 32],
        )
        .unwrap()
    }

    #[test]
    fn layout_round_trip_and_tamper() {
        let b = branch();
        let edk = wrap_with(&b, b"ec", &[5; 32], &[1; SALT_LEN], &[2; IV_LEN]).unwrap();
        assert_eq!(edk.provider_id, PROVIDER_ID);
        assert_eq!(edk.provider_info, b"bk");
        let ct = &edk.ciphertext;
        assert_eq!(ct.len(), OVERHEAD + 32);
        assert_eq!(&ct[..16], &[1; 16]);
        assert_eq!(&ct[16..28], &[2; 12]);
        assert_eq!(&ct[28..44], b.version_bytes());
        let parsed = parse(ct, 32).unwrap();
        assert_eq!(&*unwrap(&b, b"ec", &parsed).unwrap(), &[5; 32]);
        // Another encryption context, another branch key id, any flipped bit: refused.
        assert_eq!(unwrap(&b, b"ed", &parsed), Err(WrapError::Authentication));
        let other = BranchKeyMaterials::new("bk2", b.version(), BTreeMap::new(), [9; 32]).unwrap();
        assert_eq!(
            unwrap(&other, b"ec", &parsed),
            Err(WrapError::Authentication)
        );
        for i in 0..ct.len() {
            let mut t = ct.clone();
            t[i] ^= 1;
            let p = parse(&t, 32).unwrap();
            assert!(unwrap(&b, b"ec", &p).is_err(), "byte {i}");
        }
        assert_eq!(
            parse(ct, 16).unwrap_err(),
            WrapError::BadLength {
                expected: OVERHEAD + 16,
                got: OVERHEAD + 32
            }
        );
    }
}
