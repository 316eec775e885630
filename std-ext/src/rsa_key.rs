//! RSA key handling and data-key wrapping for the raw RSA keyring.
//!
//! This module is the layer underneath the raw RSA keyring (spec
//! `framework/raw-rsa-keyring.md`): it loads RSA keys and wraps or unwraps a plaintext data
//! key with one of the five padding schemes the keyring allows. It knows nothing about key
//! namespaces, key names or encrypted data keys; the keyring adds those. It names no crypto
//! crate: parsing, encryption and decryption are the [`Backend`]'s
//! ([`StdProvider::rsa_decrypting_key`] / [`StdProvider::rsa_encrypting_key`]); this module
//! decodes PEM, applies the keyring's size policy and length checks, and chooses the backend.
//!
//! # Keys and backends
//!
//! * [`RsaPublicKey`] can only [`wrap`](RsaPublicKey::wrap) (encrypt) and
//!   [`RsaPrivateKey`] can only [`unwrap`](RsaPrivateKey::unwrap) (decrypt).
//!   There is deliberately no way to obtain a public key from a private key:
//!   the specification requires a keyring configured with only a private key to
//!   refuse encryption, and one configured with only a public key to refuse
//!   decryption. Keeping the two capabilities in two types makes both rules hold
//!   by construction.
//! * A key is parsed by a backend: `from_pem` / `from_der` use [`Backend::default`] (the one
//!   place a default is chosen), `from_pem_with` / `from_der_with` the backend given.
//!   [`wrap`](RsaPublicKey::wrap) / [`unwrap`](RsaPrivateKey::unwrap) run on that backend;
//!   [`wrap_with`](RsaPublicKey::wrap_with) / [`unwrap_with`](RsaPrivateKey::unwrap_with) run
//!   on the backend given, which is what the raw RSA keyring does with the operation's backend
//!   (the client's). A key used with another backend than the one that parsed it is imported
//!   into that backend once, from the DER it was loaded from (kept, zeroized on drop), and
//!   the imported key is reused afterwards (at most [`IMPORTED_BACKENDS`] backends per key).
//!   A backend without RSA fails with [`RsaKeyError::Unsupported`]; nothing falls back to
//!   another backend.
//! * Accepted encodings: PEM or DER, as PKCS#8 `PrivateKeyInfo`
//!   (`BEGIN PRIVATE KEY`) or PKCS#1 `RSAPrivateKey` (`BEGIN RSA PRIVATE KEY`)
//!   for private keys, and X.509 `SubjectPublicKeyInfo` (`BEGIN PUBLIC KEY`) or
//!   PKCS#1 `RSAPublicKey` (`BEGIN RSA PUBLIC KEY`) for public keys. PEM input
//!   is dispatched on its label; DER input is tried in the order listed.
//!   Encrypted PKCS#8 and multi-prime keys are not supported.
//! * Modulus size: at least [`MIN_MODULUS_BITS`] (2048) and at most
//!   [`MAX_MODULUS_BITS`] (16384) bits, whatever the backend. The specification sets no
//!   minimum; every RSA key in the interoperability test vectors is 2048 or 4096 bits, and
//!   NIST SP 800-131A has disallowed RSA key transport below 2048 bits since 2014, so smaller
//!   keys are refused rather than silently accepted. The upper bound lets 8192-bit keys, which
//!   other RSA implementations accept, work here too, while still bounding the cost of a
//!   single operation. A backend may support less: aws-lc refuses private keys above 8192
//!   bits ([`RsaKeyError::KeyTooLarge`] with `max: 8192`) and wraps under public keys above
//!   8192 bits with the `rsa` crate's public operation (public data, no secret involved).
//! * Private keys are zeroized when dropped (by the backends' key types, and the DER kept
//!   for imports), DER buffers decoded from PEM are zeroized, unwrapped data keys
//!   are returned in [`Zeroizing`], and the [`Debug`](core::fmt::Debug) output of
//!   both key types shows only the modulus size.
//!
//! # Padding
//!
//! [`RsaPadding`] lists PKCS#1 v1.5 and RSAES-OAEP with SHA-1, SHA-256, SHA-384
//! or SHA-512, where MGF1 always uses the same hash as OAEP and the OAEP label
//! is empty — exactly the set the raw RSA keyring specification allows.
//!
//! # Side channels (RUSTSEC-2023-0071, "Marvin")
//!
//! Whether the private-key operation is side-channel safe depends on the backend that runs
//! it ([`Backend::rsa_side_channel_safe`]):
//!
//! **The aws-lc backend (feature `aws-lc`, the default backend) runs it in AWS-LC**: constant-
//! time modular arithmetic with RSA blinding, and constant-time OAEP and PKCS#1 v1.5 padding
//! checks. That is the side-channel-safe choice. (The aws-lc backend reads the key structure
//! with the `rsa` crate's parsers before handing the key to AWS-LC: a one-time parse at
//! construction, not an operation an attacker can time per message.)
//!
//! **The RustCrypto backend (feature `rustcrypto`) runs it with `rsa` 0.9**, whose
//! private-key operation is not constant time: advisory RUSTSEC-2023-0071 (CVE-2023-49092,
//! GHSA-c38w-74pg-36hr, CVSS 5.9) warns that a network attacker who can time
//! decryptions may decrypt ciphertexts or recover the key. Status when this
//! was written: the RustSec entry (newest snapshot available, August 2026)
//! lists no patched version at all, so `cargo audit` / `cargo deny` flag every
//! 0.9.x release. `rsa` 0.10.0 (released 2026-11-08) states in its changelog
//! and README that it closes the side channel (a constant-time `crypto-bigint`
//! backend, blinding on the default decryption path, implicit rejection for
//! PKCS#1 v1.5 decryption); the advisory had not yet been updated to name it as
//! the fix. Moving to 0.10 also moves to `digest` 0.11, `sha1`/`sha2` 0.11,
//! `rand_core` 0.10 and Rust 1.87, i.e. off the RustCrypto generation the rest
//! of the workspace uses, and puts PKCS#1 v1.5 encryption behind a `pkcs1v15`
//! feature.
//!
//! Mitigations applied with RustCrypto: every decryption is blinded with fresh randomness
//! from the operating system, every failure of [`RsaPrivateKey::unwrap`] yields
//! the same opaque [`RsaKeyError::DecryptionFailed`] (no padding detail), and
//! ciphertexts whose length differs from the modulus length are rejected before
//! any private-key arithmetic (on every backend). Residual risk: a party that can submit many
//! chosen messages to a decrypting service *and* measure its response times
//! precisely may still exploit the timing, most easily with
//! [`RsaPadding::Pkcs1V15`]. Prefer the aws-lc backend, and OAEP padding for new keyrings.
//! A custom backend states its own status ([`StdProvider::rsa_side_channel_safe`]).

use core::fmt;
use std::sync::{Arc, Mutex};

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::provider::{Backend, RsaDecryptingKey, RsaEncryptingKey, RsaKeyEncoding, StdProvider};

/// Smallest accepted RSA modulus, in bits.
///
/// Keys with a smaller modulus are refused with [`RsaKeyError::KeyTooSmall`].
pub(crate) const MIN_MODULUS_BITS: usize = 2048;

/// Largest accepted RSA modulus, in bits.
///
/// Keys with a larger modulus are refused with [`RsaKeyError::KeyTooLarge`].
pub(crate) const MAX_MODULUS_BITS: usize = 16384;

/// How many backends other than its own a key is imported into and kept for (the oldest
/// import is dropped beyond that).
pub(crate) const IMPORTED_BACKENDS: usize = 4;

/// PEM label of a PKCS#8 `PrivateKeyInfo`.
const LABEL_PKCS8_PRIVATE: &str = "PRIVATE KEY";
/// PEM label of a PKCS#1 `RSAPrivateKey`.
const LABEL_PKCS1_PRIVATE: &str = "RSA PRIVATE KEY";
/// PEM label of an X.509 `SubjectPublicKeyInfo`.
const LABEL_SPKI_PUBLIC: &str = "PUBLIC KEY";
/// PEM label of a PKCS#1 `RSAPublicKey`.
const LABEL_PKCS1_PUBLIC: &str = "RSA PUBLIC KEY";

/// Role names used in error messages.
const PRIVATE: &str = "private";
const PUBLIC: &str = "public";

/// Longest PEM label echoed back in an error message.
const MAX_LABEL_IN_ERROR: usize = 64;

/// Padding scheme used to wrap a data key with RSA.
///
/// These are the five schemes allowed by the raw RSA keyring specification.
/// For the OAEP variants MGF1 uses the same hash function as OAEP itself and
/// the OAEP label is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RsaPadding {
    /// RSAES-PKCS1-v1_5 (RFC 8017 §7.2). Kept for interoperability; prefer OAEP.
    Pkcs1V15,
    /// RSAES-OAEP with SHA-1 and MGF1-SHA-1.
    OaepSha1,
    /// RSAES-OAEP with SHA-256 and MGF1-SHA-256.
    OaepSha256,
    /// RSAES-OAEP with SHA-384 and MGF1-SHA-384.
    OaepSha384,
    /// RSAES-OAEP with SHA-512 and MGF1-SHA-512.
    OaepSha512,
}

impl RsaPadding {
    /// Every supported padding scheme, PKCS#1 v1.5 first, then OAEP by hash size.
    pub const ALL: [RsaPadding; 5] = [
        RsaPadding::Pkcs1V15,
        RsaPadding::OaepSha1,
        RsaPadding::OaepSha256,
        RsaPadding::OaepSha384,
        RsaPadding::OaepSha512,
    ];

    /// Bytes of padding overhead: the longest message that fits a modulus of
    /// `k` bytes is `k - overhead`.
    const fn overhead(self) -> usize {
        match self {
            // 0x00 0x02, at least 8 non-zero padding bytes, 0x00.
            RsaPadding::Pkcs1V15 => 11,
            // 2 * hLen + 2 (RFC 8017 §7.1.1).
            RsaPadding::OaepSha1 => 2 * 20 + 2,
            RsaPadding::OaepSha256 => 2 * 32 + 2,
            RsaPadding::OaepSha384 => 2 * 48 + 2,
            RsaPadding::OaepSha512 => 2 * 64 + 2,
        }
    }

    /// Longest message this padding can carry under a modulus of
    /// `modulus_bytes` bytes (zero if it cannot carry any).
    const fn max_message_len(self, modulus_bytes: usize) -> usize {
        modulus_bytes.saturating_sub(self.overhead())
    }
}

impl fmt::Display for RsaPadding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RsaPadding::Pkcs1V15 => "PKCS#1 v1.5 padding",
            RsaPadding::OaepSha1 => "OAEP padding with SHA-1 and MGF1-SHA-1",
            RsaPadding::OaepSha256 => "OAEP padding with SHA-256 and MGF1-SHA-256",
            RsaPadding::OaepSha384 => "OAEP padding with SHA-384 and MGF1-SHA-384",
            RsaPadding::OaepSha512 => "OAEP padding with SHA-512 and MGF1-SHA-512",
        })
    }
}

/// Errors from loading RSA keys and from wrapping or unwrapping data keys.
///
/// No variant carries key material or data-key bytes, and decryption failures
/// are deliberately uninformative.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RsaKeyError {
    /// The input is not a well-formed PEM document (RFC 7468).
    #[error("RSA {role} key: input is not a well-formed PEM document")]
    MalformedPem {
        /// `"public"` or `"private"`: the kind of key that was being loaded.
        role: &'static str,
    },
    /// The PEM label names a form this key type does not accept, for example a
    /// private key given where a public key is expected.
    #[error("RSA {role} key: PEM label \"{label}\" is not accepted (accepted labels: {accepted})")]
    UnsupportedPemLabel {
        /// `"public"` or `"private"`: the kind of key that was being loaded.
        role: &'static str,
        /// The label found in the `-----BEGIN …-----` line (truncated if long).
        label: String,
        /// Human-readable list of the labels this key type accepts.
        accepted: &'static str,
    },
    /// The DER data could not be parsed as an RSA key in any accepted form.
    #[error("RSA {role} key: not a valid RSA key in any accepted form (tried {tried})")]
    UnparseableKey {
        /// `"public"` or `"private"`: the kind of key that was being loaded.
        role: &'static str,
        /// Human-readable list of the encodings that were tried, in order.
        tried: &'static str,
    },
    /// The public key parses but its numbers are not a usable RSA public key:
    /// the modulus must be odd and the public exponent odd, at least 3, below
    /// the modulus and below 2^33.
    #[error(
        "RSA public key: unusable modulus or public exponent (the modulus must be odd; \
         the exponent must be odd, at least 3, below the modulus and below 2^33)"
    )]
    InvalidPublicKey,
    /// The key's modulus is shorter than `min` (2048) bits.
    #[error("RSA modulus of {bits} bits is below the minimum of {min} bits")]
    KeyTooSmall {
        /// Size of the key's modulus in bits.
        bits: usize,
        /// The minimum accepted size in bits.
        min: usize,
    },
    /// The key's modulus is longer than `max` bits: 16384, or less where the backend supports
    /// less (aws-lc: private keys up to 8192 bits).
    #[error("RSA modulus of {bits} bits is above the maximum of {max} bits")]
    KeyTooLarge {
        /// Size of the key's modulus in bits.
        bits: usize,
        /// The maximum accepted size in bits.
        max: usize,
    },
    /// The data key is too long to be wrapped with this key and padding.
    #[error(
        "a {len}-byte data key does not fit a {modulus_bits}-bit RSA key with {padding} \
         (at most {max} bytes)"
    )]
    MessageTooLong {
        /// Length of the data key that was to be wrapped, in bytes.
        len: usize,
        /// Longest data key this key and padding can wrap, in bytes.
        max: usize,
        /// Size of the key's modulus in bits.
        modulus_bits: usize,
        /// The padding scheme that was requested.
        padding: RsaPadding,
    },
    /// RSA encryption failed for a reason other than the message length (for
    /// example the random number generator failed).
    #[error("RSA encryption of the data key failed")]
    EncryptionFailed,
    /// The ciphertext could not be decrypted with this key and padding.
    ///
    /// The cause (wrong key, wrong padding, wrong length, corrupted data) is
    /// intentionally not reported, so that this error cannot serve as a
    /// padding oracle.
    #[error("RSA decryption of the encrypted data key failed")]
    DecryptionFailed,
    /// The crypto backend does not implement RSA (a custom provider without
    /// [`StdProvider::rsa_decrypting_key`] / [`StdProvider::rsa_encrypting_key`]); no other
    /// backend is used instead.
    #[error("the crypto backend does not support RSA")]
    Unsupported,
}

/// Keys imported into other backends than the one that parsed them, oldest first.
type Imported<K> = Vec<(Backend, Arc<K>)>;

/// A key parsed by one backend, imported into others on demand.
struct Bound<K: ?Sized> {
    /// The backend that parsed `key`.
    backend: Backend,
    key: Arc<K>,
    /// What `key` was loaded from, for imports into other backends.
    encoding: RsaKeyEncoding,
    der: Arc<Zeroizing<Vec<u8>>>,
    /// Keys imported into other backends, oldest first.
    imported: Arc<Mutex<Imported<K>>>,
}

impl<K: ?Sized> Clone for Bound<K> {
    fn clone(&self) -> Self {
        Self {
            backend: self.backend.clone(),
            key: Arc::clone(&self.key),
            encoding: self.encoding,
            der: Arc::clone(&self.der),
            imported: Arc::clone(&self.imported),
        }
    }
}

/// Parses `der` in `encoding` with `backend` and checks the keyring's size bounds.
type Import<K> = fn(&Backend, RsaKeyEncoding, &[u8]) -> Result<Arc<K>, RsaKeyError>;

impl<K: ?Sized> Bound<K> {
    fn new(
        backend: &Backend,
        encoding: RsaKeyEncoding,
        der: Zeroizing<Vec<u8>>,
        import: Import<K>,
    ) -> Result<Self, RsaKeyError> {
        let backend = backend.base();
        let key = import(backend, encoding, &der)?;
        Ok(Self {
            backend: backend.clone(),
            key,
            encoding,
            der: Arc::new(der),
            imported: Arc::default(),
        })
    }

    /// The key in `backend`: its own, or imported once and kept.
    fn on(&self, backend: &Backend, import: Import<K>) -> Result<Arc<K>, RsaKeyError> {
        // A pipelined backend's keys are its base's.
        let backend = backend.base();
        if *backend == self.backend {
            return Ok(Arc::clone(&self.key));
        }
        // A panic while importing leaves the list as it was: recover it.
        let mut imported = self
            .imported
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, key)) = imported.iter().find(|(b, _)| b == backend) {
            return Ok(Arc::clone(key));
        }
        let key = import(backend, self.encoding, &self.der)?;
        if imported.len() >= IMPORTED_BACKENDS {
            imported.remove(0);
        }
        imported.push((backend.clone(), Arc::clone(&key)));
        Ok(key)
    }
}

/// Big-endian bytes without their leading zeros.
fn significant(be: &[u8]) -> &[u8] {
    let start = be.iter().position(|&b| b != 0).unwrap_or(be.len());
    be.get(start..).unwrap_or_default()
}

/// The bit length of a big-endian number.
fn bit_len(be: &[u8]) -> usize {
    let be = significant(be);
    match be.first() {
        None => 0,
        Some(&top) => {
            be.len().saturating_sub(1).saturating_mul(8) + (8 - top.leading_zeros() as usize)
        }
    }
}

fn import_public(
    backend: &Backend,
    encoding: RsaKeyEncoding,
    der: &[u8],
) -> Result<Arc<dyn RsaEncryptingKey>, RsaKeyError> {
    let key = backend.rsa_encrypting_key(encoding, der)?;
    check_modulus_bits(bit_len(key.modulus()))?;
    Ok(key)
}

fn import_private(
    backend: &Backend,
    encoding: RsaKeyEncoding,
    der: &[u8],
) -> Result<Arc<dyn RsaDecryptingKey>, RsaKeyError> {
    let key = backend.rsa_decrypting_key(encoding, der)?;
    check_modulus_bits(bit_len(key.modulus()))?;
    Ok(key)
}

/// Loads DER in the first encoding, else the second; `UnparseableKey` names both when both
/// fail to parse.
fn load_either<K: ?Sized>(
    backend: &Backend,
    der: &[u8],
    encodings: [RsaKeyEncoding; 2],
    role: &'static str,
    tried: &'static str,
    import: Import<K>,
) -> Result<Bound<K>, RsaKeyError> {
    let der = || Zeroizing::new(der.to_vec());
    match Bound::new(backend, encodings[0], der(), import) {
        Err(RsaKeyError::UnparseableKey { .. }) => {}
        other => return other,
    }
    match Bound::new(backend, encodings[1], der(), import) {
        Err(RsaKeyError::UnparseableKey { .. }) => Err(RsaKeyError::UnparseableKey { role, tried }),
        other => other,
    }
}

/// An RSA public key: it can wrap (encrypt) data keys but never unwrap them.
///
/// Construct it from the public half of a key pair with [`from_pem`](Self::from_pem) or
/// [`from_der`](Self::from_der) (parsed by [`Backend::default`]), or with the `*_with`
/// variants (parsed by the backend given). See [`RawRsaKeyring`](crate::keyring::RawRsaKeyring#backends) for
/// how keys and backends relate.
#[derive(Clone)]
pub struct RsaPublicKey {
    inner: Bound<dyn RsaEncryptingKey>,
}

impl PartialEq for RsaPublicKey {
    /// The same modulus and public exponent.
    fn eq(&self, other: &Self) -> bool {
        let (a, b) = (&self.inner.key, &other.inner.key);
        significant(a.modulus()) == significant(b.modulus())
            && significant(a.public_exponent()) == significant(b.public_exponent())
    }
}
impl Eq for RsaPublicKey {}

impl RsaPublicKey {
    /// Loads a public key from PEM text, parsed by [`Backend::default`].
    ///
    /// Accepts `-----BEGIN PUBLIC KEY-----` (X.509 SubjectPublicKeyInfo) and
    /// `-----BEGIN RSA PUBLIC KEY-----` (PKCS#1). Leading and trailing
    /// whitespace is ignored. A private-key PEM is refused with
    /// [`RsaKeyError::UnsupportedPemLabel`]: the public key is never derived
    /// from a private key.
    ///
    /// # Errors
    /// Malformed PEM, another label, not an RSA public key, a size out of bounds.
    pub fn from_pem(pem_text: &str) -> Result<Self, RsaKeyError> {
        Self::from_pem_with(&Backend::default(), pem_text)
    }

    /// As [`from_pem`](Self::from_pem), parsed by `backend`.
    ///
    /// # Errors
    /// As [`from_pem`](Self::from_pem), and [`RsaKeyError::Unsupported`] when `backend` has no
    /// RSA.
    pub fn from_pem_with(backend: &Backend, pem_text: &str) -> Result<Self, RsaKeyError> {
        const ACCEPTED: &str = "\"PUBLIC KEY\" (X.509 SubjectPublicKeyInfo), \
                                \"RSA PUBLIC KEY\" (PKCS#1)";
        let (label, der) = decode_pem(pem_text, PUBLIC)?;
        let encoding = match label.as_str() {
            LABEL_SPKI_PUBLIC => RsaKeyEncoding::SubjectPublicKeyInfo,
            LABEL_PKCS1_PUBLIC => RsaKeyEncoding::Pkcs1PublicKey,
            _ => {
                return Err(RsaKeyError::UnsupportedPemLabel {
                    role: PUBLIC,
                    label,
                    accepted: ACCEPTED,
                });
            }
        };
        let inner = Bound::new(backend, encoding, der, import_public)?;
        Ok(Self { inner })
    }

    /// Loads a public key from DER bytes, parsed by [`Backend::default`].
    ///
    /// Tries X.509 SubjectPublicKeyInfo first, then PKCS#1 `RSAPublicKey`.
    ///
    /// # Errors
    /// Not an RSA public key in either encoding, a size out of bounds.
    pub fn from_der(der: &[u8]) -> Result<Self, RsaKeyError> {
        Self::from_der_with(&Backend::default(), der)
    }

    /// As [`from_der`](Self::from_der), parsed by `backend`.
    ///
    /// # Errors
    /// As [`from_der`](Self::from_der), and [`RsaKeyError::Unsupported`].
    pub fn from_der_with(backend: &Backend, der: &[u8]) -> Result<Self, RsaKeyError> {
        let inner = load_either(
            backend,
            der,
            [
                RsaKeyEncoding::SubjectPublicKeyInfo,
                RsaKeyEncoding::Pkcs1PublicKey,
            ],
            PUBLIC,
            "X.509 SubjectPublicKeyInfo, then PKCS#1 RSAPublicKey",
            import_public,
        )?;
        Ok(Self { inner })
    }

    /// The backend that parsed this key (the one [`wrap`](Self::wrap) uses).
    pub fn backend(&self) -> &Backend {
        &self.inner.backend
    }

    /// Size of the modulus in bits (for example 2048 or 4096).
    pub fn modulus_bits(&self) -> usize {
        bit_len(self.inner.key.modulus())
    }

    /// Length of the modulus (and of every ciphertext) in bytes.
    fn modulus_len(&self) -> usize {
        self.modulus_bits().div_ceil(8)
    }

    /// Longest data key, in bytes, that [`wrap`](Self::wrap) accepts with
    /// `padding` under this key.
    pub fn max_wrap_len(&self, padding: RsaPadding) -> usize {
        padding.max_message_len(self.modulus_len())
    }

    /// Encrypts `plaintext_data_key` under this key with `padding`, on the backend that
    /// parsed the key.
    ///
    /// The result is exactly as long as the modulus (for example 512 bytes for
    /// a 4096-bit key) and is randomized: wrapping the same data key twice gives
    /// different ciphertexts. `rng` supplies the padding randomness (the aws-lc backend
    /// draws it from AWS-LC's own DRBG instead) and should be a cryptographically secure
    /// generator such as [`OsRng`](rand_core::OsRng).
    ///
    /// # Errors
    ///
    /// [`RsaKeyError::MessageTooLong`] if the data key is longer than
    /// [`max_wrap_len`](Self::max_wrap_len); [`RsaKeyError::EncryptionFailed`]
    /// if the underlying encryption fails otherwise.
    pub fn wrap(
        &self,
        padding: RsaPadding,
        plaintext_data_key: &[u8],
        rng: &mut impl CryptoRngCore,
    ) -> Result<Vec<u8>, RsaKeyError> {
        self.wrap_with(
            &self.inner.backend.clone(),
            padding,
            plaintext_data_key,
            rng,
        )
    }

    /// As [`wrap`](Self::wrap), on `backend` (the key is imported into it once if another
    /// backend parsed it).
    ///
    /// # Errors
    /// As [`wrap`](Self::wrap); an import error ([`RsaKeyError::Unsupported`] for a backend
    /// without RSA).
    pub fn wrap_with(
        &self,
        backend: &Backend,
        padding: RsaPadding,
        plaintext_data_key: &[u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Vec<u8>, RsaKeyError> {
        let max = self.max_wrap_len(padding);
        if plaintext_data_key.len() > max {
            return Err(RsaKeyError::MessageTooLong {
                len: plaintext_data_key.len(),
                max,
                modulus_bits: self.modulus_bits(),
                padding,
            });
        }
        let key = self.inner.on(backend, import_public)?;
        let mut out = vec![0u8; self.modulus_len()];
        let n = key
            .encrypt(padding, plaintext_data_key, rng, &mut out)
            .map_err(|_| RsaKeyError::EncryptionFailed)?;
        // Every ciphertext is exactly the modulus length (the unwrapping side checks it).
        if n != out.len() {
            return Err(RsaKeyError::EncryptionFailed);
        }
        Ok(out)
    }
}

impl fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaPublicKey")
            .field("modulus_bits", &self.modulus_bits())
            .finish_non_exhaustive()
    }
}

/// An RSA private key: it can unwrap (decrypt) data keys but never wrap them.
///
/// The key material is zeroized when the value is dropped, and its
/// [`Debug`](core::fmt::Debug) output shows only the modulus size. Construct it
/// with [`from_pem`](Self::from_pem) or [`from_der`](Self::from_der) (parsed by
/// [`Backend::default`]), or the `*_with` variants (parsed by the backend given).
#[derive(Clone)]
pub struct RsaPrivateKey {
    inner: Bound<dyn RsaDecryptingKey>,
}

impl RsaPrivateKey {
    /// Loads a private key from PEM text, parsed by [`Backend::default`].
    ///
    /// Accepts `-----BEGIN PRIVATE KEY-----` (unencrypted PKCS#8) and
    /// `-----BEGIN RSA PRIVATE KEY-----` (PKCS#1). Leading and trailing
    /// whitespace is ignored. Encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`) and
    /// public-key PEMs are refused with [`RsaKeyError::UnsupportedPemLabel`].
    ///
    /// # Errors
    /// Malformed PEM, another label, not an RSA private key, a size out of bounds (aws-lc:
    /// above 8192 bits).
    pub fn from_pem(pem_text: &str) -> Result<Self, RsaKeyError> {
        Self::from_pem_with(&Backend::default(), pem_text)
    }

    /// As [`from_pem`](Self::from_pem), parsed by `backend`.
    ///
    /// # Errors
    /// As [`from_pem`](Self::from_pem), and [`RsaKeyError::Unsupported`] when `backend` has no
    /// RSA.
    pub fn from_pem_with(backend: &Backend, pem_text: &str) -> Result<Self, RsaKeyError> {
        const ACCEPTED: &str = "\"PRIVATE KEY\" (PKCS#8), \"RSA PRIVATE KEY\" (PKCS#1)";
        let (label, der) = decode_pem(pem_text, PRIVATE)?;
        let encoding = match label.as_str() {
            LABEL_PKCS8_PRIVATE => RsaKeyEncoding::Pkcs8PrivateKeyInfo,
            LABEL_PKCS1_PRIVATE => RsaKeyEncoding::Pkcs1PrivateKey,
            _ => {
                return Err(RsaKeyError::UnsupportedPemLabel {
                    role: PRIVATE,
                    label,
                    accepted: ACCEPTED,
                });
            }
        };
        let inner = Bound::new(backend, encoding, der, import_private)?;
        Ok(Self { inner })
    }

    /// Loads a private key from DER bytes, parsed by [`Backend::default`].
    ///
    /// Tries unencrypted PKCS#8 `PrivateKeyInfo` first, then PKCS#1
    /// `RSAPrivateKey`.
    ///
    /// # Errors
    /// Not an RSA private key in either encoding, a size out of bounds.
    pub fn from_der(der: &[u8]) -> Result<Self, RsaKeyError> {
        Self::from_der_with(&Backend::default(), der)
    }

    /// As [`from_der`](Self::from_der), parsed by `backend`.
    ///
    /// # Errors
    /// As [`from_der`](Self::from_der), and [`RsaKeyError::Unsupported`].
    pub fn from_der_with(backend: &Backend, der: &[u8]) -> Result<Self, RsaKeyError> {
        let inner = load_either(
            backend,
            der,
            [
                RsaKeyEncoding::Pkcs8PrivateKeyInfo,
                RsaKeyEncoding::Pkcs1PrivateKey,
            ],
            PRIVATE,
            "PKCS#8 PrivateKeyInfo, then PKCS#1 RSAPrivateKey",
            import_private,
        )?;
        Ok(Self { inner })
    }

    /// The backend that parsed this key (the one [`unwrap`](Self::unwrap) uses).
    pub fn backend(&self) -> &Backend {
        &self.inner.backend
    }

    /// Size of the modulus in bits (for example 2048 or 4096).
    pub fn modulus_bits(&self) -> usize {
        bit_len(self.inner.key.modulus())
    }

    /// Decrypts a wrapped data key with this key and `padding`, on the backend that parsed
    /// the key.
    ///
    /// The private-key operation is blinded (constant time on the aws-lc backend, not on
    /// RustCrypto: see [`RawRsaKeyring`](crate::keyring::RawRsaKeyring)'s side-channel table).
    /// The caller must still check that its length is the one the algorithm
    /// suite expects.
    ///
    /// # Errors
    ///
    /// [`RsaKeyError::DecryptionFailed`] for every failure — a ciphertext whose
    /// length is not the modulus length, a value out of range, or a padding
    /// check that fails (which is also what a wrong key or a wrong padding
    /// scheme produces). The error says nothing more, by design.
    pub fn unwrap(
        &self,
        padding: RsaPadding,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, RsaKeyError> {
        self.unwrap_with(&self.inner.backend.clone(), padding, ciphertext)
    }

    /// As [`unwrap`](Self::unwrap), on `backend` (the key is imported into it once if another
    /// backend parsed it).
    ///
    /// # Errors
    /// As [`unwrap`](Self::unwrap); an import error ([`RsaKeyError::Unsupported`] for a backend
    /// without RSA, a size the backend refuses).
    pub fn unwrap_with(
        &self,
        backend: &Backend,
        padding: RsaPadding,
        ciphertext: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, RsaKeyError> {
        let len = self.modulus_bits().div_ceil(8);
        if ciphertext.len() != len {
            return Err(RsaKeyError::DecryptionFailed);
        }
        let key = self.inner.on(backend, import_private)?;
        let mut out = Zeroizing::new(vec![0u8; len]);
        let n = key
            .decrypt(padding, ciphertext, &mut out)
            .map_err(|_| RsaKeyError::DecryptionFailed)?;
        if n > len {
            return Err(RsaKeyError::DecryptionFailed);
        }
        out.truncate(n);
        Ok(out)
    }
}

impl fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaPrivateKey")
            .field("modulus_bits", &self.modulus_bits())
            .finish_non_exhaustive()
    }
}

/// Rejects moduli outside [`MIN_MODULUS_BITS`]..=[`MAX_MODULUS_BITS`].
pub(crate) fn check_modulus_bits(bits: usize) -> Result<(), RsaKeyError> {
    if bits < MIN_MODULUS_BITS {
        return Err(RsaKeyError::KeyTooSmall {
            bits,
            min: MIN_MODULUS_BITS,
        });
    }
    if bits > MAX_MODULUS_BITS {
        return Err(RsaKeyError::KeyTooLarge {
            bits,
            max: MAX_MODULUS_BITS,
        });
    }
    Ok(())
}

/// Decodes PEM text into its label and a zeroize-on-drop DER buffer.
///
/// The strict RFC 7468 decoder insists on 64-column base64 lines, but keys
/// written by other tools use other widths (76 columns, or one long line). The
/// text is therefore first normalized: surrounding whitespace and blank lines
/// are dropped, the body is joined and re-wrapped at 64 columns, and CRLF line
/// endings become LF. The decoder then checks the boundary lines, the label and
/// the base64 (in constant time).
fn decode_pem(
    pem_text: &str,
    role: &'static str,
) -> Result<(String, Zeroizing<Vec<u8>>), RsaKeyError> {
    let malformed = RsaKeyError::MalformedPem { role };
    let lines: Vec<&str> = pem_text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    let [begin, body @ .., end] = lines.as_slice() else {
        return Err(malformed);
    };
    let body = Zeroizing::new(body.concat());
    let mut normalized = Zeroizing::new(String::with_capacity(pem_text.len() + 8));
    normalized.push_str(begin);
    normalized.push('\n');
    for chunk in body.as_bytes().chunks(64) {
        // Slicing ASCII base64 never splits a character; anything else is
        // rejected by the decoder anyway.
        normalized.push_str(core::str::from_utf8(chunk).map_err(|_| malformed.clone())?);
        normalized.push('\n');
    }
    normalized.push_str(end);
    normalized.push('\n');

    let (label, der) = pem_rfc7468::decode_vec(normalized.as_bytes()).map_err(|_| malformed)?;
    let der = Zeroizing::new(der);
    // RFC 7468 labels are printable ASCII, so truncating by bytes is safe.
    let label = label.get(..MAX_LABEL_IN_ERROR).unwrap_or(label).to_owned();
    Ok((label, der))
}

#[cfg(test)]
#[path = "rsa_key_tests.rs"]
mod tests;
