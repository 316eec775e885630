//! Caching materials manager: limits, expiry (injectable clock), bypass rules, policy
//! re-validation, stampede protection and exact accounting under contention.
#![allow(missing_docs, clippy::unwrap_used)]

use esdk_std::cmm::cache::{Clock, LocalCache, NullCache};
use esdk_std::cmm::{CachingCmm, CryptographicMaterialsManager, DefaultCmm};
use esdk_std::keyring::{BoxFuture, RawAesKeyring};
use esdk_std::materials::{
    DecryptionMaterials, DecryptionRequest, EncryptionMaterials, EncryptionRequest,
};
use esdk_std::stream::io::EncryptingWriter;
use esdk_std::{
    AlgorithmSuite, Client, CommitmentPolicy, DecryptOptions, EncryptOptions, EncryptionContext,
};
use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

#[derive(Debug, Default)]
struct ManualClock(AtomicU64);
impl ManualClock {
    fn advance(&self, d: Duration) {
        self.0
            .fetch_add(u64::try_from(d.as_nanos()).unwrap(), Ordering::SeqCst);
    }
}
impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.0.load(Ordering::SeqCst))
    }
}

/// Counts calls to an underlying manager, optionally sleeping in each (like a KMS round trip).
#[derive(Debug)]
struct Counting {
    inner: DefaultCmm,
    encrypts: AtomicUsize,
    decrypts: AtomicUsize,
    delay: Duration,
}
impl Counting {
    fn new(delay: Duration) -> Arc<Self> {
        let k = RawAesKeyring::new("ns", "key", &[9u8; 32]).unwrap();
        Arc::new(Self {
            inner: DefaultCmm::new(k),
            encrypts: AtomicUsize::new(0),
            decrypts: AtomicUsize::new(0),
            delay,
        })
    }
}
impl esdk_std::SyncCryptographicMaterialsManager for Counting {}

impl CryptographicMaterialsManager for Counting {
    fn get_encryption_materials<'a>(
        &'a self,
        r: &'a EncryptionRequest,
    ) -> BoxFuture<'a, esdk_std::Result<EncryptionMaterials>> {
        self.encrypts.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(self.delay);
        self.inner.get_encryption_materials(r)
    }
    fn decrypt_materials<'a>(
        &'a self,
        r: &'a DecryptionRequest,
    ) -> BoxFuture<'a, esdk_std::Result<DecryptionMaterials>> {
        self.decrypts.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(self.delay);
        self.inner.decrypt_materials(r)
    }
}

fn ec() -> EncryptionContext {
    [("tenant", "a")].into_iter().collect()
}

/// The wrapped data key of a message identifies the cache entry it came from.
fn edk_of(client: &Client, ct: &[u8]) -> Vec<u8> {
    client.parse_header(ct).unwrap().encrypted_data_keys[0]
        .ciphertext
        .clone()
}

#[test]
fn message_limit_and_reuse() {
    let under = Counting::new(Duration::ZERO);
    let cmm = CachingCmm::builder(
        under.clone(),
        Arc::new(LocalCache::new(10)),
        Duration::from_secs(60),
    )
    .max_messages(3)
    .build()
    .unwrap();
    let client = Client::default();
    let mut keys = Vec::new();
    for _ in 0..7 {
        let ct = client
            .encrypt(
                b"hello",
                &EncryptOptions::cmm(&cmm).encryption_context(ec()),
            )
            .unwrap();
        keys.push(edk_of(&client, &ct.ciphertext));
        let k = RawAesKeyring::new("ns", "key", &[9u8; 32]).unwrap();
        assert_eq!(
            client
                .decrypt(&ct.ciphertext, &DecryptOptions::keyring(&k))
                .unwrap()
                .plaintext,
            b"hello"
        );
    }
    assert_eq!(under.encrypts.load(Ordering::SeqCst), 3);
    assert_eq!(keys[0], keys[2]);
    assert_ne!(keys[2], keys[3]);
    assert_eq!(keys[3], keys[5]);
    assert_ne!(keys[5], keys[6]);
    // A different context is a different entry.
    let other: EncryptionContext = [("tenant", "b")].into_iter().collect();
    client
        .encrypt(b"x", &EncryptOptions::cmm(&cmm).encryption_context(other))
        .unwrap();
    assert_eq!(under.encrypts.load(Ordering::SeqCst), 4);
}

#[test]
fn byte_limit_and_bypass() {
    let under = Counting::new(Duration::ZERO);
    let cmm = CachingCmm::builder(
        under.clone(),
        Arc::new(LocalCache::new(10)),
        Duration::from_secs(60),
    )
    .max_bytes(100)
    .build()
    .unwrap();
    let client = Client::default();
    for _ in 0..5 {
        client
            .encrypt(
                &[0u8; 40],
                &EncryptOptions::cmm(&cmm).encryption_context(ec()),
            )
            .unwrap();
    }
    // [1,2] [3,4] [5]: 40+40 fits in 100, a third would not.
    assert_eq!(under.encrypts.load(Ordering::SeqCst), 3);
    // At or above the byte limit: never cached.
    for _ in 0..2 {
        client
            .encrypt(
                &[0u8; 100],
                &EncryptOptions::cmm(&cmm).encryption_context(ec()),
            )
            .unwrap();
    }
    assert_eq!(under.encrypts.load(Ordering::SeqCst), 5);
    // Unknown length (a stream without a bound): never cached.
    for _ in 0..2 {
        let mut w = EncryptingWriter::new(
            &client,
            &EncryptOptions::cmm(&cmm).encryption_context(ec()),
            Vec::new(),
        )
        .unwrap();
        w.write_all(b"abc").unwrap();
        w.finish().unwrap();
    }
    assert_eq!(under.encrypts.load(Ordering::SeqCst), 7);
}

#[test]
fn expiry_with_injected_clock() {
    let under = Counting::new(Duration::ZERO);
    let clock = Arc::new(ManualClock::default());
    let cmm = CachingCmm::builder(
        under.clone(),
        Arc::new(LocalCache::new(10)),
        Duration::from_secs(10),
    )
    .clock(clock.clone())
    .build()
    .unwrap();
    let client = Client::default();
    let enc = |c: &CachingCmm<Counting>| {
        client
            .encrypt(b"m", &EncryptOptions::cmm(c).encryption_context(ec()))
            .unwrap()
    };
    enc(&cmm);
    clock.advance(Duration::from_secs(9));
    enc(&cmm);
    assert_eq!(under.encrypts.load(Ordering::SeqCst), 1);
    clock.advance(Duration::from_secs(1));
    enc(&cmm);
    assert_eq!(
        under.encrypts.load(Ordering::SeqCst),
        2,
        "an entry at its expiry time is never returned"
    );
    assert!(
        CachingCmm::builder(under, Arc::new(NullCache), Duration::ZERO)
            .build()
            .is_err()
    );
}

#[test]
fn identity_suites_and_policy_revalidation() {
    let under = Counting::new(Duration::ZERO);
    let cmm = CachingCmm::builder(
        under.clone(),
        Arc::new(LocalCache::new(10)),
        Duration::from_secs(60),
    )
    .partition("shared")
    .build()
    .unwrap();
    let forbid = Client::builder()
        .commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
        .build();
    for _ in 0..3 {
        forbid
            .encrypt(
                b"m",
                &EncryptOptions::cmm(&cmm).suite(AlgorithmSuite::AES_256_GCM_IV12_TAG16_NO_KDF),
            )
            .unwrap();
    }
    assert_eq!(
        under.encrypts.load(Ordering::SeqCst),
        3,
        "identity-KDF suites are never cached"
    );
    // Cached under the FORBID policy (default suite 0x0378); a REQUIRE client must not get them.
    forbid
        .encrypt(b"m", &EncryptOptions::cmm(&cmm).encryption_context(ec()))
        .unwrap();
    forbid
        .encrypt(b"m", &EncryptOptions::cmm(&cmm).encryption_context(ec()))
        .unwrap();
    assert_eq!(under.encrypts.load(Ordering::SeqCst), 4);
    let require = Client::default();
    let ct = require
        .encrypt(b"m", &EncryptOptions::cmm(&cmm).encryption_context(ec()))
        .unwrap();
    assert_eq!(ct.header.suite.id(), 0x0578);
    assert_eq!(under.encrypts.load(Ordering::SeqCst), 5);
}

#[test]
fn decryption_is_cached_per_message_keys_and_reproduced_context() {
    let under = Counting::new(Duration::ZERO);
    let cmm = CachingCmm::builder(
        under.clone(),
        Arc::new(LocalCache::new(10)),
        Duration::from_secs(60),
    )
    .build()
    .unwrap();
    let client = Client::default();
    let ct = client
        .encrypt(
            b"payload",
            &EncryptOptions::cmm(&*under).encryption_context(ec()),
        )
        .unwrap()
        .ciphertext;
    for _ in 0..3 {
        assert_eq!(
            client
                .decrypt(&ct, &DecryptOptions::cmm(&cmm))
                .unwrap()
                .plaintext,
            b"payload"
        );
    }
    assert_eq!(under.decrypts.load(Ordering::SeqCst), 1);
    let d = client
        .decrypt(
            &ct,
            &DecryptOptions::cmm(&cmm).reproduced_encryption_context(ec()),
        )
        .unwrap();
    assert_eq!(d.plaintext, b"payload");
    assert_eq!(under.decrypts.load(Ordering::SeqCst), 2);
}

#[test]
fn stampede_makes_one_underlying_call() {
    let under = Counting::new(Duration::from_millis(100));
    let cmm = Arc::new(
        CachingCmm::builder(
            under.clone(),
            Arc::new(LocalCache::new(10)),
            Duration::from_secs(60),
        )
        .build()
        .unwrap(),
    );
    let client = Client::default();
    let barrier = std::sync::Barrier::new(8);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                barrier.wait();
                client
                    .encrypt(b"m", &EncryptOptions::cmm(&*cmm).encryption_context(ec()))
                    .unwrap();
            });
        }
    });
    assert_eq!(under.encrypts.load(Ordering::SeqCst), 1);
}

#[test]
fn exact_accounting_under_contention() {
    let under = Counting::new(Duration::from_millis(1));
    let cmm = Arc::new(
        CachingCmm::builder(
            under.clone(),
            Arc::new(LocalCache::new(4)),
            Duration::from_secs(600),
        )
        .max_messages(10)
        .build()
        .unwrap(),
    );
    let client = Client::default();
    let uses = std::sync::Mutex::new(HashMap::<Vec<u8>, usize>::new());
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..125 {
                    let ct = client
                        .encrypt(
                            &[1u8; 64],
                            &EncryptOptions::cmm(&*cmm).encryption_context(ec()),
                        )
                        .unwrap();
                    *uses
                        .lock()
                        .unwrap()
                        .entry(edk_of(&client, &ct.ciphertext))
                        .or_default() += 1;
                }
            });
        }
    });
    let uses = uses.into_inner().unwrap();
    assert!(
        uses.values().all(|&n| n <= 10),
        "an entry served more than its limit: {:?}",
        uses.values().max()
    );
    assert_eq!(uses.values().sum::<usize>(), 1000);
    assert_eq!(under.encrypts.load(Ordering::SeqCst), 100);
    assert_eq!(uses.len(), 100);
}

/// An underlying manager whose every call fails after `delay` (a key provider that is down or
/// throttling); records the plaintext length each encryption request carried.
#[derive(Debug)]
struct FailingSlow {
    calls: AtomicUsize,
    delay: Duration,
    lengths: std::sync::Mutex<Vec<Option<u64>>>,
}
impl FailingSlow {
    fn new(delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            calls: AtomicUsize::new(0),
            delay,
            lengths: std::sync::Mutex::new(Vec::new()),
        })
    }
    fn fail(&self) -> esdk_std::Error {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(self.delay);
        esdk_std::KeyringError::failed("kms", "throttled").into()
    }
}
impl esdk_std::SyncCryptographicMaterialsManager for FailingSlow {}

impl CryptographicMaterialsManager for FailingSlow {
    fn get_encryption_materials<'a>(
        &'a self,
        r: &'a EncryptionRequest,
    ) -> BoxFuture<'a, esdk_std::Result<EncryptionMaterials>> {
        self.lengths.lock().unwrap().push(r.max_plaintext_length);
        let e = self.fail();
        Box::pin(async move { Err(e) })
    }
    fn decrypt_materials<'a>(
        &'a self,
        _: &'a DecryptionRequest,
    ) -> BoxFuture<'a, esdk_std::Result<DecryptionMaterials>> {
        let e = self.fail();
        Box::pin(async move { Err(e) })
    }
}

/// 16 concurrent requests on a cold cache whose one underlying call fails: they share that
/// failure (at most 2 calls, all errors within about one call latency), for encrypt and
/// decrypt. Before the fix: 16 calls one after another, the last error after 16 latencies.
#[test]
fn failed_flight_is_shared_by_its_waiters() {
    const N: usize = 16;
    let latency = Duration::from_millis(100);
    let k = RawAesKeyring::new("ns", "key", &[9u8; 32]).unwrap();
    let client = Client::default();
    let ct = client
        .encrypt(b"m", &EncryptOptions::keyring(&k).encryption_context(ec()))
        .unwrap()
        .ciphertext;
    for decrypt in [false, true] {
        let under = FailingSlow::new(latency);
        let cmm = CachingCmm::builder(
            under.clone(),
            Arc::new(LocalCache::new(10)),
            Duration::from_secs(60),
        )
        .build()
        .unwrap();
        let barrier = std::sync::Barrier::new(N);
        let start = std::time::Instant::now();
        let latest = std::thread::scope(|s| {
            let handles: Vec<_> = (0..N)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        let err = if decrypt {
                            client
                                .decrypt(&ct, &DecryptOptions::cmm(&cmm))
                                .map(|_| ())
                                .unwrap_err()
                        } else {
                            client
                                .encrypt(b"m", &EncryptOptions::cmm(&cmm).encryption_context(ec()))
                                .map(|_| ())
                                .unwrap_err()
                        };
                        // The keyring's cause is the error's source.
                        let chain: Vec<String> =
                            std::iter::successors(Some(&err as &dyn std::error::Error), |e| {
                                e.source()
                            })
                            .map(ToString::to_string)
                            .collect();
                        assert_eq!(chain, ["keyring `kms` failed", "throttled"], "{err}");
                        start.elapsed()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .max()
                .unwrap()
        });
        let calls = under.calls.load(Ordering::SeqCst);
        eprintln!(
            "{}: {N} concurrent requests, {calls} underlying calls, last error after {latest:?}",
            if decrypt { "decrypt" } else { "encrypt" }
        );
        assert!(calls <= 2, "{calls} underlying calls");
        assert!(latest < latency * 4, "last error after {latest:?}");
    }
}

/// The leader's underlying request carries the entry's byte limit, not the message length.
#[test]
fn underlying_request_carries_the_byte_limit() {
    let under = FailingSlow::new(Duration::ZERO);
    let cmm = CachingCmm::builder(
        under.clone(),
        Arc::new(LocalCache::new(10)),
        Duration::from_secs(60),
    )
    .max_bytes(1000)
    .build()
    .unwrap();
    let client = Client::default();
    let _ = client.encrypt(b"m", &EncryptOptions::cmm(&cmm).encryption_context(ec()));
    assert_eq!(*under.lengths.lock().unwrap(), vec![Some(1000)]);
}

/// A cache that misses once on demand (as when another flight fills the entry between a
/// request's look and its lead), counting lookups.
#[derive(Debug)]
struct MissOnce {
    inner: LocalCache,
    miss: std::sync::atomic::AtomicBool,
}
impl esdk_std::cmm::cache::CryptographicMaterialsCache for MissOnce {
    fn get_encryption(
        &self,
        id: &esdk_std::cmm::cache::CacheId,
        bytes: u64,
        limits: esdk_std::cmm::cache::UsageLimits,
        now: Duration,
    ) -> Option<EncryptionMaterials> {
        if self.miss.swap(false, Ordering::SeqCst) {
            return None;
        }
        self.inner.get_encryption(id, bytes, limits, now)
    }
    fn put_encryption(
        &self,
        id: esdk_std::cmm::cache::CacheId,
        m: EncryptionMaterials,
        bytes: u64,
        expires: Duration,
    ) {
        self.inner.put_encryption(id, m, bytes, expires);
    }
    fn get_decryption(
        &self,
        id: &esdk_std::cmm::cache::CacheId,
        now: Duration,
    ) -> Option<DecryptionMaterials> {
        self.inner.get_decryption(id, now)
    }
    fn put_decryption(
        &self,
        id: esdk_std::cmm::cache::CacheId,
        m: DecryptionMaterials,
        expires: Duration,
    ) {
        self.inner.put_decryption(id, m, expires);
    }
    fn remove(&self, id: &esdk_std::cmm::cache::CacheId) {
        self.inner.remove(id);
    }
}

/// A new leader looks in the cache again before calling the underlying manager.
#[test]
fn leader_rechecks_the_cache() {
    let under = Counting::new(Duration::ZERO);
    let cache = Arc::new(MissOnce {
        inner: LocalCache::new(10),
        miss: std::sync::atomic::AtomicBool::new(false),
    });
    let cmm = CachingCmm::builder(under.clone(), cache.clone(), Duration::from_secs(60))
        .build()
        .unwrap();
    let client = Client::default();
    let opts = EncryptOptions::cmm(&cmm).encryption_context(ec());
    client.encrypt(b"one", &opts).unwrap();
    cache.miss.store(true, Ordering::SeqCst);
    client.encrypt(b"two", &opts).unwrap();
    assert_eq!(under.encrypts.load(Ordering::SeqCst), 1);
}
