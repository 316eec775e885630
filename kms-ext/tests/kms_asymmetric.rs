//! The AWS KMS RSA and ECDH keyrings, and disabled keys for every KMS keyring, against the moto
//! server of `tests/moto` (patched for RSA-OAEP `Decrypt`, `DeriveSharedSecret` and disabled
//! keys; see kms-ext/README.md). Same harness rules as `kms.rs`: without
//! `AWS_ENDPOINT_URL_KMS` the tests print `SKIPPED` and pass, with `ESDK_REQUIRE_KMS_TESTS=1`
//! they fail instead.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use esdk_kms::ecdh::AwsKmsEcdhKeyring;
use esdk_kms::rsa::{AwsKmsRsaKeyring, KmsRsaAlgorithm};
use esdk_kms::{
    AwsKmsDiscoveryKeyring, AwsKmsKeyring, AwsKmsMrkDiscoveryKeyring, AwsSdkClientSupplier,
    ClientSupplier, KmsError,
};
use esdk_std::keyring::AsyncKeyring;
use esdk_std::keyring::raw_ecdh::{EcPrivateKey, EcdhCurve, RawEcdhKeyring};
use esdk_std::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk_std::{
    AlgorithmSuite, Client, DecryptOptions, EncryptOptions, EncryptionContext, Error,
    KeyringErrorKind, RsaPublicKey,
};
use std::sync::Arc;

const W2: &str = "us-west-2";
const UNSIGNED: AlgorithmSuite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
const SIGNED: AlgorithmSuite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;

fn have_kms(test: &str) -> bool {
    let required = std::env::var("ESDK_REQUIRE_KMS_TESTS").is_ok_and(|v| v == "1");
    match std::env::var("AWS_ENDPOINT_URL_KMS") {
        Ok(url) if url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost") => {
            true
        }
        Ok(url) if !url.is_empty() => {
            panic!("AWS_ENDPOINT_URL_KMS={url} is not a local test server")
        }
        _ => {
            assert!(
                !required,
                "ESDK_REQUIRE_KMS_TESTS=1 but AWS_ENDPOINT_URL_KMS is not set"
            );
            eprintln!("SKIPPED {test}: AWS_ENDPOINT_URL_KMS is not set (no KMS test server)");
            false
        }
    }
}

async fn kms() -> aws_sdk_kms::Client {
    AwsSdkClientSupplier::new().client(Some(W2)).await.unwrap()
}

async fn create(usage: aws_sdk_kms::types::KeyUsageType, spec: &str) -> String {
    let out = kms()
        .await
        .create_key()
        .key_usage(usage)
        .key_spec(spec.into())
        .send()
        .await
        .unwrap();
    out.key_metadata().unwrap().arn().unwrap().to_owned()
}

async fn disable(arn: &str) {
    kms().await.disable_key().key_id(arn).send().await.unwrap();
}

fn ec(v: &str) -> EncryptionContext {
    let mut ec = EncryptionContext::new();
    ec.insert("purpose", v);
    ec
}

async fn seal(k: &dyn AsyncKeyring, suite: AlgorithmSuite) -> Result<esdk_std::Encrypted, Error> {
    let opts = EncryptOptions::from_source(esdk_std::client::MaterialsSource::Keyring(k))
        .encryption_context(ec("kms asymmetric test"))
        .suite(suite);
    Client::default().encrypt_async(b"plaintext", &opts).await
}

async fn open(k: &dyn AsyncKeyring, ct: &[u8]) -> Result<esdk_std::Decrypted, Error> {
    let opts = DecryptOptions::from_source(esdk_std::client::MaterialsSource::Keyring(k));
    Client::default().decrypt_async(ct, &opts).await
}

fn reasons(e: &Error) -> String {
    match e {
        Error::NoDecryptableKey(v) => v.iter().map(|f| format!("{f}\n")).collect(),
        other => panic!("expected NoDecryptableKey, got {other}"),
    }
}

/// The KMS error code of an encrypt-side failure.
fn kms_code(e: &Error) -> Option<String> {
    match e {
        Error::Provider(source) => source.downcast_ref::<KmsError>()?.code.clone(),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// AWS KMS RSA

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_rsa_round_trips_with_both_algorithms_and_every_key_size() {
    if !have_kms("kms_rsa_round_trips") {
        return;
    }
    use aws_sdk_kms::types::KeyUsageType::EncryptDecrypt;
    for spec in ["RSA_2048", "RSA_3072", "RSA_4096"] {
        let arn = create(EncryptDecrypt, spec).await;
        for alg in [
            KmsRsaAlgorithm::RsaesOaepSha1,
            KmsRsaAlgorithm::RsaesOaepSha256,
        ] {
            // Public key fetched with GetPublicKey ...
            let fetched = AwsKmsRsaKeyring::with_public_key_from_kms(&arn, alg, kms().await)
                .await
                .unwrap();
            let sealed = seal(&fetched, UNSIGNED).await.unwrap();
            let edk = &sealed.header.encrypted_data_keys[0];
            assert_eq!(edk.provider_id, "aws-kms-rsa");
            assert_eq!(edk.provider_info, arn.as_bytes());
            // ... or given; a decrypt-only keyring (no public key) decrypts.
            let der = kms()
                .await
                .get_public_key()
                .key_id(&arn)
                .send()
                .await
                .unwrap();
            let pk = RsaPublicKey::from_der(der.public_key().unwrap().as_ref()).unwrap();
            let given = AwsKmsRsaKeyring::new(&arn, alg, Some(pk), kms().await).unwrap();
            let sealed2 = seal(&given, UNSIGNED).await.unwrap();
            let decrypt_only = AwsKmsRsaKeyring::new(&arn, alg, None, kms().await).unwrap();
            for ct in [&sealed.ciphertext, &sealed2.ciphertext] {
                assert_eq!(
                    open(&decrypt_only, ct).await.unwrap().plaintext,
                    b"plaintext"
                );
            }
            let e = seal(&decrypt_only, UNSIGNED).await.unwrap_err();
            assert!(
                matches!(&e, Error::Keyring(k) if k.kind() == KeyringErrorKind::CannotEncrypt),
                "{e}"
            );
            // The other algorithm: KMS answers InvalidCiphertextException.
            let other = match alg {
                KmsRsaAlgorithm::RsaesOaepSha1 => KmsRsaAlgorithm::RsaesOaepSha256,
                _ => KmsRsaAlgorithm::RsaesOaepSha1,
            };
            let wrong = AwsKmsRsaKeyring::new(&arn, other, None, kms().await).unwrap();
            let r = reasons(&open(&wrong, &sealed.ciphertext).await.unwrap_err());
            assert!(r.contains("InvalidCiphertextException"), "{r}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_rsa_binds_the_context_refuses_signing_suites_aliases_and_other_keys() {
    if !have_kms("kms_rsa_rules") {
        return;
    }
    use aws_sdk_kms::types::KeyUsageType::EncryptDecrypt;
    let arn = create(EncryptDecrypt, "RSA_2048").await;
    let alg = KmsRsaAlgorithm::RsaesOaepSha256;
    let k = AwsKmsRsaKeyring::with_public_key_from_kms(&arn, alg, kms().await)
        .await
        .unwrap();
    // Signing suites: refused on encrypt and on decrypt.
    let e = seal(&k, SIGNED).await.unwrap_err();
    assert!(
        matches!(&e, Error::Keyring(k) if k.kind() == KeyringErrorKind::UnsupportedSuite(SIGNED)),
        "{e}"
    );
    assert!(e.to_string().contains("(a signing suite)"), "{e}");
    let m = k
        .on_encrypt(&EncryptionMaterials::new(UNSIGNED, ec("a")))
        .await
        .unwrap();
    let edks = m.encrypted_data_keys.clone();
    let e = k
        .on_decrypt(&DecryptionMaterials::new(SIGNED, ec("a")), &edks)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Keyring(k) if k.kind() == KeyringErrorKind::UnsupportedSuite(SIGNED)),
        "{e}"
    );
    // The encryption context digest is checked after KMS Decrypt.
    let ok = k
        .on_decrypt(&DecryptionMaterials::new(UNSIGNED, ec("a")), &edks)
        .await
        .unwrap();
    assert_eq!(ok.data_key, m.data_key);
    let e = k
        .on_decrypt(&DecryptionMaterials::new(UNSIGNED, ec("b")), &edks)
        .await
        .unwrap_err();
    assert!(reasons(&e).contains("digest does not match"), "{e}");
    // Another key's EDKs are not sent to KMS; a non-ARN provider info fails the whole call.
    let other = create(EncryptDecrypt, "RSA_2048").await;
    let k2 = AwsKmsRsaKeyring::new(&other, alg, None, kms().await).unwrap();
    let e = k2
        .on_decrypt(&DecryptionMaterials::new(UNSIGNED, ec("a")), &edks)
        .await
        .unwrap_err();
    assert!(reasons(&e).contains("not this keyring's key"), "{e}");
    let mut bad = edks[0].clone();
    bad.provider_info = b"alias/not-an-arn".to_vec();
    let e = k
        .on_decrypt(&DecryptionMaterials::new(UNSIGNED, ec("a")), &[bad])
        .await
        .unwrap_err();
    assert!(reasons(&e).contains("not a valid key ARN"), "{e}");
    // Aliases are refused; a symmetric key has no RSA public key.
    assert!(matches!(
        AwsKmsRsaKeyring::new("alias/x", alg, None, kms().await),
        Err(Error::Config(_))
    ));
    let sym = kms().await.create_key().send().await.unwrap();
    let sym = sym.key_metadata().unwrap().arn().unwrap().to_owned();
    let e = AwsKmsRsaKeyring::with_public_key_from_kms(&sym, alg, kms().await)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("does not offer"), "{e}");
}

// ---------------------------------------------------------------------------------------------
// AWS KMS ECDH

const CURVES: [(EcdhCurve, &str); 3] = [
    (EcdhCurve::P256, "ECC_NIST_P256"),
    (EcdhCurve::P384, "ECC_NIST_P384"),
    (EcdhCurve::P521, "ECC_NIST_P521"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_ecdh_both_schemas_on_every_curve_interoperate_with_raw_ecdh() {
    if !have_kms("kms_ecdh_round_trips") {
        return;
    }
    use aws_sdk_kms::types::KeyUsageType::KeyAgreement;
    for (curve, spec) in CURVES {
        let sender_arn = create(KeyAgreement, spec).await;
        let recipient_arn = create(KeyAgreement, spec).await;
        let local = EcPrivateKey::generate(curve);
        // KMS sender → local recipient.
        let kms_static = AwsKmsEcdhKeyring::kms_private_key_to_static_public_key(
            &sender_arn,
            None,
            local.public_key(),
            kms().await,
        )
        .await
        .unwrap();
        let sealed = seal(&kms_static, SIGNED).await.unwrap();
        assert_eq!(
            sealed.header.encrypted_data_keys[0].provider_id,
            "aws-kms-ecdh"
        );
        let raw_recipient = RawEcdhKeyring::discovery(local.clone());
        assert_eq!(
            open(&raw_recipient, &sealed.ciphertext)
                .await
                .unwrap()
                .plaintext,
            b"plaintext"
        );
        assert_eq!(
            open(&kms_static, &sealed.ciphertext)
                .await
                .unwrap()
                .plaintext,
            b"plaintext"
        );
        // Local (raw static and ephemeral) → KMS recipient (discovery).
        let kms_discovery =
            AwsKmsEcdhKeyring::kms_public_key_discovery(&recipient_arn, curve, kms().await)
                .await
                .unwrap();
        let kms_pub = kms_discovery.public_key().clone();
        for sender in [
            RawEcdhKeyring::static_keys(local.clone(), kms_pub.clone()).unwrap(),
            RawEcdhKeyring::ephemeral(kms_pub.clone()),
        ] {
            let sealed = seal(&sender, UNSIGNED).await.unwrap();
            assert_eq!(
                open(&kms_discovery, &sealed.ciphertext)
                    .await
                    .unwrap()
                    .plaintext,
                b"plaintext"
            );
        }
        // KMS sender → KMS recipient, with the sender's public key given.
        let given = AwsKmsEcdhKeyring::kms_private_key_to_static_public_key(
            &sender_arn,
            Some(kms_static.public_key().clone()),
            kms_pub,
            kms().await,
        )
        .await
        .unwrap();
        let sealed = seal(&given, UNSIGNED).await.unwrap();
        assert_eq!(
            open(&kms_discovery, &sealed.ciphertext)
                .await
                .unwrap()
                .plaintext,
            b"plaintext"
        );
        // Discovery cannot encrypt; it does not try another recipient's EDKs.
        let e = seal(&kms_discovery, UNSIGNED).await.unwrap_err();
        assert!(
            matches!(&e, Error::Keyring(k) if k.kind() == KeyringErrorKind::CannotEncrypt),
            "{e}"
        );
        let sealed = seal(&kms_static, UNSIGNED).await.unwrap();
        let r = reasons(&open(&kms_discovery, &sealed.ciphertext).await.unwrap_err());
        assert!(r.contains("another recipient"), "{r}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_ecdh_refuses_keys_that_do_not_fit() {
    if !have_kms("kms_ecdh_key_checks") {
        return;
    }
    use aws_sdk_kms::types::KeyUsageType::{KeyAgreement, SignVerify};
    let p384 = create(KeyAgreement, "ECC_NIST_P384").await;
    let e = AwsKmsEcdhKeyring::kms_public_key_discovery(&p384, EcdhCurve::P256, kms().await)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("not a ECC_NIST_P256 KEY_AGREEMENT key"),
        "{e}"
    );
    let signing = create(SignVerify, "ECC_NIST_P256").await;
    let e = AwsKmsEcdhKeyring::kms_public_key_discovery(&signing, EcdhCurve::P256, kms().await)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("KEY_AGREEMENT"), "{e}");
    // A given sender public key on another curve than the recipient's.
    let e = AwsKmsEcdhKeyring::kms_private_key_to_static_public_key(
        &p384,
        Some(EcPrivateKey::generate(EcdhCurve::P384).public_key()),
        EcPrivateKey::generate(EcdhCurve::P256).public_key(),
        kms().await,
    )
    .await
    .unwrap_err();
    assert!(matches!(e, Error::Config(_)), "{e}");
    // A wrong sender public key: KMS derives a secret with the real key, so the keyring that
    // believes another public key writes EDKs no recipient can open (commitment mismatch).
    let local = EcPrivateKey::generate(EcdhCurve::P384);
    let liar = AwsKmsEcdhKeyring::kms_private_key_to_static_public_key(
        &p384,
        Some(EcPrivateKey::generate(EcdhCurve::P384).public_key()),
        local.public_key(),
        kms().await,
    )
    .await
    .unwrap();
    let sealed = seal(&liar, UNSIGNED).await.unwrap();
    let r = reasons(
        &open(&RawEcdhKeyring::discovery(local), &sealed.ciphertext)
            .await
            .unwrap_err(),
    );
    assert!(r.contains("commitment"), "{r}");
}

// ---------------------------------------------------------------------------------------------
// Disabled keys, every KMS keyring

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_keys_fail_every_kms_keyring_with_disabled_exception() {
    if !have_kms("disabled_keys") {
        return;
    }
    use aws_sdk_kms::types::KeyUsageType::{EncryptDecrypt, KeyAgreement};
    let supplier: Arc<dyn ClientSupplier> = Arc::new(AwsSdkClientSupplier::new());
    // Symmetric keyrings: messages made while enabled, then the key is disabled.
    let arn = kms().await.create_key().send().await.unwrap();
    let arn = arn.key_metadata().unwrap().arn().unwrap().to_owned();
    let strict = AwsKmsKeyring::new(&arn, supplier.clone()).unwrap();
    let mrk_aware = AwsKmsKeyring::new(&arn, supplier.clone())
        .unwrap()
        .mrk_aware(true);
    let discovery = AwsKmsDiscoveryKeyring::new(supplier.clone());
    let mrk_discovery = AwsKmsMrkDiscoveryKeyring::new(W2, supplier.clone()).unwrap();
    let multi = esdk_kms::AwsKmsMultiKeyringBuilder::new()
        .generator(&arn)
        .build()
        .unwrap();
    let sealed = seal(&strict, UNSIGNED).await.unwrap();
    // The data key is generated locally for the Encrypt path.
    let with_key = strict
        .on_encrypt(&EncryptionMaterials::new(UNSIGNED, ec("x")))
        .await
        .unwrap();
    // RSA and ECDH keys.
    let rsa_arn = create(EncryptDecrypt, "RSA_2048").await;
    let rsa = AwsKmsRsaKeyring::with_public_key_from_kms(
        &rsa_arn,
        KmsRsaAlgorithm::RsaesOaepSha1,
        kms().await,
    )
    .await
    .unwrap();
    let rsa_sealed = seal(&rsa, UNSIGNED).await.unwrap();
    let ecdh_arn = create(KeyAgreement, "ECC_NIST_P256").await;
    let local = EcPrivateKey::generate(EcdhCurve::P256);
    let ecdh_static = AwsKmsEcdhKeyring::kms_private_key_to_static_public_key(
        &ecdh_arn,
        None,
        local.public_key(),
        kms().await,
    )
    .await
    .unwrap();
    let ecdh_sealed = seal(&ecdh_static, UNSIGNED).await.unwrap();
    let ecdh_discovery =
        AwsKmsEcdhKeyring::kms_public_key_discovery(&ecdh_arn, EcdhCurve::P256, kms().await)
            .await
            .unwrap();
    let to_kms = seal(
        &RawEcdhKeyring::ephemeral(ecdh_discovery.public_key().clone()),
        UNSIGNED,
    )
    .await
    .unwrap();

    for k in [&arn, &rsa_arn, &ecdh_arn] {
        disable(k).await; // by key ARN (moto answered HTTP 500 before the patch)
    }

    // Encrypt: GenerateDataKey, Encrypt and DeriveSharedSecret are refused.
    for k in [
        &strict as &dyn AsyncKeyring,
        &mrk_aware,
        &multi,
        &ecdh_static,
    ] {
        let e = seal(k, UNSIGNED).await.unwrap_err();
        assert_eq!(
            kms_code(&e).as_deref(),
            Some("DisabledException"),
            "{k:?}: {e}"
        );
    }
    let e = strict
        .on_encrypt(
            &EncryptionMaterials::new(UNSIGNED, ec("x")).with_data_key(with_key.data_key.clone()),
        )
        .await
        .unwrap_err();
    assert_eq!(
        kms_code(&e).as_deref(),
        Some("DisabledException"),
        "Encrypt: {e}"
    );
    // The KMS RSA keyring encrypts locally with the public key: a disabled key cannot stop it
    // (as with the Material Providers Library); decryption is what KMS refuses.
    seal(&rsa, UNSIGNED).await.unwrap();

    // Decrypt: every keyring reports DisabledException for the EDK.
    for k in [
        &strict as &dyn AsyncKeyring,
        &mrk_aware,
        &discovery,
        &mrk_discovery,
        &multi,
    ] {
        let e = open(k, &sealed.ciphertext).await.unwrap_err();
        assert!(reasons(&e).contains("DisabledException"), "{k:?}: {e}");
    }
    for (k, ct) in [
        (&rsa as &dyn AsyncKeyring, &rsa_sealed.ciphertext),
        (&ecdh_static, &ecdh_sealed.ciphertext),
        (&ecdh_discovery, &to_kms.ciphertext),
    ] {
        let e = open(k, ct).await.unwrap_err();
        assert!(reasons(&e).contains("DisabledException"), "{k:?}: {e}");
    }

    // Enabled again: everything decrypts.
    for k in [&arn, &rsa_arn, &ecdh_arn] {
        kms().await.enable_key().key_id(k).send().await.unwrap();
    }
    assert!(open(&strict, &sealed.ciphertext).await.is_ok());
    assert!(open(&rsa, &rsa_sealed.ciphertext).await.is_ok());
    assert!(open(&ecdh_static, &ecdh_sealed.ciphertext).await.is_ok());
    assert!(open(&ecdh_discovery, &to_kms.ciphertext).await.is_ok());
}
