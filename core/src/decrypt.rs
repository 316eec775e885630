//! The sans-IO decryptor.
//!
//! The caller owns every buffer and all I/O. Each call to [`Decryptor::process`] takes the
//! unconsumed input (everything received and not yet discarded) and an end-of-input flag, and
//! returns a [`DecryptStatus`]: how many bytes to discard from the front of the input *after*
//! handling the state, and one [`DecryptState`].
//!
//! ```text
//!   NeedInput ─┐ (read more, or pass eof = true)
//!              ▼
//!   header ──► NeedMaterials ──provide()──► HeaderVerified ──► Plaintext × n ──► Done
//! ```
//!
//! Rules the machine keeps:
//! * nothing unauthenticated is released: the header's fields only after its tag verifies, each
//!   frame's plaintext only after its tag verifies, and for signed suites the final frame (or the
//!   non-framed body) only after the footer signature verifies;
//! * the last plaintext is released only once the caller has signalled end of input and no byte
//!   follows the message, so trailing data never coexists with released final plaintext;
//! * the first error is sticky: every later call returns it again.
//!
//! Contract for callers: apply `discard` after handling each state and before the next call; do
//! not change bytes that were passed and not yet discarded; answer every `NeedMaterials`.

// Input paths: no unchecked arithmetic, nothing public by accident, every error documented.
#![warn(
    clippy::arithmetic_side_effects,
    unreachable_pub,
    clippy::missing_errors_doc
)]

use crate::body::{
    BodyKind, END_OF_FRAMES, FINAL_FRAME_CONTENT_OFFSET, FINAL_FRAME_OVERHEAD, MAX_BODY_AAD_LEN,
    NON_FRAMED_OVERHEAD, REGULAR_FRAME_CONTENT_OFFSET, REGULAR_FRAME_OVERHEAD, body_aad,
};
use crate::codec::Parse;
use crate::crypto::{AeadKey, CryptoProvider, Gmac, RunningDigest};
use crate::edk::EdkList;
use crate::encryption_context::EncryptionContextRef;
use crate::error::{AuthStage, Error, LimitKind, MaterialsError, UsageError};
use crate::frame_cipher::FrameCipher;
use crate::header::{ContentType, HeaderParser, HeaderRef, ParseOptions};
use crate::keys::{DerivedKey, VerificationKey, derive};
use crate::materials::{
    DecryptionMaterialsRef, check_required_keys, feed_filtered, verification_key_from_context,
};
use crate::message_id::MessageId;
use crate::policy::{CommitmentPolicy, DecryptLimits, MAX_NON_FRAMED_CONTENT_LEN, SignaturePolicy};
use crate::suite::{AlgorithmSuite, IV_LEN, MessageFormatVersion, TAG_LEN};
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

/// Decryption settings: `DecryptConfig::default()` (committing suites only, signed suites
/// accepted, the format's own limits), adjusted with the `with_*` methods.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecryptConfig {
    /// Which suites may be decrypted (default: committing suites only).
    pub commitment_policy: CommitmentPolicy,
    /// Whether signed suites are accepted (default: yes).
    pub signature_policy: SignaturePolicy,
    /// Resource limits (default: the format's own bounds).
    pub limits: DecryptLimits,
}

impl DecryptConfig {
    /// The default settings.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets which suites may be decrypted.
    #[must_use]
    pub fn with_commitment_policy(mut self, policy: CommitmentPolicy) -> Self {
        self.commitment_policy = policy;
        self
    }
    /// Sets whether signed suites are accepted.
    #[must_use]
    pub fn with_signature_policy(mut self, policy: SignaturePolicy) -> Self {
        self.signature_policy = policy;
        self
    }
    /// Sets the resource limits.
    #[must_use]
    pub fn with_limits(mut self, limits: DecryptLimits) -> Self {
        self.limits = limits;
        self
    }

    fn parse_options(&self) -> ParseOptions {
        ParseOptions {
            commitment_policy: self.commitment_policy,
            signature_policy: self.signature_policy,
            limits: self.limits,
        }
    }
}

/// Result of one [`Decryptor::process`] call.
#[derive(Debug)]
#[must_use = "the discard count and the state must be handled"]
pub struct DecryptStatus<'a, P: CryptoProvider> {
    /// Bytes to remove from the front of the input after handling `state`.
    pub discard: usize,
    /// The state, or the (sticky) error.
    pub state: Result<DecryptState<'a, P>, Error>,
}

/// What the decryptor needs or offers.
#[non_exhaustive]
#[derive(Debug)]
pub enum DecryptState<'a, P: CryptoProvider> {
    /// More input is needed: the input must hold at least `min_len` bytes for progress, or the
    /// caller passes `eof = true` if there is no more. Level-triggered.
    NeedInput {
        /// Minimum input length for the next step.
        min_len: usize,
    },
    /// The header is parsed; answer with decryption materials. Edge-triggered, once.
    NeedMaterials(MaterialsRequest<'a, P>),
    /// The header authentication tag (and key commitment) verified. Edge-triggered, once.
    HeaderVerified(HeaderRef<'a>),
    /// A chunk of verified plaintext, decrypted in place in the caller's input buffer; it
    /// knows where it lies in that buffer ([`Plaintext::range`]).
    Plaintext(Plaintext<'a>),
    /// The message is complete: every tag and the signature verified, no trailing bytes.
    Done,
    /// Only with [`Decryptor::set_sealed_frames`]: a regular frame, **not yet authenticated**,
    /// handed over whole for a [`FrameCipher`] to open (on any thread). Its sequence number is
    /// the next in order and it was fed to the running digest; nothing of it may be released
    /// before [`FrameCipher::open_regular`] succeeds on it.
    SealedFrame {
        /// Its sequence number.
        seq: u32,
        /// The serialized frame (frame length + 32 bytes), in the caller's input buffer.
        record: &'a mut [u8],
    },
}

/// Verified plaintext, decrypted in place: a view of the caller's buffer that also knows its
/// position there, so a driver that keeps the bytes past this borrow needs no pointer
/// arithmetic.
///
/// Dereferences to the plaintext bytes. `Debug` shows only the range, never the bytes.
pub struct Plaintext<'a> {
    bytes: &'a mut [u8],
    start: usize,
}

impl<'a> Plaintext<'a> {
    pub(crate) fn new(bytes: &'a mut [u8], start: usize) -> Self {
        Self { bytes, start }
    }

    /// Where the plaintext lies in the buffer it was decrypted in: relative to the `input`
    /// passed to [`Decryptor::process`], or to the whole buffer of an
    /// [`input`](crate::input) helper.
    pub fn range(&self) -> core::ops::Range<usize> {
        self.start..self.start.saturating_add(self.bytes.len())
    }

    /// The plaintext bytes, for the whole borrow.
    pub fn into_slice(self) -> &'a mut [u8] {
        self.bytes
    }

    /// The same view with its range moved by `by` (its buffer starts `by` bytes later in an
    /// enclosing buffer).
    pub(crate) fn offset_by(self, by: usize) -> Self {
        Self {
            bytes: self.bytes,
            start: self.start.saturating_add(by),
        }
    }
}

impl core::ops::Deref for Plaintext<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.bytes
    }
}

impl core::ops::DerefMut for Plaintext<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.bytes
    }
}

impl AsRef<[u8]> for Plaintext<'_> {
    fn as_ref(&self) -> &[u8] {
        self.bytes
    }
}

impl core::fmt::Debug for Plaintext<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Plaintext")
            .field("range", &self.range())
            .finish_non_exhaustive()
    }
}

struct Body<P: CryptoProvider> {
    suite: AlgorithmSuite,
    message_id: MessageId,
    content_type: ContentType,
    frame_length: u32,
    key: P::AeadKey,
    /// The derived key bytes, for [`Decryptor::frame_cipher`] (zeroized on drop).
    derived: DerivedKey,
    digest: Option<P::Digest>,
    verification_key: Option<VerificationKey>,
    next_seq: u32,
    /// The complete header parser: rebuilds the header view without parsing it again.
    header: HeaderParser,
    header_tag: [u8; TAG_LEN],
}

enum Stage<P: CryptoProvider> {
    /// Parsing the header; `need` is the input length the parser waits for.
    Header {
        parser: HeaderParser,
        need: usize,
    },
    AwaitingMaterials,
    /// The header verified; `released` once `HeaderVerified` was returned and the body began.
    Body {
        body: Body<P>,
        released: bool,
    },
    Finished,
    Done,
    Failed(Error),
}

/// Counters for progress reporting.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Message bytes consumed (discarded) so far.
    pub consumed: u64,
    /// Plaintext bytes released so far.
    pub released: u64,
    /// Frames (or non-framed bodies) decrypted so far.
    pub frames: u64,
}

/// The decrypt state machine.
pub struct Decryptor<P: CryptoProvider> {
    provider: P,
    config: DecryptConfig,
    stage: Stage<P>,
    stats: Stats,
    /// Regular frames are handed over sealed ([`Decryptor::set_sealed_frames`]).
    sealed_frames: bool,
}

impl<P: CryptoProvider> core::fmt::Debug for Decryptor<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let stage = match &self.stage {
            Stage::Header { .. } => "header",
            Stage::AwaitingMaterials => "awaiting materials",
            Stage::Body {
                released: false, ..
            } => "header verified",
            Stage::Body { .. } => "body",
            Stage::Finished => "finished",
            Stage::Done => "done",
            Stage::Failed(_) => "failed",
        };
        f.debug_struct("Decryptor")
            .field("stage", &stage)
            .field("stats", &self.stats)
            .finish()
    }
}

fn status<'a, P: CryptoProvider>(
    discard: usize,
    state: DecryptState<'a, P>,
) -> DecryptStatus<'a, P> {
    DecryptStatus {
        discard,
        state: Ok(state),
    }
}

impl<P: CryptoProvider> Decryptor<P> {
    /// A decryptor with the given provider and settings.
    pub fn new(provider: P, config: DecryptConfig) -> Self {
        Self {
            provider,
            config,
            stage: Stage::Header {
                parser: HeaderParser::new(),
                need: 1,
            },
            stats: Stats::default(),
            sealed_frames: false,
        }
    }

    /// With `yes`, regular frames are not decrypted here but returned as
    /// [`DecryptState::SealedFrame`], for a driver that opens them with a [`FrameCipher`] on
    /// several threads. The machine still checks their order and feeds the running digest; the
    /// final frame (or a non-framed body) is still opened here, after the signature.
    pub fn set_sealed_frames(&mut self, yes: bool) {
        self.sealed_frames = yes;
    }

    /// A cipher for the frames of this message, once its header verified (from
    /// `HeaderVerified` on).
    ///
    /// # Errors
    /// [`UsageError::InvalidInput`] before the header verified or after the message ended,
    /// or a provider failure.
    pub fn frame_cipher(&self) -> Result<FrameCipher<P::AeadKey>, Error> {
        match &self.stage {
            Stage::Body { body: b, .. } => FrameCipher::new(
                self.provider.aead_key(b.derived.as_bytes())?,
                b.message_id.as_bytes(),
                b.frame_length,
            ),
            _ => Err(Error::Usage(UsageError::InvalidInput(
                "the frame cipher exists from header verification to the end of the body",
            ))),
        }
    }

    /// Sealed-frames mode, for a driver that holds the message where it already lies (a
    /// one-shot caller's buffer): accounts for the next regular frame **without copying it into
    /// the input**, exactly as [`Decryptor::process`] does before it returns
    /// [`DecryptState::SealedFrame`]: checks its sequence number, feeds it to the running
    /// digest and moves on. `record` is the whole frame (frame length + 32 bytes) that would
    /// come next in the input; the input the driver passes to `process` must then continue
    /// after it (nothing of the body pending in it). Returns the sequence number, or `None`
    /// (nothing changed) when `record` starts with the end-of-frames marker or is shorter
    /// than a regular frame: hand those bytes to `process` instead.
    ///
    /// Nothing is authenticated here: the driver opens the frame with a [`FrameCipher`] and
    /// releases nothing of it before that succeeds.
    ///
    /// # Errors
    /// The frame is out of order (sticky, as in `process`); [`UsageError::InvalidInput`]
    /// outside sealed-frames mode or before the header was verified and released.
    pub fn skip_sealed_frame(&mut self, record: &[u8]) -> Result<Option<u32>, Error> {
        let body = match &mut self.stage {
            Stage::Body {
                body,
                released: true,
            } if self.sealed_frames && body.content_type == ContentType::Framed => body,
            Stage::Failed(e) => return Err(*e),
            _ => {
                return Err(Error::Usage(UsageError::InvalidInput(
                    "sealed frames are skipped in sealed-frames mode, in a framed body",
                )));
            }
        };
        let total = (body.frame_length as usize).saturating_add(REGULAR_FRAME_OVERHEAD);
        let Some(frame) = record.get(..total) else {
            return Ok(None);
        };
        let marker = be_u32(frame, 0)?;
        if marker == END_OF_FRAMES {
            return Ok(None);
        }
        if marker != body.next_seq {
            let e = Error::format("frame.sequence_number", "out of order");
            self.stage = Stage::Failed(e);
            return Err(e);
        }
        if let Some(d) = body.digest.as_mut() {
            d.update(frame);
        }
        body.next_seq = body.next_seq.wrapping_add(1);
        self.stats.frames = self.stats.frames.saturating_add(1);
        self.stats.consumed = self.stats.consumed.saturating_add(total as u64);
        Ok(Some(marker))
    }

    /// Progress counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Whether the message completed successfully.
    pub fn is_done(&self) -> bool {
        matches!(self.stage, Stage::Done | Stage::Finished)
    }

    /// The settings.
    pub fn config(&self) -> &DecryptConfig {
        &self.config
    }

    fn fail<'a>(&mut self, e: Error) -> DecryptStatus<'a, P> {
        self.stage = Stage::Failed(e);
        DecryptStatus {
            discard: 0,
            state: Err(e),
        }
    }

    /// Advances the machine over `input` (the unconsumed bytes); `eof` says no more bytes follow.
    pub fn process<'a>(&'a mut self, input: &'a mut [u8], eof: bool) -> DecryptStatus<'a, P> {
        // Every stage is handled in place: the body state (AEAD key schedule, running digest,
        // header offsets) is never moved, so a call costs no copy of it on the stack.
        match &mut self.stage {
            Stage::Header { parser, need } => {
                // `need` is a lower bound of the header length: below it no field can be read
                // that the last call could not. At the end of the input the parser runs anyway,
                // so the fields that are complete are checked and reported before `Truncated`.
                if input.len() < *need && !eof {
                    return status(0, DecryptState::NeedInput { min_len: *need });
                }
                let mut p = *parser;
                let input: &'a [u8] = input;
                let res = p.advance(input, &self.config.parse_options());
                *parser = p;
                self.header(res, eof, p)
            }
            Stage::Failed(e) => {
                let e = *e;
                self.fail(e)
            }
            Stage::Done => DecryptStatus {
                discard: 0,
                state: Err(Error::Usage(UsageError::AlreadyDone)),
            },
            Stage::Finished => {
                if !input.is_empty() {
                    return self.fail(Error::TrailingData);
                }
                self.stage = Stage::Done;
                status(0, DecryptState::Done)
            }
            Stage::AwaitingMaterials => self.fail(Error::Usage(UsageError::MaterialsNotProvided)),
            Stage::Body { body, released } if !*released => {
                // The header was parsed once: its view is rebuilt from the kept offsets.
                let mut parser = body.header;
                let input: &'a [u8] = input;
                match parser.advance(input, &self.config.parse_options()) {
                    Ok((h, len)) if bool::from(h.auth_tag().ct_eq(&body.header_tag)) => {
                        *released = true;
                        self.stats.consumed = self.stats.consumed.saturating_add(len as u64);
                        status(len, DecryptState::HeaderVerified(h))
                    }
                    _ => self.fail(Error::Usage(UsageError::InvalidInput(
                        "input changed after the header was verified",
                    ))),
                }
            }
            Stage::Body { body, .. } => {
                let step = body.step(
                    &self.provider,
                    &self.config.limits,
                    self.sealed_frames,
                    &mut self.stats,
                    input,
                    eof,
                );
                match step {
                    Ok(BodyStep::Wait(min_len)) => status(0, DecryptState::NeedInput { min_len }),
                    Ok(BodyStep::Sealed { seq, record }) => {
                        status(record.len(), DecryptState::SealedFrame { seq, record })
                    }
                    Ok(BodyStep::Frame { total, pt }) => status(total, DecryptState::Plaintext(pt)),
                    Ok(BodyStep::Last { total, pt }) => {
                        self.stage = Stage::Finished;
                        status(total, DecryptState::Plaintext(pt))
                    }
                    Err(e) => self.fail(e),
                }
            }
        }
    }

    /// Handles the outcome of a header parse step.
    fn header<'a>(
        &'a mut self,
        res: Result<(HeaderRef<'a>, usize), Parse>,
        eof: bool,
        parser: HeaderParser,
    ) -> DecryptStatus<'a, P> {
        match res {
            Err(Parse::Incomplete(n)) => {
                self.stage = Stage::Header { parser, need: n };
                if eof {
                    self.fail(Error::Truncated)
                } else {
                    status(0, DecryptState::NeedInput { min_len: n })
                }
            }
            Err(Parse::Invalid(e)) => self.fail(e),
            Ok((header, _)) => {
                self.stage = Stage::AwaitingMaterials;
                status(
                    0,
                    DecryptState::NeedMaterials(MaterialsRequest {
                        decryptor: self,
                        header,
                        parser,
                        answered: false,
                    }),
                )
            }
        }
    }
}

/// What one step over the body produced.
enum BodyStep<'a> {
    /// More input is needed: at least this many bytes.
    Wait(usize),
    /// A regular frame handed over sealed ([`Decryptor::set_sealed_frames`]).
    Sealed { seq: u32, record: &'a mut [u8] },
    /// The verified plaintext of a regular frame; `total` bytes of input consumed.
    Frame { total: usize, pt: Plaintext<'a> },
    /// The verified plaintext of the final frame or of a non-framed body: the message is
    /// complete.
    Last { total: usize, pt: Plaintext<'a> },
}

/// `Wait(min_len)`, or `Truncated` at the end of the input.
fn wait<'a>(eof: bool, min_len: usize) -> Result<BodyStep<'a>, Error> {
    if eof {
        Err(Error::Truncated)
    } else {
        Ok(BodyStep::Wait(min_len))
    }
}

impl<P: CryptoProvider> Body<P> {
    /// One step over the body, updating this state in place (an error leaves it to be dropped:
    /// the caller fails the machine).
    fn step<'a>(
        &mut self,
        provider: &P,
        limits: &DecryptLimits,
        sealed_frames: bool,
        stats: &mut Stats,
        input: &'a mut [u8],
        eof: bool,
    ) -> Result<BodyStep<'a>, Error> {
        match self.content_type {
            ContentType::Framed => {
                if input.len() < 4 {
                    return wait(eof, 4);
                }
                let marker = be_u32(input, 0)?;
                if marker == END_OF_FRAMES {
                    return self.final_frame(provider, stats, input, eof);
                }
                // Regular frame.
                if marker != self.next_seq {
                    return Err(Error::format("frame.sequence_number", "out of order"));
                }
                let f = self.frame_length as usize;
                let total = REGULAR_FRAME_OVERHEAD
                    .checked_add(f)
                    .ok_or(too_big(self.frame_length.into()))?;
                if input.len() < total {
                    return wait(eof, total);
                }
                let frame = input.get_mut(..total).ok_or(Error::Truncated)?;
                if let Some(d) = self.digest.as_mut() {
                    d.update(frame);
                }
                if sealed_frames {
                    self.next_seq = self.next_seq.wrapping_add(1);
                    stats.frames = stats.frames.saturating_add(1);
                    stats.consumed = stats.consumed.saturating_add(total as u64);
                    return Ok(BodyStep::Sealed {
                        seq: marker,
                        record: frame,
                    });
                }
                let aad_buf = &mut [0u8; MAX_BODY_AAD_LEN];
                let aad = body_aad(
                    aad_buf,
                    self.message_id.as_bytes(),
                    BodyKind::Regular,
                    marker,
                    f as u64,
                )?;
                open(&self.key, frame, 4, f, aad)?;
                self.next_seq = self.next_seq.wrapping_add(1);
                stats.frames = stats.frames.saturating_add(1);
                stats.released = stats.released.saturating_add(f as u64);
                stats.consumed = stats.consumed.saturating_add(total as u64);
                let Some(pt) = frame.get_mut(
                    REGULAR_FRAME_CONTENT_OFFSET..REGULAR_FRAME_CONTENT_OFFSET.saturating_add(f),
                ) else {
                    debug_assert!(false, "frame content outside the frame");
                    return Err(Error::Internal("frame content outside the frame"));
                };
                Ok(BodyStep::Frame {
                    total,
                    pt: Plaintext::new(pt, REGULAR_FRAME_CONTENT_OFFSET),
                })
            }
            ContentType::NonFramed => {
                if input.len() < IV_LEN + 8 {
                    return wait(eof, IV_LEN + 8);
                }
                let len = be_u64(input, IV_LEN)?;
                let max = limits.max_body_len.min(MAX_NON_FRAMED_CONTENT_LEN);
                if len > max {
                    return Err(Error::limit(LimitKind::BodyLength, max, len));
                }
                let len = usize::try_from(len).map_err(|_| too_big(len))?;
                let total = NON_FRAMED_OVERHEAD
                    .checked_add(len)
                    .ok_or(too_big(len as u64))?;
                self.finish(
                    provider,
                    stats,
                    input,
                    eof,
                    total,
                    0,
                    len,
                    BodyKind::NonFramed,
                    1,
                )
            }
        }
    }

    /// The final frame: its header fields, then [`Body::finish`].
    fn final_frame<'a>(
        &mut self,
        provider: &P,
        stats: &mut Stats,
        input: &'a mut [u8],
        eof: bool,
    ) -> Result<BodyStep<'a>, Error> {
        if input.len() < FINAL_FRAME_CONTENT_OFFSET {
            return wait(eof, FINAL_FRAME_CONTENT_OFFSET);
        }
        let seq = be_u32(input, 4)?;
        if seq != self.next_seq {
            return Err(Error::format("final_frame.sequence_number", "out of order"));
        }
        let len = be_u32(input, 4 + 4 + IV_LEN)?;
        if len > self.frame_length {
            return Err(Error::limit(
                LimitKind::FinalFrameLength,
                self.frame_length.into(),
                len.into(),
            ));
        }
        let len = len as usize;
        let frame_total = FINAL_FRAME_OVERHEAD.saturating_add(len);
        self.finish(
            provider,
            stats,
            input,
            eof,
            frame_total,
            4 + 4,
            len,
            BodyKind::Final,
            seq,
        )
    }

    /// Final frame or non-framed body: wait for it (and the footer), check the end of input,
    /// verify the signature, then decrypt and release.
    #[allow(clippy::too_many_arguments)]
    fn finish<'a>(
        &mut self,
        provider: &P,
        stats: &mut Stats,
        input: &'a mut [u8],
        eof: bool,
        body_total: usize,
        iv_offset: usize,
        len: usize,
        kind: BodyKind,
        seq: u32,
    ) -> Result<BodyStep<'a>, Error> {
        let mut total = body_total;
        let mut sig_range = 0..0;
        if let Some(alg) = self.suite.signature() {
            let with_len = body_total.saturating_add(2);
            if input.len() < with_len {
                return wait(eof, with_len);
            }
            let sig_len = usize::from(be_u16(input, body_total)?);
            if sig_len > alg.max_signature_len() || sig_len == 0 {
                return Err(Error::Authentication(AuthStage::Signature));
            }
            total = with_len.saturating_add(sig_len);
            sig_range = with_len..total;
        }
        if input.len() < total {
            return wait(eof, total);
        }
        if input.len() > total {
            return Err(Error::TrailingData);
        }
        if !eof {
            // Only release the last plaintext once the caller confirms nothing follows.
            return wait(eof, total.saturating_add(1));
        }
        let (body, footer) = input.split_at_mut(body_total);
        if let (Some(alg), Some(mut digest), Some(vk)) = (
            self.suite.signature(),
            self.digest.take(),
            self.verification_key.as_ref(),
        ) {
            digest.update(body);
            let Some(sig) = footer.get(
                sig_range.start.saturating_sub(body_total)
                    ..sig_range.end.saturating_sub(body_total),
            ) else {
                debug_assert!(false, "signature outside the footer");
                return Err(Error::Internal("signature outside the footer"));
            };
            if provider
                .ecdsa_verify(alg, vk.as_bytes(), digest, sig)
                .is_err()
            {
                return Err(Error::Authentication(AuthStage::Signature));
            }
        }
        let aad_buf = &mut [0u8; MAX_BODY_AAD_LEN];
        let aad = body_aad(aad_buf, self.message_id.as_bytes(), kind, seq, len as u64)?;
        open(&self.key, body, iv_offset, len, aad)?;
        stats.frames = stats.frames.saturating_add(1);
        stats.released = stats.released.saturating_add(len as u64);
        stats.consumed = stats.consumed.saturating_add(total as u64);
        let len_field = if kind == BodyKind::NonFramed { 8 } else { 4 };
        let start = iv_offset.saturating_add(IV_LEN).saturating_add(len_field);
        let Some(pt) = body.get_mut(start..start.saturating_add(len)) else {
            debug_assert!(false, "body content outside the body");
            return Err(Error::Internal("body content outside the body"));
        };
        Ok(BodyStep::Last {
            total,
            pt: Plaintext::new(pt, start),
        })
    }
}

fn too_big(n: u64) -> Error {
    Error::limit(LimitKind::BodyLength, usize::MAX as u64, n)
}

fn be_u16(b: &[u8], at: usize) -> Result<u16, Error> {
    let s = b
        .get(at..at.saturating_add(2))
        .and_then(|s| <[u8; 2]>::try_from(s).ok())
        .ok_or(Error::Truncated)?;
    Ok(u16::from_be_bytes(s))
}
fn be_u32(b: &[u8], at: usize) -> Result<u32, Error> {
    let s = b
        .get(at..at.saturating_add(4))
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .ok_or(Error::Truncated)?;
    Ok(u32::from_be_bytes(s))
}
fn be_u64(b: &[u8], at: usize) -> Result<u64, Error> {
    let s = b
        .get(at..at.saturating_add(8))
        .and_then(|s| <[u8; 8]>::try_from(s).ok())
        .ok_or(Error::Truncated)?;
    Ok(u64::from_be_bytes(s))
}

/// Decrypts `[iv (12) ‖ (len field) ‖ content (len) ‖ tag (16)]` found at `iv_offset` in `frame`.
/// The content starts right after the IV and the length field, which is 4 bytes for framed and
/// 8 bytes for non-framed bodies; it is located from the end (content ‖ tag close the slice).
pub(crate) fn open<K: AeadKey>(
    key: &K,
    frame: &mut [u8],
    iv_offset: usize,
    len: usize,
    aad: &[u8],
) -> Result<(), Error> {
    let total = frame.len();
    let tag_start = total.checked_sub(TAG_LEN).ok_or(Error::Truncated)?;
    let ct_start = tag_start.checked_sub(len).ok_or(Error::Truncated)?;
    let iv: [u8; IV_LEN] = frame
        .get(iv_offset..iv_offset.saturating_add(IV_LEN))
        .and_then(|s| s.try_into().ok())
        .ok_or(Error::Truncated)?;
    let tag: [u8; TAG_LEN] = frame
        .get(tag_start..)
        .and_then(|s| s.try_into().ok())
        .ok_or(Error::Truncated)?;
    let ct = frame.get_mut(ct_start..tag_start).ok_or(Error::Truncated)?;
    if key.open_in_place(&iv, aad, ct, &tag).is_err() {
        // Whatever a provider left behind must not be mistaken for plaintext.
        ct.zeroize();
        return Err(Error::Authentication(AuthStage::FrameTag));
    }
    Ok(())
}

/// The header is parsed: the caller must answer with materials (or abort).
///
/// <div class="warning">Everything this request shows is <b>unauthenticated</b>: use it to find
/// the data key, never release it.</div>
///
/// Dropping the request without answering poisons the decryptor.
pub struct MaterialsRequest<'a, P: CryptoProvider> {
    decryptor: &'a mut Decryptor<P>,
    header: HeaderRef<'a>,
    /// The complete parser, kept so that a deferred request or the verified header is rebuilt
    /// without parsing again.
    parser: HeaderParser,
    answered: bool,
}

impl<P: CryptoProvider> core::fmt::Debug for MaterialsRequest<'_, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MaterialsRequest")
            .field("suite", &self.header.suite())
            .finish_non_exhaustive()
    }
}

impl<'a, P: CryptoProvider> MaterialsRequest<'a, P> {
    /// The suite from the header (already checked against the commitment policy).
    pub fn suite(&self) -> AlgorithmSuite {
        self.header.suite()
    }
    /// The encrypted data keys to unwrap.
    pub fn encrypted_data_keys(&self) -> EdkList<'a> {
        self.header.encrypted_data_keys()
    }
    /// The stored encryption context — **not yet authenticated**.
    pub fn encryption_context_unverified(&self) -> EncryptionContextRef<'a> {
        self.header.encryption_context()
    }
    /// The whole parsed header — **not yet authenticated**.
    pub fn header_unverified(&self) -> &HeaderRef<'a> {
        &self.header
    }
    /// The commitment policy in force.
    pub fn commitment_policy(&self) -> CommitmentPolicy {
        self.decryptor.config.commitment_policy
    }

    /// Leaves the request unanswered for now without poisoning the machine: the next
    /// [`Decryptor::process`] call with the same input returns `NeedMaterials` again. This lets an
    /// asynchronous driver release its borrows while it awaits a key provider.
    pub fn defer(mut self) {
        self.answered = true;
        self.decryptor.stage = Stage::Header {
            parser: self.parser,
            need: self.parser.need(),
        };
    }

    /// Refuses to continue; the decryptor fails with [`UsageError::Aborted`].
    pub fn abort(mut self) {
        self.answered = true;
        self.decryptor.stage = Stage::Failed(Error::Usage(UsageError::Aborted));
    }

    /// Checks the materials against the header and verifies the header.
    ///
    /// # Errors
    /// Suite mismatch, policy, data key length, signature key problems, key commitment
    /// mismatch or header tag failure. Errors are sticky.
    pub fn provide(mut self, materials: &DecryptionMaterialsRef<'_>) -> Result<(), Error> {
        self.answered = true;
        let verified = self.verify(materials);
        if let Err(e) = verified {
            self.decryptor.stage = Stage::Failed(e);
        }
        verified
    }

    /// Checks the materials, builds the body state in its final place (the stage) and verifies
    /// the header with its key; on an error the caller fails the machine, which drops the state.
    fn verify(&mut self, m: &DecryptionMaterialsRef<'_>) -> Result<(), Error> {
        let h = &self.header;
        let d = &mut *self.decryptor;
        let suite = h.suite();
        if m.suite != suite {
            return Err(Error::Materials(MaterialsError::SuiteMismatch {
                expected: suite.id(),
                actual: m.suite.id(),
            }));
        }
        // No second policy check: the header parser checked the header's suite against the
        // policy, and the materials' suite equals it (checked above).
        m.data_key.check_suite(suite)?;
        check_required_keys(&m.encryption_context, m.required_encryption_context_keys)?;
        let from_header = verification_key_from_context(suite, &h.encryption_context())?;
        let verification_key = match (from_header, m.verification_key) {
            (Some(hk), Some(mk)) if hk != mk => {
                return Err(Error::Materials(MaterialsError::PublicKeyEntry));
            }
            (None, Some(_)) => {
                return Err(Error::Materials(MaterialsError::UnexpectedSignatureKey));
            }
            (k, _) => k,
        };
        if let Some(vk) = verification_key {
            d.provider
                .ecdsa_check_public_key(vk.algorithm(), vk.as_bytes())
                .map_err(|_| Error::Materials(MaterialsError::PublicKeyEntry))?;
        }
        let (derived, commit) = derive(&d.provider, suite, m.data_key, h.message_id())?;
        if let Some(c) = commit {
            if !c.matches(h.suite_data()) {
                return Err(Error::Authentication(AuthStage::Commitment));
            }
        }
        let digest = suite.signature().map(|alg| {
            let mut dg = d.provider.digest(alg);
            dg.update(h.body_bytes());
            if h.version() == MessageFormatVersion::V1 {
                dg.update(h.auth_iv());
            }
            dg.update(h.auth_tag());
            dg
        });
        let message_id = MessageId::from_slice(h.message_id())?;
        d.stage = Stage::Body {
            body: Body {
                suite,
                message_id,
                content_type: h.content_type(),
                frame_length: h.frame_length(),
                key: d.provider.aead_key(derived.as_bytes())?,
                derived,
                digest,
                verification_key,
                next_seq: 1,
                header: self.parser,
                header_tag: *h.auth_tag(),
            },
            released: false,
        };
        let Stage::Body { body, .. } = &d.stage else {
            debug_assert!(false, "the body stage was just set");
            return Err(Error::Internal("the body stage was just set"));
        };
        let mut mac = body.key.gmac(h.auth_iv())?;
        mac.update(h.body_bytes());
        feed_filtered(
            &mut mac,
            &m.encryption_context,
            m.required_encryption_context_keys,
        )?;
        let tag = mac.finalize();
        if !bool::from(tag.ct_eq(h.auth_tag())) {
            return Err(Error::Authentication(AuthStage::HeaderTag));
        }
        Ok(())
    }
}

impl<P: CryptoProvider> Drop for MaterialsRequest<'_, P> {
    fn drop(&mut self) {
        if !self.answered {
            self.decryptor.stage = Stage::Failed(Error::Usage(UsageError::MaterialsNotProvided));
        }
    }
}
