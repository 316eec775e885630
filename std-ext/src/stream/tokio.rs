//! tokio `AsyncRead` / `AsyncWrite` adapters (feature `tokio`), the async twins of
//! [`super::io`]: same engines, same guarantees.
//!
//! * [`AsyncEncryptingWriter`]: `shutdown()` writes the final frame and footer.
//! * [`AsyncEncryptingReader`], [`AsyncDecryptingReader`] (end of stream = verified message).
//! * [`AsyncDecryptingWriter`]: `shutdown()` verifies the end of the message.
//!
//! I/O contracts (as in [`super::io`]): `poll_write` returns `Ready(Ok(n))` exactly when it
//! took `n` bytes, and a later failure downstream is reported by the next call; it returns
//! `Pending` (taking nothing) while the inner writer is behind. `Pending` from an inner reader
//! or writer loses nothing; `Interrupted` is retried inside. `poll_shutdown` is resumable.
//! A writer dropped without `shutdown` leaves an incomplete message (encrypting: no final
//! frame, rejected by every decryptor; decrypting: output never verified to the end).
//! The buffer bound of the decrypting adapters is the one of [`super::io`].

use super::engine::{DecryptEngine, DriverAction, EncryptEngine, ReadStep, WRITE_BATCH};
use super::io::{DEFAULT_MAX_BUFFER, decrypt_driver, encrypt_driver, new_encrypt_engine_async};
use crate::client::{Client, DecryptOptions, EncryptOptions, MaterialsSource, Mode};
use crate::error::{Error, Result};
use crate::keyring::BoxFuture;
use crate::materials::DecryptionMaterials;
use crate::parallel::decrypt::ParallelDecrypt;
use crate::parallel::encrypt::ParallelEncrypt;
use esdk_core::{EncryptionContext, Header};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const READ_CHUNK: usize = 64 * 1024;

fn poll_drain<W: AsyncWrite + Unpin>(
    engine: &mut EncryptEngine,
    inner: &mut W,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    while !engine.output().is_empty() {
        match ready!(Pin::new(&mut *inner).poll_write(cx, engine.output())) {
            Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Ok(n) => engine.consume_output(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
    Poll::Ready(Ok(()))
}

/// Keeps the error of work done after bytes were taken, for the next call (`Pending` and
/// `WouldBlock` just resume on the next call).
fn defer(slot: &mut Option<io::Error>, p: Poll<io::Result<()>>) {
    if let Poll::Ready(Err(e)) = p {
        if e.kind() != io::ErrorKind::WouldBlock {
            *slot = Some(e);
        }
    }
}

/// Polls `inner.poll_flush`, retrying `Interrupted`.
fn poll_flush_retrying<W: AsyncWrite + Unpin>(
    inner: &mut W,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    loop {
        match ready!(Pin::new(&mut *inner).poll_flush(cx)) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return Poll::Ready(other),
        }
    }
}

/// Polls `inner.poll_shutdown`, retrying `Interrupted`.
fn poll_shutdown_retrying<W: AsyncWrite + Unpin>(
    inner: &mut W,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    loop {
        match ready!(Pin::new(&mut *inner).poll_shutdown(cx)) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return Poll::Ready(other),
        }
    }
}

/// Encrypts what is written into an inner `AsyncWrite`. `shutdown()` finishes the message;
/// dropped without it, the message is incomplete and no decryptor accepts it.
#[derive(Debug)]
pub struct AsyncEncryptingWriter<W> {
    inner: W,
    pe: ParallelEncrypt,
    deferred: Option<io::Error>,
}

impl<W: AsyncWrite + Unpin> AsyncEncryptingWriter<W> {
    /// Obtains the materials (awaiting asynchronous key providers).
    ///
    /// # Errors
    /// Materials or configuration failures.
    pub async fn new(
        client: &Client,
        opts: &EncryptOptions<'_, impl Mode>,
        inner: W,
    ) -> Result<Self> {
        let engine = new_encrypt_engine_async(client, opts).await?;
        Ok(Self {
            inner,
            pe: encrypt_driver(engine, opts)?,
            deferred: None,
        })
    }
    /// The header of the message being written.
    pub fn header(&self) -> &Header {
        self.pe.engine.header()
    }
    /// Worker threads sealing frames now (see [`EncryptOptions::parallelism`]).
    pub fn running_workers(&self) -> usize {
        self.pe.running_workers()
    }
    /// Finishes the message (as `shutdown()`: final frame, footer, inner shutdown) and returns
    /// the inner writer.
    ///
    /// # Errors
    /// The engine's or the inner writer's failure.
    pub async fn finish(mut self) -> io::Result<W> {
        tokio::io::AsyncWriteExt::shutdown(&mut self).await?;
        Ok(self.inner)
    }
    /// The inner writer (after `shutdown`).
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for AsyncEncryptingWriter<W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Some(e) = this.deferred.take() {
            return Poll::Ready(Err(e));
        }
        loop {
            // Earlier output first: nothing new is taken while the inner writer is behind.
            ready!(poll_drain(&mut this.pe.engine, &mut this.inner, cx))?;
            if buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            let n = buf.len().min(this.pe.write_batch());
            let taken = this
                .pe
                .push_some(&buf[..n], false)
                .map_err(io::Error::from)?;
            if taken > 0 {
                // Taken: start writing; what is left (or fails) shows on the next call.
                let p = poll_drain(&mut this.pe.engine, &mut this.inner, cx);
                defer(&mut this.deferred, p);
                return Poll::Ready(Ok(taken));
            }
            // Every worker is busy: the one finishing a batch wakes this task.
            if !this.pe.poll_ready(cx.waker()).map_err(io::Error::from)? {
                return Poll::Pending;
            }
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.deferred.take() {
            return Poll::Ready(Err(e));
        }
        ready!(poll_drain(&mut this.pe.engine, &mut this.inner, cx))?;
        poll_flush_retrying(&mut this.inner, cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.deferred.take() {
            return Poll::Ready(Err(e));
        }
        while !this.pe.engine.is_finished() {
            ready!(poll_drain(&mut this.pe.engine, &mut this.inner, cx))?;
            if !this.pe.finish_step(false).map_err(io::Error::from)?
                && !this.pe.poll_ready(cx.waker()).map_err(io::Error::from)?
            {
                return Poll::Pending;
            }
        }
        ready!(poll_drain(&mut this.pe.engine, &mut this.inner, cx))?;
        poll_shutdown_retrying(&mut this.inner, cx)
    }
}

/// Reads ciphertext: encrypts the plaintext of an inner `AsyncRead`.
#[derive(Debug)]
pub struct AsyncEncryptingReader<R> {
    inner: R,
    pe: ParallelEncrypt,
    chunk: Vec<u8>,
    /// Plaintext read but not yet taken by the driver: `chunk[taken..filled]`.
    filled: usize,
    taken: usize,
    eof: bool,
}

impl<R: AsyncRead + Unpin> AsyncEncryptingReader<R> {
    /// Obtains the materials.
    ///
    /// # Errors
    /// Materials or configuration failures.
    pub async fn new(
        client: &Client,
        opts: &EncryptOptions<'_, impl Mode>,
        inner: R,
    ) -> Result<Self> {
        let engine = new_encrypt_engine_async(client, opts).await?;
        let chunk = vec![0u8; engine.frame_len().clamp(1, READ_CHUNK)];
        Ok(Self {
            inner,
            pe: encrypt_driver(engine, opts)?,
            chunk,
            filled: 0,
            taken: 0,
            eof: false,
        })
    }
    /// The header of the message.
    pub fn header(&self) -> &Header {
        self.pe.engine.header()
    }
    /// Worker threads sealing frames now (see [`EncryptOptions::parallelism`]).
    pub fn running_workers(&self) -> usize {
        self.pe.running_workers()
    }
    /// The inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for AsyncEncryptingReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            let avail = this.pe.engine.output();
            if !avail.is_empty() {
                let n = avail.len().min(out.remaining());
                out.put_slice(&avail[..n]);
                this.pe.engine.consume_output(n);
                return Poll::Ready(Ok(()));
            }
            if this.pe.engine.is_finished() || out.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            // Progress without waiting for a worker: hand over read plaintext, or finish.
            let progressed = if this.taken < this.filled {
                let data = this.chunk.get(this.taken..this.filled).unwrap_or(&[]);
                let t = this.pe.push_some(data, false).map_err(io::Error::from)?;
                this.taken += t;
                t > 0
            } else if this.eof {
                this.pe.finish_step(false).map_err(io::Error::from)?
            } else {
                let mut rb = ReadBuf::new(&mut this.chunk);
                match ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Poll::Ready(Err(e)),
                }
                let n = rb.filled().len();
                (this.filled, this.taken, this.eof) = (n, 0, n == 0);
                true
            };
            // Every worker is busy: the one finishing a batch wakes this task.
            if !progressed && !this.pe.poll_ready(cx.waker()).map_err(io::Error::from)? {
                return Poll::Pending;
            }
        }
    }
}

/// Polls the inner reader for more ciphertext into the engine (retrying `Interrupted`).
fn poll_fill<R: AsyncRead + Unpin>(
    engine: &mut DecryptEngine,
    inner: &mut R,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    loop {
        let spare = engine
            .spare(engine.read_want(READ_CHUNK))
            .map_err(io::Error::from)?;
        let mut rb = ReadBuf::new(spare);
        match ready!(Pin::new(&mut *inner).poll_read(cx, &mut rb)) {
            Ok(()) => {
                let got = rb.filled().len();
                engine.commit(got);
                if got == 0 {
                    engine.set_eof();
                }
                return Poll::Ready(Ok(()));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}

/// Reads plaintext: decrypts the message of an inner `AsyncRead`. End of stream is reported
/// only after the whole message, signature included, verified.
#[derive(Debug)]
pub struct AsyncDecryptingReader<R> {
    inner: R,
    pd: ParallelDecrypt,
}

impl<R: AsyncRead + Unpin> AsyncDecryptingReader<R> {
    /// Reads and verifies the header (awaiting the materials) before returning; reads no
    /// further than the header needs (one inner read may take bytes beyond it, which stay
    /// buffered). `Pending` loses nothing; cancelling this future drops the inner reader.
    ///
    /// # Errors
    /// Header must-fail conditions, materials failures, I/O errors.
    pub async fn new(
        client: &Client,
        opts: &DecryptOptions<'_, impl Mode>,
        inner: R,
    ) -> Result<Self> {
        Self::with_max_buffer(client, opts, inner, DEFAULT_MAX_BUFFER).await
    }
    /// As [`AsyncDecryptingReader::new`] with a cap on buffered bytes (bound: see
    /// [`super::io`]).
    ///
    /// # Errors
    /// As [`AsyncDecryptingReader::new`].
    pub async fn with_max_buffer(
        client: &Client,
        opts: &DecryptOptions<'_, impl Mode>,
        mut inner: R,
        max_buffer: usize,
    ) -> Result<Self> {
        let mut pd = decrypt_driver(client, opts, max_buffer);
        pd.read_directly();
        while pd.engine.header().is_none() {
            // Sequential: no further than the header, so that the frames already buffered
            // are opened by `poll_read`, straight into the caller's buffer.
            let step = if pd.engine.reads_into_caller() {
                match pd.engine.step_header()? {
                    DriverAction::NeedInput if pd.engine.header().is_some() => break,
                    a => Some(a),
                }
            } else {
                pd.try_step()?
            };
            // Workers start only after the header: nothing here waits for them.
            match step {
                Some(DriverAction::NeedInput) => {
                    std::future::poll_fn(|cx| poll_fill(&mut pd.engine, &mut inner, cx)).await?;
                }
                Some(DriverAction::NeedMaterials(req)) => {
                    let m = opts.source.decryption_materials(&req).await?;
                    pd.engine.set_materials(m);
                }
                Some(DriverAction::Plaintext | DriverAction::Done) | None => break,
            }
        }
        Ok(Self { inner, pd })
    }
    /// The verified header (always `Some`: construction reads it).
    pub fn header(&self) -> Option<&Header> {
        self.pd.engine.header()
    }
    /// The verified header, as [`super::io::DecryptingReader::read_header`]. Construction
    /// already read and verified it (a pending inner reader makes `new` wait, where the
    /// `std::io` reader returns with the header incomplete), so this returns it at once.
    ///
    /// # Errors
    /// None in practice; kept for the `std::io` shape (`Truncated` if there were no header).
    pub async fn read_header(&mut self) -> io::Result<&Header> {
        self.pd
            .engine
            .header()
            .ok_or_else(|| Error::Core(esdk_core::Error::Truncated).into())
    }
    /// The authenticated encryption context.
    pub fn encryption_context(&self) -> Option<&EncryptionContext> {
        self.pd.engine.encryption_context()
    }
    /// Bytes currently allocated for buffering ciphertext (never above the `max_buffer` cap).
    pub fn buffer_capacity(&self) -> usize {
        self.pd.engine.buffer_capacity()
    }
    /// The most bytes ever held in buffers (as [`super::io::DecryptingReader::peak_buffered`]).
    pub fn peak_buffered(&self) -> usize {
        self.pd.peak_buffered()
    }
    /// Worker threads opening frames now (see [`DecryptOptions::parallelism`]).
    pub fn running_workers(&self) -> usize {
        self.pd.running_workers()
    }
    /// The inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for AsyncDecryptingReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if out.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        if this.pd.engine.reads_into_caller() {
            // Sequential: regular frames are opened straight into `out` when they fit.
            return poll_read_into_caller(&mut this.pd.engine, &mut this.inner, cx, out);
        }
        loop {
            match this.pd.try_step().map_err(io::Error::from)? {
                Some(DriverAction::Plaintext) => {
                    // Finished frames in order while `out` has room (never waiting).
                    let n = this.pd.read(out.initialize_unfilled());
                    out.advance(n);
                    return Poll::Ready(Ok(()));
                }
                Some(DriverAction::Done) => return Poll::Ready(Ok(())),
                Some(DriverAction::NeedMaterials(_)) => {
                    return Poll::Ready(Err(Error::Internal(
                        "materials requested after the header",
                    )
                    .into()));
                }
                Some(DriverAction::NeedInput) => {
                    match poll_read_input(&mut this.pd, &mut this.inner, cx) {
                        Poll::Ready(r) => r?,
                        Poll::Pending => {
                            // Frames already read go to a worker now, not after more input;
                            // the worker finishing them wakes this task too.
                            this.pd.stall().map_err(io::Error::from)?;
                            if this.pd.in_flight() == 0
                                || !this.pd.poll_ready(cx.waker()).map_err(io::Error::from)?
                            {
                                return Poll::Pending;
                            }
                        }
                    }
                }
                // Waiting for a worker: the one finishing a batch wakes this task.
                None => {
                    if !this.pd.poll_ready(cx.waker()).map_err(io::Error::from)? {
                        return Poll::Pending;
                    }
                }
            }
        }
    }
}

/// Polls `inner` once: in parallel mode straight into the batch of regular frames being filled
/// when the driver says so ([`ParallelDecrypt::direct_spare`]), else into the engine.
fn poll_read_input<R: AsyncRead + Unpin>(
    pd: &mut ParallelDecrypt,
    inner: &mut R,
    cx: &mut Context<'_>,
) -> Poll<io::Result<()>> {
    let got = {
        let Some(spare) = pd.direct_spare().map_err(io::Error::from)? else {
            return poll_fill(&mut pd.engine, inner, cx);
        };
        loop {
            let mut rb = ReadBuf::new(&mut *spare);
            match ready!(Pin::new(&mut *inner).poll_read(cx, &mut rb)) {
                Ok(()) => break rb.filled().len(),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    };
    Poll::Ready(pd.direct_commit(got).map_err(io::Error::from))
}

/// A sequential decrypting reader's `poll_read` (see [`DecryptEngine::read_step`]): polls
/// `inner` only while nothing was written to `out`. The unfilled part of `out` is initialized
/// (zeroed where the caller had not: once per byte, as `ReadBuf` keeps track).
fn poll_read_into_caller<R: AsyncRead + Unpin>(
    engine: &mut DecryptEngine,
    inner: &mut R,
    cx: &mut Context<'_>,
    out: &mut ReadBuf<'_>,
) -> Poll<io::Result<()>> {
    loop {
        let dst = out.initialize_unfilled();
        match engine.read_step(dst).map_err(io::Error::from)? {
            ReadStep::Read(n) => {
                out.advance(n);
                return Poll::Ready(Ok(()));
            }
            ReadStep::Action(DriverAction::Done) => return Poll::Ready(Ok(())),
            ReadStep::Action(DriverAction::NeedInput) => ready!(poll_fill(engine, inner, cx))?,
            ReadStep::Action(_) => {
                return Poll::Ready(Err(
                    Error::Internal("materials requested after the header").into()
                ));
            }
        }
    }
}

/// Decrypts ciphertext written to it into an inner `AsyncWrite`. `shutdown()` verifies the end
/// of the message; until it succeeds, treat what was written as unverified. Bytes written
/// after `shutdown` began are refused with an error.
pub struct AsyncDecryptingWriter<'a, W> {
    inner: W,
    pd: ParallelDecrypt,
    source: MaterialsSource<'a>,
    pending: Option<BoxFuture<'a, Result<DecryptionMaterials>>>,
    eof_sent: bool,
    deferred: Option<io::Error>,
}

impl<W> std::fmt::Debug for AsyncDecryptingWriter<'_, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncDecryptingWriter")
            .field("engine", &self.pd)
            .finish_non_exhaustive()
    }
}

impl<'a, W: AsyncWrite + Unpin> AsyncDecryptingWriter<'a, W> {
    /// A decrypting writer; materials are awaited when the header has arrived.
    pub fn new(client: &Client, opts: &DecryptOptions<'a, impl Mode>, inner: W) -> Self {
        Self::with_max_buffer(client, opts, inner, DEFAULT_MAX_BUFFER)
    }
    /// As [`AsyncDecryptingWriter::new`] with a cap on buffered bytes (bound: see
    /// [`super::io`]).
    pub fn with_max_buffer(
        client: &Client,
        opts: &DecryptOptions<'a, impl Mode>,
        inner: W,
        max_buffer: usize,
    ) -> Self {
        let mut pd = decrypt_driver(client, opts, max_buffer);
        // Frames are opened out of place into one staging frame written from there.
        pd.engine.set_staging(true);
        Self {
            inner,
            pd,
            source: opts.source,
            pending: None,
            eof_sent: false,
            deferred: None,
        }
    }
    /// The verified header, once available.
    pub fn header(&self) -> Option<&Header> {
        self.pd.engine.header()
    }
    /// The authenticated encryption context, once the header verified.
    pub fn encryption_context(&self) -> Option<&EncryptionContext> {
        self.pd.engine.encryption_context()
    }
    /// Bytes currently allocated for buffering ciphertext (never above the `max_buffer` cap).
    pub fn buffer_capacity(&self) -> usize {
        self.pd.engine.buffer_capacity()
    }
    /// The most bytes ever held in buffers (as [`super::io::DecryptingReader::peak_buffered`]).
    pub fn peak_buffered(&self) -> usize {
        self.pd.peak_buffered()
    }
    /// Worker threads opening frames now (see [`DecryptOptions::parallelism`]).
    pub fn running_workers(&self) -> usize {
        self.pd.running_workers()
    }
    /// Verifies the end of the message (as `shutdown()`) and returns the inner writer.
    ///
    /// # Errors
    /// A truncated or unauthenticated message, or the inner writer's failure.
    pub async fn finish(mut self) -> io::Result<W> {
        tokio::io::AsyncWriteExt::shutdown(&mut self).await?;
        Ok(self.inner)
    }
    /// The inner writer (after `shutdown`).
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// Runs the engine: awaits materials, writes plaintext out; Ready when it needs input or is done.
    fn poll_run(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            if let Some(fut) = self.pending.as_mut() {
                let m = ready!(fut.as_mut().poll(cx)).map_err(io::Error::from)?;
                self.pending = None;
                self.pd.engine.set_materials(m);
            }
            let step = match self.pd.try_step().map_err(io::Error::from)? {
                Some(step) => step,
                // Waiting for a worker: the one finishing a batch wakes this task.
                None if self.pd.poll_ready(cx.waker()).map_err(io::Error::from)? => continue,
                None => return Poll::Pending,
            };
            match step {
                DriverAction::Plaintext => {
                    match ready!(Pin::new(&mut self.inner).poll_write(cx, self.pd.plaintext())) {
                        Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                        Ok(n) => self.pd.consume_plaintext(n),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Poll::Ready(Err(e)),
                    }
                }
                DriverAction::NeedMaterials(req) => {
                    let source = self.source;
                    self.pending =
                        Some(Box::pin(
                            async move { source.decryption_materials(&req).await },
                        ));
                }
                DriverAction::NeedInput | DriverAction::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for AsyncDecryptingWriter<'_, W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.eof_sent {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                Error::Core(esdk_core::Error::Usage(
                    esdk_core::error::UsageError::AlreadyDone,
                )),
            )));
        }
        if let Some(e) = this.deferred.take() {
            return Poll::Ready(Err(e));
        }
        // Pending plaintext (and materials) first: nothing new is taken while behind.
        ready!(this.poll_run(cx))?;
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // Within a frame, only what completes it: frames then line up with the buffer.
        let n = buf
            .len()
            .min(this.pd.engine.read_want(WRITE_BATCH))
            .min(WRITE_BATCH);
        this.pd.engine.push(&buf[..n]).map_err(io::Error::from)?;
        // The bytes are taken: process now if possible; failures show on the next call.
        let p = this.poll_run(cx);
        defer(&mut this.deferred, p);
        Poll::Ready(Ok(n))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.deferred.take() {
            return Poll::Ready(Err(e));
        }
        ready!(this.poll_run(cx))?;
        poll_flush_retrying(&mut this.inner, cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(e) = this.deferred.take() {
            return Poll::Ready(Err(e));
        }
        if !this.eof_sent {
            ready!(this.poll_run(cx))?;
            this.pd.engine.set_eof();
            this.eof_sent = true;
        }
        ready!(this.poll_run(cx))?;
        if !this.pd.engine.is_done() {
            return Poll::Ready(Err(Error::Core(esdk_core::Error::Truncated).into()));
        }
        poll_shutdown_retrying(&mut this.inner, cx)
    }
}
