//! Raw ECDH keyring (`framework/raw-ecdh-keyring.md`, `framework/key-agreement-schemas.md`) and
//! the ECDH data-key wrapping it shares with the AWS KMS ECDH keyring.
//!
//! A raw ECDH keyring agrees a shared secret between a sender and a recipient key pair on
//! P-256, P-384 or P-521, derives a key-commitment value and an AES-256-GCM wrapping key from it
//! (NIST SP 800-108 counter-mode HMAC-SHA-384 over the curve, both public keys and the
//! encryption context), and wraps the data key with it. Three key-agreement schemas:
//!
//! | Schema | Constructor | Encrypt | Decrypt |
//! |---|---|---|---|
//! | `RawPrivateKeyToStaticPublicKey` | [`RawEcdhKeyring::static_keys`] | yes | yes, as sender or recipient |
//! | `EphemeralPrivateKeyToStaticPublicKey` | [`RawEcdhKeyring::ephemeral`] | yes (fresh key per message) | no |
//! | `PublicKeyDiscovery` | [`RawEcdhKeyring::discovery`] | no | yes, any sender |
//!
//! Wire format (as the AWS Material Providers Library writes it): provider id `raw-ecdh`;
//! provider info `01 ‖ u32 len ‖ recipient public key ‖ u32 len ‖ sender public key` (SEC1
//! compressed points); ciphertext `salt(32) ‖ commitment(32) ‖ wrapped data key ‖ tag(16)`.
//!
//! Every public key, whether configured or read from a message, is validated as a point of the
//! configured curve other than the identity before it is used.
//!
//! ```
//! use esdk_std::keyring::raw_ecdh::{EcPrivateKey, EcdhCurve, RawEcdhKeyring};
//! use esdk_std::{Client, DecryptOptions, EncryptOptions};
//! # fn main() -> Result<(), esdk_std::Error> {
//! // The recipient's key pair; only its public key is needed to encrypt.
//! let recipient = EcPrivateKey::generate(EcdhCurve::P384);
//! let encrypting = RawEcdhKeyring::ephemeral(recipient.public_key());
//! let decrypting = RawEcdhKeyring::discovery(recipient);
//! let client = Client::builder().build();
//! let sealed = client.encrypt(b"secret", &EncryptOptions::keyring(&encrypting))?;
//! let opened = client.decrypt(&sealed.ciphertext, &DecryptOptions::keyring(&decrypting))?;
//! assert_eq!(opened.plaintext, b"secret");
//! # Ok(()) }
//! ```

use super::Keyring;
use crate::error::{EdkFailure, Error, Result};
use crate::materials::{DecryptionMaterials, EncryptionMaterials};
use crate::provider::{Backend, SharedRng, StdProvider as _};
use esdk_core::crypto::{AeadKey as _, CryptoProvider as _};
use esdk_core::suite::HashAlg;
use esdk_core::{AlgorithmSuite, DataKey, EncryptedDataKey, EncryptionContext};
use rand_core::CryptoRngCore;
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

/// Provider id of raw ECDH encrypted data keys.
pub const PROVIDER_ID: &str = "raw-ecdh";
/// Provider id of AWS KMS ECDH encrypted data keys (same layout; both ECDH keyrings decrypt
/// both ids).
pub const AWS_KMS_ECDH_PROVIDER_ID: &str = "aws-kms-ecdh";
/// Length of the KDF salt at the start of the ciphertext.
pub const SALT_LEN: usize = 32;
/// Length of the key commitment after the salt.
pub const COMMITMENT_LEN: usize = 32;
const TAG_LEN: usize = 16;
const IV_LEN: usize = 12;
const PROVIDER_INFO_VERSION: u8 = 1;

/// An elliptic curve the ECDH keyrings support.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EcdhCurve {
    /// NIST P-256 (`ECC_NIST_P256`).
    P256,
    /// NIST P-384 (`ECC_NIST_P384`).
    P384,
    /// NIST P-521 (`ECC_NIST_P521`).
    P521,
}

impl EcdhCurve {
    /// The curve's name in the key derivation's fixed info (`p256`, `p384`, `p521`).
    fn kdf_label(self) -> &'static [u8] {
        match self {
            Self::P256 => b"p256",
            Self::P384 => b"p384",
            Self::P521 => b"p521",
        }
    }
    /// The AWS name of the curve (`ECC_NIST_P256`, ...), as in KMS key specs.
    pub fn aws_name(self) -> &'static str {
        match self {
            Self::P256 => "ECC_NIST_P256",
            Self::P384 => "ECC_NIST_P384",
            Self::P521 => "ECC_NIST_P521",
        }
    }
    /// Length of a SEC1 compressed point on this curve.
    pub fn compressed_len(self) -> usize {
        match self {
            Self::P256 => 33,
            Self::P384 => 49,
            Self::P521 => 67,
        }
    }
}

impl core::fmt::Display for EcdhCurve {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.aws_name())
    }
}

/// Why an EC key could not be loaded or used. Carries no key material.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EcKeyError {
    /// The text is not a PEM document with an accepted label.
    #[error("EC {role} key: not a PEM document labelled {accepted}")]
    MalformedPem {
        /// `"public"` or `"private"`.
        role: &'static str,
        /// The accepted labels.
        accepted: &'static str,
    },
    /// The DER is not a key of the expected curve in any accepted encoding.
    #[error("EC {role} key: not a {curve} key in any accepted encoding (tried {tried})")]
    Unparseable {
        /// `"public"` or `"private"`.
        role: &'static str,
        /// The expected curve.
        curve: EcdhCurve,
        /// The encodings tried.
        tried: &'static str,
    },
    /// The bytes are not a point of the curve (or are the point at infinity).
    #[error("EC public key: not a valid point of {curve}")]
    InvalidPoint {
        /// The expected curve.
        curve: EcdhCurve,
    },
    /// The crypto backend does not offer the key operation (a custom provider returned
    /// `UnsupportedAlgorithm`).
    #[error("EC key: the crypto backend does not support this key operation")]
    Unsupported,
}

/// A private key on one of the supported curves, parsed, checked and used by a crypto
/// [`Backend`] (the `*_with` constructors take one; the others use [`Backend::default`]).
/// The scalar is zeroized on drop; `Debug` shows only the curve.
#[derive(Clone)]
pub struct EcPrivateKey {
    curve: EcdhCurve,
    /// Big-endian, the curve's scalar length; in `[1, n - 1]` (checked by the backend).
    scalar: Zeroizing<Vec<u8>>,
    public: EcPublicKey,
}

impl core::fmt::Debug for EcPrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "EcPrivateKey({}, <redacted>)", self.curve())
    }
}

/// `Unsupported` when the backend lacks the operation, `other` otherwise.
fn key_error(e: esdk_core::error::CryptoError, other: EcKeyError) -> EcKeyError {
    match e {
        esdk_core::error::CryptoError::UnsupportedAlgorithm => EcKeyError::Unsupported,
        _ => other,
    }
}

impl EcPrivateKey {
    /// A fresh random key from the operating system's generator.
    pub fn generate(curve: EcdhCurve) -> Self {
        let mut rng = SharedRng::os();
        // Drawing from the OS generator fails only if the OS generator does; the curve crates
        // panic then too (`SecretKey::random`), so this keeps their contract.
        match Self::generate_with(curve, &mut rng) {
            Ok(k) => k,
            Err(e) => panic!("the operating system's random generator failed: {e}"),
        }
    }

    /// A fresh random key from `rng`: a uniform scalar in `[1, n - 1]` by rejection sampling,
    /// checked by [`Backend::default`].
    ///
    /// # Errors
    /// The generator fails, or (with probability below 2^-32 per draw, 64 draws) no draw is
    /// in range.
    pub fn generate_with(
        curve: EcdhCurve,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Self, esdk_core::error::CryptoError> {
        Self::generate_using(&Backend::default(), curve, rng)
    }

    /// As [`generate_with`](Self::generate_with), with `backend` checking the scalar and
    /// computing the public key.
    ///
    /// # Errors
    /// The generator fails, no draw is in range, or the backend lacks ECDH on `curve`.
    pub fn generate_using(
        backend: &Backend,
        curve: EcdhCurve,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Self, esdk_core::error::CryptoError> {
        use esdk_core::error::CryptoError;
        let len = crate::provider::scalar_len(curve);
        let mut scalar = Zeroizing::new(vec![0u8; len]);
        for _ in 0..64 {
            rng.try_fill_bytes(&mut scalar)
                .map_err(|_| CryptoError::Rng)?;
            if curve == EcdhCurve::P521 {
                // 521 bits: keep the low bit of the first byte.
                if let Some(b) = scalar.first_mut() {
                    *b &= 1;
                }
            }
            // The backend refuses 0 and k >= n (InvalidKey): draw again.
            match Self::from_scalar(backend, curve, scalar.clone()) {
                Ok(k) => return Ok(k),
                Err(CryptoError::InvalidKey) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(CryptoError::Rng)
    }

    /// The key of a checked scalar, with its public key computed by `backend`.
    fn from_scalar(
        backend: &Backend,
        curve: EcdhCurve,
        scalar: Zeroizing<Vec<u8>>,
    ) -> Result<Self, esdk_core::error::CryptoError> {
        let mut out = [0u8; 67];
        let n = backend.ecdh_public_key(curve, &scalar, &mut out)?;
        let compressed = out
            .get(..n)
            .ok_or(esdk_core::error::CryptoError::Other)?
            .to_vec();
        Ok(Self {
            curve,
            scalar,
            public: EcPublicKey { curve, compressed },
        })
    }

    /// From PEM: PKCS#8 `PRIVATE KEY` or SEC1 `EC PRIVATE KEY`, of `curve`.
    ///
    /// # Errors
    /// Malformed PEM, another label, or not a key of `curve`.
    pub fn from_pem(curve: EcdhCurve, pem: &str) -> Result<Self, EcKeyError> {
        Self::from_pem_with(&Backend::default(), curve, pem)
    }

    /// As [`from_pem`](Self::from_pem), parsed and checked by `backend`.
    ///
    /// # Errors
    /// Malformed PEM, another label, not a key of `curve`, or the backend lacks the operation.
    pub fn from_pem_with(
        backend: &Backend,
        curve: EcdhCurve,
        pem: &str,
    ) -> Result<Self, EcKeyError> {
        let malformed = EcKeyError::MalformedPem {
            role: "private",
            accepted: "PRIVATE KEY or EC PRIVATE KEY",
        };
        let (label, der) = pem_decode(pem).ok_or(malformed.clone())?;
        match label.as_str() {
            "PRIVATE KEY" | "EC PRIVATE KEY" => Self::from_der_with(backend, curve, &der),
            _ => Err(malformed),
        }
    }

    /// From DER: PKCS#8 `PrivateKeyInfo` or SEC1 `ECPrivateKey`, of `curve`.
    ///
    /// # Errors
    /// Not a key of `curve` in either encoding.
    pub fn from_der(curve: EcdhCurve, der: &[u8]) -> Result<Self, EcKeyError> {
        Self::from_der_with(&Backend::default(), curve, der)
    }

    /// As [`from_der`](Self::from_der), parsed and checked by `backend`.
    ///
    /// # Errors
    /// Not a key of `curve` in either encoding, or the backend lacks the operation.
    pub fn from_der_with(
        backend: &Backend,
        curve: EcdhCurve,
        der: &[u8],
    ) -> Result<Self, EcKeyError> {
        let err = EcKeyError::Unparseable {
            role: "private",
            curve,
            tried: "PKCS#8, SEC1",
        };
        let mut scalar = Zeroizing::new(vec![0u8; 66]);
        let n = backend
            .ec_private_key_from_der(curve, der, &mut scalar)
            .map_err(|e| key_error(e, err.clone()))?;
        if n != crate::provider::scalar_len(curve) {
            return Err(err);
        }
        scalar.truncate(n);
        Self::from_scalar(backend, curve, scalar).map_err(|e| key_error(e, err))
    }

    /// The key as PKCS#8 PEM (`PRIVATE KEY`), e.g. to store a generated key; encoded by
    /// [`Backend::default`].
    ///
    /// # Errors
    /// The encoder fails (it does not for valid keys).
    pub fn to_pkcs8_pem(&self) -> Result<Zeroizing<String>, EcKeyError> {
        self.to_pkcs8_pem_with(&Backend::default())
    }

    /// As [`to_pkcs8_pem`](Self::to_pkcs8_pem), encoded by `backend`.
    ///
    /// # Errors
    /// The encoder fails (it does not for valid keys), or the backend lacks it.
    pub fn to_pkcs8_pem_with(&self, backend: &Backend) -> Result<Zeroizing<String>, EcKeyError> {
        let der = backend
            .ec_private_key_to_pkcs8(self.curve, &self.scalar)
            .map_err(|e| {
                key_error(
                    e,
                    EcKeyError::Unparseable {
                        role: "private",
                        curve: self.curve,
                        tried: "PKCS#8 encoding",
                    },
                )
            })?;
        Ok(pem_encode("PRIVATE KEY", &der))
    }

    /// The curve.
    pub fn curve(&self) -> EcdhCurve {
        self.curve
    }

    /// The matching public key.
    pub fn public_key(&self) -> EcPublicKey {
        self.public.clone()
    }

    /// The ECDH shared secret (the x-coordinate of the shared point) with `peer`, computed
    /// by `backend`.
    ///
    /// # Errors
    /// `peer` is on another curve, or the backend refuses the point.
    pub fn agree(
        &self,
        backend: &Backend,
        peer: &EcPublicKey,
    ) -> Result<Zeroizing<Vec<u8>>, EcKeyError> {
        let curve = self.curve();
        let bad = EcKeyError::InvalidPoint { curve };
        if peer.curve != curve {
            return Err(bad);
        }
        let mut z = Zeroizing::new(vec![0u8; 66]);
        let n = backend
            .ecdh_agree(curve, &self.scalar, &peer.compressed, &mut z)
            .map_err(|_| bad)?;
        z.truncate(n);
        Ok(z)
    }
}

/// A validated public key (a point of its curve other than the identity), held as a SEC1
/// compressed point.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EcPublicKey {
    curve: EcdhCurve,
    compressed: Vec<u8>,
}

impl core::fmt::Debug for EcPublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "EcPublicKey({}, ", self.curve)?;
        for b in &self.compressed {
            write!(f, "{b:02x}")?;
        }
        f.write_str(")")
    }
}

impl EcPublicKey {
    /// From PEM `PUBLIC KEY` (X.509 SubjectPublicKeyInfo) of `curve`.
    ///
    /// # Errors
    /// Malformed PEM, another label, another curve, or an invalid point.
    pub fn from_pem(curve: EcdhCurve, pem: &str) -> Result<Self, EcKeyError> {
        Self::from_pem_with(&Backend::default(), curve, pem)
    }

    /// As [`from_pem`](Self::from_pem), validated by `backend`.
    ///
    /// # Errors
    /// Malformed PEM, another label, another curve, an invalid point, or the backend lacks
    /// the operation.
    pub fn from_pem_with(
        backend: &Backend,
        curve: EcdhCurve,
        pem: &str,
    ) -> Result<Self, EcKeyError> {
        let malformed = EcKeyError::MalformedPem {
            role: "public",
            accepted: "PUBLIC KEY",
        };
        let (label, der) = pem_decode(pem).ok_or(malformed.clone())?;
        if label != "PUBLIC KEY" {
            return Err(malformed);
        }
        Self::from_der_with(backend, curve, &der)
    }

    /// From DER X.509 SubjectPublicKeyInfo (what KMS `GetPublicKey` returns) of `curve`.
    ///
    /// # Errors
    /// Not a SubjectPublicKeyInfo of `curve`, or an invalid point.
    pub fn from_der(curve: EcdhCurve, der: &[u8]) -> Result<Self, EcKeyError> {
        Self::from_der_with(&Backend::default(), curve, der)
    }

    /// As [`from_der`](Self::from_der), validated by `backend`.
    ///
    /// # Errors
    /// Not a SubjectPublicKeyInfo of `curve`, an invalid point, or the backend lacks the
    /// operation.
    pub fn from_der_with(
        backend: &Backend,
        curve: EcdhCurve,
        der: &[u8],
    ) -> Result<Self, EcKeyError> {
        let mut out = [0u8; 67];
        let n = backend
            .ec_public_key_from_spki(curve, der, &mut out)
            .map_err(|e| {
                key_error(
                    e,
                    EcKeyError::Unparseable {
                        role: "public",
                        curve,
                        tried: "SubjectPublicKeyInfo",
                    },
                )
            })?;
        Self::compressed_of(curve, out.get(..n))
    }

    /// From a SEC1 point, compressed (`02`/`03`) or uncompressed (`04`); the identity and the
    /// other SEC1 forms (compact, hybrid) are refused.
    ///
    /// # Errors
    /// Not a point of `curve`, the identity, or another encoding.
    pub fn from_sec1(curve: EcdhCurve, bytes: &[u8]) -> Result<Self, EcKeyError> {
        Self::from_sec1_with(&Backend::default(), curve, bytes)
    }

    /// As [`from_sec1`](Self::from_sec1), validated by `backend`.
    ///
    /// # Errors
    /// Not a point of `curve`, the identity, another encoding, or the backend lacks the
    /// operation.
    pub fn from_sec1_with(
        backend: &Backend,
        curve: EcdhCurve,
        bytes: &[u8],
    ) -> Result<Self, EcKeyError> {
        let n = curve.compressed_len();
        let strict = match bytes.first() {
            Some(2 | 3) => bytes.len() == n,
            Some(4) => bytes.len() == 2 * n - 1,
            _ => false,
        };
        if !strict {
            return Err(EcKeyError::InvalidPoint { curve });
        }
        let mut out = [0u8; 67];
        let len = backend
            .ec_public_key_from_sec1(curve, bytes, &mut out)
            .map_err(|e| key_error(e, EcKeyError::InvalidPoint { curve }))?;
        Self::compressed_of(curve, out.get(..len))
    }

    /// The key of a compressed point a backend returned (its length checked).
    fn compressed_of(curve: EcdhCurve, point: Option<&[u8]>) -> Result<Self, EcKeyError> {
        match point {
            Some(p) if p.len() == curve.compressed_len() && matches!(p.first(), Some(2 | 3)) => {
                Ok(Self {
                    curve,
                    compressed: p.to_vec(),
                })
            }
            _ => Err(EcKeyError::InvalidPoint { curve }),
        }
    }

    /// DER X.509 SubjectPublicKeyInfo (what KMS `DeriveSharedSecret` takes), encoded by
    /// [`Backend::default`].
    pub fn to_der(&self) -> Vec<u8> {
        // The point was validated at construction, so it encodes.
        self.to_der_with(&Backend::default()).unwrap_or_default()
    }

    /// DER X.509 SubjectPublicKeyInfo, encoded by `backend`.
    ///
    /// # Errors
    /// The backend lacks the operation (or refuses the point).
    pub fn to_der_with(&self, backend: &Backend) -> Result<Vec<u8>, EcKeyError> {
        backend
            .ec_public_key_to_spki(self.curve, &self.compressed)
            .map_err(|e| key_error(e, EcKeyError::InvalidPoint { curve: self.curve }))
    }

    /// The curve.
    pub fn curve(&self) -> EcdhCurve {
        self.curve
    }

    /// The SEC1 compressed point (as written to the provider info).
    pub fn compressed(&self) -> &[u8] {
        &self.compressed
    }
}

/// A PEM document (RFC 7468: base64 lines of 64 characters, LF line endings).
fn pem_encode(label: &str, der: &[u8]) -> Zeroizing<String> {
    use base64::Engine as _;
    let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der));
    let mut pem = Zeroizing::new(String::with_capacity(b64.len() + b64.len() / 64 + 64));
    pem.push_str("-----BEGIN ");
    pem.push_str(label);
    pem.push_str("-----\n");
    for line in b64.as_bytes().chunks(64) {
        // Base64 output is ASCII.
        pem.push_str(core::str::from_utf8(line).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END ");
    pem.push_str(label);
    pem.push_str("-----\n");
    pem
}

/// `(label, der)` of a PEM document (RFC 7468, strict base64 body).
fn pem_decode(text: &str) -> Option<(String, Zeroizing<Vec<u8>>)> {
    use base64::Engine as _;
    let text = text.trim();
    let first = text.lines().next()?.trim();
    let label = first.strip_prefix("-----BEGIN ")?.strip_suffix("-----")?;
    let end = format!("-----END {label}-----");
    let body_end = text.find(&end)?;
    if !text.get(body_end + end.len()..)?.trim().is_empty() {
        return None;
    }
    let body: String = text
        .get(first.len()..body_end)?
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()?;
    Some((label.to_owned(), Zeroizing::new(der)))
}

// -------------------------------------------------------------------------------------------
// The shared derivation and wrapping (raw ECDH and AWS KMS ECDH keyrings)

/// The ECDH key derivation and data-key wrapping of `framework/raw-ecdh-keyring.md`, for one
/// sender/recipient pair, independent of where the shared secret comes from (a local key
/// here, AWS KMS `DeriveSharedSecret` in the KMS ECDH keyring). Built with
/// [`EcdhWrapping::new`].
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct EcdhWrapping<'a> {
    /// The curve of both keys.
    pub curve: EcdhCurve,
    /// The sender's public key.
    pub sender: &'a EcPublicKey,
    /// The recipient's public key.
    pub recipient: &'a EcPublicKey,
}

impl<'a> EcdhWrapping<'a> {
    /// The wrapping between `sender` and `recipient`, both on `curve`.
    pub fn new(curve: EcdhCurve, sender: &'a EcPublicKey, recipient: &'a EcPublicKey) -> Self {
        Self {
            curve,
            sender,
            recipient,
        }
    }

    /// `"ecdh-key-derivation" 00 curve 00 "HMAC_SHA384" 00 sender ‖ recipient 00 01 00 serEC`.
    fn fixed_info(&self, ec: &[u8]) -> Vec<u8> {
        [
            &b"ecdh-key-derivation"[..],
            &[0],
            self.curve.kdf_label(),
            &[0],
            b"HMAC_SHA384",
            &[0],
            self.sender.compressed(),
            self.recipient.compressed(),
            &[0, 1, 0],
            ec,
        ]
        .concat()
    }

    /// 64 bytes of SP 800-108 counter-mode HMAC-SHA-384 (key = the shared secret; block i:
    /// `u32 i ‖ fixed info ‖ 00 ‖ salt ‖ u32 512`): commitment (first 32), wrapping key (last 32).
    fn derive(
        backend: &Backend,
        z: &[u8],
        fixed_info: &[u8],
        salt: &[u8],
    ) -> Result<Zeroizing<[u8; 96]>> {
        let mut out = Zeroizing::new([0u8; 96]);
        for (i, block) in (1u32..=2).zip(out.chunks_exact_mut(48)) {
            let parts: [&[u8]; 5] = [
                &i.to_be_bytes(),
                fixed_info,
                &[0],
                salt,
                &512u32.to_be_bytes(),
            ];
            let n = backend
                .hmac(HashAlg::Sha384, z, &parts, block)
                .map_err(esdk_core::Error::from)?;
            if n != 48 {
                return Err(esdk_core::Error::from(esdk_core::error::CryptoError::Other).into());
            }
        }
        Ok(out)
    }

    /// Wraps `data_key` under the shared secret `z`: the EDK ciphertext
    /// `salt ‖ commitment ‖ wrapped ‖ tag`. The salt comes from `rng`, the HMAC and AES-GCM
    /// from `backend` (the materials' backend and generator).
    ///
    /// # Errors
    /// The encryption context cannot be serialized, the generator or a primitive fails.
    pub fn wrap(
        &self,
        backend: &Backend,
        rng: &mut dyn CryptoRngCore,
        z: &[u8],
        ec: &EncryptionContext,
        data_key: &DataKey,
    ) -> Result<Vec<u8>> {
        let fixed = self.fixed_info(&ec.serialize()?);
        let mut salt = [0u8; SALT_LEN];
        rng.try_fill_bytes(&mut salt)
            .map_err(|_| esdk_core::Error::from(esdk_core::error::CryptoError::Rng))?;
        let okm = Self::derive(backend, z, &fixed, &salt)?;
        let (commitment, key) = okm.get(..64).unwrap_or(&[]).split_at(COMMITMENT_LEN);
        let aead = backend.aead_key(key).map_err(esdk_core::Error::from)?;
        let mut buf = data_key.as_bytes().to_vec();
        let tag = aead
            .seal_in_place(&[0; IV_LEN], &fixed, &mut buf)
            .map_err(esdk_core::Error::from)?;
        Ok([&salt[..], commitment, &buf, &tag].concat())
    }

    /// Unwraps an EDK ciphertext under the shared secret `z` into a data key of `suite`.
    ///
    /// # Errors
    /// A reason (no key material) when the length, the commitment or the tag is wrong.
    pub fn unwrap(
        &self,
        backend: &Backend,
        z: &[u8],
        ec: &EncryptionContext,
        suite: AlgorithmSuite,
        ciphertext: &[u8],
    ) -> Result<DataKey, String> {
        let want = SALT_LEN + COMMITMENT_LEN + suite.data_key_len() + TAG_LEN;
        if ciphertext.len() != want {
            return Err(format!(
                "ciphertext is {} bytes, expected {want}",
                ciphertext.len()
            ));
        }
        let (salt, rest) = ciphertext.split_at(SALT_LEN);
        let (commitment, rest) = rest.split_at(COMMITMENT_LEN);
        let (wrapped, tag) = rest.split_at(rest.len() - TAG_LEN);
        let fixed = self.fixed_info(&ec.serialize().map_err(|e| e.to_string())?);
        let okm = Self::derive(backend, z, &fixed, salt).map_err(|e| e.to_string())?;
        let (expected, key) = okm.get(..64).unwrap_or(&[]).split_at(COMMITMENT_LEN);
        if !bool::from(expected.ct_eq(commitment)) {
            return Err("key commitment does not match".into());
        }
        let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| "bad tag length".to_owned())?;
        let aead = backend.aead_key(key).map_err(|e| e.to_string())?;
        let mut buf = Zeroizing::new(wrapped.to_vec());
        aead.open_in_place(&[0; IV_LEN], &fixed, &mut buf, &tag)
            .map_err(|_| "AES-GCM tag does not verify".to_owned())?;
        DataKey::from_slice(&buf).map_err(|e| e.to_string())
    }
}

/// `raw-ecdh` or `aws-kms-ecdh`: the provider ids both ECDH keyrings decrypt.
pub fn is_ecdh_provider_id(id: &str) -> bool {
    id == PROVIDER_ID || id == AWS_KMS_ECDH_PROVIDER_ID
}

/// The provider info `01 ‖ u32 len ‖ recipient ‖ u32 len ‖ sender` (compressed points).
pub fn provider_info(recipient: &EcPublicKey, sender: &EcPublicKey) -> Vec<u8> {
    // Compressed points are at most 67 bytes, so the lengths always fit.
    let len = |b: &[u8]| u32::try_from(b.len()).unwrap_or(u32::MAX).to_be_bytes();
    let (r, s) = (recipient.compressed(), sender.compressed());
    [&[PROVIDER_INFO_VERSION][..], &len(r), r, &len(s), s].concat()
}

/// Splits a provider info into the `(recipient, sender)` points it names, validated on
/// `curve`.
///
/// # Errors
/// A reason when the version, the lengths or a point is wrong.
pub fn parse_provider_info(
    curve: EcdhCurve,
    info: &[u8],
) -> Result<(EcPublicKey, EcPublicKey), String> {
    parse_provider_info_with(&Backend::default(), curve, info)
}

/// As [`parse_provider_info`], with the points validated by `backend`.
///
/// # Errors
/// A reason when the version, the lengths or a point is wrong.
pub fn parse_provider_info_with(
    backend: &Backend,
    curve: EcdhCurve,
    info: &[u8],
) -> Result<(EcPublicKey, EcPublicKey), String> {
    let (&version, rest) = info.split_first().ok_or("empty provider info")?;
    if version != PROVIDER_INFO_VERSION {
        return Err(format!("provider info version {version} is not 1"));
    }
    fn take(b: &[u8]) -> Option<(&[u8], &[u8])> {
        let (n, rest) = b.split_at_checked(4)?;
        let n = usize::try_from(u32::from_be_bytes(n.try_into().ok()?)).ok()?;
        rest.split_at_checked(n)
    }
    let (recipient, rest) = take(rest).ok_or("malformed provider info")?;
    let (sender, rest) = take(rest).ok_or("malformed provider info")?;
    if !rest.is_empty() {
        return Err("trailing bytes after the provider info".into());
    }
    let point = |b: &[u8], who: &str| {
        if b.len() != curve.compressed_len() {
            return Err(format!(
                "{who} public key is not a compressed {curve} point"
            ));
        }
        EcPublicKey::from_sec1_with(backend, curve, b).map_err(|e| match e {
            EcKeyError::Unsupported => format!("{who} public key: {e}"),
            _ => format!("{who} public key: invalid point"),
        })
    };
    Ok((point(recipient, "recipient")?, point(sender, "sender")?))
}

// -------------------------------------------------------------------------------------------
// The keyring

#[derive(Clone)]
enum Schema {
    Static {
        sender: EcPrivateKey,
        sender_public: EcPublicKey,
        recipient: EcPublicKey,
    },
    Ephemeral {
        recipient: EcPublicKey,
    },
    Discovery {
        recipient: EcPrivateKey,
        recipient_public: EcPublicKey,
    },
}

/// The raw ECDH keyring; see the [module documentation](self).
#[derive(Clone)]
pub struct RawEcdhKeyring {
    curve: EcdhCurve,
    schema: Schema,
}

impl core::fmt::Debug for RawEcdhKeyring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RawEcdhKeyring")
            .field("curve", &self.curve)
            .field("schema", &self.schema_name())
            .finish_non_exhaustive()
    }
}

impl RawEcdhKeyring {
    /// `RawPrivateKeyToStaticPublicKey`: the sender's private key and the recipient's public
    /// key. Encrypts, and decrypts messages between exactly these two key pairs.
    ///
    /// # Errors
    /// The keys are on different curves.
    pub fn static_keys(sender: EcPrivateKey, recipient: EcPublicKey) -> Result<Self> {
        let curve = sender.curve();
        if recipient.curve() != curve {
            return Err(Error::Config(crate::error::ConfigError::CurveMismatch {
                sender: curve,
                recipient: recipient.curve(),
            }));
        }
        let sender_public = sender.public_key();
        Ok(Self {
            curve,
            schema: Schema::Static {
                sender,
                sender_public,
                recipient,
            },
        })
    }

    /// `EphemeralPrivateKeyToStaticPublicKey`: encrypts to `recipient` with a fresh sender key
    /// per message; cannot decrypt.
    pub fn ephemeral(recipient: EcPublicKey) -> Self {
        Self {
            curve: recipient.curve(),
            schema: Schema::Ephemeral { recipient },
        }
    }

    /// `PublicKeyDiscovery`: decrypts messages to `recipient` from any sender; cannot encrypt.
    pub fn discovery(recipient: EcPrivateKey) -> Self {
        let recipient_public = recipient.public_key();
        Self {
            curve: recipient.curve(),
            schema: Schema::Discovery {
                recipient,
                recipient_public,
            },
        }
    }

    /// The curve.
    pub fn curve(&self) -> EcdhCurve {
        self.curve
    }

    fn schema_name(&self) -> &'static str {
        match self.schema {
            Schema::Static { .. } => "RawPrivateKeyToStaticPublicKey",
            Schema::Ephemeral { .. } => "EphemeralPrivateKeyToStaticPublicKey",
            Schema::Discovery { .. } => "PublicKeyDiscovery",
        }
    }

    fn label(&self) -> String {
        format!("raw ECDH {} {}", self.schema_name(), self.curve)
    }

    fn fail(&self, kind: crate::error::KeyringErrorKind) -> crate::error::KeyringError {
        crate::error::KeyringError::new(self.label(), kind)
    }
}

impl Keyring for RawEcdhKeyring {
    fn on_encrypt(&self, materials: &EncryptionMaterials) -> Result<EncryptionMaterials> {
        let ephemeral;
        let (secret, sender, recipient) = match &self.schema {
            Schema::Static {
                sender,
                sender_public,
                recipient,
            } => (sender, sender_public.clone(), recipient),
            Schema::Ephemeral { recipient } => {
                let mut rng = materials.rng.clone();
                ephemeral = EcPrivateKey::generate_using(&materials.backend, self.curve, &mut rng)
                    .map_err(esdk_core::Error::from)?;
                let public = ephemeral.public_key();
                (&ephemeral, public, recipient)
            }
            Schema::Discovery { .. } => {
                return Err(self
                    .fail(crate::error::KeyringErrorKind::CannotEncrypt)
                    .into());
            }
        };
        let mut m = materials.clone();
        let dk = match &m.data_key {
            Some(k) => k.clone(),
            None => DataKey::generate(m.suite, &mut m.rng.clone())?,
        };
        let z = secret.agree(&m.backend, recipient).map_err(|e| {
            self.fail(crate::error::KeyringErrorKind::WrapFailed)
                .with_source(e)
        })?;
        let wrapping = EcdhWrapping {
            curve: self.curve,
            sender: &sender,
            recipient,
        };
        let ciphertext = wrapping.wrap(
            &m.backend,
            &mut m.rng.clone(),
            &z,
            &m.encryption_context,
            &dk,
        )?;
        m.encrypted_data_keys.push(EncryptedDataKey {
            provider_id: PROVIDER_ID.into(),
            provider_info: provider_info(recipient, &sender),
            ciphertext,
        });
        m.data_key = Some(dk);
        Ok(m)
    }

    fn on_decrypt(
        &self,
        materials: &DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<DecryptionMaterials> {
        if materials.data_key.is_some() {
            return Err(Error::Materials(
                crate::error::MaterialsError::DataKeyAlreadyPresent,
            ));
        }
        let label = self.label();
        let mut failures = Vec::new();
        for edk in edks {
            let failure = |why: &str| EdkFailure::failed(edk, format!("{label}: {why}"));
            let not_ours =
                |why: &str| EdkFailure::not_for_this_keyring(edk, format!("{label}: {why}"));
            if !is_ecdh_provider_id(&edk.provider_id) {
                failures.push(not_ours("not an ECDH encrypted data key"));
                continue;
            }
            let (recipient, sender) = match parse_provider_info_with(
                &materials.backend,
                self.curve,
                &edk.provider_info,
            ) {
                Ok(keys) => keys,
                Err(why) => {
                    failures.push(failure(&why));
                    continue;
                }
            };
            // Static: we hold the sender's private key, so the secret is agreed with the
            // recipient's public key; discovery: we hold the recipient's, agreed with the
            // sender's public key from the message.
            let (secret, peer) = match &self.schema {
                Schema::Static {
                    sender: sk,
                    sender_public,
                    recipient: configured,
                } => {
                    if recipient != *configured || sender != *sender_public {
                        failures.push(not_ours("another sender or recipient key pair"));
                        continue;
                    }
                    (sk, &recipient)
                }
                Schema::Discovery {
                    recipient: sk,
                    recipient_public,
                } => {
                    if recipient != *recipient_public {
                        failures.push(not_ours("another recipient key"));
                        continue;
                    }
                    (sk, &sender)
                }
                Schema::Ephemeral { .. } => {
                    failures.push(failure(
                        "the EphemeralPrivateKeyToStaticPublicKey schema cannot decrypt",
                    ));
                    continue;
                }
            };
            let z = match secret.agree(&materials.backend, peer) {
                Ok(z) => z,
                Err(e) => {
                    failures.push(failure(&e.to_string()));
                    continue;
                }
            };
            let wrapping = EcdhWrapping {
                curve: self.curve,
                sender: &sender,
                recipient: &recipient,
            };
            match wrapping.unwrap(
                &materials.backend,
                &z,
                &materials.encryption_context,
                materials.suite,
                &edk.ciphertext,
            ) {
                Ok(dk) => {
                    let mut m = materials.clone();
                    m.data_key = Some(dk);
                    return Ok(m);
                }
                Err(why) => failures.push(failure(&why)),
            }
        }
        Err(Error::NoDecryptableKey(failures))
    }
}
