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
    let enc = |c: &CachingCmm| {
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
