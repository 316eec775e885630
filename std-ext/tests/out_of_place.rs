//! Out-of-place AEAD in every backend (`seal_to` / `open_to`, native on aws-lc), and the one-shot
//! paths built on it: encryption sealing straight from the caller's plaintext, decryption
//! opening each frame straight into the result, which is released only once the whole message
//! verified.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::{S0014, S0478, S0578, aes, bytes};
use esdk_core::crypto::{AeadKey, AuthFailed, CryptoProvider};
use esdk_std::provider::Backend;
use esdk_std::{AlgorithmSuite, Client, CommitmentPolicy, DecryptOptions, EncryptOptions};

#[test]
fn every_backend_seals_and_opens_out_of_place_like_in_place() {
    for b in Backend::all() {
        for key_len in [16usize, 24, 32] {
            let key = b.aead_key(&bytes(key_len, 1)).unwrap();
            let iv = [7u8; 12];
            for n in [0usize, 1, 17, 4096, 65_537] {
                let pt = bytes(n, n as u64);
                let mut in_place = pt.clone();
                let tag = key.seal_in_place(&iv, b"aad", &mut in_place).unwrap();
                let mut ct = vec![0xAAu8; n];
                assert_eq!(key.seal_to(&iv, b"aad", &pt, &mut ct).unwrap(), tag);
                assert_eq!(ct, in_place, "{} {key_len} {n}", b.name());
                let mut back = vec![0xAAu8; n];
                key.open_to(&iv, b"aad", &ct, &tag, &mut back).unwrap();
                assert_eq!(back, pt);
                // A bad tag: an error and an output holding zeros only.
                let mut bad = tag;
                bad[15] ^= 0x80;
                let mut back = vec![0xAAu8; n];
                assert_eq!(
                    key.open_to(&iv, b"aad", &ct, &bad, &mut back),
                    Err(AuthFailed)
                );
                assert!(back.iter().all(|&x| x == 0), "{} {n}", b.name());
            }
            let mut out = [0u8; 3];
            assert!(key.seal_to(&iv, b"", &[1, 2], &mut out).is_err());
            assert_eq!(
                key.open_to(&iv, b"", &[1, 2], &[0; 16], &mut out),
                Err(AuthFailed)
            );
        }
    }
}

fn client(b: &Backend, suite: AlgorithmSuite) -> Client {
    let policy = if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    };
    Client::builder()
        .backend(b.clone())
        .commitment_policy(policy)
        .build()
}

#[test]
fn one_shot_round_trips_at_every_frame_boundary() {
    let k = aes("k", 1, 32);
    for b in Backend::all() {
        for suite in [S0478, S0578, S0014] {
            let c = client(b, suite);
            for n in [0usize, 1, 99, 100, 101, 250, 1000, 70_000] {
                let pt = bytes(n, 9);
                let e = c
                    .encrypt(
                        &pt,
                        &EncryptOptions::keyring(&k).suite(suite).frame_length(100),
                    )
                    .unwrap();
                let d = c
                    .decrypt(&e.ciphertext, &DecryptOptions::keyring(&k))
                    .unwrap();
                assert_eq!(d.plaintext, pt, "{} {suite:?} {n}", b.name());
                // The result holds the plaintext, nothing more.
                assert_eq!(d.plaintext.len(), n);
            }
        }
    }
}

#[test]
fn one_shot_decrypt_refuses_every_changed_byte_of_the_body() {
    let k = aes("k", 2, 32);
    for b in Backend::all() {
        for suite in [S0478, S0578] {
            let c = client(b, suite);
            let pt = bytes(1000, 3);
            let e = c
                .encrypt(
                    &pt,
                    &EncryptOptions::keyring(&k).suite(suite).frame_length(100),
                )
                .unwrap();
            let ct = e.ciphertext;
            // Every 37th byte after the header region: frames (numbers, IVs, content, tags),
            // the final frame and, for signed suites, the footer.
            let start = ct.len() - (9 * 132 + 140 + if suite == S0578 { 105 } else { 0 });
            for at in (start..ct.len()).step_by(37).chain([ct.len() - 1]) {
                let mut bad = ct.clone();
                bad[at] ^= 0x01;
                assert!(
                    c.decrypt(&bad, &DecryptOptions::keyring(&k)).is_err(),
                    "{} {suite:?}: byte {at} of {}",
                    b.name(),
                    ct.len()
                );
            }
            // Truncated anywhere in the body, or with a byte appended: refused.
            for cut in [start + 1, start + 500, ct.len() - 1] {
                assert!(c.decrypt(&ct[..cut], &DecryptOptions::keyring(&k)).is_err());
            }
            let mut longer = ct.clone();
            longer.push(0);
            assert!(c.decrypt(&longer, &DecryptOptions::keyring(&k)).is_err());
        }
    }
}
