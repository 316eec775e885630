//! Progress bars (indicatif): one per file being processed and one for the whole run, drawn on
//! stderr only when it is a terminal and `-q` is not given.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;

/// The progress display of one run.
#[derive(Debug)]
pub struct Progress {
    multi: Option<MultiProgress>,
    total: Mutex<Option<ProgressBar>>,
    files: Mutex<(usize, usize)>,
}

const FILE_STYLE: &str =
    "{prefix:.bold} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}";
const STREAM_STYLE: &str = "{prefix:.bold} {spinner} {bytes} {binary_bytes_per_sec} {elapsed}";
const TOTAL_STYLE: &str =
    "{prefix:.bold} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}";

impl Progress {
    /// Bars on stderr if it is a terminal and not `quiet`; none otherwise.
    pub fn new(quiet: bool) -> Self {
        let on = !quiet && std::io::stderr().is_terminal();
        Self::with(on)
    }

    /// Bars on (`true`) or off.
    pub fn with(on: bool) -> Self {
        let multi =
            on.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8)));
        Self {
            multi,
            total: Mutex::new(None),
            files: Mutex::new((0, 0)),
        }
    }

    /// The multi-bar, for printing messages above it.
    pub fn multi(&self) -> Option<MultiProgress> {
        self.multi.clone()
    }

    /// Starts the total bar (when there is more than one file).
    pub fn start_total(&self, files: usize, bytes: u64) {
        let Some(m) = &self.multi else { return };
        if files < 2 {
            return;
        }
        let bar = m.add(ProgressBar::hidden());
        bar.set_length(bytes);
        if let Ok(style) = ProgressStyle::with_template(TOTAL_STYLE) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix("total");
        bar.set_message(format!("0/{files} files"));
        if let Ok(mut f) = self.files.lock() {
            *f = (0, files);
        }
        if let Ok(mut t) = self.total.lock() {
            *t = Some(bar);
        }
    }

    /// A bar for one file (`size` unknown for stdin: a spinner with bytes and rate).
    pub fn file_bar(&self, name: &str, size: Option<u64>) -> ProgressBar {
        let Some(m) = &self.multi else {
            return ProgressBar::hidden();
        };
        // Added to the multi-bar before anything is set, so nothing draws outside it.
        let bar = m.add(ProgressBar::hidden());
        match size {
            Some(n) => {
                bar.set_length(n);
                if let Ok(style) = ProgressStyle::with_template(FILE_STYLE) {
                    bar.set_style(style.progress_chars("=> "));
                }
            }
            None => {
                if let Ok(style) = ProgressStyle::with_template(STREAM_STYLE) {
                    bar.set_style(style);
                }
            }
        }
        let short = std::path::Path::new(name)
            .file_name()
            .map_or_else(|| name.to_owned(), |n| n.to_string_lossy().into_owned());
        bar.set_prefix(crate::error::escape(&short, 40));
        bar
    }

    /// The total bar, if shown (advanced by every file's reads).
    pub fn total_bar(&self) -> Option<ProgressBar> {
        self.total.lock().ok().and_then(|t| t.clone())
    }

    /// Counts one finished file in the total.
    pub fn file_done(&self) {
        let Some(t) = self.total_bar() else { return };
        if let Ok(mut f) = self.files.lock() {
            f.0 += 1;
            t.set_message(format!("{}/{} files", f.0, f.1));
        }
    }

    /// Runs `f` with the bars hidden (for prompts).
    pub fn suspend<T>(&self, f: impl FnOnce() -> T) -> T {
        match &self.multi {
            Some(m) => m.suspend(f),
            None => f(),
        }
    }

    /// Removes the bars.
    pub fn finish(&self) {
        if let Ok(mut t) = self.total.lock() {
            if let Some(t) = t.take() {
                t.finish_and_clear();
            }
        }
        if let Some(m) = &self.multi {
            let _ = m.clear();
        }
    }
}
