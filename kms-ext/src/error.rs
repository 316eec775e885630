//! What a failed AWS KMS call reports.
//!
//! Failures of a keyring's own KMS calls on encrypt surface as
//! [`esdk_std::Error::Provider`] holding a [`KmsError`] (downcast it for the operation, key,
//! region, HTTP status and error code); failures while decrypting one encrypted data key are
//! listed in [`esdk_std::Error::NoDecryptableKey`], each [`EdkFailure`] keeping its
//! [`KmsError`] as its source. [`KmsError::find`] reaches it from either. No error ever
//! contains a plaintext data key: responses carrying one are only checked for length and key
//! id.

use aws_sdk_kms::config::http::HttpResponse;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use core::fmt;
use esdk_std::error::{EdkFailure, Escaped};

/// An AWS KMS operation the keyrings call.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KmsOperation {
    /// `GenerateDataKey` (generator on encrypt).
    GenerateDataKey,
    /// `Encrypt` (further keys on encrypt).
    Encrypt,
    /// `Decrypt`.
    Decrypt,
    /// `GetPublicKey` (KMS RSA and ECDH keyrings).
    GetPublicKey,
    /// `DeriveSharedSecret` (KMS ECDH keyring).
    DeriveSharedSecret,
}

impl fmt::Display for KmsOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::GenerateDataKey => "GenerateDataKey",
            Self::Encrypt => "Encrypt",
            Self::Decrypt => "Decrypt",
            Self::GetPublicKey => "GetPublicKey",
            Self::DeriveSharedSecret => "DeriveSharedSecret",
        })
    }
}

/// A failed or unacceptable AWS KMS call.
///
/// `Display` shows the operation, key, region and what failed: the service's error code and
/// message (escaped and bounded), or for failures without a service answer a short sentence
/// whose cause follows in [`source`](core::error::Error::source) (for a refused connection the
/// connector's error chain down to the operating system's). It never shows `Debug` output or a
/// raw HTTP response.
#[non_exhaustive]
#[derive(Debug)]
pub struct KmsError {
    /// The operation.
    pub operation: KmsOperation,
    /// The key identifier sent as `KeyId` (an ARN, alias or key id).
    pub key_id: String,
    /// The region of the client used, when known.
    pub region: Option<String>,
    /// The service's error code (`NotFoundException`, `AccessDeniedException`,
    /// `DisabledException`, ...), if the service answered with one.
    pub code: Option<String>,
    /// The HTTP status of the service's answer, if there was one.
    pub http_status: Option<u16>,
    /// What went wrong (the service's message, or a description of the failure).
    pub message: String,
    source: Option<Box<dyn core::error::Error + Send + Sync>>,
}

impl fmt::Display for KmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "AWS KMS {} with key {}",
            self.operation,
            Escaped::new(&self.key_id)
        )?;
        if let Some(r) = &self.region {
            write!(f, " in {}", Escaped::new(r))?;
        }
        f.write_str(" failed: ")?;
        match &self.code {
            Some(c) if self.message.is_empty() => write!(f, "{}", Escaped::new(c)),
            Some(c) => write!(f, "{}: {}", Escaped::new(c), Escaped::reason(&self.message)),
            None => write!(f, "{}", Escaped::reason(&self.message)),
        }
    }
}

impl core::error::Error for KmsError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn core::error::Error + 'static))
    }
}

/// What an AWS SDK call's error says, without `Debug` dumps or response bodies (see
/// [`describe_sdk_error`]).
#[non_exhaustive]
#[derive(Debug)]
pub struct SdkFailure {
    /// The service's error code, if it answered with one.
    pub code: Option<String>,
    /// The HTTP status of the answer, if there was one.
    pub http_status: Option<u16>,
    /// The service's message, or a one-line description of the failure.
    pub message: String,
    /// The cause, for failures without a service answer (the connector's error for a refused
    /// connection, the timeout, ...). `None` when `code`/`message` say everything.
    pub source: Option<Box<dyn core::error::Error + Send + Sync>>,
}

/// Describes an AWS SDK call's error: the service's error code and message when it answered
/// with one; otherwise a short sentence (`the request could not be sent`, `HTTP 500 response
/// without an AWS error code`, ...) and, where there is one, the underlying cause as `source`
/// (never the SDK error itself, whose text would repeat). Shared by the KMS keyrings and other
/// crates' AWS calls (the DynamoDB branch key store).
pub fn describe_sdk_error<E, R>(e: SdkError<E, R>) -> SdkFailure
where
    E: core::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    let http_status = e
        .raw_response()
        .and_then(|r| (r as &dyn core::any::Any).downcast_ref::<HttpResponse>())
        .map(|r| r.status().as_u16());
    let status_text = || match http_status {
        Some(s) => format!("HTTP {s} response"),
        None => "response".to_owned(),
    };
    if let Some(code) = e.code() {
        return SdkFailure {
            code: Some(code.to_owned()),
            http_status,
            message: e.message().unwrap_or_default().to_owned(),
            source: None,
        };
    }
    let (message, source) = match e {
        SdkError::ServiceError(_) => (format!("{} without an AWS error code", status_text()), None),
        SdkError::ResponseError(_) => (format!("{} could not be read", status_text()), None),
        SdkError::DispatchFailure(ref d) => {
            let what = if d.is_timeout() {
                "the connection timed out"
            } else {
                "the request could not be sent"
            };
            (what.to_owned(), e.into_source().ok())
        }
        SdkError::TimeoutError(_) => ("the request timed out".to_owned(), e.into_source().ok()),
        SdkError::ConstructionFailure(_) => (
            "the request could not be built".to_owned(),
            e.into_source().ok(),
        ),
        _ => ("the AWS SDK call failed".to_owned(), None),
    };
    SdkFailure {
        code: None,
        http_status,
        message,
        source,
    }
}

impl KmsError {
    /// From the SDK's error for a call.
    pub(crate) fn from_sdk<E, R>(
        operation: KmsOperation,
        key_id: &str,
        region: Option<&str>,
        e: SdkError<E, R>,
    ) -> Self
    where
        E: core::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let d = describe_sdk_error(e);
        Self {
            operation,
            key_id: key_id.to_owned(),
            region: region.map(str::to_owned),
            code: d.code,
            http_status: d.http_status,
            message: d.message,
            source: d.source,
        }
    }

    /// A response that broke a rule of the specification (wrong key id, key length, ...).
    pub(crate) fn invalid_response(
        operation: KmsOperation,
        key_id: &str,
        region: Option<&str>,
        message: String,
    ) -> Self {
        Self {
            operation,
            key_id: key_id.to_owned(),
            region: region.map(str::to_owned),
            code: None,
            http_status: None,
            message,
            source: None,
        }
    }

    /// As an `esdk_std` error.
    pub(crate) fn into_error(self) -> esdk_std::Error {
        self.into()
    }

    /// The AWS KMS error behind an esdk error, if any: an encrypt-side
    /// [`esdk_std::Error::Provider`], or the first KMS failure listed by
    /// [`esdk_std::Error::NoDecryptableKey`] (each of its [`EdkFailure`]s keeps its own).
    ///
    /// ```
    /// # fn check(e: &esdk_std::Error) {
    /// if let Some(kms) = esdk_kms::KmsError::find(e) {
    ///     if kms.code.as_deref() == Some("DisabledException") { /* re-enable the key */ }
    /// }
    /// # }
    /// ```
    pub fn find(e: &esdk_std::Error) -> Option<&KmsError> {
        match e {
            esdk_std::Error::Provider(p) => p.downcast_ref::<KmsError>(),
            esdk_std::Error::Shared(inner) => Self::find(inner),
            esdk_std::Error::NoDecryptableKey(v) => v.iter().find_map(Self::in_failure),
            _ => None,
        }
    }

    /// The AWS KMS error that made one EDK fail, if any.
    pub fn in_failure(f: &EdkFailure) -> Option<&KmsError> {
        let mut next = f.source();
        while let Some(e) = next {
            if let Some(k) = e.downcast_ref::<KmsError>() {
                return Some(k);
            }
            if let Some(inner) = e.downcast_ref::<esdk_std::Error>() {
                if let Some(k) = Self::find(inner) {
                    return Some(k);
                }
            }
            next = e.source();
        }
        None
    }
}

impl From<KmsError> for esdk_std::Error {
    fn from(e: KmsError) -> Self {
        esdk_std::Error::Provider(Box::new(e))
    }
}

/// An EDK of a KMS keyring that failed because of `e`: the provider's error (a [`KmsError`])
/// is kept whole as the failure's source.
pub(crate) fn edk_failure(
    edk: &esdk_std::EncryptedDataKey,
    reason: String,
    e: impl Into<esdk_std::Error>,
) -> EdkFailure {
    EdkFailure::failed(edk, reason).with_error(e.into())
}

/// An invalid setting of a KMS keyring or client supplier (the source of
/// [`esdk_std::error::ConfigError::Invalid`]).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum KmsConfigError {
    /// Not a valid key identifier (ARN, alias or key id).
    #[error(transparent)]
    KeyIdentifier(#[from] crate::arn::ArnError),
    /// The KMS RSA keyring needs a key, not an alias.
    #[error("`{}` is an alias; the key identifier must name a key", Escaped::new(.0))]
    AliasNotAllowed(String),
    /// Decryption needs the key's ARN; an alias or a bare key id only encrypts.
    #[error(
        "decryption needs the key's ARN (arn:<partition>:kms:<region>:<account>:key/<key-id>); `{}` can only be used to encrypt",
        Escaped::new(.0)
    )]
    ArnRequired(String),
    /// No default region is configured and the key identifier names none.
    #[error(
        "no default region is configured (set AWS_REGION or a profile region), and the key identifier is not an ARN naming one"
    )]
    NoRegion,
    /// Not a valid region name.
    #[error("`{}` is not a valid region name", Escaped::new(.0))]
    InvalidRegion(String),
    /// The region is not among the client supplier's allowed regions.
    #[error("region `{}` is not among the client supplier's allowed regions", Escaped::new(.0))]
    RegionNotAllowed(String),
    /// A discovery filter with an empty partition.
    #[error("the discovery filter's partition is empty")]
    EmptyPartition,
    /// A discovery filter without account ids (or with an empty one).
    #[error("the discovery filter needs one or more non-empty account ids")]
    NoAccounts,
    /// Two or more identifiers name the same multi-Region key.
    #[error(
        "multi-Region keys must be unique, but these identifiers name the same multi-Region key: {}",
        list_escaped(.identifiers)
    )]
    DuplicateMultiRegionKey {
        /// Every identifier involved.
        identifiers: Vec<String>,
    },
    /// A suite's data key length that KMS cannot generate.
    #[error("data key length {0} out of range")]
    DataKeyLength(usize),
    /// [`crate::BlockingKeyring::with_handle`] got a current-thread runtime.
    #[error(
        "BlockingKeyring needs a multi-threaded Tokio runtime: a current-thread runtime cannot run the KMS requests while the caller blocks"
    )]
    CurrentThreadRuntime,
}

fn list_escaped(items: &[String]) -> String {
    items
        .iter()
        .map(|i| Escaped::new(i).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

impl KmsConfigError {
    /// As an `esdk_std` configuration error about `setting`.
    pub(crate) fn into_error(self, setting: &'static str) -> esdk_std::Error {
        esdk_std::Error::Config(esdk_std::error::ConfigError::Invalid {
            setting,
            source: Box::new(self),
        })
    }
}
