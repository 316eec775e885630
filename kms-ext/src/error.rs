//! What a failed AWS KMS call reports.
//!
//! Failures of a keyring's own KMS calls on encrypt surface as
//! [`esdk_std::Error::Provider`] whose source is a [`KmsError`] (downcast it for the
//! operation, key, region and error code); failures while decrypting one encrypted data key are
//! listed in [`esdk_std::Error::NoDecryptableKey`] with the same text. No error ever contains a
//! plaintext data key: responses carrying one are only checked for length and key id.

use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use core::fmt;

/// An AWS KMS operation the keyrings call.
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
#[derive(Debug, thiserror::Error)]
#[error("AWS KMS {operation} with key {key_id}{} failed: {message}", region_note(.region.as_deref()))]
pub struct KmsError {
    /// The operation.
    pub operation: KmsOperation,
    /// The key identifier sent as `KeyId` (an ARN, alias or key id).
    pub key_id: String,
    /// The region of the client used, when known.
    pub region: Option<String>,
    /// The service's error code (`NotFoundException`, `AccessDeniedException`, ...), if the
    /// service answered with one.
    pub code: Option<String>,
    /// What went wrong.
    pub message: String,
    #[source]
    source: Option<Box<dyn core::error::Error + Send + Sync>>,
}

fn region_note(region: Option<&str>) -> String {
    region.map(|r| format!(" in {r}")).unwrap_or_default()
}

/// The service's error code (if the service answered with one) and a one-line description of
/// an AWS SDK call's error: `Code: message`, or the SDK's full error chain for failures without
/// a service answer (connection, timeout, ...). Shared by the KMS keyrings and other crates'
/// AWS calls (the DynamoDB branch key store).
pub fn describe_sdk_error<E, R>(e: &SdkError<E, R>) -> (Option<String>, String)
where
    E: core::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    let code = e.code().map(str::to_owned);
    let message = match (e.code(), e.message()) {
        (Some(c), Some(m)) => format!("{c}: {m}"),
        (Some(c), None) => c.to_owned(),
        _ => DisplayErrorContext(e).to_string(),
    };
    (code, message)
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
        let (code, message) = describe_sdk_error(&e);
        Self {
            operation,
            key_id: key_id.to_owned(),
            region: region.map(str::to_owned),
            code,
            message,
            source: Some(Box::new(e)),
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
            message,
            source: None,
        }
    }

    /// As an `esdk_std` error.
    pub(crate) fn into_error(self) -> esdk_std::Error {
        esdk_std::Error::Provider {
            context: "esdk-kms keyring".into(),
            source: Box::new(self),
        }
    }
}
