//! Parses every manifest, keys file and KAT file of `shared/test-vectors`
//! with `esdk_test_vectors::manifest` and checks counts, cross references and
//! referenced files against the facts in `shared/test-vectors/README.md`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use esdk_test_vectors::manifest::{
    AnyManifest, CSdkExpected, CSdkKey, CmmType, CommitmentKats, DecryptGenerateManifest,
    DecryptManifest, DecryptionMethod, EccCurve, EcdhSchema, EncryptManifest, ExpectedResult,
    KatKeyringType, KeyDescription, KeyType, KeysManifest, LegacyCiphertextManifest,
    LegacyResultsManifest, LegacyStatus, LegacyTestCaseManifest, MplKeyringManifest, MplTestType,
    OracleKeyType, RsaPadding, Tampering, list_c_sdk_data, load_any, load_oracle_vectors,
    resolve_file_uri,
};

/// The shared vectors' directory; a clear failure when it is missing (see `shared`).
fn vectors() -> PathBuf {
    esdk_test_vectors::shared::vector_path("")
}

fn path(rel: &str) -> PathBuf {
    vectors().join(rel)
}

/// Every `*.json` / `*.manifest` file outside the data directories.
fn manifest_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("list test-vector directory") {
        let p = entry.expect("directory entry").path();
        if p.is_dir() {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if !matches!(
                name,
                "ciphertexts" | "ciphertext" | "plaintexts" | "plaintext"
            ) {
                manifest_files(&p, out);
            }
        } else if p
            .extension()
            .is_some_and(|e| e == "json" || e == "manifest")
        {
            out.push(p);
        }
    }
}

/// (relative path, detected kind, number of cases / entries)
const EXPECTED_FILES: &[(&str, &str, usize)] = &[
    ("dafny-4.1.0/decrypt-manifest.json", "awses-decrypt v5", 487),
    ("dafny-4.1.0/encrypt-manifest.json", "awses-encrypt v5", 487),
    ("dafny-4.1.0/keys.json", "keys v2", 20),
    (
        "generation/dafny-esdk/encrypt-manifest.json",
        "awses-encrypt v5",
        509,
    ),
    ("generation/dafny-esdk/keys.json", "keys v2", 21),
    (
        "generation/framework-canonical/0002-keys.v1.json",
        "keys v1",
        7,
    ),
    (
        "generation/framework-canonical/0002-keys.v3.json",
        "keys v3",
        7,
    ),
    (
        "generation/framework-canonical/0003-awses-message-encryption.v1.json",
        "awses-encrypt v1",
        360,
    ),
    (
        "generation/framework-canonical/0003-awses-message-encryption.v2.json",
        "awses-encrypt v2",
        3300,
    ),
    (
        "generation/framework-canonical/0006-awses-message-decryption-generation.v1.json",
        "awses-decrypt-generate v1",
        3301,
    ),
    (
        "generation/framework-canonical/0006-awses-message-decryption-generation.v2.json",
        "awses-decrypt-generate v2",
        3306,
    ),
    ("generation/java-keys.json", "keys v3", 31),
    ("generation/mpl/test.json", "mpl keyring tests", 1075),
    ("kat/commitment-test-vectors.json", "commitment KATs", 46),
    (
        "kat/python-decrypt-oracle-vectors.json",
        "decrypt-oracle vectors",
        27,
    ),
    ("legacy-python-1.3.0/keys.json", "keys v3", 6),
    (
        "legacy-python-1.3.0/manifest.json",
        "awses-decrypt v2",
        1260,
    ),
    (
        "legacy-python-1.3.0/manifests/ciphertext.manifest",
        "legacy ciphertext",
        1260,
    ),
    (
        "legacy-python-1.3.0/manifests/results.manifest",
        "legacy results",
        1440,
    ),
    (
        "legacy-python-1.3.0/manifests/test_case.manifest",
        "legacy test_case",
        1440,
    ),
    ("net-4.0.0-invalid/keys.json", "keys v3", 1),
    ("net-4.0.0-invalid/manifest.json", "awses-decrypt v4", 28),
    ("net-4.0.0-valid/keys.json", "keys v3", 1),
    ("net-4.0.0-valid/manifest.json", "awses-decrypt v4", 5),
    ("net-4.0.1/keys.json", "keys v3", 4),
    ("net-4.0.1/manifest.json", "awses-decrypt v4", 132),
    ("python-1.3.5/decrypt_message.json", "awses-decrypt v1", 360),
    ("python-1.3.5/keys.json", "keys v1", 7),
];

#[test]
fn every_manifest_file_parses_with_the_expected_kind_and_count() {
    let root = vectors();
    let mut files = Vec::new();
    manifest_files(&root, &mut files);
    let mut seen = BTreeMap::new();
    for f in &files {
        let rel = f
            .strip_prefix(&root)
            .expect("under root")
            .to_string_lossy()
            .into_owned();
        if rel == "index.json" {
            continue; // the derived catalogue, not a manifest
        }
        let m = load_any(f).unwrap_or_else(|e| panic!("{rel}: {e:#}"));
        seen.insert(rel, (m.kind(), m.len()));
    }
    for (rel, kind, count) in EXPECTED_FILES {
        let got = seen
            .get(*rel)
            .unwrap_or_else(|| panic!("{rel} was not found under {}", root.display()));
        assert_eq!(
            (got.0.as_str(), got.1),
            (*kind, *count),
            "{rel}: detected kind / count"
        );
    }
    assert_eq!(
        seen.len(),
        EXPECTED_FILES.len(),
        "files found: {:?}",
        seen.keys()
    );
}

/// The six decrypt sets: (manifest, cases, must-succeed per manifest, must-fail per manifest).
const DECRYPT_SETS: &[(&str, usize, usize, usize)] = &[
    ("legacy-python-1.3.0/manifest.json", 1260, 1260, 0),
    ("python-1.3.5/decrypt_message.json", 360, 360, 0),
    ("net-4.0.1/manifest.json", 132, 132, 0),
    ("net-4.0.0-valid/manifest.json", 5, 5, 0),
    ("net-4.0.0-invalid/manifest.json", 28, 28, 0),
    ("dafny-4.1.0/decrypt-manifest.json", 487, 487, 0),
];

#[test]
fn decrypt_manifests_reference_existing_files_and_keys() {
    let mut total = 0;
    for (rel, cases, ok, fail) in DECRYPT_SETS {
        let m = DecryptManifest::load(&path(rel)).unwrap_or_else(|e| panic!("{e:#}"));
        assert_eq!(m.tests.len(), *cases, "{rel}");
        total += m.tests.len();
        let succeed = m.tests.values().filter(|t| t.must_succeed()).count();
        assert_eq!((succeed, m.tests.len() - succeed), (*ok, *fail), "{rel}");
        assert!(
            m.keys_path.is_file(),
            "{rel}: keys {}",
            m.keys_path.display()
        );
        let keys = m.load_keys().unwrap_or_else(|e| panic!("{e:#}"));
        m.check_keys(&keys).unwrap_or_else(|e| panic!("{e:#}"));
        for t in m.tests.values() {
            assert!(t.ciphertext.is_absolute(), "{rel} {}", t.id);
            assert!(
                t.ciphertext.is_file(),
                "{rel} {}: missing {}",
                t.id,
                t.ciphertext.display()
            );
            match &t.expected {
                ExpectedResult::Plaintext(p) => {
                    assert!(p.is_file(), "{rel} {}: missing {}", t.id, p.display());
                }
                ExpectedResult::Error(d) => assert!(!d.is_empty()),
            }
            assert!(!t.key_descriptions.is_empty());
            assert!(t.keyring().unknown_types().is_empty(), "{rel} {}", t.id);
        }
    }
    assert_eq!(total, 2272);
}

#[test]
fn decrypt_manifest_versions_and_fields() {
    let py = DecryptManifest::load(&path("python-1.3.5/decrypt_message.json")).unwrap();
    assert_eq!(py.version, 1);
    assert_eq!(py.client.name, "aws/aws-encryption-sdk-python");
    assert_eq!(py.client.version, "1.3.5");
    assert_eq!(py.keys_uri, "file://keys.json");
    assert!(py.tests.values().all(|t| t.keyring().needs_aws_kms()));

    let legacy = DecryptManifest::load(&path("legacy-python-1.3.0/manifest.json")).unwrap();
    assert_eq!(legacy.version, 2);
    assert!(
        legacy
            .tests
            .values()
            .all(|t| t.description.is_some() && t.decryption_method.is_none())
    );
    let offline = legacy
        .tests
        .values()
        .filter(|t| !t.keyring().needs_aws_kms())
        .count();
    assert_eq!(offline, 900, "README: legacy offline must-decrypt");

    let net = DecryptManifest::load(&path("net-4.0.1/manifest.json")).unwrap();
    assert_eq!(net.version, 4);
    assert_eq!(
        net.client.version, "4.0.0",
        "README: manifest still says 4.0.0"
    );
    let req: Vec<_> = net
        .tests
        .values()
        .filter(|t| t.cmm == CmmType::RequiredEncryptionContext)
        .collect();
    assert_eq!(req.len(), 44);
    for t in &req {
        let ec = t.reproduced_encryption_context.as_ref().unwrap();
        assert_eq!(ec.get("key1").map(String::as_str), Some("val1"));
        assert_eq!(t.required_encryption_context_keys, ["key1", "key2"]);
    }
    assert_eq!(
        net.tests.values().filter(|t| t.needs_offline()).count(),
        99,
        "README: net-4.0.1 offline"
    );

    let dafny = DecryptManifest::load(&path("dafny-4.1.0/decrypt-manifest.json")).unwrap();
    assert_eq!(dafny.version, 5);
    assert!(
        dafny
            .tests
            .values()
            .all(|t| t.frame_size == Some(512) && t.algorithm_suite_id.is_some())
    );
    assert_eq!(
        dafny.tests.values().filter(|t| t.needs_offline()).count(),
        297,
        "README: dafny offline"
    );
    let req: Vec<_> = dafny
        .tests
        .values()
        .filter(|t| t.cmm == CmmType::RequiredEncryptionContext)
        .collect();
    assert_eq!(req.len(), 55);
    assert!(
        req.iter()
            .all(|t| !t.required_encryption_context_keys.is_empty()
                && t.reproduced_encryption_context.is_some())
    );
    let mut suites = BTreeMap::new();
    for t in dafny.tests.values() {
        *suites.entry(t.algorithm_suite_id.unwrap()).or_insert(0) += 1;
    }
    // 45 per suite; the signed 0214/0346/0378/0578 lack the two KMS-RSA cases.
    assert_eq!(
        suites,
        BTreeMap::from([
            (0x0014, 45),
            (0x0046, 45),
            (0x0078, 45),
            (0x0114, 45),
            (0x0146, 45),
            (0x0178, 45),
            (0x0214, 43),
            (0x0346, 43),
            (0x0378, 43),
            (0x0478, 45),
            (0x0578, 43),
        ])
    );

    // README 1.4: the whole net-4.0.0-invalid set must fail, nothing else.
    for (rel, ..) in DECRYPT_SETS {
        let m = DecryptManifest::load(&path(rel)).unwrap();
        assert_eq!(
            m.expected_failure_override().is_some(),
            rel.starts_with("net-4.0.0-invalid"),
            "{rel}"
        );
    }
}

trait Offline {
    fn needs_offline(&self) -> bool;
}
impl Offline for esdk_test_vectors::manifest::DecryptTest {
    fn needs_offline(&self) -> bool {
        !self.keyring().needs_aws_kms()
    }
}

/// Classifies the keyring of a case for the README section 3.4 table.
fn key_class(d: &KeyDescription) -> String {
    match d {
        KeyDescription::RawAes { .. } => "raw-aes".into(),
        KeyDescription::RawRsa { padding, .. } => format!("raw-rsa-{padding:?}"),
        KeyDescription::RawEcdh(e) => format!("raw-ecdh-{:?}-{:?}", e.schema, e.curve),
        KeyDescription::Multi {
            generator,
            children,
        } => format!(
            "multi({};{})",
            generator.as_deref().map(key_class).unwrap_or_default(),
            children.iter().map(key_class).collect::<Vec<_>>().join(",")
        ),
        KeyDescription::RequiredEncryptionContext { underlying, .. } => {
            format!("reqEC({})", key_class(underlying))
        }
        other => other.type_name().to_owned(),
    }
}

fn classes(rel: &str) -> BTreeMap<String, usize> {
    let m = DecryptManifest::load(&path(rel)).unwrap();
    let mut out = BTreeMap::new();
    for t in m.tests.values() {
        let mut c = key_class(&t.keyring());
        if t.cmm == CmmType::RequiredEncryptionContext && !c.starts_with("reqEC") {
            c = format!("reqEC({c})");
        }
        *out.entry(c).or_insert(0) += 1;
    }
    out
}

fn map(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

#[test]
fn readme_key_type_counts() {
    assert_eq!(
        classes("legacy-python-1.3.0/manifest.json"),
        map(&[
            ("aws-kms", 360),
            ("raw-aes", 360),
            ("raw-rsa-OaepSha1", 360),
            ("raw-rsa-Pkcs1", 180),
        ])
    );
    assert_eq!(
        classes("python-1.3.5/decrypt_message.json"),
        map(&[("aws-kms", 180), ("multi(aws-kms;aws-kms)", 180)])
    );
    assert_eq!(
        classes("net-4.0.1/manifest.json"),
        map(&[
            ("aws-kms", 22),
            ("reqEC(aws-kms)", 11),
            ("raw-aes", 22),
            ("reqEC(raw-aes)", 11),
            ("raw-rsa-OaepSha512", 22),
            ("reqEC(raw-rsa-OaepSha512)", 11),
            ("multi(raw-rsa-OaepSha512;raw-rsa-OaepSha256)", 22),
            ("reqEC(multi(raw-rsa-OaepSha512;raw-rsa-OaepSha256))", 11),
        ])
    );
    assert_eq!(
        classes("net-4.0.0-valid/manifest.json"),
        map(&[("reqEC(raw-aes)", 5)])
    );
    assert_eq!(
        classes("net-4.0.0-invalid/manifest.json"),
        map(&[("raw-aes", 22), ("reqEC(raw-aes)", 6)])
    );
    assert_eq!(
        classes("dafny-4.1.0/decrypt-manifest.json"),
        map(&[
            ("aws-kms", 22),
            ("aws-kms-ecdh", 66),
            ("aws-kms-hierarchy", 11),
            ("aws-kms-mrk-aware", 44),
            ("aws-kms-mrk-aware-discovery", 44),
            ("aws-kms-rsa", 14),
            ("multi(raw-aes;)", 22),
            ("multi(raw-aes;raw-aes)", 22),
            ("raw-aes", 33),
            ("reqEC(raw-aes)", 55),
            ("raw-ecdh-Discovery-P256", 22),
            ("raw-ecdh-Discovery-P384", 22),
            ("raw-ecdh-Discovery-P521", 22),
            ("raw-ecdh-Static-P256", 11),
            ("raw-ecdh-Static-P384", 11),
            ("raw-ecdh-Static-P521", 11),
            ("raw-rsa-OaepSha1", 11),
            ("raw-rsa-OaepSha256", 11),
            ("raw-rsa-OaepSha384", 11),
            ("raw-rsa-OaepSha512", 11),
            ("raw-rsa-Pkcs1", 11),
        ])
    );
}

#[test]
fn dafny_key_descriptions_are_normalized() {
    let m = DecryptManifest::load(&path("dafny-4.1.0/decrypt-manifest.json")).unwrap();
    let keys = m.load_keys().unwrap();
    let mut kms_rsa = BTreeSet::new();
    let mut ecdh_providers = BTreeSet::new();
    for t in m.tests.values() {
        match &t.key_descriptions[..] {
            [KeyDescription::KmsRsa { key, padding }] => {
                assert_eq!(key, "us-west-2-rsa-mrk");
                kms_rsa.insert(*padding);
            }
            [KeyDescription::RawEcdh(e)] => {
                assert_ne!(e.schema, EcdhSchema::Ephemeral, "decrypt-only schemas");
                assert_eq!(e.recipient_public_key, "recipient-material-public-key");
                if e.schema == EcdhSchema::Discovery {
                    assert_eq!(
                        (e.sender.as_deref(), e.sender_public_key.as_deref()),
                        (None, None)
                    );
                } else {
                    assert_eq!(e.sender, Some(e.recipient.clone()));
                }
                let spec = keys.get(&e.recipient).unwrap();
                assert_eq!(spec.ecc.as_ref().unwrap().curve, e.curve);
                ecdh_providers.insert(e.provider_id.clone().unwrap());
            }
            [KeyDescription::KmsEcdh(e)] => {
                assert_eq!(e.provider_id, None);
                assert_eq!(
                    e.curve_name, e.recipient,
                    "KMS ECDH names the curve by key entry"
                );
            }
            [KeyDescription::Hierarchy { key }] => {
                let spec = keys.get(key).unwrap();
                let bk = spec.branch_key.as_ref().unwrap();
                assert_eq!(spec.key_id, "bd3842ff-3076-4092-9918-4395730050b8");
                assert_eq!(bk.version_bytes[..4], [0xe9, 0xce, 0x18, 0xa3]);
                assert_eq!(bk.branch_key.len(), 32);
            }
            _ => {}
        }
    }
    assert_eq!(
        kms_rsa,
        BTreeSet::from([RsaPadding::OaepSha1, RsaPadding::OaepSha256])
    );
    assert_eq!(ecdh_providers.len(), 6);
}

#[test]
fn keys_manifests() {
    let java = KeysManifest::load(&path("generation/java-keys.json")).unwrap();
    assert_eq!(java.version, 3);
    assert_eq!(java.keys.len(), 31);
    assert_eq!(java.count_of(&KeyType::AwsKms), 26);
    let malformed = java
        .keys
        .values()
        .filter(|k| k.key_type == KeyType::AwsKms && !k.encrypt && !k.decrypt)
        .count();
    assert_eq!(malformed, 22, "README: 22 deliberately malformed KMS ARNs");

    // v1: array material joined with line-separator, key-id = entry name.
    let v1 = KeysManifest::load(&path("python-1.3.5/keys.json")).unwrap();
    assert_eq!(v1.version, 1);
    let aes = v1.get("aes-128").unwrap();
    assert_eq!(aes.key_id, "aes-128");
    assert_eq!(
        aes.aes_key_bytes().unwrap(),
        (0..16).map(|i| (i / 10) * 16 + i % 10).collect::<Vec<u8>>()
    );
    let pem = v1.get("rsa-4096-private").unwrap().pem().unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
    assert!(pem.ends_with("\n-----END PRIVATE KEY-----"));
    assert!(!v1.get("rsa-4096-public").unwrap().decrypt);
    assert!(v1.get("aes-128").unwrap().pem().is_err());
    assert!(v1.get("rsa-4096-private").unwrap().aes_key_bytes().is_err());

    // The same keys in v1 (array) and v3 (string) shape.
    let c1 = KeysManifest::load(&path("generation/framework-canonical/0002-keys.v1.json")).unwrap();
    let c3 = KeysManifest::load(&path("generation/framework-canonical/0002-keys.v3.json")).unwrap();
    for (name, k1) in &c1.keys {
        let k3 = c3.get(name).unwrap();
        assert_eq!(k1.material, k3.material, "{name}");
        assert_eq!(k1.key_type, k3.key_type, "{name}");
    }
    assert_eq!(c3.get("rsa-4096-public").unwrap().key_id, "rsa-4096-public");

    // MPL keys (labelled v2).
    let mpl = KeysManifest::load(&path("dafny-4.1.0/keys.json")).unwrap();
    assert_eq!(mpl.version, 2);
    let counts: BTreeMap<&str, usize> = mpl.keys.values().fold(BTreeMap::new(), |mut m, k| {
        *m.entry(k.key_type.as_str()).or_insert(0) += 1;
        m
    });
    assert_eq!(
        counts,
        BTreeMap::from([
            ("aws-kms", 4),
            ("aws-kms-ecdh", 3),
            ("aws-kms-rsa", 1),
            ("ecc-private", 3),
            ("private", 1),
            ("public", 1),
            ("static-branch-key", 1),
            ("static-material", 3),
            ("symmetric", 3),
        ])
    );
    let sm = mpl.get("static-plaintext-data-key").unwrap();
    let mat = sm.static_material.as_ref().unwrap();
    assert_eq!(sm.key_id, "static-plaintext-data-key");
    assert_eq!(mat.algorithm_suite_id, 0x0014);
    assert_eq!(mat.plaintext_data_key.as_deref(), Some(&[1u8; 16][..]));
    assert_eq!(
        mat.encrypted_data_keys[0].provider_info,
        b"static-plaintext"
    );
    assert!(
        mpl.get("no-plaintext-data-key")
            .unwrap()
            .static_material
            .as_ref()
            .unwrap()
            .plaintext_data_key
            .is_none()
    );
    for (name, curve) in [
        ("ecc-256-private", EccCurve::P256),
        ("ecc-384-private", EccCurve::P384),
        ("ecc-521-private", EccCurve::P521),
        ("us-west-2-384-ecc", EccCurve::P384),
    ] {
        let ecc = mpl.get(name).unwrap().ecc.as_ref().unwrap();
        assert_eq!(ecc.curve, curve, "{name}");
        assert!(!ecc.sender_public_key.is_empty());
    }
    assert!(mpl.get("us-west-2-256-ecc").unwrap().needs_aws_kms());
    assert!(!mpl.get("ecc-256-private").unwrap().needs_aws_kms());

    // generation/dafny-esdk/keys.json = dafny-4.1.0 keys + one non-ASCII-named AES key.
    let gen_keys = KeysManifest::load(&path("generation/dafny-esdk/keys.json")).unwrap();
    let extra: Vec<_> = gen_keys
        .keys
        .keys()
        .filter(|k| !mpl.keys.contains_key(*k))
        .collect();
    assert_eq!(extra.len(), 1);
    assert!(extra[0].contains("nonascii"));

    let net = KeysManifest::load(&path("net-4.0.1/keys.json")).unwrap();
    assert_eq!(
        net.get("rsa-4096-public").unwrap().key_id,
        "rsa-4096-public"
    );
    assert_eq!(
        net.get("aes-256").unwrap().aes_key_bytes().unwrap().len(),
        32
    );
}

#[test]
fn encrypt_manifests() {
    let v1 = EncryptManifest::load(&path(
        "generation/framework-canonical/0003-awses-message-encryption.v1.json",
    ))
    .unwrap();
    assert_eq!(v1.version, 1);
    assert_eq!(v1.plaintexts, BTreeMap::from([("small".to_owned(), 10240)]));
    assert!(v1.tests.values().all(|s| {
        s.encrypt_key_descriptions
            .iter()
            .all(KeyDescription::needs_aws_kms)
    }));
    v1.check_keys(&v1.load_keys().unwrap()).unwrap();

    let v2 = EncryptManifest::load(&path(
        "generation/framework-canonical/0003-awses-message-encryption.v2.json",
    ))
    .unwrap();
    assert_eq!(v2.tests.len(), 3300);
    let kms = v2
        .tests
        .values()
        .filter(|s| {
            KeyDescription::combine(&s.encrypt_key_descriptions)
                .unwrap()
                .needs_aws_kms()
        })
        .count();
    assert_eq!((3300 - kms, kms), (2860, 440), "README: 2,860 raw, 440 KMS");
    let non_framed = v2.tests.values().filter(|s| s.frame_size == 0).count();
    assert!(non_framed > 0);
    let suites: BTreeSet<u16> = v2.tests.values().map(|s| s.algorithm_suite_id).collect();
    assert_eq!(suites.len(), 11);
    v2.check_keys(&v2.load_keys().unwrap()).unwrap();

    for (rel, count) in [
        ("generation/dafny-esdk/encrypt-manifest.json", 509),
        ("dafny-4.1.0/encrypt-manifest.json", 487),
    ] {
        let m = EncryptManifest::load(&path(rel)).unwrap();
        assert_eq!((m.version, m.tests.len()), (5, count), "{rel}");
        assert_eq!(m.client.as_ref().unwrap().name, "aws-encryption-sdk-dafny");
        m.check_keys(&m.load_keys().unwrap())
            .unwrap_or_else(|e| panic!("{e:#}"));
        for s in m.tests.values() {
            assert_eq!((s.plaintext.as_str(), s.plaintext_size), ("small", 10240));
            assert_eq!(s.encrypt_key_descriptions.len(), 1);
            assert_eq!(s.decrypt_key_descriptions.as_ref().map(Vec::len), Some(1));
            assert!(s.reproduced_encryption_context.is_some());
            assert_eq!(
                s.cmm == CmmType::RequiredEncryptionContext,
                !s.required_encryption_context_keys.is_empty()
            );
        }
        // Ephemeral ECDH is encrypt-only.
        let eph = m
            .tests
            .values()
            .filter(|s| {
                matches!(&s.encrypt_key_descriptions[0], KeyDescription::RawEcdh(e) if e.schema == EcdhSchema::Ephemeral)
            })
            .count();
        assert!(eph > 0, "{rel}");
    }

    // The decrypt manifest of dafny-4.1.0 was written from its encrypt manifest.
    let enc = EncryptManifest::load(&path("dafny-4.1.0/encrypt-manifest.json")).unwrap();
    let dec = DecryptManifest::load(&path("dafny-4.1.0/decrypt-manifest.json")).unwrap();
    assert_eq!(
        enc.tests.keys().collect::<Vec<_>>(),
        dec.tests.keys().collect::<Vec<_>>()
    );
    for (id, s) in &enc.tests {
        let t = &dec.tests[id];
        assert_eq!(Some(s.algorithm_suite_id), t.algorithm_suite_id, "{id}");
        assert_eq!(
            s.decrypt_key_descriptions.as_ref(),
            Some(&t.key_descriptions),
            "{id}"
        );
        assert_eq!(
            s.reproduced_encryption_context, t.reproduced_encryption_context,
            "{id}"
        );
    }
}

#[test]
fn decrypt_generate_manifests() {
    let v1 = DecryptGenerateManifest::load(&path(
        "generation/framework-canonical/0006-awses-message-decryption-generation.v1.json",
    ))
    .unwrap();
    assert_eq!((v1.version, v1.tests.len()), (1, 3301));
    assert_eq!(v1.tests.values().filter(|t| t.must_fail()).count(), 1);
    v1.check_keys(&v1.load_keys().unwrap()).unwrap();

    let v2 = DecryptGenerateManifest::load(&path(
        "generation/framework-canonical/0006-awses-message-decryption-generation.v2.json",
    ))
    .unwrap();
    assert_eq!((v2.version, v2.tests.len()), (2, 3306));
    assert_eq!(
        v2.plaintexts,
        BTreeMap::from([("tiny".to_owned(), 10), ("small".to_owned(), 10240)])
    );
    let mut tamper = BTreeMap::new();
    for t in v2.tests.values() {
        if let Some(x) = &t.tampering {
            let name = match x {
                Tampering::Truncate => "truncate",
                Tampering::Mutate => "mutate",
                Tampering::HalfSign => "half-sign",
                Tampering::ChangeEdkProviderInfo(v) => {
                    assert_eq!(v.len(), 1);
                    assert!(t.decryption_key_descriptions.is_some());
                    "change-edk-provider-info"
                }
                Tampering::Other(o) => panic!("unexpected tampering {o}"),
            };
            *tamper.entry(name).or_insert(0) += 1;
        }
    }
    assert_eq!(
        tamper,
        BTreeMap::from([
            ("change-edk-provider-info", 1),
            ("half-sign", 1),
            ("mutate", 1),
            ("truncate", 1)
        ])
    );
    let streaming = v2
        .tests
        .values()
        .filter(|t| t.decryption_method == Some(DecryptionMethod::StreamingUnsignedOnly))
        .count();
    assert_eq!(streaming, 2);
    assert_eq!(v2.tests.values().filter(|t| t.must_fail()).count(), 5);
    v2.check_keys(&v2.load_keys().unwrap()).unwrap();
}

#[test]
fn commitment_kats() {
    let kats = CommitmentKats::load(&path("kat/commitment-test-vectors.json")).unwrap();
    assert_eq!(kats.tests.len(), 46);
    assert_eq!(kats.date, "2020-09-18");
    let ok = kats.tests.iter().filter(|t| t.must_decrypt).count();
    assert_eq!((ok, 46 - ok), (41, 5));
    let with_cek: Vec<_> = kats
        .tests
        .iter()
        .filter(|t| t.derived_key.is_some())
        .collect();
    assert_eq!(with_cek.len(), 21);
    assert_eq!(with_cek.iter().filter(|t| t.must_decrypt).count(), 16);
    assert_eq!(
        kats.tests
            .iter()
            .filter(|t| t.keyring_type == KatKeyringType::Static)
            .count(),
        2
    );
    for t in &kats.tests {
        assert!(
            t.comment.starts_with(&format!("{}.", t.index + 1)),
            "{}",
            t.comment
        );
        assert_eq!(t.plaintext_data_key.len(), 32);
        assert_eq!(t.commit_key.len(), 32);
        assert!(t.ciphertext.starts_with(&t.header));
        assert_eq!(t.expected_plaintext().is_some(), t.must_decrypt);
        assert!(t.must_decrypt || t.exception.as_deref() == Some("EXCEPTION: Invalid commitment"));
        let suite = u16::from_be_bytes([t.ciphertext[1], t.ciphertext[2]]);
        assert!(suite == 0x0478 || suite == 0x0578);
    }
    // The header stores the pairs unsorted in the hand-made cases 15, 17, 19, 21.
    let unsorted: Vec<usize> = kats
        .tests
        .iter()
        .filter(|t| !t.header_encryption_context_sorted())
        .map(|t| t.index + 1)
        .collect();
    assert_eq!(unsorted, [15, 17, 19, 21]);
    assert_eq!(kats.tests[14].header_encryption_context_bytes().len(), 151);
    assert!(kats.tests[0].header_encryption_context_bytes().is_empty());
    let first = &kats.tests[0];
    assert_eq!(first.expected_plaintext(), Some(&b"GoodCommitment"[..]));
    // README: case 1 is byte-identical to the C SDK's ct_good_commitment.bin.
    let c = std::fs::read(path("kat/c-sdk-data/ct_good_commitment.bin")).unwrap();
    assert_eq!(first.ciphertext, c);
    // Case 27's header carries a leading space in the file.
    assert_eq!(kats.tests[26].header[0], 0x02);
}

#[test]
fn oracle_vectors() {
    let v = load_oracle_vectors(&path("kat/python-decrypt-oracle-vectors.json")).unwrap();
    assert_eq!(v.len(), 27);
    let mut by_type: BTreeMap<String, usize> = BTreeMap::new();
    for x in &v {
        *by_type.entry(format!("{:?}", x.key_type)).or_insert(0) += 1;
        assert!(!x.plaintext.is_empty());
    }
    assert_eq!(
        by_type,
        map(&[("AwsKms", 9), ("Null", 9), ("TestCounting", 9)])
    );
    assert_eq!(
        v.iter()
            .filter(|x| x.key_type.data_key(32).is_some())
            .count(),
        18
    );
    assert_eq!(
        OracleKeyType::TestCounting.data_key(4),
        Some(vec![1, 2, 3, 4])
    );
    assert_eq!(OracleKeyType::Null.data_key(2), Some(vec![0, 0]));
    assert_eq!(OracleKeyType::AwsKms.data_key(16), None);
}

#[test]
fn c_sdk_data_pairs() {
    let v = list_c_sdk_data(&path("kat/c-sdk-data")).unwrap();
    let summary: BTreeMap<&str, (Option<String>, bool, bool)> = v
        .iter()
        .map(|x| {
            let pt = match &x.expected {
                CSdkExpected::Plaintext(p) => {
                    assert!(p.is_file());
                    Some(p.file_name().unwrap().to_string_lossy().into_owned())
                }
                CSdkExpected::Failure(_) => None,
            };
            let raw = matches!(x.key, CSdkKey::RawAesZeroKey { .. });
            (x.name.as_str(), (pt, raw, x.decoy_plaintext.is_some()))
        })
        .collect();
    let s = |x: &str| Some(x.to_owned());
    assert_eq!(
        summary,
        BTreeMap::from([
            ("ct_bad_commitment.bin", (None, true, true)),
            (
                "ct_good_commitment.bin",
                (s("good_commitment.pt"), true, false)
            ),
            (
                "ct_x_aes128_hkdf.bin",
                (s("pt_x_aes128_hkdf.bin"), false, false)
            ),
            ("ct_x_aes128_hkdf_bad_header.bin", (None, false, false)),
            ("hello.bin", (s("hello.bin.pt"), false, false)),
            ("hello.tinyframes.bin", (s("hello.bin.pt"), false, false)),
        ])
    );
}

#[test]
fn legacy_manifests_agree_with_the_derived_manifest() {
    let ct =
        LegacyCiphertextManifest::load(&path("legacy-python-1.3.0/manifests/ciphertext.manifest"))
            .unwrap();
    assert_eq!(ct.cases.len(), 1260);
    assert_eq!(
        ct.aes_keys.keys().copied().collect::<Vec<_>>(),
        [128, 192, 256]
    );
    assert_eq!(ct.rsa_keys.keys().copied().collect::<Vec<_>>(), [2048]);
    assert!(ct.test_case_manifest.is_file());

    let derived = DecryptManifest::load(&path("legacy-python-1.3.0/manifest.json")).unwrap();
    let keys = derived.load_keys().unwrap();
    let by_ct: BTreeMap<&PathBuf, &esdk_test_vectors::manifest::DecryptTest> =
        derived.tests.values().map(|t| (&t.ciphertext, t)).collect();
    assert_eq!(by_ct.len(), 1260);
    for c in &ct.cases {
        assert!(c.plaintext.is_file() && c.ciphertext.is_file());
        let t = by_ct
            .get(&c.ciphertext)
            .unwrap_or_else(|| panic!("{} not in manifest.json", c.ciphertext.display()));
        let decryptable: Vec<_> = c.master_keys.iter().filter(|k| k.decryptable).collect();
        assert_eq!(decryptable.len(), 1);
        let mk = decryptable[0];
        match &t.key_descriptions[..] {
            [KeyDescription::RawAes { key, provider_id }] => {
                assert_eq!(provider_id, "static-aws-xcompat");
                assert_eq!(Some(key.clone()), mk.raw_key_name(c.algorithm_suite_id));
                let bits = u32::try_from(keys.get(key).unwrap().aes_key_bytes().unwrap().len() * 8)
                    .unwrap();
                assert_eq!(
                    keys.get(key).unwrap().aes_key_bytes().unwrap(),
                    ct.aes_keys[&bits]
                );
            }
            [KeyDescription::RawRsa { key, padding, .. }] => {
                assert_eq!(Some(key.clone()), mk.raw_key_name(c.algorithm_suite_id));
                assert_eq!(Some(*padding), mk.padding);
                assert_eq!(keys.get(key).unwrap().pem().unwrap(), ct.rsa_keys[&2048]);
            }
            [KeyDescription::Kms { key }] => {
                assert_eq!(mk.provider_id, "aws-kms");
                assert_eq!(keys.get(key).unwrap().key_id, mk.key_id.clone().unwrap());
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    let tc =
        LegacyTestCaseManifest::load(&path("legacy-python-1.3.0/manifests/test_case.manifest"))
            .unwrap();
    assert_eq!(tc.scenarios.len(), 1440);
    assert_eq!(tc.plaintexts, BTreeMap::from([("small".to_owned(), 10240)]));
    assert_eq!(tc.scenarios.iter().filter(|s| !s.framed).count(), 288);

    let res = LegacyResultsManifest::load(&path("legacy-python-1.3.0/manifests/results.manifest"))
        .unwrap();
    let failed: Vec<_> = res
        .results
        .iter()
        .filter(|r| matches!(r.status, LegacyStatus::Fail { .. }))
        .collect();
    assert_eq!((res.results.len(), failed.len()), (1440, 180));
    // The failures are the OAEP-SHA-256 scenarios python 1.3.0 could not run.
    assert!(failed.iter().all(|r| {
        r.scenario
            .master_keys
            .iter()
            .any(|k| k.padding == Some(RsaPadding::OaepSha256))
    }));
    assert_eq!(res.ciphertext_manifest, ct.path.canonicalize().unwrap());
}

#[test]
fn mpl_keyring_manifest() {
    let m = MplKeyringManifest::load(&path("generation/mpl/test.json")).unwrap();
    assert_eq!(m.tests.len(), 1075);
    let count = |ty: MplTestType| m.tests.values().filter(|t| t.test_type == ty).count();
    assert_eq!(count(MplTestType::PositiveKeyring), 1012);
    assert_eq!(count(MplTestType::NegativeEncryptKeyring), 4);
    assert_eq!(count(MplTestType::NegativeDecryptKeyring), 59);
    assert!(m.tests.values().any(|t| t.algorithm_suite_id == 0x6701));
    let caching = m
        .tests
        .values()
        .filter(|t| {
            matches!(
                t.encrypt_key_description,
                Some(KeyDescription::Caching { .. })
            )
        })
        .count();
    assert!(caching > 0);
    let keys = KeysManifest::load(&path("generation/dafny-esdk/keys.json")).unwrap();
    m.check_keys(&keys).unwrap_or_else(|e| panic!("{e:#}"));
}

#[test]
fn index_json_agrees_with_the_manifests() {
    let text = std::fs::read_to_string(path("index.json")).unwrap();
    let index: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rows = index["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2351, "README: catalogued cases");
    let mut expected_by_ct = BTreeMap::new();
    for r in rows {
        expected_by_ct.insert(
            r["ciphertext"].as_str().unwrap().to_owned(),
            r["expected"].as_str().unwrap().to_owned(),
        );
    }
    let root = vectors().canonicalize().unwrap();
    for (rel, ..) in DECRYPT_SETS {
        let m = DecryptManifest::load(&path(rel)).unwrap();
        for t in m.tests.values() {
            let key = t
                .ciphertext
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            let want = expected_by_ct
                .get(&key)
                .unwrap_or_else(|| panic!("{key} not in index.json"));
            let got = if t.must_succeed() && m.expected_failure_override().is_none() {
                "success"
            } else {
                "error"
            };
            assert_eq!(got, want, "{key}");
        }
    }
}

// ---- The parsers reject what they must, naming the file and the field ----

struct TempDir(PathBuf);
impl TempDir {
    fn new(tag: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("manifest-parse-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn err_of<T: core::fmt::Debug>(r: anyhow::Result<T>) -> String {
    format!("{:#}", r.expect_err("must be rejected"))
}

const KEYS_HEAD: &str = r#"{"manifest": {"type": "keys", "version": 3}, "keys": "#;

#[test]
fn keys_parser_rejects_bad_input() {
    let e = err_of(KeysManifest::parse_str(
        &format!(
            r#"{KEYS_HEAD}{{"k": {{"type": "symmetric", "key-id": "k", "encrypt": true, "decrypt": true, "algorithm": "aes", "bits": 256, "encoding": "base64", "material": "AAECAwQFBgcICRAREhMUFQ=="}}}}}}"#
        ),
        "short.json",
    ));
    assert!(
        e.contains("short.json") && e.contains("keys[\"k\"]") && e.contains("16 bytes"),
        "{e}"
    );

    let e = err_of(KeysManifest::parse_str(
        &format!(
            r#"{KEYS_HEAD}{{"k": {{"type": "symmetric", "algorithm": "aes", "bits": 128, "encoding": "base64", "material": "AAECAwQFBgcICRAREhMUFQ=="}}}}}}"#
        ),
        "noid.json",
    ));
    assert!(e.contains("key-id"), "{e}");

    let e = err_of(KeysManifest::parse_str(
        &format!(
            r#"{KEYS_HEAD}{{"k": {{"type": "aws-kms", "key-id": "arn", "materail": "x"}}}}}}"#
        ),
        "typo.json",
    ));
    assert!(e.contains("unexpected field \"materail\""), "{e}");

    let e = err_of(KeysManifest::parse_str(
        r#"{"manifest": {"type": "keys", "version": 3}, "keys": {"a": {"type": "aws-kms", "key-id": "x"}, "a": {"type": "aws-kms", "key-id": "y"}}}"#,
        "dup.json",
    ));
    assert!(e.contains("duplicate") && e.contains("dup.json"), "{e}");

    let e = err_of(KeysManifest::parse_str(
        r#"{"manifest": {"type": "keys", "version": 9}, "keys": {}}"#,
        "v9.json",
    ));
    assert!(e.contains("version 9"), "{e}");

    // Unknown key types are kept, not rejected.
    let k = KeysManifest::parse_str(
        &format!(r#"{KEYS_HEAD}{{"q": {{"type": "quantum", "whatever": 1}}}}}}"#),
        "other.json",
    )
    .unwrap();
    assert_eq!(
        k.get("q").unwrap().key_type,
        KeyType::Other("quantum".into())
    );
}

#[test]
fn decrypt_parser_rejects_bad_input_and_resolves_uris() {
    let dir = TempDir::new("decrypt");
    let head = r#"{"manifest": {"type": "awses-decrypt", "version": 3}, "client": {"name": "t", "version": "1"}, "keys": "file://keys.json", "tests": "#;
    let good = dir.write(
        "good.json",
        &format!(
            r#"{head}{{"a": {{"ciphertext": "file://ct/a%20b", "master-keys": [{{"type": "raw", "key": "rsa", "provider-id": "p", "encryption-algorithm": "rsa", "padding-algorithm": "OAEP-MGF1", "padding-hash": "SHA-384"}}, {{"type": "aws-kms-brand-new"}}], "result": {{"error": {{"error-description": "bad"}}}}, "decryption-method": "streaming-unsigned-only"}}}}}}"#
        ),
    );
    let m = DecryptManifest::load(&good).unwrap();
    let t = &m.tests["a"];
    let base = dir.0.canonicalize().unwrap();
    assert_eq!(t.ciphertext, base.join("ct/a b"));
    assert_eq!(m.keys_path, base.join("keys.json"));
    assert_eq!(t.expected, ExpectedResult::Error("bad".into()));
    assert_eq!(
        t.decryption_method,
        Some(DecryptionMethod::StreamingUnsignedOnly)
    );
    match t.keyring() {
        KeyDescription::Multi {
            generator,
            children,
        } => {
            assert!(matches!(
                generator.as_deref(),
                Some(KeyDescription::RawRsa {
                    padding: RsaPadding::OaepSha384,
                    ..
                })
            ));
            assert_eq!(
                children,
                [KeyDescription::Other("aws-kms-brand-new".into())]
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(t.keyring().unknown_types(), ["aws-kms-brand-new"]);

    let cases = [
        // both output and error
        (
            r#"{"a": {"ciphertext": "file://c", "master-keys": [{"type": "aws-kms", "key": "k"}], "result": {"output": {"plaintext": "file://p"}, "error": {"error-description": "x"}}}}"#,
            "exactly one",
        ),
        // OAEP without a hash
        (
            r#"{"a": {"ciphertext": "file://c", "master-keys": [{"type": "raw", "key": "k", "provider-id": "p", "encryption-algorithm": "rsa", "padding-algorithm": "oaep-mgf1"}], "result": {"output": {"plaintext": "file://p"}}}}"#,
            "tests[\"a\"].master-keys[0].padding-algorithm",
        ),
        // not a file URI
        (
            r#"{"a": {"ciphertext": "https://example.invalid/c", "master-keys": [{"type": "aws-kms", "key": "k"}], "result": {"output": {"plaintext": "file://p"}}}}"#,
            "not a file:// URI",
        ),
        // v4 field in a v3 manifest
        (
            r#"{"a": {"ciphertext": "file://c", "cmm": "Default", "master-keys": [{"type": "aws-kms", "key": "k"}], "result": {"output": {"plaintext": "file://p"}}}}"#,
            "unexpected field \"cmm\"",
        ),
        // empty master-key list
        (
            r#"{"a": {"ciphertext": "file://c", "master-keys": [], "result": {"output": {"plaintext": "file://p"}}}}"#,
            "master-key list is empty",
        ),
    ];
    for (i, (tests, needle)) in cases.iter().enumerate() {
        let p = dir.write(&format!("bad{i}.json"), &format!("{head}{tests}}}"));
        let e = err_of(DecryptManifest::load(&p));
        assert!(e.contains(needle), "case {i}: {e}");
        assert!(
            e.contains(&format!("bad{i}.json")),
            "case {i} names the file: {e}"
        );
    }

    // load_any refuses unknown manifest types.
    let p = dir.write(
        "odd.json",
        r#"{"manifest": {"type": "awses-frobnicate", "version": 1}}"#,
    );
    assert!(err_of(load_any(&p)).contains("unknown manifest type"));
    let p = dir.write("plain.json", r#"{"hello": 1}"#);
    assert!(load_any(&p).is_err());
    assert!(matches!(
        load_any(&path("net-4.0.1/manifest.json")).unwrap(),
        AnyManifest::Decrypt(_)
    ));
}

#[test]
fn uri_and_padding_helpers() {
    let base = Path::new("/m");
    assert_eq!(
        resolve_file_uri(base, "file://plaintexts/small").unwrap(),
        PathBuf::from("/m/plaintexts/small")
    );
    assert_eq!(
        resolve_file_uri(base, "file:///abs/x").unwrap(),
        PathBuf::from("/abs/x")
    );
    assert!(resolve_file_uri(base, "file://").is_err());
    assert!(resolve_file_uri(base, "file://a%zz").is_err());
    assert_eq!(
        RsaPadding::from_manifest("pkcs1", Some("sha1")),
        Ok(RsaPadding::Pkcs1)
    );
    assert_eq!(
        RsaPadding::from_manifest("PKCS1", None),
        Ok(RsaPadding::Pkcs1)
    );
    assert_eq!(
        RsaPadding::from_manifest("OAEP-MGF1", Some("SHA-1")),
        Ok(RsaPadding::OaepSha1)
    );
    assert_eq!(
        RsaPadding::from_manifest("oaep-mgf1", Some("sha512")),
        Ok(RsaPadding::OaepSha512)
    );
    assert!(RsaPadding::from_manifest("oaep-mgf1", Some("md5")).is_err());
    assert_eq!(
        RsaPadding::from_kms_algorithm("RSAES_OAEP_SHA_256"),
        Ok(RsaPadding::OaepSha256)
    );
    assert_eq!(
        EccCurve::from_name("us-west-2-521-ecc"),
        Some(EccCurve::P521)
    );
    assert_eq!(EccCurve::from_name("ecc-256-384"), None);
}
