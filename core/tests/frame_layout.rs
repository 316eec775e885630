//! Frame arithmetic of `FrameLayout` at its edges.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use esdk_core::error::{LimitKind, PolicyError};
use esdk_core::frame_cipher::FINAL_FRAME_HEAD_LEN;
use esdk_core::{AlgorithmSuite, ContentType, Error, FrameLayout};

const UNSIGNED: AlgorithmSuite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
const SIGNED: AlgorithmSuite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;

#[test]
fn offsets_and_plaintext_ranges() {
    let l = FrameLayout::new(UNSIGNED, ContentType::Framed, 100, 500).unwrap();
    assert_eq!(l.frame_offset(1).unwrap(), 500);
    assert_eq!(l.frame_offset(3).unwrap(), 500 + 2 * 132);
    assert!(l.frame_offset(0).is_err());
    assert!(l.frame_offset(u32::MAX).is_err());
    assert_eq!(l.frame_of(0).unwrap(), 1);
    assert_eq!(l.frame_of(99).unwrap(), 1);
    assert_eq!(l.frame_of(100).unwrap(), 2);
    assert_eq!(l.plaintext_range(2), 100..200);
    // Past the 2^32 − 2 regular frames a message can have.
    assert!(matches!(
        l.frame_of(100 * u64::from(u32::MAX)),
        Err(Error::Limit(e)) if e.what == LimitKind::FrameCount
    ));
    assert_eq!(
        FrameLayout::new(UNSIGNED, ContentType::NonFramed, 0, 500),
        Err(Error::Policy(PolicyError::RandomAccessNotFramed))
    );
    assert!(FrameLayout::new(UNSIGNED, ContentType::Framed, 0, 500).is_err());
}

#[test]
fn final_frame_of_unsigned_messages() {
    let l = FrameLayout::new(UNSIGNED, ContentType::Framed, 100, 500).unwrap();
    // Empty plaintext: only a final frame of 40 bytes.
    let f = l.final_frame(540).unwrap();
    assert_eq!(
        (f.seq, f.offset, f.content_len, f.plaintext_len),
        (1, 500, 0, 0)
    );
    // Two regular frames and 7 bytes.
    let f = l.final_frame(500 + 2 * 132 + 47).unwrap();
    assert_eq!((f.seq, f.content_len, f.plaintext_len), (3, 7, 207));
    // A full final frame.
    let f = l.final_frame(500 + 140).unwrap();
    assert_eq!((f.seq, f.content_len), (1, 100));
    // Too short, and a length no message has (tail longer than a frame).
    assert_eq!(l.final_frame(539), Err(Error::Truncated));
    assert!(matches!(
        l.final_frame(500 + 40 + 101),
        Err(Error::Format(_))
    ));
    // Signed layouts must use the candidates.
    let s = FrameLayout::new(SIGNED, ContentType::Framed, 100, 500).unwrap();
    assert!(s.final_frame(1000).is_err());
}

fn head(seq: u32, len: u32) -> [u8; FINAL_FRAME_HEAD_LEN] {
    let mut h = [0u8; FINAL_FRAME_HEAD_LEN];
    h[..4].copy_from_slice(&u32::MAX.to_be_bytes());
    h[4..8].copy_from_slice(&seq.to_be_bytes());
    h[20..24].copy_from_slice(&len.to_be_bytes());
    h
}

#[test]
fn final_frame_of_signed_messages_from_candidates() {
    for frame in [1u32, 7, 100, 4096] {
        let l = FrameLayout::new(SIGNED, ContentType::Framed, frame, 300).unwrap();
        for regular in [0u32, 1, 5] {
            for tail in [0, frame / 2, frame] {
                for sig in [102u16, 103, 104] {
                    let len = 300
                        + u64::from(regular) * (u64::from(frame) + 32)
                        + 40
                        + u64::from(tail)
                        + 2
                        + u64::from(sig);
                    let c = l.final_frame_candidates(len).unwrap();
                    assert!(
                        c.contains(&(regular + 1)),
                        "{frame} {regular} {tail} {sig}: {c:?}"
                    );
                    let f = l
                        .confirm_final(len, regular + 1, &head(regular + 1, tail), Some(sig))
                        .unwrap();
                    assert_eq!(
                        f.plaintext_len,
                        u64::from(regular) * u64::from(frame) + u64::from(tail)
                    );
                    // A wrong signature length or sequence number is not confirmed.
                    assert!(
                        l.confirm_final(len, regular + 1, &head(regular + 1, tail), Some(sig + 1))
                            .is_none()
                    );
                    assert!(
                        l.confirm_final(len, regular + 2, &head(regular + 1, tail), Some(sig))
                            .is_none()
                    );
                    assert!(
                        l.confirm_final(len, regular + 1, &head(regular + 1, tail), None)
                            .is_none()
                    );
                }
            }
        }
    }
}
