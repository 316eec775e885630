//! Sequential streaming decryption opens each regular frame straight into the caller's `read`
//! buffer when its plaintext fits there (std::io and tokio readers), and decrypting writers
//! open frames into one staging frame that is written out from there.
//!
//! * Output equals one-shot decryption for every suite × frame lengths (empty and full final
//!   frames, non-framed bodies) × `read` sizes (1, below, equal to and above the frame's
//!   plaintext, huge) × inner-reader chunkings, and for the writers × write pieces.
//! * On every single-byte change, truncation, extension, swapped and dropped frame: the
//!   message fails (and keeps failing: errors are sticky), no byte of a frame is released
//!   before its tag verified and the final frame not before the end of input (and the
//!   signature) verified, and the caller's buffer never holds plaintext past what `read`
//!   returned (each buffer is filled with a sentinel before the call, and after it every byte
//!   past the returned count is the sentinel or zero).
//! * The path taken, counted with a counting provider: with a `read` buffer that takes a
//!   frame, every regular frame is opened out of place (straight into it) and only the final
//!   frame in place; with a smaller buffer, frames up to 64 KiB go out of place into the
//!   staging frame and larger ones are decrypted in place by the core, as before; the writers
//!   open every regular frame out of place.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

mod common;
#[path = "support/counting_provider.rs"]
mod counting_provider;
#[path = "support/mutations.rs"]
mod mutations;

use common::*;
use esdk_std::keyring::RawAesKeyring;
use esdk_std::stream::io::{DecryptingReader, DecryptingWriter};
use esdk_std::{Backend, Client, DecryptOptions, EncryptOptions};
use mutations::{Mutation, framed_message, header_len, mutations};
use std::io::{self, Read, Write};

/// Filled into every `read` buffer before the call; plaintexts here never contain it (nor 0).
const SENTINEL: u8 = 0xFF;

/// Plaintext bytes in `1..=250`: never the sentinel, never a wiped (zero) byte.
fn plaintext(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 31 + seed * 7) % 250 + 1) as u8)
        .collect()
}

/// Asserts that `buf[n..]` holds no plaintext (only the sentinel or wiped bytes).
fn no_plaintext_past(buf: &[u8], n: usize, what: &str) {
    if let Some(i) = buf[n..].iter().position(|&b| b != SENTINEL && b != 0) {
        panic!(
            "{what}: byte {} of the read buffer holds {} past the {n} returned",
            n + i,
            buf[n + i]
        );
    }
}

/// Reads `r` to the end with `read` buffers of `size` bytes (sentinel-filled before every
/// call), checking the buffer after every call; after an error, one more `read` must fail
/// too. Returns what was released and the error.
fn read_checked<R: Read>(mut r: R, size: usize, what: &str) -> (Vec<u8>, Option<io::Error>) {
    let mut out = Vec::new();
    let mut buf = vec![SENTINEL; size];
    loop {
        buf.fill(SENTINEL);
        match r.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => {
                no_plaintext_past(&buf, n, what);
                out.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                no_plaintext_past(&buf, 0, what);
                buf.fill(SENTINEL);
                assert!(r.read(&mut buf).is_err(), "{what}: not sticky after {e}");
                no_plaintext_past(&buf, 0, what);
                return (out, Some(e));
            }
        }
    }
}

/// As [`read_checked`] through the tokio reader (its construction reads the header).
#[cfg(feature = "tokio")]
fn read_checked_async(
    client: &Client,
    opts: &DecryptOptions<'_>,
    msg: &[u8],
    piece: usize,
    size: usize,
    what: &str,
) -> (Vec<u8>, Option<io::Error>) {
    use esdk_std::stream::tokio::AsyncDecryptingReader;
    use tokio::io::AsyncReadExt;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let inner = Pieces::new(msg, piece, 1);
        let inner = tokio_util_compat(inner);
        let mut r = match AsyncDecryptingReader::new(client, opts, inner).await {
            Ok(r) => r,
            Err(e) => return (Vec::new(), Some(io::Error::other(e))),
        };
        let mut out = Vec::new();
        let mut buf = vec![SENTINEL; size];
        loop {
            buf.fill(SENTINEL);
            match r.read(&mut buf).await {
                Ok(0) => return (out, None),
                Ok(n) => {
                    no_plaintext_past(&buf, n, what);
                    out.extend_from_slice(&buf[..n]);
                }
                Err(e) => {
                    no_plaintext_past(&buf, 0, what);
                    buf.fill(SENTINEL);
                    assert!(
                        r.read(&mut buf).await.is_err(),
                        "{what}: not sticky after {e}"
                    );
                    no_plaintext_past(&buf, 0, what);
                    return (out, Some(e));
                }
            }
        }
    })
}

/// A synchronous reader as a tokio `AsyncRead` (always ready).
#[cfg(feature = "tokio")]
fn tokio_util_compat<R: Read + Unpin>(r: R) -> SyncAsAsync<R> {
    SyncAsAsync(r)
}

#[cfg(feature = "tokio")]
struct SyncAsAsync<R>(R);

#[cfg(feature = "tokio")]
impl<R: Read + Unpin> tokio::io::AsyncRead for SyncAsAsync<R> {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        let this = self.get_mut();
        let dst = buf.initialize_unfilled();
        let n = loop {
            match this.0.read(dst) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => break r,
            }
        }?;
        buf.advance(n);
        std::task::Poll::Ready(Ok(()))
    }
}

/// The std::io reader over `msg` delivered in pieces of `1..=piece` bytes.
fn io_read(
    client: &Client,
    opts: &DecryptOptions<'_>,
    msg: &[u8],
    piece: usize,
    size: usize,
    what: &str,
) -> (Vec<u8>, Option<io::Error>) {
    let inner = Pieces::new(msg, piece, 2).with_interrupts();
    match DecryptingReader::new(client, opts, inner) {
        Ok(r) => read_checked(r, size, what),
        Err(e) => (Vec::new(), Some(io::Error::other(e))),
    }
}

/// The std::io writer fed `msg` in pieces of `piece` bytes; what reached the inner writer.
fn io_write(
    client: &Client,
    opts: &DecryptOptions<'_>,
    msg: &[u8],
    piece: usize,
) -> (Vec<u8>, Option<io::Error>) {
    let mut out = Vec::new();
    let err = {
        let mut w = DecryptingWriter::new(client, opts, &mut out);
        let mut r = Ok(());
        for p in msg.chunks(piece.max(1)) {
            r = w.write_all(p);
            if r.is_err() {
                break;
            }
        }
        r.and_then(|()| w.try_finish()).err()
    };
    (out, err)
}

/// The tokio writer fed `msg` in pieces of `piece` bytes.
#[cfg(feature = "tokio")]
fn tokio_write(
    client: &Client,
    opts: &DecryptOptions<'_>,
    msg: &[u8],
    piece: usize,
) -> (Vec<u8>, Option<io::Error>) {
    use esdk_std::stream::tokio::AsyncDecryptingWriter;
    use tokio::io::AsyncWriteExt;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut out = Vec::new();
        let err = {
            let mut w = AsyncDecryptingWriter::new(client, opts, &mut out);
            let mut r = Ok(());
            for p in msg.chunks(piece.max(1)) {
                r = w.write_all(p).await;
                if r.is_err() {
                    break;
                }
            }
            match r {
                Ok(()) => w.shutdown().await.err(),
                Err(e) => Some(e),
            }
        };
        (out, err)
    })
}

/// The `read` sizes tried for frame length `f`: 1, below, equal to and above the frame's
/// plaintext, several frames, huge.
fn read_sizes(f: usize) -> Vec<usize> {
    let mut v = vec![1, (f / 2).max(1), f, f + 1, 3 * f + 17, 1 << 20];
    v.sort_unstable();
    v.dedup();
    v
}

#[test]
fn every_suite_frame_and_read_size_matches_one_shot() {
    let kr = aes("k", 9, 32);
    let mut runs = 0usize;
    for suite in ALL_SUITES {
        let client = client_for(suite);
        let opts = DecryptOptions::keyring(&kr);
        // (frame length or None for non-framed, plaintext length, empty final frame)
        let mut cases: Vec<(Option<u32>, usize, bool)> = Vec::new();
        for f in [64usize, 1000] {
            for len in [0, 1, f - 1, f, f + 1, 3 * f, 3 * f + 5] {
                cases.push((Some(f as u32), len, false));
                if len > 0 && len % f == 0 {
                    cases.push((Some(f as u32), len, true));
                }
            }
        }
        for len in [0, 1, 777] {
            cases.push((None, len, false));
        }
        for (i, &(frame, len, empty_final)) in cases.iter().enumerate() {
            let pt = plaintext(len, i);
            let eopts = EncryptOptions::keyring(&kr).suite(suite);
            let eopts = match frame {
                Some(f) => eopts.frame_length(f).empty_final_frame(empty_final),
                None => eopts.non_framed(true),
            };
            let msg = client.encrypt(&pt, &eopts).unwrap().ciphertext;
            let one_shot = client.decrypt(&msg, &opts).unwrap().plaintext;
            assert!(one_shot == pt, "{suite} {frame:?} {len}: one-shot");
            let f = frame.map_or(len.max(1), |f| f as usize);
            for size in read_sizes(f) {
                for piece in [usize::MAX, 7, 4099] {
                    let what = format!(
                        "{suite} frame {frame:?} len {len} empty-final {empty_final} read {size} piece {piece}"
                    );
                    let (out, err) = io_read(&client, &opts, &msg, piece, size, &what);
                    assert!(err.is_none(), "{what}: {err:?}");
                    assert!(out == one_shot, "{what}: io reader differs");
                    runs += 1;
                    #[cfg(feature = "tokio")]
                    {
                        let (out, err) =
                            read_checked_async(&client, &opts, &msg, piece, size, &what);
                        assert!(err.is_none(), "{what}: {err:?}");
                        assert!(out == one_shot, "{what}: tokio reader differs");
                        runs += 1;
                    }
                }
            }
            for piece in [1, 7, f + 32, usize::MAX] {
                let what = format!("{suite} frame {frame:?} len {len} write {piece}");
                let (out, err) = io_write(&client, &opts, &msg, piece);
                assert!(err.is_none(), "{what}: {err:?}");
                assert!(out == one_shot, "{what}: io writer differs");
                #[cfg(feature = "tokio")]
                {
                    let (out, err) = tokio_write(&client, &opts, &msg, piece);
                    assert!(err.is_none(), "{what}: {err:?}");
                    assert!(out == one_shot, "{what}: tokio writer differs");
                }
                runs += 1;
            }
        }
    }
    // 4,950 without the tokio feature (the RustCrypto-only CI build), more with it.
    assert!(runs >= 4950, "{runs}");
}

#[test]
fn mutations_release_nothing_unverified_and_leave_no_plaintext_in_the_buffer() {
    const F: usize = 64;
    const REGULAR: usize = 3;
    const RECORD: usize = F + 32;
    let kr = aes("k", 4, 32);
    let mut checked = 0usize;
    for suite in [S0478, S0578, S0014, S0378] {
        let client = client_for(suite);
        let opts = DecryptOptions::keyring(&kr);
        let pt = plaintext(REGULAR * F + 10, 3);
        let msg = framed_message(&client, &kr, suite, F as u32, &pt);
        let h = header_len(&msg);
        // Regular frames whose whole record lies before byte `p`: the most that may be
        // released when byte `p` (or anything after it) is damaged or missing.
        let before = |p: usize| (p.saturating_sub(h) / RECORD).min(REGULAR) * F;
        let before = |p: usize| if p < h { 0 } else { before(p) };
        // (variant, most plaintext it may release); frames swapped and dropped when unsigned.
        let frames = suite.signature().is_none().then_some(RECORD);
        let variants: Vec<(Vec<u8>, usize)> = mutations(&msg, 0x10, frames)
            .into_iter()
            .map(|(m, how)| {
                let most = match how {
                    Mutation::Flipped(p) | Mutation::Truncated(p) => before(p),
                    // Trailing data: every regular frame may go, never the final frame.
                    Mutation::Trailing => REGULAR * F,
                    Mutation::Swapped | Mutation::Dropped => F,
                };
                (m, most)
            })
            .collect();
        for (n, (m, most)) in variants.iter().enumerate() {
            for size in [1, F, 1 << 16] {
                let what = format!("{suite} variant {n} read {size}");
                #[allow(unused_mut)]
                let mut results = vec![io_read(&client, &opts, m, usize::MAX, size, &what)];
                #[cfg(feature = "tokio")]
                results.push(read_checked_async(
                    &client,
                    &opts,
                    m,
                    usize::MAX,
                    size,
                    &what,
                ));
                for (out, err) in results {
                    assert!(err.is_some(), "{what}: a damaged message decrypted");
                    assert!(
                        out.len() <= *most,
                        "{what}: released {} > {most}",
                        out.len()
                    );
                    assert!(out[..] == pt[..out.len()], "{what}: released bytes differ");
                    checked += 1;
                }
            }
            #[allow(unused_mut)]
            let mut results = vec![io_write(&client, &opts, m, 33)];
            #[cfg(feature = "tokio")]
            results.push(tokio_write(&client, &opts, m, 33));
            for (out, err) in results {
                assert!(
                    err.is_some(),
                    "{suite} variant {n}: writer accepted a damaged message"
                );
                assert!(
                    out.len() <= *most,
                    "{suite} variant {n}: writer released {}",
                    out.len()
                );
                assert!(
                    out[..] == pt[..out.len()],
                    "{suite} variant {n}: writer bytes differ"
                );
            }
        }
    }
    assert!(checked > 10_000, "{checked}");
}

/// A failed open straight into the caller's buffer: the read that meets it either returns
/// the frames before it (and the error comes with the next call) or fails at once; either way
/// the buffer holds nothing of the damaged frame, and nothing more is ever released.
#[test]
fn a_failed_frame_in_a_large_read_returns_the_verified_frames_then_the_error() {
    let kr = aes("k", 5, 32);
    let client = client_for(S0478);
    let f = 4096usize;
    let pt = plaintext(10 * f + 100, 1);
    let mut msg = framed_message(&client, &kr, S0478, f as u32, &pt);
    let h = header_len(&msg);
    // Damage the 4th frame's ciphertext.
    msg[h + 3 * (f + 32) + 100] ^= 1;
    let opts = DecryptOptions::keyring(&kr);
    // The whole message is available at once, so one read can meet four frames.
    let mut r = DecryptingReader::new(&client, &opts, &msg[..]).unwrap();
    let mut buf = vec![SENTINEL; 1 << 20];
    let mut released = Vec::new();
    let err = loop {
        buf.fill(SENTINEL);
        match r.read(&mut buf) {
            Ok(0) => panic!("a damaged message ended normally"),
            Ok(n) => {
                no_plaintext_past(&buf, n, "large read");
                released.extend_from_slice(&buf[..n]);
            }
            Err(e) => {
                no_plaintext_past(&buf, 0, "large read");
                break e;
            }
        }
    };
    assert_eq!(released.len(), 3 * f);
    assert!(released[..] == pt[..3 * f]);
    assert!(matches!(
        core_of_io(&err),
        Some(esdk_core::Error::Authentication(_))
    ));
    for _ in 0..3 {
        assert!(r.read(&mut buf).is_err(), "sticky");
    }
}

/// Which path each frame took, counted by a provider that counts opens and out-of-place opens.
#[test]
fn frames_that_fit_are_opened_out_of_place_and_the_rest_in_place() {
    use counting_provider::{Counting, get};
    let kr = RawAesKeyring::new("ns", "key", &[6u8; 32]).unwrap();
    let f = 1024usize;
    let frames = 20usize;
    let pt = plaintext(frames * f + 5, 2);
    let p = Counting::default();
    let client = Client::builder()
        .backend(Backend::custom(p.clone()))
        .build();
    let msg = client
        .encrypt(&pt, &EncryptOptions::keyring(&kr).frame_length(f as u32))
        .unwrap()
        .ciphertext;
    let opts = DecryptOptions::keyring(&kr);
    let c = &p.counts;
    // (what, run) → released plaintext; then (all opens, out-of-place opens) of the run.
    type Run<'a> = Box<dyn Fn() -> Vec<u8> + 'a>;
    let cases: Vec<(&str, Run<'_>, usize)> = vec![
        // A buffer that takes a frame: every regular frame straight into it.
        (
            "io read 64 KiB",
            Box::new(|| io_read(&client, &opts, &msg, usize::MAX, 65536, "").0),
            frames,
        ),
        (
            "io read = frame",
            Box::new(|| io_read(&client, &opts, &msg, 5000, f, "").0),
            frames,
        ),
        // Smaller buffers: into the staging frame (frames up to 64 KiB).
        (
            "io read < frame",
            Box::new(|| io_read(&client, &opts, &msg, usize::MAX, f - 1, "").0),
            frames,
        ),
        // Writers: into the staging frame.
        (
            "io writer",
            Box::new(|| io_write(&client, &opts, &msg, 3000).0),
            frames,
        ),
        #[cfg(feature = "tokio")]
        (
            "tokio read 64 KiB",
            Box::new(|| read_checked_async(&client, &opts, &msg, usize::MAX, 65536, "").0),
            frames,
        ),
        #[cfg(feature = "tokio")]
        (
            "tokio writer",
            Box::new(|| tokio_write(&client, &opts, &msg, 3000).0),
            frames,
        ),
    ];
    for (what, run, out_of_place) in cases {
        let (opens0, to0) = (get(&c.open), get(&c.open_to));
        let out = run();
        assert!(out == pt, "{what}: plaintext differs");
        let opens = get(&c.open) - opens0;
        let to = get(&c.open_to) - to0;
        // Each frame is opened once; the final frame always in place (after end of input).
        // (The header's tag is a GMAC, not an open; the raw AES keyring's unwrap is one
        // more in-place open.)
        assert_eq!(to, out_of_place, "{what}: out-of-place opens");
        assert_eq!(opens, frames + 1 + 1, "{what}: opens");
    }
}
