//! Negative tests: one test per item of the decrypt MUST-fail checklist (spec-digest §7, items
//! 1–29), the "do not fail" row, and the cross-cutting rules (sticky errors, trailing data,
//! truncation at every offset, every bit flip, resource limits checked before buffering,
//! unsigned-only mode, Base64 detection, abandoned and aborted materials requests).
//!
//! Malformed messages are built either by mutating bytes of a valid message at offsets computed
//! from the format layout (`support::layout`), or with `support::Forge`, which writes every
//! field itself and computes correct tags and signatures, so that a message can break exactly
//! one structural rule while everything else authenticates.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::std_instead_of_core
)]

mod support;

use base64::Engine;
use esdk_core::crypto::CryptoProvider;
use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::decrypt::DecryptState;
use esdk_core::encryption_context::{EncryptionContextRef, PUBLIC_KEY_FIELD};
use esdk_core::error::{
    AuthStage, FormatError, LimitError, LimitKind, MaterialsError, PolicyError, Unsupported,
    UsageError,
};
use esdk_core::suite::SignatureAlg;
use esdk_core::{
    AlgorithmSuite, CommitmentPolicy, DataKey, DecryptConfig, DecryptLimits,
    DecryptionMaterialsRef, Decryptor, Error, ErrorCategory, SignaturePolicy, SigningKey,
};
use support::{
    Forge, Key, Outcome, Run, Spec, allow_all, decrypt_all, decrypt_chunked, drive, ec_bytes,
    ec_bytes_raw, edk_entry, encrypt_known, layout, plaintext, public_key_b64, seq_iv,
};

const V1: AlgorithmSuite = AlgorithmSuite::AES_256_GCM_IV12_TAG16_HKDF_SHA256;
const V1_NO_KDF: AlgorithmSuite = AlgorithmSuite::AES_128_GCM_IV12_TAG16_NO_KDF;
const V1_SIGNED: AlgorithmSuite = AlgorithmSuite::AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256;
const V1_SIGNED_384: AlgorithmSuite = AlgorithmSuite::AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384;
const V2: AlgorithmSuite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
const V2_SIGNED: AlgorithmSuite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
/// One suite of each shape: v1 / v2 × unsigned / signed.
const SHAPES: [AlgorithmSuite; 4] = [V1, V1_SIGNED, V2, V2_SIGNED];

const FRAME: u32 = 16;

// ---------------------------------------------------------------------------------------------
// Helpers

/// The error of a failed outcome.
fn err_of(out: &Outcome) -> Error {
    out.result.expect_err("decryption must fail")
}

/// Decrypts all at once and one byte at a time; both must fail identically with `want`,
/// releasing exactly `released` chunks. Returns the all-at-once outcome.
fn rejects_with(
    msg: &[u8],
    key: &DataKey,
    config: DecryptConfig,
    want: Error,
    released: &[Vec<u8>],
) -> Outcome {
    let out = decrypt_all(msg, Key::Data(key), config);
    assert_eq!(out.result, Err(want), "states {:?}", out.states);
    assert_eq!(out.chunks, released, "released plaintext");
    assert!(!out.states.contains(&"done"));
    let slow = decrypt_chunked(msg, Key::Data(key), config, |_, _| 1);
    assert_eq!(slow, out, "one byte at a time differs from all at once");
    out
}

/// Feeds only `prefix` (no end of input): the decryptor must fail without asking for more.
fn prefix_error(prefix: &[u8], key: Key<'_>, config: DecryptConfig) -> Error {
    let run = drive(prefix, key, config, |_, _| usize::MAX, false);
    assert_eq!(
        run.waiting, None,
        "decryptor waited for more input instead of failing"
    );
    run.outcome.result.expect_err("must fail on the prefix")
}

/// Feeds `msg` one byte at a time; returns the run (with the number of bytes fed at the end).
fn byte_by_byte(msg: &[u8], key: Key<'_>, config: DecryptConfig) -> Run {
    drive(msg, key, config, |_, _| 1, true)
}

/// The plaintext chunks the frames of a framed message carry.
fn frame_chunks(pt: &[u8], f: u32) -> Vec<Vec<u8>> {
    if pt.is_empty() {
        vec![vec![]]
    } else {
        pt.chunks(f as usize).map(<[u8]>::to_vec).collect()
    }
}

fn format_field(e: Error) -> &'static str {
    match e {
        Error::Format(FormatError { field, .. }) => field,
        other => panic!("expected a format error, got {other:?}"),
    }
}

fn limit(what: LimitKind, limit: u64, actual: u64) -> Error {
    Error::Limit(LimitError {
        what,
        limit,
        actual,
    })
}

fn with_limits(limits: DecryptLimits) -> DecryptConfig {
    allow_all().with_limits(limits)
}

fn set_u16(m: &mut [u8], at: usize, v: u16) {
    m[at..at + 2].copy_from_slice(&v.to_be_bytes());
}
fn set_u32(m: &mut [u8], at: usize, v: u32) {
    m[at..at + 4].copy_from_slice(&v.to_be_bytes());
}

/// A small valid message with a known key: 3 frames of 16 bytes + a 7-byte final frame.
fn small(suite: AlgorithmSuite) -> (support::Encrypted, Vec<u8>) {
    let pt = plaintext(2 * FRAME as usize + 7);
    (
        encrypt_known(
            Spec::new(suite, FRAME).pairs(&[("purpose", "negative"), ("n", "1")]),
            &pt,
        ),
        pt,
    )
}

// ---------------------------------------------------------------------------------------------
// The forge itself must write valid messages, or the forged negatives would prove nothing.

#[test]
fn forge_writes_valid_messages() {
    for suite in AlgorithmSuite::ALL {
        for (len, f) in [(0usize, 16u32), (5, 16), (16, 16), (40, 16), (33, 1)] {
            let forge = Forge::new(suite, f, &[("a", "b")]);
            let pt = plaintext(len);
            let msg = forge.message(&pt, seq_iv);
            let out = decrypt_all(&msg, Key::Data(&forge.data_key), allow_all());
            assert_eq!(out.result, Ok(()), "suite {suite} len {len}");
            assert_eq!(out.plaintext, pt);
            assert_eq!(out.chunks, frame_chunks(&pt, f));
        }
        let mut forge = Forge::new(suite, 0, &[]);
        forge.content_type = 1;
        let msg = forge.message(b"non-framed", seq_iv);
        let out = decrypt_all(&msg, Key::Data(&forge.data_key), allow_all());
        assert_eq!(out.plaintext, b"non-framed", "suite {suite}");
    }
}

// ---------------------------------------------------------------------------------------------
// §7 items 1–29

/// 1: version byte not 0x01 / 0x02 — rejected as soon as the first byte is there.
#[test]
fn item01_unknown_version() {
    for suite in [V1, V2] {
        let (e, _) = small(suite);
        for v in [0x00u8, 0x03, 0x10, 0x80, 0xFF] {
            let mut m = e.msg.clone();
            m[0] = v;
            let want = Error::Unsupported(Unsupported::Version(v));
            assert_eq!(
                prefix_error(&m[..1], Key::Data(&e.data_key), allow_all()),
                want
            );
            let out = rejects_with(&m, &e.data_key, allow_all(), want, &[]);
            assert!(out.states.is_empty());
        }
    }
}

/// 2: v1 type byte other than 0x80.
#[test]
fn item02_v1_message_type() {
    let (e, _) = small(V1);
    for t in [0x00u8, 0x01, 0x7F, 0x81, 0xFF] {
        let mut m = e.msg.clone();
        m[1] = t;
        let want = Error::Unsupported(Unsupported::MessageType(t));
        assert_eq!(
            prefix_error(&m[..2], Key::Data(&e.data_key), allow_all()),
            want
        );
        rejects_with(&m, &e.data_key, allow_all(), want, &[]);
    }
}

/// 3: unknown suite ids, the reserved 0x0000 and the other formats' suites (S3EC, DBE).
#[test]
fn item03_unknown_and_foreign_suite_ids() {
    let ids = [
        0x0000u16, 0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x6700, 0x6701, 0x0015, 0x0479, 0x0100,
        0xFFFF,
    ];
    for suite in [V1, V2] {
        let (e, _) = small(suite);
        let at = layout(&e.msg).header.suite_at;
        for id in ids {
            let mut m = e.msg.clone();
            set_u16(&mut m, at, id);
            let want = Error::Unsupported(Unsupported::Suite(id));
            // Decided from the suite field alone.
            assert_eq!(
                prefix_error(&m[..at + 2], Key::Data(&e.data_key), allow_all()),
                want
            );
            let out = rejects_with(&m, &e.data_key, allow_all(), want, &[]);
            assert_eq!(err_of(&out).category(), ErrorCategory::Unsupported);
        }
    }
}

/// 4: committing suite in a v1 header, non-committing suite in a v2 header.
#[test]
fn item04_suite_version_mismatch() {
    let (e1, _) = small(V1);
    for s in [V2, V2_SIGNED] {
        let mut m = e1.msg.clone();
        set_u16(&mut m, 2, s.id());
        let want = Error::Unsupported(Unsupported::SuiteVersionMismatch {
            suite: s.id(),
            version: 1,
        });
        assert_eq!(
            prefix_error(&m[..4], Key::Data(&e1.data_key), allow_all()),
            want
        );
        rejects_with(&m, &e1.data_key, allow_all(), want, &[]);
    }
    let (e2, _) = small(V2);
    for s in AlgorithmSuite::ALL
        .into_iter()
        .filter(|s| !s.is_committing())
    {
        let mut m = e2.msg.clone();
        set_u16(&mut m, 1, s.id());
        let want = Error::Unsupported(Unsupported::SuiteVersionMismatch {
            suite: s.id(),
            version: 2,
        });
        assert_eq!(
            prefix_error(&m[..3], Key::Data(&e2.data_key), allow_all()),
            want
        );
        rejects_with(&m, &e2.data_key, allow_all(), want, &[]);
    }
}

/// 5: suite not allowed by the commitment policy. Checked on the header's suite before any
/// materials are requested. (The check on the materials' suite is reached only after the
/// materials' suite was required to equal the header's — item 17 — so it cannot fail on its own.)
#[test]
fn item05_commitment_policy() {
    for suite in AlgorithmSuite::ALL
        .into_iter()
        .filter(|s| !s.is_committing())
    {
        let e = encrypt_known(Spec::new(suite, FRAME), b"x");
        for config in [
            DecryptConfig::default(),
            allow_all().with_commitment_policy(CommitmentPolicy::RequireEncryptRequireDecrypt),
        ] {
            let want = Error::Policy(PolicyError::CommitmentPolicy {
                suite: suite.id(),
                policy: CommitmentPolicy::RequireEncryptRequireDecrypt,
            });
            // Right after the suite id, before NeedMaterials.
            assert_eq!(
                prefix_error(&e.msg[..4], Key::Data(&e.data_key), config),
                want
            );
            let out = rejects_with(&e.msg, &e.data_key, config, want, &[]);
            assert!(
                out.states.is_empty(),
                "materials were requested: {:?}",
                out.states
            );
        }
        // The permissive policies decrypt it.
        for policy in [
            CommitmentPolicy::ForbidEncryptAllowDecrypt,
            CommitmentPolicy::RequireEncryptAllowDecrypt,
        ] {
            let config = DecryptConfig::default().with_commitment_policy(policy);
            assert_eq!(
                decrypt_all(&e.msg, Key::Data(&e.data_key), config).plaintext,
                b"x"
            );
        }
    }
}

/// 6: malformed encryption context (count 0 with more bytes, entries not filling the AAD
/// exactly, duplicate keys, invalid UTF-8). Every forged header is otherwise valid and
/// authenticated; the error comes as soon as the AAD field is complete.
#[test]
fn item06_malformed_encryption_context() {
    let dup_adjacent = ec_bytes_raw(&[(b"a", b"1"), (b"a", b"2")]);
    let dup_apart = ec_bytes_raw(&[(b"a", b"1"), (b"b", b"2"), (b"a", b"3")]);
    let mut count_too_big = ec_bytes_raw(&[(b"a", b"1")]);
    count_too_big[1] = 2;
    let mut count_too_small = ec_bytes_raw(&[(b"a", b"1"), (b"b", b"2")]);
    count_too_small[1] = 1;
    let mut trailing = ec_bytes_raw(&[(b"a", b"1")]);
    trailing.push(0);
    let mut key_len_overrun = ec_bytes_raw(&[(b"a", b"1")]);
    key_len_overrun[3] = 9;
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("count 0 with AAD length 4", vec![0, 0, 0, 0]),
        ("count 0 with AAD length 3", vec![0, 0, 0]),
        ("AAD length 1", vec![0]),
        ("count larger than the entries", count_too_big),
        ("count smaller than the entries", count_too_small),
        ("byte after the last entry", trailing),
        ("key length overruns the AAD", key_len_overrun),
        ("duplicate key, adjacent", dup_adjacent),
        ("duplicate key, apart", dup_apart),
        ("invalid UTF-8 key", ec_bytes_raw(&[(&[0xFF], b"v")])),
        (
            "invalid UTF-8 value",
            ec_bytes_raw(&[(b"k", &[0xC0, 0x80])]),
        ),
        (
            "surrogate in value",
            ec_bytes_raw(&[(b"k", &[0xED, 0xA0, 0x80])]),
        ),
    ];
    for suite in [V1, V2] {
        for (name, aad) in &cases {
            let mut forge = Forge::new(suite, FRAME, &[]);
            forge.aad = aad.clone();
            let msg = forge.message(b"hello", seq_iv);
            let l = support::header_layout(&msg);
            let e = prefix_error(&msg[..l.aad.end], Key::Data(&forge.data_key), allow_all());
            assert_eq!(format_field(e), "encryption context", "{name}");
            rejects_with(&msg, &forge.data_key, allow_all(), e, &[]);
        }
    }
}

/// 7: EDK count 0.
#[test]
fn item07_zero_encrypted_data_keys() {
    for suite in [V1, V2_SIGNED] {
        let mut forge = Forge::new(suite, FRAME, &[]);
        forge.edk_count = 0;
        forge.edks.clear();
        let msg = forge.message(b"hello", seq_iv);
        let l = support::header_layout(&msg);
        let e = prefix_error(
            &msg[..l.edk_count_at + 2],
            Key::Data(&forge.data_key),
            allow_all(),
        );
        assert_eq!(format_field(e), "encrypted data key count");
        rejects_with(&msg, &forge.data_key, allow_all(), e, &[]);
    }
}

/// 8: EDK count over the configured maximum — decided at the count field, before any entry is
/// read or buffered.
#[test]
fn item08_too_many_encrypted_data_keys() {
    for suite in [V1, V2] {
        let mut forge = Forge::new(suite, FRAME, &[]);
        forge.edk_count = 3;
        forge.edks = [
            edk_entry(b"a", b"1", &[1; 40]),
            edk_entry(b"b", b"2", &[2; 40]),
            edk_entry(b"c", b"3", &[3; 40]),
        ]
        .concat();
        let msg = forge.message(b"hello", seq_iv);
        let l = support::header_layout(&msg);
        let config = with_limits(DecryptLimits::default().with_max_encrypted_data_keys(2));
        let want = limit(LimitKind::EncryptedDataKeys, 2, 3);
        let run = byte_by_byte(&msg, Key::Data(&forge.data_key), config);
        assert_eq!(run.outcome.result, Err(want));
        assert_eq!(
            run.fed,
            l.edk_count_at + 2,
            "failed only after buffering entries"
        );
        rejects_with(&msg, &forge.data_key, config, want, &[]);
        // At the limit it decrypts.
        let ok = with_limits(DecryptLimits::default().with_max_encrypted_data_keys(3));
        assert_eq!(
            decrypt_all(&msg, Key::Data(&forge.data_key), ok).result,
            Ok(())
        );
        // A count of 65,535 with no entries present at all fails from the count alone.
        let mut m = msg[..l.edk_count_at + 2].to_vec();
        set_u16(&mut m, l.edk_count_at, u16::MAX);
        assert_eq!(
            prefix_error(&m, Key::Data(&forge.data_key), config),
            limit(LimitKind::EncryptedDataKeys, 2, 65_535)
        );
    }
}

/// 9: content type other than 0x01 / 0x02.
#[test]
fn item09_content_type() {
    for suite in [V1, V2] {
        let (e, _) = small(suite);
        let at = layout(&e.msg).header.content_type_at;
        for c in [0x00u8, 0x03, 0x80, 0xFF] {
            let mut m = e.msg.clone();
            m[at] = c;
            let want = Error::Unsupported(Unsupported::ContentType(c));
            assert_eq!(
                prefix_error(&m[..=at], Key::Data(&e.data_key), allow_all()),
                want
            );
            rejects_with(&m, &e.data_key, allow_all(), want, &[]);
        }
    }
}

/// 10: v1 reserved field not all zero (each of its four bytes).
#[test]
fn item10_v1_reserved_field() {
    let (e, _) = small(V1_SIGNED);
    let at = layout(&e.msg).header.reserved_at.unwrap();
    for i in 0..4 {
        for v in [0x01u8, 0x80] {
            let mut m = e.msg.clone();
            m[at + i] = v;
            let err = prefix_error(&m[..at + 4], Key::Data(&e.data_key), allow_all());
            assert_eq!(format_field(err), "header.reserved");
            rejects_with(&m, &e.data_key, allow_all(), err, &[]);
        }
    }
}

/// 11: v1 IV length other than 12.
#[test]
fn item11_v1_iv_length() {
    let (e, _) = small(V1);
    let at = layout(&e.msg).header.iv_len_at.unwrap();
    for v in [0u8, 11, 13, 16, 255] {
        let mut m = e.msg.clone();
        m[at] = v;
        let err = prefix_error(&m[..=at], Key::Data(&e.data_key), allow_all());
        assert_eq!(format_field(err), "header.iv_length");
        rejects_with(&m, &e.data_key, allow_all(), err, &[]);
    }
}

/// 12: framed with frame length 0; non-framed with a non-zero frame length.
#[test]
fn item12_frame_length_vs_content_type() {
    for suite in [V1, V2] {
        let (e, _) = small(suite);
        let at = layout(&e.msg).header.frame_length_at;
        let mut m = e.msg.clone();
        set_u32(&mut m, at, 0);
        let err = prefix_error(&m[..at + 4], Key::Data(&e.data_key), allow_all());
        assert_eq!(format_field(err), "header.frame_length");
        rejects_with(&m, &e.data_key, allow_all(), err, &[]);

        let nf = encrypt_known(Spec::new(suite, 0).non_framed(), b"non-framed");
        let at = layout(&nf.msg).header.frame_length_at;
        for fl in [1u32, 4096, u32::MAX] {
            let mut m = nf.msg.clone();
            set_u32(&mut m, at, fl);
            let err = prefix_error(&m[..at + 4], Key::Data(&nf.data_key), allow_all());
            assert_eq!(format_field(err), "header.frame_length");
            rejects_with(&m, &nf.data_key, allow_all(), err, &[]);
        }
    }
}

/// 13: input ends inside the header, the body or the footer. (Every offset: see
/// `truncation_at_every_offset`.)
#[test]
fn item13_truncated_header_body_footer() {
    for suite in SHAPES {
        let (e, pt) = small(suite);
        let l = layout(&e.msg);
        let chunks = frame_chunks(&pt, FRAME);
        // Inside the header: nothing happens but waiting, then Truncated at end of input.
        let cut = l.header.len / 2;
        let out = rejects_with(
            &e.msg[..cut],
            &e.data_key,
            allow_all(),
            Error::Truncated,
            &[],
        );
        assert!(out.states.is_empty());
        // Inside the second frame: the first frame was released, nothing of the second.
        let cut = l.frames[1].range.start + 20;
        let out = rejects_with(
            &e.msg[..cut],
            &e.data_key,
            allow_all(),
            Error::Truncated,
            &chunks[..1],
        );
        assert_eq!(out.states, ["materials", "header", "plaintext"]);
        // Inside the final frame.
        let cut = l.final_frame().range.end - 1;
        rejects_with(
            &e.msg[..cut],
            &e.data_key,
            allow_all(),
            Error::Truncated,
            &chunks[..2],
        );
        // Inside the footer (signed suites): the final frame is held back.
        if suite.is_signed() {
            let cut = l.footer.start + 10;
            rejects_with(
                &e.msg[..cut],
                &e.data_key,
                allow_all(),
                Error::Truncated,
                &chunks[..2],
            );
        }
    }
}

/// 14: signed suite without `aws-crypto-public-key`, unsigned suite with it, and a malformed
/// value (bad base64, wrong length, uncompressed or off-curve point). The headers are otherwise
/// valid and authenticated. In esdk-std the default CMM performs the same checks when it builds
/// decryption materials; the core enforces them on whatever materials it is given.
#[test]
fn item14_public_key_entry() {
    let want = Error::Materials(MaterialsError::PublicKeyEntry);
    let check = |forge: &Forge| {
        let msg = forge.message(b"hello", seq_iv);
        let out = rejects_with(&msg, &forge.data_key, allow_all(), want, &[]);
        assert_eq!(out.states, ["materials"], "the header must not verify");
    };
    for suite in [V1_SIGNED, V1_SIGNED_384, V2_SIGNED] {
        let alg = suite.signature().unwrap();
        // Missing entry (the footer is still a valid signature by the forge's key).
        let mut forge = Forge::new(suite, FRAME, &[]);
        forge.aad = ec_bytes(&[("purpose", "no key")]);
        check(&forge);
        forge.aad = vec![];
        check(&forge);
        // Malformed values.
        let other_curve = match alg {
            SignatureAlg::EcdsaP256Sha256 => SignatureAlg::EcdsaP384Sha384,
            SignatureAlg::EcdsaP384Sha384 => SignatureAlg::EcdsaP256Sha256,
        };
        let other_key = public_key_b64(
            &SigningKey::generate(&RustCrypto, other_curve, &mut rand_core::OsRng).unwrap(),
        );
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let n = alg.compressed_public_key_len();
        let off_curve = (0u8..=255)
            .map(|x| {
                let mut p = vec![0x02u8; n];
                p[1..].fill(x);
                p
            })
            .find(|p| RustCrypto.ecdsa_check_public_key(alg, p).is_err())
            .unwrap();
        let mut uncompressed = vec![0x04u8];
        uncompressed.extend(vec![0x11; 2 * (n - 1)]);
        let bad_values = [
            "!!!! not base64".to_string(),
            String::new(),
            other_key,
            b64(&off_curve),
            b64(&uncompressed),
            b64(&vec![0x05; n]),
            b64(&vec![0x02; n - 1]),
        ];
        for v in &bad_values {
            let mut forge = Forge::new(suite, FRAME, &[]);
            forge.aad = ec_bytes(&[(PUBLIC_KEY_FIELD, v), ("x", "y")]);
            check(&forge);
        }
    }
    // Unsigned suites with the entry (a well-formed key of either curve).
    for suite in [V1_NO_KDF, V1, V2] {
        for alg in [SignatureAlg::EcdsaP256Sha256, SignatureAlg::EcdsaP384Sha384] {
            let pk = public_key_b64(
                &SigningKey::generate(&RustCrypto, alg, &mut rand_core::OsRng).unwrap(),
            );
            let mut forge = Forge::new(suite, FRAME, &[]);
            forge.aad = ec_bytes(&[(PUBLIC_KEY_FIELD, &pk)]);
            check(&forge);
        }
    }
    // Materials that carry a verification key: it must match the header's entry, and an
    // unsigned suite must not get one.
    let forge = Forge::new(V2_SIGNED, FRAME, &[]);
    let msg = forge.message(b"hello", seq_iv);
    let stranger = SigningKey::generate(
        &RustCrypto,
        SignatureAlg::EcdsaP384Sha384,
        &mut rand_core::OsRng,
    )
    .unwrap();
    let own = forge
        .signing_key
        .as_ref()
        .unwrap()
        .public_key(&RustCrypto)
        .unwrap();
    for (vk, expect) in [
        (stranger.public_key(&RustCrypto).unwrap(), Err(want)),
        (own, Ok(())),
    ] {
        let answer = |req: esdk_core::MaterialsRequest<'_, RustCrypto>| {
            let m = DecryptionMaterialsRef::new(req.suite(), &forge.data_key)
                .with_verification_key(Some(vk));
            req.provide(&m)
        };
        let out = decrypt_all(&msg, Key::Custom(&answer), allow_all());
        assert_eq!(out.result, expect);
    }
    let forge = Forge::new(V2, FRAME, &[]);
    let msg = forge.message(b"hello", seq_iv);
    let answer = |req: esdk_core::MaterialsRequest<'_, RustCrypto>| {
        let m = DecryptionMaterialsRef::new(req.suite(), &forge.data_key)
            .with_verification_key(Some(own));
        req.provide(&m)
    };
    let out = decrypt_all(&msg, Key::Custom(&answer), allow_all());
    assert_eq!(
        out.result,
        Err(Error::Materials(MaterialsError::UnexpectedSignatureKey))
    );
    assert!(out.chunks.is_empty());
}

/// Materials' context pairs, required keys, whether the context is canonical, expected result.
type Case<'a> = (
    &'a [(&'a str, &'a str)],
    &'a [&'a str],
    bool,
    Result<(), Error>,
);

/// 15: required encryption context. What the core sees: the materials name required keys whose
/// pairs are appended to the header-auth AAD. A required key missing from the materials'
/// context fails; required pairs that differ from (or omit) what was authenticated fail the
/// header tag. Living in esdk-std: comparing the caller's reproduced context with the header's
/// stored pairs (a conflicting value is caught by the CMM before the core is asked), and the
/// required-EC CMM's check that its configured keys are in the reproduced context.
#[test]
fn item15_required_encryption_context() {
    let pairs = [("purpose", "t"), ("tenant", "alice")];
    for suite in [V1, V1_SIGNED, V2, V2_SIGNED] {
        let pt = plaintext(40);
        let e = encrypt_known(
            Spec::new(suite, FRAME).pairs(&pairs).required(&["tenant"]),
            &pt,
        );
        let l = layout(&e.msg);
        // The required pair is authenticated but not stored.
        let stored = EncryptionContextRef::parse(&e.msg[l.header.aad.clone()]).unwrap();
        assert_eq!(stored.get("tenant"), None);
        assert_eq!(stored.get("purpose"), Some("t"));

        let run = |ec: &[(&str, &str)], required: &[&str], canonical: bool| -> Outcome {
            let bytes = if canonical {
                ec_bytes(ec)
            } else {
                ec_bytes_raw(
                    &ec.iter()
                        .map(|(k, v)| (k.as_bytes(), v.as_bytes()))
                        .collect::<Vec<_>>(),
                )
            };
            let answer = |req: esdk_core::MaterialsRequest<'_, RustCrypto>| {
                let m = DecryptionMaterialsRef::new(req.suite(), &e.data_key)
                    .with_encryption_context(EncryptionContextRef::parse(&bytes).unwrap())
                    .with_required_encryption_context_keys(required);
                req.provide(&m)
            };
            decrypt_all(&e.msg, Key::Custom(&answer), allow_all())
        };
        // Control: the right reproduced pair decrypts.
        let ok = run(&[("purpose", "t"), ("tenant", "alice")], &["tenant"], true);
        assert_eq!(ok.result, Ok(()), "suite {suite}");
        assert_eq!(ok.plaintext, pt);
        // Only the required pair is needed in the materials' context.
        assert_eq!(
            run(&[("tenant", "alice")], &["tenant"], true).result,
            Ok(())
        );

        let tag = Err(Error::Authentication(AuthStage::HeaderTag));
        let cases: [Case<'_>; 6] = [
            // A different value for the required key.
            (
                &[("purpose", "t"), ("tenant", "bob")],
                &["tenant"],
                true,
                tag,
            ),
            // The required pair not supplied as required.
            (&[("purpose", "t"), ("tenant", "alice")], &[], true, tag),
            (&[], &[], true, tag),
            // A stored key listed as required as well: the AAD tail differs.
            (
                &[("purpose", "t"), ("tenant", "alice")],
                &["purpose", "tenant"],
                true,
                tag,
            ),
            // Required key missing from the materials' context.
            (
                &[("purpose", "t")],
                &["tenant"],
                true,
                Err(Error::Materials(MaterialsError::RequiredKeyMissing)),
            ),
            // Materials' context not canonical.
            (
                &[("tenant", "alice"), ("purpose", "t")],
                &["tenant"],
                false,
                Err(Error::Usage(UsageError::InvalidInput(
                    "materials encryption context must be canonically serialized",
                ))),
            ),
        ];
        for (ec, required, canonical, want) in cases {
            let out = run(ec, required, canonical);
            assert_eq!(out.result, want, "suite {suite}: {ec:?} {required:?}");
            assert_eq!(out.states, ["materials"]);
            assert!(out.chunks.is_empty());
        }
    }
}

/// 16: no usable data key. What the core sees: a data key of the wrong length for the suite, or
/// a wrong key (fails the key commitment for v2, the header tag for v1), or a caller that found
/// no key and aborts. Trying keyrings on each EDK and collecting their errors is esdk-std's job.
#[test]
fn item16_wrong_data_key() {
    for suite in AlgorithmSuite::ALL {
        let (e, _) = small(suite);
        let want_len = suite.data_key_len();
        for len in [16usize, 24, 32].into_iter().filter(|l| *l != want_len) {
            let dk = DataKey::from_slice(&vec![7u8; len]).unwrap();
            let want = Error::Materials(MaterialsError::DataKeyLength {
                expected: want_len,
                actual: len,
            });
            let out = rejects_with(&e.msg, &dk, allow_all(), want, &[]);
            assert_eq!(out.states, ["materials"]);
        }
        let wrong = DataKey::from_slice(&vec![7u8; want_len]).unwrap();
        let stage = if suite.is_committing() {
            AuthStage::Commitment
        } else {
            AuthStage::HeaderTag
        };
        let out = rejects_with(
            &e.msg,
            &wrong,
            allow_all(),
            Error::Authentication(stage),
            &[],
        );
        assert_eq!(out.states, ["materials"]);
    }
    // Through raw AES unwrapping with the wrong wrapping key: nothing unwraps, the caller aborts.
    let msg = support::encrypt(V2, FRAME, b"abc", &[], &[1; 32]);
    let out = decrypt_all(&msg, Key::RawAes("ns", b"key", &[2; 32]), allow_all());
    assert_eq!(out.result, Err(Error::Usage(UsageError::Aborted)));
    assert!(out.chunks.is_empty());
}

/// 17: materials for a different suite than the header's.
#[test]
fn item17_materials_suite_mismatch() {
    for (header, other) in [
        (V2, V2_SIGNED),
        (V2_SIGNED, V2),
        (V1, V1_SIGNED_384),
        (V1_NO_KDF, V1),
        (V1, V2),
    ] {
        let (e, _) = small(header);
        let dk = DataKey::generate(other, &mut rand_core::OsRng).unwrap();
        let answer = |req: esdk_core::MaterialsRequest<'_, RustCrypto>| {
            req.provide(&DecryptionMaterialsRef::new(other, &dk))
        };
        let out = decrypt_all(&e.msg, Key::Custom(&answer), allow_all());
        assert_eq!(
            out.result,
            Err(Error::Materials(MaterialsError::SuiteMismatch {
                expected: header.id(),
                actual: other.id()
            }))
        );
        assert_eq!(out.states, ["materials"]);
    }
}

/// 18: v2 key commitment mismatch (every byte of the suite data), decided before the header tag.
#[test]
fn item18_commitment_mismatch() {
    for suite in [V2, V2_SIGNED] {
        let (e, _) = small(suite);
        let commit = layout(&e.msg).header.suite_data.unwrap();
        for i in commit.clone() {
            let mut m = e.msg.clone();
            m[i] ^= 0x01;
            let out = rejects_with(
                &m,
                &e.data_key,
                allow_all(),
                Error::Authentication(AuthStage::Commitment),
                &[],
            );
            assert_eq!(out.states, ["materials"]);
        }
        let mut m = e.msg.clone();
        m[commit].fill(0);
        rejects_with(
            &m,
            &e.data_key,
            allow_all(),
            Error::Authentication(AuthStage::Commitment),
            &[],
        );
    }
}

/// 19: header authentication tag: a flipped tag, or any authenticated header field changed in
/// a way the parser accepts (message id, context value, EDK bytes, frame length, v1 header IV).
#[test]
fn item19_header_tag() {
    let tag_err = Error::Authentication(AuthStage::HeaderTag);
    for suite in SHAPES {
        let (e, _) = small(suite);
        let h = layout(&e.msg).header;
        let mut positions: Vec<usize> = h.tag.clone().collect();
        positions.extend([
            h.edks.start + 6,
            h.edks.end - 1,
            h.aad.end - 1,
            h.frame_length_at + 3,
        ]);
        if let Some(iv) = &h.header_iv {
            positions.extend(iv.clone());
        }
        if !suite.is_committing() {
            // In v2 the message id salts the key derivation: see below.
            positions.extend(h.message_id.clone());
        }
        for at in positions {
            let mut m = e.msg.clone();
            // Keep UTF-8 valid in the context and the frame length non-zero.
            m[at] ^= if at == h.aad.end - 1 || at == h.frame_length_at + 3 {
                0x02
            } else {
                0x80
            };
            let out = rejects_with(&m, &e.data_key, allow_all(), tag_err, &[]);
            assert_eq!(out.states, ["materials"], "offset {at}");
        }
        if suite.is_committing() {
            let mut m = e.msg.clone();
            m[h.message_id.start] ^= 1;
            rejects_with(
                &m,
                &e.data_key,
                allow_all(),
                Error::Authentication(AuthStage::Commitment),
                &[],
            );
        }
    }
}

/// 20: non-framed content length over 2^36 − 32, decided from the length field (the body is
/// not buffered); exactly 2^36 − 32 is allowed (the decryptor then waits for the bytes).
#[test]
fn item20_non_framed_length_bound() {
    const MAX: u64 = (1 << 36) - 32;
    for suite in SHAPES {
        let e = encrypt_known(Spec::new(suite, 0).non_framed(), b"non-framed body");
        let l = layout(&e.msg);
        let at = l.frames[0].len_at.unwrap();
        for len in [MAX + 1, u64::MAX] {
            let mut m = e.msg.clone();
            m[at..at + 8].copy_from_slice(&len.to_be_bytes());
            let want = limit(LimitKind::BodyLength, MAX, len);
            assert_eq!(
                prefix_error(&m[..at + 8], Key::Data(&e.data_key), allow_all()),
                want
            );
            let out = rejects_with(&m, &e.data_key, allow_all(), want, &[]);
            assert_eq!(out.states, ["materials", "header"]);
        }
        let mut m = e.msg.clone();
        m[at..at + 8].copy_from_slice(&MAX.to_be_bytes());
        let run = drive(
            &m[..at + 8],
            Key::Data(&e.data_key),
            allow_all(),
            |_, _| usize::MAX,
            false,
        );
        assert_eq!(run.outcome.result, Ok(()));
        let sig = if suite.is_signed() { 2 } else { 0 };
        assert_eq!(run.waiting, Some(36 + MAX as usize + sig), "suite {suite}");
    }
}

/// 21: regular frame sequence numbers out of order: reordered, duplicated, skipped, or not
/// starting at 1 (forged with valid tags). Frames before the bad one are released, nothing after.
#[test]
fn item21_regular_sequence_numbers() {
    for suite in SHAPES {
        let forge = Forge::new(suite, FRAME, &[("k", "v")]);
        let pt = plaintext(4 * FRAME as usize + 3);
        let chunks = frame_chunks(&pt, FRAME);
        let frame = |seq: u32| forge.regular(seq, seq_iv(seq), &chunks[seq as usize - 1]);
        let fin = forge.final_frame(5, seq_iv(5), &chunks[4]);
        let build = |order: &[Vec<u8>]| {
            let mut m = forge.header();
            for f in order {
                m.extend_from_slice(f);
            }
            m.extend_from_slice(&fin);
            forge.signed(m)
        };
        let field = "frame.sequence_number";
        let cases: Vec<(Vec<Vec<u8>>, usize)> = vec![
            (vec![frame(2), frame(1), frame(3), frame(4)], 0),
            (vec![frame(1), frame(3), frame(2), frame(4)], 1),
            (vec![frame(1), frame(1), frame(2), frame(3), frame(4)], 1),
            (vec![frame(1), frame(2), frame(4)], 2),
            (
                vec![
                    forge.regular(0, seq_iv(0), &chunks[0]),
                    frame(2),
                    frame(3),
                    frame(4),
                ],
                0,
            ),
        ];
        for (order, good) in cases {
            let msg = build(&order);
            let out = decrypt_all(&msg, Key::Data(&forge.data_key), allow_all());
            assert_eq!(format_field(err_of(&out)), field, "suite {suite}");
            assert_eq!(out.chunks, chunks[..good], "suite {suite}");
            assert_eq!(
                decrypt_chunked(&msg, Key::Data(&forge.data_key), allow_all(), |_, _| 1),
                out
            );
            // Decided from the 4-byte sequence number, before the frame is buffered.
            let bad_at = forge.header().len() + good * (FRAME as usize + 32);
            let run = byte_by_byte(&msg, Key::Data(&forge.data_key), allow_all());
            assert_eq!(run.fed, bad_at + 4);
        }
        // The same frames in order decrypt (the forged frames are fine).
        let msg = build(&[frame(1), frame(2), frame(3), frame(4)]);
        assert_eq!(
            decrypt_all(&msg, Key::Data(&forge.data_key), allow_all()).plaintext,
            pt
        );
    }
}

/// 22: final frame sequence number not the next one (forged with valid tags), or the last
/// regular frame removed.
#[test]
fn item22_final_sequence_number() {
    for suite in SHAPES {
        let forge = Forge::new(suite, FRAME, &[]);
        let pt = plaintext(2 * FRAME as usize + 5);
        let chunks = frame_chunks(&pt, FRAME);
        let head = [
            forge.header(),
            forge.regular(1, seq_iv(1), &chunks[0]),
            forge.regular(2, seq_iv(2), &chunks[1]),
        ];
        for seq in [0u32, 1, 2, 4, 0xFFFF_FFFF] {
            let mut m = head.concat();
            m.extend_from_slice(&forge.final_frame(seq, seq_iv(seq), &chunks[2]));
            let msg = forge.signed(m);
            let out = decrypt_all(&msg, Key::Data(&forge.data_key), allow_all());
            assert_eq!(
                format_field(err_of(&out)),
                "final_frame.sequence_number",
                "seq {seq}"
            );
            assert_eq!(out.chunks, chunks[..2]);
        }
        // Drop the second regular frame: the final frame (3) follows frame 1.
        let mut m = [forge.header(), forge.regular(1, seq_iv(1), &chunks[0])].concat();
        m.extend_from_slice(&forge.final_frame(3, seq_iv(3), &chunks[2]));
        let msg = forge.signed(m);
        let out = decrypt_all(&msg, Key::Data(&forge.data_key), allow_all());
        assert_eq!(format_field(err_of(&out)), "final_frame.sequence_number");
        assert_eq!(out.chunks, chunks[..1]);
        // A one-frame message whose final frame is numbered 2.
        let msg = forge.signed([forge.header(), forge.final_frame(2, seq_iv(2), b"abc")].concat());
        let out = decrypt_all(&msg, Key::Data(&forge.data_key), allow_all());
        assert_eq!(format_field(err_of(&out)), "final_frame.sequence_number");
        rejects_with(&msg, &forge.data_key, allow_all(), err_of(&out), &[]);
    }
}

/// 23: final frame content length over the frame length (forged with a valid tag), decided from
/// the length field before the content is buffered. Equal to the frame length is fine.
#[test]
fn item23_final_frame_longer_than_frame_length() {
    for suite in SHAPES {
        let forge = Forge::new(suite, FRAME, &[]);
        let head = forge.header();
        for (len, ok) in [
            (FRAME as usize + 1, false),
            (FRAME as usize * 4, false),
            (FRAME as usize, true),
        ] {
            let body = forge.final_frame(1, seq_iv(1), &plaintext(len));
            let msg = forge.signed([head.clone(), body].concat());
            let out = decrypt_all(&msg, Key::Data(&forge.data_key), allow_all());
            if ok {
                assert_eq!(out.result, Ok(()));
                continue;
            }
            let want = limit(LimitKind::FinalFrameLength, u64::from(FRAME), len as u64);
            assert_eq!(out.result, Err(want));
            assert!(out.chunks.is_empty());
            let run = byte_by_byte(&msg, Key::Data(&forge.data_key), allow_all());
            assert_eq!(run.outcome.result, Err(want));
            assert_eq!(run.fed, head.len() + 24, "decided at the length field");
        }
        // A mutated length field (u32::MAX) in an encrypted message.
        let (e, pt) = small(suite);
        let fin = layout(&e.msg).final_frame().clone();
        let mut m = e.msg.clone();
        set_u32(&mut m, fin.len_at.unwrap(), u32::MAX);
        let want = limit(
            LimitKind::FinalFrameLength,
            u64::from(FRAME),
            u64::from(u32::MAX),
        );
        rejects_with(
            &m,
            &e.data_key,
            allow_all(),
            want,
            &frame_chunks(&pt, FRAME)[..2],
        );
    }
}

/// 24: any frame or body tag invalid (IV, content or tag bytes changed, a frame spliced in from
/// another message under the same data key). Nothing of that frame is released; exactly the
/// earlier frames were.
#[test]
fn item24_frame_tag() {
    let frame_tag = Error::Authentication(AuthStage::FrameTag);
    for suite in SHAPES {
        let (e, pt) = small(suite);
        let l = layout(&e.msg);
        let chunks = frame_chunks(&pt, FRAME);
        for (i, fr) in l.frames.iter().enumerate() {
            for at in [
                fr.iv.start,
                fr.iv.end - 1,
                fr.content.start,
                fr.content.end - 1,
                fr.tag.start,
                fr.tag.end - 1,
            ] {
                let mut m = e.msg.clone();
                m[at] ^= 0x40;
                // For signed suites the signature covers the final frame and is checked first.
                let want = if fr.is_final && suite.is_signed() {
                    Error::Authentication(AuthStage::Signature)
                } else {
                    frame_tag
                };
                rejects_with(&m, &e.data_key, allow_all(), want, &chunks[..i]);
            }
        }
        // A final frame with a bad tag under a valid signature: the frame tag still fails.
        let forge = Forge::new(suite, FRAME, &[]);
        let mut m = forge.header();
        m.extend_from_slice(&forge.regular(1, seq_iv(1), &chunks[0]));
        let mut fin = forge.final_frame(2, seq_iv(2), b"final");
        let n = fin.len();
        fin[n - 1] ^= 1;
        m.extend_from_slice(&fin);
        let msg = forge.signed(m);
        rejects_with(&msg, &forge.data_key, allow_all(), frame_tag, &chunks[..1]);
        // Frame 2 from another message with the same data key (different message id).
        let mut other = forge.clone();
        other.message_id[0] ^= 1;
        let msg = forge.signed(
            [
                forge.header(),
                forge.regular(1, seq_iv(1), &chunks[0]),
                other.regular(2, seq_iv(2), &chunks[1]),
                forge.final_frame(3, seq_iv(3), b"x"),
            ]
            .concat(),
        );
        rejects_with(&msg, &forge.data_key, allow_all(), frame_tag, &chunks[..1]);
        // Non-framed body.
        let nf = encrypt_known(Spec::new(suite, 0).non_framed(), b"a non-framed body");
        let body = layout(&nf.msg).frames[0].clone();
        let want = if suite.is_signed() {
            Error::Authentication(AuthStage::Signature)
        } else {
            frame_tag
        };
        for at in [body.iv.start, body.content.start, body.tag.end - 1] {
            let mut m = nf.msg.clone();
            m[at] ^= 0x40;
            rejects_with(&m, &nf.data_key, allow_all(), want, &[]);
        }
    }
}

/// 25: the message ends after regular frames, without a final frame.
#[test]
fn item25_no_final_frame() {
    for suite in SHAPES {
        let (e, pt) = small(suite);
        let l = layout(&e.msg);
        let chunks = frame_chunks(&pt, FRAME);
        for k in 0..l.regular_frames().len() {
            let cut = l.frames[k].range.end;
            let out = rejects_with(
                &e.msg[..cut],
                &e.data_key,
                allow_all(),
                Error::Truncated,
                &chunks[..=k],
            );
            assert!(!out.states.contains(&"done"));
        }
        // Regular frames followed directly by the footer (signed suites): the footer bytes
        // are read as a regular frame with the wrong sequence number; unsigned: truncated.
        let mut m = e.msg[..l.frames[1].range.end].to_vec();
        m.extend_from_slice(&e.msg[l.footer.clone()]);
        let out = decrypt_all(&m, Key::Data(&e.data_key), allow_all());
        assert!(out.result.is_err());
        assert_eq!(out.chunks, chunks[..2]);
    }
}

/// 26: signed suites — footer missing or short, signature length out of range, signature
/// invalid or by another key. The final frame (or non-framed body) is never released.
#[test]
fn item26_footer_and_signature() {
    let sig_err = Error::Authentication(AuthStage::Signature);
    for suite in [V1_SIGNED, V1_SIGNED_384, V2_SIGNED] {
        let (e, pt) = small(suite);
        let l = layout(&e.msg);
        let held = &frame_chunks(&pt, FRAME)[..2];
        let max = suite.signature().unwrap().max_signature_len() as u16;
        let sig_len = (l.footer.len() - 2) as u16;
        // Missing, only the length, one byte short.
        for cut in [
            l.footer.start,
            l.footer.start + 1,
            l.footer.start + 2,
            l.footer.end - 1,
        ] {
            rejects_with(
                &e.msg[..cut],
                &e.data_key,
                allow_all(),
                Error::Truncated,
                held,
            );
        }
        // Every byte of the signature.
        for at in l.footer.start + 2..l.footer.end {
            let mut m = e.msg.clone();
            m[at] ^= 0x04;
            rejects_with(&m, &e.data_key, allow_all(), sig_err, held);
        }
        // Length field: 0 and over the curve's maximum fail at once; others misframe the footer.
        for (len, want) in [
            (0u16, sig_err),
            (max + 1, sig_err),
            (u16::MAX, sig_err),
            (sig_len - 1, Error::TrailingData),
            (sig_len + 1, Error::Truncated),
        ] {
            let mut m = e.msg.clone();
            set_u16(&mut m, l.footer.start, len);
            rejects_with(&m, &e.data_key, allow_all(), want, held);
        }
        // A valid DER signature over the same bytes by another key, and a signature by the
        // right key over different bytes.
        let forge = Forge::new(suite, FRAME, &[]);
        let body = forge
            .header()
            .into_iter()
            .chain(forge.final_frame(1, seq_iv(1), b"secret"))
            .collect::<Vec<_>>();
        let mut stranger = forge.clone();
        stranger.signing_key = Some(
            SigningKey::generate(
                &RustCrypto,
                suite.signature().unwrap(),
                &mut rand_core::OsRng,
            )
            .unwrap(),
        );
        let msg = [body.clone(), stranger.footer(&body)].concat();
        rejects_with(&msg, &forge.data_key, allow_all(), sig_err, &[]);
        let msg = [body.clone(), forge.footer(&body[1..])].concat();
        rejects_with(&msg, &forge.data_key, allow_all(), sig_err, &[]);
        assert_eq!(
            decrypt_all(&forge.signed(body), Key::Data(&forge.data_key), allow_all()).plaintext,
            b"secret"
        );
        // Non-framed signed body.
        let nf = encrypt_known(Spec::new(suite, 0).non_framed(), b"non-framed secret");
        let nl = layout(&nf.msg);
        let mut m = nf.msg.clone();
        m[nl.footer.end - 1] ^= 1;
        rejects_with(&m, &nf.data_key, allow_all(), sig_err, &[]);
        rejects_with(
            &nf.msg[..nl.footer.start],
            &nf.data_key,
            allow_all(),
            Error::Truncated,
            &[],
        );
    }
}

/// 27: bytes after the footer (signed) or after the body (unsigned). The final plaintext is not
/// released.
#[test]
fn item27_trailing_data() {
    for suite in SHAPES {
        let (e, pt) = small(suite);
        let held = &frame_chunks(&pt, FRAME)[..2];
        for extra in [&[0u8][..], &[0xFF; 100], &e.msg] {
            let msg = [e.msg.clone(), extra.to_vec()].concat();
            rejects_with(&msg, &e.data_key, allow_all(), Error::TrailingData, held);
        }
        let nf = encrypt_known(Spec::new(suite, 0).non_framed(), b"body");
        rejects_with(
            &[nf.msg.clone(), vec![0]].concat(),
            &nf.data_key,
            allow_all(),
            Error::TrailingData,
            &[],
        );
    }
}

/// 28: unsigned-only mode rejects a signed suite right after the suite id.
#[test]
fn item28_unsigned_only_mode() {
    let config = allow_all().with_signature_policy(SignaturePolicy::UnsignedOnly);
    for suite in AlgorithmSuite::ALL {
        let e = encrypt_known(Spec::new(suite, FRAME), b"abc");
        if suite.is_signed() {
            let at = layout(&e.msg).header.suite_at + 2;
            let want =
                Error::Policy(PolicyError::SignedSuiteInUnsignedOnlyMode { suite: suite.id() });
            assert_eq!(
                prefix_error(&e.msg[..at], Key::Data(&e.data_key), config),
                want,
                "suite {suite}"
            );
            let out = rejects_with(&e.msg, &e.data_key, config, want, &[]);
            assert!(out.states.is_empty());
        } else {
            assert_eq!(
                decrypt_all(&e.msg, Key::Data(&e.data_key), config).plaintext,
                b"abc"
            );
        }
    }
}

/// 29: a Base64-encoded message (`AY…` for v1, `AgR4…` / `AgV4…` for v2) gets its own error,
/// as soon as the prefix is recognizable.
#[test]
fn item29_base64_input() {
    let b64 = |m: &[u8]| {
        base64::engine::general_purpose::STANDARD
            .encode(m)
            .into_bytes()
    };
    for (suite, prefix) in [
        (V1, "AY"),
        (V1_SIGNED, "AY"),
        (V2, "AgR4"),
        (V2_SIGNED, "AgV4"),
    ] {
        let e = encrypt_known(Spec::new(suite, FRAME), b"abc");
        let text = b64(&e.msg);
        assert!(text.starts_with(prefix.as_bytes()));
        let out = decrypt_all(&text, Key::Data(&e.data_key), allow_all());
        assert_eq!(out.result, Err(Error::LooksLikeBase64));
        assert!(out.states.is_empty());
        assert_eq!(err_of(&out).category(), ErrorCategory::Format);
        assert_eq!(
            prefix_error(prefix.as_bytes(), Key::Data(&e.data_key), allow_all()),
            Error::LooksLikeBase64
        );
        // A shorter prefix is not yet decidable: the decryptor waits.
        let run = drive(
            &prefix.as_bytes()[..prefix.len() - 1],
            Key::Data(&e.data_key),
            allow_all(),
            |_, _| usize::MAX,
            false,
        );
        assert_eq!((run.outcome.result, run.waiting.is_some()), (Ok(()), true));
    }
}

// ---------------------------------------------------------------------------------------------
// Must NOT fail (spec-digest §7 last row)

/// Frame IVs other than the sequence number are used as stored.
#[test]
fn accepts_frame_ivs_other_than_the_sequence_number() {
    let ivs: [fn(u32) -> [u8; 12]; 3] = [
        |seq| {
            let mut iv = [0xFF; 12];
            iv[8..].copy_from_slice(&seq.to_be_bytes());
            iv
        },
        |seq| [seq as u8 ^ 0x5A; 12],
        |_| [0; 12],
    ];
    for suite in AlgorithmSuite::ALL {
        for iv_of in ivs {
            let forge = Forge::new(suite, FRAME, &[("a", "b")]);
            let pt = plaintext(3 * FRAME as usize + 1);
            let msg = forge.message(&pt, iv_of);
            let out = decrypt_all(&msg, Key::Data(&forge.data_key), allow_all());
            assert_eq!(out.result, Ok(()), "suite {suite}");
            assert_eq!(out.plaintext, pt);
            let mut nf = Forge::new(suite, 0, &[]);
            nf.content_type = 1;
            let msg = nf.message(b"single block", iv_of);
            assert_eq!(
                decrypt_all(&msg, Key::Data(&nf.data_key), allow_all()).plaintext,
                b"single block"
            );
        }
    }
}

/// Unsorted (but duplicate-free) contexts are authenticated as stored; the legacy empty form
/// `00 02 00 00` (AAD length 2, count 0) is accepted.
#[test]
fn accepts_unsorted_and_legacy_empty_contexts() {
    for suite in AlgorithmSuite::ALL {
        let mut forge = Forge::new(suite, FRAME, &[]);
        let pk = forge
            .signing_key
            .as_ref()
            .map(public_key_b64)
            .unwrap_or_default();
        let mut pairs: Vec<(&[u8], &[u8])> = vec![
            (b"zeta", b"1"),
            (b"alpha", b"2"),
            (b"\xc3\xa9", b"3"),
            (b"Z", b"4"),
        ];
        if suite.is_signed() {
            pairs.insert(1, (PUBLIC_KEY_FIELD.as_bytes(), pk.as_bytes()));
        }
        forge.aad = ec_bytes_raw(&pairs);
        let msg = forge.message(b"unsorted", seq_iv);
        let out = decrypt_all(&msg, Key::Data(&forge.data_key), allow_all());
        assert_eq!(out.result, Ok(()), "suite {suite}");
        assert_eq!(out.plaintext, b"unsorted");
        if !suite.is_signed() {
            forge.aad = vec![0, 0];
            let msg = forge.message(b"legacy empty", seq_iv);
            let l = support::header_layout(&msg);
            assert_eq!(&msg[l.aad_len_at..l.aad.end], [0, 2, 0, 0]);
            let out = decrypt_all(&msg, Key::Data(&forge.data_key), allow_all());
            assert_eq!(out.result, Ok(()), "suite {suite}");
            assert_eq!(out.plaintext, b"legacy empty");
        }
    }
}

/// A v1 header IV that is not all zeros is used as stored.
#[test]
fn accepts_non_zero_v1_header_iv() {
    for suite in AlgorithmSuite::ALL
        .into_iter()
        .filter(|s| !s.is_committing())
    {
        let mut forge = Forge::new(suite, FRAME, &[("a", "b")]);
        forge.header_iv = [0xA5; 12];
        let msg = forge.message(b"header iv", seq_iv);
        assert_eq!(
            &msg[support::header_layout(&msg).header_iv.unwrap()],
            [0xA5; 12]
        );
        assert_eq!(
            decrypt_all(&msg, Key::Data(&forge.data_key), allow_all()).plaintext,
            b"header iv"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Cross-cutting rules

/// After an error every call returns the same error, whatever it is given.
#[test]
fn errors_are_sticky() {
    let (e, _) = small(V2_SIGNED);
    let l = layout(&e.msg);
    let mut bad = e.msg.clone();
    bad[l.frames[1].content.start] ^= 1;
    let mut dec = Decryptor::new(RustCrypto, allow_all());
    let mut buf = bad.clone();
    let first = loop {
        let discard = {
            let st = dec.process(&mut buf, true);
            match st.state {
                Ok(DecryptState::NeedMaterials(req)) => {
                    req.provide(&DecryptionMaterialsRef::new(V2_SIGNED, &e.data_key))
                        .unwrap();
                }
                Ok(DecryptState::NeedInput { .. } | DecryptState::Done) => panic!("must fail"),
                Ok(_) => {}
                Err(err) => break err,
            }
            st.discard
        };
        buf.drain(..discard);
    };
    assert_eq!(first, Error::Authentication(AuthStage::FrameTag));
    for (input, eof) in [
        (vec![], false),
        (vec![], true),
        (e.msg.clone(), true),
        (buf.clone(), false),
    ] {
        let mut input = input;
        let st = dec.process(&mut input, eof);
        assert_eq!(st.discard, 0);
        assert_eq!(st.state.err(), Some(first));
    }
    assert!(!dec.is_done());

    // A materials error is sticky too.
    let mut dec = Decryptor::new(RustCrypto, allow_all());
    let mut buf = e.msg.clone();
    let wrong = DataKey::from_slice(&[0; 32]).unwrap();
    match dec.process(&mut buf, true).state {
        Ok(DecryptState::NeedMaterials(req)) => {
            assert_eq!(
                req.provide(&DecryptionMaterialsRef::new(V2_SIGNED, &wrong)),
                Err(Error::Authentication(AuthStage::Commitment))
            );
        }
        other => panic!("{other:?}"),
    }
    for _ in 0..3 {
        assert_eq!(
            dec.process(&mut buf, true).state.err(),
            Some(Error::Authentication(AuthStage::Commitment))
        );
    }
}

/// A dropped (unanswered) materials request poisons the decryptor.
#[test]
fn dropped_materials_request_poisons() {
    let (e, _) = small(V2);
    let answer = |req: esdk_core::MaterialsRequest<'_, RustCrypto>| {
        drop(req);
        Ok(())
    };
    let out = decrypt_all(&e.msg, Key::Custom(&answer), allow_all());
    assert_eq!(
        out.result,
        Err(Error::Usage(UsageError::MaterialsNotProvided))
    );
    assert_eq!(out.states, ["materials"]);
    assert!(out.chunks.is_empty());
}

/// `abort()` ends the decryption with `Usage(Aborted)`, sticky.
#[test]
fn abort_at_materials() {
    let (e, _) = small(V1_SIGNED);
    let answer = |req: esdk_core::MaterialsRequest<'_, RustCrypto>| {
        req.abort();
        Ok(())
    };
    let out = decrypt_all(&e.msg, Key::Custom(&answer), allow_all());
    assert_eq!(out.result, Err(Error::Usage(UsageError::Aborted)));
    assert_eq!(out.states, ["materials"]);
    let mut dec = Decryptor::new(RustCrypto, allow_all());
    let mut buf = e.msg.clone();
    match dec.process(&mut buf, true).state {
        Ok(DecryptState::NeedMaterials(req)) => req.abort(),
        other => panic!("{other:?}"),
    }
    for _ in 0..2 {
        assert_eq!(
            dec.process(&mut buf, true).state.err(),
            Some(Error::Usage(UsageError::Aborted))
        );
    }
}

/// Truncation at every byte offset of small multi-frame messages: `Truncated`, with exactly the
/// regular frames that are complete in the prefix released, never the final frame.
#[test]
fn truncation_at_every_offset() {
    let pt = plaintext(2 * FRAME as usize + 3);
    let chunks = frame_chunks(&pt, FRAME);
    let messages = [
        encrypt_known(Spec::new(V1, FRAME).pairs(&[("a", "b")]), &pt),
        encrypt_known(Spec::new(V1_SIGNED, FRAME).pairs(&[("a", "b")]), &pt),
        encrypt_known(Spec::new(V2, FRAME), &pt),
        encrypt_known(Spec::new(V2_SIGNED, FRAME), &pt),
    ];
    for e in &messages {
        let l = layout(&e.msg);
        for cut in 0..e.msg.len() {
            let out = decrypt_all(&e.msg[..cut], Key::Data(&e.data_key), allow_all());
            assert_eq!(
                out.result,
                Err(Error::Truncated),
                "cut {cut} of {}",
                e.msg.len()
            );
            let complete = l
                .regular_frames()
                .iter()
                .filter(|f| f.range.end <= cut)
                .count();
            assert_eq!(out.chunks, chunks[..complete], "cut {cut}");
        }
        assert_eq!(
            decrypt_all(&e.msg, Key::Data(&e.data_key), allow_all()).plaintext,
            pt
        );
    }
    // Non-framed: nothing is ever released from a prefix.
    for suite in [V1, V2_SIGNED] {
        let e = encrypt_known(Spec::new(suite, 0).non_framed(), b"non-framed");
        for cut in 0..e.msg.len() {
            let out = decrypt_all(&e.msg[..cut], Key::Data(&e.data_key), allow_all());
            assert_eq!(
                (out.result, out.chunks.len()),
                (Err(Error::Truncated), 0),
                "cut {cut}"
            );
        }
    }
}

/// Flipping any single bit of a small message (header, body and footer) makes decryption fail;
/// what was released before the failure is a prefix of the true regular frames.
#[test]
fn every_bit_flip_fails() {
    let pt = plaintext(FRAME as usize + 5);
    let chunks = frame_chunks(&pt, FRAME);
    let mut messages = vec![];
    for suite in [V1_NO_KDF, V1, V1_SIGNED, V2, V2_SIGNED] {
        messages.push((
            encrypt_known(Spec::new(suite, FRAME).pairs(&[("k", "v")]), &pt),
            true,
        ));
    }
    messages.push((encrypt_known(Spec::new(V1, 0).non_framed(), &pt), false));
    messages.push((
        encrypt_known(Spec::new(V2_SIGNED, 0).non_framed(), &pt),
        false,
    ));
    for (e, framed) in &messages {
        for bit in 0..e.msg.len() * 8 {
            let mut m = e.msg.clone();
            m[bit / 8] ^= 1 << (bit % 8);
            let out = decrypt_all(&m, Key::Data(&e.data_key), allow_all());
            assert!(
                out.result.is_err(),
                "bit {bit} of {}: flip accepted",
                e.msg.len() * 8
            );
            assert!(!out.states.contains(&"done"));
            if *framed {
                assert!(
                    out.chunks.len() < chunks.len(),
                    "bit {bit}: final frame released"
                );
                assert_eq!(out.chunks, chunks[..out.chunks.len()], "bit {bit}");
            } else {
                assert!(out.chunks.is_empty(), "bit {bit}");
            }
        }
    }
}

/// Maximum header length: fails as soon as a length field shows the header will be too long,
/// before the bytes are buffered; a header of exactly the limit is fine.
#[test]
fn limit_max_header_length() {
    let long = "v".repeat(300);
    for suite in SHAPES {
        let e = encrypt_known(Spec::new(suite, FRAME).pairs(&[("k", &long)]), b"abc");
        let h = layout(&e.msg).header;
        // The AAD length alone tells: header ≥ AAD end + the rest.
        let cap = 200u64;
        let config = with_limits(DecryptLimits::default().with_max_header_len(cap));
        let run = byte_by_byte(&e.msg, Key::Data(&e.data_key), config);
        assert_eq!(
            run.outcome.result,
            Err(limit(LimitKind::HeaderLength, cap, h.aad.end as u64))
        );
        assert_eq!(run.fed, h.aad_len_at + 2, "suite {suite}");
        assert!(run.outcome.states.is_empty());
        // One byte under the header length: fails before the tag is buffered.
        let cap = h.len as u64 - 1;
        let config = with_limits(DecryptLimits::default().with_max_header_len(cap));
        let run = byte_by_byte(&e.msg, Key::Data(&e.data_key), config);
        assert_eq!(
            run.outcome.result.map_err(|e| e.category()),
            Err(ErrorCategory::Limit)
        );
        assert!(run.fed < h.len);
        assert_eq!(
            decrypt_all(&e.msg, Key::Data(&e.data_key), config).result,
            run.outcome.result
        );
        // Exactly the header length.
        let config = with_limits(DecryptLimits::default().with_max_header_len(h.len as u64));
        assert_eq!(
            decrypt_all(&e.msg, Key::Data(&e.data_key), config).plaintext,
            b"abc"
        );
    }
    // A huge EDK field is refused from its length prefix.
    let mut forge = Forge::new(V2, FRAME, &[]);
    forge.edks = edk_entry(b"ns", &vec![1; 60_000], b"ct");
    let msg = forge.message(b"abc", seq_iv);
    let h = support::header_layout(&msg);
    let config = with_limits(DecryptLimits::default().with_max_header_len(1024));
    let run = byte_by_byte(&msg, Key::Data(&forge.data_key), config);
    assert_eq!(
        run.outcome.result.map_err(|e| e.category()),
        Err(ErrorCategory::Limit)
    );
    assert_eq!(
        run.fed,
        h.edks.start + 2 + 2 + 2,
        "decided at the provider-info length"
    );
}

/// Maximum frame length: decided at the header's frame-length field.
#[test]
fn limit_max_frame_length() {
    for suite in SHAPES {
        let e = encrypt_known(Spec::new(suite, 4096), &plaintext(5000));
        let h = layout(&e.msg).header;
        let config = with_limits(DecryptLimits::default().with_max_frame_len(4095));
        let want = limit(LimitKind::FrameLength, 4095, 4096);
        let run = byte_by_byte(&e.msg, Key::Data(&e.data_key), config);
        assert_eq!(run.outcome.result, Err(want));
        assert_eq!(run.fed, h.frame_length_at + 4);
        assert!(run.fed < h.len);
        assert_eq!(
            prefix_error(
                &e.msg[..h.frame_length_at + 4],
                Key::Data(&e.data_key),
                config
            ),
            want
        );
        let config = with_limits(DecryptLimits::default().with_max_frame_len(4096));
        assert_eq!(
            decrypt_all(&e.msg, Key::Data(&e.data_key), config).result,
            Ok(())
        );
    }
}

/// Maximum (non-framed) body length: decided at the body's length field.
#[test]
fn limit_max_body_length() {
    for suite in SHAPES {
        let pt = plaintext(300);
        let e = encrypt_known(Spec::new(suite, 0).non_framed(), &pt);
        let l = layout(&e.msg);
        let config = with_limits(DecryptLimits::default().with_max_body_len(299));
        let want = limit(LimitKind::BodyLength, 299, 300);
        let run = byte_by_byte(&e.msg, Key::Data(&e.data_key), config);
        assert_eq!(run.outcome.result, Err(want));
        assert_eq!(run.fed, l.header.len + 20);
        assert_eq!(run.outcome.states, ["materials", "header"]);
        assert_eq!(
            prefix_error(&e.msg[..l.header.len + 20], Key::Data(&e.data_key), config),
            want
        );
        let config = with_limits(DecryptLimits::default().with_max_body_len(300));
        assert_eq!(
            decrypt_all(&e.msg, Key::Data(&e.data_key), config).plaintext,
            pt
        );
    }
}
