//! Ranged decryption: the plaintext bytes `[start, end)` of a framed message, reading only the
//! header and the frames that hold them, from a `Read + Seek` source (or tokio
//! `AsyncRead + AsyncSeek`).
//!
//! Security rules (see also the README):
//! * the header is verified first (header tag, and key commitment for committing suites);
//! * every frame released is verified first: its tag, whose AAD binds the message id, the frame
//!   kind, its sequence number and its length; a frame's sequence number proves which
//!   plaintext offsets it holds, so released bytes are exactly the authentic bytes at those
//!   offsets;
//! * the final frame is read (and verified) whenever the range reaches the end of the
//!   plaintext, or starts beyond it, so a reported end of plaintext is proven;
//! * what is *not* checked: frames outside the range, and the message's signature. Signed
//!   messages are therefore refused ([`esdk_core::error::PolicyError::RandomAccessSigned`])
//!   unless [`RangeOptions::skip_signature_verification`] is set: the caller then accepts that
//!   the bytes are authentic to whoever holds the data key, but not proven to come from the
//!   signer (anyone able to decrypt could have written them);
//! * non-framed messages are refused ([`esdk_core::error::PolicyError::RandomAccessNotFramed`]).
//!
//! Ranges are clamped to the plaintext: `end` beyond the plaintext length is cut to it; a
//! range starting at or beyond it returns no bytes (after verifying the header and the final
//! frame); an empty range (`start >= end`) returns no bytes after verifying the header.

use crate::client::{Client, DecryptOptions};
use crate::error::{Error, Result};
use crate::materials::DecryptionRequest;
use crate::provider::Backend;
use crate::stream::engine::{DecryptEngine, DriverAction};
use esdk_core::body::{FINAL_FRAME_CONTENT_OFFSET, REGULAR_FRAME_CONTENT_OFFSET};
use esdk_core::crypto::CryptoProvider;
use esdk_core::error::PolicyError;
use esdk_core::frame_cipher::{FINAL_FRAME_HEAD_LEN, FinalFrame};
use esdk_core::{EncryptionContext, FrameCipher, FrameLayout, Header};
use std::io::{Read, Seek, SeekFrom, Write};
use std::ops::Range;
use zeroize::Zeroize;

type Cipher = FrameCipher<<Backend as CryptoProvider>::AeadKey>;

/// Settings of a ranged decryption.
#[non_exhaustive]
#[derive(Clone, Debug, Default)]
pub struct RangeOptions {
    skip_signature_verification: bool,
}

impl RangeOptions {
    /// Default settings: signed messages are refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// **Security opt-in.** Decrypt ranges of signed messages without verifying the
    /// signature (a range cannot be checked against a signature over the whole message).
    ///
    /// Risk: every released byte still passed its frame's AES-GCM tag, so it is what someone
    /// holding the message's data key wrote at that offset; but the signature's guarantee
    /// (that the message comes from the holder of the signing key, not from any party who can
    /// decrypt it, e.g. a reader with decrypt-only KMS permission) is lost. Use it only when
    /// every party able to decrypt is trusted to write, or verify the whole message elsewhere.
    pub fn skip_signature_verification(mut self, yes: bool) -> Self {
        self.skip_signature_verification = yes;
        self
    }
}

/// What a ranged decryption returned.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct RangeDecrypted {
    /// The plaintext of `range` (empty when `range` is).
    pub plaintext: Vec<u8>,
    /// The range actually returned: the requested one clamped to the plaintext.
    pub range: Range<u64>,
    /// The message's plaintext length, when the final frame was read (and verified).
    pub plaintext_len: Option<u64>,
    /// The verified header.
    pub header: Header,
    /// The authenticated encryption context.
    pub encryption_context: EncryptionContext,
}

/// What a ranged decryption wrote to a sink.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct RangeWritten {
    /// The range written: the requested one clamped to the plaintext.
    pub range: Range<u64>,
    /// The message's plaintext length, when the final frame was read (and verified).
    pub plaintext_len: Option<u64>,
    /// The verified header.
    pub header: Header,
    /// The authenticated encryption context.
    pub encryption_context: EncryptionContext,
}

/// One read the plan needs: `len` bytes at `offset`.
#[derive(Clone, Copy, Debug)]
struct Io {
    offset: u64,
    len: usize,
}

enum Phase {
    /// Signed messages: looking for the final frame among `seqs`; `head` holds the candidate's
    /// first bytes while its signature length is read.
    Probe {
        seqs: Range<u32>,
        head: Option<[u8; FINAL_FRAME_HEAD_LEN]>,
    },
    /// Decrypting frames `next ..= last`.
    Frames {
        next: u32,
        last: u32,
    },
    Done,
}

/// The sans-IO plan of a ranged decryption after the header: which bytes to read next and what
/// to release from them. Shared by the `std::io` and tokio drivers.
struct Plan {
    layout: FrameLayout,
    cipher: Cipher,
    message_len: u64,
    want: Range<u64>,
    final_frame: Option<FinalFrame>,
    phase: Phase,
    /// The range that will be released (known once the plaintext end is, if needed).
    out: Range<u64>,
}

impl Plan {
    fn new(
        layout: FrameLayout,
        cipher: Cipher,
        message_len: u64,
        want: Range<u64>,
    ) -> Result<Self> {
        let mut plan = Self {
            layout,
            cipher,
            message_len,
            want: want.clone(),
            final_frame: None,
            phase: Phase::Done,
            out: want.start..want.start,
        };
        if want.start >= want.end {
            return Ok(plan);
        }
        if layout.is_signed() {
            let seqs = layout.final_frame_candidates(message_len)?;
            // Frames before the first candidate are regular frames: no need to find the end.
            let first_possible_end = layout.plaintext_range(seqs.start).start;
            if want.end <= first_possible_end {
                plan.start_frames()?;
            } else {
                plan.phase = Phase::Probe { seqs, head: None };
            }
        } else {
            plan.final_frame = Some(layout.final_frame(message_len)?);
            plan.start_frames()?;
        }
        Ok(plan)
    }

    /// The final frame is known (or not needed): clamp and list the frames to read.
    fn start_frames(&mut self) -> Result<()> {
        let mut end = self.want.end;
        let mut start = self.want.start;
        if let Some(f) = self.final_frame {
            end = end.min(f.plaintext_len);
            start = start.min(f.plaintext_len);
        }
        self.out = start..end;
        if start < end {
            let first = self.layout.frame_of(start)?;
            let mut last = self.layout.frame_of(end - 1)?;
            if let Some(f) = self.final_frame {
                // Reaching the end of the plaintext: prove it with the final frame.
                if end == f.plaintext_len {
                    last = f.seq;
                }
            }
            self.phase = Phase::Frames { next: first, last };
        } else if let Some(f) = self.final_frame {
            // Starts at or beyond the end: the (verified) final frame proves the length.
            self.phase = Phase::Frames {
                next: f.seq,
                last: f.seq,
            };
        } else {
            self.phase = Phase::Done;
        }
        Ok(())
    }

    fn next_io(&self) -> Result<Option<Io>> {
        Ok(match &self.phase {
            Phase::Done => None,
            Phase::Probe { seqs, head: None } => Some(Io {
                offset: self.layout.frame_offset(seqs.start)?,
                len: FINAL_FRAME_HEAD_LEN,
            }),
            Phase::Probe {
                seqs,
                head: Some(h),
            } => {
                let len = u64::from(u32::from_be_bytes([h[20], h[21], h[22], h[23]]));
                Some(Io {
                    offset: self.layout.frame_offset(seqs.start)?
                        + esdk_core::body::FINAL_FRAME_OVERHEAD as u64
                        + len,
                    len: 2,
                })
            }
            Phase::Frames { next, .. } => {
                let offset = self.layout.frame_offset(*next)?;
                let len = match self.final_frame {
                    Some(f) if f.seq == *next => f.record_len,
                    _ => self.layout.regular_frame_len(),
                };
                Some(Io {
                    offset,
                    len: usize::try_from(len)
                        .map_err(|_| Error::Core(esdk_core::Error::Truncated))?,
                })
            }
        })
    }

    /// Handles the bytes of the last `next_io`; returns the plaintext part to release (a
    /// sub-range of `buf`), if any. `got` is false when the source ended before `len` bytes.
    fn complete(&mut self, buf: &mut [u8], got: bool) -> Result<Option<Range<usize>>> {
        match std::mem::replace(&mut self.phase, Phase::Done) {
            Phase::Done => Ok(None),
            Phase::Probe { mut seqs, head } => {
                let next_candidate = |this: &mut Self, mut seqs: Range<u32>| {
                    seqs.start += 1;
                    if seqs.is_empty() {
                        return Err(Error::Core(esdk_core::Error::Format(
                            esdk_core::error::FormatError {
                                field: "final_frame",
                                problem: "not where the message length puts it",
                            },
                        )));
                    }
                    this.phase = Phase::Probe { seqs, head: None };
                    Ok(None)
                };
                match head {
                    None => {
                        let h: Option<[u8; FINAL_FRAME_HEAD_LEN]> =
                            buf.try_into().ok().filter(|_| got);
                        match h {
                            Some(h)
                                if h[..4] == [0xFF; 4] && h[4..8] == seqs.start.to_be_bytes() =>
                            {
                                self.phase = Phase::Probe {
                                    seqs,
                                    head: Some(h),
                                };
                                Ok(None)
                            }
                            _ => next_candidate(self, seqs),
                        }
                    }
                    Some(h) => {
                        let sig = <[u8; 2]>::try_from(&*buf)
                            .ok()
                            .filter(|_| got)
                            .map(u16::from_be_bytes);
                        match self
                            .layout
                            .confirm_final(self.message_len, seqs.start, &h, sig)
                        {
                            Some(f) => {
                                self.final_frame = Some(f);
                                self.start_frames()?;
                                Ok(None)
                            }
                            None => {
                                let s = std::mem::take(&mut seqs);
                                next_candidate(self, s)
                            }
                        }
                    }
                }
            }
            Phase::Frames { next, last } => {
                if !got {
                    return Err(Error::Core(esdk_core::Error::Truncated));
                }
                let is_final = self.final_frame.is_some_and(|f| f.seq == next);
                let (base, len) = if is_final {
                    let pt = self.cipher.open_final(next, buf)?;
                    (FINAL_FRAME_CONTENT_OFFSET, pt.len())
                } else {
                    let pt = self.cipher.open_regular(next, buf)?;
                    (REGULAR_FRAME_CONTENT_OFFSET, pt.len())
                };
                let frame_start = self.layout.plaintext_range(next).start;
                let frame_end = frame_start + len as u64;
                let s = self.out.start.max(frame_start);
                let e = self.out.end.min(frame_end);
                if next < last {
                    self.phase = Phase::Frames {
                        next: next + 1,
                        last,
                    };
                }
                if s < e {
                    // Both offsets lie within this frame's content (at most the frame length).
                    let off = |x: u64| {
                        usize::try_from(x - frame_start)
                            .map(|o| base + o)
                            .map_err(|_| Error::Core(esdk_core::Error::Truncated))
                    };
                    Ok(Some(off(s)?..off(e)?))
                } else {
                    Ok(None)
                }
            }
        }
    }
}

/// The header phase: what the driver must do next.
enum HeaderStep {
    /// Read exactly this many more bytes (0: the source ended).
    Read(usize),
    Materials(Box<DecryptionRequest>),
    Ready,
}

struct HeaderJob {
    engine: DecryptEngine,
    skip_signature: bool,
}

impl HeaderJob {
    fn new(
        client: &Client,
        opts: &DecryptOptions<'_, impl crate::client::Mode>,
        ropts: &RangeOptions,
    ) -> Self {
        Self {
            engine: DecryptEngine::new(
                client.decrypt_config(opts),
                opts.reproduced_encryption_context.clone(),
                usize::MAX,
                client.backend(),
            ),
            skip_signature: ropts.skip_signature_verification,
        }
    }

    fn step(&mut self) -> Result<HeaderStep> {
        if self.engine.header().is_some() {
            return Ok(HeaderStep::Ready);
        }
        match self.engine.step()? {
            // The step that verifies the header goes on to ask for the first frame: stop there.
            DriverAction::NeedInput if self.engine.header().is_some() => Ok(HeaderStep::Ready),
            DriverAction::NeedInput => Ok(HeaderStep::Read(self.engine.bytes_needed().max(1))),
            DriverAction::NeedMaterials(req) => {
                // Refuse before any key is unwrapped.
                if req.suite.signature().is_some() && !self.skip_signature {
                    return Err(Error::Core(esdk_core::Error::Policy(
                        PolicyError::RandomAccessSigned {
                            suite: req.suite.id(),
                        },
                    )));
                }
                Ok(HeaderStep::Materials(req))
            }
            // The body is never read through the engine.
            DriverAction::Plaintext | DriverAction::Done => Err(Error::Core(
                esdk_core::Error::Usage(esdk_core::error::UsageError::InvalidInput(
                    "ranged decryption read past the header",
                )),
            )),
        }
    }

    fn push(&mut self, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            self.engine.set_eof();
            Ok(())
        } else {
            self.engine.push(data)
        }
    }

    fn into_plan(
        mut self,
        message_len: u64,
        range: Range<u64>,
    ) -> Result<(Plan, Header, EncryptionContext)> {
        let header_len = self.engine.consumed();
        let cipher = self.engine.frame_cipher()?;
        let (header, ec) = self.engine.take_header_and_context();
        let header = header.ok_or(Error::Core(esdk_core::Error::Truncated))?;
        let layout = FrameLayout::new(
            header.suite,
            header.content_type,
            header.frame_length,
            header_len,
        )?;
        let plan = Plan::new(layout, cipher, message_len, range)?;
        Ok((plan, header, ec.unwrap_or_default()))
    }
}

/// Appends plaintext to `v`; when `v` must grow, the old allocation is wiped (a plain
/// `Vec` reallocation would leave a copy of the plaintext in freed memory).
fn append_wiping(v: &mut Vec<u8>, data: &[u8]) {
    if v.capacity() - v.len() < data.len() {
        let mut grown = Vec::with_capacity((v.len() + data.len()).max(v.capacity() * 2));
        grown.extend_from_slice(v);
        let mut old = std::mem::replace(v, grown);
        old.zeroize();
    }
    v.extend_from_slice(data);
}

/// A sink collecting plaintext with [`append_wiping`]; wiped if dropped (on an error).
struct WipingSink(Vec<u8>);

impl Drop for WipingSink {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Write for WipingSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        append_wiping(&mut self.0, data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Reads exactly `buf.len()` bytes unless the source ends first; returns the count.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(n)
}

impl Client {
    /// Decrypts the plaintext bytes `range` of the framed message in `source`, reading the
    /// header and only the frames that hold the range (see [`crate::ranged`] for the rules).
    ///
    /// ```
    /// use esdk_std::{AlgorithmSuite, Client, DecryptOptions, EncryptOptions, keyring::RawAesKeyring};
    /// use esdk_std::ranged::RangeOptions;
    /// let keyring = RawAesKeyring::new("ns", "key", &[7u8; 32])?;
    /// let client = Client::builder().build();
    /// let data: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
    /// // An unsigned suite: signed messages need `RangeOptions::skip_signature_verification`.
    /// let opts = EncryptOptions::keyring(&keyring)
    ///     .suite(AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY)
    ///     .frame_length(4096);
    /// let sealed = client.encrypt(&data, &opts)?;
    /// let got = client.decrypt_range(
    ///     &mut std::io::Cursor::new(&sealed.ciphertext),
    ///     50_000..50_010,
    ///     &DecryptOptions::keyring(&keyring),
    ///     &RangeOptions::new(),
    /// )?;
    /// assert_eq!(got.plaintext, &data[50_000..50_010]);
    /// # Ok::<(), esdk_std::Error>(())
    /// ```
    ///
    /// # Errors
    /// Header must-fail conditions, materials failures, a signed message without the opt-in,
    /// a non-framed message, a frame in the range (or the final frame when reached) that fails
    /// verification, truncation, I/O errors.
    pub fn decrypt_range<R: Read + Seek>(
        &self,
        source: &mut R,
        range: Range<u64>,
        opts: &DecryptOptions<'_>,
        ropts: &RangeOptions,
    ) -> Result<RangeDecrypted> {
        let mut sink = WipingSink(Vec::new());
        let w = self.decrypt_range_to(source, range, opts, ropts, &mut sink)?;
        Ok(RangeDecrypted {
            plaintext: std::mem::take(&mut sink.0),
            range: w.range,
            plaintext_len: w.plaintext_len,
            header: w.header,
            encryption_context: w.encryption_context,
        })
    }

    /// As [`Client::decrypt_range`], writing the plaintext to `sink` frame by frame (each
    /// frame's part only after that frame verified), so memory stays one frame whatever the
    /// range. If an error occurs, what was written before it is authentic but incomplete.
    ///
    /// # Errors
    /// As [`Client::decrypt_range`], and errors of `sink`.
    pub fn decrypt_range_to<R: Read + Seek, W: Write>(
        &self,
        source: &mut R,
        range: Range<u64>,
        opts: &DecryptOptions<'_>,
        ropts: &RangeOptions,
        sink: &mut W,
    ) -> Result<RangeWritten> {
        let message_len = source.seek(SeekFrom::End(0))?;
        source.seek(SeekFrom::Start(0))?;
        let mut job = HeaderJob::new(self, opts, ropts);
        let mut chunk = Vec::new();
        loop {
            match job.step()? {
                HeaderStep::Ready => break,
                HeaderStep::Materials(req) => {
                    let m = crate::executor::block_on(opts.source.decryption_materials(&req))?;
                    job.engine.set_materials(m);
                }
                HeaderStep::Read(n) => {
                    chunk.resize(n, 0);
                    let got = read_full(source, &mut chunk)?;
                    job.push(&chunk[..got])?;
                }
            }
        }
        let (mut plan, header, encryption_context) = job.into_plan(message_len, range)?;
        let mut buf = zeroize::Zeroizing::new(Vec::new());
        while let Some(io) = plan.next_io()? {
            source.seek(SeekFrom::Start(io.offset))?;
            buf.resize(io.len, 0);
            let got = read_full(source, &mut buf)? == io.len;
            let out = plan.complete(&mut buf, got);
            if let Ok(Some(r)) = &out {
                sink.write_all(&buf[r.clone()])?;
            }
            buf.zeroize();
            out?;
        }
        Ok(RangeWritten {
            range: plan.out.clone(),
            plaintext_len: plan.final_frame.map(|f| f.plaintext_len),
            header,
            encryption_context,
        })
    }

    /// As [`Client::decrypt_range`], over a tokio `AsyncRead + AsyncSeek` source.
    ///
    /// # Errors
    /// As [`Client::decrypt_range`].
    #[cfg(feature = "tokio")]
    pub async fn decrypt_range_async<R>(
        &self,
        source: &mut R,
        range: Range<u64>,
        opts: &DecryptOptions<'_, impl crate::client::Mode>,
        ropts: &RangeOptions,
    ) -> Result<RangeDecrypted>
    where
        R: tokio::io::AsyncRead + tokio::io::AsyncSeek + Unpin,
    {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        async fn read_full_async<R: tokio::io::AsyncRead + Unpin>(
            r: &mut R,
            buf: &mut [u8],
        ) -> Result<usize> {
            let mut n = 0;
            while n < buf.len() {
                match r.read(&mut buf[n..]).await {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(n)
        }
        let message_len = source.seek(SeekFrom::End(0)).await?;
        source.seek(SeekFrom::Start(0)).await?;
        let mut job = HeaderJob::new(self, opts, ropts);
        let mut chunk = Vec::new();
        loop {
            match job.step()? {
                HeaderStep::Ready => break,
                HeaderStep::Materials(req) => {
                    let m = opts.source.decryption_materials(&req).await?;
                    job.engine.set_materials(m);
                }
                HeaderStep::Read(n) => {
                    chunk.resize(n, 0);
                    let got = read_full_async(source, &mut chunk).await?;
                    job.push(&chunk[..got])?;
                }
            }
        }
        let (mut plan, header, encryption_context) = job.into_plan(message_len, range)?;
        let mut plaintext = Vec::new();
        let mut buf = zeroize::Zeroizing::new(Vec::new());
        while let Some(io) = plan.next_io()? {
            source.seek(SeekFrom::Start(io.offset)).await?;
            buf.resize(io.len, 0);
            let got = read_full_async(source, &mut buf).await? == io.len;
            let out = plan.complete(&mut buf, got);
            if let Ok(Some(r)) = &out {
                append_wiping(&mut plaintext, &buf[r.clone()]);
            }
            buf.zeroize();
            out?;
        }
        Ok(RangeDecrypted {
            plaintext,
            range: plan.out.clone(),
            plaintext_len: plan.final_frame.map(|f| f.plaintext_len),
            header,
            encryption_context,
        })
    }
}
