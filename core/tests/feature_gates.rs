//! The Cargo features that leave parts of esdk-core out (`encrypt`, `non-committing`,
//! `ecdsa-p256`, `ecdsa-p384`): whatever the combination, the built suites work and every other
//! suite fails with `Unsupported::SuiteNotBuilt`, never a panic. Run by `.ci/run` for each
//! combination of the feature matrix (`cargo test -p esdk-core --no-default-features --features
//! rustcrypto,... --test feature_gates`), and with the defaults by the main test step.
#![cfg(feature = "rustcrypto")]
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::std_instead_of_core,
    clippy::field_reassign_with_default
)]

use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::crypto::{AuthFailed, CryptoProvider};
use esdk_core::error::{CryptoError, Unsupported};
use esdk_core::suite::{HashAlg, SignatureAlg};
use esdk_core::{
    AlgorithmSuite, CommitmentPolicy, DecryptConfig, DecryptState, DecryptStatus,
    DecryptionMaterialsRef, Decryptor, Error,
};

/// The no_std check's deterministic 0x0478 message (frame length 64, one raw AES EDK).
const FIXTURE_0478: &[u8] = include_bytes!("../no-std-check/src/fixture_0478_f64.bin");
const NAMESPACE: &str = "no-std-check";
const KEY_NAME: &[u8] = b"fixed-wrapping-key";
const WRAPPING_KEY: [u8; 32] = [0x2b; 32];
const FIXTURE_PLAINTEXT: &[u8] =
    b"The quick brown fox jumps over the lazy dog, in frames of 64 bytes, \
    without std, without alloc, and without a C library; five frames are written for it.";

/// Which suites this build should accept, from the features alone.
fn expected_built(suite: AlgorithmSuite) -> bool {
    let commitment = suite.is_committing() || cfg!(feature = "non-committing");
    let signature = match suite.signature() {
        None => true,
        Some(SignatureAlg::EcdsaP256Sha256) => cfg!(feature = "ecdsa-p256"),
        Some(SignatureAlg::EcdsaP384Sha384) => cfg!(feature = "ecdsa-p384"),
    };
    commitment && signature
}

fn config_for(suite: AlgorithmSuite) -> DecryptConfig {
    let config = DecryptConfig::default();
    if suite.is_committing() {
        config
    } else {
        config.with_commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
    }
}

/// Decrypts `msg` fed whole, answering with the raw AES key.
fn decrypt(msg: &[u8], config: DecryptConfig) -> Result<Vec<u8>, Error> {
    let p = RustCrypto;
    let mut dec = Decryptor::new(p, config);
    let mut input = msg.to_vec();
    let mut at = 0;
    let mut plaintext = Vec::new();
    loop {
        let DecryptStatus { discard, state } = dec.process(&mut input[at..], true);
        match state? {
            DecryptState::NeedMaterials(req) => {
                let suite = req.suite();
                let ec = req.encryption_context_unverified();
                let mut key = None;
                for edk in req.encrypted_data_keys() {
                    if let Some(dk) = esdk_core::raw_aes::unwrap(
                        &p,
                        NAMESPACE,
                        KEY_NAME,
                        &WRAPPING_KEY,
                        &ec,
                        &edk,
                    )? {
                        key = Some(dk);
                    }
                }
                let key = key.expect("the test key wraps every message here");
                req.provide(&DecryptionMaterialsRef::new(suite, &key))?;
            }
            DecryptState::Plaintext(chunk) => plaintext.extend_from_slice(&chunk),
            DecryptState::Done => return Ok(plaintext),
            DecryptState::NeedInput { .. } => panic!("whole message given with eof"),
            _ => {}
        }
        at += discard;
    }
}

#[test]
fn suite_table_follows_the_features() {
    let mut built = 0;
    for suite in AlgorithmSuite::ALL {
        assert_eq!(suite.is_built(), expected_built(suite), "{suite}");
        let got = AlgorithmSuite::from_id(suite.id());
        if expected_built(suite) {
            built += 1;
            assert_eq!(got, Ok(suite));
            assert_eq!(suite.check_built(), Ok(suite));
        } else {
            let err = Error::Unsupported(Unsupported::SuiteNotBuilt(suite.id()));
            assert_eq!(got, Err(err));
            assert_eq!(suite.check_built(), Err(err));
            let text = err.to_string();
            assert!(text.contains("not built"), "{text}");
        }
    }
    // 0x0478 is in every build.
    assert!(built >= 1);
    assert!(AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY.is_built());
    // Ids outside the table stay `Unsupported::Suite`.
    assert_eq!(
        AlgorithmSuite::from_id(0x0070),
        Err(Error::Unsupported(Unsupported::Suite(0x0070)))
    );
}

#[test]
fn committed_0478_fixture_decrypts_in_every_build() {
    let pt = decrypt(FIXTURE_0478, DecryptConfig::default()).unwrap();
    assert_eq!(pt, FIXTURE_PLAINTEXT);
    // And a tampered copy fails (authenticated, not just parsed).
    let mut bad = FIXTURE_0478.to_vec();
    let at = bad.len() - 40;
    bad[at] ^= 1;
    assert!(decrypt(&bad, DecryptConfig::default()).is_err());
}

#[test]
fn message_of_a_left_out_suite_is_refused_with_a_typed_error() {
    for suite in AlgorithmSuite::ALL {
        // The fixture with another suite id in its header (bytes 1..3 of a v2 header).
        let mut msg = FIXTURE_0478.to_vec();
        msg[1..3].copy_from_slice(&suite.id_bytes());
        let got = decrypt(&msg, config_for(suite));
        let not_built = Err(Error::Unsupported(Unsupported::SuiteNotBuilt(suite.id())));
        if expected_built(suite) {
            // A built suite gets past the suite check (and then fails or, for 0x0478, succeeds).
            assert_ne!(got, not_built, "{suite}");
        } else {
            assert_eq!(got, not_built, "{suite}");
        }
    }
}

#[test]
fn provider_refuses_left_out_algorithms() {
    let p = RustCrypto;
    let mut okm = [0u8; 32];
    // SHA-512 (committing suites) is always there.
    assert!(
        p.hkdf(HashAlg::Sha512, b"", b"ikm", &[b"i"], &mut okm)
            .is_ok()
    );
    let sha256 = p.hkdf(HashAlg::Sha256, b"", b"ikm", &[b"i"], &mut okm);
    assert_eq!(sha256.is_ok(), cfg!(feature = "non-committing"));
    if !cfg!(feature = "non-committing") {
        assert_eq!(sha256, Err(CryptoError::UnsupportedAlgorithm));
    }
    for (alg, on) in [
        (SignatureAlg::EcdsaP256Sha256, cfg!(feature = "ecdsa-p256")),
        (SignatureAlg::EcdsaP384Sha384, cfg!(feature = "ecdsa-p384")),
    ] {
        let mut public = [0u8; 49];
        let secret = [0x31u8; 48];
        let derived = p.ecdsa_public_key(alg, &secret[..alg.secret_len()], &mut public);
        assert_eq!(derived.is_ok(), on, "{alg:?}");
        if !on {
            assert_eq!(derived, Err(CryptoError::UnsupportedAlgorithm));
            assert_eq!(
                p.ecdsa_verify(alg, &[2; 33], p.digest(alg), &[0x30, 0]),
                Err(AuthFailed)
            );
        }
    }
}

#[cfg(feature = "encrypt")]
mod encrypt_side {
    use super::*;
    use esdk_core::encryption_context::{EncryptionContextRef, PUBLIC_KEY_FIELD, serialize_pairs};
    use esdk_core::keys::MAX_PUBLIC_KEY_B64_LEN;
    use esdk_core::{
        DataKey, EdkRef, EncryptConfig, EncryptionMaterialsRef, Encryptor, SigningKey,
    };

    fn encrypt(suite: AlgorithmSuite, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let p = RustCrypto;
        let mut rng = rand_core::OsRng;
        let data_key = DataKey::from_slice(&[0x17; 32][..suite.data_key_len()])?;
        // No signing key for a suite this build left out: the encryptor refuses the suite first.
        let signing_key = match suite.signature().filter(|_| suite.is_built()) {
            Some(alg) => Some(SigningKey::from_bytes(
                alg,
                &[0x31; 48][..alg.secret_len()],
            )?),
            None => None,
        };
        let mut b64 = [0u8; MAX_PUBLIC_KEY_B64_LEN];
        let vk = match &signing_key {
            Some(sk) => Some(sk.public_key(&p)?),
            None => None,
        };
        let mut pairs = vec![("purpose", "feature gates")];
        if let Some(vk) = &vk {
            pairs.push((PUBLIC_KEY_FIELD, vk.to_base64(&mut b64)));
        }
        let mut ec_bytes = [0u8; 256];
        let n = serialize_pairs(&mut pairs, &mut ec_bytes)?;
        let ec = EncryptionContextRef::parse(&ec_bytes[..n])?;
        let (mut info, mut wrapped) = ([0u8; 64], [0u8; 64]);
        let (il, wl) = esdk_core::raw_aes::wrap(
            &p,
            &WRAPPING_KEY,
            KEY_NAME,
            &ec,
            &data_key,
            &mut rng,
            &mut info,
            &mut wrapped,
        )?;
        let edks = [EdkRef {
            provider_id: NAMESPACE,
            provider_info: &info[..il],
            ciphertext: &wrapped[..wl],
        }];
        let config = EncryptConfig::default()
            .with_commitment_policy(if suite.is_committing() {
                CommitmentPolicy::RequireEncryptRequireDecrypt
            } else {
                CommitmentPolicy::ForbidEncryptAllowDecrypt
            })
            .with_frame_length(100);
        let materials = EncryptionMaterialsRef::new(suite, &data_key, &edks)
            .with_encryption_context(ec)
            .with_signing_key(signing_key.as_ref());
        let ready = Encryptor::new(p, config)?.provide(materials, &mut rng)?;
        let mut out = vec![0u8; ready.header_len() + plaintext.len() + 1024];
        let (mut frames, mut pos) = ready.write_header(&mut out)?;
        let mut rest = plaintext;
        while rest.len() > frames.frame_length() {
            let (chunk, tail) = rest.split_at(frames.frame_length());
            pos += frames.seal_frame(chunk, &mut out[pos..])?;
            rest = tail;
        }
        pos += frames.finish(rest, &mut out[pos..], &mut rng)?;
        out.truncate(pos);
        Ok(out)
    }

    #[test]
    fn every_built_suite_round_trips_and_the_others_are_refused() {
        let plaintext: Vec<u8> = (0..777u32).map(|i| (i % 251) as u8).collect();
        for suite in AlgorithmSuite::ALL {
            let msg = encrypt(suite, &plaintext);
            if expected_built(suite) {
                let msg = msg.unwrap();
                assert_eq!(
                    decrypt(&msg, config_for(suite)).unwrap(),
                    plaintext,
                    "{suite}"
                );
            } else {
                assert_eq!(
                    msg.unwrap_err(),
                    Error::Unsupported(Unsupported::SuiteNotBuilt(suite.id())),
                    "{suite}"
                );
                // Asking for the suite up front fails at configuration time too.
                let config = EncryptConfig::default()
                    .with_commitment_policy(CommitmentPolicy::ForbidEncryptAllowDecrypt)
                    .with_suite(Some(suite));
                assert_eq!(
                    Encryptor::new(RustCrypto, config).unwrap_err(),
                    Error::Unsupported(Unsupported::SuiteNotBuilt(suite.id()))
                );
            }
        }
    }
}
