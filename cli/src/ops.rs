//! Encrypting and decrypting files, directories and streams: the job list (the source and
//! destination rules of aws-encryption-cli), overwrite decisions, and one streaming operation
//! per job, several at once with `-j`.

use crate::error::{CliError, escape};
use crate::log::Log;
use crate::metadata::{MetadataSink, header_auth_json, header_json, parse_header};
use crate::progress::Progress;
use crate::streams::{
    BackgroundReader, CHUNK, CaptureReader, CaptureWriter, Counting, Output, SkipWhitespace,
    chunk_for_frame,
};
use base64::engine::general_purpose::STANDARD as B64;
use esdk_std::stream::io::{DEFAULT_MAX_BUFFER, DecryptingReader, EncryptingWriter};
use esdk_std::{
    AlgorithmSuite, Client, DecryptOptions, EncryptOptions, EncryptionContext,
    SyncCryptographicMaterialsManager,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// What to do with each input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// `-e`.
    Encrypt,
    /// `-d`.
    Decrypt,
    /// `--decrypt-unsigned`.
    DecryptUnsigned,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Self::Encrypt => "encrypt",
            Self::Decrypt => "decrypt",
            Self::DecryptUnsigned => "decrypt-unsigned",
        }
    }
    fn default_suffix(self) -> &'static str {
        match self {
            Self::Encrypt => ".encrypted",
            Self::Decrypt | Self::DecryptUnsigned => ".decrypted",
        }
    }
}

/// Everything one operation needs, shared by all jobs.
pub struct Settings {
    /// The action.
    pub action: Action,
    /// The client (policy, limits).
    pub client: Client,
    /// The materials manager.
    pub cmm: Arc<dyn SyncCryptographicMaterialsManager>,
    /// Encryption context (encrypt) or required pairs (decrypt).
    pub context: BTreeMap<String, String>,
    /// Keys the message must have (decrypt).
    pub required_keys: Vec<String>,
    /// `--algorithm`.
    pub suite: Option<AlgorithmSuite>,
    /// `--frame-length` (0: a non-framed message, as aws-encryption-cli writes).
    pub frame_length: Option<u32>,
    /// Largest frame / body buffered on decrypt.
    pub max_buffer: usize,
    /// `--decode`.
    pub decode: bool,
    /// `--encode`.
    pub encode: bool,
    /// `--buffer`.
    pub buffer: bool,
    /// `--interactive`.
    pub interactive: bool,
    /// `--no-overwrite`.
    pub no_overwrite: bool,
    /// `--fsync`.
    pub fsync: bool,
    /// `--threads`: worker threads per message (`None`: the library's default).
    pub threads: Option<usize>,
    /// Metadata records.
    pub metadata: MetadataSink,
    /// Messages.
    pub log: Log,
    /// Progress display.
    pub progress: Progress,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("action", &self.action)
            .finish_non_exhaustive()
    }
}

/// One input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// Standard input.
    Stdin,
    /// A file.
    File(PathBuf),
}

/// One output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dest {
    /// Standard output.
    Stdout,
    /// A file.
    File(PathBuf),
}

/// One operation.
#[derive(Clone, Debug)]
pub struct Job {
    /// Input.
    pub source: Source,
    /// Output.
    pub dest: Dest,
}

/// `os.path.abspath`: absolute and lexically normalized, symlinks kept.
pub fn abspath(p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().unwrap_or_default().join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn realpath(p: &str) -> PathBuf {
    // Like Python's os.path.realpath: resolve what exists, keep the rest.
    let abs = abspath(Path::new(p));
    if let Ok(r) = std::fs::canonicalize(&abs) {
        return r;
    }
    match (abs.parent(), abs.file_name()) {
        (Some(parent), Some(name)) => std::fs::canonicalize(parent)
            .map(|d| d.join(name))
            .unwrap_or(abs.clone()),
        _ => abs,
    }
}

fn output_filename(source: &Path, dest_dir: &Path, suffix: &str) -> PathBuf {
    let mut name = source.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    dest_dir.join(name)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)?
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .map(|e| e.path())
        .collect();
    entries.sort();
    let (dirs, files): (Vec<_>, Vec<_>) = entries.into_iter().partition(|p| p.is_dir());
    out.extend(files.into_iter().filter(|p| p.is_file()));
    for d in dirs {
        walk(&d, out)?;
    }
    Ok(())
}

/// Checks a request and lists its jobs (aws-encryption-cli's rules, in its order).
pub fn plan(
    s: &Settings,
    input: &str,
    output: &str,
    metadata_target: Option<&str>,
    recursive: bool,
    suffix: Option<&str>,
) -> Result<Vec<Job>, CliError> {
    let out_is_dir = output != "-" && Path::new(output).is_dir();
    if output != "-" && !out_is_dir {
        let parent = realpath(output);
        if !parent.parent().is_some_and(Path::is_dir) {
            return Err(CliError::bad(
                "If destination is a file, the immediate parent directory must already exist.",
            ));
        }
    }
    if let Some(m) = metadata_target {
        if m.is_empty() {
            return Err(CliError::bad("Metadata output file name cannot be empty"));
        }
        if m == "-" {
            if output == "-" {
                return Err(CliError::bad(
                    "Metadata output cannot be stdout when output is stdout",
                ));
            }
        } else {
            let (rs, rd, rm) = (realpath(input), realpath(output), realpath(m));
            if rm.is_dir() {
                return Err(CliError::bad("Metadata output cannot be a directory"));
            }
            if rm == rs || rm == rd {
                return Err(CliError::bad(
                    "Metadata output file cannot be the input or output",
                ));
            }
            if rd.is_dir() && rm.starts_with(&rd) {
                return Err(CliError::bad(
                    "Metadata output file cannot be in the output directory",
                ));
            }
            if rs.is_dir() && rm.starts_with(&rs) {
                return Err(CliError::bad(
                    "Metadata output file cannot be in the input directory",
                ));
            }
        }
    }
    if !(input == "-" && output == "-") && realpath(input) == realpath(output) {
        return Err(CliError::bad("Destination and source cannot be the same"));
    }
    if input == "-" && out_is_dir {
        return Err(CliError::bad(
            "Destination may not be a directory when source is stdin",
        ));
    }
    let dest_of = |p: &str| {
        if p == "-" {
            Dest::Stdout
        } else {
            Dest::File(PathBuf::from(p))
        }
    };
    if input == "-" {
        return Ok(vec![Job {
            source: Source::Stdin,
            dest: dest_of(output),
        }]);
    }
    let opts = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let invalid =
        || CliError::bad("Invalid source.  Must be a valid pathname pattern or stdin (-)");
    let mut sources: Vec<PathBuf> = glob::glob_with(input, opts)
        .map_err(|_| invalid())?
        .filter_map(Result::ok)
        .collect();
    if sources.is_empty() && Path::new(input).exists() {
        // A literal name with glob characters in it.
        sources.push(PathBuf::from(input));
    }
    if sources.is_empty() {
        return Err(invalid());
    }
    sources.sort();
    if sources.len() > 1 && !out_is_dir {
        return Err(CliError::bad(
            "If operating on multiple sources, destination must be an existing directory",
        ));
    }
    if sources.iter().any(|p| p.is_dir()) && !out_is_dir {
        return Err(CliError::bad(
            "If operating on a source directory, destination must be an existing directory",
        ));
    }
    let suffix = suffix.unwrap_or(s.action.default_suffix());
    let mut jobs = Vec::new();
    for src in sources {
        if src.is_dir() {
            if !recursive {
                s.log.warn(format_args!(
                    "Skipping {} because it is a directory and -r/-R/--recursive is not set",
                    escape(&src.to_string_lossy(), 512)
                ));
                continue;
            }
            let mut files = Vec::new();
            walk(&src, &mut files).map_err(|e| {
                CliError::bad(format!(
                    "cannot read directory {}: {e}",
                    escape(&src.to_string_lossy(), 512)
                ))
            })?;
            for f in files {
                let rel_dir = f
                    .parent()
                    .and_then(|p| p.strip_prefix(&src).ok())
                    .map(Path::to_path_buf)
                    .unwrap_or_default();
                let dest_dir = Path::new(output).join(rel_dir);
                jobs.push(Job {
                    dest: Dest::File(output_filename(&f, &dest_dir, suffix)),
                    source: Source::File(f),
                });
            }
        } else if src.is_file() {
            let dest = if out_is_dir {
                Dest::File(output_filename(&src, Path::new(output), suffix))
            } else {
                dest_of(output)
            };
            jobs.push(Job {
                source: Source::File(src),
                dest,
            });
        }
    }
    Ok(jobs)
}

/// Runs the jobs, `jobs` at once; returns how many failed.
pub fn run_all(s: &Settings, list: Vec<Job>, jobs: usize) -> usize {
    let total: u64 = list
        .iter()
        .map(|j| match &j.source {
            Source::File(p) => std::fs::metadata(p).map_or(0, |m| m.len()),
            Source::Stdin => 0,
        })
        .sum();
    s.progress.start_total(list.len(), total);
    let failed = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let next = AtomicUsize::new(0);
    // Interactive prompts need one question at a time.
    let workers = if s.interactive { 1 } else { jobs.max(1) };
    std::thread::scope(|scope| {
        for _ in 0..workers.min(list.len().max(1)) {
            scope.spawn(|| {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = list.get(i) else { break };
                    if let Err(msg) = run_job(s, job) {
                        s.log
                            .error(format_args!("{}: {msg}", describe(&job.source)));
                        failed.fetch_add(1, Ordering::Relaxed);
                        // Like aws-encryption-cli, stop at the first failure (jobs already
                        // running finish).
                        stop.store(true, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    s.progress.finish();
    failed.load(Ordering::Relaxed)
}

fn describe(src: &Source) -> String {
    match src {
        Source::Stdin => "<stdin>".into(),
        Source::File(p) => escape(&p.to_string_lossy(), 512),
    }
}

fn should_write(s: &Settings, path: &Path) -> bool {
    if !path.is_file() {
        return true;
    }
    let shown = escape(&path.to_string_lossy(), 512);
    if s.no_overwrite {
        s.log.warn(format_args!(
            "Skipping existing output file because of \"no overwrite\" option: {shown}"
        ));
        return false;
    }
    if s.interactive {
        s.progress.suspend(|| {
            eprint!("Overwrite existing output file \"{shown}\" with new contents? [y/N]:");
            let _ = io::stderr().flush();
            let mut line = String::new();
            let _ = io::stdin().lock().read_line(&mut line);
            if line.trim_start().to_ascii_lowercase().starts_with('y') {
                s.log.warn(format_args!(
                    "Overwriting existing output file based on interactive user decision: {shown}"
                ));
                true
            } else {
                s.log.warn(format_args!(
                    "Skipping existing output file based on interactive user decision: {shown}"
                ));
                false
            }
        })
    } else {
        s.log.warn(format_args!(
            "Overwriting existing output file because no action was specified otherwise: {shown}"
        ));
        true
    }
}

/// Runs one job; `Err` carries the reason, already safe to print.
fn run_job(s: &Settings, job: &Job) -> Result<(), String> {
    if let (Source::File(src), Dest::File(dst)) = (&job.source, &job.dest) {
        if realpath(&src.to_string_lossy()) == realpath(&dst.to_string_lossy()) {
            s.log.warn(format_args!(
                "Skipping because the source ({}) and destination ({}) are the same",
                describe(&job.source),
                escape(&dst.to_string_lossy(), 512)
            ));
            return Ok(());
        }
    }
    let (input_name, size): (String, Option<u64>) = match &job.source {
        Source::Stdin => ("<stdin>".into(), None),
        Source::File(p) => (
            abspath(p).to_string_lossy().into_owned(),
            std::fs::metadata(p).ok().map(|m| m.len()),
        ),
    };
    let (output_name, out) = match &job.dest {
        Dest::Stdout => ("<stdout>".to_string(), Output::stdout(s.buffer)),
        Dest::File(p) => {
            if !should_write(s, p) {
                return Ok(());
            }
            if let Some(parent) = p.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| {
                    format!(
                        "cannot create directory {}: {e}",
                        escape(&parent.to_string_lossy(), 512)
                    )
                })?;
            }
            let out = Output::file(p, s.fsync).map_err(|e| {
                format!(
                    "cannot create output next to {}: {e}",
                    escape(&p.to_string_lossy(), 512)
                )
            })?;
            (abspath(p).to_string_lossy().into_owned(), out)
        }
    };
    s.log.info(format_args!(
        "{}ing {} to {}",
        s.action.name(),
        escape(&input_name, 512),
        escape(&output_name, 512)
    ));
    let reader: Box<dyn BufRead + Send> = match &job.source {
        Source::Stdin => Box::new(BufReader::with_capacity(CHUNK, io::stdin())),
        Source::File(p) => {
            let f = std::fs::File::open(p).map_err(|e| format!("cannot open: {e}"))?;
            // Regular files are read ahead by a thread of their own; devices and pipes given
            // by name are read directly (a read there may block forever).
            if f.metadata().is_ok_and(|m| m.is_file()) {
                Box::new(BackgroundReader::new(f))
            } else {
                Box::new(BufReader::with_capacity(CHUNK, f))
            }
        }
    };
    let bar = s.progress.file_bar(&input_name, size);
    let reader = Counting {
        inner: reader,
        bar: bar.clone(),
        total: s.progress.total_bar(),
    };
    let reader: Box<dyn BufRead + Send> = if s.decode {
        Box::new(BufReader::with_capacity(
            CHUNK,
            base64::read::DecoderReader::new(SkipWhitespace(reader), &B64),
        ))
    } else {
        Box::new(reader)
    };
    let names = (input_name, output_name);
    let mut out = Some(out);
    let res = match s.action {
        Action::Encrypt => encrypt(s, reader, &mut out, size, &names),
        Action::Decrypt | Action::DecryptUnsigned => decrypt(s, reader, &mut out, size, &names),
    };
    bar.finish_and_clear();
    s.progress.file_done();
    match res {
        Ok(true) => out
            .take()
            .map_or(Ok(()), Output::commit)
            .map_err(|e| format!("cannot write output: {e}")),
        Ok(false) => {
            if let Some(o) = out.take() {
                o.discard();
            }
            Ok(())
        }
        Err(e) => {
            if let Some(o) = out.take() {
                o.discard();
            }
            Err(e)
        }
    }
}

/// Formats an I/O error from the stream adapters (they carry the library's error).
fn io_reason(e: &io::Error) -> String {
    escape(&e.to_string(), 1024)
}

fn record(
    s: &Settings,
    names: &(String, String),
    header: Value,
    extra: Value,
) -> Result<(), String> {
    let mut r = json!({
        "mode": s.action.name(),
        "input": names.0,
        "output": names.1,
        "header": header,
    });
    if let (Some(r), Value::Object(extra)) = (r.as_object_mut(), extra) {
        r.extend(extra);
    }
    s.metadata.write(&r).map_err(|e| e.to_string())
}

/// A Base64 encoder in front of the output when `--encode` is given.
enum Sink<'a> {
    Plain(&'a mut Output),
    Base64(
        Box<base64::write::EncoderWriter<'static, base64::engine::GeneralPurpose, &'a mut Output>>,
    ),
}

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Self::Plain(w) => w.write(buf),
            Self::Base64(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Self::Plain(w) => w.flush(),
            Self::Base64(w) => w.flush(),
        }
    }
}

impl<'a> Sink<'a> {
    fn new(out: &'a mut Output, encode: bool) -> Self {
        if encode {
            Self::Base64(Box::new(base64::write::EncoderWriter::new(out, &B64)))
        } else {
            Self::Plain(out)
        }
    }
    fn finish(self) -> io::Result<()> {
        match self {
            Self::Plain(_) => Ok(()),
            Self::Base64(mut w) => w.finish().map(|_| ()),
        }
    }
}

/// Copies from a buffered reader, handing its buffer straight to `to` (no copy of ours).
fn copy_buffered(from: &mut impl BufRead, to: &mut impl Write) -> io::Result<u64> {
    let mut n = 0u64;
    loop {
        let buf = match from.fill_buf() {
            Ok([]) => return Ok(n),
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let k = match to.write(buf) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        from.consume(k);
        n += k as u64;
    }
}

/// Copies from `from` into `to`: straight into the output's own chunks when it has them
/// and nothing is encoded, else through one intermediate buffer (wiped at the end).
fn copy_into(from: &mut impl Read, to: &mut Sink<'_>) -> io::Result<u64> {
    let mut n = 0u64;
    if let Sink::Plain(out) = to {
        if out.fills_directly() {
            loop {
                match out.fill_from(from)? {
                    0 => return Ok(n),
                    k => n += k as u64,
                }
            }
        }
    }
    let mut buf = zeroize::Zeroizing::new(vec![0u8; CHUNK]);
    loop {
        let k = match from.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        to.write_all(buf.get(..k).unwrap_or_default())?;
        n += k as u64;
    }
}

fn encrypt(
    s: &Settings,
    mut reader: Box<dyn BufRead + Send>,
    out: &mut Option<Output>,
    size: Option<u64>,
    names: &(String, String),
) -> Result<bool, String> {
    let Some(out) = out.as_mut() else {
        return Ok(false);
    };
    let ec: EncryptionContext = s
        .context
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // Exact multiples of the frame length end in an empty final frame, the form the Python
    // ESDK (aws-encryption-cli) writes and the only one it reads.
    let mut opts = EncryptOptions::cmm(&s.cmm)
        .encryption_context(ec)
        .empty_final_frame(true);
    if let Some(suite) = s.suite {
        opts = opts.suite(suite);
    }
    if let Some(n) = s.threads {
        opts = opts.parallelism(n);
    }
    match s.frame_length {
        // Non-framed, like aws-encryption-cli --frame-length 0: the body is sealed in one
        // piece, so the whole plaintext is held in memory until the end of the input.
        Some(0) => opts = opts.non_framed(true),
        Some(f) => opts = opts.frame_length(f),
        None => {}
    }
    if let Some(n) = size {
        // Base64 input decodes to at most 3/4 of its size.
        opts = opts.plaintext_length(if s.decode { n / 4 * 3 + 3 } else { n });
    }
    let (sink, header) = CaptureWriter::new(Sink::new(out, s.encode));
    let mut w =
        EncryptingWriter::new(&s.client, &opts, sink).map_err(|e| escape(&e.to_string(), 1024))?;
    if s.metadata.enabled() {
        // Like aws-encryption-cli: the record is written once the header is, before the body
        // (so `--metadata-output -` shows it while a long encryption runs).
        w.flush().map_err(|e| io_reason(&e))?;
        let bytes = header.get().map(Vec::as_slice).unwrap_or_default();
        let (h, _) = parse_header(bytes).map_err(|e| format!("cannot read the header: {e}"))?;
        record(s, names, header_json(&h), json!({}))?;
    }
    copy_buffered(&mut reader, &mut w).map_err(|e| io_reason(&e))?;
    let sink = w.finish().map_err(|e| io_reason(&e))?;
    sink.inner.finish().map_err(|e| io_reason(&e))?;
    Ok(true)
}

fn decrypt(
    s: &Settings,
    reader: Box<dyn BufRead + Send>,
    out: &mut Option<Output>,
    size: Option<u64>,
    names: &(String, String),
) -> Result<bool, String> {
    let Some(out) = out.as_mut() else {
        return Ok(false);
    };
    let mut opts = DecryptOptions::cmm(&s.cmm);
    if s.action == Action::DecryptUnsigned {
        opts = opts.unsigned_only();
    }
    if let Some(n) = s.threads {
        opts = opts.parallelism(n);
    }
    let (capture, handle) = CaptureReader::new(reader);
    // A message read from a file needs at most the file's size buffered, whatever it
    // declares: a non-framed body (held whole until its tag verified) as large as the file is
    // accepted, as aws-encryption-cli accepts it. The buffer grows only with bytes received,
    // so framed messages still take O(frame length); --max-length limits lengths as before.
    let max_buffer = size.map_or(s.max_buffer, |n| {
        s.max_buffer
            .max(usize::try_from(n).unwrap_or(usize::MAX).saturating_add(256))
    });
    let mut dr = DecryptingReader::with_max_buffer(&s.client, &opts, capture, max_buffer)
        .map_err(|e| escape(&e.to_string(), 1024))?;
    // The header is verified; its bytes are at the start of what was captured.
    let captured = handle.stop();
    let (header, auth, ec_pairs) = match parse_header(&captured) {
        Ok((h, _)) => {
            // Output chunks hold whole frames, so each read can take frames whole.
            out.set_chunk(chunk_for_frame(
                usize::try_from(h.frame_length()).unwrap_or(usize::MAX),
            ));
            (
                header_json(&h),
                header_auth_json(&h),
                h.encryption_context()
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect::<BTreeMap<_, _>>(),
            )
        }
        Err(e) => return Err(format!("cannot read the header: {e}")),
    };
    drop(captured);
    let missing_keys: Vec<&String> = s
        .required_keys
        .iter()
        .filter(|k| !ec_pairs.contains_key(*k))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let missing_pairs: Vec<[&String; 2]> = s
        .context
        .iter()
        .filter(|(k, v)| ec_pairs.get(*k) != Some(v))
        .map(|(k, v)| [k, v])
        .collect();
    if !missing_keys.is_empty() || !missing_pairs.is_empty() {
        s.log.warn(format_args!(
            "Skipping decrypt because discovered encryption context did not match required elements."
        ));
        record(
            s,
            names,
            header,
            json!({
                "header_auth": auth,
                "skipped": true,
                "reason": "Missing encryption context key or value",
                "missing_encryption_context_keys": missing_keys,
                "missing_encryption_context_pairs": missing_pairs,
            }),
        )?;
        return Ok(false);
    }
    record(s, names, header, json!({ "header_auth": auth }))?;
    let mut sink = Sink::new(out, s.encode);
    copy_into(&mut dr, &mut sink).map_err(|e| io_reason(&e))?;
    sink.finish().map_err(|e| io_reason(&e))?;
    Ok(true)
}

/// The largest frame or body decrypt buffers: the default, or `--max-length` if larger.
pub fn max_buffer(max_length: Option<u64>) -> usize {
    match max_length {
        Some(n) => usize::try_from(n)
            .unwrap_or(usize::MAX)
            .max(DEFAULT_MAX_BUFFER)
            .saturating_add(64),
        None => DEFAULT_MAX_BUFFER,
    }
}
