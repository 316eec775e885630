//! The caching materials manager (`framework/caching-cmm.md`).
//!
//! Reuses materials from an underlying materials manager for a bounded time, number of
//! messages and number of bytes, to cut calls to key providers such as AWS KMS.
//!
//! Single flight: concurrent misses for the same entry make one call to the underlying
//! manager; the others wait for it (stampede protection), without blocking an async executor.
//! The caller that makes the call (the leader) looks in the cache once more first. If the
//! call fails, every request that waited on it gets that same failure, as
//! [`Error::Shared`] (the leader too, when anyone waited; alone, it gets the error itself):
//! with the key provider down or throttling, N waiting requests cost one call, not N calls
//! in a row. If the leader is cancelled, one waiter leads a new call.

use super::CryptographicMaterialsManager;
use super::cache::{CacheId, Clock, CryptographicMaterialsCache, SystemClock, UsageLimits};
use crate::error::{Error, Result};
use crate::keyring::BoxFuture;
use crate::materials::{
    DecryptionMaterials, DecryptionRequest, EncryptionMaterials, EncryptionRequest,
};
use esdk_core::suite::Kdf;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Default message limit per entry: 2^32.
pub const DEFAULT_MAX_MESSAGES: u64 = 1 << 32;
/// Default byte limit per entry: 2^63 − 1.
pub const DEFAULT_MAX_BYTES: u64 = i64::MAX as u64;

/// Caches materials of an underlying materials manager. Synchronous (usable by the synchronous
/// APIs) when its underlying manager `C` is.
#[derive(Debug)]
pub struct CachingCmm<C: ?Sized = dyn CryptographicMaterialsManager> {
    underlying: Arc<C>,
    cache: Arc<dyn CryptographicMaterialsCache>,
    max_age: Duration,
    limits: UsageLimits,
    partition: Vec<u8>,
    clock: Arc<dyn Clock>,
    in_flight: Arc<Mutex<HashMap<CacheId, Arc<Flight>>>>,
}

/// Builds a [`CachingCmm`].
#[derive(Debug)]
pub struct CachingCmmBuilder<C: ?Sized = dyn CryptographicMaterialsManager> {
    underlying: Arc<C>,
    cache: Arc<dyn CryptographicMaterialsCache>,
    max_age: Duration,
    max_messages: u64,
    max_bytes: u64,
    partition: Option<String>,
    clock: Arc<dyn Clock>,
    rng: crate::provider::SharedRng,
}

impl<C: CryptographicMaterialsManager + ?Sized> CachingCmmBuilder<C> {
    /// Messages one entry may encrypt (1 … 2^32, default 2^32).
    pub fn max_messages(mut self, n: u64) -> Self {
        self.max_messages = n;
        self
    }
    /// Plaintext bytes one entry may encrypt (default 2^63 − 1).
    pub fn max_bytes(mut self, n: u64) -> Self {
        self.max_bytes = n;
        self
    }
    /// Partition id (default: random per instance). Managers sharing a cache and a partition
    /// share entries.
    pub fn partition(mut self, id: impl Into<String>) -> Self {
        self.partition = Some(id.into());
        self
    }
    /// The randomness for the default random partition id (default: the operating system's).
    pub fn rng(mut self, rng: crate::provider::SharedRng) -> Self {
        self.rng = rng;
        self
    }
    /// The time source (default: the monotonic system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
    /// The caching materials manager.
    ///
    /// # Errors
    /// A zero max age, a message limit of 0 or above 2^32, or a byte limit above 2^63 − 1.
    pub fn build(self) -> Result<CachingCmm<C>> {
        if self.max_age.is_zero() {
            return Err(Error::Config(crate::error::ConfigError::OutOfRange {
                setting: "caching CMM max age (greater than 0)",
                value: 0,
            }));
        }
        if self.max_messages == 0 || self.max_messages > DEFAULT_MAX_MESSAGES {
            return Err(Error::Config(crate::error::ConfigError::OutOfRange {
                setting: "caching CMM max messages (1 ..= 2^32)",
                value: self.max_messages,
            }));
        }
        if self.max_bytes > DEFAULT_MAX_BYTES {
            return Err(Error::Config(crate::error::ConfigError::OutOfRange {
                setting: "caching CMM max bytes (0 ..= 2^63 - 1)",
                value: self.max_bytes,
            }));
        }
        let partition = match self.partition {
            Some(p) => p.into_bytes(),
            None => {
                let mut b = [0u8; 16];
                let mut rng = self.rng.clone();
                rand_core::RngCore::fill_bytes(&mut rng, &mut b);
                b.iter()
                    .map(|x| format!("{x:02x}"))
                    .collect::<String>()
                    .into_bytes()
            }
        };
        Ok(CachingCmm {
            underlying: self.underlying,
            cache: self.cache,
            max_age: self.max_age,
            limits: UsageLimits {
                max_messages: self.max_messages,
                max_bytes: self.max_bytes,
            },
            partition,
            clock: self.clock,
            in_flight: Arc::new(Mutex::new(HashMap::new())),
        })
    }
}

impl<C: ?Sized> Clone for CachingCmm<C> {
    fn clone(&self) -> Self {
        Self {
            underlying: self.underlying.clone(),
            cache: self.cache.clone(),
            max_age: self.max_age,
            limits: self.limits,
            partition: self.partition.clone(),
            clock: self.clock.clone(),
            in_flight: self.in_flight.clone(),
        }
    }
}

impl<C: super::SyncCryptographicMaterialsManager + ?Sized> super::SyncCryptographicMaterialsManager
    for CachingCmm<C>
{
}

impl<C: CryptographicMaterialsManager + ?Sized> CachingCmm<C> {
    /// A builder over `underlying` (any materials manager; wrap a keyring in
    /// [`super::DefaultCmm`]) with `cache` and the required max age.
    pub fn builder(
        underlying: Arc<C>,
        cache: Arc<dyn CryptographicMaterialsCache>,
        max_age: Duration,
    ) -> CachingCmmBuilder<C> {
        CachingCmmBuilder {
            underlying,
            cache,
            max_age,
            max_messages: DEFAULT_MAX_MESSAGES,
            max_bytes: DEFAULT_MAX_BYTES,
            partition: None,
            clock: Arc::new(SystemClock::default()),
            rng: crate::provider::SharedRng::default(),
        }
    }

    /// Cache id of an encryption request (MPL formula, SHA-384; required keys, when any, are
    /// appended so requests that store different pairs never share materials).
    pub fn encryption_cache_id(&self, req: &EncryptionRequest) -> Result<CacheId> {
        let mut h = IdInput::default();
        h.update([0x01, 0x00, 0x01, 0x00]);
        h.update(&self.partition);
        h.update([0x00]);
        match req.suite {
            None => h.update([0x00, 0x00]),
            Some(s) => {
                h.update([0x01, 0x00]);
                h.update(s.id_bytes());
                h.update([0x00]);
            }
        }
        h.update(req.encryption_context.serialize()?);
        if !req.required_encryption_context_keys.is_empty() {
            let mut keys = req.required_encryption_context_keys.clone();
            keys.sort();
            for k in keys {
                h.update([0x00]);
                h.update(k.as_bytes());
            }
        }
        h.finish(&req.backend)
    }

    /// Cache id of a decryption request (MPL formula, SHA-384; a reproduced context, when
    /// given, is appended because it changes the materials' context).
    pub fn decryption_cache_id(&self, req: &DecryptionRequest) -> Result<CacheId> {
        let mut h = IdInput::default();
        h.update([0x01, 0x00, 0x02, 0x00]);
        h.update(&self.partition);
        h.update([0x00]);
        h.update(req.suite.id_bytes());
        h.update([0x00]);
        let mut edks = req
            .encrypted_data_keys
            .iter()
            .map(|e| e.serialize())
            .collect::<Result<Vec<_>, _>>()?;
        edks.sort();
        for e in edks {
            h.update(e);
        }
        h.update([0x00]);
        h.update(req.encryption_context.serialize()?);
        if let Some(r) = &req.reproduced_encryption_context {
            h.update([0x00, 0x01]);
            h.update(r.serialize()?);
        }
        h.finish(&req.backend)
    }

    fn expiry(&self) -> Duration {
        self.clock.now().saturating_add(self.max_age)
    }

    fn valid_encrypt(req: &EncryptionRequest, m: &EncryptionMaterials) -> bool {
        req.commitment_policy.allows_encrypt(m.suite) && req.suite.is_none_or(|s| s == m.suite)
    }

    /// A cached entry for `req`, if one is there and valid (an invalid one is removed).
    fn cached_encryption(
        &self,
        id: &CacheId,
        req: &EncryptionRequest,
        bytes: u64,
    ) -> Option<EncryptionMaterials> {
        let m = self
            .cache
            .get_encryption(id, bytes, self.limits, self.clock.now())?;
        if Self::valid_encrypt(req, &m) {
            return Some(m);
        }
        self.cache.remove(id);
        None
    }

    /// Whether cached (or fresh) materials serve `req`: the request's suite, which
    /// [`Self::decrypt`] checked against the policy once, up front.
    fn valid_decrypt(req: &DecryptionRequest, m: &DecryptionMaterials) -> bool {
        m.suite == req.suite
    }

    fn cached_decryption(
        &self,
        id: &CacheId,
        req: &DecryptionRequest,
    ) -> Option<DecryptionMaterials> {
        let m = self.cache.get_decryption(id, self.clock.now())?;
        if Self::valid_decrypt(req, &m) {
            return Some(m);
        }
        self.cache.remove(id);
        None
    }

    async fn encrypt(&self, req: &EncryptionRequest) -> Result<EncryptionMaterials> {
        let bytes = match req.max_plaintext_length {
            Some(n) if n < self.limits.max_bytes => n,
            // Unknown length, or one no entry could serve: bypass the cache.
            _ => return self.underlying.get_encryption_materials(req).await,
        };
        if req.suite.is_some_and(|s| s.kdf() == Kdf::Identity) {
            return self.underlying.get_encryption_materials(req).await;
        }
        let id = self.encryption_cache_id(req)?;
        loop {
            if let Some(m) = self.cached_encryption(&id, req, bytes) {
                return Ok(m);
            }
            match self.join_or_lead(id) {
                Role::Follower(f) => {
                    if let Some(e) = f.await {
                        return Err(Error::Shared(e));
                    }
                }
                Role::Leader(guard) => {
                    // Another flight may have filled the entry since the look above.
                    if let Some(m) = self.cached_encryption(&id, req, bytes) {
                        return Ok(m);
                    }
                    // The materials will serve an entry: ask for its byte limit
                    // (caching-cmm.md), not this message's length.
                    let mut inner = req.clone();
                    inner.max_plaintext_length = Some(self.limits.max_bytes);
                    return match self.underlying.get_encryption_materials(&inner).await {
                        Ok(m) => {
                            if m.suite.kdf() != Kdf::Identity && Self::valid_encrypt(req, &m) {
                                self.cache
                                    .put_encryption(id, m.clone(), bytes, self.expiry());
                            }
                            Ok(m)
                        }
                        Err(e) => Err(guard.fail(e)),
                    };
                }
            }
        }
    }

    async fn decrypt(&self, req: &DecryptionRequest) -> Result<DecryptionMaterials> {
        if req.suite.kdf() == Kdf::Identity {
            return self.underlying.decrypt_materials(req).await;
        }
        // This layer's policy check, once per request: a cache hit answers without the
        // underlying manager (which checks on its own when it is asked).
        req.commitment_policy.check_decrypt(req.suite)?;
        let id = self.decryption_cache_id(req)?;
        loop {
            if let Some(m) = self.cached_decryption(&id, req) {
                return Ok(m);
            }
            match self.join_or_lead(id) {
                Role::Follower(f) => {
                    if let Some(e) = f.await {
                        return Err(Error::Shared(e));
                    }
                }
                Role::Leader(guard) => {
                    if let Some(m) = self.cached_decryption(&id, req) {
                        return Ok(m);
                    }
                    return match self.underlying.decrypt_materials(req).await {
                        Ok(m) => {
                            if Self::valid_decrypt(req, &m) {
                                self.cache.put_decryption(id, m.clone(), self.expiry());
                            }
                            Ok(m)
                        }
                        Err(e) => Err(guard.fail(e)),
                    };
                }
            }
        }
    }

    fn join_or_lead(&self, id: CacheId) -> Role {
        let mut map = lock(&self.in_flight);
        if let Some(f) = map.get(&id) {
            lock(&f.state).followers += 1;
            return Role::Follower(Wait(f.clone()));
        }
        let flight = Arc::new(Flight::default());
        map.insert(id, flight.clone());
        Role::Leader(LeadGuard {
            map: self.in_flight.clone(),
            id,
            flight,
            ended: false,
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// One in-flight call to the underlying manager that others wait for.
#[derive(Debug, Default)]
struct Flight {
    state: Mutex<FlightState>,
}

#[derive(Debug, Default)]
struct FlightState {
    ended: bool,
    /// The call's failure, shared with every waiter.
    failure: Option<Arc<Error>>,
    followers: usize,
    wakers: Vec<Waker>,
}

enum Role {
    Leader(LeadGuard),
    Follower(Wait),
}

/// Ends a flight when dropped (success, or the leader's future cancelled): waiters wake and
/// look at the cache again, and one of them leads the next call if the entry is not there.
/// [`LeadGuard::fail`] ends it with a failure that every waiter gets.
struct LeadGuard {
    map: Arc<Mutex<HashMap<CacheId, Arc<Flight>>>>,
    id: CacheId,
    flight: Arc<Flight>,
    ended: bool,
}

impl LeadGuard {
    /// Ends the flight with the call's error: shared with the waiters if there are any (then
    /// the leader returns it shared as well), else returned as it is.
    fn fail(mut self, e: Error) -> Error {
        // Out of the map first: from here on, newcomers start a new flight, so the follower
        // count read below is final.
        lock(&self.map).remove(&self.id);
        let shared;
        let wakers = {
            let mut s = lock(&self.flight.state);
            s.ended = true;
            if s.followers == 0 {
                self.ended = true;
                return e;
            }
            let arc = Arc::new(e);
            s.failure = Some(arc.clone());
            shared = Error::Shared(arc);
            std::mem::take(&mut s.wakers)
        };
        self.ended = true;
        for w in wakers {
            w.wake();
        }
        shared
    }
}

impl Drop for LeadGuard {
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        lock(&self.map).remove(&self.id);
        let wakers = {
            let mut s = lock(&self.flight.state);
            s.ended = true;
            std::mem::take(&mut s.wakers)
        };
        for w in wakers {
            w.wake();
        }
    }
}

/// Waits for a flight to end; yields its failure, if it failed.
struct Wait(Arc<Flight>);

impl Future for Wait {
    type Output = Option<Arc<Error>>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut s = lock(&self.0.state);
        if s.ended {
            Poll::Ready(s.failure.clone())
        } else {
            if !s.wakers.iter().any(|w| w.will_wake(cx.waker())) {
                s.wakers.push(cx.waker().clone());
            }
            Poll::Pending
        }
    }
}

impl<C: CryptographicMaterialsManager + ?Sized> CryptographicMaterialsManager for CachingCmm<C> {
    fn get_encryption_materials<'a>(
        &'a self,
        request: &'a EncryptionRequest,
    ) -> BoxFuture<'a, Result<EncryptionMaterials>> {
        Box::pin(self.encrypt(request))
    }
    fn decrypt_materials<'a>(
        &'a self,
        request: &'a DecryptionRequest,
    ) -> BoxFuture<'a, Result<DecryptionMaterials>> {
        Box::pin(self.decrypt(request))
    }
}

/// The bytes a cache id hashes, collected, then hashed with SHA-384 by the request's backend.
#[derive(Default)]
struct IdInput(Vec<u8>);

impl IdInput {
    fn update(&mut self, bytes: impl AsRef<[u8]>) {
        self.0.extend_from_slice(bytes.as_ref());
    }
    fn finish(self, backend: &crate::provider::Backend) -> Result<CacheId> {
        use crate::provider::StdProvider as _;
        let mut id: CacheId = [0; 48];
        let n = backend
            .hash(esdk_core::suite::HashAlg::Sha384, &[&self.0], &mut id)
            .map_err(esdk_core::Error::from)?;
        if n != id.len() {
            return Err(esdk_core::Error::from(esdk_core::error::CryptoError::Other).into());
        }
        Ok(id)
    }
}
