//! One-shot decryption of a message held in memory, writing each frame's plaintext straight
//! into the result.
//!
//! The decrypt engine runs in sealed-frames mode over the caller's ciphertext: it is fed
//! exactly the header bytes it asks for, parses and verifies the header (asking for materials
//! on the way). The framed body is then taken **where it lies** in the caller's message, on the
//! calling thread, by the same code as the parallel one-shot path with no worker
//! ([`crate::parallel::one_shot::run_body`]): the engine accounts for each regular frame in
//! place (order checks, the signature digest; `skip_sealed_frame`, nothing copied into it) and
//! the frame is opened out of place ([`esdk_core::FrameCipher::open_regular_to`]) straight from
//! the message into the result; the engine then takes the final frame and the footer as on
//! every other path. One pass over the bytes with the aws-lc backend: no copy of the message
//! into the engine, no in-place decryption and compaction. A non-framed body goes through the
//! engine and is copied out.
//!
//! Nothing unauthenticated is released: the result is returned only once the message is
//! complete and verified (signature included). Until then it lives in a zeroizing buffer,
//! wiped on any failure; a frame whose tag fails is wiped at once.

use crate::error::{Error, Result};
use crate::materials::{DecryptionMaterials, DecryptionRequest};
use crate::stream::engine::{DecryptEngine, DriverAction};
use zeroize::Zeroizing;

/// Ciphertext handed to the engine when it does not say how much it needs.
const CHUNK: usize = 64 * 1024;

/// What the one-shot decryption needs from its caller.
pub(crate) enum OneShotStep {
    /// Decryption materials (then call [`OneShotDecrypt::set_materials`] and run again).
    NeedMaterials(Box<DecryptionRequest>),
    /// The message is complete and verified: take the result with `into_parts`.
    Done,
}

/// A one-shot decryption in progress (see the module docs).
pub(crate) struct OneShotDecrypt<'c> {
    engine: DecryptEngine,
    ciphertext: &'c [u8],
    /// Ciphertext bytes handed to the engine so far.
    fed: usize,
    eof: bool,
    /// The result buffer: plaintext up to `len`, then zeros or the caller's earlier bytes (at
    /// the ciphertext's length, which bounds the plaintext's; see [`make_room`]).
    out: Zeroizing<Vec<u8>>,
    len: usize,
    /// The framed body was handed to [`crate::parallel::one_shot::run_body`].
    body_taken: bool,
}

impl<'c> OneShotDecrypt<'c> {
    /// A decryption into `out`'s allocation (`Client::decrypt_into`; an empty `Vec` for
    /// `Client::decrypt`): its bytes are overwritten, it grows only when shorter than the
    /// ciphertext (see [`make_room`]).
    pub(crate) fn with_output(
        mut engine: DecryptEngine,
        ciphertext: &'c [u8],
        mut out: Vec<u8>,
    ) -> Self {
        engine.set_sealed_frames(true);
        make_room(&mut out, ciphertext.len());
        Self {
            engine,
            ciphertext,
            fed: 0,
            eof: false,
            out: Zeroizing::new(out),
            len: 0,
            body_taken: false,
        }
    }

    /// Whether the message is complete and verified.
    pub(crate) fn is_done(&self) -> bool {
        self.engine.is_done()
    }

    /// After a failure: the result buffer, empty, with every byte this decryption could have
    /// written wiped, for the caller to reuse.
    pub(crate) fn into_wiped_output(mut self) -> Vec<u8> {
        let mut out = std::mem::take(&mut *self.out);
        zeroize::Zeroize::zeroize(out.as_mut_slice());
        out.clear();
        out
    }

    /// Supplies the materials asked for by [`OneShotStep::NeedMaterials`].
    pub(crate) fn set_materials(&mut self, m: DecryptionMaterials) {
        self.engine.set_materials(m);
    }

    /// Runs until the engine needs materials or the message is done.
    pub(crate) fn run(&mut self) -> Result<OneShotStep> {
        loop {
            match self.engine.step()? {
                DriverAction::NeedInput if self.framed_body_next() => {
                    // The body, where it lies: regular frames opened out of place into the
                    // result by the calling thread, then the final frame and the footer.
                    self.body_taken = true;
                    let cipher = self.engine.frame_cipher()?;
                    let room = self
                        .out
                        .get_mut(self.len..)
                        .ok_or(Error::Internal("one-shot result overflow"))?;
                    let n = crate::parallel::one_shot::run_body(
                        &mut self.engine,
                        &cipher,
                        self.ciphertext,
                        self.fed,
                        self.eof,
                        room,
                        1,
                    )?;
                    self.len += n;
                    self.fed = self.ciphertext.len();
                }
                DriverAction::NeedInput => self.feed()?,
                DriverAction::NeedMaterials(req) => return Ok(OneShotStep::NeedMaterials(req)),
                DriverAction::Plaintext => self.collect()?,
                DriverAction::Done => return Ok(OneShotStep::Done),
            }
        }
    }

    /// Whether the header verified, the body is framed and none of it was taken yet.
    fn framed_body_next(&self) -> bool {
        !self.body_taken
            && self
                .engine
                .header()
                .is_some_and(|h| h.content_type == esdk_core::header::ContentType::Framed)
    }

    /// Hands the engine the next chunk of ciphertext, or signals the end of it.
    fn feed(&mut self) -> Result<()> {
        let rest = self.ciphertext.get(self.fed..).unwrap_or(&[]);
        if rest.is_empty() {
            if self.eof {
                return Err(esdk_core::Error::Truncated.into());
            }
            self.engine.set_eof();
            self.eof = true;
            return Ok(());
        }
        // Exactly what the engine asks for: it consumes all of it, so its buffer never holds
        // a partial frame that would have to be moved down before the next push.
        let n = match self.engine.bytes_needed() {
            0 => CHUNK,
            need => need,
        }
        .min(rest.len());
        let (chunk, _) = rest.split_at(n);
        self.engine.push(chunk)?;
        self.fed += n;
        Ok(())
    }

    /// Copies the plaintext the engine decrypted itself (a non-framed body) into the result
    /// and wipes it from the engine.
    fn collect(&mut self) -> Result<()> {
        if self.engine.take_sealed_seq().is_some() {
            // A framed body is taken where it lies: the engine never holds a sealed frame.
            return Err(Error::Internal("sealed frame outside the framed body"));
        }
        let room = self
            .out
            .get_mut(self.len..)
            .ok_or(Error::Internal("one-shot result overflow"))?;
        let p = self.engine.plaintext();
        let n = p.len();
        room.get_mut(..n)
            .ok_or(Error::Internal("one-shot result overflow"))?
            .copy_from_slice(p);
        self.engine.consume_plaintext(n);
        self.len += n;
        Ok(())
    }

    /// The verified plaintext (after [`OneShotStep::Done`]) and the engine, for the header and
    /// the encryption context.
    ///
    /// # Errors
    /// [`Error::Internal`] before the message is done (nothing is released then).
    pub(crate) fn into_parts(mut self) -> Result<(Vec<u8>, DecryptEngine)> {
        if !self.engine.is_done() {
            return Err(Error::Internal(
                "one-shot result taken before the message verified",
            ));
        }
        let mut out = std::mem::take(&mut *self.out);
        // The room after the plaintext holds zeros or a reused buffer's earlier bytes (never
        // plaintext of this message); wiped anyway, it is at most the framing overhead.
        if let Some(tail) = out.get_mut(self.len..) {
            zeroize::Zeroize::zeroize(tail);
        }
        out.truncate(self.len);
        Ok((out, self.engine))
    }
}

/// Makes `buf` exactly `n` bytes long, for a one-shot result written into it: its initialized
/// bytes are reused as they are (the writer overwrites them; no zero-fill pass over a buffer
/// reused across messages), a longer one is cut to `n` (what lies beyond stays in its spare
/// capacity, untouched), a shorter one is zero-extended within its capacity, and one whose
/// capacity is short is replaced by a fresh zeroed allocation (fresh pages from the allocator
/// for large sizes, no pass of ours), the old allocation wiped first: no earlier plaintext it
/// held is left in freed memory, where its owner could no longer wipe it.
pub(crate) fn make_room(buf: &mut Vec<u8>, n: usize) {
    if buf.len() >= n {
        buf.truncate(n);
        return;
    }
    if buf.capacity() >= n {
        buf.resize(n, 0);
        return;
    }
    zeroize::Zeroize::zeroize(buf);
    *buf = vec![0u8; n];
}
