//! Caching benchmark: a keyring that sleeps 5 ms per call (like a KMS round trip), 1 KiB
//! messages, max messages 100. Prints underlying calls and throughput against the uncached run.
//!
//! `cargo run --release -p esdk-std --example caching_bench [MESSAGES]` (default 10,000; the
//! uncached run uses a tenth as many messages and is scaled, since it takes 5 ms each).

use esdk_std::cmm::cache::LocalCache;
use esdk_std::cmm::{CachingCmm, DefaultCmm, SyncCryptographicMaterialsManager};
use esdk_std::keyring::{Keyring, RawAesKeyring};
use esdk_std::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk_std::{AlgorithmSuite, Client, EncryptOptions, EncryptedDataKey, EncryptionContext};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct SlowKeyring {
    inner: RawAesKeyring,
    calls: Arc<AtomicUsize>,
}

impl Keyring for SlowKeyring {
    fn on_encrypt(&self, m: &EncryptionMaterials) -> esdk_std::Result<EncryptionMaterials> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(5));
        self.inner.on_encrypt(m)
    }
    fn on_decrypt(
        &self,
        m: &DecryptionMaterials,
        e: &[EncryptedDataKey],
    ) -> esdk_std::Result<DecryptionMaterials> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(5));
        self.inner.on_decrypt(m, e)
    }
}

fn run<C: SyncCryptographicMaterialsManager>(cmm: &C, n: usize, suite: AlgorithmSuite) -> Duration {
    let client = Client::default();
    let ec: EncryptionContext = [("tenant", "bench")].into_iter().collect();
    let pt = vec![0x5Au8; 1024];
    let start = Instant::now();
    for _ in 0..n {
        let opts = EncryptOptions::cmm(cmm)
            .encryption_context(ec.clone())
            .suite(suite);
        std::hint::black_box(client.encrypt(&pt, &opts).expect("encrypt"));
    }
    start.elapsed()
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    let mut ok = true;
    // 0x0478 is the measured case; 0x0578 is shown too: its per-message ECDSA P-384 signature
    // (not cacheable) bounds what caching can gain.
    for suite in [
        AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
        AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384,
    ] {
        let calls = Arc::new(AtomicUsize::new(0));
        let keyring = SlowKeyring {
            inner: RawAesKeyring::new("ns", "k", &[1u8; 32]).expect("key"),
            calls: calls.clone(),
        };
        let base = Arc::new(DefaultCmm::new(keyring));
        let cached = CachingCmm::builder(
            base.clone(),
            Arc::new(LocalCache::new(100)),
            Duration::from_secs(300),
        )
        .max_messages(100)
        .build()
        .expect("caching cmm");
        let t_cached = run(&cached, n, suite);
        let cached_calls = calls.swap(0, Ordering::SeqCst);
        let n_uncached = (n / 10).max(1);
        let t_uncached = run(&*base, n_uncached, suite);
        let uncached_calls = calls.load(Ordering::SeqCst);
        let rate_cached = n as f64 / t_cached.as_secs_f64();
        let rate_uncached = n_uncached as f64 / t_uncached.as_secs_f64();
        let ratio = rate_cached / rate_uncached;
        println!("suite {suite}:");
        println!(
            "  cached:   {n} messages, {cached_calls} underlying calls, {rate_cached:.0} msg/s"
        );
        println!(
            "  uncached: {n_uncached} messages, {uncached_calls} underlying calls, {rate_uncached:.0} msg/s"
        );
        println!("  throughput ratio cached/uncached: {ratio:.1}x");
        let expected_calls = n.div_ceil(100);
        if cached_calls != expected_calls {
            eprintln!("FAILED: expected {expected_calls} underlying calls, got {cached_calls}");
            ok = false;
        }
        if !suite.is_signed() && ratio < 50.0 {
            eprintln!("FAILED: ratio below 50x");
            ok = false;
        }
    }
    if !ok {
        std::process::exit(1);
    }
}
