//! A blocking facade over an asynchronous keyring, for synchronous callers: the one-shot
//! [`esdk_std::Client::encrypt`] / [`esdk_std::Client::decrypt`], the `std::io` adapters and
//! esdk-std's synchronous [`esdk_std::keyring::MultiKeyring`].

use core::fmt;
use esdk_std::keyring::{AsyncKeyring, Keyring};
use esdk_std::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk_std::{EncryptedDataKey, Error, Result};
use std::sync::Arc;
use tokio::runtime::{Handle, Runtime, RuntimeFlavor};

#[derive(Clone)]
enum Rt {
    Owned(OwnedRuntime),
    Handle(Handle),
}

/// A shared runtime that, when the last reference goes, shuts down in the background: dropping
/// a Tokio runtime in the ordinary way blocks, and panics inside async code, so a
/// [`BlockingKeyring`] can be dropped anywhere.
struct OwnedRuntime(Option<Arc<Runtime>>);

impl Clone for OwnedRuntime {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl OwnedRuntime {
    fn get(&self) -> Option<&Runtime> {
        self.0.as_deref()
    }
}

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take().and_then(|a| Arc::try_unwrap(a).ok()) {
            rt.shutdown_background();
        }
    }
}

/// Runs an [`AsyncKeyring`] (e.g. a KMS keyring) to completion on a Tokio runtime that it owns
/// or is given, and implements esdk-std's synchronous [`Keyring`] with it.
///
/// It can be created and dropped anywhere, inside async code included: a runtime it owns is
/// shut down in the background when the last clone goes.
///
/// Each call blocks the calling thread until the keyring's KMS requests finish; they run on
/// the runtime (so the KMS clients' connection pools live there). Meant for threads outside any
/// runtime, and for `spawn_blocking` closures (there the work moves to a short-lived helper
/// thread, as Tokio forbids nested `block_on`). Asynchronous code should not use it (it would
/// block an executor thread): give it [`BlockingKeyring::inner`] with `Client::encrypt_async` /
/// `decrypt_async` or the tokio adapters instead.
#[derive(Clone)]
pub struct BlockingKeyring<K> {
    inner: K,
    rt: Rt,
}

impl<K: fmt::Debug> fmt::Debug for BlockingKeyring<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rt = match &self.rt {
            Rt::Owned(_) => "owned",
            Rt::Handle(_) => "handle",
        };
        f.debug_struct("BlockingKeyring")
            .field("inner", &self.inner)
            .field("runtime", &rt)
            .finish()
    }
}

impl<K: AsyncKeyring> BlockingKeyring<K> {
    /// Wraps `keyring` with a runtime of its own (multi-threaded, one worker thread).
    ///
    /// # Errors
    /// The runtime cannot be started.
    pub fn new(keyring: K) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("esdk-kms-blocking")
            .enable_all()
            .build()
            .map_err(Error::Io)?;
        Ok(Self {
            inner: keyring,
            rt: Rt::Owned(OwnedRuntime(Some(Arc::new(rt)))),
        })
    }

    /// Wraps `keyring` with a runtime you own (shared; it must have I/O and time drivers
    /// enabled). If this keyring (or a clone) holds the last reference, dropping it shuts the
    /// runtime down in the background.
    pub fn with_runtime(keyring: K, runtime: Arc<Runtime>) -> Self {
        Self {
            inner: keyring,
            rt: Rt::Owned(OwnedRuntime(Some(runtime))),
        }
    }

    /// Wraps `keyring` with a handle to a running multi-threaded runtime (a current-thread
    /// runtime cannot make progress while this thread blocks, so it is refused).
    ///
    /// # Errors
    /// A handle to a current-thread runtime.
    pub fn with_handle(keyring: K, handle: Handle) -> Result<Self> {
        if handle.runtime_flavor() == RuntimeFlavor::CurrentThread {
            return Err(
                crate::error::KmsConfigError::CurrentThreadRuntime.into_error("Tokio runtime")
            );
        }
        Ok(Self {
            inner: keyring,
            rt: Rt::Handle(handle),
        })
    }

    /// The asynchronous keyring, for asynchronous callers.
    pub fn inner(&self) -> &K {
        &self.inner
    }

    fn run<T: Send>(&self, fut: impl Future<Output = Result<T>> + Send) -> Result<T> {
        let block = move || match &self.rt {
            Rt::Owned(rt) => match rt.get() {
                Some(rt) => rt.block_on(fut),
                None => Err(Error::Internal("BlockingKeyring runtime already released")),
            },
            Rt::Handle(h) => h.block_on(fut),
        };
        if Handle::try_current().is_err() {
            return block();
        }
        // Inside a runtime context (a `spawn_blocking` closure, or async code misusing the
        // facade) Tokio forbids starting another `block_on` on this thread: run it on a scoped
        // helper thread instead and wait for it.
        std::thread::scope(|s| {
            s.spawn(block).join().unwrap_or_else(|_| {
                Err(Error::Internal(
                    "the BlockingKeyring helper thread panicked",
                ))
            })
        })
    }
}

impl<K: AsyncKeyring> Keyring for BlockingKeyring<K> {
    fn on_encrypt(&self, materials: &EncryptionMaterials) -> Result<EncryptionMaterials> {
        self.run(self.inner.on_encrypt(materials))
    }
    fn on_decrypt(
        &self,
        materials: &DecryptionMaterials,
        edks: &[EncryptedDataKey],
    ) -> Result<DecryptionMaterials> {
        self.run(self.inner.on_decrypt(materials, edks))
    }
}
