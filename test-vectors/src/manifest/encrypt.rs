//! `awses-encrypt` manifests (framework 0003 v1/v2, Dafny v5) and
//! `awses-decrypt-generate` manifests (framework 0006 v1/v2).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::json::{self, Node, Obj};
use super::key_description::KeyDescription;
use super::keys::KeysManifest;
use super::{ClientInfo, CmmType, DecryptionMethod, EncryptionContext};

/// One encryption scenario, normalized across versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptScenario {
    /// v5 `description`.
    pub description: Option<String>,
    /// `plaintext`: a name from the manifest's `plaintexts` table.
    pub plaintext: String,
    /// The size in bytes `plaintexts` gives for [`EncryptScenario::plaintext`]
    /// (the bytes themselves are random, made by the generator).
    pub plaintext_size: u64,
    /// `algorithm` (v1/v2) or `algorithmSuiteId` (v5).
    pub algorithm_suite_id: u16,
    /// `frame-size`; 0 asks for a non-framed message.
    pub frame_size: u32,
    /// `encryption-context`.
    pub encryption_context: EncryptionContext,
    /// `master-keys` (v1/v2; several = one multi-keyring, see
    /// [`KeyDescription::combine`]) or the single `encryptKeyDescription` (v5).
    pub encrypt_key_descriptions: Vec<KeyDescription>,
    /// v5 `decryptKeyDescription` (v1/v2: `None`, decrypt with the same keys).
    pub decrypt_key_descriptions: Option<Vec<KeyDescription>>,
    /// `cmm` when written (net v4 generator), or `RequiredEncryptionContext`
    /// when the v5 encrypt description is a `required-encryption-context-cmm`.
    pub cmm: CmmType,
    /// The required-encryption-context CMM's keys (v5), else empty.
    pub required_encryption_context_keys: Vec<String>,
    /// v5 `reproduced-encryption-context`.
    pub reproduced_encryption_context: Option<EncryptionContext>,
}

/// A parsed `awses-encrypt` manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptManifest {
    /// The manifest file (absolute, canonical).
    pub path: PathBuf,
    /// `manifest.version` (1, 2 or 5).
    pub version: u64,
    /// `client` (v5 only).
    pub client: Option<ClientInfo>,
    /// `keys` as written.
    pub keys_uri: String,
    /// `keys` resolved to an absolute path.
    pub keys_path: PathBuf,
    /// `plaintexts`: name → size in bytes.
    pub plaintexts: BTreeMap<String, u64>,
    /// The scenarios by test id.
    pub tests: BTreeMap<String, EncryptScenario>,
}

fn parse_plaintexts(obj: &Obj<'_>) -> Result<BTreeMap<String, u64>> {
    let mut out = BTreeMap::new();
    for (name, n) in obj.req("plaintexts")?.obj()?.entries() {
        out.insert(name.to_owned(), n.u64()?);
    }
    Ok(out)
}

fn plaintext_size(node: &Node<'_>, plaintexts: &BTreeMap<String, u64>) -> Result<(String, u64)> {
    let name = node.str()?;
    let size = plaintexts.get(name).ok_or_else(|| {
        node.err(format_args!(
            "plaintext {name:?} is not in the manifest's \"plaintexts\" table"
        ))
    })?;
    Ok((name.to_owned(), *size))
}

fn cmm_of(description: &KeyDescription) -> (CmmType, Vec<String>) {
    match description {
        KeyDescription::RequiredEncryptionContext { keys, .. } => {
            (CmmType::RequiredEncryptionContext, keys.clone())
        }
        _ => (CmmType::Default, Vec::new()),
    }
}

/// A framework 0003 scenario (also the `encryption-scenario` of 0006).
fn parse_framework_scenario(
    node: &Node<'_>,
    plaintexts: &BTreeMap<String, u64>,
) -> Result<EncryptScenario> {
    let obj = node.obj()?;
    obj.allow_only(&[
        "plaintext",
        "algorithm",
        "frame-size",
        "encryption-context",
        "master-keys",
        "cmm",
    ])?;
    let (plaintext, size) = plaintext_size(&obj.req("plaintext")?, plaintexts)?;
    let cmm = obj
        .get("cmm")
        .map(|n| CmmType::from_node(&n))
        .transpose()?
        .unwrap_or(CmmType::Default);
    let encryption_context = obj.req("encryption-context")?.string_map()?;
    let required = if cmm == CmmType::RequiredEncryptionContext {
        encryption_context.keys().cloned().collect()
    } else {
        Vec::new()
    };
    Ok(EncryptScenario {
        description: None,
        plaintext,
        plaintext_size: size,
        algorithm_suite_id: obj.req("algorithm")?.suite_id()?,
        frame_size: obj.req("frame-size")?.u32()?,
        encryption_context,
        encrypt_key_descriptions: KeyDescription::list_from_node(&obj.req("master-keys")?)?,
        decrypt_key_descriptions: None,
        cmm,
        required_encryption_context_keys: required,
        reproduced_encryption_context: None,
    })
}

fn parse_v5_scenario(
    node: &Node<'_>,
    plaintexts: &BTreeMap<String, u64>,
) -> Result<EncryptScenario> {
    let outer = node.obj()?;
    outer.allow_only(&["encryption-scenario"])?;
    let s = outer.req("encryption-scenario")?.obj()?;
    s.allow_only(&[
        "type",
        "plaintext",
        "description",
        "algorithmSuiteId",
        "frame-size",
        "encryptKeyDescription",
        "decryptKeyDescription",
        "encryption-context",
        "reproduced-encryption-context",
        "requiredEncryptionContextKeys",
    ])?;
    let ty = s.req("type")?;
    if ty.str()? != "positive-esdk" {
        return Err(ty.err(format_args!(
            "unsupported encryption-scenario type {:?} (only \"positive-esdk\" is known)",
            ty.str()?
        )));
    }
    let (plaintext, size) = plaintext_size(&s.req("plaintext")?, plaintexts)?;
    let encrypt = KeyDescription::from_node(&s.req("encryptKeyDescription")?)?;
    let decrypt = KeyDescription::from_node(&s.req("decryptKeyDescription")?)?;
    let (cmm, mut required) = cmm_of(&encrypt);
    if let Some(n) = s.get("requiredEncryptionContextKeys") {
        required = n.string_list()?;
    }
    Ok(EncryptScenario {
        description: s.opt_str("description")?.map(str::to_owned),
        plaintext,
        plaintext_size: size,
        algorithm_suite_id: s.req("algorithmSuiteId")?.suite_id()?,
        frame_size: s.req("frame-size")?.u32()?,
        encryption_context: s
            .get("encryption-context")
            .map(|n| n.string_map())
            .transpose()?
            .unwrap_or_default(),
        encrypt_key_descriptions: vec![encrypt],
        decrypt_key_descriptions: Some(vec![decrypt]),
        cmm,
        required_encryption_context_keys: required,
        reproduced_encryption_context: s
            .get("reproduced-encryption-context")
            .map(|n| n.string_map())
            .transpose()?,
    })
}

impl EncryptManifest {
    /// Reads and validates an encrypt manifest.
    pub fn load(path: &Path) -> Result<EncryptManifest> {
        let doc = json::read_file(path)?;
        let file = path.display().to_string();
        Self::from_node(&Node::root(&doc, &file), path)
    }

    pub(crate) fn from_node(root: &Node<'_>, path: &Path) -> Result<EncryptManifest> {
        let base = json::base_dir(path)?;
        let obj = root.obj()?;
        obj.allow_only(&["manifest", "client", "keys", "plaintexts", "tests"])?;
        let version = json::expect_header(&obj, "awses-encrypt", &[1, 2, 5])?;
        let plaintexts = parse_plaintexts(&obj)?;
        let mut tests = BTreeMap::new();
        for (id, node) in obj.req("tests")?.obj()?.entries() {
            let scenario = if version == 5 {
                parse_v5_scenario(&node, &plaintexts)?
            } else {
                parse_framework_scenario(&node, &plaintexts)?
            };
            tests.insert(id.to_owned(), scenario);
        }
        let keys_node = obj.req("keys")?;
        Ok(EncryptManifest {
            path: json::canonical_file(path)?,
            version,
            client: obj
                .get("client")
                .map(|n| ClientInfo::from_node(&n))
                .transpose()?,
            keys_uri: keys_node.str()?.to_owned(),
            keys_path: keys_node.file_uri(&base)?,
            plaintexts,
            tests,
        })
    }

    /// Loads the keys manifest this manifest references.
    pub fn load_keys(&self) -> Result<KeysManifest> {
        KeysManifest::load(&self.keys_path)
            .with_context(|| format!("keys manifest of {}", self.path.display()))
    }

    /// Checks every key reference of every scenario against `keys`.
    pub fn check_keys(&self, keys: &KeysManifest) -> Result<()> {
        for (id, s) in &self.tests {
            check_scenario_keys(s, keys)
                .with_context(|| format!("{}: test {id:?}", self.path.display()))?;
        }
        Ok(())
    }
}

fn check_scenario_keys(s: &EncryptScenario, keys: &KeysManifest) -> Result<()> {
    let decrypt = s.decrypt_key_descriptions.iter().flatten();
    for d in s.encrypt_key_descriptions.iter().chain(decrypt) {
        keys.check_description(d)?;
    }
    Ok(())
}

/// A framework 0006 `tampering` instruction: how to derive must-fail vectors
/// from a good message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tampering {
    /// `truncate`: one vector per truncation length 1..len-1.
    Truncate,
    /// `mutate`: one vector per flipped bit.
    Mutate,
    /// `half-sign`: signing material added for an unsigned suite.
    HalfSign,
    /// `{"change-edk-provider-info": [..]}`: replace the provider info of every EDK.
    ChangeEdkProviderInfo(Vec<String>),
    /// Any other method (the name, or the object's single key).
    Other(String),
}

impl Tampering {
    fn from_node(node: &Node<'_>) -> Result<Tampering> {
        if let Ok(s) = node.str() {
            return Ok(match s {
                "truncate" => Tampering::Truncate,
                "mutate" => Tampering::Mutate,
                "half-sign" => Tampering::HalfSign,
                "" => return Err(node.err("must not be an empty string")),
                other => Tampering::Other(other.to_owned()),
            });
        }
        let obj = node
            .obj()
            .map_err(|_| node.err("expected a tampering name or an object"))?;
        let mut entries = obj.entries();
        let (Some((name, value)), None) = (entries.next(), entries.next()) else {
            return Err(obj.err("a tampering object must have exactly one member"));
        };
        Ok(match name {
            "change-edk-provider-info" => Tampering::ChangeEdkProviderInfo(value.string_list()?),
            other => Tampering::Other(other.to_owned()),
        })
    }
}

/// The `result` of a 0006 case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GenerateExpectation {
    /// No `result`, or `result.output`: the generated vector must decrypt.
    Success,
    /// `result.error.error-description`.
    Error(String),
}

/// One `awses-decrypt-generate` case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptGenerateTest {
    /// `encryption-scenario` (a framework 0003 scenario).
    pub encryption_scenario: EncryptScenario,
    /// `tampering` (also accepted under the name `tampering-method`, the
    /// spelling of the feature document's example).
    pub tampering: Option<Tampering>,
    /// `decryption-master-keys`: keys to decrypt with instead of the encryption keys.
    pub decryption_key_descriptions: Option<Vec<KeyDescription>>,
    /// `decryption-method`.
    pub decryption_method: Option<DecryptionMethod>,
    /// `result` (default: success).
    pub expected: GenerateExpectation,
}

impl DecryptGenerateTest {
    /// True when the vectors derived from this case must fail to decrypt
    /// (any tampering, or an explicit error result).
    pub fn must_fail(&self) -> bool {
        self.tampering.is_some() || matches!(self.expected, GenerateExpectation::Error(_))
    }
}

/// A parsed `awses-decrypt-generate` manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptGenerateManifest {
    /// The manifest file (absolute, canonical).
    pub path: PathBuf,
    /// `manifest.version` (1, 2; 4 is the net-v4 generator shape with `cmm`).
    pub version: u64,
    /// `keys` as written.
    pub keys_uri: String,
    /// `keys` resolved to an absolute path.
    pub keys_path: PathBuf,
    /// `plaintexts`: name → size in bytes.
    pub plaintexts: BTreeMap<String, u64>,
    /// The cases by id.
    pub tests: BTreeMap<String, DecryptGenerateTest>,
}

impl DecryptGenerateManifest {
    /// Reads and validates a decrypt-generate manifest.
    pub fn load(path: &Path) -> Result<DecryptGenerateManifest> {
        let doc = json::read_file(path)?;
        let file = path.display().to_string();
        Self::from_node(&Node::root(&doc, &file), path)
    }

    pub(crate) fn from_node(root: &Node<'_>, path: &Path) -> Result<DecryptGenerateManifest> {
        let base = json::base_dir(path)?;
        let obj = root.obj()?;
        obj.allow_only(&["manifest", "keys", "plaintexts", "tests"])?;
        let version = json::expect_header(&obj, "awses-decrypt-generate", &[1, 2, 4])?;
        let plaintexts = parse_plaintexts(&obj)?;
        let mut tests = BTreeMap::new();
        for (id, node) in obj.req("tests")?.obj()?.entries() {
            let t = node.obj()?;
            t.allow_only(&[
                "encryption-scenario",
                "tampering",
                "tampering-method",
                "decryption-master-keys",
                "decryption-method",
                "result",
            ])?;
            let tampering = match (t.get("tampering"), t.get("tampering-method")) {
                (Some(_), Some(_)) => {
                    return Err(t.err("both \"tampering\" and \"tampering-method\" given"));
                }
                (Some(n), None) | (None, Some(n)) => Some(Tampering::from_node(&n)?),
                (None, None) => None,
            };
            let expected = match t.get("result") {
                None => GenerateExpectation::Success,
                Some(n) => {
                    let r = n.obj()?;
                    r.allow_only(&["output", "error"])?;
                    match (r.get("output"), r.get("error")) {
                        (Some(_), None) => GenerateExpectation::Success,
                        (None, Some(e)) => {
                            let e = e.obj()?;
                            e.allow_only(&["error-description"])?;
                            GenerateExpectation::Error(
                                e.req("error-description")?.str()?.to_owned(),
                            )
                        }
                        _ => {
                            return Err(r.err("must have exactly one of \"output\" and \"error\""));
                        }
                    }
                }
            };
            tests.insert(
                id.to_owned(),
                DecryptGenerateTest {
                    encryption_scenario: parse_framework_scenario(
                        &t.req("encryption-scenario")?,
                        &plaintexts,
                    )?,
                    tampering,
                    decryption_key_descriptions: t
                        .get("decryption-master-keys")
                        .map(|n| KeyDescription::list_from_node(&n))
                        .transpose()?,
                    decryption_method: t
                        .get("decryption-method")
                        .map(|n| DecryptionMethod::from_node(&n))
                        .transpose()?,
                    expected,
                },
            );
        }
        let keys_node = obj.req("keys")?;
        Ok(DecryptGenerateManifest {
            path: json::canonical_file(path)?,
            version,
            keys_uri: keys_node.str()?.to_owned(),
            keys_path: keys_node.file_uri(&base)?,
            plaintexts,
            tests,
        })
    }

    /// Loads the keys manifest this manifest references.
    pub fn load_keys(&self) -> Result<KeysManifest> {
        KeysManifest::load(&self.keys_path)
            .with_context(|| format!("keys manifest of {}", self.path.display()))
    }

    /// Checks every key reference of every case against `keys`.
    pub fn check_keys(&self, keys: &KeysManifest) -> Result<()> {
        for (id, t) in &self.tests {
            let extra = t.decryption_key_descriptions.iter().flatten();
            let r: Result<()> = (|| {
                check_scenario_keys(&t.encryption_scenario, keys)?;
                for d in extra {
                    keys.check_description(d)?;
                }
                Ok(())
            })();
            r.with_context(|| format!("{}: test {id:?}", self.path.display()))?;
        }
        Ok(())
    }
}
