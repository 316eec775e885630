//! Frame-parallel workers never outlive their call or adapter: after completion, errors,
//! dropped readers and writers (sync and tokio), no worker thread is left. One test, so the
//! thread counts of /proc/self/task are not disturbed by other tests of this binary.
#![cfg(feature = "tokio")] // the test also covers the tokio reader
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

mod common;

use common::*;
use esdk_std::stream::io::{
    DecryptingReader, DecryptingWriter, EncryptingReader, EncryptingWriter,
};
use esdk_std::stream::tokio::{
    AsyncDecryptingReader, AsyncDecryptingWriter, AsyncEncryptingReader, AsyncEncryptingWriter,
};
use esdk_std::{DecryptOptions, EncryptOptions};
use std::io::{Read, Write};

/// Worker threads of this process (named `esdk-frames-N`).
fn workers_alive() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with("esdk-frames-"))
        .count()
}

/// No worker thread is left. A joined thread can still be listed in /proc for a moment after
/// `join` returned (the kernel wakes the joiner before the task is gone), so this waits up to
/// 2 s for the list to drain; a worker that really outlived its owner stays and fails it.
fn assert_no_workers() {
    for _ in 0..200 {
        if workers_alive() == 0 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        workers_alive(),
        0,
        "a frame worker outlived its call or adapter"
    );
}

/// Exactly `n` workers are alive (waiting up to 2 s for new threads to name themselves: a
/// thread shows its parent's name until it first runs).
fn assert_workers(n: usize) {
    for _ in 0..200 {
        if workers_alive() == n {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(workers_alive(), n);
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn no_worker_outlives_its_call_or_adapter() {
    let kr = aes("k", 9, 32);
    let client = client_for(S0578);
    let pt = bytes(2 << 20, 11);
    let msg = client
        .encrypt(
            &pt,
            &EncryptOptions::keyring(&kr)
                .frame_length(4096)
                .parallelism(1),
        )
        .unwrap()
        .ciphertext;
    let base_threads = threads();
    assert_no_workers();

    // One-shot calls, success and failure.
    let d = client
        .decrypt(&msg, &DecryptOptions::keyring(&kr).parallelism(4))
        .unwrap();
    assert_eq!(d.plaintext, pt);
    assert_no_workers();
    let mut bad = msg.clone();
    bad[msg.len() / 2] ^= 1;
    assert!(
        client
            .decrypt(&bad, &DecryptOptions::keyring(&kr).parallelism(4))
            .is_err()
    );
    assert_no_workers();
    let e = client
        .encrypt(&pt, &EncryptOptions::keyring(&kr).parallelism(3))
        .unwrap();
    assert_no_workers();
    assert_eq!(
        client
            .decrypt(&e.ciphertext, &DecryptOptions::keyring(&kr))
            .unwrap()
            .plaintext,
        pt
    );
    assert_no_workers();

    // A reader dropped mid-stream: workers run while it reads, none after the drop.
    let mut r = DecryptingReader::new(
        &client,
        &DecryptOptions::keyring(&kr).parallelism(4),
        &msg[..],
    )
    .unwrap();
    let mut buf = vec![0u8; 300_000];
    r.read_exact(&mut buf).unwrap();
    assert_eq!(buf[..], pt[..300_000]);
    assert_eq!(r.running_workers(), 4);
    assert_workers(4);
    drop(r);
    assert_no_workers();

    // A reader that fails: workers stopped at the error, before the reader is dropped.
    let mut r = DecryptingReader::new(
        &client,
        &DecryptOptions::keyring(&kr).parallelism(3),
        &bad[..],
    )
    .unwrap();
    let mut out = Vec::new();
    let err = r.read_to_end(&mut out).unwrap_err();
    assert_eq!(
        core_of_io(&err),
        Some(esdk_core::Error::Authentication(
            esdk_core::error::AuthStage::FrameTag
        ))
    );
    assert!(out.len() < msg.len() / 2);
    assert_eq!(r.running_workers(), 0);
    assert_no_workers();
    // Sticky: the next read fails again.
    assert!(r.read(&mut buf).is_err());
    drop(r);

    // Parallelism 1 starts no thread.
    let mut r = DecryptingReader::new(&client, &DecryptOptions::keyring(&kr), &msg[..]).unwrap();
    r.read_exact(&mut buf).unwrap();
    assert_eq!(r.running_workers(), 0);
    assert_no_workers();
    drop(r);

    // A decrypting writer dropped mid-message, and one that fails.
    let mut w = DecryptingWriter::new(
        &client,
        &DecryptOptions::keyring(&kr).parallelism(3),
        Vec::new(),
    );
    w.write_all(&msg[..msg.len() / 2]).unwrap();
    assert_eq!(w.running_workers(), 3);
    drop(w);
    assert_no_workers();
    let mut w = DecryptingWriter::new(
        &client,
        &DecryptOptions::keyring(&kr).parallelism(3),
        Vec::new(),
    );
    let failed = w.write_all(&bad).and_then(|()| w.try_finish());
    assert!(failed.is_err());
    assert_eq!(w.running_workers(), 0);
    assert_no_workers();
    drop(w);

    // An encrypting reader dropped mid-stream, and one read to the end.
    let eopts = EncryptOptions::keyring(&kr)
        .frame_length(4096)
        .parallelism(3);
    let mut r = EncryptingReader::new(&client, &eopts, &pt[..]).unwrap();
    r.read_exact(&mut buf).unwrap();
    assert_eq!(r.running_workers(), 3);
    drop(r);
    assert_no_workers();
    let mut r = EncryptingReader::new(&client, &eopts, &pt[..]).unwrap();
    let mut all = Vec::new();
    r.read_to_end(&mut all).unwrap();
    assert_eq!(r.running_workers(), 0);
    assert_no_workers();
    drop(r);

    // A writer dropped without finishing.
    let mut w = EncryptingWriter::new(
        &client,
        &EncryptOptions::keyring(&kr)
            .frame_length(4096)
            .parallelism(3),
        Vec::new(),
    )
    .unwrap();
    w.write_all(&pt[..1 << 20]).unwrap();
    assert_eq!(w.running_workers(), 3);
    drop(w);
    assert_no_workers();

    // A writer whose sink fails.
    struct Failing;
    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::ErrorKind::BrokenPipe.into())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut w = EncryptingWriter::new(
        &client,
        &EncryptOptions::keyring(&kr)
            .frame_length(4096)
            .parallelism(2),
        Failing,
    )
    .unwrap();
    assert!(w.write_all(&pt).is_err());
    drop(w);
    assert_no_workers();

    // tokio: read part, drop; read all; fail; the other three adapters.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let d = |n| DecryptOptions::keyring(&kr).parallelism(n);
        let mut r = AsyncDecryptingReader::new(&client, &d(4), &msg[..])
            .await
            .unwrap();
        let mut part = vec![0u8; 100_000];
        r.read_exact(&mut part).await.unwrap();
        assert_eq!(part[..], pt[..100_000]);
        assert_workers(4);
        drop(r);
        assert_no_workers();
        let mut r = AsyncDecryptingReader::new(&client, &d(2), &msg[..])
            .await
            .unwrap();
        let mut all = Vec::new();
        r.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, pt);
        drop(r);
        let mut r = AsyncDecryptingReader::new(&client, &d(2), &bad[..])
            .await
            .unwrap();
        let mut all = Vec::new();
        assert!(r.read_to_end(&mut all).await.is_err());
        assert!(all.len() < msg.len() / 2);
        assert_no_workers();
        drop(r);

        let mut w = AsyncDecryptingWriter::new(&client, &d(3), Vec::new());
        w.write_all(&msg[..msg.len() / 2]).await.unwrap();
        assert_eq!(w.running_workers(), 3);
        drop(w);
        assert_no_workers();
        let mut w = AsyncDecryptingWriter::new(&client, &d(3), Vec::new());
        w.write_all(&msg).await.unwrap();
        w.shutdown().await.unwrap();
        assert!(w.into_inner() == pt);
        assert_no_workers();

        let eopts = EncryptOptions::keyring(&kr)
            .frame_length(4096)
            .parallelism(3);
        let mut w = AsyncEncryptingWriter::new(&client, &eopts, Vec::new())
            .await
            .unwrap();
        w.write_all(&pt[..1 << 20]).await.unwrap();
        assert_eq!(w.running_workers(), 3);
        drop(w);
        assert_no_workers();
        let mut r = AsyncEncryptingReader::new(&client, &eopts, &pt[..])
            .await
            .unwrap();
        let mut part = vec![0u8; 300_000];
        r.read_exact(&mut part).await.unwrap();
        assert_eq!(r.running_workers(), 3);
        drop(r);
        assert_no_workers();
    });
    assert_no_workers();
    // The same drain as in `assert_no_workers`, for every thread of the process.
    for _ in 0..200 {
        if threads() == base_threads {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(threads(), base_threads);
}
