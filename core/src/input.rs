//! Input helpers: the one decrypt input loop.
//!
//! [`Decryptor::process`] takes the unconsumed input and returns how many bytes to discard
//! once the state is handled. Every driver needs the same bookkeeping around it: where the
//! unconsumed bytes start and end, when to apply the discard, when to move the unconsumed bytes
//! to the front to make room, and where the released plaintext lies. These helpers own it:
//!
//! * [`SliceInput`] over a caller-provided `&mut [u8]` (no allocation, `no_std`);
//! * [`VecInput`] over a growable, bounded `Vec<u8>` (feature `alloc`), which also wipes what
//!   it frees and can collect the plaintext in place for one-shot use.
//!
//! Both are driven the same way:
//!
//! ```text
//! loop {
//!     match input.process(&mut decryptor)? {
//!         NeedInput { .. } => read into input.spare()?, then input.commit(n)
//!                             (or input.set_eof() when the source is exhausted),
//!         NeedMaterials(req) => answer req,
//!         HeaderVerified(h) => look at h,
//!         Plaintext(p) => use p (it derefs to the bytes; p.range() is where they lie),
//!         Done => break,
//!     }
//! }
//! ```
//!
//! The discard of a state is applied at the next [`process`](SliceInput::process) (or when
//! room is made), so plaintext stays valid until then. Compaction moves at most as many bytes
//! as it frees (or what the decryptor needs to fit), so the total copying stays linear in the
//! bytes received, whatever the chunking.

#![deny(clippy::arithmetic_side_effects, clippy::indexing_slicing)]
#![warn(unreachable_pub, clippy::missing_errors_doc)]

use crate::crypto::CryptoProvider;
use crate::decrypt::{DecryptState, Decryptor};
use crate::error::{Error, LimitKind, UsageError};
use core::ops::Range;
use zeroize::Zeroize;

/// The bookkeeping shared by the helpers.
#[derive(Clone, Debug, Default)]
struct Window {
    /// Start of the bytes not yet discarded.
    start: usize,
    /// End of the bytes received.
    end: usize,
    /// The discard of the last state, applied before the next step or compaction.
    pending: usize,
    /// The source is exhausted.
    eof: bool,
    /// Released plaintext not yet consumed (a range of the whole buffer).
    held: Range<usize>,
    /// The input length the decryptor asked for last.
    need: usize,
    /// Bytes before this offset are collected plaintext: compaction never moves below it.
    floor: usize,
    /// Bytes moved by compaction so far (a work counter).
    moved: u64,
}

impl Window {
    fn live(&self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// Applies the pending discard (the state it belongs to was handled).
    fn apply_discard(&mut self) -> Result<(), Error> {
        let pending = core::mem::take(&mut self.pending);
        self.start = self
            .start
            .checked_add(pending)
            .filter(|s| *s <= self.end)
            .ok_or(Error::Internal("discard past the end of the input"))?;
        Ok(())
    }

    /// One step of the decryptor over the unconsumed bytes of `buf`.
    fn process<'s, P: CryptoProvider>(
        &mut self,
        buf: &'s mut [u8],
        dec: &'s mut Decryptor<P>,
    ) -> Result<DecryptState<'s, P>, Error> {
        // Unconsumed plaintext of the last state lies in the discarded bytes: it is dropped.
        self.held = 0..0;
        self.apply_discard()?;
        let start = self.start;
        let input = buf
            .get_mut(start..self.end)
            .ok_or(Error::Internal("input window outside the buffer"))?;
        let st = dec.process(input, self.eof);
        self.pending = st.discard;
        match st.state? {
            DecryptState::NeedInput { min_len } => {
                self.need = min_len;
                Ok(DecryptState::NeedInput { min_len })
            }
            DecryptState::Plaintext(p) => {
                let p = p.offset_by(start);
                self.held = p.range();
                Ok(DecryptState::Plaintext(p))
            }
            // A sealed frame (sealed-frames mode) starts the input window; it is held like
            // plaintext until the driver copied it out.
            DecryptState::SealedFrame { seq, record } => {
                self.held = start..start.saturating_add(record.len());
                Ok(DecryptState::SealedFrame { seq, record })
            }
            other => Ok(other),
        }
    }

    /// Moves the unconsumed bytes down to `floor` when that is cheap (they are no more than
    /// the bytes freed) or needed (`room` is less than the decryptor needs); never while
    /// plaintext is held. Returns whether it moved anything.
    fn compact(&mut self, buf: &mut [u8], room_wanted: usize) -> Result<bool, Error> {
        if !self.held.is_empty() {
            return Ok(false);
        }
        self.apply_discard()?;
        if self.end > buf.len() {
            return Err(Error::Internal("input window outside the buffer"));
        }
        let live = self.live();
        let freed = self.start.saturating_sub(self.floor);
        let room = buf.len().saturating_sub(self.end);
        if freed == 0 || (live > freed && room >= room_wanted) {
            return Ok(false);
        }
        buf.copy_within(self.start..self.end, self.floor);
        self.moved = self.moved.saturating_add(live as u64);
        self.start = self.floor;
        self.end = self
            .floor
            .checked_add(live)
            .ok_or(Error::Internal("input window overflow"))?;
        Ok(true)
    }

    /// With every received byte consumed and nothing held, starts over at `floor` (moving
    /// nothing), so the next bytes land at the front: a driver that reads frame by frame then
    /// never has a partial frame at the end of the buffer to move down.
    #[cfg(feature = "alloc")]
    fn restart_if_empty(&mut self) -> Result<(), Error> {
        if !self.held.is_empty() || self.live() != self.pending {
            return Ok(());
        }
        self.apply_discard()?;
        self.start = self.floor;
        self.end = self.floor;
        Ok(())
    }

    /// The room the decryptor needs after `end` to make progress (at least one byte).
    fn room_needed(&self) -> usize {
        self.need
            .saturating_sub(self.live().saturating_sub(self.pending))
            .max(1)
    }

    fn commit(&mut self, n: usize, len: usize) {
        self.end = self.end.saturating_add(n).min(len);
    }

    fn plaintext<'b>(&self, buf: &'b [u8]) -> &'b [u8] {
        buf.get(self.held.clone()).unwrap_or_default()
    }

    fn consume_plaintext(&mut self, buf: &mut [u8], n: usize) {
        let n = n.min(self.held.len());
        let end = self.held.start.saturating_add(n);
        if let Some(s) = buf.get_mut(self.held.start..end) {
            s.zeroize();
        }
        self.held.start = end;
    }

    fn refuse_after_eof(&self) -> Result<(), Error> {
        if self.eof {
            return Err(Error::Usage(UsageError::InvalidInput(
                "input added after end of input was signalled",
            )));
        }
        Ok(())
    }
}

fn capacity_error(limit: usize, needed: usize) -> Error {
    Error::limit(LimitKind::InputBuffer, limit as u64, needed as u64)
}

/// The decrypt input loop over a caller-provided buffer, without allocation.
///
/// The buffer bounds the largest frame (and, for signed messages, the final frame with the
/// footer) that can be decrypted: when the decryptor needs more than fits,
/// [`spare`](Self::spare) fails with [`LimitKind::InputBuffer`].
#[derive(Debug)]
pub struct SliceInput<'b> {
    buf: &'b mut [u8],
    w: Window,
}

impl<'b> SliceInput<'b> {
    /// An empty input over `buf`; read into [`spare`](Self::spare).
    pub fn new(buf: &'b mut [u8]) -> Self {
        Self {
            buf,
            w: Window::default(),
        }
    }

    /// A complete message held in `message` (end of input already signalled): the message is
    /// decrypted in place.
    pub fn complete(message: &'b mut [u8]) -> Self {
        let end = message.len();
        Self {
            buf: message,
            w: Window {
                end,
                eof: true,
                ..Window::default()
            },
        }
    }

    /// Room to read input into (commit what was read with [`commit`](Self::commit)); makes
    /// room first by moving the unconsumed bytes to the front when that is cheap or needed.
    ///
    /// # Errors
    /// [`LimitKind::InputBuffer`] when the buffer cannot hold what the decryptor needs;
    /// [`UsageError::InvalidInput`] after [`set_eof`](Self::set_eof).
    pub fn spare(&mut self) -> Result<&mut [u8], Error> {
        self.w.refuse_after_eof()?;
        let wanted = self.w.room_needed();
        self.w.compact(self.buf, wanted)?;
        let room = self.buf.len().saturating_sub(self.w.end);
        if room == 0 {
            return Err(capacity_error(
                self.buf.len(),
                self.w.live().saturating_add(wanted),
            ));
        }
        self.buf
            .get_mut(self.w.end..)
            .ok_or(Error::Internal("input window outside the buffer"))
    }

    /// Keeps `n` bytes written to the start of [`spare`](Self::spare).
    pub fn commit(&mut self, n: usize) {
        self.w.commit(n, self.buf.len());
    }

    /// Copies as much of `data` as fits; returns how many bytes were taken.
    ///
    /// # Errors
    /// As [`spare`](Self::spare).
    pub fn push(&mut self, data: &[u8]) -> Result<usize, Error> {
        let room = self.spare()?;
        let n = room.len().min(data.len());
        if let (Some(dst), Some(src)) = (room.get_mut(..n), data.get(..n)) {
            dst.copy_from_slice(src);
        }
        self.commit(n);
        Ok(n)
    }

    /// Signals that no more input follows.
    pub fn set_eof(&mut self) {
        self.w.eof = true;
    }

    /// Whether end of input was signalled.
    pub fn is_eof(&self) -> bool {
        self.w.eof
    }

    /// Input bytes received and not yet discarded.
    pub fn buffered(&self) -> usize {
        self.w.live().saturating_sub(self.w.pending)
    }

    /// One step of `decryptor` over the unconsumed input (applying the last state's discard
    /// first). A returned [`Plaintext`](crate::decrypt::Plaintext)'s range is relative to the
    /// whole buffer.
    ///
    /// # Errors
    /// The decryptor's (sticky) error.
    pub fn process<'s, P: CryptoProvider>(
        &'s mut self,
        decryptor: &'s mut Decryptor<P>,
    ) -> Result<DecryptState<'s, P>, Error> {
        self.w.process(self.buf, decryptor)
    }

    /// The plaintext released by the last step and not yet consumed.
    pub fn plaintext(&self) -> &[u8] {
        self.w.plaintext(self.buf)
    }

    /// Bytes moved to the front by compaction so far: a work counter (it stays below twice
    /// the input plus the buffer size, whatever the chunking).
    pub fn bytes_moved(&self) -> u64 {
        self.w.moved
    }

    /// Marks `n` bytes of [`plaintext`](Self::plaintext) as consumed and wipes them.
    pub fn consume_plaintext(&mut self, n: usize) {
        self.w.consume_plaintext(self.buf, n);
    }
}

#[cfg(feature = "alloc")]
pub use owned::VecInput;

#[cfg(feature = "alloc")]
mod owned {
    use super::{Window, capacity_error};
    use crate::crypto::CryptoProvider;
    use crate::decrypt::{DecryptState, Decryptor};
    use crate::error::Error;
    use alloc::vec::Vec;
    use zeroize::Zeroize;

    /// The smallest allocation the buffer grows to (unless the maximum is smaller).
    const MIN_BUFFER: usize = 4096;

    /// The decrypt input loop over an owned buffer that grows up to a maximum.
    ///
    /// Every byte of the buffer is initialized: room is zeroed once, when the buffer grows
    /// (never per read). Growth doubles and compaction moves at most what it frees, so the
    /// work stays linear in the bytes received. Memory that held plaintext is wiped before it
    /// is released (on growth while plaintext is held, on consumption, on drop).
    pub struct VecInput {
        buf: Vec<u8>,
        w: Window,
        max_buffer: usize,
        zeroed: u64,
    }

    impl core::fmt::Debug for VecInput {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            f.debug_struct("VecInput")
                .field("buffered", &self.w.live())
                .field("capacity", &self.buf.len())
                .field("max_buffer", &self.max_buffer)
                .finish_non_exhaustive()
        }
    }

    impl Drop for VecInput {
        fn drop(&mut self) {
            self.buf.zeroize();
        }
    }

    impl VecInput {
        /// An empty input that never allocates more than `max_buffer` bytes (at least 1).
        pub fn new(max_buffer: usize) -> Self {
            Self {
                buf: Vec::new(),
                w: Window::default(),
                max_buffer: max_buffer.max(1),
                zeroed: 0,
            }
        }

        /// A complete message (end of input already signalled), decrypted in place in its
        /// own allocation; with [`collect_plaintext`](Self::collect_plaintext) and
        /// [`into_plaintext`](Self::into_plaintext) the plaintext ends up in that allocation.
        pub fn complete(message: Vec<u8>) -> Self {
            let end = message.len();
            Self {
                max_buffer: end.max(1),
                buf: message,
                w: Window {
                    end,
                    eof: true,
                    ..Window::default()
                },
                zeroed: 0,
            }
        }

        /// Appends `data`, growing the buffer if needed.
        ///
        /// # Errors
        /// [`LimitKind::InputBuffer`](crate::error::LimitKind::InputBuffer) when the
        /// unconsumed bytes would exceed the maximum; input after end of input.
        pub fn push(&mut self, data: &[u8]) -> Result<(), Error> {
            if data.is_empty() {
                return Ok(());
            }
            self.w.refuse_after_eof()?;
            self.w.restart_if_empty()?;
            self.make_room(data.len(), data.len())?;
            let end = self.w.end;
            let dst = end
                .checked_add(data.len())
                .and_then(|e| self.buf.get_mut(end..e))
                .ok_or(Error::Internal("no room after make_room"))?;
            dst.copy_from_slice(data);
            self.w.commit(data.len(), self.buf.len());
            Ok(())
        }

        /// Between 1 and `want` bytes of room to read into (already initialized); keep what was
        /// filled with [`commit`](Self::commit).
        ///
        /// # Errors
        /// As [`push`](Self::push).
        pub fn spare(&mut self, want: usize) -> Result<&mut [u8], Error> {
            self.w.refuse_after_eof()?;
            self.w.restart_if_empty()?;
            let want = want.max(1);
            self.make_room(1, want)?;
            let end = self.w.end;
            let room = self.buf.len().saturating_sub(end).min(want);
            end.checked_add(room)
                .and_then(|e| self.buf.get_mut(end..e))
                .ok_or(Error::Internal("no room after make_room"))
        }

        /// Keeps `n` bytes written to the start of [`spare`](Self::spare).
        pub fn commit(&mut self, n: usize) {
            self.w.commit(n, self.buf.len());
        }

        /// Signals that no more input follows.
        pub fn set_eof(&mut self) {
            self.w.eof = true;
        }

        /// Whether end of input was signalled.
        pub fn is_eof(&self) -> bool {
            self.w.eof
        }

        /// Input bytes received and not yet discarded.
        pub fn buffered(&self) -> usize {
            self.w.live().saturating_sub(self.w.pending)
        }

        /// The current allocation, never more than the maximum.
        pub fn capacity(&self) -> usize {
            self.buf.capacity()
        }

        /// The maximum allocation.
        pub fn max_buffer(&self) -> usize {
            self.max_buffer
        }

        /// Bytes zero-filled so far (each byte once, when the buffer grew): a work counter.
        pub fn bytes_zeroed(&self) -> u64 {
            self.zeroed
        }

        /// Bytes moved to the front by compaction so far: a work counter.
        pub fn bytes_moved(&self) -> u64 {
            self.w.moved
        }

        /// One step of `decryptor` over the unconsumed input (applying the last state's
        /// discard first). A returned plaintext stays readable through
        /// [`plaintext`](Self::plaintext) until consumed or until the next step.
        ///
        /// # Errors
        /// The decryptor's (sticky) error.
        pub fn process<'s, P: CryptoProvider>(
            &'s mut self,
            decryptor: &'s mut Decryptor<P>,
        ) -> Result<DecryptState<'s, P>, Error> {
            self.w.process(&mut self.buf, decryptor)
        }

        /// The plaintext released by the last step and not yet consumed.
        pub fn plaintext(&self) -> &[u8] {
            self.w.plaintext(&self.buf)
        }

        /// Marks `n` bytes of [`plaintext`](Self::plaintext) as consumed and wipes them.
        pub fn consume_plaintext(&mut self, n: usize) {
            self.w.consume_plaintext(&mut self.buf, n);
        }

        /// One-shot use: moves the released plaintext down behind the plaintext collected
        /// before, at the front of the buffer. Released plaintext always lies after that point
        /// (each plaintext byte comes from a later ciphertext byte), and what it overwrites was
        /// already consumed.
        ///
        /// # Errors
        /// [`Error::Internal`] if that ordering were ever broken.
        pub fn collect_plaintext(&mut self) -> Result<(), Error> {
            let held = core::mem::replace(&mut self.w.held, 0..0);
            if self.w.floor > held.start || held.end > self.buf.len() {
                return Err(Error::Internal(
                    "plaintext released before collected plaintext",
                ));
            }
            let len = held.len();
            self.buf.copy_within(held, self.w.floor);
            self.w.floor = self
                .w
                .floor
                .checked_add(len)
                .ok_or(Error::Internal("collected plaintext overflow"))?;
            Ok(())
        }

        /// Bytes the decryptor needs beyond those buffered (after `NeedInput`).
        pub fn bytes_needed(&self) -> usize {
            self.w.need.saturating_sub(self.buffered())
        }

        /// Sealed-frames mode: drops the held bytes (a sealed frame the driver copied out:
        /// ciphertext, nothing to wipe) without wiping them.
        pub fn skip_held(&mut self) {
            self.w.held = 0..0;
        }

        /// One-shot frame-parallel use: appends plaintext opened elsewhere (from frames the
        /// decryptor already consumed) behind the collected plaintext, in place.
        ///
        /// # Errors
        /// [`Error::Internal`] if it would overwrite unconsumed input or held bytes.
        pub fn collect_external(&mut self, data: &[u8]) -> Result<(), Error> {
            let end = self
                .w
                .floor
                .checked_add(data.len())
                .ok_or(Error::Internal("collected plaintext overflow"))?;
            let consumed = self.w.start.saturating_add(self.w.pending);
            if end > consumed || (!self.w.held.is_empty() && end > self.w.held.start) {
                return Err(Error::Internal(
                    "plaintext collected over unconsumed ciphertext",
                ));
            }
            self.buf
                .get_mut(self.w.floor..end)
                .ok_or(Error::Internal("collected plaintext outside the buffer"))?
                .copy_from_slice(data);
            self.w.floor = end;
            Ok(())
        }

        /// One-shot use: the collected plaintext, in the buffer's allocation (what follows it
        /// is wiped first).
        pub fn into_plaintext(mut self) -> Vec<u8> {
            let mut buf = core::mem::take(&mut self.buf);
            if let Some(rest) = buf.get_mut(self.w.floor..) {
                rest.zeroize();
            }
            buf.truncate(self.w.floor);
            buf
        }

        /// Makes at least `need` bytes of room after the received bytes (aiming for `want`),
        /// compacting or growing, never beyond the maximum.
        fn make_room(&mut self, need: usize, want: usize) -> Result<(), Error> {
            let room = |this: &Self| this.buf.len().saturating_sub(this.w.end);
            if room(self) >= need {
                return Ok(());
            }
            let live = self.w.live().saturating_sub(self.w.pending);
            let limit = |live: usize| capacity_error(self.max_buffer, live.saturating_add(need));
            if self.w.floor.saturating_add(live).saturating_add(need) > self.max_buffer {
                return Err(limit(live));
            }
            // Compact when cheap, or when growing would pass the maximum.
            let must = self.w.end.saturating_add(need) > self.max_buffer;
            let wanted = if must { usize::MAX } else { need };
            if self.w.compact(&mut self.buf, wanted)? && room(self) >= need {
                return Ok(());
            }
            let old = self.buf.len();
            let target = old
                .saturating_mul(2)
                .max(self.w.end.saturating_add(want))
                .max(MIN_BUFFER)
                .min(self.max_buffer);
            if target < self.w.end.saturating_add(need) {
                return Err(limit(self.w.live()));
            }
            let grow = target.saturating_sub(old);
            if self.w.held.is_empty() && self.w.floor == 0 {
                // Only ciphertext is held: let the allocator move (or extend) it in place.
                self.buf.reserve_exact(grow);
                self.buf.resize(target, 0);
            } else {
                // Plaintext is held: copy, then wipe the old allocation.
                let mut grown = Vec::with_capacity(target);
                grown.extend_from_slice(&self.buf);
                grown.resize(target, 0);
                let mut old_buf = core::mem::replace(&mut self.buf, grown);
                old_buf.zeroize();
            }
            self.zeroed = self.zeroed.saturating_add(grow as u64);
            Ok(())
        }
    }
}

#[cfg(all(test, feature = "rustcrypto"))]
mod tests {
    use super::*;

    #[test]
    fn slice_input_reports_a_full_buffer() {
        let mut buf = [0u8; 4];
        let mut input = SliceInput::new(&mut buf);
        assert_eq!(input.push(&[1, 2, 3, 4, 5]).unwrap(), 4);
        assert_eq!(input.buffered(), 4);
        let e = input.spare().unwrap_err();
        assert!(matches!(
            e,
            Error::Limit(crate::error::LimitError {
                what: LimitKind::InputBuffer,
                ..
            })
        ));
        input.set_eof();
        assert!(input.push(&[1]).is_err());
    }
}
