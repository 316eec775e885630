//! A crypto provider backed by an AES-GCM "hardware engine": what an embedded integrator writes
//! to put esdk-core on a device whose AES-GCM runs in a peripheral (key slots, a GCM mode with a
//! streamed AAD phase), while HKDF, SHA-2 and ECDSA stay in software.
//!
//! The engine here is simulated: [`SimulatedEngine`] implements the [`AesGcmEngine`] trait (the
//! register-level driver's API, as a device HAL would offer it) by forwarding to the software
//! AES-GCM of the RustCrypto provider, and counts every call. [`HwProvider`] is the part an
//! integrator really writes: the esdk-core [`CryptoProvider`] on top of such an engine. The state
//! machines take it unchanged: the program encrypts and decrypts with it, decrypts a message the
//! default provider wrote, and has the default provider decrypt what it wrote.
//!
//! Run: `cargo run -p esdk-core --example hw_engine_provider` (also run by the test
//! `core/tests/hw_engine_example.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
// Configs are built field by field, as callers of `#[non_exhaustive]` configs must.
#![allow(clippy::field_reassign_with_default)]

use core::cell::{Cell, RefCell};
use esdk_core::crypto::rustcrypto::{
    RustCrypto, RustCryptoAeadKey, RustCryptoDigest, RustCryptoGmac,
};
use esdk_core::crypto::{AeadKey, AuthFailed, CryptoProvider, Gmac};
use esdk_core::error::CryptoError;
use esdk_core::suite::{HashAlg, SignatureAlg};
use esdk_core::{
    AlgorithmSuite, DataKey, DecryptConfig, DecryptState, DecryptStatus, DecryptionMaterialsRef,
    Decryptor, EdkRef, EncryptConfig, EncryptionMaterialsRef, Encryptor, Error,
};
use rand_core::CryptoRngCore;

// ---------------------------------------------------------------------------------------------
// The engine's driver API (what the device HAL offers).
// ---------------------------------------------------------------------------------------------

/// A key slot of the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot(usize);

/// An AES-GCM peripheral: keys live in slots, GCM runs on a slot, and the AAD-only mode (GMAC)
/// takes its AAD in pieces (the engine's "header phase").
pub trait AesGcmEngine {
    /// A streamed GMAC computation on the engine.
    type GmacSession;
    /// Loads a 16/24/32-byte key into a free slot.
    fn load_key(&self, key: &[u8]) -> Result<Slot, CryptoError>;
    /// Clears a slot (the key is wiped from the engine).
    fn clear_key(&self, slot: Slot);
    /// GCM encryption in place; returns the tag.
    fn seal(
        &self,
        slot: Slot,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; 16], CryptoError>;
    /// GCM decryption in place; on a tag mismatch `buf` is left as it was.
    fn open(
        &self,
        slot: Slot,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), AuthFailed>;
    /// Starts GMAC (GCM over an empty plaintext) with `iv`.
    fn gmac_start(&self, slot: Slot, iv: &[u8; 12]) -> Result<Self::GmacSession, CryptoError>;
    /// Feeds AAD to a GMAC session.
    fn gmac_update(&self, session: &mut Self::GmacSession, aad: &[u8]);
    /// Ends a GMAC session and reads the tag.
    fn gmac_finish(&self, session: Self::GmacSession) -> [u8; 16];
}

/// Calls the engine received (a real driver would have none of this).
#[derive(Debug, Default)]
pub struct Counters {
    /// Keys loaded into a slot.
    pub key_loads: Cell<u32>,
    /// Slots cleared.
    pub key_clears: Cell<u32>,
    /// GCM encryptions.
    pub seals: Cell<u32>,
    /// GCM decryptions (tag checks).
    pub opens: Cell<u32>,
    /// GMAC sessions started.
    pub gmac_sessions: Cell<u32>,
    /// AAD pieces fed to GMAC sessions.
    pub gmac_updates: Cell<u32>,
}

fn bump(c: &Cell<u32>) {
    c.set(c.get() + 1);
}

/// The simulation: four key slots, GCM forwarded to the software AES of the RustCrypto provider.
#[derive(Debug, Default)]
pub struct SimulatedEngine {
    slots: RefCell<[Option<RustCryptoAeadKey>; 4]>,
    /// What the engine was asked to do.
    pub calls: Counters,
}

impl AesGcmEngine for SimulatedEngine {
    type GmacSession = RustCryptoGmac;

    fn load_key(&self, key: &[u8]) -> Result<Slot, CryptoError> {
        bump(&self.calls.key_loads);
        let mut slots = self.slots.borrow_mut();
        let free = slots
            .iter()
            .position(Option::is_none)
            .ok_or(CryptoError::Other)?;
        slots[free] = Some(RustCrypto.aead_key(key)?);
        Ok(Slot(free))
    }
    fn clear_key(&self, slot: Slot) {
        bump(&self.calls.key_clears);
        // Dropping the software key schedule zeroizes it.
        self.slots.borrow_mut()[slot.0] = None;
    }
    fn seal(
        &self,
        slot: Slot,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; 16], CryptoError> {
        bump(&self.calls.seals);
        let slots = self.slots.borrow();
        slots[slot.0]
            .as_ref()
            .ok_or(CryptoError::InvalidKey)?
            .seal_in_place(iv, aad, buf)
    }
    fn open(
        &self,
        slot: Slot,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), AuthFailed> {
        bump(&self.calls.opens);
        let slots = self.slots.borrow();
        slots[slot.0]
            .as_ref()
            .ok_or(AuthFailed)?
            .open_in_place(iv, aad, buf, tag)
    }
    fn gmac_start(&self, slot: Slot, iv: &[u8; 12]) -> Result<RustCryptoGmac, CryptoError> {
        bump(&self.calls.gmac_sessions);
        let slots = self.slots.borrow();
        slots[slot.0]
            .as_ref()
            .ok_or(CryptoError::InvalidKey)?
            .gmac(iv)
    }
    fn gmac_update(&self, session: &mut RustCryptoGmac, aad: &[u8]) {
        bump(&self.calls.gmac_updates);
        session.update(aad);
    }
    fn gmac_finish(&self, session: RustCryptoGmac) -> [u8; 16] {
        session.finalize()
    }
}

// ---------------------------------------------------------------------------------------------
// The provider an integrator writes: AES-GCM on the engine, the rest in software.
// ---------------------------------------------------------------------------------------------

/// esdk-core's provider over an engine borrowed for `'e`.
#[derive(Debug)]
pub struct HwProvider<'e, E: AesGcmEngine> {
    engine: &'e E,
}

/// A key loaded in an engine slot; the slot is cleared when the key is dropped.
#[derive(Debug)]
pub struct HwKey<'e, E: AesGcmEngine> {
    engine: &'e E,
    slot: Slot,
}

impl<E: AesGcmEngine> Drop for HwKey<'_, E> {
    fn drop(&mut self) {
        self.engine.clear_key(self.slot);
    }
}

/// A GMAC session on the engine.
#[derive(Debug)]
pub struct HwGmac<'e, E: AesGcmEngine> {
    engine: &'e E,
    session: E::GmacSession,
}

impl<E: AesGcmEngine> Gmac for HwGmac<'_, E> {
    fn update(&mut self, aad: &[u8]) {
        self.engine.gmac_update(&mut self.session, aad);
    }
    fn finalize(self) -> [u8; 16] {
        self.engine.gmac_finish(self.session)
    }
}

impl<'e, E: AesGcmEngine> AeadKey for HwKey<'e, E> {
    type Gmac = HwGmac<'e, E>;
    fn seal_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
    ) -> Result<[u8; 16], CryptoError> {
        self.engine.seal(self.slot, iv, aad, buf)
    }
    fn open_in_place(
        &self,
        iv: &[u8; 12],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; 16],
    ) -> Result<(), AuthFailed> {
        self.engine.open(self.slot, iv, aad, buf, tag)
    }
    fn gmac(&self, iv: &[u8; 12]) -> Result<HwGmac<'e, E>, CryptoError> {
        Ok(HwGmac {
            engine: self.engine,
            session: self.engine.gmac_start(self.slot, iv)?,
        })
    }
}

impl<'e, E: AesGcmEngine> CryptoProvider for HwProvider<'e, E> {
    type AeadKey = HwKey<'e, E>;
    type Digest = RustCryptoDigest;

    fn aead_key(&self, key: &[u8]) -> Result<HwKey<'e, E>, CryptoError> {
        Ok(HwKey {
            engine: self.engine,
            slot: self.engine.load_key(key)?,
        })
    }
    // Everything below stays in software: forwarded to the RustCrypto provider.
    fn hkdf(
        &self,
        hash: HashAlg,
        salt: &[u8],
        ikm: &[u8],
        info: &[&[u8]],
        okm: &mut [u8],
    ) -> Result<(), CryptoError> {
        RustCrypto.hkdf(hash, salt, ikm, info, okm)
    }
    fn digest(&self, alg: SignatureAlg) -> RustCryptoDigest {
        RustCrypto.digest(alg)
    }
    fn ecdsa_generate(
        &self,
        alg: SignatureAlg,
        rng: &mut dyn CryptoRngCore,
        secret: &mut [u8],
    ) -> Result<(), CryptoError> {
        RustCrypto.ecdsa_generate(alg, rng, secret)
    }
    fn ecdsa_public_key(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        RustCrypto.ecdsa_public_key(alg, secret, out)
    }
    fn ecdsa_check_public_key(
        &self,
        alg: SignatureAlg,
        public_key: &[u8],
    ) -> Result<(), CryptoError> {
        RustCrypto.ecdsa_check_public_key(alg, public_key)
    }
    fn ecdsa_sign(
        &self,
        alg: SignatureAlg,
        secret: &[u8],
        digest: RustCryptoDigest,
        rng: &mut dyn CryptoRngCore,
        out: &mut [u8],
    ) -> Result<usize, CryptoError> {
        RustCrypto.ecdsa_sign(alg, secret, digest, rng, out)
    }
    fn ecdsa_verify(
        &self,
        alg: SignatureAlg,
        public_key: &[u8],
        digest: RustCryptoDigest,
        signature: &[u8],
    ) -> Result<(), AuthFailed> {
        RustCrypto.ecdsa_verify(alg, public_key, digest, signature)
    }
}

// ---------------------------------------------------------------------------------------------
// The state machines, unchanged, on either provider.
// ---------------------------------------------------------------------------------------------

const NAMESPACE: &str = "no-std-check";
const KEY_NAME: &[u8] = b"fixed-wrapping-key";
const WRAPPING_KEY: [u8; 32] = [0x2b; 32];
/// The no_std check's 0x0478 message, written by the default (RustCrypto) provider.
const FIXTURE_0478: &[u8] = include_bytes!("../no-std-check/src/fixture_0478_f64.bin");
const FIXTURE_PLAINTEXT: &[u8] =
    b"The quick brown fox jumps over the lazy dog, in frames of 64 bytes, \
    without std, without alloc, and without a C library; five frames are written for it.";

fn encrypt<P: CryptoProvider>(p: P, plaintext: &[u8], frame_length: u32) -> Result<Vec<u8>, Error> {
    let mut rng = rand_core::OsRng;
    let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY;
    let data_key = DataKey::generate(suite, &mut rng)?;
    let ec = esdk_core::EncryptionContextRef::parse(&[])?;
    // The data key is wrapped under the raw AES key through the same provider.
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
        .with_suite(Some(suite))
        .with_frame_length(frame_length);
    let materials = EncryptionMaterialsRef::new(suite, &data_key, &edks)
        .with_encryption_context(ec)
        .with_signing_key(None);
    let ready = Encryptor::new(p, config)?.provide(materials, &mut rng)?;
    let mut out = vec![
        0u8;
        ready.header_len()
            + plaintext.len()
            + 64 * (plaintext.len() / frame_length as usize + 2)
    ];
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

fn decrypt<P: CryptoProvider>(p: P, msg: &[u8]) -> Result<Vec<u8>, Error> {
    let mut dec = Decryptor::new(&p, DecryptConfig::default());
    let mut input = msg.to_vec();
    let (mut at, mut plaintext) = (0, Vec::new());
    loop {
        let DecryptStatus { discard, state } = dec.process(&mut input[at..], true);
        match state? {
            DecryptState::NeedMaterials(req) => {
                let ec = req.encryption_context_unverified();
                let mut key = None;
                for edk in req.encrypted_data_keys() {
                    key = key.or(esdk_core::raw_aes::unwrap(
                        &p,
                        NAMESPACE,
                        KEY_NAME,
                        &WRAPPING_KEY,
                        &ec,
                        &edk,
                    )?);
                }
                let key = key.ok_or(Error::Usage(esdk_core::error::UsageError::Aborted))?;
                let suite = req.suite();
                req.provide(&DecryptionMaterialsRef::new(suite, &key))?;
            }
            DecryptState::Plaintext(chunk) => plaintext.extend_from_slice(&chunk),
            DecryptState::Done => return Ok(plaintext),
            _ => {}
        }
        at += discard;
    }
}

/// Runs the demonstration; panics if anything differs from what is expected.
pub fn main() {
    let engine = SimulatedEngine::default();
    let hw = || HwProvider { engine: &engine };

    // 1. A message the default provider wrote decrypts on the engine.
    assert_eq!(decrypt(hw(), FIXTURE_0478).unwrap(), FIXTURE_PLAINTEXT);
    let c = &engine.calls;
    // Unwrapping the data key (1 open), the header tag (1 GMAC), 3 frames (3 opens).
    let (opens, gmacs) = (c.opens.get(), c.gmac_sessions.get());
    assert_eq!((opens, gmacs), (1 + 3, 1), "engine calls for the fixture");

    // 2. Round trip on the engine, 10 frames of 1 KiB.
    let plaintext: Vec<u8> = (0..10 * 1024u32).map(|i| (i % 253) as u8).collect();
    let msg = encrypt(hw(), &plaintext, 1024).unwrap();
    assert_eq!(decrypt(hw(), &msg).unwrap(), plaintext);
    // 3. ... and the default provider reads what the engine wrote, and the other way round.
    assert_eq!(decrypt(RustCrypto, &msg).unwrap(), plaintext);
    let soft = encrypt(RustCrypto, &plaintext, 1024).unwrap();
    assert_eq!(decrypt(hw(), &soft).unwrap(), plaintext);

    // 4. A flipped ciphertext bit fails on the engine (and releases nothing).
    let mut bad = msg.clone();
    let at = bad.len() / 2;
    bad[at] ^= 1;
    assert!(decrypt(hw(), &bad).is_err());

    // Every loaded key was cleared again (keys are dropped with the state machines).
    assert_eq!(c.key_loads.get(), c.key_clears.get(), "slots left loaded");
    assert!(engine.slots.borrow().iter().all(Option::is_none));
    println!(
        "hw engine provider: key loads {}, clears {}, GCM seals {}, opens {}, GMAC sessions {} ({} AAD updates)",
        c.key_loads.get(),
        c.key_clears.get(),
        c.seals.get(),
        c.opens.get(),
        c.gmac_sessions.get(),
        c.gmac_updates.get()
    );
}
