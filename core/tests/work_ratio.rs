//! Decryption work is linear in the bytes received, whatever the chunking (issue #11).
//!
//! The parsers count the bytes they examine (`esdk_core::work`, feature `work-counter`, enabled
//! for this crate's tests). For hostile but valid messages — 65,535 EDKs, and the largest
//! encryption context stored in reverse order — decrypting one byte per call, or by exactly the
//! `min_len` the decryptor asks for, must examine at most 3 × (+ 64 bytes) what decrypting the
//! message at once examines, and the one-shot run must stay within a small constant per byte.
//! The counter is per thread, so these tests may run in parallel with any other.
#![allow(clippy::cast_possible_truncation)]

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

use common::work::{
    Feeding, MAX_DISTINCT_PAIRS, Outcome, Spec, answer_raw_aes, config, decrypt_counted, plaintext,
    smallest_keys, valid_message, work_bound,
};
use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::decrypt::MaterialsRequest;
use esdk_core::error::FormatError;
use esdk_core::{AlgorithmSuite, DecryptConfig, Error, HeaderRef};

/// Decrypts `msg` fed all at once, one byte per call and by `min_len`; checks every run gives
/// the same result and plaintext and keeps the work bound; returns the three outcomes.
fn three_ways(msg: &[u8], cfg: DecryptConfig) -> [Outcome; 3] {
    let mut answer = |r: MaterialsRequest<'_, RustCrypto>| answer_raw_aes(r);
    let all = decrypt_counted(msg, Feeding::All, cfg, &mut answer);
    let one = decrypt_counted(msg, Feeding::OneByte, cfg, &mut answer);
    let min = decrypt_counted(msg, Feeding::MinLen, cfg, &mut answer);
    for (name, o) in [("one byte", &one), ("min_len", &min)] {
        assert_eq!(o.result, all.result, "{name}");
        assert_eq!(o.plaintext, all.plaintext, "{name}");
        assert!(
            o.work <= work_bound(all.work),
            "{name}: examined {} bytes, {} at once ({} message bytes)",
            o.work,
            all.work,
            msg.len()
        );
    }
    // A one-byte caller runs the parser exactly when a `min_len` caller does.
    assert_eq!(one.parser_runs, min.parser_runs);
    eprintln!(
        "{} bytes: work at once {}, one byte {} ({:.3}x, {} calls, {} parser runs), min_len {} \
         ({:.3}x, {} calls, {} parser runs)",
        msg.len(),
        all.work,
        one.work,
        one.work as f64 / all.work as f64,
        one.calls,
        one.parser_runs,
        min.work,
        min.work as f64 / all.work as f64,
        min.calls,
        min.parser_runs
    );
    [all, one, min]
}

#[test]
fn edks_65535_cost_linear_work() {
    let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
    let msg = valid_message(&Spec {
        suite,
        extra_edks: 65_534,
        context: vec![("purpose".into(), "work".into())],
        reverse_context: false,
        plaintext_len: 5000,
    });
    let (h, hl) = HeaderRef::parse(&msg, &Default::default()).unwrap();
    assert_eq!(h.encrypted_data_keys().len(), 65_535);
    assert!(hl > 393_000, "{hl}");
    let [all, one, min] = three_ways(&msg, config(suite));
    assert_eq!(all.result, Ok(()));
    assert_eq!(all.plaintext, plaintext(5000));
    // The fixed cost per call: a call that cannot complete what the parser waits for is
    // answered from one stored length, and in the EDK list the parser waits for every
    // remaining entry at its smallest (6 bytes), so the list is read in a few runs however it
    // arrives. The header has ~20 other fields: the parser runs a bounded number of times for
    // 393K one-byte calls, and a `min_len` caller makes a bounded number of calls (before: one
    // run per field end, ~196K, and ~196K `min_len` calls).
    assert!(
        one.parser_runs <= 32,
        "one byte: {} parser runs",
        one.parser_runs
    );
    assert!(
        min.parser_runs <= 32,
        "min_len: {} parser runs",
        min.parser_runs
    );
    // The body (5000 bytes in 4,096-byte frames) adds a few calls per frame.
    assert!(min.calls <= 48, "min_len: {} calls", min.calls);
    // The header parse, the EDK walk of the materials answer and the owned copies: a few
    // passes over the header, never more.
    assert!(all.work <= 4 * msg.len(), "{} for {}", all.work, msg.len());
}

#[test]
fn reversed_context_costs_linear_work() {
    let suite = AlgorithmSuite::AES_256_GCM_IV12_TAG16_NO_KDF;
    let msg = valid_message(&Spec {
        suite,
        extra_edks: 0,
        context: smallest_keys(MAX_DISTINCT_PAIRS),
        reverse_context: true,
        plaintext_len: 100,
    });
    let cfg = config(suite);
    let (h, hl) = HeaderRef::parse(
        &msg,
        &esdk_core::header::ParseOptions {
            commitment_policy: cfg.commitment_policy,
            ..Default::default()
        },
    )
    .unwrap();
    let ec = h.encryption_context();
    assert_eq!(ec.len(), MAX_DISTINCT_PAIRS);
    assert!(!ec.is_canonical() && ec.as_bytes().len() > 65_500);
    let [all, ..] = three_ways(&msg, cfg);
    assert_eq!(all.result, Ok(()));
    assert_eq!(all.plaintext, plaintext(100));
    // The duplicate-key check sorts blocks of keys: n log n comparisons of 1–3 bytes. The old
    // pairwise check examined ~10^8 bytes here.
    assert!(all.work <= 64 * hl, "{} for a {hl}-byte header", all.work);
}

/// 16,383 pairs (the most a 65,535-byte context can count) must repeat keys: the header fails
/// with the duplicate-key error, after the same bounded work however it is fed.
#[test]
fn context_of_16383_pairs_fails_in_bounded_work() {
    let suite = AlgorithmSuite::AES_256_GCM_IV12_TAG16_NO_KDF;
    let mut msg = valid_message(&Spec {
        suite,
        extra_edks: 0,
        context: vec![],
        reverse_context: false,
        plaintext_len: 10,
    });
    // Replace the empty context (AAD length 0 at offset 20) by 16,383 pairs, which fill the
    // 65,535 bytes exactly: the key "a", then 16,382 empty keys.
    let mut ec = 16_383u16.to_be_bytes().to_vec();
    ec.extend_from_slice(&[0, 1, b'a', 0, 0]);
    for _ in 1..16_383 {
        ec.extend_from_slice(&[0, 0, 0, 0]);
    }
    assert_eq!(ec.len(), 65_535);
    let at = 1 + 1 + 2 + 16;
    assert_eq!(&msg[at..at + 2], &[0, 0]);
    msg.splice(
        at..at + 2,
        (ec.len() as u16)
            .to_be_bytes()
            .into_iter()
            .chain(ec.iter().copied()),
    );
    let cfg = config(suite);
    let [all, ..] = three_ways(&msg, cfg);
    assert!(
        matches!(
            all.result,
            Err(Error::Format(FormatError {
                problem: "duplicate key",
                ..
            }))
        ),
        "{:?}",
        all.result
    );
    assert!(
        all.work <= 64 * ec.len(),
        "{} for {} context bytes",
        all.work,
        ec.len()
    );
}

/// Deferring the materials request re-parses nothing: the work is exactly that of answering at
/// once.
#[test]
fn deferred_requests_do_not_parse_again() {
    let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
    let msg = valid_message(&Spec {
        suite,
        extra_edks: 5_000,
        context: smallest_keys(2_000),
        reverse_context: false,
        plaintext_len: 10,
    });
    let cfg = config(suite);
    let mut plain = |r: MaterialsRequest<'_, RustCrypto>| answer_raw_aes(r);
    let base = decrypt_counted(&msg, Feeding::All, cfg, &mut plain);
    let mut defers = 0;
    let mut deferring = |r: MaterialsRequest<'_, RustCrypto>| {
        if defers < 5 {
            defers += 1;
            r.defer();
        } else {
            answer_raw_aes(r);
        }
    };
    let deferred = decrypt_counted(&msg, Feeding::All, cfg, &mut deferring);
    assert_eq!(deferred.result, Ok(()));
    assert_eq!(deferred.plaintext, base.plaintext);
    assert_eq!(deferred.calls, base.calls + 5);
    assert_eq!(deferred.work, base.work);
}
