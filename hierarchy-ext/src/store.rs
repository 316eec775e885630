//! The branch key store (`framework/branch-key-store.md`): branch keys and beacon keys kept in
//! a DynamoDB table, each encrypted by AWS KMS under an encryption context made of the item's
//! own attributes (so a changed attribute makes the item fail to decrypt).
//!
//! Items (hierarchy version 1), partition key `branch-key-id`, sort key `type`:
//!
//! | `type` | what `enc` holds |
//! |---|---|
//! | `branch:version:<uuid>` | one version of the branch key (DECRYPT_ONLY) |
//! | `branch:ACTIVE` | a copy of the active version (attribute `version` names it) |
//! | `beacon:ACTIVE` | the beacon key |
//!
//! Each item also has `create-time`, `kms-arn`, `hierarchy-version` (N) and one
//! `aws-crypto-ec:<key>` attribute per pair of the branch key's custom encryption context. The
//! KMS encryption context is every attribute except `enc`, plus `tablename` = the logical key
//! store name.

use crate::error::{KeyStoreError, KeyStoreErrorKind as Kind, KeyStoreOperation as Op};
use crate::materials::{BRANCH_KEY_LEN, BeaconKeyMaterials, BranchKeyMaterials};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, Put,
    ScalarAttributeType, TableStatus, TransactWriteItem,
};
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use core::fmt;
use esdk_kms::{ClientSupplier, KeyIdentifier, KmsArn, ResourceType};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

/// Partition key attribute.
pub const BRANCH_KEY_ID: &str = "branch-key-id";
/// Sort key attribute.
pub const TYPE: &str = "type";
/// Encrypted key attribute.
pub const ENC: &str = "enc";
/// Version attribute of the ACTIVE item.
pub const VERSION: &str = "version";
/// Creation time attribute.
pub const CREATE_TIME: &str = "create-time";
/// KMS key ARN attribute.
pub const KMS_ARN: &str = "kms-arn";
/// Hierarchy version attribute (N).
pub const HIERARCHY_VERSION: &str = "hierarchy-version";
/// Encryption context key holding the logical key store name (not an item attribute).
pub const TABLE_NAME_EC: &str = "tablename";
/// Prefix of custom encryption context attributes.
pub const CUSTOM_EC_PREFIX: &str = "aws-crypto-ec:";
/// `type` of the active branch key item.
pub const TYPE_ACTIVE: &str = "branch:ACTIVE";
/// `type` of the beacon key item.
pub const TYPE_BEACON: &str = "beacon:ACTIVE";
/// Prefix of a version's `type` (and of the ACTIVE item's `version`).
pub const VERSION_PREFIX: &str = "branch:version:";

/// Which KMS key(s) protect the store's items (`AWS KMS Configuration` of the spec).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KmsConfiguration {
    /// One KMS key; items must name exactly this ARN.
    KeyArn(String),
    /// One KMS key; items may name the same multi-Region key in another region (calls go to
    /// the configured ARN).
    MrkKeyArn(String),
    /// Read-only: decrypt items with the key ARN they name (`CreateKey`/`VersionKey` fail).
    Discovery,
    /// Read-only: like `Discovery`, with multi-Region key ARNs moved to this region.
    MrDiscovery {
        /// The region to use for multi-Region keys.
        region: String,
    },
}

impl KmsConfiguration {
    fn arn(&self) -> Option<&str> {
        match self {
            Self::KeyArn(a) | Self::MrkKeyArn(a) => Some(a),
            Self::Discovery | Self::MrDiscovery { .. } => None,
        }
    }
}

/// What the store was configured with (`GetKeyStoreInfo`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct KeyStoreInfo {
    /// The key store id (a UUID unless given).
    pub id: String,
    /// The DynamoDB table name.
    pub table_name: String,
    /// The logical key store name bound into every item.
    pub logical_key_store_name: String,
    /// Grant tokens sent with every KMS call.
    pub grant_tokens: Vec<String>,
    /// The KMS configuration.
    pub kms_configuration: KmsConfiguration,
}

/// A branch key store over DynamoDB and AWS KMS. Cheap to clone (shared clients).
///
/// Build it with [`KeyStore::builder`]. All operations are `async` (Tokio); the hierarchical
/// keyring calls [`KeyStore::get_active_branch_key`] and [`KeyStore::get_branch_key_version`]
/// through its cache.
#[derive(Clone)]
pub struct KeyStore {
    inner: Arc<Inner>,
}

struct Inner {
    info: KeyStoreInfo,
    ddb: aws_sdk_dynamodb::Client,
    kms: aws_sdk_kms::Client,
    consistent_reads: bool,
}

impl fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyStore")
            .field("info", &self.inner.info)
            .field("consistent_reads", &self.inner.consistent_reads)
            .finish_non_exhaustive()
    }
}

/// Configures a [`KeyStore`].
#[derive(Default)]
pub struct KeyStoreBuilder {
    table_name: Option<String>,
    logical_name: Option<String>,
    kms: Option<KmsConfiguration>,
    id: Option<String>,
    grant_tokens: Vec<String>,
    ddb: Option<aws_sdk_dynamodb::Client>,
    kms_client: Option<aws_sdk_kms::Client>,
    kms_supplier: Option<Arc<dyn ClientSupplier>>,
    sdk_config: Option<aws_config::SdkConfig>,
    ddb_endpoint: Option<String>,
    consistent_reads: bool,
}

impl fmt::Debug for KeyStoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyStoreBuilder")
            .field("table_name", &self.table_name)
            .field("logical_key_store_name", &self.logical_name)
            .field("kms_configuration", &self.kms)
            .finish_non_exhaustive()
    }
}

impl KeyStoreBuilder {
    /// The DynamoDB table (required).
    pub fn table_name(mut self, name: impl Into<String>) -> Self {
        self.table_name = Some(name.into());
        self
    }
    /// The logical key store name, bound into every item (required; one per table, survives
    /// restoring the table under another name).
    pub fn logical_key_store_name(mut self, name: impl Into<String>) -> Self {
        self.logical_name = Some(name.into());
        self
    }
    /// The KMS configuration (required).
    pub fn kms_configuration(mut self, kms: KmsConfiguration) -> Self {
        self.kms = Some(kms);
        self
    }
    /// Shorthand for `kms_configuration(KmsConfiguration::KeyArn(arn))`.
    pub fn kms_key_arn(self, arn: impl Into<String>) -> Self {
        self.kms_configuration(KmsConfiguration::KeyArn(arn.into()))
    }
    /// The key store id (default: a random UUID).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }
    /// Grant tokens sent with every KMS call.
    pub fn grant_tokens(mut self, tokens: Vec<String>) -> Self {
        self.grant_tokens = tokens;
        self
    }
    /// Use this DynamoDB client (default: the `aws-config` chain, in the region of the KMS key
    /// ARN; `AWS_ENDPOINT_URL_DYNAMODB` is honoured).
    pub fn ddb_client(mut self, client: aws_sdk_dynamodb::Client) -> Self {
        self.ddb = Some(client);
        self
    }
    /// Send DynamoDB requests to this endpoint (when the store builds its own client).
    pub fn ddb_endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.ddb_endpoint = Some(url.into());
        self
    }
    /// Use this KMS client.
    pub fn kms_client(mut self, client: aws_sdk_kms::Client) -> Self {
        self.kms_client = Some(client);
        self
    }
    /// Get the KMS client from this supplier (esdk-kms's [`ClientSupplier`]; default
    /// [`esdk_kms::AwsSdkClientSupplier`]), asked for the region of the KMS key ARN.
    pub fn kms_client_supplier(mut self, supplier: impl ClientSupplier + 'static) -> Self {
        self.kms_supplier = Some(Arc::new(supplier));
        self
    }
    /// Build the DynamoDB client from this configuration instead of loading the default chain.
    pub fn sdk_config(mut self, config: aws_config::SdkConfig) -> Self {
        self.sdk_config = Some(config);
        self
    }
    /// Read items with strongly consistent reads (default `false`; `VersionKey` always reads
    /// the active item consistently).
    pub fn consistent_reads(mut self, yes: bool) -> Self {
        self.consistent_reads = yes;
        self
    }

    /// The store. Builds the clients that were not given.
    ///
    /// # Errors
    /// A missing required setting, or a KMS key ARN that is not a valid key ARN (aliases are
    /// refused).
    pub async fn build(self) -> Result<KeyStore, KeyStoreError> {
        let cfg = |m: String| KeyStoreError::new(Op::CreateKeyStore, "", None, Kind::Config, m);
        let table_name = self
            .table_name
            .filter(|t| !t.is_empty())
            .ok_or_else(|| cfg("a table name is required".into()))?;
        let logical = self
            .logical_name
            .filter(|t| !t.is_empty())
            .ok_or_else(|| cfg("a logical key store name is required".into()))?;
        let kms_conf = self
            .kms
            .ok_or_else(|| cfg("a KMS configuration is required".into()))?;
        let region = match &kms_conf {
            KmsConfiguration::KeyArn(a) | KmsConfiguration::MrkKeyArn(a) => {
                let arn = KmsArn::parse(a)
                    .map_err(|e| cfg(format!("KMS key `{}`: {e}", crate::error::shown(a))))?;
                if arn.resource_type() != ResourceType::Key {
                    return Err(cfg(format!(
                        "KMS key `{}` is an alias; the key store needs a key ARN",
                        crate::error::shown(a)
                    )));
                }
                Some(arn.region().to_owned())
            }
            KmsConfiguration::Discovery => None,
            KmsConfiguration::MrDiscovery { region } => Some(region.clone()),
        };
        let kms = match (self.kms_client, self.kms_supplier) {
            (Some(c), _) => c,
            (None, supplier) => {
                let supplier =
                    supplier.unwrap_or_else(|| Arc::new(esdk_kms::AwsSdkClientSupplier::new()));
                supplier
                    .client(region.as_deref())
                    .await
                    .map_err(|e| cfg(format!("KMS client: {e}")))?
            }
        };
        let ddb = match self.ddb {
            Some(c) => c,
            None => {
                let sdk = match self.sdk_config {
                    Some(s) => s,
                    None => {
                        aws_config::defaults(aws_config::BehaviorVersion::latest())
                            .load()
                            .await
                    }
                };
                let mut b = aws_sdk_dynamodb::config::Builder::from(&sdk);
                if let Some(r) = &region {
                    b = b.region(aws_sdk_dynamodb::config::Region::new(r.clone()));
                }
                if let Some(url) = &self.ddb_endpoint {
                    b = b.endpoint_url(url);
                }
                aws_sdk_dynamodb::Client::from_conf(b.build())
            }
        };
        Ok(KeyStore {
            inner: Arc::new(Inner {
                info: KeyStoreInfo {
                    id: self.id.unwrap_or_else(crate::uuid::new_v4),
                    table_name,
                    logical_key_store_name: logical,
                    grant_tokens: self.grant_tokens,
                    kms_configuration: kms_conf,
                },
                ddb,
                kms,
                consistent_reads: self.consistent_reads,
            }),
        })
    }
}

/// An item's attributes as the KMS encryption context (and the `enc` blob).
struct ParsedItem {
    ec: BTreeMap<String, String>,
    enc: Vec<u8>,
}

type Item = HashMap<String, AttributeValue>;

fn sdk_error<E, R>(
    e: SdkError<E, R>,
) -> (
    Option<String>,
    String,
    Option<Box<dyn core::error::Error + Send + Sync>>,
)
where
    E: core::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: fmt::Debug + Send + Sync + 'static,
{
    let d = esdk_kms::error::describe_sdk_error(e);
    (d.code, d.message, d.source)
}

/// Context of one operation on one branch key, for errors.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    op: Op,
    id: &'a str,
    version: Option<&'a str>,
}

impl Ctx<'_> {
    fn err(&self, kind: Kind, message: impl Into<String>) -> KeyStoreError {
        KeyStoreError::new(self.op, self.id, self.version, kind, message)
    }

    fn ddb<E, R>(&self, call: &str, table: &str, e: SdkError<E, R>) -> KeyStoreError
    where
        E: core::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let (code, message, source) = sdk_error(e);
        let kind = match code.as_deref() {
            Some("ResourceNotFoundException") => Kind::TableNotFound,
            _ => Kind::DynamoDb,
        };
        self.err(
            kind,
            format!(
                "DynamoDB {call} on table `{}`: {message}",
                crate::error::shown(table)
            ),
        )
        .with_source(code, source)
    }

    fn kms<E, R>(&self, call: &str, key: &str, e: SdkError<E, R>) -> KeyStoreError
    where
        E: core::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
        R: fmt::Debug + Send + Sync + 'static,
    {
        let (code, message, source) = sdk_error(e);
        let kind = match code.as_deref() {
            Some("InvalidCiphertextException") => Kind::InvalidItem,
            _ => Kind::Kms,
        };
        let note = if kind == Kind::InvalidItem {
            " (the item does not authenticate: it was changed, or written for another logical \
             key store name or KMS key)"
        } else {
            ""
        };
        self.err(
            kind,
            format!(
                "AWS KMS {call} with key {}: {message}{note}",
                crate::error::shown(key)
            ),
        )
        .with_source(code, source)
    }
}

impl KeyStore {
    /// A builder.
    pub fn builder() -> KeyStoreBuilder {
        KeyStoreBuilder::default()
    }

    /// `GetKeyStoreInfo`.
    pub fn info(&self) -> &KeyStoreInfo {
        &self.inner.info
    }

    /// The logical key store name.
    pub fn logical_key_store_name(&self) -> &str {
        &self.inner.info.logical_key_store_name
    }

    /// The DynamoDB client.
    pub fn ddb_client(&self) -> &aws_sdk_dynamodb::Client {
        &self.inner.ddb
    }

    /// The KMS client.
    pub fn kms_client(&self) -> &aws_sdk_kms::Client {
        &self.inner.kms
    }

    fn table(&self) -> &str {
        &self.inner.info.table_name
    }

    /// `CreateKeyStore`: checks that the table exists with the key store's key schema
    /// (`branch-key-id` HASH, `type` RANGE), or creates it (on-demand billing) and waits until
    /// it is active. Returns the table ARN.
    ///
    /// # Errors
    /// [`Kind::InvalidTable`] for a table with another key schema; DynamoDB failures.
    pub async fn create_key_store(&self) -> Result<String, KeyStoreError> {
        let ctx = Ctx {
            op: Op::CreateKeyStore,
            id: "",
            version: None,
        };
        let table = self.table();
        match self
            .inner
            .ddb
            .describe_table()
            .table_name(table)
            .send()
            .await
        {
            Ok(out) => {
                let desc = out
                    .table()
                    .ok_or_else(|| ctx.err(Kind::DynamoDb, "DescribeTable returned no table"))?;
                let schema: Vec<(&str, &KeyType)> = desc
                    .key_schema()
                    .iter()
                    .map(|k| (k.attribute_name(), k.key_type()))
                    .collect();
                let want = [(BRANCH_KEY_ID, &KeyType::Hash), (TYPE, &KeyType::Range)];
                if schema.len() != 2 || !want.iter().all(|w| schema.contains(w)) {
                    return Err(ctx.err(
                        Kind::InvalidTable,
                        format!(
                            "table `{}` exists but its key schema is not `{BRANCH_KEY_ID}` (HASH), `{TYPE}` (RANGE)",
                            crate::error::shown(table)
                        ),
                    ));
                }
                Ok(desc.table_arn().unwrap_or_default().to_owned())
            }
            Err(e) if e.code() == Some("ResourceNotFoundException") => {
                let mk = |name: &str, t: KeyType| {
                    KeySchemaElement::builder()
                        .attribute_name(name)
                        .key_type(t)
                        .build()
                };
                let def = |name: &str| {
                    AttributeDefinition::builder()
                        .attribute_name(name)
                        .attribute_type(ScalarAttributeType::S)
                        .build()
                };
                let build = |e: aws_sdk_dynamodb::error::BuildError| {
                    ctx.err(Kind::DynamoDb, format!("CreateTable request: {e}"))
                };
                let out = self
                    .inner
                    .ddb
                    .create_table()
                    .table_name(table)
                    .key_schema(mk(BRANCH_KEY_ID, KeyType::Hash).map_err(build)?)
                    .key_schema(mk(TYPE, KeyType::Range).map_err(build)?)
                    .attribute_definitions(def(BRANCH_KEY_ID).map_err(build)?)
                    .attribute_definitions(def(TYPE).map_err(build)?)
                    .billing_mode(BillingMode::PayPerRequest)
                    .send()
                    .await
                    .map_err(|e| ctx.ddb("CreateTable", table, e))?;
                let arn = out
                    .table_description()
                    .and_then(|d| d.table_arn())
                    .unwrap_or_default()
                    .to_owned();
                // Wait (bounded: 5 minutes) for the table to become ACTIVE.
                for _ in 0..600 {
                    let d = self
                        .inner
                        .ddb
                        .describe_table()
                        .table_name(table)
                        .send()
                        .await
                        .map_err(|e| ctx.ddb("DescribeTable", table, e))?;
                    if d.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
                        return Ok(arn);
                    }
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(ctx.err(
                    Kind::DynamoDb,
                    "the created table did not become ACTIVE within 5 minutes",
                ))
            }
            Err(e) => Err(ctx.ddb("DescribeTable", table, e)),
        }
    }

    /// `CreateKey`: a new branch key (its first version, the ACTIVE copy and the beacon key),
    /// written with one conditional `TransactWriteItems` that fails if the id exists.
    ///
    /// `branch_key_id`: `None` makes a random UUID. A caller-chosen id needs an encryption
    /// context (`Some`, possibly empty), as the specification requires. The custom encryption
    /// context is bound to every version of the key. Returns the branch key id.
    ///
    /// # Errors
    /// [`Kind::AlreadyExists`], [`Kind::Config`] (discovery configuration, empty id or context
    /// key), KMS and DynamoDB failures.
    pub async fn create_key(
        &self,
        branch_key_id: Option<&str>,
        encryption_context: Option<&BTreeMap<String, String>>,
    ) -> Result<String, KeyStoreError> {
        let id = match branch_key_id {
            Some(id) => {
                let ctx = Ctx {
                    op: Op::CreateKey,
                    id,
                    version: None,
                };
                if id.is_empty() {
                    return Err(ctx.err(Kind::Config, "the branch key id is empty"));
                }
                if encryption_context.is_none() {
                    return Err(ctx.err(
                        Kind::Config,
                        "a caller-chosen branch key id needs an encryption context",
                    ));
                }
                id.to_owned()
            }
            None => crate::uuid::new_v4(),
        };
        let empty = BTreeMap::new();
        let custom = encryption_context.unwrap_or(&empty);
        let version = crate::uuid::new_v4();
        let ctx = Ctx {
            op: Op::CreateKey,
            id: &id,
            version: Some(&version),
        };
        if custom.keys().any(String::is_empty) {
            return Err(ctx.err(Kind::Config, "an encryption context key is empty"));
        }
        let arn = self.writable_arn(ctx)?;
        let base = base_ec(
            &id,
            &crate::uuid::timestamp_now(),
            self.logical_key_store_name(),
            arn,
            custom,
        );
        let (decrypt_only, active) = self.wrap_branch_key(ctx, arn, &base, &version).await?;
        let mut beacon_ec = base.clone();
        beacon_ec.insert(TYPE.into(), TYPE_BEACON.into());
        let beacon = self.generate_wrapped(ctx, arn, &beacon_ec).await?;
        let items = [
            (decrypt_only, Condition::NotExists),
            (active, Condition::NotExists),
            ((beacon_ec, beacon), Condition::NotExists),
        ];
        self.transact_write(ctx, items).await?;
        Ok(id)
    }

    /// `VersionKey`: rotates a branch key. Reads the ACTIVE item (consistently), authenticates
    /// it with KMS `ReEncrypt`, makes a new version and writes it with the ACTIVE item replaced
    /// only if the ACTIVE item still holds what was read (a concurrent rotation makes one of
    /// them fail with [`Kind::VersionConflict`]). Returns the new version.
    ///
    /// # Errors
    /// [`Kind::NotFound`], [`Kind::InvalidItem`], [`Kind::VersionConflict`], [`Kind::Config`]
    /// (discovery configuration), KMS and DynamoDB failures.
    pub async fn version_key(&self, branch_key_id: &str) -> Result<String, KeyStoreError> {
        let ctx = Ctx {
            op: Op::VersionKey,
            id: branch_key_id,
            version: None,
        };
        let arn = self.writable_arn(ctx)?;
        let item = self.get_item(ctx, TYPE_ACTIVE, true).await?;
        let parsed = self.parse_item(ctx, &item, TYPE_ACTIVE)?;
        let stored_arn = parsed.ec.get(KMS_ARN).cloned().unwrap_or_default();
        // Authenticate the item before trusting its encryption context.
        self.inner
            .kms
            .re_encrypt()
            .ciphertext_blob(Blob::new(parsed.enc.clone()))
            .set_source_encryption_context(Some(to_hash(&parsed.ec)))
            .source_key_id(arn)
            .destination_key_id(arn)
            .set_destination_encryption_context(Some(to_hash(&parsed.ec)))
            .set_grant_tokens(self.grant_tokens())
            .send()
            .await
            .map_err(|e| ctx.kms("ReEncrypt", arn, e))?;
        let custom = custom_ec(&parsed.ec);
        let version = crate::uuid::new_v4();
        let ctx = Ctx {
            version: Some(&version),
            ..ctx
        };
        let base = base_ec(
            branch_key_id,
            &crate::uuid::timestamp_now(),
            self.logical_key_store_name(),
            &stored_arn,
            &custom,
        );
        let (decrypt_only, active) = self.wrap_branch_key(ctx, arn, &base, &version).await?;
        self.transact_write(
            ctx,
            [
                (decrypt_only, Condition::NotExists),
                (active, Condition::EncIs(parsed.enc)),
            ],
        )
        .await?;
        Ok(version)
    }

    /// `GetActiveBranchKey`: the active version of a branch key, decrypted.
    ///
    /// # Errors
    /// [`Kind::NotFound`], [`Kind::TableNotFound`], [`Kind::InvalidItem`] (malformed or tampered
    /// item), KMS and DynamoDB failures.
    pub async fn get_active_branch_key(
        &self,
        branch_key_id: &str,
    ) -> Result<BranchKeyMaterials, KeyStoreError> {
        let ctx = Ctx {
            op: Op::GetActiveBranchKey,
            id: branch_key_id,
            version: None,
        };
        self.get_branch_key(ctx, TYPE_ACTIVE).await
    }

    /// `GetBranchKeyVersion`: one version of a branch key, decrypted.
    ///
    /// # Errors
    /// As [`KeyStore::get_active_branch_key`]; a version that is not a UUID is
    /// [`Kind::NotFound`].
    pub async fn get_branch_key_version(
        &self,
        branch_key_id: &str,
        version: &str,
    ) -> Result<BranchKeyMaterials, KeyStoreError> {
        let ctx = Ctx {
            op: Op::GetBranchKeyVersion,
            id: branch_key_id,
            version: Some(version),
        };
        self.get_branch_key(ctx, &format!("{VERSION_PREFIX}{version}"))
            .await
    }

    /// `GetBeaconKey`: the beacon key of a branch key id, decrypted.
    ///
    /// # Errors
    /// As [`KeyStore::get_active_branch_key`].
    pub async fn get_beacon_key(
        &self,
        branch_key_id: &str,
    ) -> Result<BeaconKeyMaterials, KeyStoreError> {
        let ctx = Ctx {
            op: Op::GetBeaconKey,
            id: branch_key_id,
            version: None,
        };
        let item = self
            .get_item(ctx, TYPE_BEACON, self.inner.consistent_reads)
            .await?;
        let parsed = self.parse_item(ctx, &item, TYPE_BEACON)?;
        let key = self.decrypt(ctx, &parsed).await?;
        Ok(BeaconKeyMaterials {
            beacon_key_id: branch_key_id.to_owned(),
            encryption_context: custom_ec(&parsed.ec),
            key,
        })
    }

    async fn get_branch_key(
        &self,
        ctx: Ctx<'_>,
        type_: &str,
    ) -> Result<BranchKeyMaterials, KeyStoreError> {
        let item = self
            .get_item(ctx, type_, self.inner.consistent_reads)
            .await?;
        let parsed = self.parse_item(ctx, &item, type_)?;
        let key = self.decrypt(ctx, &parsed).await?;
        let version_str = if type_ == TYPE_ACTIVE {
            parsed.ec.get(VERSION).map(String::as_str)
        } else {
            Some(type_)
        };
        let version = version_str
            .and_then(|v| v.strip_prefix(VERSION_PREFIX))
            .ok_or_else(|| ctx.err(Kind::InvalidItem, "the item names no branch key version"))?;
        let ctx = Ctx {
            version: Some(version),
            ..ctx
        };
        BranchKeyMaterials::new(ctx.id, version, custom_ec(&parsed.ec), *key).ok_or_else(|| {
            ctx.err(
                Kind::InvalidItem,
                "the branch key version is not a UUID (the hierarchical keyring needs one)",
            )
        })
    }

    fn grant_tokens(&self) -> Option<Vec<String>> {
        let g = &self.inner.info.grant_tokens;
        (!g.is_empty()).then(|| g.clone())
    }

    fn writable_arn(&self, ctx: Ctx<'_>) -> Result<&str, KeyStoreError> {
        self.inner.info.kms_configuration.arn().ok_or_else(|| {
            ctx.err(
                Kind::Config,
                "a key store with a Discovery or MRDiscovery KMS configuration cannot create or version keys",
            )
        })
    }

    async fn get_item(
        &self,
        ctx: Ctx<'_>,
        type_: &str,
        consistent: bool,
    ) -> Result<Item, KeyStoreError> {
        let table = self.table();
        let out = self
            .inner
            .ddb
            .get_item()
            .table_name(table)
            .key(BRANCH_KEY_ID, AttributeValue::S(ctx.id.to_owned()))
            .key(TYPE, AttributeValue::S(type_.to_owned()))
            .consistent_read(consistent)
            .send()
            .await
            .map_err(|e| ctx.ddb("GetItem", table, e))?;
        out.item.ok_or_else(|| {
            ctx.err(
                Kind::NotFound,
                format!(
                    "no `{}` item in table `{}`",
                    crate::error::shown(type_),
                    crate::error::shown(table)
                ),
            )
        })
    }

    /// Validates an item (record format) and builds its KMS encryption context.
    fn parse_item(
        &self,
        ctx: Ctx<'_>,
        item: &Item,
        type_: &str,
    ) -> Result<ParsedItem, KeyStoreError> {
        let bad = |m: String| ctx.err(Kind::InvalidItem, m);
        let mut ec = BTreeMap::new();
        let mut enc = None;
        for (name, value) in item {
            match (name.as_str(), value) {
                (ENC, AttributeValue::B(b)) => enc = Some(b.as_ref().to_vec()),
                (HIERARCHY_VERSION, AttributeValue::N(n)) => {
                    if n != "1" {
                        return Err(bad(format!(
                            "hierarchy version {} is not supported (only 1)",
                            crate::error::shown(n)
                        )));
                    }
                    ec.insert(name.clone(), n.clone());
                }
                (TABLE_NAME_EC, _) => {
                    return Err(bad(format!("the item has a `{TABLE_NAME_EC}` attribute")));
                }
                (ENC | HIERARCHY_VERSION, _) => {
                    return Err(bad(format!("attribute `{name}` has the wrong type")));
                }
                (_, AttributeValue::S(s)) => {
                    ec.insert(name.clone(), s.clone());
                }
                _ => {
                    return Err(bad(format!(
                        "attribute `{}` is not a string",
                        crate::error::shown(name)
                    )));
                }
            }
        }
        let enc = enc
            .filter(|e| !e.is_empty())
            .ok_or_else(|| bad(format!("missing `{ENC}`")))?;
        for required in [BRANCH_KEY_ID, TYPE, CREATE_TIME, KMS_ARN, HIERARCHY_VERSION] {
            if ec.get(required).is_none_or(String::is_empty) {
                return Err(bad(format!("missing `{required}`")));
            }
        }
        if ec.get(BRANCH_KEY_ID).map(String::as_str) != Some(ctx.id) {
            return Err(bad(format!("`{BRANCH_KEY_ID}` is not the requested id")));
        }
        if ec.get(TYPE).map(String::as_str) != Some(type_) {
            return Err(bad(format!("`{TYPE}` is not the requested type")));
        }
        let has_version = ec.contains_key(VERSION);
        if (type_ == TYPE_ACTIVE) != has_version {
            return Err(bad(format!(
                "`{VERSION}` must be present exactly on the `{TYPE_ACTIVE}` item"
            )));
        }
        let stored = ec.get(KMS_ARN).map(String::as_str).unwrap_or_default();
        self.check_arn(ctx, stored)?;
        ec.insert(TABLE_NAME_EC.into(), self.logical_key_store_name().into());
        Ok(ParsedItem { ec, enc })
    }

    /// The stored `kms-arn` must be compatible with the configuration (exactly equal, or the
    /// same multi-Region key); discovery accepts any key ARN but no alias.
    fn check_arn(&self, ctx: Ctx<'_>, stored: &str) -> Result<(), KeyStoreError> {
        let ok = match &self.inner.info.kms_configuration {
            KmsConfiguration::KeyArn(a) => a == stored,
            KmsConfiguration::MrkKeyArn(a) => match (KmsArn::parse(a), KmsArn::parse(stored)) {
                (Ok(x), Ok(y)) => {
                    esdk_kms::mrk_match(&KeyIdentifier::Arn(x), &KeyIdentifier::Arn(y))
                }
                _ => false,
            },
            KmsConfiguration::Discovery | KmsConfiguration::MrDiscovery { .. } => {
                KmsArn::parse(stored).is_ok_and(|a| a.resource_type() == ResourceType::Key)
            }
        };
        if ok {
            Ok(())
        } else {
            Err(ctx.err(
                Kind::InvalidItem,
                format!(
                    "the item's KMS key {} is not the key store's KMS key",
                    crate::error::shown(stored)
                ),
            ))
        }
    }

    /// The `KeyId` to decrypt an item with.
    fn decrypt_key_id(&self, stored: &str) -> String {
        match &self.inner.info.kms_configuration {
            KmsConfiguration::KeyArn(a) | KmsConfiguration::MrkKeyArn(a) => a.clone(),
            KmsConfiguration::Discovery => stored.to_owned(),
            KmsConfiguration::MrDiscovery { region } => match KmsArn::parse(stored) {
                Ok(arn) if arn.is_mrk() => arn.with_region(region).to_string(),
                _ => stored.to_owned(),
            },
        }
    }

    async fn decrypt(
        &self,
        ctx: Ctx<'_>,
        item: &ParsedItem,
    ) -> Result<zeroize::Zeroizing<[u8; BRANCH_KEY_LEN]>, KeyStoreError> {
        let key_id =
            self.decrypt_key_id(item.ec.get(KMS_ARN).map(String::as_str).unwrap_or_default());
        let out = self
            .inner
            .kms
            .decrypt()
            .key_id(&key_id)
            .ciphertext_blob(Blob::new(item.enc.clone()))
            .set_encryption_context(Some(to_hash(&item.ec)))
            .set_grant_tokens(self.grant_tokens())
            .send()
            .await
            .map_err(|e| ctx.kms("Decrypt", &key_id, e))?;
        let mut key = zeroize::Zeroizing::new([0u8; BRANCH_KEY_LEN]);
        match out.plaintext() {
            Some(p) if p.as_ref().len() == BRANCH_KEY_LEN => key.copy_from_slice(p.as_ref()),
            Some(p) => {
                return Err(ctx.err(
                    Kind::InvalidItem,
                    format!(
                        "AWS KMS Decrypt returned a {}-byte key, expected {BRANCH_KEY_LEN}",
                        p.as_ref().len()
                    ),
                ));
            }
            None => return Err(ctx.err(Kind::Kms, "AWS KMS Decrypt returned no plaintext")),
        }
        if out.key_id() != Some(key_id.as_str()) {
            return Err(ctx.err(
                Kind::Kms,
                format!(
                    "AWS KMS Decrypt answered for key {}, not {}",
                    crate::error::shown(out.key_id().unwrap_or("(none)")),
                    crate::error::shown(&key_id)
                ),
            ));
        }
        Ok(key)
    }

    /// `GenerateDataKeyWithoutPlaintext` (32 bytes) under `ec`.
    async fn generate_wrapped(
        &self,
        ctx: Ctx<'_>,
        arn: &str,
        ec: &BTreeMap<String, String>,
    ) -> Result<Vec<u8>, KeyStoreError> {
        let out = self
            .inner
            .kms
            .generate_data_key_without_plaintext()
            .key_id(arn)
            .number_of_bytes(32)
            .set_encryption_context(Some(to_hash(ec)))
            .set_grant_tokens(self.grant_tokens())
            .send()
            .await
            .map_err(|e| ctx.kms("GenerateDataKeyWithoutPlaintext", arn, e))?;
        out.ciphertext_blob
            .map(Blob::into_inner)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| {
                ctx.err(
                    Kind::Kms,
                    "AWS KMS GenerateDataKeyWithoutPlaintext returned no ciphertext",
                )
            })
    }

    /// A new version's DECRYPT_ONLY and ACTIVE encryption contexts and wrapped keys:
    /// `GenerateDataKeyWithoutPlaintext` under DECRYPT_ONLY, then `ReEncrypt` to ACTIVE.
    async fn wrap_branch_key(
        &self,
        ctx: Ctx<'_>,
        arn: &str,
        base: &BTreeMap<String, String>,
        version: &str,
    ) -> Result<(EcAndEnc, EcAndEnc), KeyStoreError> {
        let mut decrypt_only = base.clone();
        decrypt_only.insert(TYPE.into(), format!("{VERSION_PREFIX}{version}"));
        let mut active = base.clone();
        active.insert(TYPE.into(), TYPE_ACTIVE.into());
        active.insert(VERSION.into(), format!("{VERSION_PREFIX}{version}"));
        let wrapped = self.generate_wrapped(ctx, arn, &decrypt_only).await?;
        let out = self
            .inner
            .kms
            .re_encrypt()
            .ciphertext_blob(Blob::new(wrapped.clone()))
            .set_source_encryption_context(Some(to_hash(&decrypt_only)))
            .source_key_id(arn)
            .destination_key_id(arn)
            .set_destination_encryption_context(Some(to_hash(&active)))
            .set_grant_tokens(self.grant_tokens())
            .send()
            .await
            .map_err(|e| ctx.kms("ReEncrypt", arn, e))?;
        let active_wrapped = out
            .ciphertext_blob
            .map(Blob::into_inner)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| ctx.err(Kind::Kms, "AWS KMS ReEncrypt returned no ciphertext"))?;
        Ok(((decrypt_only, wrapped), (active, active_wrapped)))
    }

    async fn transact_write(
        &self,
        ctx: Ctx<'_>,
        items: impl IntoIterator<Item = (EcAndEnc, Condition)>,
    ) -> Result<(), KeyStoreError> {
        let table = self.table();
        let mut req = self.inner.ddb.transact_write_items();
        let mut conflicts = Vec::new();
        for ((ec, enc), cond) in items {
            let mut item: Item = HashMap::new();
            for (k, v) in ec {
                match k.as_str() {
                    TABLE_NAME_EC => {}
                    HIERARCHY_VERSION => {
                        item.insert(k, AttributeValue::N(v));
                    }
                    _ => {
                        item.insert(k, AttributeValue::S(v));
                    }
                }
            }
            item.insert(ENC.into(), AttributeValue::B(Blob::new(enc)));
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(item))
                .expression_attribute_names("#bkid", BRANCH_KEY_ID);
            let put = match cond {
                Condition::NotExists => {
                    conflicts.push(Kind::AlreadyExists);
                    put.condition_expression("attribute_not_exists(#bkid)")
                }
                Condition::EncIs(old) => {
                    conflicts.push(Kind::VersionConflict);
                    put.condition_expression("attribute_exists(#bkid) AND #enc = :encOld")
                        .expression_attribute_names("#enc", ENC)
                        .expression_attribute_values(":encOld", AttributeValue::B(Blob::new(old)))
                }
            };
            let put = put
                .build()
                .map_err(|e| ctx.err(Kind::DynamoDb, format!("TransactWriteItems request: {e}")))?;
            req = req.transact_items(TransactWriteItem::builder().put(put).build());
        }
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) => {
                let failed = e.as_service_error().and_then(|s| match s {
                    aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(t) => {
                        // The kind of the first failed condition.
                        t.cancellation_reasons()
                            .iter()
                            .zip(&conflicts)
                            .find(|(r, _)| r.code() == Some("ConditionalCheckFailed"))
                            .map(|(_, k)| *k)
                    }
                    _ => None,
                });
                match failed {
                    Some(Kind::AlreadyExists) if ctx.op == Op::CreateKey => Err(ctx.err(
                        Kind::AlreadyExists,
                        "a branch key with this id already exists",
                    )),
                    Some(Kind::AlreadyExists) => Err(ctx.err(
                        Kind::VersionConflict,
                        "the new version already exists",
                    )),
                    Some(kind) => Err(ctx.err(
                        kind,
                        "the active branch key changed while it was being rotated (concurrent VersionKey); retry",
                    )),
                    None => Err(ctx.ddb("TransactWriteItems", table, e)),
                }
            }
        }
    }
}

type EcAndEnc = (BTreeMap<String, String>, Vec<u8>);

enum Condition {
    NotExists,
    EncIs(Vec<u8>),
}

fn base_ec(
    id: &str,
    timestamp: &str,
    logical: &str,
    arn: &str,
    custom: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut ec = BTreeMap::new();
    ec.insert(BRANCH_KEY_ID.into(), id.into());
    ec.insert(CREATE_TIME.into(), timestamp.into());
    ec.insert(TABLE_NAME_EC.into(), logical.into());
    ec.insert(KMS_ARN.into(), arn.into());
    ec.insert(HIERARCHY_VERSION.into(), "1".into());
    for (k, v) in custom {
        ec.insert(format!("{CUSTOM_EC_PREFIX}{k}"), v.clone());
    }
    ec
}

fn custom_ec(ec: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    ec.iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(CUSTOM_EC_PREFIX)?.to_owned(), v.clone())))
        .collect()
}

fn to_hash(ec: &BTreeMap<String, String>) -> HashMap<String, String> {
    ec.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}
