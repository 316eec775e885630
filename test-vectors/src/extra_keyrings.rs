//! How the runner builds the two MPL keyrings that the Dafny 4.1.0 vectors use offline; the
//! keyrings themselves are the library's (`esdk-hierarchy`, `esdk-std`):
//!
//! * the **hierarchical keyring over a static branch key** (provider id
//!   `aws-kms-hierarchy`; the branch key is given in clear by a
//!   `static-branch-key` entry, so no key store or KMS is needed): `esdk-hierarchy`'s
//!   `HierarchicalKeyring` over a `StaticBranchKey`;
//! * the **raw ECDH keyring** (provider id `raw-ecdh`), schemas
//!   `RawPrivateKeyToStaticPublicKey` (`static`), `EphemeralPrivateKeyToStaticPublicKey`
//!   (`ephemeral`, encrypt only) and `PublicKeyDiscovery` (`discovery`, decrypt only),
//!   on P-256, P-384 and P-521: esdk-std's `RawEcdhKeyring`.
//!
//! Only the mapping from a manifest description to a configured keyring lives here.

use anyhow::{Context as _, anyhow};
use esdk_std::keyring::raw_ecdh::{EcPrivateKey, EcPublicKey, EcdhCurve, RawEcdhKeyring};

use esdk_hierarchy::{BranchKeyMaterials, HierarchicalKeyring, StaticBranchKey};
use esdk_kms::BlockingKeyring;

use crate::keyrings::Purpose;
use crate::manifest::{EccCurve, EcdhDescription, EcdhSchema, KeysManifest};

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
// Raw ECDH keyring: the manifest's description mapped onto esdk-std's `RawEcdhKeyring`
// (all of the keyring's logic lives in the library).

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

    /// Builds the library's keyring (parses the keys).
    pub fn build(&self) -> anyhow::Result<RawEcdhKeyring> {
        let c = match self.curve {
            EccCurve::P256 => EcdhCurve::P256,
            EccCurve::P384 => EcdhCurve::P384,
            EccCurve::P521 => EcdhCurve::P521,
        };
        Ok(match &self.keys {
            EcdhKeys::Static {
                sender_private_pem,
                recipient_public_der,
            } => RawEcdhKeyring::static_keys(
                EcPrivateKey::from_pem(c, sender_private_pem).context("sender private key")?,
                EcPublicKey::from_der(c, recipient_public_der).context("recipient public key")?,
            )?,
            EcdhKeys::Ephemeral {
                recipient_public_der,
            } => RawEcdhKeyring::ephemeral(
                EcPublicKey::from_der(c, recipient_public_der).context("recipient public key")?,
            ),
            EcdhKeys::Discovery {
                recipient_private_pem,
            } => RawEcdhKeyring::discovery(
                EcPrivateKey::from_pem(c, recipient_private_pem)
                    .context("recipient private key")?,
            ),
        })
    }
}
