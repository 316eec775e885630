//! Raw AES key wrapping (`framework/raw-aes-keyring.md`), as no_std functions.
//!
//! An embedded caller can answer the decryptor's materials request with these alone; the raw
//! AES keyring of `esdk-std` is built on them.
//!
//! * provider id = the key namespace; provider info = `key name ‖ u32 tag bits (128) ‖ u32 IV
//!   length (12) ‖ IV (12)`; ciphertext = `wrapped data key ‖ tag (16)`;
//! * AES-GCM under the wrapping key with a random IV and the canonical serialization of the
//!   encryption context as AAD.

use crate::crypto::{AeadKey, CryptoProvider};
use crate::edk::{EdkRef, KMS_PROVIDER_PREFIX};
use crate::encryption_context::EncryptionContextRef;
#[cfg(feature = "encrypt")]
use crate::error::CryptoError;
use crate::error::{AuthStage, Error, UsageError};
use crate::keys::{DataKey, MAX_KEY_LEN};
use crate::suite::{IV_LEN, TAG_LEN};
#[cfg(feature = "encrypt")]
use rand_core::CryptoRngCore;
use zeroize::Zeroize;

/// The tag length in bits and the IV length, as written in the provider info.
#[allow(clippy::cast_possible_truncation)] // 128 and 12
const TAG_BITS: u32 = (TAG_LEN * 8) as u32;
#[allow(clippy::cast_possible_truncation)]
const IV_LEN_U32: u32 = IV_LEN as u32;

/// Bytes the provider info adds to the key name.
pub const PROVIDER_INFO_OVERHEAD: usize = 4 + 4 + IV_LEN;

/// Checks a namespace: non-empty and not reserved for AWS KMS.
///
/// # Errors
/// [`UsageError::InvalidConfig`] for a namespace starting with `aws-kms`.
pub fn check_namespace(namespace: &str) -> Result<(), Error> {
    if namespace.starts_with(KMS_PROVIDER_PREFIX) {
        return Err(Error::Usage(UsageError::InvalidConfig(
            "key namespaces starting with `aws-kms` are reserved",
        )));
    }
    Ok(())
}

fn aad<'e>(ec: &EncryptionContextRef<'e>) -> Result<&'e [u8], Error> {
    if ec.is_empty() {
        Ok(&[])
    } else if ec.is_canonical() {
        Ok(ec.as_bytes())
    } else {
        Err(Error::Usage(UsageError::InvalidInput(
            "the encryption context must be canonically serialized",
        )))
    }
}

/// Wraps `data_key`: writes the provider info (`key_name.len() + 20` bytes) to `info_out` and
/// the ciphertext (`data_key.len() + 16` bytes) to `ciphertext_out`; returns both lengths.
///
/// # Errors
/// Wrong wrapping-key length, a non-canonical context, small outputs, RNG failure.
#[cfg(feature = "encrypt")]
#[allow(clippy::too_many_arguments)]
pub fn wrap<P: CryptoProvider>(
    provider: &P,
    wrapping_key: &[u8],
    key_name: &[u8],
    encryption_context: &EncryptionContextRef<'_>,
    data_key: &DataKey,
    rng: &mut dyn CryptoRngCore,
    info_out: &mut [u8],
    ciphertext_out: &mut [u8],
) -> Result<(usize, usize), Error> {
    let key = provider.aead_key(wrapping_key)?;
    let aad = aad(encryption_context)?;
    let mut iv = [0u8; IV_LEN];
    rng.try_fill_bytes(&mut iv)
        .map_err(|_| Error::Crypto(CryptoError::Rng))?;
    let info_len = key_name.len().saturating_add(PROVIDER_INFO_OVERHEAD);
    let info = info_out
        .get_mut(..info_len)
        .ok_or(crate::codec::too_small(info_len))?;
    let mut w = crate::codec::Writer::new(info);
    w.bytes(key_name)?;
    w.u32(TAG_BITS)?;
    w.u32(IV_LEN_U32)?;
    w.bytes(&iv)?;
    let n = data_key.len();
    let ct_len = n + TAG_LEN;
    let ct = ciphertext_out
        .get_mut(..ct_len)
        .ok_or(crate::codec::too_small(ct_len))?;
    let (body, tag_slot) = ct.split_at_mut(n);
    body.copy_from_slice(data_key.as_bytes());
    let tag = key.seal_in_place(&iv, aad, body)?;
    tag_slot.copy_from_slice(&tag);
    Ok((info_len, ct_len))
}

/// Whether `edk` was written by the raw AES keyring `(namespace, key_name)`, i.e. its provider
/// id and info match. Returns the IV when it does.
pub fn matches(namespace: &str, key_name: &[u8], edk: &EdkRef<'_>) -> Option<[u8; IV_LEN]> {
    if edk.provider_id != namespace
        || edk.provider_info.len() != key_name.len().saturating_add(PROVIDER_INFO_OVERHEAD)
    {
        return None;
    }
    let (name, rest) = edk.provider_info.split_at(key_name.len());
    if name != key_name {
        return None;
    }
    let mut r = crate::codec::Reader::new(rest);
    let tag_bits = r.u32().ok()?;
    let iv_len = r.u32().ok()?;
    if tag_bits != TAG_BITS || iv_len != IV_LEN_U32 {
        return None;
    }
    r.array::<IV_LEN>().ok()
}

/// Unwraps an EDK that [`matches`] this key.
///
/// Returns `Ok(None)` when the EDK is not this keyring's, and an error when it is but does not
/// decrypt (wrong key, tampering, or a different encryption context).
///
/// # Errors
/// [`AuthStage::DataKeyUnwrap`] when authentication fails; a non-canonical context.
pub fn unwrap<P: CryptoProvider>(
    provider: &P,
    namespace: &str,
    key_name: &[u8],
    wrapping_key: &[u8],
    encryption_context: &EncryptionContextRef<'_>,
    edk: &EdkRef<'_>,
) -> Result<Option<DataKey>, Error> {
    let Some(iv) = matches(namespace, key_name, edk) else {
        return Ok(None);
    };
    let aad = aad(encryption_context)?;
    let ct = edk.ciphertext;
    let Some(n) = ct
        .len()
        .checked_sub(TAG_LEN)
        .filter(|n| matches!(n, 16 | 24 | 32))
    else {
        return Err(Error::Authentication(AuthStage::DataKeyUnwrap));
    };
    let (body, tag) = ct.split_at(n);
    let tag: [u8; TAG_LEN] = tag
        .try_into()
        .map_err(|_| Error::Authentication(AuthStage::DataKeyUnwrap))?;
    let key = provider.aead_key(wrapping_key)?;
    let mut buf = [0u8; MAX_KEY_LEN];
    let out = buf
        .get_mut(..n)
        .ok_or(Error::Authentication(AuthStage::DataKeyUnwrap))?;
    out.copy_from_slice(body);
    let res = key
        .open_in_place(&iv, aad, out, &tag)
        .map_err(|_| Error::Authentication(AuthStage::DataKeyUnwrap))
        .and_then(|()| DataKey::from_slice(out));
    buf.zeroize();
    res.map(Some)
}

#[cfg(all(test, feature = "rustcrypto", feature = "encrypt"))]
mod tests {
    use super::*;
    use crate::crypto::rustcrypto::RustCrypto;

    #[test]
    fn wrap_unwrap() {
        let p = RustCrypto;
        let dk = DataKey::from_slice(&[5; 32]).unwrap();
        let mut ecb = [0u8; 64];
        let n = crate::encryption_context::serialize_pairs(&mut [("a", "b")], &mut ecb).unwrap();
        let ec = EncryptionContextRef::parse(&ecb[..n]).unwrap();
        let (mut info, mut ct) = ([0u8; 64], [0u8; 64]);
        let (il, cl) = wrap(
            &p,
            &[1; 16],
            b"name",
            &ec,
            &dk,
            &mut rand_core::OsRng,
            &mut info,
            &mut ct,
        )
        .unwrap();
        assert_eq!((il, cl), (24, 48));
        let edk = EdkRef {
            provider_id: "ns",
            provider_info: &info[..il],
            ciphertext: &ct[..cl],
        };
        assert_eq!(
            unwrap(&p, "ns", b"name", &[1; 16], &ec, &edk).unwrap(),
            Some(dk)
        );
        assert_eq!(
            unwrap(&p, "other", b"name", &[1; 16], &ec, &edk).unwrap(),
            None
        );
        assert_eq!(unwrap(&p, "ns", b"nam", &[1; 16], &ec, &edk).unwrap(), None);
        assert!(unwrap(&p, "ns", b"name", &[2; 16], &ec, &edk).is_err());
        assert!(
            unwrap(
                &p,
                "ns",
                b"name",
                &[1; 16],
                &EncryptionContextRef::EMPTY,
                &edk
            )
            .is_err()
        );
        assert!(check_namespace("aws-kms-x").is_err());
    }
}
