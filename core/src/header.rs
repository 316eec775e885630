//! Message header v1 and v2: zero-copy parsing, serialization and authentication.
//!
//! The parser works on the caller's bytes and reports [`Parse::Incomplete`] with the total length
//! it needs when the header is not all there yet, so a streaming caller knows how much to read.
//! Every check that the length fields allow is made before the bytes they announce are needed.

use crate::codec::{Parse, Reader, Writer};
use crate::edk::{EdkList, EdkRef};
use crate::encryption_context::EncryptionContextRef;
use crate::error::{Error, LimitKind, PolicyError, Unsupported};
use crate::policy::{CommitmentPolicy, DecryptLimits, SignaturePolicy};
use crate::suite::{AlgorithmSuite, COMMIT_KEY_LEN, IV_LEN, MessageFormatVersion, TAG_LEN};

/// The v1 IV-length field value.
#[allow(clippy::cast_possible_truncation)] // 12
const IV_LEN_BYTE: u8 = IV_LEN as u8;

/// The v1 message type byte ("customer authenticated encrypted data").
pub const MESSAGE_TYPE: u8 = 0x80;

/// How the body is laid out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ContentType {
    /// One AES-GCM block for the whole plaintext (legacy; decrypt only by default).
    NonFramed,
    /// A sequence of frames (what this implementation writes).
    Framed,
}

impl ContentType {
    /// The content type byte.
    pub const fn byte(self) -> u8 {
        match self {
            Self::NonFramed => 1,
            Self::Framed => 2,
        }
    }
}

/// A parsed header, borrowing the message bytes.
///
/// <div class="warning">Until the header authentication tag verifies (the decryptor's
/// `HeaderVerified` state), nothing in it is authenticated.</div>
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeaderRef<'a> {
    version: MessageFormatVersion,
    suite: AlgorithmSuite,
    message_id: &'a [u8],
    encryption_context: EncryptionContextRef<'a>,
    edks: EdkList<'a>,
    content_type: ContentType,
    frame_length: u32,
    suite_data: &'a [u8],
    body: &'a [u8],
    auth_iv: [u8; IV_LEN],
    auth_tag: [u8; TAG_LEN],
}

/// Checks applied while parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct ParseOptions {
    /// The commitment policy the suite must satisfy.
    pub commitment_policy: CommitmentPolicy,
    /// Whether signed suites are accepted.
    pub signature_policy: SignaturePolicy,
    /// Resource limits.
    pub limits: DecryptLimits,
}

impl<'a> HeaderRef<'a> {
    /// Parses a complete header (body and authentication) from the start of `bytes`.
    ///
    /// Returns the header and its total length; the bytes after it are not looked at.
    ///
    /// # Errors
    /// Any header must-fail condition, or [`Error::Truncated`] if `bytes` ends inside the header.
    pub fn parse(bytes: &'a [u8], options: &ParseOptions) -> Result<(Self, usize), Error> {
        match parse_partial(bytes, options) {
            Ok(v) => Ok(v),
            Err(Parse::Invalid(e)) => Err(e),
            Err(Parse::Incomplete(_)) => Err(Error::Truncated),
        }
    }

    /// Header format version.
    pub fn version(&self) -> MessageFormatVersion {
        self.version
    }
    /// The algorithm suite.
    pub fn suite(&self) -> AlgorithmSuite {
        self.suite
    }
    /// Message id (16 bytes in v1, 32 in v2).
    pub fn message_id(&self) -> &'a [u8] {
        self.message_id
    }
    /// The stored encryption context.
    pub fn encryption_context(&self) -> EncryptionContextRef<'a> {
        self.encryption_context
    }
    /// The encrypted data keys.
    pub fn encrypted_data_keys(&self) -> EdkList<'a> {
        self.edks
    }
    /// Framed or not.
    pub fn content_type(&self) -> ContentType {
        self.content_type
    }
    /// Frame length (0 for non-framed).
    pub fn frame_length(&self) -> u32 {
        self.frame_length
    }
    /// Suite data: the key commitment of v2 headers, empty in v1.
    pub fn suite_data(&self) -> &'a [u8] {
        self.suite_data
    }
    /// The serialized header body (what the header tag authenticates).
    pub fn body_bytes(&self) -> &'a [u8] {
        self.body
    }
    /// IV used for the header tag (the stored IV in v1, zeros in v2).
    pub fn auth_iv(&self) -> &[u8; IV_LEN] {
        &self.auth_iv
    }
    /// The header authentication tag.
    pub fn auth_tag(&self) -> &[u8; TAG_LEN] {
        &self.auth_tag
    }
    /// Total serialized length: body plus authentication.
    pub fn len(&self) -> usize {
        self.body.len().saturating_add(auth_len(self.version))
    }
    /// Never true: a header has at least its fixed fields.
    pub fn is_empty(&self) -> bool {
        false
    }
}

/// Length of the header authentication section: IV + tag (v1) or tag (v2).
pub const fn auth_len(version: MessageFormatVersion) -> usize {
    match version {
        MessageFormatVersion::V1 => IV_LEN + TAG_LEN,
        MessageFormatVersion::V2 => TAG_LEN,
    }
}

/// Streaming parse: `Incomplete(n)` says at least `n` bytes are needed in total.
pub(crate) fn parse_partial<'a>(
    bytes: &'a [u8],
    opt: &ParseOptions,
) -> Result<(HeaderRef<'a>, usize), Parse> {
    // The header-length limit is enforced by the reader, field by field (see `parse_inner`);
    // this is a second line of defence only.
    let res = parse_inner(bytes, opt);
    let max = opt.limits.max_header_len;
    match res {
        Ok((_, n)) if n as u64 > max => {
            Err(Error::limit(LimitKind::HeaderLength, max, n as u64).into())
        }
        other => other,
    }
}

/// Detects the start of a Base64-encoded message (`AY` for v1, `AgR4` / `AgV4` for v2).
fn check_base64(bytes: &[u8]) -> Result<(), Parse> {
    match bytes {
        [b'A'] => Err(Parse::Incomplete(2)),
        [b'A', b'Y', ..] => Err(Error::LooksLikeBase64.into()),
        [b'A', b'g'] => Err(Parse::Incomplete(3)),
        [b'A', b'g', b'R' | b'V'] => Err(Parse::Incomplete(4)),
        [b'A', b'g', b'R' | b'V', b'4', ..] => Err(Error::LooksLikeBase64.into()),
        _ => Ok(()),
    }
}

fn parse_inner<'a>(bytes: &'a [u8], opt: &ParseOptions) -> Result<(HeaderRef<'a>, usize), Parse> {
    check_base64(bytes)?;
    // Every field end is checked against the header-length limit as soon as it is known, so a
    // too-long header fails before its bytes are buffered, and with the same error however the
    // input was chunked.
    let max = usize::try_from(opt.limits.max_header_len).unwrap_or(usize::MAX);
    let mut r = Reader::with_limit(bytes, max, LimitKind::HeaderLength);
    let version_byte = r.u8()?;
    let version = match version_byte {
        1 => MessageFormatVersion::V1,
        2 => MessageFormatVersion::V2,
        v => return Err(Error::Unsupported(Unsupported::Version(v)).into()),
    };
    if version == MessageFormatVersion::V1 {
        let t = r.u8()?;
        if t != MESSAGE_TYPE {
            return Err(Error::Unsupported(Unsupported::MessageType(t)).into());
        }
    }
    let suite = AlgorithmSuite::from_id(r.u16()?)?;
    if suite.message_format_version() != version {
        return Err(Error::Unsupported(Unsupported::SuiteVersionMismatch {
            suite: suite.id(),
            version: version_byte,
        })
        .into());
    }
    opt.commitment_policy.check_decrypt(suite)?;
    if suite.is_signed() && opt.signature_policy == SignaturePolicy::UnsignedOnly {
        return Err(Error::Policy(PolicyError::SignedSuiteInUnsignedOnlyMode {
            suite: suite.id(),
        })
        .into());
    }
    let message_id = r.take(version.message_id_len())?;
    let aad = r.vec16()?;
    let encryption_context = EncryptionContextRef::parse(aad)?;
    let edks = EdkList::read(&mut r, opt.limits.max_encrypted_data_keys)?;
    let content_type = match r.u8()? {
        1 => ContentType::NonFramed,
        2 => ContentType::Framed,
        c => return Err(Error::Unsupported(Unsupported::ContentType(c)).into()),
    };
    if version == MessageFormatVersion::V1 {
        if r.array::<4>()? != [0; 4] {
            return Err(Error::format("header.reserved", "must be 00 00 00 00").into());
        }
        if usize::from(r.u8()?) != IV_LEN {
            return Err(Error::format("header.iv_length", "must be 12").into());
        }
    }
    let frame_length = r.u32()?;
    match content_type {
        ContentType::Framed if frame_length == 0 => {
            return Err(
                Error::format("header.frame_length", "framed content with frame length 0").into(),
            );
        }
        ContentType::NonFramed if frame_length != 0 => {
            return Err(Error::format(
                "header.frame_length",
                "non-framed content with a non-zero frame length",
            )
            .into());
        }
        _ => {}
    }
    if frame_length > opt.limits.max_frame_len {
        return Err(Error::limit(
            LimitKind::FrameLength,
            u64::from(opt.limits.max_frame_len),
            u64::from(frame_length),
        )
        .into());
    }
    let suite_data = r.take(suite.suite_data_len())?;
    let body_len = r.pos();
    let auth_iv = match version {
        MessageFormatVersion::V1 => r.array::<IV_LEN>()?,
        MessageFormatVersion::V2 => [0u8; IV_LEN],
    };
    let auth_tag = r.array::<TAG_LEN>()?;
    let body = bytes.get(..body_len).ok_or(Parse::Incomplete(body_len))?;
    Ok((
        HeaderRef {
            version,
            suite,
            message_id,
            encryption_context,
            edks,
            content_type,
            frame_length,
            suite_data,
            body,
            auth_iv,
            auth_tag,
        },
        r.pos(),
    ))
}

/// The fields of a header to be written (the encryption context is written separately).
#[derive(Clone, Copy, Debug)]
pub(crate) struct HeaderFields<'a, E> {
    pub(crate) suite: AlgorithmSuite,
    pub(crate) message_id: &'a [u8],
    pub(crate) edks: E,
    pub(crate) content_type: ContentType,
    pub(crate) frame_length: u32,
    pub(crate) commit_key: &'a [u8],
}

/// Length of the header body for the given field sizes.
pub(crate) fn body_len<'e>(
    suite: AlgorithmSuite,
    ec_len: usize,
    edks: impl Iterator<Item = EdkRef<'e>>,
) -> usize {
    let edk_len = edks.fold(2usize, |acc, e| acc.saturating_add(e.serialized_len()));
    let fixed = match suite.message_format_version() {
        MessageFormatVersion::V1 => 1 + 1 + 2 + 16 + 2 + 1 + 4 + 1 + 4,
        MessageFormatVersion::V2 => 1 + 2 + 32 + 2 + 1 + 4 + COMMIT_KEY_LEN,
    };
    fixed + ec_len.saturating_add(edk_len)
}

/// Writes the fields before the encryption context (ending with the AAD length); returns the
/// bytes written.
pub(crate) fn write_prefix<E>(
    f: &HeaderFields<'_, E>,
    ec_len: usize,
    out: &mut [u8],
) -> Result<usize, Error> {
    let version = f.suite.message_format_version();
    let mut w = Writer::new(out);
    w.u8(version.byte())?;
    if version == MessageFormatVersion::V1 {
        w.u8(MESSAGE_TYPE)?;
    }
    w.u16(f.suite.id())?;
    w.bytes(f.message_id)?;
    let ec_len = u16::try_from(ec_len).map_err(|_| {
        Error::limit(
            LimitKind::EncryptionContextLength,
            u64::from(u16::MAX),
            ec_len as u64,
        )
    })?;
    w.u16(ec_len)?;
    Ok(w.pos())
}

/// Writes the fields after the encryption context; returns the bytes written.
pub(crate) fn write_suffix<'e, E>(f: &HeaderFields<'_, E>, out: &mut [u8]) -> Result<usize, Error>
where
    E: Iterator<Item = EdkRef<'e>> + Clone,
{
    let version = f.suite.message_format_version();
    let mut w = Writer::new(out);
    let count = f.edks.clone().count();
    let count = u16::try_from(count).map_err(|_| {
        Error::limit(
            LimitKind::EncryptedDataKeys,
            u64::from(u16::MAX),
            count as u64,
        )
    })?;
    w.u16(count)?;
    for e in f.edks.clone() {
        e.write(&mut w)?;
    }
    w.u8(f.content_type.byte())?;
    if version == MessageFormatVersion::V1 {
        w.u32(0)?;
        w.u8(IV_LEN_BYTE)?;
    }
    w.u32(f.frame_length)?;
    if version == MessageFormatVersion::V2 {
        w.bytes(f.commit_key)?;
    }
    Ok(w.pos())
}

/// Writes the header body with an already serialized encryption context; returns its length.
#[cfg(test)]
pub(crate) fn write_body<'e, E>(
    f: &HeaderFields<'_, E>,
    ec: &[u8],
    out: &mut [u8],
) -> Result<usize, Error>
where
    E: Iterator<Item = EdkRef<'e>> + Clone,
{
    let mut pos = write_prefix(f, ec.len(), out)?;
    let end = pos.saturating_add(ec.len());
    out.get_mut(pos..end)
        .ok_or(crate::codec::too_small(end))?
        .copy_from_slice(ec);
    pos = end;
    let rest = out.get_mut(pos..).unwrap_or_default();
    Ok(pos + write_suffix(f, rest)?)
}

#[cfg(feature = "alloc")]
mod owned {
    use super::*;
    use crate::edk::EncryptedDataKey;
    use crate::encryption_context::EncryptionContext;
    use alloc::vec::Vec;

    /// An owned copy of a parsed header.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub struct Header {
        /// Format version.
        pub version: MessageFormatVersion,
        /// Algorithm suite.
        pub suite: AlgorithmSuite,
        /// Message id.
        pub message_id: Vec<u8>,
        /// Stored encryption context.
        pub encryption_context: EncryptionContext,
        /// Encrypted data keys, in header order.
        pub encrypted_data_keys: Vec<EncryptedDataKey>,
        /// Framed or non-framed.
        pub content_type: ContentType,
        /// Frame length (0 when non-framed).
        pub frame_length: u32,
    }

    impl From<&HeaderRef<'_>> for Header {
        fn from(h: &HeaderRef<'_>) -> Self {
            Self {
                version: h.version(),
                suite: h.suite(),
                message_id: h.message_id().to_vec(),
                encryption_context: h.encryption_context().into(),
                encrypted_data_keys: h.encrypted_data_keys().iter().map(Into::into).collect(),
                content_type: h.content_type(),
                frame_length: h.frame_length(),
            }
        }
    }
}

#[cfg(feature = "alloc")]
pub use owned::Header;

#[cfg(test)]
mod tests {
    use super::*;

    fn opts() -> ParseOptions {
        ParseOptions {
            commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
            ..Default::default()
        }
    }

    fn sample(suite: AlgorithmSuite) -> heapless::Vec<u8, 256> {
        let edk = EdkRef {
            provider_id: "p",
            provider_info: b"i",
            ciphertext: b"c",
        };
        let f = HeaderFields {
            suite,
            message_id: &[7u8; 32][..suite.message_format_version().message_id_len()],
            edks: core::iter::once(edk),
            content_type: ContentType::Framed,
            frame_length: 4096,
            commit_key: &[9u8; 32],
        };
        let mut buf = [0u8; 256];
        let n = write_body(&f, &[0, 1, 0, 1, b'k', 0, 1, b'v'], &mut buf).unwrap();
        assert_eq!(n, body_len(suite, 8, core::iter::once(edk)));
        let mut v = heapless::Vec::<u8, 256>::from_slice(&buf[..n]).unwrap();
        let auth = auth_len(suite.message_format_version());
        v.extend_from_slice(&[0u8; 28][..auth]).unwrap();
        v
    }

    #[test]
    fn v1_and_v2_round_trip_and_report_needed_length() {
        for suite in [
            AlgorithmSuite::AES_128_GCM_IV12_TAG16_HKDF_SHA256,
            AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
        ] {
            let bytes = sample(suite);
            let (h, n) = HeaderRef::parse(&bytes, &opts()).unwrap();
            assert_eq!(n, bytes.len());
            assert_eq!(h.len(), n);
            assert_eq!(h.suite(), suite);
            assert_eq!(h.frame_length(), 4096);
            assert_eq!(h.encryption_context().get("k"), Some("v"));
            assert_eq!(h.encrypted_data_keys().len(), 1);
            for cut in 0..bytes.len() {
                match parse_partial(&bytes[..cut], &opts()) {
                    Err(Parse::Incomplete(need)) => {
                        assert!(need > cut && need <= bytes.len(), "{cut} {need}")
                    }
                    other => panic!("cut {cut}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn base64_detection() {
        for p in [&b"AYAAF"[..], b"AgR4abc", b"AgV4"] {
            assert_eq!(
                parse_partial(p, &opts()),
                Err(Parse::Invalid(Error::LooksLikeBase64))
            );
        }
        assert_eq!(parse_partial(b"Ag", &opts()), Err(Parse::Incomplete(3)));
    }
}
