//! `EncryptOptions::non_framed`: the legacy non-framed body (content type 0x01), written by the
//! one-shot client and every stream adapter, read back by every decrypt path.
#![allow(missing_docs)]

use esdk_core::ContentType;
use esdk_std::keyring::RawAesKeyring;
use esdk_std::stream::io::{DecryptingReader, EncryptingReader, EncryptingWriter};
use esdk_std::{AlgorithmSuite, Client, DecryptOptions, EncryptOptions};
use std::io::{Read, Write};

/// Body layout of a non-framed message: IV (12), content length (8), content, tag (16), then
/// the footer of signed suites. Returns the body offset found from the end.
fn body_at(c: &[u8], len: usize, footer: usize) -> usize {
    c.len() - footer - 16 - len - 8 - 12
}

#[test]
fn round_trips_on_every_path_and_suite() {
    let keyring = RawAesKeyring::new("ns", "k", &[9u8; 32]).unwrap();
    let client = Client::builder()
        .commitment_policy(esdk_std::CommitmentPolicy::RequireEncryptAllowDecrypt)
        .build();
    for id in [0x0478u16, 0x0578] {
        let suite = AlgorithmSuite::from_id(id).unwrap();
        let footer = if id == 0x0578 { 2 + 103 } else { 0 };
        for len in [0usize, 1, 4095, 4096, 100_000] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 + 1).to_le_bytes()[0]).collect();
            let opts = EncryptOptions::keyring(&keyring)
                .suite(suite)
                .non_framed(true);
            let one_shot = client.encrypt(&plain, &opts).unwrap();
            assert_eq!(one_shot.header.content_type, ContentType::NonFramed);
            assert_eq!(one_shot.header.frame_length, 0);

            // Written in odd chunks, with and without an announced length.
            let mut streamed = Vec::new();
            for announce in [false, true] {
                let o = if announce {
                    opts.clone().plaintext_length(len as u64)
                } else {
                    opts.clone()
                };
                let mut w = EncryptingWriter::new(&client, &o, Vec::new()).unwrap();
                for chunk in plain.chunks(777) {
                    w.write_all(chunk).unwrap();
                }
                streamed.push(w.finish().unwrap());
            }
            let mut r = EncryptingReader::new(&client, &opts, &plain[..]).unwrap();
            let mut read = Vec::new();
            r.read_to_end(&mut read).unwrap();
            streamed.push(read);

            for c in std::iter::once(&one_shot.ciphertext).chain(&streamed) {
                // The body is one block: IV 1 (eleven zero bytes, then 1) and the length.
                let b = body_at(c, len, footer);
                assert_eq!(
                    c[b..b + 12],
                    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                    "{id:#x} {len}"
                );
                assert_eq!(c[b + 12..b + 20], (len as u64).to_be_bytes());
                let back = client
                    .decrypt(c, &DecryptOptions::keyring(&keyring))
                    .unwrap();
                assert_eq!(back.plaintext, plain);
                let dopts = DecryptOptions::keyring(&keyring);
                let mut dr = DecryptingReader::new(&client, &dopts, &c[..]).unwrap();
                let mut out = Vec::new();
                dr.read_to_end(&mut out).unwrap();
                assert_eq!(out, plain);
            }
        }
    }
}

#[test]
fn frame_length_zero_needs_non_framed() {
    let keyring = RawAesKeyring::new("ns", "k", &[9u8; 32]).unwrap();
    let client = Client::default();
    let framed = EncryptOptions::keyring(&keyring).frame_length(0);
    assert!(client.encrypt(b"x", &framed).is_err());
    // Non-framed ignores the frame length, 0 included.
    let c = client
        .encrypt(b"x", &framed.clone().non_framed(true))
        .unwrap();
    assert_eq!(c.header.frame_length, 0);
    assert_eq!(
        client
            .decrypt(&c.ciphertext, &DecryptOptions::keyring(&keyring))
            .unwrap()
            .plaintext,
        b"x"
    );
}

#[test]
fn announced_length_is_enforced() {
    let keyring = RawAesKeyring::new("ns", "k", &[9u8; 32]).unwrap();
    let client = Client::default();
    let opts = EncryptOptions::keyring(&keyring)
        .non_framed(true)
        .plaintext_length(10);
    let mut w = EncryptingWriter::new(&client, &opts, Vec::new()).unwrap();
    w.write_all(&[1u8; 10]).unwrap();
    assert!(w.write_all(&[1u8; 1]).is_err());
}
