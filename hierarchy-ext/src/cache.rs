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
