//! Helpers shared by the integration tests: keyrings that count or fail, deterministic
//! plaintexts, RSA keys from the shared test vectors, error classification, and readers and
//! writers that move data in awkward pieces.
#![allow(dead_code, clippy::unwrap_used)]

use esdk_std::keyring::{AsyncKeyring, BoxFuture, Keyring, RawAesKeyring};
use esdk_std::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk_std::{
    AlgorithmSuite, Client, CommitmentPolicy, EncryptedDataKey, EncryptionContext, Error,
};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use std::future::Future;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

/// RSA keys of the shared test vectors (the same file serves `rsa_key`'s unit tests).
#[path = "../support/rsa_keys.rs"]
pub mod rsa_keys;
#[allow(unused_imports)] // Not every test crate uses both.
pub use rsa_keys::{rsa_4096_pems, vectors};

pub const NS: &str = "test-namespace";

/// Committing suites first, then the rest: every ESDK suite.
pub const ALL_SUITES: [AlgorithmSuite; 11] = AlgorithmSuite::ALL;
pub const S0478: AlgorithmSuite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
pub const S0578: AlgorithmSuite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
pub const S0378: AlgorithmSuite = AlgorithmSuite::AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384;
pub const S0178: AlgorithmSuite = AlgorithmSuite::AES_256_GCM_IV12_TAG16_HKDF_SHA256;
pub const S0014: AlgorithmSuite = AlgorithmSuite::AES_128_GCM_IV12_TAG16_NO_KDF;

/// A raw AES keyring in [`NS`] whose key is `len` copies of `byte`.
pub fn aes(name: &str, byte: u8, len: usize) -> RawAesKeyring {
    RawAesKeyring::new(NS, name, &vec![byte; len]).unwrap()
}

/// A client whose commitment policy can encrypt `suite` (and decrypt it).
pub fn client_for(suite: AlgorithmSuite) -> Client {
    let policy = if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    };
    Client::builder().commitment_policy(policy).build()
}

/// Deterministic pseudo-random bytes.
pub fn bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; len];
    StdRng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

pub fn ec(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs.iter().copied().collect()
}

/// The core error inside an `esdk_std::Error`, if it is one.
pub fn core_of(e: &Error) -> Option<esdk_core::Error> {
    e.core().copied()
}

/// The `esdk_std::Error` carried by an `io::Error` from an adapter, if any.
pub fn std_of(e: &io::Error) -> Option<&Error> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<Error>())
}

/// The core error carried by an `io::Error` from an adapter, if any.
pub fn core_of_io(e: &io::Error) -> Option<esdk_core::Error> {
    std_of(e).and_then(core_of)
}

/// A keyring that counts its calls and forwards them.
#[derive(Debug)]
pub struct Counting<K> {
    pub inner: K,
    pub encrypts: AtomicUsize,
    pub decrypts: AtomicUsize,
}

impl<K> Counting<K> {
    pub fn new(inner: K) -> Self {
        Self {
            inner,
            encrypts: AtomicUsize::new(0),
            decrypts: AtomicUsize::new(0),
        }
    }
    pub fn decrypt_calls(&self) -> usize {
        self.decrypts.load(Ordering::SeqCst)
    }
    pub fn encrypt_calls(&self) -> usize {
        self.encrypts.load(Ordering::SeqCst)
    }
}

impl<K: Keyring> Keyring for Counting<K> {
    fn on_encrypt(&self, m: &EncryptionMaterials) -> esdk_std::Result<EncryptionMaterials> {
        self.encrypts.fetch_add(1, Ordering::SeqCst);
        self.inner.on_encrypt(m)
    }
    fn on_decrypt(
        &self,
        m: &DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> esdk_std::Result<DecryptionMaterials> {
        self.decrypts.fetch_add(1, Ordering::SeqCst);
        self.inner.on_decrypt(m, edks)
    }
}

/// A keyring whose every call fails with a keyring error (not `NoDecryptableKey`).
#[derive(Debug, Default)]
pub struct Failing {
    pub calls: AtomicUsize,
}

impl Keyring for Failing {
    fn on_encrypt(&self, _: &EncryptionMaterials) -> esdk_std::Result<EncryptionMaterials> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(esdk_std::KeyringError::failed("failing", "service unavailable").into())
    }
    fn on_decrypt(
        &self,
        _: &DecryptionMaterials,
        _: &[EncryptedDataKey],
    ) -> esdk_std::Result<DecryptionMaterials> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Err(esdk_std::KeyringError::failed("failing", "service unavailable").into())
    }
}

/// A future that is pending once (waking itself) and then ready.
#[derive(Debug, Default)]
pub struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

/// An asynchronous keyring that yields once before answering (like a network key provider),
/// counting its calls.
#[derive(Debug)]
pub struct Slow<K> {
    pub inner: K,
    pub calls: AtomicUsize,
}

impl<K> Slow<K> {
    pub fn new(inner: K) -> Self {
        Self {
            inner,
            calls: AtomicUsize::new(0),
        }
    }
}

impl<K: Keyring> AsyncKeyring for Slow<K> {
    fn on_encrypt<'a>(
        &'a self,
        m: &'a EncryptionMaterials,
    ) -> BoxFuture<'a, esdk_std::Result<EncryptionMaterials>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            YieldOnce::default().await;
            self.inner.on_encrypt(m)
        })
    }
    fn on_decrypt<'a>(
        &'a self,
        m: &'a DecryptionMaterials,
        edks: &'a [EncryptedDataKey],
    ) -> BoxFuture<'a, esdk_std::Result<DecryptionMaterials>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            YieldOnce::default().await;
            self.inner.on_decrypt(m, edks)
        })
    }
}

/// Reads from `inner` in pieces of random size in `1..=max` (seeded), returning
/// `Interrupted` now and then when `interrupt` is set.
#[derive(Debug)]
pub struct Pieces<R> {
    pub inner: R,
    rng: StdRng,
    max: usize,
    interrupt: bool,
}

impl<R> Pieces<R> {
    pub fn new(inner: R, max: usize, seed: u64) -> Self {
        Self {
            inner,
            rng: StdRng::seed_from_u64(seed),
            max: max.max(1),
            interrupt: false,
        }
    }
    /// Pieces of exactly one byte.
    pub fn bytewise(inner: R) -> Self {
        Self::new(inner, 1, 0)
    }
    pub fn with_interrupts(mut self) -> Self {
        self.interrupt = true;
        self
    }
    fn size(&mut self) -> usize {
        if self.max == 1 {
            1
        } else {
            self.rng.gen_range(1..=self.max)
        }
    }
}

impl<R: Read> Read for Pieces<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.interrupt && self.rng.gen_ratio(1, 3) {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = self.size().min(buf.len());
        self.inner.read(&mut buf[..n])
    }
}

impl<W: Write> Write for Pieces<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.size().min(buf.len());
        self.inner.write(&buf[..n])
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes all of `data` to `w` in pieces of random size in `1..=max`.
pub fn write_in_pieces<W: Write>(
    w: &mut W,
    data: &[u8],
    max: usize,
    rng: &mut StdRng,
) -> io::Result<()> {
    let mut rest = data;
    while !rest.is_empty() {
        let n = rng.gen_range(1..=max.max(1)).min(rest.len());
        w.write_all(&rest[..n])?;
        rest = &rest[n..];
    }
    Ok(())
}

/// Reads `r` to the end with buffers of random size in `1..=max`.
pub fn read_in_pieces<R: Read>(r: &mut R, max: usize, rng: &mut StdRng) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; max.max(1)];
    loop {
        let n = rng.gen_range(1..=max.max(1));
        match r.read(&mut buf[..n]) {
            Ok(0) => return Ok(out),
            Ok(k) => out.extend_from_slice(&buf[..k]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
