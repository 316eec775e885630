//! Proof that `esdk-core` (default features off, `rustcrypto` on) needs neither `std` nor
//! `alloc`: a freestanding x86_64 Linux executable that encrypts and decrypts with the core API
//! and exits 0 when both round trips (unsigned 0x0478 and signed 0x0578) succeed and a tampered
//! message is rejected.
//!
//! What makes it a proof rather than a compile check:
//! * `#![no_std]` + `#![no_main]` + our own `#[panic_handler]`: if any dependency pulled in
//!   `std`, the build fails with a duplicate lang item. Negative control, verified by hand: adding
//!   `extern crate std;` to this file fails with
//!   `error[E0152]: found duplicate lang item `panic_impl`` (std's panic handler collides with
//!   `panic` below).
//! * no global allocator is defined: had anything required `alloc`, the build would fail. Checked
//!   by hand too: with `features = ["rustcrypto", "alloc"]` it fails with `error: no global memory
//!   allocator found but one is required`.
//! * the engine is actually called (and the result decides the exit status), so the encryptor,
//!   decryptor, key schedule, AES-GCM, HKDF and ECDSA P-384 code is linked, not just compiled.
//! * no C library is linked (`-nostartfiles`, see `.cargo/config.toml`): `_start`, the syscalls
//!   and the `mem*` functions the compiler calls are defined here.
//!
//! Build and run (from this directory): `cargo build --release && ./target/release/esdk-no-std-check`.
#![no_std]
#![no_main]

use core::arch::{asm, global_asm};
use core::panic::PanicInfo;
use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::encryption_context::{EncryptionContextRef, PUBLIC_KEY_FIELD, serialize_pairs};
use esdk_core::keys::MAX_PUBLIC_KEY_B64_LEN;
use esdk_core::{
    AlgorithmSuite, CommitmentPolicy, DataKey, DecryptConfig, DecryptState, DecryptionMaterialsRef,
    Decryptor, EncryptConfig, EncryptionMaterialsRef, Encryptor, Error, RawAesKey, SigningKey,
    SliceInput,
};
use rand_core::{CryptoRng, RngCore};

// ---------------------------------------------------------------------------------------------
// Process entry and exit, without a C runtime.
// ---------------------------------------------------------------------------------------------

// The kernel enters `_start` with `rsp` pointing at `argc` (16-byte aligned) and no return
// address; a Rust function expects `rsp ≡ 8 (mod 16)` on entry, so call it from assembly.
global_asm!(
    ".globl _start",
    "_start:",
    "xor ebp, ebp",
    "and rsp, -16",
    "call {entry}",
    "ud2",
    entry = sym entry,
);

extern "C" fn entry() -> ! {
    let code = match run() {
        Ok(()) => {
            write_stdout(b"esdk-core no_std check: round trips ok\n");
            0
        }
        Err(what) => {
            write_stdout(b"esdk-core no_std check FAILED: ");
            write_stdout(what.as_bytes());
            write_stdout(b"\n");
            1
        }
    };
    exit(code)
}

fn write_stdout(bytes: &[u8]) {
    // SAFETY: `write(1, ptr, len)` reads `len` bytes from a live slice; rcx and r11 are
    // clobbered by `syscall`.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") 1usize => _,
            in("rdi") 1usize,
            in("rsi") bytes.as_ptr(),
            in("rdx") bytes.len(),
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
}

fn exit(code: i32) -> ! {
    // SAFETY: `exit_group` does not return.
    unsafe { asm!("syscall", in("rax") 231usize, in("rdi") code, options(noreturn, nostack)) }
}

#[panic_handler]
fn panic(_: &PanicInfo<'_>) -> ! {
    write_stdout(b"esdk-core no_std check: panic\n");
    exit(101)
}

// The precompiled `core` is built for unwinding, and without optimisation (dev profile) some of
// its unwind tables survive and name the personality routine. With `panic = "abort"` nothing ever
// unwinds, so it is never called.
#[cfg(debug_assertions)]
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

// The compiler lowers copies and comparisons to these; libc is not linked, so define them.
// Volatile accesses keep LLVM from turning the loops back into calls to themselves.

/// # Safety
/// `dst` and `src` valid for `n` bytes, not overlapping.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: in bounds by the contract.
        unsafe { dst.add(i).write_volatile(src.add(i).read_volatile()) };
    }
    dst
}

/// # Safety
/// `dst` and `src` valid for `n` bytes; they may overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize) <= (src as usize) {
        for i in 0..n {
            // SAFETY: in bounds; copying forward never overwrites a byte not yet read.
            unsafe { dst.add(i).write_volatile(src.add(i).read_volatile()) };
        }
    } else {
        for i in (0..n).rev() {
            // SAFETY: in bounds; copying backward never overwrites a byte not yet read.
            unsafe { dst.add(i).write_volatile(src.add(i).read_volatile()) };
        }
    }
    dst
}

/// # Safety
/// `dst` valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    for i in 0..n {
        // SAFETY: in bounds by the contract; `memset` stores the low byte of `c`.
        unsafe { dst.add(i).write_volatile(c as u8) };
    }
    dst
}

/// # Safety
/// `a` and `b` valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: in bounds by the contract.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

/// # Safety
/// `a` and `b` valid for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract.
    unsafe { memcmp(a, b, n) }
}

// ---------------------------------------------------------------------------------------------
// A deterministic RNG (SplitMix64). Predictable: for this check only, never for real keys.
// ---------------------------------------------------------------------------------------------

struct TestRng(u64);

impl RngCore for TestRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

// Claimed only so the core API accepts it; see above.
impl CryptoRng for TestRng {}

// ---------------------------------------------------------------------------------------------
// The check.
// ---------------------------------------------------------------------------------------------

const NAMESPACE: &str = "no-std-check";
const KEY_NAME: &[u8] = b"fixed-wrapping-key";
const WRAPPING_KEY: [u8; 32] = [0x2b; 32];
const DATA_KEY: [u8; 32] = [0x17; 32];
/// A valid P-384 scalar (well below the group order).
const SIGNING_SECRET: [u8; 48] = [0x31; 48];
const FRAME_LENGTH: u32 = 64;
const PLAINTEXT: &[u8] = b"The quick brown fox jumps over the lazy dog, in frames of 64 bytes, \
    without std, without alloc, and without a C library; five frames are written for it.";

fn run() -> Result<(), &'static str> {
    let mut rng = TestRng(0x0123_4567_89ab_cdef);
    for suite in [
        AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
        AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
    ] {
        let mut msg = [0u8; 1024];
        let len = encrypt(suite, &mut rng, &mut msg).map_err(|_| "encrypt")?;
        let mut copy = msg;
        let mut out = [0u8; 256];
        let n = decrypt(&mut copy[..len], &mut out).map_err(|_| "decrypt")?;
        if out.get(..n) != Some(PLAINTEXT) {
            return Err("plaintext mismatch");
        }
        // Flip one ciphertext bit in the middle of the body: decryption must fail.
        let mut tampered = msg;
        if let Some(b) = tampered.get_mut(len - 150) {
            *b ^= 1;
        }
        if decrypt(&mut tampered[..len], &mut out).is_ok() {
            return Err("tampered message accepted");
        }
    }
    Ok(())
}

fn encrypt(suite: AlgorithmSuite, rng: &mut TestRng, msg: &mut [u8]) -> Result<usize, Error> {
    let p = RustCrypto;
    let data_key = DataKey::from_slice(&DATA_KEY)?;
    let signing_key = match suite.signature() {
        Some(alg) => Some(SigningKey::from_bytes(
            alg,
            SIGNING_SECRET.get(..alg.secret_len()).unwrap_or(&[]),
        )?),
        None => None,
    };
    // The encryption context, with the public key entry for the signed suite.
    let mut b64 = [0u8; MAX_PUBLIC_KEY_B64_LEN];
    let verification_key = match &signing_key {
        Some(sk) => Some(sk.public_key(&p)?),
        None => None,
    };
    let mut pairs = [("purpose", "no_std check"), ("", "")];
    let mut count = 1;
    if let Some(vk) = &verification_key {
        pairs[1] = (PUBLIC_KEY_FIELD, vk.to_base64(&mut b64));
        count = 2;
    }
    let mut ec_bytes = [0u8; 256];
    let ec_len = serialize_pairs(&mut pairs[..count], &mut ec_bytes)?;
    let ec = EncryptionContextRef::parse(&ec_bytes[..ec_len])?;

    // One encrypted data key from the raw AES key.
    let key = RawAesKey::new(NAMESPACE, KEY_NAME, &WRAPPING_KEY)?;
    let mut wrapped = [0u8; 128];
    let edks = [key.wrap(&p, &ec, &data_key, rng, &mut wrapped)?];

    let config = EncryptConfig::default().with_commitment_policy(CommitmentPolicy::RequireEncryptRequireDecrypt).with_suite(Some(suite)).with_frame_length(FRAME_LENGTH);
    let materials = EncryptionMaterialsRef::new(suite, &data_key, &edks).with_encryption_context(ec).with_signing_key(signing_key.as_ref());
    let ready = Encryptor::new(p, config)?.provide(materials, rng)?;
    let (mut frames, mut pos) = ready.write_header(msg)?;
    let mut rest = PLAINTEXT;
    while rest.len() > frames.frame_length() {
        let (chunk, tail) = rest.split_at(frames.frame_length());
        pos += frames.seal_frame(chunk, &mut msg[pos..])?;
        rest = tail;
    }
    Ok(pos + frames.finish(rest, &mut msg[pos..], rng)?)
}

/// Decrypts `msg` (a complete message, decrypted in place), answering the materials request
/// with the raw AES key.
fn decrypt(msg: &mut [u8], out: &mut [u8]) -> Result<usize, Error> {
    let p = RustCrypto;
    let key = RawAesKey::new(NAMESPACE, KEY_NAME, &WRAPPING_KEY)?;
    let mut dec = Decryptor::new(p, DecryptConfig::default());
    let mut input = SliceInput::complete(msg);
    let mut written = 0;
    loop {
        match input.process(&mut dec)? {
            DecryptState::NeedMaterials(req) => {
                let suite = req.suite();
                let ec = req.encryption_context_unverified();
                match key.unwrap_any(&p, &ec, req.encrypted_data_keys())? {
                    Some(dk) => req.provide(&DecryptionMaterialsRef::new(suite, &dk))?,
                    None => {
                        req.abort();
                        return Err(Error::Usage(esdk_core::error::UsageError::Aborted));
                    }
                }
            }
            DecryptState::Plaintext(chunk) => {
                let end = written + chunk.len();
                out.get_mut(written..end)
                    .ok_or(Error::Truncated)?
                    .copy_from_slice(&chunk);
                written = end;
            }
            DecryptState::Done => return Ok(written),
            _ => {}
        }
    }
}
