//! Raw ECDH keyring: every schema on every curve, key loading, point validation, filters.
#![allow(missing_docs, clippy::unwrap_used, clippy::std_instead_of_core)]

mod common;

use common::*;
use esdk_std::keyring::Keyring;
use esdk_std::keyring::raw_ecdh::{
    EcKeyError, EcPrivateKey, EcPublicKey, EcdhCurve, PROVIDER_ID, RawEcdhKeyring,
    parse_provider_info, provider_info,
};
use esdk_std::materials::{DecryptionMaterials, EncryptionMaterials};
use esdk_std::{Client, DecryptOptions, EncryptOptions, Error};

const CURVES: [EcdhCurve; 3] = [EcdhCurve::P256, EcdhCurve::P384, EcdhCurve::P521];

fn failures(r: esdk_std::Result<esdk_std::Decrypted>) -> Vec<esdk_std::EdkFailure> {
    match r {
        Err(Error::NoDecryptableKey(v)) => v,
        other => panic!("expected NoDecryptableKey, got {other:?}"),
    }
}

fn round_trip(client: &Client, enc: &RawEcdhKeyring, dec: &RawEcdhKeyring, pt: &[u8]) {
    let ctx = ec(&[("purpose", "raw ecdh test"), ("k", "v")]);
    let sealed = client
        .encrypt(pt, &EncryptOptions::keyring(enc).encryption_context(ctx))
        .unwrap();
    assert_eq!(sealed.header.encrypted_data_keys.len(), 1);
    let edk = &sealed.header.encrypted_data_keys[0];
    assert_eq!(edk.provider_id, PROVIDER_ID);
    let opened = client
        .decrypt(&sealed.ciphertext, &DecryptOptions::keyring(dec))
        .unwrap();
    assert_eq!(opened.plaintext, pt);
}

#[test]
fn every_schema_round_trips_on_every_curve_and_suite_kind() {
    for curve in CURVES {
        let sender = EcPrivateKey::generate(curve);
        let recipient = EcPrivateKey::generate(curve);
        let static_kr =
            RawEcdhKeyring::static_keys(sender.clone(), recipient.public_key()).unwrap();
        let discovery = RawEcdhKeyring::discovery(recipient.clone());
        let ephemeral = RawEcdhKeyring::ephemeral(recipient.public_key());
        for suite in [S0478, S0578, S0178, S0014] {
            let client = client_for(suite);
            let pt = bytes(100, 7);
            // static → the sender's own keyring and the recipient's discovery keyring
            round_trip(&client, &static_kr, &static_kr, &pt);
            round_trip(&client, &static_kr, &discovery, &pt);
            // ephemeral → discovery
            round_trip(&client, &ephemeral, &discovery, &pt);
        }
        // The provider info names the recipient, then the sender (compressed points).
        let m = static_kr
            .on_encrypt(&EncryptionMaterials::new(S0478, ec(&[])))
            .unwrap();
        let edk = &m.encrypted_data_keys[0];
        let (r, s) = parse_provider_info(curve, &edk.provider_info).unwrap();
        assert_eq!(r, recipient.public_key());
        assert_eq!(s, sender.public_key());
        assert_eq!(edk.provider_info.len(), 1 + 8 + 2 * curve.compressed_len());
        assert_eq!(edk.ciphertext.len(), 32 + 32 + 32 + 16);
        // Two ephemeral messages use two different sender keys.
        let a = ephemeral
            .on_encrypt(&EncryptionMaterials::new(S0478, ec(&[])))
            .unwrap();
        let b = ephemeral
            .on_encrypt(&EncryptionMaterials::new(S0478, ec(&[])))
            .unwrap();
        assert_ne!(
            a.encrypted_data_keys[0].provider_info,
            b.encrypted_data_keys[0].provider_info
        );
    }
}

#[test]
fn schemas_refuse_what_they_cannot_do() {
    let recipient = EcPrivateKey::generate(EcdhCurve::P256);
    let discovery = RawEcdhKeyring::discovery(recipient.clone());
    let err = discovery
        .on_encrypt(&EncryptionMaterials::new(S0478, ec(&[])))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Keyring(e) if e.kind() == esdk_std::KeyringErrorKind::CannotEncrypt),
        "{err}"
    );
    assert!(err.to_string().contains("cannot encrypt"), "{err}");

    let ephemeral = RawEcdhKeyring::ephemeral(recipient.public_key());
    let client = client_for(S0478);
    let sealed = client
        .encrypt(b"x", &EncryptOptions::keyring(&ephemeral))
        .unwrap();
    let f = failures(client.decrypt(&sealed.ciphertext, &DecryptOptions::keyring(&ephemeral)));
    assert_eq!(f.len(), 1);
    assert!(f[0].reason.contains("cannot decrypt"), "{}", f[0].reason);
    // Mixed curves are a configuration error.
    let err = RawEcdhKeyring::static_keys(
        EcPrivateKey::generate(EcdhCurve::P384),
        recipient.public_key(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err}");
}

#[test]
fn other_keys_context_and_tampering_fail_with_reasons() {
    let client = client_for(S0478);
    let curve = EcdhCurve::P384;
    let sender = EcPrivateKey::generate(curve);
    let recipient = EcPrivateKey::generate(curve);
    let kr = RawEcdhKeyring::static_keys(sender.clone(), recipient.public_key()).unwrap();
    let sealed = client
        .encrypt(
            b"hello",
            &EncryptOptions::keyring(&kr).encryption_context(ec(&[("a", "b")])),
        )
        .unwrap();
    // Another recipient.
    let other = RawEcdhKeyring::discovery(EcPrivateKey::generate(curve));
    let f = failures(client.decrypt(&sealed.ciphertext, &DecryptOptions::keyring(&other)));
    assert!(f[0].reason.contains("another recipient"), "{}", f[0].reason);
    // Another sender for a static keyring.
    let other_static =
        RawEcdhKeyring::static_keys(EcPrivateKey::generate(curve), recipient.public_key()).unwrap();
    let f = failures(client.decrypt(&sealed.ciphertext, &DecryptOptions::keyring(&other_static)));
    assert!(f[0].reason.contains("another sender"), "{}", f[0].reason);
    // Another curve: the points do not parse on it.
    let p256 = RawEcdhKeyring::discovery(EcPrivateKey::generate(EcdhCurve::P256));
    let f = failures(client.decrypt(&sealed.ciphertext, &DecryptOptions::keyring(&p256)));
    assert!(f[0].reason.contains("not a compressed"), "{}", f[0].reason);

    // Directly on the keyring: a changed encryption context breaks the commitment, a changed
    // ciphertext byte the commitment or the tag, a changed length the length check.
    let dec = RawEcdhKeyring::discovery(recipient);
    let m = kr
        .on_encrypt(&EncryptionMaterials::new(S0478, ec(&[("a", "b")])))
        .unwrap();
    let edk = m.encrypted_data_keys[0].clone();
    let ok = dec
        .on_decrypt(
            &DecryptionMaterials::new(S0478, ec(&[("a", "b")])),
            std::slice::from_ref(&edk),
        )
        .unwrap();
    assert_eq!(ok.data_key, m.data_key);
    let reason = |r: esdk_std::Result<DecryptionMaterials>| match r {
        Err(Error::NoDecryptableKey(v)) => v[0].reason.clone(),
        other => panic!("{other:?}"),
    };
    let r = reason(dec.on_decrypt(
        &DecryptionMaterials::new(S0478, ec(&[("a", "c")])),
        std::slice::from_ref(&edk),
    ));
    assert!(r.contains("commitment"), "{r}");
    for i in [0, 40, 70, 100] {
        let mut bad = edk.clone();
        bad.ciphertext[i] ^= 1;
        let r = reason(dec.on_decrypt(&DecryptionMaterials::new(S0478, ec(&[("a", "b")])), &[bad]));
        assert!(r.contains("commitment") || r.contains("tag"), "{i}: {r}");
    }
    let mut short = edk.clone();
    short.ciphertext.pop();
    let r = reason(dec.on_decrypt(
        &DecryptionMaterials::new(S0478, ec(&[("a", "b")])),
        &[short],
    ));
    assert!(r.contains("expected"), "{r}");
    // A 16-byte-key suite rejects a 32-byte wrapped key by length.
    let r = reason(dec.on_decrypt(&DecryptionMaterials::new(S0014, ec(&[("a", "b")])), &[edk]));
    assert!(r.contains("expected"), "{r}");
    // Materials that already hold a key are refused.
    let mut full = DecryptionMaterials::new(S0478, ec(&[]));
    full.data_key = m.data_key.clone();
    assert!(matches!(
        dec.on_decrypt(&full, &[]),
        Err(Error::Materials(_))
    ));
}

#[test]
fn points_are_validated_wherever_they_come_from() {
    for curve in CURVES {
        let k = EcPrivateKey::generate(curve).public_key();
        let c = k.compressed();
        assert_eq!(c.len(), curve.compressed_len());
        // Compressed x with no point on the curve: try x values until one is not on it.
        let mut not_on_curve = None;
        for b in 0u8..=255 {
            let mut x = c.to_vec();
            *x.last_mut().unwrap() = b;
            if EcPublicKey::from_sec1(curve, &x).is_err() {
                not_on_curve = Some(x);
                break;
            }
        }
        let bad = not_on_curve.unwrap();
        assert_eq!(
            EcPublicKey::from_sec1(curve, &bad).unwrap_err(),
            EcKeyError::InvalidPoint { curve }
        );
        // The identity (SEC1 `00`) and a bad tag byte.
        assert!(EcPublicKey::from_sec1(curve, &[0]).is_err());
        for t in [0u8, 1, 4, 5, 6, 7] {
            let mut tag = c.to_vec();
            tag[0] = t;
            assert!(EcPublicKey::from_sec1(curve, &tag).is_err(), "tag {t}");
        }
        // Uncompressed input is accepted and compressed.
        let unc = uncompressed(curve, &k);
        assert_eq!(EcPublicKey::from_sec1(curve, &unc).unwrap(), k);

        // An EDK whose sender key is not a point is rejected before any key agreement.
        let recipient = EcPrivateKey::generate(curve);
        let dec = RawEcdhKeyring::discovery(recipient.clone());
        let good = RawEcdhKeyring::ephemeral(recipient.public_key())
            .on_encrypt(&EncryptionMaterials::new(S0478, ec(&[])))
            .unwrap()
            .encrypted_data_keys[0]
            .clone();
        let mut edk = good.clone();
        let n = curve.compressed_len();
        let start = edk.provider_info.len() - n;
        edk.provider_info[start..].copy_from_slice(&bad);
        match dec.on_decrypt(&DecryptionMaterials::new(S0478, ec(&[])), &[edk]) {
            Err(Error::NoDecryptableKey(v)) => {
                assert!(
                    v[0].reason.contains("sender public key: invalid point"),
                    "{}",
                    v[0].reason
                )
            }
            other => panic!("{other:?}"),
        }
        // Malformed provider infos.
        for info in [
            vec![],
            vec![2],
            good.provider_info[..good.provider_info.len() - 1].to_vec(),
            [&good.provider_info[..], &[0]].concat(),
        ] {
            assert!(parse_provider_info(curve, &info).is_err());
        }
        assert_eq!(
            provider_info(
                &recipient.public_key(),
                &parse_provider_info(curve, &good.provider_info).unwrap().1
            ),
            good.provider_info
        );
    }
}

fn uncompressed(curve: EcdhCurve, k: &EcPublicKey) -> Vec<u8> {
    use p256::elliptic_curve::sec1::ToEncodedPoint as _;
    match curve {
        EcdhCurve::P256 => p256::PublicKey::from_sec1_bytes(k.compressed())
            .unwrap()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec(),
        EcdhCurve::P384 => p384::PublicKey::from_sec1_bytes(k.compressed())
            .unwrap()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec(),
        _ => p521::PublicKey::from_sec1_bytes(k.compressed())
            .unwrap()
            .to_encoded_point(false)
            .as_bytes()
            .to_vec(),
    }
}

#[test]
fn keys_load_from_pem_and_der_in_every_accepted_form() {
    use p256::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _, LineEnding};
    let sk = p384::SecretKey::random(&mut rand_core::OsRng);
    let pkcs8_pem = sk.to_pkcs8_pem(LineEnding::LF).unwrap();
    let pkcs8_der = sk.to_pkcs8_der().unwrap();
    let sec1_pem = sk.to_sec1_pem(LineEnding::LF).unwrap();
    let sec1_der = sk.to_sec1_der().unwrap();
    let spki_pem = sk.public_key().to_public_key_pem(LineEnding::LF).unwrap();
    let spki_der = sk.public_key().to_public_key_der().unwrap();
    let c = EcdhCurve::P384;
    let a = EcPrivateKey::from_pem(c, &pkcs8_pem).unwrap().public_key();
    let b = EcPrivateKey::from_der(c, pkcs8_der.as_bytes())
        .unwrap()
        .public_key();
    let d = EcPrivateKey::from_pem(c, &sec1_pem).unwrap().public_key();
    let e = EcPrivateKey::from_der(c, &sec1_der).unwrap().public_key();
    let f = EcPublicKey::from_pem(c, &spki_pem).unwrap();
    let g = EcPublicKey::from_der(c, spki_der.as_bytes()).unwrap();
    for k in [&b, &d, &e, &f, &g] {
        assert_eq!(k, &a);
    }
    assert_eq!(a.to_der(), spki_der.as_bytes());
    // Wrong curve, wrong label, garbage.
    assert!(matches!(
        EcPrivateKey::from_pem(EcdhCurve::P256, &pkcs8_pem),
        Err(EcKeyError::Unparseable { .. })
    ));
    assert!(matches!(
        EcPublicKey::from_der(EcdhCurve::P521, spki_der.as_bytes()),
        Err(EcKeyError::Unparseable { .. })
    ));
    assert!(matches!(
        EcPrivateKey::from_pem(c, &spki_pem),
        Err(EcKeyError::MalformedPem { .. })
    ));
    assert!(matches!(
        EcPublicKey::from_pem(c, &pkcs8_pem),
        Err(EcKeyError::MalformedPem { .. })
    ));
    assert!(EcPublicKey::from_pem(c, "not a pem").is_err());
    assert!(EcPrivateKey::from_der(c, b"\x30\x03\x02\x01\x01").is_err());
    // Debug never shows the private key.
    let dbg = format!("{:?}", EcPrivateKey::from_pem(c, &pkcs8_pem).unwrap());
    assert_eq!(dbg, "EcPrivateKey(ECC_NIST_P384, <redacted>)");
    // Load errors convert into the crate's error.
    let err: Error = EcPublicKey::from_pem(c, "x").unwrap_err().into();
    assert!(matches!(err, Error::Ec(_)));
}
