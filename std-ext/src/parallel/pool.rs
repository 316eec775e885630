//! A small pool of worker threads owned by one operation (a one-shot call or an adapter): jobs
//! go round-robin to the workers, results come back on one channel in completion order. The
//! pool joins every thread when dropped, so no thread outlives its owner; dropping it while
//! jobs are queued makes each worker stop after its current job.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::thread::JoinHandle;

/// Where a worker signals a finished job to an asynchronous owner.
pub(crate) type WakerSlot = Arc<Mutex<Option<Waker>>>;

pub(crate) struct Pool<J: Send + 'static, R: Send + 'static> {
    senders: Vec<Sender<J>>,
    results: Receiver<R>,
    handles: Vec<JoinHandle<()>>,
    next: usize,
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the tokio reader
    waker: WakerSlot,
    stop: Arc<AtomicBool>,
}

impl<J: Send + 'static, R: Send + 'static> std::fmt::Debug for Pool<J, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.handles.len())
            .finish()
    }
}

impl<J: Send + 'static, R: Send + 'static> Pool<J, R> {
    /// Starts `n` workers running `work`; `poison` is what a worker sends if `work` panics.
    pub(crate) fn new<F, P>(n: usize, work: F, poison: P) -> std::io::Result<Self>
    where
        F: Fn(J) -> R + Send + Sync + 'static,
        P: Fn() -> R + Send + Sync + 'static,
    {
        let work = Arc::new(work);
        let poison = Arc::new(poison);
        let (rtx, results) = mpsc::channel::<R>();
        let waker: WakerSlot = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let mut pool = Self {
            senders: Vec::with_capacity(n),
            results,
            handles: Vec::with_capacity(n),
            next: 0,
            waker: waker.clone(),
            stop: stop.clone(),
        };
        for i in 0..n.max(1) {
            let (jtx, jrx) = mpsc::channel::<J>();
            let (work, poison, rtx, waker, stop) = (
                work.clone(),
                poison.clone(),
                rtx.clone(),
                waker.clone(),
                stop.clone(),
            );
            let h = std::thread::Builder::new()
                .name(format!("esdk-frames-{i}"))
                .spawn(move || {
                    while let Ok(job) = jrx.recv() {
                        if stop.load(Ordering::Relaxed) {
                            return;
                        }
                        let r = catch_unwind(AssertUnwindSafe(|| work(job)))
                            .unwrap_or_else(|_| poison());
                        if rtx.send(r).is_err() {
                            return;
                        }
                        if let Some(w) = waker.lock().ok().and_then(|mut w| w.take()) {
                            w.wake();
                        }
                    }
                })?;
            pool.senders.push(jtx);
            pool.handles.push(h);
        }
        Ok(pool)
    }

    /// Hands `job` to the next worker.
    pub(crate) fn submit(&mut self, job: J) -> bool {
        let i = self.next % self.senders.len().max(1);
        self.next = self.next.wrapping_add(1);
        self.senders.get(i).is_some_and(|s| s.send(job).is_ok())
    }

    /// Waits for the next finished job (`None` if every worker is gone).
    pub(crate) fn recv(&self) -> Option<R> {
        self.results.recv().ok()
    }

    /// A finished job if there is one; `Err(())` if every worker is gone.
    pub(crate) fn try_recv(&self) -> Result<Option<R>, ()> {
        match self.results.try_recv() {
            Ok(r) => Ok(Some(r)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(()),
        }
    }

    /// Registers the waker to call when a job finishes.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))] // used by the tokio reader
    pub(crate) fn set_waker(&self, w: &Waker) {
        if let Ok(mut slot) = self.waker.lock() {
            *slot = Some(w.clone());
        }
    }

    /// Number of worker threads.
    pub(crate) fn workers(&self) -> usize {
        self.handles.len()
    }
}

impl<J: Send + 'static, R: Send + 'static> Drop for Pool<J, R> {
    fn drop(&mut self) {
        // Workers skip queued jobs and end after their current one.
        self.stop.store(true, Ordering::Relaxed);
        self.senders.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}
