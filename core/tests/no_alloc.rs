//! The core engine never allocates: a full encrypt and decrypt of a 1 MiB message (raw AES key
//! wrapping, encryptor, streaming decryptor, signed and unsigned suites) makes zero heap
//! allocations once the caller's buffers exist.
//!
//! A counting `#[global_allocator]` wraps `System`; it counts only on a thread that has set a
//! thread-local flag, so the test harness's other threads (and the other test) do not interfere.
// `unsafe impl GlobalAlloc` needs unsafe code. The library keeps `#![forbid(unsafe_code)]` in
// its lib.rs; the workspace lint is `deny` so that this test file alone can allow it.
#![allow(unsafe_code)]
#![allow(missing_docs, clippy::unwrap_used, clippy::indexing_slicing)]

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::sync::atomic::{AtomicUsize, Ordering};
use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::encryption_context::{EncryptionContextRef, PUBLIC_KEY_FIELD, serialize_pairs};
use esdk_core::keys::MAX_PUBLIC_KEY_B64_LEN;
use esdk_core::{
    AlgorithmSuite, CommitmentPolicy, DataKey, DecryptConfig, DecryptState, DecryptionMaterialsRef,
    Decryptor, EdkRef, EncryptConfig, EncryptionMaterialsRef, Encryptor, RawAesKey, SigningKey,
    SliceInput,
};
use std::alloc::System;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Const-initialised and without a destructor: reading it never allocates.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn counting() -> bool {
    COUNTING.try_with(Cell::get).unwrap_or(false)
}

// SAFETY: every call is forwarded unchanged to `System`; the counter has no effect on memory.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is passed through.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counting() {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` with counting on for this thread; returns its result and the allocations it made
/// on this thread (other threads' allocations are never counted, but the total is global, so
/// callers must not run two measured regions at once: the tests take `LOCK`).
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    COUNTING.with(|c| c.set(true));
    let out = f();
    COUNTING.with(|c| c.set(false));
    (out, ALLOCATIONS.load(Ordering::SeqCst) - before)
}

static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

const MESSAGE_LEN: usize = 1 << 20;
const FRAME_LENGTH: u32 = 4096;
const NAMESPACE: &str = "no-alloc";
const KEY_NAME: &[u8] = b"wrapping-key";
const WRAPPING_KEY: [u8; 32] = [0x61; 32];
/// Input buffer of the streaming decryptor: two frames' worth, whatever the header size.
const DECRYPT_BUFFER: usize = 16 * 1024;

/// Buffers and keys made before the measured region.
struct Fixture {
    suite: AlgorithmSuite,
    data_key: DataKey,
    signing_key: Option<SigningKey>,
    context: [u8; 256],
    context_len: usize,
    plaintext: Vec<u8>,
    ciphertext: Vec<u8>,
    decrypted: Vec<u8>,
    input: Vec<u8>,
}

impl Fixture {
    fn new(suite: AlgorithmSuite) -> Self {
        let p = RustCrypto;
        let mut rng = rand_core::OsRng;
        let data_key = DataKey::generate(suite, &mut rng).unwrap();
        let signing_key = suite
            .signature()
            .map(|alg| SigningKey::generate(&p, alg, &mut rng).unwrap());
        let mut b64 = [0u8; MAX_PUBLIC_KEY_B64_LEN];
        let mut pairs = vec![("purpose", "no-alloc test"), ("owner", "core")];
        if let Some(sk) = &signing_key {
            pairs.push((
                PUBLIC_KEY_FIELD,
                sk.public_key(&p).unwrap().to_base64(&mut b64),
            ));
        }
        let mut context = [0u8; 256];
        let context_len = serialize_pairs(&mut pairs, &mut context).unwrap();
        // Exact ciphertext length, from an EDK of the size the raw AES wrapping produces.
        let wrapped = [0u8; 32 + 16];
        let info = [0u8; KEY_NAME.len() + esdk_core::raw_aes::PROVIDER_INFO_OVERHEAD];
        let edk = EdkRef {
            provider_id: NAMESPACE,
            provider_info: &info,
            ciphertext: &wrapped,
        };
        let ct_len = esdk_core::ciphertext_len(
            suite,
            core::iter::once(edk),
            context_len,
            FRAME_LENGTH,
            MESSAGE_LEN as u64,
        )
        .unwrap();
        Self {
            suite,
            data_key,
            signing_key,
            context,
            context_len,
            plaintext: (0..MESSAGE_LEN)
                .map(|i| (i % 251).to_le_bytes()[0])
                .collect(),
            ciphertext: vec![0; usize::try_from(ct_len).unwrap()],
            decrypted: vec![0; MESSAGE_LEN],
            input: vec![0; DECRYPT_BUFFER],
        }
    }

    /// Wraps the data key and encrypts `plaintext` into `ciphertext`; returns the length.
    fn encrypt(&mut self) -> usize {
        let p = RustCrypto;
        let mut rng = rand_core::OsRng;
        let ec = EncryptionContextRef::parse(&self.context[..self.context_len]).unwrap();
        let key = RawAesKey::new(NAMESPACE, KEY_NAME, &WRAPPING_KEY).unwrap();
        let mut wrapped = [0u8; 128];
        let edks = [key
            .wrap(&p, &ec, &self.data_key, &mut rng, &mut wrapped)
            .unwrap()];
        let config = EncryptConfig::default()
            .with_commitment_policy(CommitmentPolicy::RequireEncryptRequireDecrypt)
            .with_suite(Some(self.suite))
            .with_frame_length(FRAME_LENGTH);
        let materials = EncryptionMaterialsRef::new(self.suite, &self.data_key, &edks)
            .with_encryption_context(ec)
            .with_signing_key(self.signing_key.as_ref());
        let ready = Encryptor::new(p, config)
            .unwrap()
            .provide(materials, &mut rng)
            .unwrap();
        let out = &mut self.ciphertext;
        let (mut frames, mut pos) = ready.write_header(out).unwrap();
        let mut rest = &self.plaintext[..];
        while rest.len() > frames.frame_length() {
            let (chunk, tail) = rest.split_at(frames.frame_length());
            pos += frames.seal_frame(chunk, &mut out[pos..]).unwrap();
            rest = tail;
        }
        pos + frames.finish(rest, &mut out[pos..], &mut rng).unwrap()
    }

    /// Streams `ciphertext[..len]` through the fixed `input` buffer (a `SliceInput`, which
    /// compacts it when more input is needed), unwrapping the data key from the header;
    /// returns the plaintext length.
    fn decrypt(&mut self, len: usize) -> usize {
        let p = RustCrypto;
        let ct = &self.ciphertext[..len];
        let mut input = SliceInput::new(&mut self.input[..]);
        let mut dec = Decryptor::new(p, DecryptConfig::default());
        let (mut fed, mut written) = (0usize, 0usize);
        loop {
            // A state borrows the input: read more once it is handled.
            let mut need_input = false;
            match input.process(&mut dec).unwrap() {
                DecryptState::NeedInput { .. } => need_input = true,
                DecryptState::NeedMaterials(req) => {
                    let ec = req.encryption_context_unverified();
                    let suite = req.suite();
                    let key = RawAesKey::new(NAMESPACE, KEY_NAME, &WRAPPING_KEY).unwrap();
                    let dk = key
                        .unwrap_any(&p, &ec, req.encrypted_data_keys())
                        .unwrap()
                        .unwrap();
                    req.provide(&DecryptionMaterialsRef::new(suite, &dk))
                        .unwrap();
                }
                DecryptState::HeaderVerified(_) => {}
                DecryptState::Plaintext(chunk) => {
                    self.decrypted[written..written + chunk.len()].copy_from_slice(&chunk);
                    written += chunk.len();
                }
                DecryptState::Done => return written,
                other => panic!("unexpected state {other:?}"),
            }
            if need_input {
                if fed == ct.len() {
                    input.set_eof();
                } else {
                    fed += input.push(&ct[fed..]).unwrap();
                }
            }
        }
    }
}

fn check(suite: AlgorithmSuite) {
    let _guard = LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut fx = Fixture::new(suite);
    let ((len, plain_len), allocations) = measure(|| {
        let len = fx.encrypt();
        (len, fx.decrypt(len))
    });
    assert_eq!(
        len,
        fx.ciphertext.len(),
        "predicted ciphertext length, suite {suite}"
    );
    assert_eq!(plain_len, MESSAGE_LEN);
    assert!(fx.decrypted == fx.plaintext, "round trip, suite {suite}");
    assert_eq!(
        allocations, 0,
        "heap allocations during encrypt + decrypt, suite {suite}"
    );
}

#[test]
fn unsigned_0478_makes_no_allocations() {
    check(AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY);
}

#[test]
fn signed_0578_makes_no_allocations() {
    check(AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384);
}

/// The counter does see allocations made inside a measured region (and only there).
#[test]
fn counter_sees_allocations() {
    let _guard = LOCK
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (v, n) = measure(|| core::hint::black_box(vec![1u8; 10]));
    assert_eq!(n, 1);
    drop(v);
    let (_, n) = measure(|| ());
    assert_eq!(n, 0);
}
