//! [`StdProvider`]: the primitives this crate needs beyond esdk-core's [`CryptoProvider`]
//! (one-shot hashes for cache ids, HMAC and ECDH for the ECDH keyrings), and its RustCrypto
//! implementation.

use crate::keyring::raw_ecdh::EcdhCurve;
use esdk_core::crypto::CryptoProvider;
use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::error::CryptoError;
use esdk_core::suite::HashAlg;

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
}
