//! Interoperability with the MPL (AWS Cryptographic Material Providers Library for Python
//! 1.11.3 with the AWS Encryption SDK for Python 4.0.7): the same moto server, the same
//! DynamoDB table and KMS key, both directions, keys created and rotated by either side.
//!
//! Needs the moto server (see `moto.rs`) and the Python packages of
//! `interop/python/requirements.txt`; skipped (with `SKIPPED` printed) when either is missing,
//! a failure when `ESDK_REQUIRE_KMS_TESTS=1`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use esdk_hierarchy::{HierarchicalKeyring, KeyStore};
use esdk_std::{Client, DecryptOptions, EncryptOptions, EncryptionContext};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn python() -> String {
    std::env::var("PYTHON").unwrap_or_else(|_| "python3".into())
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mpl/mpl_hierarchy.py")
}

struct Mpl {
    table: String,
    logical: String,
    arn: String,
    dir: PathBuf,
}

impl Mpl {
    fn run(&self, op: &str, extra: &[&str]) -> String {
        let out = Command::new(python())
            .arg(script())
            .arg(op)
            .args([
                "--table",
                &self.table,
                "--logical",
                &self.logical,
                "--kms-arn",
                &self.arn,
            ])
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "MPL {op} {extra:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }
    fn encrypt(&self, id: &str, pt: &[u8], name: &str) -> Vec<u8> {
        let (i, o) = (
            self.dir.join(format!("{name}.pt")),
            self.dir.join(format!("{name}.ct")),
        );
        std::fs::write(&i, pt).unwrap();
        self.run(
            "encrypt",
            &[
                "--id",
                id,
                "--ec",
                "tenant=interop",
                "--in",
                i.to_str().unwrap(),
                "--out",
                o.to_str().unwrap(),
            ],
        );
        std::fs::read(o).unwrap()
    }
    fn decrypt(&self, id: &str, ct: &[u8], name: &str) -> Vec<u8> {
        let (i, o) = (
            self.dir.join(format!("{name}.ct")),
            self.dir.join(format!("{name}.out")),
        );
        std::fs::write(&i, ct).unwrap();
        let ec = self.run(
            "decrypt",
            &[
                "--id",
                id,
                "--in",
                i.to_str().unwrap(),
                "--out",
                o.to_str().unwrap(),
            ],
        );
        assert!(ec.contains(r#""tenant": "interop""#), "{ec}");
        std::fs::read(o).unwrap()
    }
}

fn ready(test: &str) -> Option<String> {
    let required = std::env::var("ESDK_REQUIRE_KMS_TESTS").is_ok_and(|v| v == "1");
    let url = std::env::var("AWS_ENDPOINT_URL_KMS")
        .ok()
        .filter(|u| !u.is_empty());
    let mpl = Command::new(python())
        .arg(script())
        .arg("check")
        .output()
        .is_ok_and(|o| o.status.success());
    match (url, mpl) {
        (Some(u), true) => Some(u),
        (u, m) => {
            assert!(
                !required,
                "ESDK_REQUIRE_KMS_TESTS=1 but the MPL interop cannot run (endpoint set: {}, MPL importable: {m}); \
                 pip install -r interop/python/requirements.txt and start moto",
                u.is_some()
            );
            eprintln!("SKIPPED {test}: needs the moto server and the MPL for Python");
            None
        }
    }
}

fn edk_version(ct: &[u8]) -> String {
    let h = Client::builder().build().parse_header(ct).unwrap();
    let v: [u8; 16] = h.encrypted_data_keys[0].ciphertext[28..44]
        .try_into()
        .unwrap();
    esdk_hierarchy::uuid::format(&v)
}

fn ec() -> EncryptionContext {
    let mut ec = EncryptionContext::new();
    ec.insert("tenant", "interop");
    ec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mpl_interop_both_directions_with_rotation_by_either_side() {
    let Some(url) = ready("mpl_interop_both_directions_with_rotation_by_either_side") else {
        return;
    };
    let ddb_url = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| url.clone());
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-west-2"))
        .load()
        .await;
    let kms = aws_sdk_kms::Client::from_conf(
        aws_sdk_kms::config::Builder::from(&sdk)
            .endpoint_url(&url)
            .build(),
    );
    let arn = kms
        .create_key()
        .send()
        .await
        .unwrap()
        .key_metadata()
        .unwrap()
        .arn()
        .unwrap()
        .to_owned();
    let table = format!("interop-{}", esdk_hierarchy::uuid::new_v4());
    let dir = std::env::temp_dir().join(&table);
    std::fs::create_dir_all(&dir).unwrap();
    let mpl = Mpl {
        table: table.clone(),
        logical: "interop-logical".into(),
        arn: arn.clone(),
        dir: dir.clone(),
    };
    let store = KeyStore::builder()
        .table_name(&table)
        .logical_key_store_name("interop-logical")
        .kms_key_arn(&arn)
        .ddb_endpoint_url(&ddb_url)
        .kms_client(kms)
        .build()
        .await
        .unwrap();
    store.create_key_store().await.unwrap();
    let client = Client::builder().build();
    let keyring = |id: &str| {
        HierarchicalKeyring::builder(store.clone())
            .branch_key_id(id)
            .ttl(Duration::from_secs(600))
            .build()
            .unwrap()
    };

    // 1. A key created here, used by both sides.
    let r = store
        .create_key(
            None,
            Some(&BTreeMap::from([("owner".to_owned(), "rust".to_owned())])),
        )
        .await
        .unwrap();
    let kr = keyring(&r);
    let from_py = mpl.encrypt(&r, b"python to rust", "p1");
    let out = client
        .decrypt_async(&from_py, &DecryptOptions::async_keyring(&kr))
        .await
        .unwrap();
    assert_eq!(out.plaintext, b"python to rust");
    let from_rust = client
        .encrypt_async(
            b"rust to python",
            &EncryptOptions::async_keyring(&kr).encryption_context(ec()),
        )
        .await
        .unwrap()
        .ciphertext;
    assert_eq!(mpl.decrypt(&r, &from_rust, "r1"), b"rust to python");

    // 2. A key created by the MPL (caller-chosen id, custom context), used by both sides.
    let p = mpl.run(
        "create-key",
        &[
            "--id",
            &format!("py-{}", &table[8..16]),
            "--ec",
            "owner=python",
        ],
    );
    let pm = store.get_active_branch_key(&p).await.unwrap();
    assert_eq!(
        pm.encryption_context().get("owner").map(String::as_str),
        Some("python")
    );
    assert_eq!(mpl.run("active", &["--id", &p]), pm.version());
    let kp = keyring(&p);
    let rust_p = client
        .encrypt_async(
            b"rust, python's key",
            &EncryptOptions::async_keyring(&kp).encryption_context(ec()),
        )
        .await
        .unwrap()
        .ciphertext;
    assert_eq!(mpl.decrypt(&p, &rust_p, "r2"), b"rust, python's key");
    let py_p = mpl.encrypt(&p, b"python, python's key", "p2");
    assert_eq!(
        client
            .decrypt_async(&py_p, &DecryptOptions::async_keyring(&kp))
            .await
            .unwrap()
            .plaintext,
        b"python, python's key"
    );

    // 3. The MPL rotates the key created here; this side follows (fresh cache).
    let before = store.get_active_branch_key(&r).await.unwrap();
    mpl.run("version-key", &["--id", &r]);
    let after = store.get_active_branch_key(&r).await.unwrap();
    assert_ne!(after.version(), before.version());
    assert_eq!(
        after.encryption_context().get("owner").map(String::as_str),
        Some("rust")
    );
    assert_eq!(mpl.run("active", &["--id", &r]), after.version());
    let kr2 = keyring(&r);
    let rust_new = client
        .encrypt_async(
            b"after python rotated",
            &EncryptOptions::async_keyring(&kr2).encryption_context(ec()),
        )
        .await
        .unwrap()
        .ciphertext;
    assert_eq!(edk_version(&rust_new), after.version());
    assert_eq!(mpl.decrypt(&r, &rust_new, "r3"), b"after python rotated");
    let py_new = mpl.encrypt(&r, b"python after rotation", "p3");
    assert_eq!(edk_version(&py_new), after.version());
    for (ct, pt) in [
        (&from_py, &b"python to rust"[..]),
        (&from_rust, &b"rust to python"[..]),
        (&py_new, &b"python after rotation"[..]),
    ] {
        assert_eq!(
            client
                .decrypt_async(ct, &DecryptOptions::async_keyring(&kr2))
                .await
                .unwrap()
                .plaintext,
            pt
        );
    }

    // 4. This side rotates the MPL's key; the MPL follows.
    let v = store.version_key(&p).await.unwrap();
    assert_eq!(mpl.run("active", &["--id", &p]), v);
    let py_after = mpl.encrypt(&p, b"python after rust rotated", "p4");
    assert_eq!(edk_version(&py_after), v);
    let kp2 = keyring(&p);
    assert_eq!(
        client
            .decrypt_async(&py_after, &DecryptOptions::async_keyring(&kp2))
            .await
            .unwrap()
            .plaintext,
        b"python after rust rotated"
    );
    let rust_after = client
        .encrypt_async(
            b"rust after rust rotated",
            &EncryptOptions::async_keyring(&kp2).encryption_context(ec()),
        )
        .await
        .unwrap()
        .ciphertext;
    assert_eq!(edk_version(&rust_after), v);
    assert_eq!(
        mpl.decrypt(&p, &rust_after, "r4"),
        b"rust after rust rotated"
    );
    assert_eq!(mpl.decrypt(&p, &rust_p, "r2b"), b"rust, python's key");
    let _ = std::fs::remove_dir_all(dir);
}
