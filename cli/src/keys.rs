//! `-w/--wrapping-keys` and `--caching`: keyrings and the materials manager.
//!
//! Each `-w` group is one provider; the first key of the first group generates the data key and
//! every other key wraps it too. On decrypt any of them may unwrap it.

use crate::args::parse_kwargs;
use crate::error::CliError;
use esdk_hierarchy::{
    BranchKeyIdSupplier, ContextKeySupplier, HierarchicalKeyring, KeyStore, KmsConfiguration,
};
use esdk_kms::{
    AwsKmsDiscoveryKeyring, AwsKmsMultiKeyringBuilder, AwsSdkClientSupplier, BlockingKeyring,
    DiscoveryFilter,
};
use esdk_std::cmm::cache::LocalCache;
use esdk_std::cmm::caching::CachingCmm;
use esdk_std::keyring::{Keyring, MultiKeyring, RawAesKeyring, RawRsaKeyring};
use esdk_std::{DefaultCmm, EncryptionContext, RsaPadding, SyncCryptographicMaterialsManager};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use zeroize::Zeroizing;

pub(crate) type Params = BTreeMap<String, Vec<String>>;

/// Whether keys are configured for encryption or decryption.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Encrypt.
    Encrypt,
    /// Decrypt.
    Decrypt,
}

fn one<'a>(p: &'a Params, key: &str, provider: &str) -> Result<Option<&'a str>, CliError> {
    match p.get(key).map(Vec::as_slice) {
        None => Ok(None),
        Some([v]) => Ok(Some(v)),
        Some(_) => Err(CliError::usage(format!(
            "provider={provider}: give \"{key}\" only once"
        ))),
    }
}

fn required<'a>(p: &'a Params, key: &str, provider: &str) -> Result<&'a str, CliError> {
    one(p, key, provider)?
        .ok_or_else(|| CliError::usage(format!("provider={provider} needs {key}=")))
}

fn check_known(p: &Params, known: &[&str], provider: &str) -> Result<(), CliError> {
    match p.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(CliError::usage(format!(
            "provider={provider}: unknown parameter \"{k}\" (expected one of: {})",
            known.join(", ")
        ))),
        None => Ok(()),
    }
}

fn read_key_file(path: &str) -> Result<Zeroizing<Vec<u8>>, CliError> {
    std::fs::read(path)
        .map(Zeroizing::new)
        .map_err(|e| CliError::bad(format!("cannot read key file {path:?}: {e}")))
}

fn discovery_bool(v: &str) -> Result<bool, CliError> {
    match v.to_ascii_lowercase().as_str() {
        "false" | "f" | "0" | "no" | "n" => Ok(false),
        "true" | "t" | "1" | "yes" | "y" => Ok(true),
        _ => Err(CliError::usage(format!(
            "Value {v} could not be parsed as true or false"
        ))),
    }
}

/// The Tokio runtime the KMS keyrings run on (one for the process).
pub(crate) fn runtime() -> Result<Arc<tokio::runtime::Runtime>, CliError> {
    static RT: OnceLock<Arc<tokio::runtime::Runtime>> = OnceLock::new();
    if let Some(rt) = RT.get() {
        return Ok(rt.clone());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("esdk-kms")
        .enable_all()
        .build()
        .map_err(|e| CliError::bad(format!("cannot start the AWS runtime: {e}")))?;
    Ok(RT.get_or_init(|| Arc::new(rt)).clone())
}

fn kms_supplier(
    region: Option<&str>,
    profile: Option<&str>,
    rt: &tokio::runtime::Runtime,
) -> AwsSdkClientSupplier {
    if region.is_none() && profile.is_none() {
        return AwsSdkClientSupplier::new();
    }
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(r) = region {
        loader = loader.region(aws_config::Region::new(r.to_owned()));
    }
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    let config = rt.block_on(loader.load());
    AwsSdkClientSupplier::builder().sdk_config(config).build()
}

fn kms_keyring(p: &Params, mode: Mode) -> Result<Arc<dyn Keyring>, CliError> {
    check_known(
        p,
        &[
            "provider",
            "key",
            "region",
            "profile",
            "discovery",
            "discovery-account",
            "discovery-partition",
            "grant-token",
        ],
        "aws-kms",
    )?;
    let has_discovery_args = p.contains_key("discovery")
        || p.contains_key("discovery-account")
        || p.contains_key("discovery-partition");
    if mode == Mode::Encrypt && has_discovery_args {
        return Err(CliError::usage(
            "Discovery attributes are supported only on decryption for AWS KMS keys",
        ));
    }
    let keys: &[String] = p.get("key").map_or(&[], Vec::as_slice);
    if keys.is_empty() && mode == Mode::Encrypt {
        return Err(CliError::usage(
            "At least one \"key\" must be provided for each wrapping key provider configuration",
        ));
    }
    let discovery = match one(p, "discovery", "aws-kms")? {
        Some(v) => discovery_bool(v)?,
        None => {
            if p.contains_key("discovery-account") || p.contains_key("discovery-partition") {
                return Err(CliError::usage(
                    "Discovery-account and discovery-partition are valid only when the discovery attribute is set to true",
                ));
            }
            false
        }
    };
    let accounts: &[String] = p.get("discovery-account").map_or(&[], Vec::as_slice);
    let partition = p.get("discovery-partition");
    if discovery {
        match (accounts.is_empty(), partition) {
            (false, None) => {
                return Err(CliError::usage(
                    "When specifying discovery-account, you must also specify discovery-partition",
                ));
            }
            (true, Some(_)) => {
                return Err(CliError::usage(
                    "When specifying discovery-partition, you must also specify discovery-account",
                ));
            }
            (false, Some(parts)) if parts.len() != 1 => {
                return Err(CliError::usage(
                    "You can only specify discovery-partition once",
                ));
            }
            _ => {}
        }
        if !keys.is_empty() {
            return Err(CliError::usage(
                "If discovery is true (enabled), you cannot specify wrapping keys",
            ));
        }
    } else {
        if !accounts.is_empty() || partition.is_some() {
            return Err(CliError::usage(
                "Discovery-account and discovery-partition are valid only when the discovery attribute is set to true",
            ));
        }
        if keys.is_empty() {
            return Err(CliError::usage(
                "When discovery is false (disabled), you must specify at least one wrapping key",
            ));
        }
    }
    let rt = runtime()?;
    let supplier = Arc::new(kms_supplier(
        one(p, "region", "aws-kms")?,
        one(p, "profile", "aws-kms")?,
        &rt,
    ));
    let grant_tokens = p.get("grant-token").cloned().unwrap_or_default();
    let bad = |e: esdk_std::Error| {
        CliError::usage(format!("provider=aws-kms: {}", crate::error::chain(&e)))
    };
    if discovery {
        let mut k = AwsKmsDiscoveryKeyring::new(supplier).grant_tokens(grant_tokens);
        if let Some(parts) = partition {
            let part = parts.first().map_or("", String::as_str);
            k = k.filter(DiscoveryFilter::new(part, accounts.iter().cloned()).map_err(bad)?);
        }
        return Ok(Arc::new(BlockingKeyring::with_runtime(k, rt)));
    }
    let mut b = AwsKmsMultiKeyringBuilder::new()
        .client_supplier(supplier)
        .grant_tokens(grant_tokens);
    for (n, key) in keys.iter().enumerate() {
        b = if n == 0 { b.generator(key) } else { b.key(key) };
    }
    let k = b.build().map_err(bad)?;
    Ok(Arc::new(BlockingKeyring::with_runtime(k, rt)))
}

/// `branch-key-id-from=KEY` without `branch-key-for=`: the value of `KEY` in the message's
/// encryption context is the branch key id.
#[derive(Debug)]
struct ContextValueIsId(String);

impl BranchKeyIdSupplier for ContextValueIsId {
    fn branch_key_id(&self, ec: &EncryptionContext) -> esdk_std::Result<String> {
        ec.get(&self.0)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| {
                esdk_std::Error::Materials(esdk_std::error::MaterialsError::SelectorKeyMissing {
                    key: self.0.clone(),
                })
            })
    }
}

const HIERARCHY: &str = "aws-kms-hierarchy";

/// How a `provider=aws-kms-hierarchy` group picks the branch key.
enum BranchKeyIds<'a> {
    /// `branch-key-id=`.
    Static(&'a str),
    /// `branch-key-id-from=KEY` alone.
    ContextValue(&'a str),
    /// `branch-key-id-from=KEY` with `branch-key-for=VALUE=ID`...
    Map(ContextKeySupplier),
}

fn positive(v: &str, key: &str, what: &str) -> Result<u64, CliError> {
    v.parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
        CliError::usage(format!(
            "provider={HIERARCHY}: {key}={} is not {what}",
            crate::error::escape(v, 32)
        ))
    })
}

/// The branch key store of a `provider=aws-kms-hierarchy` group (also used by
/// `esdk hierarchy ...`): `table=`, `logical-name=`, `kms-key=`, `region=`, `profile=`,
/// `grant-token=`, `consistent-reads=`. Without `kms-key=` the store is a discovery store
/// (read-only: it decrypts items with the KMS key they name).
pub(crate) fn key_store(p: &Params, rt: &tokio::runtime::Runtime) -> Result<KeyStore, CliError> {
    let table = required(p, "table", HIERARCHY)?;
    let logical = one(p, "logical-name", HIERARCHY)?.unwrap_or(table);
    let kms = match one(p, "kms-key", HIERARCHY)? {
        Some(arn) => KmsConfiguration::KeyArn(arn.to_owned()),
        None => KmsConfiguration::Discovery,
    };
    let consistent = match one(p, "consistent-reads", HIERARCHY)? {
        Some(v) => discovery_bool(v)?,
        None => false,
    };
    let region = one(p, "region", HIERARCHY)?;
    let profile = one(p, "profile", HIERARCHY)?;
    let mut b = KeyStore::builder()
        .table_name(table)
        .logical_key_store_name(logical)
        .kms_configuration(kms)
        .grant_tokens(p.get("grant-token").cloned().unwrap_or_default())
        .consistent_reads(consistent);
    if region.is_some() || profile.is_some() {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(r) = region {
            loader = loader.region(aws_config::Region::new(r.to_owned()));
        }
        if let Some(pr) = profile {
            loader = loader.profile_name(pr);
        }
        let config = rt.block_on(loader.load());
        b = b
            .kms_client_supplier(
                AwsSdkClientSupplier::builder()
                    .sdk_config(config.clone())
                    .build(),
            )
            .sdk_config(config);
    }
    rt.block_on(b.build())
        .map_err(|e| CliError::usage(format!("provider={HIERARCHY}: {}", crate::error::chain(&e))))
}

const HIERARCHY_PARAMS: &[&str] = &[
    "provider",
    "table",
    "logical-name",
    "kms-key",
    "branch-key-id",
    "branch-key-id-from",
    "branch-key-for",
    "ttl",
    "cache-capacity",
    "region",
    "profile",
    "grant-token",
    "consistent-reads",
];

fn hierarchy_keyring(p: &Params) -> Result<Arc<dyn Keyring>, CliError> {
    check_known(p, HIERARCHY_PARAMS, HIERARCHY)?;
    let static_id = one(p, "branch-key-id", HIERARCHY)?;
    let from = one(p, "branch-key-id-from", HIERARCHY)?;
    let map: &[String] = p.get("branch-key-for").map_or(&[], Vec::as_slice);
    if !map.is_empty() && from.is_none() {
        return Err(CliError::usage(format!(
            "provider={HIERARCHY}: branch-key-for= needs branch-key-id-from="
        )));
    }
    let ttl = match one(p, "ttl", HIERARCHY)? {
        Some(v) => positive(v, "ttl", "a whole number of seconds greater than 0")?,
        None => 300,
    };
    let capacity = match one(p, "cache-capacity", HIERARCHY)? {
        Some(v) => positive(v, "cache-capacity", "a whole number greater than 0")?,
        None => 1000,
    };
    let capacity = usize::try_from(capacity).map_err(|_| {
        CliError::usage(format!("provider={HIERARCHY}: cache-capacity is too large"))
    })?;
    let ids = match (static_id, from) {
        (Some(_), Some(_)) => {
            return Err(CliError::usage(format!(
                "provider={HIERARCHY}: give branch-key-id= or branch-key-id-from=, not both"
            )));
        }
        (None, None) => {
            return Err(CliError::usage(format!(
                "provider={HIERARCHY} needs branch-key-id= or branch-key-id-from="
            )));
        }
        (Some(id), None) => BranchKeyIds::Static(id),
        (None, Some(key)) if map.is_empty() => BranchKeyIds::ContextValue(key),
        (None, Some(key)) => {
            let mut s = ContextKeySupplier::new(key);
            let mut seen = std::collections::BTreeSet::new();
            for m in map {
                let Some((value, id)) = m
                    .split_once('=')
                    .filter(|(v, i)| !v.is_empty() && !i.is_empty())
                else {
                    return Err(CliError::usage(format!(
                        "provider={HIERARCHY}: branch-key-for= takes VALUE=BRANCH-KEY-ID, got {:?}",
                        crate::error::escape(m, 64)
                    )));
                };
                if !seen.insert(value) {
                    return Err(CliError::usage(format!(
                        "provider={HIERARCHY}: branch-key-for= gives {:?} twice",
                        crate::error::escape(value, 64)
                    )));
                }
                s = s.with(value, id);
            }
            BranchKeyIds::Map(s)
        }
    };
    let rt = runtime()?;
    let store = key_store(p, &rt)?;
    let b = HierarchicalKeyring::builder(store)
        .ttl(Duration::from_secs(ttl))
        .cache_capacity(capacity);
    let b = match ids {
        BranchKeyIds::Static(id) => b.branch_key_id(id),
        BranchKeyIds::ContextValue(key) => {
            b.branch_key_id_supplier(ContextValueIsId(key.to_owned()))
        }
        BranchKeyIds::Map(s) => b.branch_key_id_supplier(s),
    };
    let k = b.build().map_err(|e| {
        CliError::usage(format!("provider={HIERARCHY}: {}", crate::error::chain(&e)))
    })?;
    Ok(Arc::new(BlockingKeyring::with_runtime(k, rt)))
}

fn raw_aes_keyring(p: &Params) -> Result<Arc<dyn Keyring>, CliError> {
    check_known(
        p,
        &["provider", "key-namespace", "key-name", "key", "key-file"],
        "raw-aes",
    )?;
    let ns = required(p, "key-namespace", "raw-aes")?;
    let name = match one(p, "key-name", "raw-aes")? {
        Some(n) => n,
        None => required(p, "key", "raw-aes")?,
    };
    let key = read_key_file(required(p, "key-file", "raw-aes")?)?;
    let k = RawAesKeyring::new(ns, name, &key)
        .map_err(|e| CliError::bad(format!("provider=raw-aes: {}", crate::error::chain(&e))))?;
    Ok(Arc::new(k))
}

fn rsa_padding(v: &str) -> Result<RsaPadding, CliError> {
    Ok(match v.to_ascii_lowercase().as_str() {
        "pkcs1" | "pkcs1-v1_5" | "pkcs1v15" => RsaPadding::Pkcs1V15,
        "oaep-sha1" | "oaep-sha1-mgf1" => RsaPadding::OaepSha1,
        "oaep-sha256" | "oaep-sha256-mgf1" => RsaPadding::OaepSha256,
        "oaep-sha384" | "oaep-sha384-mgf1" => RsaPadding::OaepSha384,
        "oaep-sha512" | "oaep-sha512-mgf1" => RsaPadding::OaepSha512,
        _ => {
            return Err(CliError::usage(format!(
                "provider=raw-rsa: unknown padding {v:?} (pkcs1, oaep-sha1, oaep-sha256, oaep-sha384, oaep-sha512)"
            )));
        }
    })
}

fn raw_rsa_keyring(p: &Params) -> Result<Arc<dyn Keyring>, CliError> {
    check_known(
        p,
        &[
            "provider",
            "key-namespace",
            "key-name",
            "key",
            "public-key-file",
            "private-key-file",
            "padding",
        ],
        "raw-rsa",
    )?;
    let ns = required(p, "key-namespace", "raw-rsa")?;
    let name = match one(p, "key-name", "raw-rsa")? {
        Some(n) => n,
        None => required(p, "key", "raw-rsa")?,
    };
    let padding = rsa_padding(one(p, "padding", "raw-rsa")?.unwrap_or("oaep-sha256"))?;
    let read_pem = |key: &str| -> Result<Option<Zeroizing<String>>, CliError> {
        match one(p, key, "raw-rsa")? {
            None => Ok(None),
            Some(path) => std::fs::read_to_string(path)
                .map(|s| Some(Zeroizing::new(s)))
                .map_err(|e| CliError::bad(format!("cannot read key file {path:?}: {e}"))),
        }
    };
    let public = read_pem("public-key-file")?;
    let private = read_pem("private-key-file")?;
    if public.is_none() && private.is_none() {
        return Err(CliError::usage(
            "provider=raw-rsa needs public-key-file=, private-key-file= or both",
        ));
    }
    let k = RawRsaKeyring::from_pem(
        ns,
        name,
        padding,
        public.as_deref().map(String::as_str),
        private.as_deref().map(String::as_str),
    )
    .map_err(|e| CliError::bad(format!("provider=raw-rsa: {}", crate::error::chain(&e))))?;
    Ok(Arc::new(k))
}

/// One keyring for all `-w` groups.
pub fn keyring(groups: &[Vec<String>], mode: Mode) -> Result<Arc<dyn Keyring>, CliError> {
    if groups.is_empty() {
        return Err(CliError::usage(
            "the following arguments are required: -w/--wrapping-keys",
        ));
    }
    let mut keyrings = Vec::with_capacity(groups.len());
    for g in groups {
        let p = parse_kwargs(g)?;
        let provider = match p.get("provider").map(Vec::as_slice) {
            None => "aws-kms",
            Some([one]) => one.as_str(),
            Some(many) => {
                return Err(CliError::usage(format!(
                    "You must provide exactly one \"provider\" for each wrapping key provider configuration. {} provided",
                    many.len()
                )));
            }
        };
        let k = match provider {
            "aws-kms" | "aws-encryption-sdk-cli::aws-kms" => kms_keyring(&p, mode)?,
            "raw-aes" => raw_aes_keyring(&p)?,
            "raw-rsa" => raw_rsa_keyring(&p)?,
            HIERARCHY => hierarchy_keyring(&p)?,
            other => {
                return Err(CliError::usage(format!(
                    "unknown wrapping key provider {:?} (aws-kms, aws-kms-hierarchy, raw-aes, raw-rsa)",
                    crate::error::escape(other, 64)
                )));
            }
        };
        keyrings.push(k);
    }
    if keyrings.len() == 1 {
        if let Some(k) = keyrings.pop() {
            return Ok(k);
        }
    }
    let generator = keyrings.remove(0);
    let multi =
        MultiKeyring::new(Some(generator), keyrings).map_err(|e| CliError::bad(e.to_string()))?;
    Ok(Arc::new(multi))
}

/// The materials manager: the default one over the keyring, or the caching one over that.
pub fn cmm(
    keyring: Arc<dyn Keyring>,
    caching: Option<&[String]>,
) -> Result<Arc<dyn SyncCryptographicMaterialsManager>, CliError> {
    let default: Arc<dyn SyncCryptographicMaterialsManager> = Arc::new(DefaultCmm::new(keyring));
    let Some(params) = caching else {
        return Ok(default);
    };
    let p = parse_kwargs(params)?;
    if !p.contains_key("capacity") || !p.contains_key("max_age") {
        return Err(CliError::usage(
            "If enabling caching, both \"capacity\" and \"max_age\" are required",
        ));
    }
    if let Some(k) = p.keys().find(|k| {
        !matches!(
            k.as_str(),
            "capacity" | "max_age" | "max_messages_encrypted" | "max_bytes_encrypted"
        )
    }) {
        return Err(CliError::usage(format!(
            "Invalid caching configuration key: \"{k}\""
        )));
    }
    // Like aws-encryption-cli, the first value of a repeated key counts.
    let first = |k: &str| p.get(k).and_then(|v| v.first()).map(String::as_str);
    let int = |k: &str| -> Result<Option<u64>, CliError> {
        first(k)
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    CliError::usage(format!("--caching {k}: {v:?} is not a whole number"))
                })
            })
            .transpose()
    };
    let capacity = int("capacity")?.unwrap_or(0);
    let capacity = usize::try_from(capacity)
        .ok()
        .filter(|c| *c >= 1)
        .ok_or_else(|| CliError::usage("--caching capacity must be at least 1"))?;
    let max_age: f64 = first("max_age")
        .unwrap_or("")
        .parse()
        .map_err(|_| CliError::usage("--caching max_age must be a number of seconds"))?;
    let max_age = Duration::try_from_secs_f64(max_age)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| CliError::usage("--caching max_age must be greater than 0"))?;
    let mut b = CachingCmm::builder(default, Arc::new(LocalCache::new(capacity)), max_age);
    if let Some(n) = int("max_messages_encrypted")? {
        b = b.max_messages(n);
    }
    if let Some(n) = int("max_bytes_encrypted")? {
        b = b.max_bytes(n);
    }
    let c = b
        .build()
        .map_err(|e| CliError::usage(format!("--caching: {}", crate::error::chain(&e))))?;
    Ok(Arc::new(c))
}
