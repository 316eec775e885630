//! Ranged decryption: ranges against the full decrypt, boundaries, tampering, signed opt-in,
//! non-framed refusal, and counted reads over a synthesised 1 GiB message.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

mod common;
#[path = "support/mutations.rs"]
mod mutations;

use common::*;
use esdk_core::error::{AuthStage, PolicyError};
use esdk_core::{DataKey, EdkRef, EncryptConfig, EncryptionContextRef, Encryptor};
use esdk_std::ranged::RangeOptions;
use esdk_std::{AlgorithmSuite, Client, DecryptOptions, EncryptOptions};
use mutations::{framed_message, swapped_frames};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::ops::Range;

fn unsigned_suites() -> Vec<AlgorithmSuite> {
    ALL_SUITES.into_iter().filter(|s| !s.is_signed()).collect()
}

fn range_of(
    client: &Client,
    msg: &[u8],
    r: Range<u64>,
    keyring: &esdk_std::keyring::RawAesKeyring,
    ropts: &RangeOptions,
) -> esdk_std::Result<esdk_std::ranged::RangeDecrypted> {
    client.decrypt_range(
        &mut Cursor::new(msg),
        r,
        &DecryptOptions::keyring(keyring),
        ropts,
    )
}

fn expect(pt: &[u8], r: Range<u64>) -> &[u8] {
    let len = pt.len() as u64;
    let s = r.start.min(len) as usize;
    let e = r.end.min(len).max(s as u64) as usize;
    &pt[s..e]
}

#[test]
fn random_ranges_match_full_decrypt_for_every_unsigned_suite() {
    let kr = aes("k", 1, 32);
    let mut rng = StdRng::seed_from_u64(14);
    for suite in unsigned_suites() {
        let client = client_for(suite);
        for frame in [1u32, 7, 64, 4096] {
            for len in [0usize, 1, frame as usize, 3 * frame as usize, 5000] {
                let pt = bytes(len, u64::from(frame) + len as u64);
                let msg = framed_message(&client, &kr, suite, frame, &pt);
                let full = client.decrypt(&msg, &DecryptOptions::keyring(&kr)).unwrap();
                assert_eq!(full.plaintext, pt);
                let l = len as u64;
                let f = u64::from(frame);
                let mut ranges = vec![
                    0..0,
                    0..l,
                    0..u64::MAX,
                    l..l,
                    l..l + 10,
                    l + 5..l + 10,
                    l.saturating_sub(1)..l,
                    f.saturating_sub(1)..f + 1,
                    f..2 * f,
                    f..f,
                ];
                for _ in 0..6 {
                    let a = rng.gen_range(0..=l + 2);
                    let b = rng.gen_range(a..=l + 3);
                    ranges.push(a..b);
                }
                for r in ranges {
                    let got = range_of(&client, &msg, r.clone(), &kr, &RangeOptions::new())
                        .unwrap_or_else(|e| panic!("{suite} frame {frame} len {len} {r:?}: {e}"));
                    assert_eq!(
                        got.plaintext,
                        expect(&pt, r.clone()),
                        "{suite} frame {frame} len {len} {r:?}"
                    );
                    assert!(got.range.end <= l.max(got.range.start));
                    // A range reaching (or starting past) the end proves the length.
                    if r.start < r.end && r.end >= l {
                        assert_eq!(got.plaintext_len, Some(l));
                    }
                    assert_eq!(got.header.suite, suite);
                }
            }
        }
    }
}

#[test]
fn empty_final_frame_messages_are_ranged_too() {
    let kr = aes("k", 1, 32);
    let client = client_for(S0478);
    let pt = bytes(4 * 100, 3);
    let msg = client
        .encrypt(
            &pt,
            &EncryptOptions::keyring(&kr)
                .suite(S0478)
                .frame_length(100)
                .empty_final_frame(true),
        )
        .unwrap()
        .ciphertext;
    for r in [0..400, 350..400, 399..500, 400..401, 100..200] {
        let got = range_of(&client, &msg, r.clone(), &kr, &RangeOptions::new()).unwrap();
        assert_eq!(got.plaintext, expect(&pt, r));
    }
}

#[test]
fn tampered_frame_in_range_fails_and_outside_it_is_not_read() {
    let kr = aes("k", 1, 32);
    let client = client_for(S0478);
    let pt = bytes(10 * 64, 5);
    let msg = framed_message(&client, &kr, S0478, 64, &pt);
    let header_len = msg.len() - (9 * 96 + 40 + 64);
    // Flip a content byte of frame 4 (plaintext 192..256).
    let mut bad = msg.clone();
    bad[header_len + 3 * 96 + 20] ^= 1;
    let e = range_of(&client, &bad, 200..210, &kr, &RangeOptions::new()).unwrap_err();
    assert_eq!(
        core_of(&e),
        Some(esdk_core::Error::Authentication(AuthStage::FrameTag))
    );
    let e = range_of(&client, &bad, 100..300, &kr, &RangeOptions::new()).unwrap_err();
    assert_eq!(
        core_of(&e),
        Some(esdk_core::Error::Authentication(AuthStage::FrameTag))
    );
    // Frames outside the range are not read (documented): a range elsewhere still decrypts.
    let ok = range_of(&client, &bad, 0..100, &kr, &RangeOptions::new()).unwrap();
    assert_eq!(ok.plaintext, &pt[..100]);
    // A frame swapped into another position fails (sequence number / AAD).
    let swapped = swapped_frames(&msg, header_len, 96);
    assert!(range_of(&client, &swapped, 64..70, &kr, &RangeOptions::new()).is_err());
    // Header tampering fails before anything.
    let mut h = msg.clone();
    h[header_len - 1] ^= 1;
    assert!(range_of(&client, &h, 0..10, &kr, &RangeOptions::new()).is_err());
    // Truncated message: the last frame is not where the length says.
    let cut = &msg[..msg.len() - 10];
    assert!(range_of(&client, cut, 600..640, &kr, &RangeOptions::new()).is_err());
    assert!(range_of(&client, cut, 700..800, &kr, &RangeOptions::new()).is_err());
    // Tampered final frame is detected when the range reaches the end.
    let mut fin = msg.clone();
    let n = fin.len();
    fin[n - 20] ^= 1;
    assert!(range_of(&client, &fin, 630..640, &kr, &RangeOptions::new()).is_err());
    assert!(range_of(&client, &fin, 700..710, &kr, &RangeOptions::new()).is_err());
}

#[test]
fn signed_messages_need_the_explicit_opt_in() {
    let kr = aes("k", 1, 32);
    for suite in [S0578, S0378, AlgorithmSuite::ALL[10]] {
        let client = client_for(suite);
        for (frame, len) in [(64u32, 1000usize), (1, 40), (4096, 4096), (100, 0)] {
            let pt = bytes(len, 9);
            let msg = framed_message(&client, &kr, suite, frame, &pt);
            let e = range_of(&client, &msg, 0..10, &kr, &RangeOptions::new()).unwrap_err();
            assert_eq!(
                core_of(&e),
                Some(esdk_core::Error::Policy(PolicyError::RandomAccessSigned {
                    suite: suite.id()
                }))
            );
            assert!(e.to_string().contains("signature"), "{e}");
            let opt_in = RangeOptions::new().skip_signature_verification(true);
            let l = len as u64;
            for r in [0..10, 0..l, 5..l + 5, l..l + 1, l + 3..l + 9, 17..18] {
                let got = range_of(&client, &msg, r.clone(), &kr, &opt_in)
                    .unwrap_or_else(|e| panic!("{suite} {frame} {len} {r:?}: {e}"));
                assert_eq!(got.plaintext, expect(&pt, r.clone()), "{suite} {r:?}");
                if r.end >= l && r.start < r.end {
                    assert_eq!(got.plaintext_len, Some(l));
                }
            }
        }
    }
}

/// A non-framed message, written with the core's legacy option.
fn non_framed_message(suite: AlgorithmSuite, pt: &[u8]) -> Vec<u8> {
    use esdk_core::crypto::rustcrypto::RustCrypto;
    let p = RustCrypto;
    let mut rng = rand_core::OsRng;
    let ec = esdk_std::EncryptionContext::new().serialize().unwrap();
    let ec_ref = EncryptionContextRef::parse(&ec).unwrap();
    let dk = DataKey::generate(suite, &mut rng).unwrap();
    let (mut info, mut ct) = ([0u8; 64], [0u8; 64]);
    let (il, cl) = esdk_core::raw_aes::wrap(
        &p, &[1u8; 32], b"k", &ec_ref, &dk, &mut rng, &mut info, &mut ct,
    )
    .unwrap();
    let edks = [EdkRef {
        provider_id: NS,
        provider_info: &info[..il],
        ciphertext: &ct[..cl],
    }];
    let m =
        esdk_core::EncryptionMaterialsRef::new(suite, &dk, &edks).with_encryption_context(ec_ref);
    let config = EncryptConfig::default()
        .with_suite(Some(suite))
        .with_legacy_non_framed(true);
    let ready = Encryptor::new(p, config)
        .unwrap()
        .provide(m, &mut rng)
        .unwrap();
    let mut out = vec![0u8; ready.header_len()];
    let (fe, _) = ready.write_header(&mut out).unwrap();
    let start = out.len();
    out.resize(start + fe.finish_len(pt.len()), 0);
    fe.finish(pt, &mut out[start..], &mut rng).unwrap();
    out
}

#[test]
fn non_framed_messages_get_a_clear_error() {
    let kr = aes("k", 1, 32);
    let client = client_for(S0478);
    let pt = bytes(300, 1);
    let msg = non_framed_message(S0478, &pt);
    assert_eq!(
        client
            .decrypt(&msg, &DecryptOptions::keyring(&kr))
            .unwrap()
            .plaintext,
        pt
    );
    let e = range_of(&client, &msg, 0..10, &kr, &RangeOptions::new()).unwrap_err();
    assert_eq!(
        core_of(&e),
        Some(esdk_core::Error::Policy(PolicyError::RandomAccessNotFramed))
    );
    assert!(e.to_string().contains("non-framed"), "{e}");
}

/// A 1 GiB (plus header) message that exists only as arithmetic: the header and final frame
/// are real, every regular frame is sealed on demand when read, holding `pattern(k, i)`.
struct SynthMessage {
    header: Vec<u8>,
    cipher: esdk_core::FrameCipher<
        <esdk_core::crypto::rustcrypto::RustCrypto as esdk_core::crypto::CryptoProvider>::AeadKey,
    >,
    frame: u32,
    regular: u32,
    final_frame: Vec<u8>,
    len: u64,
    pos: u64,
    cache: Option<(u32, Vec<u8>)>,
    bytes_read: u64,
    reads: u64,
}

fn pattern(pos: u64) -> u8 {
    (pos.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 56) as u8
}

impl SynthMessage {
    fn new(frame: u32, regular: u32, tail: &[u8]) -> Self {
        use esdk_core::crypto::rustcrypto::RustCrypto;
        let p = RustCrypto;
        let suite = S0478;
        let mut rng = rand_core::OsRng;
        let ec = esdk_std::EncryptionContext::new().serialize().unwrap();
        let ec_ref = EncryptionContextRef::parse(&ec).unwrap();
        let dk = DataKey::generate(suite, &mut rng).unwrap();
        let (mut info, mut ct) = ([0u8; 64], [0u8; 64]);
        let (il, cl) = esdk_core::raw_aes::wrap(
            &p, &[1u8; 32], b"k", &ec_ref, &dk, &mut rng, &mut info, &mut ct,
        )
        .unwrap();
        let edks = [EdkRef {
            provider_id: NS,
            provider_info: &info[..il],
            ciphertext: &ct[..cl],
        }];
        let m = esdk_core::EncryptionMaterialsRef::new(suite, &dk, &edks)
            .with_encryption_context(ec_ref);
        let config = EncryptConfig::default()
            .with_suite(Some(suite))
            .with_frame_length(frame);
        let ready = Encryptor::new(p, config)
            .unwrap()
            .provide(m, &mut rng)
            .unwrap();
        let mut header = vec![0u8; ready.header_len()];
        let (mut fe, _) = ready.write_header(&mut header).unwrap();
        let cipher = fe.frame_cipher().unwrap();
        // Unsigned: no running digest, so the regular frames can be accounted for without
        // sealing them here (each is sealed when read).
        let mut rec = vec![0u8; fe.sealed_frame_len()];
        for k in 1..=regular {
            rec[..4].copy_from_slice(&k.to_be_bytes());
            fe.append_sealed(&rec).unwrap();
        }
        let mut final_frame = vec![0u8; fe.finish_len(tail.len())];
        fe.finish(tail, &mut final_frame, &mut rng).unwrap();
        let len = header.len() as u64
            + u64::from(regular) * (u64::from(frame) + 32)
            + final_frame.len() as u64;
        Self {
            header,
            cipher,
            frame,
            regular,
            final_frame,
            len,
            pos: 0,
            cache: None,
            bytes_read: 0,
            reads: 0,
        }
    }

    fn frame_bytes(&mut self, k: u32) -> &[u8] {
        if self.cache.as_ref().map(|c| c.0) != Some(k) {
            let f = self.frame as usize;
            let mut rec = vec![0u8; f + 32];
            let base = u64::from(k - 1) * u64::from(self.frame);
            for (i, b) in rec[16..16 + f].iter_mut().enumerate() {
                *b = pattern(base + i as u64);
            }
            self.cipher.seal_regular(k, &mut rec).unwrap();
            self.cache = Some((k, rec));
        }
        &self.cache.as_ref().unwrap().1
    }
}

impl Read for SynthMessage {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.len || out.is_empty() {
            return Ok(0);
        }
        let h = self.header.len() as u64;
        let rl = u64::from(self.frame) + 32;
        let body_end = h + u64::from(self.regular) * rl;
        let pos = self.pos;
        let src: Vec<u8> = if pos < h {
            self.header[pos as usize..].to_vec()
        } else if pos < body_end {
            let k = ((pos - h) / rl) as u32 + 1;
            let off = ((pos - h) % rl) as usize;
            self.frame_bytes(k)[off..].to_vec()
        } else {
            self.final_frame[(pos - body_end) as usize..].to_vec()
        };
        let n = src.len().min(out.len());
        out[..n].copy_from_slice(&src[..n]);
        self.pos += n as u64;
        self.bytes_read += n as u64;
        self.reads += 1;
        Ok(n)
    }
}

impl Seek for SynthMessage {
    fn seek(&mut self, to: SeekFrom) -> std::io::Result<u64> {
        self.pos = match to {
            SeekFrom::Start(p) => p,
            SeekFrom::End(d) => self.len.checked_add_signed(d).unwrap(),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d).unwrap(),
        };
        Ok(self.pos)
    }
}

#[test]
fn a_1kib_range_of_a_1gib_message_reads_the_header_and_at_most_two_frames() {
    let kr = RawAesKeyringFor::k();
    let client = client_for(S0478);
    let frame = 64 * 1024u32;
    let regular = (1u32 << 30) / frame; // 1 GiB of regular frames
    let tail = [7u8; 100];
    let mut msg = SynthMessage::new(frame, regular, &tail);
    assert!(msg.len > 1 << 30);
    let total_pt = u64::from(regular) * u64::from(frame) + 100;
    let h = msg.header.len() as u64;
    let two_frames = 2 * (u64::from(frame) + 32);
    // Inside one frame, across a frame boundary, and near the end (not reaching it).
    for start in [
        123_456_789u64,
        u64::from(frame) * 5000 - 512,
        total_pt - 5000,
    ] {
        msg.bytes_read = 0;
        let r = start..start + 1024;
        let got = client
            .decrypt_range(
                &mut msg,
                r.clone(),
                &DecryptOptions::keyring(&kr),
                &RangeOptions::new(),
            )
            .unwrap();
        let want: Vec<u8> = r.clone().map(pattern).collect();
        assert_eq!(got.plaintext, want, "{r:?}");
        assert!(
            msg.bytes_read <= h + two_frames,
            "{r:?}: read {} bytes, bound {}",
            msg.bytes_read,
            h + two_frames
        );
    }
    // The last 1 KiB reaches the final frame: one regular frame and the final frame.
    msg.bytes_read = 0;
    let r = total_pt - 1024..total_pt;
    let got = client
        .decrypt_range(
            &mut msg,
            r.clone(),
            &DecryptOptions::keyring(&kr),
            &RangeOptions::new(),
        )
        .unwrap();
    let mut want: Vec<u8> = (r.start..total_pt - 100).map(pattern).collect();
    want.extend_from_slice(&tail);
    assert_eq!(got.plaintext, want);
    assert_eq!(got.plaintext_len, Some(total_pt));
    assert!(msg.bytes_read <= h + two_frames);
}

/// The raw AES keyring matching `SynthMessage` and `non_framed_message`.
struct RawAesKeyringFor;
impl RawAesKeyringFor {
    fn k() -> esdk_std::keyring::RawAesKeyring {
        aes("k", 1, 32)
    }
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_ranges_match() {
    let kr = aes("k", 1, 32);
    let client = client_for(S0478);
    let pt = bytes(20_000, 77);
    let msg = framed_message(&client, &kr, S0478, 1000, &pt);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        for r in [
            0..1,
            999..1001,
            5000..15000,
            19_990..25_000,
            30_000..30_001,
            7..7,
        ] {
            let got = client
                .decrypt_range_async(
                    &mut Cursor::new(&msg),
                    r.clone(),
                    &DecryptOptions::keyring(&kr),
                    &RangeOptions::new(),
                )
                .await
                .unwrap();
            assert_eq!(got.plaintext, expect(&pt, r));
        }
        let mut bad = msg.clone();
        let n = bad.len();
        bad[n - 30] ^= 1;
        assert!(
            client
                .decrypt_range_async(
                    &mut Cursor::new(&bad),
                    19_500..20_000,
                    &DecryptOptions::keyring(&kr),
                    &RangeOptions::new(),
                )
                .await
                .is_err()
        );
        // A real file through tokio::fs.
        let dir = std::env::temp_dir().join(format!("esdk-ranged-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("m.esdk");
        std::fs::write(&path, &msg).unwrap();
        let mut f = tokio::fs::File::open(&path).await.unwrap();
        let got = client
            .decrypt_range_async(
                &mut f,
                1234..5678,
                &DecryptOptions::keyring(&kr),
                &RangeOptions::new(),
            )
            .await
            .unwrap();
        assert_eq!(got.plaintext, &pt[1234..5678]);
        std::fs::remove_dir_all(&dir).unwrap();
    });
}
