//! [`StdProvider`]: the primitives this crate needs beyond esdk-core's [`CryptoProvider`]
//! (one-shot hashes for cache ids; HMAC, ECDH and EC key parsing/encoding for the ECDH
//! keyrings; RSA keys for the raw RSA keyring), and its RustCrypto implementation.

use crate::keyring::raw_ecdh::EcdhCurve;
use esdk_core::crypto::CryptoProvider;
use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::error::CryptoError;
use esdk_core::suite::HashAlg;
use std::sync::Arc;
use zeroize::Zeroizing;

use super::rsa::{RsaDecryptingKey, RsaEncryptingKey, RsaKeyEncoding};
use crate::rsa_key::RsaKeyError;

/// A crypto provider for every layer of this crate: esdk-core's [`CryptoProvider`] (AES-GCM,
/// HKDF, digests, ECDSA) plus the few primitives the materials managers and keyrings use.
///
/// Implement it (with [`CryptoProvider`]) to bring your own provider to the client, the
/// stream adapters and the keyrings with [`Backend::custom`](super::Backend::custom). A
/// provider that does not offer a primitive returns [`CryptoError::UnsupportedAlgorithm`];
/// the operations that need it then fail with that error (never with another provider's
/// result).
pub trait StdProvider: CryptoProvider {
    /// The hash of the concatenation of `parts`, written to the start of `out`; returns its
    /// length (32, 48 or 64).
    ///
    /// # Errors
    /// `out` is too short, or the provider lacks the hash.
    fn hash(&self, alg: HashAlg, parts: &[&[u8]], out: &mut [u8]) -> Result<usize, CryptoError>;

    /// HMAC of the concatenation of `parts` under `key`, written to the start of `out`;
    /// returns its length.
    ///
    /// # Errors
    /// `out` is too short, or the provider lacks the HMAC.
    fn hmac(
        &self,
        alg: HashAlg,
        key: &[u8],
        parts: &[&[u8]],
        out: &mut [u8],
    ) -> Result<usize, CryptoError>;

    /// The SEC1 compressed public key of the private scalar `private` (big-endian, the curve's
    /// scalar length: 32, 48 or 66 bytes) on `curve`; returns its length.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKey`] for a scalar that is zero, too large or of the wrong length.
    fn ecdh_public_key(
        &self,
        curve: EcdhCurve,
        private: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError>;

    /// ECDH: the x-coordinate of `private · peer` (the shared secret), where `peer` is a SEC1
    /// point (compressed or uncompressed) of `curve`; returns its length (the field length).
    ///
    /// # Errors
    /// [`CryptoError::InvalidKey`] for an invalid scalar or a peer point that is not on the
    /// curve (or is the identity).
    fn ecdh_agree(
        &self,
        curve: EcdhCurve,
        private: &[u8],
        peer: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError>;

    /// Parses a private key of `curve` from DER, PKCS#8 `PrivateKeyInfo` or SEC1 (RFC 5915)
    /// `ECPrivateKey`, and writes its scalar (big-endian, the curve's scalar length: 32, 48 or
    /// 66 bytes) to the start of `out`; returns its length.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKey`] when `der` is neither encoding of a valid key of `curve`.
    fn ec_private_key_from_der(
        &self,
        curve: EcdhCurve,
        der: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError>;

    /// The PKCS#8 `PrivateKeyInfo` DER of the private scalar `private` on `curve`.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKey`] for a scalar that is zero, too large or of the wrong length.
    fn ec_private_key_to_pkcs8(
        &self,
        curve: EcdhCurve,
        private: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError>;

    /// Validates a SEC1 point of `curve`, compressed (`02`/`03`) or uncompressed (`04`), as a
    /// point of the curve other than the identity, and writes its SEC1 compressed form to the
    /// start of `out`; returns its length.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKey`] for another encoding or a point not on the curve.
    fn ec_public_key_from_sec1(
        &self,
        curve: EcdhCurve,
        point: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError>;

    /// Validates a DER X.509 `SubjectPublicKeyInfo` of an EC key on `curve` and writes its
    /// point in SEC1 compressed form to the start of `out`; returns its length.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKey`] for another structure, another curve or an invalid point.
    fn ec_public_key_from_spki(
        &self,
        curve: EcdhCurve,
        der: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError>;

    /// The DER X.509 `SubjectPublicKeyInfo` of the SEC1 point `point` of `curve`.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKey`] for a point that is not on the curve.
    fn ec_public_key_to_spki(&self, curve: EcdhCurve, point: &[u8])
    -> Result<Vec<u8>, CryptoError>;

    /// Parses an RSA private key from `der` in `encoding` (PKCS#8 or PKCS#1) for the raw RSA
    /// keyring's unwrap. The keyring checks the modulus size (2048 to 16384 bits) on the
    /// returned key; a provider may refuse sizes it does not support with
    /// [`RsaKeyError::KeyTooLarge`] / [`RsaKeyError::KeyTooSmall`].
    ///
    /// The default returns [`RsaKeyError::Unsupported`]: a provider without RSA makes the raw
    /// RSA keyring fail with that error (nothing falls back to another provider).
    ///
    /// # Errors
    /// [`RsaKeyEncoding::unparseable`] for `der` that is not a key in `encoding`, a size error,
    /// or [`RsaKeyError::Unsupported`].
    fn rsa_decrypting_key(
        &self,
        encoding: RsaKeyEncoding,
        der: &[u8],
    ) -> Result<Arc<dyn RsaDecryptingKey>, RsaKeyError> {
        let _ = (encoding, der);
        Err(RsaKeyError::Unsupported)
    }

    /// Parses an RSA public key from `der` in `encoding` (X.509 SubjectPublicKeyInfo or PKCS#1)
    /// for the raw RSA keyring's wrap. The default returns [`RsaKeyError::Unsupported`].
    ///
    /// # Errors
    /// [`RsaKeyEncoding::unparseable`], [`RsaKeyError::InvalidPublicKey`] for numbers that are
    /// not an RSA public key, a size error, or [`RsaKeyError::Unsupported`].
    fn rsa_encrypting_key(
        &self,
        encoding: RsaKeyEncoding,
        der: &[u8],
    ) -> Result<Arc<dyn RsaEncryptingKey>, RsaKeyError> {
        let _ = (encoding, der);
        Err(RsaKeyError::Unsupported)
    }

    /// Whether this provider's RSA private-key operation is blinded and constant time,
    /// padding checks included (what [`Backend::rsa_side_channel_safe`] reports). The
    /// default is `false`.
    ///
    /// [`Backend::rsa_side_channel_safe`]: super::Backend::rsa_side_channel_safe
    fn rsa_side_channel_safe(&self) -> bool {
        false
    }
}

/// Writes `bytes` to the start of `out`, returning their length.
pub(crate) fn put(out: &mut [u8], bytes: &[u8]) -> Result<usize, CryptoError> {
    out.get_mut(..bytes.len())
        .ok_or(CryptoError::Other)?
        .copy_from_slice(bytes);
    Ok(bytes.len())
}

/// The scalar length of `curve` (the length [`StdProvider`] expects for private keys).
pub(crate) fn scalar_len(curve: EcdhCurve) -> usize {
    match curve {
        EcdhCurve::P256 => 32,
        EcdhCurve::P384 => 48,
        EcdhCurve::P521 => 66,
    }
}

/// The SEC1 compressed form of `point`, a compressed or uncompressed SEC1 point of `curve`
/// (its shape only: the caller validates the point with its backend); returns its length.
#[cfg(feature = "aws-lc")]
pub(crate) fn compress_point(
    curve: EcdhCurve,
    point: &[u8],
    out: &mut [u8],
) -> Result<usize, CryptoError> {
    let field = curve.compressed_len() - 1;
    match point.split_first() {
        Some((2 | 3, x)) if x.len() == field => put(out, point),
        Some((4, xy)) if xy.len() == 2 * field => {
            let (x, y) = xy.split_at(field);
            let odd = y.last().map_or(0, |b| b & 1);
            let dst = out.get_mut(..=field).ok_or(CryptoError::Other)?;
            let (tag, rest) = dst.split_at_mut(1);
            tag.copy_from_slice(&[2 | odd]);
            rest.copy_from_slice(x);
            Ok(field + 1)
        }
        _ => Err(CryptoError::InvalidKey),
    }
}

/// The point inside a DER `SubjectPublicKeyInfo` (`SEQUENCE { SEQUENCE {..}, BIT STRING }`
/// with no byte left over; definite minimal lengths). Structure only: the backend checks the
/// algorithm, the curve and the point.
#[cfg(feature = "aws-lc")]
pub(crate) fn spki_point(der: &[u8]) -> Option<&[u8]> {
    fn tlv(b: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
        let (&t, rest) = b.split_first()?;
        let (&l, rest) = rest.split_first()?;
        if t != tag {
            return None;
        }
        let (len, rest) = match l {
            0..=0x7f => (usize::from(l), rest),
            0x81 => {
                let (&a, rest) = rest.split_first()?;
                (a >= 0x80).then_some((usize::from(a), rest))?
            }
            0x82 => {
                let (ab, rest) = rest.split_at_checked(2)?;
                let v = usize::from(u16::from_be_bytes(ab.try_into().ok()?));
                (v >= 0x100).then_some((v, rest))?
            }
            _ => return None,
        };
        rest.split_at_checked(len)
    }
    let (spki, rest) = tlv(der, 0x30)?;
    if !rest.is_empty() {
        return None;
    }
    let (_algorithm, rest) = tlv(spki, 0x30)?;
    let (bits, rest) = tlv(rest, 0x03)?;
    if !rest.is_empty() {
        return None;
    }
    match bits.split_first()? {
        (0, point) => Some(point),
        _ => None,
    }
}

impl StdProvider for RustCrypto {
    fn hash(&self, alg: HashAlg, parts: &[&[u8]], out: &mut [u8]) -> Result<usize, CryptoError> {
        fn run<D: sha2::Digest>(parts: &[&[u8]], out: &mut [u8]) -> Result<usize, CryptoError> {
            let mut h = D::new();
            for p in parts {
                h.update(p);
            }
            put(out, &h.finalize())
        }
        match alg {
            HashAlg::Sha256 => run::<sha2::Sha256>(parts, out),
            HashAlg::Sha384 => run::<sha2::Sha384>(parts, out),
            HashAlg::Sha512 => run::<sha2::Sha512>(parts, out),
        }
    }

    fn hmac(
        &self,
        alg: HashAlg,
        key: &[u8],
        parts: &[&[u8]],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        use hmac::{Hmac, Mac};
        fn run<M: Mac + hmac::digest::KeyInit>(
            key: &[u8],
            parts: &[&[u8]],
            out: &mut [u8],
        ) -> Result<usize, CryptoError> {
            let mut m = <M as Mac>::new_from_slice(key).map_err(|_| CryptoError::InvalidKey)?;
            for p in parts {
                m.update(p);
            }
            put(out, &m.finalize().into_bytes())
        }
        match alg {
            HashAlg::Sha256 => run::<Hmac<sha2::Sha256>>(key, parts, out),
            HashAlg::Sha384 => run::<Hmac<sha2::Sha384>>(key, parts, out),
            HashAlg::Sha512 => run::<Hmac<sha2::Sha512>>(key, parts, out),
        }
    }

    fn ecdh_public_key(
        &self,
        curve: EcdhCurve,
        private: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        if private.len() != scalar_len(curve) {
            return Err(CryptoError::InvalidKey);
        }
        macro_rules! public {
            ($m:ident) => {{
                let k = $m::SecretKey::from_slice(private).map_err(|_| CryptoError::InvalidKey)?;
                put(out, k.public_key().to_encoded_point(true).as_bytes())
            }};
        }
        match curve {
            EcdhCurve::P256 => public!(p256),
            EcdhCurve::P384 => public!(p384),
            EcdhCurve::P521 => public!(p521),
        }
    }

    fn ecdh_agree(
        &self,
        curve: EcdhCurve,
        private: &[u8],
        peer: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        if private.len() != scalar_len(curve) {
            return Err(CryptoError::InvalidKey);
        }
        macro_rules! dh {
            ($m:ident) => {{
                let k = $m::SecretKey::from_slice(private).map_err(|_| CryptoError::InvalidKey)?;
                let p =
                    $m::PublicKey::from_sec1_bytes(peer).map_err(|_| CryptoError::InvalidKey)?;
                let z = $m::ecdh::diffie_hellman(k.to_nonzero_scalar(), p.as_affine());
                put(out, z.raw_secret_bytes())
            }};
        }
        match curve {
            EcdhCurve::P256 => dh!(p256),
            EcdhCurve::P384 => dh!(p384),
            EcdhCurve::P521 => dh!(p521),
        }
    }

    fn ec_private_key_from_der(
        &self,
        curve: EcdhCurve,
        der: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        use p256::pkcs8::DecodePrivateKey as _;
        macro_rules! parse {
            ($m:ident) => {{
                let k = $m::SecretKey::from_pkcs8_der(der)
                    .or_else(|_| $m::SecretKey::from_sec1_der(der))
                    .map_err(|_| CryptoError::InvalidKey)?;
                put(out, &Zeroizing::new(k.to_bytes()))
            }};
        }
        match curve {
            EcdhCurve::P256 => parse!(p256),
            EcdhCurve::P384 => parse!(p384),
            EcdhCurve::P521 => parse!(p521),
        }
    }

    fn ec_private_key_to_pkcs8(
        &self,
        curve: EcdhCurve,
        private: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        use p256::pkcs8::EncodePrivateKey as _;
        if private.len() != scalar_len(curve) {
            return Err(CryptoError::InvalidKey);
        }
        macro_rules! encode {
            ($m:ident) => {{
                let k = $m::SecretKey::from_slice(private).map_err(|_| CryptoError::InvalidKey)?;
                let doc = k.to_pkcs8_der().map_err(|_| CryptoError::Other)?;
                Ok(Zeroizing::new(doc.as_bytes().to_vec()))
            }};
        }
        match curve {
            EcdhCurve::P256 => encode!(p256),
            EcdhCurve::P384 => encode!(p384),
            EcdhCurve::P521 => encode!(p521),
        }
    }

    fn ec_public_key_from_sec1(
        &self,
        curve: EcdhCurve,
        point: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        if !matches!(point.first(), Some(2..=4)) {
            return Err(CryptoError::InvalidKey);
        }
        macro_rules! parse {
            ($m:ident) => {{
                let k =
                    $m::PublicKey::from_sec1_bytes(point).map_err(|_| CryptoError::InvalidKey)?;
                put(out, k.to_encoded_point(true).as_bytes())
            }};
        }
        match curve {
            EcdhCurve::P256 => parse!(p256),
            EcdhCurve::P384 => parse!(p384),
            EcdhCurve::P521 => parse!(p521),
        }
    }

    fn ec_public_key_from_spki(
        &self,
        curve: EcdhCurve,
        der: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        use p256::pkcs8::DecodePublicKey as _;
        macro_rules! parse {
            ($m:ident) => {{
                let k =
                    $m::PublicKey::from_public_key_der(der).map_err(|_| CryptoError::InvalidKey)?;
                put(out, k.to_encoded_point(true).as_bytes())
            }};
        }
        match curve {
            EcdhCurve::P256 => parse!(p256),
            EcdhCurve::P384 => parse!(p384),
            EcdhCurve::P521 => parse!(p521),
        }
    }

    fn ec_public_key_to_spki(
        &self,
        curve: EcdhCurve,
        point: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        use p256::pkcs8::EncodePublicKey as _;
        macro_rules! encode {
            ($m:ident) => {{
                let k =
                    $m::PublicKey::from_sec1_bytes(point).map_err(|_| CryptoError::InvalidKey)?;
                let doc = k.to_public_key_der().map_err(|_| CryptoError::Other)?;
                Ok(doc.as_bytes().to_vec())
            }};
        }
        match curve {
            EcdhCurve::P256 => encode!(p256),
            EcdhCurve::P384 => encode!(p384),
            EcdhCurve::P521 => encode!(p521),
        }
    }

    fn rsa_decrypting_key(
        &self,
        encoding: RsaKeyEncoding,
        der: &[u8],
    ) -> Result<Arc<dyn RsaDecryptingKey>, RsaKeyError> {
        super::rsa::RustCryptoRsaPrivate::parse(encoding, der)
    }

    fn rsa_encrypting_key(
        &self,
        encoding: RsaKeyEncoding,
        der: &[u8],
    ) -> Result<Arc<dyn RsaEncryptingKey>, RsaKeyError> {
        super::rsa::RustCryptoRsaPublic::parse(encoding, der)
    }

    /// `false`: `rsa` 0.9 is blinded but not constant time (RUSTSEC-2023-0071).
    fn rsa_side_channel_safe(&self) -> bool {
        false
    }
}
