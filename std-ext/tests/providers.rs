//! Every backend against the other: AES-GCM, incremental GMAC, HKDF, digests and ECDSA must agree
//! byte for byte (or, for randomized signatures, verify across backends), and each must keep
//! the core's contracts (fixed signature lengths, no plaintext left after a failed open).

use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::crypto::{AeadKey, CryptoProvider, Gmac, RunningDigest};
use esdk_core::suite::{HashAlg, SignatureAlg};
use esdk_std::provider::Backend;
use rand::{Rng, SeedableRng};

fn rng() -> rand::rngs::StdRng {
    rand::rngs::StdRng::seed_from_u64(13)
}

#[test]
fn aes_gcm_agrees_with_rustcrypto_and_is_detached_in_place() {
    let mut r = rng();
    for b in Backend::all() {
        for key_len in [16usize, 24, 32] {
            for len in [0usize, 1, 15, 16, 17, 4095, 4096, 65_537] {
                let key: Vec<u8> = (0..key_len).map(|_| r.r#gen()).collect();
                let iv: [u8; 12] = r.r#gen();
                let aad: Vec<u8> = (0..r.gen_range(0..100)).map(|_| r.r#gen()).collect();
                let pt: Vec<u8> = (0..len).map(|_| r.r#gen()).collect();
                let kb = b.aead_key(&key).unwrap();
                let kr = RustCrypto.aead_key(&key).unwrap();
                let mut cb = pt.clone();
                let mut cr = pt.clone();
                let tb = kb.seal_in_place(&iv, &aad, &mut cb).unwrap();
                let tr = kr.seal_in_place(&iv, &aad, &mut cr).unwrap();
                assert_eq!((&cb, tb), (&cr, tr), "{} {key_len} {len}", b.name());
                let mut back = cb.clone();
                kb.open_in_place(&iv, &aad, &mut back, &tb).unwrap();
                assert_eq!(back, pt);
                // A bad tag: error, and no plaintext left in the buffer.
                let mut bad = tb;
                bad[r.gen_range(0..16)] ^= 1 << r.gen_range(0..8);
                let mut buf = cb.clone();
                assert!(kb.open_in_place(&iv, &aad, &mut buf, &bad).is_err());
                if len > 0 {
                    assert_ne!(buf, pt, "{}: plaintext left after a failed open", b.name());
                }
            }
        }
        assert!(b.aead_key(&[0; 31]).is_err());
    }
}

#[test]
fn gmac_matches_aes_gcm_of_empty_plaintext_for_any_split() {
    for b in Backend::all() {
        for key_len in [16usize, 24, 32] {
            let key = b.aead_key(&[7u8; 32][..key_len]).unwrap();
            let iv = [3u8; 12];
            let aad: Vec<u8> = (0..70u8).collect();
            let expect = key.seal_in_place(&iv, &aad, &mut []).unwrap();
            for a in 0..=aad.len() {
                for c in (a..=aad.len()).step_by(7) {
                    let mut mac = key.gmac(&iv).unwrap();
                    mac.update(&aad[..a]);
                    mac.update(&aad[a..c]);
                    mac.update(&aad[c..]);
                    assert_eq!(mac.finalize(), expect, "{} {a} {c}", b.name());
                }
            }
        }
    }
}

#[test]
fn hkdf_agrees_with_rustcrypto_and_rfc5869() {
    // RFC 5869 test case 1 (SHA-256).
    let ikm = [0x0bu8; 22];
    let salt: Vec<u8> = (0..=0x0cu8).collect();
    let info: Vec<u8> = (0xf0..=0xf9u8).collect();
    let expect = hex::decode(
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
    )
    .unwrap();
    let mut r = rng();
    for b in Backend::all() {
        let mut okm = [0u8; 42];
        b.hkdf(
            HashAlg::Sha256,
            &salt,
            &ikm,
            &[&info[..4], &info[4..]],
            &mut okm,
        )
        .unwrap();
        assert_eq!(okm.to_vec(), expect, "{}", b.name());
        for hash in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
            for salt_len in [0usize, 1, 32, 64] {
                let salt: Vec<u8> = (0..salt_len).map(|_| r.r#gen()).collect();
                let ikm: Vec<u8> = (0..32).map(|_| r.r#gen()).collect();
                let (mut a1, mut a2, mut c1, mut c2) = ([0u8; 32], [0u8; 64], [0u8; 32], [0u8; 64]);
                b.hkdf_two(hash, &salt, &ikm, &[b"x", b"y"], &mut a1, &[b"z"], &mut a2)
                    .unwrap();
                RustCrypto
                    .hkdf_two(hash, &salt, &ikm, &[b"xy"], &mut c1, &[b"z"], &mut c2)
                    .unwrap();
                assert_eq!((a1, a2), (c1, c2), "{} {hash:?} {salt_len}", b.name());
            }
        }
        let mut too_long = vec![0u8; 255 * 32 + 1];
        assert!(
            b.hkdf(HashAlg::Sha256, b"", b"k", &[], &mut too_long)
                .is_err()
        );
    }
}

#[test]
fn ecdsa_signatures_are_fixed_length_and_verify_across_backends() {
    let mut r = rng();
    for b in Backend::all() {
        for alg in [SignatureAlg::EcdsaP256Sha256, SignatureAlg::EcdsaP384Sha384] {
            for _ in 0..8 {
                let mut sk = [0u8; 48];
                let sk = &mut sk[..alg.secret_len()];
                let mut pk = [0u8; 49];
                let n = b.ecdsa_generate_pair(alg, &mut r, sk, &mut pk).unwrap();
                assert_eq!(n, alg.compressed_public_key_len());
                // Both backends derive the same public key from the scalar.
                let mut pk2 = [0u8; 49];
                let n2 = RustCrypto.ecdsa_public_key(alg, sk, &mut pk2).unwrap();
                assert_eq!(&pk[..n], &pk2[..n2]);
                b.ecdsa_check_public_key(alg, &pk[..n]).unwrap();
                let msg: Vec<u8> = (0..r.gen_range(0..300)).map(|_| r.r#gen()).collect();
                let mut d = b.digest(alg);
                d.update(&msg);
                let mut sig = [0u8; 104];
                let len = b.ecdsa_sign(alg, sk, d.clone(), &mut r, &mut sig).unwrap();
                assert_eq!(len, alg.fixed_signature_len());
                b.ecdsa_verify(alg, &pk[..n], d.clone(), &sig[..len])
                    .unwrap();
                let mut dr = RustCrypto.digest(alg);
                dr.update(&msg);
                RustCrypto
                    .ecdsa_verify(alg, &pk[..n], dr.clone(), &sig[..len])
                    .unwrap();
                // And a RustCrypto signature verifies here.
                let mut sr = [0u8; 104];
                let lr = RustCrypto.ecdsa_sign(alg, sk, dr, &mut r, &mut sr).unwrap();
                b.ecdsa_verify(alg, &pk[..n], d.clone(), &sr[..lr]).unwrap();
                let mut bad = sig;
                bad[r.gen_range(4..len)] ^= 1;
                assert!(
                    b.ecdsa_verify(alg, &pk[..n], d.clone(), &bad[..len])
                        .is_err()
                );
                let mut other = b.digest(alg);
                other.update(b"other");
                assert!(b.ecdsa_verify(alg, &pk[..n], other, &sig[..len]).is_err());
            }
            // x = 2^k - 1 is not below the field prime: no such point.
            let mut bad_point = [0xffu8; 49];
            bad_point[0] = 2;
            assert!(
                b.ecdsa_check_public_key(alg, &bad_point[..alg.compressed_public_key_len()])
                    .is_err()
            );
            assert!(
                b.ecdsa_public_key(alg, &[0u8; 48][..alg.secret_len()], &mut [0; 49])
                    .is_err()
            );
        }
    }
}

#[test]
fn key_generation_follows_the_injected_rng() {
    for b in Backend::all() {
        for alg in [SignatureAlg::EcdsaP256Sha256, SignatureAlg::EcdsaP384Sha384] {
            let mut out = Vec::new();
            for _ in 0..2 {
                let mut r = rng();
                let mut sk = [0u8; 48];
                let mut pk = [0u8; 49];
                b.ecdsa_generate_pair(alg, &mut r, &mut sk[..alg.secret_len()], &mut pk)
                    .unwrap();
                out.push((sk, pk));
            }
            assert_eq!(out[0], out[1], "{}", b.name());
        }
    }
}

#[test]
fn an_injected_rng_makes_whole_messages_deterministic() {
    use esdk_std::keyring::RawAesKeyring;
    use esdk_std::{AlgorithmSuite, Client, DecryptOptions, EncryptOptions, SharedRng};
    let keyring = RawAesKeyring::new("ns", "key", &[3u8; 32]).unwrap();
    for b in Backend::all() {
        let encrypt = |seed: u64| {
            let client = Client::builder()
                .backend(b.clone())
                .rng(SharedRng::new(rand::rngs::StdRng::seed_from_u64(seed)))
                .build();
            let opts =
                EncryptOptions::keyring(&keyring).suite(AlgorithmSuite::from_id(0x0478).unwrap());
            let ct = client.encrypt(b"same plaintext", &opts).unwrap().ciphertext;
            let pt = client
                .decrypt(&ct, &DecryptOptions::keyring(&keyring))
                .unwrap()
                .plaintext;
            assert_eq!(pt, b"same plaintext");
            ct
        };
        assert_eq!(encrypt(1), encrypt(1), "{}", b.name());
        assert_ne!(encrypt(1), encrypt(2), "{}", b.name());
    }
}

#[test]
fn signing_keys_kept_from_generation_or_rebuilt_sign_the_same() {
    // aws-lc keeps the key built at generation for the message's signature (per thread);
    // a signature on another thread, or after another generation, rebuilds it.
    let mut r = rng();
    for b in Backend::all() {
        for alg in [SignatureAlg::EcdsaP256Sha256, SignatureAlg::EcdsaP384Sha384] {
            let gen_key = |r: &mut rand::rngs::StdRng| {
                let mut secret = vec![0u8; alg.secret_len()];
                let mut public = [0u8; 49];
                let n = b
                    .ecdsa_generate_pair(alg, r, &mut secret, &mut public)
                    .unwrap();
                (secret, public[..n].to_vec())
            };
            let sign = |secret: &[u8], r: &mut rand::rngs::StdRng| {
                let mut d = b.digest(alg);
                d.update(b"message");
                let mut sig = [0u8; 104];
                let n = b.ecdsa_sign(alg, secret, d, r, &mut sig).unwrap();
                assert_eq!(n, alg.fixed_signature_len());
                sig[..n].to_vec()
            };
            let verify = |public: &[u8], sig: &[u8]| {
                let mut d = b.digest(alg);
                d.update(b"message");
                b.ecdsa_verify(alg, public, d, sig).unwrap();
            };
            // Kept: generate then sign on this thread.
            let (s1, p1) = gen_key(&mut r);
            verify(&p1, &sign(&s1, &mut r));
            // Interleaved: two generations, then the first key signs (rebuilt), then the
            // second (kept).
            let (s2, p2) = gen_key(&mut r);
            let (s3, p3) = gen_key(&mut r);
            verify(&p2, &sign(&s2, &mut r));
            verify(&p3, &sign(&s3, &mut r));
            // Generated here, signed on another thread.
            let (s4, p4) = gen_key(&mut r);
            let sig = std::thread::scope(|t| {
                t.spawn(|| sign(&s4, &mut rand::rngs::StdRng::seed_from_u64(4)))
                    .join()
                    .unwrap()
            });
            verify(&p4, &sig);
            // The signing key of the first message stays usable after others.
            verify(&p1, &sign(&s1, &mut r));
        }
    }
}

#[test]
fn ec_key_parsing_and_encoding_agree_with_rustcrypto() {
    use esdk_core::error::CryptoError;
    use esdk_std::keyring::raw_ecdh::EcdhCurve;
    use esdk_std::provider::StdProvider;
    let mut r = rng();
    let curves = [
        (EcdhCurve::P256, 32usize, EcdhCurve::P384),
        (EcdhCurve::P384, 48, EcdhCurve::P521),
        (EcdhCurve::P521, 66, EcdhCurve::P256),
    ];
    for b in Backend::all() {
        for (curve, scalar_len, other) in curves {
            let field = curve.compressed_len() - 1;
            for _ in 0..4 {
                // A valid scalar (RustCrypto decides) and its public key on both sides.
                let (scalar, public) = loop {
                    let mut s: Vec<u8> = (0..scalar_len).map(|_| r.r#gen()).collect();
                    if curve == EcdhCurve::P521 {
                        s[0] &= 1;
                    }
                    let mut p = [0u8; 67];
                    if let Ok(n) = RustCrypto.ecdh_public_key(curve, &s, &mut p) {
                        break (s, p[..n].to_vec());
                    }
                };
                let mut p = [0u8; 67];
                let n = b.ecdh_public_key(curve, &scalar, &mut p).unwrap();
                assert_eq!(p[..n], public[..], "{} {curve}", b.name());

                // PKCS#8 written by either side parses on both to the same scalar.
                for der in [
                    b.ec_private_key_to_pkcs8(curve, &scalar).unwrap(),
                    RustCrypto.ec_private_key_to_pkcs8(curve, &scalar).unwrap(),
                ] {
                    let mut s = [0u8; 66];
                    let n = b.ec_private_key_from_der(curve, &der, &mut s).unwrap();
                    assert_eq!(s[..n], scalar[..], "{} {curve}", b.name());
                    let n = RustCrypto
                        .ec_private_key_from_der(curve, &der, &mut s)
                        .unwrap();
                    assert_eq!(s[..n], scalar[..]);
                    // Another curve's parser refuses it.
                    assert_eq!(
                        b.ec_private_key_from_der(other, &der, &mut s),
                        Err(CryptoError::InvalidKey)
                    );
                    assert!(
                        b.ec_private_key_from_der(curve, &der[..der.len() - 1], &mut s)
                            .is_err()
                    );
                }

                // SubjectPublicKeyInfo written by either side parses on both to the same point.
                let spki_b = b.ec_public_key_to_spki(curve, &public).unwrap();
                let spki_r = RustCrypto.ec_public_key_to_spki(curve, &public).unwrap();
                for spki in [&spki_b, &spki_r] {
                    let mut o = [0u8; 67];
                    let n = b.ec_public_key_from_spki(curve, spki, &mut o).unwrap();
                    assert_eq!(o[..n], public[..], "{} {curve}", b.name());
                    let n = RustCrypto
                        .ec_public_key_from_spki(curve, spki, &mut o)
                        .unwrap();
                    assert_eq!(o[..n], public[..]);
                    assert!(b.ec_public_key_from_spki(other, spki, &mut o).is_err());
                    let mut trailing = spki.clone();
                    trailing.push(0);
                    assert!(b.ec_public_key_from_spki(curve, &trailing, &mut o).is_err());
                    assert!(
                        RustCrypto
                            .ec_public_key_from_spki(curve, &trailing, &mut o)
                            .is_err()
                    );
                    // A bare point is not a SubjectPublicKeyInfo.
                    assert!(b.ec_public_key_from_spki(curve, &public, &mut o).is_err());
                }

                // SEC1: compressed and uncompressed give the compressed point; others refused.
                let uncompressed = spki_r[spki_r.len() - (2 * field + 1)..].to_vec();
                assert_eq!(uncompressed[0], 4);
                for point in [&public, &uncompressed] {
                    let mut o = [0u8; 67];
                    let n = b.ec_public_key_from_sec1(curve, point, &mut o).unwrap();
                    assert_eq!(o[..n], public[..], "{} {curve}", b.name());
                }
                let mut hybrid = uncompressed.clone();
                hybrid[0] = 6 | (uncompressed[2 * field] & 1);
                let mut o = [0u8; 67];
                assert!(b.ec_public_key_from_sec1(curve, &hybrid, &mut o).is_err());
                assert!(b.ec_public_key_from_sec1(curve, &[0], &mut o).is_err());
                // A point off the curve: both refuse it.
                let mut off = uncompressed.clone();
                off[2 * field] ^= 1;
                assert!(
                    RustCrypto
                        .ec_public_key_from_sec1(curve, &off, &mut o)
                        .is_err()
                );
                assert!(
                    b.ec_public_key_from_sec1(curve, &off, &mut o).is_err(),
                    "{}",
                    b.name()
                );
            }
        }
    }
}
