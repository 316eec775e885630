//! A user-supplied provider for tests: counts every call and forwards it to RustCrypto (or
//! refuses ECDH, to show that nothing falls back to another backend).
#![allow(dead_code)]

use esdk_core::crypto::rustcrypto::{RustCrypto, RustCryptoAeadKey, RustCryptoDigest};
use esdk_core::crypto::{AeadKey, AuthFailed, CryptoProvider, Gmac, RunningDigest};
use esdk_core::error::CryptoError;
use esdk_core::suite::{HashAlg, SignatureAlg};
use esdk_std::keyring::raw_ecdh::EcdhCurve;
use esdk_std::provider::{RsaDecryptingKey, RsaEncryptingKey, RsaKeyEncoding, StdProvider};
use esdk_std::{RsaKeyError, RsaPadding};
use rand_core::CryptoRngCore;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Call counters.
#[derive(Debug, Default)]
pub struct Counts {
    pub aead_key: AtomicUsize,
    pub seal: AtomicUsize,
    pub open: AtomicUsize,
    /// Of `open`, those made out of place (`open_to`: ciphertext in, plaintext into another
    /// buffer).
    pub open_to: AtomicUsize,
    pub gmac: AtomicUsize,
    pub hkdf: AtomicUsize,
    pub digest: AtomicUsize,
    pub digest_update: AtomicUsize,
    pub ecdsa_generate: AtomicUsize,
    pub ecdsa_sign: AtomicUsize,
    pub ecdsa_verify: AtomicUsize,
    pub hash: AtomicUsize,
    pub hmac: AtomicUsize,
    pub ecdh: AtomicUsize,
    /// EC key parsing, validation and encoding (raw ECDH key objects).
    pub ec_keys: AtomicUsize,
    /// RSA keys parsed (private and public).
    pub rsa_keys: AtomicUsize,
    /// RSA encryptions (raw RSA keyring wraps).
    pub rsa_encrypt: AtomicUsize,
    /// RSA decryptions (raw RSA keyring unwraps).
    pub rsa_decrypt: AtomicUsize,
    /// AEAD seals and opens run on a frame-parallel worker thread (`esdk-frames-N`).
    pub on_workers: AtomicUsize,
}

/// Counts an AEAD call made on a frame-parallel worker thread.
fn bump_if_worker(c: &Counts) {
    if std::thread::current()
        .name()
        .is_some_and(|n| n.starts_with("esdk-frames-"))
    {
        bump(&c.on_workers);
    }
}

fn bump(c: &AtomicUsize) {
    c.fetch_add(1, Ordering::SeqCst);
}

pub fn get(c: &AtomicUsize) -> usize {
    c.load(Ordering::SeqCst)
}

/// Counts and forwards to RustCrypto.
#[derive(Debug, Clone, Default)]
pub struct Counting {
    pub counts: Arc<Counts>,
    /// Refuse the ECDH primitives (`UnsupportedAlgorithm`).
    pub no_ecdh: bool,
    /// Offer no RSA (the `StdProvider` defaults: `RsaKeyError::Unsupported`).
    pub no_rsa: bool,
}

/// A RustCrypto RSA key whose operations are counted.
struct CountingRsa<K: ?Sized> {
    inner: Arc<K>,
    counts: Arc<Counts>,
}

impl RsaDecryptingKey for CountingRsa<dyn RsaDecryptingKey> {
    fn modulus(&self) -> &[u8] {
        self.inner.modulus()
    }
    fn decrypt(
        &self,
        padding: RsaPadding,
        ciphertext: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        bump(&self.counts.rsa_decrypt);
        self.inner.decrypt(padding, ciphertext, out)
    }
}

impl RsaEncryptingKey for CountingRsa<dyn RsaEncryptingKey> {
    fn modulus(&self) -> &[u8] {
        self.inner.modulus()
    }
    fn public_exponent(&self) -> &[u8] {
        self.inner.public_exponent()
    }
    fn encrypt(
        &self,
        padding: RsaPadding,
        plaintext: &[u8],
        rng: &mut dyn CryptoRngCore,
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        bump(&self.counts.rsa_encrypt);
        self.inner.encrypt(padding, plaintext, rng, out)
    }
}

#[derive(Debug)]
pub struct CountingKey {
    inner: RustCryptoAeadKey,
    counts: Arc<Counts>,
}

#[derive(Debug, Clone)]
pub struct CountingDigest {
    inner: RustCryptoDigest,
    counts: Arc<Counts>,
}

impl RunningDigest for CountingDigest {
    fn update(&mut self, data: &[u8]) {
        bump(&self.counts.digest_update);
        self.inner.update(data);
    }
}

pub struct CountingGmac<G>(G);

impl<G: Gmac> Gmac for CountingGmac<G> {
    fn update(&mut self, aad: &[u8]) {
        self.0.update(aad);
    }
    fn finalize(self) -> [u8; 16] {
        self.0.finalize()
    }
}

impl AeadKey for CountingKey {
    fn seal_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; 16], CryptoError> {
        bump(&self.counts.seal);
        bump_if_worker(&self.counts);
        self.inner.seal_in_place(iv, aad, buf)
    }
    fn open_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), AuthFailed> {
        bump(&self.counts.open);
        bump_if_worker(&self.counts);
        self.inner.open_in_place(iv, aad, buf, tag)
    }
    fn open_to(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        ciphertext: &[u8],
        tag: &[u8; 16],
        out: &mut [u8],
    ) -> Result<(), AuthFailed> {
        // Counted as an open (below) and as an out-of-place one; what the default does.
        bump(&self.counts.open_to);
        if ciphertext.len() != out.len() {
            return Err(AuthFailed);
        }
        out.copy_from_slice(ciphertext);
        let r = self.open_in_place(iv, aad, out, tag);
        if r.is_err() {
            out.fill(0);
        }
        r
    }
    type Gmac = CountingGmac<<RustCryptoAeadKey as AeadKey>::Gmac>;
    fn gmac(&self, iv: &[u8; 12]) -> Result<Self::Gmac, CryptoError> {
        bump(&self.counts.gmac);
        self.inner.gmac(iv).map(CountingGmac)
    }
}

impl CryptoProvider for Counting {
    type AeadKey = CountingKey;
    type Digest = CountingDigest;
    fn aead_key(&self, key: &[u8]) -> Result<CountingKey, CryptoError> {
        bump(&self.counts.aead_key);
        Ok(CountingKey {
            inner: RustCrypto.aead_key(key)?,
            counts: Arc::clone(&self.counts),
        })
    }
    fn hkdf(
        &self,
        hash: HashAlg,
        salt: &[u8],
        ikm: &[u8],
        info: &[&[u8]],
        okm: &mut [u8],
    ) -> Result<(), CryptoError> {
        bump(&self.counts.hkdf);
        RustCrypto.hkdf(hash, salt, ikm, info, okm)
    }
    fn digest(&self, alg: SignatureAlg) -> CountingDigest {
        bump(&self.counts.digest);
        CountingDigest {
            inner: RustCrypto.digest(alg),
            counts: Arc::clone(&self.counts),
        }
    }
    fn ecdsa_generate(
        &self,
        alg: SignatureAlg,
        rng: &mut dyn CryptoRngCore,
        secret: &mut [u8],
    ) -> Result<(), CryptoError> {
        bump(&self.counts.ecdsa_generate);
        RustCrypto.ecdsa_generate(alg, rng, secret)
    }
    fn ecdsa_public_key(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        RustCrypto.ecdsa_public_key(alg, secret, out)
    }
    fn ecdsa_check_public_key(&self, alg: SignatureAlg, pk: &[u8]) -> Result<(), CryptoError> {
        RustCrypto.ecdsa_check_public_key(alg, pk)
    }
    fn ecdsa_sign(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        digest: CountingDigest,
        rng: &mut dyn CryptoRngCore,
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        bump(&self.counts.ecdsa_sign);
        RustCrypto.ecdsa_sign(alg, secret, digest.inner, rng, out)
    }
    fn ecdsa_verify(
        &self,
        alg: SignatureAlg,
        pk: &[u8],
        digest: CountingDigest,
        sig: &[u8],
    ) -> Result<(), AuthFailed> {
        bump(&self.counts.ecdsa_verify);
        RustCrypto.ecdsa_verify(alg, pk, digest.inner, sig)
    }
}

impl StdProvider for Counting {
    fn hash(&self, alg: HashAlg, parts: &[&[u8]], out: &mut [u8]) -> Result<usize, CryptoError> {
        bump(&self.counts.hash);
        RustCrypto.hash(alg, parts, out)
    }
    fn hmac(
        &self,
        alg: HashAlg,
        key: &[u8],
        parts: &[&[u8]],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        bump(&self.counts.hmac);
        RustCrypto.hmac(alg, key, parts, out)
    }
    fn ecdh_public_key(
        &self,
        curve: EcdhCurve,
        private: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        if self.no_ecdh {
            return Err(CryptoError::UnsupportedAlgorithm);
        }
        bump(&self.counts.ecdh);
        RustCrypto.ecdh_public_key(curve, private, out)
    }
    fn ecdh_agree(
        &self,
        curve: EcdhCurve,
        private: &[u8],
        peer: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        if self.no_ecdh {
            return Err(CryptoError::UnsupportedAlgorithm);
        }
        bump(&self.counts.ecdh);
        RustCrypto.ecdh_agree(curve, private, peer, out)
    }
    fn ec_private_key_from_der(
        &self,
        curve: EcdhCurve,
        der: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        if self.no_ecdh {
            return Err(CryptoError::UnsupportedAlgorithm);
        }
        bump(&self.counts.ec_keys);
        RustCrypto.ec_private_key_from_der(curve, der, out)
    }
    fn ec_private_key_to_pkcs8(
        &self,
        curve: EcdhCurve,
        private: &[u8],
    ) -> Result<zeroize::Zeroizing<Vec<u8>>, CryptoError> {
        if self.no_ecdh {
            return Err(CryptoError::UnsupportedAlgorithm);
        }
        bump(&self.counts.ec_keys);
        RustCrypto.ec_private_key_to_pkcs8(curve, private)
    }
    fn ec_public_key_from_sec1(
        &self,
        curve: EcdhCurve,
        point: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        if self.no_ecdh {
            return Err(CryptoError::UnsupportedAlgorithm);
        }
        bump(&self.counts.ec_keys);
        RustCrypto.ec_public_key_from_sec1(curve, point, out)
    }
    fn ec_public_key_from_spki(
        &self,
        curve: EcdhCurve,
        der: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        if self.no_ecdh {
            return Err(CryptoError::UnsupportedAlgorithm);
        }
        bump(&self.counts.ec_keys);
        RustCrypto.ec_public_key_from_spki(curve, der, out)
    }
    fn ec_public_key_to_spki(
        &self,
        curve: EcdhCurve,
        point: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        if self.no_ecdh {
            return Err(CryptoError::UnsupportedAlgorithm);
        }
        bump(&self.counts.ec_keys);
        RustCrypto.ec_public_key_to_spki(curve, point)
    }

    fn rsa_decrypting_key(
        &self,
        encoding: RsaKeyEncoding,
        der: &[u8],
    ) -> Result<Arc<dyn RsaDecryptingKey>, RsaKeyError> {
        if self.no_rsa {
            return Err(RsaKeyError::Unsupported);
        }
        bump(&self.counts.rsa_keys);
        let inner = RustCrypto.rsa_decrypting_key(encoding, der)?;
        Ok(Arc::new(CountingRsa {
            inner,
            counts: Arc::clone(&self.counts),
        }))
    }

    fn rsa_encrypting_key(
        &self,
        encoding: RsaKeyEncoding,
        der: &[u8],
    ) -> Result<Arc<dyn RsaEncryptingKey>, RsaKeyError> {
        if self.no_rsa {
            return Err(RsaKeyError::Unsupported);
        }
        bump(&self.counts.rsa_keys);
        let inner = RustCrypto.rsa_encrypting_key(encoding, der)?;
        Ok(Arc::new(CountingRsa {
            inner,
            counts: Arc::clone(&self.counts),
        }))
    }
}
