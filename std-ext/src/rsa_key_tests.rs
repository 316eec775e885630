//! Unit tests of `rsa_key.rs` (kept apart so that the module itself names no backend crate).

use super::*;
use rand_core::OsRng;

use std::collections::BTreeMap;

#[path = "../tests/support/rsa_keys.rs"]
mod rsa_keys;
use rsa_keys::{
    VectorKey, keys_manifests, pkcs1_public_der, read_json, rsa_keys_of, rsa_pem, test_modulus,
    vectors,
};

use base64::Engine as _;
use rsa::pkcs1::DecodeRsaPrivateKey as _;
use rsa::pkcs1::der::Decode as _;
use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
use rsa::pkcs8::DecodePrivateKey as _;
use rsa::pkcs8::der::pem;
use rsa::pkcs8::spki::SubjectPublicKeyInfoRef;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts as _;
use serde_json::Value;

/// The `rsa` crate's copy of a private key (from the DER it was loaded from), for the tests'
/// re-encodings and comparisons.
fn rc_private(key: &RsaPrivateKey) -> rsa::RsaPrivateKey {
    let der = key.inner.der.as_slice();
    match key.inner.encoding {
        RsaKeyEncoding::Pkcs8PrivateKeyInfo => rsa::RsaPrivateKey::from_pkcs8_der(der).unwrap(),
        _ => rsa::RsaPrivateKey::from_pkcs1_der(der).unwrap(),
    }
}

/// The `rsa` crate's copy of a public key.
fn rc_public(key: &RsaPublicKey) -> rsa::RsaPublicKey {
    rsa::RsaPublicKey::new_unchecked(
        rsa::BigUint::from_bytes_be(key.inner.key.modulus()),
        rsa::BigUint::from_bytes_be(key.inner.key.public_exponent()),
    )
}

fn private_key(dir: &str, name: &str) -> RsaPrivateKey {
    RsaPrivateKey::from_pem(&rsa_pem(dir, name)).unwrap()
}

fn public_key(dir: &str, name: &str) -> RsaPublicKey {
    RsaPublicKey::from_pem(&rsa_pem(dir, name)).unwrap()
}

/// A 4096-bit pair: both halves as published in the vectors.
fn pair_4096() -> (RsaPublicKey, RsaPrivateKey) {
    let public = public_key("dafny-4.1.0", "rsa-4096-public");
    let private = private_key("dafny-4.1.0", "rsa-4096-private");
    assert_eq!(rc_public(&public), rc_private(&private).to_public_key());
    (public, private)
}

/// A 2048-bit pair: the vectors publish only the private key, so the test
/// exports its public half to SPKI PEM and loads that.
fn pair_2048() -> (RsaPublicKey, RsaPrivateKey) {
    let private = private_key("legacy-python-1.3.0", "RSA.2048.OAEP-MGF1.SHA-1");
    let spki_pem = rc_private(&private)
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let public = RsaPublicKey::from_pem(&spki_pem).unwrap();
    (public, private)
}

fn random_key(len: usize) -> Vec<u8> {
    let mut key = vec![0u8; len];
    rand_core::RngCore::fill_bytes(&mut OsRng, &mut key);
    key
}

/// Extracts the base64 body of a PEM document and decodes it to DER.
fn pem_to_der(pem_text: &str) -> Vec<u8> {
    let body: String = pem_text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

#[test]
fn loads_every_rsa_key_in_every_keys_manifest() {
    let manifests = keys_manifests();
    let (mut private, mut public, mut as_lines, mut as_string) = (0, 0, 0, 0);
    let mut sizes = BTreeMap::new();
    for path in &manifests {
        for key in rsa_keys_of(path) {
            let context = format!("{} in {}", key.name, path.display());
            let bits = match key.kind.as_str() {
                "private" => {
                    private += 1;
                    let loaded = RsaPrivateKey::from_pem(&key.pem).expect(&context);
                    // A private PEM must never load as a public key.
                    let err = RsaPublicKey::from_pem(&key.pem).unwrap_err();
                    assert!(
                        matches!(err, RsaKeyError::UnsupportedPemLabel { ref label, .. } if label == "PRIVATE KEY"),
                        "{context}: {err}"
                    );
                    loaded.modulus_bits()
                }
                "public" | "aws-kms-rsa" => {
                    public += 1;
                    let loaded = RsaPublicKey::from_pem(&key.pem).expect(&context);
                    let err = RsaPrivateKey::from_pem(&key.pem).unwrap_err();
                    assert!(
                        matches!(err, RsaKeyError::UnsupportedPemLabel { ref label, .. } if label == "PUBLIC KEY"),
                        "{context}: {err}"
                    );
                    loaded.modulus_bits()
                }
                other => panic!("{context}: unexpected RSA key type {other}"),
            };
            assert_eq!(bits, key.bits, "{context}");
            *sizes.entry(bits).or_insert(0) += 1;
            if key.from_lines {
                as_lines += 1;
            } else {
                as_string += 1;
            }
        }
    }
    // 10 keys manifests; 8 hold RSA keys: 2 in each of six, 3 in the two
    // Dafny ones (which add the 2048-bit public key of a KMS RSA key).
    assert_eq!(manifests.len(), 10, "{manifests:?}");
    assert_eq!(private + public, 18, "private {private}, public {public}");
    assert_eq!(private, 9);
    assert!(as_lines >= 4 && as_string >= 12, "{as_lines} / {as_string}");
    assert_eq!(sizes.keys().copied().collect::<Vec<_>>(), vec![2048, 4096]);
}

#[test]
fn pem_tolerates_crlf_whitespace_and_line_width() {
    let (public, private) = pair_4096();
    let path = vectors().join("dafny-4.1.0/keys.json");
    for key in rsa_keys_of(&path)
        .iter()
        .filter(|k| k.name.starts_with("rsa-4096"))
    {
        let crlf = format!("\n  {}\r\n\r\n", key.pem.replace('\n', "\r\n"));
        // The same body re-wrapped at 76 columns, and on a single line.
        let lines: Vec<&str> = key.pem.lines().collect();
        let (begin, end) = (lines[0], lines[lines.len() - 1]);
        let body: String = lines[1..lines.len() - 1].concat();
        let wrapped76: Vec<&str> = body
            .as_bytes()
            .chunks(76)
            .map(|c| core::str::from_utf8(c).unwrap())
            .collect();
        let wide = format!("{begin}\n{}\n{end}\n", wrapped76.join("\n"));
        let one_line = format!("{begin}\n{body}\n{end}");
        for text in [&crlf, &wide, &one_line] {
            if key.kind == "private" {
                let loaded = RsaPrivateKey::from_pem(text).unwrap();
                assert_eq!(rc_private(&loaded), rc_private(&private));
            } else {
                assert_eq!(RsaPublicKey::from_pem(text).unwrap(), public);
            }
        }
    }
}

#[test]
fn round_trip_every_padding_2048_and_4096() {
    for (public, private) in [pair_2048(), pair_4096()] {
        let bits = public.modulus_bits();
        assert_eq!(private.modulus_bits(), bits);
        for padding in RsaPadding::ALL {
            let data_key = random_key(32);
            let wrapped = public.wrap(padding, &data_key, &mut OsRng).unwrap();
            assert_eq!(wrapped.len(), bits / 8, "{bits} {padding:?}");
            let again = public.wrap(padding, &data_key, &mut OsRng).unwrap();
            assert_ne!(wrapped, again, "{bits} {padding:?}: wrapping is randomized");
            let unwrapped = private.unwrap(padding, &wrapped).unwrap();
            assert_eq!(
                unwrapped.as_slice(),
                data_key.as_slice(),
                "{bits} {padding:?}"
            );
            assert_eq!(
                private.unwrap(padding, &again).unwrap().as_slice(),
                data_key
            );
        }
    }
}

#[test]
fn round_trip_every_suite_key_length_and_the_limits() {
    let (public, private) = pair_2048();
    for padding in RsaPadding::ALL {
        let max = public.max_wrap_len(padding);
        let expected = match padding {
            RsaPadding::Pkcs1V15 => 245,
            RsaPadding::OaepSha1 => 214,
            RsaPadding::OaepSha256 => 190,
            RsaPadding::OaepSha384 => 158,
            RsaPadding::OaepSha512 => 126,
        };
        assert_eq!(max, expected, "{padding:?}");
        // 16/24/32: the ESDK suites; 80: the KMS RSA keyring's digest ‖ key.
        for len in [0, 1, 16, 24, 32, 80, max] {
            let data_key = random_key(len);
            let wrapped = public.wrap(padding, &data_key, &mut OsRng).unwrap();
            let unwrapped = private.unwrap(padding, &wrapped).unwrap();
            assert_eq!(
                unwrapped.as_slice(),
                data_key.as_slice(),
                "{padding:?} {len}"
            );
        }
        let secret = vec![0xA5u8; max + 1];
        let err = public.wrap(padding, &secret, &mut OsRng).unwrap_err();
        assert_eq!(
            err,
            RsaKeyError::MessageTooLong {
                len: max + 1,
                max,
                modulus_bits: 2048,
                padding
            }
        );
        let message = err.to_string();
        assert!(
            message.contains("2048-bit") && !message.contains("a5"),
            "{message}"
        );
    }
}

#[test]
fn wrong_padding_fails() {
    let (public, private) = pair_2048();
    for wrap_padding in RsaPadding::ALL {
        let data_key = random_key(32);
        let wrapped = public.wrap(wrap_padding, &data_key, &mut OsRng).unwrap();
        for unwrap_padding in RsaPadding::ALL {
            if unwrap_padding == wrap_padding {
                continue;
            }
            match private.unwrap(unwrap_padding, &wrapped) {
                Err(e) => assert_eq!(e, RsaKeyError::DecryptionFailed),
                // An OAEP block read as PKCS#1 v1.5 has a small chance
                // (about 1 in 400) of carrying valid-looking padding; the
                // "plaintext" is then garbage, never the data key. Every
                // other pairing fails outright (it would need a hash match).
                Ok(garbage) => {
                    assert_eq!(unwrap_padding, RsaPadding::Pkcs1V15, "{wrap_padding:?}");
                    assert_ne!(garbage.as_slice(), data_key.as_slice());
                }
            }
        }
    }
}

#[test]
fn tampered_or_misshapen_ciphertext_fails() {
    let (public, private) = pair_2048();
    let (_, other_private) = pair_4096();
    // (The two 2048-bit keys of the legacy vectors are the same key.)
    let other_2048 = RsaPrivateKey::from_der(
        rsa::RsaPrivateKey::new(&mut OsRng, 2048)
            .unwrap()
            .to_pkcs8_der()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    for padding in RsaPadding::ALL {
        let data_key = random_key(32);
        let wrapped = public.wrap(padding, &data_key, &mut OsRng).unwrap();
        let mut attempts: Vec<Vec<u8>> = Vec::new();
        for (byte, bit) in [(0, 0), (1, 3), (100, 7), (255, 0)] {
            let mut tampered = wrapped.clone();
            tampered[byte] ^= 1 << bit;
            attempts.push(tampered);
        }
        // Wrong lengths, and a value not below the modulus.
        attempts.push(wrapped[1..].to_vec());
        attempts.push([wrapped.as_slice(), &[0]].concat());
        attempts.push([&[0], wrapped.as_slice()].concat());
        attempts.push(Vec::new());
        attempts.push(vec![0xFF; 256]);
        for attempt in &attempts {
            match private.unwrap(padding, attempt) {
                Err(e) => assert_eq!(e, RsaKeyError::DecryptionFailed),
                // Tampering with a PKCS#1 v1.5 block leaves a ~2^-16
                // chance of valid-looking padding; it never yields the key.
                Ok(garbage) => {
                    assert_eq!(padding, RsaPadding::Pkcs1V15);
                    assert_ne!(garbage.as_slice(), data_key.as_slice());
                }
            }
        }
        // The right ciphertext under the wrong key.
        assert_eq!(
            other_private.unwrap(padding, &wrapped).unwrap_err(),
            RsaKeyError::DecryptionFailed
        );
        if let Ok(garbage) = other_2048.unwrap(padding, &wrapped) {
            assert_eq!(padding, RsaPadding::Pkcs1V15);
            assert_ne!(garbage.as_slice(), data_key.as_slice());
        }
    }
    assert_eq!(
        RsaKeyError::DecryptionFailed.to_string(),
        "RSA decryption of the encrypted data key failed"
    );
}

#[test]
fn capabilities_follow_the_key_type() {
    // Type-level guarantee: `RsaPublicKey` has `wrap` and no `unwrap`;
    // `RsaPrivateKey` has `unwrap` and no `wrap`, and exposes no way to get
    // its public half. A keyring holding only one of them can therefore
    // only do the one operation. What can be checked at run time is that
    // material of one kind never loads as the other:
    let path = vectors().join("net-4.0.1/keys.json");
    let keys = rsa_keys_of(&path);
    let private_pem = &keys.iter().find(|k| k.kind == "private").unwrap().pem;
    let public_pem = &keys.iter().find(|k| k.kind == "public").unwrap().pem;
    assert!(RsaPublicKey::from_pem(private_pem).is_err());
    assert!(RsaPrivateKey::from_pem(public_pem).is_err());
    assert!(RsaPublicKey::from_der(&pem_to_der(private_pem)).is_err());
    assert!(RsaPrivateKey::from_der(&pem_to_der(public_pem)).is_err());

    let (public, private) = pair_2048();
    let wrapped = public
        .wrap(RsaPadding::OaepSha256, &[7; 32], &mut OsRng)
        .unwrap();
    let unwrapped = private.unwrap(RsaPadding::OaepSha256, &wrapped).unwrap();
    assert_eq!(unwrapped.as_slice(), [7; 32]);
}

#[test]
fn der_and_pkcs1_forms_load() {
    for (public, private) in [pair_2048(), pair_4096()] {
        let bits = public.modulus_bits();
        // PKCS#8 / SPKI DER, converted from the vectors' PEM by hand.
        let pkcs8_pem = rc_private(&private).to_pkcs8_pem(LineEnding::LF).unwrap();
        let spki_pem = rc_public(&public)
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        let pkcs8_der = pem_to_der(&pkcs8_pem);
        let spki_der = pem_to_der(&spki_pem);
        // PKCS#1 in both encodings.
        let pkcs1_private_pem = rc_private(&private).to_pkcs1_pem(LineEnding::LF).unwrap();
        let pkcs1_public_pem = rc_public(&public).to_pkcs1_pem(LineEnding::LF).unwrap();
        assert!(pkcs1_private_pem.starts_with("-----BEGIN RSA PRIVATE KEY-----"));
        assert!(pkcs1_public_pem.starts_with("-----BEGIN RSA PUBLIC KEY-----"));
        let pkcs1_private_der = pem_to_der(&pkcs1_private_pem);
        let pkcs1_public_der = pem_to_der(&pkcs1_public_pem);

        let privates = [
            RsaPrivateKey::from_der(&pkcs8_der).unwrap(),
            RsaPrivateKey::from_der(&pkcs1_private_der).unwrap(),
            RsaPrivateKey::from_pem(&pkcs1_private_pem).unwrap(),
        ];
        let publics = [
            RsaPublicKey::from_der(&spki_der).unwrap(),
            RsaPublicKey::from_der(&pkcs1_public_der).unwrap(),
            RsaPublicKey::from_pem(&pkcs1_public_pem).unwrap(),
        ];
        for loaded in &publics {
            assert_eq!(loaded, &public);
        }
        for loaded in &privates {
            assert_eq!(rc_private(loaded), rc_private(&private));
        }
        // Every public form wraps for every private form.
        for (i, loaded_public) in publics.iter().enumerate() {
            let data_key = random_key(32);
            let wrapped = loaded_public
                .wrap(RsaPadding::OaepSha1, &data_key, &mut OsRng)
                .unwrap();
            let unwrapped = privates[i].unwrap(RsaPadding::OaepSha1, &wrapped).unwrap();
            assert_eq!(unwrapped.as_slice(), data_key.as_slice(), "{bits} form {i}");
        }
        // PEM labels are not interchangeable: the body must match the label.
        let mislabeled = pkcs1_private_pem.replace("RSA PRIVATE KEY", "PRIVATE KEY");
        assert_eq!(
            RsaPrivateKey::from_pem(&mislabeled).unwrap_err(),
            RsaKeyError::UnparseableKey {
                role: "private",
                tried: "PKCS#8 PrivateKeyInfo"
            }
        );
        let mislabeled = pkcs1_public_pem.replace("RSA PUBLIC KEY", "PUBLIC KEY");
        assert!(matches!(
            RsaPublicKey::from_pem(&mislabeled).unwrap_err(),
            RsaKeyError::UnparseableKey { role: "public", .. }
        ));
    }
}

#[test]
fn bad_input_is_reported_clearly() {
    let garbage = [0x30, 0x03, 0x02, 0x01, 0x00];
    let err = RsaPrivateKey::from_der(&garbage).unwrap_err();
    assert_eq!(
        err.to_string(),
        "RSA private key: not a valid RSA key in any accepted form \
         (tried PKCS#8 PrivateKeyInfo, then PKCS#1 RSAPrivateKey)"
    );
    let err = RsaPublicKey::from_der(&garbage).unwrap_err();
    assert_eq!(
        err.to_string(),
        "RSA public key: not a valid RSA key in any accepted form \
         (tried X.509 SubjectPublicKeyInfo, then PKCS#1 RSAPublicKey)"
    );
    assert!(RsaPublicKey::from_der(&[]).is_err());
    assert!(RsaPrivateKey::from_der(&[]).is_err());

    for text in [
        "",
        "not a key",
        "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----",
    ] {
        assert_eq!(
            RsaPublicKey::from_pem(text).unwrap_err(),
            RsaKeyError::MalformedPem { role: "public" }
        );
        assert_eq!(
            RsaPrivateKey::from_pem(text).unwrap_err(),
            RsaKeyError::MalformedPem { role: "private" }
        );
    }

    let (_, private) = pair_2048();
    let body = pem_to_der(&rc_private(&private).to_pkcs8_pem(LineEnding::LF).unwrap());
    let encrypted = pem::encode_string("ENCRYPTED PRIVATE KEY", LineEnding::LF, &body).unwrap();
    let err = RsaPrivateKey::from_pem(&encrypted).unwrap_err();
    assert_eq!(
        err.to_string(),
        "RSA private key: PEM label \"ENCRYPTED PRIVATE KEY\" is not accepted \
         (accepted labels: \"PRIVATE KEY\" (PKCS#8), \"RSA PRIVATE KEY\" (PKCS#1))"
    );
    let err = RsaPublicKey::from_pem(&encrypted).unwrap_err();
    assert!(
        err.to_string()
            .contains("\"PUBLIC KEY\" (X.509 SubjectPublicKeyInfo)")
    );

    // A well-formed SPKI for a P-256 key (id-ecPublicKey, prime256v1) is
    // not an RSA key.
    let mut ec_spki = vec![0x30, 0x59, 0x30, 0x13];
    ec_spki.extend_from_slice(&[0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01]);
    ec_spki.extend_from_slice(&[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07]);
    ec_spki.extend_from_slice(&[0x03, 0x42, 0x00, 0x04]);
    ec_spki.extend_from_slice(&[0x11; 64]);
    assert!(SubjectPublicKeyInfoRef::from_der(&ec_spki).is_ok());
    assert!(matches!(
        RsaPublicKey::from_der(&ec_spki).unwrap_err(),
        RsaKeyError::UnparseableKey { role: "public", .. }
    ));
}

#[test]
fn modulus_size_bounds() {
    // 1024-bit keys are refused, whichever encoding they come in.
    let small = rsa::RsaPrivateKey::new(&mut OsRng, 1024).unwrap();
    let small_public = small.to_public_key();
    let expected = RsaKeyError::KeyTooSmall {
        bits: 1024,
        min: 2048,
    };
    let pkcs8 = small.to_pkcs8_pem(LineEnding::LF).unwrap();
    assert_eq!(RsaPrivateKey::from_pem(&pkcs8).unwrap_err(), expected);
    let pkcs1 = small.to_pkcs1_der().unwrap();
    assert_eq!(
        RsaPrivateKey::from_der(pkcs1.as_bytes()).unwrap_err(),
        expected
    );
    let spki = small_public.to_public_key_pem(LineEnding::LF).unwrap();
    assert_eq!(RsaPublicKey::from_pem(&spki).unwrap_err(), expected);
    let pkcs1 = small_public.to_pkcs1_der().unwrap();
    assert_eq!(
        RsaPublicKey::from_der(pkcs1.as_bytes()).unwrap_err(),
        expected
    );
    assert_eq!(
        expected.to_string(),
        "RSA modulus of 1024 bits is below the minimum of 2048 bits"
    );

    // Public keys above the rsa crate's default size cap load and wrap (an
    // odd modulus stands in for a real one: wrapping never factors it), up
    // to MAX_MODULUS_BITS. The PKCS#1 DER is written by hand.
    let key_8192 =
        RsaPublicKey::from_der(&pkcs1_public_der(&test_modulus(8192, true), &[1, 0, 1])).unwrap();
    assert_eq!(key_8192.modulus_bits(), 8192);
    let wrapped = key_8192
        .wrap(RsaPadding::OaepSha512, &[1; 32], &mut OsRng)
        .unwrap();
    assert_eq!(wrapped.len(), 1024);
    let key_16384 = pkcs1_public_der(&test_modulus(16384, true), &[1, 0, 1]);
    assert_eq!(
        RsaPublicKey::from_der(&key_16384).unwrap().modulus_bits(),
        16384
    );
    assert_eq!(
        RsaPublicKey::from_der(&pkcs1_public_der(&test_modulus(16392, true), &[1, 0, 1]))
            .unwrap_err(),
        RsaKeyError::KeyTooLarge {
            bits: 16392,
            max: 16384
        }
    );
    // Numbers that are not an RSA public key at all: an even modulus, and a
    // public exponent of 1.
    for (n, e) in [
        (test_modulus(2048, false), vec![1, 0, 1]),
        (test_modulus(2048, true), vec![1]),
    ] {
        assert_eq!(
            RsaPublicKey::from_der(&pkcs1_public_der(&n, &e)).unwrap_err(),
            RsaKeyError::InvalidPublicKey
        );
    }
}

#[test]
fn debug_and_errors_never_show_key_material() {
    let (public, private) = pair_4096();
    let private_debug = format!("{private:?}");
    let public_debug = format!("{public:?}");
    assert_eq!(private_debug, "RsaPrivateKey { modulus_bits: 4096, .. }");
    assert_eq!(public_debug, "RsaPublicKey { modulus_bits: 4096, .. }");
    let pretty = format!("{private:#?}");
    assert!(!pretty.contains(&rc_private(&private).n().to_string()[..12]));
    let cloned = private.clone();
    assert_eq!(format!("{cloned:?}"), private_debug);
}

// ----- Known answers: unwrap the EDKs of real messages -----

/// One encrypted data key from a message header.
struct Edk {
    provider_id: Vec<u8>,
    provider_info: Vec<u8>,
    ciphertext: Vec<u8>,
}

/// Reads a message header up to and including its EDK entries (spec digest
/// §2.1–2.2 and §3.1–3.2); returns the suite ID and the EDKs.
fn parse_header_edks(message: &[u8]) -> (u16, Vec<Edk>) {
    struct Reader<'a>(&'a [u8]);
    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> &'a [u8] {
            assert!(self.0.len() >= n, "truncated header");
            let (head, tail) = self.0.split_at(n);
            self.0 = tail;
            head
        }
        fn u8(&mut self) -> u8 {
            self.take(1)[0]
        }
        fn u16(&mut self) -> u16 {
            u16::from_be_bytes(self.take(2).try_into().unwrap())
        }
        fn field(&mut self) -> Vec<u8> {
            let len = usize::from(self.u16());
            self.take(len).to_vec()
        }
    }
    let mut r = Reader(message);
    let suite = match r.u8() {
        1 => {
            assert_eq!(r.u8(), 0x80, "v1 message type");
            let suite = r.u16();
            r.take(16); // message ID
            suite
        }
        2 => {
            let suite = r.u16();
            r.take(32); // message ID
            suite
        }
        v => panic!("unknown message version {v}"),
    };
    r.field(); // AAD: the serialized encryption context
    let count = r.u16();
    assert!(count >= 1);
    let edks = (0..count)
        .map(|_| Edk {
            provider_id: r.field(),
            provider_info: r.field(),
            ciphertext: r.field(),
        })
        .collect();
    (suite, edks)
}

/// Plaintext data key length of an ESDK algorithm suite.
fn suite_key_len(suite: u16) -> usize {
    match suite {
        0x0014 | 0x0114 | 0x0214 => 16,
        0x0046 | 0x0146 | 0x0346 => 24,
        0x0078 | 0x0178 | 0x0378 | 0x0478 | 0x0578 => 32,
        other => panic!("unknown suite {other:#06x}"),
    }
}

/// Maps a manifest's `padding-algorithm` / `padding-hash` to a padding.
fn manifest_padding(key: &Value) -> RsaPadding {
    match (
        key["padding-algorithm"].as_str(),
        key["padding-hash"].as_str(),
    ) {
        (Some("pkcs1"), _) => RsaPadding::Pkcs1V15,
        (Some("oaep-mgf1"), Some("sha1")) => RsaPadding::OaepSha1,
        (Some("oaep-mgf1"), Some("sha256")) => RsaPadding::OaepSha256,
        (Some("oaep-mgf1"), Some("sha384")) => RsaPadding::OaepSha384,
        (Some("oaep-mgf1"), Some("sha512")) => RsaPadding::OaepSha512,
        other => panic!("unknown RSA padding {other:?}"),
    }
}

/// The private key for a manifest key name: the key itself, or for a
/// public key the private key of the pair (the one with the same modulus).
fn private_for<'a>(
    keys: &'a [VectorKey],
    privates: &'a [(&'a VectorKey, RsaPrivateKey)],
    name: &str,
) -> Option<(&'a VectorKey, &'a RsaPrivateKey)> {
    let key = keys.iter().find(|k| k.name == name)?;
    let target = match key.kind.as_str() {
        "private" => rc_private(&RsaPrivateKey::from_pem(&key.pem).ok()?).to_public_key(),
        "public" => rc_public(&RsaPublicKey::from_pem(&key.pem).ok()?),
        _ => return None,
    };
    let (_, private) = privates
        .iter()
        .find(|(_, p)| rc_private(p).to_public_key() == target)?;
    Some((key, private))
}

/// For every message of a decrypt manifest whose keyring is a single raw
/// RSA key (or a list of raw master keys), unwraps each matching EDK with
/// the private key of the pair and checks the data key length against the
/// suite. Returns the number of EDKs unwrapped per padding.
fn unwrap_manifest_edks(dir: &str, manifest: &str) -> BTreeMap<String, usize> {
    let dir = vectors().join(dir);
    let keys = rsa_keys_of(&dir.join("keys.json"));
    let privates: Vec<(&VectorKey, RsaPrivateKey)> = keys
        .iter()
        .filter(|k| k.kind == "private")
        .map(|k| (k, RsaPrivateKey::from_pem(&k.pem).unwrap()))
        .collect();
    let json = read_json(&dir.join(manifest));
    let mut counts = BTreeMap::new();
    for (name, test) in json["tests"].as_object().unwrap() {
        let (ciphertext, key_descriptions, manifest_suite) =
            if let Some(scenario) = test.get("decryption-scenario") {
                (
                    &scenario["ciphertext"],
                    vec![&scenario["decryptKeyDescription"]],
                    scenario["algorithmSuiteId"].as_str(),
                )
            } else {
                let keys = test["master-keys"].as_array().unwrap().iter().collect();
                (&test["ciphertext"], keys, None)
            };
        let rsa_keys: Vec<&Value> = key_descriptions
            .into_iter()
            .filter(|k| k["type"] == "raw" && k["encryption-algorithm"] == "rsa")
            .collect();
        if rsa_keys.is_empty() {
            continue;
        }
        let file = ciphertext
            .as_str()
            .unwrap()
            .strip_prefix("file://")
            .unwrap();
        let message = std::fs::read(dir.join(file)).unwrap();
        let (suite, edks) = parse_header_edks(&message);
        if let Some(expected) = manifest_suite {
            assert_eq!(format!("{suite:04x}"), expected.to_lowercase(), "{name}");
        }
        for description in rsa_keys {
            let padding = manifest_padding(description);
            let key_name = description["key"].as_str().unwrap();
            let (key, private) = private_for(&keys, &privates, key_name)
                .unwrap_or_else(|| panic!("{name}: no private key for {key_name}"));
            let provider_id = description["provider-id"].as_str().unwrap().as_bytes();
            let matching: Vec<&Edk> = edks
                .iter()
                .filter(|e| {
                    e.provider_id == provider_id && e.provider_info == key.key_id.as_bytes()
                })
                .collect();
            assert_eq!(matching.len(), 1, "{name}: EDKs for {}", key.key_id);
            let edk = matching[0];
            assert_eq!(edk.ciphertext.len(), private.modulus_bits() / 8, "{name}");
            let data_key = private
                .unwrap(padding, &edk.ciphertext)
                .unwrap_or_else(|e| panic!("{name}: {padding:?}: {e}"));
            assert_eq!(data_key.len(), suite_key_len(suite), "{name}");
            *counts.entry(format!("{padding:?}")).or_insert(0) += 1;

            // An OAEP EDK must fail under every other OAEP hash.
            if padding != RsaPadding::Pkcs1V15 {
                for &other in RsaPadding::ALL[1..].iter().filter(|&&p| p != padding) {
                    assert!(private.unwrap(other, &edk.ciphertext).is_err(), "{name}");
                }
            }
        }
    }
    counts
}

#[test]
fn known_answer_dafny_4_1_0_every_padding_and_suite() {
    let counts = unwrap_manifest_edks("dafny-4.1.0", "decrypt-manifest.json");
    // 5 paddings × 11 suites (v1 and v2 headers), RSA-4096.
    let expected: BTreeMap<String, usize> = RsaPadding::ALL
        .iter()
        .map(|p| (format!("{p:?}"), 11))
        .collect();
    assert_eq!(counts, expected);
}

#[test]
fn known_answer_net_4_0_1() {
    let counts = unwrap_manifest_edks("net-4.0.1", "manifest.json");
    // 66 messages wrapped for rsa-4096-private (OAEP-SHA-512), 33 of which
    // also carry an EDK for rsa-4096-public (OAEP-SHA-256).
    assert_eq!(counts.get("OaepSha512"), Some(&66));
    assert_eq!(counts.get("OaepSha256"), Some(&33));
    assert_eq!(counts.len(), 2);
}

#[test]
fn known_answer_legacy_python_1_3_0_rsa_2048() {
    let counts = unwrap_manifest_edks("legacy-python-1.3.0", "manifest.json");
    assert_eq!(counts.get("OaepSha1"), Some(&360));
    assert_eq!(counts.get("Pkcs1V15"), Some(&180));
    assert_eq!(counts.len(), 2);
}
