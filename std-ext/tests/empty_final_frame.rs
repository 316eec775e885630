//! `EncryptOptions::empty_final_frame`: exact multiples of the frame length end in a regular
//! frame and an empty final frame (the form the Python ESDK writes and requires).
#![allow(missing_docs)]

use esdk_std::keyring::RawAesKeyring;
use esdk_std::stream::io::EncryptingWriter;
use esdk_std::{AlgorithmSuite, Client, DecryptOptions, EncryptOptions};
use std::io::Write;

/// Whether the message (unsigned suite: it ends with the final frame) ends in a final frame of
/// `len` content bytes: end marker, sequence number, IV, length field, content, tag.
fn ends_in_final_frame_of(c: &[u8], len: usize) -> bool {
    let n = c.len();
    let field = n - 16 - len - 4;
    let marker = field - 12 - 4 - 4;
    c[field..field + 4] == u32::try_from(len).unwrap().to_be_bytes()
        && c[marker..marker + 4] == [0xFF; 4]
}

#[test]
fn multiples_end_in_an_empty_final_frame() {
    let keyring = RawAesKeyring::new("ns", "k", &[3u8; 32]).unwrap();
    let client = Client::builder().build();
    let suite = AlgorithmSuite::from_id(0x0478).unwrap();
    for (len, expect_final) in [
        (0usize, 0u32),
        (1, 1),
        (100, 100),
        (4096, 0),
        (8192, 0),
        (8193, 1),
    ] {
        let plain = vec![5u8; len];
        for on in [true, false] {
            let opts = EncryptOptions::keyring(&keyring)
                .suite(suite)
                .frame_length(4096)
                .empty_final_frame(on);
            let one_shot = client.encrypt(&plain, &opts).unwrap().ciphertext;
            let mut w = EncryptingWriter::new(&client, &opts, Vec::new()).unwrap();
            w.write_all(&plain).unwrap();
            let streamed = w.finish().unwrap();
            for c in [&one_shot, &streamed] {
                let want = if on || expect_final != 0 || len == 0 {
                    expect_final
                } else {
                    4096
                };
                assert!(ends_in_final_frame_of(c, want as usize), "{len} {on}");
                let back = client
                    .decrypt(c, &DecryptOptions::keyring(&keyring))
                    .unwrap();
                assert_eq!(back.plaintext, plain);
            }
        }
    }
}

/// The message without its footer (the whole message for unsigned suites, whose last bytes
/// are the final frame's tag: no two-byte length there matches the rest by chance here).
fn signed_part(c: &[u8]) -> &[u8] {
    // A P-384 footer: a two-byte length, then a DER signature of 102 to 104 bytes.
    for sig in 100..=104usize {
        if let Some(at) = c.len().checked_sub(2 + sig) {
            if c[at..at + 2] == u16::try_from(sig).unwrap().to_be_bytes() {
                return &c[..at];
            }
        }
    }
    c
}

/// However the plaintext arrives (a byte at a time, a frame at a time, frame boundaries on
/// either side of a write), the streamed message is byte for byte the one-shot message, with
/// and without the empty final frame (the writer seals a full frame as soon as it has it when
/// the message ends in an empty final frame, and holds it back otherwise). Signed and unsigned.
#[test]
fn every_chunking_writes_the_same_bytes() {
    use rand::SeedableRng;
    let keyring = RawAesKeyring::new("ns", "k", &[3u8; 32]).unwrap();
    let client = |seed| {
        Client::builder()
            .rng(esdk_std::SharedRng::new(rand::rngs::StdRng::seed_from_u64(
                seed,
            )))
            .build()
    };
    let f = 64usize;
    for id in [0x0478u16, 0x0578] {
        let suite = AlgorithmSuite::from_id(id).unwrap();
        for len in [0, 1, f - 1, f, f + 1, 2 * f, 3 * f, 3 * f + 5] {
            let plain: Vec<u8> = (0..len).map(|i| (i * 7 + 1).to_le_bytes()[0]).collect();
            for on in [true, false] {
                let opts = EncryptOptions::keyring(&keyring)
                    .suite(suite)
                    .frame_length(u32::try_from(f).unwrap())
                    .empty_final_frame(on);
                let want = client(9).encrypt(&plain, &opts).unwrap().ciphertext;
                for step in [1, f - 1, f, f + 1, 2 * f, 5 * f] {
                    let mut w = EncryptingWriter::new(&client(9), &opts, Vec::new()).unwrap();
                    for piece in plain.chunks(step) {
                        w.write_all(piece).unwrap();
                    }
                    let got = w.finish().unwrap();
                    let what = format!("suite {id:#06x} len {len} empty final {on} step {step}");
                    // ECDSA signatures are randomized: compare all before the footer, and check
                    // the footer verifies.
                    assert!(signed_part(&got) == signed_part(&want), "{what}");
                    let back = client(1).decrypt(&got, &DecryptOptions::keyring(&keyring));
                    assert_eq!(back.unwrap().plaintext, plain, "{what}");
                }
            }
        }
    }
}
