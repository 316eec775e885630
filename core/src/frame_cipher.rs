//! Frames as independent units, for drivers that work on several frames at once (frame-parallel
//! encryption and decryption) or on a few frames of a large message (ranged decryption).
//!
//! * [`FrameLayout`]: the arithmetic of a framed body, without I/O, from the header alone:
//!   where frame `k` starts, which plaintext bytes it holds, which frame holds a plaintext
//!   offset, and where the final frame is given the message length.
//! * [`FrameCipher`]: seals or opens frame `k` with the message's key. It is `Sync` when the
//!   provider's key is, so several threads can share one. It is obtained from a state machine
//!   after the header verified ([`crate::Decryptor::frame_cipher`]) or was written
//!   ([`crate::FrameEncryptor::frame_cipher`]).
//!
//! The cipher checks what a frame itself proves (its sequence number field and its tag, whose
//! AAD binds the message id, the frame kind, the sequence number and the content length). It
//! does not know the message's order, its final frame or its signature: those stay with the
//! state machine (or, for a ranged decrypt, with the driver, which must verify the header first
//! and may release only what [`FrameCipher::open_regular`] / [`FrameCipher::open_final`]
//! returned).

use crate::body::{
    BodyKind, END_OF_FRAMES, FINAL_FRAME_CONTENT_OFFSET, FINAL_FRAME_OVERHEAD, MAX_BODY_AAD_LEN,
    REGULAR_FRAME_CONTENT_OFFSET, REGULAR_FRAME_OVERHEAD, body_aad, frame_iv,
};
use crate::codec::too_small;
use crate::crypto::AeadKey;
use crate::error::{AuthStage, Error, LimitKind, PolicyError, UsageError};
use crate::header::{ContentType, HeaderRef};
use crate::message_id::MessageId;
use crate::suite::{AlgorithmSuite, IV_LEN, SignatureAlg, TAG_LEN};
use core::ops::Range;

/// Where the frames of a framed message lie, from its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLayout {
    header_len: u64,
    frame_length: u32,
    signature: Option<SignatureAlg>,
}

/// The final frame of a message, located from the message length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FinalFrame {
    /// Its sequence number (the number of regular frames plus one).
    pub seq: u32,
    /// Its offset in the message.
    pub offset: u64,
    /// Its content length (0 … frame length).
    pub content_len: u32,
    /// The serialized length of the final frame (content plus 40 bytes).
    pub record_len: u64,
    /// The plaintext length of the whole message.
    pub plaintext_len: u64,
}

impl FrameLayout {
    /// The layout of a framed message whose header is `header_len` bytes long.
    ///
    /// # Errors
    /// [`PolicyError::RandomAccessNotFramed`] for a non-framed message, a usage error for a
    /// zero frame length.
    pub fn new(
        suite: AlgorithmSuite,
        content_type: ContentType,
        frame_length: u32,
        header_len: u64,
    ) -> Result<Self, Error> {
        if content_type != ContentType::Framed {
            return Err(Error::Policy(PolicyError::RandomAccessNotFramed));
        }
        if frame_length == 0 {
            return Err(Error::Usage(UsageError::InvalidConfig(
                "frame length must be at least 1",
            )));
        }
        Ok(Self {
            header_len,
            frame_length,
            signature: suite.signature(),
        })
    }

    /// The layout of the message whose (parsed) header is `header`.
    ///
    /// # Errors
    /// As [`FrameLayout::new`].
    pub fn from_header(header: &HeaderRef<'_>) -> Result<Self, Error> {
        Self::new(
            header.suite(),
            header.content_type(),
            header.frame_length(),
            header.len() as u64,
        )
    }

    /// The header length (the offset of frame 1).
    pub fn header_len(&self) -> u64 {
        self.header_len
    }
    /// Plaintext bytes per regular frame.
    pub fn frame_length(&self) -> u32 {
        self.frame_length
    }
    /// Serialized length of a regular frame (frame length + 32).
    pub fn regular_frame_len(&self) -> u64 {
        u64::from(self.frame_length) + REGULAR_FRAME_OVERHEAD as u64
    }
    /// Whether the suite signs (the footer follows the final frame).
    pub fn is_signed(&self) -> bool {
        self.signature.is_some()
    }

    /// Offset in the message of frame `seq` (1-based), provided the frames before it are
    /// regular frames.
    ///
    /// # Errors
    /// `seq` 0 or [`END_OF_FRAMES`], or an offset beyond `u64`.
    pub fn frame_offset(&self, seq: u32) -> Result<u64, Error> {
        if seq == 0 || seq == END_OF_FRAMES {
            return Err(Error::limit(
                LimitKind::FrameCount,
                u64::from(END_OF_FRAMES - 1),
                u64::from(seq),
            ));
        }
        u64::from(seq - 1)
            .checked_mul(self.regular_frame_len())
            .and_then(|o| o.checked_add(self.header_len))
            .ok_or(overflow())
    }

    /// The sequence number of the frame holding plaintext byte `pos`.
    ///
    /// # Errors
    /// A position beyond the 2^32 − 1 frames a message can have.
    pub fn frame_of(&self, pos: u64) -> Result<u32, Error> {
        let k = pos / u64::from(self.frame_length) + 1;
        u32::try_from(k)
            .ok()
            .filter(|&k| k != END_OF_FRAMES)
            .ok_or(Error::limit(
                LimitKind::FrameCount,
                u64::from(END_OF_FRAMES - 1),
                k,
            ))
    }

    /// The plaintext bytes frame `seq` holds when it is a regular frame (a final frame holds
    /// the first [`FinalFrame::content_len`] bytes of this range).
    pub fn plaintext_range(&self, seq: u32) -> Range<u64> {
        let f = u64::from(self.frame_length);
        let start = u64::from(seq.saturating_sub(1)) * f;
        start..start + f
    }

    /// The final frame of an unsigned message of `message_len` bytes, by arithmetic alone:
    /// the body after the header is `n` regular frames, then a final frame of 40 + 0 … frame
    /// length bytes. Nothing is proven until the frame is read and its tag verifies.
    ///
    /// # Errors
    /// A signed suite (use [`FrameLayout::final_frame_candidates`]), a message too short to
    /// hold a final frame, or a length no valid message has.
    pub fn final_frame(&self, message_len: u64) -> Result<FinalFrame, Error> {
        if self.signature.is_some() {
            return Err(Error::Usage(UsageError::InvalidInput(
                "the final frame of a signed message is found with final_frame_candidates",
            )));
        }
        let body = message_len
            .checked_sub(self.header_len)
            .and_then(|b| b.checked_sub(FINAL_FRAME_OVERHEAD as u64))
            .ok_or(Error::Truncated)?;
        let n = body / self.regular_frame_len();
        let tail = body % self.regular_frame_len();
        if tail > u64::from(self.frame_length) {
            return Err(Error::format(
                "message length",
                "does not end in a whole final frame",
            ));
        }
        self.final_at(n, tail)
    }

    fn final_at(&self, regular: u64, tail: u64) -> Result<FinalFrame, Error> {
        let seq = u32::try_from(regular + 1)
            .ok()
            .filter(|&s| s != END_OF_FRAMES)
            .ok_or(Error::limit(
                LimitKind::FrameCount,
                u64::from(END_OF_FRAMES - 1),
                regular + 1,
            ))?;
        Ok(FinalFrame {
            seq,
            offset: self.frame_offset(seq)?,
            content_len: u32::try_from(tail).map_err(|_| overflow())?,
            record_len: tail + FINAL_FRAME_OVERHEAD as u64,
            plaintext_len: regular
                .checked_mul(u64::from(self.frame_length))
                .and_then(|p| p.checked_add(tail))
                .ok_or(overflow())?,
        })
    }

    /// For a signed message of `message_len` bytes, whose footer length depends on its
    /// signature, the sequence numbers the final frame may have, in increasing order. Read the
    /// first [`FINAL_FRAME_HEAD_LEN`] bytes at [`FrameLayout::frame_offset`] of each candidate
    /// (and the 2-byte signature length after the frame) and pass them to
    /// [`FrameLayout::confirm_final`]; the first candidate confirmed is the final frame
    /// (candidates before it hold regular frames, whose sequence number field is never
    /// `0xFFFFFFFF`). For unsigned messages this is the one frame of
    /// [`FrameLayout::final_frame`].
    ///
    /// # Errors
    /// A message too short to hold a final frame and a footer.
    pub fn final_frame_candidates(&self, message_len: u64) -> Result<Range<u32>, Error> {
        let Some(alg) = self.signature else {
            let f = self.final_frame(message_len)?;
            return Ok(f.seq..f.seq + 1);
        };
        // body = n·(F + 32) + 40 + t + 2 + s, with t ≤ F and 1 ≤ s ≤ max signature length.
        let body = message_len
            .checked_sub(self.header_len)
            .and_then(|b| b.checked_sub(FINAL_FRAME_OVERHEAD as u64 + 2 + 1))
            .ok_or(Error::Truncated)?;
        let widest = u64::from(self.frame_length) + alg.max_signature_len() as u64 - 1;
        let low = body
            .saturating_sub(widest)
            .div_ceil(self.regular_frame_len());
        let high = body / self.regular_frame_len();
        // Sequence numbers stop below END_OF_FRAMES (which a frame cannot carry).
        let seq = |n: u64| u32::try_from(n + 1).unwrap_or(END_OF_FRAMES);
        Ok(seq(low)..seq(high).saturating_add(1))
    }

    /// Checks candidate `seq` of [`FrameLayout::final_frame_candidates`]: `head` is the first
    /// [`FINAL_FRAME_HEAD_LEN`] bytes at its offset, `signature_len` the 2-byte big-endian
    /// field right after the final frame that `head` describes (for unsigned suites pass
    /// `None`). Returns the final frame if everything fits `message_len`.
    pub fn confirm_final(
        &self,
        message_len: u64,
        seq: u32,
        head: &[u8; FINAL_FRAME_HEAD_LEN],
        signature_len: Option<u16>,
    ) -> Option<FinalFrame> {
        let field = |at: usize| {
            head.get(at..at + 4)
                .and_then(|s| <[u8; 4]>::try_from(s).ok())
                .map(u32::from_be_bytes)
        };
        if field(0)? != END_OF_FRAMES || field(4)? != seq {
            return None;
        }
        let len = field(FINAL_FRAME_CONTENT_OFFSET - 4)?;
        if len > self.frame_length {
            return None;
        }
        let frame = self.final_at(u64::from(seq) - 1, u64::from(len)).ok()?;
        let footer = match (self.signature, signature_len) {
            (None, _) => 0,
            (Some(alg), Some(s)) if s != 0 && usize::from(s) <= alg.max_signature_len() => {
                2 + u64::from(s)
            }
            _ => return None,
        };
        let end = frame
            .offset
            .checked_add(frame.record_len)?
            .checked_add(footer)?;
        (end == message_len).then_some(frame)
    }
}

/// Bytes at the start of a final frame that describe it: marker, sequence number, IV, length.
pub const FINAL_FRAME_HEAD_LEN: usize = FINAL_FRAME_CONTENT_OFFSET;

fn overflow() -> Error {
    Error::limit(LimitKind::MessageLength, u64::MAX, u64::MAX)
}

/// Seals and opens single frames of one message with its key, from any thread.
///
/// Obtained from [`crate::Decryptor::frame_cipher`] or [`crate::FrameEncryptor::frame_cipher`].
pub struct FrameCipher<K: AeadKey> {
    key: K,
    message_id: MessageId,
    frame_length: u32,
}

impl<K: AeadKey> core::fmt::Debug for FrameCipher<K> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FrameCipher")
            .field("frame_length", &self.frame_length)
            .finish_non_exhaustive()
    }
}

impl<K: AeadKey> FrameCipher<K> {
    pub(crate) fn new(key: K, message_id: &[u8], frame_length: u32) -> Result<Self, Error> {
        Ok(Self {
            key,
            message_id: MessageId::from_slice(message_id)?,
            frame_length,
        })
    }

    /// Plaintext bytes per regular frame.
    pub fn frame_length(&self) -> u32 {
        self.frame_length
    }
    /// Serialized length of a regular frame (frame length + 32).
    pub fn regular_frame_len(&self) -> usize {
        (self.frame_length as usize).saturating_add(REGULAR_FRAME_OVERHEAD)
    }

    fn message_id(&self) -> &[u8] {
        self.message_id.as_bytes()
    }

    /// Seals regular frame `seq` in place: `record` is [`FrameCipher::regular_frame_len`]
    /// bytes whose content region `[16 .. 16 + frame length]` holds the plaintext; the sequence
    /// number, the IV (eight zero bytes and `seq`) and the tag are written around it. The
    /// result is byte-identical to what [`crate::FrameEncryptor::seal_frame_in_place`] writes
    /// for that frame; hand it to [`crate::FrameEncryptor::append_sealed`] in order.
    ///
    /// # Errors
    /// A record of the wrong length, `seq` 0 or [`END_OF_FRAMES`], or a provider failure.
    pub fn seal_regular(&self, seq: u32, record: &mut [u8]) -> Result<(), Error> {
        self.check_seq(seq)?;
        seal_regular_frame(
            &self.key,
            self.message_id(),
            self.frame_length,
            seq,
            None,
            record,
        )
    }

    /// As [`FrameCipher::seal_regular`], encrypting `plaintext` (exactly one frame length)
    /// straight into `record`'s content region: one pass over the bytes with providers that
    /// seal out of place ([`AeadKey::seal_to`]), instead of a copy and an in-place seal.
    ///
    /// # Errors
    /// As [`FrameCipher::seal_regular`], or a plaintext of the wrong length.
    pub fn seal_regular_to(
        &self,
        seq: u32,
        plaintext: &[u8],
        record: &mut [u8],
    ) -> Result<(), Error> {
        self.check_seq(seq)?;
        seal_regular_frame(
            &self.key,
            self.message_id(),
            self.frame_length,
            seq,
            Some(plaintext),
            record,
        )
    }

    fn check_seq(&self, seq: u32) -> Result<(), Error> {
        if seq == 0 || seq == END_OF_FRAMES {
            return Err(Error::limit(
                LimitKind::FrameCount,
                u64::from(END_OF_FRAMES - 1),
                u64::from(seq),
            ));
        }
        Ok(())
    }

    /// Opens regular frame `seq`: checks that `record` ([`FrameCipher::regular_frame_len`]
    /// bytes) carries sequence number `seq` and that its tag verifies, decrypts it in place and
    /// returns the plaintext. On failure nothing in `record` is plaintext.
    ///
    /// # Errors
    /// Wrong length or sequence number (format), or [`crate::error::AuthStage::FrameTag`].
    pub fn open_regular<'r>(&self, seq: u32, record: &'r mut [u8]) -> Result<&'r mut [u8], Error> {
        let f = self.frame_length as usize;
        if record.len() != self.regular_frame_len() {
            return Err(Error::Truncated);
        }
        if be_u32(record, 0) != Some(seq) || seq == END_OF_FRAMES {
            return Err(Error::format("frame.sequence_number", "out of order"));
        }
        let mut aad_buf = [0u8; MAX_BODY_AAD_LEN];
        let aad = body_aad(
            &mut aad_buf,
            self.message_id(),
            BodyKind::Regular,
            seq,
            f as u64,
        )?;
        crate::decrypt::open(&self.key, record, 4, f, aad)?;
        record
            .get_mut(REGULAR_FRAME_CONTENT_OFFSET..REGULAR_FRAME_CONTENT_OFFSET + f)
            .ok_or(Error::Truncated)
    }

    /// Opens the final frame, sequence number `seq`: `record` is the whole final frame
    /// (40 bytes plus its content). Checks the end-of-frames marker, the sequence number and
    /// the content length (at most the frame length, and matching `record`), then the tag.
    ///
    /// For a signed message this does **not** verify the signature: a driver that releases
    /// the final frame without it must have the caller's explicit consent.
    ///
    /// # Errors
    /// As [`FrameCipher::open_regular`].
    pub fn open_final<'r>(&self, seq: u32, record: &'r mut [u8]) -> Result<&'r mut [u8], Error> {
        if be_u32(record, 0) != Some(END_OF_FRAMES) {
            return Err(Error::format("final_frame", "not a final frame"));
        }
        if be_u32(record, 4) != Some(seq) {
            return Err(Error::format("final_frame.sequence_number", "out of order"));
        }
        let len = be_u32(record, FINAL_FRAME_CONTENT_OFFSET - 4).ok_or(Error::Truncated)?;
        if len > self.frame_length {
            return Err(Error::limit(
                LimitKind::FinalFrameLength,
                self.frame_length.into(),
                len.into(),
            ));
        }
        let len = len as usize;
        if record.len() != FINAL_FRAME_OVERHEAD + len {
            return Err(Error::Truncated);
        }
        let mut aad_buf = [0u8; MAX_BODY_AAD_LEN];
        let aad = body_aad(
            &mut aad_buf,
            self.message_id(),
            BodyKind::Final,
            seq,
            len as u64,
        )?;
        crate::decrypt::open(&self.key, record, 8, len, aad)?;
        record
            .get_mut(FINAL_FRAME_CONTENT_OFFSET..FINAL_FRAME_CONTENT_OFFSET + len)
            .ok_or(Error::Truncated)
    }

    /// As [`FrameCipher::open_regular`], decrypting out of place: `record` stays ciphertext
    /// and the plaintext (exactly the frame length) goes to the start of `out`; returns its
    /// length. With providers that open out of place ([`AeadKey::open_to`]) this is one pass
    /// over the bytes. `out` holds unverified bytes while the tag is checked; on failure the
    /// region written is wiped.
    ///
    /// # Errors
    /// As [`FrameCipher::open_regular`], or an `out` shorter than the frame length.
    pub fn open_regular_to(&self, seq: u32, record: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        let f = self.frame_length as usize;
        if record.len() != self.regular_frame_len() {
            return Err(Error::Truncated);
        }
        if be_u32(record, 0) != Some(seq) || seq == END_OF_FRAMES {
            return Err(Error::format("frame.sequence_number", "out of order"));
        }
        let out = out.get_mut(..f).ok_or(too_small(f))?;
        let mut aad_buf = [0u8; MAX_BODY_AAD_LEN];
        let aad = body_aad(
            &mut aad_buf,
            self.message_id(),
            BodyKind::Regular,
            seq,
            f as u64,
        )?;
        open_frame_to(&self.key, record, 4, aad, out)?;
        Ok(f)
    }
}

/// Seals regular frame `seq` of a message into `record` (frame length + 32 bytes): with
/// `plaintext`, it is encrypted out of place into the content region; without, the content
/// region already holds the plaintext and is sealed in place. Writes the sequence number, the
/// IV and the tag around it. The one sealing of a regular frame, shared by
/// [`crate::FrameEncryptor`] and [`FrameCipher`]; callers check the sequence number.
pub(crate) fn seal_regular_frame<K: AeadKey>(
    key: &K,
    message_id: &[u8],
    frame_length: u32,
    seq: u32,
    plaintext: Option<&[u8]>,
    record: &mut [u8],
) -> Result<(), Error> {
    let f = frame_length as usize;
    let total = f.saturating_add(REGULAR_FRAME_OVERHEAD);
    if record.len() != total {
        return Err(Error::Usage(UsageError::WrongFrameLength {
            expected: total,
            actual: record.len(),
        }));
    }
    if let Some(p) = plaintext {
        if p.len() != f {
            return Err(Error::Usage(UsageError::WrongFrameLength {
                expected: f,
                actual: p.len(),
            }));
        }
    }
    let iv = frame_iv(seq);
    let mut aad_buf = [0u8; MAX_BODY_AAD_LEN];
    let aad = body_aad(&mut aad_buf, message_id, BodyKind::Regular, seq, f as u64)?;
    let (head, rest) = record.split_at_mut(REGULAR_FRAME_CONTENT_OFFSET);
    let (content, tag_slot) = rest.split_at_mut(f);
    let tag = match plaintext {
        Some(p) => key.seal_to(&iv, aad, p, content)?,
        None => key.seal_in_place(&iv, aad, content)?,
    };
    head.get_mut(..4)
        .ok_or(too_small(total))?
        .copy_from_slice(&seq.to_be_bytes());
    head.get_mut(4..4 + IV_LEN)
        .ok_or(too_small(total))?
        .copy_from_slice(&iv);
    tag_slot.copy_from_slice(&tag);
    Ok(())
}

/// Opens the frame body `ciphertext ‖ tag` at the end of `frame` (IV at `iv_offset`) into
/// `out` (exactly the content length), leaving `frame` untouched. On failure `out` holds no
/// plaintext.
fn open_frame_to<K: AeadKey>(
    key: &K,
    frame: &[u8],
    iv_offset: usize,
    aad: &[u8],
    out: &mut [u8],
) -> Result<(), Error> {
    let len = out.len();
    let tag_start = frame.len().checked_sub(TAG_LEN).ok_or(Error::Truncated)?;
    let ct_start = tag_start.checked_sub(len).ok_or(Error::Truncated)?;
    let iv: [u8; IV_LEN] = frame
        .get(iv_offset..iv_offset.saturating_add(IV_LEN))
        .and_then(|s| s.try_into().ok())
        .ok_or(Error::Truncated)?;
    let tag: [u8; TAG_LEN] = frame
        .get(tag_start..)
        .and_then(|s| s.try_into().ok())
        .ok_or(Error::Truncated)?;
    let ct = frame.get(ct_start..tag_start).ok_or(Error::Truncated)?;
    if key.open_to(&iv, aad, ct, &tag, out).is_err() {
        // Whatever a provider left behind must not be mistaken for plaintext.
        crate::crypto::wipe(out);
        return Err(Error::Authentication(AuthStage::FrameTag));
    }
    Ok(())
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at.checked_add(4)?)
        .and_then(|s| <[u8; 4]>::try_from(s).ok())
        .map(u32::from_be_bytes)
}
