//! The `stream-encrypt` / `stream-decrypt` commands the live-peer streaming tests use
//! (`interop/js/run_js_interop.sh`), exercised here without a peer: every encrypting adapter
//! against every decrypting one, header checks, and damaged streams on every decrypting adapter.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const ADAPTERS: [&str; 4] = ["io-writer", "io-reader", "tokio-writer", "tokio-reader"];

/// Runs the binary with `input` on stdin: (success, stdout, stderr).
fn run(args: &[&str], input: &[u8]) -> (bool, Vec<u8>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_esdk-test-vectors"))
        .args(args)
        .args(["--key-hex", KEY])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    // Write from another thread: the child writes output while it reads.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input); // the child may refuse before reading everything
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    (
        out.status.success(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn plaintext() -> Vec<u8> {
    (0..100_003u32)
        .map(|i| u8::try_from(i.wrapping_mul(2_654_435_761) >> 24).unwrap())
        .collect()
}

fn encrypt(adapter: &str, suite: &str, pt: &[u8]) -> Vec<u8> {
    let (ok, ct, err) = run(
        &[
            "stream-encrypt",
            "--adapter",
            adapter,
            "--frame",
            "4096",
            "--suite",
            suite,
            "--ec",
            "purpose=test",
        ],
        pt,
    );
    assert!(ok, "{adapter}: {err}");
    assert!(err.contains("peak-rss-kib "), "{err}");
    ct
}

#[test]
fn every_encrypting_adapter_with_every_decrypting_adapter() {
    let pt = plaintext();
    for enc in ADAPTERS {
        for suite in ["0578", "0478", "0178"] {
            let ct = encrypt(enc, suite, &pt);
            for dec in ADAPTERS {
                let (ok, out, err) = run(
                    &[
                        "stream-decrypt",
                        "--adapter",
                        dec,
                        "--suite",
                        suite,
                        "--frame",
                        "4096",
                        "--ec",
                        "purpose=test",
                    ],
                    &ct,
                );
                assert!(ok, "{enc} -> {dec}, suite {suite}: {err}");
                assert!(
                    out == pt,
                    "{enc} -> {dec}, suite {suite}: plaintext differs"
                );
            }
        }
    }
}

#[test]
fn header_expectations_are_checked() {
    let ct = encrypt("io-writer", "0578", &plaintext());
    for (args, why) in [
        (&["--suite", "0478"][..], "suite"),
        (&["--frame", "1024"][..], "frame length"),
        (&["--ec", "purpose=other"][..], "encryption context"),
    ] {
        let mut all = vec!["stream-decrypt", "--adapter", "io-reader"];
        all.extend_from_slice(args);
        let (ok, _, err) = run(&all, &ct);
        assert!(!ok, "a wrong {why} was accepted");
        assert!(err.contains(why), "{why}: {err}");
    }
}

#[test]
fn damaged_streams_fail_on_every_decrypting_adapter() {
    let pt = plaintext();
    let ct = encrypt("io-writer", "0578", &pt);
    let mut flipped = ct.clone();
    let mid = flipped.len() / 2;
    flipped[mid] ^= 1;
    let mut trailing = ct.clone();
    trailing.push(0);
    for dec in ADAPTERS {
        for (name, bad) in [
            ("truncated by one byte", &ct[..ct.len() - 1]),
            ("cut in half", &ct[..ct.len() / 2]),
            ("one bit flipped", &flipped[..]),
            ("a byte appended", &trailing[..]),
        ] {
            let (ok, _, _) = run(&["stream-decrypt", "--adapter", dec], bad);
            assert!(!ok, "{dec} accepted a stream {name}");
        }
    }
    let (ok, _, err) = run(&["stream-decrypt", "--adapter", "io-reader"], &[]);
    assert!(!ok && err.contains("error"), "{err}");
}

#[test]
fn usage_errors() {
    for args in [
        &["stream-encrypt", "--adapter", "io-writer"][..], // no --frame
        &["stream-encrypt", "--adapter", "pipe", "--frame", "4"][..],
        &[
            "stream-decrypt",
            "--adapter",
            "io-reader",
            "--suite",
            "0999",
        ][..],
    ] {
        let (ok, _, err) = run(args, b"");
        assert!(!ok, "{args:?} succeeded");
        assert!(err.starts_with("error:"), "{args:?}: {err}");
    }
}
