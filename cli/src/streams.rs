//! Small `std::io` wrappers: progress counting, Base64 (streaming, whitespace-tolerant on
//! input), header capture, and outputs that only become visible on success.

use indicatif::ProgressBar;
use std::fs::File;
use std::io::{self, BufRead, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// Counts bytes read into a progress bar.
#[derive(Debug)]
pub struct Counting<R> {
    /// The inner reader.
    pub inner: R,
    /// The bar to advance.
    pub bar: ProgressBar,
    /// The total bar, if any.
    pub total: Option<ProgressBar>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        if let Some(t) = &self.total {
            t.inc(n as u64);
        }
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    /// Counts what the caller used.
    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.bar.inc(n as u64);
        if let Some(t) = &self.total {
            t.inc(n as u64);
        }
    }
}

/// Drops ASCII whitespace (line breaks in Base64 text) from a reader.
#[derive(Debug)]
pub struct SkipWhitespace<R>(pub R);

impl<R: Read> Read for SkipWhitespace<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.0.read(buf)?;
            if n == 0 {
                return Ok(0);
            }
            let mut w = 0;
            for r in 0..n {
                let b = buf[r];
                if !b.is_ascii_whitespace() {
                    buf[w] = b;
                    w += 1;
                }
            }
            if w > 0 {
                return Ok(w);
            }
        }
    }
}

/// Records what passes through a reader until [`CaptureHandle::stop`] (the message header).
#[derive(Debug)]
pub struct CaptureReader<R> {
    inner: R,
    captured: Arc<Mutex<Option<Vec<u8>>>>,
}

/// Stops a [`CaptureReader`] from outside the reader stack that owns it.
#[derive(Debug)]
pub struct CaptureHandle(Arc<Mutex<Option<Vec<u8>>>>);

impl CaptureHandle {
    /// Stops capturing and returns what was captured.
    pub fn stop(&self) -> Vec<u8> {
        self.0
            .lock()
            .map(|mut g| g.take().unwrap_or_default())
            .unwrap_or_default()
    }
}

impl<R> CaptureReader<R> {
    /// Starts capturing.
    pub fn new(inner: R) -> (Self, CaptureHandle) {
        let captured = Arc::new(Mutex::new(Some(Vec::new())));
        (
            Self {
                inner,
                captured: captured.clone(),
            },
            CaptureHandle(captured),
        )
    }
}

impl<R: Read> Read for CaptureReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Ok(mut g) = self.captured.lock() {
            if let Some(v) = g.as_mut() {
                v.extend_from_slice(buf.get(..n).unwrap_or_default());
            }
        }
        Ok(n)
    }
}

/// Records what is written until the bytes hold a whole header, then publishes the header
/// through its [`HeaderSlot`].
#[derive(Debug)]
pub struct CaptureWriter<W> {
    /// The inner writer.
    pub inner: W,
    captured: Vec<u8>,
    slot: HeaderSlot,
}

/// The header a [`CaptureWriter`] saw, readable while the writer is owned elsewhere.
pub type HeaderSlot = Arc<OnceLock<Vec<u8>>>;

impl<W> CaptureWriter<W> {
    /// Starts capturing.
    pub fn new(inner: W) -> (Self, HeaderSlot) {
        let slot = HeaderSlot::default();
        (
            Self {
                inner,
                captured: Vec::new(),
                slot: slot.clone(),
            },
            slot,
        )
    }
}

impl<W: Write> Write for CaptureWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        if self.slot.get().is_none() {
            self.captured
                .extend_from_slice(buf.get(..n).unwrap_or_default());
            if let Ok((_, len)) = crate::metadata::parse_header(&self.captured) {
                self.captured.truncate(len);
                let _ = self.slot.set(std::mem::take(&mut self.captured));
            }
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Where one operation's output goes.
#[derive(Debug)]
pub enum Output {
    /// Standard output, streamed (written by a thread of its own).
    Stdout(BackgroundFile<io::Stdout>),
    /// Standard output after success (`--buffer`).
    Buffered(Vec<u8>),
    /// A temporary file next to the target, renamed over it on success.
    Temp {
        /// The open temporary file, written by its own thread.
        file: BackgroundFile,
        /// Its path.
        tmp: PathBuf,
        /// The target path.
        target: PathBuf,
        /// Make it durable (fsync file and directory) before reporting success.
        fsync: bool,
    },
    /// A target that is not a regular file (a FIFO, `/dev/null`...), written directly.
    Direct(BufWriter<File>),
}

/// Size of the output chunks handed to the writing thread (and of plain buffered I/O).
pub const CHUNK: usize = 256 * 1024;
/// Size of the chunks a [`BackgroundReader`] reads ahead: large, so the reading thread and
/// the cryptography hand over rarely (reads never allocate page-cache memory).
pub const READ_CHUNK: usize = 1024 * 1024;
/// The largest single `write` to the output. Larger writes make Linux allocate large
/// page-cache folios for the new file; on VMs that hand free memory back to the host those
/// come from returned memory, and measured here a 1 MiB-per-write copy of 1 GiB took 13–16 s
/// against 0.4–0.5 s for 256 or 512 KiB per write (`dd obs=…`, same file, same machine).
pub const WRITE_PIECE: usize = 256 * 1024;
/// The largest chunk: a chunk grows to hold whole frames up to this frame length.
pub const MAX_CHUNK: usize = 4 << 20;

/// The chunk size for messages with frames of `frame_len` bytes: a whole number of frames
/// and at least [`CHUNK`] when frames are at most [`MAX_CHUNK`] long (so a reader can open
/// each frame straight into the chunk), [`CHUNK`] otherwise.
pub fn chunk_for_frame(frame_len: usize) -> usize {
    if frame_len == 0 || frame_len > MAX_CHUNK {
        CHUNK
    } else {
        frame_len * CHUNK.div_ceil(frame_len)
    }
}

impl Output {
    /// Standard output, streamed or buffered.
    pub fn stdout(buffer: bool) -> Self {
        if buffer {
            Self::Buffered(Vec::new())
        } else {
            Self::Stdout(BackgroundFile::new(io::stdout()))
        }
    }

    /// A file target: a new temporary file in its directory, or the target itself when it
    /// exists and is not a regular file. With `fsync`, [`Output::commit`] makes the file and
    /// its new name durable before it returns.
    pub fn file(target: &Path, fsync: bool) -> io::Result<Self> {
        if let Ok(meta) = std::fs::metadata(target) {
            if !meta.is_file() {
                let f = std::fs::OpenOptions::new().write(true).open(target)?;
                return Ok(Self::Direct(BufWriter::with_capacity(CHUNK, f)));
            }
        }
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut last = None;
        for _ in 0..16 {
            let mut rnd = [0u8; 6];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut rnd);
            let tag: String = rnd.iter().map(|b| format!("{b:02x}")).collect();
            let tmp = dir.join(format!(".{name}.esdk-{tag}.tmp"));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
            {
                Ok(f) => {
                    return Ok(Self::Temp {
                        file: BackgroundFile::new(f),
                        tmp,
                        target: target.to_path_buf(),
                        fsync,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("cannot create a temporary file")))
    }

    /// Sets the size of the chunks handed to the writing thread (see [`chunk_for_frame`]).
    pub fn set_chunk(&mut self, chunk: usize) {
        match self {
            Self::Stdout(f) => f.set_chunk(chunk),
            Self::Temp { file, .. } => file.set_chunk(chunk),
            Self::Buffered(_) | Self::Direct(_) => {}
        }
    }

    /// Whether [`Output::fill_from`] can read straight into this output's chunks (written
    /// behind by a thread); the other outputs take bytes through `write`.
    pub fn fills_directly(&self) -> bool {
        matches!(self, Self::Stdout(_) | Self::Temp { .. })
    }

    /// Reads once from `r` straight into the output's current chunk (no intermediate buffer);
    /// returns the bytes read, 0 at the end of `r`. Only for outputs that
    /// [`fill directly`](Output::fills_directly); the others return an error.
    pub fn fill_from(&mut self, r: &mut impl Read) -> io::Result<usize> {
        match self {
            Self::Stdout(f) => f.fill_from(r),
            Self::Temp { file, .. } => file.fill_from(r),
            Self::Buffered(_) | Self::Direct(_) => Err(io::Error::other(
                "internal error: this output has no chunks to read into",
            )),
        }
    }

    /// Makes the output visible: flushes, renames the temporary file, releases the buffer.
    pub fn commit(self) -> io::Result<()> {
        match self {
            Self::Stdout(w) => w.finish().map(|_| ()),
            Self::Buffered(v) => {
                let mut out = io::stdout().lock();
                out.write_all(&v)?;
                out.flush()
            }
            Self::Temp {
                file,
                tmp,
                target,
                fsync,
            } => {
                // Flushing hands the bytes to the kernel; only `--fsync` waits for the disk
                // (a 1 GiB output takes seconds to write back on a slow disk, far longer
                // than encrypting it).
                let res = file
                    .finish()
                    .and_then(|f| if fsync { f.sync_data() } else { Ok(()) })
                    .and_then(|()| std::fs::rename(&tmp, &target));
                if res.is_err() {
                    let _ = std::fs::remove_file(&tmp);
                    return res;
                }
                if fsync {
                    // The rename is durable once the directory is.
                    let dir = match target.parent() {
                        Some(d) if !d.as_os_str().is_empty() => d,
                        _ => Path::new("."),
                    };
                    File::open(dir)?.sync_all()?;
                }
                Ok(())
            }
            Self::Direct(mut w) => w.flush(),
        }
    }

    /// Throws the output away (removes the temporary file).
    pub fn discard(self) {
        match self {
            Self::Temp { file, tmp, .. } => {
                drop(file);
                let _ = std::fs::remove_file(&tmp);
            }
            Self::Stdout(w) => {
                // What was written is already out; do not hold it back.
                let _ = w.finish();
            }
            Self::Buffered(_) | Self::Direct(_) => {}
        }
    }
}

/// One read, retrying `Interrupted`.
fn read_retrying(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Stdout(w) => w.write(buf),
            Self::Buffered(v) => v.write(buf),
            Self::Temp { file, .. } => file.write(buf),
            Self::Direct(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Stdout(w) => w.flush(),
            Self::Buffered(_) => Ok(()),
            Self::Temp { file, .. } => file.flush(),
            Self::Direct(w) => w.flush(),
        }
    }
}

/// A chunk on its way to the writing thread: the buffer and how many of its bytes to write.
type Filled = (Vec<u8>, usize);

/// Output written behind by a thread of its own (write-behind), so that the kernel's copy
/// into the page cache (or the pipe) runs on another core than the cryptography. Bytes go
/// over in chunks ([`CHUNK`] by default, see [`BackgroundFile::set_chunk`]) through a bounded
/// channel: at most four chunks queued, one being written and one being filled, so memory
/// stays O(chunk). Spent chunks come back for reuse (no page faults per chunk) and every
/// chunk is wiped before it is freed (decrypt outputs are plaintext).
///
/// Errors: a write error of the thread is reported by the next `write`, `flush`,
/// [`BackgroundFile::fill_from`] or [`BackgroundFile::finish`], never for bytes a call took;
/// after it, the thread stops writing (it only wipes the chunks still queued).
#[derive(Debug)]
pub struct BackgroundFile<W: Write + Send + 'static = File> {
    buf: Vec<u8>,
    filled: usize,
    chunk: usize,
    tx: Option<std::sync::mpsc::SyncSender<Filled>>,
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
    failed: Arc<std::sync::atomic::AtomicBool>,
    worker: Option<std::thread::JoinHandle<io::Result<W>>>,
    /// The thread's error once known (kind and text), for every later call.
    error: Option<(io::ErrorKind, String)>,
}

/// Chunks queued to the writing thread.
const QUEUED: usize = 4;

impl<W: Write + Send + 'static> BackgroundFile<W> {
    /// Starts the writing thread.
    pub fn new(inner: W) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Filled>(QUEUED);
        let (back, spare) = std::sync::mpsc::sync_channel::<Vec<u8>>(QUEUED + 2);
        let failed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = failed.clone();
        let worker = std::thread::spawn(move || write_behind(inner, &rx, &back, &flag));
        Self {
            buf: Vec::new(),
            filled: 0,
            chunk: CHUNK,
            tx: Some(tx),
            spare,
            failed,
            worker: Some(worker),
            error: None,
        }
    }

    /// Sets the chunk size for the chunks filled from now on (at least 1).
    pub fn set_chunk(&mut self, chunk: usize) {
        self.chunk = chunk.max(1);
    }

    /// The thread's error once it stopped (the same error for every later call).
    fn stopped(&mut self) -> io::Error {
        self.tx = None;
        if let Some(w) = self.worker.take() {
            self.error = Some(match w.join() {
                Ok(Err(e)) => (e.kind(), e.to_string()),
                _ => (io::ErrorKind::Other, "the output writer stopped".into()),
            });
        }
        match &self.error {
            Some((kind, text)) => io::Error::new(*kind, text.clone()),
            None => io::Error::other("the output writer stopped"),
        }
    }

    /// Hands the filled part of the current chunk to the thread.
    fn send(&mut self) -> io::Result<()> {
        if self.failed.load(std::sync::atomic::Ordering::Acquire) {
            return Err(self.stopped());
        }
        if self.filled == 0 {
            return Ok(());
        }
        let chunk = std::mem::take(&mut self.buf);
        let len = std::mem::take(&mut self.filled);
        match &self.tx {
            Some(tx) => match tx.send((chunk, len)) {
                Ok(()) => Ok(()),
                Err(std::sync::mpsc::SendError((mut c, _))) => {
                    zeroize::Zeroize::zeroize(&mut c);
                    Err(self.stopped())
                }
            },
            None => {
                let mut c = chunk;
                zeroize::Zeroize::zeroize(&mut c);
                Err(self.stopped())
            }
        }
    }

    /// Makes room in the current chunk: sends it when full, takes a fresh (recycled) one when
    /// there is none. The chunk is fully initialized, `chunk` bytes long.
    fn room(&mut self) -> io::Result<&mut [u8]> {
        if self.filled > 0 && self.filled >= self.buf.len() {
            self.send()?;
        }
        if self.filled == 0 && self.buf.len() != self.chunk {
            let mut next = if self.buf.is_empty() {
                self.spare.try_recv().unwrap_or_default()
            } else {
                std::mem::take(&mut self.buf)
            };
            if next.len() != self.chunk {
                zeroize::Zeroize::zeroize(&mut next);
                next.clear();
                next.resize(self.chunk, 0);
            }
            self.buf = next;
        }
        Ok(self.buf.get_mut(self.filled..).unwrap_or_default())
    }

    /// Reads once from `r` straight into the current chunk (retrying `Interrupted`); returns
    /// the bytes read, 0 at the end of `r`. A read error leaves what was read before it
    /// queued, as a write would.
    pub fn fill_from(&mut self, r: &mut impl Read) -> io::Result<usize> {
        let room = self.room()?;
        let n = read_retrying(r, room)?;
        self.filled += n;
        Ok(n)
    }

    /// Writes what is left, waits for the thread and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.send()?;
        self.tx = None;
        match self.worker.take().map(std::thread::JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(io::Error::other("the output writer stopped")),
        }
    }
}

/// The writing thread's loop: writes each chunk, gives it back for reuse (or wipes it). After
/// an error it raises `failed` and only wipes what still arrives, until the sender is gone.
fn write_behind<W: Write>(
    mut inner: W,
    rx: &std::sync::mpsc::Receiver<Filled>,
    back: &std::sync::mpsc::SyncSender<Vec<u8>>,
    failed: &std::sync::atomic::AtomicBool,
) -> io::Result<W> {
    let mut result = Ok(());
    for (chunk, len) in rx {
        if result.is_ok() {
            result = chunk
                .get(..len)
                .unwrap_or_default()
                .chunks(WRITE_PIECE)
                .try_for_each(|piece| inner.write_all(piece));
            if result.is_err() {
                failed.store(true, std::sync::atomic::Ordering::Release);
            }
        }
        if let Err(
            std::sync::mpsc::TrySendError::Full(mut c)
            | std::sync::mpsc::TrySendError::Disconnected(mut c),
        ) = back.try_send(chunk)
        {
            zeroize::Zeroize::zeroize(&mut c);
        }
    }
    result?;
    inner.flush()?;
    Ok(inner)
}

impl<W: Write + Send + 'static> Write for BackgroundFile<W> {
    /// Takes all of `data` unless the thread failed: an error is returned only when no byte
    /// was taken (a failure after some were is reported by the next call).
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let mut taken = 0;
        while let Some(rest) = data.get(taken..).filter(|r| !r.is_empty()) {
            // A full chunk goes first, so an error never hides bytes this call took.
            let room = match self.room() {
                Ok(room) => room,
                Err(e) if taken == 0 => return Err(e),
                Err(_) => break,
            };
            let n = rest.len().min(room.len());
            room.get_mut(..n)
                .unwrap_or_default()
                .copy_from_slice(rest.get(..n).unwrap_or_default());
            self.filled += n;
            taken += n;
        }
        Ok(taken)
    }
    fn flush(&mut self) -> io::Result<()> {
        // Hands the bytes to the thread; `finish` waits for them.
        self.send()
    }
}

impl<W: Write + Send + 'static> Drop for BackgroundFile<W> {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
        zeroize::Zeroize::zeroize(&mut self.buf);
        while let Ok(mut c) = self.spare.try_recv() {
            zeroize::Zeroize::zeroize(&mut c);
        }
    }
}

/// What the reading thread of a [`BackgroundReader`] hands over.
enum Chunk {
    /// Bytes read (never empty).
    Data(Vec<u8>),
    /// End of input: the thread read everything.
    End,
    /// The read failed; the thread stopped.
    Failed(io::Error),
}

/// A file read by a thread of its own, so that the kernel's copy out of the page cache runs
/// on another core than the cryptography. Chunks of [`READ_CHUNK`] bytes come over a bounded
/// channel (at most four in flight, about 6 MiB in all). The end of input is an explicit message: a
/// thread that stopped without sending it is an error, never a short input.
pub struct BackgroundReader {
    current: Vec<u8>,
    pos: usize,
    rx: Option<std::sync::mpsc::Receiver<Chunk>>,
    back: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    worker: Option<std::thread::JoinHandle<()>>,
    done: bool,
}

impl std::fmt::Debug for BackgroundReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackgroundReader")
            .field("buffered", &(self.current.len() - self.pos))
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl BackgroundReader {
    /// Starts the reading thread over `inner`.
    pub fn new<R: Read + Send + 'static>(mut inner: R) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(4);
        let (back, spare) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
        let worker = std::thread::spawn(move || {
            read_ahead(&mut inner, &tx, &spare);
            // Spent chunks held plaintext: wipe them before they are freed.
            drop(tx);
            while let Ok(mut c) = spare.try_recv() {
                zeroize::Zeroize::zeroize(&mut c);
            }
        });
        Self {
            current: Vec::new(),
            pos: 0,
            rx: Some(rx),
            back: Some(back),
            worker: Some(worker),
            done: false,
        }
    }

    /// Gives the spent chunk back to the thread, which refills it (or wipes it at the end).
    fn recycle(&mut self) {
        let spent = std::mem::take(&mut self.current);
        self.pos = 0;
        if spent.capacity() > 0 {
            if let Some(back) = &self.back {
                if let Err(
                    std::sync::mpsc::TrySendError::Full(mut s)
                    | std::sync::mpsc::TrySendError::Disconnected(mut s),
                ) = back.try_send(spent)
                {
                    zeroize::Zeroize::zeroize(&mut s);
                }
            }
        }
    }
}

/// The reading thread's loop: fills chunks (recycled ones first) and sends them.
fn read_ahead<R: Read>(
    inner: &mut R,
    tx: &std::sync::mpsc::SyncSender<Chunk>,
    spare: &std::sync::mpsc::Receiver<Vec<u8>>,
) {
    loop {
        let mut chunk = spare.try_recv().unwrap_or_default();
        chunk.resize(READ_CHUNK, 0);
        let mut filled = 0;
        let mut failed = None;
        while filled < chunk.len() {
            match inner.read(chunk.get_mut(filled..).unwrap_or_default()) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            }
        }
        let full = filled == chunk.len();
        if filled > 0 {
            chunk.truncate(filled);
            if let Err(std::sync::mpsc::SendError(Chunk::Data(mut c))) = tx.send(Chunk::Data(chunk))
            {
                zeroize::Zeroize::zeroize(&mut c);
                return;
            }
        } else {
            zeroize::Zeroize::zeroize(&mut chunk);
        }
        if let Some(e) = failed {
            let _ = tx.send(Chunk::Failed(e));
            return;
        }
        if !full {
            let _ = tx.send(Chunk::End);
            return;
        }
    }
}

impl BufRead for BackgroundReader {
    /// The rest of the current chunk, waiting for the next one when it is spent (no copy).
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos >= self.current.len() {
            if self.done {
                return Ok(&[]);
            }
            self.next_chunk()?;
        }
        Ok(self.current.get(self.pos..).unwrap_or_default())
    }
    fn consume(&mut self, n: usize) {
        self.pos = self.pos.saturating_add(n).min(self.current.len());
    }
}

impl BackgroundReader {
    /// Recycles the spent chunk and receives the next one (or the end, or the error).
    fn next_chunk(&mut self) -> io::Result<()> {
        self.recycle();
        let next = match &self.rx {
            Some(rx) => rx.recv(),
            None => return Err(io::Error::other("the input reader stopped")),
        };
        match next {
            Ok(Chunk::Data(d)) => self.current = d,
            Ok(Chunk::End) => self.done = true,
            Ok(Chunk::Failed(e)) => {
                self.rx = None;
                return Err(e);
            }
            Err(_) => {
                self.rx = None;
                return Err(io::Error::other("the input reader stopped"));
            }
        }
        Ok(())
    }
}

impl Read for BackgroundReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        while self.pos >= self.current.len() {
            if self.done {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let avail = self.current.get(self.pos..).unwrap_or_default();
        let n = avail.len().min(buf.len());
        buf.get_mut(..n)
            .unwrap_or_default()
            .copy_from_slice(avail.get(..n).unwrap_or_default());
        self.pos += n;
        Ok(n)
    }
}

impl Drop for BackgroundReader {
    fn drop(&mut self) {
        self.recycle();
        // Closing both channels stops the thread at its next hand-over; chunks still queued
        // are wiped.
        self.back = None;
        if let Some(rx) = self.rx.take() {
            while let Ok(c) = rx.try_recv() {
                if let Chunk::Data(mut d) = c {
                    zeroize::Zeroize::zeroize(&mut d);
                }
            }
            drop(rx);
        }
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}

#[cfg(test)]
mod background_reader_tests {
    use super::{BackgroundReader, READ_CHUNK};
    use std::io::{self, BufRead, Read};

    /// Gives `data` in pieces of at most `step` bytes, then fails or panics if asked to.
    pub(super) struct Source {
        data: Vec<u8>,
        pos: usize,
        step: usize,
        then: Option<&'static str>,
    }

    impl Source {
        /// `data` in pieces of at most `step` bytes, then the end of input.
        pub(super) fn pieces(data: &[u8], step: usize) -> Self {
            Self {
                data: data.to_vec(),
                pos: 0,
                step,
                then: None,
            }
        }
    }

    impl Read for Source {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pos == self.data.len() {
                return match self.then {
                    Some("panic") => panic!("source panicked"),
                    Some(msg) => Err(io::Error::other(msg)),
                    None => Ok(0),
                };
            }
            let n = buf.len().min(self.step).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i * 7 + i / 251).to_le_bytes()[0])
            .collect()
    }

    /// A reader over `data` given by its source in pieces of at most `step` bytes, then `then`.
    fn reader(data: &[u8], step: usize, then: Option<&'static str>) -> BackgroundReader {
        BackgroundReader::new(Source {
            then,
            ..Source::pieces(data, step)
        })
    }

    /// How a test takes the bytes: `read` calls with a buffer of that size, or each chunk
    /// itself (`fill_buf`) consumed in parts of at most that size.
    #[derive(Clone, Copy, Debug)]
    enum Take {
        Read(usize),
        Buffered(usize),
    }

    /// Reads `data` back through a reader over it to the end, then checks that the end stays
    /// the end.
    fn read_back(data: &[u8], step: usize, take: Take) -> Vec<u8> {
        let mut r = reader(data, step, None);
        let mut out = Vec::new();
        match take {
            Take::Read(size) => {
                let mut buf = vec![0u8; size];
                loop {
                    let n = r.read(&mut buf).unwrap();
                    if n == 0 {
                        break;
                    }
                    out.extend_from_slice(&buf[..n]);
                }
                assert_eq!(r.read(&mut buf).unwrap(), 0);
            }
            Take::Buffered(part) => {
                loop {
                    let buf = r.fill_buf().unwrap();
                    if buf.is_empty() {
                        break;
                    }
                    let n = buf.len().min(part);
                    out.extend_from_slice(&buf[..n]);
                    r.consume(n);
                }
                assert!(r.fill_buf().unwrap().is_empty());
            }
        }
        out
    }

    #[test]
    fn passes_every_byte_in_order() {
        for (len, step, read) in [
            (0, 1, 1),
            (1, 1, 7),
            (READ_CHUNK, 4096, 65536),
            (READ_CHUNK + 1, 100_000, 3),
            (3 * READ_CHUNK - 5, READ_CHUNK, READ_CHUNK),
            (2_000_003, 8191, 10_007),
        ] {
            let d = data(len);
            let out = read_back(&d, step, Take::Read(read));
            assert_eq!(out, d, "len {len} step {step} read {read}");
        }
    }

    #[test]
    fn buffered_reads_pass_every_byte_in_order() {
        for (len, step, take) in [
            (0, 1, 1),
            (READ_CHUNK + 1, 100_000, 7),
            (3 * READ_CHUNK - 5, READ_CHUNK, 1 << 20),
            (1_000_003, 8191, 65_536),
        ] {
            let d = data(len);
            let out = read_back(&d, step, Take::Buffered(take));
            assert_eq!(out, d, "len {len} step {step} take {take}");
        }
    }

    #[test]
    fn a_read_error_is_reported_after_the_bytes_before_it() {
        let d = data(300_000);
        let mut r = reader(&d, 50_000, Some("disk on fire"));
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(err.to_string(), "disk on fire");
        assert!(out.len() <= d.len() && d.starts_with(&out));
    }

    #[test]
    fn a_stopped_thread_is_an_error_not_the_end_of_input() {
        let mut r = reader(&data(10), 10, Some("panic"));
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(err.to_string(), "the input reader stopped");
    }

    #[test]
    fn dropping_early_stops_the_thread() {
        let mut r = reader(&data(10 << 20), 1 << 20, None);
        let mut buf = [0u8; 10];
        r.read_exact(&mut buf).unwrap();
        drop(r); // joins the thread: the test would hang if it did not stop
    }
}

#[cfg(test)]
mod background_file_tests {
    use super::background_reader_tests::Source;
    use super::{BackgroundFile, WRITE_PIECE, chunk_for_frame};
    use std::io::{self, Write};
    use std::sync::{Arc, Mutex};

    /// Collects what it is given, up to `fail_after` bytes if set; then fails (like a file
    /// at its size limit).
    #[derive(Clone, Debug)]
    struct Sink {
        got: Arc<Mutex<Vec<u8>>>,
        fail_after: Option<usize>,
        calls: Arc<Mutex<usize>>,
        /// The longest buffer a `write` was given.
        largest: Arc<Mutex<usize>>,
        /// Whether writes are cut short (at 100,000 bytes).
        short: bool,
    }

    impl Sink {
        fn new(fail_after: Option<usize>) -> Self {
            Self {
                got: Arc::default(),
                fail_after,
                calls: Arc::default(),
                largest: Arc::default(),
                short: true,
            }
        }
    }

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            *self.calls.lock().unwrap() += 1;
            let mut largest = self.largest.lock().unwrap();
            *largest = (*largest).max(buf.len());
            let mut got = self.got.lock().unwrap();
            let room = self.fail_after.map_or(usize::MAX, |n| n - got.len());
            if room == 0 {
                return Err(io::Error::other("disk full"));
            }
            // Short writes, to exercise the thread's retrying.
            let cap = if self.short { 100_000 } else { usize::MAX };
            let n = buf.len().min(cap).min(room);
            got.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn data(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| (i * 13 + i / 509).to_le_bytes()[0])
            .collect()
    }

    #[test]
    fn writes_and_fills_pass_every_byte_in_order() {
        for (len, step, chunk) in [
            (0, 1, None),
            (1, 1, None),
            (256 * 1024, 4096, None),
            (256 * 1024 + 1, 1_000_000, None),
            (3_000_017, 65_537, Some(chunk_for_frame(5000))),
            (50_003, 8191, Some(1)),
            (1_000_000, 300_000, Some(chunk_for_frame(1 << 20))),
        ] {
            let d = data(len);
            for fill in [false, true] {
                let sink = Sink::new(None);
                let mut f = BackgroundFile::new(sink.clone());
                if let Some(c) = chunk {
                    f.set_chunk(c);
                }
                if fill {
                    // Reads of at most `step` bytes, straight into the chunks.
                    let mut src = Source::pieces(&d, step);
                    while f.fill_from(&mut src).unwrap() > 0 {}
                } else {
                    for piece in d.chunks(step) {
                        // Every byte of a write is taken at once.
                        assert_eq!(f.write(piece).unwrap(), piece.len());
                    }
                }
                f.finish().unwrap();
                assert!(
                    *sink.got.lock().unwrap() == d,
                    "len {len} step {step} fill {fill}"
                );
            }
        }
    }

    #[test]
    fn a_write_error_is_reported_by_a_later_call_and_every_call_after() {
        let sink = Sink::new(Some(300_000));
        let mut f = BackgroundFile::new(sink.clone());
        let d = data(64 * 1024);
        let mut taken = 0usize;
        let err = loop {
            match f.write(&d) {
                Ok(n) => {
                    assert!(n > 0);
                    taken += n;
                }
                Err(e) => break e,
            }
            assert!(taken < 100 << 20, "the error never surfaced");
        };
        assert_eq!(err.to_string(), "disk full");
        // What the sink got is a prefix of what was taken, and the error sticks.
        assert!(sink.got.lock().unwrap().len() <= taken);
        assert_eq!(f.write(b"x").unwrap_err().to_string(), "disk full");
        assert_eq!(f.flush().unwrap_err().to_string(), "disk full");
        assert_eq!(
            f.fill_from(&mut Source::pieces(b"abc", 3))
                .unwrap_err()
                .to_string(),
            "disk full"
        );
        assert_eq!(f.finish().unwrap_err().to_string(), "disk full");
        // The thread wrote up to the error and then stopped writing: 256 KiB in three
        // writes, then 37,856 bytes and the failing call.
        assert_eq!(sink.got.lock().unwrap().len(), 300_000);
        assert_eq!(*sink.calls.lock().unwrap(), 5);
    }

    /// Chunks larger than [`WRITE_PIECE`] (1 MiB frames) reach the output in writes of at
    /// most that size, every byte in order.
    #[test]
    fn no_write_is_larger_than_a_piece() {
        let mut sink = Sink::new(None);
        sink.short = false;
        let d = data(5_000_000);
        let mut f = BackgroundFile::new(sink.clone());
        f.set_chunk(chunk_for_frame(1 << 20));
        assert_eq!(f.write(&d).unwrap(), d.len());
        f.finish().unwrap();
        assert!(*sink.got.lock().unwrap() == d);
        assert_eq!(*sink.largest.lock().unwrap(), WRITE_PIECE);
        assert_eq!(*sink.calls.lock().unwrap(), d.len().div_ceil(WRITE_PIECE));
    }

    #[test]
    fn an_error_at_the_end_is_reported_by_finish() {
        let sink = Sink::new(Some(10));
        let mut f = BackgroundFile::new(sink);
        assert_eq!(f.write(&data(1000)).unwrap(), 1000);
        assert_eq!(f.finish().unwrap_err().to_string(), "disk full");
    }

    #[test]
    fn chunks_hold_whole_frames() {
        assert_eq!(chunk_for_frame(4096), 256 * 1024);
        assert_eq!(chunk_for_frame(5000), 5000 * 53);
        assert_eq!(chunk_for_frame(1 << 20), 1 << 20);
        assert_eq!(chunk_for_frame(3 << 20), 3 << 20);
        assert_eq!(chunk_for_frame(0), 256 * 1024);
        assert_eq!(chunk_for_frame(64 << 20), 256 * 1024);
        assert_eq!(chunk_for_frame(1), 256 * 1024);
    }
}
