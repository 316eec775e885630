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

/// Unwraps an EDK that [`matches()`] this key.
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

/// A raw AES wrapping key with its identity: the key namespace (provider id), the key name
/// and 16, 24 or 32 key bytes (kept in a fixed-size, zeroized buffer).
///
/// The value an embedded caller needs to answer the decryptor's materials request
/// ([`unwrap_any`](Self::unwrap_any)) and to make encrypted data keys ([`wrap`](Self::wrap)).
#[derive(Clone)]
pub struct RawAesKey<'a> {
    namespace: &'a str,
    name: &'a [u8],
    key: DataKey,
}

impl core::fmt::Debug for RawAesKey<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RawAesKey")
            .field("namespace", &self.namespace)
            .field("name_len", &self.name.len())
            .field("key_len", &self.key.len())
            .finish_non_exhaustive()
    }
}

impl<'a> RawAesKey<'a> {
    /// A wrapping key named `(namespace, name)`.
    ///
    /// # Errors
    /// A namespace reserved for AWS KMS ([`check_namespace`]) or a key that is not 16, 24 or
    /// 32 bytes ([`UsageError::InvalidConfig`]).
    pub fn new(namespace: &'a str, name: &'a [u8], key: &[u8]) -> Result<Self, Error> {
        check_namespace(namespace)?;
        let key = DataKey::from_slice(key).map_err(|_| {
            Error::Usage(UsageError::InvalidConfig(
                "a raw AES wrapping key is 16, 24 or 32 bytes",
            ))
        })?;
        Ok(Self {
            namespace,
            name,
            key,
        })
    }

    /// The key namespace (the EDK's provider id).
    pub fn namespace(&self) -> &'a str {
        self.namespace
    }

    /// The key name (the start of the EDK's provider info).
    pub fn name(&self) -> &'a [u8] {
        self.name
    }

    /// Bytes [`wrap`](Self::wrap) writes for a data key of `data_key_len` bytes: the provider
    /// info (`name + 20`) followed by the ciphertext (`data_key_len + 16`).
    pub fn wrapped_len(&self, data_key_len: usize) -> usize {
        self.name
            .len()
            .saturating_add(PROVIDER_INFO_OVERHEAD)
            .saturating_add(data_key_len)
            .saturating_add(TAG_LEN)
    }

    /// Whether `edk` names this key (it may still fail to unwrap).
    pub fn matches(&self, edk: &EdkRef<'_>) -> bool {
        matches(self.namespace, self.name, edk).is_some()
    }

    /// Wraps `data_key` under this key with the canonical `encryption_context` as AAD, writing
    /// the provider info and the ciphertext to `out` ([`wrapped_len`](Self::wrapped_len)
    /// bytes); returns the encrypted data key, borrowing `out`.
    ///
    /// # Errors
    /// A non-canonical context (see [`EncryptionContextRef::canonicalize_into`]), a small
    /// `out`, RNG failure.
    #[cfg(feature = "encrypt")]
    pub fn wrap<'o, P: CryptoProvider>(
        &self,
        provider: &P,
        encryption_context: &EncryptionContextRef<'_>,
        data_key: &DataKey,
        rng: &mut dyn CryptoRngCore,
        out: &'o mut [u8],
    ) -> Result<EdkRef<'o>, Error>
    where
        'a: 'o,
    {
        let info_len = self.name.len().saturating_add(PROVIDER_INFO_OVERHEAD);
        let required = self.wrapped_len(data_key.len());
        let out = out
            .get_mut(..required)
            .ok_or(Error::Usage(UsageError::OutputTooSmall { required }))?;
        let (info, ct) = out.split_at_mut(info_len);
        wrap(
            provider,
            self.key.as_bytes(),
            self.name,
            encryption_context,
            data_key,
            rng,
            info,
            ct,
        )?;
        Ok(EdkRef {
            provider_id: self.namespace,
            provider_info: info,
            ciphertext: ct,
        })
    }

    /// Unwraps the first of `edks` that this key wrapped, as the raw AES keyring does: EDKs of
    /// other keys are skipped, and so are EDKs of this key that fail to decrypt (the next one
    /// is tried).
    ///
    /// Returns `Ok(None)` when no EDK names this key.
    ///
    /// The context must be canonical: a message may store its pairs in any order, so a
    /// no-alloc caller canonicalizes with [`EncryptionContextRef::canonicalize_into`] first;
    /// with the `alloc` feature a non-canonical context is canonicalized here.
    ///
    /// # Errors
    /// [`AuthStage::DataKeyUnwrap`] when EDKs of this key exist and none decrypts; a
    /// non-canonical context without `alloc`.
    pub fn unwrap_any<'e, P: CryptoProvider>(
        &self,
        provider: &P,
        encryption_context: &EncryptionContextRef<'_>,
        edks: impl IntoIterator<Item = EdkRef<'e>>,
    ) -> Result<Option<DataKey>, Error> {
        #[cfg(feature = "alloc")]
        if !encryption_context.is_empty() && !encryption_context.is_canonical() {
            let mut out = alloc::vec![0u8; encryption_context.as_bytes().len()];
            let mut pairs = alloc::vec![("", ""); encryption_context.len()];
            let canonical = encryption_context.canonicalize_into(&mut pairs, &mut out)?;
            return self.unwrap_canonical(provider, &canonical, edks);
        }
        self.unwrap_canonical(provider, encryption_context, edks)
    }

    fn unwrap_canonical<'e, P: CryptoProvider>(
        &self,
        provider: &P,
        encryption_context: &EncryptionContextRef<'_>,
        edks: impl IntoIterator<Item = EdkRef<'e>>,
    ) -> Result<Option<DataKey>, Error> {
        let mut failure = None;
        for edk in edks {
            match unwrap(
                provider,
                self.namespace,
                self.name,
                self.key.as_bytes(),
                encryption_context,
                &edk,
            ) {
                Ok(Some(dk)) => return Ok(Some(dk)),
                Ok(None) => {}
                Err(e) => failure = Some(e),
            }
        }
        failure.map_or(Ok(None), Err)
    }
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

    #[test]
    fn raw_aes_key_wraps_and_unwraps_any() {
        let p = RustCrypto;
        let key = RawAesKey::new("ns", b"name", &[7; 32]).unwrap();
        assert!(RawAesKey::new("aws-kms", b"name", &[7; 32]).is_err());
        assert!(RawAesKey::new("ns", b"name", &[7; 31]).is_err());
        let other = RawAesKey::new("ns", b"other", &[7; 32]).unwrap();
        let dk = DataKey::from_slice(&[5; 32]).unwrap();
        // A context whose pairs are stored out of order: b=1, a=2.
        let unsorted: &[u8] = &[0, 2, 0, 1, b'b', 0, 1, b'1', 0, 1, b'a', 0, 1, b'2'];
        let unsorted = EncryptionContextRef::parse(unsorted).unwrap();
        assert!(!unsorted.is_canonical());
        let (mut pairs, mut canon_buf) = ([("", ""); 4], [0u8; 32]);
        let canonical = unsorted
            .canonicalize_into(&mut pairs, &mut canon_buf)
            .unwrap();
        assert!(canonical.is_canonical());
        assert_eq!(canonical.get("a"), Some("2"));
        assert!(
            unsorted
                .canonicalize_into(&mut pairs[..1], &mut [0u8; 32])
                .is_err()
        );
        let mut out = [0u8; 96];
        assert_eq!(key.wrapped_len(32), 4 + 20 + 32 + 16);
        let edk = key
            .wrap(&p, &canonical, &dk, &mut rand_core::OsRng, &mut out)
            .unwrap();
        assert!(key.matches(&edk) && !other.matches(&edk));
        assert!(
            key.wrap(&p, &unsorted, &dk, &mut rand_core::OsRng, &mut [0u8; 96])
                .is_err(),
            "wrapping needs the canonical form"
        );
        let foreign = EdkRef {
            provider_id: "elsewhere",
            provider_info: b"x",
            ciphertext: b"y",
        };
        // Skips EDKs of other keys; finds its own.
        let got = key.unwrap_any(&p, &canonical, [foreign, edk]).unwrap();
        assert_eq!(got, Some(dk.clone()));
        // With alloc, an unsorted context is canonicalized here.
        assert_eq!(key.unwrap_any(&p, &unsorted, [edk]).unwrap(), Some(dk));
        // Not for this key: None. For this key but failing: the error.
        assert_eq!(other.unwrap_any(&p, &canonical, [edk]).unwrap(), None);
        let wrong = RawAesKey::new("ns", b"name", &[8; 32]).unwrap();
        assert_eq!(
            wrong.unwrap_any(&p, &canonical, [edk]),
            Err(Error::Authentication(AuthStage::DataKeyUnwrap))
        );
    }
}
