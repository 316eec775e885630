//! Turns every decryptable input format into [`VectorSet`]s: `awses-decrypt`
//! manifests v1–v5, the legacy python 1.3.0 `ciphertext.manifest`, the
//! commitment known-answer tests, the python decrypt-oracle vectors and the C
//! SDK data directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, anyhow};

use crate::keyrings::{FixedKey, KeyringPlan, MaterialsPlan, PlanError, Purpose, plan_materials};
use crate::manifest::{
    AnyManifest, CSdkExpected, CSdkKey, CommitmentKats, DecryptManifest, DecryptionMethod,
    ExpectedResult, KatKeyringType, LegacyCiphertextManifest, LegacyWrapAlgorithm, OracleKeyType,
    OracleVector, list_c_sdk_data, load_any,
};
use crate::runner::{Data, Expect, Materials, ReleaseRule, Vector, VectorSet};

fn materials_of(r: Result<MaterialsPlan, PlanError>) -> Materials {
    match r {
        Ok(p) => Materials::Ready(p),
        Err(PlanError::Unsupported(reason)) => Materials::Skip(reason),
        Err(PlanError::Invalid(e)) => Materials::Broken(format!("{e:#}")),
    }
}

/// Loads whatever `path` is: a decrypt manifest, a directory holding one
/// (`manifest.json`, `decrypt_message.json` or `decrypt-manifest.json`), the
/// C SDK data directory, the commitment KAT file, the decrypt-oracle file, or
/// a legacy `ciphertext.manifest`.
pub fn load_vectors(path: &Path) -> anyhow::Result<VectorSet> {
    if path.is_dir() {
        for name in [
            "manifest.json",
            "decrypt_message.json",
            "decrypt-manifest.json",
        ] {
            let p = path.join(name);
            if p.is_file() {
                return load_vectors(&p);
            }
        }
        return c_sdk_set(path);
    }
    let label = path.display().to_string();
    let any = load_any(path)?;
    let kind = any.kind();
    match any {
        AnyManifest::Decrypt(m) => decrypt_manifest_set(&m, label),
        AnyManifest::CommitmentKats(k) => Ok(commitment_kat_set(&k, label)),
        AnyManifest::DecryptOracle(v) => Ok(oracle_set(&v, label)),
        AnyManifest::LegacyCiphertext(m) => Ok(legacy_set(&m, label)),
        _ => Err(anyhow!(
            "{label} is a {kind} file, which holds no messages to decrypt \
             (encrypt manifests: `esdk-test-vectors encrypt`; decrypt-generate manifests: \
             `esdk-test-vectors decrypt-generate`)"
        )),
    }
}

/// The vectors of an `awses-decrypt` manifest.
pub fn decrypt_manifest_set(m: &DecryptManifest, label: String) -> anyhow::Result<VectorSet> {
    let keys = m.load_keys()?;
    let override_failure = m.expected_failure_override();
    let mut vectors = Vec::new();
    for t in m.tests.values() {
        let mut materials = materials_of(plan_materials(
            &keys,
            &t.key_descriptions,
            &t.required_encryption_context_keys,
            Purpose::Decrypt,
        ));
        let unsigned_only = match &t.decryption_method {
            None => false,
            Some(DecryptionMethod::StreamingUnsignedOnly) => true,
            Some(DecryptionMethod::Other(s)) => {
                materials = Materials::Skip(format!("decryption-method {s:?} is not supported"));
                false
            }
        };
        let expect = match (override_failure, &t.expected) {
            (Some(reason), _) => Expect::Failure {
                reason: reason.to_owned(),
                release: ReleaseRule::Nothing,
            },
            (None, ExpectedResult::Plaintext(p)) => Expect::Plaintext {
                plaintext: Data::File(p.clone()),
                ec: t.reproduced_encryption_context.clone().unwrap_or_default(),
            },
            (None, ExpectedResult::Error(d)) => Expect::Failure {
                reason: d.clone(),
                release: ReleaseRule::VerifiedFrames,
            },
        };
        vectors.push(Vector {
            id: t.id.clone(),
            ciphertext: Data::File(t.ciphertext.clone()),
            materials,
            reproduced_ec: t.reproduced_encryption_context.clone(),
            unsigned_only,
            expect,
            tags: format!(
                "{} {} {:?} {:?}",
                t.id,
                t.description.as_deref().unwrap_or(""),
                t.key_descriptions,
                t.cmm
            ),
        });
    }
    Ok(VectorSet {
        label,
        kind: format!(
            "awses-decrypt v{}, written by {} {}",
            m.version, m.client.name, m.client.version
        ),
        vectors,
    })
}

/// The commitment KATs: `static` cases use the raw AES-256 keyring they were
/// made with (all-zero wrapping key, namespace `ProviderName`, key name
/// `KeyId`); `aws-kms` cases get their `decrypted-dek` injected by a test-only
/// keyring that answers the `aws-kms` EDK.
pub fn commitment_kat_set(k: &CommitmentKats, label: String) -> VectorSet {
    let vectors = k
        .tests
        .iter()
        .map(|t| {
            let keyring = match &t.keyring_type {
                KatKeyringType::Static => Ok(KeyringPlan::RawAes {
                    namespace: "ProviderName".into(),
                    name: "KeyId".into(),
                    key: vec![0; 32],
                }),
                KatKeyringType::AwsKms => Ok(KeyringPlan::FixedDataKey {
                    provider_id: "aws-kms".into(),
                    key: FixedKey::Bytes(t.plaintext_data_key.clone()),
                }),
                KatKeyringType::Other(o) => Err(format!("unknown keyring-type {o:?}")),
            };
            let materials = match keyring {
                Ok(k) => Materials::Ready(MaterialsPlan::default_cmm(k)),
                Err(r) => Materials::Skip(r),
            };
            let expect = match t.expected_plaintext() {
                Some(p) => Expect::Plaintext {
                    plaintext: Data::Bytes(Arc::new(p.to_vec())),
                    ec: t.encryption_context.clone(),
                },
                None => Expect::Failure {
                    reason: t.exception.clone().unwrap_or_default(),
                    release: ReleaseRule::Nothing,
                },
            };
            let number = t.comment.split('.').next().unwrap_or("").trim();
            Vector {
                id: format!("kat-{number:0>2}"),
                ciphertext: Data::Bytes(Arc::new(t.ciphertext.clone())),
                materials,
                reproduced_ec: None,
                unsigned_only: false,
                expect,
                tags: format!("kat-{number:0>2} {} {:?}", t.comment, t.keyring_type),
            }
        })
        .collect();
    VectorSet {
        label,
        kind: "commitment KATs".into(),
        vectors,
    }
}

/// The python decrypt-oracle vectors (`null` → all-zero data key,
/// `test_counting` → `01 02 03 …`, `aws-kms` → skipped).
pub fn oracle_set(list: &[OracleVector], label: String) -> VectorSet {
    let vectors = list
        .iter()
        .map(|o| {
            let materials = match &o.key_type {
                OracleKeyType::Null => {
                    Materials::Ready(MaterialsPlan::default_cmm(KeyringPlan::FixedDataKey {
                        provider_id: "null".into(),
                        key: FixedKey::Zeros,
                    }))
                }
                OracleKeyType::TestCounting => {
                    Materials::Ready(MaterialsPlan::default_cmm(KeyringPlan::FixedDataKey {
                        provider_id: "test_counting".into(),
                        key: FixedKey::Counting,
                    }))
                }
                OracleKeyType::AwsKms => Materials::Skip("needs AWS KMS (aws-kms EDK)".into()),
                OracleKeyType::Other(t) => Materials::Skip(format!("unknown key-type {t:?}")),
            };
            let id = format!("oracle-{:02}-{:04X}", o.index + 1, o.algorithm_suite_id);
            Vector {
                tags: format!("{id} {:?}", o.key_type),
                id,
                ciphertext: Data::Bytes(Arc::new(o.ciphertext.clone())),
                materials,
                reproduced_ec: None,
                unsigned_only: false,
                expect: Expect::Plaintext {
                    plaintext: Data::Bytes(Arc::new(o.plaintext.clone())),
                    ec: BTreeMap::new(),
                },
            }
        })
        .collect();
    VectorSet {
        label,
        kind: "decrypt-oracle vectors".into(),
        vectors,
    }
}

/// The C SDK's loose files.
pub fn c_sdk_set(dir: &Path) -> anyhow::Result<VectorSet> {
    let list = list_c_sdk_data(dir).with_context(|| {
        format!(
            "{} has no manifest.json / decrypt_message.json / decrypt-manifest.json and is not a C SDK data directory",
            dir.display()
        )
    })?;
    let vectors = list
        .into_iter()
        .map(|c| {
            let keyring = match &c.key {
                CSdkKey::ZeroDataKey => KeyringPlan::FixedDataKey {
                    provider_id: "zero-key".into(),
                    key: FixedKey::Zeros,
                },
                CSdkKey::RawAesZeroKey {
                    provider_id,
                    key_name,
                    bits,
                } => KeyringPlan::RawAes {
                    namespace: provider_id.clone(),
                    name: key_name.clone(),
                    key: vec![0; *bits as usize / 8],
                },
            };
            let expect = match &c.expected {
                CSdkExpected::Plaintext(p) => Expect::Plaintext {
                    plaintext: Data::File(p.clone()),
                    ec: BTreeMap::new(),
                },
                CSdkExpected::Failure(r) => Expect::Failure {
                    reason: r.clone(),
                    release: ReleaseRule::Nothing,
                },
            };
            let provider = match &c.key {
                CSdkKey::ZeroDataKey => "zero-key",
                CSdkKey::RawAesZeroKey { provider_id, .. } => provider_id.as_str(),
            };
            Vector {
                tags: format!("{} {provider} {:?}", c.name, c.key),
                id: c.name,
                ciphertext: Data::File(c.ciphertext),
                materials: Materials::Ready(MaterialsPlan::default_cmm(keyring)),
                reproduced_ec: None,
                unsigned_only: false,
                expect,
            }
        })
        .collect();
    Ok(VectorSet {
        label: dir.display().to_string(),
        kind: "C SDK data files".into(),
        vectors,
    })
}

/// The legacy python 1.3.0 `ciphertext.manifest`: raw keys from its
/// `test_keys`, namespace `static-aws-xcompat`; `ephemeral-aws-xcompat` EDKs
/// (discarded keys) are not decryptable and are left out of the keyring.
pub fn legacy_set(m: &LegacyCiphertextManifest, label: String) -> VectorSet {
    let vectors = m
        .cases
        .iter()
        .map(|c| {
            let plan = (|| -> Result<KeyringPlan, PlanError> {
                let mut plans = Vec::new();
                for mk in &c.master_keys {
                    if mk.provider_id == "aws-kms" {
                        return Err(PlanError::Unsupported(
                            "needs AWS KMS (aws-kms master key)".into(),
                        ));
                    }
                    if !mk.decryptable {
                        continue;
                    }
                    if !mk.is_static_raw() {
                        return Err(PlanError::Invalid(anyhow!(
                            "decryptable master key with provider {:?}",
                            mk.provider_id
                        )));
                    }
                    let name = mk.raw_key_name(c.algorithm_suite_id).ok_or_else(|| {
                        PlanError::Invalid(anyhow!("no key name for master key {mk:?}"))
                    })?;
                    let plan = match mk.encryption_algorithm {
                        Some(LegacyWrapAlgorithm::Aes) => {
                            let len = esdk_core::AlgorithmSuite::from_id(c.algorithm_suite_id)
                                .map_err(|e| PlanError::Invalid(anyhow!("{e}")))?
                                .data_key_len();
                            let bits = 8 * u32::try_from(len).unwrap_or(u32::MAX);
                            KeyringPlan::RawAes {
                                namespace: mk.provider_id.clone(),
                                name,
                                key: m.aes_keys.get(&bits).cloned().ok_or_else(|| {
                                    PlanError::Invalid(anyhow!("no {bits}-bit AES test key"))
                                })?,
                            }
                        }
                        Some(LegacyWrapAlgorithm::Rsa) => {
                            let bits = mk.key_bits.unwrap_or(0);
                            KeyringPlan::RawRsa {
                                namespace: mk.provider_id.clone(),
                                name,
                                padding: mk.padding.ok_or_else(|| {
                                    PlanError::Invalid(anyhow!("RSA key without padding"))
                                })?,
                                public_pem: None,
                                private_pem: Some(m.rsa_keys.get(&bits).cloned().ok_or_else(
                                    || PlanError::Invalid(anyhow!("no {bits}-bit RSA test key")),
                                )?),
                            }
                        }
                        None => {
                            return Err(PlanError::Invalid(anyhow!("raw key without algorithm")));
                        }
                    };
                    plans.push(plan);
                }
                let mut it = plans.into_iter();
                Ok(match (it.next(), it.len()) {
                    (None, _) => KeyringPlan::Nothing {
                        reason: "no decryptable master key".into(),
                    },
                    (Some(one), 0) => one,
                    (Some(first), _) => KeyringPlan::Multi {
                        generator: Some(Box::new(first)),
                        children: it.collect(),
                    },
                })
            })();
            let id = format!("legacy-{:04}", c.index);
            Vector {
                tags: format!("{id} {:04X} {:?}", c.algorithm_suite_id, c.master_keys),
                id,
                ciphertext: Data::File(c.ciphertext.clone()),
                materials: materials_of(plan.map(MaterialsPlan::default_cmm)),
                reproduced_ec: None,
                unsigned_only: false,
                expect: Expect::Plaintext {
                    plaintext: Data::File(c.plaintext.clone()),
                    ec: BTreeMap::new(),
                },
            }
        })
        .collect();
    VectorSet {
        label,
        kind: format!(
            "legacy ciphertext manifest, written by {} {}",
            m.client.name, m.client.version
        ),
        vectors,
    }
}

/// Default vector locations under `shared/test-vectors`: every offline-usable
/// set (KMS-only sets included; their cases are reported as skipped).
pub fn shipped_inputs(root: &Path) -> Vec<PathBuf> {
    [
        "legacy-python-1.3.0/manifest.json",
        "python-1.3.5/decrypt_message.json",
        "net-4.0.1/manifest.json",
        "net-4.0.0-valid/manifest.json",
        "net-4.0.0-invalid/manifest.json",
        "dafny-4.1.0/decrypt-manifest.json",
        "kat/commitment-test-vectors.json",
        "kat/c-sdk-data",
        "kat/python-decrypt-oracle-vectors.json",
    ]
    .iter()
    .map(|p| root.join(p))
    .collect()
}
