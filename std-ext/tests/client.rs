//! The one-shot client: limits, header parsing without keys, exact ciphertext lengths,
//! unsigned-only mode, commitment policy, and tampering.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::std_instead_of_core,
    clippy::cast_possible_truncation
)]

mod common;

use base64::Engine as _;
use common::*;
use esdk_core::error::{LimitError, LimitKind, PolicyError};
use esdk_std::keyring::MultiKeyring;
use esdk_std::stream::io::{DecryptingReader, DecryptingWriter, EncryptingWriter};
use esdk_std::{
    AlgorithmSuite, Client, CommitmentPolicy, DecryptLimits, DecryptOptions, EncryptOptions,
    EncryptedDataKey, EncryptionContext, Error,
};
use std::io::{Read, Write};
use std::sync::Arc;

fn core_err<T: std::fmt::Debug>(r: esdk_std::Result<T>) -> esdk_core::Error {
    match r {
        Err(Error::Core(e)) => e,
        other => panic!("expected a core error, got {other:?}"),
    }
}

fn three_key_multi() -> MultiKeyring {
    MultiKeyring::new(
        Some(Arc::new(aes("a", 1, 32))),
        vec![Arc::new(aes("b", 2, 32)), Arc::new(aes("c", 3, 16))],
    )
    .unwrap()
}

#[test]
fn max_encrypted_data_keys_on_encrypt() {
    let multi = three_key_multi();
    let opts = EncryptOptions::keyring(&multi).suite(S0478);
    let limited = Client::builder().max_encrypted_data_keys(2).build();
    let e = core_err(limited.encrypt(b"x", &opts));
    assert_eq!(
        e,
        esdk_core::Error::Limit(LimitError {
            what: LimitKind::EncryptedDataKeys,
            limit: 2,
            actual: 3
        })
    );
    assert!(EncryptingWriter::new(&limited, &opts, Vec::new()).is_err());
    let enough = Client::builder().max_encrypted_data_keys(3).build();
    assert_eq!(
        enough
            .encrypt(b"x", &opts)
            .unwrap()
            .header
            .encrypted_data_keys
            .len(),
        3
    );
}

#[test]
fn max_encrypted_data_keys_on_decrypt_fails_before_any_keyring_runs() {
    let enc = Client::default()
        .encrypt(
            b"three",
            &EncryptOptions::keyring(&three_key_multi()).suite(S0478),
        )
        .unwrap();
    let k = Counting::new(aes("c", 3, 16));
    let limited = Client::builder().max_encrypted_data_keys(2).build();
    assert_eq!(limited.decrypt_limits().max_encrypted_data_keys, 2);
    let dopts = DecryptOptions::keyring(&k);
    let e = core_err(limited.decrypt(&enc.ciphertext, &dopts));
    assert!(
        matches!(
            e,
            esdk_core::Error::Limit(LimitError {
                what: LimitKind::EncryptedDataKeys,
                limit: 2,
                actual: 3
            })
        ),
        "{e:?}"
    );
    assert!(DecryptingReader::new(&limited, &dopts, &enc.ciphertext[..]).is_err());
    let mut w = DecryptingWriter::new(&limited, &dopts, Vec::new());
    let res = w
        .write_all(&enc.ciphertext)
        .and_then(|()| w.finish().map(|_| ()));
    assert!(res.is_err());
    // Parsing a header obeys the limit as well.
    assert!(limited.parse_header(&enc.ciphertext).is_err());
    assert_eq!(k.decrypt_calls(), 0);
    let enough = Client::builder().max_encrypted_data_keys(3).build();
    assert_eq!(
        enough.decrypt(&enc.ciphertext, &dopts).unwrap().plaintext,
        b"three"
    );
    assert_eq!(k.decrypt_calls(), 1);
    // Later decrypt limits keep the smaller EDK maximum.
    let both = Client::builder()
        .max_encrypted_data_keys(2)
        .decrypt_limits(DecryptLimits::default())
        .build();
    assert_eq!(both.decrypt_limits().max_encrypted_data_keys, 2);
}

#[test]
fn decrypt_limits_are_applied() {
    let k = aes("k", 1, 32);
    let enc = Client::default()
        .encrypt(
            &bytes(10_000, 1),
            &EncryptOptions::keyring(&k).suite(S0478).frame_length(4096),
        )
        .unwrap();
    let small_frames = Client::builder()
        .decrypt_limits(DecryptLimits::default().with_max_frame_len(1024))
        .build();
    let e = core_err(small_frames.decrypt(&enc.ciphertext, &DecryptOptions::keyring(&k)));
    assert!(
        matches!(
            e,
            esdk_core::Error::Limit(LimitError {
                what: LimitKind::FrameLength,
                ..
            })
        ),
        "{e:?}"
    );
    let small_header = Client::builder()
        .decrypt_limits(DecryptLimits::default().with_max_header_len(50))
        .build();
    let e = core_err(small_header.decrypt(&enc.ciphertext, &DecryptOptions::keyring(&k)));
    assert!(
        matches!(
            e,
            esdk_core::Error::Limit(LimitError {
                what: LimitKind::HeaderLength,
                ..
            })
        ),
        "{e:?}"
    );
}

#[test]
fn parse_header_needs_no_key_and_matches_what_encrypt_reported() {
    let k = aes("key", 1, 32);
    let default_client = Client::default();
    for suite in ALL_SUITES {
        let client = client_for(suite);
        let opts = EncryptOptions::keyring(&k)
            .suite(suite)
            .frame_length(100)
            .encryption_context(ec(&[("a", "b")]));
        let enc = client.encrypt(&bytes(250, 2), &opts).unwrap();
        // Even the default client (which would not decrypt v1 messages) parses any header.
        let parsed = default_client.parse_header(&enc.ciphertext).unwrap();
        assert_eq!(parsed, enc.header, "{suite}");
        assert_eq!(parsed.suite, suite);
        assert_eq!(parsed.frame_length, 100);
        assert_eq!(
            parsed.message_id.len(),
            if suite.is_committing() { 32 } else { 16 }
        );
        assert_eq!(parsed.encrypted_data_keys.len(), 1);
        assert_eq!(parsed.encryption_context.get("a"), Some("b"));
        // The streaming encryptor reports the same header it writes.
        let w = EncryptingWriter::new(&client, &opts, Vec::new()).unwrap();
        let reported = w.header().clone();
        let ct = w.finish().unwrap();
        assert_eq!(default_client.parse_header(&ct).unwrap(), reported);
        // And the decryptor the same again.
        let dec = client
            .decrypt(&enc.ciphertext, &DecryptOptions::keyring(&k))
            .unwrap();
        assert_eq!(dec.header, enc.header);

        // Every prefix shorter than the header fails; every longer one parses.
        let header_len = header_len(&client, &enc.header, suite);
        for cut in 0..enc.ciphertext.len() {
            let r = default_client.parse_header(&enc.ciphertext[..cut]);
            assert_eq!(
                r.is_ok(),
                cut >= header_len,
                "{suite} cut at {cut} of header {header_len}"
            );
        }
    }
}

/// Header length from the size formula: a message with an empty plaintext minus its final frame
/// (40 bytes) and footer.
fn header_len(client: &Client, h: &esdk_std::Header, suite: AlgorithmSuite) -> usize {
    let total = client
        .ciphertext_len(suite, &h.encrypted_data_keys, &h.encryption_context, 1, 0)
        .unwrap();
    let footer = suite.signature().map_or(0, |a| 2 + a.fixed_signature_len());
    usize::try_from(total).unwrap() - 40 - footer
}

#[test]
fn parse_header_rejects_garbage_and_base64() {
    let client = Client::default();
    for garbage in [
        &b""[..],
        b"\x01",
        b"\x03\x80",
        b"hello world, this is not a message at all",
        &[0u8; 200],
    ] {
        assert!(client.parse_header(garbage).is_err(), "{garbage:?}");
    }
    let k = aes("k", 1, 32);
    let v1 = client_for(S0178)
        .encrypt(b"b64", &EncryptOptions::keyring(&k).suite(S0178))
        .unwrap();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&v1.ciphertext);
    assert!(b64.starts_with("AY"));
    assert_eq!(
        core_err(client.parse_header(b64.as_bytes())),
        esdk_core::Error::LooksLikeBase64
    );
    assert_eq!(
        core_err(client.decrypt(b64.as_bytes(), &DecryptOptions::keyring(&k))),
        esdk_core::Error::LooksLikeBase64
    );
}

#[test]
fn ciphertext_len_is_exact_for_every_suite() {
    let name = "size-key";
    let k = aes(name, 1, 32);
    let (pub_pem, _) = rsa_4096_pems();
    let rsa = esdk_std::keyring::RawRsaKeyring::from_pem(
        "rsa-ns",
        "rsa",
        esdk_std::RsaPadding::OaepSha1,
        Some(&pub_pem),
        None,
    )
    .unwrap();
    let multi = MultiKeyring::new(Some(Arc::new(aes(name, 1, 32))), vec![Arc::new(rsa)]).unwrap();
    let user_ec = ec(&[("purpose", "sizes"), ("ünïcödé", "välue")]);
    let pt = bytes(3 * 4096 + 5, 3);
    let mut checked = 0;
    for suite in ALL_SUITES {
        let client = client_for(suite);
        // What the materials will carry, known before encrypting: the EC with a placeholder
        // public key of the right length, and EDKs of the right sizes.
        let mut planned_ec = user_ec.clone();
        if let Some(alg) = suite.signature() {
            let chars = if alg.compressed_public_key_len() == 33 {
                44
            } else {
                68
            };
            planned_ec.insert("aws-crypto-public-key", "A".repeat(chars));
        }
        let aes_edk = EncryptedDataKey {
            provider_id: NS.into(),
            provider_info: vec![0; name.len() + 20],
            ciphertext: vec![0; suite.data_key_len() + 16],
        };
        let rsa_edk = EncryptedDataKey {
            provider_id: "rsa-ns".into(),
            provider_info: b"rsa".to_vec(),
            ciphertext: vec![0; 512],
        };
        for frame in [1u32, 7, 64, 4096] {
            let f = frame as usize;
            let mut lens = vec![0, 1, f - 1, f, f + 1, 2 * f, 3 * f + 5];
            lens.dedup();
            for len in lens {
                let opts = EncryptOptions::keyring(&k)
                    .suite(suite)
                    .frame_length(frame)
                    .encryption_context(user_ec.clone());
                let actual = client.encrypt(&pt[..len], &opts).unwrap().ciphertext.len() as u64;
                let predicted = client
                    .ciphertext_len(
                        suite,
                        std::slice::from_ref(&aes_edk),
                        &planned_ec,
                        frame,
                        len as u64,
                    )
                    .unwrap();
                assert_eq!(predicted, actual, "{suite} frame {frame} plaintext {len}");
                checked += 1;
            }
        }
        let opts = EncryptOptions::keyring(&multi)
            .suite(suite)
            .encryption_context(user_ec.clone());
        let actual = client.encrypt(&pt, &opts).unwrap().ciphertext.len() as u64;
        let predicted = client
            .ciphertext_len(
                suite,
                &[aes_edk, rsa_edk],
                &planned_ec,
                4096,
                pt.len() as u64,
            )
            .unwrap();
        assert_eq!(predicted, actual, "{suite} with two EDKs");
    }
    assert_eq!(checked, 11 * (6 + 7 + 7 + 7));
    // Frame length 0 is no frame length.
    let client = Client::default();
    assert!(
        client
            .ciphertext_len(S0478, &[], &EncryptionContext::new(), 0, 10)
            .is_err()
    );
    let r = client.encrypt(b"x", &EncryptOptions::keyring(&k).frame_length(0));
    assert!(matches!(r, Err(Error::Config(_))), "{r:?}");
}

#[test]
fn unsigned_only_mode_refuses_signed_messages_before_asking_for_keys() {
    let k = Counting::new(aes("k", 1, 32));
    let client = Client::default();
    let signed = client
        .encrypt(b"signed", &EncryptOptions::keyring(&k).suite(S0578))
        .unwrap();
    let unsigned = client
        .encrypt(b"unsigned", &EncryptOptions::keyring(&k).suite(S0478))
        .unwrap();
    let only = DecryptOptions::keyring(&k).unsigned_only();
    let e = core_err(client.decrypt(&signed.ciphertext, &only));
    assert_eq!(
        e,
        esdk_core::Error::Policy(PolicyError::SignedSuiteInUnsignedOnlyMode { suite: 0x0578 })
    );
    assert_eq!(k.decrypt_calls(), 0);
    assert_eq!(
        client
            .decrypt(&unsigned.ciphertext, &only)
            .unwrap()
            .plaintext,
        b"unsigned"
    );
    assert_eq!(k.decrypt_calls(), 1);
    // v1 signed suites too.
    let forbid = client_for(S0378);
    let v1 = forbid
        .encrypt(b"v1", &EncryptOptions::keyring(&k).suite(S0378))
        .unwrap();
    assert!(matches!(
        core_err(forbid.decrypt(&v1.ciphertext, &only)),
        esdk_core::Error::Policy(PolicyError::SignedSuiteInUnsignedOnlyMode { suite: 0x0378 })
    ));
    assert_eq!(k.decrypt_calls(), 1);
}

#[test]
fn commitment_policy_on_encrypt_and_decrypt() {
    let k = Counting::new(aes("k", 1, 32));
    let forbid = Client::builder()
        .commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
        .build();
    let allow = Client::builder()
        .commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
        .build();
    let require = Client::default();
    let v1 = forbid
        .encrypt(b"legacy", &EncryptOptions::keyring(&k).suite(S0178))
        .unwrap();
    let v2 = require
        .encrypt(b"committed", &EncryptOptions::keyring(&k).suite(S0478))
        .unwrap();
    let calls = k.decrypt_calls();
    let e = core_err(require.decrypt(&v1.ciphertext, &DecryptOptions::keyring(&k)));
    assert_eq!(
        e,
        esdk_core::Error::Policy(PolicyError::CommitmentPolicy {
            suite: 0x0178,
            policy: CommitmentPolicy::RequireEncryptRequireDecrypt
        })
    );
    assert!(
        DecryptingReader::new(&require, &DecryptOptions::keyring(&k), &v1.ciphertext[..]).is_err()
    );
    assert_eq!(k.decrypt_calls(), calls, "the keyring must not be asked");
    for c in [&forbid, &allow] {
        assert_eq!(
            c.decrypt(&v1.ciphertext, &DecryptOptions::keyring(&k))
                .unwrap()
                .plaintext,
            b"legacy"
        );
        assert_eq!(
            c.decrypt(&v2.ciphertext, &DecryptOptions::keyring(&k))
                .unwrap()
                .plaintext,
            b"committed"
        );
    }
    // Encrypt: a suite the policy forbids, whichever way it is asked for.
    for suite in ALL_SUITES {
        for (client, ok) in [
            (&forbid, !suite.is_committing()),
            (&allow, suite.is_committing()),
            (&require, suite.is_committing()),
        ] {
            let opts = EncryptOptions::keyring(&k).suite(suite);
            assert_eq!(client.encrypt(b"", &opts).is_ok(), ok, "{suite}");
            assert_eq!(
                EncryptingWriter::new(client, &opts, Vec::new()).is_ok(),
                ok,
                "{suite}"
            );
        }
    }
}

#[test]
fn every_single_byte_change_is_detected() {
    let k = aes("k", 1, 32);
    for suite in [S0478, S0578, S0014] {
        let client = client_for(suite);
        let opts = EncryptOptions::keyring(&k)
            .suite(suite)
            .frame_length(16)
            .encryption_context(ec(&[("a", "b")]));
        let pt = bytes(40, 4);
        let enc = client.encrypt(&pt, &opts).unwrap();
        assert_eq!(
            client
                .decrypt(&enc.ciphertext, &DecryptOptions::keyring(&k))
                .unwrap()
                .plaintext,
            pt
        );
        for i in 0..enc.ciphertext.len() {
            let mut bad = enc.ciphertext.clone();
            bad[i] ^= 0x01;
            let r = client.decrypt(&bad, &DecryptOptions::keyring(&k));
            assert!(
                r.is_err(),
                "{suite}: flipping byte {i} of {} went unnoticed",
                enc.ciphertext.len()
            );
        }
    }
}

#[test]
fn end_of_message_errors() {
    let k = aes("k", 1, 32);
    let client = Client::default();
    let enc = client
        .encrypt(
            &bytes(100, 5),
            &EncryptOptions::keyring(&k).suite(S0478).frame_length(32),
        )
        .unwrap();
    let ct = &enc.ciphertext;
    assert_eq!(
        core_err(client.decrypt(&ct[..ct.len() - 1], &DecryptOptions::keyring(&k))),
        esdk_core::Error::Truncated
    );
    let mut long = ct.clone();
    long.push(0);
    assert_eq!(
        core_err(client.decrypt(&long, &DecryptOptions::keyring(&k))),
        esdk_core::Error::TrailingData
    );
    let mut two = ct.clone();
    two.extend_from_slice(ct);
    assert_eq!(
        core_err(client.decrypt(&two, &DecryptOptions::keyring(&k))),
        esdk_core::Error::TrailingData
    );
    // The reader agrees.
    let mut r = DecryptingReader::new(&client, &DecryptOptions::keyring(&k), &two[..]).unwrap();
    let mut out = Vec::new();
    let err = r.read_to_end(&mut out).unwrap_err();
    assert_eq!(core_of_io(&err), Some(esdk_core::Error::TrailingData));
}
