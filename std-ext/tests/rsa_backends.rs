//! The raw RSA keyring on the chosen backend: its wrap and unwrap run on the operation's
//! backend (counted through a custom provider), keys move between backends by import (once per
//! backend), every backend reads every other's wraps, a backend without RSA fails with the
//! typed error (never another backend's result), and key errors are the same on every backend.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;
#[path = "support/counting_provider.rs"]
mod counting_provider;

use common::rsa_keys::{pkcs1_public_der, test_modulus};
use common::{NS, rsa_4096_pems};
use counting_provider::{Counting, get};
use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_std::keyring::RawRsaKeyring;
use esdk_std::{
    Backend, Client, DecryptOptions, EncryptOptions, Error, RsaKeyError, RsaPadding, RsaPrivateKey,
    RsaPublicKey,
};
use rand_core::OsRng;

/// Every built-in backend compiled in, and RustCrypto as a custom provider (so the pure-Rust
/// RSA runs in every build).
fn backends() -> Vec<Backend> {
    let mut all = Backend::all().to_vec();
    all.push(Backend::custom(RustCrypto));
    all
}

/// The `RsaKeyError` somewhere in an error's source chain.
fn rsa_error(e: &(dyn std::error::Error + 'static)) -> Option<RsaKeyError> {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if let Some(r) = err.downcast_ref::<RsaKeyError>() {
            return Some(r.clone());
        }
        cur = err.source();
    }
    None
}

#[test]
fn every_backend_unwraps_what_every_backend_wraps() {
    let (pub_pem, priv_pem) = rsa_4096_pems();
    let all = backends();
    let mut turn = 0;
    for parsed_by in &all {
        let public = RsaPublicKey::from_pem_with(parsed_by, &pub_pem).unwrap();
        let private = RsaPrivateKey::from_pem_with(parsed_by, &priv_pem).unwrap();
        assert_eq!(public.backend(), parsed_by);
        assert_eq!(private.modulus_bits(), 4096);
        for wrap_on in &all {
            for unwrap_on in &all {
                // One padding per combination, each padding in turn.
                turn += 1;
                {
                    let padding = RsaPadding::ALL[turn % RsaPadding::ALL.len()];
                    let dk = [0x5Au8; 32];
                    let ct = public.wrap_with(wrap_on, padding, &dk, &mut OsRng).unwrap();
                    assert_eq!(ct.len(), 512);
                    let back = private.unwrap_with(unwrap_on, padding, &ct).unwrap();
                    assert_eq!(
                        back.as_slice(),
                        dk,
                        "{parsed_by:?} {wrap_on:?} {unwrap_on:?}"
                    );
                    // Bad lengths and a wrong padding fail with the one opaque error.
                    assert_eq!(
                        private.unwrap_with(unwrap_on, padding, &ct[1..]),
                        Err(RsaKeyError::DecryptionFailed)
                    );
                    let other = if padding == RsaPadding::OaepSha256 {
                        RsaPadding::OaepSha512
                    } else {
                        RsaPadding::OaepSha256
                    };
                    assert_eq!(
                        private.unwrap_with(unwrap_on, other, &ct),
                        Err(RsaKeyError::DecryptionFailed)
                    );
                }
            }
        }
    }
}

#[test]
fn the_keyring_runs_on_the_clients_custom_provider() {
    let (pub_pem, priv_pem) = rsa_4096_pems();
    for padding in RsaPadding::ALL {
        // Keys parsed by the default backend; the client's backend is the counting provider.
        let keyring =
            RawRsaKeyring::from_pem(NS, "k", padding, Some(&pub_pem), Some(&priv_pem)).unwrap();
        let p = Counting::default();
        let client = Client::builder()
            .backend(Backend::custom(p.clone()))
            .build();
        let c = &p.counts;
        let ct = client
            .encrypt(b"hello", &EncryptOptions::keyring(&keyring))
            .unwrap()
            .ciphertext;
        // The public key imported once into the provider, one wrap there.
        assert_eq!(
            (get(&c.rsa_keys), get(&c.rsa_encrypt)),
            (1, 1),
            "{padding:?}"
        );
        for round in 1..=3 {
            let back = client
                .decrypt(&ct, &DecryptOptions::keyring(&keyring))
                .unwrap();
            assert_eq!(back.plaintext, b"hello");
            // The private key imported once (the first round), one unwrap per decrypt.
            assert_eq!(get(&c.rsa_keys), 2, "{padding:?}");
            assert_eq!(get(&c.rsa_decrypt), round, "{padding:?}");
        }
        let again = client
            .encrypt(b"hello", &EncryptOptions::keyring(&keyring))
            .unwrap()
            .ciphertext;
        assert_eq!((get(&c.rsa_keys), get(&c.rsa_encrypt)), (2, 2));
        // The default backend reads the provider's message, and the provider reads the
        // default backend's (without importing anything more).
        let default = Client::default();
        let back = default
            .decrypt(&again, &DecryptOptions::keyring(&keyring))
            .unwrap();
        assert_eq!(back.plaintext, b"hello");
        let ct2 = default
            .encrypt(b"other", &EncryptOptions::keyring(&keyring))
            .unwrap()
            .ciphertext;
        assert_eq!(
            get(&c.rsa_encrypt),
            2,
            "the default client wrapped on its own backend"
        );
        let back = client
            .decrypt(&ct2, &DecryptOptions::keyring(&keyring))
            .unwrap();
        assert_eq!(back.plaintext, b"other");
        assert_eq!((get(&c.rsa_keys), get(&c.rsa_decrypt)), (2, 4));
    }
}

#[test]
fn a_keyring_built_with_the_provider_parses_with_it() {
    let (pub_pem, priv_pem) = rsa_4096_pems();
    let p = Counting::default();
    let backend = Backend::custom(p.clone());
    let keyring = RawRsaKeyring::from_pem_with(
        &backend,
        NS,
        "k",
        RsaPadding::OaepSha256,
        Some(&pub_pem),
        Some(&priv_pem),
    )
    .unwrap();
    assert_eq!(get(&p.counts.rsa_keys), 2);
    let client = Client::builder().backend(backend).build();
    let ct = client
        .encrypt(b"x", &EncryptOptions::keyring(&keyring))
        .unwrap()
        .ciphertext;
    client
        .decrypt(&ct, &DecryptOptions::keyring(&keyring))
        .unwrap();
    // No import: the keys are the provider's own.
    assert_eq!(get(&p.counts.rsa_keys), 2);
    assert_eq!(get(&p.counts.rsa_encrypt), 1);
    assert_eq!(get(&p.counts.rsa_decrypt), 1);
}

#[test]
fn a_provider_without_rsa_gives_the_typed_error_and_nothing_else_runs() {
    let (pub_pem, priv_pem) = rsa_4096_pems();
    let p = Counting {
        no_rsa: true,
        ..Counting::default()
    };
    let backend = Backend::custom(p.clone());
    assert!(!backend.rsa_side_channel_safe());
    // Parsing with it.
    assert_eq!(
        RsaPublicKey::from_pem_with(&backend, &pub_pem).unwrap_err(),
        RsaKeyError::Unsupported
    );
    assert_eq!(
        RsaPrivateKey::from_pem_with(&backend, &priv_pem).unwrap_err(),
        RsaKeyError::Unsupported
    );
    match RawRsaKeyring::from_pem_with(
        &backend,
        NS,
        "k",
        RsaPadding::Pkcs1V15,
        Some(&pub_pem),
        None,
    ) {
        Err(Error::Rsa(RsaKeyError::Unsupported)) => {}
        other => panic!("{other:?}"),
    }
    // Keys parsed by the default backend, operations on the provider: the operation fails
    // with the typed error; the default backend is not used instead.
    let keyring = RawRsaKeyring::from_pem(
        NS,
        "k",
        RsaPadding::OaepSha1,
        Some(&pub_pem),
        Some(&priv_pem),
    )
    .unwrap();
    let client = Client::builder().backend(backend).build();
    let err = client
        .encrypt(b"x", &EncryptOptions::keyring(&keyring))
        .unwrap_err();
    assert_eq!(rsa_error(&err), Some(RsaKeyError::Unsupported), "{err}");
    let ct = Client::default()
        .encrypt(b"x", &EncryptOptions::keyring(&keyring))
        .unwrap()
        .ciphertext;
    let err = client
        .decrypt(&ct, &DecryptOptions::keyring(&keyring))
        .unwrap_err();
    let Error::NoDecryptableKey(failures) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(failures.len(), 1);
    assert_eq!(
        failures[0].source().and_then(rsa_error),
        Some(RsaKeyError::Unsupported),
        "{err}"
    );
    assert_eq!(get(&p.counts.rsa_encrypt) + get(&p.counts.rsa_decrypt), 0);
    assert_eq!(
        RsaKeyError::Unsupported.to_string(),
        "the crypto backend does not support RSA"
    );
}

#[test]
fn side_channel_status_is_the_backends() {
    #[cfg(feature = "aws-lc")]
    assert!(Backend::AwsLc.rsa_side_channel_safe());
    #[cfg(feature = "rustcrypto")]
    assert!(!Backend::RustCrypto.rsa_side_channel_safe());
    assert!(!Backend::custom(RustCrypto).rsa_side_channel_safe());
    assert!(!Backend::custom(Counting::default()).rsa_side_channel_safe());
}

/// Loads a key with the backend given.
type Case<'a, K> = Box<dyn Fn(&Backend) -> Result<K, RsaKeyError> + 'a>;

#[test]
fn key_errors_are_the_same_on_every_backend() {
    let (pub_pem, priv_pem) = rsa_4096_pems();
    let garbage = [0x30, 0x03, 0x02, 0x01, 0x00];
    let all = backends();
    let reference = &all[0];
    let public_cases: Vec<Case<'_, RsaPublicKey>> = vec![
        Box::new(|b| RsaPublicKey::from_der_with(b, &garbage)),
        Box::new(|b| RsaPublicKey::from_der_with(b, &[])),
        Box::new(|b| RsaPublicKey::from_pem_with(b, "not a key")),
        Box::new(|b| RsaPublicKey::from_pem_with(b, &priv_pem)),
        Box::new(|b| {
            RsaPublicKey::from_pem_with(b, &pub_pem.replace("PUBLIC KEY", "RSA PUBLIC KEY"))
        }),
    ];
    for case in &public_cases {
        let expected = case(reference).unwrap_err();
        for b in &all {
            assert_eq!(case(b).unwrap_err(), expected, "{b:?}");
        }
    }
    let private_cases: Vec<Case<'_, RsaPrivateKey>> = vec![
        Box::new(|b| RsaPrivateKey::from_der_with(b, &garbage)),
        Box::new(|b| RsaPrivateKey::from_pem_with(b, "")),
        Box::new(|b| RsaPrivateKey::from_pem_with(b, &pub_pem)),
        Box::new(|b| {
            RsaPrivateKey::from_pem_with(b, &priv_pem.replace("PRIVATE KEY", "RSA PRIVATE KEY"))
        }),
    ];
    for case in &private_cases {
        let expected = case(reference).unwrap_err();
        for b in &all {
            assert_eq!(case(b).unwrap_err(), expected, "{b:?}");
        }
    }
    // Small keys and unusable numbers, written as PKCS#1 DER by hand.
    for (n, e, expected) in [
        (
            test_modulus(1024, true),
            vec![1, 0, 1],
            RsaKeyError::KeyTooSmall {
                bits: 1024,
                min: 2048,
            },
        ),
        (
            test_modulus(2048, false),
            vec![1, 0, 1],
            RsaKeyError::InvalidPublicKey,
        ),
        (
            test_modulus(2048, true),
            vec![1],
            RsaKeyError::InvalidPublicKey,
        ),
        (
            test_modulus(16392, true),
            vec![1, 0, 1],
            RsaKeyError::KeyTooLarge {
                bits: 16392,
                max: 16384,
            },
        ),
    ] {
        let der = pkcs1_public_der(&n, &e);
        for b in &all {
            assert_eq!(
                RsaPublicKey::from_der_with(b, &der).unwrap_err(),
                expected,
                "{b:?}"
            );
        }
    }
    // Public keys above AWS-LC's 8192 bits wrap on every backend (aws-lc: with the pure-Rust
    // public operation).
    let big =
        RsaPublicKey::from_der(&pkcs1_public_der(&test_modulus(12288, true), &[1, 0, 1])).unwrap();
    for b in &all {
        let ct = big
            .wrap_with(b, RsaPadding::OaepSha256, &[1; 32], &mut OsRng)
            .unwrap();
        assert_eq!(ct.len(), 12288 / 8, "{b:?}");
    }
}

#[test]
fn imports_are_kept_per_backend_and_bounded() {
    let (pub_pem, priv_pem) = rsa_4096_pems();
    let public = RsaPublicKey::from_pem(&pub_pem).unwrap();
    let private = RsaPrivateKey::from_pem(&priv_pem).unwrap();
    let ct = public
        .wrap(RsaPadding::OaepSha256, &[9; 32], &mut OsRng)
        .unwrap();
    let providers: Vec<Counting> = (0..5).map(|_| Counting::default()).collect();
    let backends: Vec<Backend> = providers.iter().cloned().map(Backend::custom).collect();
    let unwrap_on = |i: usize| {
        let dk = private
            .unwrap_with(&backends[i], RsaPadding::OaepSha256, &ct)
            .unwrap();
        assert_eq!(dk.as_slice(), [9; 32]);
    };
    // Four other backends: each imports once, however often it is used (clones share them).
    for _ in 0..3 {
        for i in 0..4 {
            unwrap_on(i);
        }
    }
    let clone = private.clone();
    clone
        .unwrap_with(&backends[0], RsaPadding::OaepSha256, &ct)
        .unwrap();
    for p in &providers[..4] {
        assert_eq!(get(&p.counts.rsa_keys), 1);
    }
    assert_eq!(get(&providers[0].counts.rsa_decrypt), 4);
    // A fifth pushes the oldest out: the first backend imports again when next used.
    unwrap_on(4);
    unwrap_on(0);
    assert_eq!(get(&providers[4].counts.rsa_keys), 1);
    assert_eq!(get(&providers[0].counts.rsa_keys), 2);
    // The key's own backend never imports.
    assert_eq!(private.backend(), &Backend::default());
}
