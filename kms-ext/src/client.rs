//! Where AWS KMS clients come from: the [`ClientSupplier`] trait, the default
//! [`AwsSdkClientSupplier`] (one client per region from `aws-config`, cached and bounded) and
//! [`SingleClientSupplier`] (one client you built, for every region).

use crate::error::KmsConfigError;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_kms::Client;
use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};
use esdk_std::Error;
use esdk_std::keyring::BoxFuture;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

/// Gives the keyrings an AWS KMS client for a region.
///
/// `region` is the region of the key ARN being used, or `None` for key ids and aliases, which
/// KMS resolves in the SDK's default region (`AWS_REGION`, the profile, ...). Regions taken from
/// a message's encrypted data keys (discovery keyrings) are not trusted: implementations must
/// bound what a message can make them allocate.
pub trait ClientSupplier: Send + Sync + fmt::Debug {
    /// A client for `region` (`None`: the default region).
    ///
    /// # Errors
    /// A region that is malformed or not allowed, or no default region configured.
    fn client<'a>(&'a self, region: Option<&'a str>) -> BoxFuture<'a, Result<Client, Error>>;
}

impl<S: ClientSupplier + ?Sized> ClientSupplier for Arc<S> {
    fn client<'a>(&'a self, region: Option<&'a str>) -> BoxFuture<'a, Result<Client, Error>> {
        (**self).client(region)
    }
}

/// True for a region usable in an endpoint host name: 1 to 63 of `a-z`, `0-9` and `-`, neither
/// starting nor ending with `-` (what the SDK's endpoint rules call a valid host label).
pub fn is_valid_region(region: &str) -> bool {
    !region.is_empty()
        && region.len() <= 63
        && !region.starts_with('-')
        && !region.ends_with('-')
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

type Customize =
    Arc<dyn Fn(aws_sdk_kms::config::Builder) -> aws_sdk_kms::config::Builder + Send + Sync>;

/// The default client supplier: builds clients from the standard `aws-config` chain
/// (environment, shared config and credentials files, web identity, ECS and EC2 metadata), so
/// `AWS_REGION`, `AWS_PROFILE`, `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_KMS` and the credential
/// chain are honoured. The configuration is loaded once, on first use.
///
/// One client per region is cached; clients share the configuration's HTTP client and
/// credentials cache. The cache is bounded ([`AwsSdkClientSupplierBuilder::max_cached_clients`],
/// default 64): once full, a client for a new region is built for that call only and not kept,
/// so regions named by messages cannot grow it. Regions must be valid host labels
/// ([`is_valid_region`]), and may be restricted to a set
/// ([`AwsSdkClientSupplierBuilder::allowed_regions`]).
///
/// Cheap to clone (shared state). Clients are bound to the Tokio runtime they were first used on
/// (their connection pool lives there): use one supplier per runtime.
#[derive(Clone)]
pub struct AwsSdkClientSupplier {
    inner: Arc<Inner>,
}

struct Inner {
    given: Option<SdkConfig>,
    loaded: tokio::sync::OnceCell<SdkConfig>,
    profile: Option<String>,
    endpoint_url: Option<String>,
    customize: Option<Customize>,
    pinned: HashMap<String, Client>,
    default_client: tokio::sync::OnceCell<Client>,
    cache: Mutex<HashMap<String, Client>>,
    max_cached: usize,
    allowed: Option<BTreeSet<String>>,
    built: AtomicU64,
}

impl fmt::Debug for AwsSdkClientSupplier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("AwsSdkClientSupplier")
            .field("endpoint_url", &i.endpoint_url)
            .field("profile", &i.profile)
            .field("pinned_regions", &i.pinned.keys().collect::<Vec<_>>())
            .field("cached_clients", &self.cached_clients())
            .field("max_cached", &i.max_cached)
            .field("allowed_regions", &i.allowed)
            .finish_non_exhaustive()
    }
}

impl Default for AwsSdkClientSupplier {
    fn default() -> Self {
        Self::new()
    }
}

impl AwsSdkClientSupplier {
    /// The default supplier: standard `aws-config` chain, at most 64 cached clients.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A builder for custom configuration, endpoints and clients.
    pub fn builder() -> AwsSdkClientSupplierBuilder {
        AwsSdkClientSupplierBuilder {
            sdk_config: None,
            profile: None,
            endpoint_url: None,
            customize: None,
            pinned: HashMap::new(),
            max_cached: 64,
            allowed: None,
        }
    }

    /// How many clients this supplier has built (cached or not).
    pub fn clients_built(&self) -> u64 {
        self.inner.built.load(Ordering::Relaxed)
    }

    /// How many per-region clients are cached now.
    pub fn cached_clients(&self) -> usize {
        self.inner.cache.lock().map_or(0, |c| c.len())
    }

    async fn sdk_config(&self) -> &SdkConfig {
        if let Some(c) = &self.inner.given {
            return c;
        }
        self.inner
            .loaded
            .get_or_init(|| async {
                let mut loader = aws_config::defaults(BehaviorVersion::latest());
                if let Some(p) = &self.inner.profile {
                    loader = loader.profile_name(p);
                }
                loader.load().await
            })
            .await
    }

    fn build_client(&self, sdk: &SdkConfig, region: Option<&str>) -> Client {
        let mut b = aws_sdk_kms::config::Builder::from(sdk);
        if let Some(r) = region {
            b = b.region(aws_sdk_kms::config::Region::new(r.to_owned()));
        }
        if let Some(url) = &self.inner.endpoint_url {
            b = b.endpoint_url(url);
        }
        if let Some(f) = &self.inner.customize {
            b = f(b);
        }
        self.inner.built.fetch_add(1, Ordering::Relaxed);
        Client::from_conf(b.build())
    }

    async fn get(&self, region: Option<&str>) -> Result<Client, Error> {
        let Some(region) = region else {
            let sdk = self.sdk_config().await;
            if sdk.region().is_none() {
                return Err(KmsConfigError::NoRegion.into_error("AWS KMS region"));
            }
            return Ok(self
                .inner
                .default_client
                .get_or_init(|| async { self.build_client(sdk, None) })
                .await
                .clone());
        };
        if !is_valid_region(region) {
            return Err(
                KmsConfigError::InvalidRegion(region.to_owned()).into_error("AWS KMS region")
            );
        }
        if let Some(allowed) = &self.inner.allowed {
            if !allowed.contains(region) {
                return Err(KmsConfigError::RegionNotAllowed(region.to_owned())
                    .into_error("AWS KMS region"));
            }
        }
        if let Some(c) = self.inner.pinned.get(region) {
            return Ok(c.clone());
        }
        if let Some(c) = self.cache_get(region) {
            return Ok(c);
        }
        let sdk = self.sdk_config().await;
        let client = self.build_client(sdk, Some(region));
        let mut cache = self
            .inner
            .cache
            .lock()
            .map_err(|_| Error::Internal("AWS KMS client cache poisoned"))?;
        if let Some(c) = cache.get(region) {
            return Ok(c.clone());
        }
        if cache.len() < self.inner.max_cached {
            cache.insert(region.to_owned(), client.clone());
        }
        Ok(client)
    }

    fn cache_get(&self, region: &str) -> Option<Client> {
        self.inner.cache.lock().ok()?.get(region).cloned()
    }
}

impl ClientSupplier for AwsSdkClientSupplier {
    fn client<'a>(&'a self, region: Option<&'a str>) -> BoxFuture<'a, Result<Client, Error>> {
        Box::pin(self.get(region))
    }
}

/// Configures an [`AwsSdkClientSupplier`].
pub struct AwsSdkClientSupplierBuilder {
    sdk_config: Option<SdkConfig>,
    profile: Option<String>,
    endpoint_url: Option<String>,
    customize: Option<Customize>,
    pinned: HashMap<String, Client>,
    max_cached: usize,
    allowed: Option<BTreeSet<String>>,
}

impl fmt::Debug for AwsSdkClientSupplierBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AwsSdkClientSupplierBuilder")
            .field("endpoint_url", &self.endpoint_url)
            .field("profile", &self.profile)
            .field("max_cached", &self.max_cached)
            .finish_non_exhaustive()
    }
}

impl AwsSdkClientSupplierBuilder {
    /// Use this loaded configuration instead of loading the default chain.
    pub fn sdk_config(mut self, config: SdkConfig) -> Self {
        self.sdk_config = Some(config);
        self
    }
    /// Load the default chain with this named profile.
    pub fn profile(mut self, name: impl Into<String>) -> Self {
        self.profile = Some(name.into());
        self
    }
    /// Send every request to this endpoint (e.g. a VPC endpoint, FIPS endpoint or a local test
    /// server), overriding `AWS_ENDPOINT_URL_KMS`. Requests are still signed for the region.
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.endpoint_url = Some(url.into());
        self
    }
    /// Adjust every client's configuration before it is built (interceptors, retry or timeout
    /// settings, an HTTP client, ...).
    pub fn configure(
        mut self,
        f: impl Fn(aws_sdk_kms::config::Builder) -> aws_sdk_kms::config::Builder + Send + Sync + 'static,
    ) -> Self {
        self.customize = Some(Arc::new(f));
        self
    }
    /// Use this client for `region` (it is always used, and does not count against the cache).
    pub fn client(mut self, region: impl Into<String>, client: Client) -> Self {
        self.pinned.insert(region.into(), client);
        self
    }
    /// At most `n` per-region clients are cached (default 64); further regions get a client
    /// for the one call.
    pub fn max_cached_clients(mut self, n: usize) -> Self {
        self.max_cached = n;
        self
    }
    /// Only these regions may be contacted (default: any valid region name). Discovery keyrings
    /// take regions from messages; this bounds where they can send requests.
    pub fn allowed_regions<I: IntoIterator<Item = S>, S: Into<String>>(
        mut self,
        regions: I,
    ) -> Self {
        self.allowed = Some(regions.into_iter().map(Into::into).collect());
        self
    }
    /// The supplier.
    pub fn build(self) -> AwsSdkClientSupplier {
        AwsSdkClientSupplier {
            inner: Arc::new(Inner {
                given: self.sdk_config,
                loaded: tokio::sync::OnceCell::new(),
                profile: self.profile,
                endpoint_url: self.endpoint_url,
                customize: self.customize,
                pinned: self.pinned,
                default_client: tokio::sync::OnceCell::new(),
                cache: Mutex::new(HashMap::new()),
                max_cached: self.max_cached,
                allowed: self.allowed,
                built: AtomicU64::new(0),
            }),
        }
    }
}

/// Supplies one client you built, whatever the region (a client only reaches keys in its own
/// region, so use it with keys of that region or with an endpoint that serves all of them).
#[derive(Clone, Debug)]
pub struct SingleClientSupplier {
    client: Client,
}

impl SingleClientSupplier {
    /// Wraps `client`.
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl ClientSupplier for SingleClientSupplier {
    fn client<'a>(&'a self, _region: Option<&'a str>) -> BoxFuture<'a, Result<Client, Error>> {
        Box::pin(core::future::ready(Ok(self.client.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_names() {
        for ok in [
            "us-west-2",
            "us-gov-west-1",
            "cn-north-1",
            "eu-central-2",
            "us-isob-east-1",
            "local",
        ] {
            assert!(is_valid_region(ok), "{ok}");
        }
        for bad in [
            "",
            "-us",
            "us-",
            "US-WEST-2",
            "us_west_2",
            "evil.example.com",
            "a/b",
            &"a".repeat(64),
        ] {
            assert!(!is_valid_region(bad), "{bad}");
        }
    }
}
