//! The `std::io` adapters: awkward chunking, truncation anywhere, trailing data, tampering,
//! unsigned-only mode, plaintext-length bounds, and bounded memory on a 64 MiB stream.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::std_instead_of_core,
    clippy::cast_possible_truncation
)]

mod common;

use common::*;
use esdk_core::error::{AuthStage, PolicyError};
use esdk_std::stream::io::{
    DecryptingReader, DecryptingWriter, EncryptingReader, EncryptingWriter,
};
use esdk_std::{AlgorithmSuite, Client, DecryptOptions, EncryptOptions, Error};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;

/// One encrypted message and what it holds.
struct Message {
    suite: AlgorithmSuite,
    client: Client,
    pt: Vec<u8>,
    ct: Vec<u8>,
}

/// Small messages (frame length 16: header, two regular frames and an 8-byte final frame, or
/// only an empty final frame) for a committing and a v1 suite, each signed and unsigned.
fn small_messages(k: &esdk_std::keyring::RawAesKeyring) -> Vec<Message> {
    let mut v = Vec::new();
    for suite in [S0478, S0578, S0178, S0378] {
        for len in [40, 0] {
            let client = client_for(suite);
            let pt = bytes(len, 7);
            let opts = EncryptOptions::keyring(k)
                .suite(suite)
                .frame_length(16)
                .encryption_context(ec(&[("k", "v")]));
            let ct = client.encrypt(&pt, &opts).unwrap().ciphertext;
            v.push(Message {
                suite,
                client,
                pt,
                ct,
            });
        }
    }
    v
}

/// Reads everything, returning what was read before an error too.
fn read_all<R: Read>(r: &mut R) -> (Vec<u8>, io::Result<()>) {
    let mut out = Vec::new();
    let res = r.read_to_end(&mut out).map(|_| ());
    (out, res)
}

/// Decrypts `input` with a `DecryptingReader` (over 1-byte inner reads if `bytewise`, reading
/// 1 byte at a time then): the plaintext released and the outcome.
fn via_reader(
    m: &Message,
    k: &esdk_std::keyring::RawAesKeyring,
    input: &[u8],
    bytewise: bool,
) -> (Vec<u8>, Result<(), Error>) {
    let dopts = DecryptOptions::keyring(k);
    let opened = if bytewise {
        DecryptingReader::new(&m.client, &dopts, Pieces::bytewise(input))
            .map(|r| Box::new(r) as Box<dyn Read>)
    } else {
        DecryptingReader::new(&m.client, &dopts, input).map(|r| Box::new(r) as Box<dyn Read>)
    };
    let mut r = match opened {
        Ok(r) => r,
        Err(e) => return (Vec::new(), Err(e)),
    };
    let (out, res) = if bytewise {
        let mut out = Vec::new();
        let mut b = [0u8; 1];
        let res = loop {
            match r.read(&mut b) {
                Ok(0) => break Ok(()),
                Ok(_) => out.push(b[0]),
                Err(e) => break Err(e),
            }
        };
        (out, res)
    } else {
        read_all(&mut r)
    };
    (out, res.map_err(adapter_err))
}

/// Decrypts `input` with a `DecryptingWriter` writing in pieces of up to `piece` bytes.
fn via_writer(
    m: &Message,
    k: &esdk_std::keyring::RawAesKeyring,
    input: &[u8],
    piece: usize,
) -> (Vec<u8>, Result<(), Error>) {
    let mut sink = Vec::new();
    let dopts = DecryptOptions::keyring(k);
    let mut w = DecryptingWriter::new(&m.client, &dopts, &mut sink);
    let mut res = Ok(());
    for chunk in input.chunks(piece.max(1)) {
        if let Err(e) = w.write_all(chunk) {
            res = Err(e);
            break;
        }
    }
    let res = res.and_then(|()| w.finish().map(|_| ()));
    (sink, res.map_err(adapter_err))
}

/// The `esdk_std::Error` inside an adapter's `io::Error` (copied: it is not `Clone`).
fn adapter_err(e: io::Error) -> Error {
    let inner = std_of(&e).map(clone_err);
    inner.unwrap_or(Error::Io(e))
}

/// The core error of an adapter error (they are not `Clone`).
fn clone_err(e: &Error) -> Error {
    match e {
        Error::Core(c) => Error::Core(*c),
        other => esdk_std::KeyringError::failed("copy", other.to_string()).into(),
    }
}

fn is_core(r: &Result<(), Error>, want: esdk_core::Error) -> bool {
    matches!(r, Err(Error::Core(e)) if *e == want)
}

#[test]
fn truncation_anywhere_is_an_error_for_every_decryptor() {
    let k = aes("k", 1, 32);
    let mut cases = 0;
    for m in small_messages(&k) {
        assert_eq!(
            m.client
                .decrypt(&m.ct, &DecryptOptions::keyring(&k))
                .unwrap()
                .plaintext,
            m.pt
        );
        // Every prefix: inside every header field, at every frame boundary, inside every frame
        // field and inside the footer.
        for cut in 0..m.ct.len() {
            let input = &m.ct[..cut];
            let what = format!(
                "{} ({} B plaintext) cut at {cut}/{}",
                m.suite,
                m.pt.len(),
                m.ct.len()
            );
            let r = m.client.decrypt(input, &DecryptOptions::keyring(&k));
            assert!(
                matches!(r, Err(Error::Core(esdk_core::Error::Truncated))),
                "one-shot, {what}: {r:?}"
            );
            for bytewise in [false, true] {
                let (out, res) = via_reader(&m, &k, input, bytewise);
                assert!(
                    is_core(&res, esdk_core::Error::Truncated),
                    "reader (bytewise {bytewise}), {what}: {res:?}"
                );
                assert!(m.pt.starts_with(&out), "{what}");
                assert!(
                    out.len() < m.pt.len() || m.pt.is_empty(),
                    "{what}: the whole plaintext was released"
                );
            }
            for piece in [1, 5, usize::MAX] {
                let (out, res) = via_writer(&m, &k, input, piece);
                assert!(
                    is_core(&res, esdk_core::Error::Truncated),
                    "writer, {what}: {res:?}"
                );
                assert!(m.pt.starts_with(&out), "{what}");
                assert!(
                    out.len() < m.pt.len() || m.pt.is_empty(),
                    "{what}: the whole plaintext was released"
                );
            }
            cases += 1;
        }
        // The complete message works through each of them.
        assert_eq!(via_reader(&m, &k, &m.ct, true).0, m.pt);
        assert_eq!(via_writer(&m, &k, &m.ct, 1).0, m.pt);
    }
    assert!(cases > 2000, "{cases}");
}

#[test]
fn truncated_readers_report_unexpected_eof() {
    let k = aes("k", 1, 32);
    let m = &small_messages(&k)[0];
    assert_eq!(m.pt.len(), 40);
    let mut r = DecryptingReader::new(
        &m.client,
        &DecryptOptions::keyring(&k),
        &m.ct[..m.ct.len() - 3],
    )
    .unwrap();
    let err = r.read_to_end(&mut Vec::new()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
    // Reading again keeps failing; it never turns into a normal end.
    assert!(r.read(&mut [0u8; 10]).is_err());
}

#[test]
fn trailing_data_is_an_error_for_every_decryptor() {
    let k = aes("k", 1, 32);
    for m in small_messages(&k) {
        for extra in [vec![0u8], vec![0xff; 1000], m.ct.clone()] {
            let mut input = m.ct.clone();
            input.extend_from_slice(&extra);
            let what = format!("{} + {} bytes", m.suite, extra.len());
            let r = m
                .client
                .decrypt(&input, &DecryptOptions::keyring(&k))
                .map(|_| ());
            assert!(
                matches!(r, Err(Error::Core(esdk_core::Error::TrailingData))),
                "{what}: {r:?}"
            );
            for bytewise in [false, true] {
                let (out, res) = via_reader(&m, &k, &input, bytewise);
                assert!(
                    is_core(&res, esdk_core::Error::TrailingData),
                    "reader {what}: {res:?}"
                );
                assert!(out.len() < m.pt.len() || m.pt.is_empty(), "{what}");
            }
            for piece in [1, 7, usize::MAX] {
                let (out, res) = via_writer(&m, &k, &input, piece);
                assert!(
                    is_core(&res, esdk_core::Error::TrailingData),
                    "writer {what}: {res:?}"
                );
                assert!(out.len() < m.pt.len() || m.pt.is_empty(), "{what}");
            }
        }
    }
}

#[test]
fn one_byte_reads_and_writes_through_all_four_adapters() {
    let k = aes("k", 1, 32);
    for suite in [S0478, S0578, S0014, S0378] {
        let client = client_for(suite);
        let pt = bytes(1000, 8);
        let opts = EncryptOptions::keyring(&k).suite(suite).frame_length(100);
        let dopts = DecryptOptions::keyring(&k);

        // EncryptingWriter: 1-byte writes into an inner writer that takes 1 byte per call.
        let mut w = EncryptingWriter::new(&client, &opts, Pieces::bytewise(Vec::new())).unwrap();
        for b in &pt {
            assert_eq!(w.write(std::slice::from_ref(b)).unwrap(), 1);
        }
        let ct1 = w.finish().unwrap().inner;
        assert_eq!(
            client.decrypt(&ct1, &dopts).unwrap().plaintext,
            pt,
            "{suite}"
        );

        // EncryptingReader: 1-byte reads over an inner reader giving 1 byte per call.
        let mut r = EncryptingReader::new(&client, &opts, Pieces::bytewise(&pt[..])).unwrap();
        let mut ct2 = Vec::new();
        let mut b = [0u8; 1];
        while r.read(&mut b).unwrap() == 1 {
            ct2.push(b[0]);
        }
        assert_eq!(
            client.decrypt(&ct2, &dopts).unwrap().plaintext,
            pt,
            "{suite}"
        );

        // DecryptingReader: 1-byte reads over 1-byte inner reads.
        let mut r = DecryptingReader::new(&client, &dopts, Pieces::bytewise(&ct1[..])).unwrap();
        let mut out = Vec::new();
        while r.read(&mut b).unwrap() == 1 {
            out.push(b[0]);
        }
        assert_eq!(out, pt, "{suite}");

        // DecryptingWriter: 1-byte writes into an inner writer that takes 1 byte per call.
        let mut w = DecryptingWriter::new(&client, &dopts, Pieces::bytewise(Vec::new()));
        for b in &ct2 {
            assert_eq!(w.write(std::slice::from_ref(b)).unwrap(), 1);
        }
        assert_eq!(w.finish().unwrap().inner, pt, "{suite}");
    }
}

#[test]
fn random_chunk_sizes_through_all_four_adapters() {
    let k = aes("k", 1, 32);
    let mut rng = StdRng::seed_from_u64(0x5eed);
    for round in 0..40 {
        let suite = ALL_SUITES[round % ALL_SUITES.len()];
        let client = client_for(suite);
        let len = if round % 5 == 0 {
            rng.gen_range(0..10)
        } else {
            rng.gen_range(0..40_000)
        };
        let frame = *[1u32, 2, 3, 16, 255, 1000, 4096, 10_000]
            .get(rng.gen_range(0..8))
            .unwrap();
        let frame = if frame == 1 && len > 5000 { 17 } else { frame };
        let pt = bytes(len, round as u64);
        let what = format!("round {round}: {suite}, {len} B, frame {frame}");
        let opts = EncryptOptions::keyring(&k).suite(suite).frame_length(frame);
        let dopts = DecryptOptions::keyring(&k);
        let max = rng.gen_range(1..9000);

        let inner = Pieces::new(Vec::new(), rng.gen_range(1..9000), round as u64);
        let mut w = EncryptingWriter::new(&client, &opts, inner).unwrap();
        write_in_pieces(&mut w, &pt, max, &mut rng).unwrap();
        let ct1 = w.finish().unwrap().inner;
        let expected_len = client.ciphertext_len(
            suite,
            &client.parse_header(&ct1).unwrap().encrypted_data_keys,
            &client.parse_header(&ct1).unwrap().encryption_context,
            frame,
            len as u64,
        );
        assert_eq!(expected_len.unwrap(), ct1.len() as u64, "{what}");

        let inner = Pieces::new(&pt[..], rng.gen_range(1..9000), round as u64).with_interrupts();
        let mut r = EncryptingReader::new(&client, &opts, inner).unwrap();
        let ct2 = read_in_pieces(&mut r, max, &mut rng).unwrap();
        assert_eq!(
            client.decrypt(&ct2, &dopts).unwrap().plaintext,
            pt,
            "{what}"
        );

        let inner = Pieces::new(&ct1[..], rng.gen_range(1..9000), round as u64).with_interrupts();
        let mut r = DecryptingReader::new(&client, &dopts, inner).unwrap();
        assert_eq!(read_in_pieces(&mut r, max, &mut rng).unwrap(), pt, "{what}");

        let inner = Pieces::new(Vec::new(), rng.gen_range(1..9000), round as u64);
        let mut w = DecryptingWriter::new(&client, &dopts, inner);
        write_in_pieces(&mut w, &ct2, max, &mut rng).unwrap();
        assert_eq!(w.finish().unwrap().inner, pt, "{what}");
    }
}

#[test]
fn tampered_frames_release_exactly_the_frames_before_them() {
    let k = aes("k", 1, 32);
    const F: usize = 1000;
    for suite in [S0478, S0578] {
        let client = Client::default();
        let pt = bytes(10 * F, 9);
        let ct = client
            .encrypt(
                &pt,
                &EncryptOptions::keyring(&k)
                    .suite(suite)
                    .frame_length(F as u32),
            )
            .unwrap()
            .ciphertext;
        let header = client.parse_header(&ct).unwrap();
        let body_start = ct.len()
            - (9 * (F + 32) + 40 + F)
            - suite.signature().map_or(0, |a| 2 + a.fixed_signature_len());
        let m = Message {
            suite,
            client,
            pt: pt.clone(),
            ct: ct.clone(),
        };
        assert_eq!(header.frame_length as usize, F);
        // A byte inside regular frame i (0-based): frames 0..i are released, then the error.
        for i in [0, 4, 8] {
            let mut bad = ct.clone();
            bad[body_start + i * (F + 32) + 4 + 12 + 10] ^= 0x80;
            let (out, res) = via_reader(&m, &k, &bad, false);
            assert!(
                is_core(&res, esdk_core::Error::Authentication(AuthStage::FrameTag)),
                "{suite} {i}: {res:?}"
            );
            assert_eq!(out, pt[..i * F], "{suite} frame {i}");
            let (out, res) = via_writer(&m, &k, &bad, 333);
            assert!(
                is_core(&res, esdk_core::Error::Authentication(AuthStage::FrameTag)),
                "{suite} {i}: {res:?}"
            );
            assert_eq!(out, pt[..i * F], "{suite} frame {i}");
        }
        // The final frame: all regular frames are released, the final one never.
        let mut bad = ct.clone();
        bad[body_start + 9 * (F + 32) + 30] ^= 1;
        // (For signed suites the signature, which covers the final frame, is checked first.)
        let stage = if suite.is_signed() {
            AuthStage::Signature
        } else {
            AuthStage::FrameTag
        };
        let (out, res) = via_reader(&m, &k, &bad, false);
        assert!(
            is_core(&res, esdk_core::Error::Authentication(stage)),
            "{res:?}"
        );
        assert_eq!(out, pt[..9 * F]);
        if suite.is_signed() {
            // A bad signature: the final frame is held back until the signature verifies.
            let mut bad = ct.clone();
            let last = bad.len() - 5;
            bad[last] ^= 1;
            let (out, res) = via_reader(&m, &k, &bad, false);
            assert!(
                is_core(&res, esdk_core::Error::Authentication(AuthStage::Signature)),
                "{res:?}"
            );
            assert_eq!(out, pt[..9 * F]);
            let (out, res) = via_writer(&m, &k, &bad, usize::MAX);
            assert!(
                is_core(&res, esdk_core::Error::Authentication(AuthStage::Signature)),
                "{res:?}"
            );
            assert_eq!(out, pt[..9 * F]);
        }
    }
}

#[test]
fn unsigned_only_mode_on_the_decrypting_adapters() {
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
    let r = DecryptingReader::new(&client, &only, &signed[..]);
    assert!(matches!(r, Err(Error::Core(e)) if e == refused));
    let r = DecryptingReader::new(&client, &only, Pieces::bytewise(&signed[..]));
    assert!(matches!(r, Err(Error::Core(e)) if e == refused));
    // `write` took the bytes (Ok); the failure found in them comes with the next call.
    let mut w = DecryptingWriter::new(&client, &only, Vec::new());
    assert_eq!(w.write(&signed).unwrap(), signed.len());
    let err = w.flush().unwrap_err();
    assert_eq!(core_of_io(&err), Some(refused));
    let err = w.finish().unwrap_err();
    assert_eq!(core_of_io(&err), Some(refused));
    assert_eq!(k.decrypt_calls(), 0);
    let mut r = DecryptingReader::new(&client, &only, &unsigned[..]).unwrap();
    assert_eq!(read_all(&mut r).0, b"unsigned");
    let mut w = DecryptingWriter::new(&client, &only, Vec::new());
    w.write_all(&unsigned).unwrap();
    assert_eq!(w.finish().unwrap(), b"unsigned");
    assert_eq!(k.decrypt_calls(), 2);
}

#[test]
fn headers_and_contexts_are_reported() {
    let k = aes("k", 1, 32);
    let client = Client::default();
    let opts = EncryptOptions::keyring(&k)
        .encryption_context(ec(&[("who", "me")]))
        .frame_length(512);
    let mut w = EncryptingWriter::new(&client, &opts, Vec::new()).unwrap();
    let header = w.header().clone();
    assert_eq!(header.suite, S0578);
    assert_eq!(header.frame_length, 512);
    w.write_all(&bytes(2000, 1)).unwrap();
    let ct = w.finish().unwrap();
    let r = EncryptingReader::new(&client, &opts, &b"x"[..]).unwrap();
    assert_eq!(r.header().encryption_context.get("who"), Some("me"));
    let r = DecryptingReader::new(&client, &DecryptOptions::keyring(&k), &ct[..]).unwrap();
    assert_eq!(r.header(), Some(&header));
    assert_eq!(r.encryption_context(), Some(&header.encryption_context));
    let mut w = DecryptingWriter::new(&client, &DecryptOptions::keyring(&k), Vec::new());
    assert!(w.header().is_none());
    w.write_all(&ct[..ct.len() / 2]).unwrap();
    assert_eq!(w.header(), Some(&header));
}

#[test]
fn plaintext_length_bound_and_unfinished_messages() {
    let k = aes("k", 1, 32);
    let client = Client::default();
    let opts = EncryptOptions::keyring(&k)
        .suite(S0478)
        .plaintext_length(100)
        .frame_length(16);
    let mut w = EncryptingWriter::new(&client, &opts, Vec::new()).unwrap();
    w.write_all(&[1u8; 100]).unwrap();
    assert_eq!(
        client
            .decrypt(&w.finish().unwrap(), &DecryptOptions::keyring(&k))
            .unwrap()
            .plaintext,
        [1u8; 100]
    );
    let mut w = EncryptingWriter::new(&client, &opts, Vec::new()).unwrap();
    w.write_all(&[1u8; 60]).unwrap();
    assert!(w.write_all(&[1u8; 41]).is_err());
    let mut r = EncryptingReader::new(&client, &opts, &[0u8; 101][..]).unwrap();
    assert!(r.read_to_end(&mut Vec::new()).is_err());
    // A writer dropped without `finish` leaves a message no decryptor accepts.
    let mut sink = Vec::new();
    {
        let mut w = EncryptingWriter::new(
            &client,
            &EncryptOptions::keyring(&k).frame_length(16),
            &mut sink,
        )
        .unwrap();
        w.write_all(&[2u8; 50]).unwrap();
    }
    assert!(sink.len() > 100);
    let r = client.decrypt(&sink, &DecryptOptions::keyring(&k));
    assert!(
        matches!(r, Err(Error::Core(esdk_core::Error::Truncated))),
        "{r:?}"
    );
}

#[test]
fn decrypting_buffer_cap() {
    let k = aes("k", 1, 32);
    let client = Client::default();
    let ct = client
        .encrypt(
            &bytes(20_000, 1),
            &EncryptOptions::keyring(&k).suite(S0478).frame_length(8192),
        )
        .unwrap()
        .ciphertext;
    // The constructor reads only the header (which fits); the first frame does not.
    let mut r =
        DecryptingReader::with_max_buffer(&client, &DecryptOptions::keyring(&k), &ct[..], 4096)
            .unwrap();
    assert!(r.header().is_some());
    let e = read_all(&mut r).1.unwrap_err();
    assert!(
        matches!(std_of(&e), Some(Error::BufferLimit { limit: 4096, needed }) if *needed > 4096),
        "{e:?}"
    );
    let mut r = DecryptingReader::with_max_buffer(
        &client,
        &DecryptOptions::keyring(&k),
        &ct[..],
        8192 + 64,
    )
    .unwrap();
    assert_eq!(read_all(&mut r).0, bytes(20_000, 1));
}

/// One end of an in-memory pipe between two threads (bounded: back-pressure like a socket).
struct PipeWriter {
    tx: mpsc::SyncSender<Vec<u8>>,
    written: Arc<AtomicU64>,
}

impl Write for PipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tx
            .send(buf.to_vec())
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))?;
        self.written.fetch_add(buf.len() as u64, Ordering::SeqCst);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

struct PipeReader {
    rx: mpsc::Receiver<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    read: Arc<AtomicU64>,
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            match self.rx.recv() {
                Ok(v) => (self.cur, self.pos) = (v, 0),
                Err(_) => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        self.read.fetch_add(n as u64, Ordering::SeqCst);
        Ok(n)
    }
}

#[test]
fn a_64_mib_stream_is_processed_a_few_frames_at_a_time() {
    const F: u64 = 4096;
    const TOTAL: u64 = 64 << 20;
    const CHUNK: usize = 64 << 10;
    /// The decrypting reader pulls up to 64 KiB per read from its inner reader.
    const READ_CHUNK: u64 = 64 << 10;
    const PERIOD: usize = 65_521; // prime: the pattern never lines up with frames or chunks
    let base = bytes(PERIOD, 64);
    let pattern: Vec<u8> = base.iter().cycle().take(PERIOD + CHUNK).copied().collect(); // pattern[i] == base[i % PERIOD]
    let k = aes("k", 1, 32);
    let client = Client::default();
    let opts = EncryptOptions::keyring(&k)
        .suite(S0478)
        .frame_length(F as u32);
    let dopts = DecryptOptions::keyring(&k);
    let (tx, rx) = mpsc::sync_channel(2);
    let written = Arc::new(AtomicU64::new(0));
    let read = Arc::new(AtomicU64::new(0));
    let mut w = EncryptingWriter::new(
        &client,
        &opts,
        PipeWriter {
            tx,
            written: written.clone(),
        },
    )
    .unwrap();
    let h = w.header().clone();
    let header_len = client
        .ciphertext_len(
            S0478,
            &h.encrypted_data_keys,
            &h.encryption_context,
            F as u32,
            0,
        )
        .unwrap()
        - 40;

    std::thread::scope(|s| {
        s.spawn(|| {
            let mut sent = 0u64;
            while sent < TOTAL {
                let at = (sent % PERIOD as u64) as usize;
                w.write_all(&pattern[at..at + CHUNK]).unwrap();
                sent += CHUNK as u64;
                // Every full frame that is followed by more plaintext is out; at most one
                // frame of plaintext is held back.
                let sealed = (sent - 1) / F;
                assert_eq!(
                    written.load(Ordering::SeqCst),
                    header_len + sealed * (F + 32),
                    "after {sent} B"
                );
            }
            w.finish().unwrap();
        });

        let inner = PipeReader {
            rx,
            cur: Vec::new(),
            pos: 0,
            read: read.clone(),
        };
        let mut r = DecryptingReader::new(&client, &dopts, inner).unwrap();
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0u64;
        let mut max_ahead = 0;
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            let at = (got % PERIOD as u64) as usize;
            assert!(
                buf[..n] == pattern[at..at + n],
                "plaintext differs at {got}"
            );
            got += n as u64;
            // Ciphertext taken from the pipe beyond what the released plaintext accounts for.
            let accounted = header_len + (got / F) * (F + 32);
            max_ahead = max_ahead.max(read.load(Ordering::SeqCst) - accounted);
        }
        assert_eq!(got, TOTAL);
        assert!(
            max_ahead <= READ_CHUNK + 2 * (F + 40),
            "read {max_ahead} B ahead of the plaintext"
        );
        eprintln!(
            "64 MiB stream: ciphertext read at most {max_ahead} B ahead of the released plaintext"
        );
    });
    assert_eq!(written.load(Ordering::SeqCst), read.load(Ordering::SeqCst));
}

/// A writer that keeps what it is given and the size of the largest single write.
#[derive(Default)]
struct Recording {
    data: Vec<u8>,
    largest: usize,
}

impl Write for Recording {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.largest = self.largest.max(buf.len());
        self.data.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn one_huge_write_is_processed_in_bounded_pieces() {
    // A caller handing over 8 MiB at once must not make the writer buffer 8 MiB of output:
    // each `write` takes a bounded piece (`write_all` loops), so memory stays O(frame length).
    const BOUND: usize = 256 << 10;
    let k = aes("k", 1, 32);
    let client = Client::default();
    let pt = bytes(8 << 20, 12);
    for frame in [4096u32, 100_000] {
        let opts = EncryptOptions::keyring(&k).suite(S0478).frame_length(frame);
        let mut w = EncryptingWriter::new(&client, &opts, Recording::default()).unwrap();
        let taken = w.write(&pt).unwrap();
        assert!(
            taken > 0 && taken <= BOUND,
            "frame {frame}: one write took {taken} B"
        );
        w.write_all(&pt[taken..]).unwrap();
        let out = w.finish().unwrap();
        assert!(
            out.largest <= BOUND,
            "frame {frame}: {} B written out at once",
            out.largest
        );

        let mut d =
            DecryptingWriter::new(&client, &DecryptOptions::keyring(&k), Recording::default());
        let taken = d.write(&out.data).unwrap();
        assert!(
            taken > 0 && taken <= BOUND,
            "frame {frame}: one write took {taken} B"
        );
        d.write_all(&out.data[taken..]).unwrap();
        let plain = d.finish().unwrap();
        assert!(plain.data == pt);
        assert!(plain.largest <= frame as usize);
    }
}
