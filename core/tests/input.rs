//! The input helpers (`SliceInput`, `VecInput`): same plaintext as the raw machine under any
//! chunking, copying linear in the input, typed errors for a buffer that is too small.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::std_instead_of_core
)]

mod support;

use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::error::{LimitError, LimitKind};
use esdk_core::{
    AlgorithmSuite, DecryptConfig, DecryptState, Decryptor, Error, RawAesKey, SliceInput, VecInput,
};
use support::{encrypt, plaintext};

const WRAPPING_KEY: [u8; 32] = [9; 32];
const SIGNED: AlgorithmSuite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;

fn answer(req: esdk_core::MaterialsRequest<'_, RustCrypto>) {
    let key = RawAesKey::new("ns", b"key", &WRAPPING_KEY).unwrap();
    let suite = req.suite();
    let ec = req.encryption_context_unverified();
    let dk = key
        .unwrap_any(&RustCrypto, &ec, req.encrypted_data_keys())
        .unwrap()
        .unwrap();
    req.provide(&esdk_core::DecryptionMaterialsRef::new(suite, &dk))
        .unwrap();
}

/// Streams `msg` through a `SliceInput` over `buf_len` bytes, `chunk` bytes per read.
fn slice_decrypt(msg: &[u8], buf_len: usize, chunk: usize) -> Result<(Vec<u8>, u64), Error> {
    let mut buf = vec![0u8; buf_len];
    let mut input = SliceInput::new(&mut buf);
    let mut dec = Decryptor::new(RustCrypto, DecryptConfig::default());
    let (mut fed, mut out) = (0, Vec::new());
    loop {
        let (mut need_input, mut done) = (false, false);
        match input.process(&mut dec)? {
            DecryptState::NeedInput { .. } => need_input = true,
            DecryptState::NeedMaterials(req) => answer(req),
            DecryptState::Plaintext(p) => {
                assert_eq!(p.range().len(), p.len());
                out.extend_from_slice(&p);
            }
            DecryptState::Done => done = true,
            _ => {}
        }
        if done {
            return Ok((out, input.bytes_moved()));
        }
        if need_input {
            if fed == msg.len() {
                input.set_eof();
            } else {
                let room = input.spare()?;
                let n = room.len().min(chunk).min(msg.len() - fed);
                room[..n].copy_from_slice(&msg[fed..fed + n]);
                input.commit(n);
                fed += n;
            }
        }
    }
}

#[test]
fn slice_input_copies_linearly_under_any_chunking() {
    let pt = plaintext(300_000);
    for suite in [AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY, SIGNED] {
        let msg = encrypt(suite, 1000, &pt, &[("a", "b")], &WRAPPING_KEY);
        for (buf_len, chunk) in [
            (2048, 1),
            (2048, 7),
            (2048, 999),
            (2048, 1100),
            (1500, 1_000_000),
            (64 * 1024, 4096),
        ] {
            let (out, moved) = slice_decrypt(&msg, buf_len, chunk).unwrap();
            assert!(out == pt, "suite {suite} buffer {buf_len} chunk {chunk}");
            let bound = 2 * msg.len() as u64 + buf_len as u64;
            eprintln!(
                "suite {suite}: buffer {buf_len}, chunk {chunk}: moved {moved} bytes for a {}-byte message",
                msg.len()
            );
            assert!(
                moved <= bound,
                "moved {moved} > {bound}: buffer {buf_len}, chunk {chunk}"
            );
        }
    }
}

#[test]
fn slice_input_too_small_is_a_typed_limit() {
    let msg = encrypt(SIGNED, 4096, &plaintext(10_000), &[], &WRAPPING_KEY);
    let e = slice_decrypt(&msg, 1024, 512).unwrap_err();
    match e {
        Error::Limit(LimitError {
            what: LimitKind::InputBuffer,
            limit,
            actual,
        }) => {
            assert_eq!(limit, 1024);
            assert!(actual > 1024, "needed {actual}");
        }
        other => panic!("expected an input buffer limit, got {other:?}"),
    }
}

#[test]
fn vec_input_bounds_growth_and_collects_in_place() {
    let pt = plaintext(50_000);
    let msg = encrypt(SIGNED, 4096, &pt, &[], &WRAPPING_KEY);

    // Streaming under a maximum that cannot hold a frame: a typed limit, not a panic.
    let mut input = VecInput::new(2000);
    let mut dec = Decryptor::new(RustCrypto, DecryptConfig::default());
    let mut fed = 0;
    let err = loop {
        let mut need_input = false;
        match input.process(&mut dec) {
            Ok(DecryptState::NeedInput { .. }) => need_input = true,
            Ok(DecryptState::NeedMaterials(req)) => answer(req),
            Ok(DecryptState::Done) => panic!("decrypted through a 2000-byte buffer"),
            Ok(_) => {}
            Err(e) => break e,
        }
        if need_input {
            match input.push(&msg[fed..(fed + 300).min(msg.len())]) {
                Ok(()) => fed = (fed + 300).min(msg.len()),
                Err(e) => break e,
            }
        }
    };
    assert!(
        matches!(
            err,
            Error::Limit(LimitError {
                what: LimitKind::InputBuffer,
                limit: 2000,
                ..
            })
        ),
        "{err:?}"
    );
    assert!(input.capacity() <= 2000);

    // One-shot: decrypted in place, the plaintext collected in the message's allocation.
    let mut input = VecInput::complete(msg.clone());
    let mut dec = Decryptor::new(RustCrypto, DecryptConfig::default());
    loop {
        let mut collect = false;
        match input.process(&mut dec).unwrap() {
            DecryptState::NeedMaterials(req) => answer(req),
            DecryptState::Plaintext(_) => collect = true,
            DecryptState::Done => break,
            _ => {}
        }
        if collect {
            input.collect_plaintext().unwrap();
        }
    }
    assert_eq!(
        input.bytes_zeroed(),
        0,
        "a complete message needs no growth"
    );
    assert!(input.into_plaintext() == pt);
}
