//! Tests written for mutants the campaign found alive (core/MUTANTS.md lists each one).
#![cfg(feature = "rustcrypto")]
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::std_instead_of_core
)]

use esdk_core::crypto::rustcrypto::RustCrypto;
use esdk_core::{DecryptConfig, DecryptState, DecryptStatus, Decryptor};

#[path = "support/fixture_0478.rs"]
mod fixture_0478;
use fixture_0478::{FIXTURE_0478, provide_fixture_materials};

/// `decrypt.rs`: `<Decryptor as Debug>::fmt` replaced by `Ok(())` survived. The Debug form
/// names the stage and the counters (what a caller logs), and never key material.
#[test]
fn decryptor_debug_names_each_stage() {
    let mut dec = Decryptor::new(RustCrypto, DecryptConfig::default());
    let debug = |d: &Decryptor<RustCrypto>| format!("{d:?}");
    assert!(debug(&dec).starts_with("Decryptor {"), "{}", debug(&dec));
    assert!(debug(&dec).contains("stage: \"header\""), "{}", debug(&dec));
    assert!(debug(&dec).contains("stats: "), "{}", debug(&dec));

    let mut input = FIXTURE_0478.to_vec();
    let mut at = 0;
    let mut seen = Vec::new();
    loop {
        let DecryptStatus { discard, state } = dec.process(&mut input[at..], true);
        let done = match state.unwrap() {
            DecryptState::NeedMaterials(req) => {
                // `decrypt.rs`: `<MaterialsRequest as Debug>::fmt` replaced by `Ok(())` survived:
                // the request shows its suite and nothing of the header's keys.
                let text = format!("{req:?}");
                assert!(text.starts_with("MaterialsRequest {"), "{text}");
                assert!(text.contains("suite: AlgorithmSuite { id: 1144"), "{text}");
                assert!(text.ends_with(".. }"), "{text}");
                provide_fixture_materials(req);
                false
            }
            DecryptState::Done => true,
            _ => false,
        };
        at += discard;
        let text = debug(&dec);
        // No byte of the wrapping key or of the message body shows up in the Debug form.
        assert!(
            !text.contains("2b, 2b") && !text.contains("43, 43"),
            "{text}"
        );
        let stage = text
            .split("stage: \"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap()
            .to_owned();
        if seen.last() != Some(&stage) {
            seen.push(stage);
        }
        if done {
            break;
        }
    }
    assert_eq!(seen.first().map(String::as_str), Some("header verified"));
    assert_eq!(seen.last().map(String::as_str), Some("done"));
    assert!(seen.iter().any(|s| s == "body"), "{seen:?}");

    // A failed decryptor says so.
    let mut bad = Decryptor::new(RustCrypto, DecryptConfig::default());
    let mut junk = [0xffu8; 8];
    let _ = bad.process(&mut junk, true);
    assert!(debug(&bad).contains("stage: \"failed\""), "{}", debug(&bad));
}

/// `encryption_context.rs` (campaign s4-a): the owned `EncryptionContext` accessors were judged
/// only through esdk-std; `remove`, `get` and `contains_key` replaced by constants survived. Every
/// accessor is pinned here to its exact answer, present and absent keys alike.
#[cfg(feature = "alloc")]
#[test]
fn owned_encryption_context_accessors_answer_exactly() {
    use esdk_core::encryption_context::{EncryptionContext, EncryptionContextRef, serialize_pairs};
    use std::collections::BTreeMap;

    let mut ec = EncryptionContext::new();
    assert!(ec.is_empty());
    assert_eq!(ec.len(), 0);
    assert_eq!(format!("{ec:?}"), "{}");
    assert_eq!(ec.insert("b", "2"), None);
    assert_eq!(ec.insert("a", "1"), None);
    assert_eq!(ec.insert("b", "two"), Some("2".to_owned()));
    assert!(!ec.is_empty());
    assert_eq!(ec.len(), 2);

    assert_eq!(ec.get("a"), Some("1"));
    assert_eq!(ec.get("b"), Some("two"));
    assert_eq!(ec.get("c"), None);
    assert!(ec.contains_key("a"));
    assert!(!ec.contains_key("c"));
    assert_eq!(
        ec.iter().collect::<Vec<_>>(),
        [("a", "1"), ("b", "two")],
        "canonical order"
    );
    assert_eq!(ec.keys().collect::<Vec<_>>(), ["a", "b"]);
    // Debug shows keys only, never values.
    assert_eq!(format!("{ec:?}"), r#"{"a", "b"}"#);
    assert!(!ec.has_reserved_key());

    // Serialization: count 2, then (len, key, len, value) per pair in canonical order.
    let wire = ec.serialize().unwrap();
    assert_eq!(
        wire,
        [
            0, 2, 0, 1, b'a', 0, 1, b'1', 0, 1, b'b', 0, 3, b't', b'w', b'o'
        ]
    );
    let mut pairs = [("b", "two"), ("a", "1")];
    let mut out = [0u8; 64];
    let n = serialize_pairs(&mut pairs, &mut out).unwrap();
    assert_eq!(&out[..n], &wire[..]);
    assert_eq!(
        ec.serialize_filtered(|k| k == "b").unwrap(),
        [0, 1, 0, 1, b'b', 0, 3, b't', b'w', b'o']
    );
    assert_eq!(ec.serialize_filtered(|_| false).unwrap(), Vec::<u8>::new());

    // Round trip through the borrowed form, the map and an iterator.
    let parsed = EncryptionContextRef::parse(&wire).unwrap();
    assert_eq!(EncryptionContext::from(parsed), ec);
    let map: BTreeMap<String, String> = ec.as_map().clone();
    assert_eq!(map.len(), 2);
    assert_eq!(map.get("b").map(String::as_str), Some("two"));
    assert_eq!(EncryptionContext::from(map.clone()), ec);
    assert_eq!(ec.clone().into_map(), map);
    assert_eq!(
        [("b", "two"), ("a", "1")]
            .into_iter()
            .collect::<EncryptionContext>(),
        ec
    );

    assert_eq!(ec.remove("b"), Some("two".to_owned()));
    assert_eq!(ec.remove("b"), None);
    assert!(!ec.contains_key("b"));
    assert_eq!(ec.len(), 1);
    ec.insert("aws-crypto-public-key", "k");
    assert!(ec.has_reserved_key());
}

/// `keys.rs` (campaign s4-a, shard 1): the key types' accessors and `Debug` forms, pinned to their
/// exact answers (they are otherwise only exercised through the state machines and esdk-std).
#[cfg(feature = "ecdsa-p384")]
#[test]
fn key_accessors_answer_exactly() {
    use esdk_core::keys::{DataKey, SigningKey, VerificationKey};
    use esdk_core::suite::SignatureAlg;

    let k = DataKey::from_slice(&[7u8; 24]).unwrap();
    assert_eq!(k.len(), 24);
    assert!(!k.is_empty());
    assert_eq!(k.as_bytes(), &[7u8; 24]);
    assert_eq!(format!("{k:?}"), "DataKey(24 bytes, <redacted>)");
    assert!(k == DataKey::from_slice(&[7u8; 24]).unwrap());
    assert!(k != DataKey::from_slice(&[8u8; 24]).unwrap());
    assert!(DataKey::from_slice(&[7u8; 20]).is_err());

    // The P-384 scalar 1: its public key is the generator G (compressed: 03 ‖ x(G)).
    let mut one = [0u8; 48];
    one[47] = 1;
    let alg = SignatureAlg::EcdsaP384Sha384;
    assert!(SigningKey::from_bytes(alg, &one[..32]).is_err());
    let sk = SigningKey::from_bytes(alg, &one).unwrap();
    assert_eq!(sk.algorithm(), alg);
    assert_eq!(sk.secret_bytes(), &one);
    assert_eq!(format!("{sk:?}"), "SigningKey(EcdsaP384Sha384, <redacted>)");
    let vk = sk.public_key(&RustCrypto).unwrap();
    assert_eq!(vk.algorithm(), alg);
    assert_eq!(vk.as_bytes().len(), 49);
    assert_eq!(
        &vk.as_bytes()[..9],
        &[0x03, 0xaa, 0x87, 0xca, 0x22, 0xbe, 0x8b, 0x05, 0x37]
    );
    assert_eq!(format!("{vk:?}"), "VerificationKey(EcdsaP384Sha384)");
    let mut b64 = [0u8; esdk_core::keys::MAX_PUBLIC_KEY_B64_LEN];
    let text = vk.to_base64(&mut b64).to_owned();
    assert_eq!(text.len(), 68);
    assert!(text.starts_with("A6qHyiK+iwU3"), "{text}");
    assert_eq!(VerificationKey::from_base64(alg, &text).unwrap(), vk);
    assert_eq!(VerificationKey::from_bytes(alg, vk.as_bytes()).unwrap(), vk);
    // Wrong length, and an uncompressed-point prefix, are refused.
    assert!(VerificationKey::from_bytes(alg, &vk.as_bytes()[..48]).is_err());
    let mut uncompressed = [0u8; 49];
    uncompressed.copy_from_slice(vk.as_bytes());
    uncompressed[0] = 4;
    assert!(VerificationKey::from_bytes(alg, &uncompressed).is_err());
}

/// `edk.rs` (campaign s4-a, shard 0): `EdkIter::size_hint` replaced by constants survived. The
/// iterator's exact size is pinned before, during and after iteration. (`EdkList::is_empty` →
/// `false` is equivalent: no public way makes a list of zero entries, see core/MUTANTS.md.)
#[test]
fn edk_list_exact_size() {
    use esdk_core::edk::EdkList;

    // A count of zero is refused: every list has at least one entry.
    assert!(EdkList::parse(&[0, 0], 10).is_err());
    // count 2: ("p", "i", "c") and ("q", "", "dd").
    let section = [
        0, 2, 0, 1, b'p', 0, 1, b'i', 0, 1, b'c', 0, 1, b'q', 0, 0, 0, 2, b'd', b'd',
    ];
    let list = EdkList::parse(&section, 10).unwrap();
    assert!(!list.is_empty());
    assert_eq!(list.len(), 2);
    let mut it = list.iter();
    assert_eq!(it.size_hint(), (2, Some(2)));
    assert_eq!(it.len(), 2);
    assert_eq!(it.next().unwrap().provider_id, "p");
    assert_eq!(it.size_hint(), (1, Some(1)));
    let second = it.next().unwrap();
    assert_eq!((second.provider_id, second.ciphertext), ("q", &b"dd"[..]));
    assert_eq!(it.size_hint(), (0, Some(0)));
    assert_eq!(it.next(), None);
    assert_eq!(list.into_iter().count(), 2);
}

/// `decrypt.rs` (campaign s4-c): `set_sealed_frames` replaced by `()`, the body arm of
/// `frame_cipher` deleted and `<Plaintext as Debug>::fmt` replaced by `Ok(())` survived (the
/// sealed mode and the frame cipher were only exercised by esdk-std's parallel decrypt).
#[test]
fn sealed_frames_frame_cipher_and_plaintext_debug() {
    for sealed in [false, true] {
        let mut dec = Decryptor::new(RustCrypto, DecryptConfig::default());
        assert!(
            dec.frame_cipher().is_err(),
            "no frame cipher before the header verified"
        );
        dec.set_sealed_frames(sealed);
        let mut input = FIXTURE_0478.to_vec();
        let mut at = 0;
        let (mut records, mut chunks) = (Vec::new(), 0);
        loop {
            let DecryptStatus { discard, state } = dec.process(&mut input[at..], true);
            let mut verified = false;
            let done = match state.unwrap() {
                DecryptState::NeedMaterials(req) => {
                    provide_fixture_materials(req);
                    false
                }
                DecryptState::HeaderVerified(_) => {
                    verified = true;
                    false
                }
                DecryptState::SealedFrame { seq, record } => {
                    records.push((seq, record.len()));
                    false
                }
                DecryptState::Plaintext(pt) => {
                    let text = format!("{pt:?}");
                    assert!(text.starts_with("Plaintext { range: "), "{text}");
                    assert!(text.ends_with(".. }"), "{text}");
                    chunks += 1;
                    false
                }
                DecryptState::Done => true,
                _ => false,
            };
            at += discard;
            if verified {
                assert!(
                    dec.frame_cipher().is_ok(),
                    "a frame cipher once the header verified"
                );
            }
            if done {
                break;
            }
        }
        if sealed {
            // Every regular frame handed over sealed, in order, 64 + 32 bytes each; only the
            // final frame is opened by the machine.
            assert!(!records.is_empty());
            for (expected, (seq, len)) in (1u32..).zip(&records) {
                assert_eq!((*seq, *len), (expected, 96));
            }
            assert_eq!(chunks, 1);
        } else {
            assert!(records.is_empty());
            assert!(chunks > 1);
        }
    }
}

/// `encryption_context.rs` `serialized_len`: `field.len() > u16::MAX` replaced by `==` or `>=`,
/// and `total > MAX_SERIALIZED_LEN` replaced by `==` or `>=`, survived (run s4-f). A field of
/// exactly 65,535 bytes is a legal field (the context then fails as a whole, for its total
/// length); one of 65,536 is not; a context of exactly 65,535 bytes is legal, one byte more not.
#[test]
fn serialized_len_limits_are_exact() {
    use esdk_core::encryption_context::{MAX_SERIALIZED_LEN, serialized_len};
    use esdk_core::error::{Error, LimitKind};
    let kind = |r: Result<usize, Error>| match r {
        Err(Error::Limit(l)) => Some(l.what),
        Err(e) => panic!("unexpected error {e:?}"),
        Ok(_) => None,
    };
    let big = "k".repeat(65_535);
    assert_eq!(
        kind(serialized_len([(big.as_str(), "")])),
        Some(LimitKind::EncryptionContextLength)
    );
    let bigger = "k".repeat(65_536);
    assert_eq!(
        kind(serialized_len([(bigger.as_str(), "")])),
        Some(LimitKind::FieldLength)
    );
    assert_eq!(
        kind(serialized_len([("", bigger.as_str())])),
        Some(LimitKind::FieldLength)
    );
    // 2 (count) + 4 (two lengths) + key: exactly the maximum, then one byte over.
    let exact = "k".repeat(MAX_SERIALIZED_LEN - 6);
    assert_eq!(
        serialized_len([(exact.as_str(), "")]).unwrap(),
        MAX_SERIALIZED_LEN
    );
    let over = "k".repeat(MAX_SERIALIZED_LEN - 5);
    assert_eq!(
        kind(serialized_len([(over.as_str(), "")])),
        Some(LimitKind::EncryptionContextLength)
    );
}

/// `encryption_context.rs`: `<EncryptionContextRef as Debug>::fmt` replaced by `Ok(())`
/// survived (run s4-f). The Debug form lists the keys and never a value.
#[cfg(feature = "alloc")]
#[test]
fn encryption_context_ref_debug_shows_keys_not_values() {
    let ec =
        esdk_core::EncryptionContext::from_iter([("purpose", "secret-value-1"), ("tenant", "v2")]);
    let bytes = ec.serialize().unwrap();
    let r = esdk_core::EncryptionContextRef::parse(&bytes).unwrap();
    let d = format!("{r:?}");
    assert_eq!(d, r#"{"purpose", "tenant"}"#);
    assert!(!d.contains("secret-value-1"));
}

/// `raw_aes.rs`: `<RawAesKey as Debug>::fmt` → `Ok(())` and `RawAesKey::namespace` → `""` /
/// `"xyzzy"` survived (run s4-i). The accessors answer exactly; Debug names the namespace and
/// the lengths, never the key.
#[test]
fn raw_aes_key_accessors_and_debug() {
    let key = [0x5au8; 32];
    let k = esdk_core::raw_aes::RawAesKey::new("my-namespace", b"key-name", &key).unwrap();
    assert_eq!(k.namespace(), "my-namespace");
    assert_eq!(k.name(), b"key-name");
    let d = format!("{k:?}");
    assert!(d.starts_with("RawAesKey {"), "{d}");
    assert!(d.contains("\"my-namespace\""), "{d}");
    assert!(d.contains("name_len: 8"), "{d}");
    assert!(d.contains("key_len: 32"), "{d}");
    assert!(!d.contains("90,") && !d.contains("5a"), "{d}");
}

/// `decrypt.rs`: `<MaterialsRequest as Drop>::drop` → `()` survived (run s4-h): the next
/// `process` fails with `MaterialsNotProvided` either way, but the drop itself must fail the
/// machine at once (a caller inspecting it before the next call sees it failed, not waiting).
#[test]
fn dropped_materials_request_fails_the_machine_at_once() {
    let mut dec = Decryptor::new(RustCrypto, DecryptConfig::default());
    let mut input = FIXTURE_0478.to_vec();
    let DecryptStatus { state, .. } = dec.process(&mut input, true);
    match state.unwrap() {
        DecryptState::NeedMaterials(req) => drop(req),
        _ => panic!("expected a materials request"),
    }
    let text = format!("{dec:?}");
    assert!(text.contains("stage: \"failed\""), "{text}");
}
