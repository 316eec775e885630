//! A user-supplied provider plugged in with `Backend::custom`: it serves the one-shot client,
//! the std::io and tokio adapters, the default and caching materials managers and the raw AES
//! and ECDH keyrings (every primitive call counted), its messages interoperate with the
//! built-in backends, and a primitive it lacks fails the operation instead of falling back.
#![allow(missing_docs, clippy::unwrap_used, clippy::cast_possible_truncation)]

#[path = "support/counting_provider.rs"]
mod counting_provider;

use counting_provider::{Counting, get};
use esdk_std::cmm::cache::LocalCache;
use esdk_std::cmm::{CachingCmm, DefaultCmm};
use esdk_std::keyring::RawAesKeyring;
use esdk_std::keyring::raw_ecdh::{EcPrivateKey, EcdhCurve, RawEcdhKeyring};
use esdk_std::stream::io::{DecryptingReader, EncryptingWriter};
use esdk_std::{AlgorithmSuite, Backend, Client, DecryptOptions, EncryptOptions};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

fn custom() -> (Backend, Counting) {
    let p = Counting::default();
    (Backend::custom(p.clone()), p)
}

fn plaintext(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + 3) as u8).collect()
}

#[test]
fn one_shot_round_trip_every_suite_through_the_custom_provider() {
    let keyring = RawAesKeyring::new("ns", "key", &[5u8; 32]).unwrap();
    let pt = plaintext(10_000);
    for suite in AlgorithmSuite::ALL {
        let (backend, p) = custom();
        let policy = if suite.is_committing() {
            esdk_std::CommitmentPolicy::RequireEncryptAllowDecrypt
        } else {
            esdk_std::CommitmentPolicy::ForbidEncryptAllowDecrypt
        };
        let client = Client::builder()
            .backend(backend.clone())
            .frame_length(1024)
            .commitment_policy(policy)
            .build();
        let opts = EncryptOptions::keyring(&keyring).suite(suite);
        let ct = client.encrypt(&pt, &opts).unwrap().ciphertext;
        let c = &p.counts;
        let frames = pt.len().div_ceil(1024);
        // One data-key wrap (raw AES keyring) + one frame key; one header tag; every frame
        // sealed by the custom provider.
        assert!(get(&c.aead_key) >= 2, "{suite:?}");
        assert!(get(&c.seal) > frames, "{suite:?}: {} seals", get(&c.seal));
        let signed = suite.signature().is_some();
        assert_eq!(get(&c.ecdsa_sign), usize::from(signed), "{suite:?}");
        if signed {
            assert!(get(&c.digest_update) > 0);
        }
        let seals = get(&c.seal);
        let back = client
            .decrypt(&ct, &DecryptOptions::keyring(&keyring))
            .unwrap();
        assert_eq!(back.plaintext, pt, "{suite:?}");
        assert_eq!(get(&c.seal), seals, "decrypt seals nothing");
        assert!(get(&c.open) > frames, "{suite:?}");
        assert_eq!(get(&c.ecdsa_verify), usize::from(signed), "{suite:?}");
        // The built-in backend reads it, and the custom provider reads the built-in's.
        let builtin = Client::builder()
            .commitment_policy(policy)
            .frame_length(1024)
            .build();
        let other = builtin
            .decrypt(&ct, &DecryptOptions::keyring(&keyring))
            .unwrap();
        assert_eq!(other.plaintext, pt);
        let ct2 = builtin.encrypt(&pt, &opts).unwrap().ciphertext;
        let opens = get(&c.open);
        let back = client
            .decrypt(&ct2, &DecryptOptions::keyring(&keyring))
            .unwrap();
        assert_eq!(back.plaintext, pt);
        assert!(get(&c.open) > opens + frames);
    }
}

#[test]
fn std_io_adapters_use_the_custom_provider() {
    let keyring = RawAesKeyring::new("ns", "key", &[6u8; 32]).unwrap();
    let (backend, p) = custom();
    let client = Client::builder()
        .backend(backend)
        .frame_length(4096)
        .build();
    let pt = plaintext(100_000);
    let mut w =
        EncryptingWriter::new(&client, &EncryptOptions::keyring(&keyring), Vec::new()).unwrap();
    for chunk in pt.chunks(1000) {
        w.write_all(chunk).unwrap();
    }
    let ct = w.finish().unwrap();
    let frames = pt.len().div_ceil(4096);
    assert!(get(&p.counts.seal) > frames);
    let mut r =
        DecryptingReader::new(&client, &DecryptOptions::keyring(&keyring), &ct[..]).unwrap();
    let mut back = Vec::new();
    r.read_to_end(&mut back).unwrap();
    assert_eq!(back, pt);
    assert!(get(&p.counts.open) > frames);
    assert_eq!(get(&p.counts.ecdsa_sign), 1);
    assert_eq!(get(&p.counts.ecdsa_verify), 1);
}

#[test]
fn tokio_adapters_use_the_custom_provider() {
    use esdk_std::stream::tokio::{AsyncDecryptingReader, AsyncEncryptingWriter};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        let keyring = RawAesKeyring::new("ns", "key", &[8u8; 32]).unwrap();
        let (backend, p) = custom();
        let client = Client::builder()
            .backend(backend)
            .frame_length(4096)
            .build();
        let pt = plaintext(50_000);
        let mut w =
            AsyncEncryptingWriter::new(&client, &EncryptOptions::keyring(&keyring), Vec::new())
                .await
                .unwrap();
        w.write_all(&pt).await.unwrap();
        w.shutdown().await.unwrap();
        let ct = w.into_inner();
        let frames = pt.len().div_ceil(4096);
        assert!(get(&p.counts.seal) > frames);
        let mut r =
            AsyncDecryptingReader::new(&client, &DecryptOptions::keyring(&keyring), &ct[..])
                .await
                .unwrap();
        let mut back = Vec::new();
        r.read_to_end(&mut back).await.unwrap();
        assert_eq!(back, pt);
        assert!(get(&p.counts.open) > frames);
    });
}

#[test]
fn caching_cmm_cache_ids_are_hashed_by_the_custom_provider() {
    let keyring = RawAesKeyring::new("ns", "key", &[9u8; 32]).unwrap();
    let cmm = CachingCmm::builder(
        Arc::new(DefaultCmm::new(keyring)),
        Arc::new(LocalCache::new(10)),
        Duration::from_secs(60),
    )
    .build()
    .unwrap();
    let (backend, p) = custom();
    let client = Client::builder().backend(backend).build();
    let suite = AlgorithmSuite::from_id(0x0478).unwrap();
    let opts = EncryptOptions::cmm(&cmm).suite(suite);
    let a = client.encrypt(b"one", &opts).unwrap().ciphertext;
    let b = client.encrypt(b"two", &opts).unwrap().ciphertext;
    // Two encryption cache ids hashed by the custom provider; the second hit the cache, so
    // the underlying keyring wrapped once (one aead_key for the wrap, one per message).
    assert_eq!(get(&p.counts.hash), 2);
    assert_eq!(get(&p.counts.aead_key), 3);
    for ct in [a, b] {
        client.decrypt(&ct, &DecryptOptions::cmm(&cmm)).unwrap();
    }
    assert_eq!(get(&p.counts.hash), 4);
}

#[test]
fn raw_ecdh_agreement_kdf_and_wrapping_run_on_the_custom_provider() {
    for curve in [EcdhCurve::P256, EcdhCurve::P384, EcdhCurve::P521] {
        let recipient = EcPrivateKey::generate(curve);
        let sender = EcPrivateKey::generate(curve);
        let encrypting = RawEcdhKeyring::ephemeral(recipient.public_key());
        let fixed = RawEcdhKeyring::static_keys(sender, recipient.public_key()).unwrap();
        let decrypting = RawEcdhKeyring::discovery(recipient);
        let (backend, p) = custom();
        let client = Client::builder().backend(backend).build();
        let ct = client
            .encrypt(b"ecdh", &EncryptOptions::keyring(&encrypting))
            .unwrap()
            .ciphertext;
        // Ephemeral public key + agreement; two HMAC blocks.
        assert_eq!(get(&p.counts.ecdh), 2, "{curve}");
        assert_eq!(get(&p.counts.hmac), 2, "{curve}");
        let pt = client
            .decrypt(&ct, &DecryptOptions::keyring(&decrypting))
            .unwrap()
            .plaintext;
        assert_eq!(pt, b"ecdh");
        assert_eq!(get(&p.counts.ecdh), 3, "{curve}");
        assert_eq!(get(&p.counts.hmac), 4, "{curve}");
        // Both points of the message's provider info validated by the custom provider.
        assert_eq!(get(&p.counts.ec_keys), 2, "{curve}");
        // The static schema, read back by the built-in backend.
        let ct = client
            .encrypt(b"static", &EncryptOptions::keyring(&fixed))
            .unwrap()
            .ciphertext;
        let pt = Client::builder()
            .build()
            .decrypt(&ct, &DecryptOptions::keyring(&decrypting))
            .unwrap()
            .plaintext;
        assert_eq!(pt, b"static");
        // Key objects parsed, checked and encoded by the chosen backend.
        let keys_before = get(&p.counts.ec_keys);
        let der = client_backend_key_roundtrip(&p, curve);
        assert_eq!(get(&p.counts.ec_keys), keys_before + 4, "{curve}");
        assert!(!der.is_empty());
    }
}

/// Parses a generated key pair through `p` (PKCS#8 out and in, SPKI in and out): four calls.
fn client_backend_key_roundtrip(p: &Counting, curve: EcdhCurve) -> Vec<u8> {
    use esdk_std::keyring::raw_ecdh::EcPublicKey;
    let backend = Backend::custom(p.clone());
    let key = EcPrivateKey::generate(curve);
    let pem = key.to_pkcs8_pem_with(&backend).unwrap();
    let back = EcPrivateKey::from_pem_with(&backend, curve, &pem).unwrap();
    assert_eq!(back.public_key(), key.public_key());
    let public = EcPublicKey::from_der_with(&backend, curve, &key.public_key().to_der()).unwrap();
    assert_eq!(public, key.public_key());
    public.to_der_with(&backend).unwrap()
}

#[test]
fn a_primitive_the_custom_provider_lacks_fails_instead_of_falling_back() {
    let recipient = EcPrivateKey::generate(EcdhCurve::P256);
    let encrypting = RawEcdhKeyring::ephemeral(recipient.public_key());
    let decrypting = RawEcdhKeyring::discovery(recipient);
    let p = Counting {
        no_ecdh: true,
        ..Counting::default()
    };
    let client = Client::builder().backend(Backend::custom(p)).build();
    assert!(
        client
            .encrypt(b"x", &EncryptOptions::keyring(&encrypting))
            .is_err()
    );
    let ct = Client::builder()
        .build()
        .encrypt(b"x", &EncryptOptions::keyring(&encrypting))
        .unwrap()
        .ciphertext;
    assert!(
        client
            .decrypt(&ct, &DecryptOptions::keyring(&decrypting))
            .is_err()
    );
}

#[test]
fn custom_backends_compare_by_instance_and_name_their_type() {
    let a = Backend::custom(Counting::default());
    let b = Backend::custom(Counting::default());
    assert_eq!(a, a.clone());
    assert_ne!(a, b);
    assert_ne!(a, Backend::default());
    assert!(a.name().ends_with("Counting"), "{}", a.name());
    assert!(!Backend::all().contains(&a));
}

#[test]
fn a_digest_of_another_custom_provider_is_refused() {
    use esdk_core::crypto::CryptoProvider as _;
    use esdk_core::suite::SignatureAlg;
    let a = Backend::custom(Counting::default());
    let b = Backend::custom(esdk_core::crypto::rustcrypto::RustCrypto);
    let alg = SignatureAlg::EcdsaP256Sha256;
    let mut secret = [0u8; 32];
    let mut public = [0u8; 33];
    let mut rng = rand_core::OsRng;
    a.ecdsa_generate_pair(alg, &mut rng, &mut secret, &mut public)
        .unwrap();
    let mut sig = [0u8; 72];
    // A digest of `b` handed to `a`: an error, not a signature over something else.
    assert!(
        a.ecdsa_sign(alg, &secret, b.digest(alg), &mut rng, &mut sig)
            .is_err()
    );
    let n = a
        .ecdsa_sign(alg, &secret, a.digest(alg), &mut rng, &mut sig)
        .unwrap();
    assert!(
        a.ecdsa_verify(alg, &public, b.digest(alg), &sig[..n])
            .is_err()
    );
    a.ecdsa_verify(alg, &public, a.digest(alg), &sig[..n])
        .unwrap();
}
