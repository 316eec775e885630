//! Shared test drivers for the core state machines.
#![allow(dead_code, missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::decrypt::DecryptState;
use esdk_core::edk::EdkRef;
use esdk_core::encryption_context::{EncryptionContext, EncryptionContextRef, PUBLIC_KEY_FIELD};
use esdk_core::keys::MAX_PUBLIC_KEY_B64_LEN;
use esdk_core::{
    AlgorithmSuite, CommitmentPolicy, DataKey, DecryptConfig, DecryptionMaterials, Decryptor, EncryptConfig,
    EncryptionMaterials, Encryptor, Error, SigningKey,
};

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
}

/// Decrypts `msg`, feeding chunks whose sizes come from `next_chunk` (called with the
/// machine's `min_len` hint and the current buffered length).
pub fn decrypt_chunked(
    msg: &[u8],
    key: Key<'_>,
    config: DecryptConfig,
    mut next_chunk: impl FnMut(usize, usize) -> usize,
) -> Outcome {
    let mut dec = Decryptor::new(RustCrypto, config);
    let mut buf: Vec<u8> = Vec::new();
    let mut fed = 0usize;
    let mut out = Outcome { plaintext: vec![], states: vec![], result: Ok(()), chunks: vec![] };
    let mut guard = 0u64;
    loop {
        guard += 1;
        assert!(guard < 50_000_000, "decryptor made no progress");
        let eof = fed == msg.len();
        let mut feed: Option<usize> = None;
        let discard = {
            let st = dec.process(&mut buf, eof);
            let discard = st.discard;
            match st.state {
                Ok(DecryptState::NeedInput { min_len }) => {
                    assert!(!eof, "NeedInput at end of input");
                    feed = Some(min_len);
                }
                Ok(DecryptState::NeedMaterials(req)) => {
                    out.states.push("materials");
                    let suite = req.suite();
                    let res = match &key {
                        Key::Data(dk) => req.provide(&DecryptionMaterials::new(suite, dk)),
                        Key::RawAes(ns, name, wk) => {
                            let ec = req.encryption_context_unverified();
                            let owned: EncryptionContext = ec.into();
                            let ser = owned.serialize().unwrap();
                            let canon = EncryptionContextRef::parse(&ser).unwrap();
                            let found = req.encrypted_data_keys().iter().find_map(|e| {
                                esdk_core::raw_aes::unwrap(&RustCrypto, ns, name, wk, &canon, &e).ok().flatten()
                            });
                            match found {
                                Some(dk) => req.provide(&DecryptionMaterials::new(suite, &dk)),
                                None => {
                                    req.abort();
                                    Err(Error::Usage(esdk_core::error::UsageError::Aborted))
                                }
                            }
                        }
                    };
                    if let Err(e) = res {
                        out.result = Err(e);
                        return out;
                    }
                }
                Ok(DecryptState::HeaderVerified(_)) => out.states.push("header"),
                Ok(DecryptState::Plaintext(p)) => {
                    out.states.push("plaintext");
                    out.plaintext.extend_from_slice(p);
                    out.chunks.push(p.to_vec());
                }
                Ok(DecryptState::Done) => {
                    out.states.push("done");
                    return out;
                }
                Ok(_) => unreachable!(),
                Err(e) => {
                    out.result = Err(e);
                    return out;
                }
            }
            discard
        };
        if let Some(min_len) = feed {
            assert!(min_len > buf.len(), "min_len {min_len} <= buffered {}", buf.len());
            let n = next_chunk(min_len, buf.len()).max(1).min(msg.len() - fed);
            buf.extend_from_slice(&msg[fed..fed + n]);
            fed += n;
        }
        buf.drain(..discard);
    }
}

/// Decrypts with everything fed at once.
pub fn decrypt_all(msg: &[u8], key: Key<'_>, config: DecryptConfig) -> Outcome {
    decrypt_chunked(msg, key, config, |_, _| usize::MAX)
}

pub fn allow_all() -> DecryptConfig {
    DecryptConfig { commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt, ..Default::default() }
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
pub fn encrypt(suite: AlgorithmSuite, frame_length: u32, pt: &[u8], pairs: &[(&str, &str)], wrapping_key: &[u8]) -> Vec<u8> {
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
    let mut ec: EncryptionContext = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let sk = suite.signature().map(|alg| SigningKey::generate(&p, alg, &mut rng).unwrap());
    if let Some(sk) = &sk {
        let vk = sk.public_key(&p).unwrap();
        let mut b = [0u8; MAX_PUBLIC_KEY_B64_LEN];
        ec.insert(PUBLIC_KEY_FIELD, vk.to_base64(&mut b).to_string());
    }
    let ec_bytes = ec.serialize().unwrap();
    let ec_ref = EncryptionContextRef::parse(&ec_bytes).unwrap();
    let dk = DataKey::generate(suite, &mut rng).unwrap();
    let (mut info, mut ct) = ([0u8; 64], [0u8; 64]);
    let (il, cl) = esdk_core::raw_aes::wrap(&p, wrapping_key, b"key", &ec_ref, &dk, &mut rng, &mut info, &mut ct).unwrap();
    let edks = [EdkRef { provider_id: "ns", provider_info: &info[..il], ciphertext: &ct[..cl] }];
    let config = EncryptConfig {
        commitment_policy: policy_for(suite),
        suite: Some(suite),
        frame_length,
        legacy_non_framed: non_framed,
        ..Default::default()
    };
    let enc = Encryptor::new(p, config).unwrap();
    let materials = EncryptionMaterials {
        suite,
        data_key: &dk,
        encrypted_data_keys: &edks,
        encryption_context: ec_ref,
        required_encryption_context_keys: &[],
        signing_key: sk.as_ref(),
    };
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
