//! Transcripts: the exact sequence of states (and `NeedInput` hints) the decryptor goes
//! through, the hold-back of the last plaintext until the footer and the end of input are
//! there, the encryptor's frame layout, and the encryptor typestate's misuse errors.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::std_instead_of_core
)]

mod support;

use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::decrypt::{DecryptState, Stats};
use esdk_core::edk::EdkRef;
use esdk_core::encryption_context::{EncryptionContextRef, PUBLIC_KEY_FIELD};
use esdk_core::error::{LimitError, LimitKind, MaterialsError, PolicyError, UsageError};
use esdk_core::suite::SignatureAlg;
use esdk_core::{
    AlgorithmSuite, CommitmentPolicy, ContentType, DataKey, DecryptionMaterialsRef, Decryptor,
    EncryptConfig, EncryptionMaterialsRef, Encryptor, Error, SigningKey, ciphertext_len,
};
use support::{
    Key, Spec, allow_all, decrypt_all, ec_bytes, encrypt_known, header_layout, layout, plaintext,
    public_key_b64,
};

const V1: AlgorithmSuite = AlgorithmSuite::AES_128_GCM_IV12_TAG16_HKDF_SHA256;
const V1_SIGNED: AlgorithmSuite = AlgorithmSuite::AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256;
const V1_SIGNED_384: AlgorithmSuite = AlgorithmSuite::AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384;
const V2: AlgorithmSuite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
const V2_SIGNED: AlgorithmSuite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;

// ---------------------------------------------------------------------------------------------
// A step-by-step decrypt driver that records everything

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Need(usize),
    Materials,
    Header,
    Plaintext { len: usize, discard: usize },
    Done,
    Failed(Error),
}

#[derive(Debug)]
struct Transcript {
    events: Vec<Ev>,
    chunks: Vec<Vec<u8>>,
    stats: Stats,
}

/// Feeds exactly what the decryptor asks for. A `lazy_eof` caller only says "end of input" when
/// asked for more after everything was fed; otherwise end of input goes with the last bytes.
fn transcript(msg: &[u8], key: &DataKey, lazy_eof: bool) -> Transcript {
    let mut dec = Decryptor::new(RustCrypto, allow_all());
    let (mut buf, mut fed, mut eof) = (Vec::new(), 0usize, false);
    let (mut events, mut chunks) = (vec![], vec![]);
    loop {
        if !lazy_eof && fed == msg.len() {
            eof = true;
        }
        let mut want = None;
        let discard = {
            let st = dec.process(&mut buf, eof);
            match st.state {
                Ok(DecryptState::NeedInput { min_len }) => {
                    events.push(Ev::Need(min_len));
                    want = Some(min_len);
                }
                Ok(DecryptState::NeedMaterials(req)) => {
                    events.push(Ev::Materials);
                    let suite = req.suite();
                    if let Err(e) = req.provide(&DecryptionMaterialsRef::new(suite, key)) {
                        events.push(Ev::Failed(e));
                        break;
                    }
                }
                Ok(DecryptState::HeaderVerified(_)) => events.push(Ev::Header),
                Ok(DecryptState::Plaintext(p)) => {
                    events.push(Ev::Plaintext {
                        len: p.len(),
                        discard: st.discard,
                    });
                    chunks.push(p.to_vec());
                }
                Ok(DecryptState::Done) => {
                    events.push(Ev::Done);
                    break;
                }
                Ok(_) => unreachable!(),
                Err(e) => {
                    events.push(Ev::Failed(e));
                    break;
                }
            }
            st.discard
        };
        buf.drain(..discard);
        if let Some(min_len) = want {
            if fed == msg.len() {
                assert!(lazy_eof && !eof, "asked for input after end of input");
                eof = true;
            } else {
                let n = (min_len - buf.len()).min(msg.len() - fed);
                buf.extend_from_slice(&msg[fed..fed + n]);
                fed += n;
            }
        }
    }
    Transcript {
        events,
        chunks,
        stats: dec.stats(),
    }
}

fn be16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_be_bytes([b[at], b[at + 1]]))
}

/// The `NeedInput` hints while reading a header: the end of each field in turn — the
/// decryptor never asks for a byte beyond the field it is reading.
fn header_hints(msg: &[u8]) -> Vec<usize> {
    let h = header_layout(msg);
    let mut v = vec![1];
    if h.version == 1 {
        v.push(2);
    }
    v.extend([h.suite_at + 2, h.message_id.end, h.aad_len_at + 2]);
    if !h.aad.is_empty() {
        v.push(h.aad.end);
    }
    v.push(h.edk_count_at + 2);
    let mut pos = h.edks.start;
    while pos < h.edks.end {
        let n = be16(msg, pos);
        pos += 2;
        v.push(pos);
        if n > 0 {
            pos += n;
            v.push(pos);
        }
    }
    v.push(h.content_type_at + 1);
    if let (Some(r), Some(iv)) = (h.reserved_at, h.iv_len_at) {
        v.extend([r + 4, iv + 1]);
    }
    v.push(h.frame_length_at + 4);
    if let Some(sd) = &h.suite_data {
        v.push(sd.end);
    }
    if let Some(iv) = &h.header_iv {
        v.push(iv.end);
    }
    v.push(h.tag.end);
    v
}

/// The expected transcript of a valid framed message fed exactly as asked.
fn expected_framed(msg: &[u8], lazy_eof: bool) -> Vec<Ev> {
    let l = layout(msg);
    let mut ev: Vec<Ev> = header_hints(msg).into_iter().map(Ev::Need).collect();
    ev.extend([Ev::Materials, Ev::Header]);
    for f in l.regular_frames() {
        ev.extend([
            Ev::Need(4),
            Ev::Need(f.range.len()),
            Ev::Plaintext {
                len: f.content.len(),
                discard: f.range.len(),
            },
        ]);
    }
    let fin = l.final_frame();
    ev.extend([Ev::Need(4), Ev::Need(24)]);
    let mut total = fin.range.len();
    if !l.footer.is_empty() {
        ev.push(Ev::Need(total + 2));
        total += l.footer.len();
    }
    ev.push(Ev::Need(total));
    if lazy_eof {
        // Everything is there, but the last plaintext waits for end of input.
        ev.push(Ev::Need(total + 1));
    }
    ev.extend([
        Ev::Plaintext {
            len: fin.content.len(),
            discard: total,
        },
        Ev::Done,
    ]);
    ev
}

// ---------------------------------------------------------------------------------------------
// Decryptor transcripts

#[test]
fn three_frame_unsigned_message() {
    let pt = plaintext(40);
    for suite in [V1, V2] {
        let e = encrypt_known(
            Spec::new(suite, 16).pairs(&[("purpose", "transcript")]),
            &pt,
        );
        let out = decrypt_all(&e.msg, Key::Data(&e.data_key), allow_all());
        assert_eq!(
            out.states,
            [
                "materials",
                "header",
                "plaintext",
                "plaintext",
                "plaintext",
                "done"
            ]
        );
        assert_eq!(out.chunks, [&pt[..16], &pt[16..32], &pt[32..]]);
        for lazy in [false, true] {
            let t = transcript(&e.msg, &e.data_key, lazy);
            assert_eq!(
                t.events,
                expected_framed(&e.msg, lazy),
                "suite {suite} lazy {lazy}"
            );
            assert_eq!(t.chunks.concat(), pt);
            assert_eq!(
                (t.stats.consumed, t.stats.released, t.stats.frames),
                (e.msg.len() as u64, 40, 3)
            );
        }
    }
}

#[test]
fn signed_messages_transcript() {
    let pt = plaintext(40);
    for suite in [V1_SIGNED, V1_SIGNED_384, V2_SIGNED] {
        let e = encrypt_known(Spec::new(suite, 16).pairs(&[("a", "b")]), &pt);
        for lazy in [false, true] {
            let t = transcript(&e.msg, &e.data_key, lazy);
            assert_eq!(
                t.events,
                expected_framed(&e.msg, lazy),
                "suite {suite} lazy {lazy}"
            );
            assert_eq!(t.chunks.concat(), pt);
        }
    }
}

/// Signed: the final frame's plaintext comes only after the whole footer and end of input.
/// Unsigned: only at end of input (so trailing bytes can still be detected).
#[test]
fn final_plaintext_waits_for_footer_and_end_of_input() {
    let pt = plaintext(40);
    for suite in [V1, V1_SIGNED, V2, V2_SIGNED] {
        let e = encrypt_known(Spec::new(suite, 16), &pt);
        let n = e.msg.len();
        let mut dec = Decryptor::new(RustCrypto, allow_all());
        let mut buf = e.msg[..n - 1].to_vec();
        let mut released: Vec<Vec<u8>> = vec![];
        // Run on all but the last byte, end of input not signalled, until it waits.
        let hint = loop {
            let discard = {
                let st = dec.process(&mut buf, false);
                match st.state.unwrap() {
                    DecryptState::NeedInput { min_len } => break min_len,
                    DecryptState::NeedMaterials(req) => req
                        .provide(&DecryptionMaterialsRef::new(suite, &e.data_key))
                        .unwrap(),
                    DecryptState::Plaintext(p) => released.push(p.to_vec()),
                    DecryptState::HeaderVerified(_) => {}
                    other => panic!("{other:?}"),
                }
                st.discard
            };
            buf.drain(..discard);
        };
        assert_eq!(
            released,
            [&pt[..16], &pt[16..32]],
            "suite {suite}: final frame released early"
        );
        assert_eq!(hint, buf.len() + 1, "waits for exactly the last byte");
        // The last byte arrives, still no end of input: nothing more is released.
        buf.push(e.msg[n - 1]);
        let len = buf.len();
        {
            let st = dec.process(&mut buf, false);
            assert_eq!(
                (st.discard, st.state.unwrap_err_or_need()),
                (0, Some(len + 1))
            );
        }
        // End of input: the final frame, then Done.
        {
            let st = dec.process(&mut buf, true);
            assert_eq!(st.discard, len);
            match st.state.unwrap() {
                DecryptState::Plaintext(p) => assert_eq!(&*p, &pt[32..]),
                other => panic!("{other:?}"),
            }
        }
        buf.clear();
        {
            assert!(matches!(
                dec.process(&mut buf, true).state,
                Ok(DecryptState::Done)
            ));
        }
        assert!(dec.is_done());
        // Once done, further calls say so and change nothing.
        for _ in 0..2 {
            let st = dec.process(&mut buf, true);
            assert_eq!(st.state.err(), Some(Error::Usage(UsageError::AlreadyDone)));
        }
        assert!(dec.is_done());

        // With end of input signalled one byte short: Truncated, nothing of the final frame.
        let t = decrypt_all(&e.msg[..n - 1], Key::Data(&e.data_key), allow_all());
        assert_eq!(t.result, Err(Error::Truncated));
        assert_eq!(t.chunks, [&pt[..16], &pt[16..32]]);
    }
}

trait NeedExt {
    fn unwrap_err_or_need(self) -> Option<usize>;
}
impl NeedExt for Result<DecryptState<'_, RustCrypto>, Error> {
    fn unwrap_err_or_need(self) -> Option<usize> {
        match self {
            Ok(DecryptState::NeedInput { min_len }) => Some(min_len),
            other => panic!("expected NeedInput, got {other:?}"),
        }
    }
}

#[test]
fn non_framed_and_empty_transcripts() {
    for suite in [V1, V2_SIGNED] {
        let e = encrypt_known(Spec::new(suite, 0).non_framed(), b"single block");
        let out = decrypt_all(&e.msg, Key::Data(&e.data_key), allow_all());
        assert_eq!(out.states, ["materials", "header", "plaintext", "done"]);
        let t = transcript(&e.msg, &e.data_key, false);
        let l = layout(&e.msg);
        let body = l.frames[0].range.len();
        let mut tail = vec![Ev::Materials, Ev::Header, Ev::Need(20)];
        if suite.is_signed() {
            tail.push(Ev::Need(body + 2));
        }
        tail.extend([
            Ev::Need(body + l.footer.len()),
            Ev::Plaintext {
                len: 12,
                discard: body + l.footer.len(),
            },
            Ev::Done,
        ]);
        assert_eq!(t.events[t.events.len() - tail.len()..], tail[..]);

        // Empty plaintext: one empty final frame, released as an empty chunk.
        let e = encrypt_known(Spec::new(suite, 16), b"");
        let out = decrypt_all(&e.msg, Key::Data(&e.data_key), allow_all());
        assert_eq!(out.states, ["materials", "header", "plaintext", "done"]);
        assert_eq!(out.chunks, [Vec::<u8>::new()]);
        assert_eq!(layout(&e.msg).frames.len(), 1);
    }
}

/// The materials request shows the (unverified) header; `HeaderVerified` shows the verified one.
#[test]
fn materials_request_and_verified_header() {
    let e = encrypt_known(
        Spec::new(V2_SIGNED, 64)
            .pairs(&[("stored", "1"), ("req", "2")])
            .required(&["req"]),
        b"x",
    );
    let mut dec = Decryptor::new(RustCrypto, allow_all());
    let mut buf = e.msg.clone();
    {
        let st = dec.process(&mut buf, true);
        assert_eq!(st.discard, 0);
        let Ok(DecryptState::NeedMaterials(req)) = st.state else {
            panic!()
        };
        assert_eq!(req.suite(), V2_SIGNED);
        assert_eq!(
            req.commitment_policy(),
            CommitmentPolicy::RequireEncryptAllowDecrypt
        );
        let edks: Vec<_> = req.encrypted_data_keys().iter().collect();
        assert_eq!(
            edks,
            [EdkRef {
                provider_id: "ns",
                provider_info: b"key",
                ciphertext: &[0xE0; 48]
            }]
        );
        let ec = req.encryption_context_unverified();
        assert_eq!(ec.get("stored"), Some("1"));
        assert_eq!(ec.get("req"), None, "required pairs are not stored");
        assert!(ec.get(PUBLIC_KEY_FIELD).is_some());
        let full = ec_bytes(&e.ec.iter().collect::<Vec<_>>());
        let m = DecryptionMaterialsRef::new(V2_SIGNED, &e.data_key)
            .with_encryption_context(EncryptionContextRef::parse(&full).unwrap())
            .with_required_encryption_context_keys(&["req"]);
        req.provide(&m).unwrap();
    }
    let st = dec.process(&mut buf, true);
    let h_len = st.discard;
    let Ok(DecryptState::HeaderVerified(h)) = st.state else {
        panic!()
    };
    assert_eq!(h_len, layout(&e.msg).header.len);
    assert_eq!(h.len(), h_len);
    assert_eq!(
        (h.suite(), h.content_type(), h.frame_length()),
        (V2_SIGNED, ContentType::Framed, 64)
    );
    assert_eq!(h.message_id().len(), 32);
    assert_eq!(h.encrypted_data_keys().len(), 1);
}

/// The header bytes must stay in place between `NeedMaterials` and `HeaderVerified`.
#[test]
fn input_changed_after_materials() {
    let e = encrypt_known(Spec::new(V2, 16), b"abc");
    let mut dec = Decryptor::new(RustCrypto, allow_all());
    let mut buf = e.msg.clone();
    if let Ok(DecryptState::NeedMaterials(req)) = dec.process(&mut buf, true).state {
        req.provide(&DecryptionMaterialsRef::new(V2, &e.data_key))
            .unwrap();
    } else {
        panic!();
    }
    buf.remove(0);
    let st = dec.process(&mut buf, true);
    assert!(
        matches!(st.state, Err(Error::Usage(UsageError::InvalidInput(_)))),
        "{:?}",
        st.state
    );
}

// ---------------------------------------------------------------------------------------------
// Encryptor: layout

/// An exact multiple of the frame length ends in a full final frame; ciphertext_len agrees.
#[test]
fn exact_multiple_writes_full_final_frame() {
    for suite in [V1, V1_SIGNED, V2, V2_SIGNED] {
        for (f, n) in [(16u32, 48usize), (1, 3), (64, 64)] {
            let pt = plaintext(n);
            let e = encrypt_known(Spec::new(suite, f), &pt);
            let l = layout(&e.msg);
            let frames = n / f as usize;
            assert_eq!(l.frames.len(), frames);
            assert!(
                l.regular_frames()
                    .iter()
                    .all(|fr| fr.content.len() == f as usize)
            );
            assert_eq!(
                l.final_frame().content.len(),
                f as usize,
                "full final frame"
            );
            let stored = e.ec.serialize_filtered(|_| true).unwrap().len();
            let edk = EdkRef {
                provider_id: "ns",
                provider_info: b"key",
                ciphertext: &[0xE0; 48],
            };
            let predicted =
                ciphertext_len(suite, std::iter::once(edk), stored, f, n as u64).unwrap();
            assert_eq!(predicted, e.msg.len() as u64);
            let out = decrypt_all(&e.msg, Key::Data(&e.data_key), allow_all());
            let mut states = vec!["materials", "header"];
            states.extend(std::iter::repeat_n("plaintext", frames));
            states.push("done");
            assert_eq!(out.states, states);
            assert_eq!(out.plaintext, pt);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Encryptor typestate misuse

struct Owned {
    suite: AlgorithmSuite,
    dk: DataKey,
    sk: Option<SigningKey>,
    ec: Vec<u8>,
}

impl Owned {
    fn new(suite: AlgorithmSuite, pairs: &[(&str, &str)]) -> Self {
        let mut rng = rand_core::OsRng;
        let sk = suite
            .signature()
            .map(|a| SigningKey::generate(&RustCrypto, a, &mut rng).unwrap());
        let mut all: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(sk) = &sk {
            all.push((PUBLIC_KEY_FIELD.into(), public_key_b64(sk)));
        }
        let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        Self {
            suite,
            dk: DataKey::generate(suite, &mut rng).unwrap(),
            sk,
            ec: ec_bytes(&all),
        }
    }
    fn materials<'m>(&'m self, edks: &'m [EdkRef<'m>]) -> EncryptionMaterialsRef<'m> {
        EncryptionMaterialsRef::new(self.suite, &self.dk, edks)
            .with_encryption_context(EncryptionContextRef::parse(&self.ec).unwrap())
            .with_signing_key(self.sk.as_ref())
    }
}

const EDK: EdkRef<'static> = EdkRef {
    provider_id: "ns",
    provider_info: b"key",
    ciphertext: &[1; 40],
};

fn config(suite: AlgorithmSuite, frame_length: u32) -> EncryptConfig {
    EncryptConfig::default()
        .with_commitment_policy(support::policy_for(suite))
        .with_suite(Some(suite))
        .with_frame_length(frame_length)
}

fn provide_err(config: EncryptConfig, m: EncryptionMaterialsRef<'_>) -> Error {
    Encryptor::new(RustCrypto, config)
        .unwrap()
        .provide(m, &mut rand_core::OsRng)
        .unwrap_err()
}

#[test]
fn encryptor_frame_and_buffer_misuse() {
    for suite in [V1, V2_SIGNED] {
        let o = Owned::new(suite, &[("a", "b")]);
        let edks = [EDK];
        let f = 16usize;
        let ready = Encryptor::new(RustCrypto, config(suite, f as u32))
            .unwrap()
            .provide(o.materials(&edks), &mut rand_core::OsRng)
            .unwrap();
        let hl = ready.header_len();
        let mut out = vec![0u8; hl + 4 * (f + 32) + 200];
        let (mut frames, n) = ready.write_header(&mut out).unwrap();
        assert_eq!(n, hl);
        let mut pos = hl;
        let pt = plaintext(3 * f + 5);
        // Wrong plaintext lengths for a regular frame.
        for bad in [0, f - 1, f + 1] {
            assert_eq!(
                frames.seal_frame(&pt[..bad], &mut out[pos..]),
                Err(Error::Usage(UsageError::WrongFrameLength {
                    expected: f,
                    actual: bad
                }))
            );
        }
        // Output too small for a regular frame, then for the in-place record.
        let mut small = vec![0u8; f + 31];
        assert_eq!(
            frames.seal_frame(&pt[..f], &mut small),
            Err(Error::Usage(UsageError::OutputTooSmall {
                required: f + 32
            }))
        );
        assert_eq!(
            frames.seal_frame_in_place(&mut small),
            Err(Error::Usage(UsageError::WrongFrameLength {
                expected: f + 32,
                actual: f + 31
            }))
        );
        // None of that advanced the sequence: the message still comes out right.
        for i in 0..3 {
            pos += frames
                .seal_frame(&pt[i * f..(i + 1) * f], &mut out[pos..])
                .unwrap();
        }
        let tail = &pt[3 * f..];
        let need = frames.finish_len(tail.len());
        assert_eq!(need, frames_len(suite, tail.len()));
        pos += frames
            .finish(tail, &mut out[pos..], &mut rand_core::OsRng)
            .unwrap();
        out.truncate(pos);
        let dec = decrypt_all(&out, Key::Data(&o.dk), allow_all());
        assert_eq!(dec.plaintext, pt);

        // Output too small for the header.
        let ready = Encryptor::new(RustCrypto, config(suite, f as u32))
            .unwrap()
            .provide(o.materials(&edks), &mut rand_core::OsRng)
            .unwrap();
        let mut short = vec![0u8; hl - 1];
        assert_eq!(
            ready.write_header(&mut short).unwrap_err(),
            Error::Usage(UsageError::OutputTooSmall { required: hl })
        );

        // finish: a tail longer than the frame, and an output too small.
        let fresh = || {
            let ready = Encryptor::new(RustCrypto, config(suite, f as u32))
                .unwrap()
                .provide(o.materials(&edks), &mut rand_core::OsRng)
                .unwrap();
            let mut h = vec![0u8; ready.header_len()];
            ready.write_header(&mut h).unwrap().0
        };
        let mut big = vec![0u8; 1000];
        assert_eq!(
            fresh().finish(&pt[..f + 1], &mut big, &mut rand_core::OsRng),
            Err(Error::Usage(UsageError::WrongFrameLength {
                expected: f,
                actual: f + 1
            }))
        );
        let frames = fresh();
        let required = frames.finish_len(5);
        let mut small = vec![0u8; required - 1];
        assert_eq!(
            frames.finish(&pt[..5], &mut small, &mut rand_core::OsRng),
            Err(Error::Usage(UsageError::OutputTooSmall { required }))
        );
        // A full-frame tail is a full final frame.
        let frames = fresh();
        assert_eq!(
            frames
                .finish(&pt[..f], &mut big, &mut rand_core::OsRng)
                .unwrap(),
            frames_len(suite, f)
        );
    }
}

fn frames_len(suite: AlgorithmSuite, tail: usize) -> usize {
    40 + tail + suite.signature().map_or(0, |a| 2 + a.fixed_signature_len())
}

#[test]
fn encryptor_configuration_errors() {
    // Frame length 0.
    for suite in [V1, V2] {
        assert_eq!(
            Encryptor::new(RustCrypto, config(suite, 0)).unwrap_err(),
            Error::Usage(UsageError::InvalidConfig("frame length must be at least 1"))
        );
    }
    // Requested suite forbidden by the policy.
    for suite in AlgorithmSuite::ALL {
        for policy in [
            CommitmentPolicy::ForbidEncryptAllowDecrypt,
            CommitmentPolicy::RequireEncryptAllowDecrypt,
            CommitmentPolicy::RequireEncryptRequireDecrypt,
        ] {
            let cfg = EncryptConfig::default()
                .with_commitment_policy(policy)
                .with_suite(Some(suite));
            let res = Encryptor::new(RustCrypto, cfg);
            if policy.allows_encrypt(suite) {
                assert!(res.is_ok());
            } else {
                assert_eq!(
                    res.unwrap_err(),
                    Error::Policy(PolicyError::CommitmentPolicy {
                        suite: suite.id(),
                        policy
                    })
                );
            }
        }
    }
    // No suite requested: the materials' suite is checked against the policy.
    let o = Owned::new(V1, &[]);
    let edks = [EDK];
    let cfg = EncryptConfig::default()
        .with_commitment_policy(CommitmentPolicy::RequireEncryptRequireDecrypt);
    assert_eq!(
        provide_err(cfg, o.materials(&edks)),
        Error::Policy(PolicyError::CommitmentPolicy {
            suite: V1.id(),
            policy: CommitmentPolicy::RequireEncryptRequireDecrypt
        })
    );
    // Non-framed mode refuses regular frames.
    let cfg = config(V1, 16)
        .with_legacy_non_framed(true)
        .with_frame_length(16);
    let ready = Encryptor::new(RustCrypto, cfg)
        .unwrap()
        .provide(o.materials(&edks), &mut rand_core::OsRng)
        .unwrap();
    let mut h = vec![0u8; ready.header_len()];
    let (mut frames, _) = ready.write_header(&mut h).unwrap();
    assert_eq!(
        frames.seal_frame(&[0; 16], &mut [0; 64]),
        Err(Error::Policy(PolicyError::NonFramedEncryptionDisabled))
    );
}

#[test]
fn encryptor_materials_errors() {
    let edks = [EDK];
    let mut rng = rand_core::OsRng;
    // Materials for another suite than the requested one.
    for (requested, other) in [(V2, V2_SIGNED), (V2_SIGNED, V2), (V1, V1_SIGNED)] {
        let o = Owned::new(other, &[]);
        let cfg = EncryptConfig::default()
            .with_commitment_policy(support::policy_for(requested))
            .with_suite(Some(requested));
        assert_eq!(
            provide_err(cfg, o.materials(&edks)),
            Error::Materials(MaterialsError::SuiteMismatch {
                expected: requested.id(),
                actual: other.id()
            })
        );
    }
    for suite in [V1_SIGNED, V2_SIGNED] {
        let o = Owned::new(suite, &[("a", "b")]);
        // Signed suite without a signing key.
        let m = o.materials(&edks).with_signing_key(None);
        assert_eq!(
            provide_err(config(suite, 16), m),
            Error::Materials(MaterialsError::MissingSignatureKey)
        );
        // A signing key on the wrong curve.
        let alg = suite.signature().unwrap();
        let other_alg = if alg == SignatureAlg::EcdsaP256Sha256 {
            SignatureAlg::EcdsaP384Sha384
        } else {
            SignatureAlg::EcdsaP256Sha256
        };
        let wrong_curve = SigningKey::generate(&RustCrypto, other_alg, &mut rng).unwrap();
        let m = o.materials(&edks).with_signing_key(Some(&wrong_curve));
        assert_eq!(
            provide_err(config(suite, 16), m),
            Error::Materials(MaterialsError::InvalidSignatureKey)
        );
        // aws-crypto-public-key missing, or of another key.
        let without = ec_bytes(&[("a", "b")]);
        let m = o
            .materials(&edks)
            .with_encryption_context(EncryptionContextRef::parse(&without).unwrap());
        assert_eq!(
            provide_err(config(suite, 16), m),
            Error::Materials(MaterialsError::PublicKeyEntry)
        );
        let stranger = SigningKey::generate(&RustCrypto, alg, &mut rng).unwrap();
        let wrong_pk = ec_bytes(&[("a", "b"), (PUBLIC_KEY_FIELD, &public_key_b64(&stranger))]);
        let m = o
            .materials(&edks)
            .with_encryption_context(EncryptionContextRef::parse(&wrong_pk).unwrap());
        assert_eq!(
            provide_err(config(suite, 16), m),
            Error::Materials(MaterialsError::PublicKeyEntry)
        );
        // The public key listed as a required (unstored) key.
        let m = o
            .materials(&edks)
            .with_required_encryption_context_keys(&[PUBLIC_KEY_FIELD]);
        assert_eq!(
            provide_err(config(suite, 16), m),
            Error::Materials(MaterialsError::PublicKeyEntry)
        );
    }
    for suite in [V1, V2] {
        let o = Owned::new(suite, &[("a", "b")]);
        // Unsigned suite with a signing key, or with a public-key entry.
        let sk =
            SigningKey::generate(&RustCrypto, SignatureAlg::EcdsaP384Sha384, &mut rng).unwrap();
        let m = o.materials(&edks).with_signing_key(Some(&sk));
        assert_eq!(
            provide_err(config(suite, 16), m),
            Error::Materials(MaterialsError::UnexpectedSignatureKey)
        );
        let with_pk = ec_bytes(&[("a", "b"), (PUBLIC_KEY_FIELD, &public_key_b64(&sk))]);
        let m = o
            .materials(&edks)
            .with_encryption_context(EncryptionContextRef::parse(&with_pk).unwrap());
        assert_eq!(
            provide_err(config(suite, 16), m),
            Error::Materials(MaterialsError::PublicKeyEntry)
        );
        // EDKs: none, and more than the configured maximum.
        assert_eq!(
            provide_err(config(suite, 16), o.materials(&[])),
            Error::Materials(MaterialsError::NoEncryptedDataKeys)
        );
        let three = [EDK, EDK, EDK];
        let cfg = config(suite, 16).with_max_encrypted_data_keys(Some(2));
        assert_eq!(
            provide_err(cfg, o.materials(&three)),
            Error::Limit(LimitError {
                what: LimitKind::EncryptedDataKeys,
                limit: 2,
                actual: 3
            })
        );
        let cfg = config(suite, 16).with_max_encrypted_data_keys(Some(3));
        assert!(
            Encryptor::new(RustCrypto, cfg)
                .unwrap()
                .provide(o.materials(&three), &mut rng)
                .is_ok()
        );
        // Non-canonical context bytes: unsorted, and the legacy `00 00` empty form.
        let unsorted = support::ec_bytes_raw(&[(b"b", b"1"), (b"a", b"2")]);
        for bytes in [unsorted, vec![0, 0]] {
            let m = o
                .materials(&edks)
                .with_encryption_context(EncryptionContextRef::parse(&bytes).unwrap());
            assert!(matches!(
                provide_err(config(suite, 16), m),
                Error::Usage(UsageError::InvalidInput(_))
            ));
        }
        // A required key not in the context.
        let m = o
            .materials(&edks)
            .with_required_encryption_context_keys(&["missing"]);
        assert_eq!(
            provide_err(config(suite, 16), m),
            Error::Materials(MaterialsError::RequiredKeyMissing)
        );
        // A data key of the wrong length.
        let short = DataKey::from_slice(&[1; 24]).unwrap();
        let m = o.materials(&edks).with_data_key(&short);
        assert_eq!(
            provide_err(config(suite, 16), m),
            Error::Materials(MaterialsError::DataKeyLength {
                expected: suite.data_key_len(),
                actual: 24
            })
        );
    }
}
