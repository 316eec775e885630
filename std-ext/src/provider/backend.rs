//! [`Backend`]: the providers compiled into this crate behind one value.

#[cfg(feature = "aws-lc")]
use super::aws_lc::{AwsLc, AwsLcAeadKey, AwsLcDigest, AwsLcGmac};
#[cfg(feature = "rustcrypto")]
use esdk_core::crypto::rustcrypto::{
    RustCrypto, RustCryptoAeadKey, RustCryptoDigest, RustCryptoGmac,
};
use esdk_core::crypto::{AeadKey, AuthFailed, CryptoProvider, Gmac, RunningDigest};
use esdk_core::error::CryptoError;
use esdk_core::suite::{HashAlg, SignatureAlg};
use rand_core::CryptoRngCore;

/// The crypto provider every layer of this crate uses; see [the module docs](super).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// AWS-LC through `aws-lc-rs` (feature `aws-lc`, the default).
    #[cfg(feature = "aws-lc")]
    AwsLc,
    /// The pure-Rust RustCrypto crates (feature `rustcrypto`).
    #[cfg(feature = "rustcrypto")]
    RustCrypto,
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
    /// Every backend compiled in, the default first.
    pub fn all() -> &'static [Backend] {
        &[
            #[cfg(feature = "aws-lc")]
            Self::AwsLc,
            #[cfg(feature = "rustcrypto")]
            Self::RustCrypto,
        ]
    }
    /// A short name (`"aws-lc"`, `"rustcrypto"`).
    pub fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc => "aws-lc",
            #[cfg(feature = "rustcrypto")]
            Self::RustCrypto => "rustcrypto",
        }
    }
    /// Whether the raw RSA keyring's private-key operation is constant time and blinded in
    /// this build (true when the `aws-lc` feature is on: RSA always uses aws-lc then).
    pub const fn rsa_side_channel_safe() -> bool {
        cfg!(feature = "aws-lc")
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
}

/// A running digest of a [`Backend`].
#[derive(Clone, Debug)]
pub enum BackendDigest {
    /// aws-lc.
    #[cfg(feature = "aws-lc")]
    AwsLc(AwsLcDigest),
    /// RustCrypto.
    #[cfg(feature = "rustcrypto")]
    RustCrypto(RustCryptoDigest),
}

/// Dispatches `$e` on the variant of `$v`, binding the inner value to `$x`.
macro_rules! each {
    ($ty:ident, $v:expr, $x:ident => $e:expr) => {
        match $v {
            #[cfg(feature = "aws-lc")]
            $ty::AwsLc($x) => $e,
            #[cfg(feature = "rustcrypto")]
            $ty::RustCrypto($x) => $e,
        }
    };
}

impl Gmac for BackendGmac {
    #[inline]
    fn update(&mut self, aad: &[u8]) {
        each!(BackendGmac, self, g => g.update(aad))
    }
    fn finalize(self) -> [u8; 16] {
        each!(BackendGmac, self, g => g.finalize())
    }
}

impl RunningDigest for BackendDigest {
    #[inline]
    fn update(&mut self, data: &[u8]) {
        each!(BackendDigest, self, d => d.update(data))
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
    type Gmac = BackendGmac;
    fn gmac(&self, iv: &[u8; 12]) -> Result<Self::Gmac, CryptoError> {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc(k) => k.gmac(iv).map(BackendGmac::AwsLc),
            #[cfg(feature = "rustcrypto")]
            Self::RustCrypto(k) => k.gmac(iv).map(BackendGmac::RustCrypto),
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
        }
    }
    fn digest(&self, alg: SignatureAlg) -> Self::Digest {
        match self {
            #[cfg(feature = "aws-lc")]
            Self::AwsLc => BackendDigest::AwsLc(AwsLc.digest(alg)),
            #[cfg(feature = "rustcrypto")]
            Self::RustCrypto => BackendDigest::RustCrypto(RustCrypto.digest(alg)),
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
            #[cfg(feature = "aws-lc")]
            (Self::AwsLc, BackendDigest::AwsLc(d)) => AwsLc.ecdsa_sign(alg, secret, d, rng, out),
            #[cfg(feature = "rustcrypto")]
            (Self::RustCrypto, BackendDigest::RustCrypto(d)) => {
                RustCrypto.ecdsa_sign(alg, secret, d, rng, out)
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
            #[cfg(feature = "aws-lc")]
            (Self::AwsLc, BackendDigest::AwsLc(d)) => {
                AwsLc.ecdsa_verify(alg, public_key, d, signature)
            }
            #[cfg(feature = "rustcrypto")]
            (Self::RustCrypto, BackendDigest::RustCrypto(d)) => {
                RustCrypto.ecdsa_verify(alg, public_key, d, signature)
            }
            _ => Err(AuthFailed),
        }
    }
}
