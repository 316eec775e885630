//! `header_adversarial`: the time to parse hostile headers up to the materials request, fed all
//! at once, one byte per `Decryptor::process` call, and by exactly the `min_len` it asks for
//! (issue #11). Cases: a valid message with 65,535 EDKs (393 KB header) and one whose encryption
//! context holds the most distinct keys a context can (10,943) in reverse order. The ratios
//! one byte / all at once and min_len / all at once should stay ≤ 3.
//!
//! Run: `cargo bench -p esdk-core --bench header_adversarial`; the ratios of the medians are
//! printed at the end. `ESDK_BENCH_ONCE=1` times each case once without criterion (what was used
//! to measure the code before the fix, where one-byte feeding took a minute per iteration);
//! `ESDK_BENCH_ONCE=edks_65535/one_byte` (any part of a case name) times the matching cases only
//! (e.g. to count instructions under `valgrind --tool=callgrind`).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

#[path = "../../fuzz/src/common/mod.rs"]
#[allow(dead_code, unreachable_pub, clippy::panic)]
mod common;

use common::work::{MAX_DISTINCT_PAIRS, Spec, config, smallest_keys, valid_message};
use core::hint::black_box;
use criterion::Criterion;
use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::{AlgorithmSuite, DecryptConfig, DecryptState, Decryptor};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
enum Feed {
    All,
    OneByte,
    MinLen,
}

/// Feeds `msg` until the decryptor asks for materials; returns the `process` calls made.
///
/// The caller's buffer receives the whole message once (the same copy for every feed pattern)
/// and the decryptor sees a growing prefix of it: how bytes reach a buffer is the caller's cost
/// (an `extend_from_slice` of one byte, capacity check and `memcpy` call, is about 60
/// instructions, four times the decryptor's own answer to a call that completes no field), so
/// what differs between the feeds is the decryptor's work alone.
fn parse_header(msg: &[u8], cfg: DecryptConfig, feed: Feed) -> usize {
    let mut dec = Decryptor::new(RustCrypto, cfg);
    let mut buf = msg.to_vec();
    let mut len = 0;
    let mut calls = 0;
    loop {
        let want = {
            calls += 1;
            let eof = len == msg.len();
            let st = dec.process(&mut buf[..len], eof);
            match st.state {
                Ok(DecryptState::NeedInput { min_len }) => min_len,
                Ok(DecryptState::NeedMaterials(req)) => {
                    req.abort();
                    return calls;
                }
                other => panic!("unexpected {other:?}"),
            }
        };
        let n = match feed {
            Feed::All => msg.len(),
            Feed::OneByte => 1,
            Feed::MinLen => want - len,
        };
        len = (len + n).min(msg.len());
    }
}

fn cases() -> Vec<(&'static str, Vec<u8>, DecryptConfig)> {
    let edk_suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
    let ec_suite = AlgorithmSuite::AES_256_GCM_IV12_TAG16_NO_KDF;
    vec![
        (
            "edks_65535",
            valid_message(&Spec {
                suite: edk_suite,
                extra_edks: 65_534,
                context: vec![],
                reverse_context: false,
                plaintext_len: 1,
            }),
            config(edk_suite),
        ),
        (
            "unsorted_context_10943",
            valid_message(&Spec {
                suite: ec_suite,
                extra_edks: 0,
                context: smallest_keys(MAX_DISTINCT_PAIRS),
                reverse_context: true,
                plaintext_len: 1,
            }),
            config(ec_suite),
        ),
    ]
}

const FEEDS: [(Feed, &str); 3] = [
    (Feed::All, "all_at_once"),
    (Feed::OneByte, "one_byte"),
    (Feed::MinLen, "min_len"),
];

fn once(filter: &str) {
    for (name, msg, cfg) in cases() {
        let mut t = Vec::new();
        for (feed, fname) in FEEDS {
            if !format!("{name}/{fname}").contains(filter) {
                t.push(f64::NAN);
                continue;
            }
            let start = Instant::now();
            let calls = parse_header(&msg, cfg, feed);
            let el = start.elapsed();
            println!(
                "{name}/{fname}: {el:?} ({calls} calls, {} bytes)",
                msg.len()
            );
            t.push(el.as_secs_f64());
        }
        println!(
            "{name}: one_byte/all {:.2}, min_len/all {:.2}",
            t[1] / t[0],
            t[2] / t[0]
        );
    }
}

fn main() {
    if let Some(filter) = std::env::var_os("ESDK_BENCH_ONCE") {
        // `1` times every case; any other text the cases whose name contains it.
        let filter = filter.to_string_lossy().into_owned();
        return once(if filter == "1" { "" } else { &filter });
    }
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    let mut medians = Vec::new();
    for (name, msg, cfg) in cases() {
        let mut g = c.benchmark_group(format!("header_adversarial/{name}"));
        for (feed, fname) in FEEDS {
            g.bench_function(fname, |b| {
                b.iter(|| black_box(parse_header(black_box(&msg), cfg, feed)))
            });
            // A median of our own, for the ratio line (criterion keeps its own statistics).
            let mut t: Vec<f64> = (0..5)
                .map(|_| {
                    let s = Instant::now();
                    black_box(parse_header(&msg, cfg, feed));
                    s.elapsed().as_secs_f64()
                })
                .collect();
            t.sort_by(f64::total_cmp);
            medians.push((name, fname, t[2]));
        }
        g.finish();
    }
    c.final_summary();
    for chunk in medians.chunks(3) {
        let all = chunk[0].2;
        println!(
            "{}: all at once {:.3} ms; one_byte/all {:.2}; min_len/all {:.2}",
            chunk[0].0,
            all * 1e3,
            chunk[1].2 / all,
            chunk[2].2 / all
        );
    }
}
