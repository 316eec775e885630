//! Chunking invariance: however the input is split — one byte at a time, exactly the hinted
//! `min_len`, random chunk sizes, or any single split point — the decryptor releases the same
//! plaintext in the same chunks, goes through the same (non-`NeedInput`) states and ends with
//! the same result as when the whole message is fed at once. For valid messages of every suite
//! and for corrupted ones.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::std_instead_of_core
)]

mod support;

use esdk_core::{AlgorithmSuite, DecryptLimits};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use std::collections::BTreeMap;
use support::{
    Key, Outcome, Spec, allow_all, decrypt_all, decrypt_chunked, encrypt_known, plaintext,
};

/// How the input is cut into pieces.
#[derive(Debug, Clone)]
enum Chunking {
    OneByte,
    /// Exactly what the decryptor says it needs next.
    MinLen,
    /// Chunk sizes cycled in order.
    Sizes(Vec<usize>),
}

fn feeder(c: &Chunking) -> Box<dyn FnMut(usize, usize) -> usize + '_> {
    match c {
        Chunking::OneByte => Box::new(|_, _| 1),
        Chunking::MinLen => Box::new(|min_len, buffered| min_len - buffered),
        Chunking::Sizes(sizes) => {
            let mut i = 0usize;
            Box::new(move |_, _| {
                i += 1;
                sizes[(i - 1) % sizes.len()]
            })
        }
    }
}

fn chunking() -> impl Strategy<Value = Chunking> {
    prop_oneof![
        Just(Chunking::OneByte),
        Just(Chunking::MinLen),
        prop::collection::vec(1usize..48, 1..12).prop_map(Chunking::Sizes),
        prop::collection::vec(1usize..600, 1..6).prop_map(Chunking::Sizes),
    ]
}

#[derive(Debug, Clone)]
struct Plan {
    suite: AlgorithmSuite,
    non_framed: bool,
    frame_length: u32,
    pt: Vec<u8>,
    pairs: BTreeMap<String, String>,
}

fn plan() -> impl Strategy<Value = Plan> {
    (
        select(AlgorithmSuite::ALL.to_vec()),
        prop::bool::weighted(0.2),
        select(vec![1u32, 17, 64]),
        prop::collection::vec(any::<u8>(), 0..=300),
        prop::collection::btree_map("[a-z\u{e9}\u{4e2d}]{1,6}", "[ -~\u{0}\u{fc}]{0,10}", 0..4),
    )
        .prop_map(|(suite, non_framed, frame_length, pt, pairs)| Plan {
            suite,
            non_framed,
            frame_length,
            pt,
            pairs,
        })
}

fn encrypt(plan: &Plan) -> support::Encrypted {
    let pairs: Vec<(&str, &str)> = plan
        .pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut spec = Spec::new(plan.suite, plan.frame_length).pairs(&pairs);
    if plan.non_framed {
        spec = spec.non_framed();
    }
    encrypt_known(spec, &plan.pt)
}

fn expected_states(plan: &Plan) -> Vec<&'static str> {
    let frames = if plan.non_framed {
        1
    } else {
        plan.pt.len().div_ceil(plan.frame_length as usize).max(1)
    };
    let mut s = vec!["materials", "header"];
    s.extend(std::iter::repeat_n("plaintext", frames));
    s.push("done");
    s
}

/// What a corruption does to a valid message.
#[derive(Debug, Clone)]
enum Corruption {
    FlipBit(Index, u8),
    SetByte(Index, u8),
    Truncate(Index),
    Append(Vec<u8>),
    DuplicateRange(Index, Index),
}

fn corruption() -> impl Strategy<Value = Corruption> {
    prop_oneof![
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| Corruption::FlipBit(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, v)| Corruption::SetByte(i, v)),
        any::<Index>().prop_map(Corruption::Truncate),
        prop::collection::vec(any::<u8>(), 1..40).prop_map(Corruption::Append),
        (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Corruption::DuplicateRange(a, b)),
    ]
}

fn corrupt(msg: &[u8], c: &Corruption) -> Vec<u8> {
    let mut m = msg.to_vec();
    match c {
        Corruption::FlipBit(i, b) => m[i.index(msg.len())] ^= 1 << b,
        Corruption::SetByte(i, v) => m[i.index(msg.len())] = *v,
        Corruption::Truncate(i) => m.truncate(i.index(msg.len())),
        Corruption::Append(extra) => m.extend_from_slice(extra),
        Corruption::DuplicateRange(a, b) => {
            let (a, b) = (a.index(msg.len()), b.index(msg.len()));
            let (lo, hi) = (a.min(b), a.max(b) + 1);
            let copy = m[lo..hi].to_vec();
            m.splice(hi..hi, copy);
        }
    }
    m
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 640, failure_persistence: None, ..ProptestConfig::default() })]

    /// Valid messages of every suite: the same outcome for every chunking, and it is the
    /// expected one.
    #[test]
    fn valid_messages_decrypt_identically_under_any_chunking(plan in plan(), chunkings in prop::collection::vec(chunking(), 1..3)) {
        let e = encrypt(&plan);
        let reference = decrypt_all(&e.msg, Key::Data(&e.data_key), allow_all());
        prop_assert_eq!(&reference.result, &Ok(()));
        prop_assert_eq!(&reference.plaintext, &plan.pt);
        prop_assert_eq!(&reference.states, &expected_states(&plan));
        let mut all = vec![Chunking::OneByte, Chunking::MinLen];
        all.extend(chunkings);
        for c in &all {
            let out = decrypt_chunked(&e.msg, Key::Data(&e.data_key), allow_all(), feeder(c));
            prop_assert_eq!(&out, &reference, "chunking {:?}", c);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// Corrupted messages fail, and fail the same way under every chunking (same error, same
    /// states, same released chunks).
    #[test]
    fn corrupted_messages_fail_identically_under_any_chunking(plan in plan(), c in corruption(), chunkings in prop::collection::vec(chunking(), 1..3)) {
        let e = encrypt(&plan);
        let msg = corrupt(&e.msg, &c);
        let reference = decrypt_all(&msg, Key::Data(&e.data_key), allow_all());
        if msg != e.msg {
            prop_assert!(reference.result.is_err(), "corruption {:?} accepted", c);
        }
        let mut all = vec![Chunking::OneByte, Chunking::MinLen];
        all.extend(chunkings);
        for ch in &all {
            let out = decrypt_chunked(&msg, Key::Data(&e.data_key), allow_all(), feeder(ch));
            prop_assert_eq!(&out, &reference, "chunking {:?}", ch);
        }
    }
}

fn limits() -> impl Strategy<Value = DecryptLimits> {
    (0u16..3, 0u64..400, prop::bool::ANY, 0u32..80, 0u64..400).prop_map(
        |(edks, header, tight_header, frame, body)| {
            DecryptLimits::default()
                .with_max_encrypted_data_keys(edks)
                .with_max_header_len(if tight_header { header } else { u64::MAX })
                .with_max_frame_len(frame)
                .with_max_body_len(body)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 384, failure_persistence: None, ..ProptestConfig::default() })]

    /// With tight resource limits, valid and corrupted messages still end the same way under
    /// every chunking: a limit is decided from the bytes, not from how they arrived.
    #[test]
    fn limits_are_chunking_independent(
        plan in plan(),
        c in prop::option::of(corruption()),
        limits in limits(),
        chunkings in prop::collection::vec(chunking(), 1..3),
    ) {
        let e = encrypt(&plan);
        let msg = match &c { Some(c) => corrupt(&e.msg, c), None => e.msg.clone() };
        let config = allow_all().with_limits(limits);
        let reference = decrypt_all(&msg, Key::Data(&e.data_key), config);
        let mut all = vec![Chunking::OneByte, Chunking::MinLen];
        all.extend(chunkings);
        for ch in &all {
            let out = decrypt_chunked(&msg, Key::Data(&e.data_key), config, feeder(ch));
            prop_assert_eq!(&out, &reference, "chunking {:?}", ch);
        }
    }
}

/// Every single split point of small messages of each shape (framed and not, signed and not,
/// v1 and v2): feeding `msg[..k]` and then the rest gives the all-at-once outcome.
#[test]
fn every_split_point() {
    let shapes = [
        (AlgorithmSuite::AES_128_GCM_IV12_TAG16_NO_KDF, false),
        (
            AlgorithmSuite::AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384,
            false,
        ),
        (AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY, false),
        (
            AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
            false,
        ),
        (AlgorithmSuite::AES_256_GCM_IV12_TAG16_HKDF_SHA256, true),
    ];
    for (suite, non_framed) in shapes {
        let pt = plaintext(40);
        let mut spec = Spec::new(suite, 17).pairs(&[("a", "1"), ("b", "2")]);
        if non_framed {
            spec = spec.non_framed();
        }
        let e = encrypt_known(spec, &pt);
        let reference: Outcome = decrypt_all(&e.msg, Key::Data(&e.data_key), allow_all());
        assert_eq!(reference.plaintext, pt);
        for k in 1..e.msg.len() {
            let mut first = true;
            let out = decrypt_chunked(&e.msg, Key::Data(&e.data_key), allow_all(), |_, _| {
                if std::mem::take(&mut first) {
                    k
                } else {
                    usize::MAX
                }
            });
            assert_eq!(out, reference, "suite {suite} split at {k}");
        }
    }
}
