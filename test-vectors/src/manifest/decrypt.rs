//! `awses-decrypt` manifests, versions 1–5.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::json::{self, Node, Obj};
use super::key_description::KeyDescription;
use super::keys::KeysManifest;
use super::{ClientInfo, CmmType, DecryptionMethod, EncryptionContext};

/// What decrypting a case must produce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedResult {
    /// Decryption must succeed and produce exactly this file's bytes.
    Plaintext(PathBuf),
    /// Decryption must fail; the text is a free description, not an error code.
    Error(String),
}

/// One decrypt test case, normalized across versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptTest {
    /// The test id (key of `tests`).
    pub id: String,
    /// `description` (v2+ optional; v5 `decryption-scenario.description`).
    pub description: Option<String>,
    /// Absolute path of the ciphertext file.
    pub ciphertext: PathBuf,
    /// Expected outcome. v1 has only plaintexts; v2–v4 `result.output.plaintext`
    /// or `result.error.error-description`; v5 (`positive-esdk`) a plaintext URI.
    pub expected: ExpectedResult,
    /// `decryption-method` (v3+), e.g. `streaming-unsigned-only`.
    pub decryption_method: Option<DecryptionMethod>,
    /// The `master-keys` list (v1–v4), or the single `decryptKeyDescription` (v5).
    /// Several entries mean one keyring holding all of them, see [`DecryptTest::keyring`].
    pub key_descriptions: Vec<KeyDescription>,
    /// v4 `cmm`; v5: `RequiredEncryptionContext` when the description is a
    /// `required-encryption-context-cmm`; otherwise `Default`.
    pub cmm: CmmType,
    /// The reproduced encryption context to pass to Decrypt: v4
    /// `encryption-context`, v5 `reproduced-encryption-context`.
    pub reproduced_encryption_context: Option<EncryptionContext>,
    /// Keys the required-encryption-context CMM must see. v5: the
    /// description's `requiredEncryptionContextKeys`; v4 with
    /// `RequiredEncryptionContext`: every key of `encryption-context` (the .NET
    /// generator required them all, and none of them is in those headers).
    pub required_encryption_context_keys: Vec<String>,
    /// v5 `algorithmSuiteId`.
    pub algorithm_suite_id: Option<u16>,
    /// v5 `frame-size` (unreliable: take framing from the message header).
    pub frame_size: Option<u32>,
}

impl DecryptTest {
    /// The keyring to decrypt with: the single description, or a
    /// multi-keyring (first = generator) for a list of several.
    pub fn keyring(&self) -> KeyDescription {
        KeyDescription::combine(&self.key_descriptions)
            .expect("a parsed decrypt test always has at least one key description")
    }

    /// True when the case must decrypt.
    pub fn must_succeed(&self) -> bool {
        matches!(self.expected, ExpectedResult::Plaintext(_))
    }
}

/// A parsed `awses-decrypt` manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptManifest {
    /// The manifest file (absolute, canonical).
    pub path: PathBuf,
    /// `manifest.version` (1–5).
    pub version: u64,
    /// `client`.
    pub client: ClientInfo,
    /// `keys` as written.
    pub keys_uri: String,
    /// `keys` resolved to an absolute path.
    pub keys_path: PathBuf,
    /// The cases by id.
    pub tests: BTreeMap<String, DecryptTest>,
}

const V1_FIELDS: &[&str] = &["description", "plaintext", "ciphertext", "master-keys"];
const V2_FIELDS: &[&str] = &["description", "ciphertext", "master-keys", "result"];
const V3_FIELDS: &[&str] = &[
    "description",
    "ciphertext",
    "master-keys",
    "result",
    "decryption-method",
];
const V4_FIELDS: &[&str] = &[
    "description",
    "ciphertext",
    "master-keys",
    "result",
    "decryption-method",
    "cmm",
    "encryption-context",
];

impl DecryptManifest {
    /// Reads and validates a decrypt manifest.
    pub fn load(path: &Path) -> Result<DecryptManifest> {
        let doc = json::read_file(path)?;
        let file = path.display().to_string();
        Self::from_node(&Node::root(&doc, &file), path)
    }

    pub(crate) fn from_node(root: &Node<'_>, path: &Path) -> Result<DecryptManifest> {
        let base = json::base_dir(path)?;
        let obj = root.obj()?;
        obj.allow_only(&["manifest", "client", "keys", "tests"])?;
        let version = json::expect_header(&obj, "awses-decrypt", &[1, 2, 3, 4, 5])?;
        let keys_node = obj.req("keys")?;
        let mut tests = BTreeMap::new();
        for (id, node) in obj.req("tests")?.obj()?.entries() {
            let test = match version {
                5 => parse_v5(id, &node, &base)?,
                _ => parse_v1_to_v4(id, &node, &base, version)?,
            };
            tests.insert(id.to_owned(), test);
        }
        if tests.is_empty() {
            return Err(obj.req("tests")?.err("no test cases"));
        }
        Ok(DecryptManifest {
            path: json::canonical_file(path)?,
            version,
            client: ClientInfo::from_node(&obj.req("client")?)?,
            keys_uri: keys_node.str()?.to_owned(),
            keys_path: keys_node.file_uri(&base)?,
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
        for t in self.tests.values() {
            for d in &t.key_descriptions {
                keys.check_description(d)
                    .with_context(|| format!("{}: test {:?}", self.path.display(), t.id))?;
            }
        }
        Ok(())
    }

    /// `Some(reason)` when the README says this set's cases must fail although
    /// its manifest says `output`: the `net-4.0.0-invalid` set (ESDK-.NET 4.0.0
    /// wrote non-conformant messages; README section 1.4). Identified by the
    /// manifest's directory name, the only thing that tells it apart.
    pub fn expected_failure_override(&self) -> Option<&'static str> {
        let dir = self.path.parent()?.file_name()?;
        (dir == "net-4.0.0-invalid").then_some(
            "ESDK-.NET 4.0.0 non-conformant message (extra 00 00 in the header-auth AAD \
             and/or HKDF info without the message id): must fail header authentication",
        )
    }
}

fn parse_result(obj: &Obj<'_>, base: &Path) -> Result<ExpectedResult> {
    let r = obj.req("result")?.obj()?;
    r.allow_only(&["output", "error"])?;
    match (r.get("output"), r.get("error")) {
        (Some(out), None) => {
            let o = out.obj()?;
            o.allow_only(&["plaintext"])?;
            Ok(ExpectedResult::Plaintext(
                o.req("plaintext")?.file_uri(base)?,
            ))
        }
        (None, Some(err)) => {
            let e = err.obj()?;
            e.allow_only(&["error-description"])?;
            Ok(ExpectedResult::Error(
                e.req("error-description")?.str()?.to_owned(),
            ))
        }
        _ => Err(r.err("must have exactly one of \"output\" and \"error\"")),
    }
}

fn parse_v1_to_v4(id: &str, node: &Node<'_>, base: &Path, version: u64) -> Result<DecryptTest> {
    let obj = node.obj()?;
    obj.allow_only(match version {
        1 => V1_FIELDS,
        2 => V2_FIELDS,
        3 => V3_FIELDS,
        _ => V4_FIELDS,
    })?;
    let expected = if version == 1 {
        ExpectedResult::Plaintext(obj.req("plaintext")?.file_uri(base)?)
    } else {
        parse_result(&obj, base)?
    };
    let (cmm, ec) = if version == 4 {
        (
            CmmType::from_node(&obj.req("cmm")?)?,
            Some(obj.req("encryption-context")?.string_map()?),
        )
    } else {
        (CmmType::Default, None)
    };
    let required = match (cmm, &ec) {
        (CmmType::RequiredEncryptionContext, Some(ec)) => ec.keys().cloned().collect(),
        _ => Vec::new(),
    };
    Ok(DecryptTest {
        id: id.to_owned(),
        description: obj.opt_str("description")?.map(str::to_owned),
        ciphertext: obj.req("ciphertext")?.file_uri(base)?,
        expected,
        decryption_method: obj
            .get("decryption-method")
            .map(|n| DecryptionMethod::from_node(&n))
            .transpose()?,
        key_descriptions: KeyDescription::list_from_node(&obj.req("master-keys")?)?,
        cmm,
        reproduced_encryption_context: ec,
        required_encryption_context_keys: required,
        algorithm_suite_id: None,
        frame_size: None,
    })
}

fn parse_v5(id: &str, node: &Node<'_>, base: &Path) -> Result<DecryptTest> {
    let outer = node.obj()?;
    outer.allow_only(&["decryption-scenario"])?;
    let s = outer.req("decryption-scenario")?.obj()?;
    s.allow_only(&[
        "type",
        "ciphertext",
        "result",
        "algorithmSuiteId",
        "frame-size",
        "description",
        "decryptKeyDescription",
        "reproduced-encryption-context",
    ])?;
    let ty = s.req("type")?;
    if ty.str()? != "positive-esdk" {
        return Err(ty.err(format_args!(
            "unsupported decryption-scenario type {:?} (only \"positive-esdk\" is known)",
            ty.str()?
        )));
    }
    let description = KeyDescription::from_node(&s.req("decryptKeyDescription")?)?;
    let (cmm, required) = match &description {
        KeyDescription::RequiredEncryptionContext { keys, .. } => {
            (CmmType::RequiredEncryptionContext, keys.clone())
        }
        _ => (CmmType::Default, Vec::new()),
    };
    Ok(DecryptTest {
        id: id.to_owned(),
        description: s.opt_str("description")?.map(str::to_owned),
        ciphertext: s.req("ciphertext")?.file_uri(base)?,
        expected: ExpectedResult::Plaintext(s.req("result")?.file_uri(base)?),
        decryption_method: None,
        key_descriptions: vec![description],
        cmm,
        reproduced_encryption_context: s
            .get("reproduced-encryption-context")
            .map(|n| n.string_map())
            .transpose()?,
        required_encryption_context_keys: required,
        algorithm_suite_id: s
            .get("algorithmSuiteId")
            .map(|n| n.suite_id())
            .transpose()?,
        frame_size: s.opt_u32("frame-size")?,
    })
}
