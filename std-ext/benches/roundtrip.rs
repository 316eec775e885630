//! Latency of the one-shot client: a 1 KiB message encrypted and decrypted with a raw AES-256
//! keyring, suite 0x0478 (committing, unsigned), through `Client::encrypt` / `Client::decrypt`.
//!
//! Groups:
//! * `oneshot_1KiB/roundtrip_0478`: encrypt then decrypt (the target: ≤ 15 µs median).
//! * `oneshot_1KiB/encrypt_0478`, `oneshot_1KiB/decrypt_0478`: the two halves.
//! * `oneshot_1KiB/roundtrip_0578`: the signed suite, for reference (ECDSA P-384 key generation,
//!   signing and verification dominate).
//!
//! Run: `cargo bench -p esdk-std --bench roundtrip -- --warm-up-time 1 --measurement-time 3`.
//!
//! Criterion measures wall-clock time, which a busy machine inflates (time spent descheduled
//! counts). `ROUNDTRIP_CPU_SECONDS=5 cargo bench -p esdk-std --bench roundtrip` instead runs the
//! 0x0478 round trip in a loop for that long and reports both wall-clock and on-CPU time per
//! round trip (from `/proc/thread-self/schedstat`, Linux), then exits.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::std_instead_of_core,
    clippy::cast_possible_truncation
)]

use criterion::{Criterion, Throughput, criterion_group};
use esdk_std::keyring::RawAesKeyring;
use esdk_std::{AlgorithmSuite, Client, DecryptOptions, EncryptOptions, EncryptionContext};
use std::hint::black_box;

fn oneshot(c: &mut Criterion) {
    let keyring = RawAesKeyring::new("bench-namespace", "bench-key", &[0x5a; 32]).unwrap();
    let client = Client::default();
    let mut ec = EncryptionContext::new();
    ec.insert("purpose", "benchmark");
    ec.insert("tenant", "example-tenant-0001");
    let plaintext: Vec<u8> = (0..1024u32).map(|i| (i * 31) as u8).collect();

    let mut group = c.benchmark_group("oneshot_1KiB");
    group.throughput(Throughput::Bytes(plaintext.len() as u64));
    for suite in [
        AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
        AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
    ] {
        let eopts = EncryptOptions::keyring(&keyring)
            .encryption_context(ec.clone())
            .suite(suite);
        let dopts = DecryptOptions::keyring(&keyring);
        let name = format!("{:04x}", suite.id());
        group.bench_function(format!("roundtrip_{name}"), |b| {
            b.iter(|| {
                let sealed = client.encrypt(black_box(&plaintext), &eopts).unwrap();
                let opened = client
                    .decrypt(black_box(&sealed.ciphertext), &dopts)
                    .unwrap();
                debug_assert_eq!(opened.plaintext, plaintext);
                opened.plaintext.len()
            })
        });
        if suite.is_signed() {
            continue;
        }
        group.bench_function(format!("encrypt_{name}"), |b| {
            b.iter(|| {
                client
                    .encrypt(black_box(&plaintext), &eopts)
                    .unwrap()
                    .ciphertext
                    .len()
            })
        });
        let sealed = client.encrypt(&plaintext, &eopts).unwrap();
        group.bench_function(format!("decrypt_{name}"), |b| {
            b.iter(|| {
                client
                    .decrypt(black_box(&sealed.ciphertext), &dopts)
                    .unwrap()
                    .plaintext
                    .len()
            })
        });
    }
    group.finish();
}

/// Nanoseconds this thread has spent on a CPU (Linux `schedstat`).
fn on_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// The loop behind `ROUNDTRIP_CPU_SECONDS`.
fn cpu_time_loop(seconds: f64) {
    let keyring = RawAesKeyring::new("bench-namespace", "bench-key", &[0x5a; 32]).unwrap();
    let client = Client::default();
    let mut ec = EncryptionContext::new();
    ec.insert("purpose", "benchmark");
    ec.insert("tenant", "example-tenant-0001");
    let plaintext: Vec<u8> = (0..1024u32).map(|i| (i * 31) as u8).collect();
    let eopts = EncryptOptions::keyring(&keyring)
        .encryption_context(ec)
        .suite(AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY);
    let dopts = DecryptOptions::keyring(&keyring);
    let round_trip = || {
        let sealed = client.encrypt(black_box(&plaintext), &eopts).unwrap();
        client
            .decrypt(black_box(&sealed.ciphertext), &dopts)
            .unwrap()
            .plaintext
            .len()
    };
    for _ in 0..1000 {
        black_box(round_trip());
    }
    let (wall, cpu) = (
        std::time::Instant::now(),
        on_cpu_ns().expect("/proc/thread-self/schedstat"),
    );
    let mut n = 0u64;
    while wall.elapsed().as_secs_f64() < seconds {
        for _ in 0..100 {
            black_box(round_trip());
        }
        n += 100;
    }
    let wall_us = wall.elapsed().as_secs_f64() * 1e6 / n as f64;
    let cpu_us = (on_cpu_ns().unwrap() - cpu) as f64 / 1e3 / n as f64;
    println!(
        "oneshot_1KiB/roundtrip_0478: {n} round trips, {wall_us:.2} µs wall-clock, {cpu_us:.2} µs on-CPU per round trip"
    );
}

criterion_group!(benches, oneshot);

fn main() {
    if let Ok(s) = std::env::var("ROUNDTRIP_CPU_SECONDS") {
        cpu_time_loop(s.parse().expect("ROUNDTRIP_CPU_SECONDS: seconds"));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
