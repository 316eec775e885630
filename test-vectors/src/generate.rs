//! Writing vectors for other implementations.
//!
//! * [`encrypt_manifest`]: reads an `awses-encrypt` manifest (framework 0003
//!   v1/v2, Dafny v5) and a keys manifest, encrypts every scenario it can run
//!   offline, and writes `OUT/plaintexts/<name>`, `OUT/ciphertexts/<test id>`,
//!   `OUT/keys.json` (a copy of the keys manifest) and `OUT/manifest.json`: an
//!   `awses-decrypt` **v2** manifest for v1/v2 input (master-key lists copied
//!   verbatim), a **v5** manifest for Dafny v5 input (its key descriptions and
//!   reproduced encryption contexts cannot be expressed in v2).
//! * [`decrypt_generate`]: framework feature 0006 (`awses-decrypt-generate`):
//!   each scenario is encrypted; `tampering` derives must-fail vectors —
//!   `truncate` (every strict prefix), `mutate` (every single-bit flip),
//!   `half-sign` (an unsigned-suite message whose encryption context carries a
//!   signature public key), `change-edk-provider-info` (header EDK provider
//!   infos replaced) — and everything is written as an `awses-decrypt` v2
//!   manifest (v3 when a case sets `decryption-method`), must-fail vectors as
//!   `result.error`.
//!
//! Both also return the vectors in memory ([`Generated::set`]) with the
//! strictest verdicts this crate can state (for tampered messages: the exact
//! plaintext prefix a decryptor may release), so the generator checks its own
//! output through every decrypt path.
//!
//! Scenarios are encrypted with [`esdk_std::Client::encrypt`]; non-framed ones
//! (frame size 0) with `EncryptOptions::non_framed`. [`encrypt_core`] drives
//! the core `Encryptor` directly from a materials manager's materials.

use core::fmt::Write as _;
use core::time::Duration;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context as _, anyhow, bail};
use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::crypto::{AeadKey as _, CryptoProvider as _, Gmac as _};
use esdk_core::suite::{HashAlg, Kdf, SignatureAlg};
use esdk_core::{AlgorithmSuite, CommitmentPolicy, EncryptConfig, Encryptor};
use esdk_std::materials::{EncryptionMaterials, EncryptionRequest};
use esdk_std::{
    Client, CryptographicMaterialsManager, EncryptOptions, EncryptionContext,
    SyncCryptographicMaterialsManager,
};
use rand::rngs::StdRng;
use rand::{RngCore as _, SeedableRng as _};
use serde_json::{Value, json};

use crate::keyrings::{MaterialsPlan, PlanError, Purpose, plan_materials};
use crate::layout;
use crate::manifest::{
    DecryptGenerateManifest, DecryptionMethod, EncryptManifest, EncryptScenario,
    GenerateExpectation, KeysManifest, Tampering,
};
use crate::runner::{
    Data, Expect, Materials, ReleaseRule, RunConfig, SetReport, Vector, VectorSet,
};

/// Inputs of the generators.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// The encrypt / decrypt-generate manifest.
    pub manifest: PathBuf,
    /// Keys manifest (default: the one the manifest references).
    pub keys: Option<PathBuf>,
    /// Output directory (created; files in it are overwritten).
    pub out: PathBuf,
    /// Seed for the plaintext bytes (default: random).
    pub seed: Option<u64>,
    /// Only scenarios whose id (or v5 description) contains one of these
    /// strings (empty: all).
    pub filter: Vec<String>,
    /// Keep only every n-th selected scenario, in id order (0 or 1: all).
    pub sample: usize,
    /// `decrypt-generate` only: just the cases that produce must-fail vectors
    /// or set a decryption method (skips the plain positive scenarios).
    pub tampered_only: bool,
}

/// Applies `filter` and `sample` to the ids of a manifest, in id order.
fn select_ids<'a>(
    o: &GenerateOptions,
    items: impl Iterator<Item = (&'a String, &'a EncryptScenario)>,
) -> std::collections::BTreeSet<&'a String> {
    items
        .filter(|(id, s)| selected(&o.filter, id, s))
        .map(|(id, _)| id)
        .enumerate()
        .filter(|(i, _)| o.sample <= 1 || i % o.sample == 0)
        .map(|(_, id)| id)
        .collect()
}

/// What a generator did.
#[derive(Debug, Clone, Default)]
pub struct GenerateReport {
    /// What ran.
    pub title: String,
    /// The output directory.
    pub out: PathBuf,
    /// Scenarios encrypted.
    pub scenarios: usize,
    /// Vectors written (must-decrypt + must-fail).
    pub written: usize,
    /// Of which must-fail.
    pub must_fail: usize,
    /// Skipped scenarios by reason.
    pub skipped: BTreeMap<String, usize>,
    /// Scenarios that failed to generate.
    pub failed: usize,
    /// Their errors.
    pub failures: Vec<String>,
    /// Wall time.
    pub elapsed: Duration,
}

impl GenerateReport {
    /// Human-readable summary.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "== {} -> {}", self.title, self.out.display());
        for (r, n) in &self.skipped {
            let _ = writeln!(s, "   SKIPPED {n}: {r}");
        }
        for f in self.failures.iter().take(50) {
            let _ = writeln!(s, "   FAIL {f}");
        }
        let _ = writeln!(
            s,
            "   {} scenarios encrypted, {} vectors written ({} must-decrypt, {} must-fail), {} failed, {} skipped in {:.1}s",
            self.scenarios,
            self.written,
            self.written - self.must_fail,
            self.must_fail,
            self.failed,
            self.skipped.values().sum::<usize>(),
            self.elapsed.as_secs_f64()
        );
        s
    }
}

/// A generator's report plus the vectors it wrote, ready for the runner.
#[derive(Debug, Clone)]
pub struct Generated {
    /// Summary.
    pub report: GenerateReport,
    /// The written vectors with in-memory verdicts.
    pub set: VectorSet,
}

// -------------------------------------------------------------------------------------------
// Encryption helpers

/// The commitment policy that allows encrypting `suite`.
pub fn encrypt_policy(suite: AlgorithmSuite) -> CommitmentPolicy {
    if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    }
}

/// Encrypts `plaintext` with the materials manager of `plan` through
/// [`Client::encrypt`]; `frame_length == 0` writes a non-framed body
/// (`EncryptOptions::non_framed`).
pub fn encrypt_with_plan(
    plan: &MaterialsPlan,
    suite: AlgorithmSuite,
    frame_length: u32,
    ec: &BTreeMap<String, String>,
    plaintext: &[u8],
) -> anyhow::Result<Vec<u8>> {
    let cmm = plan.build()?;
    let policy = encrypt_policy(suite);
    let ec = EncryptionContext::from(ec.clone());
    let client = Client::builder().commitment_policy(policy).build();
    let opts = EncryptOptions::cmm(&cmm)
        .suite(suite)
        .encryption_context(ec);
    // Frame size 0: a non-framed body, through the library's own option.
    let opts = if frame_length == 0 {
        opts.non_framed(true)
    } else {
        opts.frame_length(frame_length)
    };
    Ok(client
        .encrypt(plaintext, &opts)
        .map_err(|e| anyhow!("encrypt: {e}"))?
        .ciphertext)
}

fn materials_for(
    cmm: &Arc<dyn SyncCryptographicMaterialsManager>,
    policy: CommitmentPolicy,
    suite: AlgorithmSuite,
    ec: EncryptionContext,
    len: usize,
) -> anyhow::Result<EncryptionMaterials> {
    let req = EncryptionRequest::new(ec)
        .with_commitment_policy(policy)
        .with_suite(suite)
        .with_max_plaintext_length(len as u64);
    pollster::block_on(cmm.get_encryption_materials(&req)).map_err(|e| anyhow!("materials: {e}"))
}

/// Encrypts with the core `Encryptor` from owned materials. With
/// `legacy_non_framed` the body is one non-framed block (test vectors only:
/// new messages must be framed).
pub fn encrypt_core(
    m: &EncryptionMaterials,
    policy: CommitmentPolicy,
    frame_length: u32,
    legacy_non_framed: bool,
    plaintext: &[u8],
) -> anyhow::Result<Vec<u8>> {
    let config = EncryptConfig::default()
        .with_commitment_policy(policy)
        .with_suite(Some(m.suite))
        .with_frame_length(frame_length)
        .with_max_encrypted_data_keys(None)
        .with_legacy_non_framed(legacy_non_framed);
    let mut rng = rand_core::OsRng;
    let (mut frames, mut out) = m.with_core(|materials| {
        let ready =
            Encryptor::new(esdk_std::Backend::default(), config)?.provide(materials, &mut rng)?;
        let mut out = vec![0u8; ready.header_len()];
        let (frames, _) = ready.write_header(&mut out)?;
        Ok((frames, out))
    })?;
    let mut rest = plaintext;
    if !legacy_non_framed {
        let f = frame_length as usize;
        while rest.len() > f {
            let (chunk, tail) = rest.split_at(f);
            let start = out.len();
            out.resize(start + frames.sealed_frame_len(), 0);
            frames.seal_frame(chunk, &mut out[start..])?;
            rest = tail;
        }
    }
    let start = out.len();
    out.resize(start + frames.finish_len(rest.len()), 0);
    frames.finish(rest, &mut out[start..], &mut rng)?;
    Ok(out)
}

/// Writes a framed message for an **unsigned** suite from owned materials
/// with this module's own serializer (not the core encryptor), so that it can
/// produce what the core refuses to: the framework's `half-sign` message, an
/// unsigned suite whose encryption context nevertheless holds
/// `aws-crypto-public-key`. Layout from `spec-digest.md` §2; primitives from
/// the core's crypto provider.
pub fn forge_unsigned_framed(
    m: &EncryptionMaterials,
    frame_length: u32,
    plaintext: &[u8],
) -> anyhow::Result<Vec<u8>> {
    let suite = m.suite;
    if suite.is_signed() || frame_length == 0 {
        bail!("the forge writes framed messages of unsigned suites only");
    }
    let p = RustCrypto;
    let dk = m
        .data_key
        .as_ref()
        .ok_or_else(|| anyhow!("no data key"))?
        .as_bytes();
    let v2 = suite.is_committing();
    let mut message_id = vec![0u8; if v2 { 32 } else { 16 }];
    rand_core::OsRng.fill_bytes(&mut message_id);
    let id = suite.id().to_be_bytes();
    let mut key = vec![0u8; suite.key_len()];
    let mut commit = [0u8; 32];
    match suite.kdf() {
        Kdf::Identity => key.copy_from_slice(dk),
        Kdf::Hkdf(h) => p
            .hkdf(h, &[], dk, &[&id, &message_id], &mut key)
            .map_err(|e| anyhow!("{e}"))?,
        Kdf::CommittingHkdfSha512 => p
            .hkdf_two(
                HashAlg::Sha512,
                &message_id,
                dk,
                &[&id, b"DERIVEKEY"],
                &mut key,
                &[b"COMMITKEY"],
                &mut commit,
            )
            .map_err(|e| anyhow!("{e}"))?,
    }
    let aead = p.aead_key(&key).map_err(|e| anyhow!("{e}"))?;
    let ec = m.encryption_context.serialize()?;
    let mut h = Vec::new();
    if v2 {
        h.push(2);
    } else {
        h.extend_from_slice(&[1, 0x80]);
    }
    h.extend_from_slice(&id);
    h.extend_from_slice(&message_id);
    h.extend_from_slice(&u16::try_from(ec.len())?.to_be_bytes());
    h.extend_from_slice(&ec);
    h.extend_from_slice(&u16::try_from(m.encrypted_data_keys.len())?.to_be_bytes());
    for e in &m.encrypted_data_keys {
        h.extend_from_slice(&e.serialize()?);
    }
    h.push(2);
    if !v2 {
        h.extend_from_slice(&[0, 0, 0, 0, 12]);
    }
    h.extend_from_slice(&frame_length.to_be_bytes());
    if v2 {
        h.extend_from_slice(&commit);
    }
    let mut mac = aead.gmac(&[0; 12]).map_err(|e| anyhow!("{e}"))?;
    mac.update(&h);
    let tag = mac.finalize();
    if !v2 {
        h.extend_from_slice(&[0; 12]);
    }
    h.extend_from_slice(&tag);
    let mut out = h;
    let f = frame_length as usize;
    let mut seq = 1u32;
    let mut rest = plaintext;
    loop {
        let last = rest.len() <= f;
        let (chunk, tail) = rest.split_at(if last { rest.len() } else { f });
        let mut iv = [0u8; 12];
        iv[8..].copy_from_slice(&seq.to_be_bytes());
        let kind: &[u8] = if last {
            b"AWSKMSEncryptionClient Final Frame"
        } else {
            b"AWSKMSEncryptionClient Frame"
        };
        let aad = [
            &message_id[..],
            kind,
            &seq.to_be_bytes(),
            &(chunk.len() as u64).to_be_bytes(),
        ]
        .concat();
        let mut body = chunk.to_vec();
        let tag = aead
            .seal_in_place(&iv, &aad, &mut body)
            .map_err(|e| anyhow!("{e}"))?;
        if last {
            out.extend_from_slice(&u32::MAX.to_be_bytes());
        }
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&iv);
        if last {
            out.extend_from_slice(&u32::try_from(chunk.len())?.to_be_bytes());
        }
        out.extend_from_slice(&body);
        out.extend_from_slice(&tag);
        if last {
            break;
        }
        rest = tail;
        seq += 1;
    }
    Ok(out)
}

/// The signed suite paired with an unsigned one (what the framework's
/// half-signing materials manager asks for to get a signing key).
fn signature_for(suite: AlgorithmSuite) -> SignatureAlg {
    if suite.key_len() == 16 {
        SignatureAlg::EcdsaP256Sha256
    } else {
        SignatureAlg::EcdsaP384Sha384
    }
}

/// Framework 0006 `half-sign`: materials for the unsigned `suite` obtained
/// with an encryption context that also holds a fresh signature public key
/// (the keyring binds it), then a message written with no footer.
fn half_signed(
    plan: &MaterialsPlan,
    suite: AlgorithmSuite,
    frame_length: u32,
    ec: &BTreeMap<String, String>,
    plaintext: &[u8],
) -> anyhow::Result<Vec<u8>> {
    let cmm = plan.build()?;
    let alg = signature_for(suite);
    let sk = esdk_core::SigningKey::generate(&RustCrypto, alg, &mut rand_core::OsRng)?;
    let vk = sk.public_key(&RustCrypto)?;
    let mut buf = [0u8; esdk_core::keys::MAX_PUBLIC_KEY_B64_LEN];
    let mut ec = EncryptionContext::from(ec.clone());
    ec.insert(
        esdk_core::encryption_context::PUBLIC_KEY_FIELD,
        vk.to_base64(&mut buf),
    );
    let m = materials_for(&cmm, encrypt_policy(suite), suite, ec, plaintext.len())?;
    forge_unsigned_framed(&m, frame_length.max(1), plaintext)
}

/// Replaces the provider info of the header's EDKs (the i-th EDK gets the
/// i-th new value) and keeps every other byte, the header tag included.
pub fn change_edk_provider_info(msg: &[u8], infos: &[String]) -> anyhow::Result<Vec<u8>> {
    let u16_at = |at: usize| -> anyhow::Result<usize> {
        let b = msg
            .get(at..at + 2)
            .ok_or_else(|| anyhow!("message too short"))?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    };
    // End of the message id: v1 `01 80 suite(2) id(16)`, v2 `02 suite(2) id(32)`.
    let id_end = match msg.first() {
        Some(1) => 20,
        Some(2) => 35,
        _ => bail!("unknown message version"),
    };
    let count_at = id_end + 2 + u16_at(id_end)?;
    let count = u16_at(count_at)?;
    let mut out = msg[..count_at + 2].to_vec();
    let mut pos = count_at + 2;
    for i in 0..count {
        let mut fields = Vec::new();
        for _ in 0..3 {
            let n = u16_at(pos)?;
            fields.push(
                msg.get(pos + 2..pos + 2 + n)
                    .ok_or_else(|| anyhow!("EDK runs past the end"))?
                    .to_vec(),
            );
            pos += 2 + n;
        }
        if let Some(info) = infos.get(i) {
            fields[1] = info.as_bytes().to_vec();
        }
        for f in fields {
            out.extend_from_slice(&u16::try_from(f.len())?.to_be_bytes());
            out.extend_from_slice(&f);
        }
    }
    out.extend_from_slice(&msg[pos..]);
    Ok(out)
}

/// How [`damaged_copies`] damages a good message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Damage {
    /// Every strict prefix (lengths 1 … len − 1).
    Truncate,
    /// Single-bit flips: every bit of every byte, or one bit per byte
    /// (bit `i mod 8` of byte `i`).
    FlipBits {
        /// All eight bits of each byte.
        every_bit: bool,
    },
    /// One byte appended after the complete message.
    AppendByte,
}

/// One damaged copy of a message.
#[derive(Debug, Clone)]
pub struct Damaged {
    /// Id suffix, e.g. `truncate-00042`, `mutate-00042-3`, `append`.
    pub suffix: String,
    /// The damaged message.
    pub bytes: Vec<u8>,
    /// What was done.
    pub reason: String,
    /// What a decryptor may release before failing: the regular frames that
    /// lie wholly before the first damaged byte (for an appended byte: every
    /// regular frame, but never the final frame).
    pub release: ReleaseRule,
}

/// Must-fail copies of the good message `good` whose plaintext is `plaintext`.
pub fn damaged_copies(good: &[u8], plaintext: &Arc<Vec<u8>>, how: Damage) -> Vec<Damaged> {
    let walked = layout::walk(good);
    let rule = |at: usize| ReleaseRule::IntactPrefix {
        plaintext: plaintext.clone(),
        max: walked.as_ref().map_or(0, |l| l.releasable_before(at)),
    };
    let mut out = Vec::new();
    match how {
        Damage::Truncate => {
            for n in 1..good.len() {
                out.push(Damaged {
                    suffix: format!("truncate-{n:05}"),
                    bytes: good[..n].to_vec(),
                    reason: format!("truncated to {n} of {} bytes", good.len()),
                    release: rule(n),
                });
            }
        }
        Damage::FlipBits { every_bit } => {
            for i in 0..good.len() {
                let bits = if every_bit { 0..8 } else { i % 8..i % 8 + 1 };
                for bit in bits {
                    let mut bad = good.to_vec();
                    bad[i] ^= 1 << bit;
                    out.push(Damaged {
                        suffix: format!("mutate-{i:05}-{bit}"),
                        bytes: bad,
                        reason: format!("bit {bit} of byte {i} flipped"),
                        release: rule(i),
                    });
                }
            }
        }
        Damage::AppendByte => {
            let mut bad = good.to_vec();
            bad.push(0);
            out.push(Damaged {
                suffix: "append".into(),
                bytes: bad,
                reason: "one byte appended after the message".into(),
                release: rule(good.len()),
            });
        }
    }
    out
}

// -------------------------------------------------------------------------------------------
// Output

struct Writer {
    out: PathBuf,
    tests: serde_json::Map<String, Value>,
}

impl Writer {
    fn new(out: &Path) -> anyhow::Result<Writer> {
        for d in ["ciphertexts", "plaintexts"] {
            std::fs::create_dir_all(out.join(d))
                .with_context(|| format!("cannot create {}", out.join(d).display()))?;
        }
        Ok(Writer {
            out: std::fs::canonicalize(out)?,
            tests: serde_json::Map::new(),
        })
    }

    fn write(&self, rel: &str, bytes: &[u8]) -> anyhow::Result<PathBuf> {
        let p = self.out.join(rel);
        std::fs::write(&p, bytes).with_context(|| format!("cannot write {}", p.display()))?;
        Ok(p)
    }

    fn finish(self, version: u64, keys_src: &Path) -> anyhow::Result<()> {
        std::fs::copy(keys_src, self.out.join("keys.json"))
            .with_context(|| format!("cannot copy {}", keys_src.display()))?;
        let doc = json!({
            "manifest": {"type": "awses-decrypt", "version": version},
            "client": {"name": "esdk-rs/esdk-test-vectors", "version": env!("CARGO_PKG_VERSION")},
            "keys": "file://keys.json",
            "tests": Value::Object(self.tests),
        });
        let text = serde_json::to_string_pretty(&doc)?;
        std::fs::write(self.out.join("manifest.json"), text + "\n")?;
        Ok(())
    }
}

/// A file name for a test id (ids are UUIDs in the canonical manifests).
fn file_name(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Plaintext name → (bytes, file written).
type Plaintexts = BTreeMap<String, (Arc<Vec<u8>>, PathBuf)>;

fn make_plaintexts(
    w: &Writer,
    table: &BTreeMap<String, u64>,
    seed: Option<u64>,
) -> anyhow::Result<Plaintexts> {
    let mut rng = match seed {
        Some(s) => StdRng::seed_from_u64(s),
        None => StdRng::from_entropy(),
    };
    let mut out = BTreeMap::new();
    for (name, size) in table {
        let mut bytes = vec![0u8; usize::try_from(*size)?];
        rng.fill_bytes(&mut bytes);
        let path = w.write(&format!("plaintexts/{}", file_name(name)), &bytes)?;
        out.insert(name.clone(), (Arc::new(bytes), path));
    }
    Ok(out)
}

fn selected(filter: &[String], id: &str, s: &EncryptScenario) -> bool {
    filter.is_empty()
        || filter.iter().any(|f| {
            id.contains(f.as_str())
                || s.description
                    .as_deref()
                    .is_some_and(|d| d.contains(f.as_str()))
        })
}

fn read_raw(path: &Path) -> anyhow::Result<Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

fn plan_or_report(
    r: Result<MaterialsPlan, PlanError>,
    id: &str,
    report: &mut GenerateReport,
) -> Option<MaterialsPlan> {
    match r {
        Ok(p) => Some(p),
        Err(PlanError::Unsupported(reason)) => {
            *report.skipped.entry(reason).or_insert(0) += 1;
            None
        }
        Err(PlanError::Invalid(e)) => {
            report.failed += 1;
            report.failures.push(format!("{id}: {e:#}"));
            None
        }
    }
}

fn decrypt_materials(
    keys: &KeysManifest,
    s: &EncryptScenario,
    list: Option<&[crate::manifest::KeyDescription]>,
) -> Materials {
    let list = list.unwrap_or_else(|| {
        s.decrypt_key_descriptions
            .as_deref()
            .unwrap_or(&s.encrypt_key_descriptions)
    });
    match plan_materials(
        keys,
        list,
        &s.required_encryption_context_keys,
        Purpose::Decrypt,
    ) {
        Ok(p) => Materials::Ready(p),
        Err(PlanError::Unsupported(r)) => Materials::Skip(r),
        Err(PlanError::Invalid(e)) => Materials::Broken(format!("{e:#}")),
    }
}

/// Runs an `awses-encrypt` manifest (v1, v2 or v5).
pub fn encrypt_manifest(o: &GenerateOptions) -> anyhow::Result<Generated> {
    let start = Instant::now();
    let m = EncryptManifest::load(&o.manifest)?;
    let raw = read_raw(&o.manifest)?;
    let keys_path = o.keys.clone().unwrap_or_else(|| m.keys_path.clone());
    let keys = KeysManifest::load(&keys_path)?;
    let w0 = Writer::new(&o.out)?;
    let plaintexts = make_plaintexts(&w0, &m.plaintexts, o.seed)?;
    let mut w = w0;
    let mut report = GenerateReport {
        title: format!("{} (awses-encrypt v{})", o.manifest.display(), m.version),
        out: w.out.clone(),
        ..GenerateReport::default()
    };
    let mut vectors = Vec::new();
    let chosen = select_ids(o, m.tests.iter());
    for (id, s) in &m.tests {
        if !chosen.contains(id) {
            continue;
        }
        let Some(plan) = plan_or_report(
            plan_materials(
                &keys,
                &s.encrypt_key_descriptions,
                &s.required_encryption_context_keys,
                Purpose::Encrypt,
            ),
            id,
            &mut report,
        ) else {
            continue;
        };
        let (pt, pt_path) = &plaintexts[&s.plaintext];
        let result = AlgorithmSuite::from_id(s.algorithm_suite_id)
            .map_err(|e| anyhow!("suite {:04X}: {e}", s.algorithm_suite_id))
            .and_then(|suite| {
                encrypt_with_plan(&plan, suite, s.frame_size, &s.encryption_context, pt)
            });
        let ct = match result {
            Ok(ct) => ct,
            Err(e) => {
                report.failed += 1;
                report.failures.push(format!("{id}: {e:#}"));
                continue;
            }
        };
        let fname = file_name(id);
        let ct_path = w.write(&format!("ciphertexts/{fname}"), &ct)?;
        let raw_test = &raw["tests"][id.as_str()];
        let pt_uri = format!("file://plaintexts/{}", file_name(&s.plaintext));
        let entry = if m.version == 5 {
            let sc = &raw_test["encryption-scenario"];
            json!({"decryption-scenario": {
                "type": "positive-esdk",
                "ciphertext": format!("file://ciphertexts/{fname}"),
                "result": pt_uri,
                "algorithmSuiteId": format!("{:04X}", s.algorithm_suite_id),
                "frame-size": s.frame_size,
                "description": s.description.clone().unwrap_or_default(),
                "decryptKeyDescription": sc["decryptKeyDescription"].clone(),
                "reproduced-encryption-context": sc.get("reproduced-encryption-context").cloned().unwrap_or(json!({})),
            }})
        } else {
            json!({
                "description": format!("suite {:04X}, frame size {}, plaintext {}", s.algorithm_suite_id, s.frame_size, s.plaintext),
                "ciphertext": format!("file://ciphertexts/{fname}"),
                "master-keys": raw_test["master-keys"].clone(),
                "result": {"output": {"plaintext": pt_uri}},
            })
        };
        w.tests.insert(id.clone(), entry);
        report.scenarios += 1;
        report.written += 1;
        let mut ec = s.encryption_context.clone();
        if let Some(r) = &s.reproduced_encryption_context {
            ec.extend(r.clone());
        }
        vectors.push(Vector {
            id: id.clone(),
            ciphertext: Data::File(ct_path),
            materials: decrypt_materials(&keys, s, None),
            reproduced_ec: s.reproduced_encryption_context.clone(),
            unsigned_only: false,
            expect: Expect::Plaintext {
                plaintext: Data::File(pt_path.clone()),
                ec,
            },
            tags: format!(
                "{id} {} {:04X} {}",
                s.description.as_deref().unwrap_or(""),
                s.algorithm_suite_id,
                s.frame_size
            ),
        });
    }
    w.finish(if m.version == 5 { 5 } else { 2 }, &keys_path)?;
    report.elapsed = start.elapsed();
    Ok(Generated {
        set: VectorSet {
            label: format!("{} (generated)", report.out.join("manifest.json").display()),
            kind: format!(
                "awses-decrypt v{}, generated in memory",
                if m.version == 5 { 5 } else { 2 }
            ),
            vectors,
        },
        report,
    })
}

/// Runs a framework 0006 `awses-decrypt-generate` manifest (v1, v2).
pub fn decrypt_generate(o: &GenerateOptions) -> anyhow::Result<Generated> {
    let start = Instant::now();
    let m = DecryptGenerateManifest::load(&o.manifest)?;
    let raw = read_raw(&o.manifest)?;
    let keys_path = o.keys.clone().unwrap_or_else(|| m.keys_path.clone());
    let keys = KeysManifest::load(&keys_path)?;
    let w0 = Writer::new(&o.out)?;
    let plaintexts = make_plaintexts(&w0, &m.plaintexts, o.seed)?;
    let mut w = w0;
    let mut report = GenerateReport {
        title: format!(
            "{} (awses-decrypt-generate v{})",
            o.manifest.display(),
            m.version
        ),
        out: w.out.clone(),
        ..GenerateReport::default()
    };
    let mut vectors = Vec::new();
    let mut uses_method = false;
    let chosen = select_ids(
        o,
        m.tests
            .iter()
            .filter(|(_, t)| !o.tampered_only || t.must_fail() || t.decryption_method.is_some())
            .map(|(id, t)| (id, &t.encryption_scenario)),
    );
    for (id, t) in &m.tests {
        let s = &t.encryption_scenario;
        if !chosen.contains(id) {
            continue;
        }
        if let Some(Tampering::Other(name)) = &t.tampering {
            *report
                .skipped
                .entry(format!("unknown tampering {name:?}"))
                .or_insert(0) += 1;
            continue;
        }
        let unsigned_only = match &t.decryption_method {
            None => false,
            Some(DecryptionMethod::StreamingUnsignedOnly) => true,
            Some(DecryptionMethod::Other(x)) => {
                *report
                    .skipped
                    .entry(format!("unknown decryption-method {x:?}"))
                    .or_insert(0) += 1;
                continue;
            }
        };
        let Some(plan) = plan_or_report(
            plan_materials(
                &keys,
                &s.encrypt_key_descriptions,
                &s.required_encryption_context_keys,
                Purpose::Encrypt,
            ),
            id,
            &mut report,
        ) else {
            continue;
        };
        let (pt, pt_path) = &plaintexts[&s.plaintext];
        let made = AlgorithmSuite::from_id(s.algorithm_suite_id)
            .map_err(|e| anyhow!("suite {:04X}: {e}", s.algorithm_suite_id))
            .and_then(|suite| match &t.tampering {
                Some(Tampering::HalfSign) => {
                    half_signed(&plan, suite, s.frame_size, &s.encryption_context, pt)
                }
                _ => encrypt_with_plan(&plan, suite, s.frame_size, &s.encryption_context, pt),
            });
        let good = match made {
            Ok(ct) => ct,
            Err(e) => {
                report.failed += 1;
                report.failures.push(format!("{id}: {e:#}"));
                continue;
            }
        };
        report.scenarios += 1;
        let raw_test = &raw["tests"][id.as_str()];
        let master_keys = raw_test
            .get("decryption-master-keys")
            .cloned()
            .unwrap_or_else(|| raw_test["encryption-scenario"]["master-keys"].clone());
        let decrypt_list = t.decryption_key_descriptions.as_deref();
        // In-memory verdicts decrypt with the manifest's decryption keys; when
        // those need KMS (0006's change-edk-provider-info case), the
        // encryption keys are used instead: the vector must fail even for the
        // key that made it.
        let mut mats = decrypt_materials(&keys, s, decrypt_list);
        if matches!(mats, Materials::Skip(_)) && decrypt_list.is_some() {
            mats = decrypt_materials(&keys, s, None);
        }
        let fname = file_name(id);
        let mut emit = |w: &mut Writer,
                        vid: String,
                        bytes: &[u8],
                        expect: Expect,
                        description: String|
         -> anyhow::Result<()> {
            let path = w.write(&format!("ciphertexts/{}", file_name(&vid)), bytes)?;
            let result = match &expect {
                Expect::Plaintext { .. } => {
                    json!({"output": {"plaintext": format!("file://plaintexts/{}", file_name(&s.plaintext))}})
                }
                Expect::Failure { reason, .. } => json!({"error": {"error-description": reason}}),
            };
            let mut entry = json!({
                "description": description,
                "ciphertext": format!("file://ciphertexts/{}", file_name(&vid)),
                "master-keys": master_keys.clone(),
                "result": result,
            });
            if unsigned_only {
                entry["decryption-method"] = json!("streaming-unsigned-only");
            }
            if matches!(expect, Expect::Failure { .. }) {
                report.must_fail += 1;
            }
            report.written += 1;
            w.tests.insert(vid.clone(), entry);
            vectors.push(Vector {
                id: vid.clone(),
                ciphertext: Data::File(path),
                materials: mats.clone(),
                reproduced_ec: None,
                unsigned_only,
                expect,
                tags: format!("{vid} {id} {:04X} {:?}", s.algorithm_suite_id, t.tampering),
            });
            Ok(())
        };
        uses_method |= unsigned_only;
        let base = format!(
            "suite {:04X}, frame size {}, plaintext {}",
            s.algorithm_suite_id, s.frame_size, s.plaintext
        );
        match &t.tampering {
            None => {
                let expect = match &t.expected {
                    GenerateExpectation::Success => Expect::Plaintext {
                        plaintext: Data::File(pt_path.clone()),
                        ec: s.encryption_context.clone(),
                    },
                    GenerateExpectation::Error(d) => Expect::Failure {
                        reason: d.clone(),
                        release: ReleaseRule::Nothing,
                    },
                };
                emit(&mut w, fname.clone(), &good, expect, base.clone())?;
            }
            Some(Tampering::Truncate) | Some(Tampering::Mutate) => {
                let how = if matches!(t.tampering, Some(Tampering::Truncate)) {
                    Damage::Truncate
                } else {
                    Damage::FlipBits { every_bit: true }
                };
                for d in damaged_copies(&good, pt, how) {
                    emit(
                        &mut w,
                        format!("{fname}-{}", d.suffix),
                        &d.bytes,
                        Expect::Failure {
                            reason: d.reason.clone(),
                            release: d.release,
                        },
                        format!("{base}, {}", d.reason),
                    )?;
                }
            }
            Some(Tampering::HalfSign) => emit(
                &mut w,
                format!("{fname}-half-sign"),
                &good,
                Expect::Failure {
                    reason:
                        "unsigned message whose encryption context holds a signature public key"
                            .into(),
                    release: ReleaseRule::Nothing,
                },
                format!("{base}, half-signed"),
            )?,
            Some(Tampering::ChangeEdkProviderInfo(infos)) => {
                let bad = change_edk_provider_info(&good, infos)?;
                emit(
                    &mut w,
                    format!("{fname}-change-edk-provider-info"),
                    &bad,
                    Expect::Failure {
                        reason: format!("EDK provider info changed to {infos:?}"),
                        release: ReleaseRule::Nothing,
                    },
                    format!("{base}, EDK provider info changed"),
                )?;
            }
            Some(Tampering::Other(_)) => unreachable!("skipped above"),
        }
    }
    let version = if uses_method { 3 } else { 2 };
    w.finish(version, &keys_path)?;
    report.elapsed = start.elapsed();
    Ok(Generated {
        set: VectorSet {
            label: format!("{} (generated)", report.out.join("manifest.json").display()),
            kind: format!("awses-decrypt v{version}, generated in memory"),
            vectors,
        },
        report,
    })
}

/// Runs the in-memory vectors of a generator through the decrypt paths.
pub fn verify(generated: &Generated, cfg: &RunConfig) -> SetReport {
    let mut cfg = cfg.clone();
    cfg.filter.clear();
    crate::runner::run_set(&generated.set, &cfg)
}
