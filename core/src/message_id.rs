//! The message id as a fixed-size value: 16 bytes in version 1 headers, 32 in version 2.

use crate::error::{CryptoError, Error};
use crate::suite::MessageFormatVersion;
use rand_core::CryptoRngCore;

/// A message id of exactly the length its format version gives it (no length field that could
/// disagree with the bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MessageId {
    /// Version 1: 16 bytes.
    V1([u8; 16]),
    /// Version 2: 32 bytes.
    V2([u8; 32]),
}

impl MessageId {
    /// A random id for `version`.
    pub(crate) fn random(
        version: MessageFormatVersion,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<Self, Error> {
        let mut id = match version {
            MessageFormatVersion::V1 => Self::V1([0; 16]),
            MessageFormatVersion::V2 => Self::V2([0; 32]),
        };
        let bytes: &mut [u8] = match &mut id {
            Self::V1(b) => b,
            Self::V2(b) => b,
        };
        rng.try_fill_bytes(bytes)
            .map_err(|_| Error::Crypto(CryptoError::Rng))?;
        Ok(id)
    }

    /// The id of a parsed header (16 or 32 bytes).
    pub(crate) fn from_slice(id: &[u8]) -> Result<Self, Error> {
        if let Ok(b) = <[u8; 16]>::try_from(id) {
            Ok(Self::V1(b))
        } else if let Ok(b) = <[u8; 32]>::try_from(id) {
            Ok(Self::V2(b))
        } else {
            debug_assert!(false, "the header parser checks the message id length");
            Err(Error::Internal("message id of an impossible length"))
        }
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Self::V1(b) => b,
            Self::V2(b) => b,
        }
    }
}
