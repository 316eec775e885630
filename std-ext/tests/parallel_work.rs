//! Work counted on the frame-parallel and ranged paths is linear in the message and does not
//! depend on how the bytes are chunked (one byte per read or write included).
//!
//! Two counters: every call into the crypto provider (a counting provider plugged in with
//! `Backend::custom`: AEAD seal/open, GMAC, digest updates, key set-ups; counted on every
//! thread, workers included), and the bytes the message parsers examine on the calling thread
//! (`esdk_core::work`, feature `work-counter`). Each adapter in parallel mode is run over a
//! source or sink that moves one byte per call and over one that moves 64 KiB per call, for a
//! message and one twice as long: the one-byte run costs what the 64 KiB run costs (plus a
//! constant), and twice the message costs at most twice the work (plus a constant). Ranged
//! decryption of a small range costs the same whatever the message length.
#![cfg(feature = "tokio")]
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

#[path = "support/counting_provider.rs"]
mod counting_provider;

use counting_provider::{Counting, get};
use esdk_core::work;
use esdk_std::keyring::RawAesKeyring;
use esdk_std::ranged::RangeOptions;
use esdk_std::stream::io::{
    DecryptingReader, DecryptingWriter, EncryptingReader, EncryptingWriter,
};
use esdk_std::stream::tokio::{
    AsyncDecryptingReader, AsyncDecryptingWriter, AsyncEncryptingReader, AsyncEncryptingWriter,
};
use esdk_std::{AlgorithmSuite, Backend, Client, CommitmentPolicy, DecryptOptions, EncryptOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

const FRAME: u32 = 1024;
const WORKERS: usize = 3;

/// A source or sink moving at most `step` bytes per call; counts calls and bytes.
struct Trickle<'a> {
    data: &'a [u8],
    out: Vec<u8>,
    step: usize,
    calls: usize,
    bytes: usize,
}

impl<'a> Trickle<'a> {
    fn new(data: &'a [u8], step: usize) -> Self {
        Self {
            data,
            out: Vec::new(),
            step,
            calls: 0,
            bytes: 0,
        }
    }
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        self.bytes += n;
        Ok(n)
    }
}

impl Write for Trickle<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.calls += 1;
        let n = self.step.min(buf.len());
        self.out.extend_from_slice(&buf[..n]);
        self.bytes += n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for Trickle<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.calls += 1;
        let n = this.step.min(buf.remaining()).min(this.data.len());
        buf.put_slice(&this.data[..n]);
        this.data = &this.data[n..];
        this.bytes += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Trickle<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Write::write(self.get_mut(), buf))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl Seek for Trickle<'_> {
    fn seek(&mut self, _: SeekFrom) -> io::Result<u64> {
        unreachable!("the ranged tests use `Ranged`")
    }
}

/// Work of one run: provider calls, parser bytes examined on this thread.
#[derive(Debug, Clone, Copy)]
struct Work {
    calls: usize,
    examined: usize,
}

fn total_calls(p: &Counting) -> usize {
    let c = &p.counts;
    get(&c.seal)
        + get(&c.open)
        + get(&c.gmac)
        + get(&c.aead_key)
        + get(&c.hkdf)
        + get(&c.digest)
        + get(&c.digest_update)
        + get(&c.hash)
        + get(&c.hmac)
}

fn client(suite: AlgorithmSuite) -> (Client, Counting) {
    let p = Counting::default();
    let policy = if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    };
    let c = Client::builder()
        .commitment_policy(policy)
        .backend(Backend::custom(p.clone()))
        .build();
    (c, p)
}

fn plaintext(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + 7) as u8).collect()
}

/// The adapters measured.
const PATHS: [&str; 8] = [
    "io decrypting reader",
    "io decrypting writer",
    "tokio decrypting reader",
    "tokio decrypting writer",
    "io encrypting writer",
    "io encrypting reader",
    "tokio encrypting writer",
    "tokio encrypting reader",
];

/// Runs `path` with `step` bytes per inner call over a message of `len` plaintext bytes;
/// checks the output and returns the work.
fn run(path: &str, suite: AlgorithmSuite, len: usize, step: usize) -> Work {
    let kr = RawAesKeyring::new("ns", "k", &[3u8; 32]).unwrap();
    let pt = plaintext(len);
    let (plain, _) = client(suite);
    let eopts = EncryptOptions::keyring(&kr)
        .suite(suite)
        .frame_length(FRAME)
        .parallelism(WORKERS);
    let dopts = DecryptOptions::keyring(&kr).parallelism(WORKERS);
    let msg = plain.encrypt(&pt, &eopts).unwrap().ciphertext;
    let (c, p) = client(suite);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    work::reset();
    let before = total_calls(&p);
    let out: Vec<u8> = match path {
        "io decrypting reader" => {
            let mut r = DecryptingReader::new(&c, &dopts, Trickle::new(&msg, step)).unwrap();
            let mut o = Vec::new();
            r.read_to_end(&mut o).unwrap();
            assert_eq!(r.into_inner().bytes, msg.len());
            o
        }
        "io decrypting writer" => {
            let mut w = DecryptingWriter::new(&c, &dopts, Vec::new());
            for piece in msg.chunks(step) {
                w.write_all(piece).unwrap();
            }
            w.finish().unwrap()
        }
        "tokio decrypting reader" => rt.block_on(async {
            let mut r = AsyncDecryptingReader::new(&c, &dopts, Trickle::new(&msg, step))
                .await
                .unwrap();
            let mut o = Vec::new();
            r.read_to_end(&mut o).await.unwrap();
            o
        }),
        "tokio decrypting writer" => rt.block_on(async {
            let mut w = AsyncDecryptingWriter::new(&c, &dopts, Vec::new());
            for piece in msg.chunks(step) {
                w.write_all(piece).await.unwrap();
            }
            w.shutdown().await.unwrap();
            w.into_inner()
        }),
        "io encrypting writer" => {
            let mut w = EncryptingWriter::new(&c, &eopts, Trickle::new(&[], step)).unwrap();
            for piece in pt.chunks(step) {
                w.write_all(piece).unwrap();
            }
            w.finish().unwrap().out
        }
        "io encrypting reader" => {
            let mut r = EncryptingReader::new(&c, &eopts, Trickle::new(&pt, step)).unwrap();
            let mut o = Vec::new();
            let mut buf = vec![0u8; step];
            loop {
                let n = r.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                o.extend_from_slice(&buf[..n]);
            }
            o
        }
        "tokio encrypting writer" => rt.block_on(async {
            let mut w = AsyncEncryptingWriter::new(&c, &eopts, Trickle::new(&[], step))
                .await
                .unwrap();
            for piece in pt.chunks(step) {
                w.write_all(piece).await.unwrap();
            }
            w.shutdown().await.unwrap();
            w.into_inner().out
        }),
        "tokio encrypting reader" => rt.block_on(async {
            let mut r = AsyncEncryptingReader::new(&c, &eopts, Trickle::new(&pt, step))
                .await
                .unwrap();
            let mut o = Vec::new();
            let mut buf = vec![0u8; step];
            loop {
                let n = r.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                o.extend_from_slice(&buf[..n]);
            }
            o
        }),
        _ => unreachable!(),
    };
    let w = Work {
        calls: total_calls(&p) - before,
        examined: work::examined(),
    };
    if path.contains("decrypting") {
        assert!(out == pt, "{path}: plaintext differs");
    } else {
        let back = plain
            .decrypt(&out, &DecryptOptions::keyring(&kr))
            .unwrap()
            .plaintext;
        assert!(back == pt, "{path}: round trip differs");
    }
    w
}

#[test]
fn parallel_adapters_do_work_linear_in_the_message_whatever_the_chunking() {
    let frames = |len: usize| len / FRAME as usize + 1;
    for suite in [
        AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
        AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
    ] {
        for path in PATHS {
            let n = 96 * 1024;
            let one = run(path, suite, n, 1);
            let big = run(path, suite, n, 64 * 1024);
            let one2 = run(path, suite, 2 * n, 1);
            // Chunking does not change the work (a few calls of slack for where the header
            // and the final frame fall).
            assert!(
                one.calls <= big.calls + 8 && one.examined <= big.examined + 64,
                "{suite} {path}: one byte per call {one:?} vs 64 KiB {big:?}"
            );
            // Linear: a few provider calls per frame, twice the message at most twice the work.
            assert!(
                one.calls <= 3 * frames(n) + 32,
                "{suite} {path}: {} calls for {} frames",
                one.calls,
                frames(n)
            );
            assert!(
                one2.calls <= 2 * one.calls + 8 && one2.examined <= 2 * one.examined + 64,
                "{suite} {path}: {one:?} then {one2:?} for twice the message"
            );
        }
    }
}

/// A seekable source handing out `step` bytes per read, counting reads and bytes.
struct Ranged<'a> {
    data: &'a [u8],
    pos: usize,
    step: usize,
    reads: usize,
    bytes: usize,
}

impl Read for Ranged<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        let rest = self.data.get(self.pos..).unwrap_or(&[]);
        let n = self.step.min(buf.len()).min(rest.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.pos += n;
        self.bytes += n;
        Ok(n)
    }
}

impl Seek for Ranged<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.pos = match to {
            SeekFrom::Start(p) => p as usize,
            SeekFrom::End(d) => (self.data.len() as i64 + d) as usize,
            SeekFrom::Current(d) => (self.pos as i64 + d) as usize,
        };
        Ok(self.pos as u64)
    }
}

impl AsyncRead for Ranged<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut tmp = vec![0u8; buf.remaining()];
        let n = Read::read(&mut *self, &mut tmp)?;
        buf.put_slice(&tmp[..n]);
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncSeek for Ranged<'_> {
    fn start_seek(mut self: Pin<&mut Self>, to: SeekFrom) -> io::Result<()> {
        Seek::seek(&mut *self, to).map(|_| ())
    }
    fn poll_complete(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Poll::Ready(Ok(self.pos as u64))
    }
}

#[test]
fn ranged_decrypt_work_depends_on_the_range_not_the_message_or_the_chunking() {
    let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
    let kr = RawAesKeyring::new("ns", "k", &[3u8; 32]).unwrap();
    let (plain, _) = client(suite);
    let mut seen: Option<(usize, usize, usize)> = None;
    for len in [64 * 1024usize, 1 << 20] {
        let pt = plaintext(len);
        let msg = plain
            .encrypt(
                &pt,
                &EncryptOptions::keyring(&kr)
                    .suite(suite)
                    .frame_length(FRAME),
            )
            .unwrap()
            .ciphertext;
        for step in [1usize, 7, 64 * 1024] {
            // 100 bytes across a frame boundary inside the message: two frames.
            let range = 10 * u64::from(FRAME) - 50..10 * u64::from(FRAME) + 50;
            let (c, p) = client(suite);
            let mut src = Ranged {
                data: &msg,
                pos: 0,
                step,
                reads: 0,
                bytes: 0,
            };
            work::reset();
            let before = total_calls(&p);
            let got = c
                .decrypt_range(
                    &mut src,
                    range.clone(),
                    &DecryptOptions::keyring(&kr),
                    &RangeOptions::new(),
                )
                .unwrap();
            assert!(got.plaintext == pt[range.start as usize..range.end as usize]);
            let calls = total_calls(&p) - before;
            let examined = work::examined();
            // An unsigned empty message is the header and a 40-byte final frame.
            let empty = plain
                .encrypt(&[], &EncryptOptions::keyring(&kr).suite(suite))
                .unwrap()
                .ciphertext;
            let header_len = empty.len() - 40;
            // Bytes read: the header and the two frames, nothing else.
            assert_eq!(
                src.bytes,
                header_len + 2 * (FRAME as usize + 32),
                "len {len} step {step}"
            );
            // Reads: as many as the chunking forces, plus one per header step and frame read.
            assert!(
                src.reads <= src.bytes.div_ceil(step) + 40,
                "step {step}: {} reads for {} bytes",
                src.reads,
                src.bytes
            );
            // Two frames opened, beyond what an empty range (header only: the data key's
            // unwrapping) opens.
            let (c0, p0) = client(suite);
            c0.decrypt_range(
                &mut io::Cursor::new(&msg),
                5..5,
                &DecryptOptions::keyring(&kr),
                &RangeOptions::new(),
            )
            .unwrap();
            assert_eq!(
                get(&p.counts.open),
                get(&p0.counts.open) + 2,
                "two frames opened"
            );
            // The tokio twin (`decrypt_range_async`) does the same work: the same bytes
            // read, as few reads, the same two frames opened, the same provider calls.
            let (ca, pa) = client(suite);
            let mut asrc = Ranged {
                data: &msg,
                pos: 0,
                step,
                reads: 0,
                bytes: 0,
            };
            let abefore = total_calls(&pa);
            work::reset();
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let agot = rt
                .block_on(ca.decrypt_range_async(
                    &mut asrc,
                    range.clone(),
                    &DecryptOptions::keyring(&kr),
                    &RangeOptions::new(),
                ))
                .unwrap();
            assert!(agot.plaintext == got.plaintext, "async: bytes differ");
            assert_eq!(agot.range, got.range);
            assert_eq!(
                asrc.bytes, src.bytes,
                "async len {len} step {step}: bytes read"
            );
            assert!(
                asrc.reads <= asrc.bytes.div_ceil(step) + 40,
                "async step {step}: {} reads for {} bytes",
                asrc.reads,
                asrc.bytes
            );
            assert_eq!(
                get(&pa.counts.open),
                get(&p0.counts.open) + 2,
                "async: two frames opened"
            );
            let acalls = total_calls(&pa) - abefore;
            assert!(
                acalls <= calls + 2 && calls <= acalls + 2,
                "async len {len} step {step}: {acalls} provider calls vs {calls}"
            );
            assert!(
                work::examined() <= examined + 64,
                "async len {len} step {step}: {} bytes examined vs {examined}",
                work::examined()
            );
            // Same work whatever the message length and chunking.
            match seen {
                None => seen = Some((calls, examined, src.bytes)),
                Some((c0, e0, b0)) => {
                    assert!(
                        calls <= c0 + 2 && examined <= e0 + 64 && src.bytes == b0,
                        "len {len} step {step}: {calls}/{examined}/{} vs {c0}/{e0}/{b0}",
                        src.bytes
                    );
                }
            }
        }
    }
}

/// The default parallelism is adaptive: one-shot calls on messages of at least
/// `PARALLEL_MIN_BYTES` run on worker threads (when the machine has more than one core),
/// smaller one-shot messages, `parallelism(1)` and the stream adapters stay on the calling
/// thread (no frame is sealed or opened on a worker).
#[test]
fn the_default_parallelism_is_adaptive() {
    use esdk_std::parallel::{PARALLEL_MIN_BYTES, default_parallelism};
    let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
    let kr = RawAesKeyring::new("ns", "k", &[3u8; 32]).unwrap();
    let eopts = EncryptOptions::keyring(&kr)
        .suite(suite)
        .frame_length(FRAME);
    let dopts = DecryptOptions::keyring(&kr);
    let on_workers = |p: &Counting| get(&p.counts.on_workers);
    for (len, parallel) in [
        (PARALLEL_MIN_BYTES, default_parallelism() > 1),
        (PARALLEL_MIN_BYTES / 2, false),
        (64 * 1024, false),
    ] {
        let pt = plaintext(len);
        // The calling thread works too, so a spawned worker may find no job left in one call
        // (a scheduler that delays it): a parallel call must reach a worker within a few
        // tries; a sequential one never does.
        let tries = if parallel { 10 } else { 1 };
        let mut msg = Vec::new();
        let mut seen = (false, false);
        for _ in 0..tries {
            let (c, p) = client(suite);
            msg = c.encrypt(&pt, &eopts).unwrap().ciphertext;
            seen.0 |= on_workers(&p) > 0;
            let (c, p) = client(suite);
            assert!(c.decrypt(&msg, &dopts).unwrap().plaintext == pt);
            seen.1 |= on_workers(&p) > 0;
            if seen == (true, true) {
                break;
            }
        }
        assert_eq!(seen, (parallel, parallel), "encrypt, decrypt {len}");
        // parallelism(1) is the sequential path whatever the length.
        let (c, p) = client(suite);
        let again = c.encrypt(&pt, &eopts.clone().parallelism(1)).unwrap();
        assert!(
            c.decrypt(&again.ciphertext, &dopts.clone().parallelism(1))
                .unwrap()
                .plaintext
                == pt
        );
        assert_eq!(on_workers(&p), 0, "parallelism(1) {len}");
        // The stream adapters stay sequential by default.
        let (c, p) = client(suite);
        let mut r = DecryptingReader::new(&c, &dopts, &msg[..]).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert!(out == pt);
        assert_eq!(r.running_workers(), 0);
        let mut w = EncryptingWriter::new(&c, &eopts, Vec::new()).unwrap();
        w.write_all(&pt).unwrap();
        assert_eq!(w.running_workers(), 0);
        w.finish().unwrap();
        assert_eq!(on_workers(&p), 0, "streams {len}");
    }
}
