//! Damaged copies of a well-formed framed message, for the must-fail suites (sequential
//! streams, parallel paths, ranged decryption): every single-byte change, every truncation, a
//! trailing byte, two frames swapped and a frame dropped. Each suite decides from the
//! [`Mutation`] what the decryption may release.
#![allow(dead_code, clippy::indexing_slicing)]

/// How a copy of the message was damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutation {
    /// Byte `.0` changed (xor with the mask given to [`mutations`]).
    Flipped(usize),
    /// Cut to its first `.0` bytes.
    Truncated(usize),
    /// One zero byte appended.
    Trailing,
    /// The second and third frames swapped ([`swapped_frames`]).
    Swapped,
    /// The second frame dropped ([`dropped_frame`]).
    Dropped,
}

/// The header length of a well-formed message (parsed by the core).
pub fn header_len(msg: &[u8]) -> usize {
    let opts = esdk_core::header::ParseOptions {
        commitment_policy: esdk_core::CommitmentPolicy::RequireEncryptAllowDecrypt,
        ..Default::default()
    };
    match esdk_core::HeaderRef::parse(msg, &opts) {
        Ok((_, len)) => len,
        Err(e) => panic!("not a well-formed message header: {e:?}"),
    }
}

/// `msg` with its second and third frames swapped: the frames are `record` bytes each (frame
/// length + 32) and start at `header_len`.
pub fn swapped_frames(msg: &[u8], header_len: usize, record: usize) -> Vec<u8> {
    let (a, b) = (header_len + record, header_len + 2 * record);
    let mut m = msg.to_vec();
    m[a..b].copy_from_slice(&msg[b..b + record]);
    m[b..b + record].copy_from_slice(&msg[a..b]);
    m
}

/// `msg` without its second frame (frames as in [`swapped_frames`]).
pub fn dropped_frame(msg: &[u8], header_len: usize, record: usize) -> Vec<u8> {
    let (a, b) = (header_len + record, header_len + 2 * record);
    [&msg[..a], &msg[b..]].concat()
}

/// Every copy of `msg` with one byte changed (xor `mask`), every proper prefix (the empty one
/// included), `msg` with a trailing zero byte, and, when `frame_record` gives the record
/// length of its regular frames (frame length + 32), `msg` with its second and third frames
/// swapped and with its second frame dropped; in that order.
pub fn mutations(msg: &[u8], mask: u8, frame_record: Option<usize>) -> Vec<(Vec<u8>, Mutation)> {
    let mut out = Vec::with_capacity(2 * msg.len() + 3);
    for i in 0..msg.len() {
        let mut m = msg.to_vec();
        m[i] ^= mask;
        out.push((m, Mutation::Flipped(i)));
    }
    for cut in 0..msg.len() {
        out.push((msg[..cut].to_vec(), Mutation::Truncated(cut)));
    }
    out.push(([msg, &[0]].concat(), Mutation::Trailing));
    if let Some(record) = frame_record {
        let h = header_len(msg);
        out.push((swapped_frames(msg, h, record), Mutation::Swapped));
        out.push((dropped_frame(msg, h, record), Mutation::Dropped));
    }
    out
}

/// A well-formed framed message of `pt` (the one these suites damage): `suite`, frames of
/// `frame` bytes, one keyring.
pub fn framed_message<K: esdk_std::keyring::Keyring>(
    client: &esdk_std::Client,
    keyring: &K,
    suite: esdk_std::AlgorithmSuite,
    frame: u32,
    pt: &[u8],
) -> Vec<u8> {
    let opts = esdk_std::EncryptOptions::keyring(keyring)
        .suite(suite)
        .frame_length(frame);
    match client.encrypt(pt, &opts) {
        Ok(m) => m.ciphertext,
        Err(e) => panic!("cannot encrypt the test message: {e}"),
    }
}
