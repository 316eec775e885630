//! Frame-parallel encryption and decryption.
//!
//! Frames are independent given the message's key and sequence number, so the regular frames
//! of a message are sealed or opened on a small pool of worker threads
//! ([`esdk_core::FrameCipher`]), while the state machine on the calling thread keeps the order,
//! the running digest of signed suites (pipelined: it hashes frame `k + 1` while workers work
//! on frame `k`), the final frame and the footer.
//!
//! Release rules are those of the sequential path: plaintext leaves in order, each frame only
//! after its tag verified, the final frame of a signed message only after the signature, and
//! the last bytes only after the end of input with no trailing data. Memory stays bounded:
//! at most `workers` batches in flight plus the one being released and one frame of input,
//! where a batch is one frame, or several consecutive frames totalling about 64 KiB when
//! frames are small (so that small frames do not pay a thread hand-off each).
//!
//! A parallel decrypting reader (std::io or tokio) reads the regular frames that follow the
//! header straight from its source into the batch being filled (no copy through the engine's
//! input buffer); the engine accounts each one where it lies
//! (`DecryptEngine::skip_sealed_frame`: order, running digest) on the calling thread, the
//! workers open the batch in place, and the reader copies the plaintext out in order. The
//! first record that is not a regular frame (the final frame), the footer and the end of
//! input go through the engine as before. When the source would block (`WouldBlock`,
//! `Pending`), the complete frames read so far go to a worker at once. Released batch
//! buffers are reused without a wipe pass (the next batch overwrites them with ciphertext;
//! wiped when dropped, like the engine's staging frame).
//!
//! Parallelism is a setting, not a type: [`crate::EncryptOptions::parallelism`] and
//! [`crate::DecryptOptions::parallelism`] apply to the one-shot calls and to every stream
//! adapter of [`crate::stream::io`] and [`crate::stream::tokio`] built with those options.
//! With 1 the adapters run the sequential engine itself and start no thread. The default is
//! adaptive ([`PARALLEL_MIN_BYTES`]): one-shot calls on messages of at least 16 MiB use the
//! available cores (at most [`MAX_DEFAULT_WORKERS`]); smaller messages and the stream adapters
//! stay sequential, where the parallel path was measured not to pay.
//!
//! Threads are owned by the call or the adapter, never shared or global: a pool starts at the
//! first regular frame and its threads are joined when the call returns or the adapter is
//! dropped (workers skip queued jobs and end after the current one). The tokio adapters use
//! the same dedicated pool, never `spawn_blocking` and never a blocking wait on a runtime
//! thread: when every worker is busy they return `Pending`, and the worker that finishes a
//! batch wakes the task.

pub(crate) mod decrypt;
pub(crate) mod encrypt;
pub(crate) mod one_shot;
pub(crate) mod pool;

use zeroize::{Zeroize, Zeroizing};

/// Most worker threads [`default_parallelism`] chooses.
pub const MAX_DEFAULT_WORKERS: usize = 8;

/// Target bytes of one batch of small frames.
pub(crate) const BATCH_BYTES: usize = 64 * 1024;

/// The default worker count: the available cores, at most [`MAX_DEFAULT_WORKERS`].
pub fn default_parallelism() -> usize {
    std::thread::available_parallelism()
        .map(usize::from)
        .unwrap_or(1)
        .clamp(1, MAX_DEFAULT_WORKERS)
}

/// The smallest message the default parallelism splits over threads: below it a one-shot
/// call stays sequential (starting and joining threads costs more than the frames gain).
pub const PARALLEL_MIN_BYTES: usize = 16 << 20;

/// The workers of a one-shot call (`len`: the message length) or an adapter (`len` 0: not
/// known): the explicit setting, else the adaptive default.
///
/// The default is [`default_parallelism`] (the available cores, at most
/// [`MAX_DEFAULT_WORKERS`]) for one-shot messages of at least [`PARALLEL_MIN_BYTES`], and 1
/// (exactly the sequential path) for smaller messages and for the stream adapters: on the
/// 2-core machines this project measures on, one-shot calls of 16 MiB and more gain 1.1–2.0×,
/// while the stream adapters and small messages were slower in parallel (`parallel_bench`;
/// docs/decisions/14-parallel-ranged.md): a parallel stream reader's calling thread still
/// copies every byte twice (source → batch, batch → caller), which on the machines measured
/// costs more CPU than the whole sequential reader (one copy plus AES-GCM into the
/// caller's buffer), so no number of workers makes it faster. The one-shot paths further use no more threads
/// than they have jobs of frames.
pub(crate) fn workers_for(setting: Option<usize>, len: usize) -> usize {
    match setting {
        Some(n) => n.max(1),
        None if len >= PARALLEL_MIN_BYTES => default_parallelism(),
        None => 1,
    }
}

/// Frames per batch for a serialized frame length.
pub(crate) fn frames_per_batch(record_len: usize) -> usize {
    (BATCH_BYTES / record_len.max(1)).max(1)
}

/// Keeps a finished batch's (wiped) buffer for reuse, at most `keep` spare. A new buffer is
/// allocated only when none is spare, so buffers alive plus spare never exceed the most batches
/// ever alive at once (the memory bound is unchanged), and large batches do not pay a fresh
/// allocation (page faults) each.
pub(crate) fn recycle(free: &mut Vec<Vec<u8>>, b: Batch, keep: usize) {
    let buf = b.into_buf();
    if free.len() < keep {
        free.push(buf);
    }
}

/// Keeps a released batch's buffer for reuse **without** wiping it, at its full length (the
/// decrypting readers' direct batches): the next batch overwrites it with ciphertext read
/// straight from the source, and it is wiped when dropped (as `Batch` and the engine's staging
/// frame are). Skipping the wipe saves a pass over every byte; a failed batch is wiped.
pub(crate) fn recycle_unwiped(free: &mut Vec<Vec<u8>>, mut b: Batch, keep: usize) {
    if b.err.is_some() {
        return recycle(free, b, keep);
    }
    let buf = std::mem::take(&mut b.buf);
    if free.len() < keep {
        free.push(buf);
    } else {
        drop(Zeroizing::new(buf));
    }
}

/// Target bytes of one batch read straight from a source by a decrypting reader: larger
/// batches amortize the hand-off to a worker (channel, wake-up) over more AES-GCM, within the
/// same total as `workers` batches of [`BATCH_BYTES`] at 8 workers (so at most 512 KiB of
/// batches in flight whatever the worker count, plus one frame each when frames are larger).
pub(crate) fn direct_batch_bytes(workers: usize) -> usize {
    (512 * 1024 / workers.max(1)).clamp(BATCH_BYTES, 256 * 1024)
}

/// As [`recycle`] for a batch of frames that were all sealed: the buffer holds ciphertext
/// only, so it is not wiped, and keeps its length (the next batch overwrites its records
/// without a zero-fill first; a failed or partial batch is wiped, like any other).
pub(crate) fn recycle_sealed(free: &mut Vec<Vec<u8>>, mut b: Batch, keep: usize) {
    if b.err.is_some() || b.ok != b.count {
        return recycle(free, b, keep);
    }
    let buf = std::mem::take(&mut b.buf);
    if free.len() < keep {
        free.push(buf);
    }
}

/// Consecutive regular frames handed to a worker: `count` records of `record_len` bytes from
/// sequence number `first`. After the worker: `ok` records were processed, then `err` (if any)
/// stopped it. The buffer is wiped when the batch is dropped.
pub(crate) struct Batch {
    pub(crate) first: u32,
    pub(crate) count: usize,
    pub(crate) record_len: usize,
    pub(crate) buf: Vec<u8>,
    pub(crate) ok: usize,
    pub(crate) err: Option<esdk_core::Error>,
}

impl Batch {
    pub(crate) fn new(first: u32, record_len: usize, mut buf: Vec<u8>) -> Self {
        buf.clear();
        Self {
            first,
            count: 0,
            record_len,
            buf,
            ok: 0,
            err: None,
        }
    }

    /// A batch over a reused buffer kept at (at least) `len` bytes: no wipe or zero-fill of
    /// what it already holds (it is overwritten with ciphertext before any use); a buffer
    /// shorter than `len` is grown once with zeros.
    pub(crate) fn with_len(first: u32, record_len: usize, mut buf: Vec<u8>, len: usize) -> Self {
        if buf.len() < len {
            buf.resize(len, 0);
        }
        Self {
            first,
            count: 0,
            record_len,
            buf,
            ok: 0,
            err: None,
        }
    }

    /// The batch a panicking worker reports.
    pub(crate) fn poisoned() -> Self {
        let mut b = Self::new(0, 0, Vec::new());
        b.err = Some(esdk_core::Error::Usage(
            esdk_core::error::UsageError::Poisoned,
        ));
        b
    }

    /// Sequence number of record `i` (a batch holds far fewer than 2^32 records).
    pub(crate) fn seq(&self, i: usize) -> u32 {
        self.first
            .wrapping_add(u32::try_from(i).unwrap_or(esdk_core::body::END_OF_FRAMES))
    }

    /// Sequence number of the frame after this batch.
    pub(crate) fn next_seq(&self) -> u32 {
        self.seq(self.count)
    }

    pub(crate) fn record_mut(&mut self, i: usize) -> Option<&mut [u8]> {
        let rl = self.record_len;
        self.buf.get_mut(i * rl..(i + 1) * rl)
    }

    pub(crate) fn record(&self, i: usize) -> Option<&[u8]> {
        let rl = self.record_len;
        self.buf.get(i * rl..(i + 1) * rl)
    }

    /// Takes the buffer back for reuse, wiped.
    pub(crate) fn into_buf(mut self) -> Vec<u8> {
        self.buf.zeroize();
        self.buf.clear();
        std::mem::take(&mut self.buf)
    }
}

impl Drop for Batch {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}
