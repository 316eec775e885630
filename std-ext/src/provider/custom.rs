//! A user-supplied provider behind [`Backend::custom`](super::Backend::custom): any
//! [`StdProvider`] with thread-safe key, GMAC and digest types, type-erased once so the
//! client, engines, materials managers and keyrings need no type parameter.

use super::StdProvider;
use super::rsa::{RsaDecryptingKey, RsaEncryptingKey, RsaKeyEncoding};
use crate::keyring::raw_ecdh::EcdhCurve;
use crate::rsa_key::RsaKeyError;
use esdk_core::crypto::{AeadKey, AuthFailed, CryptoProvider, Gmac, RunningDigest};
use esdk_core::error::CryptoError;
use esdk_core::suite::{HashAlg, SignatureAlg};
use rand_core::CryptoRngCore;
use std::any::Any;
use std::sync::Arc;

/// A user-supplied provider (see [`Backend::custom`](super::Backend::custom)). Cloning shares
/// it; two handles are equal when they share the same provider instance.
#[derive(Clone)]
pub struct CustomProvider {
    inner: Arc<dyn ErasedProvider>,
    name: &'static str,
}

impl core::fmt::Debug for CustomProvider {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "CustomProvider({})", self.name)
    }
}

impl PartialEq for CustomProvider {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}
impl Eq for CustomProvider {}
impl core::hash::Hash for CustomProvider {
    fn hash<H: core::hash::Hasher>(&self, state: &mut H) {
        Arc::as_ptr(&self.inner).cast::<()>().hash(state);
    }
}

impl CustomProvider {
    pub(crate) fn new<P>(provider: P) -> Self
    where
        P: StdProvider + Send + Sync + 'static,
        P::AeadKey: Send + Sync + 'static,
        <P::AeadKey as AeadKey>::Gmac: Send + Sync + 'static,
        P::Digest: Clone + Send + Sync + 'static,
    {
        Self {
            inner: Arc::new(provider),
            name: core::any::type_name::<P>(),
        }
    }
    /// The provider's Rust type name.
    pub fn name(&self) -> &'static str {
        self.name
    }
    pub(crate) fn get(&self) -> &dyn ErasedProvider {
        &*self.inner
    }
}

/// A prepared AES-GCM key of a custom provider.
pub trait ErasedAeadKey: Send + Sync {
    /// As [`AeadKey::seal_in_place`].
    fn seal_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; 16], CryptoError>;
    /// As [`AeadKey::open_in_place`].
    fn open_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), AuthFailed>;
    /// As [`AeadKey::seal_to`].
    fn seal_to(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<[u8; 16], CryptoError>;
    /// As [`AeadKey::open_to`].
    fn open_to(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8; 16],
        out: &mut [u8],
    ) -> Result<(), AuthFailed>;
    /// As [`AeadKey::gmac`].
    fn gmac(&self, iv: &[u8; 12]) -> Result<Box<dyn ErasedGmac>, CryptoError>;
}

/// Incremental GMAC of a custom provider.
pub trait ErasedGmac: Send + Sync {
    /// As [`Gmac::update`].
    fn update(&mut self, aad: &[u8]);
    /// As [`Gmac::finalize`].
    fn finalize(self: Box<Self>) -> [u8; 16];
}

/// A running digest of a custom provider.
pub trait ErasedDigest: Send + Sync {
    /// As [`RunningDigest::update`].
    fn update(&mut self, data: &[u8]);
    /// A copy of the state.
    fn clone_box(&self) -> Box<dyn ErasedDigest>;
    /// The concrete digest, for the provider that made it.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

impl<K> ErasedAeadKey for K
where
    K: AeadKey + Send + Sync,
    K::Gmac: Send + Sync + 'static,
{
    fn seal_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; 16], CryptoError> {
        AeadKey::seal_in_place(self, iv, aad, buf)
    }
    fn open_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), AuthFailed> {
        AeadKey::open_in_place(self, iv, aad, buf, tag)
    }
    fn seal_to(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<[u8; 16], CryptoError> {
        AeadKey::seal_to(self, iv, aad, plaintext, out)
    }
    fn open_to(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8; 16],
        out: &mut [u8],
    ) -> Result<(), AuthFailed> {
        AeadKey::open_to(self, iv, aad, ciphertext, tag, out)
    }
    fn gmac(&self, iv: &[u8; 12]) -> Result<Box<dyn ErasedGmac>, CryptoError> {
        Ok(Box::new(AeadKey::gmac(self, iv)?))
    }
}

impl<G: Gmac + Send + Sync> ErasedGmac for G {
    fn update(&mut self, aad: &[u8]) {
        Gmac::update(self, aad);
    }
    fn finalize(self: Box<Self>) -> [u8; 16] {
        Gmac::finalize(*self)
    }
}

impl<D: RunningDigest + Clone + Send + Sync + 'static> ErasedDigest for D {
    fn update(&mut self, data: &[u8]) {
        RunningDigest::update(self, data);
    }
    fn clone_box(&self) -> Box<dyn ErasedDigest> {
        Box::new(self.clone())
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

/// [`StdProvider`] with boxed associated types (object safe).
pub(crate) trait ErasedProvider: Send + Sync {
    fn aead_key(&self, key: &[u8]) -> Result<Box<dyn ErasedAeadKey>, CryptoError>;
    fn hkdf(
        &self,
        hash: HashAlg,
        salt: &[u8],
        ikm: &[u8],
        info: &[&[u8]],
        okm: &mut [u8],
    ) -> Result<(), CryptoError>;
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
    ) -> Result<(), CryptoError>;
    fn digest(&self, alg: SignatureAlg) -> Box<dyn ErasedDigest>;
    fn ecdsa_generate(
        &self,
        alg: SignatureAlg,
        rng: &mut dyn CryptoRngCore,
        secret: &mut [u8],
    ) -> Result<(), CryptoError>;
    fn ecdsa_generate_pair(
        &self,
        alg: SignatureAlg,
        rng: &mut dyn CryptoRngCore,
        secret: &mut [u8],
        public: &mut [u8],
    ) -> Result<usize, CryptoError>;
    fn ecdsa_public_key(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError>;
    fn ecdsa_check_public_key(
        &self,
        alg: SignatureAlg,
        public_key: &[u8],
    ) -> Result<(), CryptoError>;
    fn ecdsa_sign(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        digest: Box<dyn ErasedDigest>,
        rng: &mut dyn CryptoRngCore,
        out: &mut [u8],
    ) -> Result<usize, CryptoError>;
    fn ecdsa_verify(
        &self,
        alg: SignatureAlg,
        public_key: &[u8],
        digest: Box<dyn ErasedDigest>,
        signature: &[u8],
    ) -> Result<(), AuthFailed>;
    fn ext(&self) -> &dyn ErasedExt;
}

/// The object-safe part of [`StdProvider`].
pub(crate) trait ErasedExt {
    fn hash(&self, alg: HashAlg, parts: &[&[u8]], out: &mut [u8]) -> Result<usize, CryptoError>;
    fn hmac(
        &self,
        alg: HashAlg,
        key: &[u8],
        parts: &[&[u8]],
        out: &mut [u8],
    ) -> Result<usize, CryptoError>;
    fn ecdh_public_key(
        &self,
        curve: EcdhCurve,
        private: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError>;
    fn ecdh_agree(
        &self,
        curve: EcdhCurve,
        private: &[u8],
        peer: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError>;
    fn ec_private_key_from_der(
        &self,
        curve: EcdhCurve,
        der: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError>;
    fn ec_private_key_to_pkcs8(
        &self,
        curve: EcdhCurve,
        private: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError>;
    fn ec_public_key_from_sec1(
        &self,
        curve: EcdhCurve,
        point: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError>;
    fn ec_public_key_from_spki(
        &self,
        curve: EcdhCurve,
        der: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError>;
    fn ec_public_key_to_spki(&self, curve: EcdhCurve, point: &[u8])
    -> Result<Vec<u8>, CryptoError>;
    fn rsa_decrypting_key(
        &self,
        encoding: RsaKeyEncoding,
        der: &[u8],
    ) -> Result<Arc<dyn RsaDecryptingKey>, RsaKeyError>;
    fn rsa_encrypting_key(
        &self,
        encoding: RsaKeyEncoding,
        der: &[u8],
    ) -> Result<Arc<dyn RsaEncryptingKey>, RsaKeyError>;
    fn rsa_side_channel_safe(&self) -> bool;
}

impl<P: StdProvider> ErasedExt for P {
    fn hash(&self, alg: HashAlg, parts: &[&[u8]], out: &mut [u8]) -> Result<usize, CryptoError> {
        StdProvider::hash(self, alg, parts, out)
    }
    fn hmac(
        &self,
        alg: HashAlg,
        key: &[u8],
        parts: &[&[u8]],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        StdProvider::hmac(self, alg, key, parts, out)
    }
    fn ecdh_public_key(
        &self,
        curve: EcdhCurve,
        private: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        StdProvider::ecdh_public_key(self, curve, private, out)
    }
    fn ecdh_agree(
        &self,
        curve: EcdhCurve,
        private: &[u8],
        peer: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        StdProvider::ecdh_agree(self, curve, private, peer, out)
    }
    fn ec_private_key_from_der(
        &self,
        curve: EcdhCurve,
        der: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        StdProvider::ec_private_key_from_der(self, curve, der, out)
    }
    fn ec_private_key_to_pkcs8(
        &self,
        curve: EcdhCurve,
        private: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
        StdProvider::ec_private_key_to_pkcs8(self, curve, private)
    }
    fn ec_public_key_from_sec1(
        &self,
        curve: EcdhCurve,
        point: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        StdProvider::ec_public_key_from_sec1(self, curve, point, out)
    }
    fn ec_public_key_from_spki(
        &self,
        curve: EcdhCurve,
        der: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        StdProvider::ec_public_key_from_spki(self, curve, der, out)
    }
    fn ec_public_key_to_spki(
        &self,
        curve: EcdhCurve,
        point: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        StdProvider::ec_public_key_to_spki(self, curve, point)
    }
    fn rsa_decrypting_key(
        &self,
        encoding: RsaKeyEncoding,
        der: &[u8],
    ) -> Result<Arc<dyn RsaDecryptingKey>, RsaKeyError> {
        StdProvider::rsa_decrypting_key(self, encoding, der)
    }
    fn rsa_encrypting_key(
        &self,
        encoding: RsaKeyEncoding,
        der: &[u8],
    ) -> Result<Arc<dyn RsaEncryptingKey>, RsaKeyError> {
        StdProvider::rsa_encrypting_key(self, encoding, der)
    }
    fn rsa_side_channel_safe(&self) -> bool {
        StdProvider::rsa_side_channel_safe(self)
    }
}

/// Recovers a digest this provider made; a digest of another provider is a usage error.
fn own_digest<D: 'static>(d: Box<dyn ErasedDigest>) -> Option<D> {
    d.into_any().downcast::<D>().ok().map(|b| *b)
}

impl<P> ErasedProvider for P
where
    P: StdProvider + Send + Sync + 'static,
    P::AeadKey: Send + Sync + 'static,
    <P::AeadKey as AeadKey>::Gmac: Send + Sync + 'static,
    P::Digest: Clone + Send + Sync + 'static,
{
    fn aead_key(&self, key: &[u8]) -> Result<Box<dyn ErasedAeadKey>, CryptoError> {
        Ok(Box::new(CryptoProvider::aead_key(self, key)?))
    }
    fn hkdf(
        &self,
        hash: HashAlg,
        salt: &[u8],
        ikm: &[u8],
        info: &[&[u8]],
        okm: &mut [u8],
    ) -> Result<(), CryptoError> {
        CryptoProvider::hkdf(self, hash, salt, ikm, info, okm)
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
        CryptoProvider::hkdf_two(self, hash, salt, ikm, info1, okm1, info2, okm2)
    }
    fn digest(&self, alg: SignatureAlg) -> Box<dyn ErasedDigest> {
        Box::new(CryptoProvider::digest(self, alg))
    }
    fn ecdsa_generate(
        &self,
        alg: SignatureAlg,
        rng: &mut dyn CryptoRngCore,
        secret: &mut [u8],
    ) -> Result<(), CryptoError> {
        CryptoProvider::ecdsa_generate(self, alg, rng, secret)
    }
    fn ecdsa_generate_pair(
        &self,
        alg: SignatureAlg,
        rng: &mut dyn CryptoRngCore,
        secret: &mut [u8],
        public: &mut [u8],
    ) -> Result<usize, CryptoError> {
        CryptoProvider::ecdsa_generate_pair(self, alg, rng, secret, public)
    }
    fn ecdsa_public_key(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        CryptoProvider::ecdsa_public_key(self, alg, secret, out)
    }
    fn ecdsa_check_public_key(
        &self,
        alg: SignatureAlg,
        public_key: &[u8],
    ) -> Result<(), CryptoError> {
        CryptoProvider::ecdsa_check_public_key(self, alg, public_key)
    }
    fn ecdsa_sign(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        digest: Box<dyn ErasedDigest>,
        rng: &mut dyn CryptoRngCore,
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        let digest = own_digest::<P::Digest>(digest).ok_or(CryptoError::UnsupportedAlgorithm)?;
        CryptoProvider::ecdsa_sign(self, alg, secret, digest, rng, out)
    }
    fn ecdsa_verify(
        &self,
        alg: SignatureAlg,
        public_key: &[u8],
        digest: Box<dyn ErasedDigest>,
        signature: &[u8],
    ) -> Result<(), AuthFailed> {
        let digest = own_digest::<P::Digest>(digest).ok_or(AuthFailed)?;
        CryptoProvider::ecdsa_verify(self, alg, public_key, digest, signature)
    }
    fn ext(&self) -> &dyn ErasedExt {
        self
    }
}
