//! Small `std::io` wrappers: progress counting, Base64 (streaming, whitespace-tolerant on
//! input), header capture, and outputs that only become visible on success.

use indicatif::ProgressBar;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
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
    /// Standard output, streamed.
    Stdout(BufWriter<io::Stdout>),
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

const OUT_BUF: usize = 256 * 1024;

impl Output {
    /// Standard output, streamed or buffered.
    pub fn stdout(buffer: bool) -> Self {
        if buffer {
            Self::Buffered(Vec::new())
        } else {
            Self::Stdout(BufWriter::with_capacity(OUT_BUF, io::stdout()))
        }
    }

    /// A file target: a new temporary file in its directory, or the target itself when it
    /// exists and is not a regular file. With `fsync`, [`Output::commit`] makes the file and
    /// its new name durable before it returns.
    pub fn file(target: &Path, fsync: bool) -> io::Result<Self> {
        if let Ok(meta) = std::fs::metadata(target) {
            if !meta.is_file() {
                let f = std::fs::OpenOptions::new().write(true).open(target)?;
                return Ok(Self::Direct(BufWriter::with_capacity(OUT_BUF, f)));
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

    /// Makes the output visible: flushes, renames the temporary file, releases the buffer.
    pub fn commit(self) -> io::Result<()> {
        match self {
            Self::Stdout(mut w) => w.flush(),
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
            Self::Stdout(mut w) => {
                // What was written is already out; do not hold it back.
                let _ = w.flush();
            }
            Self::Buffered(_) | Self::Direct(_) => {}
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

/// A file written by a thread of its own, so that the kernel's copy into the page cache runs
/// on another core than the cryptography. Bytes go over in 256 KiB chunks through a bounded
/// channel (at most four in flight, about 1.5 MiB in all); a write error of the thread is
/// reported by the next `write`, `flush` or [`BackgroundFile::finish`].
#[derive(Debug)]
pub struct BackgroundFile {
    buf: Vec<u8>,
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
    worker: Option<std::thread::JoinHandle<io::Result<File>>>,
}

impl BackgroundFile {
    /// Starts the writer thread.
    pub fn new(mut file: File) -> Self {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(4);
        let (back, spare) = std::sync::mpsc::sync_channel::<Vec<u8>>(8);
        let worker = std::thread::spawn(move || {
            for mut chunk in rx {
                file.write_all(&chunk)?;
                chunk.clear();
                let _ = back.try_send(chunk);
            }
            Ok(file)
        });
        Self {
            buf: Vec::with_capacity(OUT_BUF),
            tx: Some(tx),
            spare,
            worker: Some(worker),
        }
    }

    /// The thread's result once it stopped (its error, or a generic one).
    fn stopped(&mut self) -> io::Error {
        self.tx = None;
        match self.worker.take().map(std::thread::JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            _ => io::Error::other("the output writer stopped"),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let next = self
            .spare
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(OUT_BUF));
        let chunk = std::mem::replace(&mut self.buf, next);
        match &self.tx {
            Some(tx) if tx.send(chunk).is_ok() => Ok(()),
            _ => Err(self.stopped()),
        }
    }

    /// Writes what is left, waits for the thread and returns the file.
    pub fn finish(mut self) -> io::Result<File> {
        self.send()?;
        self.tx = None;
        match self.worker.take().map(std::thread::JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(io::Error::other("the output writer stopped")),
        }
    }
}

impl Write for BackgroundFile {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        // A full chunk goes first, so an error never hides bytes this call took.
        if self.buf.len() >= OUT_BUF {
            self.send()?;
        }
        let n = data.len().min(OUT_BUF - self.buf.len());
        self.buf
            .extend_from_slice(data.get(..n).unwrap_or_default());
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        // Hands the bytes to the thread; `finish` waits for them.
        self.send()
    }
}

impl Drop for BackgroundFile {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}
