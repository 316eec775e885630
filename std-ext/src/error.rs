//! The error type of `esdk-std`.

use esdk_core::AlgorithmSuite;
use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

/// Whether an encrypted data key was another keyring's or this keyring's and failed.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EdkFailureKind {
    /// The EDK is not for this keyring (another provider, key name or key ARN): nothing was
    /// attempted.
    NotForThisKeyring,
    /// The EDK is this keyring's and unwrapping it failed (wrong key, tampered EDK, a KMS call
    /// that failed, ...).
    Failed,
}

/// Why one encrypted data key could not be used by a keyring.
///
/// `Display` shows the EDK, the keyring's reason and then the text of each error in
/// [`EdkFailure::source`]'s chain, every part escaped and bounded. The source (for AWS KMS a
/// `esdk_kms::KmsError`, with its error code) stays available for code to inspect.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct EdkFailure {
    /// The EDK's provider id.
    pub provider_id: String,
    /// The EDK's provider info, printable (UTF-8 where possible, else hex).
    pub provider_info: String,
    /// Not this keyring's, or this keyring's and failed.
    pub kind: EdkFailureKind,
    /// What went wrong, in the keyring's words (it names the keyring). Never contains key
    /// material.
    pub reason: String,
    source: Option<Arc<dyn StdError + Send + Sync>>,
}

impl PartialEq for EdkFailure {
    /// Fields compared; sources compared by their text.
    fn eq(&self, other: &Self) -> bool {
        self.provider_id == other.provider_id
            && self.provider_info == other.provider_info
            && self.kind == other.kind
            && self.reason == other.reason
            && self.source.as_ref().map(ToString::to_string)
                == other.source.as_ref().map(ToString::to_string)
    }
}

impl fmt::Display for EdkFailure {
    /// Each field escaped and truncated (see [`Escaped`]): they come from the message.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} / {}: {}",
            Escaped::new(&self.provider_id),
            Escaped::new(&self.provider_info),
            Escaped::reason(&self.reason)
        )?;
        let mut next = self.source();
        while let Some(e) = next {
            write!(f, ": {}", Escaped::reason(&e.to_string()))?;
            next = e.source();
        }
        Ok(())
    }
}

/// Message-derived text as an error shows it: printable ASCII kept (a backslash doubled), every
/// other byte as `\xNN`, and at most [`Escaped::MAX_BYTES`] bytes of it (a keyring's failure
/// reason: [`Escaped::MAX_REASON_BYTES`]), followed by `...(+N bytes)` when longer. Control
/// characters, terminal escapes and Unicode direction marks from a message therefore never
/// reach a log or a terminal as such.
#[derive(Clone, Copy, Debug)]
pub struct Escaped<'a>(&'a [u8], usize);

impl<'a> Escaped<'a> {
    /// Bytes of a field taken from a message (provider id, provider info) shown before it is cut.
    pub const MAX_BYTES: usize = 96;
    /// Bytes of a keyring's failure reason shown before it is cut: reasons name keys, versions,
    /// operations and service error codes, and may quote message fields, so they get a larger
    /// but still fixed bound.
    pub const MAX_REASON_BYTES: usize = 512;

    /// Wraps text or bytes taken from a message for display.
    pub fn new(text: &'a (impl AsRef<[u8]> + ?Sized)) -> Self {
        Self(text.as_ref(), Self::MAX_BYTES)
    }

    /// Wraps a keyring's failure reason for display.
    pub fn reason(text: &'a (impl AsRef<[u8]> + ?Sized)) -> Self {
        Self(text.as_ref(), Self::MAX_REASON_BYTES)
    }
}

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = self.0.get(..self.1).unwrap_or(self.0);
        for &b in shown {
            match b {
                b'\\' => f.write_str("\\\\")?,
                0x20..=0x7e => fmt::Write::write_char(f, char::from(b))?,
                _ => write!(f, "\\x{b:02x}")?,
            }
        }
        if self.0.len() > shown.len() {
            write!(f, "...(+{} bytes)", self.0.len() - shown.len())?;
        }
        Ok(())
    }
}

impl EdkFailure {
    /// An EDK of this keyring that failed for `reason` (name the keyring in it).
    pub fn failed(edk: &esdk_core::EncryptedDataKey, reason: impl Into<String>) -> Self {
        Self::with_kind(edk, EdkFailureKind::Failed, reason)
    }

    /// An EDK that is not this keyring's; `reason` says why (name the keyring in it).
    pub fn not_for_this_keyring(
        edk: &esdk_core::EncryptedDataKey,
        reason: impl Into<String>,
    ) -> Self {
        Self::with_kind(edk, EdkFailureKind::NotForThisKeyring, reason)
    }

    /// A failure of a whole keyring (not tied to one EDK), e.g. a multi-keyring's child that
    /// failed outright: `keyring` names it.
    pub fn keyring(keyring: impl Into<String>, error: Error) -> Self {
        Self {
            provider_id: String::new(),
            provider_info: keyring.into(),
            kind: EdkFailureKind::Failed,
            reason: "the keyring failed".into(),
            source: Some(Arc::new(error)),
        }
    }

    fn with_kind(
        edk: &esdk_core::EncryptedDataKey,
        kind: EdkFailureKind,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            provider_id: edk.provider_id.clone(),
            provider_info: printable(&edk.provider_info),
            kind,
            reason: reason.into(),
            source: None,
        }
    }

    /// The error that caused this failure (kept whole, e.g. an AWS KMS error with its code).
    pub fn with_source(mut self, source: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// The esdk error that caused this failure; a [`Error::Provider`] is unwrapped, so its
    /// provider error (e.g. `esdk_kms::KmsError`) is the source.
    pub fn with_error(self, error: Error) -> Self {
        match error {
            Error::Provider(p) => self.with_boxed_source(p),
            other => self.with_source(other),
        }
    }

    /// As [`EdkFailure::with_source`], for a boxed error.
    pub fn with_boxed_source(mut self, source: Box<dyn StdError + Send + Sync>) -> Self {
        self.source = Some(Arc::from(source));
        self
    }

    /// The error that caused this failure, if any: downcast it (for AWS KMS to
    /// `esdk_kms::KmsError`) to read its details.
    pub fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// UTF-8 text when the bytes are printable UTF-8, hex otherwise.
pub(crate) fn printable(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) if s.chars().all(|c| !c.is_control()) => s.to_owned(),
        _ => b.iter().map(|x| format!("{x:02x}")).collect(),
    }
}

/// Errors of keyrings, materials managers, the client and the stream adapters.
///
/// Every message appears once in the [`source`](std::error::Error::source) chain: variants
/// that wrap another error either show it (`transparent`) or return it as their source, never
/// both.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The message engine failed (format, policy, limits, authentication, ...).
    #[error(transparent)]
    Core(#[from] esdk_core::Error),
    /// An I/O error of the underlying reader or writer.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// No keyring could decrypt any encrypted data key. The vector holds every attempt, each
    /// with its [`EdkFailureKind`] and source; the `Display` text lists the first
    /// [`MAX_LISTED_FAILURES`] (escaped and truncated) and counts the rest.
    #[error("no encrypted data key could be decrypted ({} tried){}", .0.len(), list(.0))]
    NoDecryptableKey(Vec<EdkFailure>),
    /// A keyring refused or failed an operation as a whole (on decrypt, failures tied to
    /// encrypted data keys are [`Error::NoDecryptableKey`]): see [`KeyringError::kind`].
    #[error(transparent)]
    Keyring(#[from] KeyringError),
    /// A materials manager, a keyring or their result broke a rule.
    #[error(transparent)]
    Materials(#[from] MaterialsError),
    /// Invalid configuration.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An RSA key could not be loaded or used.
    #[error(transparent)]
    Rsa(#[from] crate::rsa_key::RsaKeyError),
    /// An EC key could not be loaded or used (ECDH keyrings).
    #[error(transparent)]
    Ec(#[from] crate::keyring::raw_ecdh::EcKeyError),
    /// A key provider outside this crate failed (e.g. AWS KMS: an `esdk_kms::KmsError`, with
    /// the operation, key, region and service error code). Shows the provider's error; downcast
    /// it to read the details.
    #[error(transparent)]
    Provider(Box<dyn StdError + Send + Sync>),
    /// A decrypting stream would need to buffer more than its `max_buffer` bytes (a header, a
    /// frame plus its overhead, or a non-framed body is larger): raise the limit with
    /// `with_max_buffer`.
    #[error(
        "a header or frame needs {needed} buffered bytes, above the stream buffer limit of {limit}; raise it with `with_max_buffer`"
    )]
    BufferLimit {
        /// The configured cap.
        limit: usize,
        /// Bytes that would have to be held.
        needed: usize,
    },
    /// The failure of an underlying call that this request waited for (the caching
    /// materials manager's single flight): every request that waited on the call gets the
    /// same error, shared. Displays as that error.
    #[error(transparent)]
    Shared(Arc<Error>),
    /// A bug in this library (an internal invariant broke); please report it.
    #[error("internal error: {0}")]
    Internal(&'static str),
}

/// What kind of keyring failure a [`KeyringError`] is.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyringErrorKind {
    /// The keyring has no key to encrypt with: an RSA keyring given only a private key, a
    /// discovery keyring, an ECDH keyring in a discovery schema. Use it to decrypt, or give it
    /// an encryption key.
    CannotEncrypt,
    /// The keyring cannot be used with this algorithm suite (the AWS KMS RSA keyring refuses
    /// signing suites: it binds the encryption context only through a digest).
    UnsupportedSuite(AlgorithmSuite),
    /// Deriving a wrapping key or wrapping the data key failed; the source says why.
    WrapFailed,
    /// Another failure of the keyring (e.g. of a keyring outside this library); the source
    /// says why.
    Failed,
}

impl fmt::Display for KeyringErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CannotEncrypt => f.write_str("cannot encrypt: it holds no encryption key"),
            Self::UnsupportedSuite(s) if s.is_signed() => write!(
                f,
                "cannot be used with algorithm suite {s} (a signing suite)"
            ),
            Self::UnsupportedSuite(s) => write!(f, "cannot be used with algorithm suite {s}"),
            Self::WrapFailed => f.write_str("could not wrap the data key"),
            Self::Failed => f.write_str("failed"),
        }
    }
}

/// A keyring refused or failed an operation as a whole: which keyring, what kind of failure
/// ([`KeyringError::kind`], for code), and the underlying error as its
/// [`source`](StdError::source).
///
/// ```
/// use esdk_std::error::{KeyringError, KeyringErrorKind};
///
/// let e = KeyringError::new("raw RSA ns/key-1", KeyringErrorKind::CannotEncrypt);
/// assert_eq!(e.kind(), KeyringErrorKind::CannotEncrypt);
/// assert_eq!(
///     e.to_string(),
///     "keyring `raw RSA ns/key-1` cannot encrypt: it holds no encryption key"
/// );
/// ```
#[derive(Debug)]
pub struct KeyringError {
    keyring: String,
    kind: KeyringErrorKind,
    source: Option<Box<dyn StdError + Send + Sync>>,
}

impl KeyringError {
    /// A failure of the keyring named `keyring` (its kind and key name, e.g. `raw AES ns/k`;
    /// shown escaped and bounded).
    pub fn new(keyring: impl Into<String>, kind: KeyringErrorKind) -> Self {
        Self {
            keyring: keyring.into(),
            kind,
            source: None,
        }
    }
    /// A [`KeyringErrorKind::Failed`] caused by `source`.
    pub fn failed(
        keyring: impl Into<String>,
        source: impl Into<Box<dyn StdError + Send + Sync>>,
    ) -> Self {
        Self::new(keyring, KeyringErrorKind::Failed).with_source(source)
    }
    /// The error that caused this failure (returned by [`source`](StdError::source), not
    /// repeated in `Display`).
    #[must_use]
    pub fn with_source(mut self, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        self.source = Some(source.into());
        self
    }
    /// Which keyring failed.
    pub fn keyring(&self) -> &str {
        &self.keyring
    }
    /// What kind of failure.
    pub fn kind(&self) -> KeyringErrorKind {
        self.kind
    }
}

impl fmt::Display for KeyringError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "keyring `{}` {}",
            Escaped::reason(&self.keyring),
            self.kind
        )
    }
}

impl StdError for KeyringError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn StdError + 'static))
    }
}

/// A materials manager, a keyring or the materials they returned broke a rule.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MaterialsError {
    /// The caller's encryption context uses a key with the reserved `aws-crypto-` prefix.
    #[error("encryption context key `{}` uses the reserved prefix `aws-crypto-`", Escaped::new(.key))]
    ReservedContextKey {
        /// The key.
        key: String,
    },
    /// The encryption context already holds `aws-crypto-public-key` (for a signed suite the
    /// materials manager adds it).
    #[error("the encryption context already has `aws-crypto-public-key`")]
    PublicKeyEntryPresent,
    /// The materials are for another suite than the one requested.
    #[error("materials are for suite {returned}, {requested} was requested")]
    SuiteMismatch {
        /// The suite the caller asked for.
        requested: AlgorithmSuite,
        /// The suite of the materials.
        returned: AlgorithmSuite,
    },
    /// Materials given to a keyring already hold a data key where none is allowed (decryption
    /// materials, or a multi-keyring's generator).
    #[error("the materials already hold a data key")]
    DataKeyAlreadyPresent,
    /// Materials lack a data key where one is needed (a keyring returned none, or a
    /// multi-keyring without a generator got none).
    #[error("the materials hold no data key")]
    MissingDataKey,
    /// A keyring returned encryption materials without any encrypted data key.
    #[error("the keyring returned no encrypted data key")]
    MissingEncryptedDataKey,
    /// A keyring changed the data key or earlier encrypted data keys it was given.
    #[error("a keyring changed the data key or earlier encrypted data keys")]
    DataKeyChanged,
    /// A required encryption context key is absent from the request's context.
    #[error("required encryption context key `{}` is missing", Escaped::new(.key))]
    RequiredKeyMissing {
        /// The key.
        key: String,
    },
    /// The underlying materials manager dropped a required encryption context key.
    #[error("the underlying materials manager dropped required key `{}`", Escaped::new(.key))]
    RequiredKeyDropped {
        /// The key.
        key: String,
    },
    /// A required encryption context key was not in the reproduced context on decrypt.
    #[error("required encryption context key `{}` was not reproduced", Escaped::new(.key))]
    RequiredKeyNotReproduced {
        /// The key.
        key: String,
    },
    /// A key that selects the wrapping key (e.g. the hierarchical keyring's branch key id
    /// supplier) is not in the encryption context.
    #[error("the encryption context has no `{}` to choose a key", Escaped::new(.key))]
    SelectorKeyMissing {
        /// The encryption context key.
        key: String,
    },
    /// No wrapping key is known for the value of a selecting encryption context key.
    #[error("no key for {} = \"{}\"", Escaped::new(.key), Escaped::new(.value))]
    NoKeyForSelector {
        /// The encryption context key.
        key: String,
        /// Its value.
        value: String,
    },
}

/// An invalid setting of a keyring, materials manager or client.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A raw AES wrapping key is not 16, 24 or 32 bytes.
    #[error("raw AES wrapping key must be 16, 24 or 32 bytes, got {actual}")]
    WrappingKeyLength {
        /// Its length.
        actual: usize,
    },
    /// A raw RSA keyring got neither key.
    #[error("a raw RSA keyring needs a public key, a private key, or both")]
    NoRsaKey,
    /// Sender and recipient keys are on different curves.
    #[error("sender key on {sender}, recipient key on {recipient}")]
    CurveMismatch {
        /// The sender's curve.
        sender: crate::keyring::raw_ecdh::EcdhCurve,
        /// The recipient's curve.
        recipient: crate::keyring::raw_ecdh::EcdhCurve,
    },
    /// A multi-keyring with neither a generator nor children.
    #[error("a multi-keyring needs a generator or at least one child")]
    EmptyMultiKeyring,
    /// A setting that must be given is missing or empty.
    #[error("{setting} is required")]
    Missing {
        /// Which setting.
        setting: &'static str,
    },
    /// A numeric setting is out of its range.
    #[error("{setting} out of range: {value}")]
    OutOfRange {
        /// Which setting (with its allowed range).
        setting: &'static str,
        /// The value given.
        value: u64,
    },
    /// A setting of a keyring outside this crate is invalid; the source says why (e.g.
    /// `esdk_kms::KmsConfigError`).
    #[error("invalid {setting}")]
    Invalid {
        /// Which setting.
        setting: &'static str,
        /// Why.
        #[source]
        source: Box<dyn StdError + Send + Sync>,
    },
}

/// EDK failures listed by the `Display` text of [`Error::NoDecryptableKey`].
pub const MAX_LISTED_FAILURES: usize = 8;

fn list(v: &[EdkFailure]) -> String {
    let mut s: String = v
        .iter()
        .take(MAX_LISTED_FAILURES)
        .map(|e| format!("; {e}"))
        .collect();
    if v.len() > MAX_LISTED_FAILURES {
        s.push_str(&format!("; and {} more", v.len() - MAX_LISTED_FAILURES));
    }
    s
}

impl Error {
    /// The esdk error inside an `io::Error` returned by a stream adapter (`read`, `write`,
    /// `flush`, `finish`, ...), if it carries one: the adapters wrap every esdk failure in an
    /// `io::Error` (kind `InvalidData`, or `UnexpectedEof` for a truncated message) whose inner
    /// error is the [`Error`].
    ///
    /// ```
    /// let e: std::io::Error = esdk_std::Error::BufferLimit { limit: 1, needed: 2 }.into();
    /// assert!(matches!(
    ///     esdk_std::Error::from_io(&e),
    ///     Some(esdk_std::Error::BufferLimit { .. })
    /// ));
    /// ```
    pub fn from_io(e: &std::io::Error) -> Option<&Error> {
        e.get_ref()?.downcast_ref::<Error>()
    }

    /// As [`Error::from_io`], by value: the esdk error inside `e`, or `Error::Io(e)` when it
    /// carries none.
    pub fn from_io_owned(e: std::io::Error) -> Error {
        if Self::from_io(&e).is_none() {
            return Error::Io(e);
        }
        match e.into_inner().map(|b| b.downcast::<Error>()) {
            Some(Ok(inner)) => *inner,
            // Unreachable: checked above; keep the information anyway.
            Some(Err(other)) => Error::Io(std::io::Error::other(other)),
            None => Error::Internal("io::Error without its inner error"),
        }
    }

    /// The core error, if this is one.
    pub fn core(&self) -> Option<&esdk_core::Error> {
        match self {
            Self::Core(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        match e {
            Error::Io(io) => io,
            Error::Core(esdk_core::Error::Truncated) => {
                std::io::Error::new(std::io::ErrorKind::UnexpectedEof, e)
            }
            other => std::io::Error::new(std::io::ErrorKind::InvalidData, other),
        }
    }
}

/// Result alias.
pub type Result<T, E = Error> = std::result::Result<T, E>;
