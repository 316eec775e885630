//! `Client::encrypt_into` / `decrypt_into` (and their async forms): one-shot messages into a
//! caller's buffer. Round trips for every suite and backend, byte-identical to the allocating
//! API, failures (tampered, wrong key, truncated, trailing data) leaving the buffer empty with
//! no plaintext anywhere in its allocation, buffer reuse across messages and capacity behaviour.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod common;

use common::{ALL_SUITES, S0014, S0478, S0578, aes, bytes};
use esdk_std::provider::{Backend, SharedRng};
use esdk_std::{AlgorithmSuite, Client, CommitmentPolicy, DecryptOptions, EncryptOptions};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn client(b: &Backend, suite: AlgorithmSuite, seed: u64) -> Client {
    let policy = if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    };
    Client::builder()
        .backend(b.clone())
        .commitment_policy(policy)
        .rng(SharedRng::new(StdRng::seed_from_u64(seed)))
        .build()
}

/// Every byte of `v`'s allocation, its spare capacity included.
///
/// Only for buffers whose whole capacity the test initialized itself (`filled`) and that kept
/// their allocation since (the callers check the pointer and capacity first): the bytes past
/// `len` are then initialized memory the library may have written to or wiped, which is
/// exactly what these tests inspect.
#[allow(unsafe_code)]
fn whole_allocation(v: &Vec<u8>) -> &[u8] {
    // SAFETY: see above — `filled` initialized all `capacity()` bytes of this allocation,
    // `Vec` never de-initializes memory, and the borrow of `v` keeps the allocation alive.
    unsafe { std::slice::from_raw_parts(v.as_ptr(), v.capacity()) }
}

/// A buffer whose whole allocation holds `byte`, `len` of them visible.
fn filled(capacity: usize, len: usize, byte: u8) -> Vec<u8> {
    let mut v = vec![byte; capacity];
    v.truncate(len);
    assert_eq!(v.capacity(), capacity);
    v
}

/// Plaintext that no wiped or untouched byte looks like: every byte is 0x5C.
const MARK: u8 = 0x5C;
const FILL: u8 = 0xA5;

#[test]
fn every_suite_and_backend_round_trips_byte_identical_to_the_allocating_api() {
    let keyring = aes("k", 7, 32);
    for b in Backend::all() {
        for suite in ALL_SUITES {
            for (len, frame) in [(0usize, 4096u32), (1, 4096), (1000, 64), (4096, 1024)] {
                let pt = bytes(len, len as u64 + u64::from(suite.id()));
                let enc = EncryptOptions::keyring(&keyring)
                    .suite(suite)
                    .frame_length(frame);
                let dec = DecryptOptions::keyring(&keyring);
                // The same seeded randomness on both sides: the same message.
                let expected = client(b, suite, 9).encrypt(&pt, &enc).unwrap();
                let c = client(b, suite, 9);
                let mut ct = filled(64, 10, 0xEE);
                let info = c.encrypt_into(&pt, &enc, &mut ct).unwrap();
                if suite.signature().is_none() {
                    assert_eq!(ct, expected.ciphertext, "{} {suite:?} {len}", b.name());
                } else {
                    // ECDSA nonces come from the backend, not the client's randomness: the
                    // messages agree up to the footer (2-byte length, DER signature ≤ 104).
                    let same = ct
                        .iter()
                        .zip(&expected.ciphertext)
                        .take_while(|(a, b)| a == b)
                        .count();
                    assert!(
                        same + 2 + 104 >= expected.ciphertext.len(),
                        "{suite:?} {len}"
                    );
                }
                assert_eq!(info.header.message_id, expected.header.message_id);
                let mut out = filled(16, 3, FILL);
                let d = c.decrypt_into(&ct, &dec, &mut out).unwrap();
                assert_eq!(out, pt, "{} {suite:?} {len}", b.name());
                assert_eq!(d.header.suite, suite);
                let whole = c.decrypt(&ct, &dec).unwrap();
                assert_eq!(d.encryption_context, whole.encryption_context);
            }
        }
    }
}

#[test]
fn non_framed_and_empty_final_frame_messages_go_into_buffers_too() {
    let keyring = aes("k", 7, 32);
    let c = client(&Backend::default(), S0478, 1);
    let pt = bytes(2048, 5);
    let dec = DecryptOptions::keyring(&keyring);
    for enc in [
        EncryptOptions::keyring(&keyring).non_framed(true),
        EncryptOptions::keyring(&keyring)
            .frame_length(1024)
            .empty_final_frame(true),
    ] {
        let (mut ct, mut out) = (Vec::new(), Vec::new());
        c.encrypt_into(&pt, &enc, &mut ct).unwrap();
        c.decrypt_into(&ct, &dec, &mut out).unwrap();
        assert_eq!(out, pt);
        assert_eq!(c.decrypt(&ct, &dec).unwrap().plaintext, pt);
    }
}

/// Decrypts `ct` into a buffer filled with [`FILL`] and checks that it fails, leaving the
/// buffer empty, in the same allocation, with no byte of plaintext anywhere in it.
fn assert_fails_clean(c: &Client, ct: &[u8], dec: &DecryptOptions<'_>, what: &str) {
    let mut out = filled(ct.len() + 4096, 7, FILL);
    let (ptr, cap) = (out.as_ptr(), out.capacity());
    assert!(
        c.decrypt_into(ct, dec, &mut out).is_err(),
        "{what}: accepted"
    );
    assert!(out.is_empty(), "{what}: {} bytes left", out.len());
    assert_eq!((out.as_ptr(), out.capacity()), (ptr, cap), "{what}");
    assert!(
        whole_allocation(&out).iter().all(|&x| x == FILL || x == 0),
        "{what}: plaintext left in the buffer's allocation"
    );
}

#[test]
fn tampered_wrong_key_truncated_and_trailing_messages_leave_no_plaintext() {
    let keyring = aes("k", 7, 32);
    let dec = DecryptOptions::keyring(&keyring);
    for suite in [S0478, S0578, S0014] {
        let c = client(&Backend::default(), suite, 3);
        // Eight regular frames and a final one: a failure late in the message comes after
        // plaintext was already opened into the buffer, which must then be wiped.
        let pt = vec![MARK; 8 * 128 + 50];
        let enc = EncryptOptions::keyring(&keyring)
            .suite(suite)
            .frame_length(128);
        let ct = c.encrypt(&pt, &enc).unwrap().ciphertext;
        // Sanity: the buffer does get the plaintext when the message is intact.
        let mut out = filled(ct.len() + 4096, 7, FILL);
        c.decrypt_into(&ct, &dec, &mut out).unwrap();
        assert_eq!(out, pt);
        // Every byte changed, one at a time (the header every 3rd byte, the body and footer
        // every byte of the last 400 and every 7th before).
        let tail = ct.len() - 400;
        for i in (0..ct.len()).filter(|&i| i >= tail || i % 7 == 0 || i < 200 && i % 3 == 0) {
            let mut bad = ct.clone();
            bad[i] ^= 0x01;
            assert_fails_clean(&c, &bad, &dec, &format!("{suite:?} byte {i}"));
        }
        for n in (0..ct.len()).step_by(13).chain(ct.len() - 40..ct.len()) {
            assert_fails_clean(&c, &ct[..n], &dec, &format!("{suite:?} cut at {n}"));
            // A cut message is reported as truncated (the engine's buffer, capped at the
            // message's length, never turns it into a buffer-limit error).
            let e = c.decrypt_into(&ct[..n], &dec, &mut Vec::new()).unwrap_err();
            assert!(
                matches!(e.core(), Some(esdk_core::Error::Truncated)),
                "{suite:?} cut at {n}: {e:?}"
            );
        }
        let mut long = ct.clone();
        long.push(0);
        assert_fails_clean(&c, &long, &dec, &format!("{suite:?} trailing byte"));
        let other = aes("k", 8, 32);
        assert_fails_clean(
            &c,
            &ct,
            &DecryptOptions::keyring(&other),
            &format!("{suite:?} wrong key"),
        );
        if suite.signature().is_none() {
            assert_fails_clean(
                &c,
                &client(&Backend::default(), S0578, 3)
                    .encrypt(&pt, &enc.clone().suite(S0578))
                    .unwrap()
                    .ciphertext,
                &DecryptOptions::keyring(&keyring).unsigned_only(),
                "signed message refused by unsigned_only",
            );
        }
    }
}

#[test]
fn one_buffer_is_reused_across_messages_without_reallocating() {
    let keyring = aes("k", 7, 32);
    let c = client(&Backend::default(), S0478, 4);
    let enc = EncryptOptions::keyring(&keyring).frame_length(4096);
    let dec = DecryptOptions::keyring(&keyring);
    let (mut ct, mut out) = (Vec::new(), Vec::new());
    // The largest message first: every later one fits in the allocations it made.
    let sizes = [200_000usize, 17, 0, 65_536, 1, 199_999, 4096];
    c.encrypt_into(&bytes(sizes[0], 0), &enc, &mut ct).unwrap();
    c.decrypt_into(&ct, &dec, &mut out).unwrap();
    let (ct_at, out_at) = (ct.as_ptr(), out.as_ptr());
    for (i, &n) in sizes.iter().enumerate() {
        let pt = bytes(n, i as u64);
        c.encrypt_into(&pt, &enc, &mut ct).unwrap();
        assert_eq!(c.decrypt(&ct, &dec).unwrap().plaintext, pt, "message {i}");
        c.decrypt_into(&ct, &dec, &mut out).unwrap();
        assert_eq!(out, pt, "message {i}");
        assert_eq!(
            ct.as_ptr(),
            ct_at,
            "message {i}: ciphertext buffer reallocated"
        );
        assert_eq!(
            out.as_ptr(),
            out_at,
            "message {i}: plaintext buffer reallocated"
        );
    }
    // A failure in between leaves the buffer empty but keeps its allocation for the next one.
    let mut bad = ct.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(c.decrypt_into(&bad, &dec, &mut out).is_err());
    assert!(out.is_empty());
    assert_eq!(out.as_ptr(), out_at);
    c.decrypt_into(&ct, &dec, &mut out).unwrap();
    assert_eq!(out, bytes(4096, 6));
}

#[test]
fn capacity_is_used_as_given_and_grown_only_when_short() {
    let keyring = aes("k", 7, 32);
    let c = client(&Backend::default(), S0478, 5);
    let enc = EncryptOptions::keyring(&keyring);
    let dec = DecryptOptions::keyring(&keyring);
    let pt = vec![MARK; 10_000];
    let ct = c.encrypt(&pt, &enc).unwrap().ciphertext;

    // Enough capacity, nothing visible: no new allocation.
    let mut out = Vec::with_capacity(ct.len());
    let at = out.as_ptr();
    c.decrypt_into(&ct, &dec, &mut out).unwrap();
    assert_eq!((out.as_ptr(), out.capacity()), (at, ct.len()));
    assert_eq!(out, pt);

    // Longer earlier contents are replaced, not appended to.
    let mut out = vec![1u8; 50_000];
    c.decrypt_into(&ct, &dec, &mut out).unwrap();
    assert_eq!(out, pt);
    let mut msg = vec![1u8; 50_000];
    c.encrypt_into(&pt, &enc, &mut msg).unwrap();
    assert_eq!(c.decrypt(&msg, &dec).unwrap().plaintext, pt);

    // Too little capacity: a new allocation of the needed size; the result is the same.
    let mut out = filled(100, 100, FILL);
    c.decrypt_into(&ct, &dec, &mut out).unwrap();
    assert_eq!(out, pt);
    assert!(out.capacity() >= ct.len());

    // The wiped bytes of a failure are exactly those the call could have written: the
    // caller's bytes beyond the ciphertext's length stay as they were.
    let mut out = filled(ct.len() + 100, ct.len() + 100, FILL);
    let mut bad = ct.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(c.decrypt_into(&bad, &dec, &mut out).is_err());
    assert!(out.is_empty());
    let all = whole_allocation(&out);
    assert!(all[..ct.len()].iter().all(|&x| x == 0));
    assert!(all[ct.len()..].iter().all(|&x| x == FILL));
}

#[test]
fn encrypt_into_failures_leave_the_buffer_empty() {
    let keyring = aes("k", 7, 32);
    let c = client(&Backend::default(), S0478, 6);
    let mut ct = vec![3u8; 100];
    let reserved: esdk_std::EncryptionContext = [("aws-crypto-x", "y")].into_iter().collect();
    let enc = EncryptOptions::keyring(&keyring).encryption_context(reserved);
    assert!(c.encrypt_into(b"abc", &enc, &mut ct).is_err());
    assert!(ct.is_empty() && ct.capacity() >= 100);
    // A suite the policy forbids.
    let enc = EncryptOptions::keyring(&keyring).suite(S0014);
    ct.extend_from_slice(b"xyz");
    assert!(c.encrypt_into(b"abc", &enc, &mut ct).is_err());
    assert!(ct.is_empty());
}

#[test]
fn parallel_and_async_forms_give_the_same_results() {
    let keyring = aes("k", 7, 32);
    let c = client(&Backend::default(), S0578, 7);
    let pt = bytes(300_000, 8);
    let enc = EncryptOptions::keyring(&keyring)
        .frame_length(4096)
        .parallelism(3);
    let dec = DecryptOptions::keyring(&keyring).parallelism(3);
    let (mut ct, mut out) = (vec![9u8; 10], vec![9u8; 10]);
    c.encrypt_into(&pt, &enc, &mut ct).unwrap();
    c.decrypt_into(&ct, &dec, &mut out).unwrap();
    assert_eq!(out, pt);
    let mut bad = ct.clone();
    bad[ct.len() / 2] ^= 1;
    assert!(c.decrypt_into(&bad, &dec, &mut out).is_err());
    assert!(out.is_empty());

    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let seq = EncryptOptions::keyring(&keyring);
    let (mut ct2, mut out2) = (Vec::new(), Vec::new());
    rt.block_on(async {
        c.encrypt_into_async(&pt, &seq, &mut ct2).await.unwrap();
        c.decrypt_into_async(&ct2, &DecryptOptions::keyring(&keyring), &mut out2)
            .await
            .unwrap();
    });
    assert_eq!(out2, pt);
    let mut bad = ct2.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let mut out3 = filled(bad.len() + 10, 0, FILL);
    let failed =
        rt.block_on(c.decrypt_into_async(&bad, &DecryptOptions::keyring(&keyring), &mut out3));
    assert!(failed.is_err() && out3.is_empty());
    assert!(whole_allocation(&out3).iter().all(|&x| x == 0 || x == FILL));
}

#[test]
fn a_buffer_of_exactly_the_message_length_is_used_without_growing() {
    let keyring = aes("k", 7, 32);
    for suite in [S0478, S0578, S0014] {
        let c = client(&Backend::default(), suite, 10);
        for (len, frame) in [
            (0usize, 64u32),
            (1, 64),
            (64, 64),
            (640, 64),
            (1000, 64),
            (5000, 4096),
        ] {
            for opts in [
                EncryptOptions::keyring(&keyring)
                    .suite(suite)
                    .frame_length(frame),
                EncryptOptions::keyring(&keyring)
                    .suite(suite)
                    .frame_length(frame)
                    .empty_final_frame(true),
                EncryptOptions::keyring(&keyring)
                    .suite(suite)
                    .non_framed(true),
            ] {
                let pt = bytes(len, 1);
                let exact = c.encrypt(&pt, &opts).unwrap().ciphertext.len();
                let mut ct = Vec::with_capacity(exact);
                let at = ct.as_ptr();
                c.encrypt_into(&pt, &opts, &mut ct).unwrap();
                assert_eq!(ct.len(), exact, "{suite:?} {len} {frame}");
                assert_eq!(
                    (ct.as_ptr(), ct.capacity()),
                    (at, exact),
                    "{suite:?} {len} {frame}"
                );
                let mut out = Vec::new();
                c.decrypt_into(&ct, &DecryptOptions::keyring(&keyring), &mut out)
                    .unwrap();
                assert_eq!(out, pt);
            }
        }
    }
}

/// An asynchronous keyring that never answers (a remote key service that hangs).
#[derive(Debug)]
struct Hanging;
impl esdk_std::keyring::AsyncKeyring for Hanging {
    fn on_encrypt<'a>(
        &'a self,
        _: &'a esdk_std::materials::EncryptionMaterials,
    ) -> esdk_std::keyring::BoxFuture<'a, esdk_std::Result<esdk_std::materials::EncryptionMaterials>>
    {
        Box::pin(std::future::pending())
    }
    fn on_decrypt<'a>(
        &'a self,
        _: &'a esdk_std::materials::DecryptionMaterials,
        _: &'a [esdk_std::EncryptedDataKey],
    ) -> esdk_std::keyring::BoxFuture<'a, esdk_std::Result<esdk_std::materials::DecryptionMaterials>>
    {
        Box::pin(std::future::pending())
    }
}

#[test]
fn a_dropped_future_leaves_the_buffer_empty_or_untouched() {
    use std::future::Future;
    let keyring = aes("k", 7, 32);
    let c = client(&Backend::default(), S0478, 11);
    let ct = c
        .encrypt(&[MARK; 300], &EncryptOptions::keyring(&keyring))
        .unwrap()
        .ciphertext;
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());

    // Decryption stopped while waiting for the keyring: the buffer was taken for the result
    // and is not handed back; the caller's `Vec` is empty.
    let mut out = filled(4096, 4096, FILL);
    {
        let opts = DecryptOptions::async_keyring(&Hanging);
        let mut fut = Box::pin(c.decrypt_into_async(&ct, &opts, &mut out));
        assert!(fut.as_mut().poll(&mut cx).is_pending());
    }
    assert!(out.is_empty());

    // Encryption stopped while waiting for the keyring: the buffer was not touched yet.
    let mut msg = vec![1u8; 10];
    {
        let opts = EncryptOptions::async_keyring(&Hanging);
        let mut fut = Box::pin(c.encrypt_into_async(&[MARK; 300], &opts, &mut msg));
        assert!(fut.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(msg, vec![1u8; 10]);
}
