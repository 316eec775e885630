//! One decrypt, one flow (issue #12 item 2): counted, not assumed.
//!
//! The core counts, per thread (feature `work-counter`, on for these tests), four events: an encryption context validated from bytes, an owned
//! context serialized, a suite checked against the commitment policy for decryption, and a
//! verification key decoded. Each case decrypts the same message twice — with the bare core
//! (sans-IO loop, the raw AES key answering `NeedMaterials`) and through esdk-std — and asserts
//! what the std layers add to the core's own work:
//!
//! * no parsing at all: the header is parsed once, by the core (a context is validated from
//!   bytes once, by the header parser: any other parse of the header, or of a serialized
//!   context, would count again);
//! * the context serialized once, by the raw AES keyring for its AAD (plus once more per layer
//!   that needs bytes of its own: the caching manager's cache id, the reproduced-only pairs the
//!   core authenticates);
//! * the policy checked once by the default materials manager (once more by a caching manager,
//!   which alone answers a cache hit);
//! * the verification key decoded once, by the default materials manager, for signed suites.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use esdk_core::decrypt::DecryptState;
use esdk_core::raw_aes::RawAesKey;
use esdk_core::work::{self, Event};
use esdk_core::{
    AlgorithmSuite, CommitmentPolicy, DecryptConfig, DecryptionMaterialsRef, Decryptor,
    EncryptionContext, VecInput,
};
use esdk_std::cmm::{CachingCmm, DefaultCmm, LocalCache, RequiredEncryptionContextCmm};
use esdk_std::keyring::{MultiKeyring, RawAesKeyring};
use esdk_std::provider::Backend;
use esdk_std::stream::io::DecryptingReader;
use esdk_std::stream::tokio::AsyncDecryptingReader;
use esdk_std::{Client, DecryptOptions, EncryptOptions};
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

const NAMESPACE: &str = "flow-namespace";
const NAME: &str = "flow-key";
const KEY: [u8; 32] = [0x42; 32];
const UNSIGNED: AlgorithmSuite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
const SIGNED: AlgorithmSuite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;

/// What one decrypt did, read from the core's per-thread counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Counts {
    parses: usize,
    serializations: usize,
    policy_checks: usize,
    key_decodes: usize,
}

fn counted<T>(f: impl FnOnce() -> T) -> (T, Counts) {
    work::reset();
    let out = f();
    let counts = Counts {
        parses: work::events(Event::ContextParse),
        serializations: work::events(Event::ContextSerialize),
        policy_checks: work::events(Event::DecryptPolicyCheck),
        key_decodes: work::events(Event::VerificationKeyDecode),
    };
    (out, counts)
}

fn context() -> EncryptionContext {
    (0..8)
        .map(|i| (format!("key-{i}"), format!("value-{i}")))
        .collect()
}

fn keyring() -> RawAesKeyring {
    RawAesKeyring::new(NAMESPACE, NAME, &KEY).unwrap()
}

fn client() -> Client {
    Client::builder()
        .commitment_policy(CommitmentPolicy::RequireEncryptRequireDecrypt)
        .build()
}

/// A message of `suite` over several frames.
fn message(suite: AlgorithmSuite, ec: EncryptionContext) -> (Vec<u8>, Vec<u8>) {
    let plaintext: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
    let k = keyring();
    let opts = EncryptOptions::keyring(&k)
        .encryption_context(ec)
        .suite(suite)
        .frame_length(1024);
    (
        client().encrypt(&plaintext, &opts).unwrap().ciphertext,
        plaintext,
    )
}

/// The bare core: the sans-IO loop, the raw AES key unwrapping from the parsed header, the
/// verification key left to the decryptor. `required` pairs are authenticated, not stored.
fn core_only(msg: &[u8], required: &EncryptionContext) -> Vec<u8> {
    let backend = Backend::default();
    let key = RawAesKey::new(NAMESPACE, NAME.as_bytes(), &KEY).unwrap();
    let config = DecryptConfig::default()
        .with_commitment_policy(CommitmentPolicy::RequireEncryptRequireDecrypt);
    let mut dec = Decryptor::new(backend.clone(), config);
    let mut input = VecInput::complete(msg.to_vec());
    let mut out = Vec::new();
    loop {
        match input.process(&mut dec).unwrap() {
            DecryptState::NeedMaterials(req) => {
                // The AAD the message was wrapped under: the header's canonical bytes, or with
                // required pairs, those plus the stored ones.
                let mut aad = Vec::new();
                let mut req_bytes = Vec::new();
                let names: Vec<&str> = required.keys().collect();
                let ec = if required.is_empty() {
                    req.encryption_context_unverified()
                } else {
                    let mut all: EncryptionContext = req.encryption_context_unverified().into();
                    for (k, v) in required.iter() {
                        all.insert(k, v);
                    }
                    all.serialize_into(&mut aad).unwrap()
                };
                let dk = key
                    .unwrap_any(&backend, &ec, req.encrypted_data_keys().iter())
                    .unwrap()
                    .unwrap();
                let mut m = DecryptionMaterialsRef::new(req.suite(), &dk);
                if !required.is_empty() {
                    m = m
                        .with_encryption_context(required.serialize_into(&mut req_bytes).unwrap())
                        .with_required_encryption_context_keys(&names);
                }
                req.provide(&m).unwrap();
            }
            DecryptState::Plaintext(p) => out.extend_from_slice(&p),
            DecryptState::Done => return out,
            DecryptState::NeedInput { .. } => panic!("the whole message was given"),
            _ => {}
        }
    }
}

/// The std layers' share of one decrypt: its counts minus the bare core's.
fn added(std: Counts, core: Counts) -> Counts {
    Counts {
        parses: std.parses - core.parses,
        serializations: std.serializations - core.serializations,
        policy_checks: std.policy_checks - core.policy_checks,
        key_decodes: std.key_decodes - core.key_decodes,
    }
}

fn expect(serializations: usize, policy_checks: usize, key_decodes: usize) -> Counts {
    Counts {
        parses: 0,
        serializations,
        policy_checks,
        key_decodes,
    }
}

#[test]
fn the_bare_core_parses_the_header_once() {
    for suite in [UNSIGNED, SIGNED] {
        let (msg, plaintext) = message(suite, context());
        let (out, core) = counted(|| core_only(&msg, &EncryptionContext::new()));
        assert_eq!(out, plaintext);
        // One context validated (the header's AAD field, by the header parser) and nothing
        // serialized (the header's canonical bytes are the AAD); the core's own policy checks
        // and key decode are what the std layers' counts are measured against.
        assert_eq!(core.parses, 1, "{suite:?}");
        assert_eq!(core.serializations, 0, "{suite:?}");
        // The policy once (by the header parser), the signed suite's key once.
        assert_eq!(core.policy_checks, 1, "{suite:?}");
        assert_eq!(
            core.key_decodes,
            usize::from(suite.is_signed()),
            "{suite:?}"
        );
    }
}

#[test]
fn client_decrypt_with_a_keyring_adds_no_parse_and_one_serialization() {
    for suite in [UNSIGNED, SIGNED] {
        let (msg, plaintext) = message(suite, context());
        let (_, core) = counted(|| core_only(&msg, &EncryptionContext::new()));
        let k = keyring();
        let (out, std) = counted(|| client().decrypt(&msg, &DecryptOptions::keyring(&k)));
        let out = out.unwrap();
        assert_eq!(out.plaintext, plaintext);
        assert_eq!(out.encryption_context.get("key-3"), Some("value-3"));
        let signed = usize::from(suite.is_signed());
        assert_eq!(
            added(std, core),
            expect(1, 1, signed),
            "{suite:?}: std {std:?}, core {core:?}"
        );
    }
}

#[test]
fn default_cmm_and_reader_follow_the_same_flow() {
    for suite in [UNSIGNED, SIGNED] {
        let (msg, plaintext) = message(suite, context());
        let (_, core) = counted(|| core_only(&msg, &EncryptionContext::new()));
        let signed = usize::from(suite.is_signed());
        let cmm = DefaultCmm::new(keyring());
        let (out, std) = counted(|| client().decrypt(&msg, &DecryptOptions::cmm(&cmm)));
        assert_eq!(out.unwrap().plaintext, plaintext);
        assert_eq!(added(std, core), expect(1, 1, signed), "{suite:?} cmm");

        let k = keyring();
        let c = client();
        let opts = DecryptOptions::keyring(&k);
        let (out, std) = counted(|| {
            let mut r = DecryptingReader::new(&c, &opts, msg.as_slice()).unwrap();
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            out
        });
        assert_eq!(out, plaintext);
        assert_eq!(added(std, core), expect(1, 1, signed), "{suite:?} reader");

        // The tokio reader, on a current-thread runtime (the counters are per thread).
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let (out, std) = counted(|| {
            rt.block_on(async {
                use tokio::io::AsyncReadExt;
                let mut r = AsyncDecryptingReader::new(&c, &opts, msg.as_slice())
                    .await
                    .unwrap();
                let mut out = Vec::new();
                r.read_to_end(&mut out).await.unwrap();
                out
            })
        });
        assert_eq!(out, plaintext);
        assert_eq!(
            added(std, core),
            expect(1, 1, signed),
            "{suite:?} tokio reader"
        );
    }
}

#[test]
fn a_raw_aes_keyring_serializes_nothing_for_edks_of_other_keys() {
    let (msg, plaintext) = message(UNSIGNED, context());
    let (_, core) = counted(|| core_only(&msg, &EncryptionContext::new()));
    // Two keyrings that own none of the message's EDKs come first, then the right one.
    let other = |name: &str| -> Arc<dyn esdk_std::Keyring> {
        Arc::new(RawAesKeyring::new(NAMESPACE, name, &[7; 32]).unwrap())
    };
    let multi = MultiKeyring::new(
        None,
        vec![other("other-1"), other("other-2"), Arc::new(keyring())],
    )
    .unwrap();
    let (out, std) = counted(|| client().decrypt(&msg, &DecryptOptions::keyring(&multi)));
    assert_eq!(out.unwrap().plaintext, plaintext);
    assert_eq!(added(std, core), expect(1, 1, 0));
}

#[test]
fn caching_cmm_checks_the_policy_once_and_a_hit_skips_the_keyring() {
    for suite in [UNSIGNED, SIGNED] {
        let (msg, plaintext) = message(suite, context());
        let (_, core) = counted(|| core_only(&msg, &EncryptionContext::new()));
        let signed = usize::from(suite.is_signed());
        let cmm = CachingCmm::builder(
            Arc::new(DefaultCmm::new(keyring())),
            Arc::new(LocalCache::new(10)),
            Duration::from_secs(600),
        )
        .build()
        .unwrap();
        let opts = DecryptOptions::cmm(&cmm);
        // Miss: the cache id serializes the context, the keyring serializes its AAD; the
        // caching layer and the default manager each check the policy once.
        let (out, miss) = counted(|| client().decrypt(&msg, &opts));
        assert_eq!(out.unwrap().plaintext, plaintext);
        assert_eq!(added(miss, core), expect(2, 2, signed), "{suite:?} miss");
        // Hit: only the cache id and the caching layer's check; no key decoded, no keyring.
        let (out, hit) = counted(|| client().decrypt(&msg, &opts));
        assert_eq!(out.unwrap().plaintext, plaintext);
        assert_eq!(added(hit, core), expect(1, 1, 0), "{suite:?} hit");
    }
}

#[test]
fn reproduced_only_pairs_are_serialized_once_for_the_core() {
    let mut stored = context();
    stored.insert("tenant", "t-1");
    let (msg, plaintext) = {
        let k = keyring();
        let cmm = RequiredEncryptionContextCmm::new(
            vec!["tenant".to_owned()],
            Arc::new(DefaultCmm::new(k)),
        )
        .unwrap();
        let plaintext = b"reproduced".to_vec();
        let opts = EncryptOptions::cmm(&cmm)
            .encryption_context(stored.clone())
            .suite(UNSIGNED);
        (
            client().encrypt(&plaintext, &opts).unwrap().ciphertext,
            plaintext,
        )
    };
    let required: EncryptionContext = [("tenant", "t-1")].into_iter().collect();
    let (out, core) = counted(|| core_only(&msg, &required));
    assert_eq!(out, plaintext);

    let k = keyring();
    let opts = DecryptOptions::keyring(&k).reproduced_encryption_context(required);
    let (out, std) = counted(|| client().decrypt(&msg, &opts));
    let out = out.unwrap();
    assert_eq!(out.plaintext, plaintext);
    assert_eq!(out.encryption_context, stored);
    // Both runs serialize the keyring's AAD (stored plus reproduced pairs) and the reproduced
    // pairs the core authenticates; the std layers add only the default manager's check.
    assert_eq!(core.serializations, 2);
    assert_eq!(
        added(std, core),
        expect(0, 1, 0),
        "std {std:?}, core {core:?}"
    );
}

/// A materials manager that returns the default one's materials with the context changed.
#[derive(Debug)]
struct Tampering {
    inner: DefaultCmm,
    change: fn(&mut esdk_std::materials::DecryptionMaterials),
}

impl esdk_std::cmm::CryptographicMaterialsManager for Tampering {
    fn get_encryption_materials<'a>(
        &'a self,
        request: &'a esdk_std::materials::EncryptionRequest,
    ) -> esdk_std::keyring::BoxFuture<'a, esdk_std::Result<esdk_std::materials::EncryptionMaterials>>
    {
        self.inner.get_encryption_materials(request)
    }
    fn decrypt_materials<'a>(
        &'a self,
        request: &'a esdk_std::materials::DecryptionRequest,
    ) -> esdk_std::keyring::BoxFuture<'a, esdk_std::Result<esdk_std::materials::DecryptionMaterials>>
    {
        Box::pin(async move {
            let mut m = self.inner.decrypt_materials(request).await?;
            (self.change)(&mut m);
            Ok(m)
        })
    }
}

impl esdk_std::cmm::SyncCryptographicMaterialsManager for Tampering {}

#[test]
fn the_returned_context_is_exactly_the_authenticated_one() {
    let (msg, plaintext) = message(UNSIGNED, context());
    let mismatch = |change: fn(&mut esdk_std::materials::DecryptionMaterials)| {
        let cmm = Tampering {
            inner: DefaultCmm::new(keyring()),
            change,
        };
        client().decrypt(&msg, &DecryptOptions::cmm(&cmm))
    };
    // Untouched: decrypts.
    assert_eq!(mismatch(|_| {}).unwrap().plaintext, plaintext);
    let is_mismatch = |r: esdk_std::Result<esdk_std::Decrypted>| {
        matches!(
            r,
            Err(esdk_std::Error::Core(esdk_core::Error::Materials(
                esdk_core::error::MaterialsError::EncryptionContextMismatch
            )))
        )
    };
    // A pair the header tag never saw, a stored value changed, a stored pair dropped: each
    // would be returned as authenticated, so each fails.
    assert!(is_mismatch(mismatch(|m| {
        m.encryption_context.insert("unauthenticated", "x");
    })));
    assert!(is_mismatch(mismatch(|m| {
        m.encryption_context.insert("key-1", "changed");
    })));
    assert!(is_mismatch(mismatch(|m| {
        m.encryption_context.remove("key-1");
    })));
}
