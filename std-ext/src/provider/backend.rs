//! [`Backend`]: the providers compiled into this crate behind one value.

use super::StdProvider;
#[cfg(feature = "aws-lc")]
use super::aws_lc::{AwsLc, AwsLcAeadKey, AwsLcDigest, AwsLcGmac};
use super::custom::{self, CustomProvider};
use super::pipelined::{PipelinedBackend, PipelinedDigest};
use super::rsa::{RsaDecryptingKey, RsaEncryptingKey, RsaKeyEncoding};
use crate::keyring::raw_ecdh::EcdhCurve;
use crate::rsa_key::RsaKeyError;
#[cfg(feature = "rustcrypto")]
use esdk_core::crypto::rustcrypto::{
    RustCrypto, RustCryptoAeadKey, RustCryptoDigest, RustCryptoGmac,
};
use esdk_core::crypto::{AeadKey, AuthFailed, CryptoProvider, Gmac, RunningDigest};
use esdk_core::error::CryptoError;
use esdk_core::suite::{HashAlg, SignatureAlg};
use rand_core::CryptoRngCore;
use std::sync::Arc;

/// The crypto provider every layer of this crate uses; see [the module docs](super).
///
/// Cloning is cheap (a built-in backend is a tag; a custom one is a shared handle).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// AWS-LC through `aws-lc-rs` (feature `aws-lc`, the default).
    #[cfg(feature = "aws-lc")]
    AwsLc,
    /// The pure-Rust RustCrypto crates (feature `rustcrypto`).
    #[cfg(feature = "rustcrypto")]
    RustCrypto,
    /// A provider supplied by the user; see [`Backend::custom`].
    Custom(CustomProvider),
    /// Another backend whose running digests hash large signed messages on a thread of their
    /// own; see [`Backend::with_pipelined_digest`].
    Pipelined(PipelinedBackend),
}

impl Default for Backend {
    /// aws-lc when compiled in, otherwise RustCrypto.
    fn default() -> Self {
        #[cfg(feature = "aws-lc")]
        return Self::AwsLc;
        #[cfg(not(feature = "aws-lc"))]
        return Self::RustCrypto;
    }
}

impl Backend {
    /// Every built-in backend compiled in, the default first.
    pub fn all() -> &'static [Backend] {
        const ALL: &[Backend] = &[
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc,
            #[cfg(feature = "rustcrypto")]
            Backend::RustCrypto,
        ];
        ALL
    }
    /// A backend over a provider of your own (a hardware module, an external FIPS module, an
    /// instrumented wrapper, ...): it then serves the [`Client`](crate::Client), every stream
    /// adapter, the materials managers and the keyrings exactly like a built-in backend.
    ///
    /// The provider implements esdk-core's
    /// [`CryptoProvider`] and this crate's [`StdProvider`]; its key, GMAC and digest types must be
    /// thread safe, since clients and adapters are. Each message costs one allocation more than a
    /// built-in backend (the boxed key) and one indirect call per primitive call.
    ///
    /// The raw RSA keyring runs on the operation's backend too: a provider that does not
    /// implement [`StdProvider::rsa_decrypting_key`] / [`StdProvider::rsa_encrypting_key`] makes
    /// it fail with [`RsaKeyError::Unsupported`](crate::RsaKeyError::Unsupported).
    ///
    /// ```
    /// use esdk_std::{Backend, Client};
    /// use esdk_core::crypto::rustcrypto::RustCrypto;
    /// // Any `CryptoProvider + StdProvider`; RustCrypto stands in for yours here.
    /// let client = Client::builder().backend(Backend::custom(RustCrypto)).build();
    /// # let _ = client;
    /// ```
    pub fn custom<P>(provider: P) -> Self
    where
        P: StdProvider + Send + Sync + 'static,
        P::AeadKey: Send + Sync + 'static,
        <P::AeadKey as AeadKey>::Gmac: Send + Sync + 'static,
        P::Digest: Clone + Send + Sync + 'static,
    {
        Self::Custom(CustomProvider::new(provider))
    }
    /// A short name (`"aws-lc"`, `"rustcrypto"`, or a custom provider's type name; a
    /// pipelined backend has the name of the backend it runs on).
    pub fn name(&self) -> &'static str {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc => "aws-lc",
            #[cfg(feature = "rustcrypto")]
            Self::RustCrypto => "rustcrypto",
            Self::Custom(p) => p.name(),
            Self::Pipelined(p) => p.base().name(),
        }
    }
    /// This backend with the running digest of signed messages (the footer signature's
    /// SHA-384 or SHA-256 over the whole message) hashed on a thread of its own once a message
    /// has fed it more than [`PIPELINED_DIGEST_MIN_BYTES`](super::PIPELINED_DIGEST_MIN_BYTES)
    /// (1 MiB), so it runs beside the AES-GCM and the copies of the thread that drives the
    /// message instead of after them: on two cores, signed messages of many MiB then take about
    /// the time of the hash alone. `false` gives the backend back without it.
    ///
    /// The bytes hashed and signed or verified, the output, and when plaintext is released are
    /// exactly as without it; only the thread that hashes changes. Smaller messages (and
    /// unsigned suites) never start a thread, nor does the frame-parallel one-shot path
    /// (`parallelism` > 1), whose calling thread already hashes while the workers seal or
    /// open. A large signed message holds one helper thread and at most 1 MiB of buffered
    /// message bytes (ciphertext, never plaintext) until it is signed or verified; if that
    /// thread fails, signing fails and verifying reports an invalid signature (nothing is
    /// released). Off unless asked for: turn it on where a spare core
    /// exists and extra threads are allowed ([`ClientBuilder::pipelined_digest`]; the `esdk`
    /// CLI does).
    ///
    /// ```
    /// use esdk_std::{Backend, Client};
    /// let backend = Backend::default().with_pipelined_digest(true);
    /// assert!(backend.pipelined_digest());
    /// assert_eq!(backend.name(), Backend::default().name());
    /// assert_eq!(backend.clone().with_pipelined_digest(false), Backend::default());
    /// let client = Client::builder().backend(backend).build();
    /// # let _ = client;
    /// ```
    ///
    /// [`ClientBuilder::pipelined_digest`]: crate::ClientBuilder::pipelined_digest
    #[must_use]
    pub fn with_pipelined_digest(self, on: bool) -> Backend {
        match (self, on) {
            (Self::Pipelined(p), false) => *p.base,
            (b @ Self::Pipelined(_), true) => b,
            (b, true) => Self::Pipelined(PipelinedBackend::new(b)),
            (b, false) => b,
        }
    }
    /// Whether running digests are pipelined ([`Backend::with_pipelined_digest`]).
    pub fn pipelined_digest(&self) -> bool {
        matches!(self, Self::Pipelined(_))
    }
    /// The backend that does the cryptography: this one, or the one a pipelined backend
    /// runs on.
    pub fn base(&self) -> &Backend {
        match self {
            Self::Pipelined(p) => p.base(),
            b => b,
        }
    }
    /// Whether this backend's RSA private-key operation (the raw RSA keyring's unwrap, which
    /// runs on the backend of the operation) is blinded and constant time, padding checks
    /// included: `true` for aws-lc, `false` for RustCrypto (`rsa` 0.9, RUSTSEC-2023-0071),
    /// and what [`StdProvider::rsa_side_channel_safe`] says for a custom provider.
    pub fn rsa_side_channel_safe(&self) -> bool {
        StdProvider::rsa_side_channel_safe(self)
    }
}

/// A prepared AES-GCM key of a [`Backend`].
// The RustCrypto key schedules are stored inline, as in esdk-core; one key lives per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum BackendAeadKey {
    /// aws-lc.
    #[cfg(feature = "aws-lc")]
    AwsLc(AwsLcAeadKey),
    /// RustCrypto.
    #[cfg(feature = "rustcrypto")]
    RustCrypto(RustCryptoAeadKey),
    /// A custom provider's.
    Custom(Box<dyn custom::ErasedAeadKey>),
}

/// Incremental GMAC of a [`Backend`].
#[derive(Debug)]
pub enum BackendGmac {
    /// aws-lc.
    #[cfg(feature = "aws-lc")]
    AwsLc(AwsLcGmac),
    /// RustCrypto.
    #[cfg(feature = "rustcrypto")]
    RustCrypto(RustCryptoGmac),
    /// A custom provider's.
    Custom(Box<dyn custom::ErasedGmac>),
}

/// A running digest of a [`Backend`].
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // the built-in digests stay inline: one per message, hot path
pub enum BackendDigest {
    /// aws-lc.
    #[cfg(feature = "aws-lc")]
    AwsLc(AwsLcDigest),
    /// RustCrypto.
    #[cfg(feature = "rustcrypto")]
    RustCrypto(RustCryptoDigest),
    /// A custom provider's.
    Custom(Box<dyn custom::ErasedDigest>),
    /// A pipelined backend's ([`Backend::with_pipelined_digest`]).
    Pipelined(Box<PipelinedDigest>),
}

impl Clone for Box<dyn custom::ErasedDigest> {
    fn clone(&self) -> Self {
        self.clone_box()
    }
}
impl core::fmt::Debug for dyn custom::ErasedAeadKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CustomAeadKey(<redacted>)")
    }
}
impl core::fmt::Debug for dyn custom::ErasedGmac {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CustomGmac")
    }
}
impl core::fmt::Debug for dyn custom::ErasedDigest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("CustomDigest")
    }
}

/// Dispatches `$e` on the variant of `$v`, binding the inner value to `$x`.
macro_rules! each {
    ($ty:ident, $v:expr, $x:ident => $e:expr) => {
        match $v {
            #[cfg(feature = "aws-lc")]
            $ty::AwsLc($x) => $e,
            #[cfg(feature = "rustcrypto")]
            $ty::RustCrypto($x) => $e,
            $ty::Custom($x) => $e,
        }
    };
}

impl Gmac for BackendGmac {
    #[inline]
    fn update(&mut self, aad: &[u8]) {
        each!(BackendGmac, self, g => g.update(aad))
    }
    fn finalize(self) -> [u8; 16] {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc(g) => g.finalize(),
            #[cfg(feature = "rustcrypto")]
            Self::RustCrypto(g) => g.finalize(),
            Self::Custom(g) => g.finalize(),
        }
    }
}

impl RunningDigest for BackendDigest {
    #[inline]
    fn update(&mut self, data: &[u8]) {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc(d) => d.update(data),
            #[cfg(feature = "rustcrypto")]
            Self::RustCrypto(d) => d.update(data),
            Self::Custom(d) => d.update(data),
            Self::Pipelined(d) => d.update(data),
        }
    }
}

impl AeadKey for BackendAeadKey {
    #[inline]
    fn seal_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; 16], CryptoError> {
        each!(BackendAeadKey, self, k => k.seal_in_place(iv, aad, buf))
    }
    #[inline]
    fn open_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), AuthFailed> {
        each!(BackendAeadKey, self, k => k.open_in_place(iv, aad, buf, tag))
    }
    #[inline]
    fn seal_to(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<[u8; 16], CryptoError> {
        each!(BackendAeadKey, self, k => k.seal_to(iv, aad, plaintext, out))
    }
    #[inline]
    fn open_to(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8; 16],
        out: &mut [u8],
    ) -> Result<(), AuthFailed> {
        each!(BackendAeadKey, self, k => k.open_to(iv, aad, ciphertext, tag, out))
    }
    type Gmac = BackendGmac;
    fn gmac(&self, iv: &[u8; 12]) -> Result<Self::Gmac, CryptoError> {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc(k) => k.gmac(iv).map(BackendGmac::AwsLc),
            #[cfg(feature = "rustcrypto")]
            Self::RustCrypto(k) => k.gmac(iv).map(BackendGmac::RustCrypto),
            Self::Custom(k) => k.gmac(iv).map(BackendGmac::Custom),
        }
    }
}

/// A digest of the other backend reaching a provider: a usage error, reported as such.
#[allow(unreachable_patterns)]
fn mismatch<T>() -> Result<T, CryptoError> {
    Err(CryptoError::UnsupportedAlgorithm)
}

impl CryptoProvider for Backend {
    type AeadKey = BackendAeadKey;
    type Digest = BackendDigest;

    fn aead_key(&self, key: &[u8]) -> Result<Self::AeadKey, CryptoError> {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc => AwsLc.aead_key(key).map(BackendAeadKey::AwsLc),
            #[cfg(feature = "rustcrypto")]
            Self::RustCrypto => RustCrypto.aead_key(key).map(BackendAeadKey::RustCrypto),
            Self::Custom(p) => p.get().aead_key(key).map(BackendAeadKey::Custom),
            Self::Pipelined(p) => p.base().aead_key(key),
        }
    }
    fn hkdf(
        &self,
        hash: HashAlg,
        salt: &[u8],
        ikm: &[u8],
        info: &[&[u8]],
        okm: &mut [u8],
    ) -> Result<(), CryptoError> {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc => AwsLc.hkdf(hash, salt, ikm, info, okm),
            #[cfg(feature = "rustcrypto")]
            Self::RustCrypto => RustCrypto.hkdf(hash, salt, ikm, info, okm),
            Self::Custom(p) => p.get().hkdf(hash, salt, ikm, info, okm),
            Self::Pipelined(p) => p.base().hkdf(hash, salt, ikm, info, okm),
        }
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
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc => AwsLc.hkdf_two(hash, salt, ikm, info1, okm1, info2, okm2),
            #[cfg(feature = "rustcrypto")]
            Self::RustCrypto => RustCrypto.hkdf_two(hash, salt, ikm, info1, okm1, info2, okm2),
            Self::Custom(p) => p.get().hkdf_two(hash, salt, ikm, info1, okm1, info2, okm2),
            Self::Pipelined(p) => p.base().hkdf_two(hash, salt, ikm, info1, okm1, info2, okm2),
        }
    }
    fn digest(&self, alg: SignatureAlg) -> Self::Digest {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc => BackendDigest::AwsLc(AwsLc.digest(alg)),
            #[cfg(feature = "rustcrypto")]
            Self::RustCrypto => BackendDigest::RustCrypto(RustCrypto.digest(alg)),
            Self::Custom(p) => BackendDigest::Custom(p.get().digest(alg)),
            Self::Pipelined(p) => {
                BackendDigest::Pipelined(Box::new(p.digest(p.base().digest(alg))))
            }
        }
    }
    fn ecdsa_generate(
        &self,
        alg: SignatureAlg,
        rng: &mut dyn CryptoRngCore,
        secret: &mut [u8],
    ) -> Result<(), CryptoError> {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc => AwsLc.ecdsa_generate(alg, rng, secret),
            #[cfg(feature = "rustcrypto")]
            Self::RustCrypto => RustCrypto.ecdsa_generate(alg, rng, secret),
            Self::Custom(p) => p.get().ecdsa_generate(alg, rng, secret),
            Self::Pipelined(p) => p.base().ecdsa_generate(alg, rng, secret),
        }
    }
    fn ecdsa_generate_pair(
        &self,
        alg: SignatureAlg,
        rng: &mut dyn CryptoRngCore,
        secret: &mut [u8],
        public: &mut [u8],
    ) -> Result<usize, CryptoError> {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc => AwsLc.ecdsa_generate_pair(alg, rng, secret, public),
            #[cfg(feature = "rustcrypto")]
            Self::RustCrypto => RustCrypto.ecdsa_generate_pair(alg, rng, secret, public),
            Self::Custom(p) => p.get().ecdsa_generate_pair(alg, rng, secret, public),
            Self::Pipelined(p) => p.base().ecdsa_generate_pair(alg, rng, secret, public),
        }
    }
    fn ecdsa_public_key(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc => AwsLc.ecdsa_public_key(alg, secret, out),
            #[cfg(feature = "rustcrypto")]
            Self::RustCrypto => RustCrypto.ecdsa_public_key(alg, secret, out),
            Self::Custom(p) => p.get().ecdsa_public_key(alg, secret, out),
            Self::Pipelined(p) => p.base().ecdsa_public_key(alg, secret, out),
        }
    }
    fn ecdsa_check_public_key(
        &self,
        alg: SignatureAlg,
        public_key: &[u8],
    ) -> Result<(), CryptoError> {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc => AwsLc.ecdsa_check_public_key(alg, public_key),
            #[cfg(feature = "rustcrypto")]
            Self::RustCrypto => RustCrypto.ecdsa_check_public_key(alg, public_key),
            Self::Custom(p) => p.get().ecdsa_check_public_key(alg, public_key),
            Self::Pipelined(p) => p.base().ecdsa_check_public_key(alg, public_key),
        }
    }
    fn ecdsa_sign(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        digest: Self::Digest,
        rng: &mut dyn CryptoRngCore,
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        #[allow(unreachable_patterns)]
        match (self, digest) {
            // The helper thread's digest first (a failed helper fails the signature), then the
            // backend it runs on.
            (_, BackendDigest::Pipelined(d)) => {
                let d = d.finish().map_err(|_| CryptoError::Other)?;
                self.ecdsa_sign(alg, secret, d, rng, out)
            }
            (Self::Pipelined(p), d) => p.base().ecdsa_sign(alg, secret, d, rng, out),
            #[cfg(feature = "aws-lc")]
            (Self::AwsLc, BackendDigest::AwsLc(d)) => AwsLc.ecdsa_sign(alg, secret, d, rng, out),
            #[cfg(feature = "rustcrypto")]
            (Self::RustCrypto, BackendDigest::RustCrypto(d)) => {
                RustCrypto.ecdsa_sign(alg, secret, d, rng, out)
            }
            (Self::Custom(p), BackendDigest::Custom(d)) => {
                p.get().ecdsa_sign(alg, secret, d, rng, out)
            }
            _ => mismatch(),
        }
    }
    fn ecdsa_verify(
        &self,
        alg: SignatureAlg,
        public_key: &[u8],
        digest: Self::Digest,
        signature: &[u8],
    ) -> Result<(), AuthFailed> {
        #[allow(unreachable_patterns)]
        match (self, digest) {
            // A failed helper thread is an invalid signature: nothing is released.
            (_, BackendDigest::Pipelined(d)) => {
                let d = d.finish().map_err(|_| AuthFailed)?;
                self.ecdsa_verify(alg, public_key, d, signature)
            }
            (Self::Pipelined(p), d) => p.base().ecdsa_verify(alg, public_key, d, signature),
            #[cfg(feature = "aws-lc")]
            (Self::AwsLc, BackendDigest::AwsLc(d)) => {
                AwsLc.ecdsa_verify(alg, public_key, d, signature)
            }
            #[cfg(feature = "rustcrypto")]
            (Self::RustCrypto, BackendDigest::RustCrypto(d)) => {
                RustCrypto.ecdsa_verify(alg, public_key, d, signature)
            }
            (Self::Custom(p), BackendDigest::Custom(d)) => {
                p.get().ecdsa_verify(alg, public_key, d, signature)
            }
            _ => Err(AuthFailed),
        }
    }
}

/// Dispatches a [`StdProvider`] call on the backend.
macro_rules! ext {
    ($v:expr, $p:ident => $e:expr) => {
        match $v {
            #[cfg(feature = "aws-lc")]
            Backend::AwsLc => {
                let $p = &AwsLc;
                $e
            }
            #[cfg(feature = "rustcrypto")]
            Backend::RustCrypto => {
                let $p = &RustCrypto;
                $e
            }
            Backend::Custom(c) => {
                let $p = c.get().ext();
                $e
            }
            Backend::Pipelined(pb) => {
                let $p = pb.base();
                $e
            }
        }
    };
}

impl StdProvider for Backend {
    fn hash(&self, alg: HashAlg, parts: &[&[u8]], out: &mut [u8]) -> Result<usize, CryptoError> {
        ext!(self, p => p.hash(alg, parts, out))
    }
    fn hmac(
        &self,
        alg: HashAlg,
        key: &[u8],
        parts: &[&[u8]],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        ext!(self, p => p.hmac(alg, key, parts, out))
    }
    fn ecdh_public_key(
        &self,
        curve: EcdhCurve,
        private: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        ext!(self, p => p.ecdh_public_key(curve, private, out))
    }
    fn ecdh_agree(
        &self,
        curve: EcdhCurve,
        private: &[u8],
        peer: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        ext!(self, p => p.ecdh_agree(curve, private, peer, out))
    }
    fn ec_private_key_from_der(
        &self,
        curve: EcdhCurve,
        der: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        ext!(self, p => p.ec_private_key_from_der(curve, der, out))
    }
    fn ec_private_key_to_pkcs8(
        &self,
        curve: EcdhCurve,
        private: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
        ext!(self, p => p.ec_private_key_to_pkcs8(curve, private))
    }
    fn ec_public_key_from_sec1(
        &self,
        curve: EcdhCurve,
        point: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        ext!(self, p => p.ec_public_key_from_sec1(curve, point, out))
    }
    fn ec_public_key_from_spki(
        &self,
        curve: EcdhCurve,
        der: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        ext!(self, p => p.ec_public_key_from_spki(curve, der, out))
    }
    fn ec_public_key_to_spki(
        &self,
        curve: EcdhCurve,
        point: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        ext!(self, p => p.ec_public_key_to_spki(curve, point))
    }
    fn rsa_decrypting_key(
        &self,
        encoding: RsaKeyEncoding,
        der: &[u8],
    ) -> Result<Arc<dyn RsaDecryptingKey>, RsaKeyError> {
        ext!(self, p => p.rsa_decrypting_key(encoding, der))
    }
    fn rsa_encrypting_key(
        &self,
        encoding: RsaKeyEncoding,
        der: &[u8],
    ) -> Result<Arc<dyn RsaEncryptingKey>, RsaKeyError> {
        ext!(self, p => p.rsa_encrypting_key(encoding, der))
    }
    fn rsa_side_channel_safe(&self) -> bool {
        ext!(self, p => p.rsa_side_channel_safe())
    }
}
