//! Proof that `esdk-core` (default features off) needs neither `std` nor `alloc`, and the
//! measuring harness of the size report (`size_report.sh`): a freestanding x86_64 Linux
//! executable that drives the core API and exits 0 when every check passes.
//!
//! Two builds of this one file:
//! * feature `full` (the default): every one of the 11 suites is encrypted and decrypted (and a
//!   tampered copy rejected), the committed 0x0478 fixture decrypts, and the figures of the
//!   report are printed: peak stack of encrypt and decrypt, `size_of` of the state machines,
//!   and the input buffer a streaming decrypt needs for a few frame lengths;
//! * without it (`--no-default-features`): the decrypt-only 0x0478 device build. esdk-core's
//!   `encrypt`, `non-committing` and ECDSA features are off; the fixture decrypts, a tampered
//!   copy fails, a 0x0578 header is refused as `Unsupported::SuiteNotBuilt`, and the same
//!   figures are printed.
//!
//! What makes it a proof rather than a compile check:
//! * `#![no_std]` + `#![no_main]` + our own `#[panic_handler]`: if any dependency pulled in
//!   `std`, the build fails with a duplicate lang item. Negative control, verified by hand: adding
//!   `extern crate std;` to this file fails with
//!   `error[E0152]: found duplicate lang item `panic_impl`` (std's panic handler collides with
//!   `panic` below).
//! * no global allocator is defined: had anything required `alloc`, the build would fail. Checked
//!   by hand too: with esdk-core's `alloc` feature on it fails with `error: no global memory
//!   allocator found but one is required`.
//! * the engine is actually called (and the result decides the exit status), so the encryptor,
//!   decryptor, key schedule, AES-GCM, HKDF and ECDSA code is linked, not just compiled.
//! * no C library is linked (`-nostartfiles`, see `build.rs`): `_start`, the syscalls and the
//!   `mem*` functions the compiler calls are defined here.
//!
//! Stack measurement: [`measured`] paints 64 KiB below its own stack pointer with a pattern,
//! runs the workload, and scans for the lowest word that changed (the high-water mark). The
//! figure includes the driver loop's frame and the state machine itself (a `Decryptor` lives
//! on the stack), not the caller's message and output buffers, which live in `entry`'s frame.
//!
//! Build and run (from this directory): `cargo build --release && ./target/release/esdk-no-std-check`.
//! The fixture `src/fixture_0478_f64.bin` is this program's own deterministic 0x0478 message:
//! `cargo run --release --features regenerate-fixture > src/fixture_0478_f64.bin` rewrites it.
#![no_std]
#![no_main]

use core::arch::{asm, global_asm};
use core::panic::PanicInfo;
use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::error::Unsupported;
#[cfg(feature = "full")]
use esdk_core::{AlgorithmSuite, CommitmentPolicy};
use esdk_core::{
    DecryptConfig, DecryptState, DecryptStatus, DecryptionMaterialsRef, Decryptor, Error, RawAesKey,
};
#[cfg(feature = "full")]
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

#[cfg(feature = "full")]
struct TestRng(u64);

#[cfg(feature = "full")]
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
#[cfg(feature = "full")]
impl CryptoRng for TestRng {}

// ---------------------------------------------------------------------------------------------
// Figures: printed as `key value` lines for size_report.sh.
// ---------------------------------------------------------------------------------------------

fn write_num(mut n: usize) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    write_stdout(&buf[i..]);
}

fn report(key: &str, value: usize) {
    write_stdout(key.as_bytes());
    write_stdout(b" ");
    write_num(value);
    write_stdout(b"\n");
}

// ---------------------------------------------------------------------------------------------
// Stack high-water mark by painting.
// ---------------------------------------------------------------------------------------------

/// Bytes painted below the measuring frame; a workload that reaches the end fails the check.
const PAINT: usize = 64 * 1024;
const PATTERN: u64 = 0xA5A5_A5A5_A5A5_A5A5;

/// Runs `work` and returns its result with the stack it used: the distance from this frame's
/// stack pointer to the lowest word below it that changed.
#[inline(never)]
fn measured<R>(work: impl FnOnce() -> R) -> Result<(R, usize), &'static str> {
    let sp: usize;
    // SAFETY: reads the stack pointer; no memory is touched.
    unsafe { asm!("mov {}, rsp", out(reg) sp, options(nomem, nostack, preserves_flags)) };
    let top = sp & !7;
    let bottom = top - PAINT;
    let mut a = bottom;
    while a < top {
        // SAFETY: the 64 KiB below the stack pointer are free stack (the kernel maps the
        // initial stack with at least 128 KiB of room and grows it on demand within the 8 MiB
        // limit); nothing lives there until `call` runs.
        unsafe { (a as *mut u64).write_volatile(PATTERN) };
        a += 8;
    }
    let r = call(work);
    let mut low = bottom;
    // SAFETY: the same region, read back.
    while low < top && unsafe { (low as *const u64).read_volatile() } == PATTERN {
        low += 8;
    }
    if low == bottom {
        return Err("stack use reached the painted limit");
    }
    Ok((r, top - low))
}

/// Not inlined, so the workload's locals live below the measuring frame.
#[inline(never)]
fn call<R>(work: impl FnOnce() -> R) -> R {
    work()
}

// ---------------------------------------------------------------------------------------------
// The check.
// ---------------------------------------------------------------------------------------------

const NAMESPACE: &str = "no-std-check";
const KEY_NAME: &[u8] = b"fixed-wrapping-key";
const WRAPPING_KEY: [u8; 32] = [0x2b; 32];
#[cfg(feature = "full")]
const DATA_KEY: [u8; 32] = [0x17; 32];
/// A valid P-256 and P-384 scalar (well below either group order).
#[cfg(feature = "full")]
const SIGNING_SECRET: [u8; 48] = [0x31; 48];
#[cfg(feature = "full")]
const FRAME_LENGTH: u32 = 64;
const PLAINTEXT: &[u8] = b"The quick brown fox jumps over the lazy dog, in frames of 64 bytes, \
    without std, without alloc, and without a C library; five frames are written for it.";
/// This program's own 0x0478 message of `PLAINTEXT` (frame length 64, seed `0x0123…`).
const FIXTURE_0478: &[u8] = include_bytes!("fixture_0478_f64.bin");

/// Largest plaintext / message / streaming window the checks use (2.5 frames of 4096 bytes).
const PT_MAX: usize = 10 * 1024;
const MSG_MAX: usize = 12 * 1024;

#[cfg(feature = "full")]
#[derive(Clone, Copy)]
struct Stacks {
    encrypt: usize,
    decrypt: usize,
}

fn run() -> Result<(), &'static str> {
    // The caller's buffers: in this frame, above the measured region.
    let mut window = [0u8; MSG_MAX];
    let mut out = [0u8; PT_MAX];

    #[cfg(feature = "regenerate-fixture")]
    if FIXTURE_0478.len() < usize::MAX {
        let mut msg = [0u8; MSG_MAX];
        let mut rng = TestRng(0x0123_4567_89ab_cdef);
        let len = encrypt(
            AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
            &mut rng,
            PLAINTEXT,
            FRAME_LENGTH,
            &mut msg,
        )
        .map_err(|_| "encrypt")?;
        write_stdout(&msg[..len]);
        exit(0);
    }

    // The committed 0x0478 fixture, streamed through the smallest window the decryptor asks for.
    let config = DecryptConfig::default();
    let (res, stack) = measured(|| decrypt(config, FIXTURE_0478, &mut window, &mut out))?;
    let done = res.map_err(|_| "decrypt fixture")?;
    if out.get(..done.written) != Some(PLAINTEXT) {
        return Err("fixture plaintext mismatch");
    }
    report("stack_decrypt_0478", stack);
    report("input_buffer_0478_frame_64", done.max_window);
    report(
        "sizeof_decryptor",
        core::mem::size_of::<Decryptor<RustCrypto>>(),
    );
    report(
        "sizeof_aead_key",
        core::mem::size_of::<esdk_core::crypto::rustcrypto::RustCryptoAeadKey>(),
    );
    let mut tampered = [0u8; 1024];
    let fixture = tampered
        .get_mut(..FIXTURE_0478.len())
        .ok_or("fixture too long")?;
    fixture.copy_from_slice(FIXTURE_0478);
    fixture[FIXTURE_0478.len() - 40] ^= 1;
    if decrypt(config, fixture, &mut window, &mut out).is_ok() {
        return Err("tampered fixture accepted");
    }

    #[cfg(not(feature = "full"))]
    {
        // A message of a suite this build left out fails with a typed error, not a panic.
        for id in [0x0578u16, 0x0178, 0x0214] {
            fixture.copy_from_slice(FIXTURE_0478);
            fixture[1..3].copy_from_slice(&id.to_be_bytes());
            match decrypt(config, fixture, &mut window, &mut out) {
                Err(Error::Unsupported(Unsupported::SuiteNotBuilt(s))) if s == id => {}
                _ => return Err("a left-out suite was not refused as SuiteNotBuilt"),
            }
        }
    }

    #[cfg(feature = "full")]
    full(&mut window, &mut out)?;
    Ok(())
}

/// Every suite round trips and rejects a tampered message; the figures of the full build.
#[cfg(feature = "full")]
fn full(window: &mut [u8], out: &mut [u8]) -> Result<(), &'static str> {
    let _ = Unsupported::Suite(0);
    let mut rng = TestRng(0x0123_4567_89ab_cdef);
    let mut msg = [0u8; MSG_MAX];
    let mut most = Stacks {
        encrypt: 0,
        decrypt: 0,
    };
    for suite in AlgorithmSuite::ALL {
        let config = decrypt_config(suite);
        let (len, enc) = measured(|| encrypt(suite, &mut rng, PLAINTEXT, FRAME_LENGTH, &mut msg))?;
        let len = len.map_err(|_| "encrypt")?;
        let (res, dec) = measured(|| decrypt(config, &msg[..len], window, out))?;
        let done = res.map_err(|_| "decrypt")?;
        if out.get(..done.written) != Some(PLAINTEXT) {
            return Err("plaintext mismatch");
        }
        // Flip one ciphertext bit in the middle of the body: decryption must fail.
        let mut tampered = msg;
        tampered[len / 2 + 40] ^= 1;
        if decrypt(config, &tampered[..len], window, out).is_ok() {
            return Err("tampered message accepted");
        }
        most.encrypt = most.encrypt.max(enc);
        most.decrypt = most.decrypt.max(dec);
        if suite == AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY {
            report("stack_encrypt_0478", enc);
        }
        if suite == AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384 {
            report("stack_encrypt_0578", enc);
            report("stack_decrypt_0578", dec);
        }
    }
    report("stack_encrypt_max_all_suites", most.encrypt);
    report("stack_decrypt_max_all_suites", most.decrypt);
    report(
        "sizeof_encryptor",
        core::mem::size_of::<esdk_core::Encryptor<RustCrypto>>(),
    );
    report(
        "sizeof_header_ready",
        core::mem::size_of::<esdk_core::HeaderReady<'static, RustCrypto>>(),
    );
    report(
        "sizeof_frame_encryptor",
        core::mem::size_of::<esdk_core::FrameEncryptor<RustCrypto>>(),
    );

    // The input buffer a streaming decrypt needs: 2.5 frames of plaintext, fed through the
    // smallest window the decryptor asks for.
    let mut pt = [0u8; PT_MAX];
    for (i, b) in pt.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    for (suite, frame, key) in [
        (
            AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
            1024u32,
            "input_buffer_0478_frame_1024",
        ),
        (
            AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
            4096,
            "input_buffer_0478_frame_4096",
        ),
        (
            AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
            4096,
            "input_buffer_0578_frame_4096",
        ),
    ] {
        let n = frame as usize * 5 / 2;
        let len = encrypt(suite, &mut rng, &pt[..n], frame, &mut msg).map_err(|_| "encrypt")?;
        let done =
            decrypt(decrypt_config(suite), &msg[..len], window, out).map_err(|_| "decrypt")?;
        if out.get(..done.written) != pt.get(..n) {
            return Err("plaintext mismatch");
        }
        report(key, done.max_window);
    }
    Ok(())
}

#[cfg(feature = "full")]
fn decrypt_config(suite: AlgorithmSuite) -> DecryptConfig {
    let config = DecryptConfig::default();
    if suite.is_committing() {
        config
    } else {
        config.with_commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
    }
}

#[cfg(feature = "full")]
fn encrypt(
    suite: AlgorithmSuite,
    rng: &mut TestRng,
    plaintext: &[u8],
    frame_length: u32,
    msg: &mut [u8],
) -> Result<usize, Error> {
    use esdk_core::encryption_context::{EncryptionContextRef, PUBLIC_KEY_FIELD, serialize_pairs};
    use esdk_core::keys::MAX_PUBLIC_KEY_B64_LEN;
    use esdk_core::{DataKey, EncryptConfig, EncryptionMaterialsRef, Encryptor, SigningKey};

    let p = RustCrypto;
    let data_key = DataKey::from_slice(DATA_KEY.get(..suite.data_key_len()).unwrap_or(&[]))?;
    let signing_key = match suite.signature() {
        Some(alg) => Some(SigningKey::from_bytes(
            alg,
            SIGNING_SECRET.get(..alg.secret_len()).unwrap_or(&[]),
        )?),
        None => None,
    };
    // The encryption context, with the public key entry for signed suites.
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

    let config = EncryptConfig::default()
        .with_commitment_policy(if suite.is_committing() {
            CommitmentPolicy::RequireEncryptRequireDecrypt
        } else {
            CommitmentPolicy::ForbidEncryptAllowDecrypt
        })
        .with_suite(Some(suite))
        .with_frame_length(frame_length);
    let materials = EncryptionMaterialsRef::new(suite, &data_key, &edks)
        .with_encryption_context(ec)
        .with_signing_key(signing_key.as_ref());
    let ready = Encryptor::new(p, config)?.provide(materials, rng)?;
    let (mut frames, mut pos) = ready.write_header(msg)?;
    let mut rest = plaintext;
    while rest.len() > frames.frame_length() {
        let (chunk, tail) = rest.split_at(frames.frame_length());
        pos += frames.seal_frame(chunk, &mut msg[pos..])?;
        rest = tail;
    }
    Ok(pos + frames.finish(rest, &mut msg[pos..], rng)?)
}

/// What a streaming decrypt produced.
struct Decrypted {
    /// Plaintext bytes written to `out`.
    written: usize,
    /// The largest input the decryptor needed buffered at once.
    max_window: usize,
}

/// Streams `msg` through `window`, adding only the bytes the decryptor asks for
/// (`NeedInput { min_len }`), and answers the materials request with the raw AES key.
fn decrypt(
    config: DecryptConfig,
    msg: &[u8],
    window: &mut [u8],
    out: &mut [u8],
) -> Result<Decrypted, Error> {
    let p = RustCrypto;
    let mut dec = Decryptor::new(p, config);
    let (mut fed, mut have, mut want, mut written, mut max_window) = (0, 0, 0, 0, 0);
    loop {
        if have < want && fed < msg.len() {
            let n = (want - have).min(msg.len() - fed);
            window
                .get_mut(have..have + n)
                .ok_or(Error::Truncated)?
                .copy_from_slice(&msg[fed..fed + n]);
            have += n;
            fed += n;
        }
        max_window = max_window.max(have);
        let eof = fed == msg.len();
        let DecryptStatus { discard, state } = dec.process(&mut window[..have], eof);
        want = 0;
        match state? {
            DecryptState::NeedInput { min_len } => {
                if eof {
                    return Err(Error::Truncated);
                }
                want = min_len.max(have + 1);
            }
            DecryptState::NeedMaterials(req) => {
                let suite = req.suite();
                let ec = req.encryption_context_unverified();
                let key = RawAesKey::new(NAMESPACE, KEY_NAME, &WRAPPING_KEY)?;
                let data_key = key.unwrap_any(&p, &ec, req.encrypted_data_keys())?;
                match data_key {
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
            DecryptState::Done => {
                return Ok(Decrypted {
                    written,
                    max_window,
                });
            }
            _ => {}
        }
        window.copy_within(discard..have, 0);
        have -= discard;
    }
}
