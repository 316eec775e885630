//! The pipelined running digest (`Backend::with_pipelined_digest`) against the inline one, for
//! the default suite 0x0578 (ECDSA P-384: SHA-384 over the whole message), as ratios to one
//! core's SHA-384 over the same bytes in the same run: the one-shot client (sequential and
//! the default, frame-parallel from 16 MiB), the `std::io` encrypting writer and decrypting
//! reader (64 KiB writes / reads), and the 1 KiB round trip (which stays below the threshold).
//! Runs alternate off / on, best of `reps`.
//!
//! ```sh
//! nice -n -15 cargo run --release -p esdk-std --example pipelined_bench -- 256 5
//! ```
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss
)]

use esdk_core::crypto::{CryptoProvider, RunningDigest};
use esdk_core::suite::SignatureAlg;
use esdk_std::keyring::RawAesKeyring;
use esdk_std::stream::io::{DecryptingReader, EncryptingWriter};
use esdk_std::{AlgorithmSuite, Backend, Client, DecryptOptions, EncryptOptions};
use std::hint::black_box;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

/// A named measurement run with one client.
type Cell<'a> = (String, Box<dyn Fn(&Client) + 'a>);

fn time(f: impl FnOnce()) -> Duration {
    let t = Instant::now();
    f();
    t.elapsed()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mib: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(256);
    let reps: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    let backend = Backend::default();
    let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
    let kr = RawAesKeyring::new("ns", "k", &[1u8; 32]).unwrap();
    let pt: Vec<u8> = (0..mib << 20).map(|i| (i % 251) as u8).collect();
    let clients = [false, true].map(|on| {
        Client::builder()
            .backend(backend.clone())
            .pipelined_digest(on)
            .build()
    });
    let ct = clients[0]
        .encrypt(&pt, &EncryptOptions::keyring(&kr).suite(suite))
        .unwrap()
        .ciphertext;

    // name -> [best off, best on]
    let mut rows: Vec<(String, [Duration; 2])> = Vec::new();
    let mut sha = Duration::MAX;
    for frame in [4096u32, 65536, 1 << 20] {
        let ct_f = clients[0]
            .encrypt(
                &pt,
                &EncryptOptions::keyring(&kr)
                    .suite(suite)
                    .frame_length(frame),
            )
            .unwrap()
            .ciphertext;
        let cells: Vec<Cell<'_>> = vec![
            (
                format!("one-shot encrypt, 1 worker, {frame} B frames"),
                Box::new(|c: &Client| {
                    let enc = EncryptOptions::keyring(&kr)
                        .suite(suite)
                        .frame_length(frame)
                        .parallelism(1);
                    black_box(c.encrypt(&pt, &enc).unwrap());
                }),
            ),
            (
                format!("one-shot decrypt, 1 worker, {frame} B frames"),
                Box::new(|c: &Client| {
                    let dec = DecryptOptions::keyring(&kr).parallelism(1);
                    black_box(c.decrypt(&ct_f, &dec).unwrap());
                }),
            ),
            (
                format!("one-shot encrypt, default, {frame} B frames"),
                Box::new(|c: &Client| {
                    let enc = EncryptOptions::keyring(&kr)
                        .suite(suite)
                        .frame_length(frame);
                    black_box(c.encrypt(&pt, &enc).unwrap());
                }),
            ),
            (
                format!("one-shot decrypt, default, {frame} B frames"),
                Box::new(|c: &Client| {
                    black_box(c.decrypt(&ct_f, &DecryptOptions::keyring(&kr)).unwrap());
                }),
            ),
            (
                format!("writer encrypt, {frame} B frames"),
                Box::new(|c: &Client| {
                    let enc = EncryptOptions::keyring(&kr)
                        .suite(suite)
                        .frame_length(frame);
                    let mut w = EncryptingWriter::new(c, &enc, std::io::sink()).unwrap();
                    for piece in pt.chunks(64 << 10) {
                        w.write_all(piece).unwrap();
                    }
                    w.finish().unwrap();
                }),
            ),
            (
                format!("reader decrypt, {frame} B frames"),
                Box::new(|c: &Client| {
                    let dec = DecryptOptions::keyring(&kr);
                    let mut r = DecryptingReader::new(c, &dec, &ct_f[..]).unwrap();
                    let mut buf = vec![0u8; 64 << 10];
                    while r.read(&mut buf).unwrap() > 0 {}
                }),
            ),
        ];
        for (name, f) in cells {
            let mut best = [Duration::MAX; 2];
            for _ in 0..reps {
                for (i, c) in clients.iter().enumerate() {
                    best[i] = best[i].min(time(|| f(c)));
                }
                let t = time(|| {
                    let mut d = backend.digest(SignatureAlg::EcdsaP384Sha384);
                    d.update(&ct);
                    black_box(d);
                });
                sha = sha.min(t);
            }
            rows.push((name, best));
        }
    }
    println!(
        "{mib} MiB, 0x0578, {}; one core's SHA-384 over the message: {:.1} ms ({:.0} MB/s)",
        backend.name(),
        sha.as_secs_f64() * 1e3,
        ct.len() as f64 / sha.as_secs_f64() / 1e6
    );
    println!("| path | inline digest | pipelined | inline / SHA-384 | pipelined / SHA-384 |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    for (name, [off, on]) in &rows {
        println!(
            "| {name} | {:.1} ms | {:.1} ms | {:.2} | {:.2} |",
            off.as_secs_f64() * 1e3,
            on.as_secs_f64() * 1e3,
            off.as_secs_f64() / sha.as_secs_f64(),
            on.as_secs_f64() / sha.as_secs_f64()
        );
    }

    // Every core busy: as many concurrent streams as cores (a server's load), each the whole
    // message through the writer and back through the reader; the extra thread and copy per
    // message must not cost aggregate throughput.
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    let mut best = [Duration::MAX; 2];
    for _ in 0..reps {
        for (i, c) in clients.iter().enumerate() {
            let t = time(|| {
                std::thread::scope(|s| {
                    for _ in 0..cores {
                        s.spawn(|| {
                            let enc = EncryptOptions::keyring(&kr).suite(suite);
                            let mut w = EncryptingWriter::new(c, &enc, std::io::sink()).unwrap();
                            for piece in pt.chunks(64 << 10) {
                                w.write_all(piece).unwrap();
                            }
                            w.finish().unwrap();
                            let dec = DecryptOptions::keyring(&kr);
                            let mut r = DecryptingReader::new(c, &dec, &ct[..]).unwrap();
                            let mut buf = vec![0u8; 64 << 10];
                            while r.read(&mut buf).unwrap() > 0 {}
                        });
                    }
                });
            });
            best[i] = best[i].min(t);
        }
    }
    println!(
        "{cores} concurrent streams (writer + reader, 4096 B frames): inline {:.1} ms, pipelined {:.1} ms ({:.3}x)",
        best[0].as_secs_f64() * 1e3,
        best[1].as_secs_f64() * 1e3,
        best[1].as_secs_f64() / best[0].as_secs_f64()
    );

    // 1 KiB round trips: below the threshold, no thread; the option must cost nothing.
    let small = vec![7u8; 1024];
    let n = 2000;
    let mut best = [Duration::MAX; 2];
    for _ in 0..reps {
        for (i, c) in clients.iter().enumerate() {
            let t = time(|| {
                for _ in 0..n {
                    let ct = c
                        .encrypt(&small, &EncryptOptions::keyring(&kr).suite(suite))
                        .unwrap()
                        .ciphertext;
                    black_box(c.decrypt(&ct, &DecryptOptions::keyring(&kr)).unwrap());
                }
            });
            best[i] = best[i].min(t / n);
        }
    }
    println!(
        "1 KiB 0x0578 round trip: inline {:.1} µs, pipelined {:.1} µs ({:.3}x)",
        best[0].as_secs_f64() * 1e6,
        best[1].as_secs_f64() * 1e6,
        best[1].as_secs_f64() / best[0].as_secs_f64()
    );
}
