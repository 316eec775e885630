//! The crate's own minimal executor: runs a future to completion on the calling thread.
//!
//! Only the synchronous APIs use it, and only with futures that never wait on an I/O reactor
//! (synchronous keyrings, materials managers built over them, and the caching materials
//! manager's single flight, which wakes through a plain `Waker`). Asynchronous keyrings cannot
//! reach it: the synchronous APIs accept only [`crate::Keyring`]s and
//! [`crate::cmm::SyncCryptographicMaterialsManager`]s.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

struct ThreadWaker(std::thread::Thread);

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `fut` on this thread, parking between wake-ups.
pub(crate) fn block_on<F: Future>(fut: F) -> F::Output {
    let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => return v,
            Poll::Pending => std::thread::park(),
        }
    }
}
