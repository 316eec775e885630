//! The 2017 python 1.3.0 manifests in `legacy-python-1.3.0/manifests/`
//! (`ciphertext.manifest`, `test_case.manifest`, `results.manifest`).
//! File names inside them are relative to the set directory, the parent of
//! `manifests/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::json::{self, Node, Obj};
use super::{ClientInfo, EncryptionContext, RsaPadding};

/// `encryption_algorithm` of a legacy raw master key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LegacyWrapAlgorithm {
    /// `AES`.
    Aes,
    /// `RSA`.
    Rsa,
}

/// A legacy master key (`master_keys[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyMasterKey {
    /// `provider_id`: `aws-kms`, `static-aws-xcompat` (raw keys from
    /// `test_keys`) or `ephemeral-aws-xcompat` (discarded keys).
    pub provider_id: String,
    /// `decryptable`: false for EDKs that must be skipped.
    pub decryptable: bool,
    /// `key_id` (KMS keys).
    pub key_id: Option<String>,
    /// `encryption_algorithm` (raw keys).
    pub encryption_algorithm: Option<LegacyWrapAlgorithm>,
    /// `key_bits` (RSA).
    pub key_bits: Option<u32>,
    /// `padding_algorithm` as written (`PKCS1`, `OAEP-MGF1`).
    pub padding_algorithm: Option<String>,
    /// `padding_hash` as written (`SHA-1`, `SHA-256`).
    pub padding_hash: Option<String>,
    /// The normalized RSA padding.
    pub padding: Option<RsaPadding>,
}

impl LegacyMasterKey {
    /// True for the raw keys stored in `test_keys` (`static-aws-xcompat`).
    pub fn is_static_raw(&self) -> bool {
        self.provider_id == "static-aws-xcompat"
    }

    /// The raw keyring key name the python 1.3.0 "xcompat" provider wrote:
    /// `"<ALG>.<bits>.<padding>.<hash>"`, e.g. `AES.128..` (AES bits = the
    /// suite's data-key length) or `RSA.2048.OAEP-MGF1.SHA-1`. `None` for KMS
    /// keys or an AES key with an unknown suite.
    pub fn raw_key_name(&self, suite: u16) -> Option<String> {
        let pad = self.padding_algorithm.as_deref().unwrap_or("");
        let hash = self.padding_hash.as_deref().unwrap_or("");
        match self.encryption_algorithm? {
            LegacyWrapAlgorithm::Aes => {
                let bits = match suite & 0xff {
                    0x14 => 128,
                    0x46 => 192,
                    0x78 => 256,
                    _ => return None,
                };
                Some(format!("AES.{bits}.{pad}.{hash}"))
            }
            LegacyWrapAlgorithm::Rsa => Some(format!("RSA.{}.{pad}.{hash}", self.key_bits?)),
        }
    }

    fn from_node(node: &Node<'_>) -> Result<LegacyMasterKey> {
        let o = node.obj()?;
        o.allow_only(&[
            "provider_id",
            "decryptable",
            "key_id",
            "encryption_algorithm",
            "key_bits",
            "padding_algorithm",
            "padding_hash",
        ])?;
        let encryption_algorithm = match o.get("encryption_algorithm") {
            None => None,
            Some(n) => Some(match n.str()? {
                "AES" => LegacyWrapAlgorithm::Aes,
                "RSA" => LegacyWrapAlgorithm::Rsa,
                other => return Err(n.err(format_args!("unknown algorithm {other:?}"))),
            }),
        };
        let padding_algorithm = o.opt_str("padding_algorithm")?.map(str::to_owned);
        let padding_hash = o.opt_str("padding_hash")?.map(str::to_owned);
        let padding = match o.get("padding_algorithm") {
            None => None,
            Some(n) => Some(
                RsaPadding::from_manifest(n.str()?, padding_hash.as_deref())
                    .map_err(|e| n.err(e))?,
            ),
        };
        let provider_id = o.req("provider_id")?.non_empty_str()?.to_owned();
        let mk = LegacyMasterKey {
            decryptable: o.req("decryptable")?.bool()?,
            key_id: o.opt_str("key_id")?.map(str::to_owned),
            encryption_algorithm,
            key_bits: o.opt_u32("key_bits")?,
            padding_algorithm,
            padding_hash,
            padding,
            provider_id,
        };
        match (mk.provider_id.as_str(), mk.encryption_algorithm) {
            ("aws-kms", _) if mk.key_id.is_none() => {
                Err(o.err("an aws-kms master key needs \"key_id\""))
            }
            ("aws-kms", Some(_)) => Err(o.err("an aws-kms master key has no encryption_algorithm")),
            ("aws-kms", None) => Ok(mk),
            (_, None) => Err(o.err("a raw master key needs \"encryption_algorithm\"")),
            (_, Some(LegacyWrapAlgorithm::Rsa))
                if mk.padding.is_none() || mk.key_bits.is_none() =>
            {
                Err(o.err("an RSA master key needs \"padding_algorithm\" and \"key_bits\""))
            }
            _ => Ok(mk),
        }
    }
}

/// One case of `ciphertext.manifest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyCase {
    /// Position in `test_cases` (0-based).
    pub index: usize,
    /// Absolute path of the plaintext.
    pub plaintext: PathBuf,
    /// Absolute path of the ciphertext.
    pub ciphertext: PathBuf,
    /// `algorithm`.
    pub algorithm_suite_id: u16,
    /// `master_keys`: one EDK each, in order.
    pub master_keys: Vec<LegacyMasterKey>,
}

/// `ciphertext.manifest`: the messages, with the raw keys that made them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyCiphertextManifest {
    /// The manifest file (absolute, canonical).
    pub path: PathBuf,
    /// `client`.
    pub client: ClientInfo,
    /// `manifest.test_case.filename`, resolved.
    pub test_case_manifest: PathBuf,
    /// `test_keys.AES`: bits → key bytes.
    pub aes_keys: BTreeMap<u32, Vec<u8>>,
    /// `test_keys.RSA`: bits → PEM private key (lines joined with `line_separator`).
    pub rsa_keys: BTreeMap<u32, String>,
    /// `test_cases`.
    pub cases: Vec<LegacyCase>,
}

/// The set directory: the parent of the `manifests/` directory holding `path`.
fn set_dir(path: &Path) -> Result<PathBuf> {
    let dir = json::base_dir(path)?;
    Ok(dir.parent().map_or(dir.clone(), Path::to_path_buf))
}

fn filename(obj: &Obj<'_>, field: &str, base: &Path) -> Result<PathBuf> {
    let o = obj.req(field)?.obj()?;
    o.allow_only(&["filename"])?;
    let name = o.req("filename")?.non_empty_str()?;
    Ok(base.join(name))
}

fn legacy_header(root: &Obj<'_>, kind: &str, links: &[&str]) -> Result<()> {
    let h = json::header(root)?;
    let m = root.req("manifest")?.obj()?;
    if h.kind != kind {
        return Err(m.err(format_args!(
            "manifest type is {:?}, expected {kind:?}",
            h.kind
        )));
    }
    let mut allowed = vec!["type"];
    allowed.extend_from_slice(links);
    m.allow_only(&allowed)
}

impl LegacyCiphertextManifest {
    /// Reads and validates `ciphertext.manifest`.
    pub fn load(path: &Path) -> Result<LegacyCiphertextManifest> {
        let doc = json::read_file(path)?;
        let file = path.display().to_string();
        Self::from_node(&Node::root(&doc, &file), path)
    }

    pub(crate) fn from_node(root: &Node<'_>, path: &Path) -> Result<LegacyCiphertextManifest> {
        let base = set_dir(path)?;
        let obj = root.obj()?;
        obj.allow_only(&["client", "manifest", "test_keys", "test_cases"])?;
        legacy_header(&obj, "ciphertext", &["test_case"])?;
        let manifest = obj.req("manifest")?.obj()?;

        let keys = obj.req("test_keys")?.obj()?;
        keys.allow_only(&["AES", "RSA"])?;
        let mut aes_keys = BTreeMap::new();
        let mut rsa_keys = BTreeMap::new();
        for (alg, table) in keys.entries() {
            for (bits_text, entry) in table.obj()?.entries() {
                let bits: u32 = bits_text
                    .parse()
                    .map_err(|_| entry.err("key size is not a number"))?;
                let e = entry.obj()?;
                e.allow_only(&["key", "encoding", "line_separator"])?;
                let lines = e.req("key")?.string_list()?;
                let joined = lines.join(e.opt_str("line_separator")?.unwrap_or(""));
                match (alg, e.req_str("encoding")?) {
                    ("AES", "base64") => {
                        let n = e.req("key")?;
                        let key = base64::Engine::decode(
                            &base64::engine::general_purpose::STANDARD,
                            &joined,
                        )
                        .map_err(|x| n.err(format_args!("invalid base64: {x}")))?;
                        if key.len() * 8 != bits as usize {
                            return Err(
                                n.err(format_args!("{} bytes for a {bits}-bit key", key.len()))
                            );
                        }
                        aes_keys.insert(bits, key);
                    }
                    ("RSA", "pem") => {
                        if !joined
                            .trim_start()
                            .starts_with("-----BEGIN PRIVATE KEY-----")
                        {
                            return Err(e.err("not a PEM PKCS#8 private key"));
                        }
                        rsa_keys.insert(bits, joined);
                    }
                    (a, enc) => {
                        return Err(e.err(format_args!("unexpected {a} key encoding {enc:?}")));
                    }
                }
            }
        }

        let mut cases = Vec::new();
        for (index, n) in obj.req("test_cases")?.array()?.iter().enumerate() {
            let c = n.obj()?;
            c.allow_only(&["plaintext", "ciphertext", "algorithm", "master_keys"])?;
            cases.push(LegacyCase {
                index,
                plaintext: filename(&c, "plaintext", &base)?,
                ciphertext: filename(&c, "ciphertext", &base)?,
                algorithm_suite_id: c.req("algorithm")?.suite_id()?,
                master_keys: master_keys(&c)?,
            });
        }
        Ok(LegacyCiphertextManifest {
            path: json::canonical_file(path)?,
            client: ClientInfo::from_node(&obj.req("client")?)?,
            test_case_manifest: filename(&manifest, "test_case", &base)?,
            aes_keys,
            rsa_keys,
            cases,
        })
    }
}

fn master_keys(obj: &Obj<'_>) -> Result<Vec<LegacyMasterKey>> {
    let list = obj.req("master_keys")?;
    let items = list.array()?;
    if items.is_empty() {
        return Err(list.err("no master keys"));
    }
    items.iter().map(LegacyMasterKey::from_node).collect()
}

/// A legacy test scenario (`test_case.manifest` `test_scenarios[]`,
/// `results.manifest` `test_cases[].test_scenario`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyScenario {
    /// `plaintext` name.
    pub plaintext: String,
    /// `algorithm`.
    pub algorithm_suite_id: u16,
    /// `encryption_context`.
    pub encryption_context: EncryptionContext,
    /// `master_keys`.
    pub master_keys: Vec<LegacyMasterKey>,
    /// `framed_body`.
    pub framed: bool,
    /// `frame_size` (framed scenarios).
    pub frame_size: Option<u32>,
}

impl LegacyScenario {
    fn from_node(node: &Node<'_>) -> Result<LegacyScenario> {
        let o = node.obj()?;
        o.allow_only(&[
            "plaintext",
            "algorithm",
            "encryption_context",
            "master_keys",
            "framed_body",
            "frame_size",
        ])?;
        let framed = o.req("framed_body")?.bool()?;
        let frame_size = o.opt_u32("frame_size")?;
        if framed != frame_size.is_some() {
            return Err(o.err("\"frame_size\" must be given exactly for framed bodies"));
        }
        Ok(LegacyScenario {
            plaintext: o.req("plaintext")?.non_empty_str()?.to_owned(),
            algorithm_suite_id: o.req("algorithm")?.suite_id()?,
            encryption_context: o.req("encryption_context")?.string_map()?,
            master_keys: master_keys(&o)?,
            framed,
            frame_size,
        })
    }
}

/// A legacy plaintext description: `multiple` × `multiplier` bytes.
fn plaintext_spec(node: &Node<'_>) -> Result<(String, u64)> {
    let o = node.obj()?;
    o.allow_only(&["name", "multiple", "multiplier"])?;
    let unit = match o.req_str("multiplier")? {
        "B" => 1,
        other => {
            return Err(o.req("multiplier")?.err(format_args!(
                "unknown multiplier {other:?} (only \"B\" is known)"
            )));
        }
    };
    let multiple = o.req("multiple")?.u64()?;
    Ok((o.req("name")?.non_empty_str()?.to_owned(), multiple * unit))
}

/// `test_case.manifest`: the scenario list the vectors were made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyTestCaseManifest {
    /// `plaintexts`: name → size in bytes.
    pub plaintexts: BTreeMap<String, u64>,
    /// `test_scenarios`.
    pub scenarios: Vec<LegacyScenario>,
}

impl LegacyTestCaseManifest {
    /// Reads and validates `test_case.manifest`.
    pub fn load(path: &Path) -> Result<LegacyTestCaseManifest> {
        let doc = json::read_file(path)?;
        let file = path.display().to_string();
        Self::from_node(&Node::root(&doc, &file))
    }

    pub(crate) fn from_node(root: &Node<'_>) -> Result<LegacyTestCaseManifest> {
        let obj = root.obj()?;
        obj.allow_only(&["manifest", "plaintexts", "test_scenarios"])?;
        legacy_header(&obj, "test_case", &[])?;
        let mut plaintexts = BTreeMap::new();
        for n in obj.req("plaintexts")?.array()? {
            let (name, size) = plaintext_spec(&n)?;
            if plaintexts.insert(name.clone(), size).is_some() {
                return Err(n.err(format_args!("plaintext {name:?} listed twice")));
            }
        }
        let scenarios = obj
            .req("test_scenarios")?
            .array()?
            .iter()
            .map(LegacyScenario::from_node)
            .collect::<Result<Vec<_>>>()?;
        Ok(LegacyTestCaseManifest {
            plaintexts,
            scenarios,
        })
    }
}

/// Outcome of a legacy scenario when python 1.3.0 ran it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LegacyStatus {
    /// `SUCCESS`: a ciphertext was written.
    Success,
    /// `FAIL`: no ciphertext (e.g. an unsupported RSA padding).
    Fail {
        /// `error.type`.
        error_type: String,
        /// `error.description` lines.
        description: Vec<String>,
    },
}

/// One entry of `results.manifest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyResult {
    /// `plaintext.name`.
    pub plaintext: String,
    /// Size in bytes from `plaintext.multiple` × `plaintext.multiplier`.
    pub plaintext_size: u64,
    /// `test_scenario`.
    pub scenario: LegacyScenario,
    /// `results`.
    pub status: LegacyStatus,
}

/// `results.manifest`: what happened to every scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegacyResultsManifest {
    /// The manifest file (absolute, canonical).
    pub path: PathBuf,
    /// `client`.
    pub client: ClientInfo,
    /// `manifest.ciphertext.filename`, resolved.
    pub ciphertext_manifest: PathBuf,
    /// `manifest.test_case.filename`, resolved.
    pub test_case_manifest: PathBuf,
    /// `test_cases`.
    pub results: Vec<LegacyResult>,
}

impl LegacyResultsManifest {
    /// Reads and validates `results.manifest`.
    pub fn load(path: &Path) -> Result<LegacyResultsManifest> {
        let doc = json::read_file(path)?;
        let file = path.display().to_string();
        Self::from_node(&Node::root(&doc, &file), path)
    }

    pub(crate) fn from_node(root: &Node<'_>, path: &Path) -> Result<LegacyResultsManifest> {
        let base = set_dir(path)?;
        let obj = root.obj()?;
        obj.allow_only(&["client", "manifest", "test_cases"])?;
        legacy_header(&obj, "results", &["test_case", "ciphertext"])?;
        let manifest = obj.req("manifest")?.obj()?;
        let mut results = Vec::new();
        for n in obj.req("test_cases")?.array()? {
            let c = n.obj()?;
            c.allow_only(&["plaintext", "results", "test_scenario"])?;
            let (plaintext, plaintext_size) = plaintext_spec(&c.req("plaintext")?)?;
            let r = c.req("results")?.obj()?;
            r.allow_only(&["status", "error"])?;
            let status = match (r.req_str("status")?, r.get("error")) {
                ("SUCCESS", None) => LegacyStatus::Success,
                ("FAIL", Some(e)) => {
                    let e = e.obj()?;
                    e.allow_only(&["type", "description"])?;
                    LegacyStatus::Fail {
                        error_type: e.req_str("type")?.to_owned(),
                        description: e.req("description")?.string_list()?,
                    }
                }
                (s, _) => {
                    return Err(r.err(format_args!(
                        "status {s:?} with{} an error",
                        if r.has("error") { "" } else { "out" }
                    )));
                }
            };
            results.push(LegacyResult {
                plaintext,
                plaintext_size,
                scenario: LegacyScenario::from_node(&c.req("test_scenario")?)?,
                status,
            });
        }
        Ok(LegacyResultsManifest {
            path: json::canonical_file(path)?,
            client: ClientInfo::from_node(&obj.req("client")?)?,
            ciphertext_manifest: filename(&manifest, "ciphertext", &base)?,
            test_case_manifest: filename(&manifest, "test_case", &base)?,
            results,
        })
    }
}
