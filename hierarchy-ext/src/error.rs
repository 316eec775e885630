//! What a failed branch key store operation reports.
//!
//! Every [`KeyStoreError`] names the operation, the branch key id and (where known) the branch
//! key version, so an operator can find the item in DynamoDB. Identifiers that come from
//! messages or items are escaped and bounded; no error ever contains key material (plaintext
//! branch keys are only checked for length).

use core::fmt;

/// A branch key store operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyStoreOperation {
    /// `CreateKeyStore` (create the table, or check an existing one).
    CreateKeyStore,
    /// `CreateKey`.
    CreateKey,
    /// `VersionKey` (rotation).
    VersionKey,
    /// `GetActiveBranchKey`.
    GetActiveBranchKey,
    /// `GetBranchKeyVersion`.
    GetBranchKeyVersion,
    /// `GetBeaconKey`.
    GetBeaconKey,
}

impl fmt::Display for KeyStoreOperation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::CreateKeyStore => "CreateKeyStore",
            Self::CreateKey => "CreateKey",
            Self::VersionKey => "VersionKey",
            Self::GetActiveBranchKey => "GetActiveBranchKey",
            Self::GetBranchKeyVersion => "GetBranchKeyVersion",
            Self::GetBeaconKey => "GetBeaconKey",
        })
    }
}

/// Why a branch key store operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyStoreErrorKind {
    /// The item (branch key, version or beacon key) is not in the table.
    NotFound,
    /// The table does not exist (or is not reachable under that name).
    TableNotFound,
    /// The table exists but does not have the key store's key schema.
    InvalidTable,
    /// An item is malformed, or fails authentication with KMS (tampered, or written under a
    /// different logical key store name or KMS key).
    InvalidItem,
    /// A `CreateKey` with a branch key id that already exists.
    AlreadyExists,
    /// A `VersionKey` lost a race: the active item changed between read and write.
    VersionConflict,
    /// AWS KMS refused or failed a call (access denied, disabled key, ...).
    Kms,
    /// DynamoDB refused or failed a call.
    DynamoDb,
    /// The store's configuration does not allow the operation, or an input is invalid.
    Config,
}

impl fmt::Display for KeyStoreErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotFound => "not found",
            Self::TableNotFound => "table not found",
            Self::InvalidTable => "invalid table",
            Self::InvalidItem => "invalid item",
            Self::AlreadyExists => "already exists",
            Self::VersionConflict => "version conflict",
            Self::Kms => "AWS KMS error",
            Self::DynamoDb => "DynamoDB error",
            Self::Config => "configuration error",
        })
    }
}

/// Longest identifier echoed in an error, in characters.
const MAX_SHOWN: usize = 128;

/// `s` escaped (Rust debug escaping) and cut to [`MAX_SHOWN`] characters.
pub(crate) fn shown(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(MAX_SHOWN)
        .flat_map(char::escape_debug)
        .collect();
    if s.chars().count() > MAX_SHOWN {
        out.push('…');
    }
    out
}

/// A failed branch key store operation.
#[derive(Debug, thiserror::Error)]
#[error(
    "branch key store {operation} failed for branch key id \"{}\"{}: {kind}: {message}",
    shown(.branch_key_id), version_note(.version.as_deref())
)]
#[non_exhaustive]
pub struct KeyStoreError {
    /// The operation.
    pub operation: KeyStoreOperation,
    /// The branch key id (empty before one was chosen).
    pub branch_key_id: String,
    /// The branch key version, when the operation concerns one.
    pub version: Option<String>,
    /// The kind of failure.
    pub kind: KeyStoreErrorKind,
    /// The AWS service's error code (`AccessDeniedException`, `ResourceNotFoundException`, ...),
    /// if a service answered with one.
    pub code: Option<String>,
    /// What went wrong (no key material).
    pub message: String,
    #[source]
    source: Option<Box<dyn core::error::Error + Send + Sync>>,
}

fn version_note(v: Option<&str>) -> String {
    v.map(|v| format!(" version \"{}\"", shown(v)))
        .unwrap_or_default()
}

impl KeyStoreError {
    pub(crate) fn new(
        operation: KeyStoreOperation,
        branch_key_id: &str,
        version: Option<&str>,
        kind: KeyStoreErrorKind,
        message: impl Into<String>,
    ) -> Self {
        Self {
            operation,
            branch_key_id: branch_key_id.to_owned(),
            version: version.map(str::to_owned),
            kind,
            code: None,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn with_source(
        mut self,
        code: Option<String>,
        source: Option<Box<dyn core::error::Error + Send + Sync>>,
    ) -> Self {
        self.code = code;
        self.source = source;
        self
    }

    /// As an `esdk_std` error (a provider error holding this one).
    pub fn into_esdk(self) -> esdk_std::Error {
        esdk_std::Error::Provider(Box::new(self))
    }
}

impl From<KeyStoreError> for esdk_std::Error {
    fn from(e: KeyStoreError) -> Self {
        e.into_esdk()
    }
}
