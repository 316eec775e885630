//! Streaming driver for live interoperability with another ESDK (`interop/js/run_js_interop.sh`).
//!
//! `esdk-test-vectors stream-encrypt` and `stream-decrypt` move a message between standard
//! input and standard output through one of the four streaming adapters of `esdk-std`, with a raw
//! AES-256 keyring (namespace [`NAMESPACE`], name [`KEY_NAME`]) that the peer builds from the same
//! key. Nothing is buffered beyond what the adapter itself holds, so a peer can pipe messages of
//! any size through it.

use std::io::{self, BufWriter, Write};

use anyhow::{Context as _, anyhow, bail};
use esdk_std::keyring::RawAesKeyring;
use esdk_std::stream::io::{
    DecryptingReader, DecryptingWriter, EncryptingReader, EncryptingWriter,
};
use esdk_std::stream::tokio::{
    AsyncDecryptingReader, AsyncDecryptingWriter, AsyncEncryptingReader, AsyncEncryptingWriter,
};
use esdk_std::{
    AlgorithmSuite, Client, CommitmentPolicy, DecryptOptions, EncryptOptions, EncryptionContext,
    Header,
};
use tokio::io::AsyncWriteExt as _;

/// EDK provider id of the streaming key.
pub const NAMESPACE: &str = "esdk-interop";
/// EDK provider info (key name) of the streaming key.
pub const KEY_NAME: &str = "stream-key";

/// Which `esdk-std` adapter carries the stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adapter {
    /// `std::io` writer (`EncryptingWriter` / `DecryptingWriter`).
    IoWriter,
    /// `std::io` reader (`EncryptingReader` / `DecryptingReader`).
    IoReader,
    /// tokio writer (`AsyncEncryptingWriter` / `AsyncDecryptingWriter`).
    TokioWriter,
    /// tokio reader (`AsyncEncryptingReader` / `AsyncDecryptingReader`).
    TokioReader,
}

impl Adapter {
    /// Parses `io-writer`, `io-reader`, `tokio-writer`, `tokio-reader`.
    ///
    /// # Errors
    /// Any other name.
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        Ok(match s {
            "io-writer" => Self::IoWriter,
            "io-reader" => Self::IoReader,
            "tokio-writer" => Self::TokioWriter,
            "tokio-reader" => Self::TokioReader,
            _ => bail!("unknown adapter {s:?} (io-writer, io-reader, tokio-writer, tokio-reader)"),
        })
    }
}

/// Options of `stream-encrypt` / `stream-decrypt`.
#[derive(Debug)]
pub struct StreamOptions {
    /// The adapter.
    pub adapter: Adapter,
    /// The 32-byte wrapping key.
    pub key: Vec<u8>,
    /// Frame length (encrypt).
    pub frame_length: u32,
    /// Suite (encrypt).
    pub suite: AlgorithmSuite,
    /// Encryption context pairs the message must carry (decrypt checks them, encrypt writes them).
    pub context: Vec<(String, String)>,
}

/// Parses a hex AES-256 key.
///
/// # Errors
/// Not 64 hex digits.
pub fn parse_key(hex_key: &str) -> anyhow::Result<Vec<u8>> {
    let key = hex::decode(hex_key).context("--key-hex")?;
    if key.len() != 32 {
        bail!(
            "--key-hex must be 32 bytes (64 hex digits), got {}",
            key.len()
        );
    }
    Ok(key)
}

fn client_for(suite: AlgorithmSuite) -> Client {
    let policy = if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    };
    Client::builder().commitment_policy(policy).build()
}

fn context(o: &StreamOptions) -> EncryptionContext {
    o.context
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().build()?)
}

/// Encrypts standard input to standard output.
///
/// # Errors
/// Keyring, I/O and encryption failures.
pub fn encrypt(o: &StreamOptions) -> anyhow::Result<()> {
    let keyring = RawAesKeyring::new(NAMESPACE, KEY_NAME, &o.key)?;
    let client = client_for(o.suite);
    let opts = EncryptOptions::keyring(&keyring)
        .suite(o.suite)
        .frame_length(o.frame_length)
        .encryption_context(context(o));
    match o.adapter {
        Adapter::IoWriter => {
            let mut w = EncryptingWriter::new(&client, &opts, stdout())?;
            io::copy(&mut io::stdin().lock(), &mut w)?;
            w.finish()?.flush()?;
        }
        Adapter::IoReader => {
            let mut r = EncryptingReader::new(&client, &opts, io::stdin().lock())?;
            let mut out = stdout();
            io::copy(&mut r, &mut out)?;
            out.flush()?;
        }
        Adapter::TokioWriter => runtime()?.block_on(async {
            let mut w = AsyncEncryptingWriter::new(&client, &opts, tokio::io::stdout()).await?;
            tokio::io::copy(&mut tokio::io::stdin(), &mut w).await?;
            w.shutdown().await?;
            anyhow::Ok(())
        })?,
        Adapter::TokioReader => runtime()?.block_on(async {
            let mut r = AsyncEncryptingReader::new(&client, &opts, tokio::io::stdin()).await?;
            let mut out = tokio::io::stdout();
            tokio::io::copy(&mut r, &mut out).await?;
            out.flush().await?;
            anyhow::Ok(())
        })?,
    }
    Ok(())
}

/// Standard output with a 64 KiB buffer (Rust's own flushes at every newline byte). Locked
/// only on the `std::io` paths: tokio's stdin/stdout lock the same handles from their threads.
fn stdout() -> BufWriter<io::StdoutLock<'static>> {
    BufWriter::with_capacity(64 * 1024, io::stdout().lock())
}

/// Decrypts standard input to standard output and checks the header against the options (suite
/// and frame length when given, the context pairs).
///
/// # Errors
/// Keyring, I/O and decryption failures (the plaintext written so far must then be discarded),
/// or a header that differs from what was expected.
pub fn decrypt(o: &StreamOptions, expect_suite: Option<AlgorithmSuite>) -> anyhow::Result<()> {
    let keyring = RawAesKeyring::new(NAMESPACE, KEY_NAME, &o.key)?;
    let client = Client::builder()
        .commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
        .build();
    let opts = DecryptOptions::keyring(&keyring);
    let header = match o.adapter {
        Adapter::IoReader => {
            let mut r = DecryptingReader::new(&client, &opts, io::stdin().lock())?;
            let mut out = stdout();
            io::copy(&mut r, &mut out)?;
            out.flush()?;
            r.header().cloned()
        }
        Adapter::IoWriter => {
            let mut w = DecryptingWriter::new(&client, &opts, stdout());
            io::copy(&mut io::stdin().lock(), &mut w)?;
            let header = w.header().cloned();
            w.finish()?.flush()?;
            header
        }
        Adapter::TokioReader => runtime()?.block_on(async {
            let mut r = AsyncDecryptingReader::new(&client, &opts, tokio::io::stdin()).await?;
            let mut out = tokio::io::stdout();
            tokio::io::copy(&mut r, &mut out).await?;
            out.flush().await?;
            anyhow::Ok(r.header().cloned())
        })?,
        Adapter::TokioWriter => runtime()?.block_on(async {
            let mut w = AsyncDecryptingWriter::new(&client, &opts, tokio::io::stdout());
            tokio::io::copy(&mut tokio::io::stdin(), &mut w).await?;
            w.shutdown().await?;
            anyhow::Ok(w.header().cloned())
        })?,
    };
    let header = header.ok_or_else(|| anyhow!("the message ended before its header"))?;
    check_header(&header, o, expect_suite)
}

fn check_header(
    h: &Header,
    o: &StreamOptions,
    suite: Option<AlgorithmSuite>,
) -> anyhow::Result<()> {
    if let Some(s) = suite
        && h.suite != s
    {
        bail!("suite {:#06x}, expected {:#06x}", h.suite.id(), s.id());
    }
    if o.frame_length != 0 && h.frame_length != o.frame_length {
        bail!(
            "frame length {}, expected {}",
            h.frame_length,
            o.frame_length
        );
    }
    for (k, v) in &o.context {
        if h.encryption_context.get(k) != Some(v.as_str()) {
            bail!("the encryption context lacks the pair {k:?}: {v:?}");
        }
    }
    Ok(())
}

/// The process's peak resident set size in KiB (`VmHWM` of `/proc/self/status`), where the
/// platform reports it. The streaming interop script checks it against the message size.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
