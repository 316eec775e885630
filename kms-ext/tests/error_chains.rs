//! What a user sees when an AWS KMS call fails: the full `source()` chain of each failure case
//! (key not found, access denied, key disabled, connection refused, HTTP 500), printed (run
//! with `--nocapture`) and checked: every message once, no `Debug` output, no raw HTTP body,
//! and the service's error code readable as data ([`KmsError::find`]) on encrypt and decrypt.
//!
//! Not found / denied / disabled run against the moto server (`AWS_ENDPOINT_URL_KMS`, see
//! `kms-ext/tests/moto/start_moto.sh`); connection refused and HTTP 500 need no server (a closed
//! loopback port, and a tiny HTTP server on 127.0.0.1 started by the test).

use aws_sdk_kms::config::{BehaviorVersion, Credentials, Region};
use esdk_kms::{AwsKmsKeyring, AwsSdkClientSupplier, ClientSupplier, KmsError, KmsOperation};
use esdk_std::keyring::AsyncKeyring;
use esdk_std::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk_std::{AlgorithmSuite, EdkFailureKind, EncryptedDataKey, EncryptionContext, Error};
use std::io::{Read, Write};

const W2: &str = "us-west-2";
const ACCOUNT: &str = "123456789012";

fn moto(test: &str) -> bool {
    let required = std::env::var("ESDK_REQUIRE_KMS_TESTS").is_ok_and(|v| v == "1");
    match std::env::var("AWS_ENDPOINT_URL_KMS") {
        Ok(url) if url.starts_with("http://127.0.0.1") || url.starts_with("http://localhost") => {
            true
        }
        _ => {
            assert!(
                !required,
                "ESDK_REQUIRE_KMS_TESTS=1 but no local AWS_ENDPOINT_URL_KMS: start moto with \
                 `eval \"$(bash kms-ext/tests/moto/start_moto.sh)\"`"
            );
            eprintln!("SKIPPED {test}: AWS_ENDPOINT_URL_KMS (local moto) is not set");
            false
        }
    }
}

fn ec() -> EncryptionContext {
    let mut ec = EncryptionContext::new();
    ec.insert("purpose", "error chains");
    ec
}

fn suite() -> AlgorithmSuite {
    AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY
}

/// The text of `e` and of every source after it.
fn chain(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out = vec![e.to_string()];
    let mut next = e.source();
    while let Some(s) = next {
        out.push(s.to_string());
        next = s.source();
    }
    out
}

/// Prints the chain and checks the rules every failure case shares.
fn check_chain(case: &str, links: &[String]) {
    println!("{case}:");
    for (i, l) in links.iter().enumerate() {
        println!("  {i}: {l}");
    }
    for w in links.windows(2) {
        assert!(
            w[1].len() < 4 || !w[0].contains(&w[1]),
            "{case}: a message repeats its source: {links:#?}"
        );
    }
    let all = links.join("\n");
    for debug in [
        "DispatchFailure",
        "ConnectorError {",
        "ServiceError {",
        "Response {",
        "Some(",
        "headers",
        "<html",
        "body-marker",
    ] {
        assert!(
            !all.contains(debug),
            "{case}: Debug output or a raw HTTP body in the error text ({debug}): {links:#?}"
        );
    }
}

fn client_for(endpoint: &str) -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::new()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(W2))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
            .endpoint_url(endpoint)
            .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
            .build(),
    )
}

/// Encrypt (GenerateDataKey) and decrypt (one EDK naming `arn`, with `blob`) through `keyring`:
/// returns the two errors.
async fn both(keyring: &AwsKmsKeyring, arn: &str, blob: Vec<u8>) -> (Error, Error) {
    let enc = keyring
        .on_encrypt(&EncryptionMaterials::new(suite(), ec()))
        .await
        .expect_err("encrypt must fail");
    let edk = EncryptedDataKey {
        provider_id: "aws-kms".into(),
        provider_info: arn.as_bytes().to_vec(),
        ciphertext: blob,
    };
    let dec = keyring
        .on_decrypt(&DecryptionMaterials::new(suite(), ec()), &[edk])
        .await
        .expect_err("decrypt must fail");
    (enc, dec)
}

/// Checks both errors of one case and returns the KMS errors' codes (encrypt, decrypt).
fn check_case(case: &str, enc: &Error, dec: &Error, key: &str) -> (Option<String>, Option<String>) {
    let enc_chain = chain(enc);
    check_chain(&format!("{case} (encrypt)"), &enc_chain);
    let k = KmsError::find(enc).expect("the encrypt error holds a KmsError");
    assert_eq!(k.operation, KmsOperation::GenerateDataKey);
    assert_eq!(k.key_id, key);
    assert!(enc_chain[0].contains("GenerateDataKey") && enc_chain[0].contains(key));

    let Error::NoDecryptableKey(failures) = dec else {
        panic!("{case}: expected NoDecryptableKey, got {dec}")
    };
    assert_eq!(failures.len(), 1, "{dec}");
    let f = &failures[0];
    assert_eq!(
        f.kind,
        EdkFailureKind::Failed,
        "{case}: a failed KMS call is not 'not mine'"
    );
    let dec_chain = chain(dec);
    check_chain(&format!("{case} (decrypt)"), &dec_chain);
    // The failure's own source chain: the KmsError first, whole.
    let src = f.source().expect("the EDK failure keeps its KMS error");
    let dk = src
        .downcast_ref::<KmsError>()
        .expect("source is the KmsError");
    assert_eq!(dk.operation, KmsOperation::Decrypt);
    let src_chain = chain(src);
    check_chain(&format!("{case} (decrypt, EDK failure source)"), &src_chain);
    // The failure's text shows each link of its source chain once.
    for l in &src_chain {
        assert_eq!(
            dec_chain[0].matches(l.as_str()).count(),
            1,
            "{case}: `{l}` not shown exactly once in {dec_chain:#?}"
        );
    }
    (
        k.code.clone(),
        KmsError::find(dec).and_then(|k| k.code.clone()),
    )
}

async fn admin() -> aws_sdk_kms::Client {
    AwsSdkClientSupplier::new().client(Some(W2)).await.unwrap()
}

async fn create_key() -> (String, Vec<u8>) {
    let c = admin().await;
    let arn = c
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let ctx: std::collections::HashMap<String, String> = ec()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let blob = c
        .encrypt()
        .key_id(&arn)
        .plaintext(aws_sdk_kms::primitives::Blob::new(vec![7u8; 32]))
        .set_encryption_context(Some(ctx))
        .send()
        .await
        .unwrap()
        .ciphertext_blob()
        .unwrap()
        .as_ref()
        .to_vec();
    (arn, blob)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_not_found() {
    if !moto("key_not_found") {
        return;
    }
    let (_, blob) = create_key().await;
    let missing = format!("arn:aws:kms:{W2}:{ACCOUNT}:key/00000000-0000-0000-0000-00000000dead");
    let k = AwsKmsKeyring::with_client(&missing, admin().await).unwrap();
    let (enc, dec) = both(&k, &missing, blob).await;
    let (e, d) = check_case("key not found", &enc, &dec, &missing);
    assert_eq!(e.as_deref(), Some("NotFoundException"));
    assert!(
        matches!(
            d.as_deref(),
            Some("NotFoundException" | "AccessDeniedException")
        ),
        "{d:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied() {
    if !moto("access_denied") {
        return;
    }
    // Decrypt of key A's ciphertext naming key B: KMS answers AccessDeniedException. (Encrypt
    // with B works, so the encrypt side of this case uses a key whose policy denies nothing;
    // only the decrypt side is checked here.)
    let (_, blob_a) = create_key().await;
    let (b, _) = create_key().await;
    let k = AwsKmsKeyring::with_client(&b, admin().await).unwrap();
    let edk = EncryptedDataKey {
        provider_id: "aws-kms".into(),
        provider_info: b.as_bytes().to_vec(),
        ciphertext: blob_a,
    };
    let dec = k
        .on_decrypt(&DecryptionMaterials::new(suite(), ec()), &[edk])
        .await
        .unwrap_err();
    let links = chain(&dec);
    check_chain("access denied (decrypt)", &links);
    let kms = KmsError::find(&dec).expect("a KmsError");
    assert_eq!(kms.code.as_deref(), Some("AccessDeniedException"));
    assert_eq!(kms.http_status, Some(400));
    let Error::NoDecryptableKey(v) = &dec else {
        panic!("{dec}")
    };
    assert_eq!(v[0].kind, EdkFailureKind::Failed);
    assert!(links[0].contains("AccessDeniedException"), "{links:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_disabled() {
    if !moto("key_disabled") {
        return;
    }
    let (arn, blob) = create_key().await;
    admin()
        .await
        .disable_key()
        .key_id(&arn)
        .send()
        .await
        .unwrap();
    let k = AwsKmsKeyring::with_client(&arn, admin().await).unwrap();
    let (enc, dec) = both(&k, &arn, blob).await;
    let (e, d) = check_case("key disabled", &enc, &dec, &arn);
    assert_eq!(e.as_deref(), Some("DisabledException"));
    assert_eq!(d.as_deref(), Some("DisabledException"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused() {
    // A loopback port nobody listens on (bound, then closed).
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let arn = format!("arn:aws:kms:{W2}:{ACCOUNT}:key/11111111-1111-1111-1111-111111111111");
    let k =
        AwsKmsKeyring::with_client(&arn, client_for(&format!("http://127.0.0.1:{port}"))).unwrap();
    let (enc, dec) = both(&k, &arn, vec![1; 64]).await;
    let (e, d) = check_case("connection refused", &enc, &dec, &arn);
    assert_eq!((e, d), (None, None), "no service answered: no code");
    let links = chain(&enc);
    assert!(
        links[0].ends_with("the request could not be sent"),
        "{links:#?}"
    );
    assert!(
        links.iter().any(|l| l.to_lowercase().contains("refused")),
        "the operating system's reason is in the chain: {links:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_500_with_an_html_body() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Answers every request with a 500 and an HTML body (headers and body must never reach an
    // error's text); stops after a bounded number of connections.
    let server = std::thread::spawn(move || {
        for _ in 0..4 {
            let Ok((mut s, _)) = listener.accept() else {
                return;
            };
            let mut buf = [0u8; 65536];
            let mut got = Vec::new();
            // Read the request head and its body (Content-Length), bounded.
            while let Ok(n) = s.read(&mut buf) {
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&got).to_lowercase();
                if let Some(head_end) = text.find("\r\n\r\n") {
                    let len = text
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:"))
                        .and_then(|v| v.trim().parse::<usize>().ok())
                        .unwrap_or(0);
                    if got.len() >= head_end + 4 + len {
                        break;
                    }
                }
            }
            let body = "<html><body><h1>500</h1>body-marker: internal</body></html>";
            let resp = format!(
                "HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\nX-Secret-Header: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(resp.as_bytes());
        }
    });
    let arn = format!("arn:aws:kms:{W2}:{ACCOUNT}:key/22222222-2222-2222-2222-222222222222");
    let k =
        AwsKmsKeyring::with_client(&arn, client_for(&format!("http://127.0.0.1:{port}"))).unwrap();
    let (enc, dec) = both(&k, &arn, vec![1; 64]).await;
    let (e, d) = check_case("HTTP 500", &enc, &dec, &arn);
    assert_eq!(
        (e, d),
        (None, None),
        "an HTML 500 carries no AWS error code"
    );
    let kms = KmsError::find(&enc).unwrap();
    assert_eq!(kms.http_status, Some(500));
    let links = chain(&enc);
    assert!(links[0].contains("HTTP 500"), "{links:#?}");
    assert!(!links.join("\n").contains("X-Secret-Header"), "{links:#?}");
    drop(k);
    // Let the server thread finish (it stops after 4 connections or when the port is dropped).
    let _ = std::net::TcpStream::connect(("127.0.0.1", port));
    let _ = std::net::TcpStream::connect(("127.0.0.1", port));
    let _ = server.join();
}
