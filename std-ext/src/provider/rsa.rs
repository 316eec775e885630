//! RSA key transport at the provider level: the key objects a [`StdProvider`](super::StdProvider)
//! returns for the raw RSA keyring ([`RsaDecryptingKey`], [`RsaEncryptingKey`]), and the
//! RustCrypto implementation (the `rsa` 0.9 crate).
//!
//! The aws-lc provider also uses the pure-Rust code of this module in two places, neither of
//! which touches a secret with timing that matters: it reads the key structure first (so both
//! providers accept the same encodings and report the same errors), and it wraps under public
//! keys above 8192 bits, which AWS-LC refuses (a public-key operation on public data).

use crate::rsa_key::{MAX_MODULUS_BITS, RsaKeyError, RsaPadding, check_modulus_bits};
use esdk_core::error::CryptoError;
use rand_core::{CryptoRngCore, OsRng};
use rsa::pkcs1::{DecodeRsaPrivateKey as _, der::Decode as _};
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::pkcs8::spki::SubjectPublicKeyInfoRef;
use rsa::traits::PublicKeyParts as _;
use rsa::{BigUint, Oaep, Pkcs1v15Encrypt};
use std::sync::Arc;
use zeroize::Zeroizing;

/// A DER encoding of an RSA key, as handed to a provider's RSA key parsers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RsaKeyEncoding {
    /// Unencrypted PKCS#8 `PrivateKeyInfo` of an `rsaEncryption` key (private).
    Pkcs8PrivateKeyInfo,
    /// PKCS#1 `RSAPrivateKey`, two primes (private).
    Pkcs1PrivateKey,
    /// X.509 `SubjectPublicKeyInfo` of an `rsaEncryption` key (public).
    SubjectPublicKeyInfo,
    /// PKCS#1 `RSAPublicKey` (public).
    Pkcs1PublicKey,
}

impl RsaKeyEncoding {
    /// The encoding's name, as error messages show it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Pkcs8PrivateKeyInfo => "PKCS#8 PrivateKeyInfo",
            Self::Pkcs1PrivateKey => "PKCS#1 RSAPrivateKey",
            Self::SubjectPublicKeyInfo => "X.509 SubjectPublicKeyInfo",
            Self::Pkcs1PublicKey => "PKCS#1 RSAPublicKey",
        }
    }
    /// Whether it encodes a private key.
    pub fn is_private(self) -> bool {
        matches!(self, Self::Pkcs8PrivateKeyInfo | Self::Pkcs1PrivateKey)
    }
    fn role(self) -> &'static str {
        if self.is_private() {
            "private"
        } else {
            "public"
        }
    }
    /// The error a provider returns for `der` that is not a key in this encoding.
    pub fn unparseable(self) -> RsaKeyError {
        RsaKeyError::UnparseableKey {
            role: self.role(),
            tried: self.name(),
        }
    }
}

/// An RSA private key parsed by a provider: it decrypts wrapped data keys.
///
/// Returned by [`StdProvider::rsa_decrypting_key`](super::StdProvider::rsa_decrypting_key);
/// the raw RSA keyring calls it for every unwrap.
pub trait RsaDecryptingKey: Send + Sync {
    /// The modulus, big-endian, without leading zero bytes (public information).
    fn modulus(&self) -> &[u8];
    /// Decrypts `ciphertext` (exactly the modulus length; the caller checks) with `padding`
    /// (OAEP: MGF1 with the same hash, empty label), writing the plaintext to the start of
    /// `out` (the modulus length); returns its length.
    ///
    /// # Errors
    /// Any failure (padding, range, wrong key); implementations must not reveal which, and
    /// should check the padding in constant time.
    fn decrypt(
        &self,
        padding: RsaPadding,
        ciphertext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError>;
}

/// An RSA public key parsed by a provider: it encrypts (wraps) data keys.
///
/// Returned by [`StdProvider::rsa_encrypting_key`](super::StdProvider::rsa_encrypting_key).
pub trait RsaEncryptingKey: Send + Sync {
    /// The modulus, big-endian, without leading zero bytes.
    fn modulus(&self) -> &[u8];
    /// The public exponent, big-endian, without leading zero bytes.
    fn public_exponent(&self) -> &[u8];
    /// Encrypts `plaintext` (no longer than the padding allows; the caller checks) with
    /// `padding`, writing the ciphertext (the modulus length) to the start of `out`; returns
    /// its length. `rng` is the operation's generator (a provider with its own DRBG may
    /// ignore it, and must say so).
    ///
    /// # Errors
    /// The encryption failed.
    fn encrypt(
        &self,
        padding: RsaPadding,
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
        out: &mut [u8],
    ) -> Result<usize, CryptoError>;
}

/// Big-endian bytes without leading zeros.
fn trimmed(n: &BigUint) -> Vec<u8> {
    n.to_bytes_be()
}

/// Parses a private key with the `rsa` crate (which checks its consistency) and checks the
/// modulus size against the keyring's bounds.
pub(crate) fn parse_private(
    encoding: RsaKeyEncoding,
    der: &[u8],
) -> Result<rsa::RsaPrivateKey, RsaKeyError> {
    let parsed = match encoding {
        RsaKeyEncoding::Pkcs8PrivateKeyInfo => rsa::RsaPrivateKey::from_pkcs8_der(der).ok(),
        RsaKeyEncoding::Pkcs1PrivateKey => rsa::RsaPrivateKey::from_pkcs1_der(der).ok(),
        _ => None,
    };
    let key = parsed.ok_or_else(|| encoding.unparseable())?;
    check_modulus_bits(key.n().bits())?;
    Ok(key)
}

/// Parses a public key (its structure with the DER crates, so that moduli above the `rsa`
/// crate's 4096-bit default load) and checks its numbers and size.
pub(crate) fn parse_public(
    encoding: RsaKeyEncoding,
    der: &[u8],
) -> Result<rsa::RsaPublicKey, RsaKeyError> {
    let parts = match encoding {
        RsaKeyEncoding::SubjectPublicKeyInfo => parse_spki(der),
        RsaKeyEncoding::Pkcs1PublicKey => parse_pkcs1_public(der),
        _ => None,
    };
    let (n, e) = parts.ok_or_else(|| encoding.unparseable())?;
    check_modulus_bits(n.bits())?;
    rsa::RsaPublicKey::new_with_max_size(n, e, MAX_MODULUS_BITS)
        .map_err(|_| RsaKeyError::InvalidPublicKey)
}

/// Parses an X.509 SubjectPublicKeyInfo holding an `rsaEncryption` key.
fn parse_spki(der: &[u8]) -> Option<(BigUint, BigUint)> {
    let spki = SubjectPublicKeyInfoRef::from_der(der).ok()?;
    spki.algorithm
        .assert_algorithm_oid(rsa::pkcs1::ALGORITHM_OID)
        .ok()?;
    // RFC 3279 §2.3.1: the parameters of rsaEncryption are an explicit NULL.
    if !spki.algorithm.parameters.is_some_and(|p| p.is_null()) {
        return None;
    }
    parse_pkcs1_public(spki.subject_public_key.as_bytes()?)
}

/// Parses a PKCS#1 `RSAPublicKey` (modulus and public exponent).
fn parse_pkcs1_public(der: &[u8]) -> Option<(BigUint, BigUint)> {
    let key = rsa::pkcs1::RsaPublicKey::from_der(der).ok()?;
    Some((
        BigUint::from_bytes_be(key.modulus.as_bytes()),
        BigUint::from_bytes_be(key.public_exponent.as_bytes()),
    ))
}

/// Writes `bytes` to the start of `out`.
fn put(out: &mut [u8], bytes: &[u8]) -> Result<usize, CryptoError> {
    super::ext::put(out, bytes)
}

/// The `rsa` crate's private key: blinded, but not constant time (RUSTSEC-2023-0071).
pub(crate) struct RustCryptoRsaPrivate {
    key: rsa::RsaPrivateKey,
    n: Vec<u8>,
}

impl RustCryptoRsaPrivate {
    pub(crate) fn parse(
        encoding: RsaKeyEncoding,
        der: &[u8],
    ) -> Result<Arc<dyn RsaDecryptingKey>, RsaKeyError> {
        let key = parse_private(encoding, der)?;
        let n = trimmed(key.n());
        Ok(Arc::new(Self { key, n }))
    }
}

impl RsaDecryptingKey for RustCryptoRsaPrivate {
    fn modulus(&self) -> &[u8] {
        &self.n
    }
    fn decrypt(
        &self,
        padding: RsaPadding,
        ciphertext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        let (key, ct, mut rng) = (&self.key, ciphertext, OsRng);
        let plaintext = Zeroizing::new(
            match padding {
                RsaPadding::Pkcs1V15 => key.decrypt_blinded(&mut rng, Pkcs1v15Encrypt, ct),
                RsaPadding::OaepSha1 => {
                    key.decrypt_blinded(&mut rng, Oaep::new::<sha1::Sha1>(), ct)
                }
                RsaPadding::OaepSha256 => {
                    key.decrypt_blinded(&mut rng, Oaep::new::<sha2::Sha256>(), ct)
                }
                RsaPadding::OaepSha384 => {
                    key.decrypt_blinded(&mut rng, Oaep::new::<sha2::Sha384>(), ct)
                }
                RsaPadding::OaepSha512 => {
                    key.decrypt_blinded(&mut rng, Oaep::new::<sha2::Sha512>(), ct)
                }
            }
            .map_err(|_| CryptoError::Other)?,
        );
        put(out, &plaintext)
    }
}

/// The `rsa` crate's public key (public operation only).
pub(crate) struct RustCryptoRsaPublic {
    key: rsa::RsaPublicKey,
    n: Vec<u8>,
    e: Vec<u8>,
}

impl RustCryptoRsaPublic {
    pub(crate) fn new(key: rsa::RsaPublicKey) -> Self {
        let (n, e) = (trimmed(key.n()), trimmed(key.e()));
        Self { key, n, e }
    }
    pub(crate) fn parse(
        encoding: RsaKeyEncoding,
        der: &[u8],
    ) -> Result<Arc<dyn RsaEncryptingKey>, RsaKeyError> {
        Ok(Arc::new(Self::new(parse_public(encoding, der)?)))
    }
}

impl RsaEncryptingKey for RustCryptoRsaPublic {
    fn modulus(&self) -> &[u8] {
        &self.n
    }
    fn public_exponent(&self) -> &[u8] {
        &self.e
    }
    fn encrypt(
        &self,
        padding: RsaPadding,
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        let (key, msg, mut rng) = (&self.key, plaintext, rng);
        let ciphertext = match padding {
            RsaPadding::Pkcs1V15 => key.encrypt(&mut rng, Pkcs1v15Encrypt, msg),
            RsaPadding::OaepSha1 => key.encrypt(&mut rng, Oaep::new::<sha1::Sha1>(), msg),
            RsaPadding::OaepSha256 => key.encrypt(&mut rng, Oaep::new::<sha2::Sha256>(), msg),
            RsaPadding::OaepSha384 => key.encrypt(&mut rng, Oaep::new::<sha2::Sha384>(), msg),
            RsaPadding::OaepSha512 => key.encrypt(&mut rng, Oaep::new::<sha2::Sha512>(), msg),
        }
        .map_err(|_| CryptoError::Other)?;
        put(out, &ciphertext)
    }
}

/// AWS-LC's RSA (feature `aws-lc`): blinded, constant-time private-key operation and padding
/// checks. Public keys above 8192 bits, which AWS-LC refuses, wrap with the `rsa` crate's
/// public operation (no secret involved); private keys above 8192 bits are refused.
#[cfg(feature = "aws-lc")]
pub(crate) mod aws_lc {
    use super::{
        RsaDecryptingKey, RsaEncryptingKey, RsaKeyEncoding, RustCryptoRsaPublic, parse_private,
        parse_public, trimmed,
    };
    use crate::rsa_key::{RsaKeyError, RsaPadding};
    use aws_lc_rs::rsa as lc;
    use esdk_core::error::CryptoError;
    use rand_core::CryptoRngCore;
    use rsa::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _};
    use rsa::traits::PublicKeyParts as _;
    use std::sync::Arc;
    use zeroize::Zeroize as _;

    /// Largest RSA key AWS-LC accepts, in bits.
    pub(crate) const MAX_BITS: usize = 8192;

    fn oaep(padding: RsaPadding) -> Option<&'static lc::OaepAlgorithm> {
        match padding {
            RsaPadding::Pkcs1V15 => None,
            RsaPadding::OaepSha1 => Some(&lc::OAEP_SHA1_MGF1SHA1),
            RsaPadding::OaepSha256 => Some(&lc::OAEP_SHA256_MGF1SHA256),
            RsaPadding::OaepSha384 => Some(&lc::OAEP_SHA384_MGF1SHA384),
            RsaPadding::OaepSha512 => Some(&lc::OAEP_SHA512_MGF1SHA512),
        }
    }

    /// A private key in AWS-LC, prepared for both paddings.
    pub(crate) struct Private {
        oaep: lc::OaepPrivateDecryptingKey,
        pkcs1: lc::Pkcs1PrivateDecryptingKey,
        n: Vec<u8>,
    }

    impl Private {
        pub(crate) fn parse(
            encoding: RsaKeyEncoding,
            der: &[u8],
        ) -> Result<Arc<dyn RsaDecryptingKey>, RsaKeyError> {
            // The structure and the consistency checks are read the same way as by the
            // RustCrypto provider (same encodings, same errors); the key is then handed to
            // AWS-LC as PKCS#8 and the parsed copy dropped (zeroized).
            let parsed = parse_private(encoding, der)?;
            let bits = parsed.n().bits();
            if bits > MAX_BITS {
                return Err(RsaKeyError::KeyTooLarge {
                    bits,
                    max: MAX_BITS,
                });
            }
            let unparseable = RsaKeyError::UnparseableKey {
                role: "private",
                tried: "AWS-LC RSA private key",
            };
            // The secret-bearing DER is zeroized on drop (`SecretDocument`).
            let pkcs8 = parsed.to_pkcs8_der().map_err(|_| unparseable.clone())?;
            let key = lc::PrivateDecryptingKey::from_pkcs8(pkcs8.as_bytes())
                .map_err(|_| unparseable.clone())?;
            let oaep =
                lc::OaepPrivateDecryptingKey::new(key.clone()).map_err(|_| unparseable.clone())?;
            let pkcs1 = lc::Pkcs1PrivateDecryptingKey::new(key).map_err(|_| unparseable)?;
            let n = trimmed(parsed.n());
            Ok(Arc::new(Self { oaep, pkcs1, n }))
        }
    }

    impl RsaDecryptingKey for Private {
        fn modulus(&self) -> &[u8] {
            &self.n
        }
        fn decrypt(
            &self,
            padding: RsaPadding,
            ciphertext: &[u8],
            out: &mut [u8],
        ) -> Result<usize, CryptoError> {
            // AWS-LC writes the plaintext to the start of `out` (the modulus length).
            let result = match oaep(padding) {
                Some(alg) => self
                    .oaep
                    .decrypt(alg, ciphertext, out, None)
                    .map(|p| p.len()),
                None => self.pkcs1.decrypt(ciphertext, out).map(|p| p.len()),
            };
            result.map_err(|_| {
                out.zeroize();
                CryptoError::Other
            })
        }
    }

    /// A public key in AWS-LC, or above its size limit in the `rsa` crate (public operation).
    pub(crate) enum Public {
        AwsLc {
            key: lc::PublicEncryptingKey,
            n: Vec<u8>,
            e: Vec<u8>,
        },
        Large(RustCryptoRsaPublic),
    }

    impl Public {
        pub(crate) fn parse(
            encoding: RsaKeyEncoding,
            der: &[u8],
        ) -> Result<Arc<dyn RsaEncryptingKey>, RsaKeyError> {
            let parsed = parse_public(encoding, der)?;
            if parsed.n().bits() > MAX_BITS {
                return Ok(Arc::new(Self::Large(RustCryptoRsaPublic::new(parsed))));
            }
            let spki = parsed
                .to_public_key_der()
                .map_err(|_| RsaKeyError::InvalidPublicKey)?;
            let key = lc::PublicEncryptingKey::from_der(spki.as_bytes())
                .map_err(|_| RsaKeyError::InvalidPublicKey)?;
            Ok(Arc::new(Self::AwsLc {
                key,
                n: trimmed(parsed.n()),
                e: trimmed(parsed.e()),
            }))
        }
    }

    impl RsaEncryptingKey for Public {
        fn modulus(&self) -> &[u8] {
            match self {
                Self::AwsLc { n, .. } => n,
                Self::Large(k) => k.modulus(),
            }
        }
        fn public_exponent(&self) -> &[u8] {
            match self {
                Self::AwsLc { e, .. } => e,
                Self::Large(k) => k.public_exponent(),
            }
        }
        fn encrypt(
            &self,
            padding: RsaPadding,
            plaintext: &[u8],
            rng: &mut dyn CryptoRngCore,
            out: &mut [u8],
        ) -> Result<usize, CryptoError> {
            let key = match self {
                Self::AwsLc { key, .. } => key,
                Self::Large(k) => return k.encrypt(padding, plaintext, rng, out),
            };
            // AWS-LC draws the padding randomness from its own DRBG, not from `rng`.
            let pk = key.clone();
            let n = match oaep(padding) {
                Some(alg) => lc::OaepPublicEncryptingKey::new(pk)
                    .and_then(|k| k.encrypt(alg, plaintext, out, None).map(|c| c.len())),
                None => lc::Pkcs1PublicEncryptingKey::new(pk)
                    .and_then(|k| k.encrypt(plaintext, out).map(|c| c.len())),
            }
            .map_err(|_| CryptoError::Other)?;
            Ok(n)
        }
    }
}
