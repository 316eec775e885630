//! The check behind each fuzz target. Each function takes the raw fuzz input and panics when a
//! property fails; the fuzz targets call them, and the corpus replay tests call them on every
//! committed corpus file.

use super::drive::{self, Defer, Feed, St};
use super::input::{Input, seed_of};
use super::provider::{DetRng, FuzzCrypto, Logged};
use super::reference;
use esdk_core::crypto::CryptoProvider;
use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::decrypt::MaterialsRequest;
use esdk_core::edk::{EdkList, EdkRef};
use esdk_core::encryption_context::{
    EncryptionContext, EncryptionContextRef, PUBLIC_KEY_FIELD, serialize_pairs, serialized_len,
};
use esdk_core::error::{AuthStage, LimitKind};
use esdk_core::header::{Header, ParseOptions, auth_len};
use esdk_core::keys::MAX_PUBLIC_KEY_B64_LEN;
use esdk_core::materials::verification_key_from_context;
use esdk_core::suite::MessageFormatVersion;
use esdk_core::{
    AlgorithmSuite, CommitmentPolicy, DataKey, DecryptConfig, DecryptLimits,
    DecryptionMaterialsRef, EncryptConfig, EncryptedDataKey, EncryptionMaterialsRef, Encryptor,
    Error, HeaderRef, SignaturePolicy, SigningKey, VerificationKey, raw_aes,
};

/// A target's check: panics when a property fails.
pub type Check = fn(&[u8]);

/// Every target whose check lives here, by corpus directory name (`raw_rsa_info` needs
/// `esdk-std` and is replayed by `esdk-std`'s tests).
pub const TARGETS: &[(&str, Check)] = &[
    ("header_roundtrip", header_roundtrip),
    ("decrypt_rustcrypto", decrypt_rustcrypto),
    ("decrypt_fuzz_provider", decrypt_fuzz_provider),
    ("decrypt_chunked", decrypt_chunked),
    ("encrypt_roundtrip", encrypt_roundtrip),
    ("context_edk_parse", context_edk_parse),
    ("header_work", super::work::header_work),
];

/// Raw AES wrapping keys the real-provider targets know, by key name: those of the test-vector
/// sets (any namespace) and `fuzz-aes` for generated seeds.
pub const RAW_AES_KEYS: &[(&[u8], &[u8])] = &[
    (
        b"AES.128..",
        &[
            0xbf, 0x70, 0xb5, 0x7d, 0xe3, 0x6c, 0xce, 0x32, 0x42, 0x60, 0xfa, 0x25, 0x04, 0xc5,
            0x60, 0x91,
        ],
    ),
    (
        b"AES.192..",
        &[
            0x95, 0xe4, 0x44, 0x7d, 0x1b, 0x71, 0x62, 0x2e, 0xae, 0x20, 0xa5, 0x28, 0xe6, 0x6a,
            0x6f, 0x9e, 0x45, 0x03, 0x98, 0x70, 0xe4, 0xf4, 0xde, 0xa7,
        ],
    ),
    (
        b"AES.256..",
        &[
            0x0d, 0x4c, 0x5b, 0x3b, 0x83, 0x35, 0xe4, 0x0d, 0xcc, 0x1e, 0xcf, 0x77, 0x6d, 0xa5,
            0x30, 0x31, 0x45, 0x8f, 0xf2, 0xdc, 0x4c, 0xcc, 0x05, 0x21, 0x40, 0xc7, 0xef, 0x37,
            0x45, 0xa5, 0xea, 0x5e,
        ],
    ),
    (b"aes-128", SEQ_KEY.split_at(16).0),
    (b"aes-192", SEQ_KEY.split_at(24).0),
    (b"aes-256", &SEQ_KEY),
    (b"fuzz-aes", &[0x11; 32]),
];

const SEQ_KEY: [u8; 32] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
    0x16, 0x17, 0x18, 0x19, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x30, 0x31,
];

/// The data key every forged ([`FuzzCrypto`]) message is decrypted with.
pub fn fixed_data_key(suite: AlgorithmSuite) -> DataKey {
    DataKey::from_slice(&[0x42; 32][..suite.data_key_len()]).expect("16, 24 or 32 bytes")
}

/// Decryption that accepts every suite.
pub fn permissive() -> DecryptConfig {
    DecryptConfig::default().with_commitment_policy(CommitmentPolicy::RequireEncryptAllowDecrypt)
}

/// Header parsing that accepts every suite.
pub fn permissive_parse() -> ParseOptions {
    ParseOptions {
        commitment_policy: CommitmentPolicy::RequireEncryptAllowDecrypt,
        ..ParseOptions::default()
    }
}

/// A commitment policy that lets `suite` encrypt.
pub fn policy_for(suite: AlgorithmSuite) -> CommitmentPolicy {
    if suite.is_committing() {
        CommitmentPolicy::RequireEncryptRequireDecrypt
    } else {
        CommitmentPolicy::ForbidEncryptAllowDecrypt
    }
}

/// Answers with [`fixed_data_key`]; the first message-id byte also picks the other answers
/// (abort, drop, explicit verification key), so every path of the request is reached.
pub fn answer_fixed<P: CryptoProvider>(req: MaterialsRequest<'_, P>) {
    let suite = req.suite();
    let dk = fixed_data_key(suite);
    let pick = req
        .header_unverified()
        .message_id()
        .first()
        .copied()
        .unwrap_or(0);
    let mut m = DecryptionMaterialsRef::new(suite, &dk);
    match pick % 32 {
        31 => return req.abort(),
        30 => return drop(req),
        29 => {
            let ec = req.encryption_context_unverified();
            m.verification_key = verification_key_from_context(suite, &ec).ok().flatten();
        }
        _ => {}
    }
    let _ = req.provide(&m);
}

/// Unwraps with [`RAW_AES_KEYS`] (real AES-GCM, any namespace); without a match it answers
/// with [`fixed_data_key`], which fails the commitment or the header tag.
pub fn answer_raw_aes<P: CryptoProvider>(req: MaterialsRequest<'_, P>) {
    let suite = req.suite();
    let owned: EncryptionContext = req.encryption_context_unverified().into();
    let ser = owned.serialize().unwrap_or_default();
    let canon = EncryptionContextRef::parse(&ser).unwrap_or(EncryptionContextRef::EMPTY);
    let found = req.encrypted_data_keys().iter().find_map(|e| {
        RAW_AES_KEYS.iter().find_map(|(name, key)| {
            raw_aes::unwrap(&RustCrypto, e.provider_id, name, key, &canon, &e)
                .ok()
                .flatten()
        })
    });
    let dk = found.unwrap_or_else(|| fixed_data_key(suite));
    let _ = req.provide(&DecryptionMaterialsRef::new(suite, &dk));
}

// ---------------------------------------------------------------------------------------------
// Decryption.

/// Target `decrypt_rustcrypto`: arbitrary bytes through the decryptor with the real provider
/// and the raw AES keys of [`RAW_AES_KEYS`]. The driver checks that nothing unauthenticated is
/// released, that the machine never panics or stalls, and the state contract.
pub fn decrypt_rustcrypto(data: &[u8]) {
    drive::decrypt(
        RustCrypto,
        permissive(),
        data,
        &Feed::all(),
        Defer::Never,
        answer_raw_aes::<Logged<RustCrypto>>,
    );
}

/// Target `decrypt_fuzz_provider`: as `decrypt_rustcrypto`, with [`FuzzCrypto`], whose markers
/// let mutated messages reach frames, final frames and footers.
pub fn decrypt_fuzz_provider(data: &[u8]) {
    drive::decrypt(
        FuzzCrypto::default(),
        permissive(),
        data,
        &Feed::all(),
        Defer::Never,
        answer_fixed::<Logged<FuzzCrypto>>,
    );
}

/// The settings and feeding a `decrypt_chunked` input asks for.
#[derive(Debug)]
pub struct ChunkPlan<'a> {
    /// Use the real provider and raw AES keys (else [`FuzzCrypto`]).
    pub real: bool,
    /// Decryption settings.
    pub config: DecryptConfig,
    /// Defer the first materials request.
    pub defer: Defer,
    /// Chunking.
    pub feed: Feed<'a>,
    /// The message.
    pub msg: &'a [u8],
}

/// Decodes a `decrypt_chunked` input: `flags ‖ n ‖ [limits (7)] ‖ n chunk sizes ‖ message`.
///
/// flags: bit 0 real provider, bit 1 defer once, bit 2 eager feeding, bit 3 unsigned-only,
/// bits 4–5 commitment policy, bit 6 limits present.
pub fn chunk_plan(data: &[u8]) -> ChunkPlan<'_> {
    let mut inp = Input::new(data);
    let flags = inp.u8();
    let n = usize::from(inp.u8() % 33);
    let commitment_policy = match (flags >> 4) & 3 {
        1 => CommitmentPolicy::ForbidEncryptAllowDecrypt,
        2 => CommitmentPolicy::RequireEncryptRequireDecrypt,
        _ => CommitmentPolicy::RequireEncryptAllowDecrypt,
    };
    let signature_policy = if flags & 8 != 0 {
        SignaturePolicy::UnsignedOnly
    } else {
        SignaturePolicy::AllowSigned
    };
    let limits = if flags & 64 != 0 {
        DecryptLimits::default()
            .with_max_encrypted_data_keys(u16::from(inp.u8()))
            .with_max_header_len(u64::from(inp.u16()))
            .with_max_frame_len(u32::from(inp.u16()))
            .with_max_body_len(u64::from(inp.u16()))
    } else {
        DecryptLimits::default()
    };
    let sizes = inp.bytes(n);
    ChunkPlan {
        real: flags & 1 != 0,
        config: DecryptConfig::default()
            .with_commitment_policy(commitment_policy)
            .with_signature_policy(signature_policy)
            .with_limits(limits),
        defer: if flags & 2 != 0 {
            Defer::Once
        } else {
            Defer::Never
        },
        feed: Feed {
            sizes,
            eager: flags & 4 != 0,
        },
        msg: inp.rest(),
    }
}

/// Target `decrypt_chunked`: the input also chooses the split points (and settings); the
/// chunked run must give exactly the one-shot result: plaintext, state sequence and error.
///
/// One deliberate relaxation: with `max_header_len` set, a streaming parse fails with the
/// header-length limit as soon as the announced lengths pass it, while a one-shot parse of the
/// whole input may first meet a malformed field (or report the larger, exact length). When
/// either run fails on that limit, both must fail with the same plaintext and states.
pub fn decrypt_chunked(data: &[u8]) {
    let plan = chunk_plan(data);
    let run = |feed: &Feed<'_>| {
        if plan.real {
            drive::decrypt(
                RustCrypto,
                plan.config,
                plan.msg,
                feed,
                plan.defer,
                answer_raw_aes::<Logged<RustCrypto>>,
            )
        } else {
            drive::decrypt(
                FuzzCrypto::default(),
                plan.config,
                plan.msg,
                feed,
                plan.defer,
                answer_fixed::<Logged<FuzzCrypto>>,
            )
        }
    };
    let one = run(&Feed::all());
    let chunked = run(&plan.feed);
    let header_limit = |r: &Result<(), Error>| matches!(r, Err(Error::Limit(l)) if l.what == LimitKind::HeaderLength);
    if header_limit(&one.result) || header_limit(&chunked.result) {
        assert!(
            one.result.is_err() && chunked.result.is_err(),
            "{one:?} vs {chunked:?}"
        );
        assert_eq!(one.plaintext, chunked.plaintext);
        assert_eq!(one.states, chunked.states);
    } else {
        assert_eq!(one, chunked, "one-shot vs chunked");
    }
}

// ---------------------------------------------------------------------------------------------
// Header.

/// Target `header_roundtrip`: parse a header; check what the parser reports against the bytes
/// (lengths, tag, IV, every prefix incomplete), against an independent serializer of the
/// parsed fields, and against the encryptor's own header writer re-run on the parsed fields
/// (byte equality for canonical headers).
pub fn header_roundtrip(data: &[u8]) {
    let opts = permissive_parse();
    let Ok((h, n)) = HeaderRef::parse(data, &opts) else {
        return;
    };
    let version = h.version();
    assert_eq!(n, h.len());
    assert!(n <= data.len());
    let body = h.body_bytes();
    assert_eq!(body.len() + auth_len(version), n);
    assert_eq!(body, &data[..body.len()]);
    match version {
        MessageFormatVersion::V1 => assert_eq!(&data[body.len()..body.len() + 12], h.auth_iv()),
        MessageFormatVersion::V2 => assert_eq!(h.auth_iv(), &[0; 12]),
    }
    assert_eq!(&data[n - 16..n], h.auth_tag());
    assert_eq!(HeaderRef::parse(&data[..n], &opts), Ok((h, n)));
    let step = (n / 64).max(1);
    for k in (0..n).step_by(step).chain([n - 1]) {
        assert_eq!(
            HeaderRef::parse(&data[..k], &opts).err(),
            Some(Error::Truncated),
            "prefix of {k} bytes"
        );
    }

    // The owned copy.
    let owned = Header::from(&h);
    let pairs = reference::encryption_context(h.encryption_context().as_bytes())
        .expect("the reference parser accepts the stored context");
    let mut sorted = pairs.clone();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    assert_eq!(h.encryption_context().iter().collect::<Vec<_>>(), pairs);
    assert_eq!(owned.encryption_context.iter().collect::<Vec<_>>(), sorted);
    assert_eq!(owned.suite, h.suite());
    assert_eq!(owned.version, version);
    assert_eq!(owned.message_id, h.message_id());
    assert_eq!(owned.content_type, h.content_type());
    assert_eq!(owned.frame_length, h.frame_length());
    let edks: Vec<EncryptedDataKey> = h.encrypted_data_keys().iter().map(Into::into).collect();
    assert_eq!(owned.encrypted_data_keys, edks);
    assert_eq!(edks.len(), h.encrypted_data_keys().len());

    // An independent serializer of the parsed fields gives back the body.
    let fields = reference::HeaderFields {
        version: version.byte(),
        suite_id: h.suite().id(),
        message_id: h.message_id(),
        aad: h.encryption_context().as_bytes(),
        edks: h
            .encrypted_data_keys()
            .iter()
            .map(|e| (e.provider_id, e.provider_info, e.ciphertext))
            .collect(),
        content_type: h.content_type().byte(),
        frame_length: h.frame_length(),
        suite_data: h.suite_data(),
    };
    assert_eq!(reference::header_body(&fields), body);

    header_writer_roundtrip(&h, n);
}

/// Re-creates the header through the encryptor: materials with the parsed suite, EDKs and
/// context, a provider forced to the stored commitment and public key, and randomness that
/// yields the stored message id. For a canonical context the body must come out byte-equal.
fn header_writer_roundtrip(h: &HeaderRef<'_>, n: usize) {
    let suite = h.suite();
    let ec = h.encryption_context();
    if !ec.is_canonical() {
        // Only canonical contexts are written (the legacy `00 00` and unsorted ones are read).
        return;
    }
    let mut provider = FuzzCrypto::default();
    let signing_key = match (suite.signature(), ec.get(PUBLIC_KEY_FIELD)) {
        (Some(alg), Some(b64)) => {
            let Ok(vk) = VerificationKey::from_base64(alg, b64) else {
                return; // the decryptor refuses it at the materials step
            };
            let mut buf = [0u8; MAX_PUBLIC_KEY_B64_LEN];
            assert_eq!(
                vk.to_base64(&mut buf),
                b64,
                "a public key entry decodes but does not re-encode to itself"
            );
            provider.public_key = Some(vk.as_bytes().to_vec());
            Some(SigningKey::from_bytes(alg, &[1u8; 48][..alg.secret_len()]).expect("length"))
        }
        (None, None) => None,
        _ => return, // refused by encryptor and decryptor alike
    };
    if suite.is_committing() {
        provider.commit_key = h.suite_data().try_into().ok();
    }
    let dk = fixed_data_key(suite);
    let edks: Vec<EdkRef<'_>> = h.encrypted_data_keys().iter().collect();
    let materials = EncryptionMaterialsRef::new(suite, &dk, &edks)
        .with_encryption_context(ec)
        .with_signing_key(signing_key.as_ref());
    let non_framed = h.content_type() == esdk_core::ContentType::NonFramed;
    let config = EncryptConfig::default()
        .with_commitment_policy(policy_for(suite))
        .with_suite(Some(suite))
        .with_frame_length(h.frame_length())
        .with_max_encrypted_data_keys(None)
        .with_legacy_non_framed(non_framed);
    let enc = Encryptor::new(provider, config).expect("a parsed header's settings are valid");
    let mut rng = DetRng::scripted(h.message_id(), 1);
    let ready = enc
        .provide(materials, &mut rng)
        .expect("a parsed canonical header's fields are valid materials");
    assert_eq!(
        ready.header_len(),
        n,
        "header length computed by the encryptor"
    );
    assert_eq!(ready.message_id(), h.message_id());
    let mut out = vec![0u8; n];
    let (_, written) = ready.write_header(&mut out).expect("header written");
    assert_eq!(written, n);
    let body = h.body_bytes();
    assert_eq!(
        &out[..body.len()],
        body,
        "re-serialized header body differs"
    );
}

// ---------------------------------------------------------------------------------------------
// Encryption round trip.

struct EncryptPlan<'a> {
    suite: AlgorithmSuite,
    frame_length: u32,
    non_framed: bool,
    in_place: bool,
    pairs: Vec<(String, String)>,
    required_mask: u8,
    edks: Vec<(String, &'a [u8], &'a [u8])>,
    pt: &'a [u8],
    tamper: Option<(u16, u8)>,
    feed: Feed<'a>,
    seed: u64,
}

/// Target `encrypt_roundtrip`: arbitrary suite, frame length, encryption context (with
/// required keys), EDKs, plaintext and chunking; the message must have the predicted length,
/// parse back to its settings and decrypt to the plaintext, frame by frame. With the real
/// provider, flipping any one byte must make decryption fail (releasing only a prefix of the
/// plaintext); with the checksum provider, any one byte after the header.
pub fn encrypt_roundtrip(data: &[u8]) {
    let seed = seed_of(data);
    let mut inp = Input::new(data);
    let suite = AlgorithmSuite::ALL[usize::from(inp.u8()) % AlgorithmSuite::ALL.len()];
    let flags = inp.u8();
    let frame_length = if flags & 64 != 0 {
        inp.u32()
    } else {
        u32::from(inp.u8())
    };
    let n_pairs = inp.u8() % 6;
    let pairs = (0..n_pairs)
        .map(|_| (inp.string(24), inp.string(24)))
        .collect();
    let required_mask = inp.u8();
    let n_edks = 1 + inp.u8() % 3;
    let edks = (0..n_edks)
        .map(|_| (inp.string(12), inp.short_bytes(32), inp.short_bytes(48)))
        .collect();
    let pt_len = usize::from(inp.u16());
    let pt = inp.bytes(pt_len);
    let tamper = (flags & 32 != 0).then(|| (inp.u16(), inp.u8() | 1));
    let plan = EncryptPlan {
        suite,
        frame_length,
        non_framed: flags & 2 != 0,
        in_place: flags & 4 != 0,
        pairs,
        required_mask,
        edks,
        pt,
        tamper,
        feed: Feed {
            sizes: inp.rest(),
            eager: flags & 128 != 0,
        },
        seed,
    };
    if flags & 1 != 0 {
        encrypt_then_decrypt(RustCrypto, &plan, Tamper::Anywhere);
    } else if flags & 8 != 0 {
        encrypt_then_decrypt(FuzzCrypto::marker(), &plan, Tamper::Undetectable);
    } else {
        encrypt_then_decrypt(FuzzCrypto::default(), &plan, Tamper::Body);
    }
}

/// Which single-byte changes a provider must detect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tamper {
    /// Real cryptography: every byte is authenticated.
    Anywhere,
    /// [`FuzzCrypto`] with checksums: the header tag is a marker, the body is checksummed.
    Body,
    /// [`FuzzCrypto`] with markers: nothing is.
    Undetectable,
}

fn encrypt_then_decrypt<P: CryptoProvider + Clone>(
    provider: P,
    plan: &EncryptPlan<'_>,
    scope: Tamper,
) {
    let suite = plan.suite;
    let mut rng = DetRng::new(plan.seed);
    let config = EncryptConfig::default()
        .with_commitment_policy(policy_for(suite))
        .with_suite(Some(suite))
        .with_frame_length(plan.frame_length)
        .with_max_encrypted_data_keys(None)
        .with_legacy_non_framed(plan.non_framed);
    let enc = match Encryptor::new(provider.clone(), config) {
        Ok(e) => e,
        Err(e) => {
            assert!(!plan.non_framed && plan.frame_length == 0, "{e:?}");
            return;
        }
    };
    assert!(plan.non_framed || plan.frame_length != 0);
    let dk = DataKey::generate(suite, &mut rng).expect("data key");
    let sk = suite
        .signature()
        .map(|alg| SigningKey::generate(&provider, alg, &mut rng).expect("signing key"));
    let mut ec: EncryptionContext = plan
        .pairs
        .iter()
        .filter(|(k, _)| k != PUBLIC_KEY_FIELD)
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if let Some(sk) = &sk {
        let vk = sk.public_key(&provider).expect("public key");
        let mut b = [0u8; MAX_PUBLIC_KEY_B64_LEN];
        ec.insert(PUBLIC_KEY_FIELD, vk.to_base64(&mut b));
    }
    let ec_bytes = ec.serialize().expect("small context");
    let ec_ref = EncryptionContextRef::parse(&ec_bytes).expect("canonical");
    let required: Vec<&str> = ec
        .keys()
        .enumerate()
        .filter(|(i, k)| *k != PUBLIC_KEY_FIELD && *i < 8 && plan.required_mask & (1 << i) != 0)
        .map(|(_, k)| k)
        .collect();
    let edks: Vec<EdkRef<'_>> = plan
        .edks
        .iter()
        .map(|(id, info, ct)| EdkRef {
            provider_id: id,
            provider_info: info,
            ciphertext: ct,
        })
        .collect();
    let materials = EncryptionMaterialsRef::new(suite, &dk, &edks)
        .with_encryption_context(ec_ref)
        .with_required_encryption_context_keys(&required)
        .with_signing_key(sk.as_ref());
    let ready = enc
        .provide(materials, &mut rng)
        .expect("valid materials are accepted");
    let header_len = ready.header_len();
    let mut msg = vec![0u8; header_len];
    let (mut frames, n) = ready.write_header(&mut msg).expect("header");
    assert_eq!(n, header_len);
    let f = plan.frame_length as usize;
    let mut rest = plan.pt;
    if !plan.non_framed {
        while rest.len() > f {
            let (chunk, tail) = rest.split_at(f);
            let start = msg.len();
            msg.resize(start + frames.sealed_frame_len(), 0);
            let w = if plan.in_place {
                msg[start + 16..start + 16 + f].copy_from_slice(chunk);
                frames.seal_frame_in_place(&mut msg[start..])
            } else {
                frames.seal_frame(chunk, &mut msg[start..])
            }
            .expect("seal");
            assert_eq!(w, frames.sealed_frame_len());
            rest = tail;
        }
    }
    let start = msg.len();
    let tail_len = frames.finish_len(rest.len());
    msg.resize(start + tail_len, 0);
    let w = frames
        .finish(rest, &mut msg[start..], &mut rng)
        .expect("finish");
    assert_eq!(w, tail_len);

    // Length prediction and the header as written.
    let stored = ec
        .serialize_filtered(|k| !required.contains(&k))
        .expect("small context");
    if !plan.non_framed {
        let predicted = esdk_core::ciphertext_len(
            suite,
            edks.iter().copied(),
            stored.len(),
            plan.frame_length,
            plan.pt.len() as u64,
        )
        .expect("length");
        assert_eq!(predicted, msg.len() as u64, "ciphertext_len");
    }
    let (h, hl) = HeaderRef::parse(&msg, &permissive_parse()).expect("the written header parses");
    assert_eq!(hl, header_len);
    assert_eq!(h.suite(), suite);
    assert_eq!(h.encryption_context().as_bytes(), stored.as_slice());
    assert_eq!(h.encrypted_data_keys().iter().collect::<Vec<_>>(), edks);
    assert_eq!(
        h.frame_length(),
        if plan.non_framed {
            0
        } else {
            plan.frame_length
        }
    );

    // Decrypt.
    let answer = |strict: bool| {
        let (dk, ec_ref, required) = (&dk, ec_ref, &required);
        move |req: MaterialsRequest<'_, Logged<P>>| {
            let m = DecryptionMaterialsRef::new(req.suite(), dk)
                .with_encryption_context(ec_ref)
                .with_required_encryption_context_keys(required);
            let res = req.provide(&m);
            assert!(!strict || res.is_ok(), "materials refused: {res:?}");
        }
    };
    let out = drive::decrypt(
        provider.clone(),
        permissive(),
        &msg,
        &plan.feed,
        Defer::Never,
        answer(true),
    );
    assert_eq!(out.result, Ok(()), "round trip failed");
    assert!(out.plaintext == plan.pt, "plaintext differs");
    let frame_count = if plan.non_framed {
        1
    } else {
        plan.pt.len().div_ceil(f).max(1)
    };
    let mut states = vec![St::Materials, St::Header];
    states.extend(core::iter::repeat_n(St::Plaintext, frame_count));
    states.push(St::Done);
    assert_eq!(out.states, states);

    if let (Some((pos, mask)), false) = (plan.tamper, scope == Tamper::Undetectable) {
        let lo = if scope == Tamper::Anywhere {
            0
        } else {
            header_len
        };
        let span = msg.len() - lo;
        let i = lo + usize::from(pos) % span;
        let mut bad = msg.clone();
        bad[i] ^= mask;
        let out = drive::decrypt(
            provider,
            permissive(),
            &bad,
            &Feed::all(),
            Defer::Never,
            answer(false),
        );
        assert!(
            out.result.is_err(),
            "byte {i} of {} flipped: accepted",
            msg.len()
        );
        assert!(
            plan.pt.starts_with(&out.plaintext),
            "tampering released other plaintext"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Encryption context, EDK list, raw AES provider info.

/// Target `context_edk_parse`: byte 0 selects the parser (mod 3): the serialized encryption
/// context, the EDK list (bytes 1–2: the count limit) or the raw AES provider-info rule; each
/// is compared with an independent parser and round-tripped through the serializers.
pub fn context_edk_parse(data: &[u8]) {
    let mut inp = Input::new(data);
    match inp.u8() % 3 {
        0 => check_context(inp.rest()),
        1 => {
            let max = inp.u16();
            check_edk_list(inp.rest(), max);
        }
        _ => check_raw_aes_info(inp),
    }
}

fn check_context(bytes: &[u8]) {
    let core = EncryptionContextRef::parse(bytes);
    let ec = match (core, reference::encryption_context(bytes)) {
        (Ok(ec), Some(pairs)) => {
            assert_eq!(ec.iter().collect::<Vec<_>>(), pairs);
            assert_eq!(ec.len(), pairs.len());
            assert_eq!(ec.is_empty(), pairs.is_empty());
            assert_eq!(ec.as_bytes(), bytes);
            for (k, v) in &pairs {
                assert_eq!(ec.get(k), Some(*v));
            }
            let sorted = pairs
                .windows(2)
                .all(|w| w[0].0.as_bytes() < w[1].0.as_bytes());
            assert_eq!(
                ec.is_canonical(),
                bytes.is_empty() || (!pairs.is_empty() && sorted)
            );
            let _ = format!("{ec:?}");
            (ec, pairs)
        }
        (Err(_), None) => return,
        (c, r) => panic!("core {c:?} vs reference {r:?}"),
    };
    let (ec, pairs) = ec;
    if bytes.len() > usize::from(u16::MAX) {
        return; // too long for a header; not serializable
    }
    let mut sorted = pairs.clone();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let canonical = reference::encryption_context_bytes(&sorted);
    let owned: EncryptionContext = ec.into();
    let ser = owned.serialize().expect("fits");
    assert_eq!(ser, canonical);
    if ec.is_canonical() {
        assert_eq!(ser, bytes);
    }
    assert_eq!(serialized_len(pairs.iter().copied()), Ok(ser.len()));
    let mut buf = vec![0u8; ser.len()];
    let mut p = pairs.clone();
    let n = serialize_pairs(&mut p, &mut buf).expect("unique keys");
    assert_eq!(&buf[..n], ser.as_slice());
    let again = EncryptionContextRef::parse(&ser).expect("canonical form parses");
    assert!(again.is_canonical());
    assert_eq!(again.iter().collect::<Vec<_>>(), sorted);
}

fn check_edk_list(bytes: &[u8], max: u16) {
    match (EdkList::parse(bytes, max), reference::edk_list(bytes, max)) {
        (Ok(list), Some(edks)) => {
            assert_eq!(list.len(), edks.len());
            assert!(!list.is_empty());
            let got: Vec<_> = list
                .iter()
                .map(|e| (e.provider_id, e.provider_info, e.ciphertext))
                .collect();
            assert_eq!(got, edks);
            assert_eq!(list.entries_bytes(), &bytes[2..]);
            let mut re = Vec::new();
            for e in list.iter() {
                let mut buf = vec![0u8; e.serialized_len()];
                let n = e.serialize_into(&mut buf).expect("fits");
                assert_eq!(n, buf.len());
                let owned = EncryptedDataKey::from(e);
                assert_eq!(owned.serialize().expect("fits"), buf);
                assert_eq!(owned.as_ref(), e);
                re.extend_from_slice(&buf);
                for (name, _) in RAW_AES_KEYS {
                    let r = (e.provider_id, e.provider_info, e.ciphertext);
                    assert_eq!(
                        raw_aes::matches(e.provider_id, name, &e),
                        reference::raw_aes_iv(e.provider_id, name, r)
                    );
                }
            }
            assert_eq!(re, list.entries_bytes());
        }
        (Err(_), None) => {}
        (c, r) => panic!("core {c:?} vs reference {r:?}"),
    }
}

fn check_raw_aes_info(mut inp: Input<'_>) {
    let flags = inp.u8();
    let namespace = inp.string(24);
    let key_name = inp.short_bytes(32);
    let provider_id = if flags & 1 != 0 {
        namespace.clone()
    } else {
        inp.string(24)
    };
    let info = inp.short_bytes(80);
    let ct = inp.short_bytes(64);
    let edk = EdkRef {
        provider_id: &provider_id,
        provider_info: info,
        ciphertext: ct,
    };
    let expected = reference::raw_aes_iv(&namespace, key_name, (&provider_id, info, ct));
    assert_eq!(raw_aes::matches(&namespace, key_name, &edk), expected);
    assert_eq!(
        raw_aes::check_namespace(&namespace).is_err(),
        namespace.starts_with("aws-kms")
    );
    let key = &SEQ_KEY[..[16, 24, 32][usize::from(flags >> 1) % 3]];
    let res = raw_aes::unwrap(
        &RustCrypto,
        &namespace,
        key_name,
        key,
        &EncryptionContextRef::EMPTY,
        &edk,
    );
    match (expected, res) {
        (None, Ok(None)) => {}
        (Some(_), Err(Error::Authentication(AuthStage::DataKeyUnwrap)) | Ok(Some(_))) => {}
        (e, r) => panic!("match {e:?}, unwrap {r:?}"),
    }
    // Wrap, then match and unwrap what was written.
    let suite = AlgorithmSuite::ALL[usize::from(flags >> 3) % AlgorithmSuite::ALL.len()];
    let mut rng = DetRng::new(u64::from(flags));
    let dk = DataKey::generate(suite, &mut rng).expect("data key");
    let mut info_out = vec![0u8; key_name.len() + raw_aes::PROVIDER_INFO_OVERHEAD];
    let mut ct_out = [0u8; 48];
    let ec = EncryptionContextRef::EMPTY;
    let (il, cl) = raw_aes::wrap(
        &RustCrypto,
        key,
        key_name,
        &ec,
        &dk,
        &mut rng,
        &mut info_out,
        &mut ct_out,
    )
    .expect("wrap");
    let wrapped = EdkRef {
        provider_id: &namespace,
        provider_info: &info_out[..il],
        ciphertext: &ct_out[..cl],
    };
    let iv = raw_aes::matches(&namespace, key_name, &wrapped).expect("own EDK matches");
    assert_eq!(
        Some(iv),
        reference::raw_aes_iv(
            &namespace,
            key_name,
            (&namespace, &info_out[..il], &ct_out[..cl])
        )
    );
    let back = raw_aes::unwrap(&RustCrypto, &namespace, key_name, key, &ec, &wrapped)
        .expect("unwrap")
        .expect("own EDK");
    assert!(back == dk);
}
