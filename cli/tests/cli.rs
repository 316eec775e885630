#![allow(missing_docs)]
//! Runs the `esdk` binary: files, directories, globs, stdin/stdout, every flag, and the error
//! paths with their messages and exit codes (those of aws-encryption-cli 4.3).

use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

const BIN: &str = env!("CARGO_BIN_EXE_esdk");

struct Dir(PathBuf);

impl Dir {
    fn new() -> Self {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "esdk-cli-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        let d = Self(p);
        std::fs::write(d.p("key"), [7u8; 32]).unwrap();
        std::fs::write(d.p("other.key"), [9u8; 32]).unwrap();
        d
    }
    fn p(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn s(&self, name: &str) -> String {
        self.p(name).to_string_lossy().into_owned()
    }
    fn key(&self) -> Vec<String> {
        self.key_file("key")
    }
    fn key_file(&self, file: &str) -> Vec<String> {
        vec![
            "-w".into(),
            "provider=raw-aes".into(),
            "key-namespace=test-ns".into(),
            "key-name=k".into(),
            format!("key-file={}", self.s(file)),
        ]
    }
    fn files(&self) -> Vec<String> {
        let mut v: Vec<String> = walk(&self.0)
            .into_iter()
            .map(|p| {
                p.strip_prefix(&self.0)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        v.sort();
        v
    }
}

fn walk(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p).unwrap() {
        let e = e.unwrap().path();
        if e.is_dir() {
            out.extend(walk(&e));
        } else {
            out.push(e);
        }
    }
    out
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run_in(dir: Option<&Dir>, args: &[String], stdin: &[u8]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(d) = dir {
        cmd.current_dir(&d.0);
    }
    let mut child = cmd.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let t = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    t.join().unwrap();
    out
}

fn run(args: &[String]) -> Output {
    run_in(None, args, b"")
}

fn a(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

fn cat(mut v: Vec<String>, more: Vec<String>) -> Vec<String> {
    v.extend(more);
    v
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) {
    assert_eq!(code(o), 0, "stderr: {}", stderr(o));
}

fn fails(o: &Output, exit: i32, msg: &str) {
    assert_eq!(code(o), exit, "stderr: {}", stderr(o));
    assert!(
        stderr(o).contains(msg),
        "expected {msg:?} in {:?}",
        stderr(o)
    );
}

fn json_lines(b: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(b)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn encrypt_file(d: &Dir, src: &str, dst: &str, extra: &[&str]) -> Output {
    run(&cat(
        cat(a(&["-e", "-i", &d.s(src), "-o", &d.s(dst), "-S"]), d.key()),
        a(extra),
    ))
}

fn decrypt_file(d: &Dir, src: &str, dst: &str, extra: &[&str]) -> Output {
    run(&cat(
        cat(a(&["-d", "-i", &d.s(src), "-o", &d.s(dst), "-S"]), d.key()),
        a(extra),
    ))
}

fn data(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| u8::try_from(i * 31 % 251).unwrap_or(0))
        .collect()
}

#[test]
fn file_round_trip_every_suite_and_frame() {
    let d = Dir::new();
    let plain = data(10_000);
    std::fs::write(d.p("p"), &plain).unwrap();
    for (name, policy) in [
        ("AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384", None),
        ("AES_256_GCM_HKDF_SHA512_COMMIT_KEY", None),
        (
            "AES_128_GCM_IV12_TAG16",
            Some("forbid-encrypt-allow-decrypt"),
        ),
        (
            "AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384",
            Some("forbid-encrypt-allow-decrypt"),
        ),
    ] {
        for frame in ["1", "4096", "65536"] {
            let mut extra = vec!["--algorithm", name, "--frame-length", frame];
            if let Some(p) = policy {
                extra.extend(["--commitment-policy", p]);
            }
            ok(&encrypt_file(&d, "p", "c", &extra));
            let mut dextra = vec![];
            if let Some(p) = policy {
                dextra.extend(["--commitment-policy", p]);
            }
            ok(&decrypt_file(&d, "c", "out", &dextra));
            assert_eq!(std::fs::read(d.p("out")).unwrap(), plain, "{name} {frame}");
        }
    }
    // A non-committing message fails under the default policy, exit 1, output removed.
    std::fs::remove_file(d.p("out")).unwrap();
    fails(&decrypt_file(&d, "c", "out", &[]), 1, "c:");
    assert!(!d.p("out").exists());
    assert_eq!(d.files(), ["c", "key", "other.key", "p"]);
}

#[test]
fn metadata_records_encrypt_and_decrypt() {
    let d = Dir::new();
    std::fs::write(d.p("p"), b"hello").unwrap();
    let o = run(&cat(
        a(&[
            "-e",
            "-i",
            &d.s("p"),
            "-o",
            &d.s("c"),
            "--metadata-output",
            "-",
            "-c",
            "purpose=test",
            "team=x",
        ]),
        d.key(),
    ));
    ok(&o);
    let r = &json_lines(&o.stdout)[0];
    assert_eq!(r["mode"], "encrypt");
    assert_eq!(r["input"], d.s("p"));
    assert_eq!(r["output"], d.s("c"));
    let h = &r["header"];
    assert_eq!(
        h["algorithm"],
        "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384"
    );
    assert_eq!(h["version"], "2.0");
    assert_eq!(h["content_type"], 2);
    assert_eq!(h["frame_length"], 4096);
    assert_eq!(h["type"], Value::Null);
    assert_eq!(h["header_iv_length"], Value::Null);
    assert_eq!(h["encryption_context"]["purpose"], "test");
    assert!(h["encryption_context"]["aws-crypto-public-key"].is_string());
    assert_eq!(
        h["encrypted_data_keys"][0]["key_provider"]["provider_id"],
        "dGVzdC1ucw=="
    );
    assert!(r.get("header_auth").is_none());
    // Python-style formatting: ", " and ": " separators, sorted keys.
    let line = String::from_utf8_lossy(&o.stdout);
    assert!(line.starts_with("{\"header\": {\"algorithm\": "), "{line}");

    // Decrypt: appended to a metadata file, with header_auth.
    let meta = d.s("meta.jsonl");
    for _ in 0..2 {
        ok(&run(&cat(
            a(&[
                "-d",
                "-i",
                &d.s("c"),
                "-o",
                &d.s("out"),
                "--metadata-output",
                &meta,
            ]),
            d.key(),
        )));
    }
    let recs = json_lines(&std::fs::read(&meta).unwrap());
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["mode"], "decrypt");
    assert_eq!(recs[0]["header"], r["header"]);
    assert_eq!(recs[0]["header_auth"]["iv"], "AAAAAAAAAAAAAAAA");
    // --overwrite-metadata truncates.
    ok(&run(&cat(
        a(&[
            "-d",
            "-i",
            &d.s("c"),
            "-o",
            &d.s("out"),
            "--metadata-output",
            &meta,
            "--overwrite-metadata",
        ]),
        d.key(),
    )));
    assert_eq!(json_lines(&std::fs::read(&meta).unwrap()).len(), 1);
}

#[test]
fn required_encryption_context_on_decrypt() {
    let d = Dir::new();
    std::fs::write(d.p("p"), b"hello").unwrap();
    ok(&encrypt_file(&d, "p", "c", &["-c", "a=b", "c=d"]));
    // Pairs and bare keys present: decrypts.
    ok(&decrypt_file(&d, "c", "out", &["-c", "a=b", "c"]));
    assert_eq!(std::fs::read(d.p("out")).unwrap(), b"hello");
    std::fs::remove_file(d.p("out")).unwrap();
    // Missing pair and key: skipped (exit 0 like aws-encryption-cli), no output, reasons in
    // the metadata.
    let o = run(&cat(
        a(&[
            "-d",
            "-i",
            &d.s("c"),
            "-o",
            &d.s("out"),
            "--metadata-output",
            "-",
            "-c",
            "a=x",
            "zz",
        ]),
        d.key(),
    ));
    assert_eq!(code(&o), 0);
    assert!(stderr(&o).contains("did not match required elements"));
    assert!(!d.p("out").exists());
    let r = &json_lines(&o.stdout)[0];
    assert_eq!(r["skipped"], true);
    assert_eq!(r["reason"], "Missing encryption context key or value");
    assert_eq!(
        r["missing_encryption_context_keys"],
        serde_json::json!(["zz"])
    );
    assert_eq!(
        r["missing_encryption_context_pairs"],
        serde_json::json!([["a", "x"]])
    );
    // Reserved keys cannot be set on encrypt.
    fails(
        &encrypt_file(&d, "p", "c2", &["-c", "aws-crypto-x=1"]),
        1,
        "aws-crypto-",
    );
}

#[test]
fn directories_recursive_suffix_and_overwrite_rules() {
    let d = Dir::new();
    for f in [
        "in/a.txt",
        "in/sub/b.txt",
        "in/sub/deeper/c.txt",
        "in/.hidden",
    ] {
        let p = d.p(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, f.as_bytes()).unwrap();
    }
    std::fs::create_dir_all(d.p("enc")).unwrap();
    std::fs::create_dir_all(d.p("dec")).unwrap();
    // A directory without -r is skipped with a warning.
    let o = run(&cat(
        a(&["-e", "-i", &d.s("in"), "-o", &d.s("enc"), "-S"]),
        d.key(),
    ));
    ok(&o);
    assert!(stderr(&o).contains("-r/-R/--recursive is not set"));
    let enc = |extra: &[&str]| {
        run(&cat(
            cat(
                a(&["-e", "-r", "-i", &d.s("in"), "-o", &d.s("enc"), "-S"]),
                d.key(),
            ),
            a(extra),
        ))
    };
    ok(&enc(&[]));
    assert!(d.p("enc/a.txt.encrypted").exists());
    assert!(d.p("enc/sub/deeper/c.txt.encrypted").exists());
    assert!(d.p("enc/.hidden.encrypted").exists());
    // Existing outputs: overwritten with a warning; -q silences it; --no-overwrite skips.
    let o = enc(&[]);
    ok(&o);
    assert!(stderr(&o).contains("Overwriting existing output file"));
    let o = enc(&["-q"]);
    ok(&o);
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    let before = std::fs::read(d.p("enc/a.txt.encrypted")).unwrap();
    let o = enc(&["--no-overwrite"]);
    ok(&o);
    assert!(stderr(&o).contains("no overwrite"));
    assert_eq!(std::fs::read(d.p("enc/a.txt.encrypted")).unwrap(), before);
    // Decrypt the tree with a custom suffix, several at once.
    ok(&run(&cat(
        a(&[
            "-d",
            "-r",
            "-i",
            &d.s("enc"),
            "-o",
            &d.s("dec"),
            "-S",
            "--suffix",
            ".plain",
            "-j",
            "3",
        ]),
        d.key(),
    )));
    assert_eq!(
        std::fs::read(d.p("dec/sub/deeper/c.txt.encrypted.plain")).unwrap(),
        b"in/sub/deeper/c.txt"
    );
    // --suffix without a value: no suffix.
    std::fs::create_dir_all(d.p("same")).unwrap();
    ok(&run(&cat(
        a(&[
            "-d",
            "-r",
            "-i",
            &d.s("enc"),
            "-o",
            &d.s("same"),
            "-S",
            "--suffix",
        ]),
        d.key(),
    )));
    assert!(d.p("same/a.txt.encrypted").is_file());
    // No temporary files are left anywhere.
    assert!(
        d.files().iter().all(|f| !f.contains(".tmp")),
        "{:?}",
        d.files()
    );
}

#[test]
fn interactive_overwrite_prompt() {
    let d = Dir::new();
    std::fs::write(d.p("p"), b"one").unwrap();
    std::fs::write(d.p("c"), b"existing").unwrap();
    let args = cat(
        a(&[
            "-e",
            "-i",
            &d.s("p"),
            "-o",
            &d.s("c"),
            "-S",
            "--interactive",
        ]),
        d.key(),
    );
    let o = run_in(None, &args, b"n\n");
    ok(&o);
    assert!(stderr(&o).contains("Overwrite existing output file"));
    assert_eq!(std::fs::read(d.p("c")).unwrap(), b"existing");
    let o = run_in(None, &args, b"y\n");
    ok(&o);
    assert_ne!(std::fs::read(d.p("c")).unwrap(), b"existing");
}

#[test]
fn globs_and_multiple_sources() {
    let d = Dir::new();
    for f in ["x1.txt", "x2.txt", "y.dat"] {
        std::fs::write(d.p(f), f.as_bytes()).unwrap();
    }
    std::fs::create_dir_all(d.p("out")).unwrap();
    ok(&run(&cat(
        a(&["-e", "-i", &d.s("x*.txt"), "-o", &d.s("out"), "-S"]),
        d.key(),
    )));
    let mut got = std::fs::read_dir(d.p("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<Vec<_>>();
    got.sort();
    assert_eq!(got, ["x1.txt.encrypted", "x2.txt.encrypted"]);
    // Several sources need an output directory.
    fails(
        &run(&cat(
            a(&["-e", "-i", &d.s("x*.txt"), "-o", &d.s("single"), "-S"]),
            d.key(),
        )),
        1,
        "If operating on multiple sources, destination must be an existing directory",
    );
    fails(
        &run(&cat(
            a(&["-e", "-i", &d.s("nothing*"), "-o", &d.s("out"), "-S"]),
            d.key(),
        )),
        1,
        "Invalid source.  Must be a valid pathname pattern or stdin (-)",
    );
}

#[test]
fn stdin_stdout_base64_and_buffer() {
    let d = Dir::new();
    let plain = data(100_000);
    let enc = run_in(
        None,
        &cat(
            a(&[
                "-e",
                "-i",
                "-",
                "-o",
                "-",
                "-S",
                "--encode",
                "--frame-length",
                "1000",
            ]),
            d.key(),
        ),
        &plain,
    );
    ok(&enc);
    assert!(
        enc.stdout
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(b))
    );
    // Line breaks in Base64 input are accepted.
    let wrapped: Vec<u8> = enc
        .stdout
        .chunks(76)
        .flat_map(|c| c.iter().copied().chain(*b"\n"))
        .collect();
    for extra in [&[][..], &["-b"][..]] {
        let dec = run_in(
            None,
            &cat(
                cat(a(&["-d", "-i", "-", "-o", "-", "-S", "--decode"]), d.key()),
                a(extra),
            ),
            &wrapped,
        );
        ok(&dec);
        assert_eq!(dec.stdout, plain);
    }
    // Stdin into a file; a directory output for stdin is refused.
    let o = run_in(
        None,
        &cat(a(&["-e", "-i", "-", "-o", &d.s("c"), "-S"]), d.key()),
        &plain,
    );
    ok(&o);
    fails(
        &run(&cat(a(&["-e", "-i", "-", "-o", &d.s(""), "-S"]), d.key())),
        1,
        "Destination may not be a directory when source is stdin",
    );
    // --buffer: a tampered signed message releases nothing on stdout.
    let mut c = std::fs::read(d.p("c")).unwrap();
    let n = c.len();
    c[n - 200] ^= 1;
    let o = run_in(
        None,
        &cat(a(&["-d", "-i", "-", "-o", "-", "-S", "-b"]), d.key()),
        &c,
    );
    assert_eq!(code(&o), 1);
    assert!(o.stdout.is_empty());
    // Without --buffer, frames verified before the failure are released (streaming).
    let o = run_in(
        None,
        &cat(a(&["-d", "-i", "-", "-o", "-", "-S"]), d.key()),
        &c,
    );
    assert_eq!(code(&o), 1);
    assert!(!o.stdout.is_empty() && o.stdout.len() < plain.len());
    assert_eq!(&o.stdout[..], &plain[..o.stdout.len()]);
}

#[test]
fn failures_leave_no_output_and_say_why() {
    let d = Dir::new();
    std::fs::write(d.p("p"), data(50_000)).unwrap();
    ok(&encrypt_file(&d, "p", "c", &[]));
    // Tampered: exit 1, the file named, no output and no temporary file.
    let mut c = std::fs::read(d.p("c")).unwrap();
    c[400] ^= 0x40;
    std::fs::write(d.p("bad"), &c).unwrap();
    let o = decrypt_file(&d, "bad", "out", &[]);
    fails(&o, 1, "bad:");
    assert!(!stderr(&o).contains("panicked"));
    assert!(!d.p("out").exists());
    // Truncated.
    std::fs::write(d.p("short"), &c[..c.len() / 2]).unwrap();
    fails(&decrypt_file(&d, "short", "out", &[]), 1, "short:");
    // An existing output survives a failed decrypt unchanged.
    std::fs::write(d.p("out"), b"keep me").unwrap();
    fails(&decrypt_file(&d, "bad", "out", &[]), 1, "bad:");
    assert_eq!(std::fs::read(d.p("out")).unwrap(), b"keep me");
    // Wrong key.
    let o = run(&cat(
        a(&["-d", "-i", &d.s("c"), "-o", &d.s("o2"), "-S"]),
        d.key_file("other.key"),
    ));
    fails(&o, 1, "c:");
    assert!(!d.p("o2").exists());
    // Signed message with --decrypt-unsigned.
    fails(
        &run(&cat(
            a(&[
                "--decrypt-unsigned",
                "-i",
                &d.s("c"),
                "-o",
                &d.s("o3"),
                "-S",
            ]),
            d.key(),
        )),
        1,
        "c:",
    );
    // Frame length above --max-length.
    ok(&encrypt_file(&d, "p", "c8k", &["--frame-length", "8192"]));
    fails(
        &decrypt_file(&d, "c8k", "o4", &["--max-length", "4096"]),
        1,
        "c8k:",
    );
    ok(&decrypt_file(&d, "c8k", "o4", &["--max-length", "8192"]));
    // Two EDKs against --max-encrypted-data-keys 1.
    let two = cat(
        cat(a(&["-e", "-i", &d.s("p"), "-o", &d.s("c2"), "-S"]), d.key()),
        d.key_file("other.key"),
    );
    ok(&run(&two));
    fails(
        &decrypt_file(&d, "c2", "o5", &["--max-encrypted-data-keys", "1"]),
        1,
        "c2:",
    );
    ok(&decrypt_file(
        &d,
        "c2",
        "o5",
        &["--max-encrypted-data-keys", "2"],
    ));
    // Either key decrypts a message wrapped for both.
    ok(&run(&cat(
        a(&["-d", "-i", &d.s("c2"), "-o", &d.s("o6"), "-S"]),
        d.key_file("other.key"),
    )));
    assert!(
        d.files().iter().all(|f| !f.contains(".tmp")),
        "{:?}",
        d.files()
    );
}

#[test]
fn request_errors_exit_1() {
    let d = Dir::new();
    std::fs::write(d.p("p"), b"x").unwrap();
    let k = d.key();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            a(&["-e", "-i", &d.s("p"), "-o", &d.s("nodir/x"), "-S"]),
            "If destination is a file, the immediate parent directory must already exist.",
        ),
        (
            a(&["-e", "-i", &d.s("p"), "-o", &d.s("p"), "-S"]),
            "Destination and source cannot be the same",
        ),
        (
            a(&["-e", "-i", &d.s("p"), "-o", "-", "--metadata-output", "-"]),
            "Metadata output cannot be stdout when output is stdout",
        ),
        (
            a(&[
                "-e",
                "-i",
                &d.s("p"),
                "-o",
                &d.s("c"),
                "--metadata-output",
                &d.s("p"),
            ]),
            "Metadata output file cannot be the input or output",
        ),
        (
            a(&[
                "-e",
                "-i",
                &d.s("p"),
                "-o",
                &d.s("c"),
                "--metadata-output",
                &d.s(""),
            ]),
            "Metadata output cannot be a directory",
        ),
        (
            a(&["-e", "-i", &d.s(""), "-o", &d.s("c"), "-S", "-r"]),
            "If operating on a source directory, destination must be an existing directory",
        ),
    ];
    for (args, msg) in cases {
        fails(&run(&cat(args, k.clone())), 1, msg);
    }
    // Key files.
    fails(
        &run(&a(&[
            "-e",
            "-i",
            &d.s("p"),
            "-o",
            &d.s("c"),
            "-S",
            "-w",
            "provider=raw-aes",
            "key-namespace=n",
            "key-name=k",
            "key-file=/nonexistent/key",
        ])),
        1,
        "cannot read key file",
    );
    std::fs::write(d.p("short.key"), [1u8; 10]).unwrap();
    fails(
        &run(&cat(
            a(&["-e", "-i", &d.s("p"), "-o", &d.s("c"), "-S"]),
            d.key_file("short.key"),
        )),
        1,
        "16, 24 or 32 bytes",
    );
    assert!(!d.p("c").exists());
}

#[test]
fn usage_errors_exit_2() {
    let d = Dir::new();
    std::fs::write(d.p("p"), b"x").unwrap();
    let base = a(&["-e", "-i", &d.s("p"), "-o", &d.s("c"), "-S"]);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (a(&["-i", "x", "-o", "y", "-S"]), "--encrypt"),
        (
            a(&["-e", "-d", "-i", "x", "-o", "y", "-S"]),
            "cannot be used with",
        ),
        (a(&["-e", "-i", "x", "-o", "y"]), "-S/--suppress-metadata"),
        (a(&["-e", "-i", "x", "-o", "y", "-S"]), "-w/--wrapping-keys"),
        (cat(a(&["-e", "-o", "y", "-S"]), d.key()), "-i/--input"),
        (cat(base.clone(), a(&["-w", "novalue"])), "key=value"),
        (
            cat(base.clone(), a(&["-w", "provider=nope", "key=x"])),
            "unknown wrapping key provider",
        ),
        (
            cat(
                base.clone(),
                a(&["-w", "provider=aws-kms", "provider=raw-aes", "key=x"]),
            ),
            "exactly one \"provider\"",
        ),
        (
            cat(
                base.clone(),
                a(&["-w", "provider=aws-kms", "discovery=true"]),
            ),
            "Discovery attributes are supported only on decryption",
        ),
        (
            cat(base.clone(), a(&["-w", "provider=aws-kms"])),
            "At least one \"key\" must be provided",
        ),
        (
            cat(cat(base.clone(), d.key()), a(&["--caching", "capacity=1"])),
            "\"capacity\" and \"max_age\" are required",
        ),
        (
            cat(
                cat(base.clone(), d.key()),
                a(&["--caching", "capacity=1", "max_age=1", "bogus=1"]),
            ),
            "Invalid caching configuration key",
        ),
        (
            cat(cat(base.clone(), d.key()), a(&["--algorithm", "AES_999"])),
            "invalid value",
        ),
        (
            cat(
                cat(base.clone(), d.key()),
                a(&["--commitment-policy", "nope"]),
            ),
            "invalid value",
        ),
        (
            cat(
                cat(base.clone(), d.key()),
                a(&["--max-encrypted-data-keys", "0"]),
            ),
            "--max-encrypted-data-keys",
        ),
        (
            cat(cat(base.clone(), d.key()), a(&["-i", "again"])),
            "cannot be used multiple times",
        ),
        (cat(cat(base.clone(), d.key()), a(&["--bogus"])), "--bogus"),
        (
            cat(cat(base.clone(), d.key()), a(&["-c", "=x"])),
            "key=value",
        ),
    ];
    for (args, msg) in cases {
        let o = run(&args);
        fails(&o, 2, msg);
    }
    let dflags = a(&["-d", "-i", &d.s("p"), "-o", &d.s("c"), "-S"]);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            cat(
                dflags.clone(),
                a(&["-w", "provider=aws-kms", "discovery=maybe"]),
            ),
            "could not be parsed as true or false",
        ),
        (
            cat(
                dflags.clone(),
                a(&["-w", "provider=aws-kms", "discovery=true", "key=k"]),
            ),
            "you cannot specify wrapping keys",
        ),
        (
            cat(
                dflags.clone(),
                a(&[
                    "-w",
                    "provider=aws-kms",
                    "discovery=true",
                    "discovery-account=1",
                ]),
            ),
            "you must also specify discovery-partition",
        ),
        (
            cat(
                dflags.clone(),
                a(&["-w", "provider=aws-kms", "discovery=false"]),
            ),
            "you must specify at least one wrapping key",
        ),
        (
            cat(
                dflags.clone(),
                a(&["-w", "provider=aws-kms", "key=k", "discovery-account=1"]),
            ),
            "valid only when the discovery attribute is set to true",
        ),
    ];
    for (args, msg) in cases {
        fails(&run(&args), 2, msg);
    }
}

#[test]
fn argument_files_version_help() {
    let d = Dir::new();
    std::fs::write(d.p("p"), b"from an argument file").unwrap();
    std::fs::write(
        d.p("args.txt"),
        format!(
            "# encrypt with the test key\n-e -S\n-w provider=raw-aes key-namespace=test-ns key-name=k \"key-file={}\"\n",
            d.s("key")
        ),
    )
    .unwrap();
    ok(&run(&a(&[
        &format!("@{}", d.s("args.txt")),
        "-i",
        &d.s("p"),
        "-o",
        &d.s("c"),
    ])));
    ok(&decrypt_file(&d, "c", "out", &[]));
    assert_eq!(std::fs::read(d.p("out")).unwrap(), b"from an argument file");
    fails(
        &run(&a(&["@/nonexistent/args"])),
        2,
        "cannot read argument file",
    );
    let o = run(&a(&["--version"]));
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("esdk-cli/"));
    let o = run(&a(&["--help"]));
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains("--wrapping-keys"));
}

#[test]
fn verbose_and_quiet() {
    let d = Dir::new();
    std::fs::write(d.p("p"), b"x").unwrap();
    let o = encrypt_file(&d, "p", "c", &["-v"]);
    ok(&o);
    assert!(stderr(&o).contains("encrypting"), "{}", stderr(&o));
    let o = encrypt_file(&d, "p", "c", &["-q"]);
    ok(&o);
    assert!(stderr(&o).is_empty());
    // Not a terminal: no progress bar, even for a larger file.
    std::fs::write(d.p("big"), data(3 << 20)).unwrap();
    let o = encrypt_file(&d, "big", "c", &[]);
    ok(&o);
    let e = stderr(&o);
    assert!(
        !e.contains("ETA") && !e.contains('\r') && !e.contains('\u{1b}'),
        "{e}"
    );
}

#[test]
fn many_files_in_parallel() {
    let d = Dir::new();
    std::fs::create_dir_all(d.p("in")).unwrap();
    std::fs::create_dir_all(d.p("enc")).unwrap();
    std::fs::create_dir_all(d.p("dec")).unwrap();
    for i in 0..40 {
        std::fs::write(d.p(&format!("in/f{i:02}")), data(1000 + i * 997)).unwrap();
    }
    let meta = d.s("meta");
    ok(&run(&cat(
        a(&[
            "-e",
            "-r",
            "-j",
            "4",
            "-i",
            &d.s("in"),
            "-o",
            &d.s("enc"),
            "--metadata-output",
            &meta,
        ]),
        d.key(),
    )));
    assert_eq!(json_lines(&std::fs::read(&meta).unwrap()).len(), 40);
    ok(&run(&cat(
        a(&[
            "-d",
            "-r",
            "-j",
            "4",
            "-i",
            &d.s("enc"),
            "-o",
            &d.s("dec"),
            "-S",
            "--caching",
            "capacity=10",
            "max_age=60",
        ]),
        d.key(),
    )));
    for i in 0..40 {
        assert_eq!(
            std::fs::read(d.p(&format!("dec/f{i:02}.encrypted.decrypted"))).unwrap(),
            data(1000 + i * 997)
        );
    }
    fails(
        &run(&cat(
            a(&["-e", "-j", "0", "-i", "x", "-o", "y", "-S"]),
            d.key(),
        )),
        2,
        "-j",
    );
}

/// Where the shared test vectors are read from; one clear failure when they are missing.
#[allow(dead_code)]
mod shared_vectors {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-vectors/src/shared.rs"
    ));
}

fn rsa_pems() -> (String, String) {
    let path = shared_vectors::vector_path("python-1.3.5/keys.json");
    let v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let pem = |name: &str| {
        let k = &v["keys"][name];
        let lines: Vec<&str> = k["material"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        lines.join(k["line-separator"].as_str().unwrap_or("\n"))
    };
    (pem("rsa-4096-public"), pem("rsa-4096-private"))
}

#[test]
fn raw_rsa_keys() {
    let d = Dir::new();
    let (public, private) = rsa_pems();
    std::fs::write(d.p("pub.pem"), public).unwrap();
    std::fs::write(d.p("priv.pem"), private).unwrap();
    std::fs::write(d.p("p"), b"rsa").unwrap();
    for padding in ["pkcs1", "oaep-sha1", "oaep-sha256", "oaep-sha512"] {
        ok(&run(&a(&[
            "-e",
            "-i",
            &d.s("p"),
            "-o",
            &d.s("c"),
            "-S",
            "-w",
            "provider=raw-rsa",
            "key-namespace=rsa-ns",
            "key-name=rsa",
            &format!("public-key-file={}", d.s("pub.pem")),
            &format!("padding={padding}"),
        ])));
        // Encrypt-only keyring cannot decrypt; the private key can.
        let dec = |file: &str, which: &str| {
            run(&a(&[
                "-d",
                "-i",
                &d.s("c"),
                "-o",
                &d.s("out"),
                "-S",
                "-w",
                "provider=raw-rsa",
                "key-namespace=rsa-ns",
                "key-name=rsa",
                &format!("{which}={}", d.s(file)),
                &format!("padding={padding}"),
            ]))
        };
        assert_eq!(code(&dec("pub.pem", "public-key-file")), 1);
        ok(&dec("priv.pem", "private-key-file"));
        assert_eq!(std::fs::read(d.p("out")).unwrap(), b"rsa");
    }
    fails(
        &run(&a(&[
            "-e",
            "-i",
            &d.s("p"),
            "-o",
            &d.s("c"),
            "-S",
            "-w",
            "provider=raw-rsa",
            "key-namespace=n",
            "key-name=k",
            "padding=oaep-sha256",
        ])),
        2,
        "public-key-file=",
    );
}

#[test]
fn keygen_inspect_completions_man() {
    use std::os::unix::fs::PermissionsExt;
    let d = Dir::new();
    ok(&run(&a(&["keygen", &d.s("new.key")])));
    let meta = std::fs::metadata(d.p("new.key")).unwrap();
    assert_eq!(meta.len(), 32);
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    fails(
        &run(&a(&["keygen", &d.s("new.key")])),
        1,
        "cannot create key file",
    );
    ok(&run(&a(&["keygen", "--bits", "128", &d.s("k128")])));
    assert_eq!(std::fs::metadata(d.p("k128")).unwrap().len(), 16);
    fails(
        &run(&a(&["keygen", "--bits", "200", &d.s("k200")])),
        2,
        "--bits",
    );

    // inspect: header without a key and the exact plaintext length.
    for (n, frame, extra) in [
        (0usize, "4096", &[][..]),
        (4096, "4096", &[][..]),
        (10_001, "1000", &[][..]),
        (
            777,
            "100",
            &["--algorithm", "AES_256_GCM_HKDF_SHA512_COMMIT_KEY"][..],
        ),
    ] {
        std::fs::write(d.p("p"), data(n)).unwrap();
        let mut e = vec!["--frame-length", frame];
        e.extend_from_slice(extra);
        ok(&encrypt_file(&d, "p", "c", &e));
        let o = run(&a(&["inspect", &d.s("c")]));
        ok(&o);
        let r = &json_lines(&o.stdout)[0];
        assert_eq!(r["plaintext_length"], n as u64, "{r}");
        assert_eq!(r["trailing_data"], false);
        assert_eq!(r["header"]["frame_length"], frame.parse::<u64>().unwrap());
        assert_eq!(r["signed"], extra.is_empty());
    }
    // Base64 and stdin.
    let b64 = run_in(
        None,
        &cat(
            a(&["-e", "-i", &d.s("p"), "-o", "-", "-S", "--encode"]),
            d.key(),
        ),
        b"",
    );
    ok(&b64);
    let o = run_in(None, &a(&["inspect", "--decode", "-"]), &b64.stdout);
    ok(&o);
    assert_eq!(json_lines(&o.stdout)[0]["plaintext_length"], 777);
    // Not a message.
    std::fs::write(d.p("junk"), b"this is not a message").unwrap();
    fails(&run(&a(&["inspect", &d.s("junk")])), 1, "junk:");
    // Truncated body.
    let c = std::fs::read(d.p("c")).unwrap();
    std::fs::write(d.p("cut"), &c[..c.len() - 20]).unwrap();
    fails(&run(&a(&["inspect", &d.s("cut")])), 1, "cut:");

    let o = run(&a(&["completions", "bash"]));
    ok(&o);
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("--wrapping-keys") && s.contains("keygen"));
    ok(&run(&a(&["completions", "zsh"])));
    let o = run(&a(&["man"]));
    ok(&o);
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        s.contains(".TH esdk") && s.contains("wrapping\\-keys"),
        "{}",
        &s[..200]
    );
}

#[test]
fn non_framed_messages_with_frame_length_0() {
    let d = Dir::new();
    for n in [0usize, 1, 4096, 300_000] {
        let plain = data(n);
        std::fs::write(d.p("p"), &plain).unwrap();
        for alg in [
            "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384",
            "AES_256_GCM_HKDF_SHA512_COMMIT_KEY",
        ] {
            // File to file, with the encrypt metadata record.
            let o = run(&cat(
                a(&[
                    "-e",
                    "-i",
                    &d.s("p"),
                    "-o",
                    &d.s("c"),
                    "--metadata-output",
                    "-",
                    "--frame-length",
                    "0",
                    "--algorithm",
                    alg,
                ]),
                d.key(),
            ));
            ok(&o);
            let h = &json_lines(&o.stdout)[0]["header"];
            assert_eq!(h["content_type"], 1, "{h}");
            assert_eq!(h["frame_length"], 0, "{h}");
            ok(&decrypt_file(&d, "c", "out", &[]));
            assert_eq!(std::fs::read(d.p("out")).unwrap(), plain, "{n} {alg}");
            // inspect knows the exact plaintext length of a non-framed body.
            let i = run(&a(&["inspect", &d.s("c")]));
            ok(&i);
            assert_eq!(json_lines(&i.stdout)[0]["plaintext_length"], n as u64);
            // stdin to stdout (length unknown up front), Base64 both ways.
            let e = run_in(
                None,
                &cat(
                    a(&[
                        "-e",
                        "-i",
                        "-",
                        "-o",
                        "-",
                        "-S",
                        "--encode",
                        "--frame-length",
                        "0",
                        "--algorithm",
                        alg,
                    ]),
                    d.key(),
                ),
                &plain,
            );
            ok(&e);
            let back = run_in(
                None,
                &cat(a(&["-d", "-i", "-", "-o", "-", "-S", "--decode"]), d.key()),
                &e.stdout,
            );
            ok(&back);
            assert_eq!(back.stdout, plain, "{n} {alg} stdin");
        }
    }
    // A flipped bit in the body: exit 1, no output left behind.
    let mut c = std::fs::read(d.p("c")).unwrap();
    let at = c.len() - 200;
    c[at] ^= 1;
    std::fs::write(d.p("bad"), &c).unwrap();
    fails(&decrypt_file(&d, "bad", "out2", &[]), 1, "bad:");
    assert!(!d.p("out2").exists());
    // A non-framed body larger than --max-length is refused before it is buffered.
    fails(
        &decrypt_file(&d, "c", "out2", &["--max-length", "1000"]),
        1,
        "c:",
    );
}

#[test]
fn fsync_outputs() {
    let d = Dir::new();
    let plain = data(100_000);
    std::fs::write(d.p("p"), &plain).unwrap();
    ok(&encrypt_file(&d, "p", "c", &["--fsync"]));
    ok(&decrypt_file(&d, "c", "out", &["--fsync"]));
    assert_eq!(std::fs::read(d.p("out")).unwrap(), plain);
    // Into a directory given relatively (its directory is the current one).
    std::fs::create_dir(d.p("sub")).unwrap();
    ok(&run_in(
        Some(&d),
        &cat(a(&["-e", "-i", "p", "-o", "sub", "-S", "--fsync"]), d.key()),
        b"",
    ));
    // A bare file name: the directory to sync is the current one.
    ok(&run_in(
        Some(&d),
        &cat(a(&["-e", "-i", "p", "-o", "c2", "-S", "--fsync"]), d.key()),
        b"",
    ));
    assert_eq!(
        d.files(),
        ["c", "c2", "key", "other.key", "out", "p", "sub/p.encrypted"]
    );
}

/// Like aws-encryption-cli, the metadata record of an operation is written as soon as the
/// header is known, before the body: here stdin stays open (the body is not even read yet)
/// while the record is already on stdout.
#[test]
fn metadata_record_comes_before_the_body() {
    use std::io::BufRead;
    let d = Dir::new();
    let plain = data(200_000);
    std::fs::write(d.p("p"), &plain).unwrap();
    ok(&encrypt_file(&d, "p", "c", &[]));
    let cipher = std::fs::read(d.p("c")).unwrap();
    for (mode, input, out) in [("-e", &plain, "c2"), ("-d", &cipher, "p2")] {
        let mut child = Command::new(BIN)
            .args(cat(
                a(&[mode, "-i", "-", "-o", &d.s(out), "--metadata-output", "-"]),
                d.key(),
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // Half of the input (for decrypt: the header and some frames), stdin kept open.
        stdin.write_all(&input[..input.len() / 2]).unwrap();
        stdin.flush().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut lines = std::io::BufReader::new(stdout);
            let mut line = String::new();
            lines.read_line(&mut line).unwrap();
            tx.send(line).unwrap();
        });
        let line = rx.recv_timeout(std::time::Duration::from_secs(60));
        stdin.write_all(&input[input.len() / 2..]).unwrap();
        drop(stdin);
        let status = child.wait().unwrap();
        reader.join().unwrap();
        let line = line.expect("no metadata record while the input was still open");
        let r: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(r["mode"], if mode == "-e" { "encrypt" } else { "decrypt" });
        assert!(status.success());
    }
    assert_eq!(std::fs::read(d.p("p2")).unwrap(), plain);
}

/// Runs `esdk` under bash with the file size limit `ulimit -f KIB` (KiB) and SIGXFSZ ignored,
/// so a write past the limit fails with EFBIG ("File too large") mid-file, as a full disk
/// would.
fn run_size_limited(kib: u32, args: &[String]) -> Output {
    let quoted: Vec<String> = std::iter::once(BIN.to_string())
        .chain(args.iter().cloned())
        .map(|s| format!("'{}'", s.replace('\'', "'\\''")))
        .collect();
    Command::new("bash")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {kib}; exec {}",
            quoted.join(" ")
        ))
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[test]
fn a_write_failure_mid_file_removes_the_temporary_file_and_names_the_file() {
    let d = Dir::new();
    let plain = data(3 << 20);
    std::fs::write(d.p("p"), &plain).unwrap();
    ok(&encrypt_file(&d, "p", "c", &[]));
    for (mode, src, frame) in [
        ("-e", "p", "4096"),
        ("-e", "p", "1048576"),
        ("-d", "c", "4096"),
    ] {
        for existing in [false, true] {
            if existing {
                std::fs::write(d.p("out"), b"keep me").unwrap();
            } else {
                let _ = std::fs::remove_file(d.p("out"));
            }
            let mut args = cat(
                a(&[mode, "-i", &d.s(src), "-o", &d.s("out"), "-S"]),
                d.key(),
            );
            if mode == "-e" {
                args.extend(a(&["--frame-length", frame]));
            }
            // 1 MiB allowed: the output fails a few chunks in, while the input is still
            // being read.
            let o = run_size_limited(1024, &args);
            fails(&o, 1, &format!("esdk: error: {}: ", d.s(src)));
            fails(&o, 1, "File too large");
            assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
            if existing {
                assert_eq!(std::fs::read(d.p("out")).unwrap(), b"keep me");
            } else {
                assert!(!d.p("out").exists());
            }
            assert!(
                d.files().iter().all(|f| !f.contains(".tmp")),
                "{mode} {frame}: {:?}",
                d.files()
            );
        }
    }
    // The same limit with a small file succeeds (the limit, not the tool, failed above).
    std::fs::write(d.p("small"), data(100_000)).unwrap();
    ok(&run_size_limited(
        1024,
        &cat(
            a(&["-e", "-i", &d.s("small"), "-o", &d.s("small.c"), "-S"]),
            d.key(),
        ),
    ));
    ok(&decrypt_file(&d, "small.c", "small.d", &[]));
    assert_eq!(std::fs::read(d.p("small.d")).unwrap(), data(100_000));
}

#[test]
fn threads_flag_gives_the_same_plaintext_and_is_checked() {
    let d = Dir::new();
    let plain = data(1_000_003);
    std::fs::write(d.p("p"), &plain).unwrap();
    for (alg, frame) in [
        ("AES_256_GCM_HKDF_SHA512_COMMIT_KEY", "4096"),
        ("AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384", "65536"),
    ] {
        for enc_threads in ["1", "3"] {
            let c = format!("c{enc_threads}");
            ok(&encrypt_file(
                &d,
                "p",
                &c,
                &[
                    "--threads",
                    enc_threads,
                    "--algorithm",
                    alg,
                    "--frame-length",
                    frame,
                ],
            ));
            for dec_threads in ["1", "2", "8"] {
                let _ = std::fs::remove_file(d.p("out"));
                ok(&decrypt_file(&d, &c, "out", &["--threads", dec_threads]));
                assert!(
                    std::fs::read(d.p("out")).unwrap() == plain,
                    "{alg} {enc_threads} {dec_threads}"
                );
            }
            // Streams too, to stdout.
            let o = run(&cat(
                a(&["-d", "-i", &d.s(&c), "-o", "-", "-S", "--threads", "2"]),
                d.key(),
            ));
            ok(&o);
            assert!(o.stdout == plain, "{alg} {enc_threads} stdout");
        }
    }
    // 0 and non-numbers are usage errors (exit 2), as for -j.
    for bad in ["0", "x", "257"] {
        let o = encrypt_file(&d, "p", "never", &["--threads", bad]);
        assert_eq!(code(&o), 2, "{bad}: {}", stderr(&o));
        assert!(!d.p("never").exists());
    }
}
