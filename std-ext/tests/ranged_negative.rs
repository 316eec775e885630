//! Ranged decryption against the whole-message decryption, on damaged messages: every
//! must-fail case of the sequential suite (each single-byte flip, each truncation, trailing
//! data, swapped and dropped frames) that lies inside a requested range fails the ranged
//! decryption too, and what the ranged decryption wrote before failing holds no byte of a
//! damaged frame and equals the authentic plaintext. Ranges that read no damaged frame may
//! succeed, and then return exactly the authentic bytes. The tokio `decrypt_range_async` is
//! run on every variant and range too and must agree with the blocking one.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

mod common;
#[path = "support/mutations.rs"]
mod mutations;

use common::*;
use esdk_std::DecryptOptions;
use esdk_std::ranged::RangeOptions;
use esdk_std::stream::io::DecryptingReader;
use mutations::{Mutation, framed_message, header_len, mutations};
use std::io::{Cursor, Read};
use std::ops::Range;

const F: u64 = 64;
/// Regular frames; the final frame holds `TAIL` bytes.
const REGULAR: u64 = 7;
const TAIL: u64 = 10;
const PT_LEN: u64 = REGULAR * F + TAIL;
const RECORD: usize = F as usize + 32;
/// Index of the final frame among the frames (0-based).
const FINAL: u64 = REGULAR;

/// Where a message is damaged: the header, or frames (0-based indexes, `FINAL` = final frame).
#[derive(Debug)]
enum Damage {
    Header,
    Frames(Vec<u64>),
}

/// Plaintext offsets held by frame `j`.
fn span(j: u64) -> Range<u64> {
    if j >= FINAL {
        REGULAR * F..PT_LEN
    } else {
        j * F..(j + 1) * F
    }
}

/// Whether a ranged decryption of `r` reads frame `j` (the final frame is read whenever the
/// range reaches or starts past the end of the plaintext).
fn reads(r: &Range<u64>, j: u64) -> bool {
    if r.start >= r.end {
        return false;
    }
    let s = span(j);
    let overlaps = r.start < s.end && s.start < r.end;
    if j >= FINAL {
        overlaps || r.end >= PT_LEN || r.start >= PT_LEN
    } else {
        overlaps
    }
}

fn ranges() -> Vec<Range<u64>> {
    let mut v = vec![
        0..PT_LEN,
        0..10_000,
        100..300,
        F * REGULAR - 1..F * REGULAR + 1,
        PT_LEN..PT_LEN + 5,
        PT_LEN - 1..PT_LEN,
        5..5,
    ];
    for j in 0..REGULAR {
        v.push(j * F..j * F + 1);
        v.push(j * F + F - 1..j * F + F + 1);
    }
    v
}

/// The damaged frames of a message cut at byte `cut` (or flipped at byte `at`).
fn frames_from(header_len: usize, at: usize, to_end: bool) -> Damage {
    if at < header_len {
        return Damage::Header;
    }
    let j = ((at - header_len) / RECORD) as u64;
    let j = j.min(FINAL);
    if to_end {
        Damage::Frames((j..=FINAL).collect())
    } else {
        Damage::Frames(vec![j])
    }
}

#[test]
fn damaged_frames_inside_a_range_fail_the_ranged_decrypt_with_nothing_of_them_released() {
    let kr = aes("k", 5, 32);
    let mut checked_failures = 0usize;
    #[cfg(feature = "tokio")]
    let mut async_failures = 0usize;
    for suite in [S0478, S0178, S0014] {
        let client = client_for(suite);
        let pt = bytes(PT_LEN as usize, 17);
        let msg = framed_message(&client, &kr, suite, F as u32, &pt);
        let h = header_len(&msg);
        assert_eq!(
            h,
            msg.len() - (REGULAR as usize * RECORD + 40 + TAIL as usize)
        );
        let variants: Vec<(Vec<u8>, Damage)> = mutations(&msg, 0x40, Some(RECORD))
            .into_iter()
            .map(|(m, how)| {
                let damage = match how {
                    Mutation::Flipped(at) => frames_from(h, at, false),
                    Mutation::Truncated(cut) => frames_from(h, cut, true),
                    Mutation::Trailing => Damage::Frames(vec![FINAL]),
                    Mutation::Swapped => Damage::Frames(vec![1, 2]),
                    Mutation::Dropped => Damage::Frames((1..=FINAL).collect()),
                };
                (m, damage)
            })
            .collect();

        let opts = DecryptOptions::keyring(&kr);
        #[cfg(feature = "tokio")]
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for (n, (m, damage)) in variants.iter().enumerate() {
            // The sequential suite: every variant must fail the whole-message decryption.
            let seq_failed = match DecryptingReader::new(&client, &opts, &m[..]) {
                Ok(mut r) => r.read_to_end(&mut Vec::new()).is_err(),
                Err(_) => true,
            };
            assert!(seq_failed, "{suite} variant {n}: sequential accepted it");
            for r in ranges() {
                let mut sink = Vec::new();
                let got = client.decrypt_range_to(
                    &mut Cursor::new(&m[..]),
                    r.clone(),
                    &opts,
                    &RangeOptions::new(),
                    &mut sink,
                );
                let start = r.start.min(PT_LEN) as usize;
                // The tokio twin (`decrypt_range_async`, AsyncRead + AsyncSeek) fails exactly
                // when the blocking one does, releases nothing then (it returns the bytes only
                // on success), and otherwise returns the same bytes and range.
                #[cfg(feature = "tokio")]
                {
                    let a = rt.block_on(client.decrypt_range_async(
                        &mut Cursor::new(&m[..]),
                        r.clone(),
                        &opts,
                        &RangeOptions::new(),
                    ));
                    match (&got, &a) {
                        (Ok(w), Ok(d)) => {
                            assert!(
                                d.plaintext == sink,
                                "{suite} variant {n} {r:?}: async bytes"
                            );
                            assert_eq!(d.range, w.range, "{suite} variant {n} {r:?}");
                        }
                        (Err(_), Err(_)) => async_failures += 1,
                        _ => panic!(
                            "{suite} variant {n} {r:?}: blocking {:?} vs async {:?}",
                            got.as_ref().err(),
                            a.as_ref().err()
                        ),
                    }
                }
                // Whatever was written is authentic plaintext from the start of the range.
                assert!(
                    sink[..] == pt[start..start + sink.len()],
                    "{suite} variant {n} {r:?}: released bytes differ"
                );
                let inside = match damage {
                    Damage::Header => true,
                    Damage::Frames(js) => js.iter().any(|&j| reads(&r, j)),
                };
                if inside {
                    assert!(
                        got.is_err(),
                        "{suite} variant {n} ({damage:?}) range {r:?}: ranged decrypt succeeded"
                    );
                    checked_failures += 1;
                    // No byte of a damaged frame was released.
                    let released = start as u64..(start + sink.len()) as u64;
                    if let Damage::Frames(js) = damage {
                        for &j in js {
                            let s = span(j);
                            assert!(
                                released.is_empty()
                                    || released.end <= s.start
                                    || s.end <= released.start,
                                "{suite} variant {n} {r:?}: released {released:?} of damaged \
                                 frame {j}"
                            );
                        }
                    } else {
                        assert!(sink.is_empty());
                    }
                } else if let Ok(w) = got {
                    let end = r.end.min(PT_LEN) as usize;
                    let want = if start < end {
                        &pt[start..end]
                    } else {
                        &[][..]
                    };
                    assert!(sink == want, "{suite} variant {n} {r:?}: wrong bytes");
                    assert_eq!(w.range.start as usize, start);
                }
            }
        }
    }
    // Sanity: the suite exercised many in-range failures.
    assert!(checked_failures > 10_000, "{checked_failures}");
    #[cfg(feature = "tokio")]
    assert!(async_failures >= checked_failures, "{async_failures}");
}
