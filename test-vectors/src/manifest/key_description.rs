//! Master-key descriptions (framework feature 0005, used by decrypt v1–v4 and
//! encrypt v1/v2) and MPL key descriptions (decrypt/encrypt v5, MPL test
//! manifests). Both shapes share the `type`/`key`/`provider-id`/… spelling,
//! so one recursive type and one parser cover them.

use anyhow::Result;

use super::json::Node;
use super::keys::KeyType;
use super::{EccCurve, RsaPadding};

/// The three raw/KMS ECDH key-agreement schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EcdhSchema {
    /// `static`: sender static private key + recipient public key.
    Static,
    /// `ephemeral`: encrypt-only, a fresh sender key per message.
    Ephemeral,
    /// `discovery`: decrypt-only, recipient private key, any sender.
    Discovery,
}

/// The fields of a `raw-ecdh` / `aws-kms-ecdh` description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcdhDescription {
    /// `schema`.
    pub schema: EcdhSchema,
    /// `sender`: key entry holding the sender material; `None` when the manifest
    /// says `"discovery"` / `"ephemeral"`.
    pub sender: Option<String>,
    /// `recipient`: key entry holding the recipient material.
    pub recipient: String,
    /// `sender-public-key`: name of the field of the sender entry that holds its
    /// public key; `None` for `"discovery"` / `"ephemeral"`.
    pub sender_public_key: Option<String>,
    /// `recipient-public-key`: name of the field of the recipient entry that
    /// holds its public key.
    pub recipient_public_key: String,
    /// The curve, read from `ecc-curve`.
    pub curve: EccCurve,
    /// `ecc-curve` as written (`ecc-256`, or a KMS entry name such as `us-west-2-256-ecc`).
    pub curve_name: String,
    /// `provider-id` (raw ECDH only; informational, the EDK provider id is always `raw-ecdh`).
    pub provider_id: Option<String>,
}

/// `aws-kms-discovery-filter` of an MRK-aware discovery keyring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoveryFilter {
    /// `partition`.
    pub partition: String,
    /// `account-ids`.
    pub account_ids: Vec<String>,
}

/// A keyring / master-key / CMM description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyDescription {
    /// `raw` with `encryption-algorithm: aes`.
    RawAes {
        /// `key`: the keys-manifest entry (its `key-id` is the keyring key name).
        key: String,
        /// `provider-id`: the key namespace (EDK provider id).
        provider_id: String,
    },
    /// `raw` with `encryption-algorithm: rsa`.
    RawRsa {
        /// `key`: the keys-manifest entry.
        key: String,
        /// `provider-id`: the key namespace.
        provider_id: String,
        /// From `padding-algorithm` / `padding-hash` (the hash is ignored for `pkcs1`).
        padding: RsaPadding,
    },
    /// `aws-kms`.
    Kms {
        /// `key`: keys-manifest entry holding the ARN.
        key: String,
    },
    /// `aws-kms-mrk-aware`.
    KmsMrkAware {
        /// `key`: keys-manifest entry holding the ARN.
        key: String,
    },
    /// `aws-kms-mrk-aware-discovery`.
    KmsMrkAwareDiscovery {
        /// `default-mrk-region`.
        default_mrk_region: String,
        /// `aws-kms-discovery-filter`, if any.
        discovery_filter: Option<DiscoveryFilter>,
    },
    /// `aws-kms-rsa`.
    KmsRsa {
        /// `key`: keys-manifest entry (type `aws-kms-rsa`).
        key: String,
        /// From `encryption-algorithm` (`RSAES_OAEP_SHA_1` / `RSAES_OAEP_SHA_256`).
        padding: RsaPadding,
    },
    /// `aws-kms-hierarchy`.
    Hierarchy {
        /// `key`: keys-manifest entry (a `static-branch-key` offline).
        key: String,
    },
    /// `raw-ecdh`.
    RawEcdh(EcdhDescription),
    /// `aws-kms-ecdh`.
    KmsEcdh(EcdhDescription),
    /// `static-material-keyring`.
    StaticMaterial {
        /// `key`: keys-manifest entry (type `static-material`).
        key: String,
    },
    /// `multi-keyring`, and also a master-key list of more than one entry.
    Multi {
        /// `generator`.
        generator: Option<Box<KeyDescription>>,
        /// `childKeyrings`.
        children: Vec<KeyDescription>,
    },
    /// `required-encryption-context-cmm`.
    RequiredEncryptionContext {
        /// `requiredEncryptionContextKeys`.
        keys: Vec<String>,
        /// `underlying`.
        underlying: Box<KeyDescription>,
    },
    /// `caching-cmm` (MPL test manifest only).
    Caching {
        /// `underlying`.
        underlying: Box<KeyDescription>,
        /// `cacheLimitTtlSeconds`.
        ttl_seconds: u64,
        /// `limitBytes`.
        limit_bytes: Option<u64>,
        /// `limitMessages`.
        limit_messages: Option<u64>,
        /// `getEntryIdentifier`, base64-decoded (may be empty).
        get_entry_identifier: Option<Vec<u8>>,
        /// `putEntryIdentifier`, base64-decoded (may be empty).
        put_entry_identifier: Option<Vec<u8>>,
    },
    /// Any other `type`, kept so a runner can report the case as skipped.
    Other(String),
}

impl KeyDescription {
    /// The manifest spelling of this description's `type`.
    pub fn type_name(&self) -> &str {
        match self {
            KeyDescription::RawAes { .. } | KeyDescription::RawRsa { .. } => "raw",
            KeyDescription::Kms { .. } => "aws-kms",
            KeyDescription::KmsMrkAware { .. } => "aws-kms-mrk-aware",
            KeyDescription::KmsMrkAwareDiscovery { .. } => "aws-kms-mrk-aware-discovery",
            KeyDescription::KmsRsa { .. } => "aws-kms-rsa",
            KeyDescription::Hierarchy { .. } => "aws-kms-hierarchy",
            KeyDescription::RawEcdh(_) => "raw-ecdh",
            KeyDescription::KmsEcdh(_) => "aws-kms-ecdh",
            KeyDescription::StaticMaterial { .. } => "static-material-keyring",
            KeyDescription::Multi { .. } => "multi-keyring",
            KeyDescription::RequiredEncryptionContext { .. } => "required-encryption-context-cmm",
            KeyDescription::Caching { .. } => "caching-cmm",
            KeyDescription::Other(t) => t,
        }
    }

    /// Combines a master-key list (decrypt v1–v4, encrypt v1/v2) into one
    /// keyring description the way AWS's runners do: one entry stays as it is,
    /// several become a multi-keyring whose generator is the first entry.
    /// `None` for an empty list.
    pub fn combine(list: &[KeyDescription]) -> Option<KeyDescription> {
        match list {
            [] => None,
            [one] => Some(one.clone()),
            [first, rest @ ..] => Some(KeyDescription::Multi {
                generator: Some(Box::new(first.clone())),
                children: rest.to_vec(),
            }),
        }
    }

    /// This description and every nested one, depth first.
    pub fn walk(&self) -> Vec<&KeyDescription> {
        let mut out = vec![self];
        match self {
            KeyDescription::Multi {
                generator,
                children,
            } => {
                if let Some(g) = generator {
                    out.extend(g.walk());
                }
                for c in children {
                    out.extend(c.walk());
                }
            }
            KeyDescription::RequiredEncryptionContext { underlying, .. }
            | KeyDescription::Caching { underlying, .. } => out.extend(underlying.walk()),
            _ => {}
        }
        out
    }

    /// True when this description or a nested one uses AWS KMS (a
    /// hierarchical keyring over a static branch key does not).
    pub fn needs_aws_kms(&self) -> bool {
        self.walk().iter().any(|d| {
            matches!(
                d,
                KeyDescription::Kms { .. }
                    | KeyDescription::KmsMrkAware { .. }
                    | KeyDescription::KmsMrkAwareDiscovery { .. }
                    | KeyDescription::KmsRsa { .. }
                    | KeyDescription::KmsEcdh(_)
            )
        })
    }

    /// The `type` names of nested descriptions this parser does not know.
    pub fn unknown_types(&self) -> Vec<&str> {
        self.walk()
            .into_iter()
            .filter_map(|d| match d {
                KeyDescription::Other(t) => Some(t.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Every keys-manifest entry this description names (recursively), with
    /// the key types that fit that use.
    pub fn key_references(&self) -> Vec<(&str, &'static [KeyType])> {
        const SYMMETRIC: &[KeyType] = &[KeyType::Symmetric];
        const RSA: &[KeyType] = &[KeyType::Private, KeyType::Public];
        const KMS: &[KeyType] = &[KeyType::AwsKms];
        const KMS_RSA: &[KeyType] = &[KeyType::AwsKmsRsa];
        const BRANCH: &[KeyType] = &[KeyType::StaticBranchKey];
        const STATIC: &[KeyType] = &[KeyType::StaticMaterial];
        const ECC: &[KeyType] = &[KeyType::EccPrivate];
        const KMS_ECC: &[KeyType] = &[KeyType::AwsKmsEcdh];
        let mut out = Vec::new();
        for d in self.walk() {
            match d {
                KeyDescription::RawAes { key, .. } => out.push((key.as_str(), SYMMETRIC)),
                KeyDescription::RawRsa { key, .. } => out.push((key.as_str(), RSA)),
                KeyDescription::Kms { key } | KeyDescription::KmsMrkAware { key } => {
                    out.push((key.as_str(), KMS));
                }
                KeyDescription::KmsRsa { key, .. } => out.push((key.as_str(), KMS_RSA)),
                KeyDescription::Hierarchy { key } => out.push((key.as_str(), BRANCH)),
                KeyDescription::StaticMaterial { key } => out.push((key.as_str(), STATIC)),
                KeyDescription::RawEcdh(e) | KeyDescription::KmsEcdh(e) => {
                    let types = if matches!(d, KeyDescription::RawEcdh(_)) {
                        ECC
                    } else {
                        KMS_ECC
                    };
                    if let Some(s) = &e.sender {
                        out.push((s.as_str(), types));
                    }
                    out.push((e.recipient.as_str(), types));
                }
                _ => {}
            }
        }
        out
    }

    /// Parses one description.
    pub(crate) fn from_node(node: &Node<'_>) -> Result<KeyDescription> {
        let obj = node.obj()?;
        let type_node = obj.req("type")?;
        let ty = type_node.str()?;
        if obj.has("key-id") {
            return Err(obj.err(
                "a \"key-id\" override on a master key (framework 0005 v1) is not supported; \
                 the key name comes from the keys manifest",
            ));
        }
        let key = || -> Result<String> { Ok(obj.req("key")?.non_empty_str()?.to_owned()) };
        let d = match ty {
            "raw" => {
                let alg_node = obj.req("encryption-algorithm")?;
                let provider_id = obj.req("provider-id")?.non_empty_str()?.to_owned();
                match alg_node.str()? {
                    "aes" => {
                        obj.allow_only(&["type", "key", "provider-id", "encryption-algorithm"])?;
                        KeyDescription::RawAes {
                            key: key()?,
                            provider_id,
                        }
                    }
                    "rsa" => {
                        obj.allow_only(&[
                            "type",
                            "key",
                            "provider-id",
                            "encryption-algorithm",
                            "padding-algorithm",
                            "padding-hash",
                        ])?;
                        let pad_node = obj.req("padding-algorithm")?;
                        let hash = obj.opt_str("padding-hash")?;
                        let padding = RsaPadding::from_manifest(pad_node.str()?, hash)
                            .map_err(|e| pad_node.err(e))?;
                        KeyDescription::RawRsa {
                            key: key()?,
                            provider_id,
                            padding,
                        }
                    }
                    other => {
                        return Err(alg_node.err(format_args!(
                            "unknown raw encryption-algorithm {other:?} (expected \"aes\" or \"rsa\")"
                        )));
                    }
                }
            }
            "aws-kms" => {
                obj.allow_only(&["type", "key"])?;
                KeyDescription::Kms { key: key()? }
            }
            "aws-kms-mrk-aware" => {
                obj.allow_only(&["type", "key"])?;
                KeyDescription::KmsMrkAware { key: key()? }
            }
            "aws-kms-mrk-aware-discovery" => {
                obj.allow_only(&["type", "default-mrk-region", "aws-kms-discovery-filter"])?;
                let discovery_filter = match obj.get("aws-kms-discovery-filter") {
                    None => None,
                    Some(n) => {
                        let f = n.obj()?;
                        f.allow_only(&["partition", "account-ids"])?;
                        Some(DiscoveryFilter {
                            partition: f.req("partition")?.non_empty_str()?.to_owned(),
                            account_ids: f.req("account-ids")?.string_list()?,
                        })
                    }
                };
                KeyDescription::KmsMrkAwareDiscovery {
                    default_mrk_region: obj.req("default-mrk-region")?.non_empty_str()?.to_owned(),
                    discovery_filter,
                }
            }
            "aws-kms-rsa" => {
                obj.allow_only(&["type", "key", "encryption-algorithm"])?;
                let alg = obj.req("encryption-algorithm")?;
                let padding = RsaPadding::from_kms_algorithm(alg.str()?).map_err(|e| alg.err(e))?;
                KeyDescription::KmsRsa {
                    key: key()?,
                    padding,
                }
            }
            "aws-kms-hierarchy" => {
                obj.allow_only(&["type", "key"])?;
                KeyDescription::Hierarchy { key: key()? }
            }
            "static-material-keyring" => {
                obj.allow_only(&["type", "key"])?;
                KeyDescription::StaticMaterial { key: key()? }
            }
            "raw-ecdh" | "aws-kms-ecdh" => {
                let raw = ty == "raw-ecdh";
                let mut allowed = vec![
                    "type",
                    "sender",
                    "recipient",
                    "sender-public-key",
                    "recipient-public-key",
                    "ecc-curve",
                    "schema",
                ];
                if raw {
                    allowed.push("provider-id");
                }
                obj.allow_only(&allowed)?;
                let e = parse_ecdh(node, raw)?;
                if raw {
                    KeyDescription::RawEcdh(e)
                } else {
                    KeyDescription::KmsEcdh(e)
                }
            }
            "multi-keyring" => {
                obj.allow_only(&["type", "generator", "childKeyrings"])?;
                let generator = obj
                    .get("generator")
                    .map(|n| KeyDescription::from_node(&n).map(Box::new))
                    .transpose()?;
                let children = match obj.get("childKeyrings") {
                    None => Vec::new(),
                    Some(n) => n
                        .array()?
                        .iter()
                        .map(KeyDescription::from_node)
                        .collect::<Result<Vec<_>>>()?,
                };
                if generator.is_none() && children.is_empty() {
                    return Err(obj.err("a multi-keyring needs a generator or child keyrings"));
                }
                KeyDescription::Multi {
                    generator,
                    children,
                }
            }
            "required-encryption-context-cmm" => {
                obj.allow_only(&["type", "underlying", "requiredEncryptionContextKeys"])?;
                KeyDescription::RequiredEncryptionContext {
                    keys: obj.req("requiredEncryptionContextKeys")?.string_list()?,
                    underlying: Box::new(KeyDescription::from_node(&obj.req("underlying")?)?),
                }
            }
            "caching-cmm" => {
                obj.allow_only(&[
                    "type",
                    "underlying",
                    "cacheLimitTtlSeconds",
                    "limitBytes",
                    "limitMessages",
                    "getEntryIdentifier",
                    "putEntryIdentifier",
                ])?;
                KeyDescription::Caching {
                    underlying: Box::new(KeyDescription::from_node(&obj.req("underlying")?)?),
                    ttl_seconds: obj.req("cacheLimitTtlSeconds")?.u64()?,
                    limit_bytes: obj.opt_u64("limitBytes")?,
                    limit_messages: obj.opt_u64("limitMessages")?,
                    get_entry_identifier: obj
                        .get("getEntryIdentifier")
                        .map(|n| n.base64())
                        .transpose()?,
                    put_entry_identifier: obj
                        .get("putEntryIdentifier")
                        .map(|n| n.base64())
                        .transpose()?,
                }
            }
            other => {
                if other.is_empty() {
                    return Err(type_node.err("must not be an empty string"));
                }
                KeyDescription::Other(other.to_owned())
            }
        };
        Ok(d)
    }

    /// Parses a master-key list (`master-keys`, `decryption-master-keys`).
    pub(crate) fn list_from_node(node: &Node<'_>) -> Result<Vec<KeyDescription>> {
        let items = node.array()?;
        if items.is_empty() {
            return Err(node.err("the master-key list is empty"));
        }
        items.iter().map(KeyDescription::from_node).collect()
    }
}

const PUBLIC_KEY_FIELDS: &[&str] = &[
    "sender-material-public-key",
    "recipient-material-public-key",
];

fn parse_ecdh(node: &Node<'_>, raw: bool) -> Result<EcdhDescription> {
    let obj = node.obj()?;
    let schema_node = obj.req("schema")?;
    let schema = match schema_node.str()? {
        "static" => EcdhSchema::Static,
        "ephemeral" => EcdhSchema::Ephemeral,
        "discovery" => EcdhSchema::Discovery,
        other => {
            return Err(schema_node.err(format_args!(
                "unknown ECDH schema {other:?} (expected static, ephemeral or discovery)"
            )));
        }
    };
    let placeholder = match schema {
        EcdhSchema::Static => None,
        EcdhSchema::Ephemeral => Some("ephemeral"),
        EcdhSchema::Discovery => Some("discovery"),
    };
    // `sender` and `sender-public-key` hold the schema name instead of a key
    // for the ephemeral and discovery schemas.
    let sender_like = |field: &str| -> Result<Option<String>> {
        let n = obj.req(field)?;
        let v = n.non_empty_str()?;
        match placeholder {
            Some(p) if v == p => Ok(None),
            Some(p) => Err(n.err(format_args!(
                "with schema {p:?} this must be {p:?}, found {v:?}"
            ))),
            None if v == "ephemeral" || v == "discovery" => {
                Err(n.err(format_args!("{v:?} is not allowed with schema \"static\"")))
            }
            None => Ok(Some(v.to_owned())),
        }
    };
    let sender = sender_like("sender")?;
    let sender_public_key = sender_like("sender-public-key")?;
    if let Some(f) = &sender_public_key {
        if !PUBLIC_KEY_FIELDS.contains(&f.as_str()) {
            return Err(obj
                .req("sender-public-key")?
                .err(format_args!("{f:?} is not a public-key field name")));
        }
    }
    let rpk_node = obj.req("recipient-public-key")?;
    let recipient_public_key = rpk_node.non_empty_str()?.to_owned();
    if !PUBLIC_KEY_FIELDS.contains(&recipient_public_key.as_str()) {
        return Err(rpk_node.err(format_args!(
            "{recipient_public_key:?} is not a public-key field name"
        )));
    }
    let curve_node = obj.req("ecc-curve")?;
    let curve_name = curve_node.non_empty_str()?.to_owned();
    let curve = EccCurve::from_name(&curve_name).ok_or_else(|| {
        curve_node.err(format_args!(
            "cannot tell the curve from {curve_name:?} (expected one of 256/384/521 in it)"
        ))
    })?;
    Ok(EcdhDescription {
        schema,
        sender,
        recipient: obj.req("recipient")?.non_empty_str()?.to_owned(),
        sender_public_key,
        recipient_public_key,
        curve,
        curve_name,
        provider_id: if raw {
            obj.opt_str("provider-id")?.map(str::to_owned)
        } else {
            None
        },
    })
}
