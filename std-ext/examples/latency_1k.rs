//! The 1 KiB round trip (one-shot encrypt + decrypt, raw AES keyring through the default
//! materials manager) in a loop: its median wall time, or, under callgrind, its instructions.
//!
//! ```text
//! cargo build --release -p esdk-std --example latency_1k
//! target/release/examples/latency_1k 0478 20000            # median µs of 20,000 round trips
//! valgrind --tool=callgrind target/release/examples/latency_1k 0478 1000 --quiet
//! valgrind --tool=callgrind target/release/examples/latency_1k 0478 0 --quiet
//! ```
//! The difference of the two callgrind totals divided by 1000 is the instructions of one round
//! trip (setup and the warm-up round trip cancel out). Arguments: suite id in hex, round trips,
//! `--quiet` (no timing, for callgrind), `--into` (the `*_into` variants into reused buffers).
//! Backend: the default (aws-lc unless built without it); `ESDK_BACKEND=rustcrypto` picks
//! RustCrypto when compiled in.

use esdk_std::keyring::RawAesKeyring;
use esdk_std::{AlgorithmSuite, Backend, Client, CommitmentPolicy, DecryptOptions, EncryptOptions};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let suite = AlgorithmSuite::from_id(u16::from_str_radix(
        args.get(1).map_or("0478", String::as_str),
        16,
    )?)?;
    let n: usize = args.get(2).map_or("20000", String::as_str).parse()?;
    let quiet = args.iter().any(|a| a == "--quiet");
    let into = args.iter().any(|a| a == "--into");
    let backend = match std::env::var("ESDK_BACKEND") {
        Ok(name) => Backend::all()
            .iter()
            .find(|b| b.name() == name)
            .cloned()
            .ok_or_else(|| format!("backend {name} not compiled in"))?,
        Err(_) => Backend::default(),
    };
    let keyring = RawAesKeyring::new("bench", "aes-256", &[7u8; 32])?;
    let client = Client::builder()
        .backend(backend)
        .commitment_policy(if suite.is_committing() {
            CommitmentPolicy::RequireEncryptAllowDecrypt
        } else {
            CommitmentPolicy::ForbidEncryptAllowDecrypt
        })
        .build();
    let data: Vec<u8> = (0..1024usize)
        .map(|i| (i * 31 % 251).to_le_bytes()[0])
        .collect();
    let enc = EncryptOptions::keyring(&keyring).suite(suite);
    let dec = DecryptOptions::keyring(&keyring);
    let (mut ct, mut pt) = (Vec::new(), Vec::new());
    let mut round_trip = || -> esdk_std::Result<usize> {
        if into {
            client.encrypt_into(&data, &enc, &mut ct)?;
            client.decrypt_into(&ct, &dec, &mut pt)?;
            Ok(pt.len())
        } else {
            let c = client.encrypt(&data, &enc)?;
            Ok(client.decrypt(&c.ciphertext, &dec)?.plaintext.len())
        }
    };
    // One warm-up round trip in every run (n = 0 included), so it cancels out of a difference.
    assert_eq!(round_trip()?, data.len());
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = (!quiet).then(Instant::now);
        let len = round_trip()?;
        if let Some(t) = t {
            times.push(t.elapsed().as_secs_f64());
        }
        assert_eq!(len, data.len());
    }
    if !quiet && !times.is_empty() {
        times.sort_by(f64::total_cmp);
        let at = |percent: usize| times[(times.len() - 1) * percent / 100] * 1e6;
        println!(
            "{:04x} {} round trips{}: median {:.2} µs, p10 {:.2}, p90 {:.2}",
            suite.id(),
            times.len(),
            if into { " (into reused buffers)" } else { "" },
            at(50),
            at(10),
            at(90)
        );
    }
    Ok(())
}
