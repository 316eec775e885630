//! Round trips: every suite × framed/non-framed × frame lengths × plaintext lengths.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::std_instead_of_core
)]

mod support;

use esdk_core::AlgorithmSuite;
use support::{Key, allow_all, decrypt_all, encrypt, encrypt_with};

fn plaintext(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + 7) as u8).collect()
}

#[test]
fn every_suite_frame_and_length() {
    let wk = [0x42u8; 32];
    let mut count = 0;
    for suite in AlgorithmSuite::ALL {
        for f in [1usize, 17, 4096, 65536] {
            let mut lens = vec![0, 1, f - 1, f, f + 1, 3 * f];
            lens.dedup();
            for &n in &lens {
                let pt = plaintext(n);
                let msg = encrypt(
                    suite,
                    f as u32,
                    &pt,
                    &[("purpose", "test"), ("\u{0}\u{1}", "ctl")],
                    &wk,
                );
                let wrapped = vec![0u8; suite.key_len() + 16];
                let edk = esdk_core::EdkRef {
                    provider_id: "ns",
                    provider_info: &[0; 23],
                    ciphertext: &wrapped,
                };
                let mut ec: esdk_core::EncryptionContext =
                    [("purpose", "test"), ("\u{0}\u{1}", "ctl")]
                        .into_iter()
                        .collect();
                if let Some(a) = suite.signature() {
                    ec.insert(
                        "aws-crypto-public-key",
                        "x".repeat(a.compressed_public_key_len().div_ceil(3) * 4),
                    );
                }
                let ec_len = ec.serialize().unwrap().len();
                let len = esdk_core::ciphertext_len(
                    suite,
                    std::iter::once(edk),
                    ec_len,
                    f as u32,
                    n as u64,
                )
                .unwrap();
                assert_eq!(
                    len,
                    msg.len() as u64,
                    "predicted length, suite {suite} f {f} n {n}"
                );
                let out = decrypt_all(&msg, Key::RawAes("ns", b"key", &wk), allow_all());
                assert_eq!(out.result, Ok(()), "suite {suite} f {f} n {n}");
                assert_eq!(out.plaintext, pt, "suite {suite} f {f} n {n}");
                count += 1;
            }
            // Non-framed (legacy option), once per suite and frame-length row.
            let pt = plaintext(f + 3);
            let msg = encrypt_with(suite, 0, &pt, &[], &wk, true);
            let out = decrypt_all(&msg, Key::RawAes("ns", b"key", &wk), allow_all());
            assert_eq!(out.result, Ok(()), "non-framed suite {suite}");
            assert_eq!(out.plaintext, pt);
            count += 1;
        }
    }
    assert_eq!(count, 11 * 4 * (6 + 1));
}
