//! Owned-buffer engines over the core state machines, shared by the one-shot client and every
//! stream adapter (sync and async): they hold the bytes, the adapters only move them.

use crate::error::{Error, Result};
use crate::materials::{DecryptionMaterials, DecryptionRequest, EncryptionMaterials};
use crate::provider::{Backend, SharedRng};
use esdk_core::decrypt::DecryptState;
use esdk_core::{
    CommitmentPolicy, DecryptConfig, Decryptor, EncryptConfig, EncryptionContext, Encryptor,
    FrameEncryptor, Header, HeaderRef, VecInput,
};
use zeroize::Zeroizing;

/// The encrypt engine's output: ciphertext in `buf[..len]`; `buf[len..]` is initialized room
/// (zeros from the allocator, or ciphertext already handed out) that records are sealed into
/// without being zero-filled again. It never holds plaintext once a call returns.
struct OutBuf {
    buf: Vec<u8>,
    len: usize,
}

impl OutBuf {
    /// Room for `n` bytes in `buf` (empty, or the caller's buffer for `Client::encrypt_into`):
    /// see [`crate::stream::one_shot::make_room`] (zeroed by the allocator when new, so fresh
    /// pages for large outputs get no pass of ours; a reused buffer's bytes are overwritten).
    fn reusing(mut buf: Vec<u8>, n: usize) -> Self {
        crate::stream::one_shot::make_room(&mut buf, n);
        Self { buf, len: 0 }
    }
    fn len(&self) -> usize {
        self.len
    }
    fn bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
    /// `n` more bytes at the end, initialized but unspecified (zeros or old ciphertext): the
    /// caller overwrites all of them. Grows by at least doubling, so the cost stays linear.
    fn grow(&mut self, n: usize) -> &mut [u8] {
        let start = self.len;
        let end = start.saturating_add(n);
        if self.buf.len() < end {
            let want = end.max(self.buf.len().saturating_mul(2)).max(4096);
            self.buf.resize(want, 0);
        }
        self.len = end;
        self.buf.get_mut(start..end).unwrap_or(&mut [])
    }
    /// Drops the bytes after `n`, wiping them (a failed record may hold plaintext).
    fn wipe_back_to(&mut self, n: usize) {
        if let Some(tail) = self.buf.get_mut(n..self.len) {
            zeroize::Zeroize::zeroize(tail);
        }
        self.len = self.len.min(n);
    }
    fn extend_from_slice(&mut self, data: &[u8]) {
        self.grow(data.len()).copy_from_slice(data);
    }
    fn clear(&mut self) {
        self.len = 0;
    }
    /// The bytes from `from` on, in the buffer's allocation when `from` is 0.
    fn into_vec(mut self, from: usize) -> Vec<u8> {
        self.buf.truncate(self.len);
        if from == 0 {
            self.buf
        } else {
            self.buf.split_off(from.min(self.len))
        }
    }
}

/// Appends one sealed regular frame of `plaintext` (exactly one frame length) to `out`: the
/// plaintext is encrypted straight into its place in the record (out of place, one pass with
/// the aws-lc backend; a copy and an in-place seal with providers that only seal in place), and
/// the record's room is not zero-filled first. On failure the record is wiped and removed.
fn seal_appending(
    frames: &mut FrameEncryptor<Backend>,
    out: &mut OutBuf,
    plaintext: &[u8],
) -> Result<()> {
    let start = out.len();
    let record = out.grow(frames.sealed_frame_len());
    if let Err(e) = frames.seal_frame(plaintext, record) {
        out.wipe_back_to(start);
        return Err(e.into());
    }
    Ok(())
}

/// The most a non-framed encryption reserves up front from the announced plaintext length.
const NON_FRAMED_RESERVE: u64 = 256 << 20;

/// Encrypts: header at construction, frames as plaintext arrives, final frame at `finish`.
pub(crate) struct EncryptEngine {
    frames: Option<FrameEncryptor<Backend>>,
    rng: SharedRng,
    frame_len: usize,
    legacy_non_framed: bool,
    staged: Zeroizing<Vec<u8>>,
    out: OutBuf,
    out_pos: usize,
    header: Header,
    max_plaintext: Option<u64>,
    total: u64,
    empty_final_frame: bool,
}

impl std::fmt::Debug for EncryptEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EncryptEngine")
            .field("frame_len", &self.frame_len)
            .field("total", &self.total)
            .finish()
    }
}

impl EncryptEngine {
    /// Checks the materials, writes the header. `output_hint` reserves output capacity.
    pub(crate) fn new(
        materials: &EncryptionMaterials,
        config: EncryptConfig,
        max_plaintext: Option<u64>,
        output_hint: usize,
        backend: Backend,
        rng: SharedRng,
    ) -> Result<Self> {
        let mut out = Vec::new();
        Self::with_output(
            materials,
            config,
            max_plaintext,
            output_hint,
            backend,
            rng,
            &mut out,
        )
    }

    /// As [`EncryptEngine::new`], writing the message into `output`'s allocation (taken; it
    /// comes back from `into_output`, and is left in `output` if this fails).
    pub(crate) fn with_output(
        materials: &EncryptionMaterials,
        config: EncryptConfig,
        max_plaintext: Option<u64>,
        output_hint: usize,
        backend: Backend,
        mut rng: SharedRng,
        output: &mut Vec<u8>,
    ) -> Result<Self> {
        let (frames, out) = materials.with_core(|cm| {
            let ready = Encryptor::new(backend, config)?.provide(cm, &mut rng)?;
            // The header is on top of the hint (callers estimate the body), so an exact
            // one-shot estimate never has to grow (which would copy and zero-fill).
            let header_len = ready.header_len();
            let mut out = OutBuf::reusing(
                std::mem::take(output),
                output_hint.saturating_add(header_len),
            );
            match ready.write_header(out.grow(header_len)) {
                Ok((frames, _)) => Ok((frames, out)),
                Err(e) => {
                    *output = out.buf;
                    Err(e.into())
                }
            }
        })?;
        let opts = esdk_core::header::ParseOptions {
            commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
            ..Default::default()
        };
        let header = match HeaderRef::parse(out.bytes(), &opts) {
            Ok((h, _)) => Header::from(&h),
            Err(e) => {
                *output = out.buf;
                return Err(e.into());
            }
        };
        let frame_len = frames.frame_length();
        let mut staged = Zeroizing::new(Vec::new());
        if config.legacy_non_framed {
            // The whole body is held until `finish`: reserve the announced length once (up
            // to 256 MiB; beyond that it grows as bytes arrive, so a loose bound costs nothing).
            let want = max_plaintext
                .map_or(0, |m| m.min(NON_FRAMED_RESERVE))
                .try_into()
                .unwrap_or(0);
            let _ = staged.try_reserve_exact(want);
        } else {
            // One frame, or the whole plaintext when it is known to be shorter: the staging
            // buffer never reallocates (which would leave plaintext behind in freed memory).
            staged.reserve_exact(max_plaintext.map_or(frame_len, |m| {
                frame_len.min(usize::try_from(m).unwrap_or(usize::MAX))
            }));
        }
        Ok(Self {
            frames: Some(frames),
            rng,
            frame_len,
            legacy_non_framed: config.legacy_non_framed,
            staged,
            out,
            out_pos: 0,
            header,
            max_plaintext,
            total: 0,
            empty_final_frame: false,
        })
    }

    /// With `yes`, a plaintext that is a positive multiple of the frame length ends in a full
    /// regular frame and an empty final frame (see [`crate::EncryptOptions::empty_final_frame`]).
    pub(crate) fn set_empty_final_frame(&mut self, yes: bool) {
        self.empty_final_frame = yes;
    }

    pub(crate) fn header(&self) -> &Header {
        &self.header
    }

    /// Stages plaintext; seals every frame that is full and followed by more plaintext, and,
    /// when the message ends in an empty final frame, every full frame (it is a regular frame
    /// whatever follows, so nothing is held back or copied).
    pub(crate) fn push(&mut self, mut data: &[u8]) -> Result<()> {
        let frames = self
            .frames
            .as_mut()
            .ok_or(Error::Core(esdk_core::Error::Usage(
                esdk_core::error::UsageError::AlreadyDone,
            )))?;
        let total = self.total.saturating_add(data.len() as u64);
        if let Some(max) = self.max_plaintext {
            if total > max {
                return Err(Error::Core(esdk_core::Error::Limit(
                    esdk_core::error::LimitError {
                        what: esdk_core::error::LimitKind::PlaintextLength,
                        limit: max,
                        actual: total,
                    },
                )));
            }
        }
        self.total = total;
        if self.legacy_non_framed {
            return self.stage_non_framed(data);
        }
        let f = self.frame_len;
        // With an empty final frame, a full frame is a regular frame even if nothing follows.
        let eager = self.empty_final_frame;
        while !data.is_empty() {
            if self.staged.len() == f {
                seal_appending(frames, &mut self.out, &self.staged)?;
                self.staged.clear();
            }
            if self.staged.is_empty() && (data.len() > f || (eager && data.len() == f)) {
                // Seal straight from the caller's bytes, no staging copy.
                let (chunk, rest) = data.split_at(f);
                seal_appending(frames, &mut self.out, chunk)?;
                data = rest;
                continue;
            }
            let take = (f - self.staged.len()).min(data.len());
            let (head, rest) = data.split_at(take);
            self.staged.extend_from_slice(head);
            data = rest;
        }
        if eager && f > 0 && self.staged.len() == f {
            seal_appending(frames, &mut self.out, &self.staged)?;
            self.staged.clear();
        }
        Ok(())
    }

    /// Holds more of a non-framed body (sealed in one piece by `finish`). Fails before
    /// buffering past the format's limit; grows by doubling into a fresh zeroizing buffer (the
    /// old one is wiped when dropped, so no plaintext stays behind in freed memory), and
    /// reports an allocation failure as an error instead of aborting.
    fn stage_non_framed(&mut self, data: &[u8]) -> Result<()> {
        let limit = esdk_core::policy::MAX_NON_FRAMED_CONTENT_LEN;
        let need = self.staged.len().saturating_add(data.len());
        if need as u64 > limit {
            return Err(Error::Core(esdk_core::Error::Limit(
                esdk_core::error::LimitError {
                    what: esdk_core::error::LimitKind::BodyLength,
                    limit,
                    actual: need as u64,
                },
            )));
        }
        if need > self.staged.capacity() {
            let cap = need.max(self.staged.capacity().saturating_mul(2)).max(4096);
            let cap = cap
                .min(usize::try_from(limit).unwrap_or(usize::MAX))
                .max(need);
            let mut grown = Zeroizing::new(Vec::new());
            grown.try_reserve_exact(cap).map_err(|_| {
                Error::Io(std::io::Error::new(
                    std::io::ErrorKind::OutOfMemory,
                    format!("cannot hold a non-framed body of {need} bytes in memory"),
                ))
            })?;
            grown.extend_from_slice(&self.staged);
            self.staged = grown;
        }
        self.staged.extend_from_slice(data);
        Ok(())
    }

    /// Frame-parallel encryption (`crate::parallel`): the frame encryptor, for its
    /// `frame_cipher` and next sequence number. `None` once finished.
    pub(crate) fn frame_encryptor(&self) -> Option<&FrameEncryptor<Backend>> {
        self.frames.as_ref()
    }

    /// Frame-parallel encryption: appends `records` (whole regular frames sealed by the frame
    /// cipher, in order, holding `plaintext_len` bytes) as the next frames of the message.
    pub(crate) fn push_sealed(&mut self, records: &[u8], plaintext_len: usize) -> Result<()> {
        self.note_sealed(records, plaintext_len)?;
        self.out.extend_from_slice(records);
        Ok(())
    }

    /// As [`EncryptEngine::push_sealed`] for records the caller keeps in its own output (a
    /// one-shot call writing frames in place): checked, counted and hashed, not copied.
    pub(crate) fn note_sealed(&mut self, records: &[u8], plaintext_len: usize) -> Result<()> {
        let frames = self
            .frames
            .as_mut()
            .ok_or(Error::Core(esdk_core::Error::Usage(
                esdk_core::error::UsageError::AlreadyDone,
            )))?;
        if !self.staged.is_empty() {
            return Err(Error::Core(esdk_core::Error::Usage(
                esdk_core::error::UsageError::InvalidInput("sealed frames after staged plaintext"),
            )));
        }
        let total = self.total.saturating_add(plaintext_len as u64);
        if let Some(max) = self.max_plaintext {
            if total > max {
                return Err(Error::Core(esdk_core::Error::Limit(
                    esdk_core::error::LimitError {
                        what: esdk_core::error::LimitKind::PlaintextLength,
                        limit: max,
                        actual: total,
                    },
                )));
            }
        }
        let rl = frames.sealed_frame_len().max(1);
        for record in records.chunks(rl) {
            frames.append_sealed(record)?;
        }
        self.total = total;
        Ok(())
    }

    /// Writes the final frame (or non-framed body) and the footer.
    pub(crate) fn finish(&mut self) -> Result<()> {
        let frames = self
            .frames
            .take()
            .ok_or(Error::Core(esdk_core::Error::Usage(
                esdk_core::error::UsageError::AlreadyDone,
            )))?;
        // With an empty final frame, `push` has sealed every full frame: the tail is shorter.
        let start = self.out.len();
        let room = self.out.grow(frames.finish_len(self.staged.len()));
        if let Err(e) = frames.finish(&self.staged, room, &mut self.rng) {
            self.out.wipe_back_to(start);
            return Err(e.into());
        }
        self.staged.clear();
        Ok(())
    }

    /// Ciphertext ready to be written out.
    pub(crate) fn output(&self) -> &[u8] {
        self.out.bytes().get(self.out_pos..).unwrap_or(&[])
    }
    /// Marks `n` output bytes as written; compacts the buffer once it is drained.
    pub(crate) fn consume_output(&mut self, n: usize) {
        self.out_pos = (self.out_pos + n).min(self.out.len());
        if self.out_pos == self.out.len() {
            self.out.clear();
            self.out_pos = 0;
        }
    }
    /// Takes the whole output (one-shot use).
    pub(crate) fn into_output(self) -> (Vec<u8>, Header) {
        (self.out.into_vec(self.out_pos), self.header)
    }
    /// Whether the final frame has been written.
    pub(crate) fn is_finished(&self) -> bool {
        self.frames.is_none()
    }
    /// Frame length.
    pub(crate) fn frame_len(&self) -> usize {
        self.frame_len
    }
    /// The declared plaintext length, if any (frame-parallel drivers check it on intake).
    pub(crate) fn max_plaintext(&self) -> Option<u64> {
        self.max_plaintext
    }
    /// The most plaintext an encrypting writer takes per call: two frames, at least 192 KiB,
    /// so its output buffer stays O(frame length) however large the caller's buffer is. Each
    /// call ends holding its last full frame (copied into the staging buffer: it becomes the
    /// final frame if no more plaintext follows), so a batch of many frames keeps that copy
    /// to a small share of the bytes (with 64 KiB frames: one in three, against one in two
    /// with a 128 KiB batch). Messages that end in an empty final frame hold nothing back: a
    /// full frame is sealed from the caller's bytes at once.
    pub(crate) fn write_batch(&self) -> usize {
        self.frame_len
            .max(ENCRYPT_WRITE_BATCH / 2)
            .saturating_mul(2)
    }
}

/// The least plaintext an encrypting writer takes per call when offered more (see
/// [`EncryptEngine::write_batch`]).
const ENCRYPT_WRITE_BATCH: usize = 192 * 1024;

/// The most ciphertext a decrypting writer takes per call, so that what it buffers stays
/// O(frame length) however large the caller's buffer is.
pub(crate) const WRITE_BATCH: usize = 64 * 1024;

/// What the driver of a [`DecryptEngine`] does next, as [`DecryptEngine::step`] says (the
/// core's [`DecryptState`] is what the state machine says to the engine).
#[derive(Debug)]
pub(crate) enum DriverAction {
    /// Push more ciphertext (or signal end of input).
    NeedInput,
    /// Ask the materials source for decryption materials for this request, then call
    /// `set_materials`.
    NeedMaterials(Box<DecryptionRequest>),
    /// Plaintext is available through `plaintext()` / `consume_plaintext()`.
    Plaintext,
    /// The message is complete and verified.
    Done,
}

/// The largest frame a decrypting reader opens into its staging frame when the caller's
/// `read` buffer cannot take it (beyond it, such frames are decrypted in place, so a reader's
/// memory stays its input buffer plus at most this much).
const READER_STAGING_MAX: usize = 64 * 1024;

/// The frame cipher of the message being decrypted.
type Cipher = esdk_core::FrameCipher<<Backend as esdk_core::crypto::CryptoProvider>::AeadKey>;

/// What [`DecryptEngine::read_step`] did.
#[derive(Debug)]
pub(crate) enum ReadStep {
    /// `n > 0` bytes of verified plaintext were written to the start of the caller's buffer.
    Read(usize),
    /// Nothing was written; the driver does this first (never `Plaintext`).
    Action(DriverAction),
}

/// Decrypts from an owned, compacting input buffer ([`VecInput`]: growth, compaction, the
/// discard bookkeeping and the plaintext's position live there).
///
/// Regular frames are opened **out of place** (the core hands them over sealed, after checking
/// their order and feeding the signature digest): straight into the caller's buffer by
/// [`DecryptEngine::read_step`] when the frame's plaintext fits there, otherwise into a
/// one-frame staging buffer that `plaintext()` then shows. Either way one pass of AES-GCM from
/// the ciphertext to the destination (with the aws-lc backend), and no wipe per frame: the
/// staging buffer is overwritten by the next frame and wiped on drop or failure; the
/// caller's buffer receives only verified plaintext (a failed open wipes what it wrote). The
/// final frame and a non-framed body are still decrypted in place by the core, which releases
/// them only after the end of input (and the signature) verified. With
/// [`DecryptEngine::set_sealed_frames`] the sealed frames go to the driver instead (one-shot
/// and frame-parallel decryption).
pub(crate) struct DecryptEngine {
    dec: Decryptor<Backend>,
    backend: Backend,
    input: VecInput,
    /// The header, converted to its owned form once, when the machine first asks for
    /// materials (the request is built from it); shown only once it verified.
    header: Option<Header>,
    header_verified: bool,
    materials: Option<DecryptionMaterials>,
    reproduced: Option<EncryptionContext>,
    done: bool,
    /// Frame-parallel drivers (`crate::parallel`): the sequence number of a sealed frame
    /// held by the input (ciphertext, not plaintext) in sealed-frames mode.
    sealed_seq: Option<u32>,
    /// Sealed frames go to the driver (`set_sealed_frames(true)`) rather than being opened
    /// here.
    handover: bool,
    /// Regular frames `step` meets are opened into the staging buffer (`set_staging`) rather
    /// than decrypted in place by the core.
    stage_frames: bool,
    /// The frame cipher, made once at the first regular frame opened here.
    cipher: Option<Cipher>,
    /// One frame of plaintext opened here when the caller's buffer could not take it; the
    /// unreleased part is `staged`. Overwritten by the next frame, wiped on drop and failure.
    staging: Zeroizing<Vec<u8>>,
    staged: std::ops::Range<usize>,
    /// A frame failed to open here: every later step fails with it (the core does not know).
    failed: Option<esdk_core::Error>,
}

impl std::fmt::Debug for DecryptEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptEngine")
            .field("decryptor", &self.dec)
            .field("input", &self.input)
            .finish()
    }
}

/// The std error for a core error: a full input buffer is [`Error::BufferLimit`].
fn from_core(e: esdk_core::Error) -> Error {
    match e {
        esdk_core::Error::Limit(l) if l.what == esdk_core::error::LimitKind::InputBuffer => {
            Error::BufferLimit {
                limit: usize::try_from(l.limit).unwrap_or(usize::MAX),
                needed: usize::try_from(l.actual).unwrap_or(usize::MAX),
            }
        }
        e => Error::Core(e),
    }
}

/// The context the engine returns is the materials' one: it must be exactly what the header
/// tag authenticates, the stored pairs plus the required (reproduced-only) pairs, so that a
/// materials manager cannot slip an unauthenticated pair or value into a decrypt's result.
/// No allocation: one map lookup per pair (plus a scan of the required keys for a pair the
/// header does not store).
fn check_materials_context(m: &DecryptionMaterials, stored: &EncryptionContext) -> Result<()> {
    let mismatch = || {
        Error::Core(esdk_core::Error::Materials(
            esdk_core::error::MaterialsError::EncryptionContextMismatch,
        ))
    };
    let mut extra = 0usize;
    for (k, v) in m.encryption_context.iter() {
        match stored.get(k) {
            Some(s) if s == v => {}
            Some(_) => return Err(mismatch()),
            None if m.required_encryption_context_keys.iter().any(|r| r == k) => {
                extra = extra.saturating_add(1);
            }
            None => return Err(mismatch()),
        }
    }
    if m.encryption_context.len() != stored.len().saturating_add(extra) {
        return Err(mismatch());
    }
    Ok(())
}

impl DecryptEngine {
    pub(crate) fn new(
        config: DecryptConfig,
        reproduced: Option<EncryptionContext>,
        max_buffer: usize,
        backend: Backend,
    ) -> Self {
        Self {
            dec: Decryptor::new(backend.clone(), config),
            backend,
            input: VecInput::new(max_buffer),
            header: None,
            header_verified: false,
            materials: None,
            reproduced,
            done: false,
            sealed_seq: None,
            handover: false,
            stage_frames: false,
            cipher: None,
            staging: Zeroizing::new(Vec::new()),
            staged: 0..0,
            failed: None,
        }
    }

    /// Sealed-frames mode (frame-parallel decryption): regular frames come out of `step` as
    /// `Plaintext` whose bytes are the **sealed** frame, flagged by `take_sealed_seq`.
    /// With `false` (the default) the engine opens regular frames itself.
    pub(crate) fn set_sealed_frames(&mut self, yes: bool) {
        self.handover = yes;
        self.dec.set_sealed_frames(yes);
    }

    /// Decrypting writers: `step` opens each regular frame out of place into a one-frame
    /// staging buffer (overwritten by the next frame, wiped on drop and failure) instead of
    /// having the core decrypt it in place in the input buffer, whose released plaintext is
    /// wiped byte by byte as it is consumed. Costs one frame of memory beyond the input
    /// buffer's cap.
    pub(crate) fn set_staging(&mut self, yes: bool) {
        self.stage_frames = yes;
    }

    /// Bytes allocated for the staging buffer (at most one frame; see `set_staging`).
    pub(crate) fn staging_capacity(&self) -> usize {
        self.staging.capacity()
    }

    /// The plaintext length of a regular frame, once the header is known (0 before, and for
    /// a non-framed body).
    fn frame_plaintext_len(&self) -> usize {
        self.header
            .as_ref()
            .filter(|h| h.content_type == esdk_core::ContentType::Framed)
            .map_or(0, |h| h.frame_length as usize)
    }

    /// After a `Plaintext` step in sealed-frames mode: the sequence number if the bytes held
    /// are a sealed regular frame (to open with the frame cipher) rather than plaintext.
    pub(crate) fn take_sealed_seq(&mut self) -> Option<u32> {
        self.sealed_seq.take()
    }

    /// Drops the sealed frame held (it was copied out), without wiping it.
    pub(crate) fn skip_held(&mut self) {
        self.input.skip_held();
    }

    /// One-shot frame-parallel use (sealed-frames mode, nothing buffered): accounts for the
    /// next regular frame where it lies in the caller's message, without copying it in
    /// (`Decryptor::skip_sealed_frame`). `None`: not a regular frame, push those bytes.
    pub(crate) fn skip_sealed_frame(&mut self, record: &[u8]) -> Result<Option<u32>> {
        if self.input.buffered() != 0 || !self.input.plaintext().is_empty() || !self.header_verified
        {
            return Err(Error::Internal("frame skipped with input buffered"));
        }
        self.dec.skip_sealed_frame(record).map_err(from_core)
    }

    /// Ciphertext bytes buffered and not yet processed (frame-parallel readers read the
    /// next regular frames straight into their batches only when this is 0).
    pub(crate) fn buffered(&self) -> usize {
        self.input.buffered()
    }

    /// The cipher for this message's frames, once the header verified.
    pub(crate) fn frame_cipher(
        &self,
    ) -> Result<esdk_core::FrameCipher<<Backend as esdk_core::crypto::CryptoProvider>::AeadKey>>
    {
        Ok(self.dec.frame_cipher()?)
    }

    /// Bytes the machine needs beyond those buffered to make progress (after `NeedInput`).
    pub(crate) fn bytes_needed(&self) -> usize {
        self.input.bytes_needed()
    }

    /// How much an adapter should read from its source next (after `NeedInput`): within the
    /// body, once a frame has started arriving, exactly what completes what the machine
    /// waits for, so the frame ends the buffer and the buffer never has a partial frame to
    /// move down (compaction would copy almost every byte once more when reads and frames do
    /// not line up); otherwise `chunk`.
    pub(crate) fn read_want(&self, chunk: usize) -> usize {
        match self.input.bytes_needed() {
            n if n > 0 && self.header_verified && self.input.buffered() > 0 => n,
            _ => chunk,
        }
    }

    /// Message bytes the machine consumed so far (after `HeaderVerified`: the header length).
    pub(crate) fn consumed(&self) -> u64 {
        self.dec.stats().consumed
    }

    /// Appends ciphertext. Refused after end of input was signalled.
    pub(crate) fn push(&mut self, data: &[u8]) -> Result<()> {
        self.input.push(data).map_err(from_core)
    }

    /// Space to read ciphertext into directly: between 1 and `want` bytes at the end of the
    /// buffer (already initialized, not zeroed again); call `commit(n)` with the number
    /// actually filled.
    pub(crate) fn spare(&mut self, want: usize) -> Result<&mut [u8]> {
        self.input.spare(want).map_err(from_core)
    }

    /// Keeps `n` of the bytes handed out by `spare`.
    pub(crate) fn commit(&mut self, n: usize) {
        self.input.commit(n);
    }

    /// Bytes the buffer zero-filled so far (each byte once, when the buffer grew).
    #[cfg(test)]
    pub(crate) fn bytes_zeroed(&self) -> u64 {
        self.input.bytes_zeroed()
    }

    /// The buffer's current allocation, never more than `max_buffer`.
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.input.capacity()
    }

    /// Signals end of input.
    pub(crate) fn set_eof(&mut self) {
        self.input.set_eof();
    }

    /// Supplies the materials asked for by `DriverAction::NeedMaterials`.
    pub(crate) fn set_materials(&mut self, m: DecryptionMaterials) {
        self.materials = Some(m);
    }

    /// The parsed header, once verified.
    pub(crate) fn header(&self) -> Option<&Header> {
        self.header.as_ref().filter(|_| self.header_verified)
    }

    /// The authenticated encryption context (stored pairs plus reproduced-only pairs).
    pub(crate) fn encryption_context(&self) -> Option<&EncryptionContext> {
        self.materials.as_ref().map(|m| &m.encryption_context)
    }

    /// Moves the header and the authenticated encryption context out (one-shot use, instead
    /// of cloning them).
    pub(crate) fn take_header_and_context(
        &mut self,
    ) -> (Option<Header>, Option<EncryptionContext>) {
        let ec = self.materials.take().map(|m| m.encryption_context);
        let header = self.header.take().filter(|_| self.header_verified);
        (header, ec)
    }

    /// The plaintext ready for release: a frame opened into the staging buffer, or what the
    /// core decrypted in place (final frame, non-framed body). In sealed-frames mode, after a
    /// `take_sealed_seq`, the sealed frame instead.
    pub(crate) fn plaintext(&self) -> &[u8] {
        if !self.staged.is_empty() {
            return self.staging.get(self.staged.clone()).unwrap_or(&[]);
        }
        self.input.plaintext()
    }

    /// Marks `n` bytes of [`DecryptEngine::plaintext`] as released (the core's in-place
    /// plaintext is wiped; the staging buffer is overwritten by the next frame).
    pub(crate) fn consume_plaintext(&mut self, n: usize) {
        if self.staged.is_empty() {
            self.input.consume_plaintext(n);
        } else {
            self.staged.start = self.staged.start.saturating_add(n).min(self.staged.end);
        }
    }

    /// Copies available plaintext into `out`.
    pub(crate) fn read(&mut self, out: &mut [u8]) -> usize {
        let avail = self.plaintext();
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume_plaintext(n);
        n
    }

    /// Whether [`DecryptEngine::read_step`] may drive this engine (not in sealed-frames mode,
    /// whose frames a driver opens).
    pub(crate) fn reads_into_caller(&self) -> bool {
        !self.handover
    }

    /// A reader's `read`: fills the start of `out` with verified plaintext, opening each
    /// regular frame whose plaintext fits in what is left of `out` straight into it (one pass,
    /// no copy). Plaintext already held (a staged frame, the final frame) is copied first.
    /// Goes on while the buffered input holds more frames and `out` has room; never asks for
    /// input once something was written. Returns [`ReadStep::Action`] only when nothing was
    /// written.
    ///
    /// Release rules are the engine's: a frame's bytes only after its tag verified (a failed
    /// open wipes what it wrote to `out` and fails every later call), the final frame only
    /// after the end of input and the signature verified. An error after some bytes were
    /// written returns those bytes; the error (sticky) comes with the next call.
    pub(crate) fn read_step(&mut self, out: &mut [u8]) -> Result<ReadStep> {
        let mut n = 0usize;
        loop {
            let room = out.get_mut(n..).unwrap_or(&mut []);
            if room.is_empty() {
                return Ok(ReadStep::Read(n));
            }
            if !self.plaintext().is_empty() {
                n = n.saturating_add(self.read(room));
                continue;
            }
            if n > 0 && room.len() < self.frame_plaintext_len() {
                // The next frame would not fit: it goes straight into the next call's buffer.
                return Ok(ReadStep::Read(n));
            }
            let step = self.step_to(Some(room), false);
            match step {
                Ok(Stepped::Opened(k)) => n = n.saturating_add(k),
                Ok(Stepped::Action(DriverAction::Plaintext)) => {}
                Ok(Stepped::Action(a)) if n == 0 => return Ok(ReadStep::Action(a)),
                Ok(Stepped::Action(_)) => return Ok(ReadStep::Read(n)),
                Err(e) if n == 0 => return Err(e),
                Err(e) => {
                    // The bytes written verified: return them, and the error next time.
                    self.poison(&e);
                    return Ok(ReadStep::Read(n));
                }
            }
        }
    }

    /// Makes every later step fail with `e` (or `Poisoned` if it is not a core error).
    fn poison(&mut self, e: &Error) {
        let core = e.core().copied().unwrap_or(esdk_core::Error::Usage(
            esdk_core::error::UsageError::Poisoned,
        ));
        self.failed.get_or_insert(core);
        self.staged = 0..0;
        zeroize::Zeroize::zeroize(&mut *self.staging);
    }

    /// Opens the sealed regular frame `seq` the input holds into `dst` (which must take its
    /// whole plaintext) and drops it from the input. On failure `dst` is wiped and the engine
    /// fails from now on.
    fn open_held(&mut self, seq: u32, dst: Option<&mut [u8]>) -> Result<usize> {
        let cipher = match &mut self.cipher {
            Some(c) => c,
            slot => slot.insert(self.dec.frame_cipher().map_err(from_core)?),
        };
        let f = cipher.frame_length() as usize;
        let r = match dst {
            Some(dst) => cipher.open_regular_to(seq, self.input.plaintext(), dst),
            None => {
                if self.staging.len() != f {
                    // Once per message (frames have one length): a fresh zeroed buffer.
                    self.staging = Zeroizing::new(vec![0u8; f]);
                }
                let r = cipher.open_regular_to(seq, self.input.plaintext(), &mut self.staging);
                if let Ok(k) = r {
                    self.staged = 0..k;
                }
                r
            }
        };
        // The sealed frame is ciphertext: dropped without a wipe.
        self.input.skip_held();
        r.map_err(|e| {
            let e = Error::Core(e);
            self.poison(&e);
            e
        })
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// Runs the machine until it needs something or has plaintext.
    pub(crate) fn step(&mut self) -> Result<DriverAction> {
        match self.step_to(None, false)? {
            Stepped::Action(a) => Ok(a),
            Stepped::Opened(_) => Err(Error::Internal("frame opened without a destination")),
        }
    }

    /// As [`DecryptEngine::step`], but returns `NeedInput` as soon as the header verified
    /// (check [`DecryptEngine::header`]) instead of going on into the body: a reader that
    /// reads the header at construction leaves the frames already buffered for its `read`
    /// calls, to be opened straight into their buffers.
    pub(crate) fn step_header(&mut self) -> Result<DriverAction> {
        match self.step_to(None, true)? {
            Stepped::Action(a) => Ok(a),
            Stepped::Opened(_) => Err(Error::Internal("frame opened without a destination")),
        }
    }

    /// As [`DecryptEngine::step`]; with `dst`, a regular frame whose plaintext fits in it is
    /// opened straight into it (`Opened`), otherwise into the staging buffer (`Plaintext`).
    fn step_to(&mut self, dst: Option<&mut [u8]>, stop_at_header: bool) -> Result<Stepped> {
        if let Some(e) = self.failed {
            return Err(Error::Core(e));
        }
        if !self.plaintext().is_empty() {
            return Ok(Stepped::Action(DriverAction::Plaintext));
        }
        if self.done {
            return Ok(Stepped::Action(DriverAction::Done));
        }
        // Whether the core hands a regular frame over sealed: to the driver, or to be opened
        // here out of place (into `dst` if its plaintext fits, or into the staging buffer).
        // Otherwise the core decrypts it in place, as before.
        let f = self.frame_plaintext_len();
        let fits = dst.as_ref().is_some_and(|d| f > 0 && d.len() >= f);
        // A reader whose buffer is too small for a frame of at most READER_STAGING_MAX bytes
        // stages it (larger frames are decrypted in place: the staging frame would double
        // the memory of a reader sized for its frames).
        let stage = self.stage_frames || (dst.is_some() && f > 0 && f <= READER_STAGING_MAX);
        self.dec.set_sealed_frames(self.handover || fits || stage);
        loop {
            // (Matched by value and dropped before a sealed frame is opened below.)
            let (seq, plain) = match self.input.process(&mut self.dec).map_err(from_core)? {
                DecryptState::NeedInput { .. } => {
                    return Ok(Stepped::Action(DriverAction::NeedInput));
                }
                DecryptState::NeedMaterials(req) => {
                    // The parsed header's one conversion to owned form, kept (and shown once
                    // it verified); a request, whose materials managers need it owned, copies
                    // its context and keys.
                    let header = self
                        .header
                        .get_or_insert_with(|| Header::from(req.header_unverified()));
                    match &self.materials {
                        Some(m) => {
                            check_materials_context(m, &header.encryption_context)?;
                            m.with_core(|cm| req.provide(&cm).map_err(Error::from))?;
                            continue;
                        }
                        None => {
                            let request = DecryptionRequest {
                                suite: header.suite,
                                commitment_policy: req.commitment_policy(),
                                encrypted_data_keys: header.encrypted_data_keys.clone(),
                                encryption_context: header.encryption_context.clone(),
                                reproduced_encryption_context: self.reproduced.clone(),
                                backend: self.backend.clone(),
                            };
                            req.defer();
                            return Ok(Stepped::Action(DriverAction::NeedMaterials(Box::new(
                                request,
                            ))));
                        }
                    }
                }
                DecryptState::HeaderVerified(_) => {
                    if self.header.is_none() {
                        return Err(Error::Internal("header verified before it was parsed"));
                    }
                    self.header_verified = true;
                    if stop_at_header {
                        return Ok(Stepped::Action(DriverAction::NeedInput));
                    }
                    continue;
                }
                DecryptState::Plaintext(p) => {
                    if !p.is_empty() {
                        return Ok(Stepped::Action(DriverAction::Plaintext));
                    }
                    continue;
                }
                DecryptState::SealedFrame { seq, record } => {
                    if self.handover {
                        // Held by the input like plaintext (ciphertext: copied out, then
                        // skipped).
                        self.sealed_seq = Some(seq);
                        return Ok(Stepped::Action(DriverAction::Plaintext));
                    }
                    let plain = record
                        .len()
                        .saturating_sub(esdk_core::body::REGULAR_FRAME_OVERHEAD);
                    (seq, plain)
                }
                DecryptState::Done => {
                    self.done = true;
                    return Ok(Stepped::Action(DriverAction::Done));
                }
                _ => return Err(Error::Internal("unexpected decryptor state")),
            };
            // A sealed regular frame, held by the input: opened here, out of place.
            return match dst {
                Some(d) if d.len() >= plain => {
                    let d = d.get_mut(..plain).unwrap_or(&mut []);
                    self.open_held(seq, Some(d)).map(Stepped::Opened)
                }
                _ => self
                    .open_held(seq, None)
                    .map(|_| Stepped::Action(DriverAction::Plaintext)),
            };
        }
    }
}

/// What one [`DecryptEngine::step_to`] did.
enum Stepped {
    /// As [`DecryptEngine::step`].
    Action(DriverAction),
    /// A regular frame was opened into the destination: this many bytes.
    Opened(usize),
}
