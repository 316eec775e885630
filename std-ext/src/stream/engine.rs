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
    /// Room for `n` bytes, zeroed by the allocator (fresh pages for large outputs: no pass of
    /// ours over them).
    fn with_room(n: usize) -> Self {
        Self {
            buf: vec![0u8; n],
            len: 0,
        }
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
        mut rng: SharedRng,
    ) -> Result<Self> {
        let (frames, out) = materials.with_core(|cm| {
            let ready = Encryptor::new(backend, config)?.provide(cm, &mut rng)?;
            // The header is on top of the hint (callers estimate the body), so an exact
            // one-shot estimate never has to grow (which would copy and zero-fill).
            let header_len = ready.header_len();
            let mut out = OutBuf::with_room(output_hint.saturating_add(header_len));
            let (frames, _) = ready.write_header(out.grow(header_len))?;
            Ok((frames, out))
        })?;
        let opts = esdk_core::header::ParseOptions {
            commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
            ..Default::default()
        };
        let header = Header::from(&HeaderRef::parse(out.bytes(), &opts)?.0);
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

    /// Stages plaintext; seals every frame that is full and followed by more plaintext.
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
        while !data.is_empty() {
            if self.staged.len() == f {
                seal_appending(frames, &mut self.out, &self.staged)?;
                self.staged.clear();
            }
            if self.staged.is_empty() && data.len() > f {
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
        let mut frames = self
            .frames
            .take()
            .ok_or(Error::Core(esdk_core::Error::Usage(
                esdk_core::error::UsageError::AlreadyDone,
            )))?;
        if self.empty_final_frame
            && !self.legacy_non_framed
            && self.frame_len > 0
            && self.staged.len() == self.frame_len
        {
            seal_appending(&mut frames, &mut self.out, &self.staged)?;
            self.staged.clear();
        }
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
    /// The most plaintext an encrypting writer takes per call: two frames, at least 64 KiB,
    /// so its output buffer stays O(frame length) however large the caller's buffer is.
    pub(crate) fn write_batch(&self) -> usize {
        self.frame_len.max(WRITE_BATCH / 2).saturating_mul(2)
    }
}

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

/// Decrypts from an owned, compacting input buffer ([`VecInput`]: growth, compaction, the
/// discard bookkeeping and the plaintext's position live there).
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
        }
    }

    /// Sealed-frames mode (frame-parallel decryption): regular frames come out of `step` as
    /// `Plaintext` whose bytes are the **sealed** frame, flagged by `take_sealed_seq`.
    pub(crate) fn set_sealed_frames(&mut self, yes: bool) {
        self.dec.set_sealed_frames(yes);
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

    pub(crate) fn plaintext(&self) -> &[u8] {
        self.input.plaintext()
    }

    pub(crate) fn consume_plaintext(&mut self, n: usize) {
        self.input.consume_plaintext(n);
    }

    /// Copies available plaintext into `out`.
    pub(crate) fn read(&mut self, out: &mut [u8]) -> usize {
        let avail = self.plaintext();
        let n = avail.len().min(out.len());
        out[..n].copy_from_slice(&avail[..n]);
        self.consume_plaintext(n);
        n
    }

    pub(crate) fn is_done(&self) -> bool {
        self.done
    }

    /// Runs the machine until it needs something or has plaintext.
    pub(crate) fn step(&mut self) -> Result<DriverAction> {
        if !self.input.plaintext().is_empty() {
            return Ok(DriverAction::Plaintext);
        }
        if self.done {
            return Ok(DriverAction::Done);
        }
        loop {
            match self.input.process(&mut self.dec).map_err(from_core)? {
                DecryptState::NeedInput { .. } => {
                    return Ok(DriverAction::NeedInput);
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
                            return Ok(DriverAction::NeedMaterials(Box::new(request)));
                        }
                    }
                }
                DecryptState::HeaderVerified(_) => {
                    if self.header.is_none() {
                        return Err(Error::Internal("header verified before it was parsed"));
                    }
                    self.header_verified = true;
                }
                DecryptState::Plaintext(p) => {
                    if !p.is_empty() {
                        return Ok(DriverAction::Plaintext);
                    }
                }
                DecryptState::SealedFrame { seq, .. } => {
                    // Held by the input like plaintext (ciphertext: copied out, then skipped).
                    self.sealed_seq = Some(seq);
                    return Ok(DriverAction::Plaintext);
                }
                DecryptState::Done => {
                    self.done = true;
                    return Ok(DriverAction::Done);
                }
                _ => return Err(Error::Internal("unexpected decryptor state")),
            }
        }
    }
}
