//! Typed, validated readers for every test-vector manifest format of the AWS
//! Encryption SDK message format (see `shared/test-vectors/README.md`,
//! sections 1 and 4, for the formats and their traps).
//!
//! | Format | Reader |
//! |---|---|
//! | keys manifest v1–v3, MPL keys (labelled v2) | [`KeysManifest`] |
//! | `awses-decrypt` v1–v5 | [`DecryptManifest`] |
//! | `awses-encrypt` v1, v2, v5 | [`EncryptManifest`] |
//! | `awses-decrypt-generate` v1, v2 (framework 0006) | [`DecryptGenerateManifest`] |
//! | legacy python 1.3.0 `ciphertext` / `test_case` / `results` manifests | [`LegacyCiphertextManifest`], [`LegacyTestCaseManifest`], [`LegacyResultsManifest`] |
//! | MPL keyring test manifest (`generation/mpl/test.json`, no header) | [`MplKeyringManifest`] |
//! | commitment known-answer tests | [`CommitmentKats`] |
//! | python decrypt-oracle vectors | [`OracleVector`] via [`load_oracle_vectors`] |
//! | C SDK file pairs (no manifest) | [`CSdkVector`] via [`list_c_sdk_data`] |
//!
//! [`load_any`] sniffs a file and returns the matching reader's result.
//!
//! Common rules: every error names the file and the JSON location of the
//! offending value; unknown fields are rejected (so a misspelt field cannot
//! silently change a case's meaning); duplicate JSON object members are
//! rejected; unknown key / keyring *types* are kept as `Other(..)` so a
//! runner can report the case as skipped; `file://` URIs are resolved
//! against the (canonicalized) directory of the manifest that contains them.

mod decrypt;
mod encrypt;
mod json;
mod kat;
mod key_description;
mod keys;
mod legacy;
mod mpl;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Result, anyhow};

pub use decrypt::{DecryptManifest, DecryptTest, ExpectedResult};
pub use encrypt::{
    DecryptGenerateManifest, DecryptGenerateTest, EncryptManifest, EncryptScenario,
    GenerateExpectation, Tampering,
};
pub use kat::{
    CSdkExpected, CSdkKey, CSdkVector, CommitmentKat, CommitmentKats, KatKeyringType,
    OracleKeyType, OracleVector, list_c_sdk_data, load_oracle_vectors,
};
pub use key_description::{DiscoveryFilter, EcdhDescription, EcdhSchema, KeyDescription};
pub use keys::{
    EccKeySpec, KeyAlgorithm, KeyEncoding, KeySpec, KeyType, KeysManifest, StaticBranchKeySpec,
    StaticEncryptedDataKey, StaticMaterialSpec,
};
pub use legacy::{
    LegacyCase, LegacyCiphertextManifest, LegacyMasterKey, LegacyResult, LegacyResultsManifest,
    LegacyScenario, LegacyStatus, LegacyTestCaseManifest, LegacyWrapAlgorithm,
};
pub use mpl::{MplKeyringManifest, MplKeyringTest, MplTestType};

/// An encryption context (or reproduced encryption context): UTF-8 key → value.
pub type EncryptionContext = BTreeMap<String, String>;

/// The `client` block of a manifest: who produced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// `client.name`.
    pub name: String,
    /// `client.version`.
    pub version: String,
}

impl ClientInfo {
    pub(crate) fn from_node(node: &json::Node<'_>) -> Result<ClientInfo> {
        let obj = node.obj()?;
        obj.allow_only(&["name", "version"])?;
        Ok(ClientInfo {
            name: obj.req("name")?.non_empty_str()?.to_owned(),
            version: obj.req("version")?.non_empty_str()?.to_owned(),
        })
    }
}

/// The cryptographic materials manager a case asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmmType {
    /// The default CMM.
    Default,
    /// The required-encryption-context CMM (the reproduced encryption context
    /// supplies the keys not stored in the message header).
    RequiredEncryptionContext,
}

impl CmmType {
    pub(crate) fn from_node(node: &json::Node<'_>) -> Result<CmmType> {
        match node.str()? {
            "Default" => Ok(CmmType::Default),
            "RequiredEncryptionContext" => Ok(CmmType::RequiredEncryptionContext),
            other => Err(node.err(format_args!(
                "unknown cmm {other:?} (expected \"Default\" or \"RequiredEncryptionContext\")"
            ))),
        }
    }
}

/// RSA key-wrapping padding, normalized across every spelling in the
/// manifests: `padding-algorithm` `pkcs1` / `oaep-mgf1` with `padding-hash`
/// `sha1`…`sha512` (framework, Dafny: the Dafny files also write
/// `"padding-hash": "sha1"` next to `pkcs1`, which means nothing), legacy
/// `PKCS1` / `OAEP-MGF1` with `SHA-1` / `SHA-256`, and KMS RSA
/// `RSAES_OAEP_SHA_1` / `RSAES_OAEP_SHA_256`. OAEP uses the same hash for MGF1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RsaPadding {
    /// RSAES-PKCS1-v1_5.
    Pkcs1,
    /// OAEP with SHA-1 / MGF1-SHA-1.
    OaepSha1,
    /// OAEP with SHA-256 / MGF1-SHA-256.
    OaepSha256,
    /// OAEP with SHA-384 / MGF1-SHA-384.
    OaepSha384,
    /// OAEP with SHA-512 / MGF1-SHA-512.
    OaepSha512,
}

impl RsaPadding {
    /// From a padding algorithm and optional hash, in any of the framework or
    /// legacy spellings (case, `-` and `_` are ignored).
    pub fn from_manifest(algorithm: &str, hash: Option<&str>) -> Result<RsaPadding, String> {
        let norm = |s: &str| {
            s.chars()
                .filter(|c| *c != '-' && *c != '_')
                .collect::<String>()
                .to_ascii_lowercase()
        };
        let oaep_hash = match hash.map(norm).as_deref() {
            None => None,
            Some("sha1") => Some(RsaPadding::OaepSha1),
            Some("sha256") => Some(RsaPadding::OaepSha256),
            Some("sha384") => Some(RsaPadding::OaepSha384),
            Some("sha512") => Some(RsaPadding::OaepSha512),
            Some(_) => return Err(format!("unknown padding hash {:?}", hash.unwrap_or(""))),
        };
        match norm(algorithm).as_str() {
            "pkcs1" => Ok(RsaPadding::Pkcs1),
            "oaepmgf1" | "oaep" => {
                oaep_hash.ok_or_else(|| "OAEP padding needs a \"padding-hash\"".to_owned())
            }
            _ => Err(format!("unknown RSA padding algorithm {algorithm:?}")),
        }
    }

    /// From a KMS RSA `encryption-algorithm` (`RSAES_OAEP_SHA_1` / `RSAES_OAEP_SHA_256`).
    pub fn from_kms_algorithm(s: &str) -> Result<RsaPadding, String> {
        match s {
            "RSAES_OAEP_SHA_1" => Ok(RsaPadding::OaepSha1),
            "RSAES_OAEP_SHA_256" => Ok(RsaPadding::OaepSha256),
            other => Err(format!("unknown KMS RSA encryption algorithm {other:?}")),
        }
    }
}

/// NIST curves used by the ECDH keyrings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EccCurve {
    /// P-256.
    P256,
    /// P-384.
    P384,
    /// P-521.
    P521,
}

impl EccCurve {
    /// The curve with this field size in bits (256, 384, 521).
    pub fn from_bits(bits: u32) -> Option<EccCurve> {
        match bits {
            256 => Some(EccCurve::P256),
            384 => Some(EccCurve::P384),
            521 => Some(EccCurve::P521),
            _ => None,
        }
    }

    /// The curve named by an `ecc-curve` value: a `-`-separated name with
    /// exactly one `256` / `384` / `521` part (`ecc-256`, `us-west-2-384-ecc`).
    pub fn from_name(name: &str) -> Option<EccCurve> {
        let mut found = name
            .split('-')
            .filter_map(|part| part.parse::<u32>().ok().and_then(EccCurve::from_bits));
        let first = found.next()?;
        match found.next() {
            None => Some(first),
            Some(_) => None,
        }
    }

    /// The size in bits.
    pub fn bits(self) -> u32 {
        match self {
            EccCurve::P256 => 256,
            EccCurve::P384 => 384,
            EccCurve::P521 => 521,
        }
    }
}

/// `decryption-method` of decrypt v3 (and 0006 v2) cases.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DecryptionMethod {
    /// `streaming-unsigned-only`: the streaming API that refuses signed suites.
    StreamingUnsignedOnly,
    /// Any other value, kept so a runner can report it as unsupported.
    Other(String),
}

impl DecryptionMethod {
    pub(crate) fn from_node(node: &json::Node<'_>) -> Result<DecryptionMethod> {
        Ok(match node.non_empty_str()? {
            "streaming-unsigned-only" => DecryptionMethod::StreamingUnsignedOnly,
            other => DecryptionMethod::Other(other.to_owned()),
        })
    }
}

/// Resolves a manifest URI: `file://relative/path` is relative to `base_dir`
/// (the directory of the manifest containing it), `file:///abs` is absolute.
/// `%XX` escapes are decoded. Other schemes are rejected.
pub fn resolve_file_uri(base_dir: &Path, uri: &str) -> Result<PathBuf> {
    let rest = uri
        .strip_prefix("file://")
        .ok_or_else(|| anyhow!("{uri:?} is not a file:// URI"))?;
    if rest.is_empty() {
        return Err(anyhow!("{uri:?} names no file"));
    }
    let decoded = percent_decode(rest).ok_or_else(|| anyhow!("{uri:?} has a bad %-escape"))?;
    let p = Path::new(&decoded);
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        base_dir.join(p)
    })
}

fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_owned());
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = core::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Any manifest or KAT file this module reads, as returned by [`load_any`].
#[derive(Debug, Clone)]
pub enum AnyManifest {
    /// `"type": "keys"`.
    Keys(KeysManifest),
    /// `"type": "awses-decrypt"`.
    Decrypt(DecryptManifest),
    /// `"type": "awses-encrypt"`.
    Encrypt(EncryptManifest),
    /// `"type": "awses-decrypt-generate"`.
    DecryptGenerate(DecryptGenerateManifest),
    /// Legacy python `"type": "ciphertext"`.
    LegacyCiphertext(LegacyCiphertextManifest),
    /// Legacy python `"type": "test_case"`.
    LegacyTestCase(LegacyTestCaseManifest),
    /// Legacy python `"type": "results"`.
    LegacyResults(LegacyResultsManifest),
    /// MPL keyring-level test manifest (no `manifest` header).
    MplKeyring(MplKeyringManifest),
    /// Commitment known-answer tests (`title`, `tests` list).
    CommitmentKats(CommitmentKats),
    /// Python decrypt-oracle vectors (a top-level array).
    DecryptOracle(Vec<OracleVector>),
}

impl AnyManifest {
    /// A short name of the detected format, e.g. `awses-decrypt v4`.
    pub fn kind(&self) -> String {
        match self {
            AnyManifest::Keys(m) => format!("keys v{}", m.version),
            AnyManifest::Decrypt(m) => format!("awses-decrypt v{}", m.version),
            AnyManifest::Encrypt(m) => format!("awses-encrypt v{}", m.version),
            AnyManifest::DecryptGenerate(m) => format!("awses-decrypt-generate v{}", m.version),
            AnyManifest::LegacyCiphertext(_) => "legacy ciphertext".to_owned(),
            AnyManifest::LegacyTestCase(_) => "legacy test_case".to_owned(),
            AnyManifest::LegacyResults(_) => "legacy results".to_owned(),
            AnyManifest::MplKeyring(_) => "mpl keyring tests".to_owned(),
            AnyManifest::CommitmentKats(_) => "commitment KATs".to_owned(),
            AnyManifest::DecryptOracle(_) => "decrypt-oracle vectors".to_owned(),
        }
    }

    /// Number of test cases (entries, for a keys manifest).
    pub fn len(&self) -> usize {
        match self {
            AnyManifest::Keys(m) => m.keys.len(),
            AnyManifest::Decrypt(m) => m.tests.len(),
            AnyManifest::Encrypt(m) => m.tests.len(),
            AnyManifest::DecryptGenerate(m) => m.tests.len(),
            AnyManifest::LegacyCiphertext(m) => m.cases.len(),
            AnyManifest::LegacyTestCase(m) => m.scenarios.len(),
            AnyManifest::LegacyResults(m) => m.results.len(),
            AnyManifest::MplKeyring(m) => m.tests.len(),
            AnyManifest::CommitmentKats(m) => m.tests.len(),
            AnyManifest::DecryptOracle(v) => v.len(),
        }
    }

    /// True when [`AnyManifest::len`] is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Reads any supported file, choosing the reader from `manifest.type` /
/// `manifest.version` (for files with no header: a top-level array is the
/// decrypt-oracle list, a `title` + `tests` list the commitment KATs, a lone
/// `tests` map the MPL keyring manifest).
pub fn load_any(path: &Path) -> Result<AnyManifest> {
    let doc = json::read_file(path)?;
    let file = path.display().to_string();
    let root = json::Node::root(&doc, &file);
    if root.array().is_ok() {
        return Ok(AnyManifest::DecryptOracle(kat::oracle_from_node(&root)?));
    }
    let obj = root.obj()?;
    if obj.has("manifest") {
        let header = json::header(&obj)?;
        return Ok(match header.kind.as_str() {
            "keys" => AnyManifest::Keys(KeysManifest::from_node(&root)?),
            "awses-decrypt" => AnyManifest::Decrypt(DecryptManifest::from_node(&root, path)?),
            "awses-encrypt" => AnyManifest::Encrypt(EncryptManifest::from_node(&root, path)?),
            "awses-decrypt-generate" => {
                AnyManifest::DecryptGenerate(DecryptGenerateManifest::from_node(&root, path)?)
            }
            "ciphertext" => {
                AnyManifest::LegacyCiphertext(LegacyCiphertextManifest::from_node(&root, path)?)
            }
            "test_case" => AnyManifest::LegacyTestCase(LegacyTestCaseManifest::from_node(&root)?),
            "results" => AnyManifest::LegacyResults(LegacyResultsManifest::from_node(&root, path)?),
            other => {
                return Err(obj
                    .req("manifest")?
                    .err(format_args!("unknown manifest type {other:?}")));
            }
        });
    }
    if obj.has("title") && obj.has("tests") {
        return Ok(AnyManifest::CommitmentKats(CommitmentKats::from_node(
            &root,
        )?));
    }
    if obj.has("tests") && obj.len() == 1 {
        return Ok(AnyManifest::MplKeyring(MplKeyringManifest::from_node(
            &root, path,
        )?));
    }
    Err(root.err("not a recognised manifest: no \"manifest\" header and no known KAT shape"))
}
