//! Cryptographic materials caches (`framework/cryptographic-materials-cache.md`,
//! `local-cryptographic-materials-cache.md`): a thread-safe LRU with TTLs and exact usage
//! accounting, and a null cache.

use crate::materials::{DecryptionMaterials, EncryptionMaterials};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A cache entry id (SHA-384 of the request's identifying fields).
pub type CacheId = [u8; 48];

/// A time source, injectable for tests.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Time elapsed since an arbitrary fixed origin; must never go backwards.
    fn now(&self) -> Duration;
}

/// The monotonic system clock.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl Default for SystemClock {
    fn default() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// Usage limits of one encryption entry (built with [`UsageLimits::new`]).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UsageLimits {
    /// Messages one entry may encrypt.
    pub max_messages: u64,
    /// Plaintext bytes one entry may encrypt.
    pub max_bytes: u64,
}

impl UsageLimits {
    /// At most `max_messages` messages and `max_bytes` plaintext bytes per entry.
    pub fn new(max_messages: u64, max_bytes: u64) -> Self {
        Self {
            max_messages,
            max_bytes,
        }
    }
}

/// Stores materials under cache ids.
///
/// `get_encryption` must check and update usage atomically: no entry may serve more messages or
/// bytes than its limits, whatever the concurrency. Expired entries are never returned.
pub trait CryptographicMaterialsCache: Send + Sync + std::fmt::Debug {
    /// Returns materials if the entry exists, is not expired and can serve one more message of
    /// `bytes` plaintext bytes within `limits`; counts that use before returning.
    fn get_encryption(
        &self,
        id: &CacheId,
        bytes: u64,
        limits: UsageLimits,
        now: Duration,
    ) -> Option<EncryptionMaterials>;
    /// Stores materials that already served one message of `bytes` bytes.
    fn put_encryption(
        &self,
        id: CacheId,
        materials: EncryptionMaterials,
        bytes: u64,
        expires: Duration,
    );
    /// Returns unexpired decryption materials.
    fn get_decryption(&self, id: &CacheId, now: Duration) -> Option<DecryptionMaterials>;
    /// Stores decryption materials.
    fn put_decryption(&self, id: CacheId, materials: DecryptionMaterials, expires: Duration);
    /// Removes an entry.
    fn remove(&self, id: &CacheId);
}

/// A cache that stores nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NullCache;

impl CryptographicMaterialsCache for NullCache {
    fn get_encryption(
        &self,
        _: &CacheId,
        _: u64,
        _: UsageLimits,
        _: Duration,
    ) -> Option<EncryptionMaterials> {
        None
    }
    fn put_encryption(&self, _: CacheId, _: EncryptionMaterials, _: u64, _: Duration) {}
    fn get_decryption(&self, _: &CacheId, _: Duration) -> Option<DecryptionMaterials> {
        None
    }
    fn put_decryption(&self, _: CacheId, _: DecryptionMaterials, _: Duration) {}
    fn remove(&self, _: &CacheId) {}
}

#[derive(Debug)]
enum Stored {
    Encryption {
        materials: EncryptionMaterials,
        messages: u64,
        bytes: u64,
    },
    Decryption(DecryptionMaterials),
}

#[derive(Debug)]
struct Node {
    id: CacheId,
    value: Stored,
    expires: Duration,
    prev: usize,
    next: usize,
}

const NIL: usize = usize::MAX;

/// LRU list over a slab: O(1) lookup, touch, insert and eviction.
#[derive(Debug)]
struct Lru {
    map: HashMap<CacheId, usize>,
    nodes: Vec<Option<Node>>,
    free: Vec<usize>,
    head: usize,
    tail: usize,
}

impl Lru {
    fn unlink(&mut self, i: usize) {
        let (prev, next) = match self.nodes.get(i).and_then(Option::as_ref) {
            Some(n) => (n.prev, n.next),
            None => return,
        };
        if prev == NIL {
            self.head = next;
        } else if let Some(Some(p)) = self.nodes.get_mut(prev) {
            p.next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else if let Some(Some(n)) = self.nodes.get_mut(next) {
            n.prev = prev;
        }
    }
    fn push_front(&mut self, i: usize) {
        let old = self.head;
        if let Some(Some(n)) = self.nodes.get_mut(i) {
            n.prev = NIL;
            n.next = old;
        }
        if old != NIL {
            if let Some(Some(o)) = self.nodes.get_mut(old) {
                o.prev = i;
            }
        } else {
            self.tail = i;
        }
        self.head = i;
    }
    fn remove_index(&mut self, i: usize) {
        self.unlink(i);
        if let Some(slot) = self.nodes.get_mut(i) {
            if let Some(n) = slot.take() {
                self.map.remove(&n.id);
            }
            self.free.push(i);
        }
    }
    fn insert(&mut self, id: CacheId, value: Stored, expires: Duration) {
        if let Some(&i) = self.map.get(&id) {
            self.remove_index(i);
        }
        let node = Node {
            id,
            value,
            expires,
            prev: NIL,
            next: NIL,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.nodes[i] = Some(node);
                i
            }
            None => {
                self.nodes.push(Some(node));
                self.nodes.len() - 1
            }
        };
        self.map.insert(id, i);
        self.push_front(i);
    }
}

/// An in-memory LRU cache with a fixed entry capacity.
#[derive(Debug)]
pub struct LocalCache {
    capacity: usize,
    inner: Mutex<Lru>,
}

impl LocalCache {
    /// A cache holding at most `capacity` entries (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Lru {
                map: HashMap::new(),
                nodes: Vec::new(),
                free: Vec::new(),
                head: NIL,
                tail: NIL,
            }),
        }
    }
    /// Number of entries (expired ones included until touched or evicted).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }
    /// Whether the cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        // A panic while holding the lock leaves a consistent list (every update completes
        // before anything can panic), so a poisoned lock is safe to reuse.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
    fn put(&self, id: CacheId, value: Stored, expires: Duration) {
        let mut lru = self.lock();
        lru.insert(id, value, expires);
        while lru.map.len() > self.capacity {
            let t = lru.tail;
            if t == NIL {
                break;
            }
            lru.remove_index(t);
        }
    }
}

impl CryptographicMaterialsCache for LocalCache {
    fn get_encryption(
        &self,
        id: &CacheId,
        bytes: u64,
        limits: UsageLimits,
        now: Duration,
    ) -> Option<EncryptionMaterials> {
        let mut lru = self.lock();
        let i = *lru.map.get(id)?;
        let node = lru.nodes.get_mut(i)?.as_mut()?;
        if node.expires <= now {
            lru.remove_index(i);
            return None;
        }
        let Stored::Encryption {
            materials,
            messages,
            bytes: used,
        } = &mut node.value
        else {
            return None;
        };
        let next_messages = messages.saturating_add(1);
        let next_bytes = used.saturating_add(bytes);
        if next_messages > limits.max_messages || next_bytes > limits.max_bytes {
            lru.remove_index(i);
            return None;
        }
        *messages = next_messages;
        *used = next_bytes;
        let out = materials.clone();
        let exhausted = next_messages >= limits.max_messages || next_bytes >= limits.max_bytes;
        if exhausted {
            lru.remove_index(i);
        } else {
            lru.unlink(i);
            lru.push_front(i);
        }
        Some(out)
    }
    fn put_encryption(
        &self,
        id: CacheId,
        materials: EncryptionMaterials,
        bytes: u64,
        expires: Duration,
    ) {
        self.put(
            id,
            Stored::Encryption {
                materials,
                messages: 1,
                bytes,
            },
            expires,
        );
    }
    fn get_decryption(&self, id: &CacheId, now: Duration) -> Option<DecryptionMaterials> {
        let mut lru = self.lock();
        let i = *lru.map.get(id)?;
        let node = lru.nodes.get(i)?.as_ref()?;
        if node.expires <= now {
            lru.remove_index(i);
            return None;
        }
        let Stored::Decryption(m) = &node.value else {
            return None;
        };
        let out = m.clone();
        lru.unlink(i);
        lru.push_front(i);
        Some(out)
    }
    fn put_decryption(&self, id: CacheId, materials: DecryptionMaterials, expires: Duration) {
        self.put(id, Stored::Decryption(materials), expires);
    }
    fn remove(&self, id: &CacheId) {
        let mut lru = self.lock();
        if let Some(&i) = lru.map.get(id) {
            lru.remove_index(i);
        }
    }
}
