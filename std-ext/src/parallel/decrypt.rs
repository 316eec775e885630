//! The frame-parallel decrypt driver over the decrypt engine in sealed-frames mode.

use super::pool::Pool;
use super::{Batch, direct_batch_bytes, frames_per_batch, recycle_unwiped};
use crate::error::{Error, Result};
use crate::provider::Backend;
use crate::stream::engine::{DecryptEngine, DriverAction};
use esdk_core::FrameCipher;
use esdk_core::body::{REGULAR_FRAME_CONTENT_OFFSET, REGULAR_FRAME_OVERHEAD};
use esdk_core::crypto::CryptoProvider;
use std::collections::BTreeMap;
use std::sync::Arc;

type Cipher = FrameCipher<<Backend as CryptoProvider>::AeadKey>;

fn open_batch(cipher: &Cipher, mut b: Batch) -> Batch {
    for i in 0..b.count {
        let seq = b.seq(i);
        let r = match b.record_mut(i) {
            Some(rec) => cipher.open_regular(seq, rec).map(|_| ()),
            None => Err(esdk_core::Error::Truncated),
        };
        if let Err(e) = r {
            b.err = Some(e);
            return b;
        }
        b.ok = i + 1;
    }
    b
}

/// Drives a [`DecryptEngine`] with its regular frames opened on worker threads. The interface
/// mirrors the engine's: `step`, then `plaintext` / `consume_plaintext` in order.
pub(crate) struct ParallelDecrypt {
    pub(crate) engine: DecryptEngine,
    workers: usize,
    pool: Option<Pool<Batch, Batch>>,
    filling: Option<Batch>,
    in_flight: usize,
    finished: BTreeMap<u32, Batch>,
    next_release: u32,
    /// The batch being released: frame index and offset within its plaintext.
    out: Option<(Batch, usize, usize)>,
    free: Vec<Vec<u8>>,
    failed: Option<esdk_core::Error>,
    frame_len: usize,
    /// Bytes held by batches the workers hold, and the most ever held in all buffers.
    in_flight_bytes: usize,
    peak: usize,
    /// The engine's own plaintext (final frame, non-framed body) may be released: every
    /// frame before it was.
    engine_release: bool,
    /// The batch being filled is read straight from the source (`direct_spare`), not copied
    /// out of the engine; `partial` bytes of its next record have arrived.
    filling_direct: bool,
    partial: usize,
    /// The direct reads ended (a record that is not a regular frame, or the end of input):
    /// the engine takes the rest of the message.
    direct_done: bool,
    /// Direct reads are used (decrypting readers, `read_directly`); writers push into the
    /// engine.
    direct_allowed: bool,
}

impl std::fmt::Debug for ParallelDecrypt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelDecrypt")
            .field("engine", &self.engine)
            .field("workers", &self.workers)
            .field("in_flight", &self.in_flight)
            .finish()
    }
}

impl ParallelDecrypt {
    /// A driver with `workers` threads; with 1 (or 0) it is the engine itself: every call
    /// goes straight to the sequential engine, no thread is ever started.
    pub(crate) fn new(mut engine: DecryptEngine, workers: usize) -> Self {
        let workers = workers.max(1);
        engine.set_sealed_frames(workers > 1);
        Self {
            engine,
            workers,
            pool: None,
            filling: None,
            in_flight: 0,
            finished: BTreeMap::new(),
            next_release: 1,
            out: None,
            free: Vec::new(),
            failed: None,
            frame_len: 0,
            in_flight_bytes: 0,
            peak: 0,
            // Sequential: the engine's plaintext is the only plaintext.
            engine_release: workers == 1,
            filling_direct: false,
            partial: 0,
            direct_done: false,
            direct_allowed: false,
        }
    }

    /// Whether frames are opened by the calling thread only (parallelism 1).
    fn sequential(&self) -> bool {
        self.workers == 1
    }

    /// Worker threads running (0 before the first regular frame).
    pub(crate) fn running_workers(&self) -> usize {
        self.pool.as_ref().map_or(0, Pool::workers)
    }

    fn fail(&mut self, e: Error) -> Error {
        let core = e.core().copied().unwrap_or(esdk_core::Error::Usage(
            esdk_core::error::UsageError::Poisoned,
        ));
        self.failed = Some(core);
        // Stop the workers now; nothing more is released.
        self.pool = None;
        self.filling = None;
        self.filling_direct = false;
        self.partial = 0;
        self.finished.clear();
        self.out = None;
        e
    }

    /// The plaintext ready for release.
    pub(crate) fn plaintext(&self) -> &[u8] {
        if let Some((b, i, pos)) = &self.out {
            return b
                .record(*i)
                .and_then(|r| {
                    r.get(
                        REGULAR_FRAME_CONTENT_OFFSET + pos
                            ..REGULAR_FRAME_CONTENT_OFFSET + self.frame_len,
                    )
                })
                .unwrap_or(&[]);
        }
        if self.engine_release {
            self.engine.plaintext()
        } else {
            &[]
        }
    }

    /// Marks `n` bytes of [`ParallelDecrypt::plaintext`] as released.
    pub(crate) fn consume_plaintext(&mut self, n: usize) {
        match &mut self.out {
            Some((_, _, pos)) => *pos += n,
            None if self.engine_release => self.engine.consume_plaintext(n),
            None => {}
        }
    }

    /// Copies available plaintext into `out`: in parallel mode, after a `Plaintext` step, the
    /// frames of finished batches in order while `out` has room (never waiting for a worker or
    /// input), so a read is not cut at each small frame. A batch failing after some frames
    /// were copied ends this call with those bytes; the error (sticky) comes with the next.
    pub(crate) fn read(&mut self, out: &mut [u8]) -> usize {
        if self.sequential() {
            return self.engine.read(out);
        }
        let mut n = 0;
        loop {
            let room = out.get_mut(n..).unwrap_or(&mut []);
            let avail = self.plaintext();
            let k = avail.len().min(room.len());
            room[..k].copy_from_slice(&avail[..k]);
            self.consume_plaintext(k);
            n += k;
            if n == out.len() || self.out.is_none() {
                return n;
            }
            let more = self.drain_ready().and_then(|()| self.advance_out());
            match more {
                Ok(true) => {}
                Ok(false) => return n,
                Err(e) => {
                    self.fail(e);
                    return n;
                }
            }
        }
    }

    /// Bytes held now in every buffer: the engine's input buffer, batches being filled, in
    /// flight, finished, being released, and spare.
    fn held(&self) -> usize {
        self.engine.buffer_capacity()
            + self.in_flight_bytes
            + self.filling.as_ref().map_or(0, |b| b.buf.capacity())
            + self.out.as_ref().map_or(0, |o| o.0.buf.capacity())
            + self
                .finished
                .values()
                .map(|b| b.buf.capacity())
                .sum::<usize>()
            + self.free.iter().map(Vec::capacity).sum::<usize>()
    }

    /// The most bytes ever held in buffers ([`ParallelDecrypt::held`]); sequentially, the
    /// engine's input buffer.
    pub(crate) fn peak_buffered(&self) -> usize {
        if self.sequential() {
            return self.engine.buffer_capacity() + self.engine.staging_capacity();
        }
        self.peak
    }

    fn submit_filling(&mut self) -> Result<()> {
        self.peak = self.peak.max(self.held());
        if self.partial != 0 {
            // Only `stall` submits a direct batch with part of a record (carried over).
            return Err(Error::Internal("batch submitted with a partial record"));
        }
        self.filling_direct = false;
        if let Some(b) = self.filling.take_if(|b| b.count == 0) {
            // A direct batch no frame reached: nothing to open.
            recycle_unwiped(&mut self.free, b, self.workers + 2);
        }
        if let Some(b) = self.filling.take() {
            self.in_flight_bytes += b.buf.capacity();
            let pool = self.pool.as_mut().ok_or_else(pool_gone)?;
            if !pool.submit(b) {
                return Err(pool_gone());
            }
            self.in_flight += 1;
        }
        Ok(())
    }

    fn wait_one(&mut self) -> Result<()> {
        if self.in_flight == 0 {
            // Nothing can arrive: waiting would never end.
            return Err(pool_gone());
        }
        let b = self
            .pool
            .as_ref()
            .and_then(Pool::recv)
            .ok_or_else(pool_gone)?;
        self.in_flight -= 1;
        self.in_flight_bytes = self.in_flight_bytes.saturating_sub(b.buf.capacity());
        self.finished.insert(b.first, b);
        self.peak = self.peak.max(self.held());
        Ok(())
    }

    fn drain_ready(&mut self) -> Result<()> {
        while let Some(pool) = &self.pool {
            match pool.try_recv() {
                Ok(Some(b)) => {
                    self.in_flight -= 1;
                    self.in_flight_bytes = self.in_flight_bytes.saturating_sub(b.buf.capacity());
                    self.finished.insert(b.first, b);
                    self.peak = self.peak.max(self.held());
                }
                Ok(None) => break,
                Err(()) => return Err(pool_gone()),
            }
        }
        Ok(())
    }

    /// Starts the workers (at the first regular frame).
    fn ensure_pool(&mut self) -> Result<()> {
        if self.pool.is_none() {
            let cipher = Arc::new(self.engine.frame_cipher()?);
            self.frame_len = cipher.frame_length() as usize;
            let c = cipher.clone();
            self.pool = Some(
                Pool::new(self.workers, move |b| open_batch(&c, b), Batch::poisoned)
                    .map_err(Error::Io)?,
            );
        }
        Ok(())
    }

    /// Copies the sealed frame the engine holds into the batch being filled.
    fn take_sealed(&mut self, seq: u32) -> Result<()> {
        let record = self.engine.plaintext();
        let rl = record.len();
        self.ensure_pool()?;
        if self.filling_direct {
            self.submit_filling()?;
        }
        let record = self.engine.plaintext();
        if self.filling.is_none() {
            let buf = self.free.pop().unwrap_or_default();
            self.filling = Some(Batch::new(seq, rl, buf));
        }
        if let Some(b) = &mut self.filling {
            b.buf.extend_from_slice(record);
            b.count += 1;
        }
        self.engine.skip_held();
        if self.filling.as_ref().map_or(0, |b| b.count) >= frames_per_batch(rl) {
            self.submit_filling()?;
        }
        Ok(())
    }

    /// Moves to the next finished batch in order, or finishes the current one.
    fn advance_out(&mut self) -> Result<bool> {
        if let Some((b, i, pos)) = &mut self.out {
            if *pos < self.frame_len {
                return Ok(true);
            }
            *i += 1;
            *pos = 0;
            if *i < b.ok {
                return Ok(true);
            }
            if let Some(e) = b.err {
                return Err(Error::Core(e));
            }
            if let Some((b, _, _)) = self.out.take() {
                // Overwritten by the next batch's ciphertext, wiped on drop.
                recycle_unwiped(&mut self.free, b, self.workers + 2);
            }
        }
        if let Some(b) = self.finished.remove(&self.next_release) {
            self.next_release = b.next_seq();
            if b.ok == 0 {
                return Err(Error::Core(b.err.unwrap_or(esdk_core::Error::Usage(
                    esdk_core::error::UsageError::Poisoned,
                ))));
            }
            self.out = Some((b, 0, 0));
            return Ok(true);
        }
        Ok(false)
    }

    /// Runs until plaintext is ready in order, or the engine needs something.
    pub(crate) fn step(&mut self) -> Result<DriverAction> {
        if self.sequential() {
            return self.engine.step();
        }
        if let Some(e) = self.failed {
            return Err(Error::Core(e));
        }
        match self.step_inner(true) {
            Ok(Some(s)) => Ok(s),
            Ok(None) => Err(self.fail(pool_gone())),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// As [`ParallelDecrypt::step`] without ever blocking: `None` when it would wait for the
    /// workers (then call [`ParallelDecrypt::poll_ready`]).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the tokio adapters
    pub(crate) fn try_step(&mut self) -> Result<Option<DriverAction>> {
        if self.sequential() {
            return self.engine.step().map(Some);
        }
        if let Some(e) = self.failed {
            return Err(Error::Core(e));
        }
        self.step_inner(false).map_err(|e| self.fail(e))
    }

    fn step_inner(&mut self, block: bool) -> Result<Option<DriverAction>> {
        loop {
            if self.advance_out()? {
                return Ok(Some(DriverAction::Plaintext));
            }
            if self.engine.is_done() {
                // The message verified (an empty final frame releases nothing): what is in
                // flight goes out first.
                self.submit_filling()?;
                if self.in_flight == 0 && self.finished.is_empty() {
                    return Ok(Some(DriverAction::Done));
                }
                if self.in_flight > 0 {
                    if !block {
                        return Ok(None);
                    }
                    self.wait_one()?;
                    continue;
                }
                return Err(pool_gone());
            }
            if !self.engine.plaintext().is_empty() {
                // The engine holds the final frame (or a non-framed body): released only
                // after every regular frame before it.
                self.submit_filling()?;
                if self.in_flight == 0 && self.finished.is_empty() {
                    self.engine_release = true;
                    return Ok(Some(DriverAction::Plaintext));
                }
                if self.in_flight > 0 {
                    if !block {
                        return Ok(None);
                    }
                    self.wait_one()?;
                    continue;
                }
                // Finished batches out of order with none in flight: a gap, which cannot be.
                return Err(pool_gone());
            }
            if self.in_flight + self.finished.len() >= self.workers {
                if !block {
                    return Ok(None);
                }
                self.wait_one()?;
                continue;
            }
            if self.direct_ready() {
                // The next regular frames are read straight into the batch being filled
                // (`direct_spare`); it goes to a worker when full (or on `stall`).
                self.drain_ready()?;
                if self.finished.contains_key(&self.next_release) {
                    continue;
                }
                return Ok(Some(DriverAction::NeedInput));
            }
            match self.engine.step()? {
                DriverAction::Plaintext => {
                    if let Some(seq) = self.engine.take_sealed_seq() {
                        self.take_sealed(seq)?;
                    }
                }
                DriverAction::NeedInput => {
                    self.submit_filling()?;
                    self.drain_ready()?;
                    if self.finished.contains_key(&self.next_release) {
                        continue;
                    }
                    return Ok(Some(DriverAction::NeedInput));
                }
                DriverAction::NeedMaterials(r) => return Ok(Some(DriverAction::NeedMaterials(r))),
                // Released by the check at the top, after what is in flight.
                DriverAction::Done => {}
            }
        }
    }

    /// Registers the waker of an async owner and reports whether a batch finished.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the tokio adapters
    pub(crate) fn poll_ready(&mut self, w: &std::task::Waker) -> Result<bool> {
        if !self.filling_direct {
            // (A direct batch goes when full, or by `stall`.)
            self.submit_filling()?;
        }
        if let Some(p) = &self.pool {
            p.set_waker(w);
        }
        let before = self.finished.len();
        self.drain_ready().map_err(|e| self.fail(e))?;
        Ok(self.finished.len() > before || self.in_flight == 0)
    }
}

impl ParallelDecrypt {
    /// Whether the next bytes of the source are regular frames to read straight into a batch:
    /// parallel mode, a framed body after the verified header, and nothing buffered in the
    /// engine (the bytes read with the header go through the engine first).
    fn direct_ready(&self) -> bool {
        self.direct_allowed
            && !self.sequential()
            && !self.direct_done
            // (Set once the final frame is being released: the body is over.)
            && !self.engine_release
            && self.failed.is_none()
            && (self.filling.is_none() || self.filling_direct)
            && self.engine.header().is_some_and(|h| {
                h.content_type == esdk_core::ContentType::Framed && h.frame_length > 0
            })
            && self.engine.buffered() == 0
            && self.engine.plaintext().is_empty()
            && !self.engine.is_done()
    }

    /// A decrypting reader: in parallel mode, after the header, regular frames are read from
    /// the source straight into batches ([`ParallelDecrypt::direct_spare`]).
    pub(crate) fn read_directly(&mut self) {
        self.direct_allowed = true;
    }

    fn record_len(&self) -> usize {
        self.frame_len.saturating_add(REGULAR_FRAME_OVERHEAD)
    }

    /// Regular frames per direct batch.
    fn direct_per_batch(&self) -> usize {
        (direct_batch_bytes(self.workers) / self.record_len().max(1)).max(1)
    }

    /// After `NeedInput`: where to read the next source bytes straight into a batch (the rest
    /// of the next record), or `None` when they go to the engine (`DecryptEngine::spare`).
    /// Report what was read with [`ParallelDecrypt::direct_commit`].
    pub(crate) fn direct_spare(&mut self) -> Result<Option<&mut [u8]>> {
        if !self.direct_ready() {
            return Ok(None);
        }
        self.ensure_pool().map_err(|e| self.fail(e))?;
        let rl = self.record_len();
        if self.filling.is_none() {
            let len = self.direct_per_batch() * rl;
            let buf = self.free.pop().unwrap_or_default();
            self.filling = Some(Batch::with_len(0, rl, buf, len));
            self.filling_direct = true;
            self.peak = self.peak.max(self.held());
        }
        let partial = self.partial;
        Ok(self.filling.as_mut().and_then(|b| {
            let start = b.count * rl;
            b.buf.get_mut(start + partial..start + rl)
        }))
    }

    /// `n` bytes were read into [`ParallelDecrypt::direct_spare`] (0: end of input). A
    /// completed record is accounted by the engine (`skip_sealed_frame`: order, running
    /// digest) and joins the batch; a record that is not a regular frame (the final frame)
    /// and whatever arrived at the end of input go to the engine, which takes the rest.
    pub(crate) fn direct_commit(&mut self, n: usize) -> Result<()> {
        self.direct_commit_inner(n).map_err(|e| self.fail(e))
    }

    fn direct_commit_inner(&mut self, n: usize) -> Result<()> {
        let rl = self.record_len();
        let per = self.direct_per_batch();
        let Some(b) = self.filling.as_mut().filter(|_| self.filling_direct) else {
            return Err(Error::Internal("direct read without a batch"));
        };
        let start = b.count * rl;
        if n == 0 {
            let part = b
                .buf
                .get(start..start + self.partial)
                .ok_or(Error::Internal("direct record out of range"))?;
            self.engine.push(part)?;
            self.partial = 0;
            self.engine.set_eof();
            self.direct_done = true;
            return Ok(());
        }
        self.partial = self.partial.saturating_add(n).min(rl);
        if self.partial < rl {
            return Ok(());
        }
        let rec = b
            .buf
            .get(start..start + rl)
            .ok_or(Error::Internal("direct record out of range"))?;
        self.partial = 0;
        match self.engine.skip_sealed_frame(rec)? {
            Some(seq) => {
                if b.count == 0 {
                    b.first = seq;
                } else if seq != b.next_seq() {
                    return Err(Error::Internal("direct frames out of order"));
                }
                b.count += 1;
                if b.count >= per {
                    self.submit_filling()?;
                }
            }
            None => {
                self.engine.push(rec)?;
                self.direct_done = true;
            }
        }
        Ok(())
    }

    /// The source has nothing more for now (`WouldBlock`, `Pending`): the complete frames of
    /// the direct batch go to a worker now rather than when the batch is full (the part of a
    /// record already read is carried into a new batch).
    pub(crate) fn stall(&mut self) -> Result<()> {
        self.stall_inner().map_err(|e| self.fail(e))
    }

    fn stall_inner(&mut self) -> Result<()> {
        if !self.filling_direct || self.filling.as_ref().is_none_or(|b| b.count == 0) {
            return Ok(());
        }
        let rl = self.record_len();
        let len = self.direct_per_batch() * rl;
        let partial = std::mem::take(&mut self.partial);
        let mut next = Batch::with_len(0, rl, self.free.pop().unwrap_or_default(), len);
        if let (Some(b), Some(dst)) = (self.filling.as_ref(), next.buf.get_mut(..partial)) {
            let start = b.count * rl;
            let src = b
                .buf
                .get(start..start + partial)
                .ok_or(Error::Internal("direct record out of range"))?;
            dst.copy_from_slice(src);
        }
        self.submit_filling()?;
        self.filling = Some(next);
        self.filling_direct = true;
        self.partial = partial;
        self.peak = self.peak.max(self.held());
        Ok(())
    }

    /// Waits for one batch in flight, if any (blocking owners after `stall`): whether one came.
    pub(crate) fn wait_any(&mut self) -> Result<bool> {
        if self.in_flight == 0 {
            return Ok(false);
        }
        self.wait_one().map_err(|e| self.fail(e))?;
        Ok(true)
    }

    /// Batches the workers hold.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the tokio adapters
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }
}

impl Drop for ParallelDecrypt {
    fn drop(&mut self) {
        // Spare buffers may hold released plaintext (`recycle_unwiped`).
        for b in &mut self.free {
            zeroize::Zeroize::zeroize(b);
        }
    }
}

fn pool_gone() -> Error {
    Error::Core(esdk_core::Error::Usage(
        esdk_core::error::UsageError::Poisoned,
    ))
}

/// One-shot decryption (frames opened where they lie in the caller's message).
pub(crate) use super::one_shot::decrypt_one_shot;
