//! The error type of `esdk-std`.

use std::fmt;

/// Why one encrypted data key could not be used by a keyring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EdkFailure {
    /// The EDK's provider id.
    pub provider_id: String,
    /// The EDK's provider info, printable (UTF-8 where possible, else hex).
    pub provider_info: String,
    /// What went wrong. Never contains key material.
    pub reason: String,
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
        )
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
    /// Describes an EDK that failed for `reason`.
    pub fn new(edk: &esdk_core::EncryptedDataKey, reason: impl Into<String>) -> Self {
        Self {
            provider_id: edk.provider_id.clone(),
            provider_info: printable(&edk.provider_info),
            reason: reason.into(),
        }
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
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The message engine failed (format, policy, limits, authentication, ...).
    #[error(transparent)]
    Core(#[from] esdk_core::Error),
    /// An I/O error of the underlying reader or writer.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// No keyring could decrypt any encrypted data key. The vector holds every attempt; the
    /// `Display` text lists the first [`MAX_LISTED_FAILURES`] (escaped and truncated) and counts
    /// the rest.
    #[error("no encrypted data key could be decrypted ({} tried){}", .0.len(), list(.0))]
    NoDecryptableKey(Vec<EdkFailure>),
    /// A keyring failed on encrypt.
    #[error("keyring {keyring} failed: {reason}")]
    Keyring {
        /// Which keyring (namespace / key name or kind).
        keyring: String,
        /// What failed.
        reason: String,
    },
    /// A materials manager or its result broke a rule.
    #[error("materials: {0}")]
    Materials(String),
    /// Invalid configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An RSA key could not be loaded or used.
    #[error(transparent)]
    Rsa(#[from] crate::rsa_key::RsaKeyError),
    /// An EC key could not be loaded or used (ECDH keyrings).
    #[error(transparent)]
    Ec(#[from] crate::keyring::raw_ecdh::EcKeyError),
    /// A key provider outside this crate failed (e.g. AWS KMS); carries its source.
    #[error("{context}: {source}")]
    Provider {
        /// Key and operation.
        context: String,
        /// The underlying error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
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
    Shared(std::sync::Arc<Error>),
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
