//! Errors and exit codes (those of aws-encryption-cli 4.3: 2 for a bad command line, 1 for a
//! failed operation, 0 otherwise).

use std::fmt;

/// What ended the run.
#[derive(Debug)]
pub enum CliError {
    /// The command line is wrong: exit code 2, printed after the usage line.
    Usage(String),
    /// A request that cannot be carried out (bad paths, keys, ...): exit code 1.
    Bad(String),
    /// One or more files failed: exit code 1; each failure was reported already.
    Failed(usize),
    /// Already reported (by clap): exit with this code.
    Printed(i32),
}

impl CliError {
    /// A command-line error.
    pub fn usage(msg: impl Into<String>) -> Self {
        Self::Usage(msg.into())
    }
    /// A request error.
    pub fn bad(msg: impl Into<String>) -> Self {
        Self::Bad(msg.into())
    }
    /// The process exit code.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Usage(_) => 2,
            Self::Bad(_) | Self::Failed(_) => 1,
            Self::Printed(code) => *code,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Usage(m) | Self::Bad(m) => f.write_str(m),
            Self::Failed(1) => f.write_str("1 file failed"),
            Self::Failed(n) => write!(f, "{n} files failed"),
            Self::Printed(code) => write!(f, "exit {code}"),
        }
    }
}

/// Makes text from a message or the file system safe to print: control characters escaped,
/// at most `max` characters.
pub fn escape(text: &str, max: usize) -> String {
    let mut out = String::new();
    for (n, c) in text.chars().enumerate() {
        if n >= max {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// An error's text followed by each link of its `source()` chain (library errors show each
/// message once, so a configuration error's reason is in its source).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut next = e.source();
    while let Some(x) = next {
        s.push_str(": ");
        s.push_str(&x.to_string());
        next = x.source();
    }
    s
}
