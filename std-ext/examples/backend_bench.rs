//! Both backends side by side in one run: raw primitives, 1 KiB round trips per suite (and
//! through `encrypt_into` / `decrypt_into` for 0x0478 and 0x0578), 100 MiB one-shot (allocating
//! and into reused caller buffers) and streaming cells, RSA unwrap. Prints one JSON object per cell (the Python ESDK
//! script `bench/python_esdk.py` prints the same cells; `bench/run.sh` runs both and builds the
//! table).
//!
//! ```text
//! cargo run --release --locked -p esdk-std --features rustcrypto --example backend_bench
//! ```
//! Environment: `BENCH_MIB` (default 100), `BENCH_REPS` (best of, default 3).

use esdk_core::crypto::{AeadKey, CryptoProvider, RunningDigest};
use esdk_core::suite::SignatureAlg;
use esdk_std::keyring::RawAesKeyring;
use esdk_std::stream::io::{DecryptingReader, EncryptingWriter};
use esdk_std::{
    AlgorithmSuite, Backend, Client, CommitmentPolicy, DecryptOptions, EncryptOptions, RsaPadding,
    RsaPrivateKey, RsaPublicKey,
};
use std::io::{Read, Write};
use std::time::Instant;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn best<F: FnMut()>(reps: usize, mut f: F) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..reps {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    best
}

fn emit(backend: &str, cell: &str, value: f64, unit: &str) {
    println!(
        "{{\"impl\":\"rust-{backend}\",\"cell\":\"{cell}\",\"value\":{value:.3},\"unit\":\"{unit}\"}}"
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mib = env("BENCH_MIB", 100);
    let reps = env("BENCH_REPS", 3);
    let total = mib << 20;
    let data: Vec<u8> = (0..total)
        .map(|i| (i * 31 % 251).to_le_bytes()[0])
        .collect();
    let keyring = RawAesKeyring::new("bench", "aes-256", &[7u8; 32])?;
    let mbs = |secs: f64| total as f64 / secs / 1e6;

    for backend in Backend::all() {
        let name = backend.name();
        let client = Client::builder()
            .backend(backend.clone())
            .commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
            .build();

        // Raw primitives of this backend over the same bytes, frame by frame.
        for frame in [4096usize, 65536, 1 << 20] {
            let key = backend.aead_key(&[9u8; 32])?;
            let mut buf = data.clone();
            let secs = best(reps, || {
                for (i, chunk) in buf.chunks_mut(frame).enumerate() {
                    let mut iv = [0u8; 12];
                    iv[4..].copy_from_slice(&(i as u64).to_be_bytes());
                    let _ = key.seal_in_place(&iv, b"aad", chunk);
                }
            });
            emit(
                name,
                &format!("raw-aes256gcm-{}k", frame / 1024),
                mbs(secs),
                "MB/s",
            );
            // The same, out of place into a fresh buffer (what any one-shot API that returns
            // a new allocation pays: first-touch page faults), for reading the one-shot cells.
            let secs = best(reps, || {
                let mut out = vec![0u8; data.len()];
                for (i, (chunk, o)) in data.chunks(frame).zip(out.chunks_mut(frame)).enumerate() {
                    let mut iv = [0u8; 12];
                    iv[4..].copy_from_slice(&(i as u64).to_be_bytes());
                    let _ = key.seal_to(&iv, b"aad", chunk, o);
                }
                std::hint::black_box(out);
            });
            emit(
                name,
                &format!("raw-aes256gcm-fresh-{}k", frame / 1024),
                mbs(secs),
                "MB/s",
            );
            // Out of place into a warm buffer reused across reps (what `encrypt_into` /
            // `decrypt_into` into a reused buffer pay at most: two buffers' memory traffic).
            let mut out = vec![0u8; data.len()];
            let secs = best(reps, || {
                for (i, (chunk, o)) in data.chunks(frame).zip(out.chunks_mut(frame)).enumerate() {
                    let mut iv = [0u8; 12];
                    iv[4..].copy_from_slice(&(i as u64).to_be_bytes());
                    let _ = key.seal_to(&iv, b"aad", chunk, o);
                }
            });
            std::hint::black_box(&out);
            emit(
                name,
                &format!("raw-aes256gcm-warm-out-{}k", frame / 1024),
                mbs(secs),
                "MB/s",
            );
            let secs = best(reps, || {
                let mut d = backend.digest(SignatureAlg::EcdsaP384Sha384);
                for (i, chunk) in buf.chunks_mut(frame).enumerate() {
                    let mut iv = [0u8; 12];
                    iv[4..].copy_from_slice(&(i as u64).to_be_bytes());
                    let _ = key.seal_in_place(&iv, b"aad", chunk);
                    d.update(chunk);
                }
                std::hint::black_box(d);
            });
            emit(
                name,
                &format!("raw-sha384+aes256gcm-{}k", frame / 1024),
                mbs(secs),
                "MB/s",
            );
        }

        // 1 KiB round trip per suite (encrypt + decrypt), median of 200.
        let small = &data[..1024];
        let legacy = Client::builder()
            .backend(backend.clone())
            .commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
            .build();
        for suite in AlgorithmSuite::ALL {
            let client = if suite.is_committing() {
                &client
            } else {
                &legacy
            };
            let enc = EncryptOptions::keyring(&keyring).suite(suite);
            let dec = DecryptOptions::keyring(&keyring);
            let mut times = Vec::new();
            for _ in 0..200 {
                let t = Instant::now();
                let ct = client.encrypt(small, &enc)?;
                let pt = client.decrypt(&ct.ciphertext, &dec)?;
                times.push(t.elapsed().as_secs_f64());
                assert_eq!(pt.plaintext, small);
            }
            times.sort_by(f64::total_cmp);
            emit(
                name,
                &format!("1k-roundtrip-{:04x}", suite.id()),
                times[100] * 1e6,
                "us",
            );
            // The same through `encrypt_into` / `decrypt_into`, reusing two buffers.
            if matches!(suite.id(), 0x0478 | 0x0578) {
                let (mut ct, mut pt) = (Vec::new(), Vec::new());
                let mut times = Vec::new();
                for _ in 0..200 {
                    let t = Instant::now();
                    client.encrypt_into(small, &enc, &mut ct)?;
                    client.decrypt_into(&ct, &dec, &mut pt)?;
                    times.push(t.elapsed().as_secs_f64());
                    assert_eq!(pt, small);
                }
                times.sort_by(f64::total_cmp);
                emit(
                    name,
                    &format!("1k-into-roundtrip-{:04x}", suite.id()),
                    times[100] * 1e6,
                    "us",
                );
            }
        }

        // 100 MiB one-shot and streaming, 0x0478 and 0x0578, 4 KiB / 64 KiB / 1 MiB frames.
        // Single thread (issue 13's targets): one-shot messages this large would otherwise use
        // every core by default (`parallel::PARALLEL_MIN_BYTES`); `parallel_bench` measures that.
        for id in [0x0478u16, 0x0578] {
            let suite = AlgorithmSuite::from_id(id)?;
            for frame in [4096u32, 65536, 1 << 20] {
                let enc = EncryptOptions::keyring(&keyring)
                    .suite(suite)
                    .frame_length(frame)
                    .parallelism(1);
                let dec = DecryptOptions::keyring(&keyring).parallelism(1);
                let cell = |op: &str| format!("{op}-{id:04x}-{}k", frame / 1024);
                let mut ct = Vec::new();
                let secs = best(reps, || {
                    ct = client
                        .encrypt(&data, &enc)
                        .map(|e| e.ciphertext)
                        .unwrap_or_default();
                });
                emit(name, &cell("oneshot-encrypt"), mbs(secs), "MB/s");
                let secs = best(reps, || {
                    let pt = client.decrypt(&ct, &dec).map(|d| d.plaintext);
                    assert_eq!(pt.map(|p| p.len()).unwrap_or(0), data.len());
                });
                emit(name, &cell("oneshot-decrypt"), mbs(secs), "MB/s");
                // One-shot into caller buffers reused from one rep to the next (the first rep
                // allocates them; best of `reps`, so warm buffers), against the same warm raw
                // baseline.
                let mut out = Vec::new();
                let secs = best(reps.max(2), || {
                    client
                        .encrypt_into(&data, &enc, &mut out)
                        .unwrap_or_else(|e| panic!("encrypt_into: {e}"));
                });
                emit(name, &cell("into-encrypt"), mbs(secs), "MB/s");
                let mut out = Vec::new();
                let secs = best(reps.max(2), || {
                    client
                        .decrypt_into(&ct, &dec, &mut out)
                        .unwrap_or_else(|e| panic!("decrypt_into: {e}"));
                    assert_eq!(out.len(), data.len());
                });
                emit(name, &cell("into-decrypt"), mbs(secs), "MB/s");
                let secs = best(reps, || {
                    let run = || -> std::io::Result<()> {
                        let mut w = EncryptingWriter::new(&client, &enc, std::io::sink())
                            .map_err(std::io::Error::other)?;
                        for c in data.chunks(1 << 20) {
                            w.write_all(c)?;
                        }
                        w.finish()?;
                        Ok(())
                    };
                    run().unwrap_or_else(|e| panic!("stream encrypt: {e}"));
                });
                emit(name, &cell("stream-encrypt"), mbs(secs), "MB/s");
                let secs = best(reps, || {
                    let mut r = DecryptingReader::new(&client, &dec, &ct[..])
                        .unwrap_or_else(|e| panic!("stream decrypt: {e}"));
                    let mut out = vec![0u8; 1 << 20];
                    let mut n = 0usize;
                    loop {
                        match r.read(&mut out) {
                            Ok(0) => break,
                            Ok(k) => n += k,
                            Err(e) => panic!("stream decrypt: {e}"),
                        }
                    }
                    assert_eq!(n, data.len());
                });
                emit(name, &cell("stream-decrypt"), mbs(secs), "MB/s");
            }
        }
    }

    // RSA unwrap (the raw RSA keyring's private-key operation), on every backend compiled in:
    // the keys are parsed by each backend and unwrap on it.
    for backend in Backend::all() {
        for bits in [2048usize, 4096] {
            let (sk_pem, pk_pem) = bench_rsa_key(bits);
            let sk = RsaPrivateKey::from_pem_with(backend, &sk_pem)?;
            let pk = RsaPublicKey::from_pem_with(backend, &pk_pem)?;
            for (label, padding) in [
                ("oaep-sha256", RsaPadding::OaepSha256),
                ("pkcs1", RsaPadding::Pkcs1V15),
            ] {
                let wrapped = pk.wrap(padding, &[5u8; 32], &mut rand_core::OsRng)?;
                let n = 50;
                let secs = best(reps, || {
                    for _ in 0..n {
                        let dk = sk.unwrap(padding, &wrapped);
                        assert!(dk.is_ok());
                    }
                });
                emit(
                    backend.name(),
                    &format!("rsa{bits}-unwrap-{label}"),
                    secs / n as f64 * 1e6,
                    "us",
                );
            }
        }
    }
    Ok(())
}

/// The benchmark's RSA keys (PEM) from `BENCH_RSA_DIR` (`rsa<bits>.pem`, `rsa<bits>.pub.pem`;
/// `bench/run.sh` writes them, so the Python ESDK unwraps under the same keys).
fn bench_rsa_key(bits: usize) -> (String, String) {
    let dir = std::env::var("BENCH_RSA_DIR").unwrap_or_else(|_| "target/bench".into());
    let read = |name: String| {
        let path = format!("{dir}/{name}");
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e} (run bench/run.sh)"))
    };
    (
        read(format!("rsa{bits}.pem")),
        read(format!("rsa{bits}.pub.pem")),
    )
}
