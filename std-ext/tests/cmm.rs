//! Materials managers: the default CMM, the required-encryption-context CMM, and a
//! misbehaving CMM whose materials the client must re-validate.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::std_instead_of_core,
    clippy::cast_possible_truncation
)]

mod common;

use base64::Engine as _;
use common::*;
use esdk_core::error::{AuthStage, MaterialsError, PolicyError};
use esdk_std::cmm::CryptographicMaterialsManager;
use esdk_std::keyring::{BoxFuture, Keyring};
use esdk_std::materials::{
    DecryptionMaterials, DecryptionRequest, EncryptionMaterials, EncryptionRequest,
};
use esdk_std::stream::io::{DecryptingReader, EncryptingReader, EncryptingWriter};
use esdk_std::{
    Client, CommitmentPolicy, DecryptOptions, DefaultCmm, EncryptOptions, EncryptionContext, Error,
    RequiredEncryptionContextCmm, RsaPadding,
};
use std::future::Future;
use std::io::{Read, Write};
use std::sync::Arc;

const PUBLIC_KEY: &str = "aws-crypto-public-key";

fn policy_error(r: &esdk_std::Result<impl std::fmt::Debug>) -> bool {
    matches!(
        r,
        Err(Error::Core(esdk_core::Error::Policy(
            PolicyError::CommitmentPolicy { .. }
        )))
    )
}

#[test]
fn default_suite_follows_the_commitment_policy() {
    let k = aes("key", 1, 32);
    let cmm = DefaultCmm::new(aes("key", 1, 32));
    for (policy, expected) in [
        (CommitmentPolicy::RequireEncryptRequireDecrypt, 0x0578),
        (CommitmentPolicy::RequireEncryptAllowDecrypt, 0x0578),
        (CommitmentPolicy::ForbidEncryptAllowDecrypt, 0x0378),
    ] {
        let client = Client::builder().commitment_policy(policy).build();
        for opts in [EncryptOptions::keyring(&k), EncryptOptions::cmm(&cmm)] {
            let enc = client.encrypt(b"default suite", &opts).unwrap();
            assert_eq!(enc.header.suite.id(), expected, "{policy:?}");
            assert_eq!(
                client.parse_header(&enc.ciphertext).unwrap().suite.id(),
                expected
            );
            let dec = client
                .decrypt(&enc.ciphertext, &DecryptOptions::cmm(&cmm))
                .unwrap();
            assert_eq!(dec.plaintext, b"default suite");
        }
    }
    assert_eq!(
        Client::default().commitment_policy(),
        CommitmentPolicy::RequireEncryptRequireDecrypt
    );
}

#[test]
fn signed_suites_publish_a_compressed_public_key() {
    let k = aes("key", 1, 32);
    for suite in ALL_SUITES {
        let client = client_for(suite);
        let opts = EncryptOptions::keyring(&k)
            .suite(suite)
            .encryption_context(ec(&[("user", "value")]));
        let enc = client.encrypt(b"signed?", &opts).unwrap();
        let stored = &enc.header.encryption_context;
        assert_eq!(stored.get("user"), Some("value"));
        match suite.signature() {
            None => {
                assert_eq!(stored.len(), 1, "{suite}");
                assert!(!stored.contains_key(PUBLIC_KEY));
            }
            Some(alg) => {
                assert_eq!(stored.len(), 2, "{suite}");
                let b64 = stored.get(PUBLIC_KEY).unwrap();
                let point = base64::engine::general_purpose::STANDARD
                    .decode(b64)
                    .unwrap();
                assert_eq!(point.len(), alg.compressed_public_key_len(), "{suite}");
                assert_eq!(b64.len(), if point.len() == 33 { 44 } else { 68 });
                assert!(
                    point[0] == 2 || point[0] == 3,
                    "{suite}: not a compressed point"
                );
            }
        }
        let dec = client
            .decrypt(&enc.ciphertext, &DecryptOptions::keyring(&k))
            .unwrap();
        assert_eq!(&dec.encryption_context, stored);
    }
    // A fresh key pair per message.
    let client = Client::default();
    let a = client.encrypt(b"", &EncryptOptions::keyring(&k)).unwrap();
    let b = client.encrypt(b"", &EncryptOptions::keyring(&k)).unwrap();
    assert_ne!(
        a.header.encryption_context.get(PUBLIC_KEY),
        b.header.encryption_context.get(PUBLIC_KEY)
    );
}

#[test]
fn reserved_encryption_context_keys_are_refused_before_the_cmm_runs() {
    let counting = Arc::new(Counting::new(aes("key", 1, 32)));
    let cmm = DefaultCmm::from_arc(counting.clone());
    let client = Client::default();
    for key in [PUBLIC_KEY, "aws-crypto-", "aws-crypto-anything"] {
        let bad = ec(&[("fine", "1"), (key, "x")]);
        for suite in [S0478, S0578] {
            let opts = EncryptOptions::cmm(&cmm)
                .encryption_context(bad.clone())
                .suite(suite);
            let r = client.encrypt(b"x", &opts);
            assert!(
                matches!(&r, Err(Error::Materials(m)) if m.to_string().contains(key)),
                "{key}: {r:?}"
            );
            assert!(EncryptingWriter::new(&client, &opts, Vec::new()).is_err());
            assert!(EncryptingReader::new(&client, &opts, &b"x"[..]).is_err());
        }
        let opts = EncryptOptions::keyring(&*counting).encryption_context(bad.clone());
        assert!(matches!(
            client.encrypt(b"x", &opts),
            Err(Error::Materials(_))
        ));
    }
    assert_eq!(counting.encrypt_calls(), 0);
    // Only the exact prefix is reserved.
    let fine = ec(&[
        ("aws-crypto", "1"),
        ("aws-cryptox", "2"),
        ("AWS-CRYPTO-x", "3"),
    ]);
    let enc = client
        .encrypt(b"ok", &EncryptOptions::cmm(&cmm).encryption_context(fine))
        .unwrap();
    assert_eq!(enc.header.encryption_context.len(), 4);
    assert_eq!(counting.encrypt_calls(), 1);
}

#[test]
fn default_cmm_checks_of_its_own() {
    let cmm = DefaultCmm::new(aes("key", 1, 32));
    // Encrypt: it will not overwrite an existing public key.
    let req = EncryptionRequest::new(ec(&[(PUBLIC_KEY, "AAAA")])).with_suite(S0578);
    let r = block_on(cmm.get_encryption_materials(&req));
    assert!(
        matches!(&r, Err(Error::Materials(m)) if m.to_string().contains(PUBLIC_KEY)),
        "{r:?}"
    );
    // Encrypt: a suite the policy forbids.
    let req = EncryptionRequest::default().with_suite(S0178);
    assert!(policy_error(&block_on(cmm.get_encryption_materials(&req))));
    // Encrypt: no suite → the policy's default, and the materials are complete.
    let m = block_on(cmm.get_encryption_materials(&EncryptionRequest::default())).unwrap();
    assert_eq!(m.suite, S0578);
    assert!(m.signing_key.is_some() && m.data_key.is_some());
    assert_eq!(m.encrypted_data_keys.len(), 1);
    let public_key = m.encryption_context.get(PUBLIC_KEY).unwrap().to_owned();

    // Decrypt: public key and suite must agree.
    let decrypt = |suite, ec: EncryptionContext, policy| {
        let req = DecryptionRequest::new(suite, policy, m.encrypted_data_keys.clone(), ec);
        block_on(cmm.decrypt_materials(&req))
    };
    let with_key = ec(&[(PUBLIC_KEY, public_key.as_str())]);
    let ok = decrypt(S0578, with_key.clone(), CommitmentPolicy::default()).unwrap();
    assert_eq!(ok.data_key, m.data_key);
    assert!(ok.verification_key.is_some());
    let r = decrypt(S0478, with_key.clone(), CommitmentPolicy::default());
    assert!(
        matches!(r, Err(Error::Core(esdk_core::Error::Materials(_)))),
        "{r:?}"
    );
    let r = decrypt(S0578, ec(&[]), CommitmentPolicy::default());
    assert!(
        matches!(r, Err(Error::Core(esdk_core::Error::Materials(_)))),
        "{r:?}"
    );
    let r = decrypt(
        S0578,
        ec(&[(PUBLIC_KEY, "not base64!")]),
        CommitmentPolicy::default(),
    );
    assert!(matches!(r, Err(Error::Core(_))), "{r:?}");
    // Decrypt: the policy.
    assert!(policy_error(&decrypt(
        S0378,
        with_key,
        CommitmentPolicy::RequireEncryptRequireDecrypt
    )));
}

fn tenant_cmm(keyring: impl Keyring + 'static) -> RequiredEncryptionContextCmm<DefaultCmm> {
    RequiredEncryptionContextCmm::new(vec!["tenant".into()], Arc::new(DefaultCmm::new(keyring)))
        .unwrap()
}

#[test]
fn required_encryption_context_is_authenticated_but_not_stored() {
    let client = Client::default();
    let k = aes("key", 1, 32);
    let cmm = tenant_cmm(aes("key", 1, 32));
    let full = ec(&[("tenant", "t-1"), ("purpose", "p")]);
    for suite in [S0478, S0578] {
        let enc = client
            .encrypt(
                b"required",
                &EncryptOptions::cmm(&cmm)
                    .encryption_context(full.clone())
                    .suite(suite),
            )
            .unwrap();
        // Not stored: neither in the header the encryptor reports, nor anywhere in the bytes.
        let stored = client
            .parse_header(&enc.ciphertext)
            .unwrap()
            .encryption_context;
        assert_eq!(stored, enc.header.encryption_context);
        assert!(!stored.contains_key("tenant"));
        assert_eq!(stored.get("purpose"), Some("p"));
        assert!(!enc.ciphertext.windows(6).any(|w| w == b"tenant"));
        assert!(enc.ciphertext.windows(7).any(|w| w == b"purpose"));

        // Decrypt through the required CMM: the key must be reproduced ...
        let r = client.decrypt(&enc.ciphertext, &DecryptOptions::cmm(&cmm));
        assert!(
            matches!(&r, Err(Error::Materials(m)) if m.to_string().contains("tenant")),
            "{r:?}"
        );
        let r = client.decrypt(
            &enc.ciphertext,
            &DecryptOptions::cmm(&cmm).reproduced_encryption_context(ec(&[("purpose", "p")])),
        );
        assert!(matches!(&r, Err(Error::Materials(_))), "{r:?}");
        // ... with the right value ...
        let r = client.decrypt(
            &enc.ciphertext,
            &DecryptOptions::cmm(&cmm).reproduced_encryption_context(ec(&[("tenant", "t-2")])),
        );
        assert!(matches!(r, Err(Error::NoDecryptableKey(_))), "{r:?}");
        // ... and stored pairs it repeats must agree.
        let conflicting = ec(&[("tenant", "t-1"), ("purpose", "other")]);
        let r = client.decrypt(
            &enc.ciphertext,
            &DecryptOptions::cmm(&cmm).reproduced_encryption_context(conflicting),
        );
        assert!(
            matches!(
                r,
                Err(Error::Core(esdk_core::Error::Materials(
                    MaterialsError::EncryptionContextMismatch
                )))
            ),
            "{r:?}"
        );
        let dec = client
            .decrypt(
                &enc.ciphertext,
                &DecryptOptions::cmm(&cmm).reproduced_encryption_context(ec(&[("tenant", "t-1")])),
            )
            .unwrap();
        assert_eq!(dec.plaintext, b"required");
        assert_eq!(dec.encryption_context.get("tenant"), Some("t-1"));
        assert_eq!(dec.encryption_context.get("purpose"), Some("p"));
        assert_eq!(dec.encryption_context.len(), stored.len() + 1);
        assert!(!dec.header.encryption_context.contains_key("tenant"));
        // The full context reproduced works as well.
        let dec = client
            .decrypt(
                &enc.ciphertext,
                &DecryptOptions::cmm(&cmm).reproduced_encryption_context(full.clone()),
            )
            .unwrap();
        assert_eq!(dec.plaintext, b"required");

        // A plain keyring decrypts too when the caller reproduces the pair; without it, fails.
        let dec = client
            .decrypt(
                &enc.ciphertext,
                &DecryptOptions::keyring(&k)
                    .reproduced_encryption_context(ec(&[("tenant", "t-1")])),
            )
            .unwrap();
        assert_eq!(dec.encryption_context.get("tenant"), Some("t-1"));
        assert!(
            client
                .decrypt(&enc.ciphertext, &DecryptOptions::keyring(&k))
                .is_err()
        );

        // Streams agree.
        let mut w = EncryptingWriter::new(
            &client,
            &EncryptOptions::cmm(&cmm)
                .encryption_context(full.clone())
                .suite(suite),
            Vec::new(),
        )
        .unwrap();
        w.write_all(b"streamed").unwrap();
        let ct = w.finish().unwrap();
        assert!(!ct.windows(6).any(|w| w == b"tenant"));
        let dopts =
            DecryptOptions::cmm(&cmm).reproduced_encryption_context(ec(&[("tenant", "t-1")]));
        let mut r = DecryptingReader::new(&client, &dopts, &ct[..]).unwrap();
        assert_eq!(r.encryption_context().unwrap().get("tenant"), Some("t-1"));
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"streamed");
        assert!(DecryptingReader::new(&client, &DecryptOptions::cmm(&cmm), &ct[..]).is_err());
    }
}

#[test]
fn required_pairs_are_covered_by_the_header_tag() {
    // Raw RSA does not bind the context to the EDK, so only the header tag can catch a wrong
    // reproduced value.
    let (pub_pem, priv_pem) = rsa_4096_pems();
    let rsa = || {
        esdk_std::keyring::RawRsaKeyring::from_pem(
            NS,
            "rsa",
            RsaPadding::OaepSha256,
            Some(&pub_pem),
            Some(&priv_pem),
        )
        .unwrap()
    };
    let cmm = tenant_cmm(rsa());
    let keyring = rsa();
    let client = Client::default();
    let enc = client
        .encrypt(
            b"rsa",
            &EncryptOptions::cmm(&cmm)
                .encryption_context(ec(&[("tenant", "t-1")]))
                .suite(S0478),
        )
        .unwrap();
    assert!(enc.header.encryption_context.is_empty());
    let header_tag = |r: esdk_std::Result<esdk_std::Decrypted>| {
        matches!(
            r,
            Err(Error::Core(esdk_core::Error::Authentication(
                AuthStage::HeaderTag
            )))
        )
    };
    assert!(header_tag(
        client.decrypt(&enc.ciphertext, &DecryptOptions::keyring(&keyring))
    ));
    let wrong = ec(&[("tenant", "t-2")]);
    assert!(header_tag(client.decrypt(
        &enc.ciphertext,
        &DecryptOptions::cmm(&cmm).reproduced_encryption_context(wrong.clone())
    )));
    assert!(header_tag(client.decrypt(
        &enc.ciphertext,
        &DecryptOptions::keyring(&keyring).reproduced_encryption_context(wrong)
    )));
    // An extra reproduced pair that was never part of the message fails the same way.
    let extra = ec(&[("tenant", "t-1"), ("extra", "x")]);
    assert!(header_tag(client.decrypt(
        &enc.ciphertext,
        &DecryptOptions::keyring(&keyring).reproduced_encryption_context(extra)
    )));
    let right = ec(&[("tenant", "t-1")]);
    let dec = client
        .decrypt(
            &enc.ciphertext,
            &DecryptOptions::keyring(&keyring).reproduced_encryption_context(right),
        )
        .unwrap();
    assert_eq!(dec.plaintext, b"rsa");
}

#[test]
fn required_cmm_encrypt_rules() {
    let client = Client::default();
    let cmm = RequiredEncryptionContextCmm::new(
        vec!["a".into(), "b".into()],
        Arc::new(DefaultCmm::new(aes("k", 1, 32))),
    )
    .unwrap();
    let r = client.encrypt(
        b"x",
        &EncryptOptions::cmm(&cmm).encryption_context(ec(&[("a", "1")])),
    );
    assert!(
        matches!(&r, Err(Error::Materials(m)) if m.to_string().contains("`b`")),
        "{r:?}"
    );
    let enc = client
        .encrypt(
            b"x",
            &EncryptOptions::cmm(&cmm).encryption_context(ec(&[
                ("a", "1"),
                ("b", "2"),
                ("c", "3"),
            ])),
        )
        .unwrap();
    // Stored: c and the public key of the default suite 0x0578.
    let stored: Vec<&str> = enc.header.encryption_context.keys().collect();
    assert_eq!(stored, [PUBLIC_KEY, "c"]);
    let repro = ec(&[("a", "1"), ("b", "2")]);
    let dec = client
        .decrypt(
            &enc.ciphertext,
            &DecryptOptions::cmm(&cmm).reproduced_encryption_context(repro),
        )
        .unwrap();
    assert_eq!(dec.encryption_context.len(), 4);
    // Only `a` reproduced: the CMM refuses before any keyring runs.
    let r = client.decrypt(
        &enc.ciphertext,
        &DecryptOptions::cmm(&cmm).reproduced_encryption_context(ec(&[("a", "1")])),
    );
    assert!(
        matches!(&r, Err(Error::Materials(m)) if m.to_string().contains("`b`")),
        "{r:?}"
    );
    assert!(matches!(
        RequiredEncryptionContextCmm::new(vec![], Arc::new(DefaultCmm::new(aes("k", 1, 32)))),
        Err(Error::Config(_))
    ));
    // An underlying CMM that drops the required keys is caught.
    let dropping = RequiredEncryptionContextCmm::new(
        vec!["a".into()],
        Arc::new(Evil::new(Mode::DropRequiredKeys)),
    )
    .unwrap();
    let r = client.encrypt(
        b"x",
        &EncryptOptions::cmm(&dropping).encryption_context(ec(&[("a", "1")])),
    );
    assert!(
        matches!(&r, Err(Error::Materials(m)) if m.to_string().contains("dropped")),
        "{r:?}"
    );
}

/// What the misbehaving CMM does wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Honest,
    /// Encrypt: materials for a non-committing suite (the client's policy forbids it).
    ForbiddenSuite,
    /// Encrypt: materials for 0x0578 when 0x0478 was asked for.
    WrongSuite,
    /// Encrypt: three EDKs (copies of the one real EDK).
    TooManyEdks,
    /// Encrypt: the signing key removed from signed materials.
    NoSigningKey,
    /// Encrypt: the published public key is not the signing key's.
    ForeignPublicKey,
    /// Encrypt: the required keys are forgotten.
    DropRequiredKeys,
    /// Decrypt: materials claiming another suite than the header's.
    DecryptOtherSuite,
    /// Decrypt: a data key that is not the message's.
    DecryptWrongDataKey,
}

#[derive(Debug)]
struct Evil {
    mode: Mode,
    inner: DefaultCmm,
}

impl Evil {
    fn new(mode: Mode) -> Self {
        Self {
            mode,
            inner: DefaultCmm::new(aes("evil", 6, 32)),
        }
    }
}

impl esdk_std::SyncCryptographicMaterialsManager for Evil {}

impl CryptographicMaterialsManager for Evil {
    fn get_encryption_materials<'a>(
        &'a self,
        request: &'a EncryptionRequest,
    ) -> BoxFuture<'a, esdk_std::Result<EncryptionMaterials>> {
        Box::pin(async move {
            let mut req = request.clone();
            match self.mode {
                Mode::ForbiddenSuite => {
                    req.commitment_policy = CommitmentPolicy::ForbidEncryptAllowDecrypt;
                    req.suite = Some(S0178);
                }
                Mode::WrongSuite => req.suite = Some(S0578),
                _ => {}
            }
            let mut m = self.inner.get_encryption_materials(&req).await?;
            match self.mode {
                Mode::TooManyEdks => {
                    let edk = m.encrypted_data_keys[0].clone();
                    m.encrypted_data_keys.push(edk.clone());
                    m.encrypted_data_keys.push(edk);
                }
                Mode::NoSigningKey => m.signing_key = None,
                Mode::ForeignPublicKey => {
                    let other = self.inner.get_encryption_materials(&req).await?;
                    m.encryption_context.insert(
                        PUBLIC_KEY,
                        other.encryption_context.get(PUBLIC_KEY).unwrap(),
                    );
                }
                Mode::DropRequiredKeys => m.required_encryption_context_keys.clear(),
                _ => {}
            }
            Ok(m)
        })
    }

    fn decrypt_materials<'a>(
        &'a self,
        request: &'a DecryptionRequest,
    ) -> BoxFuture<'a, esdk_std::Result<DecryptionMaterials>> {
        Box::pin(async move {
            let mut m = self.inner.decrypt_materials(request).await?;
            match self.mode {
                Mode::DecryptOtherSuite => m.suite = if m.suite == S0478 { S0578 } else { S0478 },
                Mode::DecryptWrongDataKey => {
                    m.data_key = Some(esdk_core::DataKey::from_slice(&[0x11; 32]).unwrap())
                }
                _ => {}
            }
            Ok(m)
        })
    }
}

#[test]
fn materials_from_a_misbehaving_cmm_are_rejected() {
    let client = Client::builder().max_encrypted_data_keys(2).build();
    let core_err = |r: esdk_std::Result<esdk_std::Encrypted>| match r {
        Err(Error::Core(e)) => e,
        other => panic!("{other:?}"),
    };
    let run = |mode: Mode, suite| {
        let cmm = Evil::new(mode);
        let opts = EncryptOptions::cmm(&cmm).suite(suite);
        // The stream constructors validate exactly as the one-shot path does.
        let w = EncryptingWriter::new(&client, &opts, Vec::new()).map(|_| ());
        let r = EncryptingReader::new(&client, &opts, &b""[..]).map(|_| ());
        assert_eq!(w.is_ok(), r.is_ok(), "{mode:?}");
        client.encrypt(b"evil", &opts)
    };
    assert!(run(Mode::Honest, S0478).is_ok());
    assert!(run(Mode::Honest, S0578).is_ok());
    assert!(matches!(
        core_err(run(Mode::ForbiddenSuite, S0478)),
        esdk_core::Error::Policy(PolicyError::CommitmentPolicy { suite: 0x0178, .. })
    ));
    assert!(
        matches!(run(Mode::WrongSuite, S0478), Err(Error::Materials(m)) if m.to_string().contains("0x0578"))
    );
    assert!(matches!(
        core_err(run(Mode::TooManyEdks, S0478)),
        esdk_core::Error::Limit(esdk_core::error::LimitError {
            limit: 2,
            actual: 3,
            ..
        })
    ));
    assert_eq!(
        core_err(run(Mode::NoSigningKey, S0578)),
        esdk_core::Error::Materials(MaterialsError::MissingSignatureKey)
    );
    assert_eq!(
        core_err(run(Mode::ForeignPublicKey, S0578)),
        esdk_core::Error::Materials(MaterialsError::PublicKeyEntry)
    );

    // Decrypt: the header's suite and commitment are checked against the materials.
    let honest = Evil::new(Mode::Honest);
    for suite in [S0478, S0578] {
        let enc = client
            .encrypt(b"evil", &EncryptOptions::cmm(&honest).suite(suite))
            .unwrap();
        assert_eq!(
            client
                .decrypt(&enc.ciphertext, &DecryptOptions::cmm(&honest))
                .unwrap()
                .plaintext,
            b"evil"
        );
        let r = client.decrypt(
            &enc.ciphertext,
            &DecryptOptions::cmm(&Evil::new(Mode::DecryptOtherSuite)),
        );
        assert!(
            matches!(
                r,
                Err(Error::Core(esdk_core::Error::Materials(
                    MaterialsError::SuiteMismatch { .. }
                )))
            ),
            "{suite}: {r:?}"
        );
        let r = client.decrypt(
            &enc.ciphertext,
            &DecryptOptions::cmm(&Evil::new(Mode::DecryptWrongDataKey)),
        );
        assert!(
            matches!(
                r,
                Err(Error::Core(esdk_core::Error::Authentication(
                    AuthStage::Commitment
                )))
            ),
            "{suite}: {r:?}"
        );
        let evil = Evil::new(Mode::DecryptWrongDataKey);
        let r = DecryptingReader::new(&client, &DecryptOptions::cmm(&evil), &enc.ciphertext[..]);
        assert!(r.is_err());
    }
}

/// Drives a materials manager's future (the crate's own executor is private).
fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime")
        .block_on(f)
}
