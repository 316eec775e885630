//! Pluggable cryptography.
//!
//! The state machines are generic over a [`CryptoProvider`], so the hot path is monomorphized and
//! no global default exists inside the core. The provider supplies prepared AES-GCM keys,
//! HKDF, running digests and ECDSA; randomness comes from the caller as a
//! [`rand_core::CryptoRngCore`].
//!
//! The default provider, [`RustCrypto`](rustcrypto::RustCrypto), is behind the `rustcrypto`
//! feature.

use crate::error::CryptoError;
use crate::suite::{HashAlg, SignatureAlg};
use rand_core::CryptoRngCore;

#[cfg(feature = "rustcrypto")]
pub mod rustcrypto;

/// The AES-GCM authentication failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthFailed;

/// A prepared AES-GCM key (AES-128, -192 or -256 chosen by the key length).
///
/// Implementations must zeroize key material on drop.
pub trait AeadKey {
    /// Encrypts `buf` in place and returns the detached 16-byte tag.
    ///
    /// # Errors
    /// A provider failure.
    fn seal_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; 16], CryptoError>;

    /// Verifies `tag` and, only if it verifies, decrypts `buf` in place.
    ///
    /// # Errors
    /// [`AuthFailed`] if the tag does not verify. `buf` must then hold no plaintext.
    fn open_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), AuthFailed>;

    /// Encrypts `plaintext` into `out` (the same length) and returns the detached 16-byte tag,
    /// leaving `plaintext` untouched: one pass over the bytes where a copy followed by
    /// [`seal_in_place`](Self::seal_in_place) makes two.
    ///
    /// The default copies `plaintext` into `out` and seals there, so every provider supports
    /// it; providers with a separate-buffer primitive override it.
    ///
    /// # Errors
    /// [`CryptoError::Other`] if the lengths differ (nothing is written), or a provider failure.
    fn seal_to(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<[u8; 16], CryptoError> {
        if plaintext.len() != out.len() {
            return Err(CryptoError::Other);
        }
        out.copy_from_slice(plaintext);
        self.seal_in_place(iv, aad, out)
    }

    /// Verifies `tag` over `ciphertext` and decrypts it into `out` (the same length), leaving
    /// `ciphertext` untouched.
    ///
    /// `out` may hold unverified bytes while this runs; on failure it must hold no plaintext
    /// (the default and the built-in providers wipe it). The default copies `ciphertext` into
    /// `out` and opens there; providers with a separate-buffer primitive override it.
    ///
    /// # Errors
    /// [`AuthFailed`] if the tag does not verify or the lengths differ.
    fn open_to(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8; 16],
        out: &mut [u8],
    ) -> Result<(), AuthFailed> {
        if ciphertext.len() != out.len() {
            return Err(AuthFailed);
        }
        out.copy_from_slice(ciphertext);
        let r = self.open_in_place(iv, aad, out, tag);
        if r.is_err() {
            wipe(out);
        }
        r
    }

    /// An incremental GMAC: the tag of an AES-GCM encryption of the empty plaintext whose AAD is
    /// everything later passed to [`Gmac::update`] (the header tag, whose AAD is not contiguous).
    ///
    /// # Errors
    /// A provider failure.
    fn gmac(&self, iv: &[u8; 12]) -> Result<Self::Gmac, CryptoError>;

    /// Incremental GMAC state.
    type Gmac: Gmac;
}

/// Overwrites `buf` with zeros in a way the optimizer keeps.
pub(crate) fn wipe(buf: &mut [u8]) {
    zeroize::Zeroize::zeroize(buf);
}

/// Incremental GMAC (AES-GCM over an empty plaintext).
pub trait Gmac {
    /// Absorbs AAD bytes.
    fn update(&mut self, aad: &[u8]);
    /// The 16-byte tag.
    fn finalize(self) -> [u8; 16];
}

/// A running digest fed with message bytes for the footer signature.
pub trait RunningDigest {
    /// Absorbs bytes.
    fn update(&mut self, data: &[u8]);
}

/// A bundle of the primitives the message format needs.
pub trait CryptoProvider {
    /// Prepared AES-GCM key.
    type AeadKey: AeadKey;
    /// Running digest for signatures (SHA-256 or SHA-384, as the signature algorithm says).
    type Digest: RunningDigest;

    /// Prepares an AES-GCM key of 16, 24 or 32 bytes.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKey`] for any other length.
    fn aead_key(&self, key: &[u8]) -> Result<Self::AeadKey, CryptoError>;

    /// HKDF (RFC 5869): `okm = Expand(Extract(salt, ikm), info_parts concatenated, okm.len())`.
    /// An empty `salt` means "no salt" (equivalent to hash-length zeros).
    ///
    /// # Errors
    /// A provider failure or an output too long for HKDF.
    fn hkdf(
        &self,
        hash: HashAlg,
        salt: &[u8],
        ikm: &[u8],
        info: &[&[u8]],
        okm: &mut [u8],
    ) -> Result<(), CryptoError>;

    /// Two HKDF expansions from one extraction (used for the committing key schedule).
    ///
    /// # Errors
    /// As [`CryptoProvider::hkdf`].
    #[allow(clippy::too_many_arguments)]
    fn hkdf_two(
        &self,
        hash: HashAlg,
        salt: &[u8],
        ikm: &[u8],
        info1: &[&[u8]],
        okm1: &mut [u8],
        info2: &[&[u8]],
        okm2: &mut [u8],
    ) -> Result<(), CryptoError> {
        self.hkdf(hash, salt, ikm, info1, okm1)?;
        self.hkdf(hash, salt, ikm, info2, okm2)
    }

    /// A fresh running digest for `alg`'s hash.
    fn digest(&self, alg: SignatureAlg) -> Self::Digest;

    /// Generates a signing key: writes the private scalar (`alg.secret_len()` bytes) to `secret`.
    ///
    /// # Errors
    /// A provider or RNG failure.
    fn ecdsa_generate(
        &self,
        alg: SignatureAlg,
        rng: &mut dyn CryptoRngCore,
        secret: &mut [u8],
    ) -> Result<(), CryptoError>;

    /// Generates a signing key and its public key in one step: writes the private scalar to
    /// `secret` and the SEC1 compressed public key to `public`, returning the public key's length.
    ///
    /// The default calls [`ecdsa_generate`](Self::ecdsa_generate) then
    /// [`ecdsa_public_key`](Self::ecdsa_public_key); providers whose key generation already
    /// computes the public point override it, so a signed message costs one scalar
    /// multiplication for its key, not two.
    ///
    /// # Errors
    /// A provider or RNG failure.
    fn ecdsa_generate_pair(
        &self,
        alg: SignatureAlg,
        rng: &mut dyn CryptoRngCore,
        secret: &mut [u8],
        public: &mut [u8],
    ) -> Result<usize, CryptoError> {
        self.ecdsa_generate(alg, rng, secret)?;
        self.ecdsa_public_key(alg, secret, public)
    }

    /// Writes the SEC1 compressed public key of `secret` to `out`, returning its length.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKey`] for a malformed scalar.
    fn ecdsa_public_key(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError>;

    /// Checks that `public_key` is a valid SEC1 point on `alg`'s curve.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKey`] otherwise.
    fn ecdsa_check_public_key(
        &self,
        alg: SignatureAlg,
        public_key: &[u8],
    ) -> Result<(), CryptoError>;

    /// Signs the digest; the DER signature written to `out` must be exactly
    /// [`SignatureAlg::fixed_signature_len`] bytes, so ciphertext lengths are predictable.
    ///
    /// # Errors
    /// A provider or RNG failure.
    fn ecdsa_sign(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        digest: Self::Digest,
        rng: &mut dyn CryptoRngCore,
        out: &mut [u8],
    ) -> Result<usize, CryptoError>;

    /// Verifies a DER signature of any valid length over the digest.
    ///
    /// # Errors
    /// [`AuthFailed`] if the key, the encoding or the signature is invalid.
    fn ecdsa_verify(
        &self,
        alg: SignatureAlg,
        public_key: &[u8],
        digest: Self::Digest,
        signature: &[u8],
    ) -> Result<(), AuthFailed>;
}

impl<P: CryptoProvider + ?Sized> CryptoProvider for &P {
    type AeadKey = P::AeadKey;
    type Digest = P::Digest;
    fn aead_key(&self, key: &[u8]) -> Result<Self::AeadKey, CryptoError> {
        (**self).aead_key(key)
    }
    fn hkdf(
        &self,
        hash: HashAlg,
        salt: &[u8],
        ikm: &[u8],
        info: &[&[u8]],
        okm: &mut [u8],
    ) -> Result<(), CryptoError> {
        (**self).hkdf(hash, salt, ikm, info, okm)
    }
    fn hkdf_two(
        &self,
        hash: HashAlg,
        salt: &[u8],
        ikm: &[u8],
        info1: &[&[u8]],
        okm1: &mut [u8],
        info2: &[&[u8]],
        okm2: &mut [u8],
    ) -> Result<(), CryptoError> {
        (**self).hkdf_two(hash, salt, ikm, info1, okm1, info2, okm2)
    }
    fn digest(&self, alg: SignatureAlg) -> Self::Digest {
        (**self).digest(alg)
    }
    fn ecdsa_generate(
        &self,
        alg: SignatureAlg,
        rng: &mut dyn CryptoRngCore,
        secret: &mut [u8],
    ) -> Result<(), CryptoError> {
        (**self).ecdsa_generate(alg, rng, secret)
    }
    fn ecdsa_generate_pair(
        &self,
        alg: SignatureAlg,
        rng: &mut dyn CryptoRngCore,
        secret: &mut [u8],
        public: &mut [u8],
    ) -> Result<usize, CryptoError> {
        (**self).ecdsa_generate_pair(alg, rng, secret, public)
    }
    fn ecdsa_public_key(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        (**self).ecdsa_public_key(alg, secret, out)
    }
    fn ecdsa_check_public_key(
        &self,
        alg: SignatureAlg,
        public_key: &[u8],
    ) -> Result<(), CryptoError> {
        (**self).ecdsa_check_public_key(alg, public_key)
    }
    fn ecdsa_sign(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        digest: Self::Digest,
        rng: &mut dyn CryptoRngCore,
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        (**self).ecdsa_sign(alg, secret, digest, rng, out)
    }
    fn ecdsa_verify(
        &self,
        alg: SignatureAlg,
        public_key: &[u8],
        digest: Self::Digest,
        signature: &[u8],
    ) -> Result<(), AuthFailed> {
        (**self).ecdsa_verify(alg, public_key, digest, signature)
    }
}
