//! The pipelined running digest (`Backend::with_pipelined_digest`, issue #15): large signed
//! messages hash on a helper thread, and nothing a caller can see changes. Every signed suite,
//! every backend compiled in, message sizes on both sides of the threshold, every encrypting
//! and decrypting path: byte-identical messages, the same plaintext, and for damaged messages
//! the same errors after the same released plaintext (the final frame never before the
//! signature verified). The helper's failure is injected in the unit tests of
//! `provider::pipelined` (a test hook of the crate).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

#[path = "support/counting_provider.rs"]
mod counting_provider;

use counting_provider::{Counting, get};
use esdk_std::keyring::RawAesKeyring;
use esdk_std::provider::{Backend, PIPELINED_DIGEST_MIN_BYTES, SharedRng};
use esdk_std::stream::io::{DecryptingReader, DecryptingWriter, EncryptingWriter};
use esdk_std::{AlgorithmSuite, Client, CommitmentPolicy, DecryptOptions, EncryptOptions};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use std::io::{Read, Write};

const T: usize = PIPELINED_DIGEST_MIN_BYTES as usize;

fn signed_suites() -> Vec<AlgorithmSuite> {
    AlgorithmSuite::ALL
        .into_iter()
        .filter(|s| s.signature().is_some())
        .collect()
}

fn plaintext(len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    StdRng::seed_from_u64(len as u64).fill_bytes(&mut v);
    v
}

/// A client on `backend` whose randomness is seeded, so two clients write the same message.
fn client(backend: &Backend, suite: AlgorithmSuite, pipelined: bool, seed: u64) -> Client {
    Client::builder()
        .backend(backend.clone())
        .pipelined_digest(pipelined)
        .commitment_policy(if suite.is_committing() {
            CommitmentPolicy::RequireEncryptRequireDecrypt
        } else {
            CommitmentPolicy::ForbidEncryptAllowDecrypt
        })
        .rng(SharedRng::new(StdRng::seed_from_u64(seed)))
        .build()
}

fn keyring() -> RawAesKeyring {
    RawAesKeyring::new("ns", "pipelined", &[9u8; 32]).unwrap()
}

/// Whether `ct` is `reference` up to its signature. AWS-LC's ECDSA draws its nonce from its
/// own generator, so only RustCrypto's signatures (nonce from the seeded one) are compared
/// too; every message is also checked to verify without the pipelined digest.
fn same_message(backend: &Backend, suite: AlgorithmSuite, ct: &[u8], reference: &[u8]) -> bool {
    let sig = suite.signature().map_or(0, |a| a.fixed_signature_len());
    let signed_part = reference.len() - sig;
    let deterministic = backend.name() == "rustcrypto";
    ct.len() == reference.len()
        && ct[..signed_part] == reference[..signed_part]
        && (!deterministic || ct == reference)
}

/// Plaintext released by a decrypting reader reading `step` bytes per call, and its error.
fn read_all(c: &Client, ct: &[u8], step: usize) -> (Vec<u8>, Option<String>) {
    let kr = keyring();
    let dec = DecryptOptions::keyring(&kr);
    let mut r = match DecryptingReader::new(c, &dec, ct) {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Some(e.to_string())),
    };
    let mut out = Vec::new();
    let mut buf = vec![0u8; step];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Some(e.to_string())),
        }
    }
}

#[test]
fn every_path_writes_and_reads_the_same_bytes_with_the_pipelined_digest() {
    let kr = keyring();
    let sizes = [0, 1, T - 1, T, T + 1, 5 * T + 7];
    for backend in Backend::all() {
        for suite in signed_suites() {
            for (i, &len) in sizes.iter().enumerate() {
                let pt = plaintext(len);
                let what = format!("{} {:#06x} {len}", backend.name(), suite.id());
                let seed = 100 + i as u64;
                let enc = EncryptOptions::keyring(&kr)
                    .suite(suite)
                    .frame_length(4096)
                    .parallelism(1);
                let reference = client(backend, suite, false, seed)
                    .encrypt(&pt, &enc)
                    .unwrap()
                    .ciphertext;
                let plain = client(backend, suite, false, seed);
                let dec = DecryptOptions::keyring(&kr).parallelism(1);
                // One-shot, sequential and frame-parallel.
                for workers in [1, 2] {
                    let c = client(backend, suite, true, seed);
                    let ct = c
                        .encrypt(&pt, &enc.clone().parallelism(workers))
                        .unwrap()
                        .ciphertext;
                    let ok = same_message(backend, suite, &ct, &reference);
                    assert!(ok, "{what}: one-shot, {workers} workers");
                    let out = plain.decrypt(&ct, &dec).unwrap().plaintext;
                    assert!(out[..] == pt[..], "{what}: one-shot, {workers} workers");
                }
                // The encrypting writer, in uneven pieces.
                let c = client(backend, suite, true, seed);
                let mut w = EncryptingWriter::new(&c, &enc, Vec::new()).unwrap();
                for piece in pt.chunks(65_537) {
                    w.write_all(piece).unwrap();
                }
                let ct = w.finish().unwrap();
                assert!(
                    same_message(backend, suite, &ct, &reference),
                    "{what}: writer"
                );
                let out = plain.decrypt(&ct, &dec).unwrap().plaintext;
                assert!(out[..] == pt[..], "{what}: writer");
                // Every decrypting path, pipelined.
                let c = client(backend, suite, true, seed);
                for workers in [1, 2] {
                    let dec = DecryptOptions::keyring(&kr).parallelism(workers);
                    let out = c.decrypt(&reference, &dec).unwrap().plaintext;
                    assert!(out[..] == pt[..], "{what}: one-shot, {workers} workers");
                }
                let (out, err) = read_all(&c, &reference, 70_001);
                assert_eq!(err, None, "{what}");
                assert!(out == pt, "{what}: reader");
                let dec = DecryptOptions::keyring(&kr);
                let mut w = DecryptingWriter::new(&c, &dec, Vec::new());
                for piece in reference.chunks(50_003) {
                    w.write_all(piece).unwrap();
                }
                assert!(w.finish().unwrap() == pt, "{what}: decrypting writer");
            }
        }
    }
}

#[test]
fn damaged_messages_fail_exactly_as_without_it() {
    let kr = keyring();
    // 3 MiB + 100: the digest moves to its thread after the first MiB; the final frame holds
    // 100 bytes.
    let pt = plaintext(3 * T + 100);
    for backend in Backend::all() {
        for suite in [
            AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
            AlgorithmSuite::AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256,
        ] {
            let plain = client(backend, suite, false, 1);
            let piped = client(backend, suite, true, 1);
            let enc = EncryptOptions::keyring(&kr).suite(suite).frame_length(4096);
            let ct = plain.encrypt(&pt, &enc).unwrap().ciphertext;
            let sig = suite.signature().unwrap().fixed_signature_len();
            let n = ct.len();
            let mut damaged: Vec<(String, Vec<u8>, bool)> = Vec::new();
            for (name, at) in [
                ("an early frame", 40_000),
                ("a frame hashed on the helper", 2 * T),
                ("the final frame", n - sig - 2 - 20),
                ("the footer length", n - sig - 1),
                ("the signature", n - 1),
                ("the signature's start", n - sig),
            ] {
                let mut bad = ct.clone();
                bad[at] ^= 0x10;
                // Damage from the final frame on is caught only at the end.
                damaged.push((name.into(), bad, at >= n - sig - 2 - 100));
            }
            for cut in [1, 2 + sig, 50, T] {
                damaged.push((format!("truncated by {cut}"), ct[..n - cut].to_vec(), true));
            }
            let mut long = ct.clone();
            long.push(0);
            damaged.push(("a trailing byte".into(), long, true));
            for (name, bad, at_end) in &damaged {
                let what = format!("{} {:#06x} {name}", backend.name(), suite.id());
                let dec = DecryptOptions::keyring(&kr).parallelism(1);
                let a = plain.decrypt(bad, &dec).map(|_| ()).unwrap_err();
                let b = piped.decrypt(bad, &dec).map(|_| ()).unwrap_err();
                assert_eq!(a.to_string(), b.to_string(), "{what}");
                // Frame-parallel: a damaged frame fails its worker while the calling thread
                // may already have checked the signature; which of the two failures is
                // reported depends on timing with or without the pipelined digest. It fails,
                // with one of the sequential path's error or the signature's.
                let dec = DecryptOptions::keyring(&kr).parallelism(2);
                let mut out = Vec::new();
                let e = piped
                    .decrypt_into(bad, &dec, &mut out)
                    .map(|_| ())
                    .unwrap_err();
                assert!(out.is_empty(), "{what}");
                let e = e.to_string();
                assert!(
                    e == a.to_string() || e == "message signature verification failed",
                    "{what}: {e}"
                );
                for step in [4099, 65_536 + 3] {
                    let a = read_all(&plain, bad, step);
                    let b = read_all(&piped, bad, step);
                    assert!(b.1.is_some(), "{what}: reader accepted it");
                    assert_eq!(a.1, b.1, "{what}: reader error, {step}");
                    assert_eq!(a.0.len(), b.0.len(), "{what}: released, {step}");
                    assert!(b.0[..] == pt[..b.0.len()], "{what}");
                    if *at_end {
                        // Nothing of the final frame before the signature verified.
                        assert!(b.0.len() <= pt.len() - 100, "{what}: {}", b.0.len());
                    }
                }
            }
        }
    }
}

/// The helper thread exists while a large signed message is written (Linux: thread names in
/// /proc), so the tests above do exercise the pipelined path.
#[cfg(target_os = "linux")]
#[test]
fn a_large_signed_message_hashes_on_a_helper_thread() {
    let helpers = || {
        std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
            .filter(|name| name.trim() == "esdk-digest")
            .count()
    };
    let kr = keyring();
    let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
    let c = client(&Backend::default(), suite, true, 5);
    let enc = EncryptOptions::keyring(&kr).suite(suite);
    let mut w = EncryptingWriter::new(&c, &enc, Vec::new()).unwrap();
    w.write_all(&plaintext(2 * T)).unwrap();
    assert!(helpers() >= 1, "no esdk-digest thread mid-message");
    let ct = w.finish().unwrap();
    let out = c
        .decrypt(&ct, &DecryptOptions::keyring(&kr))
        .unwrap()
        .plaintext;
    assert!(out[..] == plaintext(2 * T)[..]);
}

/// Work linear in the message whatever the chunking, with the digest pipelined: the std::io
/// writer and reader at one byte per call do exactly the provider calls they do at 64 KiB
/// (the helper's hash updates, one per 256 KiB buffer, counted with the rest), and the hash
/// absorbs each message byte once.
#[test]
fn one_byte_per_call_does_the_same_work_with_the_pipelined_digest() {
    let kr = keyring();
    let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
    let pt = plaintext(3 * T + 5);
    let run = |step: usize| {
        let p = Counting::default();
        let c = Client::builder()
            .backend(Backend::custom(p.clone()).with_pipelined_digest(true))
            .rng(SharedRng::new(StdRng::seed_from_u64(3)))
            .build();
        let enc = EncryptOptions::keyring(&kr).suite(suite).frame_length(4096);
        let mut w = EncryptingWriter::new(&c, &enc, Vec::new()).unwrap();
        for piece in pt.chunks(step) {
            w.write_all(piece).unwrap();
        }
        let ct = w.finish().unwrap();
        let (out, err) = read_all(&c, &ct, step);
        assert_eq!(err, None);
        assert!(out == pt);
        let k = &p.counts;
        let calls = [
            get(&k.seal),
            get(&k.open),
            get(&k.digest),
            get(&k.digest_update),
            get(&k.ecdsa_sign),
            get(&k.ecdsa_verify),
        ];
        (calls, ct.len())
    };
    let (bytewise, n) = run(1);
    let (chunked, _) = run(64 << 10);
    assert_eq!(bytewise, chunked);
    // Two messages' worth of updates: each frame inline up to the threshold, then one per
    // 256 KiB buffer (about 8 per message here), not one per caller call.
    let frames = n / (4096 + 28);
    assert!(bytewise[3] < 2 * (frames / 3 + 20), "{bytewise:?}");
}

/// The tokio adapters with the digest pipelined (the helper is waited for on the executor's
/// thread, as long as hashing inline would take): same message, same plaintext, and a bad
/// signature still withholds the final frame.
#[cfg(feature = "tokio")]
#[tokio::test]
async fn the_tokio_adapters_agree_with_the_pipelined_digest() {
    use esdk_std::stream::tokio::{AsyncDecryptingReader, AsyncEncryptingWriter};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let kr = keyring();
    let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
    for backend in Backend::all() {
        let pt = plaintext(2 * T + 100);
        let enc = EncryptOptions::keyring(&kr)
            .suite(suite)
            .frame_length(4096)
            .parallelism(1);
        let reference = client(backend, suite, false, 8)
            .encrypt(&pt, &enc)
            .unwrap()
            .ciphertext;
        let c = client(backend, suite, true, 8);
        let mut w = AsyncEncryptingWriter::new(&c, &enc, Vec::new())
            .await
            .unwrap();
        for piece in pt.chunks(10_007) {
            w.write_all(piece).await.unwrap();
        }
        let ct = w.finish().await.unwrap();
        assert!(
            same_message(backend, suite, &ct, &reference),
            "{}",
            backend.name()
        );
        let dec = DecryptOptions::keyring(&kr);
        let mut bad = ct.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        for (msg, ok) in [(&ct, true), (&bad, false)] {
            let mut r = AsyncDecryptingReader::new(&c, &dec, &msg[..])
                .await
                .unwrap();
            let mut out = Vec::new();
            let mut buf = vec![0u8; 8191];
            let result = loop {
                match r.read(&mut buf).await {
                    Ok(0) => break Ok(()),
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                    Err(e) => break Err(e),
                }
            };
            assert_eq!(result.is_ok(), ok, "{}", backend.name());
            if ok {
                assert!(out == pt);
            } else {
                assert!(out.len() <= pt.len() - 100 && out[..] == pt[..out.len()]);
            }
        }
    }
}
