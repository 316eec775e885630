//! Runs the test-vector runner over every shipped vector set and over
//! vectors this crate generates, through all five decrypt paths (one-shot
//! client, `std::io` reader, tokio reader, core decryptor fed 1 byte at a
//! time, core decryptor fed random chunks).
//!
//! Default (`cargo test`): all 2,351 shipped cases (1,364 offline
//! must-decrypt + 35 must-fail run, 952 KMS cases skipped), every
//! tamper-generated vector of framework 0006 (~4,240 must-fail), and samples
//! of the generated framework 0003, 0006 and Dafny v5 scenarios.
//!
//! `ESDK_FULL_VECTORS=1`: additionally every generated scenario of framework
//! 0003 v1/v2 and the Dafny v5 encrypt manifests, every tenth of the
//! positive framework 0006 v1/v2 scenarios (they repeat the 0003
//! configurations), and every bit flip of the multi-frame damage test
//! (several thousand RSA-4096 decryptions; minutes).
//!
//! Generated vectors run through all five paths from memory; the manifests
//! the generators wrote are then read back and run on the one-shot path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use esdk_test_vectors::generate::{self, GenerateOptions, Generated};
use esdk_test_vectors::keyrings::{KeyringPlan, MaterialsPlan};
use esdk_test_vectors::runner::{
    self, Data, Expect, Materials, Outcome, PathKind, ReleaseRule, RunConfig, SetReport, Tally,
    Vector, VectorSet,
};
use esdk_test_vectors::{layout, sources};

/// The shared vectors' directory; a clear failure when it is missing (see `shared`).
fn vectors() -> PathBuf {
    esdk_test_vectors::shared::vector_path("")
}

fn canonical(name: &str) -> PathBuf {
    vectors().join("generation/framework-canonical").join(name)
}

fn full() -> bool {
    std::env::var("ESDK_FULL_VECTORS").is_ok_and(|v| v == "1" || v.eq_ignore_ascii_case("true"))
}

fn config() -> RunConfig {
    RunConfig {
        threads: 2,
        ..RunConfig::default()
    }
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("esdk-tv-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("create temp dir");
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Asserts that nothing failed, printing the report otherwise.
fn assert_clean(r: &SetReport) -> Tally {
    let t = r.tally();
    assert_eq!(t.failed, 0, "{}", r.render(40));
    for p in &r.paths {
        assert_eq!(r.path_counts(*p).1, 0, "{}", r.render(40));
    }
    t
}

#[test]
fn shipped_vectors_pass_on_every_path() {
    let cfg = config();
    let mut total = Tally::default();
    let mut skip_reasons = BTreeMap::new();
    let mut ran = 0;
    for input in sources::shipped_inputs(&vectors()) {
        let set = sources::load_vectors(&input).expect("load shipped vectors");
        let report = runner::run_set(&set, &cfg);
        println!("{}", report.render(10));
        let t = assert_clean(&report);
        total.add(&t);
        for (r, n) in report.skip_reasons() {
            *skip_reasons.entry(r).or_insert(0) += n;
        }
        for p in PathKind::ALL {
            assert_eq!(
                report.path_counts(p).0,
                t.passed,
                "{p:?} on {}",
                report.label
            );
        }
        ran += report.vectors.len();
    }
    // README section 3.1: 1,364 offline must-decrypt + 35 must-fail; 952 need KMS.
    assert_eq!(ran, 2351);
    assert_eq!(total.passed_must_succeed, 1364);
    assert_eq!(total.passed_must_fail, 35);
    assert_eq!(total.skipped, 952);
    assert!(
        skip_reasons.keys().all(|r| r.starts_with("needs AWS KMS")),
        "{skip_reasons:?}"
    );
}

fn options(manifest: PathBuf, out: &Path) -> GenerateOptions {
    GenerateOptions {
        manifest,
        keys: None,
        out: out.to_path_buf(),
        seed: Some(42),
        filter: Vec::new(),
        sample: 0,
        tampered_only: false,
    }
}

/// Runs the generator's in-memory vectors, then reads the manifest it wrote
/// back through `sources` (generic verdicts) and runs that on `paths`.
fn verify_both_ways(g: &Generated, paths: &[PathKind]) -> (Tally, Tally) {
    let report = generate::verify(g, &config());
    println!("{}", report.render(10));
    let own = assert_clean(&report);
    let written = sources::load_vectors(&g.report.out.join("manifest.json")).expect("reload");
    assert_eq!(written.vectors.len(), g.report.written);
    let cfg = RunConfig {
        paths: paths.to_vec(),
        ..config()
    };
    let again = runner::run_set(&written, &cfg);
    println!("{}", again.render(10));
    (own, assert_clean(&again))
}

#[test]
fn framework_0006_tampered_vectors_all_fail() {
    let tmp = TempDir::new("0006t");
    let mut o = options(
        canonical("0006-awses-message-decryption-generation.v2.json"),
        &tmp.0,
    );
    o.tampered_only = true;
    let g = generate::decrypt_generate(&o).expect("decrypt-generate");
    println!("{}", g.report.render());
    assert_eq!(g.report.failed, 0);
    // truncate + mutate of one message, half-sign, changed EDK provider
    // info, and the signed message for the unsigned-only API; one positive
    // case (an unsigned message for the unsigned-only API).
    assert_eq!(g.report.scenarios, 6);
    assert!(g.report.must_fail > 4000, "{}", g.report.must_fail);
    assert_eq!(g.report.written - g.report.must_fail, 1);
    let (own, again) = verify_both_ways(&g, &PathKind::ALL);
    assert_eq!(own.passed_must_fail, g.report.must_fail);
    assert_eq!(own.passed_must_succeed, 1);
    // The changed-provider-info case decrypts with a KMS key in the manifest.
    assert_eq!(again.skipped, 1);
    assert_eq!(again.passed_must_fail, g.report.must_fail - 1);
}

#[test]
fn framework_0003_generated_vectors_round_trip() {
    let tmp = TempDir::new("0003");
    let mut o = options(canonical("0003-awses-message-encryption.v2.json"), &tmp.0);
    o.sample = if full() { 1 } else { 25 };
    let g = generate::encrypt_manifest(&o).expect("encrypt");
    println!("{}", g.report.render());
    assert_eq!(g.report.failed, 0);
    assert!(
        g.report
            .skipped
            .keys()
            .all(|r| r.starts_with("needs AWS KMS"))
    );
    if full() {
        assert_eq!(g.report.written, 2860);
        assert_eq!(g.report.skipped.values().sum::<usize>(), 440);
    }
    let (own, again) = verify_both_ways(&g, &[PathKind::Oneshot]);
    assert_eq!(own.passed, g.report.written);
    assert_eq!(again.passed, g.report.written);

    if full() {
        // Version 1: KMS scenarios only.
        let tmp1 = TempDir::new("0003v1");
        let o1 = options(canonical("0003-awses-message-encryption.v1.json"), &tmp1.0);
        let g1 = generate::encrypt_manifest(&o1).expect("encrypt v1");
        assert_eq!(g1.report.written, 0);
        assert_eq!(g1.report.skipped.values().sum::<usize>(), 360);
    }
}

#[test]
fn framework_0006_generated_scenarios_round_trip() {
    for (name, sample) in [
        // The positive 0006 scenarios repeat the 0003 configurations (run in
        // full above); the tampered ones have their own test.
        (
            "0006-awses-message-decryption-generation.v2.json",
            if full() { 10 } else { 60 },
        ),
        (
            "0006-awses-message-decryption-generation.v1.json",
            if full() { 10 } else { 200 },
        ),
    ] {
        let tmp = TempDir::new("0006");
        let mut o = options(canonical(name), &tmp.0);
        o.sample = sample;
        let g = generate::decrypt_generate(&o).expect("decrypt-generate");
        println!("{}", g.report.render());
        assert_eq!(g.report.failed, 0);
        assert!(
            g.report
                .skipped
                .keys()
                .all(|r| r.starts_with("needs AWS KMS"))
        );
        let (own, _) = verify_both_ways(&g, &[PathKind::Oneshot]);
        assert_eq!(own.passed, g.report.written);
    }
}

#[test]
fn dafny_encrypt_manifests_round_trip() {
    for (manifest, sample) in [
        (
            vectors().join("generation/dafny-esdk/encrypt-manifest.json"),
            if full() { 1 } else { 6 },
        ),
        (
            vectors().join("dafny-4.1.0/encrypt-manifest.json"),
            if full() { 1 } else { 40 },
        ),
    ] {
        let tmp = TempDir::new("dafny");
        let mut o = options(manifest, &tmp.0);
        o.sample = sample;
        let g = generate::encrypt_manifest(&o).expect("encrypt");
        println!("{}", g.report.render());
        assert_eq!(g.report.failed, 0);
        assert!(
            g.report
                .skipped
                .keys()
                .all(|r| r.starts_with("needs AWS KMS")),
            "{:?}",
            g.report.skipped
        );
        assert!(g.report.written > 0);
        let (own, again) = verify_both_ways(&g, &[PathKind::Oneshot]);
        assert_eq!(own.passed, g.report.written);
        assert_eq!(again.passed, g.report.written);
    }
}

// ---------------------------------------------------------------------------------------------
// The verdicts themselves: a runner that cannot fail proves nothing.

fn aes_plan() -> MaterialsPlan {
    MaterialsPlan::default_cmm(KeyringPlan::RawAes {
        namespace: "ns".into(),
        name: "key".into(),
        key: vec![7; 32],
    })
}

fn message(suite: u16, frame: u32, pt: &[u8], ec: &BTreeMap<String, String>) -> Vec<u8> {
    let suite = esdk_core::AlgorithmSuite::from_id(suite).expect("suite");
    generate::encrypt_with_plan(&aes_plan(), suite, frame, ec, pt).expect("encrypt")
}

fn vector(id: &str, ct: Vec<u8>, expect: Expect) -> Vector {
    Vector {
        id: id.into(),
        ciphertext: Data::Bytes(Arc::new(ct)),
        materials: Materials::Ready(aes_plan()),
        reproduced_ec: None,
        unsigned_only: false,
        expect,
        tags: id.into(),
    }
}

fn outcomes(vectors: Vec<Vector>) -> BTreeMap<String, (Outcome, Vec<String>)> {
    let set = VectorSet {
        label: "controls".into(),
        kind: "in memory".into(),
        vectors,
    };
    runner::run_set(&set, &config())
        .vectors
        .into_iter()
        .map(|v| {
            let f = v.failures();
            (v.id, (v.outcome, f))
        })
        .collect()
}

#[test]
fn verdicts_catch_misbehaviour() {
    let pt: Vec<u8> = (0..300u16)
        .map(|i| i.to_le_bytes()[0].wrapping_mul(7))
        .collect();
    let ec: BTreeMap<String, String> = [("purpose".to_owned(), "test".to_owned())].into();
    let good = message(0x0578, 64, &pt, &ec);
    let walked = layout::walk(&good).expect("layout");
    assert_eq!(walked.regular_frames(), 4);
    let plain = |ec: &BTreeMap<String, String>| Expect::Plaintext {
        plaintext: Data::Bytes(Arc::new(pt.clone())),
        ec: ec.clone(),
    };
    let mut wrong = pt.clone();
    wrong[200] ^= 1;
    let mut other_ec = ec.clone();
    other_ec.insert("purpose".into(), "other".into());
    // Cut inside the final frame: the four regular frames are complete.
    let cut = walked.frames[4].range.start + 10;
    let truncated = good[..cut].to_vec();
    let fail = |release: ReleaseRule| Expect::Failure {
        reason: "truncated".into(),
        release,
    };
    let pt_arc = Arc::new(pt.clone());
    let mut skipped = vector("skip", good.clone(), plain(&ec));
    skipped.materials = Materials::Skip("needs something".into());
    let mut broken = vector("broken", good.clone(), plain(&ec));
    broken.materials = Materials::Broken("bad case".into());
    let mut unsigned_only = vector("unsigned-only", good.clone(), plain(&ec));
    unsigned_only.unsigned_only = true;
    let results = outcomes(vec![
        vector("good", good.clone(), plain(&ec)),
        vector("no-ec-pairs", good.clone(), plain(&BTreeMap::new())),
        vector(
            "wrong-plaintext-bytes",
            good.clone(),
            Expect::Plaintext {
                plaintext: Data::Bytes(Arc::new(wrong)),
                ec: BTreeMap::new(),
            },
        ),
        vector("wrong-ec", good.clone(), plain(&other_ec)),
        vector(
            "success-but-must-fail",
            good.clone(),
            fail(ReleaseRule::Nothing),
        ),
        vector(
            "truncated-released-too-much",
            truncated.clone(),
            fail(ReleaseRule::Nothing),
        ),
        vector(
            "truncated-released-beyond-max",
            truncated.clone(),
            fail(ReleaseRule::IntactPrefix {
                plaintext: pt_arc.clone(),
                max: 128,
            }),
        ),
        vector(
            "truncated-released-other-bytes",
            truncated.clone(),
            fail(ReleaseRule::IntactPrefix {
                plaintext: Arc::new(vec![0; 300]),
                max: 256,
            }),
        ),
        vector(
            "truncated-ok",
            truncated.clone(),
            fail(ReleaseRule::IntactPrefix {
                plaintext: pt_arc.clone(),
                max: walked.releasable_before(cut),
            }),
        ),
        vector(
            "truncated-generic",
            truncated,
            fail(ReleaseRule::VerifiedFrames),
        ),
        vector(
            "must-succeed-but-fails",
            good[..good.len() - 1].to_vec(),
            plain(&ec),
        ),
        skipped,
        broken,
        unsigned_only,
    ]);
    let expect = |id: &str, outcome: Outcome, text: &str| {
        let (o, f) = &results[id];
        assert_eq!(o, &outcome, "{id}: {f:?}");
        if outcome == Outcome::Failed {
            // Every path must have noticed, and said why.
            assert!(
                f.len() >= PathKind::ALL.len() || id == "broken",
                "{id}: {f:?}"
            );
            assert!(f.iter().all(|m| m.contains(text)), "{id}: {f:?}");
        }
    };
    assert_eq!(walked.releasable_before(cut), 256);
    expect("good", Outcome::Passed, "");
    expect("no-ec-pairs", Outcome::Passed, "");
    expect(
        "wrong-plaintext-bytes",
        Outcome::Failed,
        "first difference at offset 200",
    );
    expect("wrong-ec", Outcome::Failed, "encryption context");
    expect("success-but-must-fail", Outcome::Failed, "must fail");
    expect("truncated-ok", Outcome::Passed, "");
    expect("truncated-generic", Outcome::Passed, "");
    expect("must-succeed-but-fails", Outcome::Failed, "decrypt failed");
    expect("skip", Outcome::Skipped("needs something".into()), "");
    expect("broken", Outcome::Failed, "malformed case");
    expect("unsigned-only", Outcome::Failed, "decrypt failed");
    // The one-shot client releases nothing on failure; every streaming path
    // released the four verified regular frames (256 bytes).
    for (id, text) in [
        ("truncated-released-too-much", "nothing may be released"),
        ("truncated-released-beyond-max", "only the 128 bytes"),
        (
            "truncated-released-other-bytes",
            "differ from the original plaintext",
        ),
    ] {
        let (o, f) = &results[id];
        assert_eq!(o, &Outcome::Failed, "{id}");
        assert_eq!(f.len(), 4, "{id}: {f:?}");
        assert!(
            f.iter()
                .all(|m| m.contains(text) && !m.starts_with("[oneshot]")),
            "{id}: {f:?}"
        );
    }
}

#[test]
fn forged_messages_decrypt_so_half_sign_fails_for_its_own_reason() {
    use esdk_std::materials::EncryptionRequest;
    let plan = aes_plan();
    let cmm = plan.build().expect("cmm");
    let pt: Vec<u8> = (0..1000u16).map(|i| i.to_le_bytes()[0]).collect();
    let mut vectors = Vec::new();
    for id in [0x0014u16, 0x0046, 0x0078, 0x0114, 0x0146, 0x0178, 0x0478] {
        let suite = esdk_core::AlgorithmSuite::from_id(id).expect("suite");
        let mut ec = esdk_std::EncryptionContext::new();
        ec.insert("k", "v");
        let req = EncryptionRequest::new(ec)
            .with_commitment_policy(generate::encrypt_policy(suite))
            .with_suite(suite);
        let m = pollster::block_on(cmm.get_encryption_materials(&req)).expect("materials");
        let ct = generate::forge_unsigned_framed(&m, 128, &pt).expect("forge");
        vectors.push(vector(
            &format!("forged-{id:04X}"),
            ct,
            Expect::Plaintext {
                plaintext: Data::Bytes(Arc::new(pt.clone())),
                ec: [("k".to_owned(), "v".to_owned())].into(),
            },
        ));
    }
    for (id, (o, f)) in outcomes(vectors) {
        assert_eq!(o, Outcome::Passed, "{id}: {f:?}");
    }
}

/// Framework 0006 damages one small single-frame message; this damages
/// multi-frame messages of several shapes too (non-framed, unsigned and
/// signed, v1 and v2, an empty final frame), so the release rules of the
/// streaming paths are exercised across frame boundaries. Default: one bit
/// per byte; `ESDK_FULL_VECTORS=1`: every bit.
#[test]
fn damaged_multi_frame_messages_fail_on_every_path() {
    use generate::{Damage, damaged_copies};
    let ec: BTreeMap<String, String> = [("a".to_owned(), "b".to_owned())].into();
    let mut vectors = Vec::new();
    for (suite, frame, len) in [
        (0x0014u16, 0u32, 40usize),
        (0x0178, 16, 70),
        (0x0378, 32, 100),
        (0x0478, 64, 256),
        (0x0578, 24, 60),
    ] {
        let pt: Vec<u8> = (0..len).map(|i| i.to_le_bytes()[0] ^ 0x5a).collect();
        let good = message(suite, frame, &pt, &ec);
        let pt = Arc::new(pt);
        let mut copies = damaged_copies(&good, &pt, Damage::Truncate);
        copies.extend(damaged_copies(
            &good,
            &pt,
            Damage::FlipBits { every_bit: full() },
        ));
        copies.extend(damaged_copies(&good, &pt, Damage::AppendByte));
        for d in copies {
            vectors.push(vector(
                &format!("{suite:04X}-{}", d.suffix),
                d.bytes,
                Expect::Failure {
                    reason: d.reason,
                    release: d.release,
                },
            ));
        }
    }
    let n = vectors.len();
    let set = VectorSet {
        label: "damaged".into(),
        kind: "in memory".into(),
        vectors,
    };
    let report = runner::run_set(&set, &config());
    println!("{}", report.render(20));
    let t = assert_clean(&report);
    assert_eq!(t.passed_must_fail, n);
}

// ---------------------------------------------------------------------------------------------
// The binary.

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_esdk-test-vectors"))
}

fn last_line(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn cli_decrypt_summary_and_exit_status() {
    let v = vectors();
    let out = bin()
        .arg("decrypt")
        .arg("--manifest")
        .arg(v.join("net-4.0.0-valid"))
        .arg("--kat")
        .arg(v.join("kat/c-sdk-data"))
        .arg("--kat")
        .arg(v.join("kat/python-decrypt-oracle-vectors.json"))
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert_eq!(last_line(&out), "29 passed, 0 failed, 9 skipped", "{text}");
    for p in PathKind::ALL {
        assert!(
            text.contains(&format!("   {:<9} 29 passed, 0 failed", p.name())),
            "{text}"
        );
    }
    assert!(
        text.contains("SKIPPED 9: needs AWS KMS (aws-kms EDK)"),
        "{text}"
    );

    // A manifest whose expected plaintext is wrong must fail, with exit status 1.
    let tmp = TempDir::new("cli");
    let src = v.join("net-4.0.0-valid");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(src.join("manifest.json")).expect("read"))
            .expect("json");
    let (id, case) = m["tests"]
        .as_object()
        .expect("tests")
        .iter()
        .next()
        .expect("a case");
    let mut case = case.clone();
    let ct = case["ciphertext"]
        .as_str()
        .expect("uri")
        .trim_start_matches("file://");
    case["ciphertext"] = format!("file://{}", src.join(ct).display()).into();
    std::fs::write(tmp.0.join("wrong.bin"), b"not the plaintext").expect("write");
    case["result"]["output"]["plaintext"] = "file://wrong.bin".into();
    let doc = serde_json::json!({
        "manifest": m["manifest"].clone(),
        "client": m["client"].clone(),
        "keys": format!("file://{}", src.join("keys.json").display()),
        "tests": {id.clone(): case},
    });
    std::fs::write(tmp.0.join("manifest.json"), doc.to_string()).expect("write");
    let out = bin()
        .args(["decrypt", "--paths", "oneshot,core1"])
        .arg(tmp.0.join("manifest.json"))
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(last_line(&out), "0 passed, 1 failed", "{text}");
    assert!(text.contains("plaintext differs"), "{text}");

    // --filter selects by id / description / key description.
    let out = bin()
        .args(["decrypt", "--filter", "zero-key", "--paths", "core1"])
        .arg(v.join("kat/c-sdk-data"))
        .output()
        .expect("run");
    assert!(out.status.success());
    assert_eq!(last_line(&out), "4 passed, 0 failed");
}

#[test]
fn cli_generators() {
    let tmp = TempDir::new("cli-gen");
    let out = bin()
        .args([
            "encrypt",
            "--sample",
            "300",
            "--paths",
            "oneshot,corerand",
            "--seed",
            "3",
        ])
        .arg("--manifest")
        .arg(canonical("0003-awses-message-encryption.v2.json"))
        .arg("--keys")
        .arg(canonical("0002-keys.v3.json"))
        .arg("--out")
        .arg(tmp.0.join("enc"))
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(last_line(&out).ends_with("passed, 0 failed"), "{text}");
    assert!(tmp.0.join("enc/keys.json").is_file());
    let m: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.0.join("enc/manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(m["manifest"]["type"], "awses-decrypt");
    assert_eq!(m["manifest"]["version"], 2);

    let out = bin()
        .args([
            "decrypt-generate",
            "--tampered-only",
            "--filter",
            "81c31b07",
            "--filter",
            "49b3e922",
        ])
        .arg("--manifest")
        .arg(canonical(
            "0006-awses-message-decryption-generation.v2.json",
        ))
        .arg("--out")
        .arg(tmp.0.join("gen"))
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert_eq!(last_line(&out), "2 passed, 0 failed", "{text}");
    let m: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(tmp.0.join("gen/manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(m["manifest"]["version"], 3);
    let tests = m["tests"].as_object().expect("tests");
    assert_eq!(tests.len(), 2);
    assert!(tests.values().all(|t| t["result"]["error"].is_object()));
}
