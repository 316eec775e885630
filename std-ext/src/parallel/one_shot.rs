//! One-shot frame-parallel decryption without copies: the regular frames are opened by the
//! workers **where they lie in the caller's message**, out of place straight into the result
//! ([`esdk_core::FrameCipher::open_regular_to`]).
//!
//! The decrypt engine still owns everything but the opening: it parses and verifies the header
//! (fed exactly the bytes it asks for), checks the order of every regular frame and feeds the
//! running digest of signed suites over the caller's bytes (`skip_sealed_frame`: the frame is
//! not copied into the engine), then takes the final frame and the footer as usual (signature,
//! end of input, trailing data). The calling thread does only that: the sequential digest is
//! pipelined with the workers, which take jobs of consecutive frames as soon as they are
//! accounted for.
//!
//! Nothing unauthenticated is released: the result lives in a zeroizing buffer and is returned
//! only when the engine reports the message complete and every job reported success; any error
//! stops the workers (queued jobs are dropped, each worker ends after its current job) and the
//! scope joins them before the call returns. The error reported is the one at the lowest
//! position among those seen (a job's, or the engine's).

use crate::error::{Error, Result};
use crate::provider::Backend;
use crate::stream::engine::{DecryptEngine, DriverAction};
use esdk_core::FrameCipher;
use esdk_core::crypto::CryptoProvider;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex};
use zeroize::Zeroizing;

type Cipher = FrameCipher<<Backend as CryptoProvider>::AeadKey>;

/// Ciphertext handed to the engine when it does not say how much it needs.
const CHUNK: usize = 64 * 1024;

/// Consecutive frames one worker opens: `count` frames from sequence number `first`, read from
/// `ct` and written to `out`.
struct Job<'a> {
    index: usize,
    first: u32,
    count: usize,
    ct: &'a [u8],
    out: &'a mut [u8],
}

#[derive(Default)]
struct Queue<'a> {
    jobs: VecDeque<Job<'a>>,
    closed: bool,
}

/// What the calling thread shares with the workers.
struct Shared<'a> {
    queue: Mutex<Queue<'a>>,
    ready: Condvar,
    stop: AtomicBool,
}

impl<'a> Shared<'a> {
    fn push(&self, job: Job<'a>) -> Result<()> {
        let mut q = self.queue.lock().map_err(|_| poisoned())?;
        q.jobs.push_back(job);
        drop(q);
        self.ready.notify_one();
        Ok(())
    }

    /// No more jobs: idle workers end (with `stop`, queued jobs are dropped too).
    fn close(&self, stop: bool) {
        if stop {
            self.stop.store(true, Ordering::Relaxed);
        }
        if let Ok(mut q) = self.queue.lock() {
            q.closed = true;
            if stop {
                q.jobs.clear();
            }
        }
        self.ready.notify_all();
    }

    /// A queued job, without waiting.
    fn try_next(&self) -> Option<Job<'a>> {
        self.queue.lock().ok()?.jobs.pop_front()
    }

    /// The next job, waiting for one; `None` when closed or stopped.
    fn next(&self) -> Option<Job<'a>> {
        let mut q = self.queue.lock().ok()?;
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return None;
            }
            if let Some(j) = q.jobs.pop_front() {
                return Some(j);
            }
            if q.closed {
                return None;
            }
            q = self.ready.wait(q).ok()?;
        }
    }
}

fn poisoned() -> Error {
    Error::Core(esdk_core::Error::Usage(
        esdk_core::error::UsageError::Poisoned,
    ))
}

fn open_job(cipher: &Cipher, job: Job<'_>) -> std::result::Result<(), esdk_core::Error> {
    let rl = cipher.regular_frame_len();
    let f = cipher.frame_length() as usize;
    let records = job.ct.chunks_exact(rl);
    let outs = job.out.chunks_exact_mut(f.max(1));
    let mut n = 0usize;
    for (i, (rec, out)) in records.zip(outs).enumerate() {
        let seq = u32::try_from(i)
            .ok()
            .and_then(|i| job.first.checked_add(i))
            .ok_or(esdk_core::Error::Truncated)?;
        cipher.open_regular_to(seq, rec, out)?;
        n += 1;
    }
    if n == job.count {
        Ok(())
    } else {
        Err(esdk_core::Error::Truncated)
    }
}

/// Frames per job: about a quarter of each worker's share of the message, between 64 KiB and
/// 1 MiB of ciphertext, so that the hand-offs are few and every worker gets several jobs.
pub(super) fn frames_per_job(message_len: usize, record_len: usize, workers: usize) -> usize {
    let bytes = (message_len / workers.max(1) / 4).clamp(64 * 1024, 1 << 20);
    (bytes / record_len.max(1)).max(1)
}

/// One-shot decryption of `ciphertext` with `workers` threads (the `Client::decrypt` path when
/// parallel).
pub(crate) async fn decrypt_one_shot(
    client: &crate::Client,
    ciphertext: &[u8],
    opts: &crate::DecryptOptions<'_, impl crate::client::Mode>,
    workers: usize,
) -> Result<crate::Decrypted> {
    let mut engine = DecryptEngine::new(
        client.decrypt_config(opts),
        opts.reproduced_encryption_context.clone(),
        usize::MAX,
        // With workers, the calling thread hashes while they open: a pipelined digest pays
        // only on one thread (measured: `examples/pipelined_bench.rs`).
        if workers > 1 {
            client.backend().base().clone()
        } else {
            client.backend()
        },
    );
    engine.set_sealed_frames(true);
    let mut fed = 0usize;
    let mut eof = false;
    // The header, fed exactly what the engine asks for (nothing of the body is copied in).
    loop {
        match engine.step()? {
            // The header verified: the body is taken where it lies.
            DriverAction::NeedInput if engine.header().is_some() => break,
            DriverAction::NeedInput => feed(&mut engine, ciphertext, &mut fed, &mut eof)?,
            DriverAction::NeedMaterials(req) => {
                let m = opts.source.decryption_materials(&req).await?;
                engine.set_materials(m);
            }
            DriverAction::Plaintext | DriverAction::Done => {
                return Err(Error::Internal("body before the header verified"));
            }
        }
    }
    let framed = engine
        .header()
        .is_some_and(|h| h.content_type == esdk_core::header::ContentType::Framed);
    // Zeroed by the allocator (fresh pages, first touched by the workers); at most the
    // ciphertext's length, which bounds the plaintext's.
    let mut out = Zeroizing::new(vec![0u8; ciphertext.len()]);
    let len = if framed {
        let cipher = engine.frame_cipher()?;
        run_body(
            &mut engine,
            &cipher,
            ciphertext,
            fed,
            eof,
            &mut out,
            workers,
        )?
    } else {
        let mut len = 0;
        finish_body(
            &mut engine,
            ciphertext,
            &mut fed,
            &mut eof,
            &mut out,
            &mut len,
        )?;
        len
    };
    let (header, encryption_context) = engine.take_header_and_context();
    let header = header.ok_or(Error::Internal("decrypt finished without a header"))?;
    let mut plaintext = std::mem::take(&mut *out);
    plaintext.truncate(len);
    Ok(crate::Decrypted {
        plaintext,
        header,
        encryption_context: encryption_context.unwrap_or_default(),
    })
}

/// Hands the engine exactly what it asks for (or a chunk), or signals the end of the input.
fn feed(engine: &mut DecryptEngine, ct: &[u8], fed: &mut usize, eof: &mut bool) -> Result<()> {
    let rest = ct.get(*fed..).unwrap_or(&[]);
    if rest.is_empty() {
        if *eof {
            return Err(esdk_core::Error::Truncated.into());
        }
        engine.set_eof();
        *eof = true;
        return Ok(());
    }
    let n = match engine.bytes_needed() {
        0 => CHUNK,
        need => need,
    }
    .min(rest.len());
    engine.push(rest.get(..n).unwrap_or(&[]))?;
    *fed += n;
    Ok(())
}

/// Runs the engine to the end over what follows `fed` (the final frame and footer, or a
/// non-framed body), copying the plaintext it releases into `out` at `len`.
fn finish_body(
    engine: &mut DecryptEngine,
    ct: &[u8],
    fed: &mut usize,
    eof: &mut bool,
    out: &mut [u8],
    len: &mut usize,
) -> Result<()> {
    loop {
        match engine.step()? {
            DriverAction::NeedInput => feed(engine, ct, fed, eof)?,
            DriverAction::Plaintext => {
                if engine.take_sealed_seq().is_some() {
                    // Regular frames were all skipped before: the engine never holds one.
                    return Err(Error::Internal("sealed frame after the regular frames"));
                }
                let p = engine.plaintext();
                let n = p.len();
                let end = len
                    .checked_add(n)
                    .ok_or(Error::Internal("result overflow"))?;
                out.get_mut(*len..end)
                    .ok_or(Error::Internal("result overflow"))?
                    .copy_from_slice(p);
                engine.consume_plaintext(n);
                *len = end;
            }
            DriverAction::Done => return Ok(()),
            DriverAction::NeedMaterials(_) => {
                return Err(Error::Internal("materials asked for twice"));
            }
        }
    }
}

/// The framed body: the calling thread accounts for each regular frame in place and queues
/// them in jobs, the workers open them into `out`, then the engine takes the final frame and
/// footer. Returns the plaintext length. With one worker (the sequential one-shot path,
/// [`crate::stream::one_shot`]) no thread is spawned: the calling thread opens each frame as
/// soon as it is accounted for. On error, `out` may hold plaintext of frames whose tag
/// verified: the caller wipes it.
pub(crate) fn run_body(
    engine: &mut DecryptEngine,
    cipher: &Cipher,
    ct: &[u8],
    mut fed: usize,
    mut eof: bool,
    out: &mut [u8],
    workers: usize,
) -> Result<usize> {
    let rl = cipher.regular_frame_len();
    let f = cipher.frame_length() as usize;
    // Sequential (one worker: the calling thread): each frame is opened as soon as it is
    // accounted for, while it is in cache, and the errors come in the message's order.
    let per_job = if workers > 1 {
        frames_per_job(ct.len(), rl, workers)
    } else {
        1
    };
    // No more threads than jobs: the bytes left bound the regular frames (none: no thread).
    let frames = ct.len().saturating_sub(fed) / rl.max(1);
    let workers = workers.min(frames.div_ceil(per_job));
    let shared = Shared {
        queue: Mutex::new(Queue::default()),
        ready: Condvar::new(),
        stop: AtomicBool::new(false),
    };
    let (tx, rx) = mpsc::channel::<(usize, std::result::Result<(), esdk_core::Error>)>();
    let mut failed_job: Option<(usize, esdk_core::Error)> = None;
    let result = std::thread::scope(|s| -> Result<usize> {
        // The calling thread is one of the workers (once the frames are queued): a spawned
        // worker the scheduler delays never leaves the call waiting with nothing to do.
        for i in 1..workers {
            let (tx, shared) = (tx.clone(), &shared);
            let spawned = std::thread::Builder::new()
                .name(format!("esdk-frames-{i}"))
                .spawn_scoped(s, move || {
                    while let Some(job) = shared.next() {
                        let index = job.index;
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            open_job(cipher, job)
                        }))
                        .unwrap_or(Err(esdk_core::Error::Usage(
                            esdk_core::error::UsageError::Poisoned,
                        )));
                        if tx.send((index, r)).is_err() {
                            return;
                        }
                    }
                });
            if let Err(e) = spawned {
                shared.close(true);
                return Err(Error::Io(e));
            }
        }
        drop(tx);
        let mut rest: &mut [u8] = out;
        let mut jobs = 0usize;
        let mut done = 0usize;
        let mut len = 0usize;
        let r = (|| -> Result<()> {
            // Regular frames, where they lie.
            let mut first = 0u32;
            let mut count = 0usize;
            let mut start = fed;
            loop {
                let rec = ct.get(fed..).unwrap_or(&[]);
                let seq = engine.skip_sealed_frame(rec)?;
                if let Some(seq) = seq {
                    if count == 0 {
                        first = seq;
                        start = fed;
                    }
                    count += 1;
                    fed += rl;
                }
                if count > 0 && (count == per_job || seq.is_none()) {
                    let (mine, tail) = std::mem::take(&mut rest)
                        .split_at_mut_checked(count * f)
                        .ok_or(Error::Internal("result overflow"))?;
                    rest = tail;
                    let job = Job {
                        index: jobs,
                        first,
                        count,
                        ct: ct.get(start..fed).ok_or(Error::Internal("job outside"))?,
                        out: mine,
                    };
                    if workers > 1 {
                        shared.push(job)?;
                    } else {
                        // No spawned worker: the calling thread opens it now.
                        if let Err(e) = open_job(cipher, job) {
                            failed_job = Some((jobs, e));
                            return Err(Error::Core(e));
                        }
                        done += 1;
                    }
                    jobs += 1;
                    len += count * f;
                    count = 0;
                    // A failed job stops everything at once.
                    while let Ok((i, r)) = rx.try_recv() {
                        done += 1;
                        if let Err(e) = r {
                            failed_job = Some((i, e));
                            return Err(Error::Core(e));
                        }
                    }
                }
                if seq.is_none() {
                    break;
                }
            }
            shared.close(false);
            // The final frame and the footer (signature, end of input, trailing data).
            let mut tail_len = 0usize;
            finish_body(engine, ct, &mut fed, &mut eof, rest, &mut tail_len)?;
            len += tail_len;
            while done < jobs {
                if let Some(job) = shared.try_next() {
                    let i = job.index;
                    if let Err(e) = open_job(cipher, job) {
                        failed_job = Some((i, e));
                        return Err(Error::Core(e));
                    }
                    done += 1;
                    continue;
                }
                let (i, r) = rx.recv().map_err(|_| poisoned())?;
                done += 1;
                if let Err(e) = r {
                    failed_job = Some((i, e));
                    return Err(Error::Core(e));
                }
            }
            Ok(())
        })();
        if r.is_err() {
            shared.close(true);
        }
        r.map(|()| len)
    });
    // The workers are joined. A job's error comes before the engine's (every queued frame lies
    // before where the engine stopped): report the failed job with the lowest index seen.
    match result {
        Ok(len) => Ok(len),
        Err(e) => {
            let first_job_error = std::iter::from_fn(|| rx.try_recv().ok())
                .filter_map(|(i, r)| r.err().map(|e| (i, e)))
                .chain(failed_job)
                .min_by_key(|(i, _)| *i);
            Err(first_job_error.map_or(e, |(_, w)| Error::Core(w)))
        }
    }
}
