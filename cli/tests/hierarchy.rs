#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]
//! `-w provider=aws-kms-hierarchy` and `esdk hierarchy ...` against the moto server started by
//! `kms-ext/tests/moto/start_moto.sh` (DynamoDB and KMS on 127.0.0.1, found through
//! `AWS_ENDPOINT_URL_KMS` / `AWS_ENDPOINT_URL_DYNAMODB`, which the `esdk` binary honours like
//! the library). Stores and branch keys are made with esdk-hierarchy, then the binary encrypts
//! and decrypts files with them.
//!
//! Without the endpoint the moto tests print `SKIPPED` and pass; with
//! `ESDK_REQUIRE_KMS_TESTS=1` they fail instead (CI). The parameter checks need no server.

use esdk_hierarchy::{KeyStore, KmsConfiguration};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_esdk");

fn moto(test: &str) -> bool {
    let required = std::env::var("ESDK_REQUIRE_KMS_TESTS").is_ok_and(|v| v == "1");
    match std::env::var("AWS_ENDPOINT_URL_KMS") {
        Ok(url) if !url.is_empty() => {
            assert!(
                ["http://127.0.0.1", "http://localhost", "http://[::1]"]
                    .iter()
                    .any(|p| url.starts_with(p)),
                "AWS_ENDPOINT_URL_KMS={url} is not a local test server; these tests create tables and keys"
            );
            let ddb = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap_or_default();
            assert!(
                ddb.starts_with("http://127.0.0.1")
                    || ddb.starts_with("http://localhost")
                    || ddb.starts_with("http://[::1]"),
                "AWS_ENDPOINT_URL_DYNAMODB={ddb:?} must name the local test server too"
            );
            true
        }
        _ => {
            assert!(
                !required,
                "ESDK_REQUIRE_KMS_TESTS=1 but AWS_ENDPOINT_URL_KMS is not set: start moto with \
                 `eval \"$(bash kms-ext/tests/moto/start_moto.sh)\"`"
            );
            eprintln!("SKIPPED {test}: AWS_ENDPOINT_URL_KMS is not set (no moto server)");
            false
        }
    }
}

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Self {
        let p =
            std::env::temp_dir().join(format!("esdk-cli-hierarchy-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
    fn s(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
    fn write(&self, name: &str, data: &[u8]) {
        std::fs::write(self.0.join(name), data).unwrap();
    }
    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.0.join(name)).unwrap()
    }
    fn exists(&self, name: &str) -> bool {
        self.0.join(name).exists()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn run(args: &[String]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn a(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn ok(o: &Output) {
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(o));
}

fn fails(o: &Output, exit: i32, msg: &str) {
    assert_eq!(o.status.code(), Some(exit), "stderr: {}", stderr(o));
    assert!(
        stderr(o).contains(msg),
        "expected {msg:?} in {:?}",
        stderr(o)
    );
}

/// `esdk -e|-d -i SRC -o DST -S [-c K=V]... -w provider=aws-kms-hierarchy PARAMS...`
fn crypt(d: &Dir, op: &str, src: &str, dst: &str, ec: &[&str], params: &[String]) -> Output {
    let mut args = a(&[op, "-i", &d.s(src), "-o", &d.s(dst), "-S"]);
    if !ec.is_empty() {
        args.push("-c".into());
        args.extend(a(ec));
    }
    args.extend(a(&["-w", "provider=aws-kms-hierarchy"]));
    args.extend(params.iter().cloned());
    run(&args)
}

/// `(provider id, provider info)` of each EDK of a message, through `esdk inspect`.
fn edks(d: &Dir, file: &str) -> Vec<(String, String)> {
    use base64::Engine as _;
    let o = run(&a(&["inspect", &d.s(file)]));
    ok(&o);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let text = |x: &serde_json::Value| {
        let b = base64::engine::general_purpose::STANDARD
            .decode(x.as_str().unwrap())
            .unwrap();
        String::from_utf8(b).unwrap()
    };
    v["header"]["encrypted_data_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                text(&e["key_provider"]["provider_id"]),
                text(&e["key_provider"]["key_info"]),
            )
        })
        .collect()
}

fn data(n: usize) -> Vec<u8> {
    (0..n)
        .map(|i| u8::try_from(i * 37 % 253).unwrap())
        .collect()
}

struct Env {
    rt: tokio::runtime::Runtime,
    arn: String,
    table: String,
    store: KeyStore,
}

/// A fresh KMS key and a fresh branch key store table, through esdk-hierarchy.
fn env() -> Env {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let table = format!("cli-bks-{}", esdk_hierarchy::uuid::new_v4());
    let (arn, store) = rt.block_on(async {
        // A discovery store only to reach the KMS client configured from the environment.
        let probe = KeyStore::builder()
            .table_name(&table)
            .logical_key_store_name(&table)
            .kms_configuration(KmsConfiguration::Discovery)
            .build()
            .await
            .unwrap();
        let arn = probe
            .kms_client()
            .create_key()
            .description("esdk-cli hierarchy test")
            .send()
            .await
            .unwrap()
            .key_metadata()
            .unwrap()
            .arn()
            .unwrap()
            .to_owned();
        let store = KeyStore::builder()
            .table_name(&table)
            .logical_key_store_name(&table)
            .kms_key_arn(&arn)
            .build()
            .await
            .unwrap();
        store.create_key_store().await.unwrap();
        (arn, store)
    });
    Env {
        rt,
        arn,
        table,
        store,
    }
}

impl Env {
    fn create_key(&self) -> String {
        self.rt.block_on(self.store.create_key(None, None)).unwrap()
    }
}

#[test]
fn static_branch_key_round_trip_rotation_and_store_commands() {
    if !moto("static_branch_key_round_trip_rotation_and_store_commands") {
        return;
    }
    let e = env();
    let id = e.create_key();
    let d = Dir::new("static");
    let plain = data(100_000);
    d.write("p", &plain);
    let enc = vec![
        format!("table={}", e.table),
        format!("kms-key={}", e.arn),
        format!("branch-key-id={id}"),
        "ttl=60".into(),
        "cache-capacity=10".into(),
    ];
    ok(&crypt(&d, "-e", "p", "c1", &["purpose=cli-test"], &enc));
    let c1 = d.read("c1");
    assert_ne!(&c1[..], &plain[..]);
    // The EDK is the hierarchy keyring's, naming the branch key id.
    assert_eq!(
        edks(&d, "c1"),
        [("aws-kms-hierarchy".to_owned(), id.clone())]
    );

    // Decrypt with the same parameters, and with a discovery store (no kms-key=, logical name
    // given explicitly).
    ok(&crypt(&d, "-d", "c1", "d1", &[], &enc));
    assert_eq!(d.read("d1"), plain);
    let discovery = vec![
        format!("table={}", e.table),
        format!("logical-name={}", e.table),
        format!("branch-key-id={id}"),
    ];
    ok(&crypt(
        &d,
        "-d",
        "c1",
        "d1b",
        &["purpose=cli-test"],
        &discovery,
    ));
    assert_eq!(d.read("d1b"), plain);
    // A discovery store encrypts too (it only reads the store).
    ok(&crypt(&d, "-e", "p", "c1b", &[], &discovery));
    ok(&crypt(&d, "-d", "c1b", "d1c", &[], &enc));
    assert_eq!(d.read("d1c"), plain);

    // Rotate with `esdk hierarchy version-key`; old and new messages both decrypt.
    let store_args = vec![format!("table={}", e.table), format!("kms-key={}", e.arn)];
    let mut v = a(&["hierarchy", "version-key"]);
    v.extend(store_args.clone());
    v.push(format!("branch-key-id={id}"));
    let o = run(&v);
    ok(&o);
    let version = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    assert_eq!(version.len(), 36, "{version}");
    ok(&crypt(&d, "-e", "p", "c2", &[], &enc));
    assert_ne!(d.read("c2"), c1);
    for (c, out) in [("c1", "o1"), ("c2", "o2")] {
        ok(&crypt(&d, "-d", c, out, &[], &discovery));
        assert_eq!(d.read(out), plain);
    }
    // A logical name other than the store's fails to unwrap (it is bound into the key).
    let wrong_logical = vec![
        format!("table={}", e.table),
        "logical-name=another-store".into(),
        format!("branch-key-id={id}"),
    ];
    fails(
        &crypt(&d, "-d", "c1", "bad", &[], &wrong_logical),
        1,
        "GetBranchKeyVersion failed",
    );
    assert!(!d.exists("bad"));
    // A branch key that is not in the store.
    let missing = vec![
        format!("table={}", e.table),
        "branch-key-id=no-such-branch-key".into(),
    ];
    fails(
        &crypt(&d, "-e", "p", "bad", &[], &missing),
        1,
        "no-such-branch-key",
    );
    assert!(!d.exists("bad"));

    // `esdk hierarchy create-store` and `create-key` on a new table, then use that key.
    let table2 = format!("cli-bks2-{}", esdk_hierarchy::uuid::new_v4());
    let store2 = vec![format!("table={table2}"), format!("kms-key={}", e.arn)];
    let mut cs = a(&["hierarchy", "create-store"]);
    cs.extend(store2.clone());
    let o = run(&cs);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stdout).contains(&table2));
    ok(&run(&cs)); // an existing table with the right schema is accepted
    let mut ck = a(&["hierarchy", "create-key"]);
    ck.extend(store2.clone());
    let o = run(&ck);
    ok(&o);
    let id2 = String::from_utf8_lossy(&o.stdout).trim().to_owned();
    assert_eq!(id2.len(), 36, "{id2}");
    let mut ck_named = ck.clone();
    ck_named.push("branch-key-id=operator-chosen".into());
    let o = run(&ck_named);
    ok(&o);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "operator-chosen");
    fails(&run(&ck_named), 1, "already exists");
    for key in [id2.as_str(), "operator-chosen"] {
        let p2 = vec![format!("table={table2}"), format!("branch-key-id={key}")];
        ok(&crypt(&d, "-e", "p", "c3", &[], &p2));
        ok(&crypt(&d, "-d", "c3", "d3", &[], &p2));
        assert_eq!(d.read("d3"), plain);
        std::fs::remove_file(d.0.join("c3")).unwrap();
        std::fs::remove_file(d.0.join("d3")).unwrap();
    }
    // The first store's key is not in the second table.
    let cross = vec![format!("table={table2}"), format!("branch-key-id={id}")];
    fails(
        &crypt(&d, "-d", "c1", "bad", &[], &cross),
        1,
        "GetBranchKeyVersion failed",
    );
    // create-key/version-key need kms-key= (a discovery store cannot write).
    let mut no_kms = a(&["hierarchy", "create-key"]);
    no_kms.push(format!("table={table2}"));
    fails(&run(&no_kms), 2, "need kms-key=");
    let mut no_id = a(&["hierarchy", "version-key"]);
    no_id.extend(store2);
    fails(&run(&no_id), 2, "version-key needs branch-key-id=");
    fails(
        &run(&a(&["hierarchy", "create-store", "table=t", "colour=red"])),
        2,
        "unknown parameter \"colour\"",
    );
    fails(
        &run(&a(&["hierarchy", "create-store", "table=t", "table=u"])),
        2,
        "give \"table\" only once",
    );
    fails(&run(&a(&["hierarchy", "rotate", "table=t"])), 2, "rotate");
}

#[test]
fn multi_tenant_branch_key_from_encryption_context() {
    if !moto("multi_tenant_branch_key_from_encryption_context") {
        return;
    }
    let e = env();
    let (acme, globex) = (e.create_key(), e.create_key());
    let d = Dir::new("tenants");
    let plain = data(5_000);
    d.write("p", &plain);
    let base = |extra: &[String]| -> Vec<String> {
        let mut v = vec![
            format!("table={}", e.table),
            format!("kms-key={}", e.arn),
            "branch-key-id-from=tenant".into(),
        ];
        v.extend(extra.iter().cloned());
        v
    };
    let both = base(&[
        format!("branch-key-for=acme={acme}"),
        format!("branch-key-for=globex={globex}"),
    ]);
    ok(&crypt(&d, "-e", "p", "c-acme", &["tenant=acme"], &both));
    ok(&crypt(&d, "-e", "p", "c-globex", &["tenant=globex"], &both));
    for t in ["acme", "globex"] {
        ok(&crypt(
            &d,
            "-d",
            &format!("c-{t}"),
            &format!("d-{t}"),
            &[],
            &both,
        ));
        assert_eq!(d.read(&format!("d-{t}")), plain);
    }
    // Each message names its tenant's branch key.
    assert_eq!(
        edks(&d, "c-acme"),
        [("aws-kms-hierarchy".to_owned(), acme.clone())]
    );
    assert_eq!(
        edks(&d, "c-globex"),
        [("aws-kms-hierarchy".to_owned(), globex.clone())]
    );
    // A keyring that only knows globex cannot open acme's message.
    let only_globex = base(&[format!("branch-key-for=globex={globex}")]);
    ok(&crypt(&d, "-d", "c-globex", "d2", &[], &only_globex));
    fails(
        &crypt(&d, "-d", "c-acme", "bad", &[], &only_globex),
        1,
        "no key for tenant",
    );
    assert!(!d.exists("bad"));
    // acme mapped to globex's branch key: acme's message does not decrypt.
    let swapped = base(&[format!("branch-key-for=acme={globex}")]);
    fails(
        &crypt(&d, "-d", "c-acme", "bad", &[], &swapped),
        1,
        "not for hierarchical keyring",
    );
    assert!(!d.exists("bad"));
    // An unknown tenant, or no tenant at all, cannot encrypt.
    fails(
        &crypt(&d, "-e", "p", "bad", &["tenant=initech"], &both),
        1,
        "no key for tenant = \"initech\"",
    );
    fails(
        &crypt(&d, "-e", "p", "bad", &["other=x"], &both),
        1,
        "tenant",
    );
    assert!(!d.exists("bad"));

    // Without branch-key-for=, the context value is the branch key id itself.
    let direct = base(&[]);
    let ec_acme = format!("tenant={acme}");
    ok(&crypt(&d, "-e", "p", "c-direct", &[&ec_acme], &direct));
    ok(&crypt(
        &d,
        "-d",
        "c-direct",
        "d-direct",
        &[&ec_acme],
        &direct,
    ));
    assert_eq!(d.read("d-direct"), plain);
    // Same bytes of EDK as the mapped form: the mapped keyring opens it too.
    let acme_map = base(&[format!("branch-key-for={acme}={acme}")]);
    ok(&crypt(&d, "-d", "c-direct", "d-direct2", &[], &acme_map));
    fails(
        &crypt(&d, "-e", "p", "bad", &["tenant=not-a-branch-key"], &direct),
        1,
        "not-a-branch-key",
    );
    fails(
        &crypt(&d, "-e", "p", "bad", &["x=y"], &direct),
        1,
        "`tenant`",
    );
    assert!(!d.exists("bad"));
}

#[test]
fn parameter_errors_exit_2() {
    let d = Dir::new("params");
    d.write("p", b"hello");
    let p = |items: &[&str]| a(items);
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            p(&["table=t", "branch-key-id=b", "colour=red"]),
            "provider=aws-kms-hierarchy: unknown parameter \"colour\" (expected one of: provider, table,",
        ),
        (
            p(&["branch-key-id=b"]),
            "provider=aws-kms-hierarchy needs table=",
        ),
        (
            p(&["table=t"]),
            "provider=aws-kms-hierarchy needs branch-key-id= or branch-key-id-from=",
        ),
        (
            p(&["table=t", "table=u", "branch-key-id=b"]),
            "provider=aws-kms-hierarchy: give \"table\" only once",
        ),
        (
            p(&["table=t", "branch-key-id=b", "branch-key-id=c"]),
            "provider=aws-kms-hierarchy: give \"branch-key-id\" only once",
        ),
        (
            p(&["table=t", "branch-key-id=b", "kms-key=k1", "kms-key=k2"]),
            "give \"kms-key\" only once",
        ),
        (
            p(&["table=t", "branch-key-id=b", "branch-key-id-from=tenant"]),
            "give branch-key-id= or branch-key-id-from=, not both",
        ),
        (
            p(&["table=t", "branch-key-id=b", "branch-key-for=acme=b"]),
            "branch-key-for= needs branch-key-id-from=",
        ),
        (
            p(&[
                "table=t",
                "branch-key-id-from=tenant",
                "branch-key-for=acme",
            ]),
            "branch-key-for= takes VALUE=BRANCH-KEY-ID",
        ),
        (
            p(&[
                "table=t",
                "branch-key-id-from=tenant",
                "branch-key-for=acme=a",
                "branch-key-for=acme=b",
            ]),
            "branch-key-for= gives \"acme\" twice",
        ),
        (
            p(&["table=t", "branch-key-id=b", "ttl=0"]),
            "ttl=0 is not a whole number of seconds greater than 0",
        ),
        (
            p(&["table=t", "branch-key-id=b", "ttl=soon"]),
            "ttl=soon is not a whole number",
        ),
        (
            p(&["table=t", "branch-key-id=b", "cache-capacity=0"]),
            "cache-capacity=0 is not a whole number greater than 0",
        ),
        (
            p(&["table=t", "branch-key-id=b", "consistent-reads=maybe"]),
            "could not be parsed as true or false",
        ),
        (
            p(&[
                "table=t",
                "branch-key-id=b",
                "kms-key=arn:aws:kms:us-west-2:111122223333:alias/mine",
            ]),
            "is an alias; the key store needs a key ARN",
        ),
        (
            p(&["table=t", "branch-key-id=b", "kms-key=not-an-arn"]),
            "provider=aws-kms-hierarchy: ",
        ),
        (p(&["table=t", "branch-key-id"]), "key=value"),
    ];
    for (params, msg) in cases {
        for op in ["-e", "-d"] {
            let o = crypt(&d, op, "p", "out", &[], &params);
            fails(&o, 2, msg);
            assert!(!d.exists("out"), "{params:?}");
        }
    }
    // The provider list in the unknown-provider message names it.
    fails(
        &run(&a(&[
            "-e",
            "-i",
            &d.s("p"),
            "-o",
            &d.s("out"),
            "-S",
            "-w",
            "provider=aws-kms-hier",
        ])),
        2,
        "(aws-kms, aws-kms-hierarchy, raw-aes, raw-rsa)",
    );
}
