//! The branch key materials cache: TTL, capacity (least recently used evicted), shared between
//! keyrings or partitioned, and single-flight: concurrent misses for one entry wait for one
//! load, so a cold cache under N concurrent requests makes one DynamoDB and one KMS call.

use crate::materials::BranchKeyMaterials;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What an entry is for.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct CacheKey {
    /// Partition id (keyrings with the same partition share entries).
    pub partition: Arc<str>,
    /// Logical key store name.
    pub store: Arc<str>,
    /// Branch key id.
    pub branch_key_id: String,
    /// `None`: the active version; `Some`: that version.
    pub version: Option<[u8; 16]>,
}

struct Slot {
    value: tokio::sync::Mutex<Option<(Arc<BranchKeyMaterials>, Instant)>>,
    last_used: AtomicU64,
}

struct Inner {
    capacity: usize,
    slots: Mutex<HashMap<CacheKey, Arc<Slot>>>,
    clock: AtomicU64,
    loads: AtomicU64,
}

/// A cache of branch key materials. Cheap to clone; clones share entries, so one cache can
/// serve several keyrings (entries are keyed by partition id, logical key store name, branch
/// key id and version).
#[derive(Clone)]
pub struct BranchKeyCache {
    inner: Arc<Inner>,
}

impl fmt::Debug for BranchKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BranchKeyCache")
            .field("capacity", &self.inner.capacity)
            .field("entries", &self.len())
            .finish()
    }
}

impl Default for BranchKeyCache {
    fn default() -> Self {
        Self::new(1000)
    }
}

impl BranchKeyCache {
    /// A cache of at most `capacity` entries (at least 1; the MPL's default is 1000).
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                capacity: capacity.max(1),
                slots: Mutex::new(HashMap::new()),
                clock: AtomicU64::new(0),
                loads: AtomicU64::new(0),
            }),
        }
    }

    /// The capacity.
    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    /// Entries held now (loaded or loading).
    pub fn len(&self) -> usize {
        self.inner.slots.lock().map_or(0, |s| s.len())
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many times an entry was loaded (misses that reached the key store).
    pub fn loads(&self) -> u64 {
        self.inner.loads.load(Ordering::Relaxed)
    }

    /// Drops every entry.
    pub fn clear(&self) {
        if let Ok(mut s) = self.inner.slots.lock() {
            s.clear();
        }
    }

    fn slot(&self, key: &CacheKey) -> Arc<Slot> {
        let tick = self.inner.clock.fetch_add(1, Ordering::Relaxed);
        // A poisoned lock only means another thread panicked while holding it; the map itself
        // is always consistent (single inserts and removes).
        let mut slots = self
            .inner
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = slots.get(key) {
            s.last_used.store(tick, Ordering::Relaxed);
            return Arc::clone(s);
        }
        if slots.len() >= self.inner.capacity {
            // Evict the least recently used entry (O(capacity), only when full and missing).
            if let Some(victim) = slots
                .iter()
                .min_by_key(|(_, s)| s.last_used.load(Ordering::Relaxed))
                .map(|(k, _)| k.clone())
            {
                slots.remove(&victim);
            }
        }
        let slot = Arc::new(Slot {
            value: tokio::sync::Mutex::new(None),
            last_used: AtomicU64::new(tick),
        });
        slots.insert(key.clone(), Arc::clone(&slot));
        slot
    }

    /// The entry for `key` if fresh, else the result of `load` (stored for `ttl` on success).
    /// Concurrent callers for the same key wait for one load. An expired entry is never
    /// returned. A cancelled load leaves the entry empty for the next caller.
    pub(crate) async fn get_or_load<E, F>(
        &self,
        key: &CacheKey,
        ttl: std::time::Duration,
        load: F,
    ) -> Result<Arc<BranchKeyMaterials>, E>
    where
        F: Future<Output = Result<BranchKeyMaterials, E>>,
    {
        let slot = self.slot(key);
        let mut guard = slot.value.lock().await;
        if let Some((m, expires)) = guard.as_ref() {
            if Instant::now() < *expires {
                return Ok(Arc::clone(m));
            }
        }
        *guard = None;
        self.inner.loads.fetch_add(1, Ordering::Relaxed);
        let m = Arc::new(load.await?);
        if let Some(expires) = Instant::now().checked_add(ttl) {
            *guard = Some((Arc::clone(&m), expires));
        }
        Ok(m)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::sync::atomic::AtomicUsize;
    use std::collections::BTreeMap;
    use std::time::Duration;

    fn key(id: &str) -> CacheKey {
        CacheKey {
            partition: "p".into(),
            store: "s".into(),
            branch_key_id: id.into(),
            version: None,
        }
    }

    fn materials(id: &str) -> BranchKeyMaterials {
        BranchKeyMaterials::from_version_bytes(id, [7; 16], BTreeMap::new(), [1; 32])
    }

    async fn load(
        cache: &BranchKeyCache,
        id: &str,
        ttl: Duration,
        calls: &AtomicUsize,
    ) -> Result<Arc<BranchKeyMaterials>, ()> {
        cache
            .get_or_load(&key(id), ttl, async {
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(materials(id))
            })
            .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_misses_make_one_load() {
        let cache = BranchKeyCache::new(10);
        let calls = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..16)
            .map(|_| {
                let (cache, calls) = (cache.clone(), calls.clone());
                tokio::spawn(async move {
                    load(&cache, "a", Duration::from_secs(60), &calls)
                        .await
                        .map(|m| m.branch_key_id().to_owned())
                })
            })
            .collect();
        for t in tasks {
            assert_eq!(t.await.unwrap().unwrap(), "a");
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(cache.loads(), 1);
    }

    #[tokio::test]
    async fn expired_entries_are_reloaded_and_failures_not_cached() {
        let cache = BranchKeyCache::new(10);
        let calls = AtomicUsize::new(0);
        let ttl = Duration::from_millis(80);
        load(&cache, "a", ttl, &calls).await.unwrap();
        load(&cache, "a", ttl, &calls).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::sleep(Duration::from_millis(100)).await;
        load(&cache, "a", ttl, &calls).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);

        let failing = cache
            .get_or_load(&key("b"), ttl, async { Err::<BranchKeyMaterials, _>("no") })
            .await;
        assert!(failing.is_err());
        load(&cache, "b", ttl, &calls).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn capacity_evicts_the_least_recently_used() {
        let cache = BranchKeyCache::new(2);
        let calls = AtomicUsize::new(0);
        let ttl = Duration::from_secs(60);
        for id in ["a", "b", "a", "c"] {
            load(&cache, id, ttl, &calls).await.unwrap();
        }
        assert_eq!(cache.len(), 2);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        load(&cache, "a", ttl, &calls).await.unwrap(); // kept
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        load(&cache, "b", ttl, &calls).await.unwrap(); // was evicted
        assert_eq!(calls.load(Ordering::SeqCst), 4);
    }
}
