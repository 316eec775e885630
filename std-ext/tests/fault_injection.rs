//! Fault injection for all eight stream adapters (`std::io` and tokio; encrypting and
//! decrypting; readers and writers): the inner reader or writer returns `Interrupted`,
//! `WouldBlock`, `Pending` (tokio), short reads and writes, or a hard error at call index `k`
//! (every `k` for small messages, random `k` for large ones). Each adapter is driven the way
//! `std::io::copy`, `write_all`/`read_to_end`, tokio's `copy` and a hand-written retry loop
//! drive it.
//!
//! Invariant: the result is exactly the plaintext (or a message that decrypts to exactly the
//! plaintext), or an error; never different bytes. Faults that a driver is meant to survive
//! (`Interrupted`, `Pending`, and `WouldBlock` under a retry loop) must not fail at all. On an
//! error, a decrypting adapter has released at most a prefix of the plaintext.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::cast_possible_truncation,
    clippy::too_many_lines
)]

mod common;

use common::*;
use esdk_std::stream::io::{
    DecryptingReader, DecryptingWriter, EncryptingReader, EncryptingWriter,
};
use esdk_std::stream::tokio::{
    AsyncDecryptingReader, AsyncDecryptingWriter, AsyncEncryptingReader, AsyncEncryptingWriter,
};
use esdk_std::{AlgorithmSuite, Client, DecryptOptions, EncryptOptions};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

thread_local! {
    /// Inner calls of the latest run on this thread (every case runs on the test's thread).
    static LAST_CALLS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Cases run, reported at the end of each test.
static CASES: AtomicUsize = AtomicUsize::new(0);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    Interrupted,
    WouldBlock,
    /// tokio only: `Pending` (with an immediate wake-up).
    Pending,
    Hard,
}

/// When and how the inner reader or writer misbehaves.
#[derive(Clone, Copy, Debug)]
struct Plan {
    /// The call index that faults (`None`: no fault).
    at: Option<usize>,
    fault: Fault,
    /// At most this many bytes per call (short reads and writes).
    short: Option<usize>,
}

impl Plan {
    const CLEAN: Self = Self {
        at: None,
        fault: Fault::Hard,
        short: None,
    };
    /// Whether the driver must succeed despite this plan. (tokio's readiness protocol is
    /// `Pending`: a `WouldBlock` error inside `AsyncDecryptingReader::new` fails it.)
    fn survivable(&self, retry_loop: bool, a: Adapter) -> bool {
        match self.fault {
            _ if self.at.is_none() => true,
            Fault::Interrupted | Fault::Pending => true,
            Fault::WouldBlock => retry_loop && a != Adapter::AsyncDecReader,
            Fault::Hard => false,
        }
    }
}

/// Tracks calls and decides, per call, what to do.
#[derive(Debug)]
struct Injector {
    plan: Plan,
    calls: usize,
}

enum Act {
    Go(usize),
    Fail(Fault),
}

impl Injector {
    fn new(plan: Plan) -> Self {
        Self { plan, calls: 0 }
    }
    /// One call offering `len` bytes.
    fn call(&mut self, len: usize) -> Act {
        let c = self.calls;
        self.calls += 1;
        LAST_CALLS.with(|l| l.set(self.calls));
        if self.plan.at == Some(c) {
            return Act::Fail(self.plan.fault);
        }
        // Short: vary between 1 and the bound, by call index.
        let n = match self.plan.short {
            Some(s) => len.min(1 + c % s.max(1)),
            None => len,
        };
        Act::Go(n)
    }
}

fn io_err(f: Fault) -> io::Error {
    match f {
        Fault::Interrupted => io::ErrorKind::Interrupted.into(),
        Fault::WouldBlock | Fault::Pending => io::ErrorKind::WouldBlock.into(),
        Fault::Hard => io::Error::other("injected hard error"),
    }
}

#[derive(Debug)]
struct FaultyReader<'b> {
    data: &'b [u8],
    inj: Injector,
}

impl<'b> FaultyReader<'b> {
    fn new(data: &'b [u8], plan: Plan) -> Self {
        Self {
            data,
            inj: Injector::new(plan),
        }
    }
}

impl Read for FaultyReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self.inj.call(out.len().min(self.data.len())) {
            Act::Fail(f) => Err(io_err(f)),
            Act::Go(n) => {
                let (head, rest) = self.data.split_at(n);
                out[..n].copy_from_slice(head);
                self.data = rest;
                Ok(n)
            }
        }
    }
}

impl AsyncRead for FaultyReader<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.inj.call(buf.remaining().min(this.data.len())) {
            Act::Fail(Fault::Pending) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Act::Fail(f) => Poll::Ready(Err(io_err(f))),
            Act::Go(n) => {
                let (head, rest) = this.data.split_at(n);
                buf.put_slice(head);
                this.data = rest;
                Poll::Ready(Ok(()))
            }
        }
    }
}

#[derive(Debug)]
struct FaultyWriter {
    out: Vec<u8>,
    inj: Injector,
}

impl FaultyWriter {
    fn new(plan: Plan) -> Self {
        Self {
            out: Vec::new(),
            inj: Injector::new(plan),
        }
    }
}

impl Write for FaultyWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.inj.call(buf.len()) {
            Act::Fail(f) => Err(io_err(f)),
            Act::Go(n) => {
                self.out.extend_from_slice(&buf[..n]);
                Ok(n)
            }
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self.inj.call(0) {
            Act::Fail(f) => Err(io_err(f)),
            Act::Go(_) => Ok(()),
        }
    }
}

impl AsyncWrite for FaultyWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match this.inj.call(buf.len()) {
            Act::Fail(Fault::Pending) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Act::Fail(f) => Poll::Ready(Err(io_err(f))),
            Act::Go(n) => {
                this.out.extend_from_slice(&buf[..n]);
                Poll::Ready(Ok(n))
            }
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.inj.call(0) {
            Act::Fail(Fault::Pending) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Act::Fail(f) => Poll::Ready(Err(io_err(f))),
            Act::Go(_) => Poll::Ready(Ok(())),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

/// The eight adapters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Adapter {
    EncWriter,
    EncReader,
    DecReader,
    DecWriter,
    AsyncEncWriter,
    AsyncEncReader,
    AsyncDecReader,
    AsyncDecWriter,
}

const ADAPTERS: [Adapter; 8] = [
    Adapter::EncWriter,
    Adapter::EncReader,
    Adapter::DecReader,
    Adapter::DecWriter,
    Adapter::AsyncEncWriter,
    Adapter::AsyncEncReader,
    Adapter::AsyncDecReader,
    Adapter::AsyncDecWriter,
];

impl Adapter {
    fn is_async(self) -> bool {
        matches!(
            self,
            Self::AsyncEncWriter
                | Self::AsyncEncReader
                | Self::AsyncDecReader
                | Self::AsyncDecWriter
        )
    }
    fn encrypts(self) -> bool {
        matches!(
            self,
            Self::EncWriter | Self::EncReader | Self::AsyncEncWriter | Self::AsyncEncReader
        )
    }
    fn faults(self) -> &'static [Fault] {
        if self.is_async() {
            &[
                Fault::Interrupted,
                Fault::WouldBlock,
                Fault::Pending,
                Fault::Hard,
            ]
        } else {
            &[Fault::Interrupted, Fault::WouldBlock, Fault::Hard]
        }
    }
}

/// How the adapter is driven.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Driver {
    /// `std::io::copy` / `tokio::io::copy`.
    Copy,
    /// `write_all` + finish / `read_to_end`.
    All,
    /// A hand-written loop retrying `Interrupted` and `WouldBlock`, with varying piece sizes.
    RetryLoop,
}

const DRIVERS: [Driver; 3] = [Driver::Copy, Driver::All, Driver::RetryLoop];

/// One message: its plaintext, ciphertext, and the client and keyring that made it.
struct Msg {
    client: Client,
    pt: Vec<u8>,
    ct: Vec<u8>,
    suite: AlgorithmSuite,
    frame: u32,
}

fn msg(k: &esdk_std::keyring::RawAesKeyring, suite: AlgorithmSuite, frame: u32, len: usize) -> Msg {
    let client = client_for(suite);
    let pt = bytes(len, len as u64 ^ u64::from(frame));
    let ct = client
        .encrypt(&pt, &enc_opts(k, suite, frame))
        .unwrap()
        .ciphertext;
    Msg {
        client,
        pt,
        ct,
        suite,
        frame,
    }
}

fn enc_opts(
    k: &esdk_std::keyring::RawAesKeyring,
    suite: AlgorithmSuite,
    frame: u32,
) -> EncryptOptions<'_> {
    EncryptOptions::keyring(k)
        .suite(suite)
        .frame_length(frame)
        .encryption_context(ec(&[("purpose", "faults")]))
}

const RETRY_LIMIT: usize = 1 << 20;

fn retryable(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock
    )
}

/// Piece sizes of the retry loops.
fn piece(i: usize) -> usize {
    [1, 7, 13, 64, 4096, 3, 100_000][i % 7]
}

/// What one run produced: the output (ciphertext or plaintext) and the result.
struct Outcome {
    out: Vec<u8>,
    res: io::Result<()>,
}

fn run_std(
    a: Adapter,
    m: &Msg,
    k: &esdk_std::keyring::RawAesKeyring,
    plan: Plan,
    d: Driver,
) -> Outcome {
    let eopts = enc_opts(k, m.suite, m.frame);
    let dopts = DecryptOptions::keyring(k);
    match a {
        Adapter::EncWriter | Adapter::DecWriter => {
            let input: &[u8] = if a.encrypts() { &m.pt } else { &m.ct };
            // The writer is boxed behind a small trait so both directions share the drivers.
            let mut w: Box<dyn FinishWrite + '_> = if a.encrypts() {
                Box::new(EncryptingWriter::new(&m.client, &eopts, FaultyWriter::new(plan)).unwrap())
            } else {
                Box::new(DecryptingWriter::new(
                    &m.client,
                    &dopts,
                    FaultyWriter::new(plan),
                ))
            };
            let res = match d {
                Driver::Copy => io::copy(&mut &input[..], &mut w)
                    .map(|_| ())
                    .and_then(|()| w.try_finish()),
                Driver::All => w.write_all(input).and_then(|()| w.try_finish()),
                Driver::RetryLoop => (|| {
                    let (mut pos, mut i, mut spins) = (0, 0, 0);
                    while pos < input.len() {
                        let end = (pos + piece(i)).min(input.len());
                        i += 1;
                        match w.write(&input[pos..end]) {
                            Ok(n) => pos += n,
                            Err(e) if retryable(&e) && spins < RETRY_LIMIT => spins += 1,
                            Err(e) => return Err(e),
                        }
                    }
                    loop {
                        match w.try_finish() {
                            Ok(()) => return Ok(()),
                            Err(e) if retryable(&e) && spins < RETRY_LIMIT => spins += 1,
                            Err(e) => return Err(e),
                        }
                    }
                })(),
            };
            let inner = w.into_inner_box();
            Outcome {
                out: inner.out,
                res,
            }
        }
        Adapter::EncReader | Adapter::DecReader => {
            let input: &[u8] = if a.encrypts() { &m.pt } else { &m.ct };
            let src = FaultyReader::new(input, plan);
            let mut out = Vec::new();
            let res = if a.encrypts() {
                let mut r = EncryptingReader::new(&m.client, &eopts, src).unwrap();
                drive_std_reader(&mut r, &mut out, d)
            } else {
                match DecryptingReader::new(&m.client, &dopts, src) {
                    Ok(mut r) => drive_std_reader(&mut r, &mut out, d),
                    Err(e) => Err(e.into()),
                }
            };
            Outcome { out, res }
        }
        _ => unreachable!("async adapters run in run_async"),
    }
}

fn drive_std_reader<R: Read>(r: &mut R, out: &mut Vec<u8>, d: Driver) -> io::Result<()> {
    match d {
        Driver::Copy => io::copy(r, out).map(|_| ()),
        Driver::All => r.read_to_end(out).map(|_| ()),
        Driver::RetryLoop => {
            let mut buf = vec![0u8; 100_000];
            let (mut i, mut spins) = (0, 0);
            loop {
                let want = piece(i);
                i += 1;
                match r.read(&mut buf[..want]) {
                    Ok(0) => return Ok(()),
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                    Err(e) if retryable(&e) && spins < RETRY_LIMIT => spins += 1,
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

/// A finishing writer over a `FaultyWriter`, either direction.
trait FinishWrite: Write {
    fn try_finish(&mut self) -> io::Result<()>;
    fn into_inner_box(self: Box<Self>) -> FaultyWriter;
}

impl FinishWrite for EncryptingWriter<FaultyWriter> {
    fn try_finish(&mut self) -> io::Result<()> {
        EncryptingWriter::try_finish(self)
    }
    fn into_inner_box(self: Box<Self>) -> FaultyWriter {
        self.into_inner()
    }
}

impl FinishWrite for DecryptingWriter<'_, FaultyWriter> {
    fn try_finish(&mut self) -> io::Result<()> {
        DecryptingWriter::try_finish(self)
    }
    fn into_inner_box(self: Box<Self>) -> FaultyWriter {
        self.into_inner()
    }
}

async fn drive_async_writer<W: AsyncWrite + Unpin>(
    w: &mut W,
    input: &[u8],
    d: Driver,
) -> io::Result<()> {
    match d {
        Driver::Copy => {
            let mut src = input;
            tokio::io::copy(&mut src, w).await?;
            w.shutdown().await
        }
        Driver::All => {
            w.write_all(input).await?;
            w.shutdown().await
        }
        Driver::RetryLoop => {
            let (mut pos, mut i, mut spins) = (0, 0, 0);
            while pos < input.len() {
                let end = (pos + piece(i)).min(input.len());
                i += 1;
                match w.write(&input[pos..end]).await {
                    Ok(n) => pos += n,
                    Err(e) if retryable(&e) && spins < RETRY_LIMIT => spins += 1,
                    Err(e) => return Err(e),
                }
            }
            loop {
                match w.shutdown().await {
                    Ok(()) => return Ok(()),
                    Err(e) if retryable(&e) && spins < RETRY_LIMIT => spins += 1,
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

async fn drive_async_reader<R: AsyncRead + Unpin>(
    r: &mut R,
    out: &mut Vec<u8>,
    d: Driver,
) -> io::Result<()> {
    match d {
        Driver::Copy => tokio::io::copy(r, out).await.map(|_| ()),
        Driver::All => r.read_to_end(out).await.map(|_| ()),
        Driver::RetryLoop => {
            let mut buf = vec![0u8; 100_000];
            let (mut i, mut spins) = (0, 0);
            loop {
                let want = piece(i);
                i += 1;
                match r.read(&mut buf[..want]).await {
                    Ok(0) => return Ok(()),
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                    Err(e) if retryable(&e) && spins < RETRY_LIMIT => spins += 1,
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

async fn run_async(
    a: Adapter,
    m: &Msg,
    k: &esdk_std::keyring::RawAesKeyring,
    plan: Plan,
    d: Driver,
) -> Outcome {
    let eopts = enc_opts(k, m.suite, m.frame);
    let dopts = DecryptOptions::keyring(k);
    match a {
        Adapter::AsyncEncWriter => {
            let mut w = AsyncEncryptingWriter::new(&m.client, &eopts, FaultyWriter::new(plan))
                .await
                .unwrap();
            let res = drive_async_writer(&mut w, &m.pt, d).await;
            let inner = w.into_inner();
            Outcome {
                out: inner.out,
                res,
            }
        }
        Adapter::AsyncDecWriter => {
            let mut w = AsyncDecryptingWriter::new(&m.client, &dopts, FaultyWriter::new(plan));
            let res = drive_async_writer(&mut w, &m.ct, d).await;
            let inner = w.into_inner();
            Outcome {
                out: inner.out,
                res,
            }
        }
        Adapter::AsyncEncReader => {
            let mut r =
                AsyncEncryptingReader::new(&m.client, &eopts, FaultyReader::new(&m.pt, plan))
                    .await
                    .unwrap();
            let mut out = Vec::new();
            let res = drive_async_reader(&mut r, &mut out, d).await;
            Outcome { out, res }
        }
        Adapter::AsyncDecReader => {
            let mut out = Vec::new();
            let res =
                match AsyncDecryptingReader::new(&m.client, &dopts, FaultyReader::new(&m.ct, plan))
                    .await
                {
                    Ok(mut r) => drive_async_reader(&mut r, &mut out, d).await,
                    Err(e) => Err(e.into()),
                };
            Outcome { out, res }
        }
        _ => unreachable!("std adapters run in run_std"),
    }
}

/// Runs one case and checks the invariant; returns the number of inner calls (for the sweep).
fn check(
    rt: &tokio::runtime::Runtime,
    a: Adapter,
    m: &Msg,
    k: &esdk_std::keyring::RawAesKeyring,
    plan: Plan,
    d: Driver,
) -> usize {
    CASES.fetch_add(1, Ordering::Relaxed);
    LAST_CALLS.with(|l| l.set(0));
    let o = if a.is_async() {
        rt.block_on(run_async(a, m, k, plan, d))
    } else {
        run_std(a, m, k, plan, d)
    };
    let ctx = || {
        format!(
            "{a:?} {d:?} {plan:?} suite {:04x} frame {} len {}",
            m.suite.id(),
            m.frame,
            m.pt.len()
        )
    };
    match &o.res {
        Ok(()) => {
            if a.encrypts() {
                let back = m.client.decrypt(&o.out, &DecryptOptions::keyring(k));
                match back {
                    Ok(b) => assert!(b.plaintext == m.pt, "wrong plaintext: {}", ctx()),
                    Err(e) => panic!("invalid message ({e}): {}", ctx()),
                }
            } else {
                assert!(o.out == m.pt, "wrong plaintext: {}", ctx());
            }
        }
        Err(e) => {
            assert!(
                !plan.survivable(d == Driver::RetryLoop, a),
                "failed ({e}) where it must succeed: {}",
                ctx()
            );
            if !a.encrypts() {
                assert!(
                    m.pt.starts_with(&o.out),
                    "released bytes that are not a prefix of the plaintext: {}",
                    ctx()
                );
            }
        }
    }
    LAST_CALLS.with(std::cell::Cell::get)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn key() -> esdk_std::keyring::RawAesKeyring {
    aes("faults", 3, 32)
}

/// Every adapter, every driver, every fault at every call index, over small messages (empty,
/// one byte, several frames; unsigned and signed), with and without short reads and writes.
fn sweep(adapters: &[Adapter]) {
    let k = key();
    let rt = runtime();
    let mut msgs = Vec::new();
    for (suite, lens) in [(S0478, &[0usize, 1, 100][..]), (S0578, &[70][..])] {
        for &len in lens {
            msgs.push(msg(&k, suite, 32, len));
        }
    }
    let before = CASES.load(Ordering::Relaxed);
    for &a in adapters {
        for m in &msgs {
            for short in [None, Some(5)] {
                for d in DRIVERS {
                    // A clean run counts the inner calls.
                    let clean = Plan {
                        short,
                        ..Plan::CLEAN
                    };
                    let n = check(&rt, a, m, &k, clean, d) + 1;
                    for &fault in a.faults() {
                        for at in 0..n {
                            let plan = Plan {
                                at: Some(at),
                                fault,
                                short,
                            };
                            check(&rt, a, m, &k, plan, d);
                        }
                    }
                }
            }
        }
    }
    eprintln!(
        "{adapters:?}: {} fault-injection cases",
        CASES.load(Ordering::Relaxed) - before
    );
}

#[test]
fn std_writers_every_call_index() {
    sweep(&[Adapter::EncWriter, Adapter::DecWriter]);
}

#[test]
fn std_readers_every_call_index() {
    sweep(&[Adapter::EncReader, Adapter::DecReader]);
}

#[test]
fn tokio_writers_every_call_index() {
    sweep(&[Adapter::AsyncEncWriter, Adapter::AsyncDecWriter]);
}

#[test]
fn tokio_readers_every_call_index() {
    sweep(&[Adapter::AsyncEncReader, Adapter::AsyncDecReader]);
}

/// Large messages (1 MiB, 4 KiB and 64 KiB frames): faults at random call indices.
#[test]
fn large_messages_random_call_indices() {
    let k = key();
    let rt = runtime();
    let msgs = [
        msg(&k, S0478, 4096, 1 << 20),
        msg(&k, S0578, 65536, 300_000),
    ];
    let mut rng = StdRng::seed_from_u64(19);
    let before = CASES.load(Ordering::Relaxed);
    for a in ADAPTERS {
        for m in &msgs {
            for d in DRIVERS {
                let short = Some(4099);
                let calls = check(
                    &rt,
                    a,
                    m,
                    &k,
                    Plan {
                        short,
                        ..Plan::CLEAN
                    },
                    d,
                );
                let n = calls + 1;
                for &fault in a.faults() {
                    for _ in 0..3 {
                        let plan = Plan {
                            at: Some(rng.gen_range(0..n)),
                            fault,
                            short,
                        };
                        check(&rt, a, m, &k, plan, d);
                    }
                }
            }
        }
    }
    eprintln!(
        "large messages: {} fault-injection cases",
        CASES.load(Ordering::Relaxed) - before
    );
}

fn suite_strategy() -> impl Strategy<Value = AlgorithmSuite> {
    prop::sample::select(ALL_SUITES.to_vec())
}

fn fault_strategy() -> impl Strategy<Value = Fault> {
    prop::sample::select(vec![
        Fault::Interrupted,
        Fault::WouldBlock,
        Fault::Pending,
        Fault::Hard,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
    /// Suites × frame lengths × lengths × faults × adapters × drivers.
    #[test]
    fn property_suites_frames_faults(
        suite in suite_strategy(),
        frame in prop::sample::select(vec![1u32, 2, 17, 64, 1000, 4096]),
        len in 0usize..3000,
        adapter in prop::sample::select(ADAPTERS.to_vec()),
        driver in prop::sample::select(DRIVERS.to_vec()),
        fault in fault_strategy(),
        at in prop::option::of(0usize..400),
        short in prop::option::of(1usize..50),
    ) {
        let fault = if !adapter.is_async() && fault == Fault::Pending { Fault::WouldBlock } else { fault };
        let k = key();
        let rt = runtime();
        let m = msg(&k, suite, frame, len);
        check(&rt, adapter, &m, &k, Plan { at, fault, short }, driver);
    }
}
