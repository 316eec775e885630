//! Quick end-to-end checks of the client and the adapters.
#![allow(missing_docs, clippy::unwrap_used, clippy::cast_possible_truncation)]

use esdk_std::keyring::{MultiKeyring, RawAesKeyring};
use esdk_std::stream::io::{
    DecryptingReader, DecryptingWriter, EncryptingReader, EncryptingWriter,
};
use esdk_std::{
    AlgorithmSuite, Client, CommitmentPolicy, DecryptOptions, EncryptOptions, EncryptionContext,
};
use std::io::{Read, Write};
use std::sync::Arc;

#[test]
fn client_and_streams_all_suites() {
    let aes = RawAesKeyring::new("ns", "k1", &[1u8; 32]).unwrap();
    let aes2 = RawAesKeyring::new("ns", "k2", &[2u8; 16]).unwrap();
    let multi = MultiKeyring::new(Some(Arc::new(aes)), vec![Arc::new(aes2)]).unwrap();
    let only2 = RawAesKeyring::new("ns", "k2", &[2u8; 16]).unwrap();
    let client = Client::builder()
        .commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
        .build();
    let fclient = Client::builder()
        .commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
        .build();
    let mut ec = EncryptionContext::new();
    ec.insert("a", "b");
    let pt: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    for suite in AlgorithmSuite::ALL {
        let c = if suite.is_committing() {
            &client
        } else {
            &fclient
        };
        let opts = EncryptOptions::keyring(&multi)
            .encryption_context(ec.clone())
            .suite(suite)
            .frame_length(1000);
        let enc = c.encrypt(&pt, &opts).unwrap();
        assert_eq!(enc.header.encrypted_data_keys.len(), 2);
        let dec = client
            .decrypt(&enc.ciphertext, &DecryptOptions::keyring(&only2))
            .unwrap();
        assert_eq!(dec.plaintext, pt);
        assert_eq!(dec.encryption_context.get("a"), Some("b"));
        // Write -> Read
        let mut w = EncryptingWriter::new(c, &opts, Vec::new()).unwrap();
        for chunk in pt.chunks(777) {
            w.write_all(chunk).unwrap();
        }
        let ct = w.finish().unwrap();
        let mut r =
            DecryptingReader::new(&client, &DecryptOptions::keyring(&multi), &ct[..]).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, pt);
        // Read -> Write
        let mut er = EncryptingReader::new(c, &opts, &pt[..]).unwrap();
        let mut ct2 = Vec::new();
        er.read_to_end(&mut ct2).unwrap();
        let mut dw = DecryptingWriter::new(&client, &DecryptOptions::keyring(&multi), Vec::new());
        for chunk in ct2.chunks(333) {
            dw.write_all(chunk).unwrap();
        }
        assert_eq!(dw.finish().unwrap(), pt);
        // Truncated stream errors.
        let mut r = DecryptingReader::new(
            &client,
            &DecryptOptions::keyring(&multi),
            &ct2[..ct2.len() - 1],
        )
        .unwrap();
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_err(), "{suite}");
    }
}

#[tokio::test]
async fn tokio_adapters() {
    use esdk_std::stream::tokio::{
        AsyncDecryptingReader, AsyncDecryptingWriter, AsyncEncryptingReader, AsyncEncryptingWriter,
    };
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let k = RawAesKeyring::new("ns", "k1", &[1u8; 32]).unwrap();
    let client = Client::default();
    let pt: Vec<u8> = (0..50_000u32).map(|i| (i * 7) as u8).collect();
    let opts = EncryptOptions::keyring(&k).frame_length(4096);
    let mut w = AsyncEncryptingWriter::new(&client, &opts, Vec::new())
        .await
        .unwrap();
    w.write_all(&pt).await.unwrap();
    w.shutdown().await.unwrap();
    let ct = w.into_inner();
    let mut r = AsyncDecryptingReader::new(&client, &DecryptOptions::keyring(&k), &ct[..])
        .await
        .unwrap();
    let mut out = Vec::new();
    r.read_to_end(&mut out).await.unwrap();
    assert_eq!(out, pt);
    let mut er = AsyncEncryptingReader::new(&client, &opts, &pt[..])
        .await
        .unwrap();
    let mut ct2 = Vec::new();
    er.read_to_end(&mut ct2).await.unwrap();
    let dopts = DecryptOptions::keyring(&k);
    let mut dw = AsyncDecryptingWriter::new(&client, &dopts, Vec::new());
    dw.write_all(&ct2).await.unwrap();
    dw.shutdown().await.unwrap();
    assert_eq!(dw.into_inner(), pt);
}
