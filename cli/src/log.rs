//! Messages on stderr: warnings unless `-q`, more with `-v`.

use std::fmt::Arguments;

/// Message levels chosen on the command line.
#[derive(Clone, Debug)]
pub struct Log {
    /// `-v` count.
    pub verbosity: u8,
    /// `-q`.
    pub quiet: bool,
    /// Where the progress bars draw (messages are printed above them).
    pub bars: Option<indicatif::MultiProgress>,
}

impl Log {
    fn emit(&self, level: &str, args: Arguments<'_>) {
        let line = format!("esdk: {level}: {args}");
        match &self.bars {
            Some(mp) => {
                let _ = mp.println(line);
            }
            None => eprintln!("{line}"),
        }
    }
    /// Always shown: a failure.
    pub fn error(&self, args: Arguments<'_>) {
        self.emit("error", args);
    }
    /// Shown unless `-q`.
    pub fn warn(&self, args: Arguments<'_>) {
        if !self.quiet {
            self.emit("warning", args);
        }
    }
    /// Shown with `-v`.
    pub fn info(&self, args: Arguments<'_>) {
        if !self.quiet && self.verbosity >= 1 {
            self.emit("info", args);
        }
    }
}
