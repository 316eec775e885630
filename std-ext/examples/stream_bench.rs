//! Streaming throughput and memory: 256 MiB through `EncryptingWriter` into a file (and into
//! `io::sink()`), then back through `DecryptingReader`, compared with raw AES-256-GCM over the
//! same bytes in the same run.
//!
//! ```text
//! cargo build --release -p esdk-std --example stream_bench
//! /usr/bin/time -v target/release/examples/stream_bench --frame 4096      # one frame size
//! /usr/bin/time -v target/release/examples/stream_bench --frame 1048576
//! target/release/examples/stream_bench                                    # both, one after the other
//! ```
//!
//! Options: `--frame N` (repeatable; default 4096 and 1048576), `--mib N` (default 256),
//! `--suite 0478|0578` (default 0478), `--dir PATH` for the ciphertext file (default: the
//! temporary directory; it is deleted afterwards), `--reps N` (default 3): every measurement is
//! repeated N times, interleaved, and the fastest run counts (a shared machine only ever makes
//! a run slower).
//!
//! The raw baseline seals (and opens) the same number of bytes in pieces of one frame with
//! `RustCrypto::aead_key(..).seal_in_place` / `open_in_place`, one reused buffer, no I/O. The
//! ratios therefore include everything the stream adds: framing, copies, the 64 KiB
//! application reads and writes, and (for the file runs) the page-cache I/O.
//! Peak RSS is the process's high-water mark (`VmHWM`); run one frame size per process to
//! attribute it, and compare with the target of 16 MiB + 2 × frame length.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::std_instead_of_core
)]

use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::crypto::{AeadKey, CryptoProvider};
use esdk_std::keyring::RawAesKeyring;
use esdk_std::stream::io::{DecryptingReader, EncryptingWriter};
use esdk_std::{AlgorithmSuite, Client, DecryptOptions, EncryptOptions};
use std::fs::File;
use std::hint::black_box;
use std::io::{self, BufWriter, Read, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;
/// Application read/write size.
const IO_CHUNK: usize = 64 * 1024;
/// The plaintext repeats with this (prime) period, so it can be checked without storing it.
const PERIOD: usize = 65_521;

struct Options {
    frames: Vec<u32>,
    total: u64,
    suite: AlgorithmSuite,
    dir: PathBuf,
    reps: u32,
}

fn options() -> Options {
    let mut o = Options {
        frames: Vec::new(),
        total: 256 * MIB,
        suite: AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
        dir: std::env::temp_dir(),
        reps: 3,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().unwrap_or_else(|| panic!("{a} needs a value"));
        match a.as_str() {
            "--frame" => o
                .frames
                .push(v.parse().expect("--frame: a number of bytes")),
            "--mib" => o.total = v.parse::<u64>().expect("--mib: a number") * MIB,
            "--suite" => {
                o.suite =
                    AlgorithmSuite::from_id(u16::from_str_radix(&v, 16).expect("--suite: hex id"))
                        .unwrap()
            }
            "--dir" => o.dir = PathBuf::from(v),
            "--reps" => o.reps = v.parse().expect("--reps: a number"),
            _ => panic!("unknown option {a}"),
        }
    }
    if o.frames.is_empty() {
        o.frames = vec![4096, 1 << 20];
    }
    o
}

fn mib_per_s(bytes: u64, d: Duration) -> f64 {
    bytes as f64 / MIB as f64 / d.as_secs_f64()
}

/// Raw AES-256-GCM over `total` bytes in pieces of `frame` bytes, one reused buffer, each
/// direction timed as one interval: (seal time, open time). Opening needs a valid tag, so each
/// piece is copied from one sealed piece before it is opened (a copy the stream makes too).
fn raw_gcm(total: u64, frame: usize) -> (Duration, Duration) {
    let key = RustCrypto.aead_key(&[0x42; 32]).unwrap();
    let mut buf = vec![0x5au8; frame];
    let aad = [0u8; 32 + 1 + 4 + 8]; // the size of a framed body AAD (v2)
    let iv = [7u8; 12];
    let pieces = total.div_ceil(frame as u64);
    let t = Instant::now();
    for _ in 0..pieces {
        black_box(key.seal_in_place(&iv, &aad, &mut buf).unwrap());
    }
    let seal = t.elapsed();
    let mut sealed = buf.clone();
    let tag = key.seal_in_place(&iv, &aad, &mut sealed).unwrap();
    let t = Instant::now();
    for _ in 0..pieces {
        buf.copy_from_slice(&sealed);
        key.open_in_place(&iv, &aad, &mut buf, &tag).unwrap();
    }
    let open = t.elapsed();
    black_box(&buf);
    (seal, open)
}

/// Encrypts `total` bytes of the periodic plaintext into `out`, in 64 KiB writes.
fn encrypt<W: Write>(
    client: &Client,
    opts: &EncryptOptions<'_>,
    out: W,
    pattern: &[u8],
    total: u64,
) -> io::Result<(W, Duration)> {
    let t = Instant::now();
    let mut w = EncryptingWriter::new(client, opts, out).map_err(io::Error::from)?;
    let mut sent = 0u64;
    while sent < total {
        let n = (total - sent).min(IO_CHUNK as u64) as usize;
        let at = (sent % PERIOD as u64) as usize;
        w.write_all(&pattern[at..at + n])?;
        sent += n as u64;
    }
    let inner = w.finish()?;
    Ok((inner, t.elapsed()))
}

/// Decrypts the file, checking every byte against the periodic plaintext.
fn decrypt(
    client: &Client,
    opts: &DecryptOptions<'_>,
    path: &PathBuf,
    pattern: &[u8],
    total: u64,
) -> io::Result<Duration> {
    let t = Instant::now();
    let mut r = DecryptingReader::new(client, opts, File::open(path)?).map_err(io::Error::from)?;
    let mut buf = vec![0u8; IO_CHUNK];
    let mut got = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let at = (got % PERIOD as u64) as usize;
        if buf[..n] != pattern[at..at + n] {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("plaintext differs near byte {got}"),
            ));
        }
        got += n as u64;
    }
    if got != total {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{got} bytes decrypted, {total} expected"),
        ));
    }
    Ok(t.elapsed())
}

/// Peak resident set size so far, from /proc (Linux), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> io::Result<()> {
    let o = options();
    let keyring = RawAesKeyring::new("bench", "stream", &[0x24; 32]).map_err(io::Error::from)?;
    let client = Client::builder()
        .commitment_policy(esdk_std::CommitmentPolicy::RequireEncryptAllowDecrypt)
        .build();
    let base: Vec<u8> = (0..PERIOD)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let pattern: Vec<u8> = base
        .iter()
        .cycle()
        .take(PERIOD + IO_CHUNK)
        .copied()
        .collect();
    let path = o
        .dir
        .join(format!("esdk-stream-bench-{}.esdk", std::process::id()));
    println!(
        "{} MiB per run, suite {}, ciphertext file {}",
        o.total / MIB,
        o.suite,
        path.display()
    );
    println!("start: peak RSS {} KiB", peak_rss_kib().unwrap_or(0));
    for &frame in &o.frames {
        let opts = EncryptOptions::keyring(&keyring)
            .suite(o.suite)
            .frame_length(frame);
        let dopts = DecryptOptions::keyring(&keyring);
        let best = |a: &mut Duration, b: Duration| *a = if a.is_zero() { b } else { (*a).min(b) };
        let (mut seal, mut open, mut to_sink, mut to_file, mut from_file) = Default::default();
        let mut ct_len = 0;
        for _ in 0..o.reps.max(1) {
            let (s, op) = raw_gcm(o.total, frame as usize);
            best(&mut seal, s);
            best(&mut open, op);
            let (_, t) = encrypt(&client, &opts, io::sink(), &pattern, o.total)?;
            best(&mut to_sink, t);
            let (file, t) = encrypt(
                &client,
                &opts,
                BufWriter::new(File::create(&path)?),
                &pattern,
                o.total,
            )?;
            file.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            best(&mut to_file, t);
            ct_len = std::fs::metadata(&path)?.len();
            best(
                &mut from_file,
                decrypt(&client, &dopts, &path, &pattern, o.total)?,
            );
            std::fs::remove_file(&path)?;
        }
        let (raw_seal, raw_open) = (mib_per_s(o.total, seal), mib_per_s(o.total, open));
        let (enc_sink, enc_file, dec_file) = (
            mib_per_s(o.total, to_sink),
            mib_per_s(o.total, to_file),
            mib_per_s(o.total, from_file),
        );
        println!("frame {frame} B ({} B of ciphertext):", ct_len);
        println!("  raw AES-256-GCM   seal {raw_seal:8.1} MiB/s   open {raw_open:8.1} MiB/s");
        println!(
            "  encrypt → sink    {enc_sink:8.1} MiB/s   ratio {:.2} of raw seal",
            enc_sink / raw_seal
        );
        println!(
            "  encrypt → file    {enc_file:8.1} MiB/s   ratio {:.2} of raw seal",
            enc_file / raw_seal
        );
        println!(
            "  decrypt ← file    {dec_file:8.1} MiB/s   ratio {:.2} of raw open",
            dec_file / raw_open
        );
        let target = 16 * 1024 + 2 * u64::from(frame) / 1024;
        println!(
            "  peak RSS so far   {} KiB (target for this frame length: {target} KiB)",
            peak_rss_kib().unwrap_or(0)
        );
    }
    Ok(())
}
