//! `esdk`: encrypt and decrypt files with the AWS Encryption SDK message format, as a drop-in
//! replacement for aws-encryption-cli 4.3 (same flags, metadata and exit codes), with raw keys
//! built in, several files at once, progress bars, `keygen` and `inspect`.
#![forbid(unsafe_code)]

mod args;
mod error;
mod hierarchy;
mod inspect;
mod keys;
mod log;
mod metadata;
mod ops;
mod progress;
mod streams;

use args::{Args, EXTRA_COMMANDS, Extra, ExtraCommand, Policy};
use clap::{CommandFactory, FromArgMatches, Parser};
use error::CliError;
use esdk_std::{AlgorithmSuite, Client, CommitmentPolicy, DecryptLimits};
use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut raw = Vec::new();
    for a in std::env::args_os().skip(1) {
        match a.into_string() {
            Ok(s) => raw.push(s),
            Err(a) => {
                eprintln!(
                    "esdk: error: argument {:?} is not valid UTF-8",
                    a.to_string_lossy()
                );
                return ExitCode::from(2);
            }
        }
    }
    let code = match run(raw) {
        Ok(()) => 0,
        Err(CliError::Usage(msg)) => {
            let _ = Args::command()
                .error(clap::error::ErrorKind::ValueValidation, msg)
                .print();
            2
        }
        Err(e) => {
            if !matches!(e, CliError::Failed(_) | CliError::Printed(_)) {
                eprintln!("esdk: error: {e}");
            }
            e.exit_code()
        }
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

/// The whole command line, subcommands included (for completions and the man page).
fn full_command() -> clap::Command {
    let mut cmd = Args::command();
    for sub in Extra::command().get_subcommands() {
        cmd = cmd.subcommand(sub.clone());
    }
    cmd
}

fn run(raw: Vec<String>) -> Result<(), CliError> {
    let raw = args::expand_arg_files(raw)?;
    let argv = std::iter::once("esdk".to_string()).chain(raw.iter().cloned());
    if raw
        .first()
        .is_some_and(|a| EXTRA_COMMANDS.contains(&a.as_str()))
    {
        let extra = match Extra::try_parse_from(argv) {
            Ok(x) => x,
            Err(e) => return clap_exit(&e),
        };
        return run_extra(extra.command);
    }
    let matches = match Args::command().try_get_matches_from(argv) {
        Ok(m) => m,
        Err(e) => return clap_exit(&e),
    };
    let a = match Args::from_arg_matches(&matches) {
        Ok(a) => a,
        Err(e) => return clap_exit(&e),
    };
    if a.version {
        println!(
            "esdk-cli/{} (aws-encryption-cli 4.3 compatible)",
            env!("CARGO_PKG_VERSION")
        );
        return Ok(());
    }
    // One group of parameters per -w occurrence.
    let groups: Vec<Vec<String>> = matches
        .get_occurrences::<String>("wrapping_keys")
        .map(|occ| occ.map(|g| g.cloned().collect()).collect())
        .unwrap_or_default();
    run_main(a, &groups)
}

fn clap_exit(e: &clap::Error) -> Result<(), CliError> {
    let _ = e.print();
    match e.exit_code() {
        0 => Ok(()),
        code => Err(CliError::Printed(code)),
    }
}

fn run_extra(cmd: ExtraCommand) -> Result<(), CliError> {
    match cmd {
        ExtraCommand::Keygen { file, bits } => keygen(&file, bits),
        ExtraCommand::Inspect { files, decode } => inspect::run(&files, decode),
        ExtraCommand::Hierarchy { action, params } => hierarchy::run(action, &params),
        ExtraCommand::Completions { shell } => {
            let mut cmd = full_command();
            clap_complete::generate(shell, &mut cmd, "esdk", &mut std::io::stdout());
            Ok(())
        }
        ExtraCommand::Man => clap_mangen::Man::new(full_command())
            .render(&mut std::io::stdout())
            .map_err(|e| CliError::bad(format!("cannot write the man page: {e}"))),
    }
}

fn keygen(path: &std::path::Path, bits: u16) -> Result<(), CliError> {
    use std::os::unix::fs::OpenOptionsExt;
    if !matches!(bits, 128 | 192 | 256) {
        return Err(CliError::usage("--bits must be 128, 192 or 256"));
    }
    let mut key = zeroize::Zeroizing::new(vec![0u8; usize::from(bits / 8)]);
    rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut key)
        .map_err(|e| CliError::bad(format!("no randomness available: {e}")))?;
    let shown = error::escape(&path.to_string_lossy(), 512);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| CliError::bad(format!("cannot create key file {shown}: {e}")))?;
    f.write_all(&key)
        .and_then(|()| f.sync_all())
        .map_err(|e| CliError::bad(format!("cannot write key file {shown}: {e}")))?;
    eprintln!("esdk: wrote a {bits}-bit raw AES key to {shown} (mode 0600)");
    Ok(())
}

fn policy(p: Option<Policy>) -> CommitmentPolicy {
    match p {
        Some(Policy::ForbidEncryptAllowDecrypt) => CommitmentPolicy::ForbidEncryptAllowDecrypt,
        Some(Policy::RequireEncryptAllowDecrypt) => CommitmentPolicy::RequireEncryptAllowDecrypt,
        Some(Policy::RequireEncryptRequireDecrypt) | None => {
            CommitmentPolicy::RequireEncryptRequireDecrypt
        }
    }
}

fn run_main(a: Args, wrapping_keys: &[Vec<String>]) -> Result<(), CliError> {
    let action = if a.encrypt {
        ops::Action::Encrypt
    } else if a.decrypt {
        ops::Action::Decrypt
    } else {
        ops::Action::DecryptUnsigned
    };
    if !a.suppress_metadata && a.metadata_output.is_none() {
        return Err(CliError::usage(
            "one of the arguments -S/--suppress-metadata --metadata-output is required",
        ));
    }
    let mut missing = Vec::new();
    if a.wrapping_keys.is_empty() {
        missing.push("-w/--wrapping-keys");
    }
    if a.input.is_none() {
        missing.push("-i/--input");
    }
    if a.output.is_none() {
        missing.push("-o/--output");
    }
    if !missing.is_empty() {
        return Err(CliError::usage(format!(
            "the following arguments are required: {}",
            missing.join(", ")
        )));
    }
    let (input, output) = (
        a.input.clone().unwrap_or_default(),
        a.output.clone().unwrap_or_default(),
    );
    // Encryption context: pairs on encrypt; pairs and bare keys to require on decrypt.
    let mut context = BTreeMap::new();
    let mut required_keys = Vec::new();
    for item in a.encryption_context.iter().flatten() {
        if action != ops::Action::Encrypt && !item.contains('=') {
            required_keys.push(item.clone());
            continue;
        }
        let p = args::parse_kwargs(std::slice::from_ref(item))?;
        for (k, v) in p {
            if let Some(v) = v.into_iter().next() {
                context.entry(k).or_insert(v);
            }
        }
    }
    let mode = if action == ops::Action::Encrypt {
        keys::Mode::Encrypt
    } else {
        keys::Mode::Decrypt
    };
    let suite = match &a.algorithm {
        Some(name) => {
            let id = args::ALGORITHMS
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, id)| *id)
                .ok_or_else(|| CliError::usage(format!("unknown algorithm {name}")))?;
            Some(
                AlgorithmSuite::from_id(id)
                    .map_err(|e| CliError::usage(format!("--algorithm {name}: {e}")))?,
            )
        }
        None => None,
    };
    // Signed suites hash the whole message: on a thread of its own, beside the AES-GCM (the
    // CLI already uses threads for its I/O; output bytes are unchanged).
    let mut builder = Client::builder()
        .commitment_policy(policy(a.commitment_policy))
        .pipelined_digest(true);
    if let Some(n) = a.max_encrypted_data_keys {
        let n = u16::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
            CliError::usage("--max-encrypted-data-keys must be between 1 and 65535")
        })?;
        builder = builder.max_encrypted_data_keys(n);
    }
    if let Some(max) = a.max_length {
        let mut limits = DecryptLimits::default();
        limits.max_frame_len = u32::try_from(max).unwrap_or(u32::MAX);
        limits.max_body_len = max.min(limits.max_body_len);
        builder = builder.decrypt_limits(limits);
    }
    let keyring = keys::keyring(wrapping_keys, mode)?;
    let cmm = keys::cmm(keyring, a.caching.as_deref())?;
    let progress = progress::Progress::new(a.quiet);
    let log = log::Log {
        verbosity: a.verbosity,
        quiet: a.quiet,
        bars: progress.multi(),
    };
    let metadata_target = if a.suppress_metadata {
        None
    } else {
        a.metadata_output.as_deref()
    };
    // Paths are checked before the metadata file is opened (so a bad request creates nothing).
    let mut settings = ops::Settings {
        action,
        client: builder.build(),
        cmm,
        context,
        required_keys,
        suite,
        frame_length: a.frame_length,
        max_buffer: ops::max_buffer(a.max_length),
        decode: a.decode,
        encode: a.encode,
        buffer: a.buffer,
        interactive: a.interactive,
        no_overwrite: a.no_overwrite,
        fsync: a.fsync,
        threads: a.threads.map(usize::from),
        metadata: metadata::MetadataSink::Suppressed,
        log,
        progress,
    };
    if let Some(m) = metadata_target {
        let parent_ok = m == "-"
            || ops::abspath(std::path::Path::new(m))
                .parent()
                .is_some_and(std::path::Path::is_dir);
        if !parent_ok {
            return Err(CliError::usage(
                "Parent directory for requested metdata file does not exist.",
            ));
        }
    }
    let jobs = ops::plan(
        &settings,
        &input,
        &output,
        metadata_target,
        a.recursive,
        a.suffix.as_deref(),
    )?;
    settings.metadata = metadata::MetadataSink::open(metadata_target, a.overwrite_metadata)?;
    let failed = ops::run_all(&settings, jobs, usize::from(a.jobs));
    if failed > 0 {
        return Err(CliError::Failed(failed));
    }
    Ok(())
}
