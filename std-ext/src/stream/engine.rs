//! Owned-buffer engines over the core state machines, shared by the one-shot client and every
//! stream adapter (sync and async): they hold the bytes, the adapters only move them.

use crate::error::{Error, Result};
use crate::materials::{DecryptionMaterials, DecryptionRequest, EncryptionMaterials};
use crate::provider::{Backend, SharedRng};
use esdk_core::decrypt::DecryptState;
use esdk_core::{
    CommitmentPolicy, DecryptConfig, Decryptor, EdkRef, EncryptConfig, EncryptionContext,
    EncryptionContextRef, Encryptor, FrameEncryptor, Header, HeaderRef,
};
use zeroize::Zeroizing;

/// Converts owned encryption materials to the core's borrowed form and runs `f` with them.
fn with_core_encryption_materials<T>(
    m: &EncryptionMaterials,
    f: impl FnOnce(esdk_core::EncryptionMaterials<'_>) -> Result<T>,
) -> Result<T> {
    let data_key = m
        .data_key
        .as_ref()
        .ok_or_else(|| Error::Materials("encryption materials have no data key".into()))?;
    let ec = m.encryption_context.serialize()?;
    let ec_ref = EncryptionContextRef::parse(&ec)?;
    let edks: Vec<EdkRef<'_>> = m.encrypted_data_keys.iter().map(|e| e.as_ref()).collect();
    let required: Vec<&str> = m
        .required_encryption_context_keys
        .iter()
        .map(String::as_str)
        .collect();
    f(esdk_core::EncryptionMaterials {
        suite: m.suite,
        data_key,
        encrypted_data_keys: &edks,
        encryption_context: ec_ref,
        required_encryption_context_keys: &required,
        signing_key: m.signing_key.as_ref(),
    })
}

/// Encrypts: header at construction, frames as plaintext arrives, final frame at `finish`.
pub(crate) struct EncryptEngine {
    frames: Option<FrameEncryptor<Backend>>,
    rng: SharedRng,
    frame_len: usize,
    legacy_non_framed: bool,
    staged: Zeroizing<Vec<u8>>,
    out: Vec<u8>,
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
        let (frames, out) = with_core_encryption_materials(materials, |cm| {
            let ready = Encryptor::new(backend, config)?.provide(cm, &mut rng)?;
            let mut out = Vec::with_capacity(output_hint.max(ready.header_len()));
            out.resize(ready.header_len(), 0);
            let (frames, _) = ready.write_header(&mut out)?;
            Ok((frames, out))
        })?;
        let opts = esdk_core::header::ParseOptions {
            commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
            ..Default::default()
        };
        let header = Header::from(&HeaderRef::parse(&out, &opts)?.0);
        let frame_len = frames.frame_length();
        Ok(Self {
            frames: Some(frames),
            rng,
            frame_len,
            legacy_non_framed: config.legacy_non_framed,
            // One frame, or the whole plaintext when it is known to be shorter: the staging
            // buffer never reallocates (which would leave plaintext behind in freed memory).
            staged: Zeroizing::new(Vec::with_capacity(if config.legacy_non_framed {
                0
            } else {
                max_plaintext.map_or(frame_len, |m| {
                    frame_len.min(usize::try_from(m).unwrap_or(usize::MAX))
                })
            })),
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
                        what: esdk_core::error::LimitKind::Capacity,
                        limit: max,
                        actual: total,
                    },
                )));
            }
        }
        self.total = total;
        if self.legacy_non_framed {
            self.staged.extend_from_slice(data);
            return Ok(());
        }
        let f = self.frame_len;
        while !data.is_empty() {
            if self.staged.len() == f {
                let start = self.out.len();
                self.out.resize(start + frames.sealed_frame_len(), 0);
                frames.seal_frame(&self.staged, &mut self.out[start..])?;
                self.staged.clear();
            }
            if self.staged.is_empty() && data.len() > f {
                // Seal straight from the caller's bytes, no staging copy.
                let (chunk, rest) = data.split_at(f);
                let start = self.out.len();
                self.out.resize(start + frames.sealed_frame_len(), 0);
                frames.seal_frame(chunk, &mut self.out[start..])?;
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

    /// Frame-parallel encryption (`crate::parallel`): the frame encryptor, for its
    /// `frame_cipher` and next sequence number. `None` once finished.
    pub(crate) fn frame_encryptor(&self) -> Option<&FrameEncryptor<Backend>> {
        self.frames.as_ref()
    }

    /// Frame-parallel encryption: appends `records` (whole regular frames sealed by the frame
    /// cipher, in order, holding `plaintext_len` bytes) as the next frames of the message.
    pub(crate) fn push_sealed(&mut self, records: &[u8], plaintext_len: usize) -> Result<()> {
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
                        what: esdk_core::error::LimitKind::Capacity,
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
        self.out.extend_from_slice(records);
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
            let start = self.out.len();
            self.out.resize(start + frames.sealed_frame_len(), 0);
            frames.seal_frame(&self.staged, &mut self.out[start..])?;
            self.staged.clear();
        }
        let start = self.out.len();
        self.out
            .resize(start + frames.finish_len(self.staged.len()), 0);
        frames.finish(&self.staged, &mut self.out[start..], &mut self.rng)?;
        self.staged.clear();
        Ok(())
    }

    /// Ciphertext ready to be written out.
    pub(crate) fn output(&self) -> &[u8] {
        self.out.get(self.out_pos..).unwrap_or(&[])
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
    pub(crate) fn into_output(mut self) -> (Vec<u8>, Header) {
        let out = if self.out_pos == 0 {
            std::mem::take(&mut self.out)
        } else {
            self.out.split_off(self.out_pos)
        };
        (out, self.header)
    }
    /// Whether the final frame has been written.
    pub(crate) fn is_finished(&self) -> bool {
        self.frames.is_none()
    }
    /// Frame length.
    pub(crate) fn frame_len(&self) -> usize {
        self.frame_len
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

/// What the decrypt engine needs next.
#[derive(Debug)]
pub(crate) enum DecryptStep {
    /// More ciphertext (or end of input).
    NeedInput,
    /// Decryption materials for this request (then call `set_materials`).
    NeedMaterials(Box<DecryptionRequest>),
    /// Plaintext is available through `plaintext()` / `consume_plaintext()`.
    Plaintext,
    /// The message is complete and verified.
    Done,
}

/// Decrypts from an owned, compacting input buffer.
///
/// The buffer is a `Vec` whose every byte is initialized: `buf[start..end]` is unprocessed
/// ciphertext, `buf[end..]` is room to read into. Room is zeroed once, when the buffer grows
/// (never per read), and the allocation never exceeds `max_buffer` bytes.
pub(crate) struct DecryptEngine {
    dec: Decryptor<Backend>,
    backend: Backend,
    buf: Vec<u8>,
    /// One-shot use: plaintext collected at the front of `buf`.
    collected: usize,
    start: usize,
    end: usize,
    eof: bool,
    pt: std::ops::Range<usize>,
    pending_discard: usize,
    header: Option<Header>,
    materials: Option<DecryptionMaterials>,
    reproduced: Option<EncryptionContext>,
    max_buffer: usize,
    done: bool,
    zeroed: u64,
    /// Frame-parallel and ranged drivers (`crate::parallel`, `crate::ranged`): the input
    /// length the machine last asked for, and the sequence number of a sealed frame held in
    /// `pt` (ciphertext, not plaintext) in sealed-frames mode.
    need: usize,
    sealed_seq: Option<u32>,
}

impl std::fmt::Debug for DecryptEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecryptEngine")
            .field("decryptor", &self.dec)
            .field("buffered", &(self.end - self.start))
            .field("capacity", &self.buf.len())
            .field("zeroed", &self.zeroed)
            .finish()
    }
}

impl Drop for DecryptEngine {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.buf.zeroize();
    }
}

/// The smallest allocation the decrypt buffer grows to (unless `max_buffer` is smaller).
const MIN_BUFFER: usize = 4096;

impl DecryptEngine {
    pub(crate) fn new(
        config: DecryptConfig,
        reproduced: Option<EncryptionContext>,
        max_buffer: usize,
        backend: Backend,
    ) -> Self {
        Self {
            dec: Decryptor::new(backend, config),
            backend,
            buf: Vec::new(),
            collected: 0,
            start: 0,
            end: 0,
            eof: false,
            pt: 0..0,
            pending_discard: 0,
            header: None,
            materials: None,
            reproduced,
            max_buffer: max_buffer.max(1),
            done: false,
            zeroed: 0,
            need: 1,
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
        self.pt.start = self.pt.end;
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
        self.need.saturating_sub(self.end - self.start)
    }

    /// Message bytes the machine consumed so far (after `HeaderVerified`: the header length).
    pub(crate) fn consumed(&self) -> u64 {
        self.dec.stats().consumed
    }

    /// Appends ciphertext. Refused after end of input was signalled.
    pub(crate) fn push(&mut self, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        self.refuse_after_eof()?;
        self.make_room(data.len(), data.len())?;
        // `make_room` guarantees the room.
        let end = self.end;
        self.buf[end..end + data.len()].copy_from_slice(data);
        self.end += data.len();
        Ok(())
    }

    /// Space to read ciphertext into directly: between 1 and `want` bytes at the end of the
    /// buffer (already initialized, not zeroed again); call `commit(n)` with the number
    /// actually filled.
    pub(crate) fn spare(&mut self, want: usize) -> Result<&mut [u8]> {
        self.refuse_after_eof()?;
        self.make_room(1, want.max(1))?;
        let end = self.end;
        let room = (self.buf.len() - end).min(want.max(1));
        Ok(&mut self.buf[end..end + room])
    }

    /// Keeps `n` of the bytes handed out by `spare`.
    pub(crate) fn commit(&mut self, n: usize) {
        self.end = (self.end + n).min(self.buf.len());
    }

    fn refuse_after_eof(&self) -> Result<()> {
        if self.eof {
            return Err(Error::Core(esdk_core::Error::Usage(
                esdk_core::error::UsageError::AlreadyDone,
            )));
        }
        Ok(())
    }

    fn limit_error(&self, more: usize) -> Error {
        Error::BufferLimit {
            limit: self.max_buffer,
            needed: (self.end - self.start).saturating_add(more),
        }
    }

    /// Makes at least `need` bytes of room after `end` (aiming for `want`), moving the
    /// unprocessed bytes to the front or growing the allocation, never beyond `max_buffer`.
    /// Moves cost at most the bytes freed (or happen once per unit at the cap), and growth
    /// doubles, so the total work stays linear in the bytes received.
    fn make_room(&mut self, need: usize, want: usize) -> Result<()> {
        if self.buf.len() - self.end >= need {
            return Ok(());
        }
        let live = self.end - self.start;
        if live.saturating_add(need) > self.max_buffer {
            return Err(self.limit_error(need));
        }
        let movable = self.start > 0 && self.pt.is_empty();
        if movable && (self.start >= live || self.end.saturating_add(need) > self.max_buffer) {
            self.buf.copy_within(self.start..self.end, 0);
            self.end = live;
            self.start = 0;
            if self.buf.len() - self.end >= need {
                return Ok(());
            }
        }
        let target = (self.buf.len().saturating_mul(2))
            .max(self.end.saturating_add(want))
            .max(MIN_BUFFER)
            .min(self.max_buffer);
        if target < self.end.saturating_add(need) {
            return Err(self.limit_error(need));
        }
        let old = self.buf.len();
        if self.pt.is_empty() {
            // Only ciphertext is held: let the allocator move (or extend) it in place.
            self.buf.reserve_exact(target - old);
            self.buf.resize(target, 0);
        } else {
            // Unreleased plaintext is held: copy, then wipe the old allocation.
            let mut grown = vec![0u8; target];
            grown[..old].copy_from_slice(&self.buf);
            let mut old_buf = std::mem::replace(&mut self.buf, grown);
            zeroize::Zeroize::zeroize(&mut old_buf);
        }
        self.zeroed = self.zeroed.saturating_add((target - old) as u64);
        Ok(())
    }

    /// Bytes the buffer zero-filled so far (each byte once, when the buffer grew).
    #[cfg(test)]
    pub(crate) fn bytes_zeroed(&self) -> u64 {
        self.zeroed
    }

    /// The buffer's current allocation, never more than `max_buffer`.
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Signals end of input.
    pub(crate) fn set_eof(&mut self) {
        self.eof = true;
    }

    /// Supplies the materials asked for by `DecryptStep::NeedMaterials`.
    pub(crate) fn set_materials(&mut self, m: DecryptionMaterials) {
        self.materials = Some(m);
    }

    /// The parsed header, once verified.
    pub(crate) fn header(&self) -> Option<&Header> {
        self.header.as_ref()
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
        (self.header.take(), ec)
    }

    pub(crate) fn plaintext(&self) -> &[u8] {
        self.buf.get(self.pt.clone()).unwrap_or(&[])
    }

    pub(crate) fn consume_plaintext(&mut self, n: usize) {
        let n = n.min(self.pt.len());
        if let Some(s) = self.buf.get_mut(self.pt.start..self.pt.start + n) {
            use zeroize::Zeroize;
            s.zeroize();
        }
        self.pt.start += n;
    }

    /// One-shot use (all input pushed once, never compacted): moves the released plaintext
    /// down to the front of the buffer, right behind the plaintext collected before. Released
    /// plaintext always lies at or after that point (each plaintext byte comes from a later
    /// ciphertext byte), and the bytes it overwrites were already consumed.
    pub(crate) fn collect_plaintext_in_place(&mut self) -> Result<()> {
        if self.collected > self.pt.start || self.pt.end > self.buf.len() {
            return Err(Error::Materials(
                "internal error: plaintext released before collected plaintext".into(),
            ));
        }
        self.buf.copy_within(self.pt.clone(), self.collected);
        self.collected += self.pt.len();
        self.pt.start = self.pt.end;
        Ok(())
    }

    /// One-shot frame-parallel use: appends plaintext opened elsewhere (from frames this
    /// engine already consumed) behind the collected plaintext, in place in the buffer.
    pub(crate) fn collect_external(&mut self, data: &[u8]) -> Result<()> {
        let end = self.collected + data.len();
        let consumed = self.start + self.pending_discard;
        if end > consumed || !self.pt.is_empty() && end > self.pt.start {
            return Err(Error::Materials(
                "internal error: plaintext collected over unconsumed ciphertext".into(),
            ));
        }
        self.buf[self.collected..end].copy_from_slice(data);
        self.collected = end;
        Ok(())
    }

    /// One-shot use: the collected plaintext, taking the buffer (what follows it is wiped).
    pub(crate) fn into_collected_plaintext(mut self) -> Vec<u8> {
        use zeroize::Zeroize;
        let mut buf = std::mem::take(&mut self.buf);
        if let Some(rest) = buf.get_mut(self.collected..) {
            rest.zeroize();
        }
        buf.truncate(self.collected);
        buf
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
    pub(crate) fn step(&mut self) -> Result<DecryptStep> {
        if !self.pt.is_empty() {
            return Ok(DecryptStep::Plaintext);
        }
        if self.done {
            return Ok(DecryptStep::Done);
        }
        loop {
            self.start += std::mem::take(&mut self.pending_discard);
            let base = self.buf.as_ptr() as usize;
            let input = &mut self.buf[self.start..self.end];
            let st = self.dec.process(input, self.eof);
            let discard = st.discard;
            match st.state? {
                DecryptState::NeedInput { min_len } => {
                    self.need = min_len;
                    return Ok(DecryptStep::NeedInput);
                }
                DecryptState::NeedMaterials(req) => match &self.materials {
                    Some(m) => {
                        let ec = m.encryption_context.serialize()?;
                        let required: Vec<&str> = m
                            .required_encryption_context_keys
                            .iter()
                            .map(String::as_str)
                            .collect();
                        let data_key = m.data_key.as_ref().ok_or_else(|| {
                            Error::Materials("decryption materials have no data key".into())
                        })?;
                        let cm = esdk_core::DecryptionMaterials {
                            suite: m.suite,
                            data_key,
                            verification_key: m.verification_key,
                            encryption_context: EncryptionContextRef::parse(&ec)?,
                            required_encryption_context_keys: &required,
                        };
                        req.provide(&cm)?;
                    }
                    None => {
                        let request = DecryptionRequest {
                            suite: req.suite(),
                            commitment_policy: req.commitment_policy(),
                            encrypted_data_keys: req
                                .encrypted_data_keys()
                                .iter()
                                .map(Into::into)
                                .collect(),
                            encryption_context: req.encryption_context_unverified().into(),
                            reproduced_encryption_context: self.reproduced.clone(),
                            backend: self.backend,
                        };
                        req.defer();
                        return Ok(DecryptStep::NeedMaterials(Box::new(request)));
                    }
                },
                DecryptState::HeaderVerified(h) => {
                    self.header = Some(Header::from(&h));
                    self.pending_discard = discard;
                }
                DecryptState::Plaintext(p) => {
                    let off = p.as_ptr() as usize - base;
                    let len = p.len();
                    self.pending_discard = discard;
                    if len > 0 {
                        self.pt = off..off + len;
                        return Ok(DecryptStep::Plaintext);
                    }
                }
                DecryptState::SealedFrame { seq, record } => {
                    let off = record.as_ptr() as usize - base;
                    self.pending_discard = discard;
                    self.pt = off..off + record.len();
                    self.sealed_seq = Some(seq);
                    return Ok(DecryptStep::Plaintext);
                }
                DecryptState::Done => {
                    self.done = true;
                    return Ok(DecryptStep::Done);
                }
                _ => return Err(Error::Materials("unexpected decryptor state".into())),
            }
        }
    }
}
