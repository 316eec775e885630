//! One client and one keyring shared by many threads, and the `Send + Sync` guarantees.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::std_instead_of_core,
    clippy::cast_possible_truncation
)]

mod common;

use common::*;
use esdk_std::keyring::{MultiKeyring, RawAesKeyring, RawRsaKeyring};
use esdk_std::stream::io::{DecryptingReader, EncryptingWriter};
use esdk_std::{Client, DecryptOptions, DefaultCmm, EncryptOptions, RequiredEncryptionContextCmm};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const fn send_sync<T: Send + Sync>() {}
const fn send<T: Send>() {}

// Compile-time checks: sharing these across threads must keep compiling.
const _: () = {
    send_sync::<Client>();
    send_sync::<RawAesKeyring>();
    send_sync::<RawRsaKeyring>();
    send_sync::<MultiKeyring>();
    send_sync::<DefaultCmm>();
    send_sync::<RequiredEncryptionContextCmm>();
    send_sync::<esdk_std::Error>();
    send_sync::<esdk_std::Encrypted>();
    send_sync::<esdk_std::Decrypted>();
    send_sync::<EncryptOptions<'static>>();
    send_sync::<DecryptOptions<'static>>();
    send::<EncryptingWriter<Vec<u8>>>();
    send::<DecryptingReader<'static, &'static [u8]>>();
    send::<esdk_std::stream::io::DecryptingWriter<'static, Vec<u8>>>();
    send::<esdk_std::stream::tokio::AsyncEncryptingWriter<Vec<u8>>>();
    send::<esdk_std::stream::tokio::AsyncDecryptingReader<&'static [u8]>>();
    send::<esdk_std::stream::tokio::AsyncDecryptingWriter<'static, Vec<u8>>>();
};

#[test]
fn eight_threads_share_one_client_and_one_keyring() {
    const THREADS: usize = 8;
    const OPS: usize = 1000;
    let client = Arc::new(Client::default());
    let keyring = Arc::new(aes("shared", 1, 32));
    // A message every thread decrypts now and then, made before the threads start.
    let common_pt = bytes(5000, 99);
    let common_ct = Arc::new(
        client
            .encrypt(
                &common_pt,
                &EncryptOptions::keyring(&*keyring)
                    .suite(S0478)
                    .frame_length(1024),
            )
            .unwrap()
            .ciphertext,
    );
    let done = Arc::new(AtomicUsize::new(0));
    let signed = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let (client, keyring, common_ct, common_pt) = (
                client.clone(),
                keyring.clone(),
                common_ct.clone(),
                common_pt.clone(),
            );
            let (done, signed) = (done.clone(), signed.clone());
            std::thread::spawn(move || {
                let mut own: Option<(Vec<u8>, Vec<u8>)> = None;
                for i in 0..OPS / THREADS {
                    match i % 3 {
                        // Encrypt a new message (1 in 8 signed).
                        0 => {
                            let pt = bytes(100 + (t * 131 + i * 17) % 3000, (t * OPS + i) as u64);
                            let suite = if (t + i) % 8 == 0 { S0578 } else { S0478 };
                            if suite == S0578 {
                                signed.fetch_add(1, Ordering::SeqCst);
                            }
                            let opts = EncryptOptions::keyring(&*keyring)
                                .suite(suite)
                                .frame_length(512)
                                .encryption_context(ec(&[("thread", &t.to_string())]));
                            let ct = client.encrypt(&pt, &opts).unwrap().ciphertext;
                            own = Some((pt, ct));
                        }
                        // Decrypt this thread's last message.
                        1 => {
                            let (pt, ct) = own.take().unwrap();
                            let dec = client
                                .decrypt(&ct, &DecryptOptions::keyring(&*keyring))
                                .unwrap();
                            assert_eq!(dec.plaintext, pt);
                            assert_eq!(
                                dec.encryption_context.get("thread"),
                                Some(t.to_string().as_str())
                            );
                        }
                        // Decrypt the shared message.
                        _ => {
                            let dec = client
                                .decrypt(&common_ct, &DecryptOptions::keyring(&*keyring))
                                .unwrap();
                            assert_eq!(dec.plaintext, common_pt);
                        }
                    }
                    done.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(done.load(Ordering::SeqCst), OPS);
    assert!(signed.load(Ordering::SeqCst) > 0);
}
