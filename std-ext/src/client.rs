//! The one-shot client: configuration once, then `encrypt` / `decrypt` of byte slices.

use crate::cmm::CryptographicMaterialsManager;
use crate::cmm::SyncCryptographicMaterialsManager;
use crate::cmm::default::prepare_encrypt;
use crate::error::{ConfigError, Error, MaterialsError, Result};
use crate::keyring::{AsyncKeyring, Keyring};
use crate::materials::{
    DecryptionMaterials, DecryptionRequest, EncryptionMaterials, EncryptionRequest,
};
use crate::provider::{Backend, SharedRng};
use crate::stream::engine::{DecryptEngine, EncryptEngine};
use esdk_core::encryption_context::RESERVED_PREFIX;
use esdk_core::{
    AlgorithmSuite, CommitmentPolicy, DecryptConfig, DecryptLimits, EdkRef, EncryptConfig,
    EncryptedDataKey, EncryptionContext, Header, HeaderRef, SignaturePolicy,
};

/// Marks options for the synchronous APIs ([`Client::encrypt`], [`Client::decrypt`], the
/// `std::io` adapters): made from a [`Keyring`] or a [`SyncCryptographicMaterialsManager`],
/// whose calls complete without an async runtime. The asynchronous APIs accept them too.
#[derive(Clone, Copy, Debug)]
pub struct Blocking;

/// Marks options for the asynchronous APIs only ([`Client::encrypt_async`],
/// [`Client::decrypt_async`], the tokio adapters): made from an [`AsyncKeyring`] or any
/// [`CryptographicMaterialsManager`], whose calls may await network I/O (AWS KMS). Such
/// options do not compile into a synchronous API:
///
/// ```compile_fail,E0277
/// use esdk_std::keyring::{AsyncKeyring, BoxFuture, Keyring, RawAesKeyring};
/// use esdk_std::materials::{DecryptionMaterials, EncryptionMaterials};
/// use esdk_std::{Client, EncryptOptions, EncryptedDataKey, Result};
/// /// An asynchronous keyring (as a remote one, e.g. AWS KMS, would be), here over a raw key.
/// #[derive(Debug)]
/// struct Remote(RawAesKeyring);
/// impl AsyncKeyring for Remote {
///     fn on_encrypt<'a>(&'a self, m: &'a EncryptionMaterials) -> BoxFuture<'a, Result<EncryptionMaterials>> {
///         Box::pin(async move { Keyring::on_encrypt(&self.0, m) })
///     }
///     fn on_decrypt<'a>(&'a self, m: &'a DecryptionMaterials, e: &'a [EncryptedDataKey]) -> BoxFuture<'a, Result<DecryptionMaterials>> {
///         Box::pin(async move { Keyring::on_decrypt(&self.0, m, e) })
///     }
/// }
/// let remote = Remote(RawAesKeyring::new("ns", "k", &[7u8; 32]).unwrap());
/// // An asynchronous keyring is not a `Keyring`: the synchronous constructor refuses it.
/// let _ = Client::default().encrypt(b"x", &EncryptOptions::keyring(&remote));
/// ```
///
/// ```compile_fail,E0308
/// # use esdk_std::keyring::{AsyncKeyring, BoxFuture, Keyring, RawAesKeyring};
/// # use esdk_std::materials::{DecryptionMaterials, EncryptionMaterials};
/// # use esdk_std::{Client, EncryptOptions, EncryptedDataKey, Result};
/// # #[derive(Debug)]
/// # struct Remote(RawAesKeyring);
/// # impl AsyncKeyring for Remote {
/// #     fn on_encrypt<'a>(&'a self, m: &'a EncryptionMaterials) -> BoxFuture<'a, Result<EncryptionMaterials>> {
/// #         Box::pin(async move { Keyring::on_encrypt(&self.0, m) })
/// #     }
/// #     fn on_decrypt<'a>(&'a self, m: &'a DecryptionMaterials, e: &'a [EncryptedDataKey]) -> BoxFuture<'a, Result<DecryptionMaterials>> {
/// #         Box::pin(async move { Keyring::on_decrypt(&self.0, m, e) })
/// #     }
/// # }
/// # let remote = Remote(RawAesKeyring::new("ns", "k", &[7u8; 32]).unwrap());
/// // Options for the asynchronous APIs are another type than the synchronous ones take.
/// let _ = Client::default().encrypt(b"x", &EncryptOptions::async_keyring(&remote));
/// ```
///
/// The same options with the asynchronous API compile and round-trip:
///
/// ```
/// # use esdk_std::keyring::{AsyncKeyring, BoxFuture, Keyring, RawAesKeyring};
/// # use esdk_std::materials::{DecryptionMaterials, EncryptionMaterials};
/// # use esdk_std::{Client, DecryptOptions, EncryptOptions, EncryptedDataKey, Result};
/// # #[derive(Debug)]
/// # struct Remote(RawAesKeyring);
/// # impl AsyncKeyring for Remote {
/// #     fn on_encrypt<'a>(&'a self, m: &'a EncryptionMaterials) -> BoxFuture<'a, Result<EncryptionMaterials>> {
/// #         Box::pin(async move { Keyring::on_encrypt(&self.0, m) })
/// #     }
/// #     fn on_decrypt<'a>(&'a self, m: &'a DecryptionMaterials, e: &'a [EncryptedDataKey]) -> BoxFuture<'a, Result<DecryptionMaterials>> {
/// #         Box::pin(async move { Keyring::on_decrypt(&self.0, m, e) })
/// #     }
/// # }
/// async fn round_trip(client: &Client, remote: &Remote) -> Result<Vec<u8>> {
///     let sealed = client.encrypt_async(b"x", &EncryptOptions::async_keyring(remote)).await?;
///     let opts = DecryptOptions::async_keyring(remote);
///     Ok(client.decrypt_async(&sealed.ciphertext, &opts).await?.plaintext)
/// }
/// let remote = Remote(RawAesKeyring::new("ns", "k", &[7u8; 32])?);
/// let rt = tokio::runtime::Builder::new_current_thread().build()?;
/// assert_eq!(rt.block_on(round_trip(&Client::default(), &remote))?, b"x");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Async;

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Blocking {}
    impl Sealed for super::Async {}
}

/// [`Blocking`] or [`Async`]: which APIs an options value may be used with.
pub trait Mode: sealed::Sealed + Copy + Send + Sync + std::fmt::Debug + 'static {}
impl Mode for Blocking {}
impl Mode for Async {}

/// Where materials come from: a keyring (wrapped in the default materials manager) or a
/// materials manager.
#[derive(Clone, Copy, Debug)]
pub enum MaterialsSource<'a> {
    /// A keyring, used through the default materials manager.
    Keyring(&'a dyn AsyncKeyring),
    /// A materials manager.
    Cmm(&'a dyn CryptographicMaterialsManager),
}

impl MaterialsSource<'_> {
    pub(crate) async fn encryption_materials(
        &self,
        req: &EncryptionRequest,
    ) -> Result<EncryptionMaterials> {
        match self {
            Self::Keyring(k) => {
                let m = prepare_encrypt(req)?;
                k.on_encrypt(&m).await
            }
            Self::Cmm(c) => c.get_encryption_materials(req).await,
        }
    }
    pub(crate) async fn decryption_materials(
        &self,
        req: &DecryptionRequest,
    ) -> Result<DecryptionMaterials> {
        match self {
            Self::Keyring(k) => crate::cmm::default::decrypt_with(*k, req).await,
            Self::Cmm(c) => c.decrypt_materials(req).await,
        }
    }
}

/// Options of one encryption. `M` is [`Blocking`] (from [`EncryptOptions::keyring`] /
/// [`EncryptOptions::cmm`]: any API) or [`Async`] (from [`EncryptOptions::async_keyring`] /
/// [`EncryptOptions::async_cmm`]: the asynchronous APIs only).
#[derive(Clone, Debug)]
pub struct EncryptOptions<'a, M: Mode = Blocking> {
    pub(crate) mode: std::marker::PhantomData<M>,
    pub(crate) source: MaterialsSource<'a>,
    pub(crate) encryption_context: EncryptionContext,
    pub(crate) suite: Option<AlgorithmSuite>,
    pub(crate) frame_length: Option<u32>,
    pub(crate) plaintext_length: Option<u64>,
    pub(crate) empty_final_frame: bool,
    pub(crate) non_framed: bool,
    pub(crate) parallelism: Option<usize>,
}

impl<'a> EncryptOptions<'a, Blocking> {
    /// Encrypt with a synchronous keyring (through the default materials manager).
    pub fn keyring<K: Keyring>(keyring: &'a K) -> Self {
        Self::with_source(MaterialsSource::Keyring(keyring))
    }
    /// Encrypt with a synchronous materials manager.
    pub fn cmm<C: SyncCryptographicMaterialsManager>(cmm: &'a C) -> Self {
        Self::with_source(MaterialsSource::Cmm(cmm))
    }
}

impl<'a> EncryptOptions<'a, Async> {
    /// Encrypt with an asynchronous keyring (e.g. AWS KMS; through the default materials
    /// manager), for the asynchronous APIs.
    pub fn async_keyring<K: AsyncKeyring>(keyring: &'a K) -> Self {
        Self::with_source(MaterialsSource::Keyring(keyring))
    }
    /// Encrypt with any materials manager, for the asynchronous APIs.
    pub fn async_cmm<C: CryptographicMaterialsManager>(cmm: &'a C) -> Self {
        Self::with_source(MaterialsSource::Cmm(cmm))
    }
    /// Encrypt with a materials source, for the asynchronous APIs.
    pub fn from_source(source: MaterialsSource<'a>) -> Self {
        Self::with_source(source)
    }
}

impl<'a, M: Mode> EncryptOptions<'a, M> {
    fn with_source(source: MaterialsSource<'a>) -> Self {
        Self {
            mode: std::marker::PhantomData,
            source,
            encryption_context: EncryptionContext::new(),
            suite: None,
            frame_length: None,
            plaintext_length: None,
            empty_final_frame: false,
            non_framed: false,
            parallelism: None,
        }
    }
    /// The encryption context (keys starting with `aws-crypto-` are reserved).
    pub fn encryption_context(mut self, ec: EncryptionContext) -> Self {
        self.encryption_context = ec;
        self
    }
    /// The algorithm suite (default: the commitment policy's default).
    pub fn suite(mut self, suite: AlgorithmSuite) -> Self {
        self.suite = Some(suite);
        self
    }
    /// The frame length (default: the client's, 4096).
    pub fn frame_length(mut self, frame_length: u32) -> Self {
        self.frame_length = Some(frame_length);
        self
    }
    /// For streams of unknown length: a bound on the plaintext length, given to the materials
    /// manager; encryption fails as soon as the input exceeds it. (One-shot encryption knows the
    /// length and ignores this.)
    pub fn plaintext_length(mut self, max: u64) -> Self {
        self.plaintext_length = Some(max);
        self
    }
    /// When the plaintext is a positive multiple of the frame length, end the message with a
    /// full regular frame and an empty final frame instead of a full final frame. Both are valid
    /// messages; the Python ESDK (and so aws-encryption-cli) up to at least 4.x rejects a final
    /// frame as long as the frame length, and writes this form itself. Default: off (a full
    /// final frame, as [`Client::ciphertext_len`] assumes).
    pub fn empty_final_frame(mut self, yes: bool) -> Self {
        self.empty_final_frame = yes;
        self
    }
    /// Write a non-framed body (the legacy content type 0x01, frame length 0 in the header)
    /// instead of frames, for peers or tools that expect it (`aws-encryption-cli
    /// --frame-length 0`). The body is sealed in one piece, so the whole plaintext is held in
    /// memory until the message is finished (the stream adapters buffer it; give
    /// [`EncryptOptions::plaintext_length`] to reserve it once), and it may be at most
    /// 2^36 − 32 bytes (64 GiB − 32, the limit of AES-GCM under one IV). A decryptor buffers
    /// the whole body too. Frames are the right choice for everything else. Default: off;
    /// the frame length is then ignored.
    pub fn non_framed(mut self, yes: bool) -> Self {
        self.non_framed = yes;
        self
    }
    /// Worker threads sealing frames, in one-shot encryption and in the encrypting stream
    /// adapters built with these options (see [`crate::parallel`]): 1 is exactly the
    /// sequential path; the message is byte-identical either way. Default: adaptive, the
    /// available cores (at most [`crate::parallel::MAX_DEFAULT_WORKERS`]) for one-shot
    /// messages of at least [`crate::parallel::PARALLEL_MIN_BYTES`], else 1 (smaller messages
    /// and the stream adapters, where threads were measured not to pay).
    pub fn parallelism(mut self, workers: usize) -> Self {
        self.parallelism = Some(workers.max(1));
        self
    }
}

/// Options of one decryption; `M` as for [`EncryptOptions`].
#[derive(Clone, Debug)]
pub struct DecryptOptions<'a, M: Mode = Blocking> {
    pub(crate) mode: std::marker::PhantomData<M>,
    pub(crate) source: MaterialsSource<'a>,
    pub(crate) reproduced_encryption_context: Option<EncryptionContext>,
    pub(crate) unsigned_only: bool,
    pub(crate) parallelism: Option<usize>,
}

impl<'a> DecryptOptions<'a, Blocking> {
    /// Decrypt with a synchronous keyring (through the default materials manager).
    pub fn keyring<K: Keyring>(keyring: &'a K) -> Self {
        Self::with_source(MaterialsSource::Keyring(keyring))
    }
    /// Decrypt with a synchronous materials manager.
    pub fn cmm<C: SyncCryptographicMaterialsManager>(cmm: &'a C) -> Self {
        Self::with_source(MaterialsSource::Cmm(cmm))
    }
}

impl<'a> DecryptOptions<'a, Async> {
    /// Decrypt with an asynchronous keyring (e.g. AWS KMS), for the asynchronous APIs.
    pub fn async_keyring<K: AsyncKeyring>(keyring: &'a K) -> Self {
        Self::with_source(MaterialsSource::Keyring(keyring))
    }
    /// Decrypt with any materials manager, for the asynchronous APIs.
    pub fn async_cmm<C: CryptographicMaterialsManager>(cmm: &'a C) -> Self {
        Self::with_source(MaterialsSource::Cmm(cmm))
    }
    /// Decrypt with a materials source, for the asynchronous APIs.
    pub fn from_source(source: MaterialsSource<'a>) -> Self {
        Self::with_source(source)
    }
}

impl<'a, M: Mode> DecryptOptions<'a, M> {
    fn with_source(source: MaterialsSource<'a>) -> Self {
        Self {
            mode: std::marker::PhantomData,
            source,
            reproduced_encryption_context: None,
            unsigned_only: false,
            parallelism: None,
        }
    }
    /// The encryption context the caller expects: stored pairs must match it, and pairs that
    /// were authenticated but not stored are taken from it.
    pub fn reproduced_encryption_context(mut self, ec: EncryptionContext) -> Self {
        self.reproduced_encryption_context = Some(ec);
        self
    }
    /// Refuse signed suites, right after the header's suite id.
    pub fn unsigned_only(mut self) -> Self {
        self.unsigned_only = true;
        self
    }
    /// Worker threads opening frames, in one-shot decryption and in the decrypting stream
    /// adapters built with these options (see [`crate::parallel`]): 1 is exactly the sequential
    /// path. Default: adaptive, as for [`EncryptOptions::parallelism`] (the ciphertext's
    /// length decides for one-shot calls).
    pub fn parallelism(mut self, workers: usize) -> Self {
        self.parallelism = Some(workers.max(1));
        self
    }
}

/// An encrypted message.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct Encrypted {
    /// The message bytes.
    pub ciphertext: Vec<u8>,
    /// Its header.
    pub header: Header,
}

/// A decrypted message.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct Decrypted {
    /// The plaintext.
    pub plaintext: Vec<u8>,
    /// The message header.
    pub header: Header,
    /// The authenticated encryption context: stored pairs plus reproduced-only pairs.
    pub encryption_context: EncryptionContext,
}

/// The exact length of a message's body and footer (the engine adds the header's), so that a
/// caller's buffer of exactly the message's length ([`Client::ciphertext_len`]) is used as it
/// is, without growing. Saturating: an impossible size only makes the estimate too large,
/// and the engine's limits refuse it.
fn body_and_footer_len(
    suite: AlgorithmSuite,
    config: &EncryptConfig,
    len: usize,
    empty_final_frame: bool,
) -> usize {
    use esdk_core::body::{FINAL_FRAME_OVERHEAD, NON_FRAMED_OVERHEAD, REGULAR_FRAME_OVERHEAD};
    let footer = suite.signature().map_or(0, |a| 2 + a.fixed_signature_len());
    let body = if config.legacy_non_framed {
        len.saturating_add(NON_FRAMED_OVERHEAD)
    } else {
        let f = usize::try_from(config.frame_length.max(1)).unwrap_or(usize::MAX);
        // Full frames before the final one; the final frame holds the rest (1 ..= f bytes),
        // or nothing when a positive multiple of f ends in an empty final frame.
        let regular = if empty_final_frame && len > 0 && len % f == 0 {
            len / f
        } else {
            len.div_ceil(f).saturating_sub(1)
        };
        regular
            .saturating_mul(REGULAR_FRAME_OVERHEAD)
            .saturating_add(FINAL_FRAME_OVERHEAD)
            .saturating_add(len)
    };
    body.saturating_add(footer)
}

/// What [`Client::encrypt_into`] returns; the message itself is in the caller's buffer.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct EncryptedInto {
    /// The message header.
    pub header: Header,
}

/// What [`Client::decrypt_into`] returns; the plaintext itself is in the caller's buffer.
#[non_exhaustive]
#[derive(Clone, Debug)]
pub struct DecryptedInto {
    /// The message header.
    pub header: Header,
    /// The authenticated encryption context: stored pairs plus reproduced-only pairs.
    pub encryption_context: EncryptionContext,
}

/// Client settings, fixed at build time. Cheap to clone; `Send + Sync`.
#[derive(Clone, Debug)]
pub struct Client {
    commitment_policy: CommitmentPolicy,
    max_encrypted_data_keys: Option<u16>,
    limits: DecryptLimits,
    frame_length: u32,
    backend: Backend,
    rng: SharedRng,
}

/// Builds a [`Client`].
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    inner: Client,
    pipelined_digest: Option<bool>,
}

impl ClientBuilder {
    /// The commitment policy (default `RequireEncryptRequireDecrypt`).
    pub fn commitment_policy(mut self, p: CommitmentPolicy) -> Self {
        self.inner.commitment_policy = p;
        self
    }
    /// Maximum encrypted data keys on encrypt and decrypt (default: no limit).
    pub fn max_encrypted_data_keys(mut self, n: u16) -> Self {
        self.inner.max_encrypted_data_keys = Some(n);
        self.inner.limits.max_encrypted_data_keys = n;
        self
    }
    /// Decryption resource limits (header size, frame length, body length).
    pub fn decrypt_limits(mut self, limits: DecryptLimits) -> Self {
        let edks = self.inner.limits.max_encrypted_data_keys;
        self.inner.limits =
            limits.with_max_encrypted_data_keys(edks.min(limits.max_encrypted_data_keys));
        self
    }
    /// Default frame length for encryption (default 4096).
    pub fn frame_length(mut self, n: u32) -> Self {
        self.inner.frame_length = n;
        self
    }
    /// The crypto backend for everything this client does (default: [`Backend::default`],
    /// aws-lc when compiled in). Keyrings and materials managers receive it in their requests.
    pub fn backend(mut self, backend: Backend) -> Self {
        self.inner.backend = backend;
        self
    }
    /// Whether the running digest of large signed messages (the footer signature's hash over
    /// the whole message) runs on a thread of its own, beside the encryption and copies of the
    /// thread that drives the message (default: as the [backend](Self::backend) says, off for
    /// the built-in ones). Applied to the backend at [`build`](Self::build), whichever is set
    /// first; see [`Backend::with_pipelined_digest`] for what it changes (only the thread that
    /// hashes: every output byte and the release of plaintext stay the same). Leave it off
    /// where no extra thread is allowed.
    ///
    /// ```
    /// use esdk_std::Client;
    /// let client = Client::builder().pipelined_digest(true).build();
    /// assert!(client.backend().pipelined_digest());
    /// assert!(!Client::builder().build().backend().pipelined_digest());
    /// ```
    pub fn pipelined_digest(mut self, on: bool) -> Self {
        self.pipelined_digest = Some(on);
        self
    }
    /// The randomness for everything this client does (default: the operating system's).
    /// Inject a seeded generator to make tests deterministic.
    pub fn rng(mut self, rng: SharedRng) -> Self {
        self.inner.rng = rng;
        self
    }
    /// The client.
    pub fn build(self) -> Client {
        let mut client = self.inner;
        if let Some(on) = self.pipelined_digest {
            client.backend = client.backend.with_pipelined_digest(on);
        }
        client
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::builder().build()
    }
}

impl Client {
    /// A builder with secure defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder {
            inner: Client {
                commitment_policy: CommitmentPolicy::default(),
                max_encrypted_data_keys: None,
                limits: DecryptLimits::default(),
                frame_length: esdk_core::body::DEFAULT_FRAME_LENGTH,
                backend: Backend::default(),
                rng: SharedRng::default(),
            },
            pipelined_digest: None,
        }
    }
    /// The commitment policy.
    pub fn commitment_policy(&self) -> CommitmentPolicy {
        self.commitment_policy
    }
    /// Decryption limits.
    pub fn decrypt_limits(&self) -> DecryptLimits {
        self.limits
    }
    /// The crypto backend.
    pub fn backend(&self) -> Backend {
        self.backend.clone()
    }
    /// The randomness (a shared handle).
    pub fn rng(&self) -> &SharedRng {
        &self.rng
    }

    pub(crate) fn encryption_request(
        &self,
        opts: &EncryptOptions<'_, impl Mode>,
        len: Option<u64>,
    ) -> Result<EncryptionRequest> {
        if let Some(k) = opts
            .encryption_context
            .keys()
            .find(|k| k.starts_with(RESERVED_PREFIX))
        {
            return Err(Error::Materials(MaterialsError::ReservedContextKey {
                key: k.to_owned(),
            }));
        }
        if let Some(s) = opts.suite {
            self.commitment_policy.check_encrypt(s)?;
        }
        if !opts.non_framed && (opts.frame_length == Some(0) || self.frame_length == 0) {
            return Err(Error::Config(ConfigError::OutOfRange {
                setting: "frame length (1 ..= 2^32 - 1)",
                value: 0,
            }));
        }
        Ok(EncryptionRequest {
            encryption_context: opts.encryption_context.clone(),
            commitment_policy: self.commitment_policy,
            suite: opts.suite,
            max_plaintext_length: len,
            required_encryption_context_keys: Vec::new(),
            backend: self.backend.clone(),
            rng: self.rng.clone(),
        })
    }

    pub(crate) fn encrypt_config(&self, opts: &EncryptOptions<'_, impl Mode>) -> EncryptConfig {
        EncryptConfig::default()
            .with_commitment_policy(self.commitment_policy)
            .with_suite(opts.suite)
            .with_frame_length(opts.frame_length.unwrap_or(self.frame_length))
            .with_max_encrypted_data_keys(self.max_encrypted_data_keys)
            .with_legacy_non_framed(opts.non_framed)
    }

    pub(crate) fn decrypt_config(&self, opts: &DecryptOptions<'_, impl Mode>) -> DecryptConfig {
        DecryptConfig::default()
            .with_commitment_policy(self.commitment_policy)
            .with_signature_policy(if opts.unsigned_only {
                SignaturePolicy::UnsignedOnly
            } else {
                SignaturePolicy::AllowSigned
            })
            .with_limits(self.limits)
    }

    /// Checks what a materials manager returned before it is used (CVE-2026-6550): whoever
    /// produced it, the suite, policy and EDK count must hold.
    pub(crate) fn check_encryption_materials(
        &self,
        req: &EncryptionRequest,
        m: &EncryptionMaterials,
    ) -> Result<()> {
        self.commitment_policy.check_encrypt(m.suite)?;
        if let Some(s) = req.suite {
            if s != m.suite {
                return Err(Error::Materials(MaterialsError::SuiteMismatch {
                    requested: s,
                    returned: m.suite,
                }));
            }
        }
        if let Some(max) = self.max_encrypted_data_keys {
            if m.encrypted_data_keys.len() > usize::from(max) {
                return Err(Error::Core(esdk_core::Error::Limit(
                    esdk_core::error::LimitError {
                        what: esdk_core::error::LimitKind::EncryptedDataKeys,
                        limit: u64::from(max),
                        actual: m.encrypted_data_keys.len() as u64,
                    },
                )));
            }
        }
        Ok(())
    }

    /// Encrypts `plaintext` into one message.
    ///
    /// # Errors
    /// Reserved encryption-context keys, a suite the policy forbids, materials failures, limits.
    pub fn encrypt(&self, plaintext: &[u8], opts: &EncryptOptions<'_>) -> Result<Encrypted> {
        crate::executor::block_on(self.encrypt_async(plaintext, opts))
    }

    /// As [`Client::encrypt`], awaiting asynchronous key providers.
    ///
    /// # Errors
    /// As [`Client::encrypt`].
    pub async fn encrypt_async(
        &self,
        plaintext: &[u8],
        opts: &EncryptOptions<'_, impl Mode>,
    ) -> Result<Encrypted> {
        let mut ciphertext = Vec::new();
        let EncryptedInto { header } = self
            .encrypt_into_async(plaintext, opts, &mut ciphertext)
            .await?;
        Ok(Encrypted { ciphertext, header })
    }

    /// Encrypts `plaintext` into one message written into `out`, whose allocation is reused:
    /// for many messages in a row, or to keep large messages off freshly allocated memory
    /// (whose first-touch page faults cost more than AES-GCM itself).
    ///
    /// `out`'s contents are replaced by the message. Its initialized bytes are overwritten in
    /// place, not zero-filled first; it is zero-extended within its capacity when shorter
    /// than the message, and only a buffer whose capacity is too small is replaced by a new
    /// allocation (the old one wiped first). Reusing one buffer for messages of similar size
    /// therefore allocates and zero-fills nothing after the first, and a buffer reserved at
    /// exactly [`Client::ciphertext_len`] is written without growing. `out` never holds
    /// plaintext; on failure it is empty (its capacity kept).
    ///
    /// With [`EncryptOptions::parallelism`] above 1 the workers write their own output and
    /// `out` receives it (its old allocation wiped and dropped).
    ///
    /// ```
    /// use esdk_std::keyring::RawAesKeyring;
    /// use esdk_std::{Client, DecryptOptions, EncryptOptions};
    ///
    /// let client = Client::default();
    /// let keyring = RawAesKeyring::new("ns", "key", &[7u8; 32])?;
    /// let (mut message, mut plaintext) = (Vec::new(), Vec::new());
    /// for record in [&b"first record"[..], b"second", b"third record"] {
    ///     // Both buffers keep their allocations from one message to the next.
    ///     client.encrypt_into(record, &EncryptOptions::keyring(&keyring), &mut message)?;
    ///     client.decrypt_into(&message, &DecryptOptions::keyring(&keyring), &mut plaintext)?;
    ///     assert_eq!(plaintext, record);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// As [`Client::encrypt`].
    pub fn encrypt_into(
        &self,
        plaintext: &[u8],
        opts: &EncryptOptions<'_>,
        out: &mut Vec<u8>,
    ) -> Result<EncryptedInto> {
        crate::executor::block_on(self.encrypt_into_async(plaintext, opts, out))
    }

    /// As [`Client::encrypt_into`], awaiting asynchronous key providers. `out` is first
    /// touched after the materials arrived, and nothing is awaited after that: a future
    /// dropped before it completes leaves `out` as it was.
    ///
    /// # Errors
    /// As [`Client::encrypt`].
    pub async fn encrypt_into_async(
        &self,
        plaintext: &[u8],
        opts: &EncryptOptions<'_, impl Mode>,
        out: &mut Vec<u8>,
    ) -> Result<EncryptedInto> {
        let workers = crate::parallel::workers_for(opts.parallelism, plaintext.len());
        if workers > 1 {
            let e =
                crate::parallel::encrypt::encrypt_one_shot(self, plaintext, opts, workers).await;
            zeroize::Zeroize::zeroize(out);
            let e = e?;
            *out = e.ciphertext;
            return Ok(EncryptedInto { header: e.header });
        }
        let sealed = self.encrypt_sequential(plaintext, opts, out).await;
        if sealed.is_err() {
            // Ciphertext at most (a failed record is wiped by the engine), but not a message.
            out.clear();
        }
        sealed
    }

    /// [`Client::encrypt_into_async`] on one thread.
    async fn encrypt_sequential(
        &self,
        plaintext: &[u8],
        opts: &EncryptOptions<'_, impl Mode>,
        out: &mut Vec<u8>,
    ) -> Result<EncryptedInto> {
        let req = self.encryption_request(opts, Some(plaintext.len() as u64))?;
        let m = opts.source.encryption_materials(&req).await?;
        self.check_encryption_materials(&req, &m)?;
        let config = self.encrypt_config(opts);
        let hint = body_and_footer_len(m.suite, &config, plaintext.len(), opts.empty_final_frame);
        let mut engine = EncryptEngine::with_output(
            &m,
            config,
            Some(plaintext.len() as u64),
            hint,
            self.backend.clone(),
            self.rng.clone(),
            out,
        )?;
        engine.set_empty_final_frame(opts.empty_final_frame);
        let sealed = engine.push(plaintext).and_then(|()| engine.finish());
        let (ciphertext, header) = engine.into_output();
        *out = ciphertext;
        sealed.map(|()| EncryptedInto { header })
    }

    /// Decrypts one complete message.
    ///
    /// # Errors
    /// Any must-fail condition of the format, materials failures, trailing data, truncation.
    pub fn decrypt(&self, ciphertext: &[u8], opts: &DecryptOptions<'_>) -> Result<Decrypted> {
        crate::executor::block_on(self.decrypt_async(ciphertext, opts))
    }

    /// As [`Client::decrypt`], awaiting asynchronous key providers.
    ///
    /// # Errors
    /// As [`Client::decrypt`].
    pub async fn decrypt_async(
        &self,
        ciphertext: &[u8],
        opts: &DecryptOptions<'_, impl Mode>,
    ) -> Result<Decrypted> {
        let mut plaintext = Vec::new();
        let DecryptedInto {
            header,
            encryption_context,
        } = self
            .decrypt_into_async(ciphertext, opts, &mut plaintext)
            .await?;
        Ok(Decrypted {
            plaintext,
            header,
            encryption_context,
        })
    }

    /// Decrypts one complete message into `out`, whose allocation is reused (see
    /// [`Client::encrypt_into`] for an example).
    ///
    /// `out`'s contents are replaced by the plaintext, and only once the whole message is
    /// authenticated (signature included): each frame is opened straight into `out`, a frame
    /// whose tag fails is wiped at once, and on **any** error every byte this call wrote into
    /// `out` is wiped and `out` is left empty (capacity kept), so no unauthenticated
    /// plaintext is ever visible in it. Its initialized bytes are overwritten rather than
    /// zero-filled; it is zero-extended within its capacity when shorter than the ciphertext
    /// (which bounds the plaintext), and only a buffer whose capacity is too small is replaced
    /// by a new allocation (the old one wiped first). Bytes beyond the result's length, in its
    /// spare capacity, hold nothing of this message; what the buffer held there before is left
    /// as it was (wipe it with `zeroize` between messages if that matters to you).
    ///
    /// With [`DecryptOptions::parallelism`] above 1 the workers assemble their own result and
    /// `out` receives it (its old allocation wiped and dropped).
    ///
    /// # Errors
    /// As [`Client::decrypt`].
    pub fn decrypt_into(
        &self,
        ciphertext: &[u8],
        opts: &DecryptOptions<'_>,
        out: &mut Vec<u8>,
    ) -> Result<DecryptedInto> {
        crate::executor::block_on(self.decrypt_into_async(ciphertext, opts, out))
    }

    /// As [`Client::decrypt_into`], awaiting asynchronous key providers. If the future is
    /// dropped before it completes, `out` is left empty (the allocation it held is wiped
    /// and freed with the unfinished decryption).
    ///
    /// # Errors
    /// As [`Client::decrypt`].
    pub async fn decrypt_into_async(
        &self,
        ciphertext: &[u8],
        opts: &DecryptOptions<'_, impl Mode>,
        out: &mut Vec<u8>,
    ) -> Result<DecryptedInto> {
        let workers = crate::parallel::workers_for(opts.parallelism, ciphertext.len());
        if workers > 1 {
            let d =
                crate::parallel::decrypt::decrypt_one_shot(self, ciphertext, opts, workers).await;
            zeroize::Zeroize::zeroize(out);
            let d = d?;
            *out = d.plaintext;
            return Ok(DecryptedInto {
                header: d.header,
                encryption_context: d.encryption_context,
            });
        }
        // The engine never holds more than the message (it is fed exactly what it asks for,
        // from the message): capping its buffer there keeps a small message's buffer, zero-
        // filled once and wiped on drop, at the message's size instead of the 4 KiB minimum.
        let engine = DecryptEngine::new(
            self.decrypt_config(opts),
            opts.reproduced_encryption_context.clone(),
            ciphertext.len(),
            self.backend.clone(),
        );
        let mut one_shot = crate::stream::one_shot::OneShotDecrypt::with_output(
            engine,
            ciphertext,
            std::mem::take(out),
        );
        let ran: Result<()> = async {
            while let crate::stream::one_shot::OneShotStep::NeedMaterials(req) = one_shot.run()? {
                let m = opts.source.decryption_materials(&req).await?;
                one_shot.set_materials(m);
            }
            Ok(())
        }
        .await;
        if let Err(e) = ran {
            *out = one_shot.into_wiped_output();
            return Err(e);
        }
        if !one_shot.is_done() {
            *out = one_shot.into_wiped_output();
            return Err(Error::Internal(
                "one-shot decryption stopped before the end",
            ));
        }
        let (plaintext, mut engine) = one_shot.into_parts()?;
        *out = plaintext;
        let (header, encryption_context) = engine.take_header_and_context();
        let Some(header) = header else {
            zeroize::Zeroize::zeroize(out.as_mut_slice());
            out.clear();
            return Err(Error::Internal("decrypt finished without a header"));
        };
        Ok(DecryptedInto {
            header,
            encryption_context: encryption_context.unwrap_or_default(),
        })
    }

    /// Parses the header of a message without any key. Nothing in it is authenticated.
    ///
    /// # Errors
    /// A malformed or truncated header.
    pub fn parse_header(&self, message: &[u8]) -> Result<Header> {
        let opts = esdk_core::header::ParseOptions {
            commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
            signature_policy: SignaturePolicy::AllowSigned,
            limits: self.limits,
        };
        Ok(Header::from(&HeaderRef::parse(message, &opts)?.0))
    }

    /// The exact ciphertext length of an encryption, from the suite, the EDKs and full
    /// encryption context the materials will carry (for signed suites including the
    /// `aws-crypto-public-key` entry, 44 or 68 characters) and the frame length.
    ///
    /// # Errors
    /// Overflow, or an encryption context that cannot be serialized.
    pub fn ciphertext_len(
        &self,
        suite: AlgorithmSuite,
        encrypted_data_keys: &[EncryptedDataKey],
        encryption_context: &EncryptionContext,
        frame_length: u32,
        plaintext_len: u64,
    ) -> Result<u64> {
        let ec_len = esdk_core::encryption_context::serialized_len(encryption_context.iter())?;
        let edks = encrypted_data_keys.iter().map(|e| e.as_ref());
        Ok(esdk_core::ciphertext_len(
            suite,
            edks.map(|e: EdkRef<'_>| e),
            ec_len,
            frame_length,
            plaintext_len,
        )?)
    }
}
