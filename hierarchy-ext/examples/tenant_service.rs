//! A small multi-tenant service: records of several tenants are encrypted under each tenant's
//! own branch key, chosen from the record's encryption context, with one keyring and one
//! branch key cache for the whole process (as every process of a fleet would have).
//!
//! ```sh
//! # against the moto test server (creates a KMS key and the table):
//! eval "$(bash kms-ext/tests/moto/start_moto.sh)"
//! cargo run -p esdk-hierarchy --example tenant_service
//! # against AWS: an existing KMS key and table (the table is created if missing)
//! ESDK_HIERARCHY_KMS_ARN=arn:aws:kms:... ESDK_HIERARCHY_TABLE=branch-keys \
//!   cargo run -p esdk-hierarchy --example tenant_service
//! ```
//!
//! Branch key ids are chosen by this program (`tenant-<name>`), so every run and every process
//! finds the same keys; a first run creates them.

use esdk_hierarchy::{ContextKeySupplier, HierarchicalKeyring, KeyStore, KeyStoreErrorKind};
use esdk_std::{Client, DecryptOptions, EncryptOptions, EncryptionContext};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const TENANTS: [&str; 3] = ["acme", "globex", "initech"];
const RECORDS_PER_TENANT: usize = 50;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let given_table = std::env::var("ESDK_HIERARCHY_TABLE").ok();
    let (table, kms_arn) = match std::env::var("ESDK_HIERARCHY_KMS_ARN") {
        Ok(a) => (
            given_table.unwrap_or_else(|| "esdk-example-branch-keys".into()),
            a,
        ),
        Err(_) => {
            let url = std::env::var("AWS_ENDPOINT_URL_KMS").map_err(|_| {
                "set ESDK_HIERARCHY_KMS_ARN (and AWS credentials), or start the moto test server"
            })?;
            println!("no ESDK_HIERARCHY_KMS_ARN: creating a KMS key on {url}");
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let arn = aws_sdk_kms::Client::new(&sdk)
                .create_key()
                .description("esdk-hierarchy example")
                .send()
                .await?
                .key_metadata()
                .and_then(|m| m.arn())
                .ok_or("CreateKey returned no ARN")?
                .to_owned();
            // A new KMS key needs its own table: items are bound to the key that wrapped them.
            let table = given_table.unwrap_or_else(|| {
                format!("esdk-example-{}", &esdk_hierarchy::uuid::new_v4()[..8])
            });
            (table, arn)
        }
    };

    // One key store and one keyring per process.
    let store = KeyStore::builder()
        .table_name(&table)
        .logical_key_store_name(&table)
        .kms_key_arn(&kms_arn)
        .build()
        .await?;
    store.create_key_store().await?;
    let mut supplier = ContextKeySupplier::new("tenant");
    for t in TENANTS {
        let id = format!("tenant-{t}");
        let ec = BTreeMap::from([("tenant".to_owned(), t.to_owned())]);
        match store.create_key(Some(&id), Some(&ec)).await {
            Ok(_) => println!("created branch key {id}"),
            Err(e) if e.kind == KeyStoreErrorKind::AlreadyExists => {
                println!("using branch key {id}")
            }
            Err(e) => return Err(e.into()),
        }
        supplier = supplier.with(t, id);
    }
    let keyring = HierarchicalKeyring::builder(store.clone())
        .branch_key_id_supplier(supplier)
        .ttl(Duration::from_secs(300))
        .build()?;
    let client = Client::builder().build();

    // Encrypt every tenant's records, then read them back.
    let started = Instant::now();
    let mut sealed = Vec::new();
    for i in 0..RECORDS_PER_TENANT {
        for t in TENANTS {
            let mut ec = EncryptionContext::new();
            ec.insert("tenant", t);
            ec.insert("record", i.to_string());
            let record = format!("{{\"tenant\":\"{t}\",\"n\":{i}}}");
            let out = client
                .encrypt_async(
                    record.as_bytes(),
                    &EncryptOptions::async_keyring(&keyring).encryption_context(ec),
                )
                .await?;
            sealed.push((record, out.ciphertext));
        }
    }
    for (record, ct) in &sealed {
        let out = client
            .decrypt_async(ct, &DecryptOptions::async_keyring(&keyring))
            .await?;
        if out.plaintext != record.as_bytes() {
            return Err("a record did not round-trip".into());
        }
        let tenant = out.encryption_context.get("tenant").unwrap_or("?");
        if !record.contains(&format!("\"tenant\":\"{tenant}\"")) {
            return Err("a record came back with another tenant's context".into());
        }
    }
    println!(
        "{} records of {} tenants encrypted and decrypted in {:.2?}; branch key loads (DynamoDB GetItem + KMS Decrypt each): {}",
        sealed.len(),
        TENANTS.len(),
        started.elapsed(),
        keyring.cache().loads()
    );
    Ok(())
}
