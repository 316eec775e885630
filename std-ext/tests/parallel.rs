//! Frame-parallel decryption and encryption: output equal to the sequential path for every
//! suite, frame length and length boundary; every mutation of a message fails in parallel
//! mode whenever it fails sequentially, releasing no more plaintext.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

mod common;

use common::*;
use esdk_std::parallel::ParallelDecryptingReader;
use esdk_std::stream::io::DecryptingReader;
use esdk_std::{AlgorithmSuite, Client, DecryptOptions, EncryptOptions};
use std::io::Read;

fn lengths(f: usize) -> Vec<usize> {
    let mut v = vec![
        0,
        1,
        f.saturating_sub(1),
        f,
        f + 1,
        2 * f,
        3 * f - 1,
        5 * f + 3,
    ];
    v.dedup();
    v
}

/// Reads everything, returning what was released before the first error.
fn read_all<R: Read>(mut r: R) -> (Vec<u8>, Option<std::io::Error>) {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 3000];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Some(e)),
        }
    }
}

#[test]
fn parallel_decrypt_equals_sequential_for_every_suite_frame_and_boundary() {
    let kr = aes("k", 3, 32);
    for suite in ALL_SUITES {
        let client = client_for(suite);
        for frame in [1usize, 100, 4096, 65536] {
            for len in lengths(frame) {
                if frame == 1 && len > 64 {
                    continue;
                }
                let pt = bytes(len, len as u64 ^ frame as u64);
                for empty_final in [false, true] {
                    let msg = client
                        .encrypt(
                            &pt,
                            &EncryptOptions::keyring(&kr)
                                .suite(suite)
                                .frame_length(frame as u32)
                                .empty_final_frame(empty_final)
                                .parallelism(1),
                        )
                        .unwrap()
                        .ciphertext;
                    for workers in [2usize, 3, 8] {
                        let d = client
                            .decrypt(&msg, &DecryptOptions::keyring(&kr).parallelism(workers))
                            .unwrap_or_else(|e| panic!("{suite} {frame} {len} {workers}: {e}"));
                        assert_eq!(d.plaintext, pt, "{suite} {frame} {len} {workers}");
                        let r = ParallelDecryptingReader::new(
                            &client,
                            &DecryptOptions::keyring(&kr),
                            &msg[..],
                            workers,
                        )
                        .unwrap();
                        let (got, err) = read_all(r);
                        assert!(err.is_none(), "{suite} {frame} {len}: {err:?}");
                        assert_eq!(got, pt, "{suite} {frame} {len} {workers} {empty_final}");
                    }
                }
            }
        }
    }
}

/// Every single-byte change, truncation and extension of a multi-frame message: the parallel
/// paths fail exactly when the sequential reader fails, and release no more plaintext.
#[test]
fn every_mutation_fails_in_parallel_mode_with_no_more_plaintext_released() {
    let kr = aes("k", 3, 32);
    for suite in [S0478, S0578, S0014] {
        let client = client_for(suite);
        let pt = bytes(7 * 64 + 10, 1);
        let msg = client
            .encrypt(
                &pt,
                &EncryptOptions::keyring(&kr).suite(suite).frame_length(64),
            )
            .unwrap()
            .ciphertext;
        let mut variants: Vec<Vec<u8>> = Vec::new();
        for i in 0..msg.len() {
            let mut m = msg.clone();
            m[i] ^= 0x01;
            variants.push(m);
        }
        for cut in 0..msg.len() {
            variants.push(msg[..cut].to_vec());
        }
        let mut extra = msg.clone();
        extra.push(0);
        variants.push(extra);
        // Unsigned: frames swapped (2 and 3) and a frame dropped (2).
        if suite.signature().is_none() {
            let header_len = msg.len() - (7 * 96 + 40 + 10);
            let (a, b) = (header_len + 96, header_len + 2 * 96);
            let mut sw = msg.clone();
            let f2 = sw[a..b].to_vec();
            sw.copy_within(b..b + 96, a);
            sw[b..b + 96].copy_from_slice(&f2);
            variants.push(sw);
            let mut drop = msg.clone();
            drop.drain(a..b);
            variants.push(drop);
        }
        for (n, m) in variants.iter().enumerate() {
            let seq = DecryptingReader::new(&client, &DecryptOptions::keyring(&kr), &m[..]);
            let (seq_out, seq_err) = match seq {
                Ok(r) => read_all(r),
                Err(_) => (Vec::new(), Some(std::io::ErrorKind::Other.into())),
            };
            let one_shot = client.decrypt(m, &DecryptOptions::keyring(&kr).parallelism(3));
            assert_eq!(
                one_shot.is_err(),
                seq_err.is_some(),
                "{suite} variant {n}: one-shot parallel vs sequential"
            );
            if let Ok(d) = &one_shot {
                assert_eq!(d.plaintext, pt);
            }
            for workers in [2usize, 5] {
                let par = ParallelDecryptingReader::new(
                    &client,
                    &DecryptOptions::keyring(&kr),
                    &m[..],
                    workers,
                );
                let (par_out, par_err) = match par {
                    Ok(r) => read_all(r),
                    Err(_) => (Vec::new(), Some(std::io::ErrorKind::Other.into())),
                };
                assert_eq!(
                    par_err.is_some(),
                    seq_err.is_some(),
                    "{suite} variant {n} workers {workers}"
                );
                assert!(
                    par_out.len() <= seq_out.len(),
                    "{suite} variant {n}: parallel released {} bytes, sequential {}",
                    par_out.len(),
                    seq_out.len()
                );
                assert_eq!(par_out[..], pt[..par_out.len()]);
            }
        }
    }
}

#[test]
fn default_one_shot_and_explicit_sequential_agree() {
    let kr = aes("k", 3, 32);
    let client = Client::builder().build();
    let pt = bytes(3 << 20, 5);
    let msg = client
        .encrypt(&pt, &EncryptOptions::keyring(&kr).frame_length(65536))
        .unwrap()
        .ciphertext;
    assert_eq!(
        client
            .decrypt(&msg, &DecryptOptions::keyring(&kr))
            .unwrap()
            .plaintext,
        pt
    );
    assert_eq!(
        client
            .decrypt(&msg, &DecryptOptions::keyring(&kr).parallelism(1))
            .unwrap()
            .plaintext,
        pt
    );
    let _ = AlgorithmSuite::ALL;
}

fn seeded_client(suite: AlgorithmSuite, seed: u64) -> Client {
    use rand::SeedableRng;
    let policy = if suite.is_committing() {
        esdk_std::CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        esdk_std::CommitmentPolicy::ForbidEncryptAllowDecrypt
    };
    Client::builder()
        .commitment_policy(policy)
        .rng(esdk_std::SharedRng::new(rand::rngs::StdRng::seed_from_u64(
            seed,
        )))
        .build()
}

/// The footer (ECDSA signatures are randomized by the backend) is compared by verifying it.
fn without_footer(suite: AlgorithmSuite, msg: &[u8]) -> &[u8] {
    match suite.signature() {
        None => msg,
        Some(_) => {
            // The footer is the 2-byte length and the signature at the end; its length field
            // sits right after the final frame, found from the signature length itself.
            for sig in (1..=104usize).rev() {
                let at = msg.len() - sig - 2;
                if u16::from_be_bytes([msg[at], msg[at + 1]]) as usize == sig {
                    return &msg[..at];
                }
            }
            panic!("no footer")
        }
    }
}

#[test]
fn parallel_encrypt_is_byte_identical_for_every_suite_frame_and_boundary() {
    let kr = aes("k", 3, 32);
    for suite in ALL_SUITES {
        for frame in [1usize, 100, 4096, 65536] {
            for len in lengths(frame) {
                if frame == 1 && len > 64 {
                    continue;
                }
                for empty_final in [false, true] {
                    let pt = bytes(len, len as u64 + 7);
                    let opts = EncryptOptions::keyring(&kr)
                        .suite(suite)
                        .frame_length(frame as u32)
                        .empty_final_frame(empty_final);
                    let seq = seeded_client(suite, 42)
                        .encrypt(&pt, &opts.clone().parallelism(1))
                        .unwrap()
                        .ciphertext;
                    for workers in [2usize, 3, 8] {
                        let client = seeded_client(suite, 42);
                        let par = client
                            .encrypt(&pt, &opts.clone().parallelism(workers))
                            .unwrap()
                            .ciphertext;
                        assert_eq!(
                            without_footer(suite, &par),
                            without_footer(suite, &seq),
                            "{suite} {frame} {len} {workers} {empty_final}"
                        );
                        let d = client
                            .decrypt(&par, &DecryptOptions::keyring(&kr).parallelism(1))
                            .unwrap();
                        assert_eq!(d.plaintext, pt);
                        // The writer, fed in awkward pieces.
                        let client = seeded_client(suite, 42);
                        let mut w = esdk_std::parallel::ParallelEncryptingWriter::new(
                            &client,
                            &opts,
                            Vec::new(),
                            workers,
                        )
                        .unwrap();
                        for piece in pt.chunks(777) {
                            std::io::Write::write_all(&mut w, piece).unwrap();
                        }
                        let out = w.finish().unwrap();
                        assert_eq!(without_footer(suite, &out), without_footer(suite, &seq));
                        assert_eq!(
                            client
                                .decrypt(&out, &DecryptOptions::keyring(&kr))
                                .unwrap()
                                .plaintext,
                            pt
                        );
                    }
                }
            }
        }
    }
}

/// The tokio reader never releases the final frame before the frames still in flight (a race
/// the repetition makes likely to show).
#[cfg(feature = "tokio")]
#[test]
fn tokio_parallel_reader_releases_in_order() {
    use esdk_std::parallel::AsyncParallelDecryptingReader;
    use tokio::io::AsyncReadExt;
    let kr = aes("k", 3, 32);
    let client = client_for(S0578);
    let pt = bytes(1 << 20, 11);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for frame in [4096u32, 100, 65536] {
        let msg = client
            .encrypt(
                &pt,
                &EncryptOptions::keyring(&kr)
                    .frame_length(frame)
                    .parallelism(1),
            )
            .unwrap()
            .ciphertext;
        for i in 0..20 {
            rt.block_on(async {
                let mut r = AsyncParallelDecryptingReader::new(
                    &client,
                    &DecryptOptions::keyring(&kr),
                    &msg[..],
                    2 + i % 3,
                )
                .await
                .unwrap();
                let mut all = Vec::new();
                r.read_to_end(&mut all).await.unwrap();
                assert!(all == pt, "frame {frame} iteration {i}");
            });
        }
    }
}

/// Memory stays bounded by the worker count and the frame length, not the message length,
/// even with more workers than cores.
#[test]
fn streaming_memory_is_bounded_under_oversubscription() {
    let kr = aes("k", 3, 32);
    let client = client_for(S0478);
    for (frame, len) in [
        (4096usize, 8usize << 20),
        (65536, 16 << 20),
        (1 << 20, 24 << 20),
    ] {
        let pt = bytes(len, 1);
        let msg = client
            .encrypt(
                &pt,
                &EncryptOptions::keyring(&kr)
                    .frame_length(frame as u32)
                    .parallelism(8),
            )
            .unwrap()
            .ciphertext;
        let workers = 8;
        let r = ParallelDecryptingReader::new(
            &client,
            &DecryptOptions::keyring(&kr),
            &msg[..],
            workers,
        )
        .unwrap();
        let mut r = r;
        let (got, err) = {
            let mut out = Vec::new();
            let e = r.read_to_end(&mut out).err();
            (out, e)
        };
        assert!(err.is_none());
        assert!(got == pt);
        let batch = (frame + 32).max(64 * 1024);
        let bound = (workers + 4) * batch + 4 * (frame + 64 * 1024);
        assert!(
            r.peak_buffered() <= bound,
            "frame {frame}: peak {} > bound {bound}",
            r.peak_buffered()
        );
        assert!(r.peak_buffered() < len / 2);
    }
}
