//! The one error type of the core, with categories.
//!
//! Errors are small `Copy` values so that a state machine can keep the first error it met and
//! return it again from every later call (errors are *sticky*). Messages name the field and the
//! limit involved; they never contain key bytes, plaintext or encryption-context values.

use core::fmt;

/// Everything that can go wrong in the core.
///
/// Match on [`Error::category`] for coarse handling; the variants carry the detail.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// Malformed bytes: a field holds a value the format does not allow.
    Format(FormatError),
    /// The input looks like a Base64-encoded message; decode it before decrypting.
    LooksLikeBase64,
    /// A well-formed value that this implementation does not support (version, type, suite).
    Unsupported(Unsupported),
    /// The commitment policy or signature policy forbids what was asked.
    Policy(PolicyError),
    /// A configured or format limit was exceeded.
    Limit(LimitError),
    /// A cryptographic check failed. Deliberately opaque apart from the stage.
    Authentication(AuthStage),
    /// The materials supplied by the caller do not fit the message.
    Materials(MaterialsError),
    /// The input ended inside the message.
    Truncated,
    /// Bytes follow the end of the message.
    TrailingData,
    /// The API was used out of order.
    Usage(UsageError),
    /// The crypto provider failed (not an authentication failure).
    Crypto(CryptoError),
    /// An invariant of this library broke (a bug, never caused by input): the operation
    /// stops instead of producing wrong output. Please report it.
    Internal(&'static str),
}

/// Coarse error categories, for tests and for callers that branch on the kind of failure.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCategory {
    /// [`Error::Format`] and [`Error::LooksLikeBase64`].
    Format,
    /// [`Error::Unsupported`].
    Unsupported,
    /// [`Error::Policy`].
    Policy,
    /// [`Error::Limit`].
    Limit,
    /// [`Error::Authentication`].
    Authentication,
    /// [`Error::Materials`].
    Materials,
    /// [`Error::Truncated`].
    Truncated,
    /// [`Error::TrailingData`].
    TrailingData,
    /// [`Error::Usage`].
    Usage,
    /// [`Error::Crypto`].
    Crypto,
    /// [`Error::Internal`].
    Internal,
}

impl Error {
    /// The coarse category of this error.
    pub fn category(&self) -> ErrorCategory {
        match self {
            Self::Format(_) | Self::LooksLikeBase64 => ErrorCategory::Format,
            Self::Unsupported(_) => ErrorCategory::Unsupported,
            Self::Policy(_) => ErrorCategory::Policy,
            Self::Limit(_) => ErrorCategory::Limit,
            Self::Authentication(_) => ErrorCategory::Authentication,
            Self::Materials(_) => ErrorCategory::Materials,
            Self::Truncated => ErrorCategory::Truncated,
            Self::TrailingData => ErrorCategory::TrailingData,
            Self::Usage(_) => ErrorCategory::Usage,
            Self::Crypto(_) => ErrorCategory::Crypto,
            Self::Internal(_) => ErrorCategory::Internal,
        }
    }

    pub(crate) const fn format(field: &'static str, problem: &'static str) -> Self {
        Self::Format(FormatError { field, problem })
    }

    pub(crate) const fn limit(what: LimitKind, limit: u64, actual: u64) -> Self {
        Self::Limit(LimitError {
            what,
            limit,
            actual,
        })
    }
}

/// A malformed field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FormatError {
    /// The field, named as in the specification (e.g. `"header.reserved"`).
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

/// Well-formed values that are not supported.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsupported {
    /// Message format version byte.
    Version(u8),
    /// Version 1 message type byte (only `0x80` exists).
    MessageType(u8),
    /// Algorithm suite id that is not one of the 11 ESDK suites.
    Suite(u16),
    /// One of the 11 ESDK suites, left out of this build by its Cargo feature
    /// (`non-committing`, `ecdsa-p256`, `ecdsa-p384`).
    SuiteNotBuilt(u16),
    /// Content type byte (only `0x01` non-framed and `0x02` framed exist).
    ContentType(u8),
    /// The header version does not match the suite's message format version.
    SuiteVersionMismatch {
        /// The suite id.
        suite: u16,
        /// The header version byte.
        version: u8,
    },
}

/// A policy refused the operation.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyError {
    /// The commitment policy does not allow this suite for this operation.
    CommitmentPolicy {
        /// The suite id refused.
        suite: u16,
        /// The policy in force.
        policy: crate::CommitmentPolicy,
    },
    /// Decrypting in unsigned-only mode, but the suite signs.
    SignedSuiteInUnsignedOnlyMode {
        /// The suite id.
        suite: u16,
    },
    /// Non-framed content is only written when explicitly enabled for legacy use.
    NonFramedEncryptionDisabled,
    /// Random access (ranged decrypt) needs a framed message; this one has a single,
    /// non-framed body.
    RandomAccessNotFramed,
    /// Ranged decrypt of a signed message skips the signature; it is refused unless the caller
    /// opts in explicitly to skipping signature verification.
    RandomAccessSigned {
        /// The suite id.
        suite: u16,
    },
}

/// Which limit.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitKind {
    /// Number of encrypted data keys (configured `max_encrypted_data_keys`).
    EncryptedDataKeys,
    /// Serialized header length (configured `max_header_len`).
    HeaderLength,
    /// Frame length declared in the header (configured `max_frame_len`).
    FrameLength,
    /// Non-framed body length (configured `max_body_len`, and the format's 2^36 − 32).
    BodyLength,
    /// Final frame content longer than the frame length.
    FinalFrameLength,
    /// Frame count exhausted (at most 2^32 − 1 frames).
    FrameCount,
    /// Serialized encryption context longer than 65,535 bytes.
    EncryptionContextLength,
    /// A length-prefixed field longer than 65,535 bytes.
    FieldLength,
    /// More plaintext than the length announced for it (encrypting with a declared
    /// plaintext length).
    PlaintextLength,
    /// The computed message length does not fit in 64 bits.
    MessageLength,
    /// A decrypt input buffer ([`crate::input`]) cannot hold what the decryptor needs: `limit`
    /// is its size, `actual` the bytes it would need.
    InputBuffer,
}

/// A limit that was exceeded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitError {
    /// Which limit.
    pub what: LimitKind,
    /// The limit in force.
    pub limit: u64,
    /// The value met (may be a lower bound).
    pub actual: u64,
}

/// Where authentication failed.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthStage {
    /// The v2 header's key commitment does not match the data key.
    Commitment,
    /// The header authentication tag.
    HeaderTag,
    /// A frame's (or the non-framed body's) authentication tag.
    FrameTag,
    /// The footer's ECDSA signature.
    Signature,
    /// A wrapped data key did not unwrap (raw AES keyring).
    DataKeyUnwrap,
}

/// The caller's materials do not fit.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaterialsError {
    /// The materials name a different suite than the message header.
    SuiteMismatch {
        /// Suite of the header (or the request).
        expected: u16,
        /// Suite of the materials.
        actual: u16,
    },
    /// The data key length does not match the suite's key length.
    DataKeyLength {
        /// Expected length in bytes.
        expected: usize,
        /// Length given.
        actual: usize,
    },
    /// A signed suite without a verification or signing key.
    MissingSignatureKey,
    /// An unsigned suite with a verification or signing key.
    UnexpectedSignatureKey,
    /// The signature key is malformed or on the wrong curve.
    InvalidSignatureKey,
    /// No encrypted data keys on encryption materials.
    NoEncryptedDataKeys,
    /// An encryption-context key uses the reserved `aws-crypto-` prefix.
    ReservedEncryptionContextKey,
    /// The `aws-crypto-public-key` entry is missing, malformed or conflicts with the suite.
    PublicKeyEntry,
    /// The reproduced encryption context conflicts with the stored one.
    EncryptionContextMismatch,
    /// A required encryption-context key is not in the encryption context.
    RequiredKeyMissing,
}

/// API misuse.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsageError {
    /// The machine already reached its end.
    AlreadyDone,
    /// A previous error poisoned the machine (never returned: the first error is repeated).
    Poisoned,
    /// A materials request was dropped without being answered.
    MaterialsNotProvided,
    /// The caller aborted at the materials request.
    Aborted,
    /// The output buffer is too small; `required` bytes are needed.
    OutputTooSmall {
        /// Bytes needed.
        required: usize,
    },
    /// A frame was sealed with a length other than the frame length.
    WrongFrameLength {
        /// The configured frame length.
        expected: usize,
        /// The length given.
        actual: usize,
    },
    /// A configuration value is out of range.
    InvalidConfig(&'static str),
    /// Input data (e.g. an encryption context given by the caller) is not valid.
    InvalidInput(&'static str),
}

/// Failure inside a crypto provider that is not an authentication failure.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CryptoError {
    /// A key had the wrong length or encoding for the primitive.
    InvalidKey,
    /// The random number generator failed.
    Rng,
    /// Signing failed.
    Signing,
    /// The provider does not implement the requested algorithm.
    UnsupportedAlgorithm,
    /// Any other provider failure.
    Other,
}

impl From<CryptoError> for Error {
    fn from(e: CryptoError) -> Self {
        Self::Crypto(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Format(e) => write!(f, "malformed message: {}: {}", e.field, e.problem),
            Self::LooksLikeBase64 => f.write_str(
                "input looks like a Base64-encoded message; decode it to bytes before decrypting",
            ),
            Self::Unsupported(u) => match u {
                Unsupported::Version(v) => write!(f, "unsupported message format version {v:#04x}"),
                Unsupported::MessageType(t) => write!(f, "unsupported message type {t:#04x}"),
                Unsupported::Suite(s) => write!(f, "unsupported algorithm suite id {s:#06x}"),
                Unsupported::SuiteNotBuilt(s) => write!(
                    f,
                    "algorithm suite {s:#06x} is not built into this esdk-core (its Cargo feature is off)"
                ),
                Unsupported::ContentType(c) => write!(f, "unsupported content type {c:#04x}"),
                Unsupported::SuiteVersionMismatch { suite, version } => write!(
                    f,
                    "algorithm suite {suite:#06x} cannot appear in a version {version} header"
                ),
            },
            Self::Policy(p) => match p {
                PolicyError::CommitmentPolicy { suite, policy } => write!(
                    f,
                    "algorithm suite {suite:#06x} is not allowed by commitment policy {policy:?}"
                ),
                PolicyError::SignedSuiteInUnsignedOnlyMode { suite } => write!(
                    f,
                    "algorithm suite {suite:#06x} signs messages, but decryption is in unsigned-only mode"
                ),
                PolicyError::NonFramedEncryptionDisabled => f.write_str(
                    "non-framed content is only written with the legacy non-framed option enabled",
                ),
                PolicyError::RandomAccessNotFramed => f.write_str(
                    "ranged decryption needs a framed message; this message is non-framed (decrypt it whole)",
                ),
                PolicyError::RandomAccessSigned { suite } => write!(
                    f,
                    "algorithm suite {suite:#06x} signs messages and a byte range cannot be checked against the signature; opt in to skipping signature verification or decrypt the whole message"
                ),
            },
            Self::Limit(l) => write!(
                f,
                "{} {} exceeds the limit {}",
                limit_name(l.what),
                l.actual,
                l.limit
            ),
            Self::Authentication(stage) => match stage {
                AuthStage::Commitment => f.write_str("key commitment does not match the data key"),
                AuthStage::HeaderTag => f.write_str("header authentication failed"),
                AuthStage::FrameTag => f.write_str("body authentication failed"),
                AuthStage::Signature => f.write_str("message signature verification failed"),
                AuthStage::DataKeyUnwrap => f.write_str("encrypted data key did not decrypt"),
            },
            Self::Materials(m) => match m {
                MaterialsError::SuiteMismatch { expected, actual } => write!(
                    f,
                    "materials are for algorithm suite {actual:#06x}, expected {expected:#06x}"
                ),
                MaterialsError::DataKeyLength { expected, actual } => write!(
                    f,
                    "data key is {actual} bytes, the algorithm suite needs {expected}"
                ),
                MaterialsError::MissingSignatureKey => {
                    f.write_str("the algorithm suite signs but the materials have no signature key")
                }
                MaterialsError::UnexpectedSignatureKey => f.write_str(
                    "the algorithm suite does not sign but the materials carry a signature key",
                ),
                MaterialsError::InvalidSignatureKey => f.write_str("signature key is malformed"),
                MaterialsError::NoEncryptedDataKeys => {
                    f.write_str("encryption materials carry no encrypted data key")
                }
                MaterialsError::ReservedEncryptionContextKey => f.write_str(
                    "encryption context keys starting with `aws-crypto-` are reserved",
                ),
                MaterialsError::PublicKeyEntry => f.write_str(
                    "the `aws-crypto-public-key` encryption context entry is missing, malformed or does not fit the suite",
                ),
                MaterialsError::EncryptionContextMismatch => f.write_str(
                    "reproduced encryption context conflicts with the message's encryption context",
                ),
                MaterialsError::RequiredKeyMissing => f.write_str(
                    "a required encryption context key is missing from the encryption context",
                ),
            },
            Self::Truncated => f.write_str("input ended inside the message (truncated)"),
            Self::TrailingData => f.write_str("bytes follow the end of the message"),
            Self::Usage(u) => match u {
                UsageError::AlreadyDone => f.write_str("the message is already complete"),
                UsageError::Poisoned => f.write_str("a previous error ended this operation"),
                UsageError::MaterialsNotProvided => {
                    f.write_str("the materials request was dropped without an answer")
                }
                UsageError::Aborted => f.write_str("the caller aborted the operation"),
                UsageError::OutputTooSmall { required } => {
                    write!(f, "output buffer too small: {required} bytes needed")
                }
                UsageError::WrongFrameLength { expected, actual } => write!(
                    f,
                    "a regular frame must hold exactly {expected} plaintext bytes, got {actual}"
                ),
                UsageError::InvalidConfig(what) => write!(f, "invalid configuration: {what}"),
                UsageError::InvalidInput(what) => write!(f, "invalid input: {what}"),
            },
            Self::Crypto(c) => match c {
                CryptoError::InvalidKey => f.write_str("crypto provider: invalid key"),
                CryptoError::Rng => f.write_str("crypto provider: random number generator failed"),
                CryptoError::Signing => f.write_str("crypto provider: signing failed"),
                CryptoError::UnsupportedAlgorithm => {
                    f.write_str("crypto provider: algorithm not supported")
                }
                CryptoError::Other => f.write_str("crypto provider failure"),
            },
            Self::Internal(what) => write!(f, "internal error (a bug in esdk-core): {what}"),
        }
    }
}

fn limit_name(kind: LimitKind) -> &'static str {
    match kind {
        LimitKind::EncryptedDataKeys => "encrypted data key count",
        LimitKind::HeaderLength => "header length",
        LimitKind::FrameLength => "frame length",
        LimitKind::BodyLength => "body length",
        LimitKind::FinalFrameLength => "final frame content length",
        LimitKind::FrameCount => "frame count",
        LimitKind::EncryptionContextLength => "serialized encryption context length",
        LimitKind::FieldLength => "field length",
        LimitKind::PlaintextLength => "plaintext length",
        LimitKind::MessageLength => "message length",
        LimitKind::InputBuffer => "bytes needed in the input buffer",
    }
}

impl core::error::Error for Error {}
impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Error::Crypto(*self), f)
    }
}
impl core::error::Error for CryptoError {}

/// Result alias used throughout the core.
pub type Result<T, E = Error> = core::result::Result<T, E>;
