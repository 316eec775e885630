//! The default provider on RustCrypto crates: `aes-gcm`, `hkdf`, `sha2`, `p256`, `p384`.
//!
//! It carries only what the built suites need: ECDSA P-256 with feature `ecdsa-p256`, P-384 with
//! `ecdsa-p384`, HKDF-SHA-256 (and HKDF-SHA-384 with `ecdsa-p384`) with `non-committing`. A left-out
//! algorithm is [`CryptoError::UnsupportedAlgorithm`] (or [`AuthFailed`] for a verification).
// Without either curve the ECDSA methods only report the missing algorithm.
#![cfg_attr(
    not(any(feature = "ecdsa-p256", feature = "ecdsa-p384")),
    allow(unused_variables, unused_macros)
)]

use super::{AeadKey, AuthFailed, CryptoProvider, Gmac, RunningDigest};
use crate::error::CryptoError;
use crate::suite::{HashAlg, SignatureAlg};
use aes::cipher::consts::U16;
use aes::cipher::{BlockEncrypt, BlockSizeUser, KeyInit};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{AesGcm, Nonce, Tag};
use ghash::GHash;
use ghash::universal_hash::UniversalHash;
use rand_core::CryptoRngCore;
#[cfg(any(feature = "ecdsa-p256", feature = "ecdsa-p384"))]
use sha2::Digest as _;

/// The pure-Rust default provider. Stateless and free to copy.
#[derive(Clone, Copy, Debug, Default)]
pub struct RustCrypto;

type Aes192Gcm = AesGcm<aes::Aes192, aes_gcm::aead::consts::U12>;

/// A prepared AES-GCM key (the key schedule and the GHASH key zeroize on drop).
///
/// One AES key schedule per key: the incremental GMAC of the header tag needs only the GHASH key
/// `H` (kept here) and `E_K(J0)`, which is the AES-GCM tag of an empty plaintext with an empty
/// AAD (whose GHASH is zero). A second schedule would double the size of every decryptor and
/// encryptor state (issue 18: stack and RAM budgets).
pub struct RustCryptoAeadKey {
    inner: KeyInner,
    h: [u8; 16],
}

// The variants differ by the AES key-schedule size; boxing would need an allocator (no_std).
#[allow(clippy::large_enum_variant)]
enum KeyInner {
    A128(aes_gcm::Aes128Gcm),
    A192(Aes192Gcm),
    A256(aes_gcm::Aes256Gcm),
}

impl Drop for RustCryptoAeadKey {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.h.zeroize();
    }
}

/// The GHASH key `H = E_K(0^128)`; the temporary key schedule zeroizes on drop.
fn ghash_key<C: BlockEncrypt + KeyInit + BlockSizeUser<BlockSize = U16>>(
    key: &[u8],
) -> Result<[u8; 16], CryptoError> {
    let cipher = C::new_from_slice(key).map_err(|_| CryptoError::InvalidKey)?;
    let mut block = ghash::Block::default();
    cipher.encrypt_block(&mut block);
    let mut h = [0u8; 16];
    h.copy_from_slice(&block);
    block.iter_mut().for_each(|b| *b = 0);
    Ok(h)
}

impl core::fmt::Debug for RustCryptoAeadKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RustCryptoAeadKey(<redacted>)")
    }
}

/// Incremental GMAC over GHASH (`ghash` crate); key material zeroizes on drop.
pub struct RustCryptoGmac {
    ghash: GHash,
    mask: [u8; 16],
    carry: [u8; 16],
    carry_len: usize,
    total: u64,
}

impl core::fmt::Debug for RustCryptoGmac {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RustCryptoGmac(<redacted>)")
    }
}

impl Drop for RustCryptoGmac {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.mask.zeroize();
        self.carry.zeroize();
    }
}

impl RustCryptoGmac {
    /// From the GHASH key `h` and `mask = E_K(J0)`.
    fn new(h: &[u8; 16], mask: [u8; 16]) -> Self {
        let ghash = GHash::new(ghash::Key::from_slice(h));
        Self {
            ghash,
            mask,
            carry: [0; 16],
            carry_len: 0,
            total: 0,
        }
    }
}

impl Gmac for RustCryptoGmac {
    fn update(&mut self, aad: &[u8]) {
        self.total = self.total.wrapping_add(aad.len() as u64);
        let mut rest = aad;
        if self.carry_len > 0 {
            let take = (16 - self.carry_len).min(rest.len());
            let (head, tail) = rest.split_at(take);
            if let Some(dst) = self.carry.get_mut(self.carry_len..self.carry_len + take) {
                dst.copy_from_slice(head);
            }
            self.carry_len += take;
            rest = tail;
            if self.carry_len == 16 {
                self.ghash.update_padded(&self.carry);
                self.carry_len = 0;
            }
        }
        let bulk = rest.len() - rest.len() % 16;
        let (full, tail) = rest.split_at(bulk);
        if !full.is_empty() {
            self.ghash.update_padded(full);
        }
        if !tail.is_empty() {
            if let Some(dst) = self.carry.get_mut(..tail.len()) {
                dst.copy_from_slice(tail);
            }
            self.carry_len = tail.len();
        }
    }

    fn finalize(mut self) -> [u8; 16] {
        if self.carry_len > 0 {
            let n = self.carry_len;
            let carry = self.carry;
            self.ghash.update_padded(carry.get(..n).unwrap_or(&[]));
        }
        let mut len_block = ghash::Block::default();
        // AAD length in bits (first 8 bytes); the ciphertext length is 0.
        for (d, s) in len_block
            .iter_mut()
            .zip(self.total.wrapping_mul(8).to_be_bytes())
        {
            *d = s;
        }
        self.ghash.update(&[len_block]);
        let s = self.ghash.clone().finalize();
        let mut tag = [0u8; 16];
        for ((t, a), b) in tag.iter_mut().zip(s.iter()).zip(self.mask.iter()) {
            *t = a ^ b;
        }
        tag
    }
}

impl AeadKey for RustCryptoAeadKey {
    fn seal_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; 16], CryptoError> {
        let nonce = Nonce::from_slice(iv);
        let tag = match &self.inner {
            KeyInner::A128(k) => k.encrypt_in_place_detached(nonce, aad, buf),
            KeyInner::A192(k) => k.encrypt_in_place_detached(nonce, aad, buf),
            KeyInner::A256(k) => k.encrypt_in_place_detached(nonce, aad, buf),
        }
        .map_err(|_| CryptoError::Other)?;
        Ok(tag.into())
    }

    fn open_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), AuthFailed> {
        let nonce = Nonce::from_slice(iv);
        let tag = Tag::from_slice(tag);
        // aes-gcm checks the tag before applying the keystream: on failure `buf` is untouched.
        match &self.inner {
            KeyInner::A128(k) => k.decrypt_in_place_detached(nonce, aad, buf, tag),
            KeyInner::A192(k) => k.decrypt_in_place_detached(nonce, aad, buf, tag),
            KeyInner::A256(k) => k.decrypt_in_place_detached(nonce, aad, buf, tag),
        }
        .map_err(|_| AuthFailed)
    }

    type Gmac = RustCryptoGmac;

    fn gmac(&self, iv: &[u8; 12]) -> Result<Self::Gmac, CryptoError> {
        // E_K(J0) is the tag of AES-GCM over nothing: GHASH of the zero length block is zero.
        let mask = self.seal_in_place(iv, &[], &mut [])?;
        Ok(RustCryptoGmac::new(&self.h, mask))
    }
}

/// Running SHA-256 or SHA-384.
#[derive(Clone, Debug)]
#[allow(clippy::large_enum_variant)] // with one curve left out, the other variant is a unit
pub enum RustCryptoDigest {
    /// SHA-256 (P-256 suites).
    #[cfg(feature = "ecdsa-p256")]
    Sha256(sha2::Sha256),
    /// SHA-384 (P-384 suites).
    #[cfg(feature = "ecdsa-p384")]
    Sha384(sha2::Sha384),
    /// The digest of a signature algorithm this build left out (its Cargo feature is off):
    /// absorbs nothing, and signing or verifying with it fails.
    #[cfg(not(all(feature = "ecdsa-p256", feature = "ecdsa-p384")))]
    NotBuilt,
}

impl RunningDigest for RustCryptoDigest {
    #[inline]
    fn update(&mut self, data: &[u8]) {
        match self {
            #[cfg(feature = "ecdsa-p256")]
            Self::Sha256(h) => h.update(data),
            #[cfg(feature = "ecdsa-p384")]
            Self::Sha384(h) => h.update(data),
            #[cfg(not(all(feature = "ecdsa-p256", feature = "ecdsa-p384")))]
            Self::NotBuilt => {
                let _ = data;
            }
        }
    }
}

fn hkdf_any(
    hash: HashAlg,
    salt: &[u8],
    ikm: &[u8],
    outs: &mut [(&[&[u8]], &mut [u8])],
) -> Result<(), CryptoError> {
    let salt = if salt.is_empty() { None } else { Some(salt) };
    macro_rules! run {
        ($h:ty) => {{
            let hk = hkdf::Hkdf::<$h>::new(salt, ikm);
            for (info, okm) in outs.iter_mut() {
                hk.expand_multi_info(info, okm)
                    .map_err(|_| CryptoError::Other)?;
            }
        }};
    }
    // Only the hashes of the built suites: SHA-256 for the non-committing HKDF suites, SHA-384
    // for the non-committing P-384 ones, SHA-512 for the committing ones.
    match hash {
        #[cfg(feature = "non-committing")]
        HashAlg::Sha256 => run!(sha2::Sha256),
        #[cfg(all(feature = "non-committing", feature = "ecdsa-p384"))]
        HashAlg::Sha384 => run!(sha2::Sha384),
        HashAlg::Sha512 => run!(sha2::Sha512),
        #[cfg(not(all(feature = "non-committing", feature = "ecdsa-p384")))]
        #[allow(unreachable_patterns)]
        _ => return Err(CryptoError::UnsupportedAlgorithm),
    }
    Ok(())
}

/// Runs `$body` with `$c` naming the curve crate of `$alg`, or evaluates `$missing` when this
/// build left the curve out.
macro_rules! with_curve {
    ($alg:expr, $missing:expr, $c:ident => $body:expr) => {
        match $alg {
            #[cfg(feature = "ecdsa-p256")]
            SignatureAlg::EcdsaP256Sha256 => {
                use p256 as $c;
                $body
            }
            #[cfg(feature = "ecdsa-p384")]
            SignatureAlg::EcdsaP384Sha384 => {
                use p384 as $c;
                $body
            }
            #[cfg(not(all(feature = "ecdsa-p256", feature = "ecdsa-p384")))]
            #[allow(unreachable_patterns)]
            _ => $missing,
        }
    };
}

impl CryptoProvider for RustCrypto {
    type AeadKey = RustCryptoAeadKey;
    type Digest = RustCryptoDigest;

    fn aead_key(&self, key: &[u8]) -> Result<Self::AeadKey, CryptoError> {
        let e = |_| CryptoError::InvalidKey;
        let (inner, h) = match key.len() {
            16 => (
                KeyInner::A128(aes_gcm::Aes128Gcm::new_from_slice(key).map_err(e)?),
                ghash_key::<aes::Aes128>(key)?,
            ),
            24 => (
                KeyInner::A192(Aes192Gcm::new_from_slice(key).map_err(e)?),
                ghash_key::<aes::Aes192>(key)?,
            ),
            32 => (
                KeyInner::A256(aes_gcm::Aes256Gcm::new_from_slice(key).map_err(e)?),
                ghash_key::<aes::Aes256>(key)?,
            ),
            _ => return Err(CryptoError::InvalidKey),
        };
        Ok(RustCryptoAeadKey { inner, h })
    }

    fn hkdf(
        &self,
        hash: HashAlg,
        salt: &[u8],
        ikm: &[u8],
        info: &[&[u8]],
        okm: &mut [u8],
    ) -> Result<(), CryptoError> {
        hkdf_any(hash, salt, ikm, &mut [(info, okm)])
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
        hkdf_any(hash, salt, ikm, &mut [(info1, okm1), (info2, okm2)])
    }

    fn digest(&self, alg: SignatureAlg) -> Self::Digest {
        match alg {
            #[cfg(feature = "ecdsa-p256")]
            SignatureAlg::EcdsaP256Sha256 => RustCryptoDigest::Sha256(sha2::Sha256::new()),
            #[cfg(feature = "ecdsa-p384")]
            SignatureAlg::EcdsaP384Sha384 => RustCryptoDigest::Sha384(sha2::Sha384::new()),
            #[cfg(not(all(feature = "ecdsa-p256", feature = "ecdsa-p384")))]
            #[allow(unreachable_patterns)]
            _ => RustCryptoDigest::NotBuilt,
        }
    }

    fn ecdsa_generate(
        &self,
        alg: SignatureAlg,
        rng: &mut dyn CryptoRngCore,
        secret: &mut [u8],
    ) -> Result<(), CryptoError> {
        with_curve!(alg, Err(CryptoError::UnsupportedAlgorithm), c => {
            let sk = c::ecdsa::SigningKey::random(&mut &mut *rng);
            let bytes = sk.to_bytes();
            let dst = secret.get_mut(..bytes.len()).ok_or(CryptoError::InvalidKey)?;
            dst.copy_from_slice(&bytes);
            Ok(())
        })
    }

    fn ecdsa_generate_pair(
        &self,
        alg: SignatureAlg,
        rng: &mut dyn CryptoRngCore,
        secret: &mut [u8],
        public: &mut [u8],
    ) -> Result<usize, CryptoError> {
        // One scalar multiplication: the public point is computed once, from the fresh scalar.
        with_curve!(alg, Err(CryptoError::UnsupportedAlgorithm), c => {
            let scalar = c::NonZeroScalar::random(&mut &mut *rng);
            let bytes = zeroize::Zeroizing::new(scalar.to_bytes());
            let dst = secret.get_mut(..bytes.len()).ok_or(CryptoError::InvalidKey)?;
            dst.copy_from_slice(&bytes);
            let point = ecdsa::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(
                &c::PublicKey::from_secret_scalar(&scalar),
                true,
            );
            let b = point.as_bytes();
            let dst = public.get_mut(..b.len()).ok_or(CryptoError::InvalidKey)?;
            dst.copy_from_slice(b);
            Ok(b.len())
        })
    }

    fn ecdsa_public_key(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        with_curve!(alg, Err(CryptoError::UnsupportedAlgorithm), c => {
            let sk = c::ecdsa::SigningKey::from_slice(secret).map_err(|_| CryptoError::InvalidKey)?;
            let point = sk.verifying_key().to_encoded_point(true);
            let b = point.as_bytes();
            let dst = out.get_mut(..b.len()).ok_or(CryptoError::InvalidKey)?;
            dst.copy_from_slice(b);
            Ok(b.len())
        })
    }

    fn ecdsa_check_public_key(
        &self,
        alg: SignatureAlg,
        public_key: &[u8],
    ) -> Result<(), CryptoError> {
        with_curve!(alg, Err(CryptoError::UnsupportedAlgorithm), c => {
            c::ecdsa::VerifyingKey::from_sec1_bytes(public_key).map(|_| ()).map_err(|_| CryptoError::InvalidKey)
        })
    }

    fn ecdsa_sign(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        digest: Self::Digest,
        rng: &mut dyn CryptoRngCore,
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        #[cfg(any(feature = "ecdsa-p256", feature = "ecdsa-p384"))]
        use ecdsa::hazmat::{SignPrimitive, bits2field};
        let want = alg.fixed_signature_len();
        let dst = out.get_mut(..want).ok_or(CryptoError::Signing)?;
        // Sign with the scalar itself (RFC 6979 k with fresh random additional data), rather
        // than through `SigningKey`, whose constructor computes the public key: that would cost
        // a second scalar multiplication per signature.
        macro_rules! sign {
            ($c:ident, $curve:ty, $hash:ty, $h:expr) => {{
                let prehash = $h.finalize();
                let scalar =
                    $c::NonZeroScalar::try_from(secret).map_err(|_| CryptoError::InvalidKey)?;
                let z = bits2field::<$curve>(&prehash).map_err(|_| CryptoError::Signing)?;
                // Re-sign with fresh randomness until one of (s, n − s) gives the fixed DER
                // length (r or s needs a leading zero byte): almost always the first attempt.
                for _ in 0..64 {
                    let mut ad = [0u8; 48];
                    rng.try_fill_bytes(&mut ad).map_err(|_| CryptoError::Rng)?;
                    let (sig, _) = (*scalar)
                        .try_sign_prehashed_rfc6979::<$hash>(&z, &ad)
                        .map_err(|_| CryptoError::Signing)?;
                    let sig: $c::ecdsa::Signature = sig;
                    let low = sig.normalize_s().unwrap_or(sig);
                    let (r, s) = low.split_scalars();
                    let high = $c::ecdsa::Signature::from_scalars(r, -s)
                        .map_err(|_| CryptoError::Signing)?;
                    for candidate in [low, high] {
                        let der = candidate.to_der();
                        if der.as_bytes().len() == want {
                            dst.copy_from_slice(der.as_bytes());
                            return Ok(want);
                        }
                    }
                }
                Err(CryptoError::Signing)
            }};
        }
        match (alg, digest) {
            #[cfg(feature = "ecdsa-p256")]
            (SignatureAlg::EcdsaP256Sha256, RustCryptoDigest::Sha256(h)) => {
                sign!(p256, p256::NistP256, sha2::Sha256, h)
            }
            #[cfg(feature = "ecdsa-p384")]
            (SignatureAlg::EcdsaP384Sha384, RustCryptoDigest::Sha384(h)) => {
                sign!(p384, p384::NistP384, sha2::Sha384, h)
            }
            _ => Err(CryptoError::UnsupportedAlgorithm),
        }
    }

    fn ecdsa_verify(
        &self,
        alg: SignatureAlg,
        public_key: &[u8],
        digest: Self::Digest,
        signature: &[u8],
    ) -> Result<(), AuthFailed> {
        #[cfg(any(feature = "ecdsa-p256", feature = "ecdsa-p384"))]
        use ecdsa::signature::hazmat::PrehashVerifier;
        with_curve!(alg, Err(AuthFailed), c => {
            let prehash = match (alg, digest) {
                #[cfg(feature = "ecdsa-p256")]
                (SignatureAlg::EcdsaP256Sha256, RustCryptoDigest::Sha256(h)) => h.finalize().to_vec_heapless(),
                #[cfg(feature = "ecdsa-p384")]
                (SignatureAlg::EcdsaP384Sha384, RustCryptoDigest::Sha384(h)) => h.finalize().to_vec_heapless(),
                #[allow(unreachable_patterns)]
                _ => return Err(AuthFailed),
            };
            let vk = c::ecdsa::VerifyingKey::from_sec1_bytes(public_key).map_err(|_| AuthFailed)?;
            let sig = c::ecdsa::Signature::from_der(signature).map_err(|_| AuthFailed)?;
            vk.verify_prehash(&prehash, &sig).map_err(|_| AuthFailed)
        })
    }
}

#[cfg(any(feature = "ecdsa-p256", feature = "ecdsa-p384"))]
trait ToHeaplessVec {
    fn to_vec_heapless(&self) -> heapless::Vec<u8, 64>;
}
#[cfg(any(feature = "ecdsa-p256", feature = "ecdsa-p384"))]
impl<N: aes_gcm::aead::generic_array::ArrayLength<u8>> ToHeaplessVec
    for aes_gcm::aead::generic_array::GenericArray<u8, N>
{
    fn to_vec_heapless(&self) -> heapless::Vec<u8, 64> {
        heapless::Vec::from_slice(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gmac_matches_aes_gcm_for_any_split() {
        let p = RustCrypto;
        for key_len in [16usize, 24, 32] {
            let key = p.aead_key(&[7u8; 32][..key_len]).unwrap();
            let iv = [3u8; 12];
            let aad: heapless::Vec<u8, 100> = (0..100u8).collect();
            let expect = key.seal_in_place(&iv, &aad, &mut []).unwrap();
            for a in 0..=aad.len() {
                for b in a..=aad.len() {
                    let mut mac = key.gmac(&iv).unwrap();
                    mac.update(&aad[..a]);
                    mac.update(&aad[a..b]);
                    mac.update(&aad[b..]);
                    assert_eq!(mac.finalize(), expect, "{a} {b}");
                }
            }
        }
    }

    #[test]
    fn open_fails_without_touching_buffer() {
        let p = RustCrypto;
        let key = p.aead_key(&[1u8; 32]).unwrap();
        let mut buf = *b"hello world";
        let tag = key.seal_in_place(&[0; 12], b"aad", &mut buf).unwrap();
        let ct = buf;
        let mut bad = tag;
        bad[0] ^= 1;
        assert_eq!(
            key.open_in_place(&[0; 12], b"aad", &mut buf, &bad),
            Err(AuthFailed)
        );
        assert_eq!(buf, ct);
        key.open_in_place(&[0; 12], b"aad", &mut buf, &tag).unwrap();
        assert_eq!(&buf, b"hello world");
    }

    #[test]
    #[cfg(all(feature = "ecdsa-p256", feature = "ecdsa-p384"))]
    fn fixed_length_signatures_verify() {
        let p = RustCrypto;
        let mut rng = rand_core::OsRng;
        for alg in [SignatureAlg::EcdsaP256Sha256, SignatureAlg::EcdsaP384Sha384] {
            let mut sk = [0u8; 48];
            let sk = &mut sk[..alg.secret_len()];
            p.ecdsa_generate(alg, &mut rng, sk).unwrap();
            let mut pk = [0u8; 49];
            let n = p.ecdsa_public_key(alg, sk, &mut pk).unwrap();
            assert_eq!(n, alg.compressed_public_key_len());
            for i in 0..20u8 {
                let mut d = p.digest(alg);
                d.update(&[i; 10]);
                let mut sig = [0u8; 104];
                let len = p
                    .ecdsa_sign(alg, sk, d.clone(), &mut rng, &mut sig)
                    .unwrap();
                assert_eq!(len, alg.fixed_signature_len());
                p.ecdsa_verify(alg, &pk[..n], d.clone(), &sig[..len])
                    .unwrap();
                sig[10] ^= 1;
                assert!(p.ecdsa_verify(alg, &pk[..n], d, &sig[..len]).is_err());
            }
        }
    }
}
