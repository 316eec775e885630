//! The MPL keyring-level test manifest (`generation/mpl/test.json`): a bare
//! `{"tests": {...}}` with no `manifest` header and no `keys` reference (it
//! is used with `generation/dafny-esdk/keys.json`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};

use super::EncryptionContext;
use super::json::{self, Node};
use super::key_description::KeyDescription;
use super::keys::KeysManifest;

/// `type` of an MPL keyring test.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum MplTestType {
    /// `positive-keyring`: encrypt then decrypt must succeed.
    PositiveKeyring,
    /// `negative-encrypt-keyring`: getting encryption materials must fail.
    NegativeEncryptKeyring,
    /// `negative-decrypt-keyring`: encrypt succeeds, decrypt must fail.
    NegativeDecryptKeyring,
    /// Anything else, kept so a runner can report it as skipped.
    Other(String),
}

/// One MPL keyring test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MplKeyringTest {
    /// The test id.
    pub id: String,
    /// `type`.
    pub test_type: MplTestType,
    /// `description`.
    pub description: String,
    /// `algorithmSuiteId` (includes the DB-ESDK suites `6700`, `6701`).
    pub algorithm_suite_id: u16,
    /// `encryptionContext`.
    pub encryption_context: EncryptionContext,
    /// `requiredEncryptionContextKeys`.
    pub required_encryption_context_keys: Vec<String>,
    /// `reproducedEncryptionContext`.
    pub reproduced_encryption_context: Option<EncryptionContext>,
    /// `maxPlaintextLength`.
    pub max_plaintext_length: Option<u64>,
    /// `encryptKeyDescription`, or `keyDescription` of a negative-encrypt test.
    pub encrypt_key_description: Option<KeyDescription>,
    /// `decryptKeyDescription`.
    pub decrypt_key_description: Option<KeyDescription>,
    /// `errorDescription` (negative encrypt) or `decryptErrorDescription` (negative decrypt).
    pub error_description: Option<String>,
}

/// The MPL keyring test manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MplKeyringManifest {
    /// The manifest file (absolute, canonical).
    pub path: PathBuf,
    /// The tests by id.
    pub tests: BTreeMap<String, MplKeyringTest>,
}

impl MplKeyringManifest {
    /// Reads and validates the manifest.
    pub fn load(path: &Path) -> Result<MplKeyringManifest> {
        let doc = json::read_file(path)?;
        let file = path.display().to_string();
        Self::from_node(&Node::root(&doc, &file), path)
    }

    pub(crate) fn from_node(root: &Node<'_>, path: &Path) -> Result<MplKeyringManifest> {
        let obj = root.obj()?;
        obj.allow_only(&["tests"])?;
        let mut tests = BTreeMap::new();
        for (id, node) in obj.req("tests")?.obj()?.entries() {
            tests.insert(id.to_owned(), parse_test(id, &node)?);
        }
        Ok(MplKeyringManifest {
            path: json::canonical_file(path)?,
            tests,
        })
    }

    /// Checks every key reference against `keys` (the Dafny/MPL keys manifest).
    pub fn check_keys(&self, keys: &KeysManifest) -> Result<()> {
        for t in self.tests.values() {
            for d in [&t.encrypt_key_description, &t.decrypt_key_description]
                .into_iter()
                .flatten()
            {
                keys.check_description(d)
                    .with_context(|| format!("{}: test {:?}", self.path.display(), t.id))?;
            }
        }
        Ok(())
    }
}

fn parse_test(id: &str, node: &Node<'_>) -> Result<MplKeyringTest> {
    let t = node.obj()?;
    let type_node = t.req("type")?;
    let test_type = match type_node.non_empty_str()? {
        "positive-keyring" => MplTestType::PositiveKeyring,
        "negative-encrypt-keyring" => MplTestType::NegativeEncryptKeyring,
        "negative-decrypt-keyring" => MplTestType::NegativeDecryptKeyring,
        other => MplTestType::Other(other.to_owned()),
    };
    let common = [
        "type",
        "description",
        "algorithmSuiteId",
        "encryptionContext",
        "requiredEncryptionContextKeys",
        "reproducedEncryptionContext",
        "maxPlaintextLength",
    ];
    let extra: &[&str] = match test_type {
        MplTestType::PositiveKeyring => &["encryptKeyDescription", "decryptKeyDescription"],
        MplTestType::NegativeEncryptKeyring => &["keyDescription", "errorDescription"],
        MplTestType::NegativeDecryptKeyring => &[
            "encryptKeyDescription",
            "decryptKeyDescription",
            "decryptErrorDescription",
        ],
        MplTestType::Other(_) => &[],
    };
    let desc = |field: &str| -> Result<Option<KeyDescription>> {
        t.get(field)
            .map(|n| KeyDescription::from_node(&n))
            .transpose()
    };
    let (encrypt_key_description, decrypt_key_description, error_description) = match test_type {
        MplTestType::Other(_) => (None, None, None),
        _ => {
            t.allow_only(&common.iter().chain(extra).copied().collect::<Vec<_>>())?;
            match test_type {
                MplTestType::NegativeEncryptKeyring => (
                    Some(KeyDescription::from_node(&t.req("keyDescription")?)?),
                    None,
                    Some(t.req_str("errorDescription")?.to_owned()),
                ),
                MplTestType::NegativeDecryptKeyring => (
                    Some(KeyDescription::from_node(&t.req("encryptKeyDescription")?)?),
                    Some(KeyDescription::from_node(&t.req("decryptKeyDescription")?)?),
                    Some(t.req_str("decryptErrorDescription")?.to_owned()),
                ),
                _ => (
                    Some(KeyDescription::from_node(&t.req("encryptKeyDescription")?)?),
                    Some(KeyDescription::from_node(&t.req("decryptKeyDescription")?)?),
                    None,
                ),
            }
        }
    };
    // Unknown test types keep whatever descriptions they have, if parseable.
    let (encrypt_key_description, decrypt_key_description) = match test_type {
        MplTestType::Other(_) => (
            desc("encryptKeyDescription")?.or(desc("keyDescription")?),
            desc("decryptKeyDescription")?,
        ),
        _ => (encrypt_key_description, decrypt_key_description),
    };
    Ok(MplKeyringTest {
        id: id.to_owned(),
        test_type,
        description: t.req_str("description")?.to_owned(),
        algorithm_suite_id: t.req("algorithmSuiteId")?.suite_id()?,
        encryption_context: t.req("encryptionContext")?.string_map()?,
        required_encryption_context_keys: t
            .get("requiredEncryptionContextKeys")
            .map(|n| n.string_list())
            .transpose()?
            .unwrap_or_default(),
        reproduced_encryption_context: t
            .get("reproducedEncryptionContext")
            .map(|n| n.string_map())
            .transpose()?,
        max_plaintext_length: t.opt_u64("maxPlaintextLength")?,
        encrypt_key_description,
        decrypt_key_description,
        error_description,
    })
}
