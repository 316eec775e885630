//! Memory of the decrypting readers, measured by a counting global allocator (its own test
//! binary, one test function, so nothing else allocates meanwhile on a counted thread):
//!
//! * a 1 MiB message read through a source returning one byte per `read()` allocates a small,
//!   fixed amount (the buffer is allocated once, not zero-filled per read), std and tokio;
//! * the peak of live heap while reading stays at or below the reader's `max_buffer` cap (plus
//!   a small constant for the header and materials), for a message whose frames fit and for
//!   one whose declared frame does not (which fails with `Error::BufferLimit`).
// `unsafe impl GlobalAlloc` needs unsafe code; the library keeps `#![forbid(unsafe_code)]`.
#![allow(unsafe_code)]
#![allow(missing_docs, clippy::unwrap_used, clippy::cast_possible_truncation)]

use esdk_std::keyring::RawAesKeyring;
use esdk_std::stream::io::DecryptingReader;
use esdk_std::stream::tokio::AsyncDecryptingReader;
use esdk_std::{Client, DecryptOptions, EncryptOptions, Error};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, Read};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

struct Counting;

/// Bytes handed out (allocations, and the growth of reallocations).
static ALLOCATED: AtomicUsize = AtomicUsize::new(0);
/// Live bytes and their peak (counted threads only).
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn counting() -> bool {
    COUNTING.try_with(Cell::get).unwrap_or(false)
}

fn grow(n: usize) {
    ALLOCATED.fetch_add(n, Ordering::Relaxed);
    let live = LIVE.fetch_add(n, Ordering::Relaxed) + n;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

fn shrink(n: usize) {
    // Frees of blocks allocated before counting began may exceed what was counted.
    let _ = LIVE.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| {
        Some(l.saturating_sub(n))
    });
}

// SAFETY: every call is forwarded unchanged to `System`; the counters have no effect on memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counting() {
            grow(layout.size());
        }
        // SAFETY: the caller's contract is passed through.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if counting() {
            grow(layout.size());
        }
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counting() {
            if new_size > layout.size() {
                grow(new_size - layout.size());
            } else {
                shrink(layout.size() - new_size);
            }
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if counting() {
            shrink(layout.size());
        }
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Counts the allocations of `f` on this thread: (bytes allocated, peak live bytes).
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    ALLOCATED.store(0, Ordering::SeqCst);
    LIVE.store(0, Ordering::SeqCst);
    PEAK.store(0, Ordering::SeqCst);
    COUNTING.with(|c| c.set(true));
    let t = f();
    COUNTING.with(|c| c.set(false));
    (
        t,
        ALLOCATED.load(Ordering::SeqCst),
        PEAK.load(Ordering::SeqCst),
    )
}

/// A source returning at most `step` bytes per read (sync and tokio).
struct Drip<'b> {
    data: &'b [u8],
    step: usize,
}

impl Read for Drip<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = out.len().min(self.step).min(self.data.len());
        let (head, rest) = self.data.split_at(n);
        out[..n].copy_from_slice(head);
        self.data = rest;
        Ok(n)
    }
}

impl AsyncRead for Drip<'_> {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let n = buf.remaining().min(this.step).min(this.data.len());
        let (head, rest) = this.data.split_at(n);
        buf.put_slice(head);
        this.data = rest;
        Poll::Ready(Ok(()))
    }
}

/// Reads everything into a fixed buffer, comparing against `expected` as it goes (no growing
/// output vector to count). Returns the error, if any.
fn read_compare<R: Read>(r: &mut R, expected: &[u8]) -> io::Result<()> {
    let mut buf = [0u8; 8192];
    let mut pos = 0;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            assert_eq!(pos, expected.len(), "short plaintext");
            return Ok(());
        }
        assert!(buf[..n] == expected[pos..pos + n], "plaintext differs");
        pos += n;
    }
}

#[test]
fn reader_memory_is_small_and_capped() {
    let k = RawAesKeyring::new("ns", "key", &[7u8; 32]).unwrap();
    let client = Client::default();
    let opts = DecryptOptions::keyring(&k);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();

    // 1. 1 MiB, 4 KiB frames, one byte per inner read.
    let pt: Vec<u8> = (0..1usize << 20).map(|i| (i * 31 % 251) as u8).collect();
    let ct = client
        .encrypt(&pt, &EncryptOptions::keyring(&k).frame_length(4096))
        .unwrap()
        .ciphertext;
    let t = Instant::now();
    let ((), allocated, peak) = measure(|| {
        let mut r = DecryptingReader::new(&client, &opts, Drip { data: &ct, step: 1 }).unwrap();
        read_compare(&mut r, &pt).unwrap();
    });
    let took = t.elapsed();
    eprintln!(
        "std reader, 1 MiB via 1-byte reads: {took:?}, {allocated} bytes allocated, peak {peak}"
    );
    // The 64 KiB read buffer once, plus header and materials: no per-read allocation.
    assert!(allocated < 128 * 1024, "{allocated} bytes allocated");

    let t = Instant::now();
    let ((), allocated, peak) = measure(|| {
        rt.block_on(async {
            let mut r = AsyncDecryptingReader::new(&client, &opts, Drip { data: &ct, step: 1 })
                .await
                .unwrap();
            let mut buf = [0u8; 8192];
            let mut pos = 0;
            loop {
                let n = r.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                assert!(buf[..n] == pt[pos..pos + n], "plaintext differs");
                pos += n;
            }
            assert_eq!(pos, pt.len());
        });
    });
    let took = t.elapsed();
    eprintln!(
        "tokio reader, 1 MiB via 1-byte reads: {took:?}, {allocated} bytes allocated, peak {peak}"
    );
    assert!(allocated < 128 * 1024, "{allocated} bytes allocated");

    // 2. Peak live heap ≤ cap (+ a small constant), frames that fit: 512 KiB frames, 1 MiB cap,
    //    read in 64 KiB pieces (the 1 MiB cap is reached by doubling).
    const CAP: usize = 1 << 20;
    const SLACK: usize = 32 * 1024;
    let pt = vec![0x5au8; 3 << 20];
    let ct = client
        .encrypt(&pt, &EncryptOptions::keyring(&k).frame_length(512 * 1024))
        .unwrap()
        .ciphertext;
    for step in [usize::MAX, 777] {
        let ((), _, peak) = measure(|| {
            let mut r =
                DecryptingReader::with_max_buffer(&client, &opts, Drip { data: &ct, step }, CAP)
                    .unwrap();
            read_compare(&mut r, &pt).unwrap();
            assert!(r.buffer_capacity() <= CAP);
        });
        eprintln!("frames within the cap (step {step}): peak {peak} (cap {CAP})");
        assert!(peak <= CAP + SLACK, "peak {peak} above cap {CAP}");
    }

    // 3. A frame larger than the cap (4 MiB frames, 1 MiB cap) followed by much more input:
    //    BufferLimit before the buffer passes the cap (before the fix: the Vec doubled to 2 MiB).
    let ct = client
        .encrypt(
            &vec![1u8; 6 << 20],
            &EncryptOptions::keyring(&k).frame_length(4 << 20),
        )
        .unwrap()
        .ciphertext;
    for step in [usize::MAX, 4099] {
        let (err, _, peak) = measure(|| {
            let mut r =
                DecryptingReader::with_max_buffer(&client, &opts, Drip { data: &ct, step }, CAP)
                    .unwrap();
            let e = read_compare(&mut r, &[]).unwrap_err();
            assert!(r.buffer_capacity() <= CAP);
            e
        });
        eprintln!("frame above the cap (step {step}): peak {peak} (cap {CAP}): {err}");
        let inner = err.get_ref().and_then(|e| e.downcast_ref::<Error>());
        assert!(
            matches!(inner, Some(Error::BufferLimit { limit: CAP, .. })),
            "{err:?}"
        );
        assert!(peak <= CAP + SLACK, "peak {peak} above cap {CAP}");
    }
}

/// The documented bound: `max_buffer = frame length + 146` decrypts every framed message with
/// a header below that (signed and unsigned, final frame full or partial), over whole and
/// one-byte reads; a cap below one regular frame (`+32`) fails with `BufferLimit`.
#[test]
fn documented_buffer_bound_is_enough() {
    let k = RawAesKeyring::new("ns", "key", &[7u8; 32]).unwrap();
    let frame = 4096usize;
    for suite in [
        esdk_std::AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
        esdk_std::AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
    ] {
        let client = Client::default();
        for len in [frame - 1, frame, 2 * frame, 2 * frame + 5] {
            let pt = vec![3u8; len];
            let ct = client
                .encrypt(
                    &pt,
                    &EncryptOptions::keyring(&k)
                        .suite(suite)
                        .frame_length(frame as u32),
                )
                .unwrap()
                .ciphertext;
            let opts = DecryptOptions::keyring(&k);
            for step in [usize::MAX, 1] {
                let mut r = DecryptingReader::with_max_buffer(
                    &client,
                    &opts,
                    Drip { data: &ct, step },
                    frame + 146,
                )
                .unwrap();
                read_compare(&mut r, &pt).unwrap();
                assert!(r.buffer_capacity() <= frame + 146);
                if len > frame {
                    let mut r = DecryptingReader::with_max_buffer(
                        &client,
                        &opts,
                        Drip { data: &ct, step },
                        frame + 31,
                    )
                    .unwrap();
                    let e = read_compare(&mut r, &pt).unwrap_err();
                    let inner = e.get_ref().and_then(|e| e.downcast_ref::<Error>());
                    assert!(matches!(inner, Some(Error::BufferLimit { .. })), "{e:?}");
                }
            }
        }
    }
}
