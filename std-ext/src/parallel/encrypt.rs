//! The frame-parallel encrypt driver over the encrypt engine.

use super::pool::Pool;
use super::{Batch, frames_per_batch, recycle};
use crate::client::{Client, EncryptOptions};
use crate::error::{Error, Result};
use crate::provider::Backend;
use crate::stream::engine::EncryptEngine;
use esdk_core::FrameCipher;
use esdk_core::body::{END_OF_FRAMES, REGULAR_FRAME_CONTENT_OFFSET};
use esdk_core::crypto::CryptoProvider;
use esdk_core::error::{LimitKind, UsageError};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::Arc;

type Cipher = FrameCipher<<Backend as CryptoProvider>::AeadKey>;

fn seal_batch(cipher: &Cipher, mut b: Batch) -> Batch {
    for i in 0..b.count {
        let seq = b.seq(i);
        let r = match b.record_mut(i) {
            Some(rec) => cipher.seal_regular(seq, rec),
            None => Err(esdk_core::Error::Truncated),
        };
        if let Err(e) = r {
            b.err = Some(e);
            return b;
        }
        b.ok = i + 1;
    }
    b
}

/// Drives an [`EncryptEngine`] with its regular frames sealed on worker threads. The output
/// is byte-identical to the sequential engine's for the same materials and message id.
pub(crate) struct ParallelEncrypt {
    pub(crate) engine: EncryptEngine,
    workers: usize,
    pool: Option<Pool<Batch, Batch>>,
    frame_len: usize,
    record_len: usize,
    /// Records being filled; the last one may be partial and is held back until more
    /// plaintext shows it is not the final frame.
    filling: Option<Batch>,
    partial: usize,
    next_seq: u32,
    in_flight: usize,
    finished: BTreeMap<u32, Batch>,
    next_append: u32,
    free: Vec<Vec<u8>>,
    failed: bool,
}

impl std::fmt::Debug for ParallelEncrypt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelEncrypt")
            .field("engine", &self.engine)
            .field("workers", &self.workers)
            .field("in_flight", &self.in_flight)
            .finish()
    }
}

impl ParallelEncrypt {
    pub(crate) fn new(engine: EncryptEngine, workers: usize) -> Result<Self> {
        let fe = engine.frame_encryptor().ok_or_else(poisoned)?;
        let (frame_len, record_len, next_seq) = (
            fe.frame_length(),
            fe.sealed_frame_len(),
            fe.next_sequence_number(),
        );
        Ok(Self {
            engine,
            workers: workers.max(1),
            pool: None,
            frame_len,
            record_len,
            filling: None,
            partial: 0,
            next_seq,
            in_flight: 0,
            finished: BTreeMap::new(),
            next_append: next_seq,
            free: Vec::new(),
            failed: false,
        })
    }

    /// Worker threads running (0 before the first regular frame).
    pub(crate) fn running_workers(&self) -> usize {
        self.pool.as_ref().map_or(0, Pool::workers)
    }

    fn guard<T>(&mut self, r: Result<T>) -> Result<T> {
        if r.is_err() {
            self.failed = true;
            self.pool = None;
            self.filling = None;
            self.finished.clear();
        }
        r
    }

    /// Takes all of `data` (sealing frames on the workers, waiting for them when `workers`
    /// batches are in flight).
    pub(crate) fn push(&mut self, data: &[u8]) -> Result<()> {
        if self.failed {
            return Err(poisoned());
        }
        let r = self.push_inner(data);
        self.guard(r)
    }

    fn push_inner(&mut self, mut data: &[u8]) -> Result<()> {
        let f = self.frame_len;
        while !data.is_empty() {
            let need_record = match &self.filling {
                None => true,
                Some(_) => self.partial == f,
            };
            if need_record {
                // The last record is full and more plaintext follows: it is a regular frame.
                let full = self
                    .filling
                    .as_ref()
                    .is_some_and(|b| b.count >= frames_per_batch(self.record_len));
                if full {
                    self.submit_filling()?;
                }
                self.start_record()?;
            }
            let take = (f - self.partial).min(data.len());
            let (head, rest) = data.split_at(take);
            let b = self.filling.as_mut().ok_or_else(poisoned)?;
            let i = b.count - 1;
            let at = REGULAR_FRAME_CONTENT_OFFSET + self.partial;
            b.record_mut(i)
                .and_then(|r| r.get_mut(at..at + take))
                .ok_or_else(poisoned)?
                .copy_from_slice(head);
            self.partial += take;
            data = rest;
            self.collect(false)?;
        }
        Ok(())
    }

    fn start_record(&mut self) -> Result<()> {
        if self.next_seq == END_OF_FRAMES {
            return Err(Error::Core(esdk_core::Error::Limit(
                esdk_core::error::LimitError {
                    what: LimitKind::FrameCount,
                    limit: u64::from(END_OF_FRAMES),
                    actual: u64::from(END_OF_FRAMES),
                },
            )));
        }
        if self.filling.is_none() {
            let buf = self.free.pop().unwrap_or_default();
            self.filling = Some(Batch::new(self.next_seq, self.record_len, buf));
        }
        let rl = self.record_len;
        let b = self.filling.as_mut().ok_or_else(poisoned)?;
        b.buf.resize(b.buf.len() + rl, 0);
        b.count += 1;
        self.next_seq += 1;
        self.partial = 0;
        Ok(())
    }

    fn submit_filling(&mut self) -> Result<()> {
        let Some(b) = self.filling.take() else {
            return Ok(());
        };
        if b.count == 0 {
            recycle(&mut self.free, b);
            return Ok(());
        }
        while self.in_flight + self.finished.len() >= self.workers {
            self.wait_one()?;
            self.collect(false)?;
        }
        if self.pool.is_none() {
            let fe = self.engine.frame_encryptor().ok_or_else(poisoned)?;
            let cipher = Arc::new(fe.frame_cipher()?);
            self.pool = Some(
                Pool::new(
                    self.workers,
                    move |b| seal_batch(&cipher, b),
                    Batch::poisoned,
                )
                .map_err(Error::Io)?,
            );
        }
        let pool = self.pool.as_mut().ok_or_else(poisoned)?;
        if !pool.submit(b) {
            return Err(poisoned());
        }
        self.in_flight += 1;
        Ok(())
    }

    fn wait_one(&mut self) -> Result<()> {
        if self.in_flight == 0 {
            // Nothing can arrive: waiting would never end.
            return Err(poisoned());
        }
        let b = self
            .pool
            .as_ref()
            .and_then(Pool::recv)
            .ok_or_else(poisoned)?;
        self.in_flight -= 1;
        self.finished.insert(b.first, b);
        Ok(())
    }

    /// Appends finished batches to the message, in order; with `all`, waits for every batch.
    fn collect(&mut self, all: bool) -> Result<()> {
        if all {
            while self.in_flight > 0 {
                self.wait_one()?;
            }
        } else if let Some(pool) = &self.pool {
            while let Ok(Some(b)) = pool.try_recv() {
                self.in_flight -= 1;
                self.finished.insert(b.first, b);
            }
        }
        while let Some(b) = self.finished.remove(&self.next_append) {
            if let Some(e) = b.err {
                return Err(Error::Core(e));
            }
            let n = b.count;
            self.engine.push_sealed(
                b.buf.get(..n * self.record_len).unwrap_or(&[]),
                n * self.frame_len,
            )?;
            self.next_append = b.next_seq();
            recycle(&mut self.free, b);
        }
        Ok(())
    }

    /// Seals everything and writes the final frame and footer.
    pub(crate) fn finish(&mut self) -> Result<()> {
        if self.failed {
            return Err(poisoned());
        }
        let r = self.finish_inner();
        self.guard(r)
    }

    fn finish_inner(&mut self) -> Result<()> {
        // The last record (if any) is the final frame's plaintext.
        let mut tail = zeroize::Zeroizing::new(Vec::new());
        if let Some(b) = &mut self.filling {
            let i = b.count - 1;
            let at = REGULAR_FRAME_CONTENT_OFFSET;
            tail.extend_from_slice(
                b.record(i)
                    .and_then(|r| r.get(at..at + self.partial))
                    .ok_or_else(poisoned)?,
            );
            let rl = self.record_len;
            zeroize::Zeroize::zeroize(&mut b.buf[i * rl..]);
            b.buf.truncate(i * rl);
            b.count -= 1;
        }
        self.submit_filling()?;
        self.collect(true)?;
        self.pool = None;
        self.engine.push(&tail)?;
        self.engine.finish()
    }

    /// The most plaintext a writer takes per call.
    pub(crate) fn write_batch(&self) -> usize {
        (self.record_len * self.workers.max(1) * frames_per_batch(self.record_len))
            .max(self.engine.write_batch())
    }
}

fn poisoned() -> Error {
    Error::Core(esdk_core::Error::Usage(UsageError::Poisoned))
}

/// One-shot encryption with `workers` threads (the `Client::encrypt` path when parallel).
pub(crate) async fn encrypt_one_shot(
    client: &Client,
    plaintext: &[u8],
    opts: &EncryptOptions<'_, impl crate::client::Mode>,
    workers: usize,
) -> Result<crate::Encrypted> {
    let req = client.encryption_request(opts, Some(plaintext.len() as u64))?;
    let m = opts.source.encryption_materials(&req).await?;
    client.check_encryption_materials(&req, &m)?;
    let config = client.encrypt_config(opts);
    let hint =
        plaintext.len() + (plaintext.len() / config.frame_length.max(1) as usize + 1) * 40 + 1024;
    let mut engine = EncryptEngine::new(
        &m,
        config,
        Some(plaintext.len() as u64),
        hint,
        client.backend(),
        client.rng().clone(),
    )?;
    engine.set_empty_final_frame(opts.empty_final_frame);
    let mut pe = ParallelEncrypt::new(engine, workers)?;
    pe.push(plaintext)?;
    pe.finish()?;
    let (ciphertext, header) = pe.engine.into_output();
    Ok(crate::Encrypted { ciphertext, header })
}

/// An encrypting writer whose regular frames are sealed on `workers` threads: the same
/// message as [`crate::stream::io::EncryptingWriter`] would write with the same materials.
/// Call [`ParallelEncryptingWriter::finish`]: dropped without it, the message has no final
/// frame (every decryptor rejects it) and the workers are stopped and joined.
///
/// `write` takes at most a few batches per call and returns `Ok(n)` exactly when it took
/// `n` bytes; a failure of the inner writer after that is reported by the next call.
#[derive(Debug)]
pub struct ParallelEncryptingWriter<W: Write> {
    inner: W,
    pe: ParallelEncrypt,
}

impl<W: Write> ParallelEncryptingWriter<W> {
    /// Obtains the materials and writes the header.
    ///
    /// # Errors
    /// As [`crate::stream::io::EncryptingWriter::new`].
    pub fn new(
        client: &Client,
        opts: &EncryptOptions<'_>,
        inner: W,
        workers: usize,
    ) -> Result<Self> {
        let engine = crate::stream::io::new_encrypt_engine(client, opts)?;
        Ok(Self {
            inner,
            pe: ParallelEncrypt::new(engine, workers)?,
        })
    }

    /// The header of the message being written.
    pub fn header(&self) -> &esdk_core::Header {
        self.pe.engine.header()
    }

    /// Worker threads running (0 before the first regular frame).
    pub fn running_workers(&self) -> usize {
        self.pe.running_workers()
    }

    fn drain(&mut self) -> io::Result<()> {
        while !self.pe.engine.output().is_empty() {
            match self.inner.write(self.pe.engine.output()) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.pe.engine.consume_output(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Seals the rest, writes the final frame and footer, flushes; returns the inner writer.
    ///
    /// # Errors
    /// Encryption or I/O failures.
    pub fn finish(mut self) -> io::Result<W> {
        self.drain()?;
        self.pe.finish()?;
        self.drain()?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for ParallelEncryptingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Earlier output first: an inner failure surfaces here, with nothing taken.
        self.drain()?;
        let n = buf.len().min(self.pe.write_batch());
        self.pe.push(&buf[..n])?;
        // Taken: a failure writing it on is reported by the next call.
        let _ = self.drain();
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.drain()?;
        self.inner.flush()
    }
}
