//! The sans-IO encryptor, as a typestate.
//!
//! ```text
//! Encryptor::new(config) ──provide(materials)──► HeaderReady ──write_header(out)──► FrameEncryptor
//!     FrameEncryptor::seal_frame × n ──► FrameEncryptor::finish(last chunk, out)
//! ```
//!
//! Every output byte is written into caller-owned buffers; nothing is released before it is
//! complete. `finish` consumes the encryptor and writes the final frame and (for signed suites)
//! the footer; there is no finalizing `Drop`: an encryptor dropped before `finish` leaves an
//! incomplete message that every decryptor rejects.

use crate::body::{
    BodyKind, DEFAULT_FRAME_LENGTH, END_OF_FRAMES, FINAL_FRAME_CONTENT_OFFSET,
    FINAL_FRAME_OVERHEAD, MAX_BODY_AAD_LEN, NON_FRAMED_OVERHEAD, REGULAR_FRAME_OVERHEAD, body_aad,
    frame_iv,
};
use crate::codec::too_small;
use crate::crypto::{AeadKey, CryptoProvider, Gmac, RunningDigest};
use crate::edk::EdkRef;
use crate::encryption_context::PUBLIC_KEY_FIELD;
use crate::error::{Error, LimitKind, MaterialsError, PolicyError, UsageError};
use crate::frame_cipher::{FrameCipher, seal_regular_frame};
use crate::header::{ContentType, HeaderFields, auth_len, body_len, write_prefix, write_suffix};
use crate::keys::{DerivedKey, MAX_PUBLIC_KEY_B64_LEN, SigningKey, derive};
use crate::materials::{EncryptionMaterialsRef, check_required_keys, feed_filtered};
use crate::message_id::MessageId;
use crate::policy::{CommitmentPolicy, MAX_NON_FRAMED_CONTENT_LEN};
use crate::suite::{AlgorithmSuite, IV_LEN, MessageFormatVersion, TAG_LEN};
use rand_core::CryptoRngCore;

/// Encryption settings: `EncryptConfig::default()` (committing policy, the materials' suite,
/// 4096-byte frames), adjusted with the `with_*` methods.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EncryptConfig {
    /// Which suites may be used (default: committing only).
    pub commitment_policy: CommitmentPolicy,
    /// The suite to use; `None` lets the materials provider choose (the policy's default).
    pub suite: Option<AlgorithmSuite>,
    /// Frame length, 1 … 2^32 − 1 (default 4096).
    pub frame_length: u32,
    /// Maximum encrypted data keys the materials may carry (default: no limit).
    pub max_encrypted_data_keys: Option<u16>,
    /// Write a legacy non-framed body instead of frames. New messages must be framed; this
    /// exists for generating test vectors only.
    pub legacy_non_framed: bool,
}

impl Default for EncryptConfig {
    fn default() -> Self {
        Self {
            commitment_policy: CommitmentPolicy::default(),
            suite: None,
            frame_length: DEFAULT_FRAME_LENGTH,
            max_encrypted_data_keys: None,
            legacy_non_framed: false,
        }
    }
}

impl EncryptConfig {
    /// The default settings.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets which suites may be used.
    #[must_use]
    pub fn with_commitment_policy(mut self, policy: CommitmentPolicy) -> Self {
        self.commitment_policy = policy;
        self
    }
    /// Sets the suite (`None`: the materials provider chooses).
    #[must_use]
    pub fn with_suite(mut self, suite: impl Into<Option<AlgorithmSuite>>) -> Self {
        self.suite = suite.into();
        self
    }
    /// Sets the frame length (1 … 2^32 − 1).
    #[must_use]
    pub fn with_frame_length(mut self, frame_length: u32) -> Self {
        self.frame_length = frame_length;
        self
    }
    /// Sets the most encrypted data keys the materials may carry (`None`: no limit).
    #[must_use]
    pub fn with_max_encrypted_data_keys(mut self, max: impl Into<Option<u16>>) -> Self {
        self.max_encrypted_data_keys = max.into();
        self
    }
    /// Writes a legacy non-framed body (for generating test vectors only).
    #[must_use]
    pub fn with_legacy_non_framed(mut self, yes: bool) -> Self {
        self.legacy_non_framed = yes;
        self
    }
}

/// Configured; waiting for encryption materials.
#[derive(Debug)]
pub struct Encryptor<P: CryptoProvider> {
    provider: P,
    config: EncryptConfig,
}

impl<P: CryptoProvider> Encryptor<P> {
    /// Checks the configuration.
    ///
    /// # Errors
    /// Frame length 0 (framed), or a requested suite the commitment policy forbids.
    pub fn new(provider: P, config: EncryptConfig) -> Result<Self, Error> {
        if !config.legacy_non_framed && config.frame_length == 0 {
            return Err(Error::Usage(UsageError::InvalidConfig(
                "frame length must be at least 1",
            )));
        }
        if let Some(s) = config.suite {
            s.check_built()?;
            config.commitment_policy.check_encrypt(s)?;
        }
        Ok(Self { provider, config })
    }

    /// The settings (what a materials provider needs: policy and requested suite).
    pub fn config(&self) -> &EncryptConfig {
        &self.config
    }

    /// Checks the materials, derives the keys and chooses the message id.
    ///
    /// # Errors
    /// Suite not allowed or not the requested one, wrong data key length, no or too many
    /// encrypted data keys, a non-canonical context, a missing required key, or signature-key
    /// problems (presence, `aws-crypto-public-key` entry not matching the signing key).
    pub fn provide<'m>(
        self,
        materials: EncryptionMaterialsRef<'m>,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<HeaderReady<'m, P>, Error> {
        let m = &materials;
        let suite = m.suite.check_built()?;
        self.config.commitment_policy.check_encrypt(suite)?;
        if let Some(req) = self.config.suite {
            if req != suite {
                return Err(Error::Materials(MaterialsError::SuiteMismatch {
                    expected: req.id(),
                    actual: suite.id(),
                }));
            }
        }
        m.data_key.check_suite(suite)?;
        if m.encrypted_data_keys.is_empty() {
            return Err(Error::Materials(MaterialsError::NoEncryptedDataKeys));
        }
        let max = self.config.max_encrypted_data_keys.unwrap_or(u16::MAX);
        if m.encrypted_data_keys.len() > usize::from(max) {
            return Err(Error::limit(
                LimitKind::EncryptedDataKeys,
                u64::from(max),
                m.encrypted_data_keys.len() as u64,
            ));
        }
        check_required_keys(&m.encryption_context, m.required_encryption_context_keys)?;
        if m.required_encryption_context_keys
            .contains(&PUBLIC_KEY_FIELD)
        {
            return Err(Error::Materials(MaterialsError::PublicKeyEntry));
        }
        match (suite.signature(), m.signing_key) {
            (Some(alg), Some(sk)) => {
                if sk.algorithm() != alg {
                    return Err(Error::Materials(MaterialsError::InvalidSignatureKey));
                }
                let vk = sk.public_key(&self.provider)?;
                let mut buf = [0u8; MAX_PUBLIC_KEY_B64_LEN];
                if m.encryption_context.get(PUBLIC_KEY_FIELD) != Some(vk.to_base64(&mut buf)) {
                    return Err(Error::Materials(MaterialsError::PublicKeyEntry));
                }
            }
            (Some(_), None) => return Err(Error::Materials(MaterialsError::MissingSignatureKey)),
            (None, Some(_)) => {
                return Err(Error::Materials(MaterialsError::UnexpectedSignatureKey));
            }
            (None, None) => {
                if m.encryption_context.get(PUBLIC_KEY_FIELD).is_some() {
                    return Err(Error::Materials(MaterialsError::PublicKeyEntry));
                }
            }
        }
        let version = suite.message_format_version();
        let message_id = MessageId::random(version, rng)?;
        let (derived, commit) = derive(&self.provider, suite, m.data_key, message_id.as_bytes())?;
        let key = self.provider.aead_key(derived.as_bytes())?;
        let stored_ec_len = crate::encryption_context::serialized_len(
            m.encryption_context
                .iter()
                .filter(|(k, _)| !m.required_encryption_context_keys.contains(k)),
        )?;
        let body = body_len(suite, stored_ec_len, m.encrypted_data_keys.iter().copied());
        let header_len = body.saturating_add(auth_len(version));
        Ok(HeaderReady {
            provider: self.provider,
            config: self.config,
            materials,
            key,
            derived,
            commit: commit.map(|c| c.0).unwrap_or([0; 32]),
            message_id,
            header_len,
        })
    }
}

/// Materials accepted; the header can be written.
pub struct HeaderReady<'m, P: CryptoProvider> {
    provider: P,
    config: EncryptConfig,
    materials: EncryptionMaterialsRef<'m>,
    key: P::AeadKey,
    derived: DerivedKey,
    commit: [u8; 32],
    message_id: MessageId,
    header_len: usize,
}

impl<P: CryptoProvider> core::fmt::Debug for HeaderReady<'_, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HeaderReady")
            .field("header_len", &self.header_len)
            .finish_non_exhaustive()
    }
}

impl<'m, P: CryptoProvider> HeaderReady<'m, P> {
    /// Exact serialized header length.
    pub fn header_len(&self) -> usize {
        self.header_len
    }
    /// The message id chosen for this message.
    pub fn message_id(&self) -> &[u8] {
        self.message_id.as_bytes()
    }

    /// Writes the header (body and authentication tag) to the start of `out`.
    ///
    /// # Errors
    /// [`UsageError::OutputTooSmall`] if `out` is shorter than [`HeaderReady::header_len`].
    pub fn write_header(self, out: &mut [u8]) -> Result<(FrameEncryptor<P>, usize), Error> {
        let m = &self.materials;
        let suite = m.suite;
        let version = suite.message_format_version();
        let out = out
            .get_mut(..self.header_len)
            .ok_or(too_small(self.header_len))?;
        let required = m.required_encryption_context_keys;
        let stored = m
            .encryption_context
            .iter()
            .filter(|(k, _)| !required.contains(k));
        let ec_len = crate::encryption_context::serialized_len(stored.clone())?;
        let fields = HeaderFields {
            suite,
            message_id: self.message_id.as_bytes(),
            edks: m.encrypted_data_keys.iter().copied(),
            content_type: if self.config.legacy_non_framed {
                ContentType::NonFramed
            } else {
                ContentType::Framed
            },
            frame_length: if self.config.legacy_non_framed {
                0
            } else {
                self.config.frame_length
            },
            commit_key: &self.commit,
        };
        let mut pos = write_prefix(&fields, ec_len, out)?;
        let ec_end = pos.saturating_add(ec_len);
        crate::encryption_context::serialize_sorted(
            stored,
            out.get_mut(pos..ec_end).ok_or(too_small(ec_end))?,
        )?;
        pos = ec_end;
        pos += write_suffix(&fields, out.get_mut(pos..).ok_or(too_small(pos))?)?;
        let body_len = pos;
        let (body, auth) = out.split_at_mut(body_len);
        let iv = [0u8; IV_LEN];
        let mut mac = self.key.gmac(&iv)?;
        mac.update(body);
        feed_filtered(&mut mac, &m.encryption_context, required)?;
        let tag = mac.finalize();
        let auth_bytes = match version {
            MessageFormatVersion::V1 => {
                auth.get_mut(..IV_LEN)
                    .ok_or(too_small(self.header_len))?
                    .copy_from_slice(&iv);
                auth.get_mut(IV_LEN..IV_LEN + TAG_LEN)
                    .ok_or(too_small(self.header_len))?
                    .copy_from_slice(&tag);
                IV_LEN + TAG_LEN
            }
            MessageFormatVersion::V2 => {
                auth.get_mut(..TAG_LEN)
                    .ok_or(too_small(self.header_len))?
                    .copy_from_slice(&tag);
                TAG_LEN
            }
        };
        let header = out
            .get(..body_len.saturating_add(auth_bytes))
            .ok_or(too_small(self.header_len))?;
        let digest = suite.signature().map(|alg| {
            let mut d = self.provider.digest(alg);
            d.update(header);
            d
        });
        let signing_key = m.signing_key.cloned();
        Ok((
            FrameEncryptor {
                provider: self.provider,
                suite,
                message_id: self.message_id,
                frame_length: self.config.frame_length,
                non_framed: self.config.legacy_non_framed,
                key: self.key,
                derived: self.derived,
                digest,
                signing_key,
                next_seq: 1,
            },
            self.header_len,
        ))
    }
}

/// Header written; seals frames.
pub struct FrameEncryptor<P: CryptoProvider> {
    provider: P,
    suite: AlgorithmSuite,
    message_id: MessageId,
    frame_length: u32,
    non_framed: bool,
    key: P::AeadKey,
    /// The derived key bytes, for [`FrameEncryptor::frame_cipher`] (zeroized on drop).
    derived: DerivedKey,
    digest: Option<P::Digest>,
    signing_key: Option<SigningKey>,
    next_seq: u32,
}

impl<P: CryptoProvider> core::fmt::Debug for FrameEncryptor<P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FrameEncryptor")
            .field("suite", &self.suite)
            .field("frame_length", &self.frame_length)
            .field("next_seq", &self.next_seq)
            .finish_non_exhaustive()
    }
}

impl<P: CryptoProvider> FrameEncryptor<P> {
    /// Plaintext bytes per regular frame.
    pub fn frame_length(&self) -> usize {
        self.frame_length as usize
    }
    /// Serialized length of one regular frame (`frame_length + 32`).
    pub fn sealed_frame_len(&self) -> usize {
        self.frame_length().saturating_add(REGULAR_FRAME_OVERHEAD)
    }
    /// Bytes `finish` writes for a last chunk of `tail_len` bytes (final frame + footer).
    pub fn finish_len(&self, tail_len: usize) -> usize {
        let body = if self.non_framed {
            NON_FRAMED_OVERHEAD
        } else {
            FINAL_FRAME_OVERHEAD
        };
        let footer = self
            .suite
            .signature()
            .map_or(0, |a| 2 + a.fixed_signature_len());
        body.saturating_add(tail_len).saturating_add(footer)
    }
    /// The suite.
    pub fn suite(&self) -> AlgorithmSuite {
        self.suite
    }

    fn message_id(&self) -> &[u8] {
        self.message_id.as_bytes()
    }

    /// Seals one regular frame: `plaintext` must be exactly one frame length; writes
    /// [`FrameEncryptor::sealed_frame_len`] bytes to the start of `out`. The plaintext is
    /// encrypted straight into `out` ([`AeadKey::seal_to`]): one pass over the bytes with
    /// providers that seal out of place.
    ///
    /// # Errors
    /// Wrong plaintext length, an output too small, frame count exhausted, or non-framed mode.
    pub fn seal_frame(&mut self, plaintext: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        let f = self.frame_length();
        if plaintext.len() != f {
            return Err(Error::Usage(UsageError::WrongFrameLength {
                expected: f,
                actual: plaintext.len(),
            }));
        }
        let total = self.sealed_frame_len();
        let record = out.get_mut(..total).ok_or(too_small(total))?;
        self.seal_next(Some(plaintext), record)
    }

    /// Seals one regular frame in place. `record` is `sealed_frame_len()` bytes whose content
    /// region `[16 .. 16 + frame_length]` holds the plaintext; the sequence number, IV and tag
    /// are written around it.
    ///
    /// # Errors
    /// As [`FrameEncryptor::seal_frame`].
    pub fn seal_frame_in_place(&mut self, record: &mut [u8]) -> Result<usize, Error> {
        self.seal_next(None, record)
    }

    /// Seals the next regular frame (out of place from `plaintext`, or in place), feeds the
    /// running digest and advances the sequence number.
    fn seal_next(&mut self, plaintext: Option<&[u8]>, record: &mut [u8]) -> Result<usize, Error> {
        if self.non_framed {
            return Err(Error::Policy(PolicyError::NonFramedEncryptionDisabled));
        }
        // A regular frame cannot carry 0xFFFFFFFF, and the final frame needs a number after it.
        if self.next_seq == END_OF_FRAMES {
            return Err(Error::limit(
                LimitKind::FrameCount,
                u64::from(END_OF_FRAMES),
                u64::from(self.next_seq),
            ));
        }
        let seq = self.next_seq;
        seal_regular_frame(
            &self.key,
            self.message_id.as_bytes(),
            self.frame_length,
            seq,
            plaintext,
            record,
        )?;
        if let Some(d) = self.digest.as_mut() {
            d.update(record);
        }
        self.next_seq = seq.wrapping_add(1);
        Ok(record.len())
    }

    /// A cipher that seals regular frames of this message on any thread
    /// ([`FrameCipher::seal_regular`]); the sealed frames come back through
    /// [`FrameEncryptor::append_sealed`], in order.
    ///
    /// # Errors
    /// Non-framed mode, or a provider failure.
    pub fn frame_cipher(&self) -> Result<FrameCipher<P::AeadKey>, Error> {
        if self.non_framed {
            return Err(Error::Policy(PolicyError::NonFramedEncryptionDisabled));
        }
        FrameCipher::new(
            self.provider.aead_key(self.derived.as_bytes())?,
            self.message_id(),
            self.frame_length,
        )
    }

    /// The sequence number the next regular frame gets.
    pub fn next_sequence_number(&self) -> u32 {
        self.next_seq
    }

    /// Takes a regular frame sealed by a [`FrameCipher`] of this message as the next frame:
    /// checks its length and that it carries the next sequence number, feeds the running
    /// digest (signed suites) and advances. The frame's bytes are then part of the message, as
    /// if [`FrameEncryptor::seal_frame_in_place`] had written them.
    ///
    /// # Errors
    /// Non-framed mode, a wrong length, a sequence number out of order, or the frame count
    /// exhausted.
    pub fn append_sealed(&mut self, record: &[u8]) -> Result<(), Error> {
        if self.non_framed {
            return Err(Error::Policy(PolicyError::NonFramedEncryptionDisabled));
        }
        if record.len() != self.sealed_frame_len() {
            return Err(Error::Usage(UsageError::WrongFrameLength {
                expected: self.sealed_frame_len(),
                actual: record.len(),
            }));
        }
        if self.next_seq == END_OF_FRAMES {
            return Err(Error::limit(
                LimitKind::FrameCount,
                u64::from(END_OF_FRAMES),
                u64::from(self.next_seq),
            ));
        }
        let seq = record
            .get(..4)
            .and_then(|s| <[u8; 4]>::try_from(s).ok())
            .map(u32::from_be_bytes);
        if seq != Some(self.next_seq) {
            return Err(Error::Usage(UsageError::InvalidInput(
                "sealed frame is not the next in order",
            )));
        }
        if let Some(d) = self.digest.as_mut() {
            d.update(record);
        }
        self.next_seq = self.next_seq.wrapping_add(1);
        Ok(())
    }

    /// Writes the final frame holding `tail` (0 … frame length bytes) and, for signed suites,
    /// the footer. In non-framed mode `tail` is the whole plaintext. Consumes the encryptor.
    ///
    /// # Errors
    /// A tail longer than the frame length, an output too small, or a signing failure.
    pub fn finish(
        mut self,
        tail: &[u8],
        out: &mut [u8],
        rng: &mut dyn CryptoRngCore,
    ) -> Result<usize, Error> {
        let total = self.finish_len(tail.len());
        let out = out.get_mut(..total).ok_or(too_small(total))?;
        let body_len = if self.non_framed {
            if tail.len() as u64 > MAX_NON_FRAMED_CONTENT_LEN {
                return Err(Error::limit(
                    LimitKind::BodyLength,
                    MAX_NON_FRAMED_CONTENT_LEN,
                    tail.len() as u64,
                ));
            }
            let iv = frame_iv(1);
            let len = tail.len();
            let mut aad_buf = [0u8; MAX_BODY_AAD_LEN];
            let aad = body_aad(
                &mut aad_buf,
                self.message_id(),
                BodyKind::NonFramed,
                1,
                len as u64,
            )?;
            let (head, rest) = out.split_at_mut(IV_LEN + 8);
            head.get_mut(..IV_LEN)
                .ok_or(too_small(total))?
                .copy_from_slice(&iv);
            head.get_mut(IV_LEN..)
                .ok_or(too_small(total))?
                .copy_from_slice(&(len as u64).to_be_bytes());
            let (content, rest) = rest.split_at_mut(len);
            let tag = self.key.seal_to(&iv, aad, tail, content)?;
            rest.get_mut(..TAG_LEN)
                .ok_or(too_small(total))?
                .copy_from_slice(&tag);
            NON_FRAMED_OVERHEAD + len
        } else {
            let f = self.frame_length();
            if tail.len() > f {
                return Err(Error::Usage(UsageError::WrongFrameLength {
                    expected: f,
                    actual: tail.len(),
                }));
            }
            let seq = self.next_seq;
            let len = tail.len();
            let iv = frame_iv(seq);
            let mut aad_buf = [0u8; MAX_BODY_AAD_LEN];
            let aad = body_aad(
                &mut aad_buf,
                self.message_id(),
                BodyKind::Final,
                seq,
                len as u64,
            )?;
            let (head, rest) = out.split_at_mut(FINAL_FRAME_CONTENT_OFFSET);
            head.get_mut(..4)
                .ok_or(too_small(total))?
                .copy_from_slice(&END_OF_FRAMES.to_be_bytes());
            head.get_mut(4..8)
                .ok_or(too_small(total))?
                .copy_from_slice(&seq.to_be_bytes());
            head.get_mut(8..20)
                .ok_or(too_small(total))?
                .copy_from_slice(&iv);
            head.get_mut(20..24)
                .ok_or(too_small(total))?
                .copy_from_slice(
                    &u32::try_from(len)
                        .map_err(|_| {
                            Error::Usage(UsageError::WrongFrameLength {
                                expected: f,
                                actual: len,
                            })
                        })?
                        .to_be_bytes(),
                );
            let (content, rest) = rest.split_at_mut(len);
            let tag = self.key.seal_to(&iv, aad, tail, content)?;
            rest.get_mut(..TAG_LEN)
                .ok_or(too_small(total))?
                .copy_from_slice(&tag);
            FINAL_FRAME_OVERHEAD + len
        };
        if let (Some(alg), Some(mut digest), Some(sk)) = (
            self.suite.signature(),
            self.digest.take(),
            self.signing_key.as_ref(),
        ) {
            let (body, footer) = out.split_at_mut(body_len);
            digest.update(body);
            let sig_len = alg.fixed_signature_len();
            let sig_slot = footer.get_mut(2..2 + sig_len).ok_or(too_small(total))?;
            let n = self
                .provider
                .ecdsa_sign(alg, sk.secret_bytes(), digest, rng, sig_slot)?;
            if n != sig_len {
                return Err(Error::Crypto(crate::error::CryptoError::Signing));
            }
            footer
                .get_mut(..2)
                .ok_or(too_small(total))?
                .copy_from_slice(
                    &u16::try_from(sig_len)
                        .map_err(|_| Error::Crypto(crate::error::CryptoError::Signing))?
                        .to_be_bytes(),
                );
        }
        Ok(total)
    }
}

/// Exact ciphertext length of a planned encryption, with no key material.
///
/// `edks` and the stored encryption context length must be those the materials will carry
/// (for signed suites the context includes the 44/68-character `aws-crypto-public-key`).
/// Assumes the final frame holds the last 1 … frame-length bytes (a positive multiple of the
/// frame length ends in a full final frame), as this encryptor writes.
///
/// # Errors
/// Arithmetic overflow or too many frames.
pub fn ciphertext_len<'e>(
    suite: AlgorithmSuite,
    edks: impl Iterator<Item = EdkRef<'e>>,
    stored_ec_len: usize,
    frame_length: u32,
    plaintext_len: u64,
) -> Result<u64, Error> {
    let overflow = Error::limit(LimitKind::MessageLength, u64::MAX, u64::MAX);
    let header = body_len(suite, stored_ec_len, edks)
        .saturating_add(auth_len(suite.message_format_version())) as u64;
    let footer = suite
        .signature()
        .map_or(0, |a| 2 + a.fixed_signature_len() as u64);
    if frame_length == 0 {
        return Err(Error::Usage(UsageError::InvalidConfig(
            "frame length must be at least 1",
        )));
    }
    let f = u64::from(frame_length);
    let frames = plaintext_len.div_ceil(f).max(1);
    if frames > u64::from(END_OF_FRAMES) {
        return Err(Error::limit(
            LimitKind::FrameCount,
            u64::from(END_OF_FRAMES),
            frames,
        ));
    }
    let regular = frames - 1;
    let body = regular
        .checked_mul(f + REGULAR_FRAME_OVERHEAD as u64)
        .and_then(|r| r.checked_add(FINAL_FRAME_OVERHEAD as u64))
        .and_then(|r| r.checked_add(plaintext_len - regular * f))
        .ok_or(overflow)?;
    header
        .checked_add(body)
        .and_then(|v| v.checked_add(footer))
        .ok_or(overflow)
}
