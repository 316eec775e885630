//! Writes the seed corpus of every target (before `cargo fuzz cmin` minimizes it).
//!
//! ```text
//! cargo run --release --example gen_seeds -- <test-vectors dir> <out dir> [max vector files]
//! ```
//!
//! Seeds: the smallest ciphertexts of each test-vector set (`ciphertexts/` and `ciphertext/`
//! directories, the C SDK `.bin` files), messages of every suite generated with the real
//! provider (raw AES key `fuzz-aes`) and with the fuzzing provider (marker and checksum
//! modes), framed and non-framed, and per-target encodings built from them. Every seed is run
//! through its target's check before it is written.

use esdk_core::crypto::CryptoProvider;
use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::edk::EdkRef;
use esdk_core::encryption_context::{EncryptionContext, EncryptionContextRef, PUBLIC_KEY_FIELD};
use esdk_core::keys::MAX_PUBLIC_KEY_B64_LEN;
use esdk_core::{
    AlgorithmSuite, DataKey, EncryptConfig, EncryptionMaterialsRef, Encryptor, HeaderRef, SigningKey,
    raw_aes,
};
use esdk_fuzz::common::checks::{self, fixed_data_key, permissive_parse, policy_for};
use esdk_fuzz::common::provider::{DetRng, FuzzCrypto};
use std::path::{Path, PathBuf};

struct Spec<'a> {
    suite: AlgorithmSuite,
    frame_length: u32,
    non_framed: bool,
    pairs: &'a [(&'a str, &'a str)],
    pt: &'a [u8],
}

fn seal<P: CryptoProvider + Clone>(
    provider: P,
    s: &Spec<'_>,
    dk: &DataKey,
    edks: &[EdkRef<'_>],
    rng: &mut DetRng,
) -> Vec<u8> {
    let sk = s
        .suite
        .signature()
        .map(|alg| SigningKey::generate(&provider, alg, rng).unwrap());
    let mut ec: EncryptionContext = s.pairs.iter().copied().collect();
    if let Some(sk) = &sk {
        let mut b = [0u8; MAX_PUBLIC_KEY_B64_LEN];
        ec.insert(
            PUBLIC_KEY_FIELD,
            sk.public_key(&provider).unwrap().to_base64(&mut b),
        );
    }
    let ec_bytes = ec.serialize().unwrap();
    let materials = EncryptionMaterialsRef::new(s.suite, dk, edks).with_encryption_context(EncryptionContextRef::parse(&ec_bytes).unwrap()).with_signing_key(sk.as_ref());
    let config = EncryptConfig::default().with_commitment_policy(policy_for(s.suite)).with_suite(Some(s.suite)).with_frame_length(s.frame_length).with_legacy_non_framed(s.non_framed);
    let ready = Encryptor::new(provider, config)
        .unwrap()
        .provide(materials, rng)
        .unwrap();
    let mut out = vec![0u8; ready.header_len()];
    let (mut frames, _) = ready.write_header(&mut out).unwrap();
    let f = s.frame_length as usize;
    let mut rest = s.pt;
    if !s.non_framed {
        while rest.len() > f {
            let start = out.len();
            out.resize(start + frames.sealed_frame_len(), 0);
            frames.seal_frame(&rest[..f], &mut out[start..]).unwrap();
            rest = &rest[f..];
        }
    }
    let start = out.len();
    out.resize(start + frames.finish_len(rest.len()), 0);
    frames.finish(rest, &mut out[start..], rng).unwrap();
    out
}

/// Frame length, non-framed, plaintext length, context pairs.
type Shape = (u32, bool, usize, &'static [(&'static str, &'static str)]);

/// Messages of every suite: (real provider?, bytes).
fn generated() -> Vec<(bool, Vec<u8>)> {
    let pt: Vec<u8> = (0..100u8).collect();
    let shapes: [Shape; 5] = [
        (16, false, 40, &[("purpose", "fuzz")]),
        (1, false, 3, &[]),
        (32, false, 64, &[("a", "1"), ("b", "2")]),
        (64, false, 0, &[]),
        (0, true, 20, &[("k", "v")]),
    ];
    let mut rng = DetRng::new(7);
    let mut out = Vec::new();
    for suite in AlgorithmSuite::ALL {
        for (frame_length, non_framed, len, pairs) in shapes {
            let s = Spec {
                suite,
                frame_length,
                non_framed,
                pairs,
                pt: &pt[..len],
            };
            // Real provider, raw AES key `fuzz-aes` in namespace `fuzz`.
            let dk = DataKey::generate(suite, &mut rng).unwrap();
            let mut ec: EncryptionContext = pairs.iter().copied().collect();
            // The raw AES AAD is the full context; signed suites add the public key, so wrap
            // after sealing is impossible: wrap over the context the message will carry.
            let mut msg_rng = rng.clone();
            let sk_probe = suite
                .signature()
                .map(|alg| SigningKey::generate(&RustCrypto, alg, &mut msg_rng).unwrap());
            if let Some(sk) = &sk_probe {
                let mut b = [0u8; MAX_PUBLIC_KEY_B64_LEN];
                ec.insert(
                    PUBLIC_KEY_FIELD,
                    sk.public_key(&RustCrypto).unwrap().to_base64(&mut b),
                );
            }
            let ec_bytes = ec.serialize().unwrap();
            let ec_ref = EncryptionContextRef::parse(&ec_bytes).unwrap();
            let (mut info, mut ct) = ([0u8; 64], [0u8; 64]);
            let (il, cl) = raw_aes::wrap(
                &RustCrypto,
                &[0x11; 32],
                b"fuzz-aes",
                &ec_ref,
                &dk,
                &mut DetRng::new(3),
                &mut info,
                &mut ct,
            )
            .unwrap();
            let edks = [EdkRef {
                provider_id: "fuzz",
                provider_info: &info[..il],
                ciphertext: &ct[..cl],
            }];
            // `seal` generates the signing key first, from the same generator state as the probe.
            out.push((true, seal(RustCrypto, &s, &dk, &edks, &mut rng)));

            // Fuzzing provider, both modes, fixed data key, opaque EDK.
            let edks = [EdkRef {
                provider_id: "fuzz",
                provider_info: b"k",
                ciphertext: &[0xE0; 16],
            }];
            let dk = fixed_data_key(suite);
            out.push((false, seal(FuzzCrypto::marker(), &s, &dk, &edks, &mut rng)));
            out.push((false, seal(FuzzCrypto::default(), &s, &dk, &edks, &mut rng)));
        }
    }
    out
}

fn vector_files(root: &Path, max: usize) -> Vec<Vec<u8>> {
    fn walk(dir: &Path, inside: bool, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                walk(
                    &p,
                    inside || name == "ciphertexts" || name == "ciphertext",
                    out,
                );
            } else if inside
                || name.ends_with(".ct")
                || (name.starts_with("ct_") && name.ends_with(".bin"))
                || name.ends_with("hello.bin")
                || name.ends_with("tinyframes.bin")
            {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(root, false, &mut files);
    let mut sized: Vec<(u64, PathBuf)> = files
        .into_iter()
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.len(), p)))
        .collect();
    sized.sort();
    sized
        .into_iter()
        .take(max)
        .map(|(_, p)| std::fs::read(p).unwrap())
        .collect()
}

/// Writes two `context_edk_parse` seeds from a parsed header: its serialized encryption
/// context after `ec_prefix`, and its EDK list (count and entries) after `edk_prefix`.
fn write_ec_edk_seeds(
    out: &Path,
    h: &HeaderRef<'_>,
    tag: &str,
    ec_prefix: [u8; 1],
    edk_prefix: [u8; 3],
) {
    let dir = out.join("context_edk_parse");
    let mut ec = ec_prefix.to_vec();
    ec.extend_from_slice(h.encryption_context().as_bytes());
    write(&dir, &format!("ec{tag}"), &ec, checks::context_edk_parse);
    let edks = h.encrypted_data_keys();
    let mut e = edk_prefix.to_vec();
    e.extend_from_slice(&u16::try_from(edks.len()).unwrap().to_be_bytes());
    e.extend_from_slice(edks.entries_bytes());
    write(&dir, &format!("edk{tag}"), &e, checks::context_edk_parse);
}

fn write(dir: &Path, name: &str, data: &[u8], check: fn(&[u8])) {
    check(data);
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(name), data).unwrap();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let vectors = PathBuf::from(args.get(1).expect("test-vectors dir"));
    let out = PathBuf::from(args.get(2).expect("output dir"));
    let max: usize = args.get(3).map_or(250, |s| s.parse().unwrap());
    let vecs = vector_files(&vectors, max);
    let gen_msgs = generated();
    eprintln!(
        "{} vector files, {} generated messages",
        vecs.len(),
        gen_msgs.len()
    );

    let mut real_ok = 0;
    for (i, v) in vecs.iter().enumerate() {
        write(
            &out.join("decrypt_rustcrypto"),
            &format!("vec{i}"),
            v,
            checks::decrypt_rustcrypto,
        );
        write(
            &out.join("header_roundtrip"),
            &format!("vec{i}"),
            v,
            checks::header_roundtrip,
        );
        if i % 6 == 0 {
            write(
                &out.join("decrypt_fuzz_provider"),
                &format!("vec{i}"),
                v,
                checks::decrypt_fuzz_provider,
            );
            let mut c = vec![1u8, 3, 1, 0, 200];
            c.extend_from_slice(v);
            write(
                &out.join("decrypt_chunked"),
                &format!("vec{i}"),
                &c,
                checks::decrypt_chunked,
            );
        }
        real_ok += usize::from(decrypts(v));
    }
    eprintln!(
        "{real_ok} of {} vector files decrypt with the raw AES table",
        vecs.len()
    );
    let mut gen_ok = 0;
    for (i, (real, m)) in gen_msgs.iter().enumerate() {
        write(
            &out.join("header_roundtrip"),
            &format!("gen{i}"),
            m,
            checks::header_roundtrip,
        );
        let t = if *real {
            "decrypt_rustcrypto"
        } else {
            "decrypt_fuzz_provider"
        };
        let check = if *real {
            checks::decrypt_rustcrypto
        } else {
            checks::decrypt_fuzz_provider
        };
        write(&out.join(t), &format!("gen{i}"), m, check);
        gen_ok += usize::from(if *real {
            decrypts(m)
        } else {
            decrypts_forged(m)
        });
        for (j, prefix) in [
            &[0u8, 3, 1, 7, 0][..],
            &[4, 2, 5, 64],
            &[2, 1, 0],
            &[6 | 64, 2, 3, 0x10, 0, 0x40, 0x10, 0, 0x10, 0, 9, 33],
            &[1, 2, 13, 0],
            &[1 | 8 | 16, 0],
        ]
        .iter()
        .enumerate()
        {
            if (i + j) % 3 != 0 {
                continue;
            }
            let mut c = prefix.to_vec();
            if *real {
                c[0] |= 1;
            } else {
                c[0] &= !1;
            }
            c.extend_from_slice(m);
            write(
                &out.join("decrypt_chunked"),
                &format!("gen{i}_{j}"),
                &c,
                checks::decrypt_chunked,
            );
        }
        if let Ok((h, _)) = HeaderRef::parse(m, &permissive_parse()) {
            write_ec_edk_seeds(&out, &h, &i.to_string(), [0], [1, 0, 8]);
            let edks = h.encrypted_data_keys();
            if let Some(edk) = edks.iter().next() {
                let mut r = vec![2u8, 1];
                for f in [
                    edk.provider_id.as_bytes(),
                    b"fuzz-aes",
                    edk.provider_info,
                    edk.ciphertext,
                ] {
                    r.push(u8::try_from(f.len()).unwrap());
                    r.extend_from_slice(f);
                }
                write(
                    &out.join("context_edk_parse"),
                    &format!("aes{i}"),
                    &r,
                    checks::context_edk_parse,
                );
            }
        }
    }
    eprintln!("{gen_ok} of {} generated messages decrypt", gen_msgs.len());
    // Vector EDK sections and contexts, for the parsers.
    for (i, v) in vecs.iter().enumerate().step_by(5) {
        if let Ok((h, _)) = HeaderRef::parse(v, &permissive_parse()) {
            write_ec_edk_seeds(&out, &h, &format!("vec_{i}"), [3], [4, 0xff, 0xff]);
        }
    }

    // encrypt_roundtrip: suite ‖ flags ‖ frame length ‖ pairs ‖ required ‖ EDKs ‖ pt ‖ [tamper] ‖ chunks.
    for (si, _) in AlgorithmSuite::ALL.iter().enumerate() {
        for (fi, flags) in [0u8, 1, 2, 4 | 8, 1 | 32, 32, 1 | 2 | 128, 64]
            .iter()
            .enumerate()
        {
            let mut e = vec![u8::try_from(si).unwrap(), *flags];
            if flags & 64 != 0 {
                e.extend_from_slice(&[0, 0, 0, 5]);
            } else {
                e.push([7u8, 1, 16, 3][fi % 4]);
            }
            e.extend_from_slice(&[2, 1, b'a', 1, b'1', 3, b'k', b'e', b'y', 0]);
            e.push(u8::from(fi % 2 == 1)); // required mask
            e.extend_from_slice(&[1, 2, b'p', b'1', 1, b'i', 3, 1, 2, 3]);
            e.extend_from_slice(&[0, 21]);
            e.extend_from_slice(b"plaintext for fuzzing");
            if flags & 32 != 0 {
                e.extend_from_slice(&[0, 77, 0x80]);
            }
            e.extend_from_slice(&[3, 0, 9]);
            write(
                &out.join("encrypt_roundtrip"),
                &format!("s{si}_{fi}"),
                &e,
                checks::encrypt_roundtrip,
            );
        }
    }

    // raw_rsa_info.
    let rsa: [&[u8]; 5] = [
        b"\x00\x02ns\x04name\x01\x02ns\x04name\x00\x03abc\x00",
        b"\x09\x02ns\x04name\x01\x02ns\x04name\x00\x03abc\x00RS",
        b"\x1b\x03rsa\x01k\x02\x01k\x00\x01\x00\x00\x01\x00\x01\x00\x00\x01RS",
        b"\x11\x03rsa\x01k\x02\x01k\x01\x00\x05hello\x01k\x01\x00\x00",
        b"\x00\x07aws-kms\x01k\x00",
    ];
    for (i, r) in rsa.iter().enumerate() {
        write(
            &out.join("raw_rsa_info"),
            &format!("rsa{i}"),
            r,
            esdk_fuzz::rsa::raw_rsa_info,
        );
    }
    eprintln!("seeds written to {}", out.display());
}

fn decrypts(msg: &[u8]) -> bool {
    use esdk_fuzz::common::drive::{self, Defer, Feed};
    drive::decrypt(
        RustCrypto,
        checks::permissive(),
        msg,
        &Feed::all(),
        Defer::Never,
        checks::answer_raw_aes,
    )
    .result
    .is_ok()
}

fn decrypts_forged(msg: &[u8]) -> bool {
    use esdk_fuzz::common::drive::{self, Defer, Feed};
    drive::decrypt(
        FuzzCrypto::default(),
        checks::permissive(),
        msg,
        &Feed::all(),
        Defer::Never,
        checks::answer_fixed,
    )
    .result
    .is_ok()
}
