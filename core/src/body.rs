//! Message body: frame layout constants, IVs and the body AAD.

// Input paths: no unchecked arithmetic, nothing public by accident, every error documented.
#![warn(
    clippy::arithmetic_side_effects,
    unreachable_pub,
    clippy::missing_errors_doc
)]

use crate::error::Error;
use crate::suite::IV_LEN;

/// Sequence-number field value that marks the final frame.
pub const END_OF_FRAMES: u32 = 0xFFFF_FFFF;
/// Bytes a regular frame adds to its content: sequence number, IV and tag.
pub const REGULAR_FRAME_OVERHEAD: usize = 4 + IV_LEN + 16;
/// Bytes a final frame adds to its content: marker, sequence number, IV, length and tag.
pub const FINAL_FRAME_OVERHEAD: usize = 4 + 4 + IV_LEN + 4 + 16;
/// Bytes a non-framed body adds to its content: IV, length and tag.
pub const NON_FRAMED_OVERHEAD: usize = IV_LEN + 8 + 16;
/// Offset of the content inside a regular frame.
pub const REGULAR_FRAME_CONTENT_OFFSET: usize = 4 + IV_LEN;
/// Offset of the content inside a final frame.
pub const FINAL_FRAME_CONTENT_OFFSET: usize = 4 + 4 + IV_LEN + 4;
/// Default frame length for encryption.
pub const DEFAULT_FRAME_LENGTH: u32 = 4096;

/// Which body AAD content string applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyKind {
    Regular,
    Final,
    NonFramed,
}

impl BodyKind {
    fn content_string(self) -> &'static [u8] {
        match self {
            Self::Regular => b"AWSKMSEncryptionClient Frame",
            Self::Final => b"AWSKMSEncryptionClient Final Frame",
            Self::NonFramed => b"AWSKMSEncryptionClient Single Block",
        }
    }
}

/// Longest body AAD: 32-byte message id + 35-byte content string + 4 + 8.
pub(crate) const MAX_BODY_AAD_LEN: usize = 32 + 35 + 4 + 8;

/// Builds `message_id ‖ content_string ‖ seq (u32) ‖ content_length (u64)` into `buf`.
pub(crate) fn body_aad<'b>(
    buf: &'b mut [u8; MAX_BODY_AAD_LEN],
    message_id: &[u8],
    kind: BodyKind,
    seq: u32,
    content_len: u64,
) -> Result<&'b [u8], Error> {
    let mut pos = 0usize;
    for part in [
        message_id,
        kind.content_string(),
        &seq.to_be_bytes(),
        &content_len.to_be_bytes(),
    ] {
        let end = pos.saturating_add(part.len());
        // Cannot fail: a message id is at most 32 bytes, which the buffer is sized for.
        buf.get_mut(pos..end)
            .ok_or(Error::Internal("body AAD longer than its buffer"))?
            .copy_from_slice(part);
        pos = end;
    }
    buf.get(..pos)
        .ok_or(Error::Internal("body AAD longer than its buffer"))
}

/// The IV written for frame `seq` on encrypt: eight zero bytes ‖ seq.
pub(crate) fn frame_iv(seq: u32) -> [u8; IV_LEN] {
    let mut iv = [0u8; IV_LEN];
    iv[8..].copy_from_slice(&seq.to_be_bytes());
    iv
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aad_layout() {
        let mut buf = [0u8; MAX_BODY_AAD_LEN];
        let aad = body_aad(&mut buf, &[1; 32], BodyKind::NonFramed, 1, 5).unwrap();
        assert_eq!(aad.len(), MAX_BODY_AAD_LEN);
        assert_eq!(&aad[32..67], b"AWSKMSEncryptionClient Single Block");
        assert_eq!(&aad[67..71], &[0, 0, 0, 1]);
        assert_eq!(&aad[71..], &[0, 0, 0, 0, 0, 0, 0, 5]);
        assert_eq!(
            body_aad(&mut buf, &[1; 16], BodyKind::Regular, 2, 0)
                .unwrap()
                .len(),
            16 + 28 + 12
        );
        assert_eq!(frame_iv(0x0102_0304), [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    }
}
