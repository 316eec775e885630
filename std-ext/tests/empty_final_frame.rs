//! `EncryptOptions::empty_final_frame`: exact multiples of the frame length end in a regular
//! frame and an empty final frame (the form the Python ESDK writes and requires).
#![allow(missing_docs)]

use esdk_std::keyring::RawAesKeyring;
use esdk_std::stream::io::EncryptingWriter;
use esdk_std::{AlgorithmSuite, Client, DecryptOptions, EncryptOptions};
use std::io::Write;

/// Whether the message (unsigned suite: it ends with the final frame) ends in a final frame of
/// `len` content bytes: end marker, sequence number, IV, length field, content, tag.
fn ends_in_final_frame_of(c: &[u8], len: usize) -> bool {
    let n = c.len();
    let field = n - 16 - len - 4;
    let marker = field - 12 - 4 - 4;
    c[field..field + 4] == u32::try_from(len).unwrap().to_be_bytes()
        && c[marker..marker + 4] == [0xFF; 4]
}

#[test]
fn multiples_end_in_an_empty_final_frame() {
    let keyring = RawAesKeyring::new("ns", "k", &[3u8; 32]).unwrap();
    let client = Client::builder().build();
    let suite = AlgorithmSuite::from_id(0x0478).unwrap();
    for (len, expect_final) in [
        (0usize, 0u32),
        (1, 1),
        (100, 100),
        (4096, 0),
        (8192, 0),
        (8193, 1),
    ] {
        let plain = vec![5u8; len];
        for on in [true, false] {
            let opts = EncryptOptions::keyring(&keyring)
                .suite(suite)
                .frame_length(4096)
                .empty_final_frame(on);
            let one_shot = client.encrypt(&plain, &opts).unwrap().ciphertext;
            let mut w = EncryptingWriter::new(&client, &opts, Vec::new()).unwrap();
            w.write_all(&plain).unwrap();
            let streamed = w.finish().unwrap();
            for c in [&one_shot, &streamed] {
                let want = if on || expect_final != 0 || len == 0 {
                    expect_final
                } else {
                    4096
                };
                assert!(ends_in_final_frame_of(c, want as usize), "{len} {on}");
                let back = client
                    .decrypt(c, &DecryptOptions::keyring(&keyring))
                    .unwrap();
                assert_eq!(back.plaintext, plain);
            }
        }
    }
}
