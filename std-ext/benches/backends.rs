//! The backends table in criterion: every backend compiled in (build with `--features
//! rustcrypto` for both), each with its raw primitives as baselines in the same run.
//!
//! Groups (per backend `<b>`, `aws-lc` and/or `rustcrypto`):
//! * `<b>/raw`: AES-256-GCM seal in place, and SHA-384 + AES-256-GCM, over `BACKENDS_MIB` MiB
//!   (default 4) cut into 4 KiB, 64 KiB and 1 MiB frames, through the backend's provider
//!   (the thin `AeadKey`/`RunningDigest` wrappers over the library calls);
//! * `<b>/oneshot`: `Client::encrypt` / `Client::decrypt` of the same bytes, suites 0x0478 and
//!   0x0578, at the three frame lengths;
//! * `<b>/stream`: the same through `EncryptingWriter` / `DecryptingReader` (64 KiB writes and
//!   reads);
//! * `<b>/1KiB`: a 1 KiB round trip (encrypt + decrypt) per suite, all 11.
//!
//! Throughput is in bytes of plaintext, so a cell's ratio to raw is the ratio of the two
//! figures. The 100 MiB table and the Python ESDK comparison are `bash bench/run.sh`.
//!
//! ```text
//! cargo bench -p esdk-std --features rustcrypto --bench backends -- --warm-up-time 1 --measurement-time 3
//! ```
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::std_instead_of_core
)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use esdk_core::crypto::{AeadKey, CryptoProvider, RunningDigest};
use esdk_core::suite::SignatureAlg;
use esdk_std::keyring::RawAesKeyring;
use esdk_std::stream::io::{DecryptingReader, EncryptingWriter};
use esdk_std::{AlgorithmSuite, Backend, Client, CommitmentPolicy, DecryptOptions, EncryptOptions};
use std::hint::black_box;
use std::io::{Read, Write};
use std::time::Duration;

const FRAMES: [u32; 3] = [4096, 65536, 1 << 20];

fn frame_name(frame: u32) -> String {
    if frame >= 1 << 20 {
        format!("{}MiB", frame >> 20)
    } else {
        format!("{}KiB", frame >> 10)
    }
}

fn data() -> Vec<u8> {
    let mib = std::env::var("BACKENDS_MIB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(4);
    (0..mib << 20).map(|i| (i * 31 % 251) as u8).collect()
}

fn iv(i: usize) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[4..].copy_from_slice(&(i as u64).to_be_bytes());
    iv
}

fn backends(c: &mut Criterion) {
    let data = data();
    let keyring = RawAesKeyring::new("bench", "aes-256", &[7u8; 32]).unwrap();
    for backend in Backend::all() {
        let name = backend.name();
        let client = Client::builder()
            .backend(backend.clone())
            .commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
            .build();

        let mut g = c.benchmark_group(format!("{name}/raw"));
        g.throughput(Throughput::Bytes(data.len() as u64));
        g.sample_size(10);
        let key = backend.aead_key(&[9u8; 32]).unwrap();
        let mut buf = data.clone();
        for frame in FRAMES {
            let f = frame as usize;
            g.bench_function(BenchmarkId::new("aes256gcm", frame_name(frame)), |b| {
                b.iter(|| {
                    for (i, chunk) in buf.chunks_mut(f).enumerate() {
                        black_box(key.seal_in_place(&iv(i), b"aad", chunk).unwrap());
                    }
                });
            });
            g.bench_function(
                BenchmarkId::new("sha384+aes256gcm", frame_name(frame)),
                |b| {
                    b.iter(|| {
                        let mut d = backend.digest(SignatureAlg::EcdsaP384Sha384);
                        for (i, chunk) in buf.chunks_mut(f).enumerate() {
                            black_box(key.seal_in_place(&iv(i), b"aad", chunk).unwrap());
                            d.update(chunk);
                        }
                        black_box(d);
                    });
                },
            );
        }
        g.finish();

        for (kind, streaming) in [("oneshot", false), ("stream", true)] {
            let mut g = c.benchmark_group(format!("{name}/{kind}"));
            g.throughput(Throughput::Bytes(data.len() as u64));
            g.sample_size(10);
            for id in [0x0478u16, 0x0578] {
                let suite = AlgorithmSuite::from_id(id).unwrap();
                for frame in FRAMES {
                    let enc = EncryptOptions::keyring(&keyring)
                        .suite(suite)
                        .frame_length(frame);
                    let dec = DecryptOptions::keyring(&keyring);
                    let encrypt = |pt: &[u8]| -> Vec<u8> {
                        if streaming {
                            let mut w = EncryptingWriter::new(
                                &client,
                                &enc,
                                Vec::with_capacity(pt.len() + 4096),
                            )
                            .unwrap();
                            for chunk in pt.chunks(65536) {
                                w.write_all(chunk).unwrap();
                            }
                            w.finish().unwrap()
                        } else {
                            client.encrypt(pt, &enc).unwrap().ciphertext
                        }
                    };
                    let ct = encrypt(&data);
                    let cell = format!("{id:04x}-{}", frame_name(frame));
                    g.bench_function(BenchmarkId::new("encrypt", &cell), |b| {
                        b.iter(|| black_box(encrypt(&data)));
                    });
                    g.bench_function(BenchmarkId::new("decrypt", &cell), |b| {
                        b.iter(|| {
                            if streaming {
                                let mut r = DecryptingReader::new(&client, &dec, &ct[..]).unwrap();
                                let mut out = vec![0u8; 65536];
                                let mut n = 0usize;
                                loop {
                                    let k = r.read(&mut out).unwrap();
                                    if k == 0 {
                                        break;
                                    }
                                    n += k;
                                }
                                assert_eq!(n, data.len());
                            } else {
                                let pt = client.decrypt(&ct, &dec).unwrap().plaintext;
                                assert_eq!(pt.len(), data.len());
                            }
                        });
                    });
                }
            }
            g.finish();
        }

        let mut g = c.benchmark_group(format!("{name}/1KiB"));
        g.throughput(Throughput::Bytes(1024));
        g.sample_size(20);
        g.measurement_time(Duration::from_secs(2));
        let legacy = Client::builder()
            .backend(backend.clone())
            .commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
            .build();
        let small = &data[..1024];
        for suite in AlgorithmSuite::ALL {
            let client = if suite.is_committing() {
                &client
            } else {
                &legacy
            };
            let enc = EncryptOptions::keyring(&keyring).suite(suite);
            let dec = DecryptOptions::keyring(&keyring);
            g.bench_function(format!("roundtrip-{:04x}", suite.id()), |b| {
                b.iter(|| {
                    let ct = client.encrypt(black_box(small), &enc).unwrap();
                    black_box(client.decrypt(&ct.ciphertext, &dec).unwrap());
                });
            });
        }
        g.finish();
    }
}

criterion_group!(benches, backends);
criterion_main!(benches);
