//! Branch key and beacon key materials (`structures.md`, branch key materials).

use core::fmt;
use std::collections::BTreeMap;
use zeroize::Zeroizing;

/// Length of branch keys and beacon keys.
pub const BRANCH_KEY_LEN: usize = 32;

/// A decrypted branch key: what the hierarchical keyring wraps data keys with.
///
/// `Debug` never shows the key. The key is zeroized on drop.
#[derive(Clone)]
pub struct BranchKeyMaterials {
    branch_key_id: String,
    version: String,
    version_bytes: [u8; 16],
    encryption_context: BTreeMap<String, String>,
    key: Zeroizing<[u8; BRANCH_KEY_LEN]>,
}

impl fmt::Debug for BranchKeyMaterials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BranchKeyMaterials")
            .field("branch_key_id", &self.branch_key_id)
            .field("version", &self.version)
            .field("encryption_context", &self.encryption_context)
            .finish_non_exhaustive()
    }
}

impl BranchKeyMaterials {
    /// Materials from their parts. `version` must be a UUID (the EDK stores its 16 bytes);
    /// `None` otherwise.
    pub fn new(
        branch_key_id: impl Into<String>,
        version: &str,
        encryption_context: BTreeMap<String, String>,
        key: [u8; BRANCH_KEY_LEN],
    ) -> Option<Self> {
        let key = Zeroizing::new(key);
        let version_bytes = crate::uuid::parse(version)?;
        Some(Self {
            branch_key_id: branch_key_id.into(),
            version: crate::uuid::format(&version_bytes),
            version_bytes,
            encryption_context,
            key,
        })
    }

    /// Materials for a branch key version given as its 16 UUID bytes.
    pub fn from_version_bytes(
        branch_key_id: impl Into<String>,
        version: [u8; 16],
        encryption_context: BTreeMap<String, String>,
        key: [u8; BRANCH_KEY_LEN],
    ) -> Self {
        Self {
            branch_key_id: branch_key_id.into(),
            version: crate::uuid::format(&version),
            version_bytes: version,
            encryption_context,
            key: Zeroizing::new(key),
        }
    }

    /// The branch key id.
    pub fn branch_key_id(&self) -> &str {
        &self.branch_key_id
    }
    /// The version (canonical lower-case UUID).
    pub fn version(&self) -> &str {
        &self.version
    }
    /// The version as the 16 bytes stored in encrypted data keys.
    pub fn version_bytes(&self) -> &[u8; 16] {
        &self.version_bytes
    }
    /// The branch key's custom encryption context (without the `aws-crypto-ec:` prefix).
    pub fn encryption_context(&self) -> &BTreeMap<String, String> {
        &self.encryption_context
    }
    /// The 32-byte branch key.
    pub fn key(&self) -> &[u8; BRANCH_KEY_LEN] {
        &self.key
    }
}

/// A decrypted beacon key (searchable encryption's root key for a branch key id).
///
/// `Debug` never shows the key. The key is zeroized on drop.
#[derive(Clone)]
pub struct BeaconKeyMaterials {
    pub(crate) beacon_key_id: String,
    pub(crate) encryption_context: BTreeMap<String, String>,
    pub(crate) key: Zeroizing<[u8; BRANCH_KEY_LEN]>,
}

impl fmt::Debug for BeaconKeyMaterials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BeaconKeyMaterials")
            .field("beacon_key_id", &self.beacon_key_id)
            .field("encryption_context", &self.encryption_context)
            .finish_non_exhaustive()
    }
}

impl BeaconKeyMaterials {
    /// The beacon key id (the branch key id).
    pub fn beacon_key_id(&self) -> &str {
        &self.beacon_key_id
    }
    /// The custom encryption context (without the `aws-crypto-ec:` prefix).
    pub fn encryption_context(&self) -> &BTreeMap<String, String> {
        &self.encryption_context
    }
    /// The 32-byte beacon key.
    pub fn key(&self) -> &[u8; BRANCH_KEY_LEN] {
        &self.key
    }
}
