//! Keys manifests (`"type": "keys"`, versions 1–3, and the MPL/Dafny shape
//! that calls itself version 2).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Result, anyhow};
use base64::Engine as _;

use super::json::{self, Node, Obj};
use super::key_description::KeyDescription;
use super::{EccCurve, EncryptionContext};

/// The key types a keys manifest entry can have.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyType {
    /// `symmetric`: raw AES wrapping key.
    Symmetric,
    /// `private`: RSA private key (PEM).
    Private,
    /// `public`: RSA public key (PEM).
    Public,
    /// `aws-kms`: an AWS KMS key ARN (needs AWS).
    AwsKms,
    /// `static-material` (MPL): canned encryption/decryption materials.
    StaticMaterial,
    /// `static-branch-key` (MPL): a hierarchical-keyring branch key given in clear.
    StaticBranchKey,
    /// `ecc-private` (MPL): raw ECDH sender/recipient key pairs.
    EccPrivate,
    /// `aws-kms-ecdh` (MPL): KMS ECC key ARNs plus their public keys (needs AWS).
    AwsKmsEcdh,
    /// `aws-kms-rsa` (MPL): a KMS RSA key ARN plus its public key (needs AWS).
    AwsKmsRsa,
    /// Any other `type` value, kept so a runner can report the entry as skipped.
    Other(String),
}

impl KeyType {
    /// Maps the manifest spelling to a key type (unknown spellings become `Other`).
    pub fn parse(s: &str) -> KeyType {
        match s {
            "symmetric" => KeyType::Symmetric,
            "private" => KeyType::Private,
            "public" => KeyType::Public,
            "aws-kms" => KeyType::AwsKms,
            "static-material" => KeyType::StaticMaterial,
            "static-branch-key" => KeyType::StaticBranchKey,
            "ecc-private" => KeyType::EccPrivate,
            "aws-kms-ecdh" => KeyType::AwsKmsEcdh,
            "aws-kms-rsa" => KeyType::AwsKmsRsa,
            other => KeyType::Other(other.to_owned()),
        }
    }

    /// The manifest spelling.
    pub fn as_str(&self) -> &str {
        match self {
            KeyType::Symmetric => "symmetric",
            KeyType::Private => "private",
            KeyType::Public => "public",
            KeyType::AwsKms => "aws-kms",
            KeyType::StaticMaterial => "static-material",
            KeyType::StaticBranchKey => "static-branch-key",
            KeyType::EccPrivate => "ecc-private",
            KeyType::AwsKmsEcdh => "aws-kms-ecdh",
            KeyType::AwsKmsRsa => "aws-kms-rsa",
            KeyType::Other(s) => s,
        }
    }

    /// True for the types whose use needs the AWS KMS service.
    pub fn needs_aws_kms(&self) -> bool {
        matches!(
            self,
            KeyType::AwsKms | KeyType::AwsKmsEcdh | KeyType::AwsKmsRsa
        )
    }
}

/// The `algorithm` field of a key entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyAlgorithm {
    /// `aes`
    Aes,
    /// `rsa`
    Rsa,
    /// `ecdh`
    Ecdh,
}

/// The `encoding` field of a key entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyEncoding {
    /// `base64`: the material is base64 of the raw key bytes.
    Base64,
    /// `pem`: the material is PEM text.
    Pem,
    /// `base64-der`: base64 of DER (used for ECC public keys).
    Base64Der,
}

/// One encrypted data key of a `static-material` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticEncryptedDataKey {
    /// `keyProviderId` (plain text).
    pub provider_id: String,
    /// `keyProviderInfo`, base64-decoded.
    pub provider_info: Vec<u8>,
    /// `ciphertext`, base64-decoded.
    pub ciphertext: Vec<u8>,
}

/// The materials of a `static-material` entry (what a static-material keyring returns).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticMaterialSpec {
    /// `algorithmSuiteId`.
    pub algorithm_suite_id: u16,
    /// `encryptionContext`.
    pub encryption_context: EncryptionContext,
    /// `encryptedDataKeys`.
    pub encrypted_data_keys: Vec<StaticEncryptedDataKey>,
    /// `requiredEncryptionContextKeys`.
    pub required_encryption_context_keys: Vec<String>,
    /// `plaintextDataKey`, base64-decoded; absent in the "no plaintext data key" entry.
    pub plaintext_data_key: Option<Vec<u8>>,
}

/// A `static-branch-key` entry: lets the hierarchical keyring run offline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticBranchKeySpec {
    /// `branchKeyVersion` as written (a UUID string).
    pub version: String,
    /// The 16 bytes of the version UUID (what the EDK carries).
    pub version_bytes: [u8; 16],
    /// `branchKey`, base64-decoded (32 bytes).
    pub branch_key: Vec<u8>,
    /// `beaconKey`, base64-decoded.
    pub beacon_key: Vec<u8>,
}

/// The ECC part of `ecc-private` and `aws-kms-ecdh` entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EccKeySpec {
    /// The curve (from `bits`, cross-checked with the public keys' curve OIDs).
    pub curve: EccCurve,
    /// `sender-material`: PEM PKCS#8 private key (`ecc-private`) or KMS key ARN (`aws-kms-ecdh`).
    pub sender_material: String,
    /// `recipient-material`: PEM PKCS#8 private key (`ecc-private`) or KMS key ARN (`aws-kms-ecdh`).
    pub recipient_material: String,
    /// `sender-material-public-key`: DER SubjectPublicKeyInfo bytes.
    pub sender_public_key: Vec<u8>,
    /// `recipient-material-public-key`: DER SubjectPublicKeyInfo bytes.
    pub recipient_public_key: Vec<u8>,
}

/// One entry of a keys manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySpec {
    /// The entry name (what other manifests reference).
    pub name: String,
    /// `type`.
    pub key_type: KeyType,
    /// `algorithm`, when given.
    pub algorithm: Option<KeyAlgorithm>,
    /// `bits`, when given (the .NET KMS entry says 0).
    pub bits: Option<u32>,
    /// `encoding`, when given.
    pub encoding: Option<KeyEncoding>,
    /// `material` as one string: an array is joined with `line-separator`
    /// (default `""`, as framework feature 0002 says).
    pub material: Option<String>,
    /// `key-id`; the entry name when absent (keys v1, and MPL `static-material`).
    /// For raw keys this is the keyring key name, for KMS keys the ARN, for a
    /// static branch key the branch key id.
    pub key_id: String,
    /// `encrypt` (true when absent).
    pub encrypt: bool,
    /// `decrypt` (true when absent); false marks encrypt-only keys.
    pub decrypt: bool,
    /// Present for `static-material` entries.
    pub static_material: Option<StaticMaterialSpec>,
    /// Present for `static-branch-key` entries.
    pub branch_key: Option<StaticBranchKeySpec>,
    /// Present for `ecc-private` and `aws-kms-ecdh` entries.
    pub ecc: Option<EccKeySpec>,
}

impl KeySpec {
    /// The raw AES wrapping key: the base64-decoded material of a `symmetric` entry.
    pub fn aes_key_bytes(&self) -> Result<Vec<u8>> {
        if self.key_type != KeyType::Symmetric || self.encoding != Some(KeyEncoding::Base64) {
            return Err(anyhow!(
                "key {:?} is a {} key with encoding {:?}, not base64 symmetric material",
                self.name,
                self.key_type.as_str(),
                self.encoding
            ));
        }
        let material = self
            .material
            .as_deref()
            .ok_or_else(|| anyhow!("key {:?} has no material", self.name))?;
        base64::engine::general_purpose::STANDARD
            .decode(material)
            .map_err(|e| anyhow!("key {:?}: material is not base64: {e}", self.name))
    }

    /// The PEM text of an RSA (`private`, `public`, `aws-kms-rsa`) entry.
    pub fn pem(&self) -> Result<&str> {
        match (&self.encoding, &self.material) {
            (Some(KeyEncoding::Pem), Some(m)) => Ok(m),
            _ => Err(anyhow!(
                "key {:?} ({}) has no PEM material",
                self.name,
                self.key_type.as_str()
            )),
        }
    }

    /// True when using this key needs the AWS KMS service.
    pub fn needs_aws_kms(&self) -> bool {
        self.key_type.needs_aws_kms()
    }
}

/// A parsed keys manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysManifest {
    /// `manifest.version` (1, 2 or 3).
    pub version: u64,
    /// The entries by name.
    pub keys: BTreeMap<String, KeySpec>,
}

impl KeysManifest {
    /// Reads and validates a keys manifest file.
    pub fn load(path: &Path) -> Result<KeysManifest> {
        let doc = json::read_file(path)?;
        let file = path.display().to_string();
        Self::from_node(&Node::root(&doc, &file))
    }

    /// Parses keys-manifest JSON text; `source` names it in errors.
    pub fn parse_str(text: &str, source: &str) -> Result<KeysManifest> {
        let doc = json::parse_text(text, source)?;
        Self::from_node(&Node::root(&doc, source))
    }

    pub(crate) fn from_node(root: &Node<'_>) -> Result<KeysManifest> {
        let obj = root.obj()?;
        obj.allow_only(&["manifest", "keys"])?;
        let version = json::expect_header(&obj, "keys", &[1, 2, 3])?;
        let mut keys = BTreeMap::new();
        for (name, node) in obj.req("keys")?.obj()?.entries() {
            keys.insert(name.to_owned(), parse_key(name, &node, version)?);
        }
        Ok(KeysManifest { version, keys })
    }

    /// The entry called `name`.
    pub fn get(&self, name: &str) -> Result<&KeySpec> {
        self.keys
            .get(name)
            .ok_or_else(|| anyhow!("key {name:?} is not in the keys manifest"))
    }

    /// Number of entries of the given type.
    pub fn count_of(&self, key_type: &KeyType) -> usize {
        self.keys
            .values()
            .filter(|k| &k.key_type == key_type)
            .count()
    }

    /// Checks that every key named by `description` (recursively) exists here
    /// and has a type that fits its use (raw AES → `symmetric`, raw RSA →
    /// `private`/`public`, raw ECDH → `ecc-private`, …).
    pub fn check_description(&self, description: &KeyDescription) -> Result<()> {
        for (name, wanted) in description.key_references() {
            let spec = self.get(name)?;
            if !wanted.contains(&spec.key_type) {
                return Err(anyhow!(
                    "key {name:?} is a {} key, but the {} description needs one of: {}",
                    spec.key_type.as_str(),
                    description.type_name(),
                    wanted
                        .iter()
                        .map(KeyType::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
        }
        Ok(())
    }
}

const COMMON_FIELDS: &[&str] = &[
    "type",
    "encrypt",
    "decrypt",
    "key-id",
    "algorithm",
    "bits",
    "encoding",
    "material",
    "line-separator",
];

fn allowed_fields(extra: &[&'static str]) -> Vec<&'static str> {
    COMMON_FIELDS.iter().chain(extra).copied().collect()
}

fn parse_key(name: &str, node: &Node<'_>, version: u64) -> Result<KeySpec> {
    let obj = node.obj()?;
    let key_type = KeyType::parse(obj.req_str("type")?);
    let extra: &[&'static str] = match key_type {
        KeyType::StaticMaterial => &[
            "algorithmSuiteId",
            "encryptionContext",
            "encryptedDataKeys",
            "requiredEncryptionContextKeys",
            "plaintextDataKey",
        ],
        KeyType::StaticBranchKey => &["branchKeyVersion", "branchKey", "beaconKey"],
        KeyType::EccPrivate | KeyType::AwsKmsEcdh => &[
            "sender-material",
            "recipient-material",
            "sender-material-public-key",
            "recipient-material-public-key",
            "public-key-encoding",
        ],
        _ => &[],
    };
    // Entries of unknown type are kept (to be reported as skipped) without
    // checking their fields.
    if !matches!(key_type, KeyType::Other(_)) {
        obj.allow_only(&allowed_fields(extra))?;
    }

    let algorithm = match obj.get("algorithm") {
        None => None,
        Some(n) => Some(match n.str()? {
            "aes" => KeyAlgorithm::Aes,
            "rsa" => KeyAlgorithm::Rsa,
            "ecdh" => KeyAlgorithm::Ecdh,
            other => return Err(n.err(format_args!("unknown key algorithm {other:?}"))),
        }),
    };
    let encoding = match obj.get("encoding") {
        None => None,
        Some(n) => Some(parse_encoding(&n)?),
    };
    let bits = obj.opt_u32("bits")?;
    let material = parse_material(&obj)?;
    let explicit_key_id = obj.opt_str("key-id")?.map(str::to_owned);
    let encrypt = obj.opt_bool("encrypt")?.unwrap_or(true);
    let decrypt = obj.opt_bool("decrypt")?.unwrap_or(true);

    let mut spec = KeySpec {
        name: name.to_owned(),
        key_type: key_type.clone(),
        algorithm,
        bits,
        encoding,
        material,
        key_id: explicit_key_id.clone().unwrap_or_else(|| name.to_owned()),
        encrypt,
        decrypt,
        static_material: None,
        branch_key: None,
        ecc: None,
    };

    // From version 2 on, `key-id` is mandatory for the framework key types.
    let needs_key_id = matches!(
        key_type,
        KeyType::AwsKms
            | KeyType::AwsKmsRsa
            | KeyType::AwsKmsEcdh
            | KeyType::StaticBranchKey
            | KeyType::EccPrivate
    ) || (version >= 2
        && matches!(
            key_type,
            KeyType::Symmetric | KeyType::Private | KeyType::Public
        ));
    if needs_key_id && explicit_key_id.is_none() {
        return Err(obj.err(format_args!(
            "missing required field \"key-id\" (keys manifest v{version}, type {})",
            key_type.as_str()
        )));
    }
    if let Some(id) = &explicit_key_id {
        if id.is_empty() {
            return Err(obj.req("key-id")?.err("must not be an empty string"));
        }
    }

    match key_type {
        KeyType::Symmetric => {
            expect_algorithm(&obj, &spec, KeyAlgorithm::Aes)?;
            expect_encoding(&obj, &spec, KeyEncoding::Base64)?;
            let bits = require_bits(&obj, &spec, &[128, 192, 256])?;
            let key = spec.aes_key_bytes().map_err(|e| obj.err(e))?;
            if key.len() * 8 != bits as usize {
                return Err(obj.err(format_args!(
                    "material decodes to {} bytes but bits is {bits}",
                    key.len()
                )));
            }
        }
        KeyType::Private | KeyType::Public => {
            expect_algorithm(&obj, &spec, KeyAlgorithm::Rsa)?;
            expect_encoding(&obj, &spec, KeyEncoding::Pem)?;
            require_bits(&obj, &spec, &[])?;
            let labels: &[&str] = if key_type == KeyType::Private {
                &["PRIVATE KEY", "RSA PRIVATE KEY"]
            } else {
                &["PUBLIC KEY", "RSA PUBLIC KEY"]
            };
            check_pem(&obj, spec.material.as_deref(), "material", labels)?;
        }
        KeyType::AwsKmsRsa => {
            expect_algorithm(&obj, &spec, KeyAlgorithm::Rsa)?;
            expect_encoding(&obj, &spec, KeyEncoding::Pem)?;
            check_pem(&obj, spec.material.as_deref(), "material", &["PUBLIC KEY"])?;
        }
        KeyType::AwsKms => {
            if spec.material.is_some() {
                return Err(obj.err("an aws-kms key must not carry material"));
            }
        }
        KeyType::StaticMaterial => {
            spec.static_material = Some(parse_static_material(&obj)?);
        }
        KeyType::StaticBranchKey => {
            spec.branch_key = Some(parse_branch_key(&obj)?);
        }
        KeyType::EccPrivate | KeyType::AwsKmsEcdh => {
            expect_algorithm(&obj, &spec, KeyAlgorithm::Ecdh)?;
            spec.ecc = Some(parse_ecc(&obj, &spec)?);
        }
        KeyType::Other(_) => {}
    }
    Ok(spec)
}

fn parse_encoding(n: &Node<'_>) -> Result<KeyEncoding> {
    match n.str()? {
        "base64" => Ok(KeyEncoding::Base64),
        "pem" => Ok(KeyEncoding::Pem),
        "base64-der" => Ok(KeyEncoding::Base64Der),
        other => Err(n.err(format_args!("unknown key encoding {other:?}"))),
    }
}

/// `material` is one string (v3, MPL) or an array of strings joined with
/// `line-separator` (v1/v2).
fn parse_material(obj: &Obj<'_>) -> Result<Option<String>> {
    let sep = obj.opt_str("line-separator")?;
    let Some(node) = obj.get("material") else {
        if sep.is_some() {
            return Err(obj.err("\"line-separator\" given without \"material\""));
        }
        return Ok(None);
    };
    if node.array().is_ok() {
        let parts = node.string_list()?;
        if parts.is_empty() {
            return Err(node.err("material array is empty"));
        }
        Ok(Some(parts.join(sep.unwrap_or(""))))
    } else {
        let s = node
            .str()
            .map_err(|_| node.err("expected a string or an array of strings"))?;
        Ok(Some(s.to_owned()))
    }
}

fn expect_algorithm(obj: &Obj<'_>, spec: &KeySpec, want: KeyAlgorithm) -> Result<()> {
    if spec.algorithm != Some(want) {
        return Err(obj.err(format_args!(
            "a {} key needs \"algorithm\" {:?}, found {:?}",
            spec.key_type.as_str(),
            want,
            spec.algorithm
        )));
    }
    Ok(())
}

fn expect_encoding(obj: &Obj<'_>, spec: &KeySpec, want: KeyEncoding) -> Result<()> {
    if spec.encoding != Some(want) {
        return Err(obj.err(format_args!(
            "a {} key needs \"encoding\" {:?}, found {:?}",
            spec.key_type.as_str(),
            want,
            spec.encoding
        )));
    }
    if spec.material.is_none() {
        return Err(obj.err("missing required field \"material\""));
    }
    Ok(())
}

/// Requires `bits`; when `allowed` is not empty the value must be in it.
fn require_bits(obj: &Obj<'_>, spec: &KeySpec, allowed: &[u32]) -> Result<u32> {
    let bits = spec
        .bits
        .ok_or_else(|| obj.err("missing required field \"bits\""))?;
    if !allowed.is_empty() && !allowed.contains(&bits) {
        return Err(obj.err(format_args!(
            "bits {bits} is not valid for a {} key (allowed: {allowed:?})",
            spec.key_type.as_str()
        )));
    }
    Ok(bits)
}

/// Checks that `pem` is one PEM block with one of the given labels.
fn check_pem(obj: &Obj<'_>, pem: Option<&str>, field: &str, labels: &[&str]) -> Result<()> {
    let pem = pem.ok_or_else(|| obj.err(format_args!("missing required field {field:?}")))?;
    let text = pem.trim();
    let ok = labels.iter().any(|label| {
        text.starts_with(&format!("-----BEGIN {label}-----"))
            && text.ends_with(&format!("-----END {label}-----"))
    });
    if !ok {
        return Err(obj.err(format_args!(
            "{field} is not a PEM block labelled {}",
            labels.join(" or ")
        )));
    }
    Ok(())
}

fn parse_static_material(obj: &Obj<'_>) -> Result<StaticMaterialSpec> {
    let mut edks = Vec::new();
    for n in obj.req("encryptedDataKeys")?.array()? {
        let e = n.obj()?;
        e.allow_only(&["keyProviderId", "keyProviderInfo", "ciphertext"])?;
        edks.push(StaticEncryptedDataKey {
            provider_id: e.req_str("keyProviderId")?.to_owned(),
            provider_info: e.req("keyProviderInfo")?.base64()?,
            ciphertext: e.req("ciphertext")?.base64()?,
        });
    }
    Ok(StaticMaterialSpec {
        algorithm_suite_id: obj.req("algorithmSuiteId")?.suite_id()?,
        encryption_context: obj.req("encryptionContext")?.string_map()?,
        encrypted_data_keys: edks,
        required_encryption_context_keys: obj
            .req("requiredEncryptionContextKeys")?
            .string_list()?,
        plaintext_data_key: obj
            .get("plaintextDataKey")
            .map(|n| n.base64())
            .transpose()?,
    })
}

fn parse_branch_key(obj: &Obj<'_>) -> Result<StaticBranchKeySpec> {
    let version_node = obj.req("branchKeyVersion")?;
    let version = version_node.str()?;
    let version_bytes = parse_uuid(version).ok_or_else(|| {
        version_node.err(format_args!(
            "{version:?} is not a UUID (8-4-4-4-12 hex digits)"
        ))
    })?;
    Ok(StaticBranchKeySpec {
        version: version.to_owned(),
        version_bytes,
        branch_key: obj.req("branchKey")?.base64_len(32)?,
        beacon_key: obj.req("beaconKey")?.base64()?,
    })
}

/// Parses a textual UUID into its 16 bytes.
pub(crate) fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let groups: Vec<&str> = s.split('-').collect();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    if lens != [8, 4, 4, 4, 12] {
        return None;
    }
    let bytes = hex::decode(groups.concat()).ok()?;
    bytes.try_into().ok()
}

fn parse_ecc(obj: &Obj<'_>, spec: &KeySpec) -> Result<EccKeySpec> {
    let sender_material = obj.req("sender-material")?.non_empty_str()?.to_owned();
    let recipient_material = obj.req("recipient-material")?.non_empty_str()?.to_owned();
    let sender_pk_node = obj.req("sender-material-public-key")?;
    let recipient_pk_node = obj.req("recipient-material-public-key")?;
    let sender_public_key = sender_pk_node.base64()?;
    let recipient_public_key = recipient_pk_node.base64()?;

    if spec.key_type == KeyType::EccPrivate {
        if spec.encoding != Some(KeyEncoding::Pem) {
            return Err(obj.err("an ecc-private key needs \"encoding\": \"pem\""));
        }
        let pk_enc = obj.req("public-key-encoding")?;
        if parse_encoding(&pk_enc)? != KeyEncoding::Base64Der {
            return Err(pk_enc.err("expected \"base64-der\""));
        }
        check_pem(
            obj,
            Some(&sender_material),
            "sender-material",
            &["PRIVATE KEY"],
        )?;
        check_pem(
            obj,
            Some(&recipient_material),
            "recipient-material",
            &["PRIVATE KEY"],
        )?;
    } else {
        if spec.encoding != Some(KeyEncoding::Base64Der) {
            return Err(obj.err("an aws-kms-ecdh key needs \"encoding\": \"base64-der\""));
        }
        for (field, v) in [
            ("sender-material", &sender_material),
            ("recipient-material", &recipient_material),
        ] {
            if !v.starts_with("arn:") {
                return Err(obj.err(format_args!("{field} is not a KMS key ARN: {v:?}")));
            }
        }
    }

    let sender_curve = spki_curve(&sender_public_key)
        .ok_or_else(|| sender_pk_node.err("no P-256/P-384/P-521 curve OID in the public key"))?;
    let recipient_curve = spki_curve(&recipient_public_key)
        .ok_or_else(|| recipient_pk_node.err("no P-256/P-384/P-521 curve OID in the public key"))?;
    if sender_curve != recipient_curve {
        return Err(obj.err("sender and recipient public keys are on different curves"));
    }
    let curve = match spec.bits {
        Some(bits) => {
            let c = EccCurve::from_bits(bits)
                .ok_or_else(|| obj.err(format_args!("bits {bits} is not an ECC curve size")))?;
            if c != sender_curve {
                return Err(obj.err(format_args!(
                    "bits says {c:?} but the public keys are on {sender_curve:?}"
                )));
            }
            c
        }
        None => sender_curve,
    };
    Ok(EccKeySpec {
        curve,
        sender_material,
        recipient_material,
        sender_public_key,
        recipient_public_key,
    })
}

/// Finds the named-curve OID inside a DER SubjectPublicKeyInfo.
pub(crate) fn spki_curve(der: &[u8]) -> Option<EccCurve> {
    const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
    const P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
    let contains = |needle: &[u8]| der.windows(needle.len()).any(|w| w == needle);
    if contains(P256) {
        Some(EccCurve::P256)
    } else if contains(P384) {
        Some(EccCurve::P384)
    } else if contains(P521) {
        Some(EccCurve::P521)
    } else {
        None
    }
}
