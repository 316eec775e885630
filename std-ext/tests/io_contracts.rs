//! The `Read`/`Write` contract cases of issue #19, each as measured on the base commit
//! (duplicated plaintext, rejected valid messages, lost header bytes, bytes accepted after
//! shutdown). Written against the API common to before and after the fix, so the same file
//! shows the failures on the base commit.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use common::*;
use esdk_std::stream::io::{DecryptingReader, DecryptingWriter, EncryptingWriter};
use esdk_std::{Client, DecryptOptions, EncryptOptions};
use std::io::{self, Read, Write};

/// A writer that fails call number `at` (0-based) with `kind`, or every other call while
/// `blocking` is set.
struct Flaky {
    out: Vec<u8>,
    calls: usize,
    at: Option<usize>,
    kind: io::ErrorKind,
    blocking: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Flaky {
    fn failing_at(at: usize, kind: io::ErrorKind) -> Self {
        Self {
            out: Vec::new(),
            calls: 0,
            at: Some(at),
            kind,
            blocking: std::sync::Arc::default(),
        }
    }
}

impl Write for Flaky {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let c = self.calls;
        self.calls += 1;
        if self.at == Some(c)
            || (self.blocking.load(std::sync::atomic::Ordering::SeqCst) && c % 2 == 1)
        {
            return Err(self.kind.into());
        }
        // Short writes: at most 4 KiB per call.
        let n = buf.len().min(4096);
        self.out.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn setup(len: usize) -> (Client, esdk_std::keyring::RawAesKeyring, Vec<u8>, Vec<u8>) {
    let k = aes("contracts", 5, 32);
    let client = client_for(S0478);
    let pt = bytes(len, 19);
    let ct = client
        .encrypt(&pt, &EncryptOptions::keyring(&k).frame_length(4096))
        .unwrap()
        .ciphertext;
    (client, k, pt, ct)
}

/// 10,000 bytes through `write_all` while the inner writer's second write is `Interrupted`:
/// the message decrypts to exactly those bytes (base commit: to 20,000, the plaintext twice).
#[test]
fn encrypting_writer_interrupted_write_does_not_duplicate() {
    let (client, k, pt, _) = setup(10_000);
    let mut w = EncryptingWriter::new(
        &client,
        &EncryptOptions::keyring(&k),
        Flaky::failing_at(1, io::ErrorKind::Interrupted),
    )
    .unwrap();
    w.write_all(&pt).unwrap();
    let out = w.finish().unwrap().out;
    let back = client.decrypt(&out, &DecryptOptions::keyring(&k)).unwrap();
    assert_eq!(back.plaintext.len(), pt.len());
    assert!(back.plaintext == pt);
}

/// 262,243 bytes written through a non-blocking sink (every other write `WouldBlock`) with a
/// loop that retries `WouldBlock`: exactly those bytes (base commit: 572,243).
#[test]
fn encrypting_writer_would_block_retry_loop_is_exact() {
    let (client, k, pt, _) = setup(262_243);
    let sink = Flaky::failing_at(usize::MAX, io::ErrorKind::WouldBlock);
    let blocking = sink.blocking.clone();
    blocking.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut w = EncryptingWriter::new(&client, &EncryptOptions::keyring(&k), sink).unwrap();
    let mut pos = 0;
    while pos < pt.len() {
        match w.write(&pt[pos..(pos + 10_000).min(pt.len())]) {
            Ok(n) => pos += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    loop {
        match w.flush() {
            Ok(()) => break,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
    // The sink stops blocking: `finish(self)` (common to both commits) must then succeed;
    // the retryable `try_finish` under `WouldBlock` is covered by fault_injection.rs.
    blocking.store(false, std::sync::atomic::Ordering::SeqCst);
    let inner = w.finish().unwrap();
    let back = client
        .decrypt(&inner.out, &DecryptOptions::keyring(&k))
        .unwrap();
    assert_eq!(back.plaintext.len(), pt.len());
    assert!(back.plaintext == pt);
}

/// `finish` meets one `Interrupted` while draining the final frame: it completes the message
/// (base commit: an error, and the writer is consumed).
#[test]
fn encrypting_writer_finish_survives_interrupted() {
    let (client, k, pt, _) = setup(100);
    let mut w = EncryptingWriter::new(
        &client,
        &EncryptOptions::keyring(&k),
        Flaky::failing_at(1, io::ErrorKind::Interrupted),
    )
    .unwrap();
    w.write_all(&pt).unwrap();
    let out = w.finish().unwrap().out;
    assert!(
        client
            .decrypt(&out, &DecryptOptions::keyring(&k))
            .unwrap()
            .plaintext
            == pt
    );
}

/// A valid message through `DecryptingWriter` with `write_all` while the inner writer's second
/// write is `Interrupted`: exactly the plaintext (base commit: the message is rejected).
#[test]
fn decrypting_writer_interrupted_write_is_exact() {
    let (client, k, pt, ct) = setup(50_000);
    let dopts = DecryptOptions::keyring(&k);
    let mut w = DecryptingWriter::new(
        &client,
        &dopts,
        Flaky::failing_at(1, io::ErrorKind::Interrupted),
    );
    w.write_all(&ct).unwrap();
    let out = w.finish().unwrap().out;
    assert!(out == pt);
}

/// A non-blocking source: 10 bytes, then `WouldBlock`, then the rest.
struct NonBlocking<'b> {
    data: &'b [u8],
    calls: usize,
}

impl Read for NonBlocking<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let c = self.calls;
        self.calls += 1;
        let n = match c {
            0 => 10,
            1 => return Err(io::ErrorKind::WouldBlock.into()),
            _ => out.len(),
        }
        .min(out.len())
        .min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// `DecryptingReader` over that source, constructed and read with a loop that retries
/// `WouldBlock`: exactly the plaintext (base commit: construction fails and the bytes it took
/// are lost, so the retry fails with "unsupported message format version").
#[test]
fn decrypting_reader_construction_survives_would_block() {
    let (client, k, pt, ct) = setup(10_000);
    let dopts = DecryptOptions::keyring(&k);
    let mut src = NonBlocking {
        data: &ct,
        calls: 0,
    };
    let mut out = Vec::new();
    let mut tries = 0;
    loop {
        tries += 1;
        assert!(tries < 10, "construction never succeeded");
        match DecryptingReader::new(&client, &dopts, &mut src) {
            Ok(mut r) => {
                let mut buf = [0u8; 1000];
                loop {
                    match r.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => out.extend_from_slice(&buf[..n]),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => panic!("{e}"),
                    }
                }
                break;
            }
            Err(e) => {
                assert!(
                    matches!(&e, esdk_std::Error::Io(io) if io.kind() == io::ErrorKind::WouldBlock),
                    "{e}"
                );
            }
        }
    }
    assert!(out == pt);
}

/// After `shutdown`, `AsyncDecryptingWriter` refuses further bytes (base commit: `Ok(16)`, the
/// bytes silently dropped).
#[cfg(feature = "tokio")]
#[test]
fn async_decrypting_writer_refuses_bytes_after_shutdown() {
    use esdk_std::stream::tokio::AsyncDecryptingWriter;
    use tokio::io::AsyncWriteExt;
    let (client, k, pt, ct) = setup(1000);
    let dopts = DecryptOptions::keyring(&k);
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(async {
            let mut w = AsyncDecryptingWriter::new(&client, &dopts, Vec::new());
            w.write_all(&ct).await.unwrap();
            w.shutdown().await.unwrap();
            assert!(w.write(b"trailing garbage").await.is_err());
            assert!(w.into_inner() == pt);
        });
}
