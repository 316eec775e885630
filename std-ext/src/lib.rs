//! # esdk-std
//!
//! Keyrings, materials managers, the one-shot [`Client`] and the `std::io` and tokio stream
//! adapters for the AWS Encryption SDK message format. Everything here drives the sans-IO state
//! machines of [`esdk_core`]: there is no second implementation of the format.
//!
//! ```
//! use esdk_std::{Client, DecryptOptions, EncryptOptions, EncryptionContext, keyring::RawAesKeyring};
//! # fn main() -> Result<(), esdk_std::Error> {
//! let keyring = RawAesKeyring::new("my-namespace", "my-key", &[7u8; 32])?;
//! let client = Client::builder().build();
//! let mut ec = EncryptionContext::new();
//! ec.insert("purpose", "example");
//! let sealed = client.encrypt(b"secret", &EncryptOptions::keyring(&keyring).encryption_context(ec))?;
//! let opened = client.decrypt(&sealed.ciphertext, &DecryptOptions::keyring(&keyring))?;
//! assert_eq!(opened.plaintext, b"secret");
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::future::Future;

pub mod client;
pub mod cmm;
pub mod error;
pub mod keyring;
pub mod materials;
pub mod parallel;
pub mod provider;
pub mod ranged;
mod rsa_key;
pub mod stream;

pub use client::{Client, ClientBuilder, DecryptOptions, Decrypted, EncryptOptions, Encrypted};
pub use cmm::{CryptographicMaterialsManager, DefaultCmm, RequiredEncryptionContextCmm};
pub use error::{EdkFailure, Error, Result};
pub use esdk_core::{
    AlgorithmSuite, CommitmentPolicy, DecryptLimits, EncryptedDataKey, EncryptionContext, Header,
    SignaturePolicy,
};
pub use keyring::{AsyncKeyring, Keyring};
pub use provider::{Backend, SharedRng};
pub use rsa_key::{RsaKeyError, RsaPadding, RsaPrivateKey, RsaPublicKey};

/// Runs a future to completion on the current thread (used to drive materials managers from
/// synchronous code; futures of local keyrings complete at once).
pub fn block_on<F: Future>(fut: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    struct ThreadWaker(std::thread::Thread);
    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}
