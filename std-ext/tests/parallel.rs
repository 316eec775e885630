//! Frame-parallel decryption and encryption, as a setting (`parallelism(n)`) of the one-shot
//! client and of every stream adapter (`std::io` and tokio, reading and writing): output equal
//! to the sequential path for every suite, frame length and length boundary; every mutation
//! of a message fails in parallel mode whenever it fails sequentially, on every adapter,
//! releasing no more plaintext.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

mod common;
#[path = "support/mutations.rs"]
mod mutations;

use common::*;
use esdk_std::keyring::RawAesKeyring;
use esdk_std::stream::io::{
    DecryptingReader, DecryptingWriter, EncryptingReader, EncryptingWriter,
};
use esdk_std::{AlgorithmSuite, Client, DecryptOptions, EncryptOptions};
use mutations::mutations;
use std::io::{Read, Write};

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

/// What one decrypting path released, and its error.
struct Run {
    path: &'static str,
    out: Vec<u8>,
    err: Option<String>,
}

/// Decrypts `msg` with `workers` through every decrypting path: one-shot, `std::io` reader and
/// writer, tokio reader and writer (the writers fed in pieces of `piece` bytes).
fn decrypt_paths(
    client: &Client,
    kr: &RawAesKeyring,
    msg: &[u8],
    workers: usize,
    piece: usize,
) -> Vec<Run> {
    let opts = DecryptOptions::keyring(kr).parallelism(workers);
    let mut runs = Vec::new();
    match client.decrypt(msg, &opts) {
        Ok(d) => runs.push(Run {
            path: "one-shot",
            out: d.plaintext,
            err: None,
        }),
        Err(e) => runs.push(Run {
            path: "one-shot",
            out: Vec::new(),
            err: Some(e.to_string()),
        }),
    }
    let (out, err) = match DecryptingReader::new(client, &opts, msg) {
        Ok(r) => {
            assert!(r.running_workers() <= workers);
            read_all(r)
        }
        Err(e) => (Vec::new(), Some(std::io::Error::other(e))),
    };
    runs.push(Run {
        path: "io reader",
        out,
        err: err.map(|e| e.to_string()),
    });
    let mut out = Vec::new();
    let err = {
        let mut w = DecryptingWriter::new(client, &opts, &mut out);
        let mut r = Ok(());
        for p in msg.chunks(piece.max(1)) {
            r = w.write_all(p);
            if r.is_err() {
                break;
            }
        }
        let r = r.and_then(|()| w.try_finish());
        if r.is_ok() {
            assert!(w.encryption_context().is_some() && w.header().is_some());
        }
        r.err()
    };
    runs.push(Run {
        path: "io writer",
        out,
        err: err.map(|e| e.to_string()),
    });
    #[cfg(feature = "tokio")]
    {
        use esdk_std::stream::tokio::{AsyncDecryptingReader, AsyncDecryptingWriter};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let (out, err) = match AsyncDecryptingReader::new(client, &opts, msg).await {
                Ok(mut r) => {
                    let mut out = Vec::new();
                    let mut buf = vec![0u8; 3000];
                    let err = loop {
                        match r.read(&mut buf).await {
                            Ok(0) => break None,
                            Ok(n) => out.extend_from_slice(&buf[..n]),
                            Err(e) => break Some(e.to_string()),
                        }
                    };
                    (out, err)
                }
                Err(e) => (Vec::new(), Some(e.to_string())),
            };
            runs.push(Run {
                path: "tokio reader",
                out,
                err,
            });
            let mut w = AsyncDecryptingWriter::new(client, &opts, Vec::new());
            let mut r = Ok(());
            for p in msg.chunks(piece.max(1)) {
                r = w.write_all(p).await;
                if r.is_err() {
                    break;
                }
            }
            if r.is_ok() {
                r = w.shutdown().await;
            }
            runs.push(Run {
                path: "tokio writer",
                out: w.into_inner(),
                err: r.err().map(|e| e.to_string()),
            });
        });
    }
    runs
}

/// Encrypts `pt` with `workers` through every encrypting path: one-shot, `std::io` writer and
/// reader, tokio writer and reader (a new seeded client for each, so all draw the same
/// random bytes).
fn encrypt_paths(
    make_client: &dyn Fn() -> Client,
    opts: &EncryptOptions<'_>,
    pt: &[u8],
    workers: usize,
) -> Vec<(&'static str, Vec<u8>)> {
    let opts = opts.clone().parallelism(workers);
    let mut runs = Vec::new();
    let one = make_client().encrypt(pt, &opts).unwrap().ciphertext;
    runs.push(("one-shot", one));
    let client = make_client();
    let mut w = EncryptingWriter::new(&client, &opts, Vec::new()).unwrap();
    for piece in pt.chunks(777) {
        w.write_all(piece).unwrap();
    }
    runs.push(("io writer", w.finish().unwrap()));
    let client = make_client();
    let r = EncryptingReader::new(&client, &opts, Pieces::new(pt, 5000, 3)).unwrap();
    let (out, err) = read_all(r);
    assert!(err.is_none(), "{err:?}");
    runs.push(("io reader", out));
    #[cfg(feature = "tokio")]
    {
        use esdk_std::stream::tokio::{AsyncEncryptingReader, AsyncEncryptingWriter};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let client = make_client();
            let mut w = AsyncEncryptingWriter::new(&client, &opts, Vec::new())
                .await
                .unwrap();
            for piece in pt.chunks(777) {
                w.write_all(piece).await.unwrap();
            }
            w.shutdown().await.unwrap();
            runs.push(("tokio writer", w.into_inner()));
            let client = make_client();
            let mut r = AsyncEncryptingReader::new(&client, &opts, pt)
                .await
                .unwrap();
            let mut out = Vec::new();
            r.read_to_end(&mut out).await.unwrap();
            runs.push(("tokio reader", out));
        });
    }
    runs
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
                        for run in decrypt_paths(&client, &kr, &msg, workers, 1000) {
                            let p = run.path;
                            assert!(
                                run.err.is_none(),
                                "{suite} {frame} {len} {p}: {:?}",
                                run.err
                            );
                            assert!(
                                run.out == pt,
                                "{suite} {frame} {len} {workers} {p} {empty_final}"
                            );
                        }
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
        // Unsigned: also frames swapped (2 and 3) and a frame dropped (2).
        let frames = suite.signature().is_none().then_some(96);
        let variants = mutations(&msg, 0x01, frames);
        for (n, (m, _)) in variants.iter().enumerate() {
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
                for run in decrypt_paths(&client, &kr, m, workers, 100) {
                    let p = run.path;
                    assert_eq!(
                        run.err.is_some(),
                        seq_err.is_some(),
                        "{suite} variant {n} workers {workers} {p}"
                    );
                    assert!(
                        run.out.len() <= seq_out.len(),
                        "{suite} variant {n} {p}: parallel released {} bytes, sequential {}",
                        run.out.len(),
                        seq_out.len()
                    );
                    assert_eq!(run.out[..], pt[..run.out.len()], "{suite} variant {n} {p}");
                }
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
                        // Every adapter (writers fed in awkward pieces).
                        let make = || seeded_client(suite, 42);
                        for (p, out) in encrypt_paths(&make, &opts, &pt, workers) {
                            assert!(
                                without_footer(suite, &out) == without_footer(suite, &seq),
                                "{suite} {frame} {len} {workers} {empty_final} {p}"
                            );
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
}

/// The tokio reader never releases the final frame before the frames still in flight (a race
/// the repetition makes likely to show).
#[cfg(feature = "tokio")]
#[test]
fn tokio_parallel_reader_releases_in_order() {
    use esdk_std::stream::tokio::AsyncDecryptingReader;
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
                let mut r = AsyncDecryptingReader::new(
                    &client,
                    &DecryptOptions::keyring(&kr).parallelism(2 + i % 3),
                    &msg[..],
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
        let r = DecryptingReader::new(
            &client,
            &DecryptOptions::keyring(&kr).parallelism(workers),
            &msg[..],
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

/// The declared plaintext length is enforced when the bytes are offered, with nothing taken,
/// in parallel mode as sequentially: the same `write` fails, with the same error.
#[test]
fn plaintext_length_bound_is_checked_on_intake_in_parallel_mode() {
    let kr = aes("k", 3, 32);
    let client = client_for(S0478);
    for workers in [1usize, 3] {
        let opts = EncryptOptions::keyring(&kr)
            .plaintext_length(1000)
            .frame_length(64)
            .parallelism(workers);
        let mut w = EncryptingWriter::new(&client, &opts, Vec::new()).unwrap();
        w.write_all(&[1u8; 990]).unwrap();
        let e = w.write(&[1u8; 11]).unwrap_err();
        assert!(
            matches!(
                core_of_io(&e),
                Some(esdk_core::Error::Limit(l)) if l.limit == 1000 && l.actual == 1001
            ),
            "workers {workers}: {e:?}"
        );
        // Nothing was taken: the remaining 10 bytes still fit and the message is complete.
        w.write_all(&[1u8; 10]).unwrap();
        let msg = w.finish().unwrap();
        assert_eq!(
            client
                .decrypt(&msg, &DecryptOptions::keyring(&kr))
                .unwrap()
                .plaintext,
            vec![1u8; 1000]
        );
        let mut r = EncryptingReader::new(&client, &opts, &[0u8; 1001][..]).unwrap();
        assert!(r.read_to_end(&mut Vec::new()).is_err(), "workers {workers}");
    }
}

/// The decrypting writer in parallel mode is bounded like the reader, whatever the size of the
/// caller's writes.
#[test]
fn decrypting_writer_memory_is_bounded_under_oversubscription() {
    let kr = aes("k", 3, 32);
    let client = client_for(S0478);
    let (frame, len, workers) = (65536usize, 16usize << 20, 8usize);
    let pt = bytes(len, 2);
    let msg = client
        .encrypt(
            &pt,
            &EncryptOptions::keyring(&kr).frame_length(frame as u32),
        )
        .unwrap()
        .ciphertext;
    let mut w = DecryptingWriter::new(
        &client,
        &DecryptOptions::keyring(&kr).parallelism(workers),
        Vec::new(),
    );
    for piece in msg.chunks(3 << 20) {
        w.write_all(piece).unwrap();
    }
    w.try_finish().unwrap();
    let peak = w.peak_buffered();
    let batch = (frame + 32).max(64 * 1024);
    let bound = (workers + 4) * batch + 4 * (frame + 64 * 1024);
    assert!(peak <= bound, "peak {peak} > bound {bound}");
    assert!(w.into_inner() == pt);
}
