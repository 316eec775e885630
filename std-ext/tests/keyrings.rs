//! Raw AES, raw RSA and multi-keyrings: through the client and called directly.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::std_instead_of_core,
    clippy::cast_possible_truncation
)]

mod common;

use common::*;
use esdk_core::error::UsageError;
use esdk_std::RsaPadding;
use esdk_std::keyring::{Keyring, MultiKeyring, RawAesKeyring, RawRsaKeyring};
use esdk_std::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk_std::{Client, DecryptOptions, EncryptOptions, Error};
use std::sync::Arc;
use std::sync::atomic::Ordering;

fn failures(r: esdk_std::Result<esdk_std::Decrypted>) -> Vec<esdk_std::EdkFailure> {
    match r {
        Err(Error::NoDecryptableKey(v)) => v,
        other => panic!("expected NoDecryptableKey, got {other:?}"),
    }
}

fn rsa(padding: RsaPadding, public: bool, private: bool) -> RawRsaKeyring {
    let (pub_pem, priv_pem) = rsa_4096_pems();
    RawRsaKeyring::from_pem(
        NS,
        "rsa-4096",
        padding,
        public.then_some(pub_pem.as_str()),
        private.then_some(priv_pem.as_str()),
    )
    .unwrap()
}

#[test]
fn raw_aes_round_trips_with_every_wrapping_key_size() {
    let client = Client::default();
    let pt = bytes(3000, 1);
    for len in [16, 24, 32] {
        let k = aes("key", 0x40 + len as u8, len);
        let opts = EncryptOptions::keyring(&k)
            .encryption_context(ec(&[("purpose", "test")]))
            .suite(S0478);
        let enc = client.encrypt(&pt, &opts).unwrap();
        let edks = &enc.header.encrypted_data_keys;
        assert_eq!(edks.len(), 1);
        assert_eq!(edks[0].provider_id, NS);
        // key name ‖ tag bits (128) ‖ IV length (12) ‖ IV
        assert_eq!(edks[0].provider_info.len(), 3 + 4 + 4 + 12);
        assert_eq!(
            &edks[0].provider_info[..11],
            b"key\x00\x00\x00\x80\x00\x00\x00\x0c"
        );
        // the 32-byte data key of 0x0478 plus the GCM tag, whatever the wrapping key size
        assert_eq!(edks[0].ciphertext.len(), 32 + 16);
        let dec = client
            .decrypt(&enc.ciphertext, &DecryptOptions::keyring(&k))
            .unwrap();
        assert_eq!(dec.plaintext, pt);
        assert_eq!(dec.encryption_context.get("purpose"), Some("test"));
    }
    // A 16-byte data key (suite 0x0014) is wrapped into 16 + 16 bytes.
    let k = aes("key", 9, 24);
    let c = client_for(S0014);
    let enc = c
        .encrypt(&pt, &EncryptOptions::keyring(&k).suite(S0014))
        .unwrap();
    assert_eq!(enc.header.encrypted_data_keys[0].ciphertext.len(), 32);
    assert_eq!(
        c.decrypt(&enc.ciphertext, &DecryptOptions::keyring(&k))
            .unwrap()
            .plaintext,
        pt
    );
}

#[test]
fn raw_aes_rejects_other_key_sizes() {
    for len in [0, 1, 15, 17, 23, 25, 31, 33, 64] {
        let r = RawAesKeyring::new(NS, "k", &vec![1u8; len]);
        assert!(matches!(r, Err(Error::Config(_))), "{len}: {r:?}");
    }
}

#[test]
fn raw_aes_with_the_wrong_key_fails() {
    let client = Client::default();
    let right = aes("key", 1, 32);
    let wrong = aes("key", 2, 32);
    let enc = client
        .encrypt(b"hello", &EncryptOptions::keyring(&right).suite(S0478))
        .unwrap();
    let v = failures(client.decrypt(&enc.ciphertext, &DecryptOptions::keyring(&wrong)));
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].provider_id, NS);
    assert!(
        v[0].to_string().contains(&format!("raw AES {NS}/key")),
        "{}",
        v[0].to_string()
    );
    assert!(
        v[0].to_string().contains("did not decrypt"),
        "{}",
        v[0].to_string()
    );
    // A wrapping key of another size with the same name fails the same way.
    let short = aes("key", 1, 16);
    let v = failures(client.decrypt(&enc.ciphertext, &DecryptOptions::keyring(&short)));
    assert!(
        v[0].to_string().contains("did not decrypt"),
        "{}",
        v[0].to_string()
    );
}

#[test]
fn raw_aes_skips_edks_of_other_names_and_namespaces_and_says_why() {
    let client = Client::default();
    let a = aes("a", 1, 32);
    let b = aes("b", 2, 32);
    let multi = MultiKeyring::new(Some(Arc::new(a)), vec![Arc::new(b)]).unwrap();
    let enc = client
        .encrypt(b"two keys", &EncryptOptions::keyring(&multi).suite(S0478))
        .unwrap();
    assert_eq!(enc.header.encrypted_data_keys.len(), 2);

    // Same namespace, other name (and the right key bytes of `a`): not ours, both EDKs.
    let other_name = aes("c", 1, 32);
    let v = failures(client.decrypt(&enc.ciphertext, &DecryptOptions::keyring(&other_name)));
    assert_eq!(v.len(), 2);
    for f in &v {
        assert_eq!(f.provider_id, NS);
        assert_eq!(f.reason, format!("not for raw AES {NS}/c"));
    }
    // The EDKs are listed in header order; their provider info (binary) is shown in hex,
    // starting with the key name.
    assert!(
        v[0].provider_info.starts_with(&hex::encode("a")),
        "{}",
        v[0].provider_info
    );
    assert!(
        v[1].provider_info.starts_with(&hex::encode("b")),
        "{}",
        v[1].provider_info
    );

    // Other namespace, same name and key: not ours either.
    let other_ns = RawAesKeyring::new("other-namespace", "a", &[1u8; 32]).unwrap();
    let v = failures(client.decrypt(&enc.ciphertext, &DecryptOptions::keyring(&other_ns)));
    assert_eq!(v.len(), 2);
    assert!(
        v.iter()
            .all(|f| f.reason == "not for raw AES other-namespace/a"),
        "{v:?}"
    );
    // The error message names every EDK.
    let msg = Error::NoDecryptableKey(v).to_string();
    assert!(
        msg.starts_with("no encrypted data key could be decrypted (2 tried)"),
        "{msg}"
    );
    assert_eq!(
        msg.matches("not for raw AES other-namespace/a").count(),
        2,
        "{msg}"
    );
}

#[test]
fn raw_keyrings_reject_the_aws_kms_namespace() {
    let (pub_pem, _) = rsa_4096_pems();
    for ns in ["aws-kms", "aws-kms-rsa", "aws-kms-hierarchy", "aws-kmsx"] {
        let r = RawAesKeyring::new(ns, "k", &[0u8; 32]);
        assert!(
            matches!(
                r,
                Err(Error::Core(esdk_core::Error::Usage(
                    UsageError::InvalidConfig(_)
                )))
            ),
            "{ns}: {r:?}"
        );
        let r = RawRsaKeyring::from_pem(ns, "k", RsaPadding::OaepSha256, Some(&pub_pem), None);
        assert!(
            matches!(
                r,
                Err(Error::Core(esdk_core::Error::Usage(
                    UsageError::InvalidConfig(_)
                )))
            ),
            "{ns}"
        );
    }
    // Only the prefix is reserved.
    assert!(RawAesKeyring::new("aws-km", "k", &[0u8; 32]).is_ok());
    assert!(RawAesKeyring::new("my-aws-kms", "k", &[0u8; 32]).is_ok());
}

#[test]
fn raw_aes_binds_the_encryption_context() {
    // Directly: the EDK made under one context does not open under another.
    let k = aes("key", 7, 32);
    let ec1 = ec(&[("a", "1"), ("b", "2")]);
    let m = Keyring::on_encrypt(&k, &EncryptionMaterials::new(S0478, ec1.clone())).unwrap();
    let dk = m.data_key.clone().unwrap();
    assert_eq!(dk.len(), 32);
    assert_eq!(m.encrypted_data_keys.len(), 1);
    let ok = Keyring::on_decrypt(
        &k,
        &DecryptionMaterials::new(S0478, ec1.clone()),
        &m.encrypted_data_keys,
    )
    .unwrap();
    assert_eq!(ok.data_key.as_ref(), Some(&dk));
    for other in [
        ec(&[("a", "1")]),
        ec(&[("a", "1"), ("b", "3")]),
        ec(&[("a", "1"), ("b", "2"), ("c", "")]),
        ec(&[]),
    ] {
        let r = Keyring::on_decrypt(
            &k,
            &DecryptionMaterials::new(S0478, other.clone()),
            &m.encrypted_data_keys,
        );
        match r {
            Err(Error::NoDecryptableKey(v)) => {
                assert_eq!(v.len(), 1);
                assert!(
                    v[0].to_string().contains("did not decrypt"),
                    "{}",
                    v[0].to_string()
                );
            }
            other_result => panic!("{other:?}: {other_result:?}"),
        }
    }
    // Materials that already hold a data key are refused.
    let mut full = DecryptionMaterials::new(S0478, ec1.clone());
    full.data_key = Some(dk.clone());
    assert!(matches!(
        Keyring::on_decrypt(&k, &full, &m.encrypted_data_keys),
        Err(Error::Materials(_))
    ));
    // Given a data key, on_encrypt wraps that one and adds a second EDK.
    let m2 = Keyring::on_encrypt(&aes("second", 8, 16), &m).unwrap();
    assert_eq!(m2.data_key.as_ref(), Some(&dk));
    assert_eq!(m2.encrypted_data_keys.len(), 2);
    assert_eq!(m2.encrypted_data_keys[0], m.encrypted_data_keys[0]);

    // Through the client: a reproduced context with an extra pair changes the keyring's AAD.
    let client = Client::default();
    let enc = client
        .encrypt(
            b"bound",
            &EncryptOptions::keyring(&k)
                .encryption_context(ec1.clone())
                .suite(S0478),
        )
        .unwrap();
    let mut extra = ec1.clone();
    extra.insert("c", "3");
    let v = failures(client.decrypt(
        &enc.ciphertext,
        &DecryptOptions::keyring(&k).reproduced_encryption_context(extra),
    ));
    assert!(
        v[0].to_string().contains("did not decrypt"),
        "{}",
        v[0].to_string()
    );
    // The matching reproduced context (or a subset of it) decrypts.
    let sub = ec(&[("b", "2")]);
    let dec = client
        .decrypt(
            &enc.ciphertext,
            &DecryptOptions::keyring(&k).reproduced_encryption_context(sub),
        )
        .unwrap();
    assert_eq!(dec.plaintext, b"bound");
}

#[test]
fn raw_rsa_round_trips_with_every_padding_and_wrong_padding_fails() {
    let client = Client::default();
    let pt = bytes(1000, 2);
    for padding in RsaPadding::ALL {
        let k = rsa(padding, true, true);
        let enc = client
            .encrypt(&pt, &EncryptOptions::keyring(&k).suite(S0478))
            .unwrap();
        let edk = &enc.header.encrypted_data_keys[0];
        assert_eq!(edk.provider_id, NS);
        assert_eq!(edk.provider_info, b"rsa-4096");
        assert_eq!(edk.ciphertext.len(), 512, "{padding}");
        assert_eq!(
            client
                .decrypt(&enc.ciphertext, &DecryptOptions::keyring(&k))
                .unwrap()
                .plaintext,
            pt,
            "{padding}"
        );
        let other =
            RsaPadding::ALL[(RsaPadding::ALL.iter().position(|p| *p == padding).unwrap() + 1) % 5];
        let v = failures(client.decrypt(
            &enc.ciphertext,
            &DecryptOptions::keyring(&rsa(other, false, true)),
        ));
        assert_eq!(v.len(), 1);
        assert!(
            v[0].to_string().contains(&format!("raw RSA {NS}/rsa-4096")),
            "{}",
            v[0].to_string()
        );
        assert!(
            v[0].to_string()
                .contains("decryption of the encrypted data key failed"),
            "{}",
            v[0].to_string()
        );
    }
}

#[test]
fn raw_rsa_public_only_cannot_decrypt_and_private_only_cannot_encrypt() {
    let client = Client::default();
    let public_only = rsa(RsaPadding::OaepSha256, true, false);
    let private_only = rsa(RsaPadding::OaepSha256, false, true);
    let enc = client
        .encrypt(
            b"split",
            &EncryptOptions::keyring(&public_only).suite(S0478),
        )
        .unwrap();
    let v = failures(client.decrypt(&enc.ciphertext, &DecryptOptions::keyring(&public_only)));
    assert_eq!(v.len(), 1);
    assert!(
        v[0].to_string().contains("no private key"),
        "{}",
        v[0].to_string()
    );
    assert_eq!(
        client
            .decrypt(&enc.ciphertext, &DecryptOptions::keyring(&private_only))
            .unwrap()
            .plaintext,
        b"split"
    );
    match client.encrypt(b"x", &EncryptOptions::keyring(&private_only)) {
        Err(Error::Keyring(e)) => {
            assert_eq!(e.keyring(), format!("raw RSA {NS}/rsa-4096"));
            assert_eq!(e.kind(), esdk_std::KeyringErrorKind::CannotEncrypt);
            assert_eq!(
                e.to_string(),
                format!(
                    "keyring `raw RSA {NS}/rsa-4096` cannot encrypt: it holds no encryption key"
                )
            );
        }
        other => panic!("{other:?}"),
    }
    // Neither key: a configuration error.
    assert!(matches!(
        RawRsaKeyring::new(NS, "k", RsaPadding::Pkcs1V15, None, None),
        Err(Error::Config(_))
    ));
    // A private key where a public one is expected (and vice versa) does not load.
    let (pub_pem, priv_pem) = rsa_4096_pems();
    assert!(matches!(
        RawRsaKeyring::from_pem(NS, "k", RsaPadding::Pkcs1V15, Some(&priv_pem), None),
        Err(Error::Rsa(_))
    ));
    assert!(matches!(
        RawRsaKeyring::from_pem(NS, "k", RsaPadding::Pkcs1V15, None, Some(&pub_pem)),
        Err(Error::Rsa(_))
    ));
}

#[test]
fn raw_rsa_only_tries_edks_with_its_name() {
    let client = Client::default();
    let k = rsa(RsaPadding::OaepSha1, true, true);
    let enc = client
        .encrypt(b"named", &EncryptOptions::keyring(&k).suite(S0478))
        .unwrap();
    let (_, priv_pem) = rsa_4096_pems();
    let renamed = RawRsaKeyring::from_pem(
        NS,
        "other-name",
        RsaPadding::OaepSha1,
        None,
        Some(&priv_pem),
    )
    .unwrap();
    let v = failures(client.decrypt(&enc.ciphertext, &DecryptOptions::keyring(&renamed)));
    assert_eq!(v[0].reason, format!("not for raw RSA {NS}/other-name"));
    assert_eq!(v[0].provider_info, "rsa-4096");
}

#[test]
fn rsa_keys_of_every_keys_manifest_load() {
    // Every RSA PEM key of the shared manifests loads into a keyring of the right shape.
    use common::rsa_keys::{keys_manifests, rsa_keys_of};
    let mut loaded = 0;
    for path in keys_manifests() {
        for key in rsa_keys_of(&path) {
            let pem = Some(key.pem.as_str());
            let k = match key.kind.as_str() {
                "public" | "aws-kms-rsa" => {
                    RawRsaKeyring::from_pem(NS, &key.name, RsaPadding::OaepSha256, pem, None)
                }
                "private" => {
                    RawRsaKeyring::from_pem(NS, &key.name, RsaPadding::OaepSha256, None, pem)
                }
                other => panic!("{}: {}: RSA key type {other}", path.display(), key.name),
            };
            assert!(k.is_ok(), "{}: {}: {k:?}", path.display(), key.name);
            loaded += 1;
        }
    }
    // 18 RSA keys in 10 keys manifests (counted by type in `rsa_key`'s unit tests).
    assert_eq!(loaded, 18, "RSA keys found under {}", vectors().display());
}

#[test]
fn multi_keyring_puts_every_edk_in_the_header_and_any_one_key_decrypts() {
    let client = Client::default();
    let generator = aes("generator", 1, 32);
    let child_aes = aes("child", 2, 16);
    let child_rsa = rsa(RsaPadding::OaepSha512, true, false);
    let multi = MultiKeyring::new(
        Some(Arc::new(generator)),
        vec![Arc::new(child_aes), Arc::new(child_rsa)],
    )
    .unwrap();
    let pt = bytes(5000, 3);
    for suite in [S0478, S0578] {
        let enc = client
            .encrypt(&pt, &EncryptOptions::keyring(&multi).suite(suite))
            .unwrap();
        let edks = &enc.header.encrypted_data_keys;
        assert_eq!(edks.len(), 3);
        assert!(edks[0].provider_info.starts_with(b"generator"));
        assert!(edks[1].provider_info.starts_with(b"child"));
        assert_eq!(edks[2].provider_info, b"rsa-4096");
        // Each key alone decrypts.
        let alone: [Arc<dyn Keyring>; 3] = [
            Arc::new(aes("generator", 1, 32)),
            Arc::new(aes("child", 2, 16)),
            Arc::new(rsa(RsaPadding::OaepSha512, false, true)),
        ];
        for alone in alone {
            let dec = client
                .decrypt(&enc.ciphertext, &DecryptOptions::keyring(&alone))
                .unwrap();
            assert_eq!(dec.plaintext, pt);
        }
    }
}

#[test]
fn multi_keyring_keeps_trying_after_a_failing_keyring() {
    let client = Client::default();
    let k = aes("child", 2, 32);
    let enc = client
        .encrypt(b"persistent", &EncryptOptions::keyring(&k).suite(S0478))
        .unwrap();
    let failing = Arc::new(Failing::default());
    let wrong_key = Arc::new(Counting::new(aes("child", 3, 32)));
    let right = Arc::new(Counting::new(aes("child", 2, 32)));
    let multi = MultiKeyring::new(
        Some(wrong_key.clone() as Arc<dyn Keyring>),
        vec![failing.clone(), right.clone()],
    )
    .unwrap();
    let dec = client
        .decrypt(&enc.ciphertext, &DecryptOptions::keyring(&multi))
        .unwrap();
    assert_eq!(dec.plaintext, b"persistent");
    assert_eq!(wrong_key.decrypt_calls(), 1);
    assert_eq!(failing.calls.load(Ordering::SeqCst), 1);
    assert_eq!(right.decrypt_calls(), 1);
    // The first success ends the search: keyrings after it are not asked.
    let after = Arc::new(Counting::new(aes("child", 2, 32)));
    let multi = MultiKeyring::new(None, vec![right.clone(), after.clone()]).unwrap();
    client
        .decrypt(&enc.ciphertext, &DecryptOptions::keyring(&multi))
        .unwrap();
    assert_eq!(after.decrypt_calls(), 0);
}

#[test]
fn multi_keyring_failure_lists_the_reason_of_every_keyring_for_every_edk() {
    let client = Client::default();
    let multi_enc = MultiKeyring::new(
        Some(Arc::new(aes("a", 1, 32))),
        vec![Arc::new(aes("b", 2, 32))],
    )
    .unwrap();
    let enc = client
        .encrypt(b"nobody", &EncryptOptions::keyring(&multi_enc).suite(S0478))
        .unwrap();
    let multi = MultiKeyring::new(
        Some(Arc::new(aes("a", 9, 32))),
        vec![
            Arc::new(Failing::default()),
            Arc::new(rsa(RsaPadding::Pkcs1V15, false, true)),
        ],
    )
    .unwrap();
    let v = failures(client.decrypt(&enc.ciphertext, &DecryptOptions::keyring(&multi)));
    let texts: Vec<String> = v.iter().map(ToString::to_string).collect();
    let reasons: Vec<&str> = v.iter().map(|f| f.reason.as_str()).collect();
    assert_eq!(v.len(), 2 + 1 + 2, "{reasons:#?}");
    // generator: wrong key for EDK "a", not its EDK "b"
    assert!(
        reasons[0].contains(&format!("raw AES {NS}/a")) && texts[0].contains("did not decrypt"),
        "{texts:#?}"
    );
    assert_eq!(reasons[1], format!("not for raw AES {NS}/a"));
    // the failing keyring: one entry naming it, with its error
    assert_eq!(v[2].provider_id, "");
    assert!(
        v[2].provider_info.contains("Failing"),
        "{}",
        v[2].provider_info
    );
    assert!(texts[2].contains("service unavailable"), "{texts:#?}");
    // Not-mine and failed are told apart by kind.
    use esdk_std::EdkFailureKind::{Failed, NotForThisKeyring};
    let kinds: Vec<_> = v.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [
            Failed,
            NotForThisKeyring,
            Failed,
            NotForThisKeyring,
            NotForThisKeyring
        ]
    );
    // the RSA keyring: neither EDK is its
    assert_eq!(
        &reasons[3..],
        [
            format!("not for raw RSA {NS}/rsa-4096"),
            format!("not for raw RSA {NS}/rsa-4096")
        ]
    );
}

#[test]
fn multi_keyring_encrypt_rules() {
    let client = Client::default();
    // Any child failing on encrypt fails the encryption.
    let multi = MultiKeyring::new(
        Some(Arc::new(aes("a", 1, 32))),
        vec![Arc::new(rsa(RsaPadding::OaepSha256, false, true))],
    )
    .unwrap();
    assert!(matches!(
        client.encrypt(b"x", &EncryptOptions::keyring(&multi)),
        Err(Error::Keyring(e)) if e.kind() == esdk_std::KeyringErrorKind::CannotEncrypt
    ));
    let failing = Arc::new(Failing::default());
    let multi = MultiKeyring::new(Some(Arc::new(aes("a", 1, 32))), vec![failing.clone()]).unwrap();
    assert!(
        client
            .encrypt(b"x", &EncryptOptions::keyring(&multi))
            .is_err()
    );
    assert_eq!(failing.calls.load(Ordering::SeqCst), 1);
    // Neither generator nor children.
    assert!(matches!(
        MultiKeyring::new(None, vec![]),
        Err(Error::Config(_))
    ));
    // No generator: the materials must already carry a data key.
    let no_gen = MultiKeyring::new(None, vec![Arc::new(aes("b", 2, 32))]).unwrap();
    assert!(matches!(
        client.encrypt(b"x", &EncryptOptions::keyring(&no_gen)),
        Err(Error::Materials(_))
    ));
    let with_key =
        Keyring::on_encrypt(&aes("a", 1, 32), &EncryptionMaterials::new(S0478, ec(&[]))).unwrap();
    let m = Keyring::on_encrypt(&no_gen, &with_key).unwrap();
    assert_eq!(m.encrypted_data_keys.len(), 2);
    assert_eq!(m.data_key, with_key.data_key);
    // A generator refuses materials that already carry a data key.
    let gen_multi = MultiKeyring::new(Some(Arc::new(aes("c", 3, 32))), vec![]).unwrap();
    assert!(matches!(
        Keyring::on_encrypt(&gen_multi, &with_key),
        Err(Error::Materials(_))
    ));
    // Decrypt refuses materials that already carry a data key.
    let mut full = DecryptionMaterials::new(S0478, ec(&[]));
    full.data_key = with_key.data_key.clone();
    assert!(matches!(
        Keyring::on_decrypt(&gen_multi, &full, &with_key.encrypted_data_keys),
        Err(Error::Materials(_))
    ));
}

#[test]
fn header_tampering_of_an_edk_is_caught() {
    // A changed provider info makes the raw AES keyring skip the EDK; a changed wrapped key
    // fails the unwrap (both before the header tag is checked).
    let client = Client::default();
    let k = aes("key", 5, 32);
    let enc = client
        .encrypt(b"tamper", &EncryptOptions::keyring(&k).suite(S0478))
        .unwrap();
    let edk = &enc.header.encrypted_data_keys[0];
    let find = |needle: &[u8]| {
        enc.ciphertext
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap()
    };
    let mut bad = enc.ciphertext.clone();
    bad[find(&edk.ciphertext) + 3] ^= 1;
    let v = failures(client.decrypt(&bad, &DecryptOptions::keyring(&k)));
    assert!(v[0].to_string().contains("did not decrypt"));
    let mut bad = enc.ciphertext.clone();
    bad[find(&edk.provider_info)] ^= 1;
    let v = failures(client.decrypt(&bad, &DecryptOptions::keyring(&k)));
    assert!(v[0].reason.starts_with("not for"));
}
