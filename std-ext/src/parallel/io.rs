//! `std::io` adapters with frame-parallel workers.

use super::decrypt::ParallelDecrypt;
use crate::client::{Client, DecryptOptions, MaterialsSource};
use crate::error::{Error, Result};
use crate::stream::engine::DriverAction;
use crate::stream::io::{DEFAULT_MAX_BUFFER, new_decrypt_engine};
use esdk_core::{EncryptionContext, Header};
use std::io::{self, Read};

const READ_CHUNK: usize = 64 * 1024;

/// A decrypting reader whose regular frames are opened on `workers` threads: the same output
/// and the same release rules as [`crate::stream::io::DecryptingReader`] (plaintext in order,
/// each frame after its tag, a signed message's final frame after the signature, end of
/// stream only after the whole message verified). Reading ciphertext from the inner reader
/// overlaps with the workers. The worker threads start at the first regular frame and are
/// joined when the reader is dropped (or fails).
#[derive(Debug)]
pub struct ParallelDecryptingReader<'a, R: Read> {
    inner: R,
    pd: ParallelDecrypt,
    source: MaterialsSource<'a>,
}

impl<'a, R: Read> ParallelDecryptingReader<'a, R> {
    /// Reads and verifies the header; `workers` threads (at least 1) open the frames.
    ///
    /// # Errors
    /// Header must-fail conditions, materials failures, I/O errors.
    pub fn new(
        client: &Client,
        opts: &DecryptOptions<'a>,
        inner: R,
        workers: usize,
    ) -> Result<Self> {
        let engine = new_decrypt_engine(client, opts, DEFAULT_MAX_BUFFER);
        let mut r = Self {
            inner,
            pd: ParallelDecrypt::new(engine, workers),
            source: opts.source,
        };
        r.pump(true)?;
        Ok(r)
    }

    /// The verified header.
    pub fn header(&self) -> Option<&Header> {
        self.pd.engine.header()
    }
    /// The authenticated encryption context.
    pub fn encryption_context(&self) -> Option<&EncryptionContext> {
        self.pd.engine.encryption_context()
    }
    /// The most bytes this reader ever held in its buffers (input buffer and frame batches):
    /// bounded by about `(workers + 2)` batches plus one frame of input, whatever the
    /// message size (a batch is one frame, or about 64 KiB of small frames).
    pub fn peak_buffered(&self) -> usize {
        self.pd.peak_buffered()
    }
    /// Worker threads currently running (0 before the first regular frame and after an error).
    pub fn running_workers(&self) -> usize {
        self.pd.running_workers()
    }

    /// Drives until plaintext is available (returns true), the message is done (false), or,
    /// with `header_only`, the header verified.
    fn pump(&mut self, header_only: bool) -> Result<bool> {
        loop {
            if header_only && self.pd.engine.header().is_some() {
                return Ok(false);
            }
            match self.pd.step()? {
                DriverAction::Plaintext => return Ok(true),
                DriverAction::Done => return Ok(false),
                DriverAction::NeedMaterials(req) => {
                    let m = crate::executor::block_on(self.source.decryption_materials(&req))?;
                    self.pd.engine.set_materials(m);
                }
                DriverAction::NeedInput => {
                    if header_only && self.pd.engine.header().is_some() {
                        return Ok(false);
                    }
                    let spare = self.pd.engine.spare(READ_CHUNK)?;
                    let got = loop {
                        match self.inner.read(spare) {
                            Ok(g) => break g,
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            Err(e) => return Err(Error::Io(e)),
                        }
                    };
                    self.pd.engine.commit(got);
                    if got == 0 {
                        self.pd.engine.set_eof();
                    }
                }
            }
        }
    }
}

impl<R: Read> Read for ParallelDecryptingReader<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        if self.pump(false)? {
            Ok(self.pd.read(out))
        } else {
            Ok(0)
        }
    }
}
