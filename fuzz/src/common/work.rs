//! Hostile headers and a work-counting decrypt driver: the proof that decryption costs work
//! linear in the bytes received, whatever the chunking (issue #11).
//!
//! * [`valid_message`]: a real message (raw AES EDK + real AES-GCM) with thousands of extra
//!   EDKs and/or a large encryption context stored in reverse order;
//! * [`decrypt_counted`]: decrypts with the core `Decryptor`, fed all at once, one byte per call,
//!   by the `min_len` it asks for, or by given chunk sizes, and returns the bytes the parsers
//!   examined (`esdk_core::work`, feature `work-counter`);
//! * [`header_work`]: the check of the `header_work` fuzz target.
//!
//! Used by the fuzz target, `core/tests/work_ratio.rs`, `std-ext/tests/decrypt_work.rs` and the
//! `header_adversarial` benchmark, so that all of them measure the same messages.

use super::input::{Input, seed_of};
use super::provider::DetRng;
use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::crypto::{AeadKey, CryptoProvider, Gmac};
use esdk_core::decrypt::MaterialsRequest;
use esdk_core::encryption_context::{EncryptionContext, EncryptionContextRef};
use esdk_core::suite::MessageFormatVersion;
use esdk_core::{
    AlgorithmSuite, CommitmentPolicy, DataKey, DecryptConfig, DecryptState, DecryptionMaterialsRef,
    Decryptor, EdkRef, EncryptConfig, EncryptionMaterialsRef, Encryptor, Error, HeaderRef,
    RawAesKey, VecInput, raw_aes,
};
use std::sync::atomic::{AtomicU64, Ordering};

/// Namespace of the raw AES keyring the valid messages are wrapped for.
pub const NAMESPACE: &str = "work-ns";
/// Key name of that keyring.
pub const KEY_NAME: &str = "work-key";
/// Its wrapping key.
pub const WRAPPING_KEY: [u8; 32] = [0x42; 32];

/// The most distinct keys an encryption context can hold: the empty key, the 128 one-byte
/// ASCII keys and 10,814 two-byte ASCII keys, all with empty values, fill 65,530 of the 65,535
/// bytes. (16,383 pairs need 4 bytes each at least, so they cannot all have distinct keys.)
pub const MAX_DISTINCT_PAIRS: usize = 1 + 128 + 10_814;

/// `n` distinct keys (`n` ≤ [`MAX_DISTINCT_PAIRS`]) of the smallest serialized size, with empty
/// values.
pub fn smallest_keys(n: usize) -> Vec<(String, String)> {
    let one = (0u8..128).map(|b| String::from(char::from(b)));
    let two = (0u8..128)
        .flat_map(|a| (0u8..128).map(move |b| format!("{}{}", char::from(a), char::from(b))));
    std::iter::once(String::new())
        .chain(one)
        .chain(two)
        .take(n)
        .map(|k| (k, String::new()))
        .collect()
}

/// What [`valid_message`] builds.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Algorithm suite; must use no key derivation (`*_NO_KDF`, v1) when `reverse_context`.
    pub suite: AlgorithmSuite,
    /// Empty EDKs (provider id, info and ciphertext all empty) after the real one.
    pub extra_edks: usize,
    /// The encryption context.
    pub context: Vec<(String, String)>,
    /// Store the context entries in reverse (unsorted) order.
    pub reverse_context: bool,
    /// Plaintext length (frames of 4,096 bytes).
    pub plaintext_len: usize,
}

/// The data key of every [`valid_message`].
pub fn data_key(suite: AlgorithmSuite) -> DataKey {
    DataKey::from_slice(&[0x24u8; 32][..suite.data_key_len()]).expect("valid length")
}

/// The plaintext of every [`valid_message`].
pub fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// The commitment policy that accepts `suite`.
pub fn policy(suite: AlgorithmSuite) -> CommitmentPolicy {
    if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    }
}

/// A real message for `spec`: the data key wrapped by the raw AES keyring
/// ([`NAMESPACE`], [`KEY_NAME`], [`WRAPPING_KEY`]) as the first EDK.
pub fn valid_message(spec: &Spec) -> Vec<u8> {
    let suite = spec.suite;
    let dk = data_key(suite);
    let ec: EncryptionContext = spec.context.iter().cloned().collect();
    let ec_bytes = ec.serialize().expect("context fits");
    let ec_ref = EncryptionContextRef::parse(&ec_bytes).expect("canonical context");
    let mut rng = DetRng::new(7);
    let (mut info, mut ct) = ([0u8; 64], [0u8; 64]);
    let (il, cl) = raw_aes::wrap(
        &RustCrypto,
        &WRAPPING_KEY,
        KEY_NAME.as_bytes(),
        &ec_ref,
        &dk,
        &mut rng,
        &mut info,
        &mut ct,
    )
    .expect("wrap");
    let mut edks = vec![EdkRef {
        provider_id: NAMESPACE,
        provider_info: &info[..il],
        ciphertext: &ct[..cl],
    }];
    edks.extend(std::iter::repeat_n(
        EdkRef {
            provider_id: "",
            provider_info: b"",
            ciphertext: b"",
        },
        spec.extra_edks,
    ));
    let config = EncryptConfig::default()
        .with_commitment_policy(policy(suite))
        .with_suite(Some(suite));
    let enc = Encryptor::new(RustCrypto, config).expect("config");
    let m = EncryptionMaterialsRef::new(suite, &dk, &edks).with_encryption_context(ec_ref);
    let ready = enc.provide(m, &mut rng).expect("materials");
    let mut out = vec![0u8; ready.header_len()];
    let (mut frames, n) = ready.write_header(&mut out).expect("header");
    out.truncate(n);
    let pt = plaintext(spec.plaintext_len);
    let f = frames.frame_length();
    // Regular frames, then the rest (0 … f bytes) in the final frame.
    let split = pt.len().saturating_sub(1) / f * f;
    let mut buf = vec![0u8; frames.sealed_frame_len().max(frames.finish_len(f))];
    for c in pt[..split].chunks(f) {
        let n = frames.seal_frame(c, &mut buf).expect("frame");
        out.extend_from_slice(&buf[..n]);
    }
    let n = frames
        .finish(&pt[split..], &mut buf, &mut rng)
        .expect("final frame");
    out.extend_from_slice(&buf[..n]);
    if spec.reverse_context {
        reverse_context(&mut out, &dk);
    }
    out
}

/// Stores the context entries of `msg` in reverse order and recomputes the header tag, which
/// for a suite without key derivation is a GMAC under the data key itself.
fn reverse_context(msg: &mut [u8], dk: &DataKey) {
    let opts = esdk_core::header::ParseOptions {
        commitment_policy: CommitmentPolicy::ForbidEncryptAllowDecrypt,
        ..Default::default()
    };
    let (h, hl) = HeaderRef::parse(msg, &opts).expect("own header");
    assert!(
        h.suite().message_format_version() == MessageFormatVersion::V1
            && !h.suite().is_committing(),
        "reverse_context needs a v1 suite without key derivation"
    );
    let ec = h.encryption_context();
    let start = ec.as_bytes().as_ptr() as usize - msg.as_ptr() as usize;
    let mut entries: Vec<Vec<u8>> = ec
        .iter()
        .map(|(k, v)| {
            let mut e = Vec::new();
            e.extend_from_slice(&(k.len() as u16).to_be_bytes());
            e.extend_from_slice(k.as_bytes());
            e.extend_from_slice(&(v.len() as u16).to_be_bytes());
            e.extend_from_slice(v.as_bytes());
            e
        })
        .collect();
    entries.reverse();
    let body_len = h.body_bytes().len();
    let iv = *h.auth_iv();
    let mut pos = start + 2;
    for e in entries {
        msg[pos..pos + e.len()].copy_from_slice(&e);
        pos += e.len();
    }
    let key = RustCrypto.aead_key(dk.as_bytes()).expect("key");
    let mut mac = key.gmac(&iv).expect("gmac");
    mac.update(&msg[..body_len]);
    let tag = mac.finalize();
    msg[hl - 16..hl].copy_from_slice(&tag);
}

/// How input reaches the decryptor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feeding<'c> {
    /// Everything in the first call.
    All,
    /// One more byte per call.
    OneByte,
    /// Exactly up to the `min_len` the decryptor asks for (an honest streaming caller).
    MinLen,
    /// Chunks of these sizes in turn (0 read as 1), cycling.
    Chunks(&'c [u8]),
}

/// What a counted decryption produced.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Bytes examined by the parsers during the run (`esdk_core::work`).
    pub work: usize,
    /// Plaintext released.
    pub plaintext: Vec<u8>,
    /// How it ended.
    pub result: Result<(), Error>,
    /// `process` calls made.
    pub calls: usize,
    /// Of these, the calls that ran the header parser (`esdk_core::work::parser_runs`); the
    /// others answered from a length comparison.
    pub parser_runs: usize,
}

/// Decrypts `msg` with `config`, answering the materials request with `answer`, and counts the
/// parsing work done on this thread.
pub fn decrypt_counted(
    msg: &[u8],
    feeding: Feeding<'_>,
    config: DecryptConfig,
    answer: &mut dyn FnMut(MaterialsRequest<'_, RustCrypto>),
) -> Outcome {
    let before = esdk_core::work::examined();
    let runs_before = esdk_core::work::parser_runs();
    let mut dec = Decryptor::new(RustCrypto, config);
    let mut input = VecInput::new(usize::MAX);
    let mut fed = 0usize;
    let mut next_chunk = 0usize;
    let mut plaintext = Vec::new();
    let mut calls = 0usize;
    let mut want = 1usize;
    if feeding == Feeding::All {
        input
            .push(msg)
            .expect("an unbounded input takes everything");
        fed = msg.len();
    }
    let result = loop {
        calls += 1;
        if fed == msg.len() && !input.is_eof() {
            input.set_eof();
        }
        let end = match input.process(&mut dec) {
            Err(e) => Some(Err(e)),
            Ok(DecryptState::Done) => Some(Ok(())),
            Ok(DecryptState::NeedInput { min_len }) => {
                want = min_len;
                None
            }
            Ok(DecryptState::NeedMaterials(req)) => {
                answer(req);
                None
            }
            Ok(DecryptState::Plaintext(p)) => {
                plaintext.extend_from_slice(&p);
                None
            }
            Ok(_) => None,
        };
        if let Some(r) = end {
            break r;
        }
        let buffered = input.buffered();
        if fed < msg.len() && buffered < want {
            let n = match feeding {
                Feeding::All => msg.len(),
                Feeding::OneByte => 1,
                Feeding::MinLen => want - buffered,
                Feeding::Chunks(c) => {
                    let n = c.get(next_chunk % c.len().max(1)).copied().unwrap_or(1);
                    next_chunk += 1;
                    usize::from(n).max(1)
                }
            };
            let n = n.min(msg.len() - fed);
            input
                .push(&msg[fed..fed + n])
                .expect("an unbounded input takes everything");
            fed += n;
        }
    };
    Outcome {
        work: esdk_core::work::examined().saturating_sub(before),
        plaintext,
        result,
        calls,
        parser_runs: esdk_core::work::parser_runs().saturating_sub(runs_before),
    }
}

/// Answers a materials request with the raw AES keyring of [`valid_message`] (the core's own
/// unwrap over the first EDK that matches).
pub fn answer_raw_aes(req: MaterialsRequest<'_, RustCrypto>) {
    let suite = req.suite();
    let key = RawAesKey::new(NAMESPACE, KEY_NAME.as_bytes(), &WRAPPING_KEY).expect("valid key");
    // The core's own unwrap (canonicalizing a context stored out of order).
    let found = key
        .unwrap_any(
            &RustCrypto,
            &req.encryption_context_unverified(),
            req.encrypted_data_keys(),
        )
        .ok()
        .flatten();
    match found {
        Some(dk) => {
            let _ = req.provide(&DecryptionMaterialsRef::new(suite, &dk));
        }
        None => req.abort(),
    }
}

/// The decrypt settings that accept `suite`, with the default limits.
pub fn config(suite: AlgorithmSuite) -> DecryptConfig {
    DecryptConfig::default().with_commitment_policy(policy(suite))
}

// ---------------------------------------------------------------------------------------------
// Fuzz target `header_work`.

/// Largest work ratio (chunked / all at once, × 1000) seen by this process, for the report.
static MAX_RATIO_MILLI: AtomicU64 = AtomicU64::new(0);

/// The bound every chunking must keep: at most 3 × the one-shot work, plus a small constant
/// (the Base64 sniffing re-reads up to 4 bytes, at most 4 times).
pub fn work_bound(all_at_once: usize) -> usize {
    3 * all_at_once + 64
}

/// Target `header_work`: a large structured header — up to 8,000 EDKs with fuzzer-chosen field
/// lengths, up to 16,383 context entries in fuzzer-chosen order (duplicates and bad UTF-8
/// possible), any v1/v2 suite, optional limits — followed by a few body bytes, decrypted all
/// at once, one byte at a time, by `min_len` and by fuzzer-chosen chunks. Every chunking must
/// end with the same result and plaintext as the one-shot run and examine at most
/// [`work_bound`] bytes; the one-shot run at most 64 bytes per input byte (no quadratic step).
pub fn header_work(data: &[u8]) {
    let mut inp = Input::new(data);
    let flags = inp.u8();
    let suite_ids = [0x0014u16, 0x0046, 0x0078, 0x0178, 0x0478, 0x0578, 0x0346];
    let suite_id = suite_ids[usize::from(inp.u8()) % suite_ids.len()];
    let edk_count = usize::from(inp.u16()) % 8_001;
    let pairs = usize::from(inp.u16()) % 16_384;
    let chunks: Vec<u8> = inp.short_bytes(16).to_vec();
    let max_edks = if flags & 1 != 0 { inp.u16() } else { u16::MAX };
    let max_header = if flags & 2 != 0 {
        u64::from(inp.u32())
    } else {
        u64::MAX
    };
    let template = inp.rest();
    let mut rng_state = seed_of(data);
    let mut next = move || {
        // SplitMix64
        rng_state = rng_state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = rng_state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut pick = |max: u64| if max == 0 { 0 } else { next() % (max + 1) };
    let byte_at = |i: usize| {
        template
            .get(i % template.len().max(1))
            .copied()
            .unwrap_or(b'k')
    };

    // Header: version, [type], suite, message id, context, EDKs, content type, [reserved, IV
    // length], frame length, suite data, [IV], tag.
    let suite = AlgorithmSuite::from_id(suite_id).expect("listed suite");
    let v1 = suite.message_format_version() == MessageFormatVersion::V1;
    let mut h: Vec<u8> = Vec::new();
    h.push(if v1 { 1 } else { 2 });
    if v1 {
        h.push(0x80);
    }
    h.extend_from_slice(&suite_id.to_be_bytes());
    h.extend(std::iter::repeat_n(
        0x5a,
        suite.message_format_version().message_id_len(),
    ));
    let mut ec = Vec::new();
    if pairs > 0 {
        ec.extend_from_slice(&(pairs as u16).to_be_bytes());
        let mut t = 0usize;
        for i in 0..pairs {
            if ec.len() > 65_000 {
                break;
            }
            let klen = if flags & 4 != 0 { pick(3) as usize } else { 2 };
            let key: Vec<u8> = if flags & 8 != 0 {
                (0..klen)
                    .map(|_| {
                        t += 1;
                        byte_at(t)
                    })
                    .collect()
            } else {
                // Distinct keys, in reverse or scrambled order.
                let idx = if flags & 16 != 0 {
                    pairs - i
                } else {
                    (i * 7919) % pairs
                };
                vec![
                    b'a' + (idx / 26 / 26 % 26) as u8,
                    b'a' + (idx / 26 % 26) as u8,
                    b'a' + (idx % 26) as u8,
                ]
            };
            ec.extend_from_slice(&(key.len() as u16).to_be_bytes());
            ec.extend_from_slice(&key);
            let vlen = pick(2) as usize;
            ec.extend_from_slice(&(vlen as u16).to_be_bytes());
            ec.extend(std::iter::repeat_n(b'v', vlen));
        }
    }
    h.extend_from_slice(&(ec.len().min(65_535) as u16).to_be_bytes());
    h.extend_from_slice(&ec[..ec.len().min(65_535)]);
    h.extend_from_slice(&(edk_count.max(1) as u16).to_be_bytes());
    let mut t = 0usize;
    for _ in 0..edk_count.max(1) {
        for max in [4u64, 8, 8] {
            let n = pick(max) as usize;
            h.extend_from_slice(&(n as u16).to_be_bytes());
            h.extend((0..n).map(|_| {
                t += 1;
                let b = byte_at(t);
                if flags & 32 != 0 { b } else { b & 0x7f }
            }));
        }
    }
    h.push(2);
    if v1 {
        h.extend_from_slice(&[0, 0, 0, 0, 12]);
    }
    h.extend_from_slice(&4096u32.to_be_bytes());
    h.extend(std::iter::repeat_n(0x33, suite.suite_data_len()));
    h.extend(std::iter::repeat_n(0x44, if v1 { 12 + 16 } else { 16 }));
    h.extend_from_slice(&template[..template.len().min(64)]);

    let mut cfg = DecryptConfig::default().with_commitment_policy(policy(suite));
    cfg.limits.max_encrypted_data_keys = max_edks;
    cfg.limits.max_header_len = max_header;
    let dk = data_key(suite);
    let mut answer = |req: MaterialsRequest<'_, RustCrypto>| {
        let _ = req.provide(&DecryptionMaterialsRef::new(suite, &dk));
    };
    esdk_core::work::reset();
    let all = decrypt_counted(&h, Feeding::All, cfg, &mut answer);
    assert!(
        all.work <= 64 * h.len() + 1024,
        "one-shot work {} for {} bytes",
        all.work,
        h.len()
    );
    let chunked: &[u8] = if chunks.is_empty() { &[1] } else { &chunks };
    let mut runs = [0usize; 2];
    for feeding in [Feeding::OneByte, Feeding::MinLen, Feeding::Chunks(chunked)] {
        let o = decrypt_counted(&h, feeding, cfg, &mut answer);
        match feeding {
            Feeding::OneByte => runs[0] = o.parser_runs,
            Feeding::MinLen => runs[1] = o.parser_runs,
            _ => {}
        }
        assert_eq!(o.result, all.result, "{feeding:?}");
        assert_eq!(o.plaintext, all.plaintext, "{feeding:?}");
        assert!(
            o.work <= work_bound(all.work),
            "{feeding:?}: work {} vs {} at once ({} bytes)",
            o.work,
            all.work,
            h.len()
        );
        let ratio = (o.work as u64 * 1000) / (all.work as u64).max(1);
        if all.work > 1000 && ratio > MAX_RATIO_MILLI.fetch_max(ratio, Ordering::Relaxed) {
            eprintln!(
                "header_work: new max work ratio {}.{:03} ({feeding:?}, {} header bytes, {} EDKs, {} pairs, {:?})",
                ratio / 1000,
                ratio % 1000,
                h.len(),
                edk_count.max(1),
                pairs,
                all.result
            );
        }
    }
    // A one-byte caller pays the parser exactly when a `min_len` caller does (when the input
    // reaches `min_len`); its other calls are answered from one length comparison.
    assert_eq!(runs[0], runs[1], "parser runs: one byte vs min_len");
}
