//! Parallel decrypting readers read regular frames straight from the source into their
//! batches: the same plaintext and the same failures through awkward sources (pieces, a
//! source that would block every other call, tokio `Pending`), and nothing unverified
//! released when the message is damaged inside a directly read frame or ends early.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Pieces, aes, bytes, client_for};
use esdk_std::stream::io::DecryptingReader;
#[cfg(feature = "tokio")]
use esdk_std::stream::tokio::AsyncDecryptingReader;
use esdk_std::{AlgorithmSuite, DecryptOptions, EncryptOptions};
use std::io::{self, Read};
#[cfg(feature = "tokio")]
use std::pin::Pin;
#[cfg(feature = "tokio")]
use std::task::{Context, Poll};
#[cfg(feature = "tokio")]
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

const SUITES: [AlgorithmSuite; 2] = [
    AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
    AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
];

/// A source that returns `WouldBlock` on every other call, pieces of at most `max` bytes.
struct Blocky<'a> {
    data: &'a [u8],
    calls: usize,
    max: usize,
}

impl Read for Blocky<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls % 2 == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = out.len().min(self.max).min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// As [`Blocky`] for tokio: `Pending` (waking itself) on every other poll.
#[cfg(feature = "tokio")]
struct Pendy<'a>(Blocky<'a>);

#[cfg(feature = "tokio")]
impl AsyncRead for Pendy<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.0.read(buf.initialize_unfilled()) {
            Ok(n) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

/// Reads `r` to the end through `WouldBlock` (retrying), with 10 000-byte reads.
fn read_retrying<R: Read>(r: &mut R) -> (Vec<u8>, Option<io::Error>) {
    let mut out = Vec::new();
    let mut buf = vec![0u8; 10_000];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return (out, Some(e)),
        }
    }
}

fn message(suite: AlgorithmSuite, frame: u32, len: usize) -> (Vec<u8>, Vec<u8>) {
    let kr = aes("k", 3, 32);
    let pt = bytes(len, u64::from(frame) ^ len as u64);
    let ct = client_for(suite)
        .encrypt(
            &pt,
            &EncryptOptions::keyring(&kr)
                .suite(suite)
                .frame_length(frame)
                .parallelism(1),
        )
        .unwrap()
        .ciphertext;
    (pt, ct)
}

#[test]
fn direct_reads_through_awkward_sources_give_the_plaintext() {
    let kr = aes("k", 3, 32);
    for suite in SUITES {
        let client = client_for(suite);
        for (frame, len) in [(4096u32, 300_000usize), (65536, 600_000), (1000, 64 * 1024)] {
            let (pt, ct) = message(suite, frame, len);
            for workers in [2usize, 3] {
                let opts = DecryptOptions::keyring(&kr).parallelism(workers);
                for max in [1usize, 777, 1 << 20] {
                    // Pieces with interrupts.
                    let mut r = DecryptingReader::new(
                        &client,
                        &opts,
                        Pieces::new(&ct[..], max, 7).with_interrupts(),
                    )
                    .unwrap();
                    let (got, err) = read_retrying(&mut r);
                    assert!(err.is_none(), "{suite} {frame} {workers} {max}: {err:?}");
                    assert!(got == pt, "{suite} {frame} {workers} {max}: pieces");
                    // WouldBlock every other call (the reader may be built before the header
                    // completes: `read` completes it).
                    let src = Blocky {
                        data: &ct,
                        calls: 0,
                        max,
                    };
                    let mut r = DecryptingReader::new(&client, &opts, src).unwrap();
                    let (got, err) = read_retrying(&mut r);
                    assert!(err.is_none(), "{suite} {frame} {workers} {max}: {err:?}");
                    assert!(got == pt, "{suite} {frame} {workers} {max}: would block");
                }
            }
        }
    }
}

#[cfg(feature = "tokio")]
#[tokio::test]
async fn direct_reads_through_pending_sources_give_the_plaintext() {
    let kr = aes("k", 3, 32);
    for suite in SUITES {
        let client = client_for(suite);
        for (frame, len) in [(4096u32, 300_000usize), (65536, 600_000)] {
            let (pt, ct) = message(suite, frame, len);
            for max in [777usize, 1 << 20] {
                let opts = DecryptOptions::keyring(&kr).parallelism(2);
                let src = Pendy(Blocky {
                    data: &ct,
                    calls: 0,
                    max,
                });
                let mut r = AsyncDecryptingReader::new(&client, &opts, src)
                    .await
                    .unwrap();
                let mut got = Vec::new();
                r.read_to_end(&mut got).await.unwrap();
                assert!(got == pt, "{suite} {frame} {max}");
            }
        }
    }
}

/// A flipped byte inside a frame read directly, a message cut inside one, or trailing data:
/// the reader fails and what it released is a prefix of the plaintext, ending before the
/// damaged frame.
#[test]
fn direct_reads_release_nothing_unverified() {
    let kr = aes("k", 3, 32);
    let suite = SUITES[0];
    let client = client_for(suite);
    let frame = 4096usize;
    let (pt, ct) = message(suite, 4096, 40 * frame + 100);
    let header_len = ct.len() - (40 * (frame + 32) + 40 + 100);
    // Frame 30 lies well past the bytes read with the header: read directly.
    let frame30 = header_len + 29 * (frame + 32);
    let mut flipped = ct.clone();
    flipped[frame30 + 100] ^= 1;
    let cut = ct[..frame30 + 2000].to_vec();
    let mut trailing = ct.clone();
    trailing.push(0);
    for (name, msg, limit) in [
        ("flipped", &flipped, 29 * frame),
        ("cut", &cut, 29 * frame),
        ("trailing", &trailing, 40 * frame),
    ] {
        for workers in [2usize, 3, 8] {
            let opts = DecryptOptions::keyring(&kr).parallelism(workers);
            let mut r =
                DecryptingReader::new(&client, &opts, Pieces::new(&msg[..], 5000, 3)).unwrap();
            let (got, err) = read_retrying(&mut r);
            assert!(err.is_some(), "{name} {workers}: no error");
            assert!(
                got.len() <= limit,
                "{name} {workers}: {} released",
                got.len()
            );
            assert!(got[..] == pt[..got.len()], "{name} {workers}: not a prefix");
            // Sticky.
            assert!(
                r.read(&mut [0u8; 16]).is_err(),
                "{name} {workers}: not sticky"
            );
        }
    }
}
