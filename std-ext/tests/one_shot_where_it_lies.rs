//! The sequential one-shot decryption (`Client::decrypt_into` at parallelism 1) takes each
//! regular frame where it lies in the caller's message instead of through the decrypt engine's
//! buffer (issue #13, branch s5-f). These tests hold it to the engine's own behaviour: for
//! every single-bit corruption of a multi-frame message, the one-shot call fails with exactly
//! the error the streaming reader (which feeds every frame through the engine) reports, in the
//! same message order, and leaves the output buffer empty.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::{S0014, S0478, S0578, aes, bytes, std_of};
use esdk_std::provider::Backend;
use esdk_std::stream::io::DecryptingReader;
use esdk_std::{Client, CommitmentPolicy, DecryptOptions, EncryptOptions};
use std::io::Read;

fn client(b: &Backend, committing: bool) -> Client {
    Client::builder()
        .backend(b.clone())
        .commitment_policy(if committing {
            CommitmentPolicy::RequireEncryptRequireDecrypt
        } else {
            CommitmentPolicy::ForbidEncryptAllowDecrypt
        })
        .build()
}

/// The error the engine-driven streaming reader reports for `ct`, as text.
fn reader_error(c: &Client, dec: &DecryptOptions<'_>, ct: &[u8]) -> Option<String> {
    let mut r = match DecryptingReader::new(c, dec, ct) {
        Ok(r) => r,
        Err(e) => return Some(e.to_string()),
    };
    let mut out = Vec::new();
    r.read_to_end(&mut out)
        .err()
        .map(|e| std_of(&e).map_or_else(|| e.to_string(), ToString::to_string))
}

#[test]
fn every_bit_flip_fails_one_shot_exactly_as_through_the_engine() {
    let keyring = aes("k", 3, 32);
    let pt = bytes(200, 9);
    for b in Backend::all() {
        for suite in [S0478, S0578, S0014] {
            let c = client(b, suite.is_committing());
            // 32-byte frames: 6 regular frames and a final one.
            let enc = EncryptOptions::keyring(&keyring)
                .suite(suite)
                .frame_length(32);
            let ct = c.encrypt(&pt, &enc).unwrap().ciphertext;
            let dec = DecryptOptions::keyring(&keyring).parallelism(1);
            let mut out = Vec::with_capacity(ct.len());
            c.decrypt_into(&ct, &dec, &mut out).unwrap();
            assert_eq!(out, pt);
            let mut failures = 0usize;
            for i in 0..ct.len() {
                let mut bad = ct.clone();
                bad[i] ^= 0x01;
                let one_shot = c.decrypt_into(&bad, &dec, &mut out);
                let engine = reader_error(&c, &dec, &bad);
                match one_shot {
                    Ok(_) => {
                        // Only bytes nothing authenticates may change without failing; the
                        // engine must agree.
                        assert_eq!(engine, None, "{} {suite:?} byte {i}", b.name());
                        assert_eq!(out, pt);
                    }
                    Err(e) => {
                        failures += 1;
                        assert!(out.is_empty(), "{} {suite:?} byte {i}", b.name());
                        assert_eq!(
                            Some(e.to_string()),
                            engine,
                            "{} {suite:?} byte {i}",
                            b.name()
                        );
                    }
                }
            }
            assert!(failures > ct.len() / 2, "{failures} of {}", ct.len());
        }
    }
}

#[test]
fn a_bad_tag_is_reported_before_a_later_frame_out_of_order() {
    let keyring = aes("k", 3, 32);
    let pt = bytes(200, 10);
    for b in Backend::all() {
        let c = client(b, true);
        let enc = EncryptOptions::keyring(&keyring)
            .suite(S0478)
            .frame_length(32);
        let ct = c.encrypt(&pt, &enc).unwrap().ciphertext;
        let dec = DecryptOptions::keyring(&keyring).parallelism(1);
        // Regular frames: 4-byte sequence number, 12-byte IV, 32 bytes, 16-byte tag.
        let rl = 4 + 12 + 32 + 16;
        let body = ct.len() - (4 + 4 + 12 + 4 + 8 + 16) - 6 * rl;
        let mut bad = ct.clone();
        bad[body + 2 * rl + rl - 1] ^= 0x80; // frame 3's tag
        bad[body + 4 * rl + 3] ^= 0x01; // frame 5's sequence number
        let mut out = Vec::new();
        let e = c.decrypt_into(&bad, &dec, &mut out).unwrap_err();
        assert!(out.is_empty());
        assert_eq!(Some(e.to_string()), reader_error(&c, &dec, &bad));
        let mut only_tag = ct.clone();
        only_tag[body + 2 * rl + rl - 1] ^= 0x80;
        let e_tag = c.decrypt_into(&only_tag, &dec, &mut out).unwrap_err();
        assert_eq!(e.to_string(), e_tag.to_string(), "{}", b.name());
    }
}
