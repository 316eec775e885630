//! An injectable, shareable random number generator.

use rand_core::{CryptoRng, CryptoRngCore, RngCore};
use std::sync::{Arc, Mutex};

/// The randomness every layer of this crate draws from: the operating system's generator by
/// default, or any [`CryptoRngCore`] the user injects (for example a seeded generator, so a
/// test is deterministic). Cloning shares the same generator.
#[derive(Clone, Default)]
pub struct SharedRng(Option<Arc<Mutex<dyn CryptoRngCore + Send>>>);

impl std::fmt::Debug for SharedRng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "SharedRng(injected)"
        } else {
            "SharedRng(OsRng)"
        })
    }
}

impl SharedRng {
    /// The operating system's generator (`getrandom`).
    pub fn os() -> Self {
        Self(None)
    }
    /// Shares `rng`. It must be a cryptographically secure generator: everything this crate
    /// generates (data keys, IVs, message ids, signing keys) comes from it.
    pub fn new(rng: impl CryptoRngCore + Send + 'static) -> Self {
        Self(Some(Arc::new(Mutex::new(rng))))
    }
}

impl RngCore for SharedRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        match &self.0 {
            None => rand_core::OsRng.fill_bytes(dest),
            Some(r) => match r.lock() {
                Ok(mut g) => g.fill_bytes(dest),
                Err(poisoned) => poisoned.into_inner().fill_bytes(dest),
            },
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        match &self.0 {
            None => rand_core::OsRng.try_fill_bytes(dest),
            Some(r) => match r.lock() {
                Ok(mut g) => g.try_fill_bytes(dest),
                Err(poisoned) => poisoned.into_inner().try_fill_bytes(dest),
            },
        }
    }
}

impl CryptoRng for SharedRng {}
