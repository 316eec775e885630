//! Key types and the key schedule: data key → encryption key (and commitment).
//!
//! All secret types zeroize on drop and print redacted in `Debug`.

use crate::crypto::CryptoProvider;
use crate::error::{CryptoError, Error, MaterialsError};
use crate::suite::{AlgorithmSuite, COMMIT_KEY_LEN, HashAlg, Kdf, SignatureAlg};
use rand_core::CryptoRngCore;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Largest key of any suite (AES-256).
pub const MAX_KEY_LEN: usize = 32;

/// A plaintext data key (16, 24 or 32 bytes).
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey {
    bytes: [u8; MAX_KEY_LEN],
    len: u8,
}

impl core::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "DataKey({} bytes, <redacted>)", self.len)
    }
}

impl PartialEq for DataKey {
    /// Constant-time comparison.
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes().ct_eq(other.as_bytes()).into()
    }
}
impl Eq for DataKey {}

impl DataKey {
    /// Copies a key of 16, 24 or 32 bytes.
    ///
    /// # Errors
    /// [`MaterialsError::DataKeyLength`] for any other length.
    pub fn from_slice(key: &[u8]) -> Result<Self, Error> {
        let len = u8::try_from(key.len())
            .ok()
            .filter(|l| matches!(l, 16 | 24 | 32))
            .ok_or(Error::Materials(MaterialsError::DataKeyLength {
                expected: MAX_KEY_LEN,
                actual: key.len(),
            }))?;
        let mut bytes = [0u8; MAX_KEY_LEN];
        bytes
            .get_mut(..key.len())
            .ok_or(Error::Crypto(CryptoError::InvalidKey))?
            .copy_from_slice(key);
        Ok(Self { bytes, len })
    }
    /// Generates a random data key for `suite`.
    ///
    /// # Errors
    /// [`CryptoError::Rng`] if the generator fails.
    pub fn generate(suite: AlgorithmSuite, rng: &mut dyn CryptoRngCore) -> Result<Self, Error> {
        let mut bytes = [0u8; MAX_KEY_LEN];
        let len = suite.data_key_len();
        rng.try_fill_bytes(
            bytes
                .get_mut(..len)
                .ok_or(Error::Crypto(CryptoError::Other))?,
        )
        .map_err(|_| Error::Crypto(CryptoError::Rng))?;
        let len = u8::try_from(len).map_err(|_| Error::Crypto(CryptoError::Other))?;
        Ok(Self { bytes, len })
    }
    /// The key bytes.
    pub fn as_bytes(&self) -> &[u8] {
        fixed_prefix(&self.bytes, usize::from(self.len))
    }
    /// Key length in bytes.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }
    /// Always false: a data key is never empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// Fails unless the length fits `suite`.
    pub(crate) fn check_suite(&self, suite: AlgorithmSuite) -> Result<(), Error> {
        if self.len() == suite.data_key_len() {
            Ok(())
        } else {
            Err(Error::Materials(MaterialsError::DataKeyLength {
                expected: suite.data_key_len(),
                actual: self.len(),
            }))
        }
    }
}

/// An ECDSA private key for signing a message footer.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SigningKey {
    #[zeroize(skip)]
    alg: SignatureAlg,
    bytes: [u8; 48],
    /// The public key, when known (computed once at generation).
    #[zeroize(skip)]
    public: Option<VerificationKey>,
}

impl core::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SigningKey({:?}, <redacted>)", self.alg)
    }
}

impl SigningKey {
    /// Wraps a private scalar (32 bytes for P-256, 48 for P-384).
    ///
    /// # Errors
    /// [`MaterialsError::InvalidSignatureKey`] for a wrong length.
    pub fn from_bytes(alg: SignatureAlg, secret: &[u8]) -> Result<Self, Error> {
        if secret.len() != alg.secret_len() {
            return Err(Error::Materials(MaterialsError::InvalidSignatureKey));
        }
        let mut bytes = [0u8; 48];
        bytes
            .get_mut(..secret.len())
            .ok_or(Error::Materials(MaterialsError::InvalidSignatureKey))?
            .copy_from_slice(secret);
        Ok(Self {
            alg,
            bytes,
            public: None,
        })
    }
    /// Generates a key with the provider.
    ///
    /// # Errors
    /// A provider or RNG failure.
    pub fn generate<P: CryptoProvider>(
        provider: &P,
        alg: SignatureAlg,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Self, Error> {
        let mut key = Self {
            alg,
            bytes: [0u8; 48],
            public: None,
        };
        let mut public = [0u8; 49];
        let n = provider.ecdsa_generate_pair(
            alg,
            rng,
            key.bytes
                .get_mut(..alg.secret_len())
                .ok_or(Error::Crypto(CryptoError::Other))?,
            &mut public,
        )?;
        key.public = Some(VerificationKey::from_bytes(
            alg,
            public.get(..n).ok_or(Error::Crypto(CryptoError::Other))?,
        )?);
        Ok(key)
    }
    /// The algorithm.
    pub fn algorithm(&self) -> SignatureAlg {
        self.alg
    }
    /// The private scalar.
    pub fn secret_bytes(&self) -> &[u8] {
        fixed_prefix(&self.bytes, self.alg.secret_len())
    }
    /// The SEC1 compressed public key.
    ///
    /// # Errors
    /// A malformed scalar.
    pub fn public_key<P: CryptoProvider>(&self, provider: &P) -> Result<VerificationKey, Error> {
        match self.public {
            Some(k) => Ok(k),
            None => self.compute_public_key(provider),
        }
    }

    fn compute_public_key<P: CryptoProvider>(
        &self,
        provider: &P,
    ) -> Result<VerificationKey, Error> {
        let mut out = [0u8; 49];
        let n = provider.ecdsa_public_key(self.alg, self.secret_bytes(), &mut out)?;
        VerificationKey::from_bytes(
            self.alg,
            out.get(..n).ok_or(Error::Crypto(CryptoError::Other))?,
        )
    }
}

/// An ECDSA public key (SEC1 compressed point).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct VerificationKey {
    alg: SignatureAlg,
    bytes: [u8; 49],
}

impl core::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "VerificationKey({:?})", self.alg)
    }
}

/// Base64 (standard alphabet, padded) length of the largest compressed key (49 bytes).
pub const MAX_PUBLIC_KEY_B64_LEN: usize = 68;

impl VerificationKey {
    /// Wraps a compressed point of the right length for `alg` (not yet checked to be on the
    /// curve: the decryptor checks it with the provider when the materials arrive).
    ///
    /// # Errors
    /// [`MaterialsError::InvalidSignatureKey`] for a wrong length or a non-compressed point.
    pub fn from_bytes(alg: SignatureAlg, point: &[u8]) -> Result<Self, Error> {
        if point.len() != alg.compressed_public_key_len() || !matches!(point.first(), Some(2 | 3)) {
            return Err(Error::Materials(MaterialsError::InvalidSignatureKey));
        }
        let mut bytes = [0u8; 49];
        bytes
            .get_mut(..point.len())
            .ok_or(Error::Materials(MaterialsError::InvalidSignatureKey))?
            .copy_from_slice(point);
        Ok(Self { alg, bytes })
    }
    /// Decodes the base64 value of the `aws-crypto-public-key` encryption context entry.
    ///
    /// # Errors
    /// [`MaterialsError::PublicKeyEntry`] for bad base64 or a wrong length.
    pub fn from_base64(alg: SignatureAlg, b64: &str) -> Result<Self, Error> {
        crate::work::event(crate::work::Event::VerificationKeyDecode);
        use base64::Engine;
        let mut buf = [0u8; 52];
        let n = base64::engine::general_purpose::STANDARD
            .decode_slice(b64.as_bytes(), &mut buf)
            .map_err(|_| Error::Materials(MaterialsError::PublicKeyEntry))?;
        buf.get(..n)
            .ok_or(Error::Materials(MaterialsError::PublicKeyEntry))
            .and_then(|point| Self::from_bytes(alg, point))
            .map_err(|_| Error::Materials(MaterialsError::PublicKeyEntry))
    }
    /// Encodes the key as the `aws-crypto-public-key` value, into `out`; returns the text.
    pub fn to_base64<'o>(&self, out: &'o mut [u8; MAX_PUBLIC_KEY_B64_LEN]) -> &'o str {
        use base64::Engine;
        let n = base64::engine::general_purpose::STANDARD
            .encode_slice(self.as_bytes(), out)
            .unwrap_or(0);
        core::str::from_utf8(out.get(..n).unwrap_or(&[])).unwrap_or("")
    }
    /// The algorithm.
    pub fn algorithm(&self) -> SignatureAlg {
        self.alg
    }
    /// The compressed point.
    pub fn as_bytes(&self) -> &[u8] {
        fixed_prefix(&self.bytes, self.alg.compressed_public_key_len())
    }
}

/// The key that encrypts the header tag and the body, derived from the data key.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct DerivedKey {
    pub(crate) bytes: [u8; MAX_KEY_LEN],
    pub(crate) len: usize,
}

impl DerivedKey {
    pub(crate) fn as_bytes(&self) -> &[u8] {
        fixed_prefix(&self.bytes, self.len)
    }
}

/// Key commitment of a committing suite (the v2 header's suite data).
#[derive(Clone, Copy, Zeroize)]
pub(crate) struct CommitKey(pub(crate) [u8; COMMIT_KEY_LEN]);

impl CommitKey {
    /// Constant-time comparison with the header's suite data.
    pub(crate) fn matches(&self, stored: &[u8]) -> bool {
        self.0.ct_eq(stored).into()
    }
}

/// Derives the encryption key (and the commitment for committing suites).
///
/// * identity: the data key itself;
/// * HKDF-SHA256/384 (no salt), info = suite id ‖ message id;
/// * committing: HKDF-SHA512 with salt = message id; key info = suite id ‖ `DERIVEKEY`, commit
///   info = `COMMITKEY` (no suite id), from one extraction.
pub(crate) fn derive<P: CryptoProvider>(
    provider: &P,
    suite: AlgorithmSuite,
    data_key: &DataKey,
    message_id: &[u8],
) -> Result<(DerivedKey, Option<CommitKey>), Error> {
    data_key.check_suite(suite)?;
    let len = suite.key_len();
    let mut key = DerivedKey {
        bytes: [0u8; MAX_KEY_LEN],
        len,
    };
    let out = key
        .bytes
        .get_mut(..len)
        .ok_or(Error::Crypto(CryptoError::Other))?;
    let id = suite.id_bytes();
    match suite.kdf() {
        Kdf::Identity => {
            out.copy_from_slice(data_key.as_bytes());
            Ok((key, None))
        }
        Kdf::Hkdf(hash) => {
            provider.hkdf(hash, &[], data_key.as_bytes(), &[&id, message_id], out)?;
            Ok((key, None))
        }
        Kdf::CommittingHkdfSha512 => {
            let mut commit = CommitKey([0u8; COMMIT_KEY_LEN]);
            provider.hkdf_two(
                HashAlg::Sha512,
                message_id,
                data_key.as_bytes(),
                &[&id, b"DERIVEKEY"],
                out,
                &[b"COMMITKEY"],
                &mut commit.0,
            )?;
            Ok((key, Some(commit)))
        }
    }
}

#[cfg(all(
    test,
    feature = "rustcrypto",
    feature = "non-committing",
    feature = "ecdsa-p384"
))]
mod tests {
    use super::*;
    use crate::crypto::rustcrypto::RustCrypto;

    #[test]
    fn data_key_lengths_and_redaction() {
        assert!(DataKey::from_slice(&[0; 15]).is_err());
        assert!(DataKey::from_slice(&[0; 33]).is_err());
        let k = DataKey::from_slice(&[0xAB; 24]).unwrap();
        let mut s = heapless::String::<64>::new();
        core::fmt::write(&mut s, format_args!("{k:?}")).unwrap();
        assert!(!s.contains("ab") && !s.contains("171"));
    }

    #[test]
    fn identity_and_hkdf_differ() {
        let p = RustCrypto;
        let dk = DataKey::from_slice(&[1; 16]).unwrap();
        let (k0, c0) = derive(
            &p,
            AlgorithmSuite::AES_128_GCM_IV12_TAG16_NO_KDF,
            &dk,
            &[0; 16],
        )
        .unwrap();
        assert_eq!(k0.as_bytes(), &[1; 16]);
        assert!(c0.is_none());
        let (k1, _) = derive(
            &p,
            AlgorithmSuite::AES_128_GCM_IV12_TAG16_HKDF_SHA256,
            &dk,
            &[0; 16],
        )
        .unwrap();
        assert_ne!(k1.as_bytes(), &[1; 16]);
        assert!(
            derive(
                &p,
                AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
                &dk,
                &[0; 32]
            )
            .is_err()
        );
    }

    #[test]
    fn public_key_base64_round_trip() {
        let p = RustCrypto;
        let sk =
            SigningKey::generate(&p, SignatureAlg::EcdsaP384Sha384, &mut rand_core::OsRng).unwrap();
        let vk = sk.public_key(&p).unwrap();
        let mut buf = [0u8; MAX_PUBLIC_KEY_B64_LEN];
        let s = vk.to_base64(&mut buf);
        assert_eq!(s.len(), 68);
        assert_eq!(
            VerificationKey::from_base64(SignatureAlg::EcdsaP384Sha384, s).unwrap(),
            vk
        );
        assert!(VerificationKey::from_base64(SignatureAlg::EcdsaP256Sha256, s).is_err());
    }
}

/// The first `len` bytes of a fixed-size key buffer. Every constructor sets `len` to at most
/// the buffer size (16/24/32 of 32 key bytes, 32/48 of 48 scalar bytes, 33/49 of 49 point
/// bytes), so the fallback cannot be reached; an empty key would be refused by every primitive.
fn fixed_prefix(bytes: &[u8], len: usize) -> &[u8] {
    let prefix = bytes.get(..len);
    debug_assert!(prefix.is_some(), "key length beyond its buffer");
    prefix.unwrap_or_default()
}
