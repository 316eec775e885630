//! Shared test drivers for the core state machines.
#![allow(
    dead_code,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::std_instead_of_core
)]

use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::crypto::{AeadKey, CryptoProvider, Gmac, RunningDigest};
use esdk_core::decrypt::{DecryptState, MaterialsRequest};
use esdk_core::edk::EdkRef;
use esdk_core::encryption_context::{EncryptionContext, EncryptionContextRef, PUBLIC_KEY_FIELD};
use esdk_core::keys::MAX_PUBLIC_KEY_B64_LEN;
use esdk_core::suite::{HashAlg, Kdf};
use esdk_core::{
    AlgorithmSuite, CommitmentPolicy, DataKey, DecryptConfig, DecryptionMaterialsRef, Decryptor,
    EncryptConfig, EncryptionMaterialsRef, Encryptor, Error, RawAesKey, SigningKey, VecInput,
};
use std::ops::Range;

/// What a decryption produced, for comparisons across chunkings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub plaintext: Vec<u8>,
    /// Non-`NeedInput` states in order ("materials", "header", "plaintext", "done").
    pub states: Vec<&'static str>,
    pub result: Result<(), Error>,
    /// Plaintext released in chunks, for must-fail checks.
    pub chunks: Vec<Vec<u8>>,
}

pub enum Key<'a> {
    /// A data key given directly.
    Data(&'a DataKey),
    /// Raw AES keyring: namespace, key name, wrapping key.
    RawAes(&'a str, &'a [u8], &'a [u8]),
    /// The test answers the materials request itself (provide, abort or drop).
    Custom(&'a dyn Fn(MaterialsRequest<'_, RustCrypto>) -> Result<(), Error>),
}

/// How a [`drive`] run ended, beyond its [`Outcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Run {
    pub outcome: Outcome,
    /// Message bytes handed to the decryptor when the run ended.
    pub fed: usize,
    /// `Some(min_len)` when the run stopped because every byte was fed, end of input was not
    /// signalled and the decryptor asked for more.
    pub waiting: Option<usize>,
}

/// Decrypts `msg`, feeding chunks whose sizes come from `next_chunk` (called with the
/// machine's `min_len` hint and the current buffered length).
pub fn decrypt_chunked(
    msg: &[u8],
    key: Key<'_>,
    config: DecryptConfig,
    next_chunk: impl FnMut(usize, usize) -> usize,
) -> Outcome {
    drive(msg, key, config, next_chunk, true).outcome
}

/// The general driver behind [`decrypt_chunked`]. With `signal_eof = false` the end of `msg`
/// is never announced: the run stops at the first error, at `Done`, or when the decryptor waits
/// for bytes that will not come (see [`Run::waiting`]).
pub fn drive(
    msg: &[u8],
    key: Key<'_>,
    config: DecryptConfig,
    mut next_chunk: impl FnMut(usize, usize) -> usize,
    signal_eof: bool,
) -> Run {
    let mut dec = Decryptor::new(RustCrypto, config);
    let mut input = VecInput::new(usize::MAX);
    let mut fed = 0usize;
    let mut out = Outcome {
        plaintext: vec![],
        states: vec![],
        result: Ok(()),
        chunks: vec![],
    };
    let mut guard = 0u64;
    loop {
        guard += 1;
        assert!(guard < 50_000_000, "decryptor made no progress");
        let eof = signal_eof && fed == msg.len();
        if eof && !input.is_eof() {
            input.set_eof();
        }
        let mut feed: Option<usize> = None;
        {
            match input.process(&mut dec) {
                Ok(DecryptState::NeedInput { min_len }) => {
                    assert!(!eof, "NeedInput at end of input");
                    if fed == msg.len() {
                        return Run {
                            outcome: out,
                            fed,
                            waiting: Some(min_len),
                        };
                    }
                    feed = Some(min_len);
                }
                Ok(DecryptState::NeedMaterials(req)) => {
                    out.states.push("materials");
                    let suite = req.suite();
                    let res = match &key {
                        Key::Data(dk) => req.provide(&DecryptionMaterialsRef::new(suite, dk)),
                        Key::RawAes(ns, name, wk) => {
                            let ec = req.encryption_context_unverified();
                            let key = RawAesKey::new(ns, name, wk).unwrap();
                            let found = key
                                .unwrap_any(&RustCrypto, &ec, req.encrypted_data_keys())
                                .ok()
                                .flatten();
                            match found {
                                Some(dk) => req.provide(&DecryptionMaterialsRef::new(suite, &dk)),
                                None => {
                                    req.abort();
                                    Err(Error::Usage(esdk_core::error::UsageError::Aborted))
                                }
                            }
                        }
                        Key::Custom(answer) => answer(req),
                    };
                    if let Err(e) = res {
                        out.result = Err(e);
                        return Run {
                            outcome: out,
                            fed,
                            waiting: None,
                        };
                    }
                }
                Ok(DecryptState::HeaderVerified(_)) => out.states.push("header"),
                Ok(DecryptState::Plaintext(p)) => {
                    out.states.push("plaintext");
                    out.plaintext.extend_from_slice(&p);
                    out.chunks.push(p.to_vec());
                }
                Ok(DecryptState::Done) => {
                    out.states.push("done");
                    return Run {
                        outcome: out,
                        fed,
                        waiting: None,
                    };
                }
                Ok(_) => unreachable!(),
                Err(e) => {
                    out.result = Err(e);
                    return Run {
                        outcome: out,
                        fed,
                        waiting: None,
                    };
                }
            }
        }
        if let Some(min_len) = feed {
            let buffered = input.buffered();
            assert!(
                min_len > buffered,
                "min_len {min_len} <= buffered {buffered}"
            );
            let n = next_chunk(min_len, buffered).max(1).min(msg.len() - fed);
            input.push(&msg[fed..fed + n]).unwrap();
            fed += n;
        }
    }
}

/// Decrypts with everything fed at once.
pub fn decrypt_all(msg: &[u8], key: Key<'_>, config: DecryptConfig) -> Outcome {
    decrypt_chunked(msg, key, config, |_, _| usize::MAX)
}

pub fn allow_all() -> DecryptConfig {
    DecryptConfig::default().with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
}

/// A policy that allows encrypting `suite`.
pub fn policy_for(suite: AlgorithmSuite) -> CommitmentPolicy {
    if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    }
}

/// Encrypts `pt` with a raw AES key (namespace "ns", key name "key"), the given pairs and
/// frame length; returns the message and the data key.
pub fn encrypt(
    suite: AlgorithmSuite,
    frame_length: u32,
    pt: &[u8],
    pairs: &[(&str, &str)],
    wrapping_key: &[u8],
) -> Vec<u8> {
    encrypt_with(suite, frame_length, pt, pairs, wrapping_key, false)
}

pub fn encrypt_with(
    suite: AlgorithmSuite,
    frame_length: u32,
    pt: &[u8],
    pairs: &[(&str, &str)],
    wrapping_key: &[u8],
    non_framed: bool,
) -> Vec<u8> {
    let p = RustCrypto;
    let mut rng = rand_core::OsRng;
    let mut ec: EncryptionContext = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let sk = suite
        .signature()
        .map(|alg| SigningKey::generate(&p, alg, &mut rng).unwrap());
    if let Some(sk) = &sk {
        ec.insert(PUBLIC_KEY_FIELD, public_key_b64(sk));
    }
    let ec_bytes = ec.serialize().unwrap();
    let ec_ref = EncryptionContextRef::parse(&ec_bytes).unwrap();
    let dk = DataKey::generate(suite, &mut rng).unwrap();
    let key = RawAesKey::new("ns", b"key", wrapping_key).unwrap();
    let mut wrapped = [0u8; 128];
    let edks = [key.wrap(&p, &ec_ref, &dk, &mut rng, &mut wrapped).unwrap()];
    let materials = EncryptionMaterialsRef::new(suite, &dk, &edks)
        .with_encryption_context(ec_ref)
        .with_signing_key(sk.as_ref());
    seal_message(materials, frame_length, non_framed, pt)
}

/// The base64 `aws-crypto-public-key` value of a signing key.
pub fn public_key_b64(sk: &SigningKey) -> String {
    let vk = sk.public_key(&RustCrypto).unwrap();
    let mut b = [0u8; MAX_PUBLIC_KEY_B64_LEN];
    vk.to_base64(&mut b).to_string()
}

/// Runs the encryptor typestate over `pt` with the given materials: regular frames while more
/// than a frame is left, then `finish` with the rest (a full final frame for exact multiples).
pub fn seal_message(
    materials: EncryptionMaterialsRef<'_>,
    frame_length: u32,
    non_framed: bool,
    pt: &[u8],
) -> Vec<u8> {
    let mut rng = rand_core::OsRng;
    let suite = materials.suite;
    let config = EncryptConfig::default()
        .with_commitment_policy(policy_for(suite))
        .with_suite(Some(suite))
        .with_frame_length(frame_length)
        .with_legacy_non_framed(non_framed);
    let enc = Encryptor::new(RustCrypto, config).unwrap();
    let ready = enc.provide(materials, &mut rng).unwrap();
    let mut out = vec![0u8; ready.header_len()];
    let (mut frames, n) = ready.write_header(&mut out).unwrap();
    assert_eq!(n, out.len());
    let f = frame_length as usize;
    let mut rest = pt;
    if !non_framed {
        while rest.len() > f {
            let (chunk, tail) = rest.split_at(f);
            let start = out.len();
            out.resize(start + frames.sealed_frame_len(), 0);
            frames.seal_frame(chunk, &mut out[start..]).unwrap();
            rest = tail;
        }
    }
    let start = out.len();
    out.resize(start + frames.finish_len(rest.len()), 0);
    frames.finish(rest, &mut out[start..], &mut rng).unwrap();
    out
}

/// A message encrypted with a data key the test knows.
#[derive(Debug)]
pub struct Encrypted {
    pub msg: Vec<u8>,
    pub data_key: DataKey,
    pub signing_key: Option<SigningKey>,
    /// The full encryption context of the materials (stored, required and public key).
    pub ec: EncryptionContext,
}

/// What to encrypt with [`encrypt_known`].
#[derive(Debug, Clone, Copy)]
pub struct Spec<'a> {
    pub suite: AlgorithmSuite,
    pub frame_length: u32,
    pub non_framed: bool,
    pub pairs: &'a [(&'a str, &'a str)],
    /// Keys of `pairs` that are authenticated but not stored.
    pub required: &'a [&'a str],
}

impl<'a> Spec<'a> {
    pub fn new(suite: AlgorithmSuite, frame_length: u32) -> Self {
        Self {
            suite,
            frame_length,
            non_framed: false,
            pairs: &[],
            required: &[],
        }
    }
    pub fn pairs(self, pairs: &'a [(&'a str, &'a str)]) -> Self {
        Self { pairs, ..self }
    }
    pub fn non_framed(self) -> Self {
        Self {
            non_framed: true,
            frame_length: 0,
            ..self
        }
    }
    pub fn required(self, required: &'a [&'a str]) -> Self {
        Self { required, ..self }
    }
}

/// Encrypts through the core API with a fresh data key the caller gets back (one opaque EDK,
/// provider "ns"). Decrypt with `Key::Data(&e.data_key)`.
pub fn encrypt_known(spec: Spec<'_>, pt: &[u8]) -> Encrypted {
    let p = RustCrypto;
    let mut rng = rand_core::OsRng;
    let suite = spec.suite;
    let mut ec: EncryptionContext = spec
        .pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let sk = suite
        .signature()
        .map(|alg| SigningKey::generate(&p, alg, &mut rng).unwrap());
    if let Some(sk) = &sk {
        ec.insert(PUBLIC_KEY_FIELD, public_key_b64(sk));
    }
    let ec_bytes = ec.serialize().unwrap();
    let ec_ref = EncryptionContextRef::parse(&ec_bytes).unwrap();
    let dk = DataKey::generate(suite, &mut rng).unwrap();
    let edks = [EdkRef {
        provider_id: "ns",
        provider_info: b"key",
        ciphertext: &[0xE0; 48],
    }];
    let materials = EncryptionMaterialsRef::new(suite, &dk, &edks)
        .with_encryption_context(ec_ref)
        .with_required_encryption_context_keys(spec.required)
        .with_signing_key(sk.as_ref());
    let msg = seal_message(materials, spec.frame_length, spec.non_framed, pt);
    Encrypted {
        msg,
        data_key: dk,
        signing_key: sk,
        ec,
    }
}

/// A deterministic test plaintext.
pub fn plaintext(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 + 7) as u8).collect()
}

// ---------------------------------------------------------------------------------------------
// Byte layout, computed from the format description (spec-digest §2) independently of the parser.

/// Offsets of the header fields of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderLayout {
    pub version: u8,
    pub suite_at: usize,
    pub suite: u16,
    pub message_id: Range<usize>,
    pub aad_len_at: usize,
    pub aad: Range<usize>,
    pub edk_count_at: usize,
    pub edks: Range<usize>,
    pub content_type_at: usize,
    /// v1 only.
    pub reserved_at: Option<usize>,
    /// v1 only.
    pub iv_len_at: Option<usize>,
    pub frame_length_at: usize,
    pub frame_length: u32,
    /// v2 only: the commit key.
    pub suite_data: Option<Range<usize>>,
    pub body_end: usize,
    /// v1 only: the header IV.
    pub header_iv: Option<Range<usize>>,
    pub tag: Range<usize>,
    pub len: usize,
}

fn be16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[at], b[at + 1]]))
}
fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

pub fn header_layout(msg: &[u8]) -> HeaderLayout {
    let version = msg[0];
    let v1 = version == 1;
    let suite_at = if v1 { 2 } else { 1 };
    let suite = be16(msg, suite_at) as u16;
    let id_len = if v1 { 16 } else { 32 };
    let message_id = suite_at + 2..suite_at + 2 + id_len;
    let aad_len_at = message_id.end;
    let aad = aad_len_at + 2..aad_len_at + 2 + be16(msg, aad_len_at);
    let edk_count_at = aad.end;
    let mut pos = edk_count_at + 2;
    for _ in 0..be16(msg, edk_count_at) {
        for _ in 0..3 {
            pos += 2 + be16(msg, pos);
        }
    }
    let edks = edk_count_at + 2..pos;
    let content_type_at = pos;
    pos += 1;
    let (reserved_at, iv_len_at) = if v1 {
        pos += 5;
        (Some(pos - 5), Some(pos - 1))
    } else {
        (None, None)
    };
    let frame_length_at = pos;
    let frame_length = be32(msg, pos);
    pos += 4;
    let suite_data = (!v1).then(|| pos..pos + 32);
    if !v1 {
        pos += 32;
    }
    let body_end = pos;
    let header_iv = v1.then(|| pos..pos + 12);
    if v1 {
        pos += 12;
    }
    let tag = pos..pos + 16;
    HeaderLayout {
        version,
        suite_at,
        suite,
        message_id,
        aad_len_at,
        aad,
        edk_count_at,
        edks,
        content_type_at,
        reserved_at,
        iv_len_at,
        frame_length_at,
        frame_length,
        suite_data,
        body_end,
        header_iv,
        tag: tag.clone(),
        len: tag.end,
    }
}

/// One frame (or the non-framed body) of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameLayout {
    pub range: Range<usize>,
    pub is_final: bool,
    /// Where the plaintext length field is (final frames and non-framed bodies).
    pub len_at: Option<usize>,
    pub iv: Range<usize>,
    pub content: Range<usize>,
    pub tag: Range<usize>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    pub header: HeaderLayout,
    pub frames: Vec<FrameLayout>,
    /// Empty for unsigned suites.
    pub footer: Range<usize>,
}

impl Layout {
    pub fn final_frame(&self) -> &FrameLayout {
        self.frames.last().unwrap()
    }
    pub fn regular_frames(&self) -> &[FrameLayout] {
        &self.frames[..self.frames.len() - 1]
    }
}

/// Walks a well-formed message.
pub fn layout(msg: &[u8]) -> Layout {
    let header = header_layout(msg);
    let non_framed = msg[header.content_type_at] == 1;
    let mut frames = vec![];
    let mut pos = header.len;
    if non_framed {
        let len = u64::from_be_bytes(msg[pos + 12..pos + 20].try_into().unwrap()) as usize;
        let end = pos + 36 + len;
        frames.push(FrameLayout {
            range: pos..end,
            is_final: true,
            len_at: Some(pos + 12),
            iv: pos..pos + 12,
            content: pos + 20..end - 16,
            tag: end - 16..end,
        });
        pos = end;
    } else {
        loop {
            if be32(msg, pos) == 0xFFFF_FFFF {
                let len = be32(msg, pos + 20) as usize;
                let end = pos + 40 + len;
                frames.push(FrameLayout {
                    range: pos..end,
                    is_final: true,
                    len_at: Some(pos + 20),
                    iv: pos + 8..pos + 20,
                    content: pos + 24..end - 16,
                    tag: end - 16..end,
                });
                pos = end;
                break;
            }
            let end = pos + 32 + header.frame_length as usize;
            frames.push(FrameLayout {
                range: pos..end,
                is_final: false,
                len_at: None,
                iv: pos + 4..pos + 16,
                content: pos + 16..end - 16,
                tag: end - 16..end,
            });
            pos = end;
        }
    }
    let footer = pos..msg.len();
    if AlgorithmSuite::from_id(header.suite).unwrap().is_signed() {
        assert_eq!(footer.len(), 2 + be16(msg, pos), "footer length");
    } else {
        assert!(footer.is_empty(), "bytes after the body");
    }
    Layout {
        header,
        frames,
        footer,
    }
}

// ---------------------------------------------------------------------------------------------
// Forge: builds messages field by field with correct tags and signatures, so that tests can
// produce messages that are authenticated but break one structural rule (or that exercise
// what the core's encryptor never writes: stored IVs that are not the sequence number,
// unsorted contexts, `00 00` contexts, non-zero v1 header IVs).

/// The IV the encryptor writes for frame `seq`.
pub fn seq_iv(seq: u32) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[8..].copy_from_slice(&seq.to_be_bytes());
    iv
}

/// Serializes pairs exactly in the order given (no sorting, duplicates allowed).
pub fn ec_bytes_raw(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
    if pairs.is_empty() {
        return vec![];
    }
    let mut out = (pairs.len() as u16).to_be_bytes().to_vec();
    for (k, v) in pairs {
        out.extend_from_slice(&(k.len() as u16).to_be_bytes());
        out.extend_from_slice(k);
        out.extend_from_slice(&(v.len() as u16).to_be_bytes());
        out.extend_from_slice(v);
    }
    out
}

/// Canonical serialization.
pub fn ec_bytes(pairs: &[(&str, &str)]) -> Vec<u8> {
    let ec: EncryptionContext = pairs.iter().copied().collect();
    ec.serialize().unwrap()
}

pub fn edk_entry(provider_id: &[u8], info: &[u8], ct: &[u8]) -> Vec<u8> {
    let mut out = vec![];
    for f in [provider_id, info, ct] {
        out.extend_from_slice(&(f.len() as u16).to_be_bytes());
        out.extend_from_slice(f);
    }
    out
}

#[derive(Debug, Clone)]
pub struct Forge {
    pub suite: AlgorithmSuite,
    pub data_key: DataKey,
    pub message_id: Vec<u8>,
    /// The stored AAD field, raw.
    pub aad: Vec<u8>,
    pub edk_count: u16,
    /// Serialized EDK entries, raw.
    pub edks: Vec<u8>,
    pub content_type: u8,
    pub reserved: [u8; 4],
    pub iv_len: u8,
    pub frame_length: u32,
    /// v1: the stored header IV, which is also the IV of the header tag.
    pub header_iv: [u8; 12],
    /// v2: replaces the computed commit key.
    pub suite_data: Option<Vec<u8>>,
    /// Appended to the header-auth AAD (serialized required encryption context).
    pub auth_tail: Vec<u8>,
    pub signing_key: Option<SigningKey>,
}

type AeadKeyOf = <RustCrypto as CryptoProvider>::AeadKey;

impl Forge {
    /// A well-formed framed message plan with canonical context `pairs` (plus the public key
    /// for signed suites), one EDK and a random data key and message id.
    pub fn new(suite: AlgorithmSuite, frame_length: u32, pairs: &[(&str, &str)]) -> Self {
        let p = RustCrypto;
        let mut rng = rand_core::OsRng;
        let signing_key = suite
            .signature()
            .map(|alg| SigningKey::generate(&p, alg, &mut rng).unwrap());
        let mut ec: EncryptionContext = pairs.iter().copied().collect();
        if let Some(sk) = &signing_key {
            ec.insert(PUBLIC_KEY_FIELD, public_key_b64(sk));
        }
        let mut message_id = vec![0u8; suite.message_format_version().message_id_len()];
        rand_core::RngCore::fill_bytes(&mut rng, &mut message_id);
        Self {
            suite,
            data_key: DataKey::generate(suite, &mut rng).unwrap(),
            message_id,
            aad: ec.serialize().unwrap(),
            edk_count: 1,
            edks: edk_entry(b"ns", b"key", &[0xE0; 48]),
            content_type: 2,
            reserved: [0; 4],
            iv_len: 12,
            frame_length,
            header_iv: [0; 12],
            suite_data: None,
            auth_tail: vec![],
            signing_key,
        }
    }

    pub fn is_v1(&self) -> bool {
        !self.suite.is_committing()
    }

    /// Encryption key and commit key (spec-digest §1.1), computed with the provider primitives.
    pub fn keys(&self) -> (AeadKeyOf, Option<[u8; 32]>) {
        let p = RustCrypto;
        let dk = self.data_key.as_bytes();
        let id = self.suite.id().to_be_bytes();
        let mut key = vec![0u8; self.suite.key_len()];
        let commit = match self.suite.kdf() {
            Kdf::Identity => {
                key.copy_from_slice(dk);
                None
            }
            Kdf::Hkdf(h) => {
                p.hkdf(h, &[], dk, &[&id, &self.message_id], &mut key)
                    .unwrap();
                None
            }
            Kdf::CommittingHkdfSha512 => {
                let mut c = [0u8; 32];
                p.hkdf(
                    HashAlg::Sha512,
                    &self.message_id,
                    dk,
                    &[&id, b"DERIVEKEY"],
                    &mut key,
                )
                .unwrap();
                p.hkdf(
                    HashAlg::Sha512,
                    &self.message_id,
                    dk,
                    &[b"COMMITKEY"],
                    &mut c,
                )
                .unwrap();
                Some(c)
            }
        };
        (p.aead_key(&key).unwrap(), commit)
    }

    pub fn header_body(&self) -> Vec<u8> {
        let mut h = vec![];
        if self.is_v1() {
            h.extend_from_slice(&[1, 0x80]);
        } else {
            h.push(2);
        }
        h.extend_from_slice(&self.suite.id().to_be_bytes());
        h.extend_from_slice(&self.message_id);
        h.extend_from_slice(&(self.aad.len() as u16).to_be_bytes());
        h.extend_from_slice(&self.aad);
        h.extend_from_slice(&self.edk_count.to_be_bytes());
        h.extend_from_slice(&self.edks);
        h.push(self.content_type);
        if self.is_v1() {
            h.extend_from_slice(&self.reserved);
            h.push(self.iv_len);
        }
        h.extend_from_slice(&self.frame_length.to_be_bytes());
        if !self.is_v1() {
            let commit = self.keys().1.unwrap();
            h.extend_from_slice(self.suite_data.as_deref().unwrap_or(&commit));
        }
        h
    }

    /// Header body and authentication (tag over body ‖ auth_tail).
    pub fn header(&self) -> Vec<u8> {
        let mut h = self.header_body();
        let (key, _) = self.keys();
        let iv = if self.is_v1() {
            self.header_iv
        } else {
            [0; 12]
        };
        let mut mac = key.gmac(&iv).unwrap();
        mac.update(&h);
        mac.update(&self.auth_tail);
        let tag = mac.finalize();
        if self.is_v1() {
            h.extend_from_slice(&self.header_iv);
        }
        h.extend_from_slice(&tag);
        h
    }

    fn seal(
        &self,
        iv: &[u8; 12],
        kind: &str,
        seq: u32,
        len: u64,
        pt: &[u8],
    ) -> (Vec<u8>, [u8; 16]) {
        let mut aad = self.message_id.clone();
        aad.extend_from_slice(kind.as_bytes());
        aad.extend_from_slice(&seq.to_be_bytes());
        aad.extend_from_slice(&len.to_be_bytes());
        let mut ct = pt.to_vec();
        let tag = self.keys().0.seal_in_place(iv, &aad, &mut ct).unwrap();
        (ct, tag)
    }

    /// A regular frame (its AAD content length is the header frame length).
    pub fn regular(&self, seq: u32, iv: [u8; 12], pt: &[u8]) -> Vec<u8> {
        let (ct, tag) = self.seal(
            &iv,
            "AWSKMSEncryptionClient Frame",
            seq,
            u64::from(self.frame_length),
            pt,
        );
        [&seq.to_be_bytes()[..], &iv, &ct, &tag].concat()
    }

    pub fn final_frame(&self, seq: u32, iv: [u8; 12], pt: &[u8]) -> Vec<u8> {
        let (ct, tag) = self.seal(
            &iv,
            "AWSKMSEncryptionClient Final Frame",
            seq,
            pt.len() as u64,
            pt,
        );
        [
            &[0xFF; 4][..],
            &seq.to_be_bytes(),
            &iv,
            &(pt.len() as u32).to_be_bytes(),
            &ct,
            &tag,
        ]
        .concat()
    }

    pub fn non_framed(&self, iv: [u8; 12], pt: &[u8]) -> Vec<u8> {
        let (ct, tag) = self.seal(
            &iv,
            "AWSKMSEncryptionClient Single Block",
            1,
            pt.len() as u64,
            pt,
        );
        [&iv[..], &(pt.len() as u64).to_be_bytes(), &ct, &tag].concat()
    }

    /// The footer over `signed` (everything before it); empty for unsigned suites.
    pub fn footer(&self, signed: &[u8]) -> Vec<u8> {
        let Some(sk) = &self.signing_key else {
            return vec![];
        };
        let p = RustCrypto;
        let alg = sk.algorithm();
        let mut d = p.digest(alg);
        d.update(signed);
        let mut sig = [0u8; 104];
        let n = p
            .ecdsa_sign(alg, sk.secret_bytes(), d, &mut rand_core::OsRng, &mut sig)
            .unwrap();
        [&(n as u16).to_be_bytes()[..], &sig[..n]].concat()
    }

    /// Appends the footer (signed suites) to `msg`.
    pub fn signed(&self, mut msg: Vec<u8>) -> Vec<u8> {
        let f = self.footer(&msg);
        msg.extend_from_slice(&f);
        msg
    }

    /// A complete message as the encryptor would lay it out (full final frame for exact
    /// multiples), with frame IVs from `iv_of(seq)`.
    pub fn message(&self, pt: &[u8], iv_of: impl Fn(u32) -> [u8; 12]) -> Vec<u8> {
        let mut msg = self.header();
        if self.content_type == 1 {
            msg.extend_from_slice(&self.non_framed(iv_of(1), pt));
        } else {
            let f = self.frame_length as usize;
            let mut rest = pt;
            let mut seq = 1u32;
            while rest.len() > f {
                msg.extend_from_slice(&self.regular(seq, iv_of(seq), &rest[..f]));
                rest = &rest[f..];
                seq += 1;
            }
            msg.extend_from_slice(&self.final_frame(seq, iv_of(seq), rest));
        }
        self.signed(msg)
    }
}
