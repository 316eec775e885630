//! `BlockingKeyring` created, used and dropped in every kind of context a program has: plain
//! synchronous code, the async body of a multi-thread runtime, a current-thread runtime and
//! a spawned task (on both flavors), with a runtime of its own or one handed in. Dropping a
//! Tokio runtime the ordinary way inside async code panics ("Cannot drop a runtime in a
//! context where blocking is not allowed"); the facade shuts its runtime down in the
//! background instead. Each case also round-trips a message through `Client::encrypt` /
//! `Client::decrypt` (synchronous APIs; from async code they block the calling thread while
//! the KMS calls run on the facade's runtime) and must finish within a time bound, so a
//! regression that hangs fails instead of stalling the suite.

use super::*;
use std::sync::mpsc;
use std::time::Duration;
use tokio::runtime::{Builder, Runtime};

/// Runs `f` on its own thread and fails if it panics or takes longer than a minute.
fn within_a_minute(what: &str, f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => t.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The sender is gone without a message: `f` panicked; re-raise its panic.
            if let Err(p) = t.join() {
                std::panic::resume_unwind(p);
            }
            panic!("{what}: the thread ended without finishing");
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{what}: still running after 60 s (hang)"),
    }
}

/// A fresh KMS key, created from plain synchronous code.
fn fresh_key() -> String {
    let setup = Runtime::new().unwrap();
    let arn = setup.block_on(create_key(W2));
    drop(setup);
    arn
}

fn blocking(arn: &str) -> BlockingKeyring<AwsKmsKeyring> {
    BlockingKeyring::new(AwsKmsKeyring::new(arn, supplier()).unwrap()).unwrap()
}

/// Encrypts and decrypts through the synchronous client with `kr`.
fn round_trip(kr: &BlockingKeyring<AwsKmsKeyring>, arn: &str) {
    let client = Client::default();
    let pt: Vec<u8> = (0..5000u32).map(|i| (i % 253) as u8).collect();
    let sealed = client
        .encrypt(&pt, &EncryptOptions::keyring(kr).encryption_context(ec()))
        .unwrap();
    assert_eq!(edk_arns(&sealed.header.encrypted_data_keys), [arn]);
    let opened = client
        .decrypt(&sealed.ciphertext, &DecryptOptions::keyring(kr))
        .unwrap();
    assert_eq!(opened.plaintext, pt);
}

fn multi_thread() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn current_thread() -> Runtime {
    Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn blocking_keyring_in_plain_sync_code() {
    let _url = need_kms!("blocking_keyring_in_plain_sync_code");
    within_a_minute("plain sync code", || {
        let arn = fresh_key();
        let kr = blocking(&arn);
        round_trip(&kr, &arn);
        // A clone keeps the runtime alive; the last one shuts it down.
        let clone = kr.clone();
        drop(kr);
        round_trip(&clone, &arn);
        drop(clone);
        // A runtime handed in: the keyring holds the last reference when it drops.
        let given = BlockingKeyring::with_runtime(
            AwsKmsKeyring::new(&arn, supplier()).unwrap(),
            Arc::new(Runtime::new().unwrap()),
        );
        round_trip(&given, &arn);
        drop(given);
    });
}

/// The cases that run inside async code, on a runtime made by `make`.
fn inside_async(flavor: &'static str, make: fn() -> Runtime) {
    within_a_minute(flavor, move || {
        let arn = fresh_key();
        let rt = make();
        // Created, used and dropped in the runtime's async body.
        let a = arn.clone();
        rt.block_on(async move {
            let kr = blocking(&a);
            round_trip(&kr, &a);
            drop(kr);
        });
        // Created in plain code, used there and in async code, and dropped (its last clone)
        // in async code: the runtime it owns goes away inside the other runtime.
        let kr = blocking(&arn);
        round_trip(&kr, &arn);
        let a = arn.clone();
        rt.block_on(async move {
            round_trip(&kr, &a);
            drop(kr);
        });
        // Inside a spawned task: created, used across an await point, dropped.
        let a = arn.clone();
        rt.block_on(async move {
            tokio::spawn(async move {
                let kr = blocking(&a);
                tokio::task::yield_now().await;
                round_trip(&kr, &a);
                drop(kr);
            })
            .await
            .unwrap();
        });
        // A runtime handed in whose last reference the keyring holds, dropped in a task.
        let a = arn.clone();
        rt.block_on(async move {
            tokio::spawn(async move {
                let kr = BlockingKeyring::with_runtime(
                    AwsKmsKeyring::new(&a, supplier()).unwrap(),
                    Arc::new(multi_thread()),
                );
                round_trip(&kr, &a);
                drop(kr);
            })
            .await
            .unwrap();
        });
        // The caller's runtime itself shuts down normally afterwards.
        drop(rt);
    });
}

#[test]
fn blocking_keyring_inside_a_multi_thread_runtime() {
    let _url = need_kms!("blocking_keyring_inside_a_multi_thread_runtime");
    inside_async("multi-thread runtime", multi_thread);
}

#[test]
fn blocking_keyring_inside_a_current_thread_runtime() {
    let _url = need_kms!("blocking_keyring_inside_a_current_thread_runtime");
    inside_async("current-thread runtime", current_thread);
}
