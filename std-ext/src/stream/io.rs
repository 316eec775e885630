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

use super::engine::{DecryptEngine, DecryptStep, EncryptEngine, WRITE_BATCH};
use crate::client::{Client, DecryptOptions, EncryptOptions, MaterialsSource};
use crate::error::{Error, Result};
use esdk_core::{EncryptionContext, Header};
use std::io::{self, Read, Write};

/// Read size for pulling ciphertext from an inner reader.
const READ_CHUNK: usize = 64 * 1024;
/// Default cap on what a decrypting stream buffers for one frame, body or header (64 MiB);
/// raise it with `with_max_buffer` for messages with larger frames.
pub const DEFAULT_MAX_BUFFER: usize = 64 << 20;

pub(crate) fn new_encrypt_engine(
    client: &Client,
    opts: &EncryptOptions<'_>,
) -> Result<EncryptEngine> {
    crate::block_on(new_encrypt_engine_async(client, opts))
}

pub(crate) async fn new_encrypt_engine_async(
    client: &Client,
    opts: &EncryptOptions<'_>,
) -> Result<EncryptEngine> {
    let req = client.encryption_request(opts, opts.plaintext_length)?;
    let m = opts.source.encryption_materials(&req).await?;
    client.check_encryption_materials(&req, &m)?;
    let config = client.encrypt_config(opts);
    EncryptEngine::new(
        &m,
        config,
        opts.plaintext_length,
        0,
        client.backend(),
        client.rng().clone(),
    )
}

pub(crate) fn new_decrypt_engine(
    client: &Client,
    opts: &DecryptOptions<'_>,
    max_buffer: usize,
) -> DecryptEngine {
    DecryptEngine::new(
        client.decrypt_config(opts),
        opts.reproduced_encryption_context.clone(),
        max_buffer,
        client.backend(),
    )
}

fn drain<W: Write>(engine: &mut EncryptEngine, inner: &mut W) -> io::Result<()> {
    while !engine.output().is_empty() {
        let n = inner.write(engine.output())?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        engine.consume_output(n);
    }
    Ok(())
}

/// Encrypts what is written to it into an inner writer. Call [`EncryptingWriter::finish`]:
/// dropping it without finishing leaves an incomplete message that no decryptor accepts.
#[derive(Debug)]
pub struct EncryptingWriter<W: Write> {
    inner: W,
    engine: EncryptEngine,
}

impl<W: Write> EncryptingWriter<W> {
    /// Obtains the materials and prepares the header (written with the first bytes).
    ///
    /// # Errors
    /// Materials or configuration failures.
    pub fn new(client: &Client, opts: &EncryptOptions<'_>, inner: W) -> Result<Self> {
        Ok(Self {
            inner,
            engine: new_encrypt_engine(client, opts)?,
        })
    }
    /// The header of the message being written.
    pub fn header(&self) -> &Header {
        self.engine.header()
    }
    /// Writes the final frame and footer, flushes, and returns the inner writer.
    ///
    /// # Errors
    /// I/O errors, or a plaintext-length bound that was not met exactly... (only exceeded
    /// bounds fail).
    pub fn finish(mut self) -> io::Result<W> {
        self.engine.finish().map_err(io::Error::from)?;
        drain(&mut self.engine, &mut self.inner)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for EncryptingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        drain(&mut self.engine, &mut self.inner)?;
        let n = buf.len().min(self.engine.write_batch());
        self.engine.push(&buf[..n]).map_err(io::Error::from)?;
        drain(&mut self.engine, &mut self.inner)?;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        drain(&mut self.engine, &mut self.inner)?;
        self.inner.flush()
    }
}

/// Reads ciphertext: encrypts the plaintext of an inner reader.
#[derive(Debug)]
pub struct EncryptingReader<R: Read> {
    inner: R,
    engine: EncryptEngine,
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
            engine,
            chunk,
        })
    }
    /// The header of the message.
    pub fn header(&self) -> &Header {
        self.engine.header()
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
            let avail = self.engine.output();
            if !avail.is_empty() {
                let n = avail.len().min(out.len());
                out[..n].copy_from_slice(&avail[..n]);
                self.engine.consume_output(n);
                return Ok(n);
            }
            if self.engine.is_finished() {
                return Ok(0);
            }
            let n = match self.inner.read(&mut self.chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.engine.finish().map_err(io::Error::from)?;
            } else {
                self.engine
                    .push(&self.chunk[..n])
                    .map_err(io::Error::from)?;
            }
        }
    }
}

/// Drives a decrypt engine from a reader until it has plaintext, is done, or fails.
fn pump<R: Read>(
    engine: &mut DecryptEngine,
    inner: &mut R,
    source: Option<&MaterialsSource<'_>>,
) -> Result<bool> {
    loop {
        match engine.step()? {
            DecryptStep::Plaintext => return Ok(true),
            DecryptStep::Done => return Ok(false),
            DecryptStep::NeedMaterials(req) => {
                let Some(src) = source else {
                    return Err(Error::Materials(
                        "materials requested after the header".into(),
                    ));
                };
                let m = crate::block_on(src.decryption_materials(&req))?;
                engine.set_materials(m);
            }
            DecryptStep::NeedInput => {
                // Grow only with bytes actually received: never size a buffer from a declared length.
                let want = READ_CHUNK;
                let spare = engine.spare(want)?;
                let len = spare.len();
                let got = loop {
                    match inner.read(spare) {
                        Ok(g) => break g,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            engine.commit(len, 0);
                            return Err(e.into());
                        }
                    }
                };
                engine.commit(len, got);
                if got == 0 {
                    engine.set_eof();
                }
            }
        }
    }
}

/// Reads plaintext: decrypts the message of an inner reader. `read` returns `Ok(0)` only after
/// the whole message (signature included) verified.
#[derive(Debug)]
pub struct DecryptingReader<R: Read> {
    inner: R,
    engine: DecryptEngine,
}

impl<R: Read> DecryptingReader<R> {
    /// Reads and verifies the header (obtaining the materials) before returning.
    ///
    /// # Errors
    /// Header must-fail conditions, materials failures, I/O errors.
    pub fn new(client: &Client, opts: &DecryptOptions<'_>, inner: R) -> Result<Self> {
        Self::with_max_buffer(client, opts, inner, DEFAULT_MAX_BUFFER)
    }
    /// As [`DecryptingReader::new`], with a cap on the bytes buffered for one frame or header.
    ///
    /// # Errors
    /// As [`DecryptingReader::new`].
    pub fn with_max_buffer(
        client: &Client,
        opts: &DecryptOptions<'_>,
        mut inner: R,
        max_buffer: usize,
    ) -> Result<Self> {
        let mut engine = new_decrypt_engine(client, opts, max_buffer);
        while engine.header().is_none() {
            if !pump(&mut engine, &mut inner, Some(&opts.source))? {
                break;
            }
        }
        Ok(Self { inner, engine })
    }
    /// The verified header.
    pub fn header(&self) -> Option<&Header> {
        self.engine.header()
    }
    /// The authenticated encryption context (stored plus reproduced-only pairs).
    pub fn encryption_context(&self) -> Option<&EncryptionContext> {
        self.engine.encryption_context()
    }
    /// The inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: Read> Read for DecryptingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if pump(&mut self.engine, &mut self.inner, None)? {
            Ok(self.engine.read(out))
        } else {
            Ok(0)
        }
    }
}

/// Decrypts ciphertext written to it into an inner writer. Call [`DecryptingWriter::finish`]
/// to verify the end of the message; until it returns `Ok`, treat what was written as
/// unverified.
#[derive(Debug)]
pub struct DecryptingWriter<'a, W: Write> {
    inner: W,
    engine: DecryptEngine,
    source: MaterialsSource<'a>,
}

impl<'a, W: Write> DecryptingWriter<'a, W> {
    /// A decrypting writer; materials are obtained when the header has arrived.
    pub fn new(client: &Client, opts: &DecryptOptions<'a>, inner: W) -> Self {
        Self::with_max_buffer(client, opts, inner, DEFAULT_MAX_BUFFER)
    }
    /// As [`DecryptingWriter::new`] with a cap on buffered bytes.
    pub fn with_max_buffer(
        client: &Client,
        opts: &DecryptOptions<'a>,
        inner: W,
        max_buffer: usize,
    ) -> Self {
        Self {
            inner,
            engine: new_decrypt_engine(client, opts, max_buffer),
            source: opts.source,
        }
    }
    /// The verified header, once available.
    pub fn header(&self) -> Option<&Header> {
        self.engine.header()
    }

    fn run(&mut self) -> io::Result<()> {
        loop {
            match self.engine.step().map_err(io::Error::from)? {
                DecryptStep::Plaintext => {
                    let n = self.inner.write(self.engine.plaintext())?;
                    if n == 0 {
                        return Err(io::ErrorKind::WriteZero.into());
                    }
                    self.engine.consume_plaintext(n);
                }
                DecryptStep::NeedMaterials(req) => {
                    let m = crate::block_on(self.source.decryption_materials(&req))
                        .map_err(io::Error::from)?;
                    self.engine.set_materials(m);
                }
                DecryptStep::NeedInput | DecryptStep::Done => return Ok(()),
            }
        }
    }

    /// Signals the end of the ciphertext, verifies the end of the message (truncation,
    /// signature, trailing data) and returns the inner writer.
    ///
    /// # Errors
    /// Any failure of the message; I/O errors.
    pub fn finish(mut self) -> io::Result<W> {
        self.engine.set_eof();
        self.run()?;
        if !self.engine.is_done() {
            return Err(Error::Core(esdk_core::Error::Truncated).into());
        }
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for DecryptingWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = buf.len().min(WRITE_BATCH);
        self.engine.push(&buf[..n]).map_err(io::Error::from)?;
        self.run()?;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
