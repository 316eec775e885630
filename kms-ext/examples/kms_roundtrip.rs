//! Encrypts and decrypts a message with AWS KMS keyrings: a multi-key keyring (asynchronous),
//! a discovery keyring, and the blocking facade with the synchronous client.
//!
//! ```text
//! cargo run -p esdk-kms --example kms_roundtrip -- KEY_ARN [MORE_KEY_ARNS...]
//! ```
//!
//! Credentials, region and endpoint come from the standard AWS chain (`AWS_PROFILE`,
//! `AWS_REGION`, `AWS_ENDPOINT_URL_KMS`, ...). Without key ARNs it creates a key only when
//! `AWS_ENDPOINT_URL_KMS` points at a local test server (e.g. the moto server of
//! `kms-ext/tests/moto/start_moto.sh`); otherwise it prints this usage and exits.

use esdk_kms::{
    AwsKmsDiscoveryKeyring, AwsKmsKeyring, AwsSdkClientSupplier, BlockingKeyring, ClientSupplier,
    DiscoveryFilter, KmsArn,
};
use esdk_std::{Client, DecryptOptions, EncryptOptions, EncryptionContext};
use std::sync::Arc;

type BoxError = Box<dyn core::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut keys: Vec<String> = std::env::args().skip(1).collect();
    let supplier = Arc::new(AwsSdkClientSupplier::new());
    if keys.is_empty() {
        let local = std::env::var("AWS_ENDPOINT_URL_KMS")
            .is_ok_and(|u| u.starts_with("http://127.0.0.1") || u.starts_with("http://localhost"));
        if !local {
            eprintln!(
                "usage: kms_roundtrip KEY_ARN [MORE_KEY_ARNS...]\n\
                 (with AWS_ENDPOINT_URL_KMS set to a local test server, a key is created there)"
            );
            return Ok(());
        }
        let kms = supplier.client(None).await?;
        let created = kms
            .create_key()
            .description("esdk-kms example")
            .send()
            .await?;
        let arn = created
            .key_metadata()
            .and_then(|m| m.arn())
            .ok_or("CreateKey returned no ARN")?;
        println!("created test key {arn}");
        keys.push(arn.to_owned());
    }

    // Encrypt with every key: the first generates the data key, the others wrap it concurrently.
    let keyring = esdk_kms::AwsKmsMultiKeyringBuilder::new()
        .generator(&keys[0])
        .keys(&keys[1..])
        .client_supplier(supplier.clone())
        .build()?;
    let client = Client::builder().build();
    let mut ec = EncryptionContext::new();
    ec.insert("purpose", "esdk-kms example");
    let plaintext = b"Hello from the Rust ESDK and AWS KMS";
    let opts = EncryptOptions::async_keyring(&keyring).encryption_context(ec);
    let sealed = client.encrypt_async(plaintext, &opts).await?;
    println!(
        "encrypted {} bytes into {} bytes, suite {}",
        plaintext.len(),
        sealed.ciphertext.len(),
        sealed.header.suite
    );
    for edk in &sealed.header.encrypted_data_keys {
        println!(
            "  data key wrapped by {}",
            String::from_utf8_lossy(&edk.provider_info)
        );
    }

    // Decrypt with the same keyring (keys are tried in order until one succeeds).
    let opened = client
        .decrypt_async(&sealed.ciphertext, &DecryptOptions::async_keyring(&keyring))
        .await?;
    assert_eq!(opened.plaintext, plaintext);
    println!(
        "decrypted with the multi-keyring; context purpose = {:?}",
        opened.encryption_context.get("purpose")
    );

    // Decrypt without naming keys: a discovery keyring limited to the first key's account.
    if let Ok(arn) = KmsArn::parse_key_arn(&keys[0]) {
        let filter = DiscoveryFilter::new(arn.partition(), [arn.account()])?;
        let discovery = AwsKmsDiscoveryKeyring::new(supplier.clone()).filter(filter);
        let opened = client
            .decrypt_async(
                &sealed.ciphertext,
                &DecryptOptions::async_keyring(&discovery),
            )
            .await?;
        assert_eq!(opened.plaintext, plaintext);
        println!(
            "decrypted with a discovery keyring (account {})",
            arn.account()
        );
    }

    // Synchronous callers: the blocking facade owns a runtime and implements esdk-std's
    // `Keyring`, so the one-shot `Client::decrypt` (and the std::io adapters) can use KMS.
    let first = keys[0].clone();
    let ciphertext = sealed.ciphertext.clone();
    let sync_result = std::thread::spawn(move || -> Result<Vec<u8>, BoxError> {
        let keyring = BlockingKeyring::new(AwsKmsKeyring::with_default_clients(&first)?)?;
        Ok(Client::builder()
            .build()
            .decrypt(&ciphertext, &DecryptOptions::keyring(&keyring))?
            .plaintext)
    })
    .join()
    .map_err(|_| "the synchronous thread panicked")??;
    assert_eq!(sync_result, plaintext);
    println!("decrypted synchronously with BlockingKeyring");
    Ok(())
}
