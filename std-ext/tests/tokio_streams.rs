//! The tokio adapters: all four, over inner readers and writers that trickle and return
//! `Pending`, paired through `tokio::io::duplex`, with truncation, trailing data,
//! unsigned-only mode and key providers that are asynchronous.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::std_instead_of_core,
    clippy::cast_possible_truncation
)]

mod common;

use common::*;
use esdk_core::error::PolicyError;
use esdk_std::stream::tokio::{
    AsyncDecryptingReader, AsyncDecryptingWriter, AsyncEncryptingReader, AsyncEncryptingWriter,
};
use esdk_std::{Client, DecryptOptions, EncryptOptions, Error};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// An `AsyncRead` over bytes that returns `Pending` every other poll and then at most
/// `max` bytes (random, seeded).
struct TrickleReader<'a> {
    data: &'a [u8],
    rng: StdRng,
    max: usize,
    pending: bool,
}

impl<'a> TrickleReader<'a> {
    fn new(data: &'a [u8], max: usize, seed: u64) -> Self {
        Self {
            data,
            rng: StdRng::seed_from_u64(seed),
            max,
            pending: false,
        }
    }
}

impl AsyncRead for TrickleReader<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.pending = !self.pending;
        if self.pending {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let max = self.max;
        let n = self
            .rng
            .gen_range(1..=max)
            .min(buf.remaining())
            .min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        buf.put_slice(head);
        self.data = rest;
        Poll::Ready(Ok(()))
    }
}

/// An `AsyncWrite` into a `Vec` that returns `Pending` every other poll and then takes at
/// most `max` bytes.
struct TrickleWriter {
    out: Vec<u8>,
    rng: StdRng,
    max: usize,
    pending: bool,
    shut: bool,
}

impl TrickleWriter {
    fn new(max: usize, seed: u64) -> Self {
        Self {
            out: Vec::new(),
            rng: StdRng::seed_from_u64(seed),
            max,
            pending: false,
            shut: false,
        }
    }
}

impl AsyncWrite for TrickleWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        assert!(!self.shut, "write after shutdown");
        self.pending = !self.pending;
        if self.pending {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let max = self.max;
        let n = self.rng.gen_range(1..=max).min(buf.len());
        self.out.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shut = true;
        Poll::Ready(Ok(()))
    }
}

async fn write_in_pieces<W: AsyncWrite + Unpin>(
    w: &mut W,
    data: &[u8],
    max: usize,
    rng: &mut StdRng,
) -> io::Result<()> {
    let mut rest = data;
    while !rest.is_empty() {
        let n = rng.gen_range(1..=max).min(rest.len());
        w.write_all(&rest[..n]).await?;
        rest = &rest[n..];
    }
    Ok(())
}

async fn read_in_pieces<R: AsyncRead + Unpin>(
    r: &mut R,
    max: usize,
    rng: &mut StdRng,
) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; max];
    loop {
        let n = rng.gen_range(1..=max);
        match r.read(&mut buf[..n]).await? {
            0 => return Ok(out),
            k => out.extend_from_slice(&buf[..k]),
        }
    }
}

#[tokio::test]
async fn all_four_adapters_over_trickling_io() {
    let k = aes("k", 1, 32);
    let mut rng = StdRng::seed_from_u64(0xa5);
    for round in 0..22 {
        let suite = ALL_SUITES[round % ALL_SUITES.len()];
        let client = client_for(suite);
        let len = if round < 11 {
            rng.gen_range(0..20)
        } else {
            rng.gen_range(0..30_000)
        };
        let frame = [1u32, 16, 500, 4096][round % 4];
        let frame = if frame == 1 && len > 100 { 33 } else { frame };
        let pt = bytes(len, round as u64);
        let what = format!("round {round}: {suite}, {len} B, frame {frame}");
        let opts = EncryptOptions::keyring(&k)
            .suite(suite)
            .frame_length(frame)
            .encryption_context(ec(&[("r", "s")]));
        let dopts = DecryptOptions::keyring(&k);
        let max = if round % 3 == 0 {
            1
        } else {
            rng.gen_range(1..5000)
        };

        let mut w = AsyncEncryptingWriter::new(&client, &opts, TrickleWriter::new(max, 1))
            .await
            .unwrap();
        let header = w.header().clone();
        write_in_pieces(&mut w, &pt, max, &mut rng).await.unwrap();
        w.shutdown().await.unwrap();
        let out = w.into_inner();
        assert!(out.shut, "{what}: inner writer not shut down");
        let ct1 = out.out;
        assert_eq!(client.parse_header(&ct1).unwrap(), header, "{what}");
        assert_eq!(
            client.decrypt(&ct1, &dopts).unwrap().plaintext,
            pt,
            "{what}"
        );

        let mut r = AsyncEncryptingReader::new(&client, &opts, TrickleReader::new(&pt, max, 2))
            .await
            .unwrap();
        assert_eq!(r.header().suite, suite);
        let ct2 = read_in_pieces(&mut r, max, &mut rng).await.unwrap();
        assert_eq!(
            client.decrypt(&ct2, &dopts).unwrap().plaintext,
            pt,
            "{what}"
        );

        let mut r = AsyncDecryptingReader::new(&client, &dopts, TrickleReader::new(&ct1, max, 3))
            .await
            .unwrap();
        assert_eq!(r.header(), Some(&header));
        assert_eq!(r.encryption_context().unwrap().get("r"), Some("s"));
        assert_eq!(
            read_in_pieces(&mut r, max, &mut rng).await.unwrap(),
            pt,
            "{what}"
        );

        let mut w = AsyncDecryptingWriter::new(&client, &dopts, TrickleWriter::new(max, 4));
        write_in_pieces(&mut w, &ct2, max, &mut rng).await.unwrap();
        w.shutdown().await.unwrap();
        assert_eq!(w.header().map(|h| h.suite), Some(suite));
        let out = w.into_inner();
        assert!(out.shut);
        assert_eq!(out.out, pt, "{what}");
    }
}

#[tokio::test]
async fn writer_to_reader_through_a_duplex_pipe() {
    let k = aes("k", 1, 32);
    let client = Client::default();
    let pt = bytes(3 << 20, 11);
    for suite in [S0478, S0578] {
        // The pipe holds 1 KiB: the two sides must take turns, frame by frame.
        let (a, b) = tokio::io::duplex(1024);
        let opts = EncryptOptions::keyring(&k).suite(suite).frame_length(4096);
        let dopts = DecryptOptions::keyring(&k);
        let writer = async {
            let mut w = AsyncEncryptingWriter::new(&client, &opts, a).await.unwrap();
            for chunk in pt.chunks(10_000) {
                w.write_all(chunk).await.unwrap();
            }
            w.shutdown().await.unwrap();
        };
        let reader = async {
            let mut r = AsyncDecryptingReader::new(&client, &dopts, b)
                .await
                .unwrap();
            let mut out = Vec::new();
            r.read_to_end(&mut out).await.unwrap();
            out
        };
        let ((), out) = tokio::join!(writer, reader);
        assert!(out == pt, "{suite}");

        // And the other direction: an encrypting reader copied into a decrypting writer.
        let (a, mut b) = tokio::io::duplex(1000);
        let copy_in = async {
            let mut r = AsyncEncryptingReader::new(&client, &opts, &pt[..])
                .await
                .unwrap();
            let mut a = a;
            tokio::io::copy(&mut r, &mut a).await.unwrap();
            a.shutdown().await.unwrap();
        };
        let copy_out = async {
            let mut w = AsyncDecryptingWriter::new(&client, &dopts, Vec::new());
            tokio::io::copy(&mut b, &mut w).await.unwrap();
            w.shutdown().await.unwrap();
            w.into_inner()
        };
        let ((), out) = tokio::join!(copy_in, copy_out);
        assert!(out == pt, "{suite}");
    }
}

/// The core error inside an adapter's error.
fn core_in(e: &io::Error) -> Option<esdk_core::Error> {
    core_of_io(e)
}

#[tokio::test]
async fn truncation_and_trailing_data() {
    let k = aes("k", 1, 32);
    for suite in [S0478, S0578, S0378] {
        let client = client_for(suite);
        let pt = bytes(40, 5);
        let ct = client
            .encrypt(
                &pt,
                &EncryptOptions::keyring(&k).suite(suite).frame_length(16),
            )
            .unwrap()
            .ciphertext;
        let dopts = DecryptOptions::keyring(&k);
        let mut inputs: Vec<(Vec<u8>, esdk_core::Error)> = (0..ct.len())
            .map(|cut| (ct[..cut].to_vec(), esdk_core::Error::Truncated))
            .collect();
        for extra in [vec![0u8], ct.clone()] {
            let mut long = ct.clone();
            long.extend_from_slice(&extra);
            inputs.push((long, esdk_core::Error::TrailingData));
        }
        for (i, (input, want)) in inputs.iter().enumerate() {
            let what = format!("{suite} input {i} ({} of {} B)", input.len(), ct.len());
            // Reader, over trickling input.
            let released = match AsyncDecryptingReader::new(
                &client,
                &dopts,
                TrickleReader::new(input, 7, i as u64),
            )
            .await
            {
                Err(e) => {
                    assert!(matches!(e, Error::Core(c) if c == *want), "{what}: {e:?}");
                    Vec::new()
                }
                Ok(mut r) => {
                    let mut out = Vec::new();
                    let err = r.read_to_end(&mut out).await.unwrap_err();
                    assert_eq!(core_in(&err), Some(*want), "{what}: {err:?}");
                    if *want == esdk_core::Error::Truncated {
                        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
                    }
                    out
                }
            };
            assert!(
                pt.starts_with(&released) && released.len() < pt.len(),
                "{what}"
            );
            // Writer.
            let mut w = AsyncDecryptingWriter::new(&client, &dopts, Vec::new());
            let res = match w.write_all(input).await {
                Ok(()) => w.shutdown().await,
                Err(e) => Err(e),
            };
            let err = res.unwrap_err();
            assert_eq!(core_in(&err), Some(*want), "{what}: {err:?}");
        }
    }
}

#[tokio::test]
async fn unsigned_only_mode() {
    let k = Counting::new(aes("k", 1, 32));
    let client = Client::default();
    let signed = client
        .encrypt(b"signed", &EncryptOptions::keyring(&k).suite(S0578))
        .unwrap()
        .ciphertext;
    let unsigned = client
        .encrypt(b"unsigned", &EncryptOptions::keyring(&k).suite(S0478))
        .unwrap()
        .ciphertext;
    let only = DecryptOptions::keyring(&k).unsigned_only();
    let refused =
        esdk_core::Error::Policy(PolicyError::SignedSuiteInUnsignedOnlyMode { suite: 0x0578 });
    let r = AsyncDecryptingReader::new(&client, &only, &signed[..]).await;
    assert!(matches!(r, Err(Error::Core(e)) if e == refused));
    let mut w = AsyncDecryptingWriter::new(&client, &only, Vec::new());
    let res = match w.write_all(&signed).await {
        Ok(()) => w.shutdown().await,
        Err(e) => Err(e),
    };
    assert_eq!(core_in(&res.unwrap_err()), Some(refused));
    assert_eq!(k.decrypt_calls(), 0);
    let mut r = AsyncDecryptingReader::new(&client, &only, &unsigned[..])
        .await
        .unwrap();
    let mut out = Vec::new();
    r.read_to_end(&mut out).await.unwrap();
    assert_eq!(out, b"unsigned");
}

#[tokio::test]
async fn asynchronous_key_providers_are_awaited() {
    // A keyring whose futures are pending once, like a network call.
    let slow = Slow::new(aes("k", 1, 32));
    let plain = aes("k", 1, 32);
    let client = Client::default();
    let pt = bytes(10_000, 6);
    let opts = EncryptOptions::async_keyring(&slow).frame_length(1000);
    let dopts = DecryptOptions::async_keyring(&slow);

    let mut w = AsyncEncryptingWriter::new(&client, &opts, Vec::new())
        .await
        .unwrap();
    w.write_all(&pt).await.unwrap();
    w.shutdown().await.unwrap();
    let ct = w.into_inner();
    let mut r = AsyncEncryptingReader::new(&client, &opts, &pt[..])
        .await
        .unwrap();
    let mut ct2 = Vec::new();
    r.read_to_end(&mut ct2).await.unwrap();
    let mut r = AsyncDecryptingReader::new(&client, &dopts, TrickleReader::new(&ct, 100, 1))
        .await
        .unwrap();
    let mut out = Vec::new();
    r.read_to_end(&mut out).await.unwrap();
    assert_eq!(out, pt);
    let mut w = AsyncDecryptingWriter::new(&client, &dopts, TrickleWriter::new(100, 2));
    write_in_pieces(&mut w, &ct2, 300, &mut StdRng::seed_from_u64(3))
        .await
        .unwrap();
    w.shutdown().await.unwrap();
    assert_eq!(w.into_inner().out, pt);
    // The one-shot async client.
    let enc = client.encrypt_async(&pt, &opts).await.unwrap();
    assert_eq!(
        client
            .decrypt_async(&enc.ciphertext, &dopts)
            .await
            .unwrap()
            .plaintext,
        pt
    );
    assert_eq!(
        client
            .decrypt(&ct2, &DecryptOptions::keyring(&plain))
            .unwrap()
            .plaintext,
        pt
    );
    // (The blocking client does not accept an asynchronous keyring: see the `compile_fail`
    // examples on `esdk_std::client::Async`.)
    assert_eq!(slow.calls.load(Ordering::SeqCst), 6);
}

#[tokio::test]
async fn one_huge_write_is_taken_in_bounded_pieces() {
    const BOUND: usize = 256 << 10;
    let k = aes("k", 1, 32);
    let client = Client::default();
    let pt = bytes(4 << 20, 13);
    let opts = EncryptOptions::keyring(&k).suite(S0478).frame_length(4096);
    let mut w = AsyncEncryptingWriter::new(&client, &opts, Vec::new())
        .await
        .unwrap();
    let taken = w.write(&pt).await.unwrap();
    assert!(taken > 0 && taken <= BOUND, "one write took {taken} B");
    w.write_all(&pt[taken..]).await.unwrap();
    w.shutdown().await.unwrap();
    let ct = w.into_inner();
    let dopts = DecryptOptions::keyring(&k);
    let mut d = AsyncDecryptingWriter::new(&client, &dopts, Vec::new());
    let taken = d.write(&ct).await.unwrap();
    assert!(taken > 0 && taken <= BOUND, "one write took {taken} B");
    d.write_all(&ct[taken..]).await.unwrap();
    d.shutdown().await.unwrap();
    assert!(d.into_inner() == pt);
}

#[tokio::test]
async fn tokio_adapters_have_the_io_surface() {
    // finish / into_inner / with_max_buffer / buffer_capacity, as the std::io adapters have.
    let k = aes("k", 1, 32);
    let client = Client::default();
    let pt = bytes(20_000, 21);
    let opts = EncryptOptions::keyring(&k).frame_length(4096);
    let dopts = DecryptOptions::keyring(&k);
    let mut w = AsyncEncryptingWriter::new(&client, &opts, Vec::new())
        .await
        .unwrap();
    w.write_all(&pt).await.unwrap();
    let ct = w.finish().await.unwrap();
    let mut r = AsyncEncryptingReader::new(&client, &opts, &pt[..])
        .await
        .unwrap();
    let mut ct2 = Vec::new();
    r.read_to_end(&mut ct2).await.unwrap();
    assert!(
        r.into_inner().is_empty(),
        "the plaintext was read to its end"
    );
    let mut r = AsyncDecryptingReader::with_max_buffer(&client, &dopts, &ct[..], 64 << 10)
        .await
        .unwrap();
    let frame_length = r.read_header().await.unwrap().frame_length;
    assert_eq!(frame_length, 4096);
    let mut out = Vec::new();
    r.read_to_end(&mut out).await.unwrap();
    assert_eq!(out, pt);
    assert!(r.buffer_capacity() <= 64 << 10);
    assert!(r.into_inner().is_empty());
    let mut w = AsyncDecryptingWriter::with_max_buffer(&client, &dopts, Vec::new(), 64 << 10);
    w.write_all(&ct2).await.unwrap();
    assert!(w.buffer_capacity() <= 64 << 10);
    assert!(
        w.encryption_context().is_some(),
        "context once the header verified"
    );
    assert_eq!(w.finish().await.unwrap(), pt);
    // finish reports a truncated message.
    let mut w = AsyncDecryptingWriter::new(&client, &dopts, Vec::new());
    w.write_all(&ct[..ct.len() - 1]).await.unwrap();
    let e = w.finish().await.unwrap_err();
    assert!(
        matches!(
            Error::from_io(&e),
            Some(Error::Core(esdk_core::Error::Truncated))
        ),
        "{e}"
    );
}
