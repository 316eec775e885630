//! `esdk-test-vectors`: runs and generates AWS Encryption SDK message test vectors.
//!
//! ```text
//! esdk-test-vectors decrypt [--manifest] PATH... [--kat PATH]... [--paths LIST] [--filter S]...
//!                           [--threads N] [--seed N] [--max-failures N] [--verbose]
//! esdk-test-vectors encrypt --manifest ENCRYPT_MANIFEST [--keys KEYS] --out DIR [--seed N] [--filter S]...
//!                           [--sample N] [--no-verify] [--paths LIST] [--threads N]
//! esdk-test-vectors decrypt-generate --manifest DECRYPT_GENERATE_MANIFEST [--keys KEYS] --out DIR
//!                           [--seed N] [--filter S]... [--sample N] [--tampered-only] [--no-verify]
//!                           [--paths LIST] [--threads N]
//! esdk-test-vectors stream-encrypt --adapter A --key-hex HEX [--frame N] [--suite HEX] [--ec K=V]...
//! esdk-test-vectors stream-decrypt --adapter A --key-hex HEX [--frame N] [--suite HEX] [--ec K=V]...
//! ```
//!
//! `decrypt` accepts any `awses-decrypt` manifest (v1–v5; a directory means
//! its `manifest.json` / `decrypt_message.json` / `decrypt-manifest.json`),
//! the legacy `ciphertext.manifest`, the commitment KAT file, the decrypt-oracle
//! file and the C SDK data directory (`--kat` is a synonym of `--manifest`).
//! It prints counts per manifest and per path, the skip reasons, and ends with
//! the line `N passed, M failed[, K skipped]`; the exit status is 1 when
//! anything failed or nothing passed, 2 for usage errors.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context as _, anyhow, bail};
use esdk_std::AlgorithmSuite;
use esdk_test_vectors::generate::{self, GenerateOptions};
use esdk_test_vectors::runner::{self, PathKind, RunConfig, Tally};
use esdk_test_vectors::sources;
use esdk_test_vectors::stream_peer::{self, Adapter, StreamOptions};

const USAGE: &str = "usage:
  esdk-test-vectors decrypt [--manifest] PATH... [--kat PATH]... [--paths oneshot,reader,tokio,core1,corerand,parallel,oneshot-p]
                            [--filter S]... [--threads N] [--seed N] [--max-failures N] [--verbose]
  esdk-test-vectors encrypt --manifest ENCRYPT_MANIFEST [--keys KEYS] --out DIR [--seed N] [--filter S]...
                            [--sample N] [--no-verify] [--paths LIST] [--threads N]
  esdk-test-vectors decrypt-generate --manifest DECRYPT_GENERATE_MANIFEST [--keys KEYS] --out DIR [--seed N]
                            [--filter S]... [--sample N] [--tampered-only] [--no-verify] [--paths LIST] [--threads N]
  esdk-test-vectors stream-encrypt|stream-decrypt --adapter io-writer|io-reader|tokio-writer|tokio-reader
                            --key-hex HEX [--frame N] [--suite HEX] [--ec K=V]...

encrypt and decrypt-generate decrypt what they wrote through the selected paths unless --no-verify;
--sample N keeps every N-th scenario; --tampered-only keeps the 0006 cases that make must-fail vectors.

decrypt           runs every vector of the given manifests / KAT files through the selected decrypt
                  paths (default: all six) and ends with `N passed, M failed[, K skipped]`.
encrypt           encrypts the scenarios of an awses-encrypt v1/v2/v5 manifest and writes DIR/manifest.json
                  (awses-decrypt v2; v5 for a v5 input), DIR/keys.json, DIR/ciphertexts/, DIR/plaintexts/.
decrypt-generate  runs a framework 0006 awses-decrypt-generate manifest: positive scenarios and the tampered
                  must-fail vectors (truncate, mutate, half-sign, change-edk-provider-info), written as an
                  awses-decrypt v2 manifest (v3 when a case sets decryption-method); every generated vector is
                  then decrypted in-process to check that it behaves as its manifest says.
stream-encrypt    encrypts standard input to standard output through one esdk-std streaming adapter with a
                  raw AES-256 keyring (namespace esdk-interop, name stream-key), suite (default 0578), frame
                  length (default 4096) and encryption context --ec; for live streaming tests with another ESDK.
stream-decrypt    decrypts standard input to standard output the same way; fails unless the message verified
                  and its header has the given suite / frame length (when given) and --ec pairs.
                  Both print `peak-rss-kib N` (the process's peak resident memory) on stderr when done.";

struct Args {
    command: String,
    inputs: Vec<PathBuf>,
    keys: Option<PathBuf>,
    out: Option<PathBuf>,
    paths: Vec<PathKind>,
    filter: Vec<String>,
    threads: Option<usize>,
    seed: Option<u64>,
    max_failures: usize,
    verbose: bool,
    verify: bool,
    sample: usize,
    tampered_only: bool,
    adapter: Option<String>,
    key_hex: Option<String>,
    frame: Option<u32>,
    suite: Option<u16>,
    ec: Vec<(String, String)>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut it = std::env::args().skip(1);
    let command = it.next().ok_or_else(|| anyhow!("no command"))?;
    if command == "-h" || command == "--help" || command == "help" {
        println!("{USAGE}");
        std::process::exit(0);
    }
    let mut a = Args {
        command,
        inputs: Vec::new(),
        keys: None,
        out: None,
        paths: PathKind::ALL.to_vec(),
        filter: Vec::new(),
        threads: None,
        seed: None,
        max_failures: 50,
        verbose: false,
        verify: true,
        sample: 0,
        tampered_only: false,
        adapter: None,
        key_hex: None,
        frame: None,
        suite: None,
        ec: Vec::new(),
    };
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| anyhow!("{name} needs a value"));
        match arg.as_str() {
            "--manifest" | "--kat" => a.inputs.push(PathBuf::from(value(&arg)?)),
            "--keys" => a.keys = Some(PathBuf::from(value(&arg)?)),
            "--out" => a.out = Some(PathBuf::from(value(&arg)?)),
            "--paths" => a.paths = PathKind::parse_list(&value(&arg)?)?,
            "--filter" => a.filter.push(value(&arg)?),
            "--threads" => a.threads = Some(value(&arg)?.parse().context("--threads")?),
            "--seed" => a.seed = Some(value(&arg)?.parse().context("--seed")?),
            "--max-failures" => a.max_failures = value(&arg)?.parse().context("--max-failures")?,
            "--no-verify" => a.verify = false,
            "--sample" => a.sample = value(&arg)?.parse().context("--sample")?,
            "--tampered-only" => a.tampered_only = true,
            "--adapter" => a.adapter = Some(value(&arg)?),
            "--key-hex" => a.key_hex = Some(value(&arg)?),
            "--frame" => a.frame = Some(value(&arg)?.parse().context("--frame")?),
            "--suite" => {
                let v = value(&arg)?;
                let hex = v.trim_start_matches("0x");
                a.suite = Some(u16::from_str_radix(hex, 16).context("--suite (hex)")?);
            }
            "--ec" => {
                let v = value(&arg)?;
                let (k, val) = v
                    .split_once('=')
                    .ok_or_else(|| anyhow!("--ec needs KEY=VALUE"))?;
                a.ec.push((k.to_owned(), val.to_owned()));
            }
            "-v" | "--verbose" => a.verbose = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            s if s.starts_with('-') => bail!("unknown option {s:?}"),
            s => a.inputs.push(PathBuf::from(s)),
        }
    }
    Ok(a)
}

fn run_config(a: &Args) -> RunConfig {
    let mut cfg = RunConfig {
        paths: a.paths.clone(),
        filter: a.filter.clone(),
        ..RunConfig::default()
    };
    if let Some(t) = a.threads {
        cfg.threads = t.max(1);
    }
    if let Some(s) = a.seed {
        cfg.seed = s;
    }
    cfg
}

fn decrypt(a: &Args) -> anyhow::Result<bool> {
    if a.inputs.is_empty() {
        bail!("decrypt needs at least one --manifest / --kat");
    }
    let cfg = run_config(a);
    println!(
        "paths: {}; threads: {}; seed: {}",
        cfg.paths
            .iter()
            .map(|p| p.name())
            .collect::<Vec<_>>()
            .join(","),
        cfg.threads,
        cfg.seed
    );
    let start = Instant::now();
    let mut total = Tally::default();
    let mut per_path = vec![(0usize, 0usize); cfg.paths.len()];
    for input in &a.inputs {
        let set = match sources::load_vectors(input) {
            Ok(s) => s,
            Err(e) => {
                println!("== {}\n   FAIL cannot load: {e:#}", input.display());
                total.failed += 1;
                continue;
            }
        };
        let report = runner::run_set(&set, &cfg);
        if a.verbose {
            for v in &report.vectors {
                match &v.outcome {
                    runner::Outcome::Passed => println!("   PASS {}", v.id),
                    runner::Outcome::Skipped(r) => println!("   SKIP {}: {r}", v.id),
                    runner::Outcome::Failed => {}
                }
            }
        }
        print!("{}", report.render(a.max_failures));
        total.add(&report.tally());
        for (i, p) in cfg.paths.iter().enumerate() {
            let (ok, bad) = report.path_counts(*p);
            per_path[i].0 += ok;
            per_path[i].1 += bad;
        }
    }
    println!("== all inputs ({:.1}s)", start.elapsed().as_secs_f64());
    for (i, p) in cfg.paths.iter().enumerate() {
        println!(
            "   {:<9} {} passed, {} failed",
            p.name(),
            per_path[i].0,
            per_path[i].1
        );
    }
    println!(
        "   {} must-decrypt and {} must-fail vectors passed",
        total.passed_must_succeed, total.passed_must_fail
    );
    if total.passed == 0 {
        println!("   nothing passed (everything skipped or not selected): treated as a failure");
    }
    println!("{}", total.line());
    Ok(total.failed == 0 && total.passed > 0)
}

fn generate_options(a: &Args) -> anyhow::Result<GenerateOptions> {
    let [manifest] = a.inputs.as_slice() else {
        bail!("{} needs exactly one --manifest", a.command);
    };
    Ok(GenerateOptions {
        manifest: manifest.clone(),
        keys: a.keys.clone(),
        out: a
            .out
            .clone()
            .ok_or_else(|| anyhow!("{} needs --out DIR", a.command))?,
        seed: a.seed,
        filter: a.filter.clone(),
        sample: a.sample,
        tampered_only: a.tampered_only,
    })
}

fn stream(a: &Args) -> anyhow::Result<bool> {
    let adapter = a
        .adapter
        .as_deref()
        .ok_or_else(|| anyhow!("--adapter is required"))?;
    let key = a
        .key_hex
        .as_deref()
        .ok_or_else(|| anyhow!("--key-hex is required"))?;
    let suite = a
        .suite
        .map(AlgorithmSuite::from_id)
        .transpose()
        .map_err(|e| anyhow!("--suite: {e}"))?;
    let o = StreamOptions {
        adapter: Adapter::parse(adapter)?,
        key: stream_peer::parse_key(key)?,
        frame_length: a.frame.unwrap_or(0),
        suite: suite.unwrap_or(AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384),
        context: a.ec.clone(),
    };
    if a.command == "stream-encrypt" {
        if o.frame_length == 0 {
            bail!("stream-encrypt needs --frame N (N >= 1)");
        }
        stream_peer::encrypt(&o)?;
    } else {
        stream_peer::decrypt(&o, suite)?;
    }
    if let Some(kib) = stream_peer::peak_rss_kib() {
        eprintln!("peak-rss-kib {kib}");
    }
    Ok(true)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e:#}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match args.command.as_str() {
        "decrypt" => decrypt(&args),
        "encrypt" | "decrypt-generate" => generate_options(&args).and_then(|o| {
            let g = if args.command == "encrypt" {
                generate::encrypt_manifest(&o)?
            } else {
                generate::decrypt_generate(&o)?
            };
            print!("{}", g.report.render());
            let mut ok = g.report.failed == 0;
            if args.verify {
                let r = generate::verify(&g, &run_config(&args));
                print!("{}", r.render(args.max_failures));
                let t = r.tally();
                println!("{}", t.line());
                ok &= t.failed == 0;
            }
            Ok(ok)
        }),
        "stream-encrypt" | "stream-decrypt" => stream(&args),
        other => Err(anyhow!("unknown command {other:?}")),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
