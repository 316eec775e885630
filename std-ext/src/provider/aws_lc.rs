//! The aws-lc-rs provider: AES-GCM, HKDF, SHA-2 and ECDSA from AWS-LC (the C library behind
//! aws-lc-rs, with assembly AES-GCM and constant-time P-256/P-384).

use crate::keyring::raw_ecdh::EcdhCurve;
use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::digest;
use aws_lc_rs::encoding::{AsBigEndian, EcPublicKeyCompressedBin};
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair as _};
use esdk_core::crypto::{AeadKey, AuthFailed, CryptoProvider, Gmac, RunningDigest};
use esdk_core::error::CryptoError;
use esdk_core::suite::{HashAlg, SignatureAlg};
use rand_core::CryptoRngCore;
use std::sync::Arc;
use zeroize::{Zeroize, Zeroizing};

/// The aws-lc-rs provider. Stateless and free to copy.
#[derive(Clone, Copy, Debug, Default)]
pub struct AwsLc;

/// A prepared AES-GCM key (AWS-LC zeroizes its key schedule on drop).
pub struct AwsLcAeadKey(Arc<LessSafeKey>);

impl core::fmt::Debug for AwsLcAeadKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AwsLcAeadKey(<redacted>)")
    }
}

/// Incremental GMAC. AWS-LC exposes no GHASH, so the (public) AAD is collected and
/// authenticated in one AES-GCM call at [`Gmac::finalize`]; the header's AAD is bounded by the
/// decryptor's header limits, and collecting it costs one copy of the header.
pub struct AwsLcGmac {
    key: Arc<LessSafeKey>,
    iv: [u8; 12],
    aad: Vec<u8>,
}

impl core::fmt::Debug for AwsLcGmac {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AwsLcGmac")
            .field("aad_len", &self.aad.len())
            .finish_non_exhaustive()
    }
}

impl Gmac for AwsLcGmac {
    fn update(&mut self, aad: &[u8]) {
        self.aad.extend_from_slice(aad);
    }
    fn finalize(self) -> [u8; 16] {
        let mut tag = [0u8; 16];
        // Sealing an empty plaintext cannot fail for a valid key and a 12-byte nonce; should it
        // ever, the all-zero tag below simply fails verification (and a sealed header would not
        // verify anywhere), so no invariant is silently broken.
        if let Ok(t) = self.key.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(self.iv),
            Aad::from(&self.aad[..]),
            &mut [],
        ) {
            tag.copy_from_slice(t.as_ref());
        }
        tag
    }
}

impl AeadKey for AwsLcAeadKey {
    fn seal_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; 16], CryptoError> {
        let tag = self
            .0
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(*iv), Aad::from(aad), buf)
            .map_err(|_| CryptoError::Other)?;
        let mut out = [0u8; 16];
        out.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    fn open_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), AuthFailed> {
        match self.0.open_in_place_separate_tag(
            Nonce::assume_unique_for_key(*iv),
            Aad::from(aad),
            tag,
            buf,
        ) {
            Ok(_) => Ok(()),
            Err(_) => {
                // AWS-LC decrypts before it compares the tag; it clears the output on failure,
                // and so do we, so no unauthenticated plaintext is ever left in `buf`.
                buf.zeroize();
                Err(AuthFailed)
            }
        }
    }

    /// AWS-LC's out-of-place sealing: one pass from `plaintext` to `out`, no copy.
    fn seal_to(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        plaintext: &[u8],
        out: &mut [u8],
    ) -> Result<[u8; 16], CryptoError> {
        let mut tag = [0u8; 16];
        self.0
            .seal_out_of_place_scatter(
                Nonce::assume_unique_for_key(*iv),
                Aad::from(aad),
                plaintext,
                out,
                &[],
                &mut tag,
            )
            .map_err(|_| CryptoError::Other)?;
        Ok(tag)
    }

    /// AWS-LC's out-of-place opening: one pass from `ciphertext` to `out`, no copy.
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
        self.0
            .open_separate_gather(
                Nonce::assume_unique_for_key(*iv),
                Aad::from(aad),
                ciphertext,
                tag,
                out,
            )
            .map_err(|_| {
                // `out` "may have been overwritten in an unspecified way": wipe it, so no
                // unauthenticated plaintext is left behind.
                out.zeroize();
                AuthFailed
            })
    }

    type Gmac = AwsLcGmac;

    fn gmac(&self, iv: &[u8; 12]) -> Result<Self::Gmac, CryptoError> {
        Ok(AwsLcGmac {
            key: Arc::clone(&self.0),
            iv: *iv,
            aad: Vec::new(),
        })
    }
}

/// Running SHA-256 or SHA-384.
#[derive(Clone)]
pub struct AwsLcDigest(digest::Context);

impl core::fmt::Debug for AwsLcDigest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "AwsLcDigest({:?})", self.0.algorithm())
    }
}

impl RunningDigest for AwsLcDigest {
    #[inline]
    fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
}

/// HKDF (RFC 5869) on aws-lc's HMAC, each keyed HMAC state computed once: one extraction,
/// then every expansion of `outs` (info parts, output) from the PRK's keyed state. aws-lc-rs's
/// `Prk::expand` runs the whole HKDF, extraction included, on each call, and AWS-LC keys the
/// HMAC afresh in each `HKDF_expand`: the committing key schedule (two 32-byte outputs) took
/// 16 SHA-512 compressions that way, 10 here (2 to key the salt, 2 to extract, 2 to key the
/// PRK, 2 per output). The PRK and every `T(i)` live only in wiped buffers.
fn hkdf_each(
    hash: HashAlg,
    salt: &[u8],
    ikm: &[u8],
    outs: &mut [(&[&[u8]], &mut [u8])],
) -> Result<(), CryptoError> {
    use aws_lc_rs::hmac;
    let alg = match hash {
        HashAlg::Sha256 => hmac::HMAC_SHA256,
        HashAlg::Sha384 => hmac::HMAC_SHA384,
        HashAlg::Sha512 => hmac::HMAC_SHA512,
    };
    let hash_len = alg.digest_algorithm().output_len;
    // An empty salt keys HMAC exactly as HashLen zeros would (keys are zero-padded).
    let mut prk_buf = Zeroizing::new([0u8; digest::MAX_OUTPUT_LEN]);
    let prk = hmac::sign_to_buffer(&hmac::Key::new(alg, salt), ikm, &mut prk_buf[..])
        .map_err(|_| CryptoError::Other)?;
    let key = hmac::Key::new(alg, prk);
    // T(i) = HMAC(PRK, T(i-1) ‖ info ‖ i), its input assembled in one wiped buffer, reserved
    // once (never reallocated, so no copy of T(i-1) is left in freed memory).
    let longest = outs
        .iter()
        .map(|(info, _)| info.iter().map(|p| p.len()).sum::<usize>())
        .max()
        .unwrap_or(0);
    let mut input = Zeroizing::new(Vec::with_capacity(hash_len + longest + 1));
    let mut t = Zeroizing::new([0u8; digest::MAX_OUTPUT_LEN]);
    for (info, okm) in outs.iter_mut() {
        input.clear();
        for (i, chunk) in okm.chunks_mut(hash_len).enumerate() {
            let counter = u8::try_from(i + 1).map_err(|_| CryptoError::Other)?;
            for part in info.iter() {
                input.extend_from_slice(part);
            }
            input.push(counter);
            let block =
                hmac::sign_to_buffer(&key, &input, &mut t[..]).map_err(|_| CryptoError::Other)?;
            chunk.copy_from_slice(block.get(..chunk.len()).ok_or(CryptoError::Other)?);
            input.clear();
            input.extend_from_slice(block);
        }
    }
    Ok(())
}

fn signing_alg(alg: SignatureAlg) -> &'static signature::EcdsaSigningAlgorithm {
    match alg {
        SignatureAlg::EcdsaP256Sha256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        SignatureAlg::EcdsaP384Sha384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
    }
}

fn verify_alg(alg: SignatureAlg) -> &'static signature::EcdsaVerificationAlgorithm {
    match alg {
        SignatureAlg::EcdsaP256Sha256 => &signature::ECDSA_P256_SHA256_ASN1,
        SignatureAlg::EcdsaP384Sha384 => &signature::ECDSA_P384_SHA384_ASN1,
    }
}

/// The group order `n`, big-endian.
fn order(alg: SignatureAlg) -> &'static [u8] {
    const P256_N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
        0x25, 0x51,
    ];
    const P384_N: [u8; 48] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37,
        0x2d, 0xdf, 0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc,
        0xc5, 0x29, 0x73,
    ];
    match alg {
        SignatureAlg::EcdsaP256Sha256 => &P256_N,
        SignatureAlg::EcdsaP384Sha384 => &P384_N,
    }
}

/// `a < b` for equal-length big-endian integers, in constant time.
fn ct_less_than(a: &[u8], b: &[u8]) -> bool {
    // Scan from the least significant byte: the borrow out of `a - b` is set iff a < b.
    let mut borrow = 0u16;
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        let d = u16::from(*x)
            .wrapping_sub(u16::from(*y))
            .wrapping_sub(borrow);
        borrow = (d >> 8) & 1;
    }
    borrow == 1
}

/// An RFC 5915 `ECPrivateKey` holding only the scalar and the curve (AWS-LC computes the public
/// point when it parses it).
fn ec_private_key_der(alg: SignatureAlg, secret: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    const P256_OID: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384_OID: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
    let oid: &[u8] = match alg {
        SignatureAlg::EcdsaP256Sha256 => &P256_OID,
        SignatureAlg::EcdsaP384Sha384 => &P384_OID,
    };
    if secret.len() != alg.secret_len() {
        return Err(CryptoError::InvalidKey);
    }
    let body_len = 3 + 2 + secret.len() + 2 + oid.len();
    let mut der = Zeroizing::new(Vec::with_capacity(2 + body_len));
    der.extend_from_slice(&[
        0x30,
        u8::try_from(body_len).map_err(|_| CryptoError::InvalidKey)?,
    ]);
    der.extend_from_slice(&[0x02, 0x01, 0x01, 0x04]);
    der.push(u8::try_from(secret.len()).map_err(|_| CryptoError::InvalidKey)?);
    der.extend_from_slice(secret);
    der.push(0xa0);
    der.push(u8::try_from(oid.len()).map_err(|_| CryptoError::InvalidKey)?);
    der.extend_from_slice(oid);
    Ok(der)
}

fn key_pair(alg: SignatureAlg, secret: &[u8]) -> Result<EcdsaKeyPair, CryptoError> {
    let der = ec_private_key_der(alg, secret)?;
    EcdsaKeyPair::from_private_key_der(signing_alg(alg), &der).map_err(|_| CryptoError::InvalidKey)
}

fn write_compressed(kp: &EcdsaKeyPair, out: &mut [u8]) -> Result<usize, CryptoError> {
    let bin: EcPublicKeyCompressedBin<'static> = kp
        .public_key()
        .as_be_bytes()
        .map_err(|_| CryptoError::Other)?;
    let b = bin.as_ref();
    out.get_mut(..b.len())
        .ok_or(CryptoError::InvalidKey)?
        .copy_from_slice(b);
    Ok(b.len())
}

/// Splits a DER `ECDSA-Sig-Value` into its minimal big-endian `r` and `s` (without sign bytes).
fn der_split(der: &[u8]) -> Option<(&[u8], &[u8])> {
    fn int(b: &[u8]) -> Option<(&[u8], &[u8])> {
        let (&tag, rest) = b.split_first()?;
        let (&len, rest) = rest.split_first()?;
        if tag != 0x02 || len >= 0x80 || rest.len() < usize::from(len) {
            return None;
        }
        let (v, rest) = rest.split_at(usize::from(len));
        let v = match v.split_first() {
            Some((0, tail)) => tail,
            _ => v,
        };
        Some((v, rest))
    }
    let (&tag, rest) = der.split_first()?;
    let (&len, rest) = rest.split_first()?;
    if tag != 0x30 || len >= 0x80 || rest.len() != usize::from(len) {
        return None;
    }
    let (r, rest) = int(rest)?;
    let (s, rest) = int(rest)?;
    rest.is_empty().then_some((r, s))
}

/// Length of the DER INTEGER encoding of a non-negative big-endian value.
fn der_int_len(v: &[u8]) -> usize {
    let v = strip(v);
    let pad = usize::from(v.first().is_none_or(|b| b & 0x80 != 0));
    2 + v.len() + pad
}

fn strip(v: &[u8]) -> &[u8] {
    let zeros = v.iter().take_while(|b| **b == 0).count();
    v.get(zeros..).unwrap_or(&[])
}

fn der_push_int(out: &mut Vec<u8>, v: &[u8]) {
    let v = strip(v);
    let pad = v.first().is_none_or(|b| b & 0x80 != 0);
    let len = v.len() + usize::from(pad);
    out.push(0x02);
    out.push(u8::try_from(len).unwrap_or(0));
    if pad {
        out.push(0);
    }
    out.extend_from_slice(v);
}

/// `n - s` as a big-endian value of `n`'s length (`0 < s < n`).
fn negate(n: &[u8], s: &[u8]) -> Vec<u8> {
    let mut padded = vec![0u8; n.len().saturating_sub(s.len())];
    padded.extend_from_slice(s);
    let mut out = vec![0u8; n.len()];
    let mut borrow = 0i16;
    for ((o, x), y) in out
        .iter_mut()
        .rev()
        .zip(n.iter().rev())
        .zip(padded.iter().rev())
    {
        let mut d = i16::from(*x) - i16::from(*y) - borrow;
        borrow = 0;
        if d < 0 {
            d += 256;
            borrow = 1;
        }
        *o = u8::try_from(d).unwrap_or(0);
    }
    out
}

impl CryptoProvider for AwsLc {
    type AeadKey = AwsLcAeadKey;
    type Digest = AwsLcDigest;

    fn aead_key(&self, key: &[u8]) -> Result<Self::AeadKey, CryptoError> {
        let alg = match key.len() {
            16 => &aead::AES_128_GCM,
            24 => &aead::AES_192_GCM,
            32 => &aead::AES_256_GCM,
            _ => return Err(CryptoError::InvalidKey),
        };
        let unbound = UnboundKey::new(alg, key).map_err(|_| CryptoError::InvalidKey)?;
        Ok(AwsLcAeadKey(Arc::new(LessSafeKey::new(unbound))))
    }

    fn hkdf(
        &self,
        hash: HashAlg,
        salt: &[u8],
        ikm: &[u8],
        info: &[&[u8]],
        okm: &mut [u8],
    ) -> Result<(), CryptoError> {
        hkdf_each(hash, salt, ikm, &mut [(info, okm)])
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
        hkdf_each(hash, salt, ikm, &mut [(info1, okm1), (info2, okm2)])
    }

    fn digest(&self, alg: SignatureAlg) -> Self::Digest {
        AwsLcDigest(digest::Context::new(match alg {
            SignatureAlg::EcdsaP256Sha256 => &digest::SHA256,
            SignatureAlg::EcdsaP384Sha384 => &digest::SHA384,
        }))
    }

    fn ecdsa_generate(
        &self,
        alg: SignatureAlg,
        rng: &mut dyn CryptoRngCore,
        secret: &mut [u8],
    ) -> Result<(), CryptoError> {
        let n = order(alg);
        let dst = secret.get_mut(..n.len()).ok_or(CryptoError::InvalidKey)?;
        // Rejection sampling from the caller's RNG: a uniform scalar in [1, n - 1]. For both
        // curves a draw is rejected with probability below 2^-32.
        for _ in 0..64 {
            rng.try_fill_bytes(dst).map_err(|_| CryptoError::Rng)?;
            let nonzero = dst.iter().fold(0u8, |a, b| a | b) != 0;
            if nonzero && ct_less_than(dst, n) {
                return Ok(());
            }
        }
        dst.zeroize();
        Err(CryptoError::Rng)
    }

    fn ecdsa_generate_pair(
        &self,
        alg: SignatureAlg,
        rng: &mut dyn CryptoRngCore,
        secret: &mut [u8],
        public: &mut [u8],
    ) -> Result<usize, CryptoError> {
        self.ecdsa_generate(alg, rng, secret)?;
        let scalar = secret
            .get(..alg.secret_len())
            .ok_or(CryptoError::InvalidKey)?;
        let kp = key_pair(alg, scalar)?;
        let n = write_compressed(&kp, public)?;
        prepared::keep(alg, scalar, kp);
        Ok(n)
    }

    fn ecdsa_public_key(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        write_compressed(&key_pair(alg, secret)?, out)
    }

    fn ecdsa_check_public_key(
        &self,
        alg: SignatureAlg,
        public_key: &[u8],
    ) -> Result<(), CryptoError> {
        signature::UnparsedPublicKey::new(verify_alg(alg), public_key)
            .parse()
            .map(|_| ())
            .map_err(|_| CryptoError::InvalidKey)
    }

    fn ecdsa_sign(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        digest: Self::Digest,
        _rng: &mut dyn CryptoRngCore,
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        // AWS-LC draws the nonce itself (from its own DRBG, mixed with the key and digest).
        let want = alg.fixed_signature_len();
        let dst = out.get_mut(..want).ok_or(CryptoError::Signing)?;
        let kp = match prepared::take(alg, secret) {
            Some(kp) => kp,
            None => key_pair(alg, secret)?,
        };
        let digest = digest.0.finish();
        let n = order(alg);
        for _ in 0..64 {
            let sig = kp.sign_digest(&digest).map_err(|_| CryptoError::Signing)?;
            let (r, s) = der_split(sig.as_ref()).ok_or(CryptoError::Signing)?;
            // (r, s) and (r, n - s) are both valid: pick the one with the fixed DER length.
            let neg = negate(n, s);
            for s in [s, strip(&neg)] {
                let body = der_int_len(r) + der_int_len(s);
                if 2 + body == want {
                    let mut der = Vec::with_capacity(want);
                    der.push(0x30);
                    der.push(u8::try_from(body).map_err(|_| CryptoError::Signing)?);
                    der_push_int(&mut der, r);
                    der_push_int(&mut der, s);
                    dst.copy_from_slice(&der);
                    return Ok(want);
                }
            }
        }
        Err(CryptoError::Signing)
    }

    fn ecdsa_verify(
        &self,
        alg: SignatureAlg,
        public_key: &[u8],
        digest: Self::Digest,
        signature: &[u8],
    ) -> Result<(), AuthFailed> {
        let digest = digest.0.finish();
        signature::UnparsedPublicKey::new(verify_alg(alg), public_key)
            .verify_digest(&digest, signature)
            .map_err(|_| AuthFailed)
    }
}

impl super::StdProvider for AwsLc {
    fn hash(&self, alg: HashAlg, parts: &[&[u8]], out: &mut [u8]) -> Result<usize, CryptoError> {
        let mut h = digest::Context::new(match alg {
            HashAlg::Sha256 => &digest::SHA256,
            HashAlg::Sha384 => &digest::SHA384,
            HashAlg::Sha512 => &digest::SHA512,
        });
        for p in parts {
            h.update(p);
        }
        super::ext::put(out, h.finish().as_ref())
    }

    fn hmac(
        &self,
        alg: HashAlg,
        key: &[u8],
        parts: &[&[u8]],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        use aws_lc_rs::hmac;
        let key = hmac::Key::new(
            match alg {
                HashAlg::Sha256 => hmac::HMAC_SHA256,
                HashAlg::Sha384 => hmac::HMAC_SHA384,
                HashAlg::Sha512 => hmac::HMAC_SHA512,
            },
            key,
        );
        let mut m = hmac::Context::with_key(&key);
        for p in parts {
            m.update(p);
        }
        super::ext::put(out, m.sign().as_ref())
    }

    fn ecdh_public_key(
        &self,
        curve: EcdhCurve,
        private: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        let k = ecdh_private(curve, private)?;
        let public = k.compute_public_key().map_err(|_| CryptoError::Other)?;
        let bin: EcPublicKeyCompressedBin<'static> =
            public.as_be_bytes().map_err(|_| CryptoError::Other)?;
        super::ext::put(out, bin.as_ref())
    }

    fn ecdh_agree(
        &self,
        curve: EcdhCurve,
        private: &[u8],
        peer: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        use aws_lc_rs::agreement;
        // Only SEC1 points: aws-lc-rs would also take a SubjectPublicKeyInfo here.
        if !matches!(peer.first(), Some(2..=4)) {
            return Err(CryptoError::InvalidKey);
        }
        let k = ecdh_private(curve, private)?;
        let peer = agreement::UnparsedPublicKey::new(ecdh_alg(curve), peer);
        agreement::agree(&k, peer, CryptoError::InvalidKey, |z| {
            super::ext::put(out, z)
        })
    }

    fn ec_private_key_from_der(
        &self,
        curve: EcdhCurve,
        der: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        use aws_lc_rs::encoding::EcPrivateKeyBin;
        // PKCS#8 or RFC 5915; AWS-LC checks the curve and the scalar.
        let k = aws_lc_rs::agreement::PrivateKey::from_private_key_der(ecdh_alg(curve), der)
            .map_err(|_| CryptoError::InvalidKey)?;
        let scalar: EcPrivateKeyBin<'static> =
            k.as_be_bytes().map_err(|_| CryptoError::InvalidKey)?;
        if scalar.as_ref().len() != super::ext::scalar_len(curve) {
            return Err(CryptoError::InvalidKey);
        }
        super::ext::put(out, scalar.as_ref())
    }

    fn ec_private_key_to_pkcs8(
        &self,
        curve: EcdhCurve,
        private: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
        let k = ecdh_private(curve, private)?;
        let der: Pkcs8V1Der<'static> = k.as_der().map_err(|_| CryptoError::Other)?;
        Ok(Zeroizing::new(der.as_ref().to_vec()))
    }

    fn ec_public_key_from_sec1(
        &self,
        curve: EcdhCurve,
        point: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        use aws_lc_rs::agreement::{ParsedPublicKey, ParsedPublicKeyFormat, UnparsedPublicKey};
        // Only compressed and uncompressed points (AWS-LC would also take hybrid ones).
        if !matches!(point.first(), Some(2..=4)) {
            return Err(CryptoError::InvalidKey);
        }
        let parsed = ParsedPublicKey::try_from(&UnparsedPublicKey::new(ecdh_alg(curve), point))
            .map_err(|_| CryptoError::InvalidKey)?;
        if !matches!(
            parsed.format(),
            ParsedPublicKeyFormat::Compressed | ParsedPublicKeyFormat::Uncompressed
        ) {
            return Err(CryptoError::InvalidKey);
        }
        super::ext::compress_point(curve, point, out)
    }

    fn ec_public_key_from_spki(
        &self,
        curve: EcdhCurve,
        der: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        use aws_lc_rs::agreement::{ParsedPublicKey, ParsedPublicKeyFormat, UnparsedPublicKey};
        let point = super::ext::spki_point(der).ok_or(CryptoError::InvalidKey)?;
        // AWS-LC checks the algorithm, the curve and the point.
        let parsed = ParsedPublicKey::try_from(&UnparsedPublicKey::new(ecdh_alg(curve), der))
            .map_err(|_| CryptoError::InvalidKey)?;
        if parsed.format() != ParsedPublicKeyFormat::X509 {
            return Err(CryptoError::InvalidKey);
        }
        super::ext::compress_point(curve, point, out)
    }

    fn ec_public_key_to_spki(
        &self,
        curve: EcdhCurve,
        point: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
        let alg = match curve {
            EcdhCurve::P256 => &signature::ECDSA_P256_SHA256_ASN1,
            EcdhCurve::P384 => &signature::ECDSA_P384_SHA384_ASN1,
            EcdhCurve::P521 => &signature::ECDSA_P521_SHA512_ASN1,
        };
        if !matches!(point.first(), Some(2..=4)) {
            return Err(CryptoError::InvalidKey);
        }
        let parsed =
            signature::ParsedPublicKey::new(alg, point).map_err(|_| CryptoError::InvalidKey)?;
        let der: PublicKeyX509Der<'static> = parsed.as_der().map_err(|_| CryptoError::Other)?;
        Ok(der.as_ref().to_vec())
    }

    fn rsa_decrypting_key(
        &self,
        encoding: super::rsa::RsaKeyEncoding,
        der: &[u8],
    ) -> Result<Arc<dyn super::rsa::RsaDecryptingKey>, crate::rsa_key::RsaKeyError> {
        super::rsa::aws_lc::Private::parse(encoding, der)
    }

    fn rsa_encrypting_key(
        &self,
        encoding: super::rsa::RsaKeyEncoding,
        der: &[u8],
    ) -> Result<Arc<dyn super::rsa::RsaEncryptingKey>, crate::rsa_key::RsaKeyError> {
        super::rsa::aws_lc::Public::parse(encoding, der)
    }

    /// `true`: AWS-LC's RSA is blinded, with constant-time arithmetic and padding checks.
    fn rsa_side_channel_safe(&self) -> bool {
        true
    }
}

fn ecdh_alg(curve: EcdhCurve) -> &'static aws_lc_rs::agreement::Algorithm {
    use aws_lc_rs::agreement;
    match curve {
        EcdhCurve::P256 => &agreement::ECDH_P256,
        EcdhCurve::P384 => &agreement::ECDH_P384,
        EcdhCurve::P521 => &agreement::ECDH_P521,
    }
}

fn ecdh_private(
    curve: EcdhCurve,
    private: &[u8],
) -> Result<aws_lc_rs::agreement::PrivateKey, CryptoError> {
    if private.len() != super::ext::scalar_len(curve) {
        return Err(CryptoError::InvalidKey);
    }
    aws_lc_rs::agreement::PrivateKey::from_private_key(ecdh_alg(curve), private)
        .map_err(|_| CryptoError::InvalidKey)
}

/// The signing key built at generation, kept for the message's one signature.
///
/// AWS-LC can only build a signing key from a scalar by computing its public point and then
/// checking it (two scalar multiplications); signing itself is one more. A signed message
/// generates its key ([`CryptoProvider::ecdsa_generate_pair`]) and signs once at the end, so
/// the key built at generation is kept in a one-slot, per-thread store and taken by the
/// signature when the scalar matches (compared in constant time). Otherwise (the signature is
/// made on another thread, or another key was generated in between on this one) the key is
/// rebuilt: the same signature, one rebuild slower. The slot holds at most one key per thread;
/// it is released by the signature, replaced by the next generation, or freed (and cleared by
/// AWS-LC) when the thread ends.
mod prepared {
    use super::{EcdsaKeyPair, SignatureAlg};
    use std::cell::RefCell;
    use subtle::ConstantTimeEq as _;
    use zeroize::Zeroizing;

    struct Slot {
        alg: SignatureAlg,
        scalar: Zeroizing<Vec<u8>>,
        key: EcdsaKeyPair,
    }

    thread_local! {
        static SLOT: RefCell<Option<Slot>> = const { RefCell::new(None) };
    }

    pub(super) fn keep(alg: SignatureAlg, scalar: &[u8], key: EcdsaKeyPair) {
        let slot = Slot {
            alg,
            scalar: Zeroizing::new(scalar.to_vec()),
            key,
        };
        // During thread teardown the store may be gone: then nothing is kept.
        let _ = SLOT.try_with(|s| *s.borrow_mut() = Some(slot));
    }

    /// The kept key of `scalar`, if this thread holds it (another key stays kept).
    pub(super) fn take(alg: SignatureAlg, scalar: &[u8]) -> Option<EcdsaKeyPair> {
        SLOT.try_with(|s| {
            let mut s = s.borrow_mut();
            let same = s
                .as_ref()
                .is_some_and(|k| k.alg == alg && bool::from(k.scalar.as_slice().ct_eq(scalar)));
            if same { s.take().map(|k| k.key) } else { None }
        })
        .ok()
        .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::hkdf;

    /// An HKDF output length for aws-lc-rs.
    struct Len(usize);
    impl hkdf::KeyType for Len {
        fn len(&self) -> usize {
            self.0
        }
    }

    fn hkdf_alg(hash: HashAlg) -> hkdf::Algorithm {
        match hash {
            HashAlg::Sha256 => hkdf::HKDF_SHA256,
            HashAlg::Sha384 => hkdf::HKDF_SHA384,
            HashAlg::Sha512 => hkdf::HKDF_SHA512,
        }
    }

    fn hkdf_expand(prk: &hkdf::Prk, info: &[&[u8]], okm: &mut [u8]) -> Result<(), CryptoError> {
        prk.expand(info, Len(okm.len()))
            .and_then(|o| o.fill(okm))
            .map_err(|_| CryptoError::Other)
    }

    /// `hkdf_each` against aws-lc-rs's own HKDF (AWS-LC's `HKDF`), every hash, empty and
    /// non-empty salts, multi-part infos, output lengths across block boundaries up to the
    /// RFC 5869 maximum, and two outputs from one extraction.
    #[test]
    fn hkdf_each_equals_aws_lc_hkdf() {
        for hash in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
            let hash_len = hkdf_alg(hash)
                .hmac_algorithm()
                .digest_algorithm()
                .output_len;
            for salt in [&[][..], &[1u8; 32][..], &[2u8; 200][..]] {
                for len in [0usize, 1, 31, 32, 33, 64, 65, 200, 255 * hash_len] {
                    let ikm = [7u8; 32];
                    let info: &[&[u8]] = &[b"\x04\x78", b"DERIVEKEY"];
                    let info2: &[&[u8]] = &[b"COMMITKEY"];
                    let prk = hkdf::Salt::new(hkdf_alg(hash), salt).extract(&ikm);
                    let (mut want1, mut want2) = (vec![0u8; len], vec![0u8; 32]);
                    hkdf_expand(&prk, info, &mut want1).unwrap();
                    hkdf_expand(&prk, info2, &mut want2).unwrap();
                    let (mut got1, mut got2) = (vec![0xAAu8; len], vec![0xAAu8; 32]);
                    hkdf_each(
                        hash,
                        salt,
                        &ikm,
                        &mut [(info, &mut got1), (info2, &mut got2)],
                    )
                    .unwrap();
                    assert_eq!(
                        (got1, got2),
                        (want1, want2),
                        "{hash:?} {} {len}",
                        salt.len()
                    );
                }
            }
            let mut too_long = vec![0u8; 255 * hash_len + 1];
            assert!(hkdf_each(hash, &[], &[1], &mut [(&[], &mut too_long)]).is_err());
        }
    }
}
