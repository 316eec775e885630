//! Error text built from a message is escaped and bounded (issue #11): a provider id with a
//! terminal escape and a newline cannot forge log lines, and 65,535 undecryptable EDKs give a
//! short `NoDecryptableKey` text while every failure stays available in the error value.
#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../../fuzz/src/common/mod.rs"]
#[allow(
    dead_code,
    missing_docs,
    unreachable_pub,
    clippy::cast_possible_truncation,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod common;

use common::work::{NAMESPACE, Spec, policy, valid_message};
use esdk_core::{AlgorithmSuite, EncryptedDataKey};
use esdk_std::error::{Escaped, MAX_LISTED_FAILURES};
use esdk_std::keyring::RawAesKeyring;
use esdk_std::{Client, DecryptOptions, EdkFailure, Error};

#[test]
fn escapes_control_bytes_backslashes_and_non_ascii() {
    assert_eq!(Escaped::new("plain-id 1").to_string(), "plain-id 1");
    assert_eq!(
        Escaped::new("a\x1b[31m\nFAKE\\ \u{202e}").to_string(),
        "a\\x1b[31m\\x0aFAKE\\\\ \\xe2\\x80\\xae"
    );
    let long = "x".repeat(1000);
    let shown = Escaped::new(&long).to_string();
    assert_eq!(shown, format!("{}...(+904 bytes)", "x".repeat(96)));
    // The worst case: every shown byte escaped.
    let s = Escaped::new(&[0u8; 1000][..]).to_string();
    assert!(s.len() <= 4 * Escaped::MAX_BYTES + 20, "{}", s.len());
    // A keyring's reason (names keys, versions, operations) gets a larger, still fixed bound.
    let reason = Escaped::reason(&long).to_string();
    assert_eq!(reason, format!("{}...(+488 bytes)", "x".repeat(512)));
    let s = Escaped::reason(&[0u8; 4000][..]).to_string();
    assert!(s.len() <= 4 * Escaped::MAX_REASON_BYTES + 20, "{}", s.len());
}

#[test]
fn provider_id_with_escape_and_newline_cannot_forge_lines() {
    let edk = EncryptedDataKey {
        provider_id: "evil\x1b]0;owned\x07\n2026-12-04 INFO all good".into(),
        provider_info: b"info\r\n".to_vec(),
        ciphertext: vec![1, 2, 3],
    };
    let f = EdkFailure::not_for_this_keyring(&edk, "not for raw AES ns/\x1bkey");
    // The value keeps the raw id for programs.
    assert_eq!(f.provider_id, edk.provider_id);
    let text = Error::NoDecryptableKey(vec![f]).to_string();
    assert!(
        text.bytes().all(|b| (0x20..0x7f).contains(&b)),
        "control or non-ASCII byte in {text:?}"
    );
    assert!(
        text.contains("evil\\x1b]0;owned\\x07\\x0a2026-12-04 INFO"),
        "{text}"
    );
    assert!(text.contains("ns/\\x1bkey"), "{text}");
}

#[test]
fn edks_65535_give_a_bounded_error_text_and_the_full_list() {
    let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
    let msg = valid_message(&Spec {
        suite,
        extra_edks: 65_534,
        context: vec![],
        reverse_context: false,
        plaintext_len: 1,
    });
    let client = Client::builder().commitment_policy(policy(suite)).build();
    // Same namespace, another key name: no EDK is for this keyring.
    let other = RawAesKeyring::new(NAMESPACE, "other-key", &[7u8; 32]).unwrap();
    let err = client
        .decrypt(&msg, &DecryptOptions::keyring(&other))
        .unwrap_err();
    let text = err.to_string();
    let Error::NoDecryptableKey(all) = err else {
        panic!("expected NoDecryptableKey, got {text}");
    };
    assert_eq!(all.len(), 65_535);
    assert!(all.iter().skip(1).all(|f| f.provider_id.is_empty()));
    assert!(
        text.starts_with("no encrypted data key could be decrypted (65535 tried); "),
        "{text}"
    );
    assert!(
        text.ends_with(&format!("; and {} more", 65_535 - MAX_LISTED_FAILURES)),
        "{text}"
    );
    assert_eq!(text.matches("; ").count(), MAX_LISTED_FAILURES + 1);
    assert!(text.len() < 2_048, "{} bytes: {text}", text.len());
}
