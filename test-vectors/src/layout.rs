//! A structural walk over a message (no keys, nothing verified): header
//! length, framing, and where each frame and the footer are. Used to bound
//! what a decryptor may release from a must-fail message and to aim the
//! tampering of framework feature 0006.

use core::ops::Range;

use esdk_core::header::ParseOptions;
use esdk_core::{AlgorithmSuite, CommitmentPolicy, ContentType, HeaderRef, SignaturePolicy};

/// One frame (or the non-framed body) found by [`walk`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSpan {
    /// Its bytes in the message.
    pub range: Range<usize>,
    /// Final frame or non-framed body.
    pub is_final: bool,
    /// Plaintext bytes it carries.
    pub content_len: usize,
}

/// What [`walk`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    /// The suite in the header.
    pub suite: AlgorithmSuite,
    /// Header length (body + authentication).
    pub header_len: usize,
    /// Frame length from the header (0 for non-framed).
    pub frame_length: u32,
    /// Framed or not.
    pub content_type: ContentType,
    /// Complete frames in order, as long as their sequence numbers follow on
    /// from 1; stops at the first incomplete or out-of-sequence frame.
    pub frames: Vec<FrameSpan>,
    /// Where the footer is (signed suites; `None` if the walk did not reach it).
    pub footer: Option<Range<usize>>,
}

impl Layout {
    /// Plaintext bytes in the complete regular frames that end at or before
    /// `offset` (what a streaming decryptor may release when the message is
    /// damaged at `offset`, or truncated there).
    pub fn releasable_before(&self, offset: usize) -> usize {
        self.frames
            .iter()
            .filter(|f| !f.is_final && f.range.end <= offset)
            .map(|f| f.content_len)
            .sum()
    }

    /// Number of complete regular frames found.
    pub fn regular_frames(&self) -> usize {
        self.frames.iter().filter(|f| !f.is_final).count()
    }
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// The suite id the header claims (bytes 2–3 of a v1 header, 1–2 of a v2
/// header), without parsing the rest.
pub fn claimed_suite(msg: &[u8]) -> Option<AlgorithmSuite> {
    let id = match msg.first()? {
        1 => u16::from_be_bytes([*msg.get(2)?, *msg.get(3)?]),
        2 => u16::from_be_bytes([*msg.get(1)?, *msg.get(2)?]),
        _ => return None,
    };
    AlgorithmSuite::from_id(id).ok()
}

/// Walks `msg`; `None` when the header does not parse.
pub fn walk(msg: &[u8]) -> Option<Layout> {
    let opts = ParseOptions {
        commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
        signature_policy: SignaturePolicy::AllowSigned,
        limits: Default::default(),
    };
    let (h, header_len) = HeaderRef::parse(msg, &opts).ok()?;
    let mut layout = Layout {
        suite: h.suite(),
        header_len,
        frame_length: h.frame_length(),
        content_type: h.content_type(),
        frames: Vec::new(),
        footer: None,
    };
    let mut pos = header_len;
    let mut body_done = false;
    match h.content_type() {
        ContentType::NonFramed => {
            if let Some(len) = be64(msg, pos + 12).and_then(|l| usize::try_from(l).ok()) {
                let end = pos.checked_add(36).and_then(|p| p.checked_add(len));
                if let Some(end) = end.filter(|e| *e <= msg.len()) {
                    layout.frames.push(FrameSpan {
                        range: pos..end,
                        is_final: true,
                        content_len: len,
                    });
                    pos = end;
                    body_done = true;
                }
            }
        }
        ContentType::Framed => {
            let f = h.frame_length() as usize;
            let mut seq = 1u32;
            while let Some(marker) = be32(msg, pos) {
                if marker == u32::MAX {
                    let (Some(s), Some(len)) = (be32(msg, pos + 4), be32(msg, pos + 20)) else {
                        break;
                    };
                    let end = pos + 40 + len as usize;
                    if s != seq || len as usize > f || end > msg.len() {
                        break;
                    }
                    layout.frames.push(FrameSpan {
                        range: pos..end,
                        is_final: true,
                        content_len: len as usize,
                    });
                    pos = end;
                    body_done = true;
                    break;
                }
                let end = pos + 32 + f;
                if marker != seq || end > msg.len() {
                    break;
                }
                layout.frames.push(FrameSpan {
                    range: pos..end,
                    is_final: false,
                    content_len: f,
                });
                pos = end;
                seq = seq.wrapping_add(1);
            }
        }
    }
    if body_done && layout.suite.is_signed() {
        if let Some(n) = msg.get(pos..pos + 2) {
            let end = pos + 2 + usize::from(u16::from_be_bytes([n[0], n[1]]));
            if end <= msg.len() {
                layout.footer = Some(pos..end);
            }
        }
    }
    Some(layout)
}
