//! `std::io` adapters, in both directions and both shapes.
//!
//! * [`EncryptingWriter`]: plaintext written in, ciphertext to an inner writer; [`EncryptingWriter::finish`].
//! * [`EncryptingReader`]: ciphertext read out of a plaintext reader.
//! * [`DecryptingReader`]: plaintext read out of a ciphertext reader.
//! * [`DecryptingWriter`]: ciphertext written in, plaintext to an inner writer; [`DecryptingWriter::finish`].
//!
//! Errors surface at the read or write that detects them. A decrypting reader returns end of
//! stream (`Ok(0)`) only after the whole message verified, signature included; truncated input
//! is an `UnexpectedEof` error, never a short plaintext that ends normally. Memory stays
//! O(frame length).
//!
//! # I/O contracts
//!
//! * `write` returns `Ok(n)` exactly when it took `n` bytes; it never reports an error for bytes
//!   it took. If passing them on to the inner writer then fails, the bytes stay buffered and the
//!   error is reported by the next `write`, `flush` or `finish` (retrying that call resumes).
//! * `ErrorKind::Interrupted` from an inner reader or writer is retried inside.
//! * `ErrorKind::WouldBlock` (non-blocking sockets) is passed up with nothing lost: retry the
//!   same call once the inner reader or writer is ready. A writer whose inner writer would
//!   block takes no new bytes until its buffered output has gone out, so memory stays bounded.
//! * Finishing is retryable: [`EncryptingWriter::try_finish`] and
//!   [`DecryptingWriter::try_finish`] take `&mut self` and may be called again after any
//!   error; `finish(self)` is the blocking convenience over them.
//! * A writer dropped without finishing leaves an incomplete message: the encrypting writer's
//!   output has no final frame (no decryptor accepts it), the decrypting writer's output was
//!   never verified to the end (treat it as unverified).
//!
//! # Buffer bound
//!
//! A decrypting stream holds unprocessed ciphertext in one buffer whose allocation never
//! exceeds its `max_buffer` (default [`DEFAULT_MAX_BUFFER`], 64 MiB). The buffer must hold, at
//! once, the whole header, and then one whole frame: `frame length + 32` bytes for a regular
//! frame, and for the final frame `frame length + 40`, plus the footer of signed suites (2 +
//! at most 103 bytes), plus one byte to confirm the end of input. So a message decrypts with
//! `max_buffer ≥ max(header length, frame length + 146)`; a non-framed body needs
//! `body length + 36 + 106`. Anything larger fails with [`Error::BufferLimit`] before that
//! much is buffered. The buffer grows with the bytes received (doubling from 4 KiB) and each
//! byte of it is zeroed once, when it is first allocated. A sequential decrypting writer also
//! holds one frame of plaintext beside it (the staging frame it writes from; see below), and
//! so does a sequential decrypting reader whose frames are at most 64 KiB when it is read
//! through buffers smaller than a frame.
//!
//! # Where plaintext is written
//!
//! A sequential [`DecryptingReader`] opens each regular frame straight into the caller's
//! `read` buffer when the frame's plaintext fits in what is left of it (one pass from the
//! ciphertext to the caller's buffer, no copy); one `read` may return several frames that are
//! already buffered, and never waits for input once it has bytes to return. With a smaller
//! buffer the frame is opened into a staging frame (frames up to 64 KiB) or decrypted in place
//! in the input buffer (larger ones), and copied out over several calls; the final frame is
//! always decrypted in place and copied out, and released only after the end of input and,
//! for signed suites, the signature verified. A tag failure leaves nothing of that frame in the
//! caller's buffer (what was written is wiped) and fails this call or, if it already has
//! verified bytes to return, the next one; every later call fails too. A sequential
//! [`DecryptingWriter`] opens each regular frame into one staging frame, writes it from there
//! and overwrites it with the next frame (wiped on drop and failure).

use super::engine::{DecryptEngine, DriverAction, EncryptEngine, ReadStep, WRITE_BATCH};
use crate::client::{Client, DecryptOptions, EncryptOptions, MaterialsSource, Mode};
use crate::error::{Error, Result};
use crate::parallel::decrypt::ParallelDecrypt;
use crate::parallel::encrypt::ParallelEncrypt;
use esdk_core::{EncryptionContext, Header};
use std::io::{self, Read, Write};

/// Read size for pulling ciphertext from an inner reader.
const READ_CHUNK: usize = 64 * 1024;
/// Default cap on what a decrypting stream buffers for one frame, body or header (64 MiB);
/// raise it with `with_max_buffer` for messages with larger frames (see the module docs for
/// the exact bound).
pub const DEFAULT_MAX_BUFFER: usize = 64 << 20;

pub(crate) fn new_encrypt_engine(
    client: &Client,
    opts: &EncryptOptions<'_>,
) -> Result<EncryptEngine> {
    crate::executor::block_on(new_encrypt_engine_async(client, opts))
}

pub(crate) async fn new_encrypt_engine_async(
    client: &Client,
    opts: &EncryptOptions<'_, impl Mode>,
) -> Result<EncryptEngine> {
    let req = client.encryption_request(opts, opts.plaintext_length)?;
    let m = opts.source.encryption_materials(&req).await?;
    client.check_encryption_materials(&req, &m)?;
    let config = client.encrypt_config(opts);
    let mut engine = EncryptEngine::new(
        &m,
        config,
        opts.plaintext_length,
        0,
        client.backend(),
        client.rng().clone(),
    )?;
    engine.set_empty_final_frame(opts.empty_final_frame);
    Ok(engine)
}

/// The encrypt driver of an adapter: the engine, with `opts.parallelism` workers (1, the
/// default, is the sequential engine itself).
pub(crate) fn encrypt_driver(
    engine: EncryptEngine,
    opts: &EncryptOptions<'_, impl Mode>,
) -> Result<ParallelEncrypt> {
    ParallelEncrypt::new(
        engine,
        crate::parallel::workers_for(opts.parallelism, 0),
        opts.non_framed,
    )
}

/// The decrypt driver of an adapter (as [`encrypt_driver`]).
pub(crate) fn decrypt_driver(
    client: &Client,
    opts: &DecryptOptions<'_, impl Mode>,
    max_buffer: usize,
) -> ParallelDecrypt {
    ParallelDecrypt::new(
        new_decrypt_engine(client, opts, max_buffer),
        crate::parallel::workers_for(opts.parallelism, 0),
    )
}

pub(crate) fn new_decrypt_engine(
    client: &Client,
    opts: &DecryptOptions<'_, impl Mode>,
    max_buffer: usize,
) -> DecryptEngine {
    DecryptEngine::new(
        client.decrypt_config(opts),
        opts.reproduced_encryption_context.clone(),
        max_buffer,
        client.backend(),
    )
}

/// Writes all buffered ciphertext to `inner`, retrying `Interrupted`.
fn drain<W: Write>(engine: &mut EncryptEngine, inner: &mut W) -> io::Result<()> {
    while !engine.output().is_empty() {
        match inner.write(engine.output()) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => engine.consume_output(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Flushes `inner`, retrying `Interrupted`.
fn flush_retrying<W: Write>(inner: &mut W) -> io::Result<()> {
    loop {
        match inner.flush() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// Keeps the error of work done after bytes were taken, for the next call. `WouldBlock` is not
/// kept: the work simply resumes on the next call.
fn defer(slot: &mut Option<io::Error>, r: io::Result<()>) {
    if let Err(e) = r {
        if e.kind() != io::ErrorKind::WouldBlock {
            *slot = Some(e);
        }
    }
}

/// Encrypts what is written to it into an inner writer. Call [`EncryptingWriter::finish`] (or
/// [`EncryptingWriter::try_finish`]): dropping it without finishing leaves an incomplete
/// message that no decryptor accepts.
///
/// `write` returns `Ok(n)` once it has taken `n` bytes; a later failure of the inner writer is
/// reported by the next call. `Interrupted` is retried inside; on `WouldBlock` retry the same
/// call (see the [module docs](self)).
#[derive(Debug)]
pub struct EncryptingWriter<W: Write> {
    inner: W,
    pe: ParallelEncrypt,
    deferred: Option<io::Error>,
}

impl<W: Write> EncryptingWriter<W> {
    /// Obtains the materials and prepares the header (written with the first bytes).
    ///
    /// # Errors
    /// Materials or configuration failures.
    pub fn new(client: &Client, opts: &EncryptOptions<'_>, inner: W) -> Result<Self> {
        Ok(Self {
            inner,
            pe: encrypt_driver(new_encrypt_engine(client, opts)?, opts)?,
            deferred: None,
        })
    }
    /// The header of the message being written.
    pub fn header(&self) -> &Header {
        self.pe.engine.header()
    }
    /// Worker threads sealing frames now (see [`EncryptOptions::parallelism`]): 0 with
    /// parallelism 1, before the first regular frame, and after finishing or an error.
    pub fn running_workers(&self) -> usize {
        self.pe.running_workers()
    }
    /// Writes the final frame and footer, flushes, and returns the inner writer.
    ///
    /// # Errors
    /// I/O errors (after which the writer is gone: with an inner writer that may return
    /// `WouldBlock`, use [`EncryptingWriter::try_finish`]), a deferred error of an earlier
    /// write, or an exceeded plaintext-length bound.
    pub fn finish(mut self) -> io::Result<W> {
        self.try_finish()?;
        Ok(self.inner)
    }
    /// Writes the final frame and footer and flushes, keeping the writer: after any error
    /// (`WouldBlock` included) call it again to resume; once it returned `Ok`, further calls
    /// only flush. Then [`EncryptingWriter::into_inner`] returns the inner writer.
    ///
    /// ```
    /// use esdk_std::keyring::RawAesKeyring;
    /// use esdk_std::stream::io::EncryptingWriter;
    /// use esdk_std::{Client, DecryptOptions, EncryptOptions};
    /// use std::io::{self, Write};
    ///
    /// /// A non-blocking sink: every other call would block.
    /// struct Sink(Vec<u8>, usize);
    /// impl Write for Sink {
    ///     fn write(&mut self, b: &[u8]) -> io::Result<usize> {
    ///         self.1 += 1;
    ///         if self.1 % 2 == 0 {
    ///             return Err(io::ErrorKind::WouldBlock.into());
    ///         }
    ///         self.0.extend_from_slice(b);
    ///         Ok(b.len())
    ///     }
    ///     fn flush(&mut self) -> io::Result<()> {
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let keyring = RawAesKeyring::new("ns", "key", &[1u8; 32])?;
    /// let client = Client::default();
    /// let opts = EncryptOptions::keyring(&keyring);
    /// let mut w = EncryptingWriter::new(&client, &opts, Sink(Vec::new(), 0))?;
    /// let data = vec![7u8; 100_000];
    /// let mut pos = 0;
    /// while pos < data.len() {
    ///     match w.write(&data[pos..]) {
    ///         Ok(n) => pos += n, // taken, never to be written again
    ///         Err(e) if e.kind() == io::ErrorKind::WouldBlock => {} // (wait for readiness)
    ///         Err(e) => return Err(e.into()),
    ///     }
    /// }
    /// loop {
    ///     match w.try_finish() {
    ///         Ok(()) => break,
    ///         Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
    ///         Err(e) => return Err(e.into()),
    ///     }
    /// }
    /// let message = w.into_inner().0;
    /// let opened = client.decrypt(&message, &DecryptOptions::keyring(&keyring))?;
    /// assert_eq!(opened.plaintext, data);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`EncryptingWriter::finish`].
    pub fn try_finish(&mut self) -> io::Result<()> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        drain(&mut self.pe.engine, &mut self.inner)?;
        if !self.pe.engine.is_finished() {
            self.pe.finish().map_err(io::Error::from)?;
        }
        drain(&mut self.pe.engine, &mut self.inner)?;
        flush_retrying(&mut self.inner)
    }
    /// The inner writer (the message is complete only if `try_finish` returned `Ok`).
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for EncryptingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        // Earlier output first: nothing new is taken while the inner writer is behind.
        drain(&mut self.pe.engine, &mut self.inner)?;
        if buf.is_empty() {
            return Ok(0);
        }
        let n = buf.len().min(self.pe.write_batch());
        self.pe.push(&buf[..n]).map_err(io::Error::from)?;
        // The bytes are taken: whatever happens downstream now is reported by the next call.
        let r = drain(&mut self.pe.engine, &mut self.inner);
        defer(&mut self.deferred, r);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        drain(&mut self.pe.engine, &mut self.inner)?;
        flush_retrying(&mut self.inner)
    }
}

/// Reads ciphertext: encrypts the plaintext of an inner reader. `Interrupted` from the inner
/// reader is retried inside; `WouldBlock` is returned with nothing lost (retry the read).
#[derive(Debug)]
pub struct EncryptingReader<R: Read> {
    inner: R,
    pe: ParallelEncrypt,
    chunk: Vec<u8>,
}

impl<R: Read> EncryptingReader<R> {
    /// Obtains the materials; the header is the first thing read.
    ///
    /// # Errors
    /// Materials or configuration failures.
    pub fn new(client: &Client, opts: &EncryptOptions<'_>, inner: R) -> Result<Self> {
        let engine = new_encrypt_engine(client, opts)?;
        let chunk = vec![0u8; engine.frame_len().clamp(1, READ_CHUNK)];
        Ok(Self {
            inner,
            pe: encrypt_driver(engine, opts)?,
            chunk,
        })
    }
    /// The header of the message.
    pub fn header(&self) -> &Header {
        self.pe.engine.header()
    }
    /// Worker threads sealing frames now (as [`EncryptingWriter::running_workers`]).
    pub fn running_workers(&self) -> usize {
        self.pe.running_workers()
    }
    /// The inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for EncryptingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let avail = self.pe.engine.output();
            if !avail.is_empty() {
                let n = avail.len().min(out.len());
                out[..n].copy_from_slice(&avail[..n]);
                self.pe.engine.consume_output(n);
                return Ok(n);
            }
            if self.pe.engine.is_finished() {
                return Ok(0);
            }
            let n = match self.inner.read(&mut self.chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.pe.finish().map_err(io::Error::from)?;
            } else {
                self.pe.push(&self.chunk[..n]).map_err(io::Error::from)?;
            }
        }
    }
}

/// Reads once from `inner` into the engine (retrying `Interrupted`).
fn fill<R: Read>(engine: &mut DecryptEngine, inner: &mut R) -> Result<()> {
    // Grow only with bytes actually received: never size a buffer from a declared length.
    let spare = engine.spare(engine.read_want(READ_CHUNK))?;
    let got = loop {
        match inner.read(spare) {
            Ok(g) => break g,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    };
    engine.commit(got);
    if got == 0 {
        engine.set_eof();
    }
    Ok(())
}

/// What a pump should stop at.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Until {
    /// The header is verified (reads no further than that needs).
    Header,
    /// Plaintext is available or the message is done.
    Plaintext,
}

/// Drives a decrypt driver from a reader; returns whether plaintext is available.
fn pump<R: Read>(
    pd: &mut ParallelDecrypt,
    inner: &mut R,
    source: &MaterialsSource<'_>,
    until: Until,
) -> Result<bool> {
    loop {
        if until == Until::Header && pd.engine.header().is_some() {
            return Ok(!pd.plaintext().is_empty());
        }
        match pd.step()? {
            DriverAction::Plaintext => return Ok(true),
            DriverAction::Done => return Ok(false),
            DriverAction::NeedMaterials(req) => {
                let m = crate::executor::block_on(source.decryption_materials(&req))?;
                pd.engine.set_materials(m);
            }
            DriverAction::NeedInput => match read_input(pd, inner) {
                Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Frames already read are opened and released now, not after more input
                    // (what the sequential reader would return); `WouldBlock` only when
                    // nothing is on its way.
                    pd.stall()?;
                    if !pd.wait_any()? {
                        return Err(Error::Io(e));
                    }
                }
                r => r?,
            },
        }
    }
}

/// Reads once from `inner`: in parallel mode straight into the batch of regular frames being
/// filled when the driver says so ([`ParallelDecrypt::direct_spare`]), else into the engine.
fn read_input<R: Read>(pd: &mut ParallelDecrypt, inner: &mut R) -> Result<()> {
    let Some(spare) = pd.direct_spare()? else {
        return fill(&mut pd.engine, inner);
    };
    let got = loop {
        match inner.read(spare) {
            Ok(g) => break g,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    };
    pd.direct_commit(got)
}

/// Reads plaintext: decrypts the message of an inner reader. `read` returns `Ok(0)` only after
/// the whole message (signature included) verified.
///
/// Construction reads the header, and only what the header needs (one inner read may take
/// bytes beyond it; they stay buffered). `Interrupted` is retried inside. If the inner reader
/// returns `WouldBlock` before the header is complete, construction still succeeds with
/// everything read so far kept: [`DecryptingReader::header`] is `None` until
/// [`DecryptingReader::read_header`] or `read` completes it (each returns `WouldBlock` until the
/// bytes arrive; retry the same call). Nothing is ever lost on `WouldBlock`.
#[derive(Debug)]
pub struct DecryptingReader<'a, R: Read> {
    inner: R,
    pd: ParallelDecrypt,
    source: MaterialsSource<'a>,
}

impl<'a, R: Read> DecryptingReader<'a, R> {
    /// Reads and verifies the header (obtaining the materials) before returning, unless the
    /// inner reader would block first (see the type docs).
    ///
    /// # Errors
    /// Header must-fail conditions, materials failures, I/O errors other than `WouldBlock`.
    pub fn new(client: &Client, opts: &DecryptOptions<'a>, inner: R) -> Result<Self> {
        Self::with_max_buffer(client, opts, inner, DEFAULT_MAX_BUFFER)
    }
    /// As [`DecryptingReader::new`], with a cap on the bytes buffered for one frame or header
    /// (see the [module docs](self) for the exact bound).
    ///
    /// # Errors
    /// As [`DecryptingReader::new`].
    pub fn with_max_buffer(
        client: &Client,
        opts: &DecryptOptions<'a>,
        inner: R,
        max_buffer: usize,
    ) -> Result<Self> {
        let mut pd = decrypt_driver(client, opts, max_buffer);
        pd.read_directly();
        let mut r = Self {
            inner,
            pd,
            source: opts.source,
        };
        match r.drive_header() {
            Err(Error::Io(e)) if e.kind() == io::ErrorKind::WouldBlock => Ok(r),
            Err(e) => Err(e),
            Ok(()) => Ok(r),
        }
    }
    fn drive_header(&mut self) -> Result<()> {
        if self.pd.engine.reads_into_caller() {
            // Sequential: no further than the header, so that the frames already buffered
            // are opened by `read`, straight into the caller's buffer.
            let engine = &mut self.pd.engine;
            while engine.header().is_none() {
                match engine.step_header()? {
                    DriverAction::NeedInput if engine.header().is_some() => break,
                    DriverAction::NeedInput => fill(engine, &mut self.inner)?,
                    DriverAction::NeedMaterials(req) => {
                        let m = crate::executor::block_on(self.source.decryption_materials(&req))?;
                        engine.set_materials(m);
                    }
                    DriverAction::Plaintext | DriverAction::Done => break,
                }
            }
            return Ok(());
        }
        pump(&mut self.pd, &mut self.inner, &self.source, Until::Header)?;
        Ok(())
    }
    /// Completes reading and verifying the header, if construction could not (`WouldBlock`);
    /// returns it. Resumable: after `WouldBlock`, call again.
    ///
    /// # Errors
    /// Header must-fail conditions, materials failures, I/O errors.
    pub fn read_header(&mut self) -> io::Result<&Header> {
        self.drive_header()?;
        self.pd
            .engine
            .header()
            .ok_or_else(|| Error::Core(esdk_core::Error::Truncated).into())
    }
    /// The verified header (`None` until it has been read).
    pub fn header(&self) -> Option<&Header> {
        self.pd.engine.header()
    }
    /// The authenticated encryption context (stored plus reproduced-only pairs).
    pub fn encryption_context(&self) -> Option<&EncryptionContext> {
        self.pd.engine.encryption_context()
    }
    /// Bytes currently allocated for buffering ciphertext (never above the `max_buffer` cap).
    pub fn buffer_capacity(&self) -> usize {
        self.pd.engine.buffer_capacity()
    }
    /// The most bytes this reader ever held in its buffers: the ciphertext buffer and, with
    /// parallelism above 1, the frame batches of the workers (at most `workers + 2` batches,
    /// a batch being one frame or consecutive small frames: about 64 KiB, or for the frames
    /// a reader reads straight from its source after the header, `512 KiB / workers`
    /// clamped to 64–256 KiB).
    pub fn peak_buffered(&self) -> usize {
        self.pd.peak_buffered()
    }
    /// Worker threads opening frames now (see [`DecryptOptions::parallelism`]): 0 with
    /// parallelism 1, before the first regular frame, and after an error.
    pub fn running_workers(&self) -> usize {
        self.pd.running_workers()
    }
    /// The inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for DecryptingReader<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.pd.engine.reads_into_caller() {
            // Sequential: regular frames are opened straight into `out` when they fit.
            return read_into_caller(&mut self.pd.engine, &mut self.inner, &self.source, out)
                .map_err(io::Error::from);
        }
        if pump(
            &mut self.pd,
            &mut self.inner,
            &self.source,
            Until::Plaintext,
        )? {
            Ok(self.pd.read(out))
        } else {
            Ok(0)
        }
    }
}

/// A sequential decrypting reader's `read` (see [`DecryptEngine::read_step`]): reads from
/// `inner` only while nothing was written to `out`.
fn read_into_caller<R: Read>(
    engine: &mut DecryptEngine,
    inner: &mut R,
    source: &MaterialsSource<'_>,
    out: &mut [u8],
) -> Result<usize> {
    loop {
        match engine.read_step(out)? {
            ReadStep::Read(n) => return Ok(n),
            ReadStep::Action(DriverAction::Done) => return Ok(0),
            ReadStep::Action(DriverAction::NeedInput) => fill(engine, inner)?,
            ReadStep::Action(DriverAction::NeedMaterials(req)) => {
                let m = crate::executor::block_on(source.decryption_materials(&req))?;
                engine.set_materials(m);
            }
            ReadStep::Action(DriverAction::Plaintext) => {
                return Err(Error::Internal("read step left plaintext unread"));
            }
        }
    }
}

/// Decrypts ciphertext written to it into an inner writer. Call [`DecryptingWriter::finish`]
/// (or [`DecryptingWriter::try_finish`]) to verify the end of the message; until it returns
/// `Ok`, treat what was written as unverified. Dropped without finishing, the plaintext written
/// so far was never verified to the end of the message.
///
/// `write` returns `Ok(n)` once it has taken `n` bytes; a later failure (of the message or of
/// the inner writer) is reported by the next call. `Interrupted` is retried inside; on
/// `WouldBlock` retry the same call (see the [module docs](self)).
#[derive(Debug)]
pub struct DecryptingWriter<'a, W: Write> {
    inner: W,
    pd: ParallelDecrypt,
    source: MaterialsSource<'a>,
    deferred: Option<io::Error>,
}

impl<'a, W: Write> DecryptingWriter<'a, W> {
    /// A decrypting writer; materials are obtained when the header has arrived.
    pub fn new(client: &Client, opts: &DecryptOptions<'a>, inner: W) -> Self {
        Self::with_max_buffer(client, opts, inner, DEFAULT_MAX_BUFFER)
    }
    /// As [`DecryptingWriter::new`] with a cap on buffered bytes (see the
    /// [module docs](self) for the exact bound).
    pub fn with_max_buffer(
        client: &Client,
        opts: &DecryptOptions<'a>,
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
    /// The most bytes this writer ever held in its buffers (as
    /// [`DecryptingReader::peak_buffered`]).
    pub fn peak_buffered(&self) -> usize {
        self.pd.peak_buffered()
    }
    /// Worker threads opening frames now (as [`DecryptingReader::running_workers`]).
    pub fn running_workers(&self) -> usize {
        self.pd.running_workers()
    }

    /// Runs the engine: obtains materials, writes plaintext out (retrying `Interrupted`).
    fn run(&mut self) -> io::Result<()> {
        loop {
            match self.pd.step().map_err(io::Error::from)? {
                DriverAction::Plaintext => match self.inner.write(self.pd.plaintext()) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => self.pd.consume_plaintext(n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                },
                DriverAction::NeedMaterials(req) => {
                    let m = crate::executor::block_on(self.source.decryption_materials(&req))
                        .map_err(io::Error::from)?;
                    self.pd.engine.set_materials(m);
                }
                DriverAction::NeedInput | DriverAction::Done => return Ok(()),
            }
        }
    }

    /// Signals the end of the ciphertext, verifies the end of the message (truncation,
    /// signature, trailing data), flushes and returns the inner writer.
    ///
    /// # Errors
    /// Any failure of the message; I/O errors (after which the writer is gone: with an inner
    /// writer that may return `WouldBlock`, use [`DecryptingWriter::try_finish`]).
    pub fn finish(mut self) -> io::Result<W> {
        self.try_finish()?;
        Ok(self.inner)
    }
    /// As [`DecryptingWriter::finish`], keeping the writer: after any error (`WouldBlock`
    /// included) call it again to resume. No more bytes are taken after the first call. Then
    /// [`DecryptingWriter::into_inner`] returns the inner writer.
    ///
    /// # Errors
    /// As [`DecryptingWriter::finish`].
    pub fn try_finish(&mut self) -> io::Result<()> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        self.run()?;
        self.pd.engine.set_eof();
        self.run()?;
        if !self.pd.engine.is_done() {
            return Err(Error::Core(esdk_core::Error::Truncated).into());
        }
        flush_retrying(&mut self.inner)
    }
    /// The inner writer (verified to the end only if `try_finish` returned `Ok`).
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: Write> Write for DecryptingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        // Pending plaintext first: nothing new is taken while the inner writer is behind.
        self.run()?;
        if buf.is_empty() {
            return Ok(0);
        }
        // Within a frame, only what completes it: frames then line up with the buffer.
        let n = buf
            .len()
            .min(self.pd.engine.read_want(WRITE_BATCH))
            .min(WRITE_BATCH);
        self.pd.engine.push(&buf[..n]).map_err(io::Error::from)?;
        // The bytes are taken: what happens to them now is reported by the next call.
        let r = self.run();
        defer(&mut self.deferred, r);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        if let Some(e) = self.deferred.take() {
            return Err(e);
        }
        self.run()?;
        flush_retrying(&mut self.inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyring::RawAesKeyring;

    /// A source that returns one byte per `read`.
    struct OneByte<'b>(&'b [u8]);
    impl Read for OneByte<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            match (self.0.split_first(), out.first_mut()) {
                (Some((b, rest)), Some(o)) => {
                    *o = *b;
                    self.0 = rest;
                    Ok(1)
                }
                _ => Ok(0),
            }
        }
    }

    /// 1 MiB through a 1-byte-per-read source: the decrypt buffer zero-fills each byte of its
    /// allocation once (not 64 KiB per read), and the allocation stays at its cap or below.
    #[test]
    fn one_byte_reads_zero_each_buffer_byte_once() -> Result<()> {
        let k = RawAesKeyring::new("ns", "key", &[7u8; 32])?;
        let client = Client::builder().build();
        let pt: Vec<u8> = (0..1u32 << 20)
            .map(|i| (i % 251).to_le_bytes()[0])
            .collect();
        let ct = client
            .encrypt(&pt, &EncryptOptions::keyring(&k).frame_length(4096))?
            .ciphertext;
        let opts = DecryptOptions::keyring(&k);
        for cap in [DEFAULT_MAX_BUFFER, 8192] {
            let mut r = DecryptingReader::with_max_buffer(&client, &opts, OneByte(&ct), cap)?;
            let mut out = Vec::new();
            r.read_to_end(&mut out)?;
            assert!(out == pt, "plaintext differs");
            let zeroed = r.pd.engine.bytes_zeroed();
            let capacity = r.buffer_capacity() as u64;
            // Each byte of the allocation is zeroed once: no per-read zeroing (before the
            // fix: 64 KiB per inner read, about 72 GB here).
            assert_eq!(zeroed, capacity, "cap {cap}");
            assert!(
                capacity <= cap as u64 && capacity <= 128 * 1024,
                "{capacity}"
            );
        }
        Ok(())
    }
}
