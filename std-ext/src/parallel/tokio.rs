//! tokio adapter with frame-parallel workers. The workers are the adapter's own threads (a
//! dedicated pool, not `spawn_blocking`); the task never blocks on them: when it would wait,
//! it registers its waker, which the worker finishing a batch wakes.

use super::decrypt::ParallelDecrypt;
use crate::client::{Client, DecryptOptions};
use crate::error::{Error, Result};
use crate::stream::engine::DriverAction;
use crate::stream::io::{DEFAULT_MAX_BUFFER, new_decrypt_engine};
use esdk_core::{EncryptionContext, Header};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

const READ_CHUNK: usize = 64 * 1024;

/// The tokio counterpart of [`super::ParallelDecryptingReader`]: same output, same release
/// rules as [`crate::stream::tokio::AsyncDecryptingReader`]. Dropping it stops and joins its
/// workers (each finishes at most its current batch).
#[derive(Debug)]
pub struct AsyncParallelDecryptingReader<R: AsyncRead + Unpin> {
    inner: R,
    pd: ParallelDecrypt,
}

impl<R: AsyncRead + Unpin> AsyncParallelDecryptingReader<R> {
    /// Reads and verifies the header (awaiting the materials); `workers` threads open frames.
    ///
    /// # Errors
    /// Header must-fail conditions, materials failures, I/O errors.
    pub async fn new(
        client: &Client,
        opts: &DecryptOptions<'_, impl crate::client::Mode>,
        mut inner: R,
        workers: usize,
    ) -> Result<Self> {
        let engine = new_decrypt_engine(client, opts, DEFAULT_MAX_BUFFER);
        let mut pd = ParallelDecrypt::new(engine, workers);
        while pd.engine.header().is_none() {
            match pd.step()? {
                DriverAction::NeedMaterials(req) => {
                    let m = opts.source.decryption_materials(&req).await?;
                    pd.engine.set_materials(m);
                }
                DriverAction::NeedInput => {
                    if pd.engine.header().is_some() {
                        break;
                    }
                    let want = pd.engine.bytes_needed().max(1);
                    let spare = pd.engine.spare(want)?;
                    let got = inner.read(spare).await?;
                    pd.engine.commit(got);
                    if got == 0 {
                        pd.engine.set_eof();
                    }
                }
                DriverAction::Plaintext | DriverAction::Done => break,
            }
        }
        Ok(Self { inner, pd })
    }

    /// The verified header.
    pub fn header(&self) -> Option<&Header> {
        self.pd.engine.header()
    }
    /// The authenticated encryption context.
    pub fn encryption_context(&self) -> Option<&EncryptionContext> {
        self.pd.engine.encryption_context()
    }
    /// Worker threads currently running.
    pub fn running_workers(&self) -> usize {
        self.pd.running_workers()
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for AsyncParallelDecryptingReader<R> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        loop {
            let avail = this.pd.plaintext();
            if !avail.is_empty() {
                let n = avail.len().min(buf.remaining());
                buf.put_slice(&avail[..n]);
                this.pd.consume_plaintext(n);
                return Poll::Ready(Ok(()));
            }
            match this.pd.try_step()? {
                None => {
                    if !this.pd.poll_ready(cx.waker())? {
                        return Poll::Pending;
                    }
                }
                Some(DriverAction::Plaintext) => {}
                Some(DriverAction::Done) => return Poll::Ready(Ok(())),
                Some(DriverAction::NeedMaterials(_)) => {
                    return Poll::Ready(Err(Error::Core(esdk_core::Error::Usage(
                        esdk_core::error::UsageError::MaterialsNotProvided,
                    ))
                    .into()));
                }
                Some(DriverAction::NeedInput) => {
                    let spare = this.pd.engine.spare(READ_CHUNK)?;
                    let mut rb = ReadBuf::new(spare);
                    ready!(Pin::new(&mut this.inner).poll_read(cx, &mut rb))?;
                    let got = rb.filled().len();
                    this.pd.engine.commit(got);
                    if got == 0 {
                        this.pd.engine.set_eof();
                    }
                }
            }
        }
    }
}
