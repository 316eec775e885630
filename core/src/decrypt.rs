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
    Verified(Body<P>),
    Body(Body<P>),
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
            Stage::Verified(_) => "header verified",
            Stage::Body(_) => "body",
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
            Stage::Verified(b) | Stage::Body(b) => FrameCipher::new(
                self.provider.aead_key(b.derived.as_bytes())?,
                b.message_id.as_bytes(),
                b.frame_length,
            ),
            _ => Err(Error::Usage(UsageError::InvalidInput(
                "the frame cipher exists from header verification to the end of the body",
            ))),
        }
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
        // The header stage is handled in place: a caller trickling in bytes pays for no move
        // of the (large) stage, only for the fields that became complete.
        if let Stage::Header { parser, need } = &mut self.stage {
            // `need` is a lower bound of the header length: below it no field can be read that
            // the last call could not. At the end of the input the parser runs anyway, so the
            // fields that are complete are checked and reported before `Truncated`.
            if input.len() < *need && !eof {
                return status(0, DecryptState::NeedInput { min_len: *need });
            }
            let mut p = *parser;
            let input: &'a [u8] = input;
            let res = p.advance(input, &self.config.parse_options());
            *parser = p;
            return self.header(res, eof, p);
        }
        let stage = core::mem::replace(
            &mut self.stage,
            Stage::Failed(Error::Usage(UsageError::Poisoned)),
        );
        match stage {
            Stage::Failed(e) => self.fail(e),
            Stage::Done => {
                self.stage = Stage::Done;
                DecryptStatus {
                    discard: 0,
                    state: Err(Error::Usage(UsageError::AlreadyDone)),
                }
            }
            Stage::Finished => {
                if !input.is_empty() {
                    return self.fail(Error::TrailingData);
                }
                self.stage = Stage::Done;
                status(0, DecryptState::Done)
            }
            Stage::AwaitingMaterials => self.fail(Error::Usage(UsageError::MaterialsNotProvided)),
            // Handled above, in place.
            Stage::Header { parser, need } => {
                self.stage = Stage::Header { parser, need };
                status(0, DecryptState::NeedInput { min_len: need })
            }
            Stage::Verified(body) => {
                // The header was parsed once: its view is rebuilt from the kept offsets.
                let opts = self.config.parse_options();
                let mut parser = body.header;
                match parser.advance(input, &opts) {
                    Ok((h, len)) if bool::from(h.auth_tag().ct_eq(&body.header_tag)) => {
                        self.stage = Stage::Body(body);
                        self.stats.consumed = self.stats.consumed.saturating_add(len as u64);
                        status(len, DecryptState::HeaderVerified(h))
                    }
                    _ => self.fail(Error::Usage(UsageError::InvalidInput(
                        "input changed after the header was verified",
                    ))),
                }
            }
            Stage::Body(body) => self.body(body, input, eof),
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

    fn body<'a>(
        &'a mut self,
        mut b: Body<P>,
        input: &'a mut [u8],
        eof: bool,
    ) -> DecryptStatus<'a, P> {
        let wait = |this: &mut Self, b: Body<P>, min_len: usize| -> DecryptStatus<'a, P> {
            this.stage = Stage::Body(b);
            status(0, DecryptState::NeedInput { min_len })
        };
        macro_rules! need {
            ($n:expr) => {{
                let n: usize = $n;
                if input.len() < n {
                    if eof {
                        return self.fail(Error::Truncated);
                    }
                    return wait(self, b, n);
                }
            }};
        }
        macro_rules! try_ {
            ($e:expr) => {
                match $e {
                    Ok(v) => v,
                    Err(e) => return self.fail(e),
                }
            };
        }
        let aad_buf = &mut [0u8; MAX_BODY_AAD_LEN];
        let message_id = b.message_id.as_bytes();
        match b.content_type {
            ContentType::Framed => {
                need!(4);
                let marker = try_!(be_u32(input, 0));
                if marker != END_OF_FRAMES {
                    // Regular frame.
                    if marker != b.next_seq {
                        return self.fail(Error::format("frame.sequence_number", "out of order"));
                    }
                    let f = b.frame_length as usize;
                    let total = try_!(
                        REGULAR_FRAME_OVERHEAD
                            .checked_add(f)
                            .ok_or(too_big(b.frame_length.into()))
                    );
                    need!(total);
                    let Some(frame) = input.get_mut(..total) else {
                        return self.fail(Error::Truncated);
                    };
                    if let Some(d) = b.digest.as_mut() {
                        d.update(frame);
                    }
                    if self.sealed_frames {
                        b.next_seq = b.next_seq.wrapping_add(1);
                        self.stage = Stage::Body(b);
                        self.stats.frames = self.stats.frames.saturating_add(1);
                        self.stats.consumed = self.stats.consumed.saturating_add(total as u64);
                        return status(
                            total,
                            DecryptState::SealedFrame {
                                seq: marker,
                                record: frame,
                            },
                        );
                    }
                    let aad = try_!(body_aad(
                        aad_buf,
                        message_id,
                        BodyKind::Regular,
                        marker,
                        f as u64
                    ));
                    try_!(open(&b.key, frame, 4, f, aad));
                    b.next_seq = b.next_seq.wrapping_add(1);
                    self.stage = Stage::Body(b);
                    self.stats.frames = self.stats.frames.saturating_add(1);
                    self.stats.released = self.stats.released.saturating_add(f as u64);
                    self.stats.consumed = self.stats.consumed.saturating_add(total as u64);
                    let Some(pt) = frame.get_mut(
                        REGULAR_FRAME_CONTENT_OFFSET
                            ..REGULAR_FRAME_CONTENT_OFFSET.saturating_add(f),
                    ) else {
                        debug_assert!(false, "frame content outside the frame");
                        return self.fail(Error::Internal("frame content outside the frame"));
                    };
                    let pt = Plaintext::new(pt, REGULAR_FRAME_CONTENT_OFFSET);
                    status(total, DecryptState::Plaintext(pt))
                } else {
                    need!(FINAL_FRAME_CONTENT_OFFSET);
                    let seq = try_!(be_u32(input, 4));
                    if seq != b.next_seq {
                        return self
                            .fail(Error::format("final_frame.sequence_number", "out of order"));
                    }
                    let len = try_!(be_u32(input, 4 + 4 + IV_LEN));
                    if len > b.frame_length {
                        return self.fail(Error::limit(
                            LimitKind::FinalFrameLength,
                            b.frame_length.into(),
                            len.into(),
                        ));
                    }
                    let len = len as usize;
                    let frame_total = FINAL_FRAME_OVERHEAD.saturating_add(len);
                    self.finish_body(b, input, eof, frame_total, 4 + 4, len, BodyKind::Final, seq)
                }
            }
            ContentType::NonFramed => {
                need!(IV_LEN + 8);
                let len = try_!(be_u64(input, IV_LEN));
                let max = self
                    .config
                    .limits
                    .max_body_len
                    .min(MAX_NON_FRAMED_CONTENT_LEN);
                if len > max {
                    return self.fail(Error::limit(LimitKind::BodyLength, max, len));
                }
                let len = try_!(usize::try_from(len).map_err(|_| too_big(len)));
                let total = try_!(
                    NON_FRAMED_OVERHEAD
                        .checked_add(len)
                        .ok_or(too_big(len as u64))
                );
                self.finish_body(b, input, eof, total, 0, len, BodyKind::NonFramed, 1)
            }
        }
    }

    /// Final frame or non-framed body: wait for it (and the footer), check the end of input,
    /// verify the signature, then decrypt and release.
    #[allow(clippy::too_many_arguments)]
    fn finish_body<'a>(
        &'a mut self,
        mut b: Body<P>,
        input: &'a mut [u8],
        eof: bool,
        body_total: usize,
        iv_offset: usize,
        len: usize,
        kind: BodyKind,
        seq: u32,
    ) -> DecryptStatus<'a, P> {
        let mut total = body_total;
        let mut sig_range = 0..0;
        if let Some(alg) = b.suite.signature() {
            let with_len = body_total.saturating_add(2);
            if input.len() < with_len {
                return self.wait_or_truncated(b, eof, with_len);
            }
            let sig_len = match be_u16(input, body_total) {
                Ok(v) => usize::from(v),
                Err(e) => return self.fail(e),
            };
            if sig_len > alg.max_signature_len() || sig_len == 0 {
                return self.fail(Error::Authentication(AuthStage::Signature));
            }
            total = with_len.saturating_add(sig_len);
            sig_range = with_len..total;
        }
        if input.len() < total {
            return self.wait_or_truncated(b, eof, total);
        }
        if input.len() > total {
            return self.fail(Error::TrailingData);
        }
        if !eof {
            // Only release the last plaintext once the caller confirms nothing follows.
            return self.wait_or_truncated(b, eof, total.saturating_add(1));
        }
        let (body, footer) = input.split_at_mut(body_total);
        if let (Some(alg), Some(mut digest), Some(vk)) =
            (b.suite.signature(), b.digest.take(), b.verification_key)
        {
            digest.update(body);
            let Some(sig) = footer.get(
                sig_range.start.saturating_sub(body_total)
                    ..sig_range.end.saturating_sub(body_total),
            ) else {
                debug_assert!(false, "signature outside the footer");
                return self.fail(Error::Internal("signature outside the footer"));
            };
            if self
                .provider
                .ecdsa_verify(alg, vk.as_bytes(), digest, sig)
                .is_err()
            {
                return self.fail(Error::Authentication(AuthStage::Signature));
            }
        }
        let aad_buf = &mut [0u8; MAX_BODY_AAD_LEN];
        let message_id = b.message_id.as_bytes();
        let opened = body_aad(aad_buf, message_id, kind, seq, len as u64)
            .and_then(|aad| open(&b.key, body, iv_offset, len, aad));
        if let Err(e) = opened {
            return self.fail(e);
        }
        self.stage = Stage::Finished;
        self.stats.frames = self.stats.frames.saturating_add(1);
        self.stats.released = self.stats.released.saturating_add(len as u64);
        self.stats.consumed = self.stats.consumed.saturating_add(total as u64);
        let len_field = if kind == BodyKind::NonFramed { 8 } else { 4 };
        let start = iv_offset.saturating_add(IV_LEN).saturating_add(len_field);
        let Some(pt) = body.get_mut(start..start.saturating_add(len)) else {
            debug_assert!(false, "body content outside the body");
            return self.fail(Error::Internal("body content outside the body"));
        };
        status(total, DecryptState::Plaintext(Plaintext::new(pt, start)))
    }

    fn wait_or_truncated<'a>(
        &mut self,
        b: Body<P>,
        eof: bool,
        min_len: usize,
    ) -> DecryptStatus<'a, P> {
        if eof {
            return self.fail(Error::Truncated);
        }
        self.stage = Stage::Body(b);
        status(0, DecryptState::NeedInput { min_len })
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
        match self.verify(materials) {
            Ok(body) => {
                self.decryptor.stage = Stage::Verified(body);
                Ok(())
            }
            Err(e) => {
                self.decryptor.stage = Stage::Failed(e);
                Err(e)
            }
        }
    }

    fn verify(&self, m: &DecryptionMaterialsRef<'_>) -> Result<Body<P>, Error> {
        let h = &self.header;
        let d = &*self.decryptor;
        let suite = h.suite();
        if m.suite != suite {
            return Err(Error::Materials(MaterialsError::SuiteMismatch {
                expected: suite.id(),
                actual: m.suite.id(),
            }));
        }
        d.config.commitment_policy.check_decrypt(m.suite)?;
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
        let key = d.provider.aead_key(derived.as_bytes())?;
        let mut mac = key.gmac(h.auth_iv())?;
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
        Ok(Body {
            suite,
            message_id,
            content_type: h.content_type(),
            frame_length: h.frame_length(),
            key,
            derived,
            digest,
            verification_key,
            next_seq: 1,
            header: self.parser,
            header_tag: *h.auth_tag(),
        })
    }
}

impl<P: CryptoProvider> Drop for MaterialsRequest<'_, P> {
    fn drop(&mut self) {
        if !self.answered {
            self.decryptor.stage = Stage::Failed(Error::Usage(UsageError::MaterialsNotProvided));
        }
    }
}
