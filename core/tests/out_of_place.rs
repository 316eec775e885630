//! Out-of-place AEAD (`AeadKey::seal_to` / `open_to`) and the frame operations built on it:
//! byte-identical to the in-place operations, and nothing unauthenticated left on failure.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::crypto::{AeadKey, AuthFailed, CryptoProvider};
use esdk_core::encryption_context::EncryptionContextRef;
use esdk_core::error::{AuthStage, CryptoError};
use esdk_core::{
    AlgorithmSuite, CommitmentPolicy, DataKey, EncryptConfig, EncryptionMaterialsRef, Encryptor,
    Error, RawAesKey,
};

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

#[test]
fn default_seal_to_and_open_to_match_the_in_place_operations() {
    for key_len in [16usize, 24, 32] {
        let key = RustCrypto.aead_key(&vec![9u8; key_len]).unwrap();
        let iv = [5u8; 12];
        for n in [0usize, 1, 17, 4096] {
            let pt = data(n);
            let mut in_place = pt.clone();
            let tag = key.seal_in_place(&iv, b"aad", &mut in_place).unwrap();
            let mut out = vec![0xAAu8; n];
            assert_eq!(key.seal_to(&iv, b"aad", &pt, &mut out).unwrap(), tag);
            assert_eq!(out, in_place, "ciphertext, {key_len}-byte key, {n} bytes");

            let mut opened = vec![0xAAu8; n];
            key.open_to(&iv, b"aad", &out, &tag, &mut opened).unwrap();
            assert_eq!(opened, pt);

            // A wrong tag (or AAD): an error, and nothing but zeros in the output.
            let mut bad = tag;
            bad[0] ^= 1;
            let mut opened = vec![0xAAu8; n];
            assert_eq!(
                key.open_to(&iv, b"aad", &out, &bad, &mut opened),
                Err(AuthFailed)
            );
            assert!(opened.iter().all(|&b| b == 0));
            let mut opened = vec![0xAAu8; n];
            assert_eq!(
                key.open_to(&iv, b"AAD", &out, &tag, &mut opened),
                Err(AuthFailed)
            );
            assert!(opened.iter().all(|&b| b == 0));
        }
        // Lengths that differ: refused before anything is written.
        let mut out = [0xAAu8; 4];
        assert_eq!(
            key.seal_to(&iv, b"", &[1, 2, 3], &mut out),
            Err(CryptoError::Other)
        );
        assert_eq!(out, [0xAA; 4]);
        assert_eq!(
            key.open_to(&iv, b"", &[1, 2, 3], &[0; 16], &mut out),
            Err(AuthFailed)
        );
    }
}

const FRAME: u32 = 1000;

/// A frame encryptor for a fresh message (header written) with a raw AES key.
fn frame_encryptor(suite: AlgorithmSuite) -> esdk_core::FrameEncryptor<RustCrypto> {
    let mut rng = rand_core::OsRng;
    let dk = DataKey::generate(suite, &mut rng).unwrap();
    let key = RawAesKey::new("ns", b"key", &[3u8; 32]).unwrap();
    let ec = EncryptionContextRef::parse(&[]).unwrap();
    let mut wrapped = [0u8; 128];
    let edks = [key
        .wrap(&RustCrypto, &ec, &dk, &mut rng, &mut wrapped)
        .unwrap()];
    let materials = EncryptionMaterialsRef::new(suite, &dk, &edks);
    let policy = if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    };
    let config = EncryptConfig::default()
        .with_commitment_policy(policy)
        .with_suite(Some(suite))
        .with_frame_length(FRAME);
    let ready = Encryptor::new(RustCrypto, config)
        .unwrap()
        .provide(materials, &mut rng)
        .unwrap();
    let mut header = vec![0u8; ready.header_len()];
    ready.write_header(&mut header).unwrap().0
}

#[test]
fn frame_sealing_out_of_place_in_place_and_by_the_encryptor_is_byte_identical() {
    let mut enc = frame_encryptor(AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY);
    let cipher = enc.frame_cipher().unwrap();
    let f = FRAME as usize;
    let rl = cipher.regular_frame_len();
    for seq in 1..=3u32 {
        let pt = data(f + seq as usize)[seq as usize..].to_vec();
        let mut in_place = vec![0u8; rl];
        in_place[16..16 + f].copy_from_slice(&pt);
        cipher.seal_regular(seq, &mut in_place).unwrap();
        let mut to = vec![0xAAu8; rl];
        cipher.seal_regular_to(seq, &pt, &mut to).unwrap();
        assert_eq!(to, in_place, "frame {seq}");
        // The encryptor's sealing (out of place from the plaintext) writes the same frame.
        let mut by_encryptor = vec![0xAAu8; rl];
        assert_eq!(enc.seal_frame(&pt, &mut by_encryptor).unwrap(), rl);
        assert_eq!(by_encryptor, in_place, "frame {seq}");
        // And it opens, out of place and in place, to the plaintext.
        let mut out = vec![0xAAu8; f + 5];
        assert_eq!(cipher.open_regular_to(seq, &to, &mut out).unwrap(), f);
        assert_eq!(&out[..f], &pt[..]);
        assert_eq!(&out[f..], &[0xAA; 5]);
        assert_eq!(cipher.open_regular(seq, &mut to).unwrap(), &pt[..]);
    }
    // Wrong lengths are refused.
    let mut record = vec![0u8; rl];
    assert!(matches!(
        cipher.seal_regular_to(1, &data(f - 1), &mut record),
        Err(Error::Usage(_))
    ));
    assert!(matches!(
        cipher.seal_regular_to(1, &data(f), &mut record[1..]),
        Err(Error::Usage(_))
    ));
    assert!(cipher.seal_regular_to(0, &data(f), &mut record).is_err());
}

#[test]
fn a_frame_that_fails_to_open_out_of_place_leaves_no_plaintext() {
    let enc = frame_encryptor(AlgorithmSuite::AES_128_GCM_IV12_TAG16_HKDF_SHA256);
    let cipher = enc.frame_cipher().unwrap();
    let f = FRAME as usize;
    let rl = cipher.regular_frame_len();
    let pt = data(f);
    let mut record = vec![0u8; rl];
    cipher.seal_regular_to(7, &pt, &mut record).unwrap();
    let mut out = vec![0u8; f];
    // Every region a change can hit: sequence number, IV, content, tag.
    for at in [3usize, 10, 16, 16 + f / 2, rl - 1] {
        let mut bad = record.clone();
        bad[at] ^= 0x40;
        out.fill(0xAA);
        let r = cipher.open_regular_to(7, &bad, &mut out);
        assert!(r.is_err(), "byte {at}");
        if at >= 4 {
            // The tag failed: the output was wiped.
            assert_eq!(r, Err(Error::Authentication(AuthStage::FrameTag)));
            assert!(out.iter().all(|&b| b == 0), "wiped after byte {at}");
        } else {
            // The sequence number is checked before anything is decrypted.
            assert!(out.iter().all(|&b| b == 0xAA), "untouched after byte {at}");
        }
    }
    // Wrong sequence number, short output: refused before any decryption.
    out.fill(0xAA);
    assert!(matches!(
        cipher.open_regular_to(8, &record, &mut out),
        Err(Error::Format(_))
    ));
    assert!(matches!(
        cipher.open_regular_to(7, &record, &mut out[..f - 1]),
        Err(Error::Usage(_))
    ));
    assert!(out.iter().all(|&b| b == 0xAA));
    cipher.open_regular_to(7, &record, &mut out).unwrap();
    assert_eq!(out, pt);
}
