//! Frame-parallel scaling table: encrypt and decrypt throughput, one-shot and through the
//! `std::io` adapters, with 1, 2 and 8 workers and with the default (no setting, adaptive) for
//! 0x0478 and 0x0578 at 4 KiB / 64 KiB / 1 MiB frames, as ratios to the 1-worker (sequential)
//! path of the same run, next to the raw single-thread AES-256-GCM and SHA-384 throughput of
//! the same backend (SHA-384 bounds 0x0578: the running digest is sequential). A streaming
//! decrypt with 8 workers reports its peak buffered bytes (memory bound under
//! oversubscription). A last table times small one-shot messages with 1 and 2 workers and
//! the default, which must never be slower than 1.
//!
//! ```sh
//! nice -n -15 cargo run --release -p esdk-std --example parallel_bench            # 256 MiB
//! nice -n -15 cargo run --release -p esdk-std --example parallel_bench -- 64      # 64 MiB
//! nice -n -15 cargo run --release -p esdk-std --example parallel_bench -- 64 small  # small only
//! nice -n -15 cargo run --release -p esdk-std --example parallel_bench -- 64 streams  # streams only
//! ```
//!
//! `streams`: only the stream adapters (std::io decrypting reader and encrypting writer,
//! 64 KiB reads / writes), 1 and 2 workers, 4 KiB / 64 KiB / 1 MiB frames, both suites,
//! best of 5 interleaved runs (1 and 2 workers alternate, so load changes hit both).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_possible_truncation
)]

use esdk_core::crypto::{AeadKey, CryptoProvider, RunningDigest};
use esdk_core::suite::SignatureAlg;
use esdk_std::keyring::RawAesKeyring;
use esdk_std::stream::io::{DecryptingReader, EncryptingWriter};
use esdk_std::{AlgorithmSuite, Backend, Client, DecryptOptions, EncryptOptions};
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn mbps(bytes: usize, d: Duration) -> f64 {
    bytes as f64 / d.as_secs_f64() / 1e6
}

/// Best of `n` runs.
fn best<T>(n: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..n {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed());
        last = Some(v);
    }
    (best, last.unwrap())
}

fn main() {
    let mib: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(256);
    let len = mib << 20;
    let runs = 2;
    let backend = Backend::default();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "frame-parallel scaling: {mib} MiB, backend {backend:?}, {cores} cores available, best of {runs}"
    );
    let pt: Vec<u8> = (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761) as u8)
        .collect();

    // Raw primitives, single thread, same backend.
    let key = backend.aead_key(&[7u8; 32]).unwrap();
    let mut buf = pt.clone();
    let (d, _) = best(runs, || {
        for (i, c) in buf.chunks_mut(1 << 20).enumerate() {
            let mut iv = [0u8; 12];
            iv[..8].copy_from_slice(&(i as u64).to_be_bytes());
            key.seal_in_place(&iv, b"", c).unwrap();
        }
    });
    let aes = mbps(len, d);
    let (d, _) = best(runs, || {
        let mut h = backend.digest(SignatureAlg::EcdsaP384Sha384);
        h.update(&pt);
    });
    let sha = mbps(len, d);
    println!("raw AES-256-GCM seal, 1 thread: {aes:8.0} MB/s");
    println!("raw SHA-384, 1 thread:          {sha:8.0} MB/s  (ceiling for 0x0578)");
    println!();
    println!(
        "{:<8} {:>8} {:>8} {:>10} {:>7} {:>10} {:>7} {:>10} {:>7} {:>10} {:>7}",
        "suite", "frame", "workers", "enc MB/s", "x", "dec MB/s", "x", "s-enc", "x", "s-dec", "x"
    );

    let keyring: &'static RawAesKeyring = Box::leak(Box::new(
        RawAesKeyring::new("bench", "k", &[1u8; 32]).unwrap(),
    ));
    let client = Client::builder().build();
    let cases = [
        (AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY, 4096u32),
        (
            AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
            64 * 1024,
        ),
        (AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY, 1 << 20),
        (
            AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
            4096,
        ),
        (
            AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
            64 * 1024,
        ),
        (
            AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
            1 << 20,
        ),
    ];
    if std::env::args().nth(2).as_deref() == Some("streams") {
        return streams(&client, keyring, &pt);
    }
    // `-- N small`: only the small-message table.
    let small_only = std::env::args().nth(2).as_deref() == Some("small");
    let cases = if small_only { &cases[..0] } else { &cases[..] };
    for &(suite, frame) in cases {
        let mut base = (0.0, 0.0);
        let mut sbase = (0.0, 0.0);
        let mut ct = Vec::new();
        for workers in [Some(1usize), Some(2), Some(8), None] {
            let with = |e: EncryptOptions<'static>| match workers {
                Some(n) => e.parallelism(n),
                None => e,
            };
            let eopts = with(
                EncryptOptions::keyring(keyring)
                    .suite(suite)
                    .frame_length(frame),
            );
            let (de, c) = best(runs, || client.encrypt(&pt, &eopts).unwrap().ciphertext);
            ct = c;
            let dopts = match workers {
                Some(n) => DecryptOptions::keyring(keyring).parallelism(n),
                None => DecryptOptions::keyring(keyring),
            };
            let (dd, out) = best(runs, || client.decrypt(&ct, &dopts).unwrap().plaintext);
            assert!(out == pt, "round trip");
            // Streaming: std::io writer fed 64 KiB writes, reader read in 64 KiB reads.
            let (se, _) = best(runs, || {
                let mut w =
                    EncryptingWriter::new(&client, &eopts, Vec::with_capacity(ct.len())).unwrap();
                for piece in pt.chunks(1 << 16) {
                    w.write_all(piece).unwrap();
                }
                w.finish().unwrap().len()
            });
            let (sd, n) = best(runs, || {
                let mut r = DecryptingReader::new(&client, &dopts, &ct[..]).unwrap();
                let mut buf = vec![0u8; 1 << 16];
                let mut n = 0usize;
                loop {
                    let k = r.read(&mut buf).unwrap();
                    if k == 0 {
                        break n;
                    }
                    n += k;
                }
            });
            assert_eq!(n, len);
            let (e, d) = (mbps(len, de), mbps(len, dd));
            let (se, sd) = (mbps(len, se), mbps(len, sd));
            if workers == Some(1) {
                base = (e, d);
                sbase = (se, sd);
            }
            println!(
                "{:<8} {:>8} {:>8} {:>10.0} {:>7.2} {:>10.0} {:>7.2} {:>10.0} {:>7.2} {:>10.0} {:>7.2}",
                format!("{:#06x}", suite.id()),
                frame,
                workers.map_or("default".to_string(), |n| n.to_string()),
                e,
                e / base.0,
                d,
                d / base.1,
                se,
                se / sbase.0,
                sd,
                sd / sbase.1
            );
        }
        // Streaming decrypt with 8 workers: output checked, peak buffered bytes reported.
        let mut r = DecryptingReader::new(
            &client,
            &DecryptOptions::keyring(keyring).parallelism(8),
            &ct[..],
        )
        .unwrap();
        let mut out = vec![0u8; 1 << 16];
        let mut pos = 0usize;
        loop {
            let n = r.read(&mut out).unwrap();
            if n == 0 {
                break;
            }
            assert!(out[..n] == pt[pos..pos + n], "stream output");
            pos += n;
        }
        assert_eq!(pos, len);
        println!(
            "{:<8} {:>8} stream, 8 workers: output equal, peak buffered {} KiB ({:.1} frames)",
            "",
            frame,
            r.peak_buffered() >> 10,
            r.peak_buffered() as f64 / f64::from(frame)
        );
    }
    // Small messages: where the default (adaptive) worker count must not be slower.
    println!();
    println!("small messages, one-shot, 0x0478: time per encrypt + decrypt (median of 9 batches)");
    println!(
        "{:>10} {:>8} {:>12} {:>12} {:>12} {:>9}",
        "message", "frame", "1 worker", "2 workers", "default", "default/1"
    );
    for (size, frame) in [
        (16usize << 10, 4096u32),
        (64 << 10, 4096),
        (256 << 10, 4096),
        (1 << 20, 4096),
        (4 << 20, 4096),
        (8 << 20, 4096),
        (16 << 20, 4096),
        (32 << 20, 4096),
        (256 << 10, 65536),
        (1 << 20, 65536),
        (4 << 20, 65536),
        (8 << 20, 65536),
        (16 << 20, 65536),
        (32 << 20, 65536),
    ] {
        let msg = &pt[..size];
        let iters = ((8usize << 20) / size).clamp(4, 200);
        let time = |workers: Option<usize>| {
            let eopts = EncryptOptions::keyring(keyring)
                .suite(AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY)
                .frame_length(frame);
            let dopts = DecryptOptions::keyring(keyring);
            let (eopts, dopts) = match workers {
                Some(n) => (eopts.parallelism(n), dopts.parallelism(n)),
                None => (eopts, dopts),
            };
            let mut samples: Vec<f64> = (0..9)
                .map(|_| {
                    let t = Instant::now();
                    for _ in 0..iters {
                        let c = client.encrypt(msg, &eopts).unwrap().ciphertext;
                        let p = client.decrypt(&c, &dopts).unwrap().plaintext;
                        assert_eq!(p.len(), size);
                    }
                    t.elapsed().as_secs_f64() * 1e6 / iters as f64
                })
                .collect();
            samples.sort_by(f64::total_cmp);
            samples[4]
        };
        // A first pass warms the allocator for every setting (glibc raises its mmap threshold
        // after the first free, so later allocations of this size skip the page faults): only
        // the second pass is reported.
        let _ = (time(Some(1)), time(Some(2)), time(None));
        let (one, two, def) = (time(Some(1)), time(Some(2)), time(None));
        println!(
            "{:>10} {:>8} {:>10.1}us {:>10.1}us {:>10.1}us {:>9.2}",
            size,
            frame,
            one,
            two,
            def,
            def / one
        );
    }
    println!();
    println!(
        "x = throughput / the 1-worker (sequential) path of the same run; s-enc / s-dec: the \
         std::io EncryptingWriter / DecryptingReader (64 KiB writes / reads); default: no \
         parallelism setting (the adaptive default)."
    );
    println!("On a shared machine the 2-worker ratios are understated.");
}

/// CPU time of the calling thread (ns, `/proc/thread-self/schedstat`; 0 elsewhere).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU time (ns) of the live `esdk-frames-*` worker threads of this process.
fn workers_cpu_ns() -> u64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    dir.filter_map(Result::ok)
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.starts_with("esdk-frames"))
        })
        .filter_map(|t| {
            std::fs::read_to_string(t.path().join("schedstat"))
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        })
        .sum()
}

/// The stream-adapter table (`-- N streams`).
fn streams(client: &Client, keyring: &'static RawAesKeyring, pt: &[u8]) {
    let len = pt.len();
    println!(
        "{:<8} {:>8} {:>10} {:>10} {:>7} {:>10} {:>10} {:>7}",
        "suite", "frame", "s-dec 1", "s-dec 2", "x", "s-enc 1", "s-enc 2", "x"
    );
    for suite in [
        AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
        AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
    ] {
        for frame in [4096u32, 64 * 1024, 1 << 20] {
            let eopts = |n: usize| {
                EncryptOptions::keyring(keyring)
                    .suite(suite)
                    .frame_length(frame)
                    .parallelism(n)
            };
            let ct = client.encrypt(pt, &eopts(1)).unwrap().ciphertext;
            // CPU time (ns per MiB) of the calling thread and of the workers, for the
            // reader: what bounds it on an idle machine, whatever the load now.
            let cpu = std::cell::Cell::new([(u64::MAX, u64::MAX); 2]);
            let dec = |n: usize| {
                let t = Instant::now();
                let c0 = thread_cpu_ns();
                let dopts = DecryptOptions::keyring(keyring).parallelism(n);
                let mut r = DecryptingReader::new(client, &dopts, &ct[..]).unwrap();
                let mut buf = vec![0u8; 1 << 16];
                let mut got = 0usize;
                loop {
                    let k = r.read(&mut buf).unwrap();
                    if k == 0 {
                        break;
                    }
                    got += k;
                }
                assert_eq!(got, len);
                let (caller, workers) = (thread_cpu_ns() - c0, workers_cpu_ns());
                let mut c = cpu.get();
                let slot = &mut c[n - 1];
                if caller + workers < slot.0 + slot.1 {
                    *slot = (caller, workers);
                }
                cpu.set(c);
                t.elapsed()
            };
            let enc = |n: usize| {
                let t = Instant::now();
                let mut w =
                    EncryptingWriter::new(client, &eopts(n), Vec::with_capacity(ct.len())).unwrap();
                for piece in pt.chunks(1 << 16) {
                    w.write_all(piece).unwrap();
                }
                let out = w.finish().unwrap();
                assert!(out.len() >= len);
                t.elapsed()
            };
            let (mut d, mut e) = ([Duration::MAX; 2], [Duration::MAX; 2]);
            for _ in 0..5 {
                for (i, n) in [1usize, 2].into_iter().enumerate() {
                    d[i] = d[i].min(dec(n));
                    e[i] = e[i].min(enc(n));
                }
            }
            let (d1, d2, e1, e2) = (
                mbps(len, d[0]),
                mbps(len, d[1]),
                mbps(len, e[0]),
                mbps(len, e[1]),
            );
            println!(
                "{:<8} {:>8} {:>10.0} {:>10.0} {:>7.2} {:>10.0} {:>10.0} {:>7.2}",
                format!("{:#06x}", suite.id()),
                frame,
                d1,
                d2,
                d2 / d1,
                e1,
                e2,
                e2 / e1
            );
            let c = cpu.get();
            let per_mib = |ns: u64| ns as f64 / (len as f64 / f64::from(1u32 << 20)) / 1e3;
            let seq = per_mib(c[0].0);
            let (caller, workers) = (per_mib(c[1].0), per_mib(c[1].1));
            // Idle 2-core bound: the caller alone, or all the work over both cores.
            let bound = caller.max((caller + workers) / 2.0);
            println!(
                "{:<8} {:>8}   s-dec CPU us/MiB: sequential {seq:.0}; 2 workers: caller {caller:.0}, workers {workers:.0}; idle 2-core bound {:.2}x",
                "",
                "",
                seq / bound
            );
        }
    }
    println!("MB/s, best of 5 interleaved runs; x = 2 workers / 1 worker (shared machine).");
}
