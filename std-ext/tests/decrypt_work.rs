//! Decryption through the stream adapters costs parsing work linear in the message, however
//! the source hands out its bytes (issue #11).
//!
//! Hostile but valid messages (65,535 EDKs; the largest encryption context, stored in reverse
//! order) are decrypted by `Client::decrypt` (all at once) and by `DecryptingReader` and
//! `AsyncDecryptingReader` over sources that return one byte per read. The parsers count the
//! bytes they examine (`esdk_core::work`, feature `work-counter`, enabled for these tests);
//! the readers may examine at most 3 × (+ 64 bytes) what the one-shot client examines. The
//! counter is per thread, so these tests may run in parallel with any other.
#![allow(missing_docs, clippy::unwrap_used, clippy::std_instead_of_core)]

#[path = "../../fuzz/src/common/mod.rs"]
#[allow(
    dead_code,
    missing_docs,
    unreachable_pub,
    clippy::cast_possible_truncation,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod common;

use common::work::{
    KEY_NAME, MAX_DISTINCT_PAIRS, NAMESPACE, Spec, WRAPPING_KEY, plaintext, policy, smallest_keys,
    valid_message, work_bound,
};
use esdk_core::AlgorithmSuite;
use esdk_core::work;
use esdk_std::keyring::RawAesKeyring;
use esdk_std::stream::io::DecryptingReader;
use esdk_std::stream::tokio::AsyncDecryptingReader;
use esdk_std::{Client, DecryptOptions};
use std::io::{self, Read};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

/// A source returning one byte per read.
struct OneByte<'a>(&'a [u8]);

impl Read for OneByte<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match (self.0.split_first(), buf.first_mut()) {
            (Some((b, rest)), Some(slot)) => {
                *slot = *b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

impl AsyncRead for OneByte<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some((b, rest)) = self.0.split_first() {
            if buf.remaining() > 0 {
                buf.put_slice(&[*b]);
                self.0 = rest;
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// Work of the one-shot client, the blocking reader and the tokio reader, each checked to
/// return the expected plaintext.
fn measure(spec: &Spec) -> (usize, usize, usize, usize) {
    let msg = valid_message(spec);
    let client = Client::builder()
        .commitment_policy(policy(spec.suite))
        .build();
    let keyring = RawAesKeyring::new(NAMESPACE, KEY_NAME, &WRAPPING_KEY).unwrap();
    let opts = DecryptOptions::keyring(&keyring);
    let expected = plaintext(spec.plaintext_len);

    work::reset();
    let d = client.decrypt(&msg, &opts).unwrap();
    let at_once = work::examined();
    assert_eq!(d.plaintext, expected);

    work::reset();
    let mut r = DecryptingReader::new(&client, &opts, OneByte(&msg)).unwrap();
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    let blocking = work::examined();
    assert_eq!(out, expected);

    work::reset();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let out = rt.block_on(async {
        let mut r = AsyncDecryptingReader::new(&client, &opts, OneByte(&msg))
            .await
            .unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).await.unwrap();
        out
    });
    let tokio = work::examined();
    assert_eq!(out, expected);
    eprintln!(
        "{} bytes: work one-shot {at_once}, DecryptingReader 1 byte/read {blocking} ({:.3}x), \
         AsyncDecryptingReader 1 byte/read {tokio} ({:.3}x)",
        msg.len(),
        blocking as f64 / at_once as f64,
        tokio as f64 / at_once as f64
    );
    for (name, w) in [
        ("DecryptingReader", blocking),
        ("AsyncDecryptingReader", tokio),
    ] {
        assert!(
            w <= work_bound(at_once),
            "{name}: examined {w} bytes, the one-shot client {at_once}"
        );
    }
    (msg.len(), at_once, blocking, tokio)
}

#[test]
fn edks_65535_through_readers_cost_linear_work() {
    let (len, at_once, ..) = measure(&Spec {
        suite: AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
        extra_edks: 65_534,
        context: vec![("purpose".into(), "work".into())],
        reverse_context: false,
        plaintext_len: 10_000,
    });
    assert!(len > 393_000);
    // A few passes over the header (parse, the keyring's walk over the EDKs, owned copies).
    assert!(at_once <= 8 * len, "{at_once} for {len}");
}

#[test]
fn reversed_context_through_readers_costs_linear_work() {
    let (len, at_once, ..) = measure(&Spec {
        suite: AlgorithmSuite::AES_256_GCM_IV12_TAG16_NO_KDF,
        extra_edks: 0,
        context: smallest_keys(MAX_DISTINCT_PAIRS),
        reverse_context: true,
        plaintext_len: 10_000,
    });
    assert!(at_once <= 64 * len, "{at_once} for {len}");
}
