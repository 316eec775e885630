//! esdk-kms against a real KMS endpoint: the moto server started by
//! `tests/moto/start_moto.sh` (or `with_moto.sh`), found through `AWS_ENDPOINT_URL_KMS`, with
//! dummy credentials from the environment. No mocks: every KMS call below goes over HTTP.
//!
//! Without `AWS_ENDPOINT_URL_KMS` the tests that need the server print `SKIPPED` and pass, so a
//! plain `cargo test` works anywhere; with `ESDK_REQUIRE_KMS_TESTS=1` they fail instead (CI).
//! Tests create their own keys, so they run in parallel against one server.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use aws_sdk_kms::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextRef,
    FinalizerInterceptorContextMut,
};
use aws_sdk_kms::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_kms::error::BoxError;
use core::sync::atomic::{AtomicUsize, Ordering};
use esdk_kms::{
    AwsKmsDiscoveryKeyring, AwsKmsKeyring, AwsKmsMrkDiscoveryKeyring, AwsKmsMultiKeyring,
    AwsSdkClientSupplier, BlockingKeyring, ClientSupplier, DiscoveryFilter, KeyIdentifier, KmsArn,
    KmsError, KmsOperation, SingleClientSupplier,
};
use esdk_std::keyring::{AsyncKeyring, MultiKeyring, RawAesKeyring};
use esdk_std::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk_std::stream::io::{DecryptingReader, EncryptingWriter};
use esdk_std::{
    AlgorithmSuite, Client, DecryptOptions, EncryptOptions, EncryptedDataKey, EncryptionContext,
    Error,
};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};

/// moto's default account.
const ACCOUNT: &str = "123456789012";
const W2: &str = "us-west-2";
const E1: &str = "us-east-1";

// ---------------------------------------------------------------------------------------------
// Harness

/// The KMS endpoint, or `None` (test skipped) when `AWS_ENDPOINT_URL_KMS` is unset. Panics when
/// `ESDK_REQUIRE_KMS_TESTS=1` and the endpoint is missing, and when the endpoint is not on this
/// machine (the tests create keys) unless `ESDK_KMS_TESTS_ALLOW_REMOTE=1`.
fn kms_endpoint(test: &str) -> Option<String> {
    let required = std::env::var("ESDK_REQUIRE_KMS_TESTS").is_ok_and(|v| v == "1");
    match std::env::var("AWS_ENDPOINT_URL_KMS") {
        Ok(url) if !url.is_empty() => {
            let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
                .iter()
                .any(|p| url.starts_with(p));
            let remote_ok = std::env::var("ESDK_KMS_TESTS_ALLOW_REMOTE").is_ok_and(|v| v == "1");
            assert!(
                local || remote_ok,
                "AWS_ENDPOINT_URL_KMS={url} is not a local test server; these tests create keys. \
                 Set ESDK_KMS_TESTS_ALLOW_REMOTE=1 to run them there anyway."
            );
            Some(url)
        }
        _ => {
            assert!(
                !required,
                "ESDK_REQUIRE_KMS_TESTS=1 but AWS_ENDPOINT_URL_KMS is not set: start the KMS test server with \
                 `eval \"$(bash kms-ext/tests/moto/start_moto.sh)\"` or run under kms-ext/tests/moto/with_moto.sh"
            );
            eprintln!(
                "SKIPPED {test}: AWS_ENDPOINT_URL_KMS is not set (no KMS test server). Start one with \
                 `eval \"$(bash kms-ext/tests/moto/start_moto.sh)\"`; set ESDK_REQUIRE_KMS_TESTS=1 to make this a failure."
            );
            None
        }
    }
}

macro_rules! need_kms {
    ($name:expr) => {
        match kms_endpoint($name) {
            Some(url) => url,
            None => return,
        }
    };
}

fn supplier() -> Arc<AwsSdkClientSupplier> {
    Arc::new(AwsSdkClientSupplier::new())
}

async fn admin(region: &str) -> aws_sdk_kms::Client {
    AwsSdkClientSupplier::new()
        .client(Some(region))
        .await
        .unwrap()
}

async fn create_key(region: &str) -> String {
    let out = admin(region)
        .await
        .create_key()
        .description("esdk-kms test")
        .send()
        .await
        .unwrap();
    out.key_metadata().unwrap().arn().unwrap().to_owned()
}

/// A multi-Region key in `primary` with a replica in `replica`: (primary ARN, replica ARN).
async fn create_mrk(primary: &str, replica: &str) -> (String, String) {
    let c = admin(primary).await;
    let out = c
        .create_key()
        .multi_region(true)
        .description("esdk-kms test MRK")
        .send()
        .await
        .unwrap();
    let md = out.key_metadata().unwrap();
    // moto 5.2 fails ReplicateKey (HTTP 500) when KeyId is an ARN; the bare `mrk-` id works.
    let rep = c
        .replicate_key()
        .key_id(md.key_id())
        .replica_region(replica)
        .send()
        .await
        .unwrap();
    (
        md.arn().unwrap().to_owned(),
        rep.replica_key_metadata()
            .unwrap()
            .arn()
            .unwrap()
            .to_owned(),
    )
}

fn ec() -> EncryptionContext {
    let mut ec = EncryptionContext::new();
    ec.insert("purpose", "esdk-kms test");
    ec.insert("tenant", "42");
    ec
}

fn edk_arns(edks: &[EncryptedDataKey]) -> Vec<String> {
    edks.iter()
        .map(|e| {
            assert_eq!(e.provider_id, "aws-kms");
            String::from_utf8(e.provider_info.clone()).unwrap()
        })
        .collect()
}

async fn seal(keyring: &dyn AsyncKeyring, pt: &[u8]) -> esdk_std::Encrypted {
    let opts = EncryptOptions::from_source(esdk_std::client::MaterialsSource::Keyring(keyring))
        .encryption_context(ec());
    Client::default().encrypt_async(pt, &opts).await.unwrap()
}

async fn open(keyring: &dyn AsyncKeyring, ct: &[u8]) -> Result<esdk_std::Decrypted, Error> {
    let opts = DecryptOptions::from_source(esdk_std::client::MaterialsSource::Keyring(keyring));
    Client::default().decrypt_async(ct, &opts).await
}

fn failures(e: &Error) -> String {
    match e {
        Error::NoDecryptableKey(v) => v.iter().map(|f| format!("{f}\n")).collect(),
        other => panic!("expected NoDecryptableKey, got {other}"),
    }
}

/// Records KMS requests in flight at once (an interceptor on real SDK clients: the requests
/// still go to the server).
#[derive(Debug, Default)]
struct InFlight {
    now: AtomicUsize,
    max: AtomicUsize,
    ops: Mutex<Vec<String>>,
    /// Requests whose JSON body carried grant tokens and an encryption context.
    with_grants_and_context: AtomicUsize,
    /// The `KeyId` of each request.
    key_ids: Mutex<Vec<String>>,
}

#[derive(Debug, Clone)]
struct Recorder(Arc<InFlight>);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "esdk-kms-test-in-flight"
    }
    fn read_before_transmit(
        &self,
        ctx: &BeforeTransmitInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let op = ctx
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?")
            .trim_start_matches("TrentService.")
            .to_owned();
        self.0.ops.lock().unwrap().push(op);
        let body =
            String::from_utf8_lossy(ctx.request().body().bytes().unwrap_or_default()).into_owned();
        if body.contains(r#""GrantTokens":["test-grant-token"]"#)
            && body.contains(r#""tenant":"42""#)
        {
            self.0
                .with_grants_and_context
                .fetch_add(1, Ordering::SeqCst);
        }
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let key_id = json["KeyId"].as_str().unwrap_or("").to_owned();
        self.0.key_ids.lock().unwrap().push(key_id);
        let n = self.0.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.0.max.fetch_max(n, Ordering::SeqCst);
        Ok(())
    }
    fn read_after_transmit(
        &self,
        _ctx: &BeforeDeserializationInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Rewrites the real server's parsed responses before the keyring sees them, to check that the
/// keyrings verify what KMS answers.
#[derive(Debug, Clone)]
enum Tamper {
    /// Decrypt answers with this `KeyId`.
    DecryptKeyId(String),
    /// Decrypt answers with a 5-byte plaintext.
    ShortPlaintext,
    /// GenerateDataKey answers with this `KeyId`.
    GenerateKeyId(String),
}

impl Intercept for Tamper {
    fn name(&self) -> &'static str {
        "esdk-kms-test-tamper"
    }
    fn modify_before_completion(
        &self,
        ctx: &mut FinalizerInterceptorContextMut<'_>,
        _rc: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        use aws_sdk_kms::operation::{
            decrypt::DecryptOutput, generate_data_key::GenerateDataKeyOutput,
        };
        use aws_sdk_kms::primitives::Blob;
        let Some(Ok(out)) = ctx.output_or_error_mut() else {
            return Ok(());
        };
        if let Some(d) = out.downcast_mut::<DecryptOutput>() {
            match self {
                Tamper::DecryptKeyId(k) => d.key_id = Some(k.clone()),
                Tamper::ShortPlaintext => d.plaintext = Some(Blob::new(vec![0u8; 5])),
                Tamper::GenerateKeyId(_) => {}
            }
        }
        if let (Some(g), Tamper::GenerateKeyId(k)) =
            (out.downcast_mut::<GenerateDataKeyOutput>(), self)
        {
            g.key_id = Some(k.clone());
        }
        Ok(())
    }
}

fn tampering(t: Tamper) -> Arc<dyn ClientSupplier> {
    Arc::new(
        AwsSdkClientSupplier::builder()
            .configure(move |c| c.interceptor(t.clone()))
            .build(),
    )
}

/// A supplier that must never be asked for a client (filters must reject before any call).
#[derive(Debug, Default)]
struct NoClients(AtomicUsize);

impl ClientSupplier for NoClients {
    fn client<'a>(
        &'a self,
        _region: Option<&'a str>,
    ) -> esdk_std::keyring::BoxFuture<'a, Result<aws_sdk_kms::Client, Error>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(core::future::ready(Err(Error::Internal(
            "NoClients: no client may be requested here",
        ))))
    }
}

// ---------------------------------------------------------------------------------------------
// Round trips

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_one_key() {
    need_kms!("round_trip_one_key");
    let arn = create_key(W2).await;
    let kr = AwsKmsKeyring::new(&arn, supplier())
        .unwrap()
        .grant_tokens(vec!["test-grant-token".into()]);
    let pt = b"hello, AWS KMS keyring".repeat(100);
    let sealed = seal(&kr, &pt).await;
    assert_eq!(
        edk_arns(&sealed.header.encrypted_data_keys),
        vec![arn.clone()]
    );
    let opened = open(&kr, &sealed.ciphertext).await.unwrap();
    assert_eq!(opened.plaintext, pt);
    assert_eq!(opened.encryption_context.get("tenant"), Some("42"));
    // Every suite, committing or not, signed or not (the KMS EC includes the public key).
    let client = Client::builder()
        .commitment_policy(esdk_std::CommitmentPolicy::ForbidEncryptAllowDecrypt)
        .build();
    let committing = Client::builder()
        .commitment_policy(esdk_std::CommitmentPolicy::RequireEncryptAllowDecrypt)
        .build();
    for suite in AlgorithmSuite::ALL {
        let c = if suite.is_committing() {
            &committing
        } else {
            &client
        };
        let opts = EncryptOptions::async_keyring(&kr)
            .encryption_context(ec())
            .suite(suite);
        let sealed = c.encrypt_async(b"x", &opts).await.unwrap();
        let opened = c
            .decrypt_async(&sealed.ciphertext, &DecryptOptions::async_keyring(&kr))
            .await
            .unwrap();
        assert_eq!(opened.plaintext, b"x", "{suite}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_three_keys_two_regions() {
    need_kms!("round_trip_three_keys_two_regions");
    let (g, k2, k3) = (
        create_key(W2).await,
        create_key(E1).await,
        create_key(W2).await,
    );
    let s = supplier();
    let multi = esdk_kms::AwsKmsMultiKeyringBuilder::new()
        .generator(&g)
        .keys([&k2, &k3])
        .client_supplier(s.clone())
        .build()
        .unwrap();
    let pt = vec![7u8; 10_000];
    let sealed = seal(&multi, &pt).await;
    assert_eq!(
        edk_arns(&sealed.header.encrypted_data_keys),
        vec![g.clone(), k2.clone(), k3.clone()]
    );
    assert_eq!(
        open(&multi, &sealed.ciphertext).await.unwrap().plaintext,
        pt
    );
    // Every EDK decrypts with its key alone (so each was made with the same data key).
    for k in [&g, &k2, &k3] {
        let one = AwsKmsKeyring::new(k, s.clone()).unwrap();
        assert_eq!(
            open(&one, &sealed.ciphertext).await.unwrap().plaintext,
            pt,
            "{k}"
        );
    }
    // Clients: one per region, cached.
    assert_eq!(s.cached_clients(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decrypt_tries_keys_in_order_until_one_succeeds() {
    need_kms!("decrypt_tries_keys_in_order_until_one_succeeds");
    let (a, b) = (create_key(W2).await, create_key(W2).await);
    let both = esdk_kms::AwsKmsMultiKeyringBuilder::new()
        .generator(&a)
        .key(&b)
        .build()
        .unwrap();
    let sealed = seal(&both, b"ordered").await;
    let rec = Arc::new(InFlight::default());
    let r = Recorder(rec.clone());
    let s: Arc<dyn ClientSupplier> = Arc::new(
        AwsSdkClientSupplier::builder()
            .configure(move |c| c.interceptor(r.clone()))
            .build(),
    );
    let kr = |k: &str, s: &Arc<dyn ClientSupplier>| -> Arc<dyn AsyncKeyring> {
        Arc::new(
            AwsKmsKeyring::new(k, s.clone())
                .unwrap()
                .grant_tokens(vec!["test-grant-token".into()]),
        )
    };
    // Order b, a: b's keyring decrypts (its EDK is the second one); a is never called.
    let multi = AwsKmsMultiKeyring::new_async(Some(kr(&b, &s)), vec![kr(&a, &s)]).unwrap();
    assert_eq!(
        open(&multi, &sealed.ciphertext).await.unwrap().plaintext,
        b"ordered"
    );
    assert_eq!(*rec.ops.lock().unwrap(), vec!["Decrypt".to_owned()]);
    assert_eq!(*rec.key_ids.lock().unwrap(), vec![b.clone()]);
    assert_eq!(rec.with_grants_and_context.load(Ordering::SeqCst), 1);
    // The first keyring's KMS call fails (unreachable endpoint): the next one is tried.
    let dead: Arc<dyn ClientSupplier> = Arc::new(SingleClientSupplier::new(dead_client()));
    let multi = AwsKmsMultiKeyring::new_async(Some(kr(&a, &dead)), vec![kr(&b, &s)]).unwrap();
    assert_eq!(
        open(&multi, &sealed.ciphertext).await.unwrap().plaintext,
        b"ordered"
    );
    assert_eq!(*rec.key_ids.lock().unwrap(), vec![b.clone(), b.clone()]);
    // All fail: the error lists both attempts.
    let multi = AwsKmsMultiKeyring::new_async(Some(kr(&a, &dead)), vec![kr(&b, &dead)]).unwrap();
    let text = failures(&open(&multi, &sealed.ciphertext).await.unwrap_err());
    assert!(
        text.contains(&format!("AWS KMS Decrypt with key {a}"))
            && text.contains(&format!("AWS KMS Decrypt with key {b}")),
        "{text}"
    );
}

/// A client whose endpoint refuses connections (port 9 on this machine), without retries.
fn dead_client() -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::new()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new(W2))
            .credentials_provider(aws_sdk_kms::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
            .build(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixes_with_local_keyrings() {
    need_kms!("mixes_with_local_keyrings");
    let k = create_key(W2).await;
    let aes = RawAesKeyring::new("local", "aes", &[3u8; 32]).unwrap();
    let multi = AwsKmsMultiKeyring::new_async(
        Some(Arc::new(AwsKmsKeyring::new(&k, supplier()).unwrap())),
        vec![Arc::new(
            RawAesKeyring::new("local", "aes", &[3u8; 32]).unwrap(),
        )],
    )
    .unwrap();
    let sealed = seal(&multi, b"mixed").await;
    assert_eq!(sealed.header.encrypted_data_keys.len(), 2);
    assert_eq!(
        Client::default()
            .decrypt(&sealed.ciphertext, &DecryptOptions::keyring(&aes))
            .unwrap()
            .plaintext,
        b"mixed"
    );
}

// ---------------------------------------------------------------------------------------------
// Decrypt filters and failures

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_is_not_tried() {
    need_kms!("wrong_key_is_not_tried");
    let (a, b) = (create_key(W2).await, create_key(W2).await);
    let sealed = seal(&AwsKmsKeyring::new(&a, supplier()).unwrap(), b"for a").await;
    let no = Arc::new(NoClients::default());
    let err = open(
        &AwsKmsKeyring::new(&b, no.clone()).unwrap(),
        &sealed.ciphertext,
    )
    .await
    .unwrap_err();
    let text = failures(&err);
    assert!(
        text.contains(&a) && text.contains("not this keyring's key"),
        "{text}"
    );
    assert_eq!(
        no.0.load(Ordering::SeqCst),
        0,
        "no KMS client may be requested for a non-matching key"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_decrypt_errors_are_collected_with_arn_and_operation() {
    need_kms!("kms_decrypt_errors_are_collected_with_arn_and_operation");
    let a = create_key(W2).await;
    let kr = AwsKmsKeyring::new(&a, supplier()).unwrap();
    let sealed = seal(&kr, b"tamper").await;
    // Corrupt the EDK ciphertext: KMS itself rejects it (InvalidCiphertextException).
    let mut edks = sealed.header.encrypted_data_keys.clone();
    let last = edks[0].ciphertext.len() - 1;
    edks[0].ciphertext[last] ^= 1;
    let m = DecryptionMaterials::new(
        sealed.header.suite,
        sealed.header.encryption_context.clone(),
    );
    let err = kr.on_decrypt(&m, &edks).await.unwrap_err();
    let text = failures(&err);
    assert!(
        text.contains("AWS KMS Decrypt with key") && text.contains(&a),
        "{text}"
    );
    assert!(text.contains("InvalidCiphertextException"), "{text}");
    // Wrong encryption context: KMS rejects too.
    let mut wrong = sealed.header.encryption_context.clone();
    wrong.insert("tenant", "43");
    let m = DecryptionMaterials::new(sealed.header.suite, wrong);
    let text = failures(
        &kr.on_decrypt(&m, &sealed.header.encrypted_data_keys)
            .await
            .unwrap_err(),
    );
    assert!(text.contains("Decrypt") && text.contains(&a), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_and_its_filter() {
    need_kms!("discovery_and_its_filter");
    let (a, b) = (create_key(W2).await, create_key(E1).await);
    let multi = esdk_kms::AwsKmsMultiKeyringBuilder::new()
        .generator(&a)
        .key(&b)
        .build()
        .unwrap();
    let sealed = seal(&multi, b"discover me").await;

    // Unfiltered, and with a matching filter: the region comes from each EDK's ARN.
    let d = AwsKmsDiscoveryKeyring::new(supplier());
    assert_eq!(
        open(&d, &sealed.ciphertext).await.unwrap().plaintext,
        b"discover me"
    );
    let f = DiscoveryFilter::new("aws", [ACCOUNT]).unwrap();
    let d = AwsKmsDiscoveryKeyring::new(supplier()).filter(f);
    assert_eq!(
        open(&d, &sealed.ciphertext).await.unwrap().plaintext,
        b"discover me"
    );

    // Account mismatch and partition mismatch: filtered before any KMS call.
    let no = Arc::new(NoClients::default());
    let d = AwsKmsDiscoveryKeyring::new(no.clone())
        .filter(DiscoveryFilter::new("aws", ["111122223333"]).unwrap());
    let text = failures(&open(&d, &sealed.ciphertext).await.unwrap_err());
    assert!(
        text.contains(&format!("account {ACCOUNT} is not in the discovery filter")),
        "{text}"
    );
    let d = AwsKmsDiscoveryKeyring::new(no.clone())
        .filter(DiscoveryFilter::new("aws-cn", [ACCOUNT]).unwrap());
    let text = failures(&open(&d, &sealed.ciphertext).await.unwrap_err());
    assert!(
        text.contains("partition `aws` is not the discovery filter's `aws-cn`"),
        "{text}"
    );
    assert_eq!(no.0.load(Ordering::SeqCst), 0);

    // A discovery keyring cannot encrypt.
    let m = EncryptionMaterials::new(AlgorithmSuite::ALL[0], ec());
    assert!(matches!(
        AwsKmsDiscoveryKeyring::new(supplier()).on_encrypt(&m).await,
        Err(Error::Keyring(e)) if e.kind() == esdk_std::KeyringErrorKind::CannotEncrypt
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mrk_replica_decrypts_strict_and_discovery() {
    need_kms!("mrk_replica_decrypts_strict_and_discovery");
    let (west, east) = create_mrk(W2, E1).await;
    assert!(KmsArn::parse(&west).unwrap().is_mrk());
    assert_eq!(KmsArn::parse(&east).unwrap().region(), E1);

    let sealed = seal(
        &AwsKmsKeyring::new(&west, supplier()).unwrap(),
        b"multi-region",
    )
    .await;
    assert_eq!(
        edk_arns(&sealed.header.encrypted_data_keys),
        vec![west.clone()]
    );

    // Strict MRK-aware keyring configured with the us-east-1 replica: Decrypt goes to us-east-1.
    let rec = Arc::new(InFlight::default());
    let r = Recorder(rec.clone());
    let s = Arc::new(
        AwsSdkClientSupplier::builder()
            .configure(move |c| c.interceptor(r.clone()))
            .build(),
    );
    let mrk = AwsKmsKeyring::new(&east, s.clone())
        .unwrap()
        .mrk_aware(true);
    assert_eq!(
        open(&mrk, &sealed.ciphertext).await.unwrap().plaintext,
        b"multi-region"
    );
    assert_eq!(s.cached_clients(), 1, "only the us-east-1 client is used");
    // A strict keyring that is not MRK aware does not match the replica.
    let strict = AwsKmsKeyring::new(&east, supplier()).unwrap();
    let text = failures(&open(&strict, &sealed.ciphertext).await.unwrap_err());
    assert!(text.contains("not this keyring's key"), "{text}");

    // MRK discovery in us-east-1: the stored us-west-2 ARN is rewritten to the replica.
    let d = AwsKmsMrkDiscoveryKeyring::new(E1, supplier())
        .unwrap()
        .filter(DiscoveryFilter::new("aws", [ACCOUNT]).unwrap());
    assert_eq!(
        open(&d, &sealed.ciphertext).await.unwrap().plaintext,
        b"multi-region"
    );
    let dm =
        esdk_kms::mrk_discovery_multi_keyring(["eu-west-1", E1], None, Some(supplier()), vec![])
            .unwrap();
    assert_eq!(
        open(&dm, &sealed.ciphertext).await.unwrap().plaintext,
        b"multi-region"
    );
    // Plain discovery uses the stored ARN's region (us-west-2).
    assert_eq!(
        open(&AwsKmsDiscoveryKeyring::new(supplier()), &sealed.ciphertext)
            .await
            .unwrap()
            .plaintext,
        b"multi-region"
    );

    // A single-Region key outside the MRK discovery keyring's region is filtered.
    let single = create_key(W2).await;
    let sealed2 = seal(&AwsKmsKeyring::new(&single, supplier()).unwrap(), b"single").await;
    let text = failures(&open(&d, &sealed2.ciphertext).await.unwrap_err());
    assert!(
        text.contains("single-Region key in us-west-2, not in us-east-1"),
        "{text}"
    );

    // The MRK multi-keyring refuses two replicas of one key (aws-kms-mrk-are-unique.md).
    let e = esdk_kms::AwsKmsMultiKeyringBuilder::new()
        .generator(&west)
        .key(&east)
        .mrk_aware(true)
        .build()
        .unwrap_err();
    assert!(full(&e).contains(&west) && full(&e).contains(&east), "{e}");
    // ... and an MRK multi-keyring of the replica encrypts and decrypts.
    let mm = esdk_kms::AwsKmsMultiKeyringBuilder::new()
        .generator(&east)
        .mrk_aware(true)
        .build()
        .unwrap();
    assert_eq!(
        open(&mm, &sealed.ciphertext).await.unwrap().plaintext,
        b"multi-region"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alias_encrypts_but_decrypt_needs_an_arn() {
    need_kms!("alias_encrypts_but_decrypt_needs_an_arn");
    let arn = create_key(W2).await;
    let alias = format!(
        "alias/esdk-kms-test-{}",
        KmsArn::parse(&arn).unwrap().resource_id()
    );
    admin(W2)
        .await
        .create_alias()
        .alias_name(&alias)
        .target_key_id(&arn)
        .send()
        .await
        .unwrap();
    let alias_arn = format!("arn:aws:kms:{W2}:{ACCOUNT}:{alias}");
    let key_id = KmsArn::parse(&arn).unwrap().resource_id().to_owned();

    for id in [&alias, &alias_arn, &key_id] {
        let kr = AwsKmsKeyring::new(id, supplier()).unwrap();
        let sealed = seal(&kr, b"via alias").await;
        // KMS answers with the key ARN, which is what the message stores.
        assert_eq!(
            edk_arns(&sealed.header.encrypted_data_keys),
            vec![arn.clone()]
        );
        let err = open(&kr, &sealed.ciphertext).await.unwrap_err();
        let Error::Config(cfg) = &err else {
            panic!("expected a configuration error, got {err}")
        };
        let msg = format!("{cfg}: {}", std::error::Error::source(cfg).unwrap());
        assert!(
            msg.contains("decryption needs the key's ARN") && msg.contains(id.as_str()),
            "{msg}"
        );
        assert_eq!(
            open(
                &AwsKmsKeyring::new(&arn, supplier()).unwrap(),
                &sealed.ciphertext
            )
            .await
            .unwrap()
            .plaintext,
            b"via alias"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_responses_are_verified() {
    need_kms!("kms_responses_are_verified");
    let (a, other) = (create_key(W2).await, create_key(W2).await);
    let sealed = seal(&AwsKmsKeyring::new(&a, supplier()).unwrap(), b"verify").await;

    // Decrypt answering for another key: rejected, by the strict and the discovery keyring.
    let s = tampering(Tamper::DecryptKeyId(other.clone()));
    let text = failures(
        &open(
            &AwsKmsKeyring::new(&a, s.clone()).unwrap(),
            &sealed.ciphertext,
        )
        .await
        .unwrap_err(),
    );
    assert!(
        text.contains(&format!(
            "the response names key `{other}`, not the requested key"
        )),
        "{text}"
    );
    let text = failures(
        &open(&AwsKmsDiscoveryKeyring::new(s), &sealed.ciphertext)
            .await
            .unwrap_err(),
    );
    assert!(text.contains("not the requested key"), "{text}");
    // A data key of the wrong length (the message's suite needs 32 bytes).
    let s = tampering(Tamper::ShortPlaintext);
    let text = failures(
        &open(&AwsKmsKeyring::new(&a, s).unwrap(), &sealed.ciphertext)
            .await
            .unwrap_err(),
    );
    assert!(
        text.contains("the data key is 5 bytes, the suite needs 32"),
        "{text}"
    );
    // GenerateDataKey answering with something that is not a key ARN.
    let s = tampering(Tamper::GenerateKeyId("alias/not-a-key-arn".into()));
    let m = EncryptionMaterials::new(AlgorithmSuite::ALL[0], ec());
    let err = AwsKmsKeyring::new(&a, s)
        .unwrap()
        .on_encrypt(&m)
        .await
        .unwrap_err();
    let Error::Provider(source) = &err else {
        panic!("expected a provider error, got {err}")
    };
    let kms = source.downcast_ref::<KmsError>().unwrap();
    assert_eq!(kms.operation, KmsOperation::GenerateDataKey);
    assert!(kms.message.contains("not a key ARN"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Errors

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_errors_surface_with_key_and_operation() {
    need_kms!("kms_errors_surface_with_key_and_operation");
    let missing = format!("arn:aws:kms:{W2}:{ACCOUNT}:key/00000000-0000-0000-0000-000000000000");
    let err = AwsKmsKeyring::new(&missing, supplier())
        .unwrap()
        .on_encrypt(&EncryptionMaterials::new(AlgorithmSuite::ALL[0], ec()))
        .await
        .unwrap_err();
    let Error::Provider(source) = &err else {
        panic!("expected a provider error, got {err}")
    };
    let kms = source.downcast_ref::<KmsError>().expect("a KmsError");
    assert_eq!(kms.operation, KmsOperation::GenerateDataKey);
    assert_eq!(kms.key_id, missing);
    assert_eq!(kms.region.as_deref(), Some(W2));
    assert_eq!(kms.code.as_deref(), Some("NotFoundException"));
    assert!(
        err.to_string().contains(&missing) && err.to_string().contains("GenerateDataKey"),
        "{err}"
    );

    // Encrypt of an existing data key under a missing additional key: the error names Encrypt
    // and the key, and nothing in it (display, debug, sources) shows the data key.
    let good = create_key(W2).await;
    let multi = esdk_kms::AwsKmsMultiKeyringBuilder::new()
        .generator(&good)
        .key(&missing)
        .build()
        .unwrap();
    let mut m = EncryptionMaterials::new(AlgorithmSuite::ALL[0], ec());
    let secret = [0x5Au8; 16];
    m.data_key = Some(esdk_core_data_key(&secret));
    let only_children = AwsKmsMultiKeyring::new_async(
        None,
        vec![Arc::new(AwsKmsKeyring::new(&missing, supplier()).unwrap())],
    )
    .unwrap();
    let err = only_children.on_encrypt(&m).await.unwrap_err();
    let Error::Provider(source) = &err else {
        panic!("expected a provider error, got {err}")
    };
    let kms = source.downcast_ref::<KmsError>().unwrap();
    assert_eq!(kms.operation, KmsOperation::Encrypt);
    assert_eq!(kms.key_id, missing);
    let mut all = format!("{err} {err:?}");
    let mut src: Option<&(dyn core::error::Error + 'static)> = core::error::Error::source(&err);
    while let Some(s) = src {
        all.push_str(&format!(" {s} {s:?}"));
        src = s.source();
    }
    for needle in ["5a5a5a5a", "5A5A5A5A", "WlpaWlpa", "ZZZZZZZZ", "90, 90, 90"] {
        assert!(
            !all.contains(needle),
            "the data key leaked into the error: {all}"
        );
    }
    // The full multi-keyring fails on the missing child.
    assert!(matches!(seal_err(&multi).await, Error::Provider { .. }));

    // An unreachable endpoint: a dispatch failure, still naming key and operation.
    let dead = dead_client();
    let err = AwsKmsKeyring::with_client(&good, dead)
        .unwrap()
        .on_encrypt(&EncryptionMaterials::new(AlgorithmSuite::ALL[0], ec()))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("GenerateDataKey") && err.to_string().contains(&good),
        "{err}"
    );
}

fn esdk_core_data_key(bytes: &[u8]) -> esdk_core::DataKey {
    esdk_core::DataKey::from_slice(bytes).unwrap()
}

async fn seal_err(k: &dyn AsyncKeyring) -> Error {
    let opts = EncryptOptions::from_source(esdk_std::client::MaterialsSource::Keyring(k));
    Client::default()
        .encrypt_async(b"x", &opts)
        .await
        .unwrap_err()
}

// ---------------------------------------------------------------------------------------------
// Concurrency, clients and endpoints

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn additional_keys_encrypt_concurrently() {
    need_kms!("additional_keys_encrypt_concurrently");
    let g = create_key(W2).await;
    let others = [
        create_key(W2).await,
        create_key(E1).await,
        create_key(W2).await,
    ];
    // Whether the three requests overlap on the wire depends on timing (a fast local server can
    // answer the first before the second is sent), so the overlap is looked for in up to eight
    // warmed-up attempts: a keyring that sent them one after another never shows it.
    let mut max_seen = 0;
    for _attempt in 0..8 {
        let rec = Arc::new(InFlight::default());
        let r = Recorder(rec.clone());
        let s = Arc::new(
            AwsSdkClientSupplier::builder()
                .configure(move |c| c.interceptor(r.clone()))
                .build(),
        );
        let multi = esdk_kms::AwsKmsMultiKeyringBuilder::new()
            .generator(&g)
            .keys(&others)
            .grant_tokens(vec!["test-grant-token".into()])
            .client_supplier(s)
            .build()
            .unwrap();
        // Warm-up: clients, credentials and connections exist before the measured message.
        seal(&multi, b"warm-up").await;
        rec.max.store(0, Ordering::SeqCst);
        rec.with_grants_and_context.store(0, Ordering::SeqCst);
        rec.ops.lock().unwrap().clear();
        let sealed = seal(&multi, b"concurrent").await;
        assert_eq!(sealed.header.encrypted_data_keys.len(), 4);
        let ops = rec.ops.lock().unwrap().clone();
        assert_eq!(
            ops,
            vec!["GenerateDataKey", "Encrypt", "Encrypt", "Encrypt"]
        );
        assert_eq!(rec.now.load(Ordering::SeqCst), 0);
        // Every call carried the grant tokens and the message's encryption context.
        assert_eq!(rec.with_grants_and_context.load(Ordering::SeqCst), 4);
        assert_eq!(
            open(&multi, &sealed.ciphertext).await.unwrap().plaintext,
            b"concurrent"
        );
        max_seen = max_seen.max(rec.max.load(Ordering::SeqCst));
        if max_seen == 3 {
            break;
        }
    }
    // All three Encrypt requests were on the wire at the same time.
    assert_eq!(max_seen, 3, "Encrypt calls did not overlap in 8 attempts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_clients_and_endpoints() {
    let url = need_kms!("custom_clients_and_endpoints");
    let k = create_key(W2).await;
    // A client built by hand: explicit endpoint, region and static credentials.
    let client = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::new()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new(W2))
            .credentials_provider(aws_sdk_kms::config::Credentials::new(
                "testing", "testing", None, None, "test",
            ))
            .endpoint_url(&url)
            .build(),
    );
    let kr = AwsKmsKeyring::new(&k, Arc::new(SingleClientSupplier::new(client.clone()))).unwrap();
    let sealed = seal(&kr, b"custom").await;
    // A supplier with an explicit endpoint and a pinned client for us-west-2.
    let s = AwsSdkClientSupplier::builder()
        .endpoint_url(&url)
        .client(W2, client)
        .build();
    let kr2 = AwsKmsKeyring::new(&k, Arc::new(s.clone())).unwrap();
    assert_eq!(
        open(&kr2, &sealed.ciphertext).await.unwrap().plaintext,
        b"custom"
    );
    assert_eq!(s.clients_built(), 0, "the pinned client was used");
    // A loaded SdkConfig (the standard chain, AWS_ENDPOINT_URL_KMS included).
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let s = AwsSdkClientSupplier::builder().sdk_config(sdk).build();
    assert_eq!(
        open(
            &AwsKmsKeyring::new(&k, Arc::new(s)).unwrap(),
            &sealed.ciphertext
        )
        .await
        .unwrap()
        .plaintext,
        b"custom"
    );
    // Key ids and aliases use the default region (AWS_REGION=us-west-2 under the launcher).
    let id = KmsArn::parse(&k).unwrap().resource_id().to_owned();
    assert!(matches!(
        KeyIdentifier::parse(&id).unwrap(),
        KeyIdentifier::KeyId(_)
    ));
    let sealed = seal(
        &AwsKmsKeyring::new(&id, supplier()).unwrap(),
        b"default region",
    )
    .await;
    assert_eq!(edk_arns(&sealed.header.encrypted_data_keys), vec![k]);
}

/// No server needed: the default supplier's cache is bounded, and regions are validated and
/// optionally restricted, so EDKs naming many regions cannot make it keep many clients.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_cache_is_bounded() {
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .credentials_provider(aws_sdk_kms::config::SharedCredentialsProvider::new(
            aws_sdk_kms::config::Credentials::new("testing", "testing", None, None, "test"),
        ))
        .build();
    let s = AwsSdkClientSupplier::builder()
        .sdk_config(sdk.clone())
        .max_cached_clients(3)
        .build();
    for i in 0..50 {
        s.client(Some(&format!("test-region-{i}"))).await.unwrap();
        s.client(Some(&format!("test-region-{i}"))).await.unwrap();
    }
    assert_eq!(s.cached_clients(), 3);
    // The first three are cached (built once each); the other 47 regions are built per call.
    assert_eq!(s.clients_built(), 3 + 47 * 2);
    for bad in ["evil.example.com", "US-WEST-2", "", "a/b"] {
        assert!(
            matches!(s.client(Some(bad)).await, Err(Error::Config(_))),
            "{bad}"
        );
    }
    // No default region: a clear error for key ids and aliases.
    let e = s.client(None).await.unwrap_err();
    assert!(full(&e).contains("no default region"), "{e}");
    // Allowed regions: a discovery keyring cannot be sent elsewhere by a message.
    let s = Arc::new(
        AwsSdkClientSupplier::builder()
            .sdk_config(sdk)
            .allowed_regions([E1])
            .build(),
    );
    let edk = EncryptedDataKey {
        provider_id: "aws-kms".into(),
        provider_info: format!("arn:aws:kms:attacker-region-1:{ACCOUNT}:key/abc").into_bytes(),
        ciphertext: vec![1, 2, 3],
    };
    let m = DecryptionMaterials::new(AlgorithmSuite::ALL[0], EncryptionContext::new());
    let text = failures(
        &AwsKmsDiscoveryKeyring::new(s.clone())
            .on_decrypt(&m, &[edk])
            .await
            .unwrap_err(),
    );
    assert!(
        text.contains("not among the client supplier's allowed regions"),
        "{text}"
    );
    assert_eq!(s.clients_built(), 0);
}

// ---------------------------------------------------------------------------------------------
// Blocking facade: the synchronous client and std::io adapters with KMS

#[test]
fn blocking_facade_with_sync_client_and_io_adapters() {
    if kms_endpoint("blocking_facade_with_sync_client_and_io_adapters").is_none() {
        return;
    }
    let setup = tokio::runtime::Runtime::new().unwrap();
    let (g, k2) = setup.block_on(async { (create_key(W2).await, create_key(E1).await) });
    drop(setup);

    let multi = esdk_kms::AwsKmsMultiKeyringBuilder::new()
        .generator(&g)
        .key(&k2)
        .build()
        .unwrap();
    let kr = BlockingKeyring::new(multi).unwrap();
    let client = Client::default();
    let pt: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let sealed = client
        .encrypt(&pt, &EncryptOptions::keyring(&kr).encryption_context(ec()))
        .unwrap();
    assert_eq!(sealed.header.encrypted_data_keys.len(), 2);
    assert_eq!(
        client
            .decrypt(&sealed.ciphertext, &DecryptOptions::keyring(&kr))
            .unwrap()
            .plaintext,
        pt
    );

    // std::io adapters, and esdk-std's synchronous multi-keyring with a KMS child.
    let mut w = EncryptingWriter::new(
        &client,
        &EncryptOptions::keyring(&kr).frame_length(1024),
        Vec::new(),
    )
    .unwrap();
    for c in pt.chunks(999) {
        w.write_all(c).unwrap();
    }
    let ct = w.finish().unwrap();
    let only_k2 = BlockingKeyring::new(AwsKmsKeyring::new(&k2, supplier()).unwrap()).unwrap();
    let sync_multi = MultiKeyring::new(
        None,
        vec![
            Arc::new(RawAesKeyring::new("n", "k", &[1u8; 32]).unwrap()),
            Arc::new(only_k2),
        ],
    )
    .unwrap();
    let mut r =
        DecryptingReader::new(&client, &DecryptOptions::keyring(&sync_multi), &ct[..]).unwrap();
    let mut out = Vec::new();
    r.read_to_end(&mut out).unwrap();
    assert_eq!(out, pt);

    // A runtime handed in explicitly.
    let rt = Arc::new(tokio::runtime::Runtime::new().unwrap());
    let given =
        BlockingKeyring::with_runtime(AwsKmsKeyring::new(&g, supplier()).unwrap(), rt.clone());
    assert_eq!(
        client
            .decrypt(&sealed.ciphertext, &DecryptOptions::keyring(&given))
            .unwrap()
            .plaintext,
        pt
    );
    let by_handle = BlockingKeyring::with_handle(
        AwsKmsKeyring::new(&g, supplier()).unwrap(),
        rt.handle().clone(),
    )
    .unwrap();
    assert_eq!(
        client
            .decrypt(&sealed.ciphertext, &DecryptOptions::keyring(&by_handle))
            .unwrap()
            .plaintext,
        pt
    );

    // From a `spawn_blocking` closure of another runtime (Tokio forbids a nested `block_on`
    // on that thread; the facade moves the work to a helper thread).
    let caller = tokio::runtime::Runtime::new().unwrap();
    let kr = Arc::new(kr);
    let (k, c, ct) = (kr.clone(), client.clone(), sealed.ciphertext.clone());
    let out = caller
        .block_on(async move {
            tokio::task::spawn_blocking(move || {
                c.decrypt(&ct, &DecryptOptions::keyring(&*k))
                    .unwrap()
                    .plaintext
            })
            .await
        })
        .unwrap();
    assert_eq!(out, pt);
    drop(caller);
    let ct_rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(
        BlockingKeyring::with_handle(
            AwsKmsKeyring::new(&g, supplier()).unwrap(),
            ct_rt.handle().clone()
        )
        .is_err()
    );
}

// ---------------------------------------------------------------------------------------------
// Malformed ARNs of the Java test-vector keys manifest (no server needed)

/// Where the shared test vectors are read from; one clear failure when they are missing.
#[allow(dead_code)]
mod shared_vectors {
    include!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../test-vectors/src/shared.rs"
    ));
}

fn java_keys() -> serde_json::Value {
    let p = shared_vectors::vector_path("generation/java-keys.json");
    let text = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    serde_json::from_str(&text).unwrap()
}

#[tokio::test]
async fn java_keys_manifest_bad_arns() {
    let keys = java_keys();
    let keys = keys["keys"].as_object().unwrap();
    let mrk_w2 = keys["us-west-2-mrk"]["key-id"].as_str().unwrap().to_owned();
    let mrk_e1 = keys["us-east-1-mrk"]["key-id"].as_str().unwrap().to_owned();
    let bad: Vec<String> = keys
        .values()
        .filter(|k| k["type"] == "aws-kms" && k["encrypt"] == false && k["decrypt"] == false)
        .map(|k| k["key-id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(bad.len(), 22, "the manifest's unusable AWS KMS key ids");

    // An EDK made by the us-west-2 MRK, and an EDK for each bad id.
    let good_edk = EncryptedDataKey {
        provider_id: "aws-kms".into(),
        provider_info: mrk_w2.clone().into_bytes(),
        ciphertext: vec![1],
    };
    let m = DecryptionMaterials::new(AlgorithmSuite::ALL[0], EncryptionContext::new());
    let (mut malformed, mut valid_but_wrong) = (Vec::new(), Vec::new());
    for id in &bad {
        match KmsArn::parse_key_arn(id) {
            Err(e) => {
                malformed.push(id.clone());
                // As provider info of an `aws-kms` EDK it fails the whole OnDecrypt, even next to
                // a matching EDK, before any KMS call.
                let no = Arc::new(NoClients::default());
                let kr = AwsKmsKeyring::new(&mrk_e1, no.clone())
                    .unwrap()
                    .mrk_aware(true);
                let edk = EncryptedDataKey {
                    provider_id: "aws-kms".into(),
                    provider_info: id.clone().into_bytes(),
                    ciphertext: vec![1],
                };
                let text = failures(
                    &kr.on_decrypt(&m, &[edk, good_edk.clone()])
                        .await
                        .unwrap_err(),
                );
                assert!(
                    text.contains("refuses the message") && text.contains(e.reason),
                    "{id}: {text}"
                );
                assert_eq!(no.0.load(Ordering::SeqCst), 0);
                let d = AwsKmsDiscoveryKeyring::new(no.clone());
                let edk = EncryptedDataKey {
                    provider_id: "aws-kms".into(),
                    provider_info: id.clone().into_bytes(),
                    ciphertext: vec![1],
                };
                assert!(
                    failures(&d.on_decrypt(&m, &[edk]).await.unwrap_err())
                        .contains("refuses the message")
                );
            }
            Ok(arn) => {
                // Well-formed key ARNs, but not the MRK: never matched with it.
                assert!(
                    !esdk_kms::mrk_match(
                        &KeyIdentifier::Arn(arn),
                        &KeyIdentifier::parse(&mrk_w2).unwrap()
                    ),
                    "{id}"
                );
                valid_but_wrong.push(id.clone());
            }
        }
        // Configured as a keyring's key, none of them can decrypt the MRK's EDK.
        match AwsKmsKeyring::new(id, Arc::new(NoClients::default())) {
            Err(_) => assert!(
                !id.starts_with("arn:") || KmsArn::parse(id).is_err(),
                "{id}"
            ),
            Ok(kr) => {
                let r = kr
                    .mrk_aware(true)
                    .on_decrypt(&m, core::slice::from_ref(&good_edk))
                    .await;
                assert!(r.is_err(), "{id} decrypted the MRK's EDK");
            }
        }
    }
    let expect_malformed = [
        "aws:kms:us-west-2:658956600833:key:mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
        ":aws:kms:us-west-2:658956600833:key/mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
        "arn-not:aws:kms:us-west-2:658956600833:key/mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
        "arn:kms:us-west-2:658956600833:key:mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
        "arn::kms:us-west-2:658956600833:key/mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
        "arn:aws:us-west-2:658956600833:key:mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
        "arn:aws::us-west-2:658956600833:key/mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
        "arn:aws:kms-not:us-west-2:658956600833:key/mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
        "arn:aws:kms:658956600833:key:mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
        "arn:aws:kms::658956600833:key/mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
        "arn:aws:kms:us-west-2:key:mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
        "arn:aws:kms:us-west-2::key/mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
        "arn:aws:kms:us-west-2:658956600833:mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
        "arn:aws:kms:us-west-2:658956600833:/mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
        "arn:aws:kms:us-west-2:658956600833:key-not/mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
        "arn:aws:kms:us-west-2:658956600833:key",
        "arn:aws:kms:us-west-2:658956600833:key/",
        // Valid ARN syntax but an alias: not a key ARN.
        "arn:aws:kms:us-west-2:658956600833:alias/mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
        // Not an ARN at all (a bare MRK id).
        "mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
    ];
    let mut got = malformed.clone();
    got.sort();
    let mut want: Vec<String> = expect_malformed.iter().map(|s| (*s).to_owned()).collect();
    want.sort();
    assert_eq!(got, want);
    let mut vw = valid_but_wrong.clone();
    vw.sort();
    assert_eq!(
        vw,
        vec![
            "arn:aws-not:kms:us-west-2:658956600833:key/mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
            "arn:aws:kms:us-west-2:658956600833-not:key/mrk-80bd8ecdcd4342aebd84b7dc9da498a7",
            "arn:aws:kms:us-west-2:658956600833:key/mrk-80bd8ecdcd4342aebd84b7dc9da498a7-not",
        ]
    );
    // The two regional ARNs of the manifest's MRK match each other, and may not be combined
    // in one MRK multi-keyring.
    assert!(esdk_kms::mrk_match(
        &KeyIdentifier::parse(&mrk_w2).unwrap(),
        &KeyIdentifier::parse(&mrk_e1).unwrap()
    ));
    let no: Arc<dyn ClientSupplier> = Arc::new(NoClients::default());
    assert!(
        esdk_kms::AwsKmsMultiKeyringBuilder::new()
            .generator(&mrk_w2)
            .key(&mrk_e1)
            .mrk_aware(true)
            .client_supplier(no.clone())
            .build()
            .is_err()
    );
    assert!(
        esdk_kms::AwsKmsMultiKeyringBuilder::new()
            .generator(&mrk_w2)
            .key(&mrk_e1)
            .client_supplier(no)
            .build()
            .is_ok()
    );
}

// ---------------------------------------------------------------------------------------------
// Interoperability with the AWS Encryption SDK for Python (its KMS master key providers) and for
// JavaScript (its KMS keyrings, interop/js/kms_interop.js): one scenario, two peers with the same
// command line.

/// Another ESDK driven through its helper script.
#[derive(Clone, Copy, Debug)]
enum Peer {
    /// `tests/moto/kms_interop.py` (AWS Encryption SDK for Python).
    Python,
    /// `interop/js/kms_interop.js` (AWS Encryption SDK for JavaScript, after `npm ci` there).
    Js,
}

impl Peer {
    /// Runs the helper; `None` when the peer is unavailable (skip, or fail when required).
    fn run(self, args: &[&str]) -> Option<Result<String, String>> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let (program, script, dir) = match self {
            Peer::Python => (
                std::env::var("PYTHON").unwrap_or_else(|_| "python3".into()),
                root.join("tests/moto/kms_interop.py"),
                root.to_path_buf(),
            ),
            Peer::Js => (
                std::env::var("NODE").unwrap_or_else(|_| "node".into()),
                root.join("../interop/js/kms_interop.js"),
                root.join("../interop/js"),
            ),
        };
        let out = match std::process::Command::new(&program)
            .arg(script)
            .args(args)
            .current_dir(dir)
            .output()
        {
            Ok(o) => o,
            Err(e) => return self.missing(&format!("{program}: {e}")),
        };
        match out.status.code() {
            Some(0) => Some(Ok(String::from_utf8_lossy(&out.stdout).into_owned())),
            Some(3) => self.missing(&String::from_utf8_lossy(&out.stderr)),
            _ => Some(Err(String::from_utf8_lossy(&out.stderr).into_owned())),
        }
    }

    fn missing(self, why: &str) -> Option<Result<String, String>> {
        let (var, install) = match self {
            Peer::Python => (
                "ESDK_REQUIRE_KMS_TESTS",
                "pip install -r interop/python/requirements.txt",
            ),
            Peer::Js => ("ESDK_REQUIRE_JS_INTEROP", "(cd interop/js && npm ci)"),
        };
        let required = std::env::var(var).is_ok_and(|v| v == "1");
        assert!(
            !required,
            "{var}=1 but the {self:?} ESDK is not usable: {why}"
        );
        eprintln!("SKIPPED {self:?} interop: the {self:?} ESDK is not usable ({why}); {install}");
        None
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_esdk_interop_both_directions() {
    need_kms!("python_esdk_interop_both_directions");
    peer_interop_both_directions(Peer::Python).await;
}

/// The JavaScript ESDK's KMS keyrings, pointed at the test server through their
/// `clientProvider` (`getClient(KMS, { endpoint })`), both ways.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_esdk_kms_interop_both_directions() {
    need_kms!("js_esdk_kms_interop_both_directions");
    peer_interop_both_directions(Peer::Js).await;
}

async fn peer_interop_both_directions(peer: Peer) {
    let Some(v) = peer.run(&["check"]) else {
        return;
    };
    eprintln!("{peer:?} side: {}", v.unwrap().trim());
    let dir =
        std::env::temp_dir().join(format!("esdk-kms-interop-{peer:?}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = |n: &str| dir.join(n).to_str().unwrap().to_owned();
    let (a, b) = (create_key(W2).await, create_key(E1).await);
    let (west, east) = create_mrk(W2, E1).await;
    let pt: Vec<u8> = (0..5000u32)
        .map(|i| u8::try_from(i * 13 % 256).unwrap())
        .collect();
    std::fs::write(f("pt"), &pt).unwrap();

    // Rust -> peer: two keys in two regions; the peer decrypts with the second key only,
    // with discovery, and (MRK) with the replica in the other region.
    let multi = esdk_kms::AwsKmsMultiKeyringBuilder::new()
        .generator(&a)
        .key(&b)
        .build()
        .unwrap();
    std::fs::write(f("rs.ct"), seal(&multi, &pt).await.ciphertext).unwrap();
    let out = peer
        .run(&[
            "decrypt",
            "--key",
            &b,
            "--in",
            &f("rs.ct"),
            "--out",
            &f("rs.pt"),
        ])
        .unwrap()
        .unwrap();
    assert_eq!(std::fs::read(f("rs.pt")).unwrap(), pt);
    assert!(out.replace(' ', "").contains("\"tenant\":\"42\""), "{out}");
    peer.run(&[
        "decrypt",
        "--discovery",
        "--account",
        ACCOUNT,
        "--in",
        &f("rs.ct"),
        "--out",
        &f("rs.pt2"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(std::fs::read(f("rs.pt2")).unwrap(), pt);
    std::fs::write(
        f("rs-mrk.ct"),
        seal(&AwsKmsKeyring::new(&west, supplier()).unwrap(), &pt)
            .await
            .ciphertext,
    )
    .unwrap();
    peer.run(&[
        "decrypt",
        "--mrk",
        "--key",
        &east,
        "--in",
        &f("rs-mrk.ct"),
        "--out",
        &f("rs-mrk.pt"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(std::fs::read(f("rs-mrk.pt")).unwrap(), pt);
    // A key the peer does not hold: it fails (negative control).
    assert!(
        peer.run(&[
            "decrypt",
            "--key",
            &west,
            "--in",
            &f("rs.ct"),
            "--out",
            &f("x")
        ])
        .unwrap()
        .is_err()
    );

    // peer -> Rust: a strict provider / keyring with two keys; Rust decrypts with each key
    // alone, with discovery, and checks the encryption context.
    peer.run(&[
        "encrypt",
        "--key",
        &a,
        "--key",
        &b,
        "--ec",
        "tenant=7",
        "--ec",
        "origin=peer",
        "--in",
        &f("pt"),
        "--out",
        &f("py.ct"),
    ])
    .unwrap()
    .unwrap();
    let ct = std::fs::read(f("py.ct")).unwrap();
    for k in [&a, &b] {
        let d = open(&AwsKmsKeyring::new(k, supplier()).unwrap(), &ct)
            .await
            .unwrap();
        assert_eq!(d.plaintext, pt);
        assert_eq!(d.encryption_context.get("origin"), Some("peer"));
        assert_eq!(d.encryption_context.get("tenant"), Some("7"));
    }
    let d = open(
        &AwsKmsDiscoveryKeyring::new(supplier())
            .filter(DiscoveryFilter::new("aws", [ACCOUNT]).unwrap()),
        &ct,
    )
    .await
    .unwrap();
    assert_eq!(d.plaintext, pt);
    // The peer's MRK-aware provider / keyring in us-west-2 -> Rust MRK keyring and MRK discovery in us-east-1.
    peer.run(&[
        "encrypt",
        "--mrk",
        "--key",
        &west,
        "--in",
        &f("pt"),
        "--out",
        &f("py-mrk.ct"),
    ])
    .unwrap()
    .unwrap();
    let ct = std::fs::read(f("py-mrk.ct")).unwrap();
    assert_eq!(
        open(
            &AwsKmsKeyring::new(&east, supplier())
                .unwrap()
                .mrk_aware(true),
            &ct
        )
        .await
        .unwrap()
        .plaintext,
        pt
    );
    assert_eq!(
        open(
            &AwsKmsMrkDiscoveryKeyring::new(E1, supplier()).unwrap(),
            &ct
        )
        .await
        .unwrap()
        .plaintext,
        pt
    );
    std::fs::remove_dir_all(&dir).ok();
}

// ---------------------------------------------------------------------------------------------
// Caching materials manager over a KMS keyring: KMS calls observed on the wire.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caching_cmm_cuts_kms_calls() {
    use esdk_std::cmm::{CachingCmm, DefaultCmm, LocalCache};
    need_kms!("caching_cmm_cuts_kms_calls");
    let key = create_key(W2).await;
    let rec = Arc::new(InFlight::default());
    let r = Recorder(rec.clone());
    let s = Arc::new(
        AwsSdkClientSupplier::builder()
            .configure(move |c| c.interceptor(r.clone()))
            .build(),
    );
    let keyring = AwsKmsKeyring::new(&key, s).unwrap();
    let cmm = Arc::new(
        CachingCmm::builder(
            Arc::new(DefaultCmm::new_async(keyring)),
            Arc::new(LocalCache::new(16)),
            std::time::Duration::from_secs(300),
        )
        .max_messages(10)
        .build()
        .unwrap(),
    );
    let client = Client::builder().build();
    let pt = vec![7u8; 1024];
    let mut last = Vec::new();
    for _ in 0..25 {
        let opts = EncryptOptions::async_cmm(&*cmm).encryption_context(ec());
        last = client.encrypt_async(&pt, &opts).await.unwrap().ciphertext;
    }
    let count = |op: &str| rec.ops.lock().unwrap().iter().filter(|o| *o == op).count();
    // 25 messages, 10 per entry: entries for messages 1-10, 11-20, 21-25.
    assert_eq!(count("GenerateDataKey"), 3);
    for _ in 0..5 {
        let d = client
            .decrypt_async(&last, &DecryptOptions::async_cmm(&*cmm))
            .await
            .unwrap();
        assert_eq!(d.plaintext, pt);
    }
    assert_eq!(count("Decrypt"), 1, "decryption materials were not reused");
    // Concurrent misses on a fresh context make one KMS call (stampede protection).
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let cmm = cmm.clone();
        let client = client.clone();
        let pt = pt.clone();
        tasks.push(tokio::spawn(async move {
            let mut other = ec();
            other.insert("fresh", "context");
            let opts = EncryptOptions::async_cmm(&*cmm).encryption_context(other);
            client.encrypt_async(&pt, &opts).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(count("GenerateDataKey"), 4);
}

/// The text of an error and of its whole `source()` chain.
fn full(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut next = e.source();
    while let Some(x) = next {
        s.push_str(": ");
        s.push_str(&x.to_string());
        next = x.source();
    }
    s
}

// `BlockingKeyring` created, used and dropped in sync and async contexts.
#[path = "kms/blocking.rs"]
mod blocking;
