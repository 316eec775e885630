//! Encrypts a file with a raw AES-256 keyring, streaming, then decrypts it again and checks
//! that the bytes round-trip.
//!
//! ```text
//! cargo run -p esdk-std --example encrypt_file -- [PATH] [--key HEX]
//! ```
//!
//! * `PATH`: the file to encrypt; the message is written to `PATH.esdk`. Without it, a sample
//!   file is generated in the temporary directory.
//! * The 256-bit wrapping key comes from `--key HEX` or the `ESDK_EXAMPLE_KEY` environment
//!   variable (64 hex digits); otherwise a random key is generated for this run only. The key
//!   itself is never printed.
//!
//! Exits with status 1 if the decrypted bytes differ from the file, 2 on any error.
#![allow(missing_docs, clippy::std_instead_of_core)]

use esdk_std::keyring::RawAesKeyring;
use esdk_std::stream::io::{DecryptingReader, EncryptingWriter};
use esdk_std::{Client, DecryptOptions, EncryptOptions, EncryptionContext};
use rand_core::{OsRng, RngCore};
use std::error::Error;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use zeroize::Zeroizing;

const KEY_ENV: &str = "ESDK_EXAMPLE_KEY";

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

struct Args {
    path: Option<PathBuf>,
    key_hex: Option<Zeroizing<String>>,
}

fn parse_args() -> Result<Args, Box<dyn Error>> {
    let mut args = Args {
        path: None,
        key_hex: None,
    };
    let mut it = std::env::args_os().skip(1);
    while let Some(a) = it.next() {
        match a.to_str() {
            Some("--key") => {
                let v = it.next().ok_or("--key needs a value")?;
                args.key_hex = Some(Zeroizing::new(
                    v.into_string().map_err(|_| "--key: not UTF-8")?,
                ));
            }
            Some("-h" | "--help") => {
                println!("usage: encrypt_file [PATH] [--key HEX]   (or set {KEY_ENV}=HEX)");
                std::process::exit(0);
            }
            _ if args.path.is_none() => args.path = Some(PathBuf::from(a)),
            _ => return Err(format!("unexpected argument {a:?}").into()),
        }
    }
    if args.key_hex.is_none() {
        args.key_hex = std::env::var(KEY_ENV).ok().map(Zeroizing::new);
    }
    Ok(args)
}

/// A 256-bit wrapping key, zeroized on drop.
type WrappingKey = Zeroizing<[u8; 32]>;

/// The wrapping key, and where it came from.
fn wrapping_key(hex_key: Option<&str>) -> Result<(WrappingKey, &'static str), Box<dyn Error>> {
    let mut key = Zeroizing::new([0u8; 32]);
    match hex_key {
        Some(h) => {
            hex::decode_to_slice(h.trim(), &mut key[..])
                .map_err(|e| format!("the key must be 64 hex digits (256 bits): {e}"))?;
            Ok((key, "given"))
        }
        None => {
            OsRng.fill_bytes(&mut key[..]);
            Ok((
                key,
                "generated a random key (not printed, used for this run only)",
            ))
        }
    }
}

/// A sample text file of about 1 MiB in the temporary directory.
fn sample_file() -> io::Result<PathBuf> {
    let path = std::env::temp_dir().join(format!("esdk-example-{}.txt", std::process::id()));
    let mut w = BufWriter::new(File::create(&path)?);
    for i in 0..20_000 {
        writeln!(
            w,
            "line {i:05}: the quick brown fox jumps over the lazy dog"
        )?;
    }
    w.flush()?;
    Ok(path)
}

/// Compares two readers byte for byte; returns the common length if they are equal.
fn same_bytes(mut a: impl Read, mut b: impl Read) -> io::Result<Option<u64>> {
    let (mut x, mut y) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    let mut total = 0u64;
    loop {
        let n = a.read(&mut x)?;
        let mut filled = 0;
        while filled < n {
            let m = b.read(&mut y[filled..n])?;
            if m == 0 {
                return Ok(None); // b is shorter
            }
            filled += m;
        }
        if x[..n] != y[..n] {
            return Ok(None);
        }
        if n == 0 {
            // a ended: b must end too
            return Ok(if b.read(&mut y[..1])? == 0 {
                Some(total)
            } else {
                None
            });
        }
        total += n as u64;
    }
}

fn run() -> Result<bool, Box<dyn Error>> {
    let args = parse_args()?;
    let path = match args.path {
        Some(p) => p,
        None => {
            let p = sample_file()?;
            println!("no file given: wrote a sample to {}", p.display());
            p
        }
    };
    let (key, origin) = wrapping_key(args.key_hex.as_ref().map(|k| k.as_str()))?;
    println!("wrapping key: {origin}");
    let keyring = RawAesKeyring::new("esdk-example", "file-key", &key[..])?;
    let client = Client::default();

    let mut context = EncryptionContext::new();
    context.insert("purpose", "encrypt_file example");
    context.insert("file", file_name(&path));
    let out_path = PathBuf::from(format!("{}.esdk", path.display()));
    let input = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let output = File::create(&out_path).map_err(|e| format!("{}: {e}", out_path.display()))?;

    // Encrypt: stream the file through the encrypting writer into PATH.esdk.
    let opts = EncryptOptions::keyring(&keyring).encryption_context(context.clone());
    let mut writer = EncryptingWriter::new(&client, &opts, BufWriter::new(output))?;
    let header = writer.header().clone();
    let plaintext_len = io::copy(&mut BufReader::new(input), &mut writer)?;
    writer
        .finish()?
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    let ciphertext_len = std::fs::metadata(&out_path)?.len();

    // Decrypt: stream PATH.esdk through the decrypting reader and compare with the file. The
    // reproduced context makes decryption fail unless the message has these pairs and values.
    let dopts = DecryptOptions::keyring(&keyring).reproduced_encryption_context(context);
    let reader = DecryptingReader::new(&client, &dopts, BufReader::new(File::open(&out_path)?))?;
    let same = same_bytes(BufReader::new(File::open(&path)?), reader)?;

    println!("plaintext:    {} ({plaintext_len} bytes)", path.display());
    println!(
        "ciphertext:   {} ({ciphertext_len} bytes, {} bytes of overhead)",
        out_path.display(),
        ciphertext_len - plaintext_len
    );
    println!(
        "suite:        {} (committing: {}, signed: {})",
        header.suite,
        header.suite.is_committing(),
        header.suite.is_signed()
    );
    println!("frame length: {} bytes", header.frame_length);
    println!(
        "data keys:    {} encrypted data key(s), provider {:?}",
        header.encrypted_data_keys.len(),
        header.encrypted_data_keys[0].provider_id
    );
    println!(
        "context keys: {:?}",
        header.encryption_context.keys().collect::<Vec<_>>()
    );
    match same {
        Some(n) if n == plaintext_len => {
            println!("round trip:   OK, {n} bytes decrypted and identical");
            Ok(true)
        }
        _ => {
            eprintln!(
                "round trip:   MISMATCH, the decrypted bytes differ from {}",
                path.display()
            );
            Ok(false)
        }
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
