//! The frame-parallel encrypt driver over the encrypt engine.

use super::pool::Pool;
use super::{Batch, frames_per_batch, recycle, recycle_sealed};
use crate::client::{Client, EncryptOptions};
use crate::error::{Error, Result};
use crate::provider::Backend;
use crate::stream::engine::EncryptEngine;
use esdk_core::FrameCipher;
use esdk_core::body::{END_OF_FRAMES, REGULAR_FRAME_CONTENT_OFFSET};
use esdk_core::crypto::CryptoProvider;
use esdk_core::error::{LimitKind, UsageError};
use std::collections::BTreeMap;
use std::sync::Arc;

type Cipher = FrameCipher<<Backend as CryptoProvider>::AeadKey>;

fn seal_batch(cipher: &Cipher, mut b: Batch) -> Batch {
    for i in 0..b.count {
        let seq = b.seq(i);
        let r = match b.record_mut(i) {
            Some(rec) => cipher.seal_regular(seq, rec),
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

/// Drives an [`EncryptEngine`] with its regular frames sealed on worker threads. The output
/// is byte-identical to the sequential engine's for the same materials and message id. With
/// one worker (or a non-framed message) every call goes straight to the engine and no thread
/// is ever started.
///
/// `push_some` / `finish_step` take `block`: blocking owners (one-shot, `std::io`) wait for
/// the workers; asynchronous owners pass `false`, get "no progress" instead of a wait, and
/// call [`ParallelEncrypt::poll_ready`] to be woken by the worker that finishes a batch.
pub(crate) struct ParallelEncrypt {
    pub(crate) engine: EncryptEngine,
    workers: usize,
    pool: Option<Pool<Batch, Batch>>,
    frame_len: usize,
    record_len: usize,
    /// Records being filled; the last one may be partial and is held back until more
    /// plaintext shows it is not the final frame.
    filling: Option<Batch>,
    partial: usize,
    next_seq: u32,
    in_flight: usize,
    finished: BTreeMap<u32, Batch>,
    next_append: u32,
    free: Vec<Vec<u8>>,
    failed: bool,
    /// Finishing began: the final frame's plaintext, split off the last record.
    tail: Option<zeroize::Zeroizing<Vec<u8>>>,
    /// Plaintext bytes taken so far.
    taken: u64,
}

impl std::fmt::Debug for ParallelEncrypt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParallelEncrypt")
            .field("engine", &self.engine)
            .field("workers", &self.workers)
            .field("in_flight", &self.in_flight)
            .finish()
    }
}

impl ParallelEncrypt {
    /// `workers` threads seal the frames; 1 (or `non_framed`) is the sequential engine.
    pub(crate) fn new(engine: EncryptEngine, workers: usize, non_framed: bool) -> Result<Self> {
        let workers = if non_framed { 1 } else { workers.max(1) };
        let (frame_len, record_len, next_seq) = match engine.frame_encryptor() {
            Some(fe) if workers > 1 => (
                fe.frame_length(),
                fe.sealed_frame_len(),
                fe.next_sequence_number(),
            ),
            _ => (engine.frame_len(), 0, 1),
        };
        Ok(Self {
            engine,
            workers,
            pool: None,
            frame_len,
            record_len,
            filling: None,
            partial: 0,
            next_seq,
            in_flight: 0,
            finished: BTreeMap::new(),
            next_append: next_seq,
            free: Vec::new(),
            failed: false,
            tail: None,
            taken: 0,
        })
    }

    fn sequential(&self) -> bool {
        self.workers == 1 || self.frame_len == 0
    }

    /// Worker threads running (0 before the first regular frame).
    pub(crate) fn running_workers(&self) -> usize {
        self.pool.as_ref().map_or(0, Pool::workers)
    }

    fn guard<T>(&mut self, r: Result<T>) -> Result<T> {
        if r.is_err() {
            self.failed = true;
            self.pool = None;
            self.filling = None;
            self.finished.clear();
        }
        r
    }

    /// Takes all of `data`, waiting for the workers when `workers` batches are in flight.
    pub(crate) fn push(&mut self, data: &[u8]) -> Result<()> {
        let mut data = data;
        while !data.is_empty() {
            let n = self.push_some(data, true)?;
            data = data.get(n..).unwrap_or(&[]);
        }
        Ok(())
    }

    /// Takes a prefix of `data` and returns its length; without `block`, stops (possibly at 0)
    /// where it would wait for a worker.
    pub(crate) fn push_some(&mut self, data: &[u8], block: bool) -> Result<usize> {
        if self.sequential() {
            // Exactly the sequential engine (its own error rules).
            return self.engine.push(data).map(|()| data.len());
        }
        if self.failed || self.tail.is_some() {
            return Err(poisoned());
        }
        // The declared plaintext length is enforced on intake, before anything is taken, as
        // the sequential engine does (not when sealed frames come back from the workers).
        let total = self.taken.saturating_add(data.len() as u64);
        if let Some(max) = self.engine.max_plaintext().filter(|&m| total > m) {
            return Err(Error::Core(esdk_core::Error::Limit(
                esdk_core::error::LimitError {
                    what: LimitKind::PlaintextLength,
                    limit: max,
                    actual: total,
                },
            )));
        }
        let r = self.push_inner(data, block);
        if let Ok(n) = r {
            self.taken = self.taken.saturating_add(n as u64);
        }
        self.guard(r)
    }

    fn saturated(&self) -> bool {
        self.in_flight + self.finished.len() >= self.workers
    }

    fn push_inner(&mut self, data: &[u8], block: bool) -> Result<usize> {
        let f = self.frame_len;
        let mut taken = 0;
        while let Some(rest) = data.get(taken..).filter(|r| !r.is_empty()) {
            let need_record = match &self.filling {
                None => true,
                Some(_) => self.partial == f,
            };
            if need_record {
                // The last record is full and more plaintext follows: it is a regular frame.
                let full = self
                    .filling
                    .as_ref()
                    .is_some_and(|b| b.count >= frames_per_batch(self.record_len));
                if full {
                    self.collect(false)?;
                    if !block && self.saturated() {
                        return Ok(taken);
                    }
                    self.submit_filling()?;
                }
                self.start_record()?;
            }
            let take = (f - self.partial).min(rest.len());
            let head = rest.get(..take).ok_or_else(poisoned)?;
            let b = self.filling.as_mut().ok_or_else(poisoned)?;
            let i = b.count - 1;
            let at = REGULAR_FRAME_CONTENT_OFFSET + self.partial;
            b.record_mut(i)
                .and_then(|r| r.get_mut(at..at + take))
                .ok_or_else(poisoned)?
                .copy_from_slice(head);
            self.partial += take;
            taken += take;
            self.collect(false)?;
        }
        Ok(taken)
    }

    fn start_record(&mut self) -> Result<()> {
        if self.next_seq == END_OF_FRAMES {
            return Err(Error::Core(esdk_core::Error::Limit(
                esdk_core::error::LimitError {
                    what: LimitKind::FrameCount,
                    limit: u64::from(END_OF_FRAMES),
                    actual: u64::from(END_OF_FRAMES),
                },
            )));
        }
        if self.filling.is_none() {
            // A reused buffer keeps its length (it holds ciphertext only, `recycle_sealed`):
            // records are overwritten, not zero-filled again first.
            let buf = self.free.pop().unwrap_or_default();
            self.filling = Some(Batch::with_len(self.next_seq, self.record_len, buf, 0));
        }
        let rl = self.record_len;
        let b = self.filling.as_mut().ok_or_else(poisoned)?;
        let end = (b.count + 1) * rl;
        if b.buf.len() < end {
            b.buf.resize(end, 0);
        }
        b.count += 1;
        self.next_seq += 1;
        self.partial = 0;
        Ok(())
    }

    /// Hands the batch being filled to a worker, waiting for one if all are busy.
    fn submit_filling(&mut self) -> Result<()> {
        let Some(b) = self.filling.take() else {
            return Ok(());
        };
        if b.count == 0 {
            recycle(&mut self.free, b, self.workers + 2);
            return Ok(());
        }
        while self.saturated() {
            self.wait_one()?;
            self.collect(false)?;
        }
        if self.pool.is_none() {
            let fe = self.engine.frame_encryptor().ok_or_else(poisoned)?;
            let cipher = Arc::new(fe.frame_cipher()?);
            self.pool = Some(
                Pool::new(
                    self.workers,
                    move |b| seal_batch(&cipher, b),
                    Batch::poisoned,
                )
                .map_err(Error::Io)?,
            );
        }
        let pool = self.pool.as_mut().ok_or_else(poisoned)?;
        if !pool.submit(b) {
            return Err(poisoned());
        }
        self.in_flight += 1;
        Ok(())
    }

    fn wait_one(&mut self) -> Result<()> {
        if self.in_flight == 0 {
            // Nothing can arrive: waiting would never end.
            return Err(poisoned());
        }
        let b = self
            .pool
            .as_ref()
            .and_then(Pool::recv)
            .ok_or_else(poisoned)?;
        self.in_flight -= 1;
        self.finished.insert(b.first, b);
        Ok(())
    }

    /// Appends finished batches to the message, in order; with `all`, waits for every batch.
    fn collect(&mut self, all: bool) -> Result<()> {
        if all {
            while self.in_flight > 0 {
                self.wait_one()?;
            }
        } else if let Some(pool) = &self.pool {
            loop {
                match pool.try_recv() {
                    Ok(Some(b)) => {
                        self.in_flight -= 1;
                        self.finished.insert(b.first, b);
                    }
                    Ok(None) => break,
                    Err(()) => return Err(poisoned()),
                }
            }
        }
        while let Some(b) = self.finished.remove(&self.next_append) {
            if let Some(e) = b.err {
                return Err(Error::Core(e));
            }
            let n = b.count;
            self.engine.push_sealed(
                b.buf.get(..n * self.record_len).unwrap_or(&[]),
                n * self.frame_len,
            )?;
            self.next_append = b.next_seq();
            recycle_sealed(&mut self.free, b, self.workers + 2);
        }
        Ok(())
    }

    /// Seals everything and writes the final frame and footer.
    pub(crate) fn finish(&mut self) -> Result<()> {
        while !self.finish_step(true)? {}
        Ok(())
    }

    /// One step of finishing; `true` once the final frame and footer are written. Without
    /// `block`, returns `false` where it would wait for a worker (resumable).
    pub(crate) fn finish_step(&mut self, block: bool) -> Result<bool> {
        if self.sequential() {
            return self.engine.finish().map(|()| true);
        }
        if self.failed {
            return Err(poisoned());
        }
        if self.engine.is_finished() {
            return Ok(true);
        }
        let r = self.finish_inner(block);
        self.guard(r)
    }

    fn finish_inner(&mut self, block: bool) -> Result<bool> {
        if self.tail.is_none() {
            // The last record (if any) is the final frame's plaintext.
            let mut tail = zeroize::Zeroizing::new(Vec::new());
            if let Some(b) = &mut self.filling {
                let i = b.count - 1;
                let at = REGULAR_FRAME_CONTENT_OFFSET;
                tail.extend_from_slice(
                    b.record(i)
                        .and_then(|r| r.get(at..at + self.partial))
                        .ok_or_else(poisoned)?,
                );
                let rl = self.record_len;
                if let Some(rest) = b.buf.get_mut(i * rl..) {
                    zeroize::Zeroize::zeroize(rest);
                }
                b.buf.truncate(i * rl);
                b.count -= 1;
            }
            self.tail = Some(tail);
        }
        self.collect(false)?;
        if self.filling.is_some() {
            if !block && self.saturated() {
                return Ok(false);
            }
            self.submit_filling()?;
        }
        if self.in_flight > 0 {
            if !block {
                return Ok(false);
            }
            self.collect(true)?;
        }
        self.pool = None;
        let tail = self.tail.take().unwrap_or_default();
        self.engine.push(&tail)?;
        self.engine.finish()?;
        Ok(true)
    }

    /// Registers the waker of an asynchronous owner with the workers and collects finished
    /// batches; `true` when progress is possible without waiting.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the tokio adapters
    pub(crate) fn poll_ready(&mut self, w: &std::task::Waker) -> Result<bool> {
        if let Some(p) = &self.pool {
            p.set_waker(w);
        }
        let before = self.in_flight;
        let r = self.collect(false);
        self.guard(r)?;
        Ok(self.in_flight < before || self.in_flight == 0)
    }

    /// The most plaintext a writer takes per call.
    pub(crate) fn write_batch(&self) -> usize {
        if self.sequential() {
            return self.engine.write_batch();
        }
        (self.record_len * self.workers * frames_per_batch(self.record_len))
            .max(self.engine.write_batch())
    }
}

fn poisoned() -> Error {
    Error::Core(esdk_core::Error::Usage(UsageError::Poisoned))
}

/// One-shot encryption with `workers` threads (the `Client::encrypt` path when parallel).
pub(crate) async fn encrypt_one_shot(
    client: &Client,
    plaintext: &[u8],
    opts: &EncryptOptions<'_, impl crate::client::Mode>,
    workers: usize,
) -> Result<crate::Encrypted> {
    let req = client.encryption_request(opts, Some(plaintext.len() as u64))?;
    let m = opts.source.encryption_materials(&req).await?;
    client.check_encryption_materials(&req, &m)?;
    let config = client.encrypt_config(opts);
    let in_place = workers > 1 && !opts.non_framed && config.frame_length > 0;
    // In place, the frames go straight into the output allocated below: the engine keeps
    // only the header, the final frame and the footer.
    let hint = if in_place {
        0
    } else {
        plaintext.len() + (plaintext.len() / config.frame_length.max(1) as usize + 1) * 40 + 1024
    };
    let mut engine = EncryptEngine::new(
        &m,
        config,
        Some(plaintext.len() as u64),
        hint,
        // The calling thread hashes while the workers seal: a pipelined digest would only add
        // a thread and a copy here (measured: `examples/pipelined_bench.rs`).
        client.backend().base().clone(),
        client.rng().clone(),
    )?;
    engine.set_empty_final_frame(opts.empty_final_frame);
    if in_place {
        return encrypt_in_place(engine, plaintext, workers, opts.empty_final_frame);
    }
    let mut pe = ParallelEncrypt::new(engine, workers, opts.non_framed)?;
    pe.push(plaintext)?;
    pe.finish()?;
    let (ciphertext, header) = pe.engine.into_output();
    Ok(crate::Encrypted { ciphertext, header })
}

/// Seals the regular frames `j * per_job ..` of `pt` into `chunk` (whole records).
fn seal_job(
    cipher: &Cipher,
    first_seq: u32,
    first_frame: usize,
    pt: &[u8],
    chunk: &mut [u8],
) -> Result<()> {
    let f = cipher.frame_length() as usize;
    let rl = cipher.regular_frame_len();
    for (i, rec) in chunk.chunks_mut(rl).enumerate() {
        let k = first_frame + i;
        let seq = u32::try_from(k)
            .ok()
            .and_then(|k| first_seq.checked_add(k))
            .ok_or_else(poisoned)?;
        let src = pt.get(k * f..(k + 1) * f).ok_or_else(poisoned)?;
        // Out of place: one pass over the bytes (no copy, then an in-place seal).
        cipher.seal_regular_to(seq, src, rec)?;
    }
    Ok(())
}

/// One-shot parallel encryption without intermediate buffers: the output is allocated once
/// (zeroed lazily by the allocator, so its pages are first touched by the workers), workers
/// seal their frames out of place from the caller's buffer straight into their records there
/// (one pass over the bytes), and the calling thread checks and hashes the sealed records in
/// order (pipelined with the workers) before the engine writes the final frame and footer.
/// Byte-identical to the sequential engine (same sealing, same order).
fn encrypt_in_place(
    mut engine: EncryptEngine,
    pt: &[u8],
    workers: usize,
    empty_final: bool,
) -> Result<crate::Encrypted> {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, Ordering};
    let fe = engine.frame_encryptor().ok_or_else(poisoned)?;
    let (f, rl, first_seq) = (
        fe.frame_length(),
        fe.sealed_frame_len(),
        fe.next_sequence_number(),
    );
    let full = pt.len() / f.max(1);
    // The last frame is the final frame (held back like the sequential engine does), unless
    // the plaintext fills whole frames and an empty final frame is asked for.
    let regular = if pt.len() % f.max(1) == 0 && full > 0 && !empty_final {
        full - 1
    } else {
        full
    };
    if u64::from(first_seq) + regular as u64 >= u64::from(END_OF_FRAMES) {
        // Too many frames: the engine reports it.
        engine.push(pt)?;
        engine.finish()?;
        return Err(poisoned());
    }
    let cipher = fe.frame_cipher()?;
    let header_len = engine.output().len();
    let body = regular.checked_mul(rl).ok_or_else(poisoned)?;
    let mut out = vec![0u8; header_len + body];
    out.get_mut(..header_len)
        .ok_or_else(poisoned)?
        .copy_from_slice(engine.output());
    engine.consume_output(header_len);
    let per_job = super::one_shot::frames_per_job(out.len(), rl, workers);
    // No more threads than jobs (none without a regular frame).
    let workers = workers.min(regular.div_ceil(per_job));
    let region = out.get_mut(header_len..).ok_or_else(poisoned)?;
    let stop = AtomicBool::new(false);
    let jobs = Mutex::new(region.chunks_mut(per_job * rl).enumerate());
    let result = std::thread::scope(|s| -> Result<()> {
        let (tx, rx) = std::sync::mpsc::channel::<(usize, Result<&mut [u8]>)>();
        // The calling thread is one of the workers (below): a spawned worker the scheduler
        // delays never leaves the call waiting with nothing to do.
        for i in 1..workers {
            let (tx, jobs, stop, cipher) = (tx.clone(), &jobs, &stop, &cipher);
            std::thread::Builder::new()
                .name(format!("esdk-frames-{i}"))
                .spawn_scoped(s, move || {
                    while !stop.load(Ordering::Relaxed) {
                        let Some((j, chunk)) = jobs.lock().ok().and_then(|mut it| it.next()) else {
                            return;
                        };
                        let r = catch_unwind(AssertUnwindSafe(|| {
                            seal_job(cipher, first_seq, j * per_job, pt, chunk)
                        }))
                        .unwrap_or_else(|_| Err(poisoned()));
                        if tx.send((j, r.map(|()| chunk))).is_err() {
                            return;
                        }
                    }
                })
                .map_err(Error::Io)?;
        }
        drop(tx);
        let mut done = BTreeMap::new();
        let mut next = 0usize;
        let total = regular.div_ceil(per_job);
        let r = (|| {
            while next < total {
                while let Ok((j, r)) = rx.try_recv() {
                    done.insert(j, r?);
                }
                if let Some(chunk) = done.remove(&next) {
                    let n = chunk.len() / rl;
                    engine.note_sealed(chunk, n * f)?;
                    next += 1;
                    continue;
                }
                // Seal a job here while the next one in order is not back.
                if let Some((j, chunk)) = jobs.lock().ok().and_then(|mut it| it.next()) {
                    seal_job(&cipher, first_seq, j * per_job, pt, chunk)?;
                    done.insert(j, chunk);
                    continue;
                }
                let (j, r) = rx.recv().map_err(|_| poisoned())?;
                done.insert(j, r?);
            }
            Ok(())
        })();
        // On failure the workers stop after their current job; the scope joins them.
        stop.store(true, Ordering::Relaxed);
        r
    });
    if let Err(e) = result {
        // Records may hold plaintext not yet sealed.
        zeroize::Zeroize::zeroize(&mut out);
        return Err(e);
    }
    engine.push(pt.get(regular * f..).unwrap_or(&[]))?;
    engine.finish()?;
    let (rest, header) = engine.into_output();
    out.extend_from_slice(&rest);
    Ok(crate::Encrypted {
        ciphertext: out,
        header,
    })
}
