//! `Decryptor::skip_sealed_frame`: a driver holding the message where it lies accounts for the
//! regular frames without copying them into the input, with the same order checks as
//! `process`, and the machine then takes the final frame as usual.
#![cfg(feature = "rustcrypto")]
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::std_instead_of_core
)]

use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::error::{Error, UsageError};
use esdk_core::{DecryptConfig, DecryptState, DecryptStatus, Decryptor};

#[path = "support/fixture_0478.rs"]
mod fixture_0478;
use fixture_0478::{FIXTURE_0478, provide_fixture_materials};
const RECORD: usize = 64 + 32;

/// Runs `dec` over `input` until the header verified; returns the header length.
fn to_header(dec: &mut Decryptor<RustCrypto>, input: &mut [u8]) -> usize {
    let mut at = 0;
    loop {
        let DecryptStatus { discard, state } = dec.process(&mut input[at..], false);
        let verified = match state.unwrap() {
            DecryptState::NeedMaterials(req) => {
                provide_fixture_materials(req);
                false
            }
            DecryptState::HeaderVerified(_) => true,
            other => panic!("unexpected {other:?}"),
        };
        at += discard;
        if verified {
            return at;
        }
    }
}

/// The whole plaintext through `process` alone (frames opened by the machine).
fn reference() -> Vec<u8> {
    let mut dec = Decryptor::new(RustCrypto, DecryptConfig::default());
    let mut input = FIXTURE_0478.to_vec();
    let mut at = to_header(&mut dec, &mut input);
    let mut out = Vec::new();
    loop {
        let DecryptStatus { discard, state } = dec.process(&mut input[at..], true);
        match state.unwrap() {
            DecryptState::Plaintext(p) => out.extend_from_slice(&p),
            DecryptState::Done => return out,
            other => panic!("unexpected {other:?}"),
        }
        at += discard;
    }
}

fn invalid_input(e: Error) -> bool {
    matches!(e, Error::Usage(UsageError::InvalidInput(_)))
}

#[test]
fn regular_frames_are_skipped_where_they_lie_then_the_machine_finishes() {
    let mut dec = Decryptor::new(RustCrypto, DecryptConfig::default());
    dec.set_sealed_frames(true);
    let mut input = FIXTURE_0478.to_vec();
    assert!(
        invalid_input(dec.skip_sealed_frame(&input).unwrap_err()),
        "before the header"
    );
    let mut at = to_header(&mut dec, &mut input);
    let cipher = dec.frame_cipher().unwrap();
    let mut out = Vec::new();
    let mut expected = 1u32;
    // The caller's bytes are only read (an immutable view, never passed to `process`).
    let message: &[u8] = FIXTURE_0478;
    while let Some(seq) = dec.skip_sealed_frame(&message[at..]).unwrap() {
        assert_eq!(seq, expected);
        let mut pt = [0u8; 64];
        cipher
            .open_regular_to(seq, &message[at..at + RECORD], &mut pt)
            .unwrap();
        out.extend_from_slice(&pt);
        at += RECORD;
        expected += 1;
    }
    assert!(expected > 2, "several regular frames");
    assert_eq!(dec.stats().frames, u64::from(expected - 1));
    // The final frame goes through `process`, as usual.
    loop {
        let DecryptStatus { discard, state } = dec.process(&mut input[at..], true);
        match state.unwrap() {
            DecryptState::Plaintext(p) => out.extend_from_slice(&p),
            DecryptState::Done => break,
            other => panic!("unexpected {other:?}"),
        }
        at += discard;
    }
    assert_eq!(out, reference());
}

#[test]
fn a_frame_out_of_order_fails_and_the_failure_sticks() {
    let mut dec = Decryptor::new(RustCrypto, DecryptConfig::default());
    dec.set_sealed_frames(true);
    let mut input = FIXTURE_0478.to_vec();
    let at = to_header(&mut dec, &mut input);
    // Frame 2 where frame 1 is expected.
    let e = dec
        .skip_sealed_frame(&FIXTURE_0478[at + RECORD..])
        .unwrap_err();
    assert!(matches!(e, Error::Format(_)), "{e:?}");
    // Sticky: the right frame now fails too, and so does `process`.
    assert_eq!(dec.skip_sealed_frame(&FIXTURE_0478[at..]).unwrap_err(), e);
    assert_eq!(dec.process(&mut input[at..], true).state.unwrap_err(), e);
}

#[test]
fn skipping_needs_sealed_frames_mode_and_a_whole_regular_frame() {
    let mut dec = Decryptor::new(RustCrypto, DecryptConfig::default());
    let mut input = FIXTURE_0478.to_vec();
    let at = to_header(&mut dec, &mut input);
    assert!(
        invalid_input(dec.skip_sealed_frame(&FIXTURE_0478[at..]).unwrap_err()),
        "outside sealed-frames mode"
    );
    dec.set_sealed_frames(true);
    // Fewer bytes than a regular frame: not skipped, nothing changed.
    assert_eq!(
        dec.skip_sealed_frame(&FIXTURE_0478[at..at + RECORD - 1])
            .unwrap(),
        None
    );
    assert_eq!(dec.stats().frames, 0);
    assert_eq!(dec.skip_sealed_frame(&FIXTURE_0478[at..]).unwrap(), Some(1));
}
