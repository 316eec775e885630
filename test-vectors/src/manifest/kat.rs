//! Known-answer files: the commitment KATs, the python decrypt-oracle
//! vectors, and the C SDK's loose file pairs.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result, anyhow};

use super::EncryptionContext;
use super::json::{self, Node};

/// `keyring-type` of a commitment KAT.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KatKeyringType {
    /// `static`: raw AES-256 keyring, namespace `ProviderName`, key name
    /// `KeyId`, all-zero wrapping key.
    Static,
    /// `aws-kms`: the EDK needs KMS; run offline by injecting the data key.
    AwsKms,
    /// Anything else.
    Other(String),
}

/// One commitment known-answer test (`kat/commitment-test-vectors.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitmentKat {
    /// Position in the `tests` list (0-based).
    pub index: usize,
    /// `comment` (starts with the 1-based case number).
    pub comment: String,
    /// `ciphertext`: the full message.
    pub ciphertext: Vec<u8>,
    /// `header`: the serialized header including its auth tag (surrounding
    /// whitespace is ignored: case 27's value starts with a space).
    pub header: Vec<u8>,
    /// `frames`: body pieces, when given (empty when absent).
    pub frames: Vec<Vec<u8>>,
    /// `footer`, when given.
    pub footer: Option<Vec<u8>>,
    /// `message-id` (32 bytes).
    pub message_id: Vec<u8>,
    /// `commitment`: the expected commit key (32 bytes).
    pub commit_key: Vec<u8>,
    /// `decrypted-dek`: the plaintext data key to inject (32 bytes).
    pub plaintext_data_key: Vec<u8>,
    /// `content-encryption-key`: the expected derived key (32 bytes), when given.
    pub derived_key: Option<Vec<u8>>,
    /// `encryption-context`: the pairs stored in the header.
    pub encryption_context: EncryptionContext,
    /// `keyring-type`.
    pub keyring_type: KatKeyringType,
    /// `status`: true = must decrypt, false = must fail.
    pub must_decrypt: bool,
    /// `plaintext-frames` concatenated (UTF-8 bytes), when given. Some
    /// must-fail cases also carry one; it is not an expected output.
    pub plaintext: Option<Vec<u8>>,
    /// `exception` of the must-fail cases.
    pub exception: Option<String>,
}

impl CommitmentKat {
    /// The encryption context exactly as serialized in the header (the AAD
    /// field: UInt16 count and length-prefixed pairs; empty for no pairs).
    /// Use these bytes, not a re-serialization of
    /// [`CommitmentKat::encryption_context`]: cases 15, 17, 19 and 21 store
    /// their pairs out of sorted order.
    pub fn header_encryption_context_bytes(&self) -> &[u8] {
        let n = aad_len(&self.header).unwrap_or(0);
        self.header.get(37..37 + n).unwrap_or_default()
    }

    /// True when the header stores the encryption-context pairs sorted by key
    /// (the canonical order); false for the hand-made cases 15, 17, 19, 21.
    pub fn header_encryption_context_sorted(&self) -> bool {
        let pairs = parse_aad(self.header_encryption_context_bytes()).unwrap_or_default();
        pairs
            .windows(2)
            .all(|w| w[0].0.as_bytes() < w[1].0.as_bytes())
    }

    /// The plaintext a must-decrypt case has to produce (`None` for must-fail).
    pub fn expected_plaintext(&self) -> Option<&[u8]> {
        if self.must_decrypt {
            self.plaintext.as_deref()
        } else {
            None
        }
    }
}

/// The commitment KAT file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitmentKats {
    /// `title`.
    pub title: String,
    /// `date`.
    pub date: String,
    /// `status`.
    pub status: String,
    /// `tests`.
    pub tests: Vec<CommitmentKat>,
}

impl CommitmentKats {
    /// Reads and validates the KAT file.
    pub fn load(path: &Path) -> Result<CommitmentKats> {
        let doc = json::read_file(path)?;
        let file = path.display().to_string();
        Self::from_node(&Node::root(&doc, &file))
    }

    pub(crate) fn from_node(root: &Node<'_>) -> Result<CommitmentKats> {
        let obj = root.obj()?;
        obj.allow_only(&["title", "date", "status", "tests"])?;
        let tests = obj
            .req("tests")?
            .array()?
            .iter()
            .enumerate()
            .map(|(i, n)| parse_commitment_kat(i, n))
            .collect::<Result<Vec<_>>>()?;
        Ok(CommitmentKats {
            title: obj.req_str("title")?.to_owned(),
            date: obj.req_str("date")?.to_owned(),
            status: obj.req_str("status")?.to_owned(),
            tests,
        })
    }
}

/// Splits a header AAD field (UInt16 count, then UInt16-length-prefixed
/// key/value pairs; empty for no pairs) into its pairs, in serialized order.
fn parse_aad(aad: &[u8]) -> Option<Vec<(String, String)>> {
    if aad.is_empty() {
        return Some(Vec::new());
    }
    let mut rest = aad;
    let mut take = |n: usize| -> Option<&[u8]> {
        let (head, tail) = rest.split_at_checked(n)?;
        rest = tail;
        Some(head)
    };
    let u16_at = |b: &[u8]| usize::from(u16::from_be_bytes([b[0], b[1]]));
    let count = u16_at(take(2)?);
    let mut pairs = Vec::with_capacity(count);
    for _ in 0..count {
        let klen = u16_at(take(2)?);
        let k = String::from_utf8(take(klen)?.to_vec()).ok()?;
        let vlen = u16_at(take(2)?);
        let v = String::from_utf8(take(vlen)?.to_vec()).ok()?;
        pairs.push((k, v));
    }
    rest.is_empty().then_some(pairs)
}

fn aad_len(header: &[u8]) -> Option<usize> {
    let b = header.get(35..37)?;
    Some(usize::from(u16::from_be_bytes([b[0], b[1]])))
}

fn parse_commitment_kat(index: usize, node: &Node<'_>) -> Result<CommitmentKat> {
    let t = node.obj()?;
    t.allow_only(&[
        "ciphertext",
        "commitment",
        "content-encryption-key",
        "decrypted-dek",
        "encryption-context",
        "exception",
        "footer",
        "frames",
        "header",
        "message-id",
        "plaintext-frames",
        "status",
        "keyring-type",
        "comment",
    ])?;
    let ciphertext = t.req("ciphertext")?.base64()?;
    // Case 27's header is written with a leading space.
    let header = t.req("header")?.base64_trimmed()?;
    let frames = match t.get("frames") {
        None => Vec::new(),
        Some(n) => n
            .array()?
            .iter()
            .map(Node::base64)
            .collect::<Result<Vec<_>>>()?,
    };
    let footer = t.get("footer").map(|n| n.base64()).transpose()?;
    let message_id = t.req("message-id")?.base64_len(32)?;
    let plaintext = match t.get("plaintext-frames") {
        None => None,
        Some(n) => Some(n.string_list()?.concat().into_bytes()),
    };
    let kat = CommitmentKat {
        index,
        comment: t.req_str("comment")?.to_owned(),
        commit_key: t.req("commitment")?.base64_len(32)?,
        plaintext_data_key: t.req("decrypted-dek")?.base64_len(32)?,
        derived_key: t
            .get("content-encryption-key")
            .map(|n| n.base64_len(32))
            .transpose()?,
        encryption_context: t.req("encryption-context")?.string_map()?,
        keyring_type: match t.req_str("keyring-type")? {
            "static" => KatKeyringType::Static,
            "aws-kms" => KatKeyringType::AwsKms,
            other => KatKeyringType::Other(other.to_owned()),
        },
        must_decrypt: t.req("status")?.bool()?,
        exception: t.opt_str("exception")?.map(str::to_owned),
        ciphertext,
        header,
        frames,
        footer,
        message_id,
        plaintext,
    };

    // Consistency of the pieces with the full message.
    if kat.ciphertext.first() != Some(&2) {
        return Err(node.err("ciphertext is not a version-2 message"));
    }
    if kat.ciphertext.get(3..35) != Some(&kat.message_id[..]) {
        return Err(node.err("message-id differs from the message id in the ciphertext"));
    }
    if !kat.ciphertext.starts_with(&kat.header) {
        return Err(node.err("header is not a prefix of ciphertext"));
    }
    // Version-2 header: version(1) suite(2) message id(32) AAD length(2) AAD.
    // The pairs must be those of `encryption-context` (their order may differ).
    let pairs = aad_len(&kat.header)
        .and_then(|n| kat.header.get(37..37 + n))
        .and_then(parse_aad)
        .ok_or_else(|| node.err("cannot read the encryption context in the header"))?;
    let from_header: EncryptionContext = pairs.iter().cloned().collect();
    if from_header.len() != pairs.len() || from_header != kat.encryption_context {
        return Err(node.err(
            "encryption-context differs from the encryption context serialized in the header",
        ));
    }
    if !kat.frames.is_empty() {
        let mut joined = kat.header.clone();
        kat.frames.iter().for_each(|f| joined.extend_from_slice(f));
        joined.extend_from_slice(kat.footer.as_deref().unwrap_or_default());
        if joined != kat.ciphertext {
            return Err(node.err("header ‖ frames ‖ footer differs from ciphertext"));
        }
    }
    match (kat.must_decrypt, &kat.plaintext, &kat.exception) {
        (true, Some(_), None) | (false, _, Some(_)) => {}
        (true, None, _) => return Err(node.err("status true but no \"plaintext-frames\"")),
        (true, Some(_), Some(_)) => return Err(node.err("status true but an \"exception\"")),
        (false, _, None) => return Err(node.err("status false but no \"exception\"")),
    }
    Ok(kat)
}

/// `key-type` of a decrypt-oracle vector.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum OracleKeyType {
    /// `null`: EDK (`null`, `null`, `null`); the data key is all zeros.
    Null,
    /// `test_counting`: EDK provider `test_counting`; the data key is `01 02 03 …`.
    TestCounting,
    /// `aws-kms`: needs KMS.
    AwsKms,
    /// Anything else.
    Other(String),
}

impl OracleKeyType {
    /// The plaintext data key of `len` bytes for the offline key types.
    pub fn data_key(&self, len: usize) -> Option<Vec<u8>> {
        match self {
            OracleKeyType::Null => Some(vec![0; len]),
            // 1, 2, 3, … (data keys are at most 32 bytes; 255 is followed by 1).
            OracleKeyType::TestCounting => Some((1..=u8::MAX).cycle().take(len).collect()),
            OracleKeyType::AwsKms | OracleKeyType::Other(_) => None,
        }
    }
}

/// One python decrypt-oracle vector (`kat/python-decrypt-oracle-vectors.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OracleVector {
    /// Position in the list (0-based).
    pub index: usize,
    /// `key-type`.
    pub key_type: OracleKeyType,
    /// `algorithm-suite`.
    pub algorithm_suite_id: u16,
    /// `ciphertext`, base64-decoded.
    pub ciphertext: Vec<u8>,
    /// `plaintext`, base64-decoded: the expected output (all must decrypt).
    pub plaintext: Vec<u8>,
}

/// Reads and validates the decrypt-oracle vector list.
pub fn load_oracle_vectors(path: &Path) -> Result<Vec<OracleVector>> {
    let doc = json::read_file(path)?;
    let file = path.display().to_string();
    oracle_from_node(&Node::root(&doc, &file))
}

pub(crate) fn oracle_from_node(root: &Node<'_>) -> Result<Vec<OracleVector>> {
    let mut out = Vec::new();
    for (index, n) in root.array()?.iter().enumerate() {
        let o = n.obj()?;
        o.allow_only(&["key-type", "algorithm-suite", "ciphertext", "plaintext"])?;
        let suite_node = o.req("algorithm-suite")?;
        let v = OracleVector {
            index,
            key_type: match o.req("key-type")?.non_empty_str()? {
                "null" => OracleKeyType::Null,
                "test_counting" => OracleKeyType::TestCounting,
                "aws-kms" => OracleKeyType::AwsKms,
                other => OracleKeyType::Other(other.to_owned()),
            },
            algorithm_suite_id: suite_node.suite_id()?,
            ciphertext: o.req("ciphertext")?.base64()?,
            plaintext: o.req("plaintext")?.base64()?,
        };
        // Version-1 header: 01 80 <suite id BE> …
        let header_suite = match v.ciphertext.get(..4) {
            Some([1, 0x80, hi, lo]) => Some(u16::from_be_bytes([*hi, *lo])),
            _ => None,
        };
        if header_suite != Some(v.algorithm_suite_id) {
            return Err(suite_node.err(format_args!(
                "algorithm-suite {:04X} does not match the ciphertext's version-1 header",
                v.algorithm_suite_id
            )));
        }
        out.push(v);
    }
    Ok(out)
}

/// Which key decrypts a C SDK data file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CSdkKey {
    /// The C tests' "zero-key" EDK (provider id `zero-key`, provider info
    /// `provider info`, ciphertext `00`): the plaintext data key is all zeros.
    ZeroDataKey,
    /// A raw AES keyring with an all-zero wrapping key.
    RawAesZeroKey {
        /// Key namespace (EDK provider id).
        provider_id: String,
        /// Key name.
        key_name: String,
        /// Wrapping key size in bits.
        bits: u32,
    },
}

/// What a C SDK data file must decrypt to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CSdkExpected {
    /// Decryption must succeed and produce this file's bytes.
    Plaintext(PathBuf),
    /// Decryption must fail, for the reason given.
    Failure(String),
}

/// One ciphertext of `kat/c-sdk-data` with what the file names tell about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CSdkVector {
    /// The ciphertext file name.
    pub name: String,
    /// Absolute path of the ciphertext.
    pub ciphertext: PathBuf,
    /// Expected outcome.
    pub expected: CSdkExpected,
    /// The key that decrypts it.
    pub key: CSdkKey,
    /// For a must-fail file: a plaintext file paired with it by name (what the
    /// message would decrypt to if the failing check were skipped). Not an
    /// expected output.
    pub decoy_plaintext: Option<PathBuf>,
}

/// Lists the ciphertext/plaintext pairs of `kat/c-sdk-data`, inferring from
/// the file names (the directory has no manifest):
///
/// * plaintexts end in `.pt` or start with `pt_`; every other `.bin` file is a
///   ciphertext; any other file is an error;
/// * a ciphertext whose name has a `bad` part (`ct_bad_commitment.bin`,
///   `ct_x_aes128_hkdf_bad_header.bin`) must fail;
/// * the plaintext of ciphertext `N.bin` is, in this order, `N.bin.pt`,
///   `pt_X.bin` or `X.pt` for `N = ct_X`, or `A.bin.pt` for a variant
///   `N = A.variant` (`hello.tinyframes.bin` → `hello.bin.pt`); a must-succeed
///   file needs exactly one of them;
/// * files named `*commitment*` use the raw AES-256 keyring (namespace
///   `ProviderName`, key name `KeyId`, all-zero key), the others the C
///   tests' `zero-key` EDK (all-zero data key). The provider ids are checked
///   against the ciphertext bytes.
///
/// Every plaintext file must be used by some ciphertext.
pub fn list_c_sdk_data(dir: &Path) -> Result<Vec<CSdkVector>> {
    let dir = std::fs::canonicalize(dir)
        .with_context(|| format!("{}: cannot open directory", dir.display()))?;
    let mut names = BTreeSet::new();
    for entry in
        std::fs::read_dir(&dir).with_context(|| format!("{}: cannot list", dir.display()))?
    {
        let entry = entry?;
        let name = entry
            .file_name()
            .into_string()
            .map_err(|n| anyhow!("{}: non-UTF-8 file name {n:?}", dir.display()))?;
        names.insert(name);
    }
    let is_plaintext = |n: &str| n.ends_with(".pt") || n.starts_with("pt_");
    let mut unused: BTreeSet<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|n| is_plaintext(n))
        .collect();
    let mut out = Vec::new();
    for name in &names {
        if is_plaintext(name) {
            continue;
        }
        let Some(stem) = name.strip_suffix(".bin") else {
            return Err(anyhow!(
                "{}: unrecognised file {name:?} (neither a .bin ciphertext nor a plaintext)",
                dir.display()
            ));
        };
        let ciphertext = dir.join(name);
        let bytes = std::fs::read(&ciphertext)
            .with_context(|| format!("{}: cannot read", ciphertext.display()))?;

        let mut candidates = vec![format!("{name}.pt")];
        if let Some(rest) = stem.strip_prefix("ct_") {
            candidates.push(format!("pt_{rest}.bin"));
            candidates.push(format!("{rest}.pt"));
        }
        if let Some((first, _variant)) = stem.split_once('.') {
            candidates.push(format!("{first}.bin.pt"));
        }
        let found: Vec<&String> = candidates.iter().filter(|c| names.contains(*c)).collect();
        for f in &found {
            unused.remove(f.as_str());
        }

        let parts: Vec<&str> = stem.split(['_', '.']).collect();
        let bad = parts.iter().position(|p| *p == "bad");
        let (expected, decoy_plaintext) = match bad {
            Some(i) => {
                let what = parts.get(i + 1..).unwrap_or_default().join(" ");
                let reason = match what.as_str() {
                    "header" => "corrupted header: the message must not parse".to_owned(),
                    "commitment" => {
                        "wrong key commitment: the commitment check must fail".to_owned()
                    }
                    _ => format!("the file name marks it bad ({what})"),
                };
                let decoy = match found.as_slice() {
                    [] => None,
                    [one] => Some(dir.join(one)),
                    _ => {
                        return Err(anyhow!(
                            "{}: {name:?} pairs with several plaintexts {found:?}",
                            dir.display()
                        ));
                    }
                };
                (CSdkExpected::Failure(reason), decoy)
            }
            None => match found.as_slice() {
                [one] => (CSdkExpected::Plaintext(dir.join(one)), None),
                _ => {
                    return Err(anyhow!(
                        "{}: {name:?} needs exactly one plaintext among {candidates:?}, found {found:?}",
                        dir.display()
                    ));
                }
            },
        };

        let key = if parts.contains(&"commitment") {
            CSdkKey::RawAesZeroKey {
                provider_id: "ProviderName".to_owned(),
                key_name: "KeyId".to_owned(),
                bits: 256,
            }
        } else {
            CSdkKey::ZeroDataKey
        };
        let marker: &[u8] = match &key {
            CSdkKey::ZeroDataKey => b"zero-key",
            CSdkKey::RawAesZeroKey { .. } => b"ProviderName",
        };
        if !bytes.windows(marker.len()).any(|w| w == marker) {
            return Err(anyhow!(
                "{}: the name says its EDK provider is {:?}, but the bytes do not contain it",
                ciphertext.display(),
                String::from_utf8_lossy(marker)
            ));
        }
        out.push(CSdkVector {
            name: name.clone(),
            ciphertext,
            expected,
            key,
            decoy_plaintext,
        });
    }
    if let Some(u) = unused.first() {
        return Err(anyhow!(
            "{}: plaintext {u:?} belongs to no ciphertext",
            dir.display()
        ));
    }
    Ok(out)
}
