//! The 11 ESDK algorithm suites as one table.
//!
//! Only table entries can be constructed ("parse, don't validate"): an [`AlgorithmSuite`] value is
//! proof that the id is one of the suites of the message format. Every other id, including
//! `0x0000`, the S3 Encryption Client suites `0x007x` and the DB-Encryption suites `0x670x`, is
//! rejected by [`AlgorithmSuite::from_id`].

use crate::error::{Error, Unsupported};

/// Key derivation of a suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kdf {
    /// The data key is the encryption key (legacy suites `0x00xx`).
    Identity,
    /// HKDF with the given hash; info = suite id ‖ message id, no salt (suites `0x01xx`–`0x03xx`).
    Hkdf(HashAlg),
    /// Committing HKDF-SHA-512 with the message id as salt and `DERIVEKEY` / `COMMITKEY` infos.
    CommittingHkdfSha512,
}

/// Hash functions used by suites.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl HashAlg {
    /// Digest length in bytes.
    pub const fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

/// ECDSA signature algorithms used by suites.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignatureAlg {
    /// ECDSA on P-256 with SHA-256.
    EcdsaP256Sha256,
    /// ECDSA on P-384 with SHA-384.
    EcdsaP384Sha384,
}

impl SignatureAlg {
    /// Length of the fixed-length DER signatures this implementation emits (71 / 103 bytes).
    pub const fn fixed_signature_len(self) -> usize {
        match self {
            Self::EcdsaP256Sha256 => 71,
            Self::EcdsaP384Sha384 => 103,
        }
    }
    /// Largest DER signature the curve can produce (72 / 104 bytes).
    pub const fn max_signature_len(self) -> usize {
        match self {
            Self::EcdsaP256Sha256 => 72,
            Self::EcdsaP384Sha384 => 104,
        }
    }
    /// Length of a SEC1 compressed public key (33 / 49 bytes).
    pub const fn compressed_public_key_len(self) -> usize {
        match self {
            Self::EcdsaP256Sha256 => 33,
            Self::EcdsaP384Sha384 => 49,
        }
    }
    /// Length of a private scalar (32 / 48 bytes).
    pub const fn secret_len(self) -> usize {
        match self {
            Self::EcdsaP256Sha256 => 32,
            Self::EcdsaP384Sha384 => 48,
        }
    }
    /// The hash the signature is computed over.
    pub const fn hash(self) -> HashAlg {
        match self {
            Self::EcdsaP256Sha256 => HashAlg::Sha256,
            Self::EcdsaP384Sha384 => HashAlg::Sha384,
        }
    }
}

/// Header / message format version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageFormatVersion {
    /// Version 1 (`0x01`): non-committing suites.
    V1,
    /// Version 2 (`0x02`): committing suites.
    V2,
}

impl MessageFormatVersion {
    /// The version byte.
    pub const fn byte(self) -> u8 {
        match self {
            Self::V1 => 1,
            Self::V2 => 2,
        }
    }
    /// Length of the message id.
    pub const fn message_id_len(self) -> usize {
        match self {
            Self::V1 => 16,
            Self::V2 => 32,
        }
    }
}

/// One ESDK algorithm suite.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AlgorithmSuite {
    id: u16,
    key_len: u8,
    kdf: Kdf,
    signature: Option<SignatureAlg>,
}

/// AES-GCM IV length for every ESDK suite.
pub const IV_LEN: usize = 12;
/// AES-GCM tag length for every ESDK suite.
pub const TAG_LEN: usize = 16;
/// Length of the key commitment (suite data) of committing suites.
pub const COMMIT_KEY_LEN: usize = 32;

macro_rules! suites {
    ($($(#[$doc:meta])* $name:ident = $id:literal, $key:literal, $kdf:expr, $sig:expr;)*) => {
        impl AlgorithmSuite {
            $(
                $(#[$doc])*
                pub const $name: Self = Self { id: $id, key_len: $key, kdf: $kdf, signature: $sig };
            )*
            /// All 11 suites, in id order.
            pub const ALL: [Self; 11] = [$(Self::$name),*];
        }
    };
}

suites! {
    /// `0x0014` AES-128-GCM, no KDF (legacy).
    AES_128_GCM_IV12_TAG16_NO_KDF = 0x0014, 16, Kdf::Identity, None;
    /// `0x0046` AES-192-GCM, no KDF (legacy).
    AES_192_GCM_IV12_TAG16_NO_KDF = 0x0046, 24, Kdf::Identity, None;
    /// `0x0078` AES-256-GCM, no KDF (legacy).
    AES_256_GCM_IV12_TAG16_NO_KDF = 0x0078, 32, Kdf::Identity, None;
    /// `0x0114` AES-128-GCM, HKDF-SHA-256.
    AES_128_GCM_IV12_TAG16_HKDF_SHA256 = 0x0114, 16, Kdf::Hkdf(HashAlg::Sha256), None;
    /// `0x0146` AES-192-GCM, HKDF-SHA-256.
    AES_192_GCM_IV12_TAG16_HKDF_SHA256 = 0x0146, 24, Kdf::Hkdf(HashAlg::Sha256), None;
    /// `0x0178` AES-256-GCM, HKDF-SHA-256.
    AES_256_GCM_IV12_TAG16_HKDF_SHA256 = 0x0178, 32, Kdf::Hkdf(HashAlg::Sha256), None;
    /// `0x0214` AES-128-GCM, HKDF-SHA-256, ECDSA P-256.
    AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256 = 0x0214, 16, Kdf::Hkdf(HashAlg::Sha256), Some(SignatureAlg::EcdsaP256Sha256);
    /// `0x0346` AES-192-GCM, HKDF-SHA-384, ECDSA P-384.
    AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384 = 0x0346, 24, Kdf::Hkdf(HashAlg::Sha384), Some(SignatureAlg::EcdsaP384Sha384);
    /// `0x0378` AES-256-GCM, HKDF-SHA-384, ECDSA P-384.
    AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384 = 0x0378, 32, Kdf::Hkdf(HashAlg::Sha384), Some(SignatureAlg::EcdsaP384Sha384);
    /// `0x0478` AES-256-GCM, committing HKDF-SHA-512.
    AES_256_GCM_HKDF_SHA512_COMMIT_KEY = 0x0478, 32, Kdf::CommittingHkdfSha512, None;
    /// `0x0578` AES-256-GCM, committing HKDF-SHA-512, ECDSA P-384.
    AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 = 0x0578, 32, Kdf::CommittingHkdfSha512, Some(SignatureAlg::EcdsaP384Sha384);
}

impl AlgorithmSuite {
    /// Looks up a suite by id; every id outside the table is [`Unsupported::Suite`], and a
    /// suite whose Cargo feature this build left out is [`Unsupported::SuiteNotBuilt`].
    pub fn from_id(id: u16) -> Result<Self, Error> {
        Self::ALL
            .iter()
            .find(|s| s.id == id)
            .copied()
            .ok_or(Error::Unsupported(Unsupported::Suite(id)))?
            .check_built()
    }
    /// Whether this build includes the suite: the non-committing suites need the
    /// `non-committing` feature, the signing suites `ecdsa-p256` or `ecdsa-p384`.
    pub const fn is_built(&self) -> bool {
        let commitment = self.is_committing() || cfg!(feature = "non-committing");
        let signature = match self.signature {
            None => true,
            Some(SignatureAlg::EcdsaP256Sha256) => cfg!(feature = "ecdsa-p256"),
            Some(SignatureAlg::EcdsaP384Sha384) => cfg!(feature = "ecdsa-p384"),
        };
        commitment && signature
    }
    /// The suite itself if this build includes it ([`is_built`](Self::is_built)).
    ///
    /// # Errors
    /// [`Unsupported::SuiteNotBuilt`] otherwise.
    pub const fn check_built(self) -> Result<Self, Error> {
        if self.is_built() {
            Ok(self)
        } else {
            Err(Error::Unsupported(Unsupported::SuiteNotBuilt(self.id)))
        }
    }
    /// The 2-byte suite id.
    pub const fn id(&self) -> u16 {
        self.id
    }
    /// The suite id as big-endian bytes.
    pub const fn id_bytes(&self) -> [u8; 2] {
        self.id.to_be_bytes()
    }
    /// AES key length in bytes (also the data key length: KDF input length = key length).
    pub const fn key_len(&self) -> usize {
        self.key_len as usize
    }
    /// The data key (KDF input) length in bytes.
    pub const fn data_key_len(&self) -> usize {
        self.key_len as usize
    }
    /// The key derivation.
    pub const fn kdf(&self) -> Kdf {
        self.kdf
    }
    /// The signature algorithm, if the suite signs.
    pub const fn signature(&self) -> Option<SignatureAlg> {
        self.signature
    }
    /// Whether messages of this suite carry a footer signature.
    pub const fn is_signed(&self) -> bool {
        self.signature.is_some()
    }
    /// Whether the suite commits to its key (message format version 2).
    pub const fn is_committing(&self) -> bool {
        matches!(self.kdf, Kdf::CommittingHkdfSha512)
    }
    /// The header version this suite is written in.
    pub const fn message_format_version(&self) -> MessageFormatVersion {
        if self.is_committing() {
            MessageFormatVersion::V2
        } else {
            MessageFormatVersion::V1
        }
    }
    /// Length of the header's suite data (32 for committing suites, else 0).
    pub const fn suite_data_len(&self) -> usize {
        if self.is_committing() {
            COMMIT_KEY_LEN
        } else {
            0
        }
    }
}

impl core::fmt::Display for AlgorithmSuite {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{:#06x}", self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_complete_and_only_table_ids_parse() {
        let ids = [
            0x0014, 0x0046, 0x0078, 0x0114, 0x0146, 0x0178, 0x0214, 0x0346, 0x0378, 0x0478, 0x0578,
        ];
        for (id, suite) in ids.into_iter().zip(AlgorithmSuite::ALL) {
            let want = if suite.is_built() {
                Ok(id)
            } else {
                Err(Error::Unsupported(Unsupported::SuiteNotBuilt(id)))
            };
            assert_eq!(AlgorithmSuite::from_id(id).map(|s| s.id()), want);
        }
        let mut accepted = 0;
        for id in 0..=u16::MAX {
            if AlgorithmSuite::from_id(id).is_ok() {
                accepted += 1;
            }
        }
        assert_eq!(
            accepted,
            AlgorithmSuite::ALL.iter().filter(|s| s.is_built()).count()
        );
        for id in [
            0x0000, 0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x6700, 0x6701,
        ] {
            assert_eq!(
                AlgorithmSuite::from_id(id),
                Err(Error::Unsupported(Unsupported::Suite(id)))
            );
        }
    }

    #[test]
    fn properties() {
        let s = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
        assert!(s.is_signed() && s.is_committing());
        assert_eq!(s.message_format_version(), MessageFormatVersion::V2);
        let s = AlgorithmSuite::AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384;
        assert_eq!(s.key_len(), 24);
        assert_eq!(s.kdf(), Kdf::Hkdf(HashAlg::Sha384));
        assert_eq!(s.message_format_version(), MessageFormatVersion::V1);
    }
}
