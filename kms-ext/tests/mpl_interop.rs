//! Interop with the AWS Material Providers Library for Python
//! (`aws-cryptographic-material-providers` 1.11.3 with `aws-encryption-sdk` 4.0.7), both
//! directions: raw ECDH (every schema × P-256/384/521), AWS KMS RSA (both algorithms) and AWS KMS
//! ECDH (both schemas × three curves) against the moto server of `tests/moto`. The Python side is
//! `interop/python/mpl_keyrings.py`.
//!
//! Skipped (prints `SKIPPED`) without `AWS_ENDPOINT_URL_KMS` or without the MPL; with
//! `ESDK_REQUIRE_KMS_TESTS=1` both are required.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use esdk_kms::ecdh::AwsKmsEcdhKeyring;
use esdk_kms::rsa::{AwsKmsRsaKeyring, KmsRsaAlgorithm};
use esdk_kms::{AwsSdkClientSupplier, ClientSupplier};
use esdk_std::keyring::AsyncKeyring;
use esdk_std::keyring::raw_ecdh::{EcPrivateKey, EcdhCurve, RawEcdhKeyring};
use esdk_std::{AlgorithmSuite, Client, DecryptOptions, EncryptOptions, EncryptionContext};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};

const UNSIGNED: u16 = 0x0478;

fn required() -> bool {
    std::env::var("ESDK_REQUIRE_KMS_TESTS").is_ok_and(|v| v == "1")
}

fn skip(why: &str) {
    assert!(!required(), "ESDK_REQUIRE_KMS_TESTS=1 but {why}");
    eprintln!("SKIPPED mpl_interop: {why}");
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../interop/python/mpl_keyrings.py")
}

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

/// Runs the MPL script; returns its stdout (last line: "N passed, M failed").
fn run_mpl(args: &[&Path]) -> String {
    let out = std::process::Command::new(python())
        .arg(script())
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "MPL {:?} failed: {stdout}\n{}",
        args.first(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn context(id: &str) -> EncryptionContext {
    let mut ec = EncryptionContext::new();
    ec.insert("interop-case", id);
    ec.insert("purpose", "mpl interop");
    ec
}

fn context_json(id: &str) -> Value {
    json!({"interop-case": id, "purpose": "mpl interop"})
}

fn plaintext(id: &str) -> Vec<u8> {
    format!("plaintext of {id} ").repeat(20).into_bytes()
}

fn curve_name(c: EcdhCurve) -> &'static str {
    c.aws_name()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mpl_interop_raw_ecdh_kms_rsa_kms_ecdh_both_directions() {
    if std::env::var("AWS_ENDPOINT_URL_KMS").map_or(true, |u| u.is_empty()) {
        return skip("AWS_ENDPOINT_URL_KMS is not set (no KMS test server)");
    }
    let probe = std::process::Command::new(python())
        .args([
            "-c",
            "import aws_cryptographic_material_providers, aws_encryption_sdk",
        ])
        .status();
    if !probe.is_ok_and(|s| s.success()) {
        return skip(
            "the MPL for Python is not installed (pip install -r interop/python/requirements.txt)",
        );
    }
    let kms = AwsSdkClientSupplier::new()
        .client(Some("us-west-2"))
        .await
        .unwrap();
    let create = |usage: aws_sdk_kms::types::KeyUsageType, spec: &'static str| {
        let kms = kms.clone();
        async move {
            kms.create_key()
                .key_usage(usage)
                .key_spec(spec.into())
                .send()
                .await
                .unwrap()
                .key_metadata()
                .unwrap()
                .arn()
                .unwrap()
                .to_owned()
        }
    };
    use aws_sdk_kms::types::KeyUsageType::{EncryptDecrypt, KeyAgreement};

    // Keys and keyrings (kept alive for the whole test).
    let mut owned: Vec<Box<dyn AsyncKeyring>> = Vec::new();
    let mut to_mpl: Vec<(String, usize, Option<u16>, Value)> = Vec::new();
    let mut from_mpl: Vec<(String, Value, Option<u16>, usize)> = Vec::new();
    let mut push = |k: Box<dyn AsyncKeyring>| {
        owned.push(k);
        owned.len() - 1
    };

    for curve in [EcdhCurve::P256, EcdhCurve::P384, EcdhCurve::P521] {
        let c = curve_name(curve);
        let sender = EcPrivateKey::generate(curve);
        let recipient = EcPrivateKey::generate(curve);
        let sender_pem = sender.to_pkcs8_pem().unwrap().to_string();
        let recipient_pem = recipient.to_pkcs8_pem().unwrap().to_string();
        let recipient_der = B64.encode(recipient.public_key().to_der());
        let mpl_static = json!({"type": "raw-ecdh", "curve": c, "schema": "static",
            "sender_private_pem": sender_pem, "recipient_public_der": recipient_der});
        let mpl_ephemeral = json!({"type": "raw-ecdh", "curve": c, "schema": "ephemeral",
            "recipient_public_der": recipient_der});
        let mpl_discovery = json!({"type": "raw-ecdh", "curve": c, "schema": "discovery",
            "recipient_private_pem": recipient_pem});
        let rs = push(Box::new(
            RawEcdhKeyring::static_keys(sender.clone(), recipient.public_key()).unwrap(),
        ));
        let re = push(Box::new(RawEcdhKeyring::ephemeral(recipient.public_key())));
        let rd = push(Box::new(RawEcdhKeyring::discovery(recipient.clone())));
        to_mpl.push((
            format!("raw-ecdh {c} static → MPL static"),
            rs,
            None,
            mpl_static.clone(),
        ));
        to_mpl.push((
            format!("raw-ecdh {c} static → MPL discovery"),
            rs,
            None,
            mpl_discovery.clone(),
        ));
        to_mpl.push((
            format!("raw-ecdh {c} ephemeral → MPL discovery"),
            re,
            None,
            mpl_discovery.clone(),
        ));
        from_mpl.push((
            format!("MPL raw-ecdh {c} static → static"),
            mpl_static.clone(),
            None,
            rs,
        ));
        from_mpl.push((
            format!("MPL raw-ecdh {c} static → discovery"),
            mpl_static,
            None,
            rd,
        ));
        from_mpl.push((
            format!("MPL raw-ecdh {c} ephemeral → discovery"),
            mpl_ephemeral,
            None,
            rd,
        ));

        // AWS KMS ECDH: a KMS sender key pair and a KMS recipient key pair on this curve.
        let sender_arn = create(KeyAgreement, c).await;
        let recipient_arn = create(KeyAgreement, c).await;
        let ks = push(Box::new(
            AwsKmsEcdhKeyring::kms_private_key_to_static_public_key(
                &sender_arn,
                None,
                recipient.public_key(),
                kms.clone(),
            )
            .await
            .unwrap(),
        ));
        let kd_ring =
            AwsKmsEcdhKeyring::kms_public_key_discovery(&recipient_arn, curve, kms.clone())
                .await
                .unwrap();
        let kms_recipient_public = kd_ring.public_key().clone();
        let kd = push(Box::new(kd_ring));
        let to_kms = push(Box::new(RawEcdhKeyring::ephemeral(
            kms_recipient_public.clone(),
        )));
        let mpl_kms_static = json!({"type": "kms-ecdh", "curve": c, "schema": "static",
            "sender_key_id": sender_arn, "recipient_public_der": recipient_der});
        let mpl_kms_discovery = json!({"type": "kms-ecdh", "curve": c, "schema": "discovery",
            "recipient_key_id": recipient_arn});
        let mpl_to_kms = json!({"type": "raw-ecdh", "curve": c, "schema": "ephemeral",
            "recipient_public_der": B64.encode(kms_recipient_public.to_der())});
        to_mpl.push((
            format!("kms-ecdh {c} static → MPL kms-ecdh static"),
            ks,
            None,
            mpl_kms_static.clone(),
        ));
        to_mpl.push((
            format!("kms-ecdh {c} static → MPL raw-ecdh discovery"),
            ks,
            None,
            mpl_discovery.clone(),
        ));
        to_mpl.push((
            format!("raw-ecdh {c} ephemeral → MPL kms-ecdh discovery"),
            to_kms,
            None,
            mpl_kms_discovery,
        ));
        from_mpl.push((
            format!("MPL kms-ecdh {c} static → kms-ecdh static"),
            mpl_kms_static.clone(),
            None,
            ks,
        ));
        from_mpl.push((
            format!("MPL kms-ecdh {c} static → raw-ecdh discovery"),
            mpl_kms_static,
            None,
            rd,
        ));
        from_mpl.push((
            format!("MPL raw-ecdh {c} ephemeral → kms-ecdh discovery"),
            mpl_to_kms,
            None,
            kd,
        ));
    }

    // AWS KMS RSA, both algorithms, unsigned suite (signing suites are refused by both sides).
    let rsa_arn = create(EncryptDecrypt, "RSA_2048").await;
    let der = kms.get_public_key().key_id(&rsa_arn).send().await.unwrap();
    let der = der.public_key().unwrap().as_ref().to_vec();
    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
        B64.encode(&der)
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    );
    for (alg, name) in [
        (KmsRsaAlgorithm::RsaesOaepSha1, "RSAES_OAEP_SHA_1"),
        (KmsRsaAlgorithm::RsaesOaepSha256, "RSAES_OAEP_SHA_256"),
    ] {
        let k = push(Box::new(
            AwsKmsRsaKeyring::new(
                &rsa_arn,
                alg,
                Some(esdk_std::RsaPublicKey::from_pem(&pem).unwrap()),
                kms.clone(),
            )
            .unwrap(),
        ));
        let mpl =
            json!({"type": "kms-rsa", "key_id": rsa_arn, "algorithm": name, "public_key_pem": pem});
        to_mpl.push((
            format!("kms-rsa {name} → MPL kms-rsa"),
            k,
            Some(UNSIGNED),
            mpl.clone(),
        ));
        from_mpl.push((
            format!("MPL kms-rsa {name} → kms-rsa"),
            mpl,
            Some(UNSIGNED),
            k,
        ));
    }

    let dir = std::env::temp_dir().join(format!("esdk-mpl-interop-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let client = Client::default();

    // Rust → MPL.
    let mut cases = Vec::new();
    for (id, k, suite, mpl_keyring) in &to_mpl {
        let mut opts = EncryptOptions::from_source(esdk_std::client::MaterialsSource::Keyring(
            owned[*k].as_ref(),
        ))
        .encryption_context(context(id));
        if let Some(s) = suite {
            opts = opts.suite(AlgorithmSuite::from_id(*s).unwrap());
        }
        let sealed = client.encrypt_async(&plaintext(id), &opts).await.unwrap();
        cases.push(
            json!({"id": id, "keyring": mpl_keyring, "plaintext": B64.encode(plaintext(id)),
            "encryption_context": context_json(id), "ciphertext": B64.encode(&sealed.ciphertext)}),
        );
    }
    let to_path = dir.join("rust-to-mpl.json");
    std::fs::write(&to_path, serde_json::to_vec(&cases).unwrap()).unwrap();
    let summary = run_mpl(&[Path::new("decrypt"), &to_path]);
    let expected = format!("{} passed, 0 failed", to_mpl.len());
    assert_eq!(summary.lines().last(), Some(expected.as_str()), "{summary}");
    eprintln!("Rust → MPL: {expected}");

    // MPL → Rust.
    let cases: Vec<Value> = from_mpl
        .iter()
        .map(|(id, mpl_keyring, suite, _)| {
            json!({"id": id, "keyring": mpl_keyring, "plaintext": B64.encode(plaintext(id)),
                "encryption_context": context_json(id), "suite": suite})
        })
        .collect();
    let from_path = dir.join("mpl-cases.json");
    let out_path = dir.join("mpl-ciphertexts.json");
    std::fs::write(&from_path, serde_json::to_vec(&cases).unwrap()).unwrap();
    run_mpl(&[Path::new("encrypt"), &from_path, &out_path]);
    let cts: Vec<Value> = serde_json::from_slice(&std::fs::read(&out_path).unwrap()).unwrap();
    assert_eq!(cts.len(), from_mpl.len());
    let mut passed = 0;
    for ((id, _, _, k), ct) in from_mpl.iter().zip(&cts) {
        assert_eq!(ct["id"].as_str(), Some(id.as_str()));
        let ct = B64.decode(ct["ciphertext"].as_str().unwrap()).unwrap();
        let opts = DecryptOptions::from_source(esdk_std::client::MaterialsSource::Keyring(
            owned[*k].as_ref(),
        ));
        let opened = client
            .decrypt_async(&ct, &opts)
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(opened.plaintext, plaintext(id), "{id}");
        assert_eq!(
            opened.encryption_context.get("interop-case"),
            Some(id.as_str()),
            "{id}"
        );
        passed += 1;
    }
    eprintln!("MPL → Rust: {passed} passed, 0 failed");
    let _ = std::fs::remove_dir_all(&dir);
}
