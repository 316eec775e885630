//! The pipelined running digest: the footer signature's hash of a large signed message runs on a
//! thread of its own, beside the AES-GCM and the copies of the thread that drives the message.
//!
//! esdk-core never hashes by itself: it feeds the message bytes (header, sealed frames,
//! footer-less body — ciphertext only, never plaintext) to the provider's
//! [`RunningDigest::update`] and hands the digest by value to the provider's ECDSA sign or
//! verify. A [`PipelinedDigest`] hashes inline until the message has fed it more than
//! [`PIPELINED_DIGEST_MIN_BYTES`]; it then moves the hash state to a helper thread and from then
//! on copies each update, in order, into recycled buffers ([`CHUNK`] bytes, at most [`CHUNKS`]
//! of them: memory stays bounded however fast the message is fed, the caller waits for a free
//! buffer when the helper is behind). Sign and verify first take the digest back: the last
//! buffer is sent, the channel closed and the helper joined. A helper that died or panicked
//! makes the signature fail (signing: [`CryptoError::Other`](esdk_core::error::CryptoError);
//! verifying: [`AuthFailed`](esdk_core::crypto::AuthFailed), so nothing is released) — never a
//! digest of other bytes. Bytes hashed, their order and the result are those of the inline
//! digest.

use super::backend::{Backend, BackendDigest};
use esdk_core::crypto::RunningDigest;
use std::sync::Mutex;
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

/// Bytes a message feeds its running digest inline before a
/// [pipelined digest](Backend::with_pipelined_digest) moves the hashing to a helper thread:
/// messages up to this size never start a thread.
pub const PIPELINED_DIGEST_MIN_BYTES: u64 = 1 << 20;

/// Size of one buffer of bytes in flight to the helper thread.
const CHUNK: usize = 256 * 1024;
/// Buffers per message at most (in flight, being hashed, or being filled): 1 MiB.
const CHUNKS: usize = 4;

/// A backend whose running digests are pipelined; built by [`Backend::with_pipelined_digest`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PipelinedBackend {
    pub(super) base: Box<Backend>,
    pub(super) threshold: u64,
    /// Test hook: the helper thread dies (unwinds, as on a panic) before hashing past this many
    /// piped bytes.
    #[cfg(test)]
    pub(super) fail_after: Option<u64>,
}

impl PipelinedBackend {
    pub(super) fn new(base: Backend) -> Self {
        Self {
            base: Box::new(base),
            threshold: PIPELINED_DIGEST_MIN_BYTES,
            #[cfg(test)]
            fail_after: None,
        }
    }

    /// The backend that does the cryptography.
    pub fn base(&self) -> &Backend {
        &self.base
    }

    pub(super) fn digest(&self, inner: BackendDigest) -> PipelinedDigest {
        PipelinedDigest {
            state: State::Inline(inner),
            fed: 0,
            threshold: self.threshold,
            #[cfg(test)]
            fail_after: self.fail_after,
            #[cfg(not(test))]
            fail_after: None,
        }
    }
}

/// A running digest that hashes on a helper thread once the message is large; see
/// [`Backend::with_pipelined_digest`].
pub struct PipelinedDigest {
    state: State,
    /// Bytes fed so far.
    fed: u64,
    threshold: u64,
    /// Test hook (see [`PipelinedBackend`]); `None` outside tests.
    fail_after: Option<u64>,
}

/// The helper thread stopped before it hashed everything (it panicked, or could not be
/// reached): the digest is lost and the signature must fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct HelperFailed;

enum State {
    /// Hashing on the caller's thread.
    Inline(BackendDigest),
    /// Hashing on the helper thread.
    Piped(Pipe),
    /// The helper failed: every later update is dropped, the finish is an error.
    Failed,
}

enum Msg {
    /// The next bytes of the message.
    Data(Vec<u8>),
    /// A copy of the state after every earlier message and these bytes, sent back.
    Snapshot(Vec<u8>, Sender<BackendDigest>),
}

struct Pipe {
    /// Filled buffers, in order. Unbounded as a channel, bounded by the buffers in existence.
    tx: Sender<Msg>,
    /// Buffers the helper has hashed, returned for reuse.
    free: Mutex<Receiver<Vec<u8>>>,
    /// Buffers allocated for this message (≤ [`CHUNKS`]).
    allocated: usize,
    /// The buffer being filled.
    cur: Vec<u8>,
    handle: JoinHandle<BackendDigest>,
}

impl Pipe {
    /// Starts the helper with `d`; `None` if no thread could be started.
    fn start(d: BackendDigest, fail_after: Option<u64>) -> Option<Self> {
        let (tx, rx) = mpsc::channel::<Msg>();
        let (back_tx, back_rx) = mpsc::channel::<Vec<u8>>();
        let spawned = std::thread::Builder::new()
            .name("esdk-digest".into())
            .spawn(move || helper(d, rx, back_tx, fail_after));
        let handle = spawned.ok()?;
        Some(Self {
            tx,
            free: Mutex::new(back_rx),
            allocated: 1,
            cur: Vec::with_capacity(CHUNK),
            handle,
        })
    }

    /// Copies `data` into buffers, sending each full one.
    fn push(&mut self, mut data: &[u8]) -> Result<(), HelperFailed> {
        while !data.is_empty() {
            if self.cur.capacity() < CHUNK {
                self.cur = self.next_buffer()?;
            }
            let room = CHUNK.saturating_sub(self.cur.len());
            let (now, rest) = data.split_at(room.min(data.len()));
            self.cur.extend_from_slice(now);
            data = rest;
            if self.cur.len() >= CHUNK {
                let full = std::mem::take(&mut self.cur);
                self.tx.send(Msg::Data(full)).map_err(|_| HelperFailed)?;
            }
        }
        Ok(())
    }

    /// A hashed buffer back from the helper, a new one while fewer than [`CHUNKS`] exist, or
    /// (the helper is behind) the next one the helper returns.
    fn next_buffer(&mut self) -> Result<Vec<u8>, HelperFailed> {
        let free = self.free.get_mut().map_err(|_| HelperFailed)?;
        let buf = match free.try_recv() {
            Ok(b) => b,
            Err(mpsc::TryRecvError::Empty) if self.allocated < CHUNKS => {
                self.allocated += 1;
                Vec::with_capacity(CHUNK)
            }
            Err(mpsc::TryRecvError::Empty) => free.recv().map_err(|_| HelperFailed)?,
            Err(mpsc::TryRecvError::Disconnected) => return Err(HelperFailed),
        };
        Ok(buf)
    }

    /// Sends the last bytes, closes the channel and takes the digest from the helper.
    fn finish(mut self) -> Result<BackendDigest, HelperFailed> {
        if !self.cur.is_empty() {
            let last = std::mem::take(&mut self.cur);
            self.tx.send(Msg::Data(last)).map_err(|_| HelperFailed)?;
        }
        drop(self.tx);
        self.handle.join().map_err(|_| HelperFailed)
    }

    /// The digest of everything fed so far, without stopping the helper.
    fn snapshot(&self) -> Result<BackendDigest, HelperFailed> {
        let (reply_tx, reply_rx) = mpsc::channel();
        self.tx
            .send(Msg::Snapshot(self.cur.clone(), reply_tx))
            .map_err(|_| HelperFailed)?;
        reply_rx.recv().map_err(|_| HelperFailed)
    }
}

/// The helper thread: hashes every buffer in order, returns it, and hands the state back when
/// the channel closes.
fn helper(
    mut d: BackendDigest,
    rx: Receiver<Msg>,
    back: Sender<Vec<u8>>,
    fail_after: Option<u64>,
) -> BackendDigest {
    // Only tests set the hook (`PipelinedBackend::fail_after`); it is always `None` otherwise.
    #[cfg(not(test))]
    let _ = fail_after;
    #[cfg(test)]
    let mut hashed = 0u64;
    for msg in rx {
        match msg {
            Msg::Data(mut buf) => {
                #[cfg(test)]
                {
                    hashed = hashed.saturating_add(buf.len() as u64);
                    if fail_after.is_some_and(|n| hashed > n) {
                        // Unwinds like a panic, without the panic hook's message in test logs.
                        std::panic::resume_unwind(Box::new("injected digest helper failure"));
                    }
                }
                d.update(&buf);
                buf.clear();
                // The producer may have finished or dropped its end: nothing to return then.
                let _ = back.send(buf);
            }
            Msg::Snapshot(pending, reply) => {
                let mut copy = d.clone();
                copy.update(&pending);
                let _ = reply.send(copy);
            }
        }
    }
    d
}

impl PipelinedDigest {
    /// The digest of every byte fed, for signing or verifying; an error if the helper failed.
    pub(super) fn finish(self) -> Result<BackendDigest, HelperFailed> {
        match self.state {
            State::Inline(d) => Ok(d),
            State::Piped(p) => p.finish(),
            State::Failed => Err(HelperFailed),
        }
    }

    /// Whether the hashing has moved to a helper thread (for tests).
    #[cfg(test)]
    pub(super) fn is_piped(&self) -> bool {
        matches!(self.state, State::Piped(_))
    }

    fn start(&mut self) {
        let State::Inline(d) = &self.state else {
            return;
        };
        // No thread to be had: keep hashing here (the same bytes, the same digest).
        if let Some(p) = Pipe::start(d.clone(), self.fail_after) {
            self.state = State::Piped(p);
        }
    }
}

impl RunningDigest for PipelinedDigest {
    fn update(&mut self, data: &[u8]) {
        self.fed = self.fed.saturating_add(data.len() as u64);
        match &mut self.state {
            State::Inline(d) => {
                d.update(data);
                if self.fed > self.threshold {
                    self.start();
                }
            }
            State::Piped(p) => {
                if p.push(data).is_err() {
                    self.state = State::Failed;
                }
            }
            State::Failed => {}
        }
    }
}

impl Clone for PipelinedDigest {
    /// A copy of the state after every byte fed so far (hashing inline from there on, until
    /// it too passes the threshold); a failed helper makes a failed copy.
    fn clone(&self) -> Self {
        let state = match &self.state {
            State::Inline(d) => State::Inline(d.clone()),
            State::Piped(p) => p.snapshot().map_or(State::Failed, State::Inline),
            State::Failed => State::Failed,
        };
        Self {
            state,
            fed: self.fed,
            threshold: self.threshold,
            fail_after: self.fail_after,
        }
    }
}

impl core::fmt::Debug for PipelinedDigest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let state = match &self.state {
            State::Inline(_) => "inline",
            State::Piped(_) => "piped",
            State::Failed => "failed",
        };
        f.debug_struct("PipelinedDigest")
            .field("state", &state)
            .field("fed", &self.fed)
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::keyring::RawAesKeyring;
    use crate::stream::io::DecryptingReader;
    use crate::{Client, DecryptOptions, EncryptOptions};
    use esdk_core::crypto::CryptoProvider;
    use esdk_core::suite::{AlgorithmSuite, SignatureAlg};
    use std::io::Read;

    const T: u64 = PIPELINED_DIGEST_MIN_BYTES;
    const ALGS: [SignatureAlg; 2] = [SignatureAlg::EcdsaP256Sha256, SignatureAlg::EcdsaP384Sha384];

    fn data(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| u8::try_from(i * 31 % 251).unwrap())
            .collect()
    }

    fn pipelined(base: &Backend, fail_after: Option<u64>) -> Backend {
        let mut p = PipelinedBackend::new(base.clone());
        p.fail_after = fail_after;
        Backend::Pipelined(p)
    }

    /// A key pair and a signature over `msg` made with the base backend's inline digest.
    fn signed(b: &Backend, alg: SignatureAlg, msg: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut rng = rand_core::OsRng;
        let mut secret = vec![0u8; alg.secret_len()];
        let mut public = vec![0u8; alg.compressed_public_key_len()];
        let n = b
            .ecdsa_generate_pair(alg, &mut rng, &mut secret, &mut public)
            .unwrap();
        public.truncate(n);
        let mut d = b.digest(alg);
        d.update(msg);
        let mut sig = vec![0u8; alg.fixed_signature_len()];
        b.ecdsa_sign(alg, &secret, d, &mut rng, &mut sig).unwrap();
        (public, sig)
    }

    /// Feeds `msg` to `d` in pieces of `step` bytes (the last one shorter).
    fn feed(d: &mut BackendDigest, msg: &[u8], step: usize) {
        for piece in msg.chunks(step.max(1)) {
            d.update(piece);
        }
    }

    fn piped(d: &BackendDigest) -> bool {
        matches!(d, BackendDigest::Pipelined(p) if p.is_piped())
    }

    #[test]
    fn the_digest_is_the_inline_one_on_both_sides_of_the_threshold() {
        let t = usize::try_from(T).unwrap();
        for base in Backend::all() {
            let pb = base.clone().with_pipelined_digest(true);
            for alg in ALGS {
                for (len, step, moves) in [
                    (0, 1, false),
                    (1, 1, false),
                    (t - 1, 4096, false),
                    (t, 4096, false),
                    (t, t, false),
                    (t + 1, 4096, true),
                    (t + 1, t + 1, true),
                    (3 * t + 12_345, 4123, true),
                    (3 * t + 12_345, 1 << 20, true),
                ] {
                    let msg = data(len);
                    let (public, sig) = signed(base, alg, &msg);
                    let mut d = pb.digest(alg);
                    feed(&mut d, &msg, step);
                    assert_eq!(piped(&d), moves, "{} {alg:?} {len}", base.name());
                    pb.ecdsa_verify(alg, &public, d, &sig)
                        .unwrap_or_else(|_| panic!("{} {alg:?} {len}/{step}", base.name()));
                    // One byte more, or one byte different, is another digest.
                    let mut d = pb.digest(alg);
                    feed(&mut d, &msg, step);
                    d.update(&[0]);
                    assert!(pb.ecdsa_verify(alg, &public, d, &sig).is_err());
                    if let Some(last) = msg.len().checked_sub(1) {
                        let mut other = msg.clone();
                        other[last] ^= 1;
                        let mut d = pb.digest(alg);
                        feed(&mut d, &other, step);
                        assert!(pb.ecdsa_verify(alg, &public, d, &sig).is_err());
                    }
                }
            }
        }
    }

    #[test]
    fn a_clone_taken_while_piped_is_the_digest_so_far() {
        let msg = data(3 << 20);
        let alg = SignatureAlg::EcdsaP384Sha384;
        for base in Backend::all() {
            let pb = base.clone().with_pipelined_digest(true);
            let (public, sig) = signed(base, alg, &msg);
            let mut d = pb.digest(alg);
            feed(&mut d, &msg[..(2 << 20) + 5], 1000);
            assert!(piped(&d));
            let mut copy = d.clone();
            assert!(!piped(&copy), "a copy starts inline");
            feed(&mut d, &msg[(2 << 20) + 5..], 777);
            feed(&mut copy, &msg[(2 << 20) + 5..], 333_333);
            pb.ecdsa_verify(alg, &public, d, &sig).unwrap();
            pb.ecdsa_verify(alg, &public, copy, &sig).unwrap();
        }
    }

    #[test]
    fn memory_stays_bounded_however_fast_bytes_come() {
        let alg = SignatureAlg::EcdsaP384Sha384;
        let pb = pipelined(&Backend::default(), None);
        let mut d = pb.digest(alg);
        let piece = data(4096 + 28);
        for _ in 0..4096 {
            d.update(&piece);
            if let BackendDigest::Pipelined(p) = &d {
                if let State::Piped(pipe) = &p.state {
                    assert!(pipe.allocated <= CHUNKS);
                    assert!(pipe.cur.capacity() <= CHUNK);
                }
            }
        }
        assert!(piped(&d));
    }

    #[test]
    fn a_failed_helper_fails_the_signature_never_the_caller() {
        let alg = SignatureAlg::EcdsaP384Sha384;
        let msg = data(3 << 20);
        for base in Backend::all() {
            let (public, sig) = signed(base, alg, &msg);
            // About 2 MiB are piped: the helper dies at its first, second, and a late buffer.
            for fail_after in [0, 1, CHUNK as u64, 1 << 20] {
                let pb = pipelined(base, Some(fail_after));
                // Verify: the right bytes and the right signature, and still no success.
                let mut d = pb.digest(alg);
                feed(&mut d, &msg, 4096);
                assert!(pb.ecdsa_verify(alg, &public, d, &sig).is_err());
                // Sign.
                let mut d = pb.digest(alg);
                feed(&mut d, &msg, 4096);
                let mut secret = vec![0u8; alg.secret_len()];
                let mut rng = rand_core::OsRng;
                pb.ecdsa_generate(alg, &mut rng, &mut secret).unwrap();
                let mut out = vec![0u8; alg.fixed_signature_len()];
                assert_eq!(
                    pb.ecdsa_sign(alg, &secret, d, &mut rng, &mut out),
                    Err(esdk_core::error::CryptoError::Other)
                );
                // A clone of a failed digest fails too.
                let mut d = pb.digest(alg);
                feed(&mut d, &msg, 4096);
                let copy = d.clone();
                assert!(pb.ecdsa_verify(alg, &public, copy, &sig).is_err());
            }
            // Below the threshold no thread starts, so the hook never fires.
            let pb = pipelined(base, Some(0));
            let small = &msg[..1000];
            let (public, sig) = signed(base, alg, small);
            let mut d = pb.digest(alg);
            d.update(small);
            pb.ecdsa_verify(alg, &public, d, &sig).unwrap();
        }
    }

    /// Through the client and the streaming reader: a helper that dies mid-message makes
    /// encryption fail and decryption fail at the signature, with the final frame unreleased.
    #[test]
    fn a_failed_helper_fails_whole_messages() {
        let keyring = RawAesKeyring::new("ns", "k", &[7u8; 32]).unwrap();
        let suite = AlgorithmSuite::AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384;
        let pt = data((3 << 20) + 100);
        for base in Backend::all() {
            let good = Client::builder().backend(base.clone()).build();
            let bad = Client::builder()
                .backend(pipelined(base, Some(CHUNK as u64 + 1)))
                .build();
            let enc = EncryptOptions::keyring(&keyring)
                .suite(suite)
                .frame_length(4096);
            let e = bad.encrypt(&pt, &enc).unwrap_err();
            assert_eq!(
                e.core(),
                Some(&esdk_core::Error::Crypto(
                    esdk_core::error::CryptoError::Other
                )),
                "{e}"
            );
            let ct = good.encrypt(&pt, &enc).unwrap().ciphertext;
            let dec = DecryptOptions::keyring(&keyring).parallelism(1);
            let e = bad.decrypt(&ct, &dec).map(|_| ()).unwrap_err();
            assert_eq!(
                e.core(),
                Some(&esdk_core::Error::Authentication(
                    esdk_core::error::AuthStage::Signature
                )),
                "{e}"
            );
            assert!(good.decrypt(&ct, &dec).unwrap().plaintext[..] == pt[..]);
            // The frame-parallel one-shot paths hash on the calling thread while workers work:
            // they run on the base backend, no helper (so the hook never fires).
            let dec = DecryptOptions::keyring(&keyring).parallelism(2);
            assert!(bad.decrypt(&ct, &dec).unwrap().plaintext[..] == pt[..]);
            let enc2 = enc.clone().parallelism(2);
            let ct2 = bad.encrypt(&pt, &enc2).unwrap().ciphertext;
            assert!(good.decrypt(&ct2, &dec).unwrap().plaintext[..] == pt[..]);
            let dec = DecryptOptions::keyring(&keyring);
            let mut r = DecryptingReader::new(&bad, &dec, &ct[..]).unwrap();
            let mut out = Vec::new();
            let e = r.read_to_end(&mut out).unwrap_err();
            assert!(e.to_string().contains("signature"), "{e}");
            // Every regular frame authenticated is released; the final one (100 bytes) never.
            assert!(out.len() <= pt.len() - 100, "{}", out.len());
            assert_eq!(out[..], pt[..out.len()]);
        }
    }

    /// RSA keys belong to the base backend: a key parsed on a pipelined backend is the base's,
    /// and a raw RSA keyring serves a pipelined client without importing its key again.
    #[cfg(feature = "aws-lc")]
    #[test]
    fn rsa_keys_are_the_base_backends() {
        use crate::keyring::RawRsaKeyring;
        use crate::{RsaPadding, RsaPrivateKey, RsaPublicKey};
        use aws_lc_rs::encoding::AsDer;
        use aws_lc_rs::signature::KeyPair;
        let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der<'_>>::as_der(&pair).unwrap();
        let spki = pair.public_key().as_der().unwrap();
        for base in Backend::all() {
            let pb = base.clone().with_pipelined_digest(true);
            let private = RsaPrivateKey::from_der_with(&pb, pkcs8.as_ref()).unwrap();
            let public = RsaPublicKey::from_der_with(&pb, spki.as_ref()).unwrap();
            assert_eq!(private.backend(), base);
            assert_eq!(public.backend(), base);
            let kr = RawRsaKeyring::new(
                "ns",
                "rsa",
                RsaPadding::OaepSha256,
                Some(public),
                Some(private),
            )
            .unwrap();
            let c = Client::builder().backend(pb.clone()).build();
            let pt = data((1 << 20) + 4096);
            let ct = c
                .encrypt(&pt, &EncryptOptions::keyring(&kr))
                .unwrap()
                .ciphertext;
            let out = c
                .decrypt(&ct, &DecryptOptions::keyring(&kr))
                .unwrap()
                .plaintext;
            assert!(out[..] == pt[..]);
        }
    }

    #[test]
    fn the_option_round_trips_and_names_the_base() {
        for base in Backend::all() {
            let p = base.clone().with_pipelined_digest(true);
            assert!(p.pipelined_digest());
            assert_eq!(p.name(), base.name());
            assert_eq!(p.base(), base);
            assert_eq!(p.clone().with_pipelined_digest(true), p);
            assert_eq!(p.with_pipelined_digest(false), *base);
            assert_eq!(base.clone().with_pipelined_digest(false), *base);
            let c = Client::builder()
                .pipelined_digest(true)
                .backend(base.clone())
                .build();
            assert_eq!(c.backend().base(), base);
            assert!(c.backend().pipelined_digest());
            let c = Client::builder()
                .backend(base.clone().with_pipelined_digest(true))
                .pipelined_digest(false)
                .build();
            assert_eq!(c.backend(), *base);
        }
    }
}
