//! Test-only crypto: a provider a fuzzer can forge messages for, a logging wrapper around any
//! provider, and deterministic randomness.
//!
//! [`FuzzCrypto`] is **not cryptography**: its "AEAD" is a keyed XOR with a checksum tag, its
//! GMAC always returns [`GMAC_MARKER`], and its "signatures" are checksums. Every check also
//! accepts a marker ([`TAG_MARKER`], [`SIG_MARKER`]) so that a fuzzer that mutates a message
//! still gets past authentication and reaches frames, final frames and footers. It lives in the
//! fuzz crate and in tests only.

use core::cell::RefCell;
use esdk_core::crypto::{AeadKey, AuthFailed, CryptoProvider, Gmac, RunningDigest};
use esdk_core::error::CryptoError;
use esdk_core::suite::{HashAlg, SignatureAlg};
use rand_core::{CryptoRng, CryptoRngCore, RngCore};
use std::rc::Rc;

/// A frame tag [`FuzzCrypto`] always accepts (and writes in marker mode).
pub const TAG_MARKER: [u8; 16] = *b"FUZZ-AEAD-MARKER";
/// What every [`FuzzCrypto`] GMAC returns: the header tag of every forged message.
pub const GMAC_MARKER: [u8; 16] = *b"FUZZ-GMAC-MARKER";
/// A footer signature starting with these bytes always verifies under [`FuzzCrypto`].
pub const SIG_MARKER: &[u8; 7] = b"FUZZSIG";

/// A 128-bit checksum (two multiply-xor lanes). Any change of one byte changes lane `a`.
#[derive(Clone, Debug)]
struct Mix {
    a: u64,
    b: u64,
    n: u64,
}

impl Mix {
    fn new(domain: u64) -> Self {
        Self {
            a: 0x243f_6a88_85a3_08d3 ^ domain,
            b: 0x1319_8a2e_0370_7344 ^ domain.rotate_left(29),
            n: 0,
        }
    }
    fn bytes(&mut self, data: &[u8]) {
        for &x in data {
            self.a = (self.a ^ u64::from(x)).wrapping_mul(0x0000_0100_0000_01b3);
            self.b = (self.b ^ u64::from(x))
                .wrapping_mul(0x9e37_79b9_7f4a_7c15)
                .rotate_left(23);
        }
        self.n = self.n.wrapping_add(data.len() as u64);
    }
    /// Absorbs a length-prefixed part (so that part boundaries matter).
    fn part(&mut self, data: &[u8]) {
        self.bytes(&(data.len() as u64).to_be_bytes());
        self.bytes(data);
    }
    fn finish(&self) -> [u8; 16] {
        let a = (self.a ^ self.n).wrapping_mul(0xff51_afd7_ed55_8ccd);
        let b = (self.b ^ (self.a >> 29)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&a.to_be_bytes());
        out[8..].copy_from_slice(&b.to_be_bytes());
        out
    }
}

/// The fuzzing-only provider. `Default` is the plain mode: checksum tags and signatures.
#[derive(Clone, Debug, Default)]
pub struct FuzzCrypto {
    /// Seal with [`TAG_MARKER`] and sign with [`SIG_MARKER`] instead of checksums.
    pub marker: bool,
    /// Forces the `COMMITKEY` output of [`CryptoProvider::hkdf_two`] (to re-create a header's
    /// stored commitment).
    pub commit_key: Option<[u8; 32]>,
    /// Forces the public key of every signing key (to re-create a header's public key entry).
    pub public_key: Option<Vec<u8>>,
}

/// A [`FuzzCrypto`] key.
#[derive(Clone, Debug)]
pub struct FuzzKey {
    key: [u8; 32],
    len: usize,
    marker: bool,
}

impl FuzzKey {
    fn keystream(&self, iv: &[u8; 12], buf: &mut [u8]) {
        let key = &self.key[..self.len];
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[i % key.len()] ^ iv[i % 12] ^ (i as u8) ^ ((i >> 8) as u8) ^ 0x5c;
        }
    }
    fn tag(&self, iv: &[u8; 12], aad: &[u8], ct: &[u8]) -> [u8; 16] {
        let mut m = Mix::new(1);
        m.part(&self.key[..self.len]);
        m.part(iv);
        m.part(aad);
        m.part(ct);
        m.finish()
    }
}

impl AeadKey for FuzzKey {
    type Gmac = FuzzGmac;

    fn seal_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; 16], CryptoError> {
        self.keystream(iv, buf);
        Ok(if self.marker {
            TAG_MARKER
        } else {
            self.tag(iv, aad, buf)
        })
    }

    fn open_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), AuthFailed> {
        let ok = *tag == TAG_MARKER || *tag == self.tag(iv, aad, buf);
        // A careless provider: it decrypts whether or not the tag verifies, so the buffer holds
        // would-be plaintext on failure. The decryptor must never release it.
        self.keystream(iv, buf);
        if ok { Ok(()) } else { Err(AuthFailed) }
    }

    fn gmac(&self, _iv: &[u8; 12]) -> Result<FuzzGmac, CryptoError> {
        Ok(FuzzGmac { absorbed: 0 })
    }
}

/// A [`FuzzCrypto`] GMAC: absorbs everything, returns [`GMAC_MARKER`].
#[derive(Clone, Debug)]
pub struct FuzzGmac {
    absorbed: usize,
}

impl Gmac for FuzzGmac {
    fn update(&mut self, aad: &[u8]) {
        self.absorbed = self.absorbed.saturating_add(aad.len());
    }
    fn finalize(self) -> [u8; 16] {
        GMAC_MARKER
    }
}

/// A [`FuzzCrypto`] running digest (a checksum).
#[derive(Clone, Debug)]
pub struct FuzzDigest(Mix);

impl RunningDigest for FuzzDigest {
    fn update(&mut self, data: &[u8]) {
        self.0.bytes(data);
    }
}

fn sig_domain(alg: SignatureAlg) -> u64 {
    match alg {
        SignatureAlg::EcdsaP256Sha256 => 256,
        SignatureAlg::EcdsaP384Sha384 => 384,
    }
}

impl FuzzCrypto {
    /// The provider in marker mode.
    pub fn marker() -> Self {
        Self {
            marker: true,
            ..Self::default()
        }
    }

    fn signature(alg: SignatureAlg, public_key: &[u8], digest: &FuzzDigest) -> Vec<u8> {
        let mut m = Mix::new(7);
        m.part(public_key);
        m.part(&digest.0.finish());
        let mut sig = vec![0u8; alg.fixed_signature_len()];
        sig[..16].copy_from_slice(&m.finish());
        sig
    }

    fn okm(hash: HashAlg, salt: &[u8], ikm: &[u8], info: &[&[u8]], okm: &mut [u8]) {
        let domain = hash.output_len() as u64;
        for (i, chunk) in okm.chunks_mut(16).enumerate() {
            let mut m = Mix::new(domain ^ ((i as u64) << 32));
            m.part(salt);
            m.part(ikm);
            for p in info {
                m.part(p);
            }
            let block = m.finish();
            chunk.copy_from_slice(&block[..chunk.len()]);
        }
    }
}

impl CryptoProvider for FuzzCrypto {
    type AeadKey = FuzzKey;
    type Digest = FuzzDigest;

    fn aead_key(&self, key: &[u8]) -> Result<FuzzKey, CryptoError> {
        if !matches!(key.len(), 16 | 24 | 32) {
            return Err(CryptoError::InvalidKey);
        }
        let mut k = [0u8; 32];
        k[..key.len()].copy_from_slice(key);
        Ok(FuzzKey {
            key: k,
            len: key.len(),
            marker: self.marker,
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
        Self::okm(hash, salt, ikm, info, okm);
        Ok(())
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
        Self::okm(hash, salt, ikm, info1, okm1);
        match (self.commit_key, okm2.len()) {
            (Some(c), 32) => okm2.copy_from_slice(&c),
            // The commitment ignores the salt (the message id), so a fuzzer that mutates the
            // message id of a forged message keeps a valid commitment.
            _ => Self::okm(hash, &[], ikm, info2, okm2),
        }
        Ok(())
    }

    fn digest(&self, alg: SignatureAlg) -> FuzzDigest {
        FuzzDigest(Mix::new(sig_domain(alg)))
    }

    fn ecdsa_generate(
        &self,
        _alg: SignatureAlg,
        rng: &mut dyn CryptoRngCore,
        secret: &mut [u8],
    ) -> Result<(), CryptoError> {
        rng.try_fill_bytes(secret).map_err(|_| CryptoError::Rng)
    }

    fn ecdsa_public_key(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        let n = alg.compressed_public_key_len();
        let out = out.get_mut(..n).ok_or(CryptoError::InvalidKey)?;
        match &self.public_key {
            Some(pk) if pk.len() == n => out.copy_from_slice(pk),
            Some(_) => return Err(CryptoError::InvalidKey),
            None => {
                if secret.len() != alg.secret_len() {
                    return Err(CryptoError::InvalidKey);
                }
                out[0] = 2 | (secret[0] & 1);
                out[1..].copy_from_slice(&secret[..n - 1]);
            }
        }
        Ok(n)
    }

    fn ecdsa_check_public_key(
        &self,
        alg: SignatureAlg,
        public_key: &[u8],
    ) -> Result<(), CryptoError> {
        // Like a point-on-curve check, some well-formed encodings are refused.
        match public_key.split_first() {
            Some((2 | 3, rest))
                if public_key.len() == alg.compressed_public_key_len()
                    && rest.iter().any(|&b| b != 0) =>
            {
                Ok(())
            }
            _ => Err(CryptoError::InvalidKey),
        }
    }

    fn ecdsa_sign(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        digest: FuzzDigest,
        _rng: &mut dyn CryptoRngCore,
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        let n = alg.fixed_signature_len();
        let out = out.get_mut(..n).ok_or(CryptoError::Signing)?;
        if self.marker {
            out.fill(b'S');
            out[..SIG_MARKER.len()].copy_from_slice(SIG_MARKER);
        } else {
            let mut pk = [0u8; 49];
            let len = self.ecdsa_public_key(alg, secret, &mut pk)?;
            out.copy_from_slice(&Self::signature(alg, &pk[..len], &digest));
        }
        Ok(n)
    }

    fn ecdsa_verify(
        &self,
        alg: SignatureAlg,
        public_key: &[u8],
        digest: FuzzDigest,
        signature: &[u8],
    ) -> Result<(), AuthFailed> {
        if signature.starts_with(SIG_MARKER)
            || signature == Self::signature(alg, public_key, &digest).as_slice()
        {
            Ok(())
        } else {
            Err(AuthFailed)
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// What a [`Logged`] provider saw.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A frame (or body) open: whether the tag verified, and the plaintext when it did.
    Open {
        /// The tag verified.
        ok: bool,
        /// The decrypted bytes (empty when `ok` is false).
        plaintext: Vec<u8>,
    },
    /// A footer signature check and its outcome.
    Verify {
        /// The signature verified.
        ok: bool,
    },
}

/// The shared event log of a [`Logged`] provider.
pub type Log = Rc<RefCell<Vec<Event>>>;

/// Wraps a provider and records every AEAD open and signature check, so a driver can prove that
/// each released plaintext is exactly what a successful open produced.
#[derive(Clone, Debug)]
pub struct Logged<P> {
    inner: P,
    log: Log,
}

impl<P> Logged<P> {
    /// Wraps `inner`; returns the provider and its log.
    pub fn new(inner: P) -> (Self, Log) {
        let log = Log::default();
        (
            Self {
                inner,
                log: log.clone(),
            },
            log,
        )
    }
}

/// A [`Logged`] provider's key.
#[derive(Debug)]
pub struct LoggedKey<K> {
    inner: K,
    log: Log,
}

impl<K: AeadKey> AeadKey for LoggedKey<K> {
    type Gmac = K::Gmac;

    fn seal_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; 16], CryptoError> {
        self.inner.seal_in_place(iv, aad, buf)
    }

    fn open_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), AuthFailed> {
        let res = self.inner.open_in_place(iv, aad, buf, tag);
        self.log.borrow_mut().push(Event::Open {
            ok: res.is_ok(),
            plaintext: if res.is_ok() {
                buf.to_vec()
            } else {
                Vec::new()
            },
        });
        res
    }

    fn gmac(&self, iv: &[u8; 12]) -> Result<K::Gmac, CryptoError> {
        self.inner.gmac(iv)
    }
}

impl<P: CryptoProvider> CryptoProvider for Logged<P> {
    type AeadKey = LoggedKey<P::AeadKey>;
    type Digest = P::Digest;

    fn aead_key(&self, key: &[u8]) -> Result<Self::AeadKey, CryptoError> {
        Ok(LoggedKey {
            inner: self.inner.aead_key(key)?,
            log: self.log.clone(),
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
        self.inner.hkdf(hash, salt, ikm, info, okm)
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
        self.inner
            .hkdf_two(hash, salt, ikm, info1, okm1, info2, okm2)
    }

    fn digest(&self, alg: SignatureAlg) -> Self::Digest {
        self.inner.digest(alg)
    }

    fn ecdsa_generate(
        &self,
        alg: SignatureAlg,
        rng: &mut dyn CryptoRngCore,
        secret: &mut [u8],
    ) -> Result<(), CryptoError> {
        self.inner.ecdsa_generate(alg, rng, secret)
    }

    fn ecdsa_public_key(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        self.inner.ecdsa_public_key(alg, secret, out)
    }

    fn ecdsa_check_public_key(
        &self,
        alg: SignatureAlg,
        public_key: &[u8],
    ) -> Result<(), CryptoError> {
        self.inner.ecdsa_check_public_key(alg, public_key)
    }

    fn ecdsa_sign(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        digest: Self::Digest,
        rng: &mut dyn CryptoRngCore,
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        self.inner.ecdsa_sign(alg, secret, digest, rng, out)
    }

    fn ecdsa_verify(
        &self,
        alg: SignatureAlg,
        public_key: &[u8],
        digest: Self::Digest,
        signature: &[u8],
    ) -> Result<(), AuthFailed> {
        let res = self.inner.ecdsa_verify(alg, public_key, digest, signature);
        self.log
            .borrow_mut()
            .push(Event::Verify { ok: res.is_ok() });
        res
    }
}

// ---------------------------------------------------------------------------------------------

/// Deterministic randomness (SplitMix64) that first hands out a scripted prefix, e.g. to make
/// the encryptor choose a given message id.
#[derive(Clone, Debug)]
pub struct DetRng {
    state: u64,
    script: Vec<u8>,
    pos: usize,
}

impl DetRng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            state: seed,
            script: Vec::new(),
            pos: 0,
        }
    }
    /// A generator whose first bytes are `script`.
    pub fn scripted(script: &[u8], seed: u64) -> Self {
        Self {
            state: seed,
            script: script.to_vec(),
            pos: 0,
        }
    }
}

impl RngCore for DetRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for d in dest {
            if let Some(&s) = self.script.get(self.pos) {
                self.pos += 1;
                *d = s;
                continue;
            }
            self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            *d = (z ^ (z >> 31)) as u8;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for DetRng {}
