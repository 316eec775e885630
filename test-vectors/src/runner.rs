//! Runs decrypt vectors through every decrypt path of this workspace and
//! judges the results.
//!
//! Paths ([`PathKind`]):
//!
//! | name | what runs |
//! |---|---|
//! | `oneshot` | [`esdk_std::Client::decrypt`] |
//! | `reader` | [`esdk_std::stream::io::DecryptingReader`] over an inner reader that returns random short reads, read into random-sized buffers |
//! | `tokio` | [`esdk_std::stream::tokio::AsyncDecryptingReader`] on a current-thread runtime, over an inner reader that returns random short reads and randomly `Pending` |
//! | `core1` | the sans-IO [`esdk_core::Decryptor`] fed one byte at a time |
//! | `corerand` | the same, fed in random chunk sizes |
//! | `parallel` | [`esdk_std::stream::io::DecryptingReader`] with `parallelism(3)`, over the same random short reads |
//! | `oneshot-p` | [`esdk_std::Client::decrypt`] with `parallelism(3)` (frames opened by workers where they lie in the message) |
//!
//! The core paths answer `NeedMaterials` by calling the vector's materials
//! manager (`pollster::block_on(cmm.decrypt_materials(&request))`), exactly
//! as the std engine does.
//!
//! Verdicts ([`Expect`]): a must-decrypt vector must produce the expected
//! plaintext byte for byte on every path, and the returned encryption context
//! must contain the manifest's pairs. A must-fail vector must fail on every
//! path (an unexpected success is a failure), and a path that released
//! plaintext a correct decryptor could not have released fails too — see
//! [`ReleaseRule`]. Vectors that need something unavailable offline are
//! skipped with the reason; they never count as passed.

use core::fmt::Write as _;
use core::pin::Pin;
use core::sync::atomic::{AtomicUsize, Ordering};
use core::task::{Context, Poll};
use core::time::Duration;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{Context as _, anyhow};
use esdk_core::decrypt::DecryptState;
use esdk_core::{CommitmentPolicy, DecryptConfig, Decryptor, SignaturePolicy, VecInput};
use esdk_std::materials::DecryptionRequest;
use esdk_std::stream::io::DecryptingReader;
use esdk_std::stream::tokio::AsyncDecryptingReader;
use esdk_std::{
    Client, CryptographicMaterialsManager, DecryptOptions, EncryptionContext,
    SyncCryptographicMaterialsManager,
};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

use crate::keyrings::MaterialsPlan;
use crate::layout;

/// One decrypt path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathKind {
    /// `Client::decrypt`.
    Oneshot,
    /// `std::io` `DecryptingReader`.
    Reader,
    /// tokio `AsyncDecryptingReader`.
    Tokio,
    /// Core `Decryptor`, one byte at a time.
    Core1,
    /// Core `Decryptor`, random chunk sizes.
    CoreRand,
    /// Frame-parallel `DecryptingReader` (`parallelism(3)`).
    Parallel,
    /// Frame-parallel `Client::decrypt` (`parallelism(3)`).
    ParallelOneshot,
}

impl PathKind {
    /// Every path, in the order they run.
    pub const ALL: [PathKind; 7] = [
        PathKind::Oneshot,
        PathKind::Reader,
        PathKind::Tokio,
        PathKind::Core1,
        PathKind::CoreRand,
        PathKind::Parallel,
        PathKind::ParallelOneshot,
    ];

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            PathKind::Oneshot => "oneshot",
            PathKind::Reader => "reader",
            PathKind::Tokio => "tokio",
            PathKind::Core1 => "core1",
            PathKind::CoreRand => "corerand",
            PathKind::Parallel => "parallel",
            PathKind::ParallelOneshot => "oneshot-p",
        }
    }

    /// Parses a comma-separated list of path names (`all` = every path).
    pub fn parse_list(s: &str) -> anyhow::Result<Vec<PathKind>> {
        let mut out = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            if part == "all" {
                out.extend(PathKind::ALL);
                continue;
            }
            let p = PathKind::ALL
                .into_iter()
                .find(|k| k.name() == part)
                .ok_or_else(|| {
                    anyhow!("unknown path {part:?} (expected oneshot, reader, tokio, core1, corerand, parallel, oneshot-p or all)")
                })?;
            out.push(p);
        }
        out.sort();
        out.dedup();
        if out.is_empty() {
            return Err(anyhow!("no decrypt path selected"));
        }
        Ok(out)
    }

    fn is_core(self) -> bool {
        matches!(self, PathKind::Core1 | PathKind::CoreRand)
    }
}

/// Bytes of a ciphertext or plaintext: a file (read when the vector runs) or in memory.
#[derive(Debug, Clone)]
pub enum Data {
    /// A file.
    File(PathBuf),
    /// Bytes in memory.
    Bytes(Arc<Vec<u8>>),
}

impl Data {
    /// The bytes.
    pub fn load(&self) -> anyhow::Result<Cow<'_, [u8]>> {
        match self {
            Data::File(p) => Ok(Cow::Owned(
                std::fs::read(p).with_context(|| format!("cannot read {}", p.display()))?,
            )),
            Data::Bytes(b) => Ok(Cow::Borrowed(b)),
        }
    }
}

/// How much plaintext a path may release from a must-fail message.
#[derive(Debug, Clone)]
pub enum ReleaseRule {
    /// The message fails in its header (header authentication, key
    /// commitment, parsing): nothing may be released.
    Nothing,
    /// Failure point unknown: only complete regular frames may be released
    /// (never a final frame or non-framed body); on the core paths every
    /// released chunk must be exactly one frame, at most as many as the
    /// message holds; the readers may release no more than the core decryptor
    /// released (what passed its frame tags).
    VerifiedFrames,
    /// Damaged copy of a good message (truncated or changed from some byte
    /// offset on): what is released must be a prefix of the good plaintext of
    /// at most `max` bytes (the regular frames that lie wholly before the
    /// damage).
    IntactPrefix {
        /// The good message's plaintext.
        plaintext: Arc<Vec<u8>>,
        /// Plaintext bytes in the regular frames before the damage.
        max: usize,
    },
}

/// What a vector must do.
#[derive(Debug, Clone)]
pub enum Expect {
    /// Decrypt to exactly these bytes, with an encryption context containing `ec`.
    Plaintext {
        /// Expected plaintext.
        plaintext: Data,
        /// Pairs the returned encryption context must contain.
        ec: BTreeMap<String, String>,
    },
    /// Fail.
    Failure {
        /// The manifest's description of the failure.
        reason: String,
        /// What may be released before failing.
        release: ReleaseRule,
    },
}

/// How to get materials for a vector.
#[derive(Debug, Clone)]
pub enum Materials {
    /// Build this plan (fresh for each vector).
    Ready(MaterialsPlan),
    /// Cannot run offline: skipped, with the reason.
    Skip(String),
    /// The manifest case is malformed: reported as failed.
    Broken(String),
}

/// One decrypt test vector.
#[derive(Debug, Clone)]
pub struct Vector {
    /// Identifier (test id, KAT number, file name).
    pub id: String,
    /// The message.
    pub ciphertext: Data,
    /// How to get materials.
    pub materials: Materials,
    /// Reproduced encryption context to pass to decrypt.
    pub reproduced_ec: Option<BTreeMap<String, String>>,
    /// Use the unsigned-only mode (`decryption-method: streaming-unsigned-only`).
    pub unsigned_only: bool,
    /// Expected outcome.
    pub expect: Expect,
    /// Text `--filter` matches against (id, description, key descriptions).
    pub tags: String,
}

impl Vector {
    /// True for a must-decrypt vector.
    pub fn must_succeed(&self) -> bool {
        matches!(self.expect, Expect::Plaintext { .. })
    }
}

/// Vectors from one manifest (or KAT file / directory).
#[derive(Debug, Clone)]
pub struct VectorSet {
    /// Display name (the path).
    pub label: String,
    /// Format, e.g. `awses-decrypt v4`.
    pub kind: String,
    /// The vectors.
    pub vectors: Vec<Vector>,
}

/// Runner settings.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Paths to run (in this order).
    pub paths: Vec<PathKind>,
    /// Worker threads (at least 1).
    pub threads: usize,
    /// Seed of the random chunking (mixed with each vector id).
    pub seed: u64,
    /// Run only vectors whose tags contain one of these strings (empty: all).
    pub filter: Vec<String>,
    /// The crypto backend every path decrypts with (default: esdk-std's default backend).
    pub backend: esdk_std::Backend,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            paths: PathKind::ALL.to_vec(),
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(2)),
            seed: 0x5eed_e5d4,
            filter: Vec::new(),
            backend: esdk_std::Backend::default(),
        }
    }
}

/// Outcome of one vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Every path behaved.
    Passed,
    /// At least one path misbehaved (or the case could not be set up).
    Failed,
    /// Not run; the reason.
    Skipped(String),
}

/// Result of one vector.
#[derive(Debug, Clone)]
pub struct VectorReport {
    /// The vector id.
    pub id: String,
    /// Must-decrypt (true) or must-fail.
    pub must_succeed: bool,
    /// Overall outcome.
    pub outcome: Outcome,
    /// Per path: `Ok` or what went wrong.
    pub paths: Vec<(PathKind, Result<(), String>)>,
    /// Problems not tied to one path (setup failures).
    pub errors: Vec<String>,
}

impl VectorReport {
    /// Every failure message, prefixed with its path.
    pub fn failures(&self) -> Vec<String> {
        let mut out = self.errors.clone();
        for (p, r) in &self.paths {
            if let Err(e) = r {
                out.push(format!("[{}] {e}", p.name()));
            }
        }
        out
    }
}

/// Result of one vector set.
#[derive(Debug, Clone)]
pub struct SetReport {
    /// The set's label.
    pub label: String,
    /// The set's format.
    pub kind: String,
    /// Paths that ran.
    pub paths: Vec<PathKind>,
    /// Per vector (in set order; vectors not selected by the filter are absent).
    pub vectors: Vec<VectorReport>,
    /// Vectors not selected by the filter.
    pub deselected: usize,
    /// Wall time.
    pub elapsed: Duration,
}

/// Counts over vectors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Skipped.
    pub skipped: usize,
    /// Passed must-decrypt vectors.
    pub passed_must_succeed: usize,
    /// Passed must-fail vectors.
    pub passed_must_fail: usize,
}

impl Tally {
    /// Adds another tally.
    pub fn add(&mut self, o: &Tally) {
        self.passed += o.passed;
        self.failed += o.failed;
        self.skipped += o.skipped;
        self.passed_must_succeed += o.passed_must_succeed;
        self.passed_must_fail += o.passed_must_fail;
    }

    /// `N passed, M failed[, K skipped]`.
    pub fn line(&self) -> String {
        let mut s = format!("{} passed, {} failed", self.passed, self.failed);
        if self.skipped > 0 {
            let _ = write!(s, ", {} skipped", self.skipped);
        }
        s
    }
}

impl SetReport {
    /// Vector counts.
    pub fn tally(&self) -> Tally {
        let mut t = Tally::default();
        for v in &self.vectors {
            match &v.outcome {
                Outcome::Passed => {
                    t.passed += 1;
                    if v.must_succeed {
                        t.passed_must_succeed += 1;
                    } else {
                        t.passed_must_fail += 1;
                    }
                }
                Outcome::Failed => t.failed += 1,
                Outcome::Skipped(_) => t.skipped += 1,
            }
        }
        t
    }

    /// (passed, failed) of one path over the vectors that ran.
    pub fn path_counts(&self, path: PathKind) -> (usize, usize) {
        let mut ok = 0;
        let mut bad = 0;
        for v in &self.vectors {
            for (p, r) in &v.paths {
                if *p == path {
                    if r.is_ok() {
                        ok += 1;
                    } else {
                        bad += 1;
                    }
                }
            }
        }
        (ok, bad)
    }

    /// Skip reasons with their counts.
    pub fn skip_reasons(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for v in &self.vectors {
            if let Outcome::Skipped(r) = &v.outcome {
                *out.entry(r.clone()).or_insert(0) += 1;
            }
        }
        out
    }

    /// A human-readable report (per-path counts, skip reasons, failures).
    pub fn render(&self, max_failures: usize) -> String {
        let mut s = String::new();
        let t = self.tally();
        let _ = writeln!(
            s,
            "== {} ({}, {} vectors{})",
            self.label,
            self.kind,
            self.vectors.len() + self.deselected,
            if self.deselected > 0 {
                format!(", {} not selected by --filter", self.deselected)
            } else {
                String::new()
            }
        );
        for p in &self.paths {
            let (ok, bad) = self.path_counts(*p);
            let _ = writeln!(s, "   {:<9} {ok} passed, {bad} failed", p.name());
        }
        for (reason, n) in self.skip_reasons() {
            let _ = writeln!(s, "   SKIPPED {n}: {reason}");
        }
        let mut shown = 0;
        for v in &self.vectors {
            if v.outcome == Outcome::Failed {
                if shown < max_failures {
                    for f in v.failures() {
                        let _ = writeln!(s, "   FAIL {}: {f}", v.id);
                    }
                }
                shown += 1;
            }
        }
        if shown > max_failures {
            let _ = writeln!(s, "   ... {} more failed vectors", shown - max_failures);
        }
        let _ = writeln!(
            s,
            "   vectors: {} ({} must-decrypt + {} must-fail passed) in {:.1}s",
            t.line(),
            t.passed_must_succeed,
            t.passed_must_fail,
            self.elapsed.as_secs_f64()
        );
        s
    }
}

/// Runs every selected vector of `set` through the configured paths.
pub fn run_set(set: &VectorSet, cfg: &RunConfig) -> SetReport {
    let start = Instant::now();
    let selected: Vec<&Vector> = set
        .vectors
        .iter()
        .filter(|v| cfg.filter.is_empty() || cfg.filter.iter().any(|f| v.tags.contains(f.as_str())))
        .collect();
    let results: Mutex<Vec<Option<VectorReport>>> = Mutex::new(vec![None; selected.len()]);
    let next = AtomicUsize::new(0);
    let threads = cfg.threads.clamp(1, selected.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .expect("a current-thread tokio runtime");
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(v) = selected.get(i) else { break };
                    let report = run_vector(v, cfg, &rt);
                    results.lock().expect("results lock")[i] = Some(report);
                }
            });
        }
    });
    let vectors = results
        .into_inner()
        .expect("results lock")
        .into_iter()
        .map(|r| r.expect("every vector ran"))
        .collect();
    SetReport {
        label: set.label.clone(),
        kind: set.kind.clone(),
        paths: cfg.paths.clone(),
        vectors,
        deselected: set.vectors.len() - selected.len(),
        elapsed: start.elapsed(),
    }
}

/// The commitment policy for a message: committing suites are decrypted under
/// the strict default, the others under `RequireEncryptAllowDecrypt` (the
/// README's rule 1.5; the default policy rejects them).
pub fn policy_for(ciphertext: &[u8]) -> CommitmentPolicy {
    match layout::claimed_suite(ciphertext) {
        Some(s) if s.is_committing() => CommitmentPolicy::RequireEncryptRequireDecrypt,
        _ => CommitmentPolicy::RequireEncryptAllowDecrypt,
    }
}

fn fnv64(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What one path did.
#[derive(Debug, Default)]
struct PathRun {
    result: Option<Result<(), String>>,
    released: Vec<u8>,
    /// Released chunk sizes (core paths only).
    chunks: Option<Vec<usize>>,
    ec: Option<EncryptionContext>,
    frame_length: Option<u32>,
}

impl PathRun {
    fn failed(e: impl core::fmt::Display) -> PathRun {
        PathRun {
            result: Some(Err(e.to_string())),
            ..PathRun::default()
        }
    }
}

/// Runs one vector through the configured paths.
pub fn run_vector(v: &Vector, cfg: &RunConfig, rt: &tokio::runtime::Runtime) -> VectorReport {
    let mut report = VectorReport {
        id: v.id.clone(),
        must_succeed: v.must_succeed(),
        outcome: Outcome::Failed,
        paths: Vec::new(),
        errors: Vec::new(),
    };
    let plan = match &v.materials {
        Materials::Ready(p) => p,
        Materials::Skip(r) => {
            report.outcome = Outcome::Skipped(r.clone());
            return report;
        }
        Materials::Broken(e) => {
            report.errors.push(format!("malformed case: {e}"));
            return report;
        }
    };
    let setup = (|| -> anyhow::Result<_> {
        let ct = v.ciphertext.load().context("ciphertext")?.into_owned();
        let expected = match &v.expect {
            Expect::Plaintext { plaintext, .. } => {
                Some(plaintext.load().context("expected plaintext")?.into_owned())
            }
            Expect::Failure { .. } => None,
        };
        let cmm = plan.build().context("cannot build the keyring")?;
        Ok((ct, expected, cmm))
    })();
    let (ct, expected, cmm) = match setup {
        Ok(x) => x,
        Err(e) => {
            report.errors.push(format!("{e:#}"));
            return report;
        }
    };
    let policy = policy_for(&ct);
    let client = Client::builder()
        .commitment_policy(policy)
        .backend(cfg.backend.clone())
        .build();
    let repro: Option<EncryptionContext> = v.reproduced_ec.clone().map(EncryptionContext::from);
    let mut opts = DecryptOptions::cmm(&cmm);
    if let Some(r) = &repro {
        opts = opts.reproduced_encryption_context(r.clone());
    }
    if v.unsigned_only {
        opts = opts.unsigned_only();
    }
    let core_config = DecryptConfig::default()
        .with_commitment_policy(policy)
        .with_signature_policy(if v.unsigned_only {
            SignaturePolicy::UnsignedOnly
        } else {
            SignaturePolicy::AllowSigned
        })
        .with_limits(client.decrypt_limits());
    let seed = cfg.seed ^ fnv64(&v.id);
    let mut runs = Vec::new();
    for (i, path) in cfg.paths.iter().enumerate() {
        let mut rng = StdRng::seed_from_u64(seed.wrapping_add(i as u64));
        let run = match path {
            PathKind::Oneshot | PathKind::ParallelOneshot => match client.decrypt(
                &ct,
                &if *path == PathKind::ParallelOneshot {
                    opts.clone().parallelism(3)
                } else {
                    opts.clone()
                },
            ) {
                Ok(d) => PathRun {
                    result: Some(Ok(())),
                    released: d.plaintext,
                    ec: Some(d.encryption_context),
                    frame_length: Some(d.header.frame_length),
                    chunks: None,
                },
                Err(e) => PathRun::failed(e),
            },
            PathKind::Reader => run_reader(&client, &opts, &ct, &mut rng),
            PathKind::Parallel => run_parallel_reader(&client, &opts, &ct, &mut rng),
            PathKind::Tokio => rt.block_on(run_tokio(&client, &opts, &ct, &mut rng)),
            PathKind::Core1 => {
                run_core(&cfg.backend, &ct, &cmm, core_config, repro.as_ref(), |_| 1)
            }
            PathKind::CoreRand => run_core(
                &cfg.backend,
                &ct,
                &cmm,
                core_config,
                repro.as_ref(),
                |deficit| pick_chunk(&mut rng, deficit),
            ),
        };
        runs.push((*path, run));
    }
    judge(v, &ct, expected.as_deref(), &runs, &mut report);
    report.outcome = if report.failures().is_empty() {
        Outcome::Passed
    } else {
        Outcome::Failed
    };
    report
}

/// A chunk size for the random core path, given how many more bytes the
/// decryptor asked for.
fn pick_chunk(rng: &mut StdRng, deficit: usize) -> usize {
    match rng.gen_range(0..5) {
        0 => rng.gen_range(1..=16),
        1 => deficit,
        2 => rng.gen_range(1..=4096),
        3 => rng.gen_range(1..=deficit.saturating_mul(3).max(1)),
        _ => usize::MAX,
    }
}

/// A read size for the inner readers.
fn pick_read(rng: &mut StdRng) -> usize {
    match rng.gen_range(0..4) {
        0 => rng.gen_range(1..=16),
        1 => rng.gen_range(1..=700),
        2 => rng.gen_range(1..=9000),
        _ => usize::MAX,
    }
}

/// An inner reader that returns random short reads.
struct ChunkyReader<'a> {
    data: &'a [u8],
    rng: StdRng,
}

impl std::io::Read for ChunkyReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = pick_read(&mut self.rng).min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn run_reader(client: &Client, opts: &DecryptOptions<'_>, ct: &[u8], rng: &mut StdRng) -> PathRun {
    let inner = ChunkyReader {
        data: ct,
        rng: StdRng::seed_from_u64(rng.r#gen()),
    };
    let reader = match DecryptingReader::new(client, opts, inner) {
        Ok(r) => r,
        Err(e) => return PathRun::failed(e),
    };
    let run = PathRun {
        ec: reader.encryption_context().cloned(),
        frame_length: reader.header().map(|h| h.frame_length),
        ..PathRun::default()
    };
    read_to_end(reader, run, rng)
}

fn run_parallel_reader(
    client: &Client,
    opts: &DecryptOptions<'_>,
    ct: &[u8],
    rng: &mut StdRng,
) -> PathRun {
    let inner = ChunkyReader {
        data: ct,
        rng: StdRng::seed_from_u64(rng.r#gen()),
    };
    let opts = opts.clone().parallelism(3);
    let reader = match DecryptingReader::new(client, &opts, inner) {
        Ok(r) => r,
        Err(e) => return PathRun::failed(e),
    };
    let run = PathRun {
        ec: reader.encryption_context().cloned(),
        frame_length: reader.header().map(|h| h.frame_length),
        ..PathRun::default()
    };
    read_to_end(reader, run, rng)
}

/// Reads a decrypting reader to its end or first error into random-sized buffers.
fn read_to_end<R: std::io::Read>(mut reader: R, mut run: PathRun, rng: &mut StdRng) -> PathRun {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match rng.gen_range(0..3) {
            0 => rng.gen_range(1..=64),
            1 => rng.gen_range(1..=5000),
            _ => buf.len(),
        };
        match reader.read(&mut buf[..n]) {
            Ok(0) => {
                run.result = Some(Ok(()));
                break;
            }
            Ok(got) => run.released.extend_from_slice(&buf[..got]),
            Err(e) => {
                run.result = Some(Err(e.to_string()));
                break;
            }
        }
    }
    run
}

/// An inner async reader that returns random short reads and sometimes
/// `Pending` (waking itself at once), to exercise the adapter's resumption.
struct ChunkyAsyncReader<'a> {
    data: &'a [u8],
    rng: StdRng,
    pending_last: bool,
}

impl tokio::io::AsyncRead for ChunkyAsyncReader<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        if !this.pending_last && this.rng.gen_ratio(1, 4) {
            this.pending_last = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        this.pending_last = false;
        let n = pick_read(&mut this.rng)
            .min(buf.remaining())
            .min(this.data.len());
        buf.put_slice(&this.data[..n]);
        this.data = &this.data[n..];
        Poll::Ready(Ok(()))
    }
}

async fn run_tokio(
    client: &Client,
    opts: &DecryptOptions<'_>,
    ct: &[u8],
    rng: &mut StdRng,
) -> PathRun {
    use tokio::io::AsyncReadExt as _;
    let inner = ChunkyAsyncReader {
        data: ct,
        rng: StdRng::seed_from_u64(rng.r#gen()),
        pending_last: false,
    };
    let mut reader = match AsyncDecryptingReader::new(client, opts, inner).await {
        Ok(r) => r,
        Err(e) => return PathRun::failed(e),
    };
    let mut run = PathRun {
        ec: reader.encryption_context().cloned(),
        frame_length: reader.header().map(|h| h.frame_length),
        ..PathRun::default()
    };
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match rng.gen_range(0..3) {
            0 => rng.gen_range(1..=64),
            1 => rng.gen_range(1..=5000),
            _ => buf.len(),
        };
        match reader.read(&mut buf[..n]).await {
            Ok(0) => {
                run.result = Some(Ok(()));
                break;
            }
            Ok(got) => run.released.extend_from_slice(&buf[..got]),
            Err(e) => {
                run.result = Some(Err(e.to_string()));
                break;
            }
        }
    }
    run
}

/// Drives the sans-IO decryptor directly. `chunk(deficit)` chooses how many
/// bytes to feed when the decryptor asks for `deficit` more.
fn run_core(
    backend: &esdk_std::Backend,
    ct: &[u8],
    cmm: &Arc<dyn SyncCryptographicMaterialsManager>,
    config: DecryptConfig,
    reproduced: Option<&EncryptionContext>,
    mut chunk: impl FnMut(usize) -> usize,
) -> PathRun {
    // The backend under test: aws-lc by default, RustCrypto in the `rustcrypto`-only build,
    // or the configured one.
    let mut dec = Decryptor::new(backend.clone(), config);
    // The one input loop (core's `VecInput`) owns the buffer and the discards.
    let mut input = VecInput::new(usize::MAX);
    let mut fed = 0usize;
    let mut run = PathRun {
        chunks: Some(Vec::new()),
        ..PathRun::default()
    };
    // Pairs authenticated without being stored (from the materials).
    let mut required_pairs: Vec<(String, String)> = Vec::new();
    let mut header_ec: Option<EncryptionContext> = None;
    let mut guard = 0u64;
    let limit = 64 * (ct.len() as u64 + 16);
    loop {
        guard += 1;
        if guard > limit {
            run.result = Some(Err("the decryptor made no progress".into()));
            break;
        }
        let eof = fed == ct.len();
        if eof && !input.is_eof() {
            input.set_eof();
        }
        let mut want = None;
        let have = input.buffered();
        {
            match input.process(&mut dec) {
                Ok(DecryptState::NeedInput { min_len }) => {
                    if eof {
                        run.result = Some(Err("NeedInput after end of input was signalled".into()));
                        break;
                    }
                    if min_len <= have {
                        run.result = Some(Err(format!(
                            "NeedInput {{ min_len: {min_len} }} with {have} bytes buffered"
                        )));
                        break;
                    }
                    want = Some(min_len - have);
                }
                Ok(DecryptState::NeedMaterials(req)) => {
                    let request = DecryptionRequest::new(
                        req.suite(),
                        req.commitment_policy(),
                        req.encrypted_data_keys().iter().map(Into::into).collect(),
                        req.encryption_context_unverified().into(),
                    )
                    .with_reproduced_encryption_context(reproduced.cloned())
                    .with_backend(backend.clone());
                    let m = match pollster::block_on(cmm.decrypt_materials(&request)) {
                        Ok(m) => m,
                        Err(e) => {
                            req.abort();
                            run.result = Some(Err(e.to_string()));
                            break;
                        }
                    };
                    let answered = m.with_core(|cm| Ok(req.provide(&cm)?));
                    if let Err(e) = answered {
                        run.result = Some(Err(e.to_string()));
                        break;
                    }
                    required_pairs = m
                        .required_encryption_context_keys
                        .iter()
                        .filter_map(|k| {
                            m.encryption_context
                                .get(k)
                                .map(|v| (k.clone(), v.to_owned()))
                        })
                        .collect();
                }
                Ok(DecryptState::HeaderVerified(h)) => {
                    header_ec = Some(h.encryption_context().into());
                    run.frame_length = Some(h.frame_length());
                }
                Ok(DecryptState::Plaintext(p)) => {
                    if let Some(c) = run.chunks.as_mut() {
                        c.push(p.len());
                    }
                    run.released.extend_from_slice(&p);
                }
                Ok(DecryptState::Done) => {
                    run.result = Some(Ok(()));
                    break;
                }
                Ok(_) => {
                    run.result = Some(Err("unknown decryptor state".into()));
                    break;
                }
                Err(e) => {
                    run.result = Some(Err(e.to_string()));
                    break;
                }
            }
        }
        if let Some(deficit) = want {
            let n = chunk(deficit).clamp(1, ct.len() - fed);
            if let Err(e) = input.push(&ct[fed..fed + n]) {
                run.result = Some(Err(e.to_string()));
                break;
            }
            fed += n;
        }
    }
    if let Some(mut ec) = header_ec {
        for (k, v) in required_pairs {
            ec.insert(k, v);
        }
        run.ec = Some(ec);
    }
    run
}

fn first_difference(a: &[u8], b: &[u8]) -> usize {
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

fn check_ec(
    got: Option<&EncryptionContext>,
    want: &BTreeMap<String, String>,
) -> Result<(), String> {
    if want.is_empty() {
        return Ok(());
    }
    let got = got.ok_or("no encryption context returned")?;
    let bad: Vec<&String> = want
        .iter()
        .filter(|(k, v)| got.get(k) != Some(v.as_str()))
        .map(|(k, _)| k)
        .collect();
    if bad.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "returned encryption context lacks or differs in {} manifest pair(s): {:?}",
            bad.len(),
            bad
        ))
    }
}

fn judge(
    v: &Vector,
    ct: &[u8],
    expected: Option<&[u8]>,
    runs: &[(PathKind, PathRun)],
    report: &mut VectorReport,
) {
    let walked = match &v.expect {
        Expect::Failure {
            release: ReleaseRule::VerifiedFrames,
            ..
        } => layout::walk(ct),
        _ => None,
    };
    // What the core decryptor released before failing (every chunk passed a
    // frame tag): the readers must not release more.
    let core_release: Option<&[u8]> = runs
        .iter()
        .find(|(p, _)| p.is_core())
        .map(|(_, r)| r.released.as_slice());
    for (path, run) in runs {
        let verdict = (|| -> Result<(), String> {
            let result = run
                .result
                .clone()
                .unwrap_or_else(|| Err("path produced no result".into()));
            match &v.expect {
                Expect::Plaintext { ec, .. } => {
                    let want = expected.unwrap_or_default();
                    if let Err(e) = result {
                        return Err(format!("decrypt failed: {e}"));
                    }
                    if run.released != want {
                        return Err(format!(
                            "plaintext differs: got {} bytes, expected {}, first difference at offset {}",
                            run.released.len(),
                            want.len(),
                            first_difference(&run.released, want)
                        ));
                    }
                    if let (Some(chunks), Some(f)) = (&run.chunks, run.frame_length) {
                        let f = f as usize;
                        let (last, regular) = chunks.split_last().unwrap_or((&0, &[]));
                        if f > 0 && (regular.iter().any(|c| *c != f) || *last > f) {
                            return Err(format!(
                                "released chunks {chunks:?} are not whole frames of {f} bytes"
                            ));
                        }
                    }
                    check_ec(run.ec.as_ref(), ec)
                }
                Expect::Failure { release, .. } => {
                    if result.is_ok() {
                        return Err(format!(
                            "decryption succeeded ({} bytes) but the vector must fail",
                            run.released.len()
                        ));
                    }
                    let n = run.released.len();
                    if let (Some(chunks), true) = (&run.chunks, n > 0) {
                        let f = run.frame_length.unwrap_or(0) as usize;
                        if chunks.iter().any(|c| *c != f) {
                            return Err(format!(
                                "released chunks {chunks:?} before failing; only whole regular frames of {f} bytes may be released"
                            ));
                        }
                    }
                    match release {
                        ReleaseRule::Nothing if n > 0 => Err(format!(
                            "released {n} plaintext bytes before failing; the failure is in the header, so nothing may be released"
                        )),
                        ReleaseRule::Nothing => Ok(()),
                        ReleaseRule::VerifiedFrames => {
                            let bound = walked
                                .as_ref()
                                .map_or(0, |l| l.regular_frames() * l.frame_length as usize);
                            if n > bound {
                                return Err(format!(
                                    "released {n} plaintext bytes before failing; the message holds only {bound} bytes of complete regular frames"
                                ));
                            }
                            if !path.is_core() {
                                if let Some(core) = core_release {
                                    if !core.starts_with(&run.released) {
                                        return Err(format!(
                                            "released {n} plaintext bytes before failing, which is not a prefix of the {} bytes that passed the frame tags in the core decryptor",
                                            core.len()
                                        ));
                                    }
                                }
                            }
                            Ok(())
                        }
                        ReleaseRule::IntactPrefix { plaintext, max } => {
                            if n > *max {
                                return Err(format!(
                                    "released {n} plaintext bytes before failing; only the {max} bytes of regular frames before the damage could have been verified"
                                ));
                            }
                            if !plaintext.starts_with(&run.released) {
                                return Err(format!(
                                    "released {n} bytes before failing that differ from the original plaintext at offset {}",
                                    first_difference(&run.released, plaintext)
                                ));
                            }
                            Ok(())
                        }
                    }
                }
            }
        })();
        report.paths.push((*path, verdict));
    }
}
