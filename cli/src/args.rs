//! Command line: the aws-encryption-cli 4.3 flags (clap derive), `@file` argument files and the
//! `key=value` parameter lists of `-w`, `-c` and `--caching`.

use crate::error::CliError;
use clap::{ArgAction, ArgGroup, Parser, Subcommand, ValueEnum};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Algorithm suite names, as aws-encryption-cli spells them, with their suite ids.
pub const ALGORITHMS: [(&str, u16); 11] = [
    ("AES_128_GCM_IV12_TAG16", 0x0014),
    ("AES_192_GCM_IV12_TAG16", 0x0046),
    ("AES_256_GCM_IV12_TAG16", 0x0078),
    ("AES_128_GCM_IV12_TAG16_HKDF_SHA256", 0x0114),
    ("AES_192_GCM_IV12_TAG16_HKDF_SHA256", 0x0146),
    ("AES_256_GCM_IV12_TAG16_HKDF_SHA256", 0x0178),
    ("AES_128_GCM_IV12_TAG16_HKDF_SHA256_ECDSA_P256", 0x0214),
    ("AES_192_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384", 0x0346),
    ("AES_256_GCM_IV12_TAG16_HKDF_SHA384_ECDSA_P384", 0x0378),
    ("AES_256_GCM_HKDF_SHA512_COMMIT_KEY", 0x0478),
    ("AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384", 0x0578),
];

/// The name of a suite id (the aws-encryption-cli / Python ESDK `Algorithm` name).
pub fn algorithm_name(id: u16) -> &'static str {
    ALGORITHMS
        .iter()
        .find(|(_, i)| *i == id)
        .map_or("UNKNOWN", |(n, _)| n)
}

/// Commitment policies.
#[allow(clippy::enum_variant_names)] // the policies' own names
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Policy {
    /// Encrypt with non-committing suites only; decrypt any message.
    ForbidEncryptAllowDecrypt,
    /// Encrypt with committing suites; decrypt any message.
    RequireEncryptAllowDecrypt,
    /// Encrypt and decrypt committing suites only (default).
    RequireEncryptRequireDecrypt,
}

/// Encrypt or decrypt files, directories or streams with the AWS Encryption SDK message format.
///
/// Flags, metadata and exit codes follow aws-encryption-cli 4.3, so scripts written for it run
/// unchanged. Beyond it: raw AES and RSA keys built in, several files at once (-j), a progress
/// bar, and the subcommands `esdk keygen`, `esdk inspect`, `esdk completions` and `esdk man`.
#[derive(Debug, Parser)]
#[command(
    name = "esdk",
    disable_version_flag = true,
    after_help = "Subcommands (first argument): keygen, inspect, hierarchy, completions, man.\n\
                  Arguments starting with @ are read from that file (one or more per line, # comments).",
    group(ArgGroup::new("action").required(true).args(["encrypt", "decrypt", "decrypt_unsigned", "version"])),
    group(ArgGroup::new("metadata").args(["suppress_metadata", "metadata_output"]))
)]
pub struct Args {
    /// Print the version and exit.
    #[arg(long, action = ArgAction::SetTrue)]
    pub version: bool,
    /// Encrypt data.
    #[arg(short = 'e', long)]
    pub encrypt: bool,
    /// Decrypt data.
    #[arg(short = 'd', long)]
    pub decrypt: bool,
    /// Decrypt data and refuse signed messages (checked right after the suite id).
    #[arg(long)]
    pub decrypt_unsigned: bool,
    /// Suppress metadata output.
    #[arg(short = 'S', long)]
    pub suppress_metadata: bool,
    /// File to which to append metadata records (one JSON object per line), or - for stdout.
    #[arg(long, value_name = "FILE")]
    pub metadata_output: Option<String>,
    /// Overwrite the metadata file instead of appending to it.
    #[arg(long)]
    pub overwrite_metadata: bool,
    /// A wrapping key provider and its keys, as key=value parameters (repeatable):
    /// provider=aws-kms key=ARN [region= profile= discovery= discovery-account= discovery-partition=];
    /// provider=raw-aes key-namespace= key-name= key-file=;
    /// provider=raw-rsa key-namespace= key-name= public-key-file= private-key-file= padding=;
    /// provider=aws-kms-hierarchy table= branch-key-id= | branch-key-id-from= [branch-key-for=VALUE=ID]
    /// [kms-key= logical-name= ttl= cache-capacity= region= profile= grant-token= consistent-reads=].
    #[arg(short = 'w', long, num_args = 1.., action = ArgAction::Append, value_name = "PARAM")]
    pub wrapping_keys: Vec<String>,
    /// Commitment policy.
    #[arg(long, value_enum)]
    pub commitment_policy: Option<Policy>,
    /// Caching materials manager: capacity= max_age= [max_messages_encrypted= max_bytes_encrypted=].
    #[arg(long, num_args = 1.., value_name = "PARAM")]
    pub caching: Option<Vec<String>>,
    /// Release nothing to the output before the whole message is processed (and, on decrypt,
    /// verified, signature included). Files are always written to a temporary file and renamed
    /// on success; this flag matters for stdout, where it buffers the output in memory.
    #[arg(short = 'b', long)]
    pub buffer: bool,
    /// Input file, directory, glob pattern, or - for stdin.
    #[arg(short = 'i', long, value_name = "INPUT")]
    pub input: Option<String>,
    /// Output file, directory, or - for stdout.
    #[arg(short = 'o', long, value_name = "OUTPUT")]
    pub output: Option<String>,
    /// Base64-encode the output.
    #[arg(long)]
    pub encode: bool,
    /// Base64-decode the input.
    #[arg(long)]
    pub decode: bool,
    /// Encryption context key=value pairs; on decrypt the pairs (and bare keys) the message must
    /// contain.
    #[arg(short = 'c', long, num_args = 1.., value_name = "PAIR")]
    pub encryption_context: Option<Vec<String>>,
    /// Algorithm suite (encryption only).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(ALGORITHMS.map(|a| a.0)))]
    pub algorithm: Option<String>,
    /// Frame length in bytes (encryption only).
    #[arg(long)]
    pub frame_length: Option<u32>,
    /// Maximum frame length (framed) or content length (non-framed) accepted on decrypt.
    #[arg(long)]
    pub max_length: Option<u64>,
    /// Maximum number of encrypted data keys to wrap or to unwrap.
    #[arg(long)]
    pub max_encrypted_data_keys: Option<u64>,
    /// Suffix added to output file names in an output directory (empty if given without value).
    #[arg(long, num_args = 0..=1, default_missing_value = "")]
    pub suffix: Option<String>,
    /// Ask before overwriting existing files.
    #[arg(long)]
    pub interactive: bool,
    /// Never overwrite existing files.
    #[arg(long)]
    pub no_overwrite: bool,
    /// Allow directories as input.
    #[arg(short = 'r', short_alias = 'R', long)]
    pub recursive: bool,
    /// Logging detail (repeat for more, up to -vvvv).
    #[arg(short = 'v', action = ArgAction::Count)]
    pub verbosity: u8,
    /// Suppress warnings, diagnostics and the progress bar.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Make each output file durable before reporting success: fsync it, rename it into
    /// place, fsync its directory (esdk only). Without it, outputs are renamed into place as
    /// soon as they verified and reach the disk when the kernel writes them back, as with
    /// aws-encryption-cli, cp or gpg.
    #[arg(long)]
    pub fsync: bool,
    /// Worker threads per message, sealing or opening frames in parallel (esdk only). Without
    /// it, the library's default (`esdk_std::parallel::default_parallelism`'s choice where the
    /// library enables it, else 1). The output is the same either way; memory grows by a few
    /// frame batches per thread. Combine with -j for many files.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub threads: Option<u16>,
    /// Process up to N files at once (esdk only).
    #[arg(short = 'j', long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub jobs: u16,
}

/// The subcommands that aws-encryption-cli does not have.
#[derive(Debug, Parser)]
#[command(name = "esdk", disable_version_flag = true)]
pub struct Extra {
    /// What to do.
    #[command(subcommand)]
    pub command: ExtraCommand,
}

/// `esdk <subcommand>`.
#[derive(Debug, Subcommand)]
pub enum ExtraCommand {
    /// Write a fresh random raw AES wrapping key to a new file (mode 0600).
    Keygen {
        /// The key file to create (it must not exist).
        file: PathBuf,
        /// Key size in bits.
        #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u16).range(128..=256))]
        bits: u16,
    },
    /// Print the header of encrypted messages as JSON, without any key.
    Inspect {
        /// Message files, or - for stdin.
        #[arg(required = true)]
        files: Vec<String>,
        /// The messages are Base64-encoded.
        #[arg(long)]
        decode: bool,
    },
    /// Branch key store operations for -w provider=aws-kms-hierarchy: create-store (the
    /// DynamoDB table), create-key (prints the new branch key id), version-key (rotates a
    /// branch key, prints the new version).
    Hierarchy {
        /// The operation.
        action: HierarchyAction,
        /// table=, logical-name=, kms-key= (create-key, version-key), branch-key-id=
        /// (version-key; optional for create-key), region=, profile=, grant-token=.
        params: Vec<String>,
    },
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff).
    Man,
}

/// `esdk hierarchy` operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum HierarchyAction {
    /// Create the branch key store table (or check an existing one).
    CreateStore,
    /// Create a branch key.
    CreateKey,
    /// Rotate a branch key.
    VersionKey,
}

/// Names of the subcommands recognised as the first argument.
pub const EXTRA_COMMANDS: [&str; 6] = [
    "keygen",
    "inspect",
    "hierarchy",
    "completions",
    "man",
    "help",
];

/// Expands `@file` arguments (argparse's `fromfile_prefix_chars`): each line of the file is split
/// like a shell would (quotes, backslashes, `#` comments), `~` and `$VAR` are expanded, and
/// nested `@file`s are expanded too.
pub fn expand_arg_files(args: Vec<String>) -> Result<Vec<String>, CliError> {
    let mut out = Vec::with_capacity(args.len());
    for a in args {
        expand_one(a, &mut out, 0)?;
    }
    Ok(out)
}

fn expand_one(arg: String, out: &mut Vec<String>, depth: usize) -> Result<(), CliError> {
    let Some(path) = arg.strip_prefix('@') else {
        out.push(arg);
        return Ok(());
    };
    if depth > 16 {
        return Err(CliError::usage("argument files nested too deeply"));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::usage(format!("cannot read argument file {path:?}: {e}")))?;
    for line in text.lines() {
        for word in split_line(line)? {
            expand_one(expand_vars(&word), out, depth + 1)?;
        }
    }
    Ok(())
}

/// POSIX shlex-style splitting of one line.
fn split_line(line: &str) -> Result<Vec<String>, CliError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '#' if !in_word => break,
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => cur.push(ch),
                        None => return Err(CliError::usage("argument file: no closing quotation")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\')) => cur.push(ch),
                            Some(ch) => {
                                cur.push('\\');
                                cur.push(ch);
                            }
                            None => {
                                return Err(CliError::usage("argument file: no closing quotation"));
                            }
                        },
                        Some(ch) => cur.push(ch),
                        None => return Err(CliError::usage("argument file: no closing quotation")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(ch) = chars.next() {
                    cur.push(ch);
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// `~` at the start and `$VAR` / `${VAR}` anywhere (unset variables are left as written, like
/// Python's `os.path.expandvars`).
fn expand_vars(word: &str) -> String {
    let word = match (word.strip_prefix('~'), std::env::var("HOME")) {
        (Some(rest), Ok(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => word.to_owned(),
    };
    let mut out = String::with_capacity(word.len());
    let mut rest = word.as_str();
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        let (name, tail, braced) = if let Some(b) = after.strip_prefix('{') {
            match b.find('}') {
                Some(end) => (&b[..end], &b[end + 1..], true),
                None => ("", after, false),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], &after[end..], false)
        };
        match std::env::var(name) {
            Ok(v) if !name.is_empty() => out.push_str(&v),
            _ => {
                out.push('$');
                if braced {
                    out.push('{');
                    out.push_str(name);
                    out.push('}');
                } else {
                    out.push_str(name);
                }
            }
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// Parses `key=value` parameters (both non-empty) into a multimap, in order.
pub fn parse_kwargs(params: &[String]) -> Result<BTreeMap<String, Vec<String>>, CliError> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in params {
        match p.split_once('=') {
            Some((k, v)) if !k.is_empty() && !v.is_empty() => {
                map.entry(k.to_owned()).or_default().push(v.to_owned());
            }
            _ => {
                return Err(CliError::usage(
                    "Argument parameter must follow the format \"key=value\"",
                ));
            }
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_shlex() {
        assert_eq!(
            split_line(r#"-w provider=raw-aes "key-file=a b" 'x y'\ z # comment"#).unwrap(),
            ["-w", "provider=raw-aes", "key-file=a b", "x y z"]
        );
        assert!(split_line("'open").is_err());
        assert!(split_line("# only a comment").unwrap().is_empty());
    }

    #[test]
    fn expands_variables() {
        // SAFETY-free: set_var is safe in edition 2024 tests only through std::env; use an existing var.
        let home = std::env::var("HOME").unwrap_or_default();
        assert_eq!(expand_vars("$HOME/x"), format!("{home}/x"));
        assert_eq!(expand_vars("${HOME}"), home);
        assert_eq!(
            expand_vars("$ESDK_SURELY_UNSET_VAR/y"),
            "$ESDK_SURELY_UNSET_VAR/y"
        );
    }

    #[test]
    fn kwargs() {
        let m = parse_kwargs(&["a=1".into(), "a=2".into(), "b=x=y".into()]).unwrap();
        assert_eq!(m["a"], ["1", "2"]);
        assert_eq!(m["b"], ["x=y"]);
        assert!(parse_kwargs(&["a=".into()]).is_err());
        assert!(parse_kwargs(&["novalue".into()]).is_err());
    }
}
