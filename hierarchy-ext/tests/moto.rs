//! esdk-hierarchy against real DynamoDB and KMS APIs: the moto server started by
//! `kms-ext/tests/moto/start_moto.sh` (one server serves both), found through
//! `AWS_ENDPOINT_URL_KMS` (and `AWS_ENDPOINT_URL_DYNAMODB`, default: the same URL). Every call
//! goes over HTTP to 127.0.0.1; calls are counted by an interceptor on the clients just before
//! each request is transmitted (one count per HTTP request, retries included).
//!
//! Without the endpoint the tests print `SKIPPED` and pass; with `ESDK_REQUIRE_KMS_TESTS=1`
//! they fail instead (CI). Each test uses its own table and KMS key, so they run in parallel.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_sdk_kms::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_kms::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_kms::error::BoxError;
use esdk_hierarchy::store::{CREATE_TIME, TYPE_ACTIVE};
use esdk_hierarchy::{
    BranchKeyCache, ContextKeySupplier, HierarchicalKeyring, KeyStore, KeyStoreError,
    KeyStoreErrorKind, KeyStoreOperation, KmsConfiguration,
};
use esdk_kms::BlockingKeyring;
use esdk_std::{Client, DecryptOptions, EncryptOptions, EncryptionContext, Error};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn endpoint(test: &str) -> Option<(String, String)> {
    let required = std::env::var("ESDK_REQUIRE_KMS_TESTS").is_ok_and(|v| v == "1");
    match std::env::var("AWS_ENDPOINT_URL_KMS") {
        Ok(url) if !url.is_empty() => {
            assert!(
                ["http://127.0.0.1", "http://localhost", "http://[::1]"]
                    .iter()
                    .any(|p| url.starts_with(p)),
                "AWS_ENDPOINT_URL_KMS={url} is not a local test server; these tests create tables and keys"
            );
            let ddb = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
                .ok()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| url.clone());
            Some((url, ddb))
        }
        _ => {
            assert!(
                !required,
                "ESDK_REQUIRE_KMS_TESTS=1 but AWS_ENDPOINT_URL_KMS is not set: start moto with \
                 `eval \"$(bash kms-ext/tests/moto/start_moto.sh)\"`"
            );
            eprintln!("SKIPPED {test}: AWS_ENDPOINT_URL_KMS is not set (no moto server)");
            None
        }
    }
}

macro_rules! need_moto {
    ($name:expr) => {
        match endpoint($name) {
            Some(u) => u,
            None => return,
        }
    };
}

/// Counts requests by operation (`GetItem`, `Decrypt`, ...) and keeps KMS request bodies.
#[derive(Debug, Clone, Default)]
struct Calls(Arc<Mutex<Vec<(String, String)>>>);

impl Calls {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
            .into_iter()
            .map(|(op, _)| op)
            .collect()
    }
    fn count(ops: &[String], op: &str) -> usize {
        ops.iter().filter(|o| *o == op).count()
    }
    fn bodies(&self) -> Vec<(String, String)> {
        self.0.lock().unwrap().clone()
    }
}

impl Intercept for Calls {
    fn name(&self) -> &'static str {
        "esdk-hierarchy-test-calls"
    }
    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = ctx.request().headers().get("x-amz-target").unwrap_or("?");
        let op = target.rsplit('.').next().unwrap_or("?").to_owned();
        let body =
            String::from_utf8_lossy(ctx.request().body().bytes().unwrap_or_default()).into_owned();
        self.0.lock().unwrap().push((op, body));
        Ok(())
    }
}

struct Env {
    calls: Calls,
    ddb: aws_sdk_dynamodb::Client,
    kms: aws_sdk_kms::Client,
    arn: String,
    table: String,
}

async fn env((kms_url, ddb_url): &(String, String)) -> Env {
    let calls = Calls::default();
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-west-2"))
        .load()
        .await;
    let kms = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::from(&sdk)
            .endpoint_url(kms_url)
            .interceptor(calls.clone())
            .build(),
    );
    let ddb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk)
            .endpoint_url(ddb_url)
            .interceptor(calls.clone())
            .build(),
    );
    let arn = kms
        .create_key()
        .description("esdk-hierarchy test")
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    Env {
        calls,
        ddb,
        kms,
        arn,
        table: format!("bks-{}", esdk_hierarchy::uuid::new_v4()),
    }
}

impl Env {
    async fn store(&self) -> KeyStore {
        self.store_for(&self.table).await
    }
    async fn store_for(&self, table: &str) -> KeyStore {
        KeyStore::builder()
            .table_name(table)
            .logical_key_store_name(format!("logical-{}", self.table))
            .kms_key_arn(&self.arn)
            .grant_tokens(vec!["test-grant-token".into()])
            .ddb_client(self.ddb.clone())
            .kms_client(self.kms.clone())
            .build()
            .await
            .unwrap()
    }
    /// Overwrites one attribute of a branch key's ACTIVE item, behind the store's back.
    async fn set_active_attribute(&self, id: &str, name: &str, value: AttributeValue) {
        self.ddb
            .update_item()
            .table_name(&self.table)
            .key("branch-key-id", AttributeValue::S(id.to_owned()))
            .key("type", AttributeValue::S(TYPE_ACTIVE.into()))
            .update_expression("SET #t = :t")
            .expression_attribute_names("#t", name)
            .expression_attribute_values(":t", value)
            .send()
            .await
            .unwrap();
    }
    async fn ready_store(&self) -> KeyStore {
        let s = self.store().await;
        s.create_key_store().await.unwrap();
        s
    }
}

fn ec(tenant: &str) -> EncryptionContext {
    let mut ec = EncryptionContext::new();
    ec.insert("purpose", "esdk-hierarchy test");
    ec.insert("tenant", tenant);
    ec
}

fn custom_ec() -> BTreeMap<String, String> {
    [("department".to_owned(), "billing".to_owned())].into()
}

fn keyring(store: &KeyStore, id: &str, ttl: Duration) -> HierarchicalKeyring {
    HierarchicalKeyring::builder(store.clone())
        .branch_key_id(id)
        .ttl(ttl)
        .build()
        .unwrap()
}

fn store_error(e: &Error) -> &KeyStoreError {
    match e {
        Error::Provider(source) => source.downcast_ref::<KeyStoreError>().unwrap(),
        other => panic!("not a key store error: {other}"),
    }
}

fn edk_version(ct: &[u8]) -> String {
    let header = Client::builder().build().parse_header(ct).unwrap();
    let edks = &header.encrypted_data_keys;
    assert_eq!(edks.len(), 1);
    let v: [u8; 16] = edks[0].ciphertext[28..44].try_into().unwrap();
    esdk_hierarchy::uuid::format(&v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_lifecycle_rotation_and_round_trips() {
    let urls = need_moto!("store_lifecycle_rotation_and_round_trips");
    let env = env(&urls).await;
    let store = env.store().await;
    // The table does not exist: CreateKeyStore creates it; a second call accepts it.
    let arn = store.create_key_store().await.unwrap();
    assert!(arn.contains(&env.table), "{arn}");
    assert_eq!(store.create_key_store().await.unwrap(), arn);
    assert_eq!(store.info().table_name, env.table);
    assert_eq!(
        store.info().grant_tokens,
        vec!["test-grant-token".to_owned()]
    );

    // CreateKey: random id, and a caller-chosen id (which needs an encryption context).
    let id = store.create_key(None, Some(&custom_ec())).await.unwrap();
    assert!(esdk_hierarchy::uuid::parse(&id).is_some());
    let chosen = format!("tenant-a-{}", &env.table[4..12]);
    let e = store.create_key(Some(&chosen), None).await.unwrap_err();
    assert_eq!(e.kind, KeyStoreErrorKind::Config);
    assert_eq!(
        store
            .create_key(Some(&chosen), Some(&BTreeMap::new()))
            .await
            .unwrap(),
        chosen
    );
    let e = store
        .create_key(Some(&chosen), Some(&BTreeMap::new()))
        .await
        .unwrap_err();
    assert_eq!(e.kind, KeyStoreErrorKind::AlreadyExists, "{e}");
    assert_eq!(e.operation, KeyStoreOperation::CreateKey);

    let v1 = store.get_active_branch_key(&id).await.unwrap();
    assert_eq!(v1.branch_key_id(), id);
    assert_eq!(v1.encryption_context(), &custom_ec());
    let beacon = store.get_beacon_key(&id).await.unwrap();
    assert_ne!(beacon.key(), v1.key());
    assert_eq!(beacon.encryption_context(), &custom_ec());
    // A Discovery store reads the same items (with the ARN each names) but cannot write.
    let discovery = KeyStore::builder()
        .table_name(&env.table)
        .logical_key_store_name(format!("logical-{}", env.table))
        .kms_configuration(KmsConfiguration::Discovery)
        .grant_tokens(vec!["test-grant-token".into()])
        .ddb_client(env.ddb.clone())
        .kms_client(env.kms.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(
        discovery.get_active_branch_key(&id).await.unwrap().key(),
        v1.key()
    );
    let e = discovery.create_key(None, None).await.unwrap_err();
    assert_eq!(e.kind, KeyStoreErrorKind::Config, "{e}");
    let e = discovery.version_key(&id).await.unwrap_err();
    assert_eq!(e.kind, KeyStoreErrorKind::Config, "{e}");
    // Another logical key store name: the items do not authenticate.
    let renamed = KeyStore::builder()
        .table_name(&env.table)
        .logical_key_store_name("another-name")
        .kms_key_arn(&env.arn)
        .grant_tokens(vec!["test-grant-token".into()])
        .ddb_client(env.ddb.clone())
        .kms_client(env.kms.clone())
        .build()
        .await
        .unwrap();
    let e = renamed.get_active_branch_key(&id).await.unwrap_err();
    assert_eq!(e.kind, KeyStoreErrorKind::InvalidItem, "{e}");

    let client = Client::builder().build();
    let kr = keyring(&store, &id, Duration::from_secs(600));
    let m1 = client
        .encrypt_async(
            b"first",
            &EncryptOptions::async_keyring(&kr).encryption_context(ec("a")),
        )
        .await
        .unwrap();
    assert_eq!(edk_version(&m1.ciphertext), v1.version());

    // Rotate: the active version changes, the old one stays readable, the custom context stays.
    let v2 = store.version_key(&id).await.unwrap();
    assert_ne!(v2, v1.version());
    let active = store.get_active_branch_key(&id).await.unwrap();
    assert_eq!(active.version(), v2);
    assert_eq!(active.encryption_context(), &custom_ec());
    assert_ne!(active.key(), v1.key());
    let old = store
        .get_branch_key_version(&id, v1.version())
        .await
        .unwrap();
    assert_eq!(old.key(), v1.key());

    let kr2 = keyring(&store, &id, Duration::from_secs(600));
    let m2 = client
        .encrypt_async(
            b"second",
            &EncryptOptions::async_keyring(&kr2).encryption_context(ec("a")),
        )
        .await
        .unwrap();
    assert_eq!(edk_version(&m2.ciphertext), v2);
    for (m, pt) in [(&m1, &b"first"[..]), (&m2, &b"second"[..])] {
        for k in [&kr, &kr2] {
            let out = client
                .decrypt_async(&m.ciphertext, &DecryptOptions::async_keyring(k))
                .await
                .unwrap();
            assert_eq!(out.plaintext, pt);
        }
    }
    // A keyring for another branch key cannot decrypt.
    let other = keyring(&store, &chosen, Duration::from_secs(600));
    let e = client
        .decrypt_async(&m1.ciphertext, &DecryptOptions::async_keyring(&other))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::NoDecryptableKey(_)), "{e}");

    // Every KMS call carried the grant token.
    let kms_bodies: Vec<_> = env
        .calls
        .bodies()
        .into_iter()
        .filter(|(op, _)| {
            ["Decrypt", "ReEncrypt", "GenerateDataKeyWithoutPlaintext"].contains(&op.as_str())
        })
        .collect();
    assert!(kms_bodies.len() >= 8, "{}", kms_bodies.len());
    for (op, body) in kms_bodies {
        assert!(
            body.contains(r#""GrantTokens":["test-grant-token"]"#),
            "{op}: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wire_call_counts_cache_hit_and_ttl_expiry() {
    let urls = need_moto!("wire_call_counts_cache_hit_and_ttl_expiry");
    let env = env(&urls).await;
    let store = env.ready_store().await;
    let id = store.create_key(None, None).await.unwrap();
    let client = Client::builder().build();
    let kr = keyring(&store, &id, Duration::from_millis(1500));
    env.calls.take();

    // Cold: one GetItem and one Decrypt.
    let opts = EncryptOptions::async_keyring(&kr).encryption_context(ec("a"));
    let m = client.encrypt_async(b"x", &opts).await.unwrap();
    let ops = env.calls.take();
    assert_eq!(ops, ["GetItem", "Decrypt"], "{ops:?}");
    // Cache hits: no call at all.
    for _ in 0..5 {
        client.encrypt_async(b"x", &opts).await.unwrap();
    }
    assert_eq!(env.calls.take(), Vec::<String>::new());
    // Decrypt needs the version item (its own entry): 1 + 1, then hits.
    client
        .decrypt_async(&m.ciphertext, &DecryptOptions::async_keyring(&kr))
        .await
        .unwrap();
    assert_eq!(env.calls.take(), ["GetItem", "Decrypt"]);
    for _ in 0..3 {
        client
            .decrypt_async(&m.ciphertext, &DecryptOptions::async_keyring(&kr))
            .await
            .unwrap();
    }
    assert_eq!(env.calls.take(), Vec::<String>::new());
    // After the TTL: exactly one DynamoDB and one KMS call again.
    tokio::time::sleep(Duration::from_millis(1700)).await;
    client.encrypt_async(b"x", &opts).await.unwrap();
    let ops = env.calls.take();
    assert_eq!(Calls::count(&ops, "GetItem"), 1, "{ops:?}");
    assert_eq!(Calls::count(&ops, "Decrypt"), 1, "{ops:?}");
    assert_eq!(ops.len(), 2, "{ops:?}");
    assert_eq!(kr.cache().len(), 2);
}

#[test]
fn cold_cache_storm_8_threads_one_call_each() {
    let urls = need_moto!("cold_cache_storm_8_threads_one_call_each");
    let rt = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap(),
    );
    let (env, store, id) = rt.block_on(async {
        let env = env(&urls).await;
        let store = env.ready_store().await;
        let id = store.create_key(None, None).await.unwrap();
        (env, store, id)
    });
    let kr = Arc::new(BlockingKeyring::with_runtime(
        keyring(&store, &id, Duration::from_secs(600)),
        rt.clone(),
    ));
    env.calls.take();
    let barrier = Arc::new(std::sync::Barrier::new(8));
    let sealed: Vec<Vec<u8>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|i| {
                let (kr, barrier) = (kr.clone(), barrier.clone());
                s.spawn(move || {
                    let client = Client::builder().build();
                    barrier.wait();
                    client
                        .encrypt(
                            format!("msg {i}").as_bytes(),
                            &EncryptOptions::keyring(&*kr).encryption_context(ec("a")),
                        )
                        .unwrap()
                        .ciphertext
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let ops = env.calls.take();
    assert_eq!(ops, ["GetItem", "Decrypt"], "8 cold encrypts: {ops:?}");

    // The same for 8 concurrent cold decrypts in a fresh keyring.
    let kr2 = Arc::new(BlockingKeyring::with_runtime(
        keyring(&store, &id, Duration::from_secs(600)),
        rt.clone(),
    ));
    std::thread::scope(|s| {
        for (i, ct) in sealed.iter().enumerate() {
            let (kr2, barrier) = (kr2.clone(), barrier.clone());
            s.spawn(move || {
                barrier.wait();
                let out = Client::builder()
                    .build()
                    .decrypt(ct, &DecryptOptions::keyring(&*kr2))
                    .unwrap();
                assert_eq!(out.plaintext, format!("msg {i}").as_bytes());
            });
        }
    });
    let ops = env.calls.take();
    assert_eq!(ops, ["GetItem", "Decrypt"], "8 cold decrypts: {ops:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn multi_tenant_supplier_and_shared_cache() {
    let urls = need_moto!("multi_tenant_supplier_and_shared_cache");
    let env = env(&urls).await;
    let store = env.ready_store().await;
    let a = store.create_key(None, None).await.unwrap();
    let b = store.create_key(None, None).await.unwrap();
    let supplier = ContextKeySupplier::new("tenant")
        .with("a", &a)
        .with("b", &b);
    let cache = BranchKeyCache::new(100);
    let mk = |partition: &str| {
        HierarchicalKeyring::builder(store.clone())
            .branch_key_id_supplier(supplier.clone())
            .ttl(Duration::from_secs(600))
            .cache(cache.clone())
            .partition_id(partition)
            .build()
            .unwrap()
    };
    let kr = mk("p1");
    let client = Client::builder().build();
    let ma = client
        .encrypt_async(
            b"for a",
            &EncryptOptions::async_keyring(&kr).encryption_context(ec("a")),
        )
        .await
        .unwrap();
    let mb = client
        .encrypt_async(
            b"for b",
            &EncryptOptions::async_keyring(&kr).encryption_context(ec("b")),
        )
        .await
        .unwrap();
    let pa = client.parse_header(&ma.ciphertext).unwrap();
    let pb = client.parse_header(&mb.ciphertext).unwrap();
    assert_eq!(pa.encrypted_data_keys[0].provider_info, a.as_bytes());
    assert_eq!(pb.encrypted_data_keys[0].provider_info, b.as_bytes());
    for (m, pt) in [(&ma, &b"for a"[..]), (&mb, &b"for b"[..])] {
        let out = client
            .decrypt_async(&m.ciphertext, &DecryptOptions::async_keyring(&kr))
            .await
            .unwrap();
        assert_eq!(out.plaintext, pt);
    }
    // An unknown tenant is refused before any call.
    env.calls.take();
    let e = client
        .encrypt_async(
            b"x",
            &EncryptOptions::async_keyring(&kr).encryption_context(ec("zzz")),
        )
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no key for tenant = \"zzz\""), "{e}");
    assert!(env.calls.take().is_empty());

    // Same cache, same partition: entries are shared (no call). Another partition: its own.
    let same = mk("p1");
    client
        .encrypt_async(
            b"x",
            &EncryptOptions::async_keyring(&same).encryption_context(ec("a")),
        )
        .await
        .unwrap();
    assert!(env.calls.take().is_empty());
    let other = mk("p2");
    client
        .encrypt_async(
            b"x",
            &EncryptOptions::async_keyring(&other).encryption_context(ec("a")),
        )
        .await
        .unwrap();
    assert_eq!(env.calls.take(), ["GetItem", "Decrypt"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_name_branch_key_version_and_operation() {
    let urls = need_moto!("failures_name_branch_key_version_and_operation");
    let env = env(&urls).await;
    let store = env.ready_store().await;
    let id = store.create_key(None, None).await.unwrap();
    let v = store.get_active_branch_key(&id).await.unwrap();
    let secret_hex: String = v.key().iter().map(|b| format!("{b:02x}")).collect();
    let client = Client::builder().build();
    let no_secret = |s: &str| {
        assert!(!s.contains(&secret_hex), "error shows the branch key: {s}");
    };

    // Missing branch key.
    let kr = keyring(&store, "no-such-key", Duration::from_secs(60));
    let e = client
        .encrypt_async(b"x", &EncryptOptions::async_keyring(&kr))
        .await
        .unwrap_err();
    let ke = store_error(&e);
    assert_eq!(ke.kind, KeyStoreErrorKind::NotFound);
    assert_eq!(ke.operation, KeyStoreOperation::GetActiveBranchKey);
    assert!(
        e.to_string()
            .contains("GetActiveBranchKey failed for branch key id \"no-such-key\""),
        "{e}"
    );

    // Missing version (a message naming a version that is not in the table).
    let e = store
        .get_branch_key_version(&id, "00000000-0000-4000-8000-000000000000")
        .await
        .unwrap_err();
    assert_eq!(e.kind, KeyStoreErrorKind::NotFound);
    let s = e.to_string();
    assert!(
        s.contains(&id)
            && s.contains("00000000-0000-4000-8000-000000000000")
            && s.contains("GetBranchKeyVersion"),
        "{s}"
    );

    // Wrong table.
    let wrong = env.store_for("no-such-table").await;
    let e = wrong.get_active_branch_key(&id).await.unwrap_err();
    assert_eq!(e.kind, KeyStoreErrorKind::TableNotFound, "{e}");
    assert!(
        e.to_string().contains("no-such-table") && e.to_string().contains(&id),
        "{e}"
    );
    // A table with another key schema is refused by CreateKeyStore.
    let other_schema = format!("{}-other", env.table);
    env.ddb
        .create_table()
        .table_name(&other_schema)
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
    let e = env
        .store_for(&other_schema)
        .await
        .create_key_store()
        .await
        .unwrap_err();
    assert_eq!(e.kind, KeyStoreErrorKind::InvalidTable, "{e}");

    // A message encrypted before the tampering, to show decrypt failures too.
    let m = client
        .encrypt_async(b"x", &EncryptOptions::async_keyring(&kr_for(&store, &id)))
        .await
        .unwrap();

    // Tampered item: change an authenticated attribute of the ACTIVE item.
    env.set_active_attribute(
        &id,
        CREATE_TIME,
        AttributeValue::S("2001-01-01T00:00:00.000000Z".into()),
    )
    .await;
    let e = store.get_active_branch_key(&id).await.unwrap_err();
    assert_eq!(e.kind, KeyStoreErrorKind::InvalidItem, "{e}");
    assert!(e.to_string().contains(&id), "{e}");
    no_secret(&format!("{e} {e:?}"));
    let e = store.version_key(&id).await.unwrap_err();
    assert_eq!(e.kind, KeyStoreErrorKind::InvalidItem, "{e}");
    // A malformed item (wrong attribute type) fails before any KMS call.
    env.set_active_attribute(&id, "kms-arn", AttributeValue::N("7".into()))
        .await;
    env.calls.take();
    let e = store.get_active_branch_key(&id).await.unwrap_err();
    assert_eq!(e.kind, KeyStoreErrorKind::InvalidItem, "{e}");
    assert_eq!(env.calls.take(), ["GetItem"]);

    // KMS denial: the KMS key is disabled.
    // (moto 5.2 answers HTTP 500 to DisableKey with a key ARN; the bare key id works.)
    let key_id = env.arn.rsplit('/').next().unwrap();
    env.kms.disable_key().key_id(key_id).send().await.unwrap();
    let e = store
        .get_branch_key_version(&id, v.version())
        .await
        .unwrap_err();
    assert_eq!(e.kind, KeyStoreErrorKind::Kms, "{e}");
    assert!(e.code.is_some(), "{e:?}");
    let s = e.to_string();
    assert!(
        s.contains(&id)
            && s.contains(v.version())
            && s.contains("GetBranchKeyVersion")
            && s.contains("Decrypt"),
        "{s}"
    );
    no_secret(&format!("{e} {e:?}"));
    let e = client
        .decrypt_async(
            &m.ciphertext,
            &DecryptOptions::async_keyring(&kr_for(&store, &id)),
        )
        .await
        .unwrap_err();
    let s = e.to_string();
    assert!(matches!(e, Error::NoDecryptableKey(_)), "{e}");
    assert!(
        s.contains(&id) && s.contains(v.version()) && s.contains("GetBranchKeyVersion"),
        "{s}"
    );
    no_secret(&s);
}

fn kr_for(store: &KeyStore, id: &str) -> HierarchicalKeyring {
    keyring(store, id, Duration::from_secs(60))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rotations_never_lose_a_version() {
    let urls = need_moto!("concurrent_rotations_never_lose_a_version");
    let env = env(&urls).await;
    let store = env.ready_store().await;
    let id = store.create_key(None, None).await.unwrap();
    let results = futures_join(&store, &id, 4).await;
    let ok: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().ok().cloned())
        .collect();
    assert!(!ok.is_empty());
    for r in &results {
        if let Err(e) = r {
            assert_eq!(e.kind, KeyStoreErrorKind::VersionConflict, "{e}");
        }
    }
    let active = store.get_active_branch_key(&id).await.unwrap();
    assert!(ok.contains(&active.version().to_owned()));
    for v in &ok {
        store.get_branch_key_version(&id, v).await.unwrap();
    }
}

async fn futures_join(store: &KeyStore, id: &str, n: usize) -> Vec<Result<String, KeyStoreError>> {
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (store, id) = (store.clone(), id.to_owned());
            tokio::spawn(async move { store.version_key(&id).await })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
