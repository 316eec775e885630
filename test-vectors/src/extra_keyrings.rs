//! Two MPL keyrings that the Dafny 4.1.0 vectors use and that run offline,
//! implemented here (test-vector tooling only; `esdk-std` does not ship them):
//!
//! * the **hierarchical keyring over a static branch key** (provider id
//!   `aws-kms-hierarchy`; the branch key is given in clear by a
//!   `static-branch-key` entry, so no key store or KMS is needed): only the plan lives here,
//!   the keyring is `esdk-hierarchy`'s;
//! * the **raw ECDH keyring** (provider id `raw-ecdh`), schemas
//!   `RawPrivateKeyToStaticPublicKey` (`static`), `EphemeralPrivateKeyToStaticPublicKey`
//!   (`ephemeral`, encrypt only) and `PublicKeyDiscovery` (`discovery`, decrypt only),
//!   on P-256, P-384 and P-521.
//!
//! Wire details follow `shared/spec-digest.md` §6.6 / §6.7 (and the README of
//! the vectors, §5): SP 800-108 counter-mode KDFs over HMAC, AES-256-GCM key
//! wrapping with the canonical encryption context bound in the AAD.

use anyhow::{Context as _, anyhow};
use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::crypto::{AeadKey as _, CryptoProvider as _};
use esdk_core::{AlgorithmSuite, DataKey};
use esdk_std::error::EdkFailure;
use esdk_std::keyring::Keyring;
use esdk_std::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk_std::{EncryptedDataKey, EncryptionContext, Error as EsdkError};
use hmac::{Hmac, Mac as _};
use rand_core::{OsRng, RngCore as _};
use subtle::ConstantTimeEq as _;
use zeroize::Zeroizing;

use esdk_hierarchy::{BranchKeyMaterials, HierarchicalKeyring, StaticBranchKey};
use esdk_kms::BlockingKeyring;

use crate::keyrings::Purpose;
use crate::manifest::{EccCurve, EcdhDescription, EcdhSchema, KeysManifest};

const TAG_LEN: usize = 16;
const IV_LEN: usize = 12;

fn keyring_error(keyring: &str, reason: impl Into<String>) -> EsdkError {
    EsdkError::Keyring {
        keyring: keyring.into(),
        reason: reason.into(),
    }
}

fn serialize_ec(ec: &EncryptionContext) -> esdk_std::Result<Vec<u8>> {
    Ok(ec.serialize()?)
}

fn new_data_key(suite: AlgorithmSuite) -> esdk_std::Result<DataKey> {
    Ok(DataKey::generate(suite, &mut OsRng)?)
}

/// AES-GCM seal with a detached tag appended: `ct ‖ tag`.
fn seal(key: &[u8], iv: &[u8; IV_LEN], aad: &[u8], pt: &[u8]) -> Result<Vec<u8>, String> {
    let k = RustCrypto.aead_key(key).map_err(|e| e.to_string())?;
    let mut buf = pt.to_vec();
    let tag = k
        .seal_in_place(iv, aad, &mut buf)
        .map_err(|e| e.to_string())?;
    buf.extend_from_slice(&tag);
    Ok(buf)
}

/// AES-GCM open of `ct ‖ tag`.
fn open(
    key: &[u8],
    iv: &[u8; IV_LEN],
    aad: &[u8],
    ct_tag: &[u8],
) -> Result<Zeroizing<Vec<u8>>, String> {
    let split = ct_tag
        .len()
        .checked_sub(TAG_LEN)
        .ok_or("ciphertext shorter than a tag")?;
    let (ct, tag) = ct_tag.split_at(split);
    let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| "bad tag length")?;
    let k = RustCrypto.aead_key(key).map_err(|e| e.to_string())?;
    let mut buf = Zeroizing::new(ct.to_vec());
    k.open_in_place(iv, aad, &mut buf, &tag)
        .map_err(|_| "AES-GCM tag does not verify".to_owned())?;
    Ok(buf)
}

// -------------------------------------------------------------------------------------------
// Hierarchical keyring, static branch key

/// Plan of a hierarchical keyring over one static branch key: `esdk-hierarchy`'s
/// [`HierarchicalKeyring`] over a [`StaticBranchKey`] (so the vectors test the library's
/// wrapping, cache and EDK selection), made synchronous by esdk-kms's `BlockingKeyring`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HierarchyPlan {
    /// Branch key id (the EDK provider info).
    pub branch_key_id: String,
    /// The branch key version (UUID bytes).
    pub version: [u8; 16],
    /// The 32-byte branch key.
    pub branch_key: Vec<u8>,
}

impl HierarchyPlan {
    /// Builds the keyring.
    pub fn build(&self) -> anyhow::Result<BlockingKeyring<HierarchicalKeyring>> {
        let key: [u8; 32] =
            self.branch_key.as_slice().try_into().map_err(|_| {
                anyhow!("branch key must be 32 bytes, got {}", self.branch_key.len())
            })?;
        let materials = BranchKeyMaterials::from_version_bytes(
            self.branch_key_id.clone(),
            self.version,
            Default::default(),
            key,
        );
        let keyring = HierarchicalKeyring::builder(StaticBranchKey::new(materials))
            .branch_key_id(self.branch_key_id.clone())
            .ttl(std::time::Duration::from_secs(3600))
            .cache_capacity(4)
            .build()?;
        Ok(BlockingKeyring::with_runtime(keyring, hierarchy_runtime()?))
    }
}

/// One small runtime for every hierarchical keyring of a run (static keys never leave it).
fn hierarchy_runtime() -> anyhow::Result<std::sync::Arc<tokio::runtime::Runtime>> {
    static RT: std::sync::OnceLock<std::sync::Arc<tokio::runtime::Runtime>> =
        std::sync::OnceLock::new();
    if let Some(rt) = RT.get() {
        return Ok(rt.clone());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("vectors-hierarchy")
        .build()
        .context("tokio runtime for the hierarchical keyring")?;
    Ok(RT.get_or_init(|| std::sync::Arc::new(rt)).clone())
}

// -------------------------------------------------------------------------------------------
// Raw ECDH keyring

const ECDH_PROVIDER_ID: &str = "raw-ecdh";
const ECDH_SALT_LEN: usize = 32;
const ECDH_COMMIT_LEN: usize = 32;

/// What the ECDH keyring holds, by schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EcdhKeys {
    /// `static`: the sender's private key (PKCS#8 PEM) and the recipient's public key (DER SPKI).
    Static {
        /// Sender private key, PEM.
        sender_private_pem: String,
        /// Recipient public key, DER SubjectPublicKeyInfo.
        recipient_public_der: Vec<u8>,
    },
    /// `ephemeral` (encrypt only): a fresh sender key per message.
    Ephemeral {
        /// Recipient public key, DER SubjectPublicKeyInfo.
        recipient_public_der: Vec<u8>,
    },
    /// `discovery` (decrypt only): the recipient's private key.
    Discovery {
        /// Recipient private key, PEM.
        recipient_private_pem: String,
    },
}

/// Plan of a raw ECDH keyring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcdhPlan {
    /// The curve.
    pub curve: EccCurve,
    /// The keys.
    pub keys: EcdhKeys,
}

impl EcdhPlan {
    /// Resolves a `raw-ecdh` description against the keys manifest.
    pub fn from_description(
        keys: &KeysManifest,
        e: &EcdhDescription,
        purpose: Purpose,
    ) -> Result<EcdhPlan, crate::keyrings::PlanError> {
        use crate::keyrings::PlanError;
        let ecc = |name: &str| -> anyhow::Result<&crate::manifest::EccKeySpec> {
            keys.get(name)?
                .ecc
                .as_ref()
                .ok_or_else(|| anyhow!("key {name:?} is not an ECC key entry"))
        };
        let public_field =
            |spec: &crate::manifest::EccKeySpec, field: &str| -> anyhow::Result<Vec<u8>> {
                match field {
                    "sender-material-public-key" => Ok(spec.sender_public_key.clone()),
                    "recipient-material-public-key" => Ok(spec.recipient_public_key.clone()),
                    other => Err(anyhow!("unknown public-key field {other:?}")),
                }
            };
        let recipient = ecc(&e.recipient)?;
        let keys_ = match (e.schema, purpose) {
            (EcdhSchema::Static, _) => {
                let sender_name = e
                    .sender
                    .as_deref()
                    .ok_or_else(|| anyhow!("static schema without a sender"))?;
                let sender = ecc(sender_name)?;
                EcdhKeys::Static {
                    sender_private_pem: sender.sender_material.clone(),
                    recipient_public_der: public_field(recipient, &e.recipient_public_key)?,
                }
            }
            (EcdhSchema::Ephemeral, Purpose::Encrypt) => EcdhKeys::Ephemeral {
                recipient_public_der: public_field(recipient, &e.recipient_public_key)?,
            },
            (EcdhSchema::Discovery, Purpose::Decrypt) => EcdhKeys::Discovery {
                recipient_private_pem: recipient.recipient_material.clone(),
            },
            (schema, purpose) => {
                return Err(PlanError::Invalid(anyhow!(
                    "raw ECDH schema {schema:?} cannot be used to {purpose:?}"
                )));
            }
        };
        if recipient.curve != e.curve {
            return Err(PlanError::Invalid(anyhow!(
                "ecc-curve {:?} but key {:?} is on {:?}",
                e.curve_name,
                e.recipient,
                recipient.curve
            )));
        }
        Ok(EcdhPlan {
            curve: e.curve,
            keys: keys_,
        })
    }

    /// Builds the keyring (parses the keys).
    pub fn build(&self) -> anyhow::Result<RawEcdhKeyring> {
        let c = self.curve;
        let (own_private, sender_public, recipient_public) = match &self.keys {
            EcdhKeys::Static {
                sender_private_pem,
                recipient_public_der,
            } => {
                let sk = EcSecret::from_pem(c, sender_private_pem).context("sender private key")?;
                let spub = sk.public_compressed();
                let rpub = compressed_from_spki(c, recipient_public_der)
                    .context("recipient public key")?;
                (Some(sk), Some(spub), Some(rpub))
            }
            EcdhKeys::Ephemeral {
                recipient_public_der,
            } => (
                None,
                None,
                Some(
                    compressed_from_spki(c, recipient_public_der)
                        .context("recipient public key")?,
                ),
            ),
            EcdhKeys::Discovery {
                recipient_private_pem,
            } => {
                let sk = EcSecret::from_pem(c, recipient_private_pem)
                    .context("recipient private key")?;
                let rpub = sk.public_compressed();
                (Some(sk), None, Some(rpub))
            }
        };
        Ok(RawEcdhKeyring {
            curve: c,
            schema: match self.keys {
                EcdhKeys::Static { .. } => EcdhSchema::Static,
                EcdhKeys::Ephemeral { .. } => EcdhSchema::Ephemeral,
                EcdhKeys::Discovery { .. } => EcdhSchema::Discovery,
            },
            own_private,
            sender_public,
            recipient_public,
        })
    }
}

/// A private key on one of the three curves.
enum EcSecret {
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    P521(p521::SecretKey),
}

macro_rules! per_curve {
    ($curve:expr, $m:ident => $body:expr) => {
        match $curve {
            EccCurve::P256 => {
                use p256 as $m;
                $body
            }
            EccCurve::P384 => {
                use p384 as $m;
                $body
            }
            EccCurve::P521 => {
                use p521 as $m;
                $body
            }
        }
    };
}

impl EcSecret {
    fn from_pem(curve: EccCurve, pem: &str) -> anyhow::Result<EcSecret> {
        use p256::pkcs8::DecodePrivateKey as _;
        Ok(match curve {
            EccCurve::P256 => EcSecret::P256(p256::SecretKey::from_pkcs8_pem(pem)?),
            EccCurve::P384 => EcSecret::P384(p384::SecretKey::from_pkcs8_pem(pem)?),
            EccCurve::P521 => EcSecret::P521(p521::SecretKey::from_pkcs8_pem(pem)?),
        })
    }

    fn generate(curve: EccCurve) -> EcSecret {
        match curve {
            EccCurve::P256 => EcSecret::P256(p256::SecretKey::random(&mut OsRng)),
            EccCurve::P384 => EcSecret::P384(p384::SecretKey::random(&mut OsRng)),
            EccCurve::P521 => EcSecret::P521(p521::SecretKey::random(&mut OsRng)),
        }
    }

    fn public_compressed(&self) -> Vec<u8> {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        match self {
            EcSecret::P256(k) => k.public_key().to_encoded_point(true).as_bytes().to_vec(),
            EcSecret::P384(k) => k.public_key().to_encoded_point(true).as_bytes().to_vec(),
            EcSecret::P521(k) => k.public_key().to_encoded_point(true).as_bytes().to_vec(),
        }
    }

    /// The ECDH shared secret (x-coordinate) with a SEC1 public key.
    fn agree(&self, peer_sec1: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
        macro_rules! dh {
            ($m:ident, $k:expr) => {{
                let peer = $m::PublicKey::from_sec1_bytes(peer_sec1)
                    .map_err(|_| "peer public key is not a point of the curve".to_owned())?;
                let z = $m::ecdh::diffie_hellman($k.to_nonzero_scalar(), peer.as_affine());
                Zeroizing::new(z.raw_secret_bytes().to_vec())
            }};
        }
        Ok(match self {
            EcSecret::P256(k) => dh!(p256, k),
            EcSecret::P384(k) => dh!(p384, k),
            EcSecret::P521(k) => dh!(p521, k),
        })
    }
}

fn compressed_from_spki(curve: EccCurve, der: &[u8]) -> anyhow::Result<Vec<u8>> {
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;
    use p256::pkcs8::DecodePublicKey as _;
    per_curve!(curve, m => {
        let pk = m::PublicKey::from_public_key_der(der).map_err(|e| anyhow!("{e}"))?;
        Ok(pk.to_encoded_point(true).as_bytes().to_vec())
    })
}

fn curve_label(c: EccCurve) -> &'static [u8] {
    match c {
        EccCurve::P256 => b"p256",
        EccCurve::P384 => b"p384",
        EccCurve::P521 => b"p521",
    }
}

/// Raw ECDH keyring.
pub struct RawEcdhKeyring {
    curve: EccCurve,
    schema: EcdhSchema,
    own_private: Option<EcSecret>,
    /// Static schema: our (sender) public key.
    sender_public: Option<Vec<u8>>,
    recipient_public: Option<Vec<u8>>,
}

impl core::fmt::Debug for RawEcdhKeyring {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RawEcdhKeyring")
            .field("curve", &self.curve)
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

impl RawEcdhKeyring {
    fn label(&self) -> String {
        format!("raw ECDH {:?} {:?}", self.schema, self.curve)
    }

    /// `"ecdh-key-derivation" 00 curve 00 "HMAC_SHA384" 00 sender ‖ recipient 00 01 00 serEC`.
    fn fixed_info(&self, sender: &[u8], recipient: &[u8], ec: &[u8]) -> Vec<u8> {
        [
            &b"ecdh-key-derivation"[..],
            &[0],
            curve_label(self.curve),
            &[0],
            b"HMAC_SHA384",
            &[0],
            sender,
            recipient,
            &[0, 1, 0],
            ec,
        ]
        .concat()
    }

    /// 64 bytes of SP 800-108 counter-mode HMAC-SHA-384 (key = the shared
    /// secret; block i: `u32 i ‖ fixed info ‖ 00 ‖ salt ‖ u32 512`):
    /// commitment (first 32) and wrapping key (last 32).
    fn derive(z: &[u8], fixed_info: &[u8], salt: &[u8]) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(Vec::with_capacity(96));
        for i in 1u32..=2 {
            let mut mac =
                <Hmac<sha2::Sha384>>::new_from_slice(z).expect("HMAC accepts any key length");
            mac.update(&i.to_be_bytes());
            mac.update(fixed_info);
            mac.update(&[0]);
            mac.update(salt);
            mac.update(&512u32.to_be_bytes());
            out.extend_from_slice(&mac.finalize().into_bytes());
        }
        out.truncate(64);
        out
    }

    fn provider_info(recipient: &[u8], sender: &[u8]) -> Vec<u8> {
        // Public keys are at most 67 bytes (compressed P-521).
        let len = |b: &[u8]| u32::try_from(b.len()).unwrap_or(u32::MAX).to_be_bytes();
        [&[1u8][..], &len(recipient), recipient, &len(sender), sender].concat()
    }

    /// Splits provider info into (recipient, sender) public keys.
    fn parse_provider_info(info: &[u8]) -> Option<(&[u8], &[u8])> {
        let (&version, rest) = info.split_first()?;
        if version != 1 {
            return None;
        }
        let take = |b: &[u8]| -> Option<(usize, usize)> {
            let n = u32::from_be_bytes(b.get(..4)?.try_into().ok()?) as usize;
            Some((4, n))
        };
        let (o, n) = take(rest)?;
        let recipient = rest.get(o..o + n)?;
        let rest = rest.get(o + n..)?;
        let (o, n) = take(rest)?;
        let sender = rest.get(o..o + n)?;
        (rest.len() == o + n).then_some((recipient, sender))
    }
}

impl Keyring for RawEcdhKeyring {
    fn on_encrypt(&self, materials: &EncryptionMaterials) -> esdk_std::Result<EncryptionMaterials> {
        let fail = |r: &str| keyring_error(&self.label(), r);
        let recipient = self
            .recipient_public
            .as_deref()
            .ok_or_else(|| fail("no recipient public key: this schema cannot encrypt"))?;
        let ephemeral;
        let (secret, sender) = match self.schema {
            EcdhSchema::Static => (
                self.own_private
                    .as_ref()
                    .ok_or_else(|| fail("no sender key"))?,
                self.sender_public
                    .clone()
                    .ok_or_else(|| fail("no sender key"))?,
            ),
            EcdhSchema::Ephemeral => {
                ephemeral = EcSecret::generate(self.curve);
                let p = ephemeral.public_compressed();
                (&ephemeral, p)
            }
            EcdhSchema::Discovery => return Err(fail("the discovery schema cannot encrypt")),
        };
        let mut m = materials.clone();
        let dk = match &m.data_key {
            Some(k) => k.clone(),
            None => new_data_key(m.suite)?,
        };
        let z = secret.agree(recipient).map_err(|e| fail(&e))?;
        let fixed = self.fixed_info(&sender, recipient, &serialize_ec(&m.encryption_context)?);
        let mut salt = [0u8; ECDH_SALT_LEN];
        OsRng.fill_bytes(&mut salt);
        let okm = Self::derive(&z, &fixed, &salt);
        let wrapped =
            seal(&okm[32..], &[0; IV_LEN], &fixed, dk.as_bytes()).map_err(|e| fail(&e))?;
        m.encrypted_data_keys.push(EncryptedDataKey {
            provider_id: ECDH_PROVIDER_ID.into(),
            provider_info: Self::provider_info(recipient, &sender),
            ciphertext: [&salt[..], &okm[..32], &wrapped].concat(),
        });
        m.data_key = Some(dk);
        Ok(m)
    }

    fn on_decrypt(
        &self,
        materials: &DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> esdk_std::Result<DecryptionMaterials> {
        if materials.data_key.is_some() {
            return Err(EsdkError::Materials(
                "decryption materials already hold a data key".into(),
            ));
        }
        let label = self.label();
        let Some(secret) = &self.own_private else {
            let failures = edks
                .iter()
                .map(|e| EdkFailure::new(e, format!("{label}: no private key")))
                .collect();
            return Err(EsdkError::NoDecryptableKey(failures));
        };
        let ec = serialize_ec(&materials.encryption_context)?;
        let mut failures = Vec::new();
        for edk in edks {
            let not_ours = |why: &str| EdkFailure::new(edk, format!("{label}: {why}"));
            if edk.provider_id != ECDH_PROVIDER_ID {
                failures.push(not_ours("not a raw ECDH key"));
                continue;
            }
            let Some((recipient, sender)) = Self::parse_provider_info(&edk.provider_info) else {
                failures.push(not_ours("malformed provider info"));
                continue;
            };
            if Some(recipient) != self.recipient_public.as_deref() {
                failures.push(not_ours("other recipient"));
                continue;
            }
            // Static schema: we hold the sender's key, so the shared secret is
            // computed with the recipient's public key; discovery: with the
            // sender's public key from the EDK.
            let peer = match self.schema {
                EcdhSchema::Static => {
                    if Some(sender) != self.sender_public.as_deref() {
                        failures.push(not_ours("other sender"));
                        continue;
                    }
                    recipient
                }
                _ => sender,
            };
            let c = &edk.ciphertext;
            if c.len() < ECDH_SALT_LEN + ECDH_COMMIT_LEN + TAG_LEN {
                failures.push(not_ours("ciphertext too short"));
                continue;
            }
            let (salt, rest) = c.split_at(ECDH_SALT_LEN);
            let (commit, wrapped) = rest.split_at(ECDH_COMMIT_LEN);
            let z = match secret.agree(peer) {
                Ok(z) => z,
                Err(e) => {
                    failures.push(not_ours(&e));
                    continue;
                }
            };
            let fixed = self.fixed_info(sender, recipient, &ec);
            let okm = Self::derive(&z, &fixed, salt);
            if !bool::from(okm[..32].ct_eq(commit)) {
                failures.push(not_ours("key commitment mismatch"));
                continue;
            }
            match open(&okm[32..], &[0; IV_LEN], &fixed, wrapped) {
                Ok(pt) => {
                    let mut m = materials.clone();
                    m.data_key = Some(DataKey::from_slice(&pt)?);
                    return Ok(m);
                }
                Err(e) => failures.push(not_ours(&e)),
            }
        }
        Err(EsdkError::NoDecryptableKey(failures))
    }
}
